/*-------------------------------------------------------------------------
 *
 * counter_sale.c
 *	  invoice.create_and_issue(): a shop's counter sale in one statement.
 *
 * It is create_invoice + issue (+ a record_payment of the whole total)
 * with the same checks, errors, arithmetic and numbering, written the
 * short way: the items are validated and computed first, then the tenant's
 * numbering is locked (numbering_next) and the header is inserted once,
 * already issued, with its number and the seller and customer its document
 * shows; its items follow, and, when `paid_with` names a method, one
 * payment of the total.  No row the statement inserted is updated again:
 * one index entry per index, one foreign key check and one audit record per
 * row.  A failure anywhere rolls the statement back, and since the next
 * number is always the last committed one plus one, no number is used.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "exec.h"
#include "invoice_doc.h"
#include "lifecycle.h"
#include "money.h"
#include "numbering.h"
#include "payment_methods.h"
#include "totals.h"

PG_FUNCTION_INFO_V1(invoice_create_and_issue);

/* the header INSERT's parameters after new_invoice_values()'s */
#define SALE_NARGS (NEW_INVOICE_NARGS + 4)

/*
 * sale_result
 *		{"invoice_id", "number", "number_text", "status", "total"}
 */
static Jsonb *
sale_result(int64 invoice_id, const IssueNumber *n, bool paid, int64 total)
{
	JsonbParseState *state = NULL;
	JsonbValue *result;

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	json_push_numeric(&state, "invoice_id", int64_to_numeric(invoice_id));
	json_push_numeric(&state, "number", int64_to_numeric(n->number));
	json_push_string(&state, "number_text", n->number_text);
	json_push_string(&state, "status", paid ? "paid" : "issued");
	json_push_amount(&state, "total", total);
	result = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(result);
}

/*
 * invoice_create_and_issue
 *		create_and_issue(customer_id, items, notes, paid_with) -> jsonb
 */
Datum
invoice_create_and_issue(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr header_plan = NULL;
	static SPIPlanPtr payment_plan = NULL;
	NewInvoice	inv;
	char	   *method = NULL;
	bool		paid;
	Oid			types[SALE_NARGS];
	Datum		values[SALE_NARGS];
	char		nulls[SALE_NARGS];
	IssueNumber n;
	int64		invoice_id;
	bool		isnull;
	MemoryContext fn_cxt = CurrentMemoryContext;
	ApiCall		call;

	new_invoice_from_args(fcinfo, &inv);
	if (inv.nitems == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"items\" must hold at least one item"),
				 errhint("An invoice is issued with its items; invoice.create_invoice() makes a draft to fill later.")));
	if (!PG_ARGISNULL(3))
	{
		method = arg_trimmed_text(fcinfo, 3);
		if (!payment_method_known(method))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"paid_with\" must be one of %s", payment_method_list()),
					 errhint("Leave it NULL to issue the invoice unpaid.")));
	}
	/* nothing to pay (every line free) is paid already, as in issue() */
	paid = method != NULL || inv.totals.total == 0;

	memcpy(types, new_invoice_types, sizeof(new_invoice_types));
	types[NEW_INVOICE_NARGS] = INT8OID;
	types[NEW_INVOICE_NARGS + 1] = TEXTOID;
	types[NEW_INVOICE_NARGS + 2] = TIMESTAMPTZOID;
	types[NEW_INVOICE_NARGS + 3] = BOOLOID;
	new_invoice_values(&inv, values, nulls);
	memset(nulls + NEW_INVOICE_NARGS, ' ', SALE_NARGS - NEW_INVOICE_NARGS);

	api_begin(&call);
	api_prepare_once(&header_plan,
					 "INSERT INTO invoice.invoices (org_id, customer_id, created_by, notes,"
					 " currency, subtotal, discount_total, tax_total, total,"
					 " item_count, next_line_no, number, number_text, issued_at,"
					 " status, paid_at, amount_paid, seller_snapshot, customer_snapshot,"
					 " due_date)"
					 " SELECT $1, c.customer_id, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
					 " $12, $13, $14,"
					 " CASE WHEN $15 THEN 'paid' ELSE 'issued' END,"
					 " CASE WHEN $15 THEN $14 END,"
					 " CASE WHEN $15 THEN $9 ELSE 0 END,"
					 " " DOC_SELLER_SNAPSHOT_SQL("j.ro") ","
					 " " DOC_CUSTOMER_SNAPSHOT_SQL("j.rc") ","
					 /* sold on credit: due the tenant's payment terms later */
					 " CASE WHEN NOT $15 THEN pg_catalog.timezone(o.timezone, $14)::pg_catalog.date"
					 "  OPERATOR(pg_catalog.+) o.payment_terms_days END"
					 " FROM invoice.organizations o, invoice.customers c,"
					 " LATERAL (SELECT pg_catalog.to_jsonb(o) AS ro,"
					 " pg_catalog.to_jsonb(c) AS rc OFFSET 0) j"
					 " WHERE o.org_id OPERATOR(pg_catalog.=) $1"
					 " AND c.org_id OPERATOR(pg_catalog.=) $1"
					 " AND c.customer_id OPERATOR(pg_catalog.=) $2"
					 " RETURNING invoice_id",
					 SALE_NARGS, types);
	if (method != NULL && inv.totals.total > 0)
		api_prepare_once(&payment_plan,
						 "INSERT INTO invoice.payments (org_id, invoice_id, amount, method,"
						 " created_by, paid_at) VALUES ($1, $2, $3, $4, $5, $6)",
						 6, (Oid[]) {INT8OID, INT8OID, NUMERICOID, TEXTOID, INT8OID, TIMESTAMPTZOID});

	/* from here to commit, the tenant's other issuers wait */
	numbering_next(inv.org_id, fn_cxt, &n);
	values[NEW_INVOICE_NARGS] = Int64GetDatum(n.number);
	values[NEW_INVOICE_NARGS + 1] = CStringGetTextDatum(n.number_text);
	values[NEW_INVOICE_NARGS + 2] = TimestampTzGetDatum(n.issued_at);
	values[NEW_INVOICE_NARGS + 3] = BoolGetDatum(paid);
	api_execute(header_plan, values, nulls, false, SPI_OK_INSERT_RETURNING);
	require_customer(inv.customer_id, SPI_processed == 1);
	invoice_id = DatumGetInt64(api_getdatum(0, 1, &isnull));

	items_insert(inv.org_id, invoice_id, inv.items, inv.nitems);
	if (method != NULL && inv.totals.total > 0)
		api_execute(payment_plan,
					(Datum[]) {Int64GetDatum(inv.org_id), Int64GetDatum(invoice_id),
						NumericGetDatum(money_to_numeric(inv.totals.total, MONEY_SCALE)),
						CStringGetTextDatum(method), Int64GetDatum(inv.user_id),
						TimestampTzGetDatum(n.issued_at)},
					inv.user_id ? NULL : "    n ", false, SPI_OK_INSERT);
	api_end(&call);

	PG_RETURN_JSONB_P(sale_result(invoice_id, &n, paid, inv.totals.total));
}
