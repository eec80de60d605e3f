/*-------------------------------------------------------------------------
 *
 * due_dates.c
 *	  Due dates of invoices and the overdue mark.
 *
 * A draft gets its due date from create_invoice() or set_due_date(),
 * which check it alike (due_date_arg); at issue, an invoice
 * without one is due the tenant's payment_terms_days after its day of
 * issue (numbering_write_issue, src/numbering.c).  maintenance() marks the
 * issued invoices whose due date has passed, in their tenant's time zone,
 * as overdue, and clears the mark of those no longer overdue.  The status
 * stays "issued", so payments are recorded as ever; the invoices guard
 * (src/guard.c) clears the mark of a row that is paid or voided, so a paid
 * invoice is never overdue, not even until the next pass.
 *
 * Both maintenance statements read partial indexes (the issued invoices
 * not yet overdue, by due date; the overdue ones): a pass does not read
 * the paid history.  They run as the owner of the tables, across tenants.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"
#include "utils/date.h"

#include "due_dates.h"
#include "exec.h"
#include "invoice_doc.h"
#include "lifecycle.h"
#include "tenant.h"

PG_FUNCTION_INFO_V1(invoice_set_due_date);

/*
 * due_date_arg
 *		Argument `argno`, a due date given to set_due_date or create_invoice:
 *		false when it is absent or NULL, else stored in *due_date.  The one
 *		rule a due date meets before issue: it is a finite date.  Whether it
 *		falls before the day of issue is known only at issue
 *		(numbering_write_issue), which refuses it.
 */
bool
due_date_arg(FunctionCallInfo fcinfo, int argno, DateADT *due_date)
{
	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return false;
	*due_date = PG_GETARG_DATEADT(argno);
	if (DATE_NOT_FINITE(*due_date))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"due_date\" must be a finite date")));
	return true;
}

/*
 * invoice_set_due_date
 *		Sets the due date of a draft (NULL: none, so that the tenant's
 *		payment terms apply at issue).  Whether it falls before the day of
 *		issue is known only at issue, which refuses it.
 */
Datum
invoice_set_due_date(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	int64		org_id = tenant_require();
	int64		invoice_id;
	DateADT		due_date = 0;
	bool		has_date = due_date_arg(fcinfo, 1, &due_date);
	InvoiceHeader h;
	ApiCall		call;

	invoice_id = invoice_open(fcinfo, org_id, STATUS_DRAFT, "change the due date of", &h, &call);
	if (!doc_schema_has("invoices", "due_date"))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("due dates need version 0.2 of extension \"invoice\""),
				 errhint("Run ALTER EXTENSION invoice UPDATE.")));
	api_prepare_once(&plan,
					 "UPDATE invoice.invoices SET due_date = $3"
					 " WHERE org_id OPERATOR(pg_catalog.=) $1"
					 " AND invoice_id OPERATOR(pg_catalog.=) $2",
					 3, (Oid[]) {INT8OID, INT8OID, DATEOID});
	api_execute(plan, (Datum[]) {Int64GetDatum(org_id), Int64GetDatum(invoice_id),
				DateADTGetDatum(due_date)},
				has_date ? "   " : "  n", false, SPI_OK_UPDATE);
	api_end(&call);

	PG_RETURN_VOID();
}

/*
 * due_dates_mark_overdue
 *		The maintenance step: issued invoices past their due date (the
 *		tenant's today is after it) become overdue; overdue invoices that
 *		are not (paid, void, or given a later day by a change of time zone)
 *		stop being.  Reports both counts.  Called inside api_begin.
 */
void
due_dates_mark_overdue(StringInfo out)
{
	static SPIPlanPtr mark_plan = NULL;
	static SPIPlanPtr clear_plan = NULL;
	instr_time	start;
	instr_time	end;
	uint64		marked;
	uint64		cleared;

	INSTR_TIME_SET_CURRENT(start);

	/*
	 * No tenant's today is later than UTC's tomorrow: that bound reads
	 * invoices_due_idx; the tenant's own today decides.
	 */
	api_prepare_once(&mark_plan,
					 "UPDATE invoice.invoices i SET overdue = true"
					 " FROM invoice.organizations o"
					 " WHERE i.status OPERATOR(pg_catalog.=) 'issued' AND NOT i.overdue"
					 " AND i.due_date IS NOT NULL"
					 " AND i.due_date OPERATOR(pg_catalog.<) (pg_catalog.timezone('UTC', pg_catalog.now())::pg_catalog.date"
					 "  OPERATOR(pg_catalog.+) 1)"
					 " AND o.org_id OPERATOR(pg_catalog.=) i.org_id"
					 " AND i.due_date OPERATOR(pg_catalog.<) pg_catalog.timezone(o.timezone, pg_catalog.now())::pg_catalog.date",
					 0, NULL);
	api_prepare_once(&clear_plan,
					 "UPDATE invoice.invoices i SET overdue = false"
					 " FROM invoice.organizations o"
					 " WHERE i.overdue AND o.org_id OPERATOR(pg_catalog.=) i.org_id"
					 " AND (i.status OPERATOR(pg_catalog.<>) 'issued' OR i.due_date IS NULL"
					 "  OR i.due_date OPERATOR(pg_catalog.>=) pg_catalog.timezone(o.timezone, pg_catalog.now())::pg_catalog.date)",
					 0, NULL);
	api_execute(mark_plan, NULL, NULL, false, SPI_OK_UPDATE);
	marked = SPI_processed;
	api_execute(clear_plan, NULL, NULL, false, SPI_OK_UPDATE);
	cleared = SPI_processed;

	INSTR_TIME_SET_CURRENT(end);
	INSTR_TIME_SUBTRACT(end, start);
	appendStringInfo(out, "\"overdue\": {\"marked\": " UINT64_FORMAT ", \"cleared\": " UINT64_FORMAT
					 ", \"ms\": %.3f}", marked, cleared, INSTR_TIME_GET_MILLISEC(end));
}
