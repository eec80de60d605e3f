/*-------------------------------------------------------------------------
 *
 * numbering.c
 *	  Gapless per-tenant invoice numbers: invoice.issue().
 *
 * The numbering row of a tenant (invoice.invoice_counters) is locked only
 * inside issue(), after every check that can fail on the invoice itself,
 * and stays locked until the transaction commits (its commit record, when
 * another issue() waits: see commit.c) or aborts: a concurrent issue() in the
 * same tenant waits for it, then reads the last number issued from the
 * unique index and takes the next, so numbers follow the order of commit,
 * and a rolled-back issue() gives its number back.  The row is locked, not
 * updated: a counter column rewritten thousands of times a minute piles up
 * dead versions that every waiter has to walk.
 * Two tenants never share a counter, so they never wait on each other.
 * Numbers are never reused, even after void.
 *
 * The authorized range and the resolution's validity dates come from the
 * tenant settings cache; the date of issue is taken in the tenant's time
 * zone, from the clock read after the counter lock was granted, so that
 * issued_at grows with the number.
 *
 * The statement that issues also keeps, with the invoice, what its
 * document shows of the seller and the customer (numbering_write_issue).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/inval.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "commit.h"
#include "exec.h"
#include "lifecycle.h"
#include "numbering.h"
#include "tenant.h"
#include "invoice_doc.h"

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
 * numbering_lock
 *		Locks the tenant's numbering row until the end of the transaction.
 *		The row is only a lock: it is never updated, so a busy tenant leaves
 *		no trail of dead row versions for the next waiter to walk.
 */
void
numbering_lock(int64 org_id)
{
	static SPIPlanPtr plan = NULL;

	api_prepare_once(&plan, "SELECT 1 FROM invoice.invoice_counters"
					 " WHERE org_id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
					 1, (Oid[]) {INT8OID});
	api_execute(plan, (Datum[]) {Int64GetDatum(org_id)}, NULL, false, SPI_OK_SELECT);
	if (SPI_processed != 1)
		elog(ERROR, "tenant " INT64_FORMAT " has no numbering row", org_id);
	commit_release_early();
}

/*
 * numbering_last
 *		The last number the tenant issued (false when none), read from
 *		invoices_number_key with the latest snapshot: once numbering_lock()
 *		returned, whoever held the lock before has committed or aborted,
 *		and this sees it whatever the isolation level of the transaction.
 */
bool
numbering_last(int64 org_id, int64 *last)
{
	static SPIPlanPtr plan = NULL;
	bool		isnull;

	api_prepare_once(&plan, "SELECT pg_catalog.max(number) FROM invoice.invoices"
					 " WHERE org_id OPERATOR(pg_catalog.=) $1",
					 1, (Oid[]) {INT8OID});
	if (SPI_execute_snapshot(plan, (Datum[]) {Int64GetDatum(org_id)}, NULL,
							 GetLatestSnapshot(), InvalidSnapshot,
							 true, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the last invoice number");
	*last = DatumGetInt64(api_getdatum(0, 1, &isnull));
	return !isnull;
}

/*
 * numbering_write_issue
 *		Makes a locked draft the issued (or, when it owes nothing, paid)
 *		invoice `number_text`, and keeps with it what its document shows
 *		of the seller and the customer (invoice_doc.h), in one statement
 *		that reads them from their current rows: from now on the document
 *		prints those, whatever later happens to the rows.  Every issuing
 *		function (issue, create_and_issue) writes through here.
 *
 *		The due date, too: an invoice issued unpaid without one is due the
 *		tenant's payment_terms_days after its day of issue (in the tenant's
 *		time zone) when the tenant set them; a due date before the day of
 *		issue is refused (22023), and the transaction with it.
 */
void
numbering_write_issue(int64 org_id, int64 invoice_id, int64 number,
					  const char *number_text, TimestampTz issued_at, bool paid)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_0_1 = NULL;
	SPIPlanPtr	p;

	if (doc_schema_has("invoices", "seller_snapshot"))
		p = api_prepare_once(&plan,
							 "UPDATE invoice.invoices i SET number = $3,"
							 " number_text = $4, issued_at = $5,"
							 " status = CASE WHEN $6 THEN 'paid' ELSE 'issued' END,"
							 " paid_at = CASE WHEN $6 THEN $5 END,"
							 " seller_snapshot = " DOC_SELLER_SNAPSHOT_SQL("j.ro") ","
							 " customer_snapshot = " DOC_CUSTOMER_SNAPSHOT_SQL("j.rc") ","
							 " due_date = COALESCE(i.due_date, CASE WHEN NOT $6"
							 "  THEN j.day OPERATOR(pg_catalog.+) o.payment_terms_days END)"
							 " FROM invoice.organizations o, invoice.customers c,"
							 " LATERAL (SELECT pg_catalog.to_jsonb(o) AS ro,"
							 " pg_catalog.to_jsonb(c) AS rc,"
							 " pg_catalog.timezone(o.timezone, $5)::pg_catalog.date AS day"
							 /* evaluated once, not once per reference (see invoice_doc.h) */
							 " OFFSET 0) j"
							 " WHERE i.org_id OPERATOR(pg_catalog.=) $1"
							 " AND i.invoice_id OPERATOR(pg_catalog.=) $2"
							 " AND o.org_id OPERATOR(pg_catalog.=) i.org_id"
							 " AND c.org_id OPERATOR(pg_catalog.=) i.org_id"
							 " AND c.customer_id OPERATOR(pg_catalog.=) i.customer_id"
							 " RETURNING pg_catalog.to_char(i.due_date, 'YYYY-MM-DD'),"
							 " CASE WHEN i.due_date OPERATOR(pg_catalog.<) j.day"
							 "  THEN pg_catalog.to_char(j.day, 'YYYY-MM-DD') END",
							 6, (Oid[]) {INT8OID, INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID, BOOLOID});
	else
	{
		/* the extension is still at 0.1: nothing is kept until it is updated */
		p = api_prepare_once(&plan_0_1,
							 "UPDATE invoice.invoices SET number = $3,"
							 " number_text = $4, issued_at = $5,"
							 " status = CASE WHEN $6 THEN 'paid' ELSE 'issued' END,"
							 " paid_at = CASE WHEN $6 THEN $5 END"
							 " WHERE org_id OPERATOR(pg_catalog.=) $1"
							 " AND invoice_id OPERATOR(pg_catalog.=) $2",
							 6, (Oid[]) {INT8OID, INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID, BOOLOID});
	}
	api_execute(p,
				(Datum[]) {Int64GetDatum(org_id), Int64GetDatum(invoice_id),
					Int64GetDatum(number), CStringGetTextDatum(number_text),
					TimestampTzGetDatum(issued_at), BoolGetDatum(paid)},
				NULL, false, p == plan ? SPI_OK_UPDATE_RETURNING : SPI_OK_UPDATE);
	if (SPI_processed != 1)
		elog(ERROR, "issued " UINT64_FORMAT " invoices, expected 1", SPI_processed);
	if (p == plan && api_gettext(0, 2) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"due_date\" %s of invoice " INT64_FORMAT " is before its day of issue, %s",
						api_gettext(0, 1), invoice_id, api_gettext(0, 2)),
				 errhint("Set a later due date with invoice.set_due_date(), or none.")));
}

/*
 * numbering_next
 *		Locks the tenant's numbering (until the end of the transaction; from
 *		here the tenant's other issuers wait) and takes its next number,
 *		inside the authorized range, with the time of issue read after the
 *		lock was granted and inside the resolution's validity.  The number's
 *		text is allocated in `result_cxt`.
 */
void
numbering_next(int64 org_id, MemoryContext result_cxt, IssueNumber *out)
{
	TenantSettings st;
	int64		number;

	numbering_lock(org_id);

	/* settings changed by whoever held the lock before us count now */
	AcceptInvalidationMessages();
	if (!tenant_settings(org_id, &st))
		elog(ERROR, "tenant " INT64_FORMAT " vanished", org_id);
	if (!numbering_last(org_id, &number) || number < st.number_from)
		number = st.number_from;
	else
		number++;

	if (st.number_to != 0 && number > st.number_to)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the numbering range of tenant " INT64_FORMAT " is exhausted", org_id),
				 errdetail("The authorized range is %s" INT64_FORMAT " to %s" INT64_FORMAT " and all of it has been issued.",
						   st.prefix, st.number_from, st.prefix, st.number_to),
				 errhint("Register a new resolution with invoice.update_organization(), setting \"number_from\" and \"number_to\".")));

	out->issued_at = GetCurrentTimestamp();
	check_validity(&st, out->issued_at);
	out->number = number;
	out->number_text = MemoryContextStrdup(result_cxt,
										   psprintf("%s" INT64_FORMAT, st.prefix, number));
}

/*
 * invoice_issue
 *		Gives a draft the next number of the tenant's series.
 */
Datum
invoice_issue(PG_FUNCTION_ARGS)
{
	int64		org_id = tenant_require();
	int64		invoice_id;
	InvoiceHeader h;
	IssueNumber n;
	MemoryContext fn_cxt = CurrentMemoryContext;
	ApiCall		call;

	invoice_id = invoice_open(fcinfo, org_id, STATUS_DRAFT, "issue", &h, &call);

	if (h.item_count == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot issue invoice " INT64_FORMAT ": it has no items", invoice_id),
				 errhint("Add items with invoice.add_item() first.")));

	/* the number's text must outlive SPI_finish */
	numbering_next(org_id, fn_cxt, &n);
	/* nothing to pay (every line free): amount_paid = total already */
	numbering_write_issue(org_id, invoice_id, n.number, n.number_text, n.issued_at,
						  h.totals.total == 0);
	api_end(&call);

	PG_RETURN_TEXT_P(cstring_to_text(n.number_text));
}
