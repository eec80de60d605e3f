/*-------------------------------------------------------------------------
 *
 * rollup.c
 *	  The figures per tenant that metrics() reads: invoices by status,
 *	  overdue invoices and their balance, the last number issued
 *	  (invoice.tenant_counts), and the daily sales by seller
 *	  (invoice.sales_daily), refreshed by maintenance().  Each tenant's
 *	  row also holds its day's sales summed over the sellers, so that a
 *	  scrape reads one row a tenant.
 *
 * A pass reads only what changed: the audit log's records of
 * invoice.invoices past each tenant's mark, the last audit_id of its
 * chain already read.  A tenant's chain is written under its chain lock
 * and its head (audit_heads.last_audit_id) moves in the same transaction,
 * so one statement that reads a committed head also sees every record up
 * to it: nothing is read twice or skipped.  A pass when nothing changed
 * compares the heads with the marks and stops.
 *
 * A tenant seen for the first time (new, or every tenant after an upgrade
 * or a restore: the tables are derived and not dumped) is counted once
 * from its invoices, with the head of its chain as its mark, in one
 * statement.  Every record carries the whole row before and after, so a
 * change counts as "minus the old row, plus the new row".
 *
 * Runs inside maintenance(), under its advisory lock, as the owner of the
 * tables; nothing of any caller reaches the SQL.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "portability/instr_time.h"

#include "exec.h"
#include "rollup.h"

#define EQ		" OPERATOR(pg_catalog.=) "
#define NE		" OPERATOR(pg_catalog.<>) "
#define GT		" OPERATOR(pg_catalog.>) "
#define LE		" OPERATOR(pg_catalog.<=) "
#define PLUS	" OPERATOR(pg_catalog.+) "
#define MINUS	" OPERATOR(pg_catalog.-) "
#define FIELD	" OPERATOR(pg_catalog.->>) "

/* a row's day of issue (or of void) in its tenant's time zone */
#define DAY_SQL(row, column, zone) \
	"pg_catalog.timezone(" zone ", (" row FIELD "'" column "')::pg_catalog.timestamptz)::pg_catalog.date"

/* 1 when the jsonb row (NULL: none) has the status, else 0 */
#define HAS_STATUS(row, status) \
	"COALESCE((" row FIELD "'status')" EQ "'" status "', false)::pg_catalog.int4"

/* whether the jsonb row is overdue: issued and marked so */
#define IS_OVERDUE(row) \
	"COALESCE((" row FIELD "'status')" EQ "'issued'" \
	" AND (" row FIELD "'overdue')::pg_catalog.bool, false)"

/* what an overdue row still owes, else 0 */
#define OWED(row) \
	"CASE WHEN " IS_OVERDUE(row) " THEN (" row FIELD "'total')::pg_catalog.numeric" \
	MINUS "(" row FIELD "'amount_paid')::pg_catalog.numeric ELSE 0 END"

/*
 * The tenants counted for the first time: from their invoices, with the
 * head of their chain as mark.
 */
static const char *const init_sql =
"WITH fresh AS ("
" SELECT o.org_id, o.timezone, COALESCE(h.last_audit_id, 0) AS mark"
" FROM invoice.organizations o"
" LEFT JOIN invoice.audit_heads h ON h.org_id" EQ "o.org_id"
" WHERE NOT EXISTS (SELECT FROM invoice.tenant_counts c WHERE c.org_id" EQ "o.org_id)),"
" events AS ("
" SELECT i.org_id, pg_catalog.timezone(f.timezone, i.issued_at)::pg_catalog.date AS day,"
"  COALESCE(i.created_by, 0) AS seller_id, 1 AS issued, 0 AS voided,"
"  i.subtotal, i.tax_total AS tax, i.total, 0::pg_catalog.numeric AS voided_total"
" FROM fresh f JOIN invoice.invoices i ON i.org_id" EQ "f.org_id"
" WHERE i.status" NE "'draft'"
" UNION ALL"
" SELECT i.org_id, pg_catalog.timezone(f.timezone, i.voided_at)::pg_catalog.date,"
"  COALESCE(i.created_by, 0), 0, 1, 0, 0, 0, i.total"
" FROM fresh f JOIN invoice.invoices i ON i.org_id" EQ "f.org_id"
" WHERE i.status" EQ "'void'),"
" daily AS ("
" INSERT INTO invoice.sales_daily (org_id, day, seller_id, issued, voided, subtotal, tax, total, voided_total)"
" SELECT org_id, day, seller_id, pg_catalog.sum(issued), pg_catalog.sum(voided), pg_catalog.sum(subtotal),"
"  pg_catalog.sum(tax), pg_catalog.sum(total), pg_catalog.sum(voided_total)"
" FROM events GROUP BY org_id, day, seller_id)"
" INSERT INTO invoice.tenant_counts (org_id, audit_mark, drafts, issued, paid, voided,"
"  overdue, overdue_balance, last_number)"
" SELECT f.org_id, f.mark,"
"  pg_catalog.count(i.invoice_id) FILTER (WHERE i.status" EQ "'draft'),"
"  pg_catalog.count(i.invoice_id) FILTER (WHERE i.status" EQ "'issued'),"
"  pg_catalog.count(i.invoice_id) FILTER (WHERE i.status" EQ "'paid'),"
"  pg_catalog.count(i.invoice_id) FILTER (WHERE i.status" EQ "'void'),"
"  pg_catalog.count(i.invoice_id) FILTER (WHERE " IS_OVERDUE("pg_catalog.to_jsonb(i)") "),"
"  COALESCE(pg_catalog.sum(" OWED("pg_catalog.to_jsonb(i)") "), 0),"
"  pg_catalog.max(i.number)"
" FROM fresh f LEFT JOIN invoice.invoices i ON i.org_id" EQ "f.org_id"
" GROUP BY f.org_id, f.mark";

/*
 * The records past each tenant's mark: the days' sales, the counts'
 * changes, and the new mark.
 */
static const char *const delta_sql =
"WITH marks AS ("
" SELECT c.org_id, c.audit_mark AS lo, h.last_audit_id AS hi, o.timezone"
" FROM invoice.tenant_counts c"
" JOIN invoice.audit_heads h ON h.org_id" EQ "c.org_id"
" JOIN invoice.organizations o ON o.org_id" EQ "c.org_id"
" WHERE h.last_audit_id" GT "c.audit_mark),"
" recs AS ("
" SELECT m.org_id, m.timezone, a.old_row AS o, a.new_row AS n"
" FROM marks m JOIN invoice.audit_log a ON a.org_id" EQ "m.org_id"
"  AND a.audit_id" GT "m.lo AND a.audit_id" LE "m.hi"
" WHERE a.table_name" EQ "'invoice.invoices'),"
" events AS ("
" SELECT org_id, " DAY_SQL("n", "issued_at", "timezone") " AS day,"
"  COALESCE((n" FIELD "'created_by')::pg_catalog.int8, 0) AS seller_id, 1 AS issued, 0 AS voided,"
"  (n" FIELD "'subtotal')::pg_catalog.numeric AS subtotal,"
"  (n" FIELD "'tax_total')::pg_catalog.numeric AS tax,"
"  (n" FIELD "'total')::pg_catalog.numeric AS total, 0::pg_catalog.numeric AS voided_total"
" FROM recs WHERE (n" FIELD "'status')" NE "'draft'"
"  AND COALESCE(o" FIELD "'status', 'draft')" EQ "'draft'"
" UNION ALL"
" SELECT org_id, " DAY_SQL("n", "voided_at", "timezone") ","
"  COALESCE((n" FIELD "'created_by')::pg_catalog.int8, 0), 0, 1, 0, 0, 0,"
"  (n" FIELD "'total')::pg_catalog.numeric"
" FROM recs WHERE (n" FIELD "'status')" EQ "'void'"
"  AND COALESCE(o" FIELD "'status', '')" NE "'void'),"
" daily AS ("
" INSERT INTO invoice.sales_daily AS s (org_id, day, seller_id, issued, voided, subtotal, tax, total, voided_total)"
" SELECT org_id, day, seller_id, pg_catalog.sum(issued), pg_catalog.sum(voided), pg_catalog.sum(subtotal),"
"  pg_catalog.sum(tax), pg_catalog.sum(total), pg_catalog.sum(voided_total)"
" FROM events GROUP BY org_id, day, seller_id"
" ON CONFLICT (org_id, day, seller_id) DO UPDATE SET"
"  issued = s.issued" PLUS "EXCLUDED.issued, voided = s.voided" PLUS "EXCLUDED.voided,"
"  subtotal = s.subtotal" PLUS "EXCLUDED.subtotal, tax = s.tax" PLUS "EXCLUDED.tax,"
"  total = s.total" PLUS "EXCLUDED.total, voided_total = s.voided_total" PLUS "EXCLUDED.voided_total),"
" deltas AS ("
" SELECT m.org_id, m.hi,"
"  COALESCE(pg_catalog.sum(" HAS_STATUS("r.n", "draft") MINUS HAS_STATUS("r.o", "draft") "), 0) AS drafts,"
"  COALESCE(pg_catalog.sum(" HAS_STATUS("r.n", "issued") MINUS HAS_STATUS("r.o", "issued") "), 0) AS issued,"
"  COALESCE(pg_catalog.sum(" HAS_STATUS("r.n", "paid") MINUS HAS_STATUS("r.o", "paid") "), 0) AS paid,"
"  COALESCE(pg_catalog.sum(" HAS_STATUS("r.n", "void") MINUS HAS_STATUS("r.o", "void") "), 0) AS voided,"
"  COALESCE(pg_catalog.sum(" IS_OVERDUE("r.n") "::pg_catalog.int4" MINUS IS_OVERDUE("r.o") "::pg_catalog.int4), 0) AS overdue,"
"  COALESCE(pg_catalog.sum((" OWED("r.n") ")" MINUS "(" OWED("r.o") ")), 0) AS owed,"
"  pg_catalog.max((r.n" FIELD "'number')::pg_catalog.int8) AS last_number"
" FROM marks m LEFT JOIN recs r ON r.org_id" EQ "m.org_id"
" GROUP BY m.org_id, m.hi)"
" UPDATE invoice.tenant_counts c SET audit_mark = d.hi,"
"  drafts = c.drafts" PLUS "d.drafts, issued = c.issued" PLUS "d.issued,"
"  paid = c.paid" PLUS "d.paid, voided = c.voided" PLUS "d.voided,"
"  overdue = c.overdue" PLUS "d.overdue, overdue_balance = c.overdue_balance" PLUS "d.owed,"
"  last_number = GREATEST(c.last_number, d.last_number)"
" FROM deltas d WHERE c.org_id" EQ "d.org_id";

/*
 * The sales of each tenant's day, summed over its sellers, for metrics():
 * again for the tenants whose mark moved since they were summed and for
 * those whose day changed (midnight in their time zone, or a new zone).
 * An idle pass finds no such tenant.
 */
static const char *const today_sql =
"UPDATE invoice.tenant_counts c SET today = x.today, today_mark = c.audit_mark,"
"  today_issued = COALESCE(t.issued, 0), today_subtotal = COALESCE(t.subtotal, 0),"
"  today_tax = COALESCE(t.tax, 0), today_total = COALESCE(t.total, 0)"
" FROM (SELECT k.org_id, pg_catalog.timezone(o.timezone, pg_catalog.now())::pg_catalog.date AS today"
"  FROM invoice.tenant_counts k JOIN invoice.organizations o ON o.org_id" EQ "k.org_id"
"  WHERE k.today_mark IS DISTINCT FROM k.audit_mark"
"  OR k.today IS DISTINCT FROM pg_catalog.timezone(o.timezone, pg_catalog.now())::pg_catalog.date) x"
" LEFT JOIN LATERAL (SELECT pg_catalog.sum(s.issued)::pg_catalog.int8 AS issued,"
"  pg_catalog.sum(s.subtotal) AS subtotal, pg_catalog.sum(s.tax) AS tax, pg_catalog.sum(s.total) AS total"
"  FROM invoice.sales_daily s WHERE s.org_id" EQ "x.org_id AND s.day" EQ "x.today) t ON true"
" WHERE c.org_id" EQ "x.org_id";

/*
 * rollup_refresh
 *		The maintenance step: counts the new tenants, then reads what
 *		changed past every tenant's mark.  Reports how many tenants each
 *		statement touched.  Called inside api_begin.
 */
void
rollup_refresh(StringInfo out)
{
	static SPIPlanPtr init_plan = NULL;
	static SPIPlanPtr delta_plan = NULL;
	static SPIPlanPtr today_plan = NULL;
	instr_time	start;
	instr_time	end;
	uint64		counted;
	uint64		changed;
	uint64		days;

	INSTR_TIME_SET_CURRENT(start);
	api_prepare_once(&init_plan, init_sql, 0, NULL);
	api_prepare_once(&delta_plan, delta_sql, 0, NULL);
	api_prepare_once(&today_plan, today_sql, 0, NULL);
	api_execute(init_plan, NULL, NULL, false, SPI_OK_INSERT);
	counted = SPI_processed;
	api_execute(delta_plan, NULL, NULL, false, SPI_OK_UPDATE);
	changed = SPI_processed;
	/* a statement of its own: it reads what the two above wrote */
	api_execute(today_plan, NULL, NULL, false, SPI_OK_UPDATE);
	days = SPI_processed;

	INSTR_TIME_SET_CURRENT(end);
	INSTR_TIME_SUBTRACT(end, start);
	appendStringInfo(out, "\"rollup\": {\"tenants_counted\": " UINT64_FORMAT
					 ", \"tenants_changed\": " UINT64_FORMAT
					 ", \"days_summed\": " UINT64_FORMAT ", \"ms\": %.3f}",
					 counted, changed, days, INSTR_TIME_GET_MILLISEC(end));
}
