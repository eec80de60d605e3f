/*-------------------------------------------------------------------------
 *
 * guard.c
 *	  Triggers that keep issued invoices immutable.
 *
 * invoice.invoices: once a row leaves "draft", only the lifecycle columns
 * (status, amount_paid, paid_at, voided_at, void_reason, and overdue, which
 * maintenance() sets) may change, only forward (issued -> paid -> void,
 * issued -> void), and a void row never changes again; non-draft rows are
 * never deleted.  A paid or void invoice is never overdue: the guard
 * clears the mark in the row that leaves "issued".  This holds for every
 * role, the API included; a superuser who must repair data has to disable
 * the trigger explicitly.
 *
 * invoice.invoice_items: rows of an invoice that is not a draft never
 * change, for every role.  The API checks the status under the header's
 * row lock before it writes items, so the trigger trusts it and otherwise
 * looks the header up.  The one exception is an INSERT by a superuser:
 * restoring a pg_dump re-inserts the items of issued invoices.
 *
 * invoice.payments: a payment, once recorded, never changes.
 *
 * TRUNCATE of any of these tables is refused.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/rel.h"

#include "exec.h"

PG_FUNCTION_INFO_V1(invoice_guard_invoice);
PG_FUNCTION_INFO_V1(invoice_guard_invoice_item);
PG_FUNCTION_INFO_V1(invoice_guard_payment);

/* the columns the lifecycle may still change once an invoice is issued */
static const char *const lifecycle_columns[] = {
	"status", "amount_paid", "paid_at", "voided_at", "void_reason", "overdue"
};

/*
 * check_trigger
 *		Trigger protocol checks shared by both guards.
 */
static TriggerData *
check_trigger(FunctionCallInfo fcinfo, const char *name)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s() must be called as a trigger", name)));
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s() must be fired BEFORE", name)));
	if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s cannot be truncated", RelationGetRelationName(trigdata->tg_relation)),
				 errdetail("Invoices, their items and their payments are kept forever.")));
	if (!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s() must be fired FOR EACH ROW", name)));
	return trigdata;
}

static char *
text_column(HeapTuple tuple, TupleDesc tupdesc, const char *column)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, SPI_fnumber(tupdesc, column), tupdesc, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static int64
int8_column(HeapTuple tuple, TupleDesc tupdesc, const char *column)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, SPI_fnumber(tupdesc, column), tupdesc, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

static bool
is_lifecycle_column(const char *name)
{
	int			i;

	for (i = 0; i < lengthof(lifecycle_columns); i++)
		if (strcmp(name, lifecycle_columns[i]) == 0)
			return true;
	return false;
}

static bool
transition_allowed(const char *from, const char *to)
{
	if (strcmp(from, to) == 0)
		return strcmp(from, "void") != 0;
	if (strcmp(from, "issued") == 0)
		return strcmp(to, "paid") == 0 || strcmp(to, "void") == 0;
	if (strcmp(from, "paid") == 0)
		return strcmp(to, "void") == 0;
	return false;
}

/*
 * clear_overdue
 *		The row, with "overdue" false unless it is issued.  A database still
 *		at version 0.1 has no such column.
 */
static HeapTuple
clear_overdue(HeapTuple tuple, TupleDesc tupdesc, const char *status)
{
	int			attnum = SPI_fnumber(tupdesc, "overdue");
	bool		isnull;
	Datum		value;
	Datum		f = BoolGetDatum(false);
	bool		notnull = false;

	if (attnum <= 0 || strcmp(status, "issued") == 0)
		return tuple;
	value = heap_getattr(tuple, attnum, tupdesc, &isnull);
	if (isnull || !DatumGetBool(value))
		return tuple;
	return heap_modify_tuple_by_cols(tuple, tupdesc, 1, &attnum, &f, &notnull);
}

/*
 * invoice_guard_invoice
 *		BEFORE UPDATE OR DELETE FOR EACH ROW on invoice.invoices, and
 *		BEFORE TRUNCATE.
 */
Datum
invoice_guard_invoice(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = check_trigger(fcinfo, "invoice.guard_invoice");
	TupleDesc	tupdesc = RelationGetDescr(trigdata->tg_relation);
	HeapTuple	old = trigdata->tg_trigtuple;
	HeapTuple	new = trigdata->tg_newtuple;
	char	   *old_status = text_column(old, tupdesc, "status");
	char	   *new_status;
	int			i;

	if (strcmp(old_status, "draft") == 0)
		return PointerGetDatum(TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? new : old);

	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("invoice " INT64_FORMAT " is %s and cannot be deleted",
						int8_column(old, tupdesc, "invoice_id"), old_status),
				 errhint("Void it with invoice.void().")));

	new_status = text_column(new, tupdesc, "status");
	if (!transition_allowed(old_status, new_status))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("invoice " INT64_FORMAT " cannot go from %s to %s",
						int8_column(old, tupdesc, "invoice_id"), old_status, new_status)));

	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		bool		old_null;
		bool		new_null;
		Datum		old_value;
		Datum		new_value;

		if (att->attisdropped || is_lifecycle_column(NameStr(att->attname)))
			continue;
		old_value = heap_getattr(old, i + 1, tupdesc, &old_null);
		new_value = heap_getattr(new, i + 1, tupdesc, &new_null);
		if (old_null != new_null ||
			(!old_null && !datumIsEqual(old_value, new_value, att->attbyval, att->attlen)))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("invoice " INT64_FORMAT " is %s: \"%s\" cannot be changed",
							int8_column(old, tupdesc, "invoice_id"), old_status,
							NameStr(att->attname)),
					 errhint("Issued invoices are immutable: void it and issue a new one.")));
	}
	return PointerGetDatum(clear_overdue(new, tupdesc, new_status));
}

/*
 * invoice_guard_invoice_item
 *		BEFORE INSERT OR UPDATE OR DELETE FOR EACH ROW on invoice.invoice_items,
 *		and BEFORE TRUNCATE.
 */
Datum
invoice_guard_invoice_item(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	TriggerData *trigdata = check_trigger(fcinfo, "invoice.guard_invoice_item");
	TupleDesc	tupdesc = RelationGetDescr(trigdata->tg_relation);
	HeapTuple	result = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
		trigdata->tg_newtuple : trigdata->tg_trigtuple;
	HeapTuple	tuples[2];
	int			ntuples = 0;
	int			i;
	ApiCall		call;

	if (api_active() ||
		(TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) && superuser()))
		return PointerGetDatum(result);

	/* an UPDATE may move a line between invoices: both must be drafts */
	tuples[ntuples++] = trigdata->tg_trigtuple;
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		tuples[ntuples++] = trigdata->tg_newtuple;

	api_begin(&call);
	api_prepare_once(&plan, "SELECT status FROM invoice.invoices"
					 " WHERE org_id OPERATOR(pg_catalog.=) $1"
					 " AND invoice_id OPERATOR(pg_catalog.=) $2",
					 2, (Oid[]) {INT8OID, INT8OID});
	for (i = 0; i < ntuples; i++)
	{
		int64		org_id = int8_column(tuples[i], tupdesc, "org_id");
		int64		invoice_id = int8_column(tuples[i], tupdesc, "invoice_id");
		bool		isnull;
		char	   *status;

		api_execute(plan, (Datum[]) {Int64GetDatum(org_id), Int64GetDatum(invoice_id)},
					NULL, true, SPI_OK_SELECT);
		if (SPI_processed == 0)
			continue;			/* the foreign key will say so */
		status = TextDatumGetCString(api_getdatum(0, 1, &isnull));
		if (strcmp(status, "draft") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("items of invoice " INT64_FORMAT " cannot be changed: it is %s",
							invoice_id, status),
					 errhint("Issued invoices are immutable: void it and issue a new one.")));
	}
	api_end(&call);
	return PointerGetDatum(result);
}

/*
 * invoice_guard_payment
 *		BEFORE UPDATE OR DELETE FOR EACH ROW on invoice.payments, and BEFORE
 *		TRUNCATE: payments are facts; a wrong one is answered by voiding the
 *		invoice, not by rewriting history.
 */
Datum
invoice_guard_payment(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = check_trigger(fcinfo, "invoice.guard_payment");

	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("payment " INT64_FORMAT " cannot be changed",
					int8_column(trigdata->tg_trigtuple,
								RelationGetDescr(trigdata->tg_relation), "payment_id")),
			 errdetail("Recorded payments are kept as they are.")));
	return PointerGetDatum(NULL);
}
