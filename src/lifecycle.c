/*-------------------------------------------------------------------------
 *
 * lifecycle.c
 *	  Drafts and their items, payments, void and soft delete.
 *
 * Every function locks the invoice header (SELECT ... FOR UPDATE) before it
 * looks at the status, so two sessions editing the same draft, or paying
 * the same invoice, take turns.  Totals are kept on the header and moved
 * by the exact difference a line makes, in fixed point (items.c), never
 * re-added in SQL.  All input is validated before anything is written;
 * an error anywhere undoes the whole call.
 *
 * Issuing, which needs the tenant's counter, is in numbering.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "due_dates.h"
#include "exec.h"
#include "geo.h"
#include "invoice_doc.h"
#include "items.h"
#include "lifecycle.h"
#include "money.h"
#include "payment_methods.h"
#include "tenant.h"

PG_FUNCTION_INFO_V1(invoice_create_invoice);
PG_FUNCTION_INFO_V1(invoice_add_item);
PG_FUNCTION_INFO_V1(invoice_update_item);
PG_FUNCTION_INFO_V1(invoice_remove_item);
PG_FUNCTION_INFO_V1(invoice_set_customer);
PG_FUNCTION_INFO_V1(invoice_delete_draft);
PG_FUNCTION_INFO_V1(invoice_void);
PG_FUNCTION_INFO_V1(invoice_record_payment);

#define NOTES_MAX		4000
#define REASON_MAX		1000

/* ----------
 * The header
 * ----------
 */

static int64
stored_amount(int col)
{
	bool		isnull;
	int64		v;

	if (money_from_numeric(DatumGetNumeric(api_getdatum(0, col, &isnull)),
						   MONEY_SCALE, MONEY_MAX, &v) != MONEY_OK)
		elog(ERROR, "invalid stored amount in column %d", col);
	return v;
}

/*
 * invoice_status_from_text
 *		The stored status text as an InvoiceStatus.
 */
InvoiceStatus
invoice_status_from_text(const char *s)
{
	if (strcmp(s, "draft") == 0)
		return STATUS_DRAFT;
	if (strcmp(s, "issued") == 0)
		return STATUS_ISSUED;
	if (strcmp(s, "paid") == 0)
		return STATUS_PAID;
	if (strcmp(s, "void") == 0)
		return STATUS_VOID;
	elog(ERROR, "unknown invoice status \"%s\"", s);
	return STATUS_VOID;			/* keep compiler quiet */
}

static const char *
status_words(const InvoiceHeader *h)
{
	if (h->is_deleted)
		return "a deleted draft";
	switch (h->status)
	{
		case STATUS_DRAFT:
			return "a draft";
		case STATUS_ISSUED:
			return "issued";
		case STATUS_PAID:
			return "paid";
		case STATUS_VOID:
			return "void";
	}
	return "?";
}

void
invoice_lock(int64 org_id, int64 invoice_id, InvoiceHeader *h)
{
	static SPIPlanPtr plan = NULL;
	bool		isnull;

	api_prepare_once(&plan, "SELECT status, is_deleted, item_count, next_line_no,"
					 " subtotal, discount_total, tax_total, total, amount_paid"
					 " FROM invoice.invoices"
					 " WHERE org_id OPERATOR(pg_catalog.=) $1"
					 " AND invoice_id OPERATOR(pg_catalog.=) $2"
					 " FOR UPDATE",
					 2, (Oid[]) {INT8OID, INT8OID});
	api_execute(plan, (Datum[]) {Int64GetDatum(org_id), Int64GetDatum(invoice_id)},
				NULL, false, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("invoice " INT64_FORMAT " not found", invoice_id)));

	h->org_id = org_id;
	h->invoice_id = invoice_id;
	h->status = invoice_status_from_text(TextDatumGetCString(api_getdatum(0, 1, &isnull)));
	h->is_deleted = DatumGetBool(api_getdatum(0, 2, &isnull));
	h->item_count = DatumGetInt32(api_getdatum(0, 3, &isnull));
	h->next_line_no = DatumGetInt32(api_getdatum(0, 4, &isnull));
	h->totals.subtotal = stored_amount(5);
	h->totals.discount_total = stored_amount(6);
	h->totals.tax_total = stored_amount(7);
	h->totals.total = stored_amount(8);
	h->amount_paid = stored_amount(9);
}

void
invoice_require_status(const InvoiceHeader *h, int allowed, const char *action)
{
	if ((h->status & allowed) && !h->is_deleted)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cannot %s invoice " INT64_FORMAT ": it is %s",
					action, h->invoice_id, status_words(h)),
			 (h->status & (STATUS_ISSUED | STATUS_PAID)) && (allowed == STATUS_DRAFT) ?
			 errhint("Issued invoices are immutable: void it and issue a new one.") : 0));
}

/*
 * invoice_open
 *		The start every function acting on one invoice shares: the
 *		invoice_id of argument 0 is required; SPI is connected as the owner
 *		(api_begin) and the invoice is locked and must be in one of the
 *		`allowed` states.  Validate the other arguments before calling it.
 */
int64
invoice_open(FunctionCallInfo fcinfo, int64 org_id, int allowed,
			 const char *action, InvoiceHeader *h, ApiCall *call)
{
	int64		invoice_id;

	arg_required(fcinfo, 0, "invoice_id");
	invoice_id = PG_GETARG_INT64(0);
	api_begin(call);
	invoice_lock(org_id, invoice_id, h);
	invoice_require_status(h, allowed, action);
	return invoice_id;
}

/*
 * header_write_totals
 *		Stores the header's totals and line counters.
 */
static void
header_write_totals(const InvoiceHeader *h)
{
	static SPIPlanPtr plan = NULL;
	Datum		values[8];

	api_prepare_once(&plan, "UPDATE invoice.invoices SET subtotal = $3, discount_total = $4,"
					 " tax_total = $5, total = $6, item_count = $7, next_line_no = $8"
					 " WHERE org_id OPERATOR(pg_catalog.=) $1"
					 " AND invoice_id OPERATOR(pg_catalog.=) $2",
					 8, (Oid[]) {INT8OID, INT8OID, NUMERICOID, NUMERICOID,
					 NUMERICOID, NUMERICOID, INT4OID, INT4OID});
	values[0] = Int64GetDatum(h->org_id);
	values[1] = Int64GetDatum(h->invoice_id);
	values[2] = NumericGetDatum(money_to_numeric(h->totals.subtotal, MONEY_SCALE));
	values[3] = NumericGetDatum(money_to_numeric(h->totals.discount_total, MONEY_SCALE));
	values[4] = NumericGetDatum(money_to_numeric(h->totals.tax_total, MONEY_SCALE));
	values[5] = NumericGetDatum(money_to_numeric(h->totals.total, MONEY_SCALE));
	values[6] = Int32GetDatum(h->item_count);
	values[7] = Int32GetDatum(h->next_line_no);
	api_execute(plan, values, NULL, false, SPI_OK_UPDATE);
}

/* ----------
 * Items
 * ----------
 */

#define ITEM_NARGS 17
static const Oid item_types[ITEM_NARGS] = {
	INT8OID, INT8OID, INT4OID, TEXTOID, NUMERICOID, NUMERICOID, NUMERICOID,
	NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID,
	TEXTOID, INT2OID, NUMERICOID, TEXTOID
};

/*
 * item_datums
 *		The parameters of the item statements, in item_types order.
 */
static void
item_datums(int64 org_id, int64 invoice_id, const InvoiceItem *it,
			Datum *values, char *nulls)
{
	memset(nulls, ' ', ITEM_NARGS);
	values[0] = Int64GetDatum(org_id);
	values[1] = Int64GetDatum(invoice_id);
	values[2] = Int32GetDatum(it->line_no);
	values[3] = CStringGetTextDatum(it->description);
	values[4] = NumericGetDatum(money_to_numeric(it->quantity, QTY_SCALE));
	values[5] = NumericGetDatum(money_to_numeric(it->unit_price, MONEY_SCALE));
	values[6] = NumericGetDatum(money_to_numeric(it->tax_rate, RATE_SCALE));
	values[7] = NumericGetDatum(money_to_numeric(it->discount_pct, RATE_SCALE));
	values[8] = NumericGetDatum(money_to_numeric(it->base, MONEY_SCALE));
	values[9] = NumericGetDatum(money_to_numeric(it->discount, MONEY_SCALE));
	values[10] = NumericGetDatum(money_to_numeric(it->net, MONEY_SCALE));
	values[11] = NumericGetDatum(money_to_numeric(it->tax, MONEY_SCALE));
	values[12] = NumericGetDatum(money_to_numeric(it->line_total, MONEY_SCALE));
	values[13] = it->material ? CStringGetTextDatum(it->material) : (Datum) 0;
	nulls[13] = it->material ? ' ' : 'n';
	values[14] = Int16GetDatum((int16) it->karat);
	nulls[14] = it->has_karat ? ' ' : 'n';
	values[15] = NumericGetDatum(money_to_numeric(it->weight_grams, QTY_SCALE));
	nulls[15] = it->has_weight ? ' ' : 'n';
	values[16] = it->sku ? CStringGetTextDatum(it->sku) : (Datum) 0;
	nulls[16] = it->sku ? ' ' : 'n';
}

/* the columns item_datums() fills, in its order */
static const char *const item_columns[ITEM_NARGS] = {
	"org_id", "invoice_id", "line_no", "description", "quantity", "unit_price",
	"tax_rate", "discount_pct", "base", "discount", "net", "tax", "line_total",
	"material", "karat", "weight_grams", "sku"
};

/*
 * items_insert
 *		Writes the lines of an invoice in one INSERT ... SELECT FROM unnest()
 *		of an array of invoice_items rows: one executor run for all of them
 *		instead of one per line.  Columns are matched by name, so columns a
 *		later release adds take their defaults' place as NULL.
 */
void
items_insert(int64 org_id, int64 invoice_id, const InvoiceItem *items, int nitems)
{
	static SPIPlanPtr plan = NULL;
	static Oid	plan_argtype = InvalidOid;
	Oid			relid = get_relname_relid("invoice_items", get_namespace_oid("invoice", false));
	Oid			rowtype = get_rel_type_id(relid);
	Oid			arraytype = get_array_type(rowtype);
	TupleDesc	tupdesc = lookup_rowtype_tupdesc_copy(rowtype, -1);
	int			attmap[ITEM_NARGS];
	Datum	   *rows = palloc(sizeof(Datum) * nitems);
	Datum	   *values = palloc(sizeof(Datum) * tupdesc->natts);
	bool	   *isnull = palloc(sizeof(bool) * tupdesc->natts);
	Datum		item_values[ITEM_NARGS];
	char		item_nulls[ITEM_NARGS];
	ArrayType  *array;
	int			i,
				c;

	for (c = 0; c < ITEM_NARGS; c++)
	{
		attmap[c] = SPI_fnumber(tupdesc, item_columns[c]) - 1;
		if (attmap[c] < 0)
			elog(ERROR, "invoice.invoice_items has no column \"%s\"", item_columns[c]);
	}
	for (i = 0; i < nitems; i++)
	{
		for (c = 0; c < tupdesc->natts; c++)
		{
			values[c] = (Datum) 0;
			isnull[c] = true;
		}
		item_datums(org_id, invoice_id, &items[i], item_values, item_nulls);
		for (c = 0; c < ITEM_NARGS; c++)
		{
			values[attmap[c]] = item_values[c];
			isnull[attmap[c]] = (item_nulls[c] == 'n');
		}
		rows[i] = HeapTupleGetDatum(heap_form_tuple(tupdesc, values, isnull));
	}
	array = construct_array(rows, nitems, rowtype, -1, false, TYPALIGN_DOUBLE);

	if (plan != NULL && plan_argtype != arraytype)
	{
		/* the extension was dropped and created again in this backend */
		SPI_freeplan(plan);
		plan = NULL;
	}
	api_prepare_once(&plan, "INSERT INTO invoice.invoice_items SELECT * FROM pg_catalog.unnest($1)",
					 1, &arraytype);
	plan_argtype = arraytype;
	api_execute(plan, (Datum[]) {PointerGetDatum(array)}, NULL, false, SPI_OK_INSERT);
	if (SPI_processed != (uint64) nitems)
		elog(ERROR, "inserted " UINT64_FORMAT " items, expected %d", SPI_processed, nitems);
}

static int64
stored_scaled(int col, int scale, int64 limit)
{
	bool		isnull;
	int64		v;

	if (money_from_numeric(DatumGetNumeric(api_getdatum(0, col, &isnull)),
						   scale, limit, &v) != MONEY_OK)
		elog(ERROR, "invalid stored item value in column %d", col);
	return v;
}

/*
 * item_read
 *		Loads line `line_no` of a locked draft; P0002 when there is none.
 */
static void
item_read(int64 org_id, int64 invoice_id, int32 line_no, InvoiceItem *it)
{
	static SPIPlanPtr plan = NULL;
	bool		isnull;
	Datum		d;

	api_prepare_once(&plan, "SELECT description, quantity, unit_price, tax_rate, discount_pct,"
					 " base, discount, net, tax, line_total,"
					 " material, karat, weight_grams, sku"
					 " FROM invoice.invoice_items"
					 " WHERE org_id OPERATOR(pg_catalog.=) $1"
					 " AND invoice_id OPERATOR(pg_catalog.=) $2"
					 " AND line_no OPERATOR(pg_catalog.=) $3",
					 3, (Oid[]) {INT8OID, INT8OID, INT4OID});
	api_execute(plan, (Datum[]) {Int64GetDatum(org_id), Int64GetDatum(invoice_id),
				Int32GetDatum(line_no)}, NULL, true, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("invoice " INT64_FORMAT " has no line %d", invoice_id, line_no)));

	memset(it, 0, sizeof(*it));
	it->line_no = line_no;
	it->description = api_gettext(0, 1);
	it->quantity = stored_scaled(2, QTY_SCALE, QTY_MAX);
	it->unit_price = stored_scaled(3, MONEY_SCALE, MONEY_MAX);
	it->has_tax_rate = true;
	it->tax_rate = stored_scaled(4, RATE_SCALE, RATE_100);
	it->discount_pct = stored_scaled(5, RATE_SCALE, RATE_100);
	it->base = stored_scaled(6, MONEY_SCALE, MONEY_MAX);
	it->discount = stored_scaled(7, MONEY_SCALE, MONEY_MAX);
	it->net = stored_scaled(8, MONEY_SCALE, MONEY_MAX);
	it->tax = stored_scaled(9, MONEY_SCALE, MONEY_MAX);
	it->line_total = stored_scaled(10, MONEY_SCALE, MONEY_MAX);
	it->material = api_gettext(0, 11);
	d = api_getdatum(0, 12, &isnull);
	it->has_karat = !isnull;
	it->karat = isnull ? 0 : DatumGetInt16(d);
	it->has_weight = false;
	(void) api_getdatum(0, 13, &isnull);
	if (!isnull)
	{
		it->has_weight = true;
		it->weight_grams = stored_scaled(13, QTY_SCALE, QTY_MAX);
	}
	it->sku = api_gettext(0, 14);
}

/* ----------
 * Arguments
 * ----------
 */

static Jsonb *
jsonb_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	arg_required(fcinfo, argno, name);
	return PG_GETARG_JSONB_P(argno);
}

static char *
limited_text(FunctionCallInfo fcinfo, int argno, const char *name, int max)
{
	char	   *s = arg_trimmed_text(fcinfo, argno);

	check_max_length(s, name, max);
	return s;
}

/*
 * require_customer
 *		P0002 when a statement that joined the customer found none.
 */
void
require_customer(int64 customer_id, bool found)
{
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("customer " INT64_FORMAT " not found", customer_id),
				 errhint("Create it with invoice.upsert_customer().")));
}

/* ----------
 * The API
 * ----------
 */

/*
 * new_invoice_from_args
 *		Arguments 0 to 2 of create_invoice and create_and_issue (customer_id,
 *		items, notes), every item validated and computed before anything is
 *		written.
 */
void
new_invoice_from_args(FunctionCallInfo fcinfo, NewInvoice *inv)
{
	int			i;

	memset(inv, 0, sizeof(*inv));
	inv->org_id = tenant_require();
	inv->user_id = tenant_current_user();
	arg_required(fcinfo, 0, "customer_id");
	inv->customer_id = PG_GETARG_INT64(0);
	inv->items_json = jsonb_arg(fcinfo, 1, "items");
	inv->notes = limited_text(fcinfo, 2, "notes", NOTES_MAX);
	if (inv->notes != NULL && inv->notes[0] == '\0')
		inv->notes = NULL;

	if (!tenant_settings(inv->org_id, &inv->st))
		elog(ERROR, "tenant " INT64_FORMAT " vanished", inv->org_id);
	inv->items = items_from_jsonb(inv->items_json, "items", &inv->nitems);
	for (i = 0; i < inv->nitems; i++)
	{
		item_compute(&inv->items[i], inv->st.default_tax_rate, i + 1);
		totals_add(&inv->totals, &inv->items[i], 1);
	}
}

/*
 * new_invoice_values
 *		The first NEW_INVOICE_NARGS parameters of a header INSERT, in
 *		new_invoice_types order: org_id, customer_id, created_by, notes,
 *		currency, the four totals, item_count, next_line_no.
 */
void
new_invoice_values(const NewInvoice *inv, Datum *values, char *nulls)
{
	memset(nulls, ' ', NEW_INVOICE_NARGS);
	values[0] = Int64GetDatum(inv->org_id);
	values[1] = Int64GetDatum(inv->customer_id);
	values[2] = Int64GetDatum(inv->user_id);
	nulls[2] = inv->user_id ? ' ' : 'n';
	values[3] = inv->notes ? CStringGetTextDatum(inv->notes) : (Datum) 0;
	nulls[3] = inv->notes ? ' ' : 'n';
	values[4] = CStringGetTextDatum(inv->st.currency);
	values[5] = NumericGetDatum(money_to_numeric(inv->totals.subtotal, MONEY_SCALE));
	values[6] = NumericGetDatum(money_to_numeric(inv->totals.discount_total, MONEY_SCALE));
	values[7] = NumericGetDatum(money_to_numeric(inv->totals.tax_total, MONEY_SCALE));
	values[8] = NumericGetDatum(money_to_numeric(inv->totals.total, MONEY_SCALE));
	values[9] = Int32GetDatum(inv->nitems);
	values[10] = Int32GetDatum(inv->nitems + 1);
}

const Oid	new_invoice_types[NEW_INVOICE_NARGS] = {
	INT8OID, INT8OID, INT8OID, TEXTOID, TEXTOID,
	NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID, INT4OID, INT4OID
};

/*
 * invoice_create_invoice
 *		A draft with its items, and its branch and due date when they are
 *		given.
 */
Datum
invoice_create_invoice(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr v02_plan = NULL;
	NewInvoice	inv;
	Oid			types[NEW_INVOICE_NARGS + 2];
	Datum		values[NEW_INVOICE_NARGS + 2];
	char		nulls[NEW_INVOICE_NARGS + 2];
	bool		isnull;
	int64		invoice_id;
	DateADT		due_date = 0;
	bool		has_due;
	bool		has_branch;
	ApiCall		call;

	/*
	 * branch_id and due_date came with 0.2: 0.1's declaration has three
	 * arguments, and its table neither column, so without them the
	 * statement is the one 0.1 ran.
	 */
	has_branch = PG_NARGS() > 3 && !PG_ARGISNULL(3);
	has_due = due_date_arg(fcinfo, 4, &due_date);

	new_invoice_from_args(fcinfo, &inv);
	new_invoice_values(&inv, values, nulls);
	memcpy(types, new_invoice_types, sizeof(new_invoice_types));
	types[NEW_INVOICE_NARGS] = INT8OID;
	values[NEW_INVOICE_NARGS] = has_branch ? PG_GETARG_DATUM(3) : (Datum) 0;
	nulls[NEW_INVOICE_NARGS] = has_branch ? ' ' : 'n';
	types[NEW_INVOICE_NARGS + 1] = DATEOID;
	values[NEW_INVOICE_NARGS + 1] = DateADTGetDatum(due_date);
	nulls[NEW_INVOICE_NARGS + 1] = has_due ? ' ' : 'n';

	api_begin(&call);
	if (has_branch)
		branch_require(inv.org_id, DatumGetInt64(values[NEW_INVOICE_NARGS]));
	if (has_branch || has_due)
		api_prepare_once(&v02_plan,
						 "INSERT INTO invoice.invoices (org_id, customer_id, created_by, notes,"
						 " currency, subtotal, discount_total, tax_total, total,"
						 " item_count, next_line_no, branch_id, due_date)"
						 " SELECT $1, c.customer_id, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13"
						 " FROM invoice.customers c"
						 " WHERE c.org_id OPERATOR(pg_catalog.=) $1"
						 " AND c.customer_id OPERATOR(pg_catalog.=) $2"
						 " RETURNING invoice_id",
						 NEW_INVOICE_NARGS + 2, types);
	else
		api_prepare_once(&plan,
						 "INSERT INTO invoice.invoices (org_id, customer_id, created_by, notes,"
						 " currency, subtotal, discount_total, tax_total, total,"
						 " item_count, next_line_no)"
						 " SELECT $1, c.customer_id, $3, $4, $5, $6, $7, $8, $9, $10, $11"
						 " FROM invoice.customers c"
						 " WHERE c.org_id OPERATOR(pg_catalog.=) $1"
						 " AND c.customer_id OPERATOR(pg_catalog.=) $2"
						 " RETURNING invoice_id",
						 NEW_INVOICE_NARGS, types);
	api_execute((has_branch || has_due) ? v02_plan : plan, values, nulls, false,
				SPI_OK_INSERT_RETURNING);
	require_customer(inv.customer_id, SPI_processed == 1);
	invoice_id = DatumGetInt64(api_getdatum(0, 1, &isnull));

	if (inv.nitems > 0)
		items_insert(inv.org_id, invoice_id, inv.items, inv.nitems);
	api_end(&call);

	PG_RETURN_INT64(invoice_id);
}

/*
 * invoice_add_item
 *		Appends one item to a draft; line numbers are never reused within
 *		an invoice, so a removed line leaves a gap.
 */
Datum
invoice_add_item(PG_FUNCTION_ARGS)
{
	int64		org_id = tenant_require();
	int64		invoice_id;
	Jsonb	   *item_json;
	InvoiceHeader h;
	InvoiceItem it;
	TenantSettings st;
	ApiCall		call;

	item_json = jsonb_arg(fcinfo, 1, "item");
	if (!JB_ROOT_IS_OBJECT(item_json) || JB_ROOT_IS_SCALAR(item_json))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"item\" must be a JSON object")));
	if (!tenant_settings(org_id, &st))
		elog(ERROR, "tenant " INT64_FORMAT " vanished", org_id);

	invoice_id = invoice_open(fcinfo, org_id, STATUS_DRAFT, "add items to", &h, &call);
	if (h.item_count >= INVOICE_MAX_ITEMS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invoice " INT64_FORMAT " already has %d items, the most an invoice may have",
						invoice_id, INVOICE_MAX_ITEMS)));

	memset(&it, 0, sizeof(it));
	it.line_no = h.next_line_no;
	item_apply_jsonb(&item_json->root, it.line_no, &it, true);
	item_compute(&it, st.default_tax_rate, it.line_no);
	totals_add(&h.totals, &it, 1);
	h.item_count++;
	h.next_line_no++;

	items_insert(org_id, invoice_id, &it, 1);
	header_write_totals(&h);
	api_end(&call);

	PG_RETURN_INT32(it.line_no);
}

/*
 * invoice_update_item
 *		The keys present in `item` replace those fields of the line; the
 *		line is computed again and the header moves by the difference.
 */
Datum
invoice_update_item(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	int64		org_id = tenant_require();
	int64		invoice_id;
	int32		line_no;
	Jsonb	   *item_json;
	InvoiceHeader h;
	InvoiceItem old;
	InvoiceItem it;
	TenantSettings st;
	Datum		values[ITEM_NARGS];
	char		nulls[ITEM_NARGS];
	ApiCall		call;

	arg_required(fcinfo, 1, "line_no");
	line_no = PG_GETARG_INT32(1);
	item_json = jsonb_arg(fcinfo, 2, "item");
	if (!JB_ROOT_IS_OBJECT(item_json) || JB_ROOT_IS_SCALAR(item_json))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"item\" must be a JSON object")));
	if (!tenant_settings(org_id, &st))
		elog(ERROR, "tenant " INT64_FORMAT " vanished", org_id);

	invoice_id = invoice_open(fcinfo, org_id, STATUS_DRAFT, "change items of", &h, &call);
	api_prepare_once(&plan, "UPDATE invoice.invoice_items SET description = $4, quantity = $5,"
					 " unit_price = $6, tax_rate = $7, discount_pct = $8, base = $9,"
					 " discount = $10, net = $11, tax = $12, line_total = $13,"
					 " material = $14, karat = $15, weight_grams = $16, sku = $17"
					 " WHERE org_id OPERATOR(pg_catalog.=) $1"
					 " AND invoice_id OPERATOR(pg_catalog.=) $2"
					 " AND line_no OPERATOR(pg_catalog.=) $3",
					 ITEM_NARGS, (Oid *) item_types);
	item_read(org_id, invoice_id, line_no, &old);

	it = old;
	item_apply_jsonb(&item_json->root, line_no, &it, true);
	item_compute(&it, st.default_tax_rate, line_no);
	totals_add(&h.totals, &old, -1);
	totals_add(&h.totals, &it, 1);

	item_datums(org_id, invoice_id, &it, values, nulls);
	api_execute(plan, values, nulls, false, SPI_OK_UPDATE);
	header_write_totals(&h);
	api_end(&call);

	PG_RETURN_VOID();
}

/*
 * invoice_remove_item
 *		Removes a line of a draft; the other lines keep their numbers.
 */
Datum
invoice_remove_item(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	int64		org_id = tenant_require();
	int64		invoice_id;
	int32		line_no;
	InvoiceHeader h;
	InvoiceItem old;
	ApiCall		call;

	arg_required(fcinfo, 1, "line_no");
	line_no = PG_GETARG_INT32(1);

	invoice_id = invoice_open(fcinfo, org_id, STATUS_DRAFT, "remove items from", &h, &call);
	api_prepare_once(&plan, "DELETE FROM invoice.invoice_items"
					 " WHERE org_id OPERATOR(pg_catalog.=) $1"
					 " AND invoice_id OPERATOR(pg_catalog.=) $2"
					 " AND line_no OPERATOR(pg_catalog.=) $3",
					 3, (Oid[]) {INT8OID, INT8OID, INT4OID});
	item_read(org_id, invoice_id, line_no, &old);
	totals_add(&h.totals, &old, -1);
	h.item_count--;

	api_execute(plan, (Datum[]) {Int64GetDatum(org_id), Int64GetDatum(invoice_id),
				Int32GetDatum(line_no)}, NULL, false, SPI_OK_DELETE);
	header_write_totals(&h);
	api_end(&call);

	PG_RETURN_VOID();
}

/*
 * invoice_set_customer
 *		Changes the customer of a draft to another customer of the tenant.
 */
Datum
invoice_set_customer(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	int64		org_id = tenant_require();
	int64		invoice_id;
	int64		customer_id;
	InvoiceHeader h;
	ApiCall		call;

	arg_required(fcinfo, 1, "customer_id");
	customer_id = PG_GETARG_INT64(1);

	invoice_id = invoice_open(fcinfo, org_id, STATUS_DRAFT, "change the customer of", &h, &call);
	api_prepare_once(&plan, "UPDATE invoice.invoices i SET customer_id = c.customer_id"
					 " FROM invoice.customers c"
					 " WHERE i.org_id OPERATOR(pg_catalog.=) $1"
					 " AND i.invoice_id OPERATOR(pg_catalog.=) $2"
					 " AND c.org_id OPERATOR(pg_catalog.=) $1"
					 " AND c.customer_id OPERATOR(pg_catalog.=) $3",
					 3, (Oid[]) {INT8OID, INT8OID, INT8OID});
	api_execute(plan, (Datum[]) {Int64GetDatum(org_id), Int64GetDatum(invoice_id),
				Int64GetDatum(customer_id)}, NULL, false, SPI_OK_UPDATE);
	require_customer(customer_id, SPI_processed == 1);
	api_end(&call);

	PG_RETURN_VOID();
}

/*
 * invoice_delete_draft
 *		Soft delete: the draft stays, marked is_deleted, and nothing more
 *		can be done with it.
 */
Datum
invoice_delete_draft(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	int64		org_id = tenant_require();
	int64		invoice_id;
	InvoiceHeader h;
	ApiCall		call;


	invoice_id = invoice_open(fcinfo, org_id, STATUS_DRAFT, "delete", &h, &call);
	api_prepare_once(&plan, "UPDATE invoice.invoices SET is_deleted = true"
					 " WHERE org_id OPERATOR(pg_catalog.=) $1"
					 " AND invoice_id OPERATOR(pg_catalog.=) $2",
					 2, (Oid[]) {INT8OID, INT8OID});
	api_execute(plan, (Datum[]) {Int64GetDatum(org_id), Int64GetDatum(invoice_id)},
				NULL, false, SPI_OK_UPDATE);
	api_end(&call);

	PG_RETURN_VOID();
}

/*
 * invoice_void
 *		Issued or paid becomes void, with its number and its payments kept.
 *		Voiding refunds nothing: when the invoice had received payments, a
 *		NOTICE says how much, so that whoever voids it settles that money.
 */
Datum
invoice_void(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	int64		org_id = tenant_require();
	int64		invoice_id;
	char	   *reason;
	InvoiceHeader h;
	ApiCall		call;

	arg_required(fcinfo, 1, "reason");
	reason = limited_text(fcinfo, 1, "reason", REASON_MAX);
	check_not_blank(reason, "reason");

	invoice_id = invoice_open(fcinfo, org_id, STATUS_ISSUED | STATUS_PAID, "void", &h, &call);
	api_prepare_once(&plan, "UPDATE invoice.invoices SET status = 'void', void_reason = $3,"
					 " voided_at = pg_catalog.now()"
					 " WHERE org_id OPERATOR(pg_catalog.=) $1"
					 " AND invoice_id OPERATOR(pg_catalog.=) $2"
					 " RETURNING number_text, currency",
					 3, (Oid[]) {INT8OID, INT8OID, TEXTOID});
	api_execute(plan, (Datum[]) {Int64GetDatum(org_id), Int64GetDatum(invoice_id),
				CStringGetTextDatum(reason)}, NULL, false, SPI_OK_UPDATE_RETURNING);
	if (h.amount_paid != 0)
	{
		StringInfoData received;

		initStringInfo(&received);
		doc_append_money_in(&received, api_gettext(0, 2), h.amount_paid);
		ereport(NOTICE,
				(errmsg("invoice %s had received %s in payments",
						api_gettext(0, 1), received.data),
				 errdetail("Voiding refunds nothing: the payments stay recorded with the void invoice."),
				 errhint("Return the money to the customer, or credit it to the invoice that replaces this one.")));
	}
	api_end(&call);

	PG_RETURN_VOID();
}

/*
 * invoice_record_payment
 *		A payment on an issued invoice; exactly the balance makes it paid,
 *		more is refused.
 */
Datum
invoice_record_payment(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr insert_plan = NULL;
	static SPIPlanPtr update_plan = NULL;
	int64		org_id = tenant_require();
	int64		user_id = tenant_current_user();
	int64		invoice_id;
	int64		amount;
	char	   *method;
	InvoiceHeader h;
	int64		payment_id;
	bool		isnull;
	ApiCall		call;

	arg_required(fcinfo, 1, "amount");
	arg_required(fcinfo, 2, "method");
	switch (money_from_numeric(PG_GETARG_NUMERIC(1), MONEY_SCALE, MONEY_MAX, &amount))
	{
		case MONEY_OK:
			break;
		case MONEY_TOO_MANY_DECIMALS:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"amount\" must not have more than 2 decimals")));
			break;
		case MONEY_OUT_OF_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("\"amount\" is out of range"),
					 errdetail("Amounts must fit numeric(18,2).")));
			break;
		case MONEY_NOT_FINITE:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"amount\" must be a finite number")));
			break;
	}
	if (amount <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"amount\" must be greater than zero")));
	method = arg_trimmed_text(fcinfo, 2);
	if (!payment_method_known(method))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"method\" must be one of %s", payment_method_list())));

	invoice_id = invoice_open(fcinfo, org_id, STATUS_ISSUED, "record a payment on", &h, &call);
	api_prepare_once(&insert_plan, "INSERT INTO invoice.payments (org_id, invoice_id, amount, method, created_by)"
					 " VALUES ($1, $2, $3, $4, $5) RETURNING payment_id",
					 5, (Oid[]) {INT8OID, INT8OID, NUMERICOID, TEXTOID, INT8OID});
	api_prepare_once(&update_plan, "UPDATE invoice.invoices SET amount_paid = $3,"
					 " status = CASE WHEN $4 THEN 'paid' ELSE status END,"
					 " paid_at = CASE WHEN $4 THEN pg_catalog.now() ELSE paid_at END"
					 " WHERE org_id OPERATOR(pg_catalog.=) $1"
					 " AND invoice_id OPERATOR(pg_catalog.=) $2",
					 4, (Oid[]) {INT8OID, INT8OID, NUMERICOID, BOOLOID});
	if (amount > h.totals.total - h.amount_paid)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("payment of %s exceeds the balance of invoice " INT64_FORMAT,
						money_to_cstring(amount, MONEY_SCALE), invoice_id),
				 errdetail("The balance is %s.",
						   money_to_cstring(h.totals.total - h.amount_paid, MONEY_SCALE))));

	api_execute(insert_plan,
				(Datum[]) {Int64GetDatum(org_id), Int64GetDatum(invoice_id),
					NumericGetDatum(money_to_numeric(amount, MONEY_SCALE)),
					CStringGetTextDatum(method), Int64GetDatum(user_id)},
				user_id ? NULL : "    n", false, SPI_OK_INSERT_RETURNING);
	payment_id = DatumGetInt64(api_getdatum(0, 1, &isnull));
	h.amount_paid += amount;
	api_execute(update_plan,
				(Datum[]) {Int64GetDatum(org_id), Int64GetDatum(invoice_id),
					NumericGetDatum(money_to_numeric(h.amount_paid, MONEY_SCALE)),
					BoolGetDatum(h.amount_paid == h.totals.total)},
				NULL, false, SPI_OK_UPDATE);
	api_end(&call);

	PG_RETURN_INT64(payment_id);
}
