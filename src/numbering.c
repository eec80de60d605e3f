/*-------------------------------------------------------------------------
 *
 * numbering.c
 *	  Gapless per-tenant invoice numbers: invoice.issue().
 *
 * The counter row of a tenant (invoice.invoice_counters) is locked only
 * inside issue(), after every check that can fail on the invoice itself,
 * and stays locked until the transaction ends: a concurrent issue() in the
 * same tenant waits for it, then takes the next number, so numbers follow
 * the order of commit, and a rolled-back issue() gives its number back.
 * Two tenants never share a counter, so they never wait on each other.
 * Numbers are never reused, even after void.
 *
 * The authorized range and the resolution's validity dates come from the
 * tenant settings cache; the date of issue is taken in the tenant's time
 * zone, from the clock read after the counter lock was granted, so that
 * issued_at grows with the number.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "invoice.h"

PG_FUNCTION_INFO_V1(invoice_issue);

/* a date as YYYY-MM-DD, whatever DateStyle says */
static char *
date_text(DateADT d)
{
	int			y,
				m,
				day;

	j2date(d + POSTGRES_EPOCH_JDATE, &y, &m, &day);
	return psprintf("%04d-%02d-%02d", y, m, day);
}

/*
 * check_validity
 *		The resolution must be in force on the day of issue.
 */
static void
check_validity(const TenantSettings *st, TimestampTz issued_at)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzoff;
	DateADT		today;

	if (!st->has_valid_from && !st->has_valid_to)
		return;
	if (timestamp2tm(issued_at, &tzoff, &tm, &fsec, NULL, st->tz) != 0)
		elog(ERROR, "timestamp out of range");
	today = date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) - POSTGRES_EPOCH_JDATE;

	if ((st->has_valid_from && today < st->valid_from) ||
		(st->has_valid_to && today > st->valid_to))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the numbering resolution of tenant " INT64_FORMAT " is not in force on %s",
						st->org_id, date_text(today)),
				 errdetail("It is valid from %s to %s (%s).",
						   st->has_valid_from ? date_text(st->valid_from) : "the start",
						   st->has_valid_to ? date_text(st->valid_to) : "no end",
						   st->timezone),
				 errhint("Register the new resolution with invoice.update_organization().")));
}

/*
 * invoice_issue
 *		Gives a draft the next number of the tenant's series.
 */
Datum
invoice_issue(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr counter_plan = NULL;
	static SPIPlanPtr issue_plan = NULL;
	int64		org_id = tenant_require();
	int64		invoice_id;
	InvoiceHeader h;
	TenantSettings st;
	int64		number;
	char	   *number_text;
	TimestampTz issued_at;
	bool		isnull;
	MemoryContext fn_cxt = CurrentMemoryContext;
	ApiCall		call;

	arg_required(fcinfo, 0, "invoice_id");
	invoice_id = PG_GETARG_INT64(0);
	if (!tenant_settings(org_id, &st))
		elog(ERROR, "tenant " INT64_FORMAT " vanished", org_id);

	api_begin(&call);
	if (counter_plan == NULL)
	{
		counter_plan = api_prepare("UPDATE invoice.invoice_counters"
								   " SET next_number = next_number OPERATOR(pg_catalog.+) 1"
								   " WHERE org_id OPERATOR(pg_catalog.=) $1"
								   " RETURNING next_number OPERATOR(pg_catalog.-) 1",
								   1, (Oid[]) {INT8OID});
		issue_plan = api_prepare("UPDATE invoice.invoices SET status = 'issued', number = $3,"
								 " number_text = $4, issued_at = $5"
								 " WHERE org_id OPERATOR(pg_catalog.=) $1"
								 " AND invoice_id OPERATOR(pg_catalog.=) $2",
								 5, (Oid[]) {INT8OID, INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID});
	}

	invoice_lock(org_id, invoice_id, &h);
	invoice_require_status(&h, STATUS_DRAFT, "issue");
	if (h.item_count == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot issue invoice " INT64_FORMAT ": it has no items", invoice_id),
				 errhint("Add items with invoice.add_item() first.")));

	/* from here to commit, the tenant's other issue() calls wait */
	api_execute(counter_plan, (Datum[]) {Int64GetDatum(org_id)}, NULL, false,
				SPI_OK_UPDATE_RETURNING);
	if (SPI_processed != 1)
		elog(ERROR, "tenant " INT64_FORMAT " has no invoice counter", org_id);
	number = DatumGetInt64(api_getdatum(0, 1, &isnull));

	if (st.number_to != 0 && number > st.number_to)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the numbering range of tenant " INT64_FORMAT " is exhausted", org_id),
				 errdetail("The authorized range is %s" INT64_FORMAT " to %s" INT64_FORMAT " and all of it has been issued.",
						   st.prefix, st.number_from, st.prefix, st.number_to),
				 errhint("Register a new resolution with invoice.update_organization(), setting \"number_from\" and \"number_to\".")));

	issued_at = GetCurrentTimestamp();
	check_validity(&st, issued_at);

	/* the result must outlive SPI_finish */
	number_text = MemoryContextStrdup(fn_cxt, psprintf("%s" INT64_FORMAT, st.prefix, number));
	api_execute(issue_plan,
				(Datum[]) {Int64GetDatum(org_id), Int64GetDatum(invoice_id),
					Int64GetDatum(number), CStringGetTextDatum(number_text),
					TimestampTzGetDatum(issued_at)},
				NULL, false, SPI_OK_UPDATE);
	api_end(&call);

	PG_RETURN_TEXT_P(cstring_to_text(number_text));
}
