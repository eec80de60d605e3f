/*-------------------------------------------------------------------------
 *
 * render_pdf.c
 *	  invoice.render_pdf(invoice_id bigint): one invoice of the current
 *	  tenant as an A4 PDF, written here byte by byte.
 *
 * The invoice is read by invoice_doc.c (read-only, no locks; another
 * tenant's invoice is P0002 like an unknown one).  The page shows what
 * render_html shows, with the same wording and formats: seller and its
 * numbering resolution, number, dates in the tenant's time zone, status
 * (drafts are stamped BORRADOR and void invoices ANULADA on every page),
 * customer, the lines, the breakdown by rate, the totals, payments,
 * notes.  The lines flow over as many pages as they need; each page
 * repeats the table header and says "Página i de n".
 *
 * Text is Helvetica and Helvetica-Bold with WinAnsiEncoding (pdf_text.c):
 * nothing is embedded, readers extract the text, and what WinAnsi cannot
 * show is printed as '?'.  Long texts wrap with the fonts' real widths,
 * words longer than a column break inside, and amounts too wide for their
 * column are set smaller, so nothing crosses a column.
 *
 * The layout is integer arithmetic in thousandths of a point, the content
 * streams are not compressed, and the file has no generation date and a
 * /ID hashed from its own bytes: the same invoice always gives the same
 * bytes.  The result is built in one StringInfo in the caller's memory
 * context, which is also the bytea returned.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "invoice_doc.h"
#include "items.h"
#include "lifecycle.h"
#include "money.h"
#include "pdf_text.h"

PG_FUNCTION_INFO_V1(invoice_render_pdf);

/* A4 and its margins, in thousandths of a point (mpt) */
#define PAGE_W			595276
#define PAGE_H			841890
#define MARGIN			42520	/* 15 mm */
#define RIGHT			(PAGE_W - MARGIN)
#define CONTENT_W		(PAGE_W - 2 * MARGIN)
#define TOP				(PAGE_H - 36000)
#define BOTTOM			60000	/* the body stays above this */
#define FOOTER_Y		36000
#define CONT_TOP		(TOP - 30000)	/* body top of the pages after the first */

/* type sizes and line heights */
#define SZ_TEXT			8500
#define LEAD_TEXT		10500
#define SZ_SMALL		7000
#define LEAD_SMALL		8800
#define SZ_HEAD			9000
#define LEAD_HEAD		12000

/* the lines table: left of the description, right edges of the numbers */
#define COL_NO_R		(MARGIN + 14000)
#define COL_DESC_X		(MARGIN + 20000)
#define COL_DESC_W		182000
#define COL_QTY_R		(MARGIN + 250000)
#define COL_PRICE_R		(MARGIN + 326000)
#define COL_DISC_R		(MARGIN + 392000)
#define COL_TAX_R		(MARGIN + 428000)
#define COL_TOTAL_R		RIGHT
#define TABLE_HEAD_H	16000
#define ROW_PAD			3500
/* the most a row may take on a page that starts with the table header */
#define ROW_CAPACITY	(CONT_TOP - TABLE_HEAD_H - BOTTOM)

/* the right-hand column of the first page (number, dates, stamp) */
#define INFO_X			(MARGIN + 300000)
#define INFO_W			(RIGHT - INFO_X)
#define SELLER_W		280000

/* the totals block and the breakdown by rate beside it */
#define TOTALS_LABEL_X	(MARGIN + 300000)
#define TAXES_BASE_R	(MARGIN + 170000)
#define TAXES_TAX_R		(MARGIN + 250000)

/* colors */
#define INK				"0 g\n"
#define GRAY_INK		"0.38 g\n"
#define RED_INK			"0.75 0.1 0.1 rg\n"
#define RED_LINE		"0.75 0.1 0.1 RG\n"
#define GOLD_LINE		"0.72 0.56 0.2 RG\n"
#define CREAM_FILL		"0.96 0.93 0.85 rg\n"
#define RULE_LINE		"0.78 G\n"

/* the objects before the pages: catalog, pages, two fonts, info */
#define OBJ_CATALOG		1
#define OBJ_PAGES		2
#define OBJ_FONTS		3		/* /F1 Helvetica, /F2 Helvetica-Bold */
#define OBJ_INFO		5
#define OBJ_FIRST_PAGE	6		/* then a page and its content, per page */

typedef struct Pdf
{
	const InvoiceDoc *doc;
	StringInfoData *pages;		/* the content stream of each page */
	int			npages;
	int			maxpages;
	StringInfo	page;			/* the current one */
	bool		in_text;		/* inside BT ... ET on this page */
	PdfFont		font;			/* the font set on this page (0 size: none) */
	int32		size;
	const char *stroke;			/* the stroke color and width set on it */
	int32		line_width;
	int32		tx;				/* where its last line started (Td) */
	int32		ty;
	int32		y;				/* top of the free space of the page */
	bool		in_table;		/* a new page repeats the table header */
	StringInfoData text;		/* UTF-8 being composed */
	char	   *title;			/* WinAnsi: "Factura de venta EX100" */
	char	   *seller;			/* WinAnsi: the seller's name */
	char	   *stamp;			/* WinAnsi: BORRADOR, ANULADA, or NULL */
} Pdf;

/* ----------
 * Content stream primitives
 * ----------
 */

/*
 * append_mpt
 *		A length in mpt as PDF points, with at most 3 decimals and no
 *		trailing zeros ("42.52", "595.276", "-3").
 */
static void
append_mpt(StringInfo s, int32 v)
{
	char		buf[24];
	char	   *p = buf + sizeof(buf);
	uint32		mag = v < 0 ? -(uint32) v : (uint32) v;
	uint32		frac = mag % 1000;
	int			fdigits = 3;

	*--p = '\0';
	while (fdigits > 0 && frac % 10 == 0 && frac != 0)
	{
		frac /= 10;
		fdigits--;
	}
	if (frac != 0)
	{
		while (fdigits-- > 0)
		{
			*--p = (char) ('0' + frac % 10);
			frac /= 10;
		}
		*--p = '.';
	}
	mag /= 1000;
	do
	{
		*--p = (char) ('0' + mag % 10);
		mag /= 10;
	} while (mag != 0);
	if (v < 0)
		*--p = '-';
	appendStringInfoString(s, p);
}

/* append_point: "x y " */
static void
append_point(StringInfo s, int32 x, int32 y)
{
	append_mpt(s, x);
	appendStringInfoChar(s, ' ');
	append_mpt(s, y);
	appendStringInfoChar(s, ' ');
}

/*
 * end_text
 *		Closes the text object; paths cannot be drawn inside one.
 */
static void
end_text(Pdf *p)
{
	if (p->in_text)
		appendStringInfoString(p->page, "ET\n");
	p->in_text = false;
}

/*
 * show
 *		WinAnsi text at (x, y), y being the baseline: a literal string with
 *		'(', ')' and '\' escaped; a stray control byte shows as a space.
 *		Consecutive texts share one text object: the font is set when it
 *		changes, and each text moves from the previous one (Td is relative
 *		to the start of the previous line), which keeps the file small.
 */
static void
show(Pdf *p, PdfFont font, int32 size, int32 x, int32 y, const char *s, int len)
{
	StringInfo out = p->page;
	int			i;

	if (!p->in_text)
	{
		/* the text matrix starts afresh; the font is graphics state and stays */
		appendStringInfoString(out, "BT\n");
		p->in_text = true;
		p->tx = 0;
		p->ty = 0;
	}
	if (font != p->font || size != p->size)
	{
		appendStringInfoString(out, font == PDF_BOLD ? "/F2 " : "/F1 ");
		append_mpt(out, size);
		appendStringInfoString(out, " Tf\n");
		p->font = font;
		p->size = size;
	}
	append_point(out, x - p->tx, y - p->ty);
	p->tx = x;
	p->ty = y;
	appendStringInfoString(out, "Td (");
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '(' || c == ')' || c == '\\')
			appendStringInfoChar(out, '\\');
		appendStringInfoChar(out, c < 0x20 ? ' ' : (char) c);
	}
	appendStringInfoString(out, ") Tj\n");
}

/*
 * show_right
 *		Text that ends at x_right, set smaller when it is wider than
 *		`width`, so that it never leaves its column.
 */
static void
show_right(Pdf *p, PdfFont font, int32 size, int32 x_right, int32 width,
		   int32 y, const char *s)
{
	int			len = (int) strlen(s);
	int32		w = pdf_text_width(font, size, s, len);

	if (w > width)
	{
		size = (int32) ((int64) size * width / w);
		w = pdf_text_width(font, size, s, len);
	}
	show(p, font, size, x_right - w, y, s, len);
}

/* show_left: like show_right, from x */
static void
show_left(Pdf *p, PdfFont font, int32 size, int32 x, int32 width, int32 y,
		  const char *s)
{
	int			len = (int) strlen(s);
	int32		w = pdf_text_width(font, size, s, len);

	if (w > width)
		size = (int32) ((int64) size * width / w);
	show(p, font, size, x, y, s, len);
}

/* rule: a horizontal line from x1 to x2 at y, `width` thick, in stroke `color` */
static void
rule(Pdf *p, int32 x1, int32 x2, int32 y, int32 width, const char *color)
{
	end_text(p);
	if (color != p->stroke)
		appendStringInfoString(p->page, color);
	if (width != p->line_width)
	{
		append_mpt(p->page, width);
		appendStringInfoString(p->page, " w ");
	}
	p->stroke = color;
	p->line_width = width;
	append_point(p->page, x1, y);
	appendStringInfoString(p->page, "m ");
	append_point(p->page, x2, y);
	appendStringInfoString(p->page, "l S\n");
}

/* rect: a rectangle, filled ("f") or stroked ("S"), in the color already set */
static void
rect(Pdf *p, int32 x, int32 y, int32 w, int32 h, const char *op)
{
	end_text(p);
	append_point(p->page, x, y);
	append_point(p->page, w, h);
	appendStringInfo(p->page, "re %s\n", op);
}

/* baseline: of type `size` in a line box of height `lead` under `top` */
static inline int32
baseline(int32 top, int32 lead, int32 size)
{
	return top - lead + (lead - size) / 2 + size * 21 / 100;
}

/* composed: the UTF-8 composed in p->text, as WinAnsi */
static char *
composed(Pdf *p)
{
	return pdf_winansi(p->text.data);
}

/* ----------
 * Pages
 * ----------
 */

static void table_header(Pdf *p);

/*
 * new_page
 *		Starts a page.  After the first one, a page opens with the seller,
 *		the title and the stamp, and, inside the lines table, its header.
 */
static void
new_page(Pdf *p)
{
	if (p->npages > 0)
		end_text(p);
	if (p->npages == p->maxpages)
	{
		p->maxpages *= 2;
		p->pages = repalloc(p->pages, sizeof(StringInfoData) * p->maxpages);
	}
	p->page = &p->pages[p->npages++];
	initStringInfo(p->page);
	p->size = 0;
	p->stroke = NULL;
	p->line_width = 0;
	p->y = TOP;
	if (p->npages == 1)
		return;

	show_left(p, PDF_BOLD, SZ_HEAD, MARGIN, SELLER_W, baseline(p->y, LEAD_HEAD, SZ_HEAD),
			  p->seller);
	show_right(p, PDF_BOLD, SZ_HEAD, RIGHT, INFO_W, baseline(p->y, LEAD_HEAD, SZ_HEAD),
			   p->title);
	if (p->stamp != NULL)
	{
		appendStringInfoString(p->page, RED_INK);
		show_right(p, PDF_BOLD, SZ_HEAD, RIGHT, INFO_W,
				   baseline(p->y - LEAD_HEAD, LEAD_HEAD, SZ_HEAD), p->stamp);
		appendStringInfoString(p->page, INK);
	}
	rule(p, MARGIN, RIGHT, TOP - 26000, 1000, GOLD_LINE);
	p->y = CONT_TOP;
	if (p->in_table)
		table_header(p);
}

/* need: a new page unless `h` fits above the bottom of this one */
static void
need(Pdf *p, int32 h)
{
	if (p->y - h < BOTTOM)
		new_page(p);
}

/*
 * text_block
 *		WinAnsi text wrapped to `width` from x, line by line down from
 *		p->y, going on on the next page when the page is full.
 */
static void
text_block(Pdf *p, PdfFont font, int32 size, int32 lead, int32 x, int32 width,
		   const char *s)
{
	PdfSpan    *lines;
	int			n = pdf_wrap(font, size, width, s, &lines);
	int			i;

	for (i = 0; i < n; i++)
	{
		need(p, lead);
		show(p, font, size, x, baseline(p->y, lead, size), s + lines[i].start,
			 lines[i].len);
		p->y -= lead;
	}
	pfree(lines);
}

/* heading: a bold title of a section (WinAnsi), after some space */
static void
heading(Pdf *p, const char *s)
{
	p->y -= 6000;
	need(p, LEAD_HEAD + LEAD_TEXT);
	show(p, PDF_BOLD, SZ_HEAD, MARGIN, baseline(p->y, LEAD_HEAD, SZ_HEAD), s,
		 (int) strlen(s));
	p->y -= LEAD_HEAD;
}

/* ----------
 * The sections
 * ----------
 */

/* info_line: one line of the right-hand column of the first page */
static void
info_line(Pdf *p, PdfFont font, int32 size, int32 lead, const char *s)
{
	show_right(p, font, size, RIGHT, INFO_W, baseline(p->y, lead, size), s);
	p->y -= lead;
}

/* info_time: "label dd/mm/yyyy hh:mm" in the right-hand column, when t is set */
static void
info_time(Pdf *p, const char *label, const DocTime *t)
{
	if (t->isnull)
		return;
	resetStringInfo(&p->text);
	appendStringInfo(&p->text, "%s ", label);
	doc_append_time(&p->text, p->doc, t);
	info_line(p, PDF_REGULAR, SZ_TEXT, LEAD_TEXT, composed(p));
}

/*
 * draw_header
 *		The first page's top: the seller on the left (name, NIT and IVA
 *		regime, address, contact, numbering resolution), the document on
 *		the right (title, number, dates, status, payment form, seller user,
 *		time zone when not Colombia's, and the stamp of a draft or void
 *		invoice).
 */
static void
draw_header(Pdf *p)
{
	const InvoiceDoc *doc = p->doc;
	int32		info_bottom;

	/* the right-hand column first: it is short and never leaves the page */
	info_line(p, PDF_BOLD, 11000, 13500, "FACTURA DE VENTA");
	info_line(p, PDF_BOLD, 16000, 19000,
			  doc->number_text ? pdf_winansi(doc->number_text) : "Sin n\xFAmero");
	if (doc->status == STATUS_DRAFT)
		info_time(p, "Fecha de creación:", &doc->created_at);
	else
		info_time(p, "Fecha de emisión:", &doc->issued_at);
	info_time(p, "Fecha de pago:", &doc->paid_at);
	info_time(p, "Fecha de anulación:", &doc->voided_at);
	resetStringInfo(&p->text);
	appendStringInfo(&p->text, "Estado: %s", doc_status_label(doc));
	info_line(p, PDF_REGULAR, SZ_TEXT, LEAD_TEXT, composed(p));
	resetStringInfo(&p->text);
	doc_append_payment_form(&p->text, doc);
	info_line(p, PDF_BOLD, SZ_TEXT, LEAD_TEXT, composed(p));
	if (doc->created_by_name != NULL)
	{
		resetStringInfo(&p->text);
		appendStringInfo(&p->text, "Vendedor: %s", doc->created_by_name);
		info_line(p, PDF_REGULAR, SZ_TEXT, LEAD_TEXT, composed(p));
	}
	if (doc_shows_timezone(doc))
	{
		resetStringInfo(&p->text);
		appendStringInfo(&p->text, "Zona horaria: %s", doc->timezone);
		info_line(p, PDF_REGULAR, SZ_SMALL, LEAD_SMALL, composed(p));
	}
	if (p->stamp != NULL)
	{
		int32		w = Min(pdf_text_width(PDF_BOLD, 16000, p->stamp, (int) strlen(p->stamp)),
							INFO_W - 12000);

		p->y -= 5000;
		appendStringInfoString(p->page, RED_INK);
		appendStringInfoString(p->page, RED_LINE);
		appendStringInfoString(p->page, "1.5 w\n");
		p->stroke = RED_LINE;
		p->line_width = 1500;
		rect(p, RIGHT - w - 12000, p->y - 24000, w + 12000, 24000, "S");
		show_right(p, PDF_BOLD, 16000, RIGHT - 6000, INFO_W - 12000, p->y - 17500,
				   p->stamp);
		appendStringInfoString(p->page, INK);
		p->y -= 24000;
	}
	info_bottom = p->y;

	/* the seller, on the left, from the top again */
	p->y = TOP;
	text_block(p, PDF_BOLD, 15000, 18000, MARGIN, SELLER_W, p->seller);
	resetStringInfo(&p->text);
	if (doc->tax_id != NULL)
		appendStringInfo(&p->text, "NIT %s", doc->tax_id);
	if (doc_tax_regime_label(doc) != NULL)
		appendStringInfo(&p->text, "%s%s", p->text.len > 0 ? " · " : "",
						 doc_tax_regime_label(doc));
	if (p->text.len > 0)
		text_block(p, PDF_REGULAR, SZ_HEAD, LEAD_HEAD, MARGIN, SELLER_W, composed(p));
	resetStringInfo(&p->text);
	doc_append_seller_address(&p->text, doc);
	if (p->text.len > 0)
		text_block(p, PDF_REGULAR, SZ_HEAD, LEAD_HEAD, MARGIN, SELLER_W, composed(p));
	resetStringInfo(&p->text);
	doc_append_seller_contact(&p->text, doc);
	if (p->text.len > 0)
		text_block(p, PDF_REGULAR, SZ_HEAD, LEAD_HEAD, MARGIN, SELLER_W, composed(p));
	resetStringInfo(&p->text);
	doc_append_resolution(&p->text, doc);
	if (p->text.len > 0)
	{
		p->y -= 3000;
		appendStringInfoString(p->page, GRAY_INK);
		text_block(p, PDF_REGULAR, SZ_SMALL, LEAD_SMALL, MARGIN, SELLER_W, composed(p));
		appendStringInfoString(p->page, INK);
	}
	if (p->npages == 1)
		p->y = Min(p->y, info_bottom);

	p->y -= 8000;
	need(p, 4000);
	rule(p, MARGIN, RIGHT, p->y, 1500, GOLD_LINE);
	p->y -= 4000;
}

/*
 * draw_customer
 *		"Cliente": name, identification, address, phone, email.
 */
static void
draw_customer(Pdf *p)
{
	const InvoiceDoc *doc = p->doc;

	heading(p, "Cliente");
	text_block(p, PDF_BOLD, 10000, 12500, MARGIN, CONTENT_W,
			   pdf_winansi(doc->customer_name));
	resetStringInfo(&p->text);
	appendStringInfo(&p->text, "%s %s", doc->id_type, doc->id_number);
	text_block(p, PDF_REGULAR, SZ_TEXT, LEAD_TEXT, MARGIN, CONTENT_W, composed(p));
	if (doc->address != NULL)
		text_block(p, PDF_REGULAR, SZ_TEXT, LEAD_TEXT, MARGIN, CONTENT_W,
				   pdf_winansi(doc->address));
	if (doc->phone != NULL)
	{
		resetStringInfo(&p->text);
		appendStringInfo(&p->text, "Tel. %s", doc->phone);
		text_block(p, PDF_REGULAR, SZ_TEXT, LEAD_TEXT, MARGIN, CONTENT_W, composed(p));
	}
	if (doc->email != NULL)
		text_block(p, PDF_REGULAR, SZ_TEXT, LEAD_TEXT, MARGIN, CONTENT_W,
				   pdf_winansi(doc->email));
}

/*
 * table_header
 *		The header row of the lines table, on a cream band.
 */
static void
table_header(Pdf *p)
{
	int32		b = baseline(p->y, TABLE_HEAD_H, 7500);

	appendStringInfoString(p->page, CREAM_FILL);
	rect(p, MARGIN, p->y - TABLE_HEAD_H, CONTENT_W, TABLE_HEAD_H, "f");
	appendStringInfoString(p->page, INK);
	show_right(p, PDF_BOLD, 7500, COL_NO_R, 14000, b, "#");
	show_left(p, PDF_BOLD, 7500, COL_DESC_X, COL_DESC_W, b, "Descripci\xF3n");
	show_right(p, PDF_BOLD, 7500, COL_QTY_R, 44000, b, "Cantidad");
	show_right(p, PDF_BOLD, 7500, COL_PRICE_R, 72000, b, "Precio unitario");
	show_right(p, PDF_BOLD, 7500, COL_DISC_R, 62000, b, "Descuento");
	show_right(p, PDF_BOLD, 7500, COL_TAX_R, 32000, b, "IVA");
	show_right(p, PDF_BOLD, 7500, COL_TOTAL_R, 72000, b, "Total");
	p->y -= TABLE_HEAD_H;
}

/* money_cell: an amount, right-aligned in its column */
static void
money_cell(Pdf *p, int32 x_right, int32 width, int32 y, int64 cents)
{
	resetStringInfo(&p->text);
	doc_append_money(&p->text, p->doc, cents);
	show_right(p, PDF_REGULAR, SZ_TEXT, x_right, width, y, p->text.data);
}

/*
 * draw_item
 *		One line of the invoice: the figures on the first text line, the
 *		description wrapped below it and the jewelry details in small gray
 *		type.  A row that fits a page is never split; a row longer than a
 *		page goes on on the next.
 */
static void
draw_item(Pdf *p, const InvoiceItem *it)
{
	char	   *desc = pdf_winansi(it->description);
	char	   *details = NULL;
	PdfSpan    *dl;
	PdfSpan    *tl = NULL;
	int			nd = pdf_wrap(PDF_REGULAR, SZ_TEXT, COL_DESC_W, desc, &dl);
	int			nt = 0;
	int32		h;
	int32		top;
	int32		b;
	int			i;

	resetStringInfo(&p->text);
	doc_append_item_details(&p->text, it);
	if (p->text.len > 0)
	{
		details = composed(p);
		nt = pdf_wrap(PDF_REGULAR, SZ_SMALL, COL_DESC_W, details, &tl);
	}
	h = 2 * ROW_PAD + Max(nd * LEAD_TEXT + nt * LEAD_SMALL,
						  LEAD_TEXT + (it->discount_pct != 0 ? LEAD_SMALL : 0));
	if (h <= ROW_CAPACITY)
		need(p, h);
	p->y -= ROW_PAD;
	need(p, LEAD_TEXT);
	top = p->y;

	/* the figures, on the first line */
	b = baseline(top, LEAD_TEXT, SZ_TEXT);
	resetStringInfo(&p->text);
	appendStringInfo(&p->text, "%d", it->line_no);
	show_right(p, PDF_REGULAR, SZ_TEXT, COL_NO_R, 14000, b, p->text.data);
	resetStringInfo(&p->text);
	doc_append_decimal(&p->text, it->quantity, QTY_SCALE);
	show_right(p, PDF_REGULAR, SZ_TEXT, COL_QTY_R, 44000, b, p->text.data);
	money_cell(p, COL_PRICE_R, 72000, b, it->unit_price);
	if (it->discount != 0)
		money_cell(p, COL_DISC_R, 62000, b, it->discount);
	else
		show_right(p, PDF_REGULAR, SZ_TEXT, COL_DISC_R, 62000, b, "\x97");	/* em dash */
	resetStringInfo(&p->text);
	doc_append_rate(&p->text, it->tax_rate);
	show_right(p, PDF_REGULAR, SZ_TEXT, COL_TAX_R, 32000, b, p->text.data);
	money_cell(p, COL_TOTAL_R, 72000, b, it->line_total);
	if (it->discount_pct != 0)
	{
		resetStringInfo(&p->text);
		appendStringInfoChar(&p->text, '(');
		doc_append_rate(&p->text, it->discount_pct);
		appendStringInfoChar(&p->text, ')');
		appendStringInfoString(p->page, GRAY_INK);
		show_right(p, PDF_REGULAR, SZ_SMALL, COL_DISC_R, 62000,
				   baseline(top - LEAD_TEXT, LEAD_SMALL, SZ_SMALL), p->text.data);
		appendStringInfoString(p->page, INK);
	}

	/* the description and the details */
	for (i = 0; i < nd; i++)
	{
		need(p, LEAD_TEXT);
		show(p, PDF_REGULAR, SZ_TEXT, COL_DESC_X, baseline(p->y, LEAD_TEXT, SZ_TEXT),
			 desc + dl[i].start, dl[i].len);
		p->y -= LEAD_TEXT;
	}
	if (nt > 0)
	{
		appendStringInfoString(p->page, GRAY_INK);
		for (i = 0; i < nt; i++)
		{
			need(p, LEAD_SMALL);
			show(p, PDF_REGULAR, SZ_SMALL, COL_DESC_X,
				 baseline(p->y, LEAD_SMALL, SZ_SMALL), details + tl[i].start, tl[i].len);
			p->y -= LEAD_SMALL;
		}
		appendStringInfoString(p->page, INK);
	}
	if (it->discount_pct != 0 && p->y > top - LEAD_TEXT - LEAD_SMALL)
		p->y = top - LEAD_TEXT - LEAD_SMALL;
	p->y -= ROW_PAD;
	rule(p, MARGIN, RIGHT, p->y, 400, RULE_LINE);
}

/*
 * draw_items
 *		The lines table; its header comes again on every page it reaches.
 */
static void
draw_items(Pdf *p)
{
	int			i;

	p->y -= 8000;
	need(p, TABLE_HEAD_H + 2 * ROW_PAD + LEAD_TEXT);
	table_header(p);
	p->in_table = true;
	for (i = 0; i < p->doc->nitems; i++)
		draw_item(p, &p->doc->items[i]);
	if (p->doc->nitems == 0)
	{
		need(p, LEAD_TEXT + 2 * ROW_PAD);
		show(p, PDF_REGULAR, SZ_TEXT, COL_DESC_X,
			 baseline(p->y - ROW_PAD, LEAD_TEXT, SZ_TEXT), "Sin productos", 13);
		p->y -= LEAD_TEXT + 2 * ROW_PAD;
	}
	p->in_table = false;
}

/* total_line: "label ... amount" in the totals block */
static void
total_line(Pdf *p, PdfFont font, int32 size, int32 lead, const char *label,
		   int64 cents)
{
	int32		b = baseline(p->y, lead, size);

	show(p, font, size, TOTALS_LABEL_X, b, label, (int) strlen(label));
	resetStringInfo(&p->text);
	doc_append_money(&p->text, p->doc, cents);
	show_right(p, font, size, RIGHT, RIGHT - TOTALS_LABEL_X - 50000, b, p->text.data);
	p->y -= lead;
}

/*
 * draw_summary
 *		The totals on the right (subtotal, the discount when there is one,
 *		IVA, total, what was paid, and what is owed unless the invoice is
 *		void) and the breakdown by rate on the left.
 */
static void
draw_summary(Pdf *p)
{
	const InvoiceDoc *doc = p->doc;
	bool		show_paid = doc->amount_paid != 0 || doc->status == STATUS_ISSUED ||
		doc->status == STATUS_PAID;
	int32		top;
	int32		totals_bottom;
	int			page;
	int			i;

	p->y -= 8000;
	need(p, 4 * LEAD_TEXT + 17000 + (show_paid ? 2 * LEAD_TEXT : 0));
	top = p->y;
	page = p->npages;

	total_line(p, PDF_REGULAR, SZ_TEXT, LEAD_TEXT, "Subtotal", doc->totals.subtotal);
	if (doc->totals.discount_total != 0)
		total_line(p, PDF_REGULAR, SZ_TEXT, LEAD_TEXT, "Descuento", -doc->totals.discount_total);
	total_line(p, PDF_REGULAR, SZ_TEXT, LEAD_TEXT, "IVA", doc->totals.tax_total);
	p->y -= 2000;
	rule(p, TOTALS_LABEL_X, RIGHT, p->y, 800, GOLD_LINE);
	total_line(p, PDF_BOLD, 11000, 15000, "Total", doc->totals.total);
	if (show_paid)
	{
		total_line(p, PDF_REGULAR, SZ_TEXT, LEAD_TEXT, "Pagado", doc->amount_paid);
		if (doc->status != STATUS_VOID)
			total_line(p, PDF_BOLD, SZ_TEXT, LEAD_TEXT, "Saldo",
					   doc->totals.total - doc->amount_paid);
	}
	totals_bottom = p->y;

	/* the breakdown by rate, beside the totals */
	p->y = top;
	appendStringInfoString(p->page, GRAY_INK);
	show(p, PDF_BOLD, SZ_SMALL, MARGIN, baseline(p->y, LEAD_TEXT, SZ_SMALL), "Tarifa", 6);
	show_right(p, PDF_BOLD, SZ_SMALL, TAXES_BASE_R, 80000,
			   baseline(p->y, LEAD_TEXT, SZ_SMALL), "Base gravable");
	show_right(p, PDF_BOLD, SZ_SMALL, TAXES_TAX_R, 70000,
			   baseline(p->y, LEAD_TEXT, SZ_SMALL), "IVA");
	appendStringInfoString(p->page, INK);
	p->y -= LEAD_TEXT;
	for (i = 0; i < doc->ntaxes; i++)
	{
		int32		b;

		need(p, LEAD_TEXT);
		b = baseline(p->y, LEAD_TEXT, SZ_TEXT);
		resetStringInfo(&p->text);
		appendStringInfoString(&p->text, "IVA ");
		doc_append_rate(&p->text, doc->taxes[i].rate);
		show_left(p, PDF_REGULAR, SZ_TEXT, MARGIN, 70000, b, p->text.data);
		money_cell(p, TAXES_BASE_R, 90000, b, doc->taxes[i].base);
		money_cell(p, TAXES_TAX_R, 76000, b, doc->taxes[i].tax);
		p->y -= LEAD_TEXT;
	}
	if (p->npages == page)
		p->y = Min(p->y, totals_bottom);
}

/*
 * draw_payments
 *		"Pagos": date, method and amount of each payment.
 */
static void
draw_payments(Pdf *p)
{
	const InvoiceDoc *doc = p->doc;
	int			i;

	if (doc->npayments == 0)
		return;
	heading(p, "Pagos");
	for (i = 0; i < doc->npayments; i++)
	{
		const DocPayment *pay = &doc->payments[i];
		int32		b;

		need(p, LEAD_TEXT);
		b = baseline(p->y, LEAD_TEXT, SZ_TEXT);
		resetStringInfo(&p->text);
		doc_append_time(&p->text, doc, &pay->paid_at);
		show(p, PDF_REGULAR, SZ_TEXT, MARGIN, b, p->text.data, p->text.len);
		resetStringInfo(&p->text);
		appendStringInfoString(&p->text, doc_method_label(pay->method));
		show_left(p, PDF_REGULAR, SZ_TEXT, MARGIN + 90000, 110000, b, composed(p));
		money_cell(p, MARGIN + 300000, 90000, b, pay->amount);
		p->y -= LEAD_TEXT;
	}
}

/*
 * draw_notes
 *		The reason of a void invoice and the invoice's notes.
 */
static void
draw_notes(Pdf *p)
{
	const InvoiceDoc *doc = p->doc;

	if (doc->void_reason != NULL)
	{
		heading(p, "Motivo de anulaci\xF3n");
		appendStringInfoString(p->page, RED_INK);
		text_block(p, PDF_REGULAR, SZ_TEXT, LEAD_TEXT, MARGIN, CONTENT_W,
				   pdf_winansi(doc->void_reason));
		appendStringInfoString(p->page, INK);
	}
	if (doc->notes != NULL)
	{
		heading(p, "Observaciones");
		text_block(p, PDF_REGULAR, SZ_TEXT, LEAD_TEXT, MARGIN, CONTENT_W,
				   pdf_winansi(doc->notes));
	}
}

/*
 * draw_footers
 *		Every page's foot, once the number of pages is known: title and
 *		seller, and "Página i de n".
 */
static void
draw_footers(Pdf *p)
{
	char		label[64];
	int			i;

	end_text(p);
	resetStringInfo(&p->text);
	appendStringInfo(&p->text, "%s \xB7 %s", p->title, p->seller);
	for (i = 0; i < p->npages; i++)
	{
		/* the page's state where its content ended is not known here */
		p->page = &p->pages[i];
		p->size = 0;
		p->stroke = NULL;
		p->line_width = 0;
		rule(p, MARGIN, RIGHT, FOOTER_Y + 9000, 400, RULE_LINE);
		appendStringInfoString(p->page, GRAY_INK);
		/* p->text is WinAnsi already */
		show_left(p, PDF_REGULAR, SZ_SMALL, MARGIN, 400000, FOOTER_Y, p->text.data);
		snprintf(label, sizeof(label), "P\xE1gina %d de %d", i + 1, p->npages);
		show_right(p, PDF_REGULAR, SZ_SMALL, RIGHT, 100000, FOOTER_Y, label);
		end_text(p);
	}
}

/* ----------
 * The file
 * ----------
 */

/*
 * append_utf16_hex
 *		A text string of the document information dictionary: UTF-16BE
 *		with a byte order mark, as a hex string.
 */
static void
append_utf16_hex(StringInfo out, const char *text)
{
	const unsigned char *s = (const unsigned char *) text;

	appendStringInfoString(out, "<FEFF");
	while (*s != '\0')
	{
		int			len = pg_utf_mblen(s);
		pg_wchar	c;

		/* the server's text is valid UTF-8; still, never read past its end */
		if (strnlen((const char *) s, len) < (size_t) len)
			break;
		c = utf8_to_unicode(s);
		s += len;
		if (c > 0xFFFF)
			appendStringInfo(out, "%04X%04X", 0xD800 + ((c - 0x10000) >> 10),
							 0xDC00 + ((c - 0x10000) & 0x3FF));
		else
			appendStringInfo(out, "%04X", c);
	}
	appendStringInfoChar(out, '>');
}

/*
 * append_info
 *		The document information: title, author (the seller), producer,
 *		and as its date the invoice's own (issued, or else created), so
 *		that the file does not depend on when it is made.
 */
static void
append_info(StringInfo out, const InvoiceDoc *doc)
{
	const DocTime *t = doc->issued_at.isnull ? &doc->created_at : &doc->issued_at;
	StringInfoData title;
	struct pg_tm tm;
	fsec_t		fsec;
	int			offset;

	initStringInfo(&title);
	doc_append_title(&title, doc);
	appendStringInfoString(out, "<< /Title ");
	append_utf16_hex(out, title.data);
	appendStringInfoString(out, " /Author ");
	append_utf16_hex(out, doc->org_name);
	appendStringInfoString(out, " /Producer (invoice " INVOICE_VERSION ")");
	if (!t->isnull && !TIMESTAMP_NOT_FINITE(t->ts) &&
		timestamp2tm(t->ts, &offset, &tm, &fsec, NULL, doc->tz) == 0)
	{
		int			east = -offset;

		appendStringInfo(out, " /CreationDate (D:%04d%02d%02d%02d%02d%02d%c%02d'%02d')",
						 tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min,
						 tm.tm_sec, east < 0 ? '-' : '+', abs(east) / SECS_PER_HOUR,
						 (abs(east) % SECS_PER_HOUR) / SECS_PER_MINUTE);
	}
	appendStringInfoString(out, " >>");
	pfree(title.data);
}

/*
 * assemble
 *		The file: header, objects, cross-reference table (each entry 20
 *		bytes, offsets counted from the first byte of the file) and
 *		trailer.  It is written after a varlena header, so that the buffer
 *		is the bytea.
 */
static bytea *
assemble(Pdf *p)
{
	StringInfoData out;
	int			nobjects = OBJ_FIRST_PAGE - 1 + 2 * p->npages;
	int		   *offsets = palloc(sizeof(int) * (nobjects + 1));
	int			xref;
	int			i;
	uint64		id1;
	uint64		id2;

#define BEGIN_OBJ(n) \
	(offsets[(n)] = out.len - VARHDRSZ, appendStringInfo(&out, "%d 0 obj\n", (n)))

	initStringInfo(&out);
	appendStringInfoSpaces(&out, VARHDRSZ);
	/* a comment of high bytes marks the file as binary */
	appendStringInfoString(&out, "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n");

	BEGIN_OBJ(OBJ_CATALOG);
	appendStringInfo(&out, "<< /Type /Catalog /Pages %d 0 R >>\nendobj\n", OBJ_PAGES);
	BEGIN_OBJ(OBJ_PAGES);
	appendStringInfoString(&out, "<< /Type /Pages /Kids [");
	for (i = 0; i < p->npages; i++)
		appendStringInfo(&out, "%s%d 0 R", i > 0 ? " " : "", OBJ_FIRST_PAGE + 2 * i);
	appendStringInfo(&out, "] /Count %d >>\nendobj\n", p->npages);
	BEGIN_OBJ(OBJ_FONTS);
	appendStringInfoString(&out, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica"
						   " /Encoding /WinAnsiEncoding >>\nendobj\n");
	BEGIN_OBJ(OBJ_FONTS + 1);
	appendStringInfoString(&out, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold"
						   " /Encoding /WinAnsiEncoding >>\nendobj\n");
	BEGIN_OBJ(OBJ_INFO);
	append_info(&out, p->doc);
	appendStringInfoString(&out, "\nendobj\n");

	for (i = 0; i < p->npages; i++)
	{
		int			page_obj = OBJ_FIRST_PAGE + 2 * i;

		BEGIN_OBJ(page_obj);
		appendStringInfo(&out, "<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595.276 841.89]"
						 " /Resources << /Font << /F1 %d 0 R /F2 %d 0 R >> >>"
						 " /Contents %d 0 R >>\nendobj\n",
						 OBJ_PAGES, OBJ_FONTS, OBJ_FONTS + 1, page_obj + 1);
		BEGIN_OBJ(page_obj + 1);
		appendStringInfo(&out, "<< /Length %d >>\nstream\n", p->pages[i].len);
		appendBinaryStringInfo(&out, p->pages[i].data, p->pages[i].len);
		appendStringInfoString(&out, "\nendstream\nendobj\n");
	}

	xref = out.len - VARHDRSZ;
	appendStringInfo(&out, "xref\n0 %d\n0000000000 65535 f \n", nobjects + 1);
	for (i = 1; i <= nobjects; i++)
		appendStringInfo(&out, "%010d 00000 n \n", offsets[i]);

	/* an /ID from the bytes so far: the same file always has the same one */
	id1 = hash_bytes_extended((const unsigned char *) out.data + VARHDRSZ,
							  out.len - VARHDRSZ, 0);
	id2 = hash_bytes_extended((const unsigned char *) out.data + VARHDRSZ,
							  out.len - VARHDRSZ, 1);
	appendStringInfo(&out, "trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R"
					 " /ID [<%016" INT64_MODIFIER "X%016" INT64_MODIFIER "X>"
					 " <%016" INT64_MODIFIER "X%016" INT64_MODIFIER "X>] >>\n"
					 "startxref\n%d\n%%%%EOF\n",
					 nobjects + 1, OBJ_CATALOG, OBJ_INFO, id1, id2, id1, id2, xref);
#undef BEGIN_OBJ

	SET_VARSIZE(out.data, out.len);
	return (bytea *) out.data;
}

/* ----------
 * The API
 * ----------
 */

/*
 * invoice_render_pdf
 *		invoice.render_pdf(invoice_id bigint): the invoice as a PDF; see
 *		README.md, "Exports: render_html and render_pdf".
 */
Datum
invoice_render_pdf(PG_FUNCTION_ARGS)
{
	InvoiceDoc	doc;
	Pdf			p;
	const char *stamp;
	bytea	   *result;
	int			i;

	doc_require_utf8("render_pdf");
	invoice_doc_from_arg(fcinfo, &doc);

	memset(&p, 0, sizeof(p));
	p.doc = &doc;
	p.maxpages = 4;
	p.pages = palloc(sizeof(StringInfoData) * p.maxpages);
	initStringInfo(&p.text);
	doc_append_title(&p.text, &doc);
	p.title = composed(&p);
	p.seller = pdf_winansi(doc.org_name);
	stamp = doc_stamp(&doc);
	p.stamp = stamp ? pdf_winansi(stamp) : NULL;

	new_page(&p);
	draw_header(&p);
	draw_customer(&p);
	draw_items(&p);
	draw_summary(&p);
	draw_payments(&p);
	draw_notes(&p);
	draw_footers(&p);
	result = assemble(&p);

	for (i = 0; i < p.npages; i++)
		pfree(p.pages[i].data);
	PG_RETURN_BYTEA_P(result);
}
