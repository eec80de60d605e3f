/*-------------------------------------------------------------------------
 *
 * export_json.c
 *	  invoice.to_json(invoice_id bigint): one invoice of the current tenant
 *	  as a jsonb document (invoice, seller, customer, items, totals, taxes,
 *	  payments).
 *
 * The export only reads: its statements run read-only between api_begin
 * and api_end, lock nothing, and see the invoice as the caller's snapshot
 * does.  An invoice of another tenant is reported exactly like one that
 * does not exist (P0002).  The document is built with pushJsonbValue,
 * never through text; the numbers follow totals.h (amounts with exactly 2
 * decimals, quantities with 3, rates without trailing zeros) and
 * timestamps are ISO 8601 strings in the tenant's time zone with its
 * offset, so that the same invoice always exports alike.
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

#include "invoice.h"
#include "items.h"
#include "money.h"
#include "totals.h"

PG_FUNCTION_INFO_V1(invoice_to_json);

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
 * Pushing members
 * ----------
 */

/*
 * push_null
 *		Pushes `key`: null.
 */
static void
push_null(JsonbParseState **state, const char *key)
{
	JsonbValue	v;

	json_push_key(state, key);
	v.type = jbvNull;
	(void) pushJsonbValue(state, WJB_VALUE, &v);
}

/*
 * push_string
 *		Pushes `key`: the string s, or null when s is NULL.
 */
static void
push_string(JsonbParseState **state, const char *key, const char *s)
{
	JsonbValue	v;

	if (s == NULL)
	{
		push_null(state, key);
		return;
	}
	json_push_key(state, key);
	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = strlen(s);
	(void) pushJsonbValue(state, WJB_VALUE, &v);
}

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

/* ----------
 * Reading columns of SPI_tuptable
 * ----------
 */

static char *
col_text(int row, int col)
{
	bool		isnull;
	Datum		d = api_getdatum(row, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
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

static int64
col_amount(int row, int col)
{
	int64		v = 0;

	if (!col_scaled(row, col, MONEY_SCALE, &v))
		elog(ERROR, "unexpected null in column %d", col);
	return v;
}

/*
 * push_col_scaled
 *		Pushes a numeric column with exactly `scale` decimals, or null.
 */
static void
push_col_scaled(JsonbParseState **state, const char *key, int row, int col,
				int scale)
{
	int64		v;

	if (col_scaled(row, col, scale, &v))
		json_push_numeric(state, key, money_to_numeric(v, scale));
	else
		push_null(state, key);
}

/*
 * push_col_int
 *		Pushes an integer column (int2, int4 or int8), or null.
 */
static void
push_col_int(JsonbParseState **state, const char *key, int row, int col)
{
	bool		isnull;
	Datum		d = api_getdatum(row, col, &isnull);
	int64		v;

	if (isnull)
	{
		push_null(state, key);
		return;
	}
	switch (SPI_gettypeid(SPI_tuptable->tupdesc, col))
	{
		case INT2OID:
			v = DatumGetInt16(d);
			break;
		case INT4OID:
			v = DatumGetInt32(d);
			break;
		case INT8OID:
			v = DatumGetInt64(d);
			break;
		default:
			elog(ERROR, "column %d is not an integer", col);
			v = 0;				/* keep compiler quiet */
	}
	json_push_numeric(state, key, int64_to_numeric(v));
}

static void
push_col_text(JsonbParseState **state, const char *key, int row, int col)
{
	push_string(state, key, col_text(row, col));
}

/*
 * push_col_timestamp
 *		A timestamptz column as "2026-01-31T14:05:09-05:00": the local time
 *		of `tz` to the second, with the offset in force at that instant;
 *		null when NULL.
 */
static void
push_col_timestamp(JsonbParseState **state, const char *key, int row, int col,
				   pg_tz *tz)
{
	bool		isnull;
	TimestampTz ts = DatumGetTimestampTz(api_getdatum(row, col, &isnull));
	struct pg_tm tm;
	fsec_t		fsec;
	int			offset;
	int			east;
	char		buf[64];

	if (isnull)
	{
		push_null(state, key);
		return;
	}
	if (TIMESTAMP_NOT_FINITE(ts))
	{
		push_string(state, key, TIMESTAMP_IS_NOBEGIN(ts) ? "-infinity" : "infinity");
		return;
	}
	if (timestamp2tm(ts, &offset, &tm, &fsec, NULL, tz) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	east = -offset;				/* timestamp2tm gives seconds west of UTC */
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d",
			 tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 east < 0 ? '-' : '+', abs(east) / SECS_PER_HOUR,
			 (abs(east) % SECS_PER_HOUR) / SECS_PER_MINUTE);
	/* pushJsonbValue keeps the pointer: the string must outlive buf */
	push_string(state, key, pstrdup(buf));
}

/* ----------
 * The sections
 * ----------
 */

/*
 * push_invoice
 *		The "invoice" object, from row 0 of the header statement.
 */
static void
push_invoice(JsonbParseState **state, pg_tz *tz)
{
	bool		isnull;

	json_push_key(state, "invoice");
	(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	push_col_int(state, "invoice_id", 0, Anum_hdr_invoice_id);
	push_col_int(state, "number", 0, Anum_hdr_number);
	push_col_text(state, "number_text", 0, Anum_hdr_number_text);
	push_col_text(state, "status", 0, Anum_hdr_status);
	push_col_text(state, "currency", 0, Anum_hdr_currency);
	push_col_text(state, "notes", 0, Anum_hdr_notes);
	push_col_timestamp(state, "created_at", 0, Anum_hdr_created_at, tz);
	push_col_timestamp(state, "issued_at", 0, Anum_hdr_issued_at, tz);
	push_col_timestamp(state, "paid_at", 0, Anum_hdr_paid_at, tz);
	push_col_timestamp(state, "voided_at", 0, Anum_hdr_voided_at, tz);
	push_col_text(state, "void_reason", 0, Anum_hdr_void_reason);
	push_bool(state, "is_deleted",
			  DatumGetBool(api_getdatum(0, Anum_hdr_is_deleted, &isnull)));
	push_col_int(state, "created_by", 0, Anum_hdr_created_by);
	(void) pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/*
 * push_seller
 *		The "seller" object: the tenant's identity and numbering
 *		resolution, from row 0 of the header statement.
 */
static void
push_seller(JsonbParseState **state)
{
	json_push_key(state, "seller");
	(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	push_col_int(state, "org_id", 0, Anum_hdr_org_id);
	push_col_text(state, "name", 0, Anum_hdr_org_name);
	push_col_text(state, "tax_id", 0, Anum_hdr_tax_id);
	push_col_text(state, "resolution", 0, Anum_hdr_resolution);
	push_col_int(state, "number_from", 0, Anum_hdr_number_from);
	push_col_int(state, "number_to", 0, Anum_hdr_number_to);
	push_col_text(state, "prefix", 0, Anum_hdr_prefix);
	push_col_text(state, "valid_from", 0, Anum_hdr_valid_from);
	push_col_text(state, "valid_to", 0, Anum_hdr_valid_to);
	push_col_text(state, "timezone", 0, Anum_hdr_timezone);
	(void) pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/*
 * push_customer
 *		The "customer" object, from row 0 of the header statement.
 */
static void
push_customer(JsonbParseState **state)
{
	json_push_key(state, "customer");
	(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	push_col_int(state, "customer_id", 0, Anum_hdr_customer_id);
	push_col_text(state, "id_type", 0, Anum_hdr_id_type);
	push_col_text(state, "id_number", 0, Anum_hdr_id_number);
	push_col_text(state, "name", 0, Anum_hdr_customer_name);
	push_col_text(state, "email", 0, Anum_hdr_email);
	push_col_text(state, "phone", 0, Anum_hdr_phone);
	push_col_text(state, "address", 0, Anum_hdr_address);
	(void) pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/*
 * push_totals
 *		The "totals" object: the stored totals of the header, with
 *		balance = total - amount_paid.
 */
static void
push_totals(JsonbParseState **state)
{
	int64		total = col_amount(0, Anum_hdr_total);
	int64		paid = col_amount(0, Anum_hdr_amount_paid);

	json_push_key(state, "totals");
	(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	json_push_amount(state, "subtotal", col_amount(0, Anum_hdr_subtotal));
	json_push_amount(state, "discount_total", col_amount(0, Anum_hdr_discount_total));
	json_push_amount(state, "tax_total", col_amount(0, Anum_hdr_tax_total));
	json_push_amount(state, "total", total);
	json_push_amount(state, "amount_paid", paid);
	json_push_amount(state, "balance", total - paid);
	(void) pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/*
 * push_items
 *		The "items" array, from the rows of the items statement (line_no
 *		ascending), and the "taxes" array summed from the same lines by
 *		totals_push_taxes().
 */
static void
push_items(JsonbParseState **state)
{
	int			nitems = (int) SPI_processed;
	InvoiceItem *items = NULL;
	int			i;

	if (nitems > 0)
		items = (InvoiceItem *) palloc0(sizeof(InvoiceItem) * nitems);

	json_push_key(state, "items");
	(void) pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	for (i = 0; i < nitems; i++)
	{
		InvoiceItem *it = &items[i];

		if (!col_scaled(i, Anum_item_tax_rate, RATE_SCALE, &it->tax_rate) ||
			!col_scaled(i, Anum_item_discount_pct, RATE_SCALE, &it->discount_pct) ||
			!col_scaled(i, Anum_item_net, MONEY_SCALE, &it->net) ||
			!col_scaled(i, Anum_item_tax, MONEY_SCALE, &it->tax))
			elog(ERROR, "unexpected null in invoice line %d", i + 1);

		(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
		push_col_int(state, "line_no", i, Anum_item_line_no);
		push_col_text(state, "description", i, Anum_item_description);
		push_col_scaled(state, "quantity", i, Anum_item_quantity, QTY_SCALE);
		push_col_scaled(state, "unit_price", i, Anum_item_unit_price, MONEY_SCALE);
		json_push_rate(state, "tax_rate", it->tax_rate);
		json_push_rate(state, "discount_pct", it->discount_pct);
		push_col_scaled(state, "base", i, Anum_item_base, MONEY_SCALE);
		push_col_scaled(state, "discount", i, Anum_item_discount, MONEY_SCALE);
		json_push_amount(state, "net", it->net);
		json_push_amount(state, "tax", it->tax);
		push_col_scaled(state, "line_total", i, Anum_item_line_total, MONEY_SCALE);
		push_col_text(state, "material", i, Anum_item_material);
		push_col_int(state, "karat", i, Anum_item_karat);
		push_col_scaled(state, "weight_grams", i, Anum_item_weight_grams, QTY_SCALE);
		push_col_text(state, "sku", i, Anum_item_sku);
		(void) pushJsonbValue(state, WJB_END_OBJECT, NULL);
	}
	(void) pushJsonbValue(state, WJB_END_ARRAY, NULL);

	json_push_key(state, "taxes");
	totals_push_taxes(state, items, nitems);
}

/*
 * push_payments
 *		The "payments" array, from the rows of the payments statement
 *		(payment_id ascending).
 */
static void
push_payments(JsonbParseState **state, pg_tz *tz)
{
	int			npayments = (int) SPI_processed;
	int			i;

	json_push_key(state, "payments");
	(void) pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	for (i = 0; i < npayments; i++)
	{
		(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
		push_col_int(state, "payment_id", i, Anum_pay_payment_id);
		push_col_scaled(state, "amount", i, Anum_pay_amount, MONEY_SCALE);
		push_col_text(state, "method", i, Anum_pay_method);
		push_col_timestamp(state, "paid_at", i, Anum_pay_paid_at, tz);
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
 *		README.md, "Exports: invoice.to_json", for the keys.  The document
 *		is built in SPI's memory and serialized into the caller's context
 *		before SPI is left.
 */
Datum
invoice_to_json(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr header_plan = NULL;
	static SPIPlanPtr items_plan = NULL;
	static SPIPlanPtr payments_plan = NULL;
	int64		org_id = tenant_require();
	int64		invoice_id;
	Datum		keys[2];
	MemoryContext fn_cxt;
	MemoryContext spi_cxt;
	JsonbParseState *state = NULL;
	JsonbValue *root;
	Jsonb	   *result;
	char	   *tzname;
	pg_tz	   *tz;
	ApiCall		call;

	arg_required(fcinfo, 0, "invoice_id");
	invoice_id = PG_GETARG_INT64(0);
	keys[0] = Int64GetDatum(org_id);
	keys[1] = Int64GetDatum(invoice_id);

	fn_cxt = CurrentMemoryContext;
	api_begin(&call);
	if (header_plan == NULL)
	{
		header_plan = api_prepare("SELECT i.invoice_id, i.number, i.number_text, i.status,"
								  " i.currency, i.notes, i.created_at, i.issued_at, i.paid_at,"
								  " i.voided_at, i.void_reason, i.is_deleted, i.created_by,"
								  " i.subtotal, i.discount_total, i.tax_total, i.total,"
								  " i.amount_paid,"
								  " o.org_id, o.name, o.tax_id, o.resolution, o.number_from,"
								  " o.number_to, o.prefix,"
								  " pg_catalog.to_char(o.valid_from, 'YYYY-MM-DD'),"
								  " pg_catalog.to_char(o.valid_to, 'YYYY-MM-DD'), o.timezone,"
								  " c.customer_id, c.id_type, c.id_number, c.name, c.email,"
								  " c.phone, c.address"
								  " FROM invoice.invoices i"
								  " JOIN invoice.organizations o"
								  " ON o.org_id OPERATOR(pg_catalog.=) i.org_id"
								  " JOIN invoice.customers c"
								  " ON c.org_id OPERATOR(pg_catalog.=) i.org_id"
								  " AND c.customer_id OPERATOR(pg_catalog.=) i.customer_id"
								  " WHERE i.org_id OPERATOR(pg_catalog.=) $1"
								  " AND i.invoice_id OPERATOR(pg_catalog.=) $2",
								  2, (Oid[]) {INT8OID, INT8OID});
		items_plan = api_prepare("SELECT line_no, description, quantity, unit_price, tax_rate,"
								 " discount_pct, base, discount, net, tax, line_total,"
								 " material, karat, weight_grams, sku"
								 " FROM invoice.invoice_items"
								 " WHERE org_id OPERATOR(pg_catalog.=) $1"
								 " AND invoice_id OPERATOR(pg_catalog.=) $2"
								 " ORDER BY line_no",
								 2, (Oid[]) {INT8OID, INT8OID});
		payments_plan = api_prepare("SELECT payment_id, amount, method, paid_at"
									" FROM invoice.payments"
									" WHERE org_id OPERATOR(pg_catalog.=) $1"
									" AND invoice_id OPERATOR(pg_catalog.=) $2"
									" ORDER BY payment_id",
									2, (Oid[]) {INT8OID, INT8OID});
	}

	api_execute(header_plan, keys, NULL, true, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("invoice " INT64_FORMAT " not found", invoice_id)));
	tzname = col_text(0, Anum_hdr_timezone);
	tz = pg_tzset(tzname);
	if (tz == NULL)
		elog(ERROR, "tenant " INT64_FORMAT " has an unknown time zone \"%s\"",
			 org_id, tzname);

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	push_invoice(&state, tz);
	push_seller(&state);
	push_customer(&state);
	push_totals(&state);

	api_execute(items_plan, keys, NULL, true, SPI_OK_SELECT);
	push_items(&state);

	api_execute(payments_plan, keys, NULL, true, SPI_OK_SELECT);
	push_payments(&state, tz);
	root = pushJsonbValue(&state, WJB_END_OBJECT, NULL);

	/* the result must outlive SPI's memory */
	spi_cxt = MemoryContextSwitchTo(fn_cxt);
	result = JsonbValueToJsonb(root);
	MemoryContextSwitchTo(spi_cxt);
	api_end(&call);

	PG_RETURN_JSONB_P(result);
}
