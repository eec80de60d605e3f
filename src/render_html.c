/*-------------------------------------------------------------------------
 *
 * render_html.c
 *	  invoice.render_html(invoice_id bigint): one invoice of the current
 *	  tenant as one self-contained HTML5 page.
 *
 * The invoice is read by invoice_doc.c (read-only, no locks; another
 * tenant's invoice is P0002 like an unknown one).  The page shows what
 * render_pdf shows, with the same wording and formats, and needs nothing
 * else: its CSS is inline, it loads no font, image or script.  It prints
 * on A4 (@page, the table header repeats on every printed page) and reads
 * on a phone (under 600 px each line of the table becomes a card).
 *
 * Every text that comes from the database passes through append_text,
 * which escapes & < > " and ' (and turns line breaks into <br>), so a
 * customer named <script>alert(1)</script> is shown, never run.  The only
 * unescaped output is markup written here and numbers formatted by
 * invoice_doc.c.  Nothing depends on the clock: the same invoice always
 * gives the same page.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "invoice_doc.h"
#include "items.h"
#include "lifecycle.h"
#include "money.h"

PG_FUNCTION_INFO_V1(invoice_render_html);

/* style: the style sheet, the same for every invoice */
static const char style[] =
"@page{size:A4;margin:14mm}\n"
"*{box-sizing:border-box}\n"
"body{margin:0;background:#f4f1ea;color:#222;font:14px/1.45 \"Helvetica Neue\",Helvetica,Arial,sans-serif}\n"
"main{max-width:210mm;margin:0 auto;padding:12mm 14mm;background:#fff}\n"
"h1{margin:0;font-size:22px}\n"
"h2{margin:0;font-size:15px;letter-spacing:.08em;text-transform:uppercase}\n"
"h3{margin:18px 0 4px;font-size:13px}\n"
"p{margin:2px 0}\n"
".cabecera{display:flex;flex-wrap:wrap;justify-content:space-between;gap:12px;border-bottom:2px solid #b8902f;padding-bottom:10px}\n"
".vendedor{flex:1 1 55%;overflow-wrap:anywhere}\n"
".documento{text-align:right}\n"
".numero{font-size:22px;font-weight:bold}\n"
".resolucion,.zona,.detalle{color:#666;font-size:11px}\n"
".pago{font-weight:bold}\n"
".sello{display:inline-block;margin-top:6px;padding:3px 10px;border:2px solid #bf1a1a;color:#bf1a1a;font-size:20px;font-weight:bold;letter-spacing:.1em}\n"
".cliente{overflow-wrap:anywhere}\n"
".cliente .nombre{font-weight:bold;font-size:16px}\n"
"table{width:100%;border-collapse:collapse}\n"
".lineas{margin-top:14px}\n"
".lineas th{background:#f5eed9;font-size:12px;padding:5px;text-align:right}\n"
".lineas td{border-bottom:1px solid #ddd;padding:5px;text-align:right;vertical-align:top;white-space:nowrap}\n"
".lineas th.desc,.lineas td.desc{text-align:left;white-space:normal;overflow-wrap:anywhere;width:40%}\n"
".detalle{display:block}\n"
".pct{display:block;color:#666;font-size:11px}\n"
".resumen{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:flex-start;gap:16px;margin-top:14px}\n"
".impuestos{width:auto;font-size:12px}\n"
".impuestos th,.impuestos td{padding:2px 8px;text-align:right;white-space:nowrap}\n"
".impuestos th:first-child,.impuestos td:first-child{text-align:left}\n"
".totales{width:auto;min-width:260px;margin-left:auto}\n"
".totales th{text-align:left;font-weight:normal;padding:2px 16px 2px 0}\n"
".totales td{text-align:right;white-space:nowrap}\n"
".totales .total th,.totales .total td{font-weight:bold;font-size:17px;border-top:2px solid #b8902f;padding-top:4px}\n"
".totales .saldo th,.totales .saldo td{font-weight:bold}\n"
".pagos td{padding:2px 12px 2px 0}\n"
".notas p,.anulacion p{overflow-wrap:anywhere}\n"
".anulacion p{color:#bf1a1a}\n"
"@media (max-width:600px){\n"
"main{padding:16px}\n"
".documento{text-align:left}\n"
".lineas thead{display:none}\n"
".lineas tr{display:block;border-bottom:1px solid #ddd;padding:6px 0}\n"
".lineas td,.lineas td.desc{display:flex;justify-content:space-between;gap:12px;width:auto;border:0;padding:2px 0;white-space:normal;text-align:right}\n"
".lineas td.desc{display:block;text-align:left}\n"
".lineas td::before{content:attr(data-label);font-weight:bold;text-align:left}\n"
".lineas td.desc::before{display:block}\n"
".lineas .pct{display:inline;margin-left:6px}\n"
"}\n"
"@media print{body{background:#fff}main{max-width:none;padding:0}.lineas tr{break-inside:avoid}}\n";

/*
 * append_text
 *		Text from the database, escaped for HTML content and attribute
 *		values; with `breaks`, line breaks (LF, CR LF, CR) become <br>.
 */
static void
append_text(StringInfo out, const char *s, bool breaks)
{
	const char *run = s;

	for (; *s != '\0'; s++)
	{
		const char *rep;

		switch (*s)
		{
			case '&':
				rep = "&amp;";
				break;
			case '<':
				rep = "&lt;";
				break;
			case '>':
				rep = "&gt;";
				break;
			case '"':
				rep = "&quot;";
				break;
			case '\'':
				rep = "&#39;";
				break;
			case '\r':
			case '\n':
				if (!breaks)
					continue;
				appendBinaryStringInfo(out, run, s - run);
				appendStringInfoString(out, "<br>");
				if (s[0] == '\r' && s[1] == '\n')
					s++;		/* CR LF is one break */
				run = s + 1;
				continue;
			default:
				continue;
		}
		appendBinaryStringInfo(out, run, s - run);
		appendStringInfoString(out, rep);
		run = s + 1;
	}
	appendBinaryStringInfo(out, run, s - run);
}

/* element: <tag class="cls">escaped text</tag>, on its own line */
static void
element(StringInfo out, const char *tag, const char *cls, const char *text)
{
	if (cls != NULL)
		appendStringInfo(out, "<%s class=\"%s\">", tag, cls);
	else
		appendStringInfo(out, "<%s>", tag);
	append_text(out, text, true);
	appendStringInfo(out, "</%s>\n", tag);
}

/* scratch: the scratch text of a section, reset */
static StringInfo
scratch(StringInfo s)
{
	resetStringInfo(s);
	return s;
}

/* time_line: <p>label dd/mm/yyyy hh:mm</p> when t is set */
static void
time_line(StringInfo out, const InvoiceDoc *doc, const char *label, const DocTime *t)
{
	if (t->isnull)
		return;
	appendStringInfo(out, "<p>%s ", label);
	doc_append_time(out, doc, t);
	appendStringInfoString(out, "</p>\n");
}

/*
 * append_header
 *		The seller (name, NIT and IVA regime, address, contact, resolution)
 *		and the document (title, number, dates, status, payment form,
 *		seller user, time zone when not Colombia's, stamp).
 */
static void
append_header(StringInfo out, const InvoiceDoc *doc, StringInfo tmp)
{
	const char *stamp = doc_stamp(doc);

	appendStringInfoString(out, "<header class=\"cabecera\">\n<div class=\"vendedor\">\n");
	element(out, "h1", NULL, doc->org_name);
	resetStringInfo(tmp);
	if (doc->tax_id != NULL)
		appendStringInfo(tmp, "NIT %s", doc->tax_id);
	if (doc_tax_regime_label(doc) != NULL)
		appendStringInfo(tmp, "%s%s", tmp->len > 0 ? " · " : "", doc_tax_regime_label(doc));
	if (tmp->len > 0)
		element(out, "p", NULL, tmp->data);
	doc_append_seller_address(scratch(tmp), doc);
	if (tmp->len > 0)
		element(out, "p", NULL, tmp->data);
	doc_append_seller_contact(scratch(tmp), doc);
	if (tmp->len > 0)
		element(out, "p", NULL, tmp->data);
	doc_append_resolution(scratch(tmp), doc);
	if (tmp->len > 0)
		element(out, "p", "resolucion", tmp->data);
	appendStringInfoString(out, "</div>\n<div class=\"documento\">\n<h2>Factura de venta</h2>\n");
	element(out, "p", "numero", doc->number_text ? doc->number_text : "Sin número");
	if (doc->status == STATUS_DRAFT)
		time_line(out, doc, "Fecha de creación:", &doc->created_at);
	else
		time_line(out, doc, "Fecha de emisión:", &doc->issued_at);
	time_line(out, doc, "Fecha de pago:", &doc->paid_at);
	time_line(out, doc, "Fecha de anulación:", &doc->voided_at);
	appendStringInfo(out, "<p>Estado: %s</p>\n", doc_status_label(doc));
	doc_append_payment_form(scratch(tmp), doc);
	element(out, "p", "pago", tmp->data);
	if (doc->created_by_name != NULL)
	{
		appendStringInfoString(scratch(tmp), "Vendedor: ");
		appendStringInfoString(tmp, doc->created_by_name);
		element(out, "p", NULL, tmp->data);
	}
	if (doc_shows_timezone(doc))
	{
		appendStringInfoString(scratch(tmp), "Zona horaria: ");
		appendStringInfoString(tmp, doc->timezone);
		element(out, "p", "zona", tmp->data);
	}
	if (stamp != NULL)
		element(out, "p", "sello", stamp);
	appendStringInfoString(out, "</div>\n</header>\n");
}

/*
 * append_customer
 *		"Cliente": name, identification, address, phone, email.
 */
static void
append_customer(StringInfo out, const InvoiceDoc *doc, StringInfo tmp)
{
	appendStringInfoString(out, "<section class=\"cliente\">\n<h3>Cliente</h3>\n");
	element(out, "p", "nombre", doc->customer_name);
	appendStringInfo(scratch(tmp), "%s %s", doc->id_type, doc->id_number);
	element(out, "p", NULL, tmp->data);
	if (doc->address != NULL)
		element(out, "p", NULL, doc->address);
	if (doc->phone != NULL)
	{
		appendStringInfoString(scratch(tmp), "Tel. ");
		appendStringInfoString(tmp, doc->phone);
		element(out, "p", NULL, tmp->data);
	}
	if (doc->email != NULL)
		element(out, "p", NULL, doc->email);
	appendStringInfoString(out, "</section>\n");
}

/* cell_money: <td data-label="label">$ 1.250.000,00</td> */
static void
cell_money(StringInfo out, const InvoiceDoc *doc, const char *label, int64 cents)
{
	appendStringInfo(out, "<td data-label=\"%s\">", label);
	doc_append_money(out, doc, cents);
	appendStringInfoString(out, "</td>");
}

/*
 * append_items
 *		The lines table: number, description (with its line breaks) and
 *		jewelry details, quantity, unit price, discount, rate, line total.
 */
static void
append_items(StringInfo out, const InvoiceDoc *doc, StringInfo tmp)
{
	int			i;

	appendStringInfoString(out, "<table class=\"lineas\">\n<thead><tr><th>#</th>"
						   "<th class=\"desc\">Descripción</th><th>Cantidad</th>"
						   "<th>Precio unitario</th><th>Descuento</th><th>IVA</th>"
						   "<th>Total</th></tr></thead>\n<tbody>\n");
	for (i = 0; i < doc->nitems; i++)
	{
		const InvoiceItem *it = &doc->items[i];

		appendStringInfo(out, "<tr><td data-label=\"#\">%d</td>"
						 "<td class=\"desc\" data-label=\"Descripción\">", it->line_no);
		append_text(out, it->description, true);
		doc_append_item_details(scratch(tmp), it);
		if (tmp->len > 0)
		{
			appendStringInfoString(out, "<span class=\"detalle\">");
			append_text(out, tmp->data, true);
			appendStringInfoString(out, "</span>");
		}
		appendStringInfoString(out, "</td><td data-label=\"Cantidad\">");
		doc_append_decimal(out, it->quantity, QTY_SCALE);
		appendStringInfoString(out, "</td>");
		cell_money(out, doc, "Precio unitario", it->unit_price);
		/* one span: on a phone the amount and its rate stay together */
		appendStringInfoString(out, "<td data-label=\"Descuento\"><span>");
		if (it->discount != 0)
			doc_append_money(out, doc, it->discount);
		else
			appendStringInfoString(out, "—");
		if (it->discount_pct != 0)
		{
			appendStringInfoString(out, "<span class=\"pct\">(");
			doc_append_rate(out, it->discount_pct);
			appendStringInfoString(out, ")</span>");
		}
		appendStringInfoString(out, "</span></td><td data-label=\"IVA\">");
		doc_append_rate(out, it->tax_rate);
		appendStringInfoString(out, "</td>");
		cell_money(out, doc, "Total", it->line_total);
		appendStringInfoString(out, "</tr>\n");
	}
	if (doc->nitems == 0)
		appendStringInfoString(out, "<tr><td></td><td class=\"desc\">Sin productos</td>"
							   "<td></td><td></td><td></td><td></td><td></td></tr>\n");
	appendStringInfoString(out, "</tbody>\n</table>\n");
}

/* total_row: <tr class="cls"><th>label</th><td>amount</td></tr> */
static void
total_row(StringInfo out, const InvoiceDoc *doc, const char *cls,
		  const char *label, int64 cents)
{
	if (cls != NULL)
		appendStringInfo(out, "<tr class=\"%s\">", cls);
	else
		appendStringInfoString(out, "<tr>");
	appendStringInfo(out, "<th>%s</th><td>", label);
	doc_append_money(out, doc, cents);
	appendStringInfoString(out, "</td></tr>\n");
}

/*
 * append_summary
 *		The breakdown by rate and the totals: the discount when there is
 *		one, what was paid once the invoice is issued or has payments, and
 *		what is owed unless it is void (a void invoice owes nothing, but
 *		says what it had received).
 */
static void
append_summary(StringInfo out, const InvoiceDoc *doc)
{
	bool		show_paid = doc->amount_paid != 0 || doc->status == STATUS_ISSUED ||
		doc->status == STATUS_PAID;
	int			i;

	appendStringInfoString(out, "<section class=\"resumen\">\n<table class=\"impuestos\">\n"
						   "<thead><tr><th>Tarifa</th><th>Base gravable</th><th>IVA</th></tr></thead>\n"
						   "<tbody>\n");
	for (i = 0; i < doc->ntaxes; i++)
	{
		appendStringInfoString(out, "<tr><td>IVA ");
		doc_append_rate(out, doc->taxes[i].rate);
		appendStringInfoString(out, "</td><td>");
		doc_append_money(out, doc, doc->taxes[i].base);
		appendStringInfoString(out, "</td><td>");
		doc_append_money(out, doc, doc->taxes[i].tax);
		appendStringInfoString(out, "</td></tr>\n");
	}
	appendStringInfoString(out, "</tbody>\n</table>\n<table class=\"totales\">\n");
	total_row(out, doc, NULL, "Subtotal", doc->totals.subtotal);
	if (doc->totals.discount_total != 0)
		total_row(out, doc, NULL, "Descuento", -doc->totals.discount_total);
	total_row(out, doc, NULL, "IVA", doc->totals.tax_total);
	total_row(out, doc, "total", "Total", doc->totals.total);
	if (show_paid)
	{
		total_row(out, doc, NULL, "Pagado", doc->amount_paid);
		if (doc->status != STATUS_VOID)
			total_row(out, doc, "saldo", "Saldo", doc->totals.total - doc->amount_paid);
	}
	appendStringInfoString(out, "</table>\n</section>\n");
}

/*
 * append_payments
 *		"Pagos": date, method and amount of each payment.
 */
static void
append_payments(StringInfo out, const InvoiceDoc *doc)
{
	int			i;

	if (doc->npayments == 0)
		return;
	appendStringInfoString(out, "<section class=\"pagos\">\n<h3>Pagos</h3>\n<table>\n");
	for (i = 0; i < doc->npayments; i++)
	{
		appendStringInfoString(out, "<tr><td>");
		doc_append_time(out, doc, &doc->payments[i].paid_at);
		appendStringInfoString(out, "</td><td>");
		append_text(out, doc_method_label(doc->payments[i].method), false);
		appendStringInfoString(out, "</td><td>");
		doc_append_money(out, doc, doc->payments[i].amount);
		appendStringInfoString(out, "</td></tr>\n");
	}
	appendStringInfoString(out, "</table>\n</section>\n");
}

/*
 * append_notes
 *		The reason of a void invoice and the invoice's notes.
 */
static void
append_notes(StringInfo out, const InvoiceDoc *doc)
{
	if (doc->void_reason != NULL)
	{
		appendStringInfoString(out, "<section class=\"anulacion\">\n<h3>Motivo de anulación</h3>\n");
		element(out, "p", NULL, doc->void_reason);
		appendStringInfoString(out, "</section>\n");
	}
	if (doc->notes != NULL)
	{
		appendStringInfoString(out, "<section class=\"notas\">\n<h3>Observaciones</h3>\n");
		element(out, "p", NULL, doc->notes);
		appendStringInfoString(out, "</section>\n");
	}
}

/*
 * invoice_render_html
 *		invoice.render_html(invoice_id bigint): the invoice as an HTML
 *		page; see README.md, "Exports: render_html and render_pdf".
 */
Datum
invoice_render_html(PG_FUNCTION_ARGS)
{
	InvoiceDoc	doc;
	StringInfoData out;
	StringInfoData tmp;
	text	   *result;

	doc_require_utf8("render_html");
	invoice_doc_from_arg(fcinfo, &doc);
	initStringInfo(&out);
	initStringInfo(&tmp);

	appendStringInfoString(&out, "<!DOCTYPE html>\n<html lang=\"es\">\n<head>\n"
						   "<meta charset=\"utf-8\">\n"
						   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
	doc_append_title(&tmp, &doc);
	appendStringInfoString(&tmp, " · ");
	appendStringInfoString(&tmp, doc.org_name);
	element(&out, "title", NULL, tmp.data);
	appendStringInfo(&out, "<style>\n%s</style>\n</head>\n<body>\n"
					 "<main class=\"factura estado-%s\">\n", style, doc.status_text);
	append_header(&out, &doc, &tmp);
	append_customer(&out, &doc, &tmp);
	append_items(&out, &doc, &tmp);
	append_summary(&out, &doc);
	append_payments(&out, &doc);
	append_notes(&out, &doc);
	appendStringInfoString(&out, "</main>\n</body>\n</html>\n");

	result = cstring_to_text_with_len(out.data, out.len);
	pfree(out.data);
	pfree(tmp.data);
	PG_RETURN_TEXT_P(result);
}
