/*-------------------------------------------------------------------------
 *
 * export_json.c
 *	  invoice.to_json(invoice_id bigint): one invoice of the current tenant
 *	  as a jsonb document (invoice, seller, customer, items, totals, taxes,
 *	  payments).
 *
 * The seller and the customer of an issued, paid or void invoice are those
 * it kept when it was issued.  Keys are only ever added, never renamed.
 *
 * The invoice is read by invoice_doc.c, like the other exports: read-only,
 * locking nothing, as the caller's snapshot sees it; an invoice of another
 * tenant is reported exactly like one that does not exist (P0002).  The
 * document is built with pushJsonbValue, never through text; the numbers
 * follow totals.h (amounts with exactly 2 decimals, quantities with 3,
 * rates without trailing zeros) and timestamps are ISO 8601 strings in the
 * tenant's time zone with its offset, so that the same invoice always
 * exports alike.
 *
 * It does not render anything for people (HTML, PDF); those exports have
 * their own files.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "invoice_doc.h"
#include "items.h"
#include "money.h"
#include "totals.h"

PG_FUNCTION_INFO_V1(invoice_to_json);

/* ----------
 * Pushing members
 * ----------
 */

/*
 * push_bool
 *		Pushes `key`: true or false.
 */
static void
push_bool(JsonbParseState **state, const char *key, bool b)
{
	JsonbValue	v;

	json_push_key(state, key);
	v.type = jbvBool;
	v.val.boolean = b;
	(void) pushJsonbValue(state, WJB_VALUE, &v);
}

/*
 * push_int
 *		Pushes `key`: an integer, or null when !has.
 */
static void
push_int(JsonbParseState **state, const char *key, bool has, int64 v)
{
	if (has)
		json_push_numeric(state, key, int64_to_numeric(v));
	else
		json_push_null(state, key);
}

/*
 * push_timestamp
 *		A timestamptz as "2026-01-31T14:05:09-05:00": the local time of
 *		`tz` to the second, with the offset in force at that instant; null
 *		when NULL.
 */
static void
push_timestamp(JsonbParseState **state, const char *key, const DocTime *t,
			   pg_tz *tz)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			offset;
	int			east;
	char		buf[64];

	if (t->isnull)
	{
		json_push_null(state, key);
		return;
	}
	if (TIMESTAMP_NOT_FINITE(t->ts))
	{
		json_push_string(state, key, TIMESTAMP_IS_NOBEGIN(t->ts) ? "-infinity" : "infinity");
		return;
	}
	if (timestamp2tm(t->ts, &offset, &tm, &fsec, NULL, tz) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	east = -offset;				/* timestamp2tm gives seconds west of UTC */
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d",
			 tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 east < 0 ? '-' : '+', abs(east) / SECS_PER_HOUR,
			 (abs(east) % SECS_PER_HOUR) / SECS_PER_MINUTE);
	/* pushJsonbValue keeps the pointer: the string must outlive buf */
	json_push_string(state, key, pstrdup(buf));
}

/* ----------
 * The sections
 * ----------
 */

/*
 * push_invoice
 *		The "invoice" object.
 */
static void
push_invoice(JsonbParseState **state, const InvoiceDoc *doc)
{
	json_push_key(state, "invoice");
	(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	push_int(state, "invoice_id", true, doc->invoice_id);
	push_int(state, "number", doc->has_number, doc->number);
	json_push_string(state, "number_text", doc->number_text);
	json_push_string(state, "status", doc->status_text);
	json_push_string(state, "currency", doc->currency);
	json_push_string(state, "notes", doc->notes);
	push_timestamp(state, "created_at", &doc->created_at, doc->tz);
	push_timestamp(state, "issued_at", &doc->issued_at, doc->tz);
	push_timestamp(state, "paid_at", &doc->paid_at, doc->tz);
	push_timestamp(state, "voided_at", &doc->voided_at, doc->tz);
	json_push_string(state, "void_reason", doc->void_reason);
	push_bool(state, "is_deleted", doc->is_deleted);
	push_int(state, "created_by", doc->has_created_by, doc->created_by);
	json_push_string(state, "due_date", doc->due_date);
	(void) pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/*
 * push_seller
 *		The "seller" object: the tenant's identity and numbering
 *		resolution, as kept at issue (as they are now for a draft).
 */
static void
push_seller(JsonbParseState **state, const InvoiceDoc *doc)
{
	json_push_key(state, "seller");
	(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	push_int(state, "org_id", true, doc->org_id);
	json_push_string(state, "name", doc->org_name);
	json_push_string(state, "tax_id", doc->tax_id);
	json_push_string(state, "resolution", doc->resolution);
	push_int(state, "number_from", true, doc->number_from);
	push_int(state, "number_to", doc->has_number_to, doc->number_to);
	json_push_string(state, "prefix", doc->prefix);
	json_push_string(state, "valid_from", doc->valid_from);
	json_push_string(state, "valid_to", doc->valid_to);
	json_push_string(state, "timezone", doc->timezone);
	json_push_string(state, "address", doc->org_address);
	json_push_string(state, "city", doc->org_city);
	json_push_string(state, "department", doc->org_department);
	json_push_string(state, "phone", doc->org_phone);
	json_push_string(state, "email", doc->org_email);
	json_push_string(state, "tax_regime", doc->tax_regime);
	(void) pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/*
 * push_customer
 *		The "customer" object.
 */
static void
push_customer(JsonbParseState **state, const InvoiceDoc *doc)
{
	json_push_key(state, "customer");
	(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	push_int(state, "customer_id", true, doc->customer_id);
	json_push_string(state, "id_type", doc->id_type);
	json_push_string(state, "id_number", doc->id_number);
	json_push_string(state, "name", doc->customer_name);
	json_push_string(state, "email", doc->email);
	json_push_string(state, "phone", doc->phone);
	json_push_string(state, "address", doc->address);
	(void) pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/*
 * push_totals
 *		The "totals" object: the stored totals of the header, with
 *		balance = total - amount_paid.
 */
static void
push_totals(JsonbParseState **state, const InvoiceDoc *doc)
{
	json_push_key(state, "totals");
	(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	json_push_amount(state, "subtotal", doc->totals.subtotal);
	json_push_amount(state, "discount_total", doc->totals.discount_total);
	json_push_amount(state, "tax_total", doc->totals.tax_total);
	json_push_amount(state, "total", doc->totals.total);
	json_push_amount(state, "amount_paid", doc->amount_paid);
	json_push_amount(state, "balance", doc->totals.total - doc->amount_paid);
	(void) pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/*
 * push_items
 *		The "items" array (line_no ascending) and the "taxes" array summed
 *		from the same lines by totals_push_taxes().
 */
static void
push_items(JsonbParseState **state, const InvoiceDoc *doc)
{
	int			i;

	json_push_key(state, "items");
	(void) pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	for (i = 0; i < doc->nitems; i++)
	{
		const InvoiceItem *it = &doc->items[i];

		(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
		push_int(state, "line_no", true, it->line_no);
		json_push_string(state, "description", it->description);
		json_push_numeric(state, "quantity", money_to_numeric(it->quantity, QTY_SCALE));
		json_push_amount(state, "unit_price", it->unit_price);
		json_push_rate(state, "tax_rate", it->tax_rate);
		json_push_rate(state, "discount_pct", it->discount_pct);
		json_push_amount(state, "base", it->base);
		json_push_amount(state, "discount", it->discount);
		json_push_amount(state, "net", it->net);
		json_push_amount(state, "tax", it->tax);
		json_push_amount(state, "line_total", it->line_total);
		json_push_string(state, "material", it->material);
		push_int(state, "karat", it->has_karat, it->karat);
		if (it->has_weight)
			json_push_numeric(state, "weight_grams",
							  money_to_numeric(it->weight_grams, QTY_SCALE));
		else
			json_push_null(state, "weight_grams");
		json_push_string(state, "sku", it->sku);
		(void) pushJsonbValue(state, WJB_END_OBJECT, NULL);
	}
	(void) pushJsonbValue(state, WJB_END_ARRAY, NULL);

	json_push_key(state, "taxes");
	totals_push_taxes(state, doc->items, doc->nitems);
}

/*
 * push_payments
 *		The "payments" array (payment_id ascending).
 */
static void
push_payments(JsonbParseState **state, const InvoiceDoc *doc)
{
	int			i;

	json_push_key(state, "payments");
	(void) pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	for (i = 0; i < doc->npayments; i++)
	{
		const DocPayment *p = &doc->payments[i];

		(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
		push_int(state, "payment_id", true, p->payment_id);
		json_push_amount(state, "amount", p->amount);
		json_push_string(state, "method", p->method);
		push_timestamp(state, "paid_at", &p->paid_at, doc->tz);
		(void) pushJsonbValue(state, WJB_END_OBJECT, NULL);
	}
	(void) pushJsonbValue(state, WJB_END_ARRAY, NULL);
}

/* ----------
 * The API
 * ----------
 */

/*
 * invoice_to_json
 *		invoice.to_json(invoice_id bigint): the whole invoice as jsonb; see
 *		README.md, "Exports: invoice.to_json", for the keys.
 */
Datum
invoice_to_json(PG_FUNCTION_ARGS)
{
	InvoiceDoc	doc;
	JsonbParseState *state = NULL;
	JsonbValue *root;

	invoice_doc_from_arg(fcinfo, &doc);

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	push_invoice(&state, &doc);
	push_seller(&state, &doc);
	push_customer(&state, &doc);
	push_totals(&state, &doc);
	push_items(&state, &doc);
	push_payments(&state, &doc);
	root = pushJsonbValue(&state, WJB_END_OBJECT, NULL);

	PG_RETURN_JSONB_P(JsonbValueToJsonb(root));
}
