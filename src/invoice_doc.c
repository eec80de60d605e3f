/*-------------------------------------------------------------------------
 *
 * invoice_doc.c
 *	  Reads one invoice of the current tenant for the exports, and the
 *	  wording and number formats that the printed exports share.
 *
 * invoice_doc_from_arg() runs three kept plans (the header joined with
 * the seller, the customer and the user who created it; the lines; the
 * payments) read-only between api_begin and api_end, locks nothing, and
 * copies what it read out of SPI's memory into an InvoiceDoc in the
 * caller's context, so that every export reads an invoice the same way
 * and only once.  An invoice of another tenant is reported exactly like
 * one that does not exist (P0002).
 *
 * An issued, paid or void invoice prints the seller and the customer it
 * kept when it was issued (seller_snapshot, customer_snapshot), never the
 * rows as they are now: an invoice is a legal document.  A draft is read
 * through the same expressions (invoice_doc.h) over the current rows.  The
 * statement reads the rows as jsonb, so that it also serves a database
 * whose extension is still at 0.1 (no kept objects, no new columns) until
 * ALTER EXTENSION invoice UPDATE.
 *
 * The formats are those of Colombia: "$ 1.250.000,00" for amounts (from
 * int64 cents, never through floating point), "0,25" for quantities,
 * "31/01/2026 14:05" for timestamps in the tenant's time zone.  Labels
 * are Spanish.  Nothing here escapes text: that belongs to each renderer.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "exec.h"
#include "invoice_doc.h"
#include "items.h"
#include "lifecycle.h"
#include "money.h"
#include "payment_methods.h"
#include "tenant.h"

/* the columns of the header statement */
#define Anum_hdr_invoice_id			1
#define Anum_hdr_number				2
#define Anum_hdr_number_text		3
#define Anum_hdr_status				4
#define Anum_hdr_currency			5
#define Anum_hdr_notes				6
#define Anum_hdr_created_at			7
#define Anum_hdr_issued_at			8
#define Anum_hdr_paid_at			9
#define Anum_hdr_voided_at			10
#define Anum_hdr_void_reason		11
#define Anum_hdr_is_deleted			12
#define Anum_hdr_created_by			13
#define Anum_hdr_subtotal			14
#define Anum_hdr_discount_total		15
#define Anum_hdr_tax_total			16
#define Anum_hdr_total				17
#define Anum_hdr_amount_paid		18
#define Anum_hdr_org_id				19
#define Anum_hdr_org_name			20
#define Anum_hdr_tax_id				21
#define Anum_hdr_resolution			22
#define Anum_hdr_number_from		23
#define Anum_hdr_number_to			24
#define Anum_hdr_prefix				25
#define Anum_hdr_valid_from			26
#define Anum_hdr_valid_to			27
#define Anum_hdr_timezone			28
#define Anum_hdr_customer_id		29
#define Anum_hdr_id_type			30
#define Anum_hdr_id_number			31
#define Anum_hdr_customer_name		32
#define Anum_hdr_email				33
#define Anum_hdr_phone				34
#define Anum_hdr_address			35
#define Anum_hdr_user_name			36
#define Anum_hdr_org_address		37
#define Anum_hdr_org_city			38
#define Anum_hdr_org_department		39
#define Anum_hdr_org_phone			40
#define Anum_hdr_org_email			41
#define Anum_hdr_tax_regime			42
#define Anum_hdr_due_date			43

/* the columns of the items statement */
#define Anum_item_line_no			1
#define Anum_item_description		2
#define Anum_item_quantity			3
#define Anum_item_unit_price		4
#define Anum_item_tax_rate			5
#define Anum_item_discount_pct		6
#define Anum_item_base				7
#define Anum_item_discount			8
#define Anum_item_net				9
#define Anum_item_tax				10
#define Anum_item_line_total		11
#define Anum_item_material			12
#define Anum_item_karat				13
#define Anum_item_weight_grams		14
#define Anum_item_sku				15

/* the columns of the payments statement */
#define Anum_pay_payment_id			1
#define Anum_pay_amount				2
#define Anum_pay_method				3
#define Anum_pay_paid_at			4

/* ----------
 * Reading columns of SPI_tuptable (into CurrentMemoryContext)
 * ----------
 */

/*
 * col_int
 *		An integer column (int2, int4 or int8); false when it is NULL.
 */
static bool
col_int(int row, int col, int64 *value)
{
	bool		isnull;
	Datum		d = api_getdatum(row, col, &isnull);

	if (isnull)
		return false;
	switch (SPI_gettypeid(SPI_tuptable->tupdesc, col))
	{
		case INT2OID:
			*value = DatumGetInt16(d);
			break;
		case INT4OID:
			*value = DatumGetInt32(d);
			break;
		case INT8OID:
			*value = DatumGetInt64(d);
			break;
		default:
			elog(ERROR, "column %d is not an integer", col);
	}
	return true;
}

/*
 * col_scaled
 *		A stored numeric at `scale`; false when it is NULL.
 */
static bool
col_scaled(int row, int col, int scale, int64 *value)
{
	bool		isnull;
	Datum		d = api_getdatum(row, col, &isnull);

	if (isnull)
		return false;
	if (money_from_numeric(DatumGetNumeric(d), scale, MONEY_MAX, value) != MONEY_OK)
		elog(ERROR, "invalid stored value in column %d", col);
	return true;
}

/* col_required: a numeric column that is NOT NULL */
static int64
col_required(int row, int col, int scale)
{
	int64		v = 0;

	if (!col_scaled(row, col, scale, &v))
		elog(ERROR, "unexpected null in column %d", col);
	return v;
}

/* col_time: a timestamptz column that may be NULL */
static void
col_time(int row, int col, DocTime *t)
{
	t->ts = DatumGetTimestampTz(api_getdatum(row, col, &t->isnull));
}

/* ----------
 * Loading
 * ----------
 */

/*
 * read_header
 *		The invoice, its seller and its customer, from row 0 of the header
 *		statement.
 */
static void
read_header(InvoiceDoc *doc)
{
	bool		isnull;

	(void) col_int(0, Anum_hdr_invoice_id, &doc->invoice_id);
	doc->has_number = col_int(0, Anum_hdr_number, &doc->number);
	doc->number_text = api_gettext(0, Anum_hdr_number_text);
	doc->status_text = api_gettext(0, Anum_hdr_status);
	doc->status = invoice_status_from_text(doc->status_text);
	doc->currency = api_gettext(0, Anum_hdr_currency);
	doc->notes = api_gettext(0, Anum_hdr_notes);
	col_time(0, Anum_hdr_created_at, &doc->created_at);
	col_time(0, Anum_hdr_issued_at, &doc->issued_at);
	col_time(0, Anum_hdr_paid_at, &doc->paid_at);
	col_time(0, Anum_hdr_voided_at, &doc->voided_at);
	doc->void_reason = api_gettext(0, Anum_hdr_void_reason);
	doc->is_deleted = DatumGetBool(api_getdatum(0, Anum_hdr_is_deleted, &isnull));
	doc->has_created_by = col_int(0, Anum_hdr_created_by, &doc->created_by);
	doc->created_by_name = api_gettext(0, Anum_hdr_user_name);
	doc->totals.subtotal = col_required(0, Anum_hdr_subtotal, MONEY_SCALE);
	doc->totals.discount_total = col_required(0, Anum_hdr_discount_total, MONEY_SCALE);
	doc->totals.tax_total = col_required(0, Anum_hdr_tax_total, MONEY_SCALE);
	doc->totals.total = col_required(0, Anum_hdr_total, MONEY_SCALE);
	doc->amount_paid = col_required(0, Anum_hdr_amount_paid, MONEY_SCALE);

	(void) col_int(0, Anum_hdr_org_id, &doc->org_id);
	doc->org_name = api_gettext(0, Anum_hdr_org_name);
	doc->tax_id = api_gettext(0, Anum_hdr_tax_id);
	doc->resolution = api_gettext(0, Anum_hdr_resolution);
	(void) col_int(0, Anum_hdr_number_from, &doc->number_from);
	doc->has_number_to = col_int(0, Anum_hdr_number_to, &doc->number_to);
	doc->prefix = api_gettext(0, Anum_hdr_prefix);
	doc->valid_from = api_gettext(0, Anum_hdr_valid_from);
	doc->valid_to = api_gettext(0, Anum_hdr_valid_to);
	doc->timezone = api_gettext(0, Anum_hdr_timezone);
	doc->tz = pg_tzset(doc->timezone);
	if (doc->tz == NULL)
		elog(ERROR, "tenant " INT64_FORMAT " has an unknown time zone \"%s\"",
			 doc->org_id, doc->timezone);

	doc->org_address = api_gettext(0, Anum_hdr_org_address);
	doc->org_city = api_gettext(0, Anum_hdr_org_city);
	doc->org_department = api_gettext(0, Anum_hdr_org_department);
	doc->org_phone = api_gettext(0, Anum_hdr_org_phone);
	doc->org_email = api_gettext(0, Anum_hdr_org_email);
	doc->tax_regime = api_gettext(0, Anum_hdr_tax_regime);
	doc->due_date = api_gettext(0, Anum_hdr_due_date);

	(void) col_int(0, Anum_hdr_customer_id, &doc->customer_id);
	doc->id_type = api_gettext(0, Anum_hdr_id_type);
	doc->id_number = api_gettext(0, Anum_hdr_id_number);
	doc->customer_name = api_gettext(0, Anum_hdr_customer_name);
	doc->email = api_gettext(0, Anum_hdr_email);
	doc->phone = api_gettext(0, Anum_hdr_phone);
	doc->address = api_gettext(0, Anum_hdr_address);
}

/*
 * read_items
 *		The lines, from the rows of the items statement (line_no
 *		ascending), and the breakdown by rate summed from them.
 */
static void
read_items(InvoiceDoc *doc)
{
	int			i;
	int64		v;

	doc->nitems = (int) SPI_processed;
	doc->items = doc->nitems > 0 ?
		(InvoiceItem *) palloc0(sizeof(InvoiceItem) * doc->nitems) : NULL;
	for (i = 0; i < doc->nitems; i++)
	{
		InvoiceItem *it = &doc->items[i];

		(void) col_int(i, Anum_item_line_no, &v);
		it->line_no = (int32) v;
		it->description = api_gettext(i, Anum_item_description);
		it->quantity = col_required(i, Anum_item_quantity, QTY_SCALE);
		it->unit_price = col_required(i, Anum_item_unit_price, MONEY_SCALE);
		it->has_tax_rate = true;
		it->tax_rate = col_required(i, Anum_item_tax_rate, RATE_SCALE);
		it->discount_pct = col_required(i, Anum_item_discount_pct, RATE_SCALE);
		it->base = col_required(i, Anum_item_base, MONEY_SCALE);
		it->discount = col_required(i, Anum_item_discount, MONEY_SCALE);
		it->net = col_required(i, Anum_item_net, MONEY_SCALE);
		it->tax = col_required(i, Anum_item_tax, MONEY_SCALE);
		it->line_total = col_required(i, Anum_item_line_total, MONEY_SCALE);
		it->material = api_gettext(i, Anum_item_material);
		it->has_karat = col_int(i, Anum_item_karat, &v);
		it->karat = it->has_karat ? (int32) v : 0;
		it->has_weight = col_scaled(i, Anum_item_weight_grams, QTY_SCALE,
									&it->weight_grams);
		it->sku = api_gettext(i, Anum_item_sku);
	}
	doc->taxes = totals_tax_groups(doc->items, doc->nitems, &doc->ntaxes);
}

/*
 * read_payments
 *		The payments, from the rows of the payments statement (payment_id
 *		ascending).
 */
static void
read_payments(InvoiceDoc *doc)
{
	int			i;

	doc->npayments = (int) SPI_processed;
	doc->payments = doc->npayments > 0 ?
		(DocPayment *) palloc0(sizeof(DocPayment) * doc->npayments) : NULL;
	for (i = 0; i < doc->npayments; i++)
	{
		DocPayment *p = &doc->payments[i];

		(void) col_int(i, Anum_pay_payment_id, &p->payment_id);
		p->amount = col_required(i, Anum_pay_amount, MONEY_SCALE);
		p->method = api_gettext(i, Anum_pay_method);
		col_time(i, Anum_pay_paid_at, &p->paid_at);
	}
}

/*
 * invoice_doc_from_arg
 *		See invoice_doc.h.  The statements run in SPI's memory; what they
 *		return is copied into the caller's context before SPI is left.
 */
void
invoice_doc_from_arg(FunctionCallInfo fcinfo, InvoiceDoc *doc)
{
	static SPIPlanPtr header_plan = NULL;
	static SPIPlanPtr items_plan = NULL;
	static SPIPlanPtr payments_plan = NULL;
	int64		org_id = tenant_require();
	int64		invoice_id;
	Datum		keys[2];
	MemoryContext fn_cxt = CurrentMemoryContext;
	MemoryContext spi_cxt;
	ApiCall		call;

	arg_required(fcinfo, 0, "invoice_id");
	invoice_id = PG_GETARG_INT64(0);
	keys[0] = Int64GetDatum(org_id);
	keys[1] = Int64GetDatum(invoice_id);
	memset(doc, 0, sizeof(*doc));

	api_begin(&call);
	api_prepare_once(&header_plan,
					 "SELECT i.invoice_id, i.number, i.number_text, i.status,"
					 " i.currency, i.notes, i.created_at, i.issued_at, i.paid_at,"
					 " i.voided_at, i.void_reason, i.is_deleted, i.created_by,"
					 " i.subtotal, i.discount_total, i.tax_total, i.total,"
					 " i.amount_paid,"
					 " i.org_id, d.s OPERATOR(pg_catalog.->>) 'name',"
					 " d.s OPERATOR(pg_catalog.->>) 'tax_id',"
					 " d.s OPERATOR(pg_catalog.->>) 'resolution',"
					 " CAST(d.s OPERATOR(pg_catalog.->>) 'number_from' AS pg_catalog.int8),"
					 " CAST(d.s OPERATOR(pg_catalog.->>) 'number_to' AS pg_catalog.int8),"
					 " d.s OPERATOR(pg_catalog.->>) 'prefix',"
					 " d.s OPERATOR(pg_catalog.->>) 'valid_from',"
					 " d.s OPERATOR(pg_catalog.->>) 'valid_to',"
					 " d.s OPERATOR(pg_catalog.->>) 'timezone',"
					 " i.customer_id, d.c OPERATOR(pg_catalog.->>) 'id_type',"
					 " d.c OPERATOR(pg_catalog.->>) 'id_number',"
					 " d.c OPERATOR(pg_catalog.->>) 'name',"
					 " d.c OPERATOR(pg_catalog.->>) 'email',"
					 " d.c OPERATOR(pg_catalog.->>) 'phone',"
					 " d.c OPERATOR(pg_catalog.->>) 'address', u.display_name,"
					 " d.s OPERATOR(pg_catalog.->>) 'address',"
					 " d.s OPERATOR(pg_catalog.->>) 'city',"
					 " d.s OPERATOR(pg_catalog.->>) 'department',"
					 " d.s OPERATOR(pg_catalog.->>) 'phone',"
					 " d.s OPERATOR(pg_catalog.->>) 'email',"
					 " d.s OPERATOR(pg_catalog.->>) 'tax_regime',"
					 " j.ri OPERATOR(pg_catalog.->>) 'due_date'"
					 " FROM invoice.invoices i"
					 " JOIN invoice.organizations o"
					 " ON o.org_id OPERATOR(pg_catalog.=) i.org_id"
					 " JOIN invoice.customers c"
					 " ON c.org_id OPERATOR(pg_catalog.=) i.org_id"
					 " AND c.customer_id OPERATOR(pg_catalog.=) i.customer_id"
					 " LEFT JOIN invoice.users u"
					 " ON u.org_id OPERATOR(pg_catalog.=) i.org_id"
					 " AND u.user_id OPERATOR(pg_catalog.=) i.created_by"
					 " CROSS JOIN LATERAL (SELECT pg_catalog.to_jsonb(i) AS ri,"
					 " pg_catalog.to_jsonb(o) AS ro, pg_catalog.to_jsonb(c) AS rc OFFSET 0) j"
					 " CROSS JOIN LATERAL (SELECT"
					 " CASE WHEN pg_catalog.jsonb_typeof(j.ri OPERATOR(pg_catalog.->) 'seller_snapshot')"
					 " OPERATOR(pg_catalog.=) 'object'"
					 " THEN j.ri OPERATOR(pg_catalog.->) 'seller_snapshot'"
					 " ELSE " DOC_SELLER_SNAPSHOT_SQL("j.ro") " END AS s,"
					 " CASE WHEN pg_catalog.jsonb_typeof(j.ri OPERATOR(pg_catalog.->) 'customer_snapshot')"
					 " OPERATOR(pg_catalog.=) 'object'"
					 " THEN j.ri OPERATOR(pg_catalog.->) 'customer_snapshot'"
					 " ELSE " DOC_CUSTOMER_SNAPSHOT_SQL("j.rc") " END AS c OFFSET 0) d"
					 " WHERE i.org_id OPERATOR(pg_catalog.=) $1"
					 " AND i.invoice_id OPERATOR(pg_catalog.=) $2",
					 2, (Oid[]) {INT8OID, INT8OID});
	api_prepare_once(&items_plan,
					 "SELECT line_no, description, quantity, unit_price, tax_rate,"
					 " discount_pct, base, discount, net, tax, line_total,"
					 " material, karat, weight_grams, sku"
					 " FROM invoice.invoice_items"
					 " WHERE org_id OPERATOR(pg_catalog.=) $1"
					 " AND invoice_id OPERATOR(pg_catalog.=) $2"
					 " ORDER BY line_no",
					 2, (Oid[]) {INT8OID, INT8OID});
	api_prepare_once(&payments_plan,
					 "SELECT payment_id, amount, method, paid_at"
					 " FROM invoice.payments"
					 " WHERE org_id OPERATOR(pg_catalog.=) $1"
					 " AND invoice_id OPERATOR(pg_catalog.=) $2"
					 " ORDER BY payment_id",
					 2, (Oid[]) {INT8OID, INT8OID});

	api_execute(header_plan, keys, NULL, true, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("invoice " INT64_FORMAT " not found", invoice_id)));
	spi_cxt = MemoryContextSwitchTo(fn_cxt);
	read_header(doc);
	MemoryContextSwitchTo(spi_cxt);

	api_execute(items_plan, keys, NULL, true, SPI_OK_SELECT);
	MemoryContextSwitchTo(fn_cxt);
	read_items(doc);
	MemoryContextSwitchTo(spi_cxt);

	api_execute(payments_plan, keys, NULL, true, SPI_OK_SELECT);
	MemoryContextSwitchTo(fn_cxt);
	read_payments(doc);
	MemoryContextSwitchTo(spi_cxt);

	api_end(&call);
}

/*
 * doc_schema_has
 *		See invoice_doc.h.  Two catalog cache lookups.
 */
bool
doc_schema_has(const char *table, const char *column)
{
	Oid			nsp = get_namespace_oid("invoice", true);
	Oid			rel = OidIsValid(nsp) ? get_relname_relid(table, nsp) : InvalidOid;

	return OidIsValid(rel) && get_attnum(rel, column) != InvalidAttrNumber;
}

/* ----------
 * Formats
 * ----------
 */

/*
 * doc_require_utf8
 *		The printed exports mix the database's text with their own labels,
 *		so they need both in UTF-8 (SQL_ASCII bytes are taken as UTF-8).
 */
void
doc_require_utf8(const char *function)
{
	int			encoding = GetDatabaseEncoding();

	if (encoding != PG_UTF8 && encoding != PG_SQL_ASCII)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s requires a database with encoding UTF8", function),
				 errdetail("The database encoding is %s.", GetDatabaseEncodingName())));
}

/*
 * append_grouped
 *		The decimal digits of `mag` in groups of three separated by '.'.
 */
static void
append_grouped(StringInfo buf, uint64 mag)
{
	char		digits[24];
	int			n = 0;
	int			i;

	do
	{
		digits[n++] = (char) ('0' + mag % 10);
		mag /= 10;
	} while (mag != 0);
	for (i = n - 1; i >= 0; i--)
	{
		appendStringInfoChar(buf, digits[i]);
		if (i > 0 && i % 3 == 0)
			appendStringInfoChar(buf, '.');
	}
}

/* scale_unit: 10^scale for the scales of money.h */
static uint64
scale_unit(int scale)
{
	uint64		unit = 1;

	while (scale-- > 0)
		unit *= 10;
	return unit;
}

/*
 * doc_append_money_in
 *		"$ 1.250.000,00": the sign first ("-$ 5,00", as es-CO writes it),
 *		the currency's code instead of "$" when it is not COP.
 */
void
doc_append_money_in(StringInfo buf, const char *currency, int64 cents)
{
	uint64		mag = cents < 0 ? -(uint64) cents : (uint64) cents;
	uint64		unit = scale_unit(MONEY_SCALE);

	if (cents < 0)
		appendStringInfoChar(buf, '-');
	if (currency == NULL || strcmp(currency, "COP") == 0)
		appendStringInfoString(buf, "$ ");
	else
		appendStringInfo(buf, "%s ", currency);
	append_grouped(buf, mag / unit);
	appendStringInfo(buf, ",%02d", (int) (mag % unit));
}

/* doc_append_money: an amount in the invoice's currency */
void
doc_append_money(StringInfo buf, const InvoiceDoc *doc, int64 cents)
{
	doc_append_money_in(buf, doc->currency, cents);
}

/*
 * doc_append_decimal
 *		A quantity or weight as printed: thousands grouped, decimal comma,
 *		no trailing zeros.
 */
void
doc_append_decimal(StringInfo buf, int64 value, int scale)
{
	uint64		mag = value < 0 ? -(uint64) value : (uint64) value;
	uint64		unit = scale_unit(scale);
	uint64		frac = mag % unit;

	if (value < 0)
		appendStringInfoChar(buf, '-');
	append_grouped(buf, mag / unit);
	if (frac != 0)
	{
		char		digits[24];
		int			n = scale;

		/* all `scale` digits of the fraction, then without trailing zeros */
		digits[n] = '\0';
		while (n > 0)
		{
			digits[--n] = (char) ('0' + frac % 10);
			frac /= 10;
		}
		n = scale;
		while (n > 0 && digits[n - 1] == '0')
			digits[--n] = '\0';
		appendStringInfo(buf, ",%s", digits);
	}
}

/* doc_append_rate: "19 %", "12,5 %" */
void
doc_append_rate(StringInfo buf, int64 rate)
{
	doc_append_decimal(buf, rate, RATE_SCALE);
	appendStringInfoString(buf, " %");
}

/*
 * doc_append_time
 *		"31/01/2026 14:05" in the tenant's time zone; nothing for NULL.
 */
void
doc_append_time(StringInfo buf, const InvoiceDoc *doc, const DocTime *t)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			offset;

	if (t->isnull)
		return;
	if (TIMESTAMP_NOT_FINITE(t->ts))
	{
		appendStringInfoString(buf, TIMESTAMP_IS_NOBEGIN(t->ts) ? "-infinity" : "infinity");
		return;
	}
	if (timestamp2tm(t->ts, &offset, &tm, &fsec, NULL, doc->tz) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	appendStringInfo(buf, "%02d/%02d/%04d %02d:%02d",
					 tm.tm_mday, tm.tm_mon, tm.tm_year, tm.tm_hour, tm.tm_min);
}

/* doc_append_date: "2020-01-01" as "01/01/2020" */
void
doc_append_date(StringInfo buf, const char *iso)
{
	/* to_char(date, 'YYYY-MM-DD') of a year after 999 */
	if (strlen(iso) == 10 && iso[4] == '-' && iso[7] == '-')
		appendStringInfo(buf, "%.2s/%.2s/%.4s", iso + 8, iso + 5, iso);
	else
		appendStringInfoString(buf, iso);
}

/* doc_append_title: "Factura de venta EX100", or "(borrador)" for a draft */
void
doc_append_title(StringInfo buf, const InvoiceDoc *doc)
{
	appendStringInfoString(buf, "Factura de venta ");
	if (doc->number_text != NULL)
		appendStringInfoString(buf, doc->number_text);
	else
		appendStringInfoString(buf, "(borrador)");
}

/* append_series_number: number n of the seller's series, prefix and digits */
static void
append_series_number(StringInfo buf, const InvoiceDoc *doc, int64 n)
{
	appendStringInfo(buf, "%s" INT64_FORMAT, doc->prefix ? doc->prefix : "", n);
}

/*
 * doc_append_resolution
 *		"Resolución de facturación 18764000001 · Numeración autorizada del
 *		EX100 al EX199 · Vigencia del 01/01/2020 al 31/12/2099"; each part
 *		only when the tenant has it.
 */
void
doc_append_resolution(StringInfo buf, const InvoiceDoc *doc)
{
	const char *sep = "";

	if (doc->resolution != NULL)
	{
		appendStringInfo(buf, "Resolución de facturación %s", doc->resolution);
		sep = " · ";
	}
	if (doc->has_number_to)
	{
		appendStringInfo(buf, "%sNumeración autorizada del ", sep);
		append_series_number(buf, doc, doc->number_from);
		appendStringInfoString(buf, " al ");
		append_series_number(buf, doc, doc->number_to);
		sep = " · ";
	}
	if (doc->valid_from != NULL || doc->valid_to != NULL)
	{
		appendStringInfo(buf, "%sVigencia", sep);
		if (doc->valid_from != NULL)
		{
			appendStringInfoString(buf, " del ");
			doc_append_date(buf, doc->valid_from);
		}
		if (doc->valid_to != NULL)
		{
			appendStringInfoString(buf, doc->valid_from ? " al " : " hasta el ");
			doc_append_date(buf, doc->valid_to);
		}
	}
}

/*
 * doc_append_seller_address
 *		"Cra 7 # 12-34 · Medellín, Antioquia": the parts the seller has.
 */
void
doc_append_seller_address(StringInfo buf, const InvoiceDoc *doc)
{
	const char *sep = "";

	if (doc->org_address != NULL)
	{
		appendStringInfoString(buf, doc->org_address);
		sep = " · ";
	}
	if (doc->org_city != NULL)
	{
		appendStringInfo(buf, "%s%s", sep, doc->org_city);
		sep = ", ";
	}
	if (doc->org_department != NULL)
		appendStringInfo(buf, "%s%s", sep, doc->org_department);
}

/*
 * doc_append_seller_contact
 *		"Tel. 604 444 1234 · ventas@example.com": the parts the seller has.
 */
void
doc_append_seller_contact(StringInfo buf, const InvoiceDoc *doc)
{
	if (doc->org_phone != NULL)
		appendStringInfo(buf, "Tel. %s", doc->org_phone);
	if (doc->org_email != NULL)
		appendStringInfo(buf, "%s%s", doc->org_phone ? " · " : "", doc->org_email);
}

/* doc_tax_regime_label: the seller's IVA regime as printed, NULL when unset */
const char *
doc_tax_regime_label(const InvoiceDoc *doc)
{
	if (doc->tax_regime == NULL)
		return NULL;
	if (strcmp(doc->tax_regime, "responsable_iva") == 0)
		return "Responsable de IVA";
	if (strcmp(doc->tax_regime, "no_responsable_iva") == 0)
		return "No responsable de IVA";
	return doc->tax_regime;
}

/*
 * doc_append_payment_form
 *		"Forma de pago: Contado" without a due date, "Forma de pago: Crédito
 *		· Vence el 31/01/2026" with one.
 */
void
doc_append_payment_form(StringInfo buf, const InvoiceDoc *doc)
{
	if (doc->due_date == NULL)
		appendStringInfoString(buf, "Forma de pago: Contado");
	else
	{
		appendStringInfoString(buf, "Forma de pago: Crédito · Vence el ");
		doc_append_date(buf, doc->due_date);
	}
}

/* doc_shows_timezone: a zone other than Colombia's own is worth saying */
bool
doc_shows_timezone(const InvoiceDoc *doc)
{
	return strcmp(doc->timezone, "America/Bogota") != 0;
}

/*
 * doc_append_item_details
 *		The jewelry fields of a line that are set, joined by " · ".
 */
void
doc_append_item_details(StringInfo buf, const InvoiceItem *item)
{
	const char *sep = "";

	if (item->material != NULL)
	{
		appendStringInfoString(buf, item->material);
		sep = " · ";
	}
	if (item->has_karat)
	{
		appendStringInfo(buf, "%s%d k", sep, item->karat);
		sep = " · ";
	}
	if (item->has_weight)
	{
		appendStringInfoString(buf, sep);
		doc_append_decimal(buf, item->weight_grams, QTY_SCALE);
		appendStringInfoString(buf, " g");
		sep = " · ";
	}
	if (item->sku != NULL)
		appendStringInfo(buf, "%sRef. %s", sep, item->sku);
}

/* doc_status_label: the status in Spanish, as printed */
const char *
doc_status_label(const InvoiceDoc *doc)
{
	switch (doc->status)
	{
		case STATUS_DRAFT:
			return doc->is_deleted ? "Borrador eliminado" : "Borrador";
		case STATUS_ISSUED:
			return "Emitida";
		case STATUS_PAID:
			return "Pagada";
		case STATUS_VOID:
			return "Anulada";
	}
	return doc->status_text;
}

/* doc_stamp: BORRADOR or ANULADA, printed large on a document that is no sale */
const char *
doc_stamp(const InvoiceDoc *doc)
{
	if (doc->status == STATUS_DRAFT)
		return doc->is_deleted ? "BORRADOR ELIMINADO" : "BORRADOR";
	if (doc->status == STATUS_VOID)
		return "ANULADA";
	return NULL;
}

/* doc_method_label: a payment method in Spanish (unknown ones as stored) */
const char *
doc_method_label(const char *method)
{
	return payment_method_label(method);
}
