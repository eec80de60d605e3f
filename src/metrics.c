/*-------------------------------------------------------------------------
 *
 * metrics.c
 *	  metrics(): the Prometheus text exposition (format 0.0.4) of the
 *	  figures per tenant and of the extension's health.
 *
 * A scrape reads small tables only: the tenants, their counts and daily
 * sales that maintenance() keeps (src/rollup.c), the heads of their audit
 * chains, the last audit_check(), the last maintenance pass and the Telegram queues.  It never
 * reads the invoices, so its figures are as fresh as the last pass
 * (invoice_maintenance_last_run_timestamp_seconds says when that was).
 *
 * Every family has its HELP and TYPE, its samples together; label values
 * (a tenant's name is free text) are escaped as the format says:
 * backslash, double quote and line feed.  Counters end in _total.
 *
 * Who may call: members of invoice_admin and superusers.  It runs as the
 * owner of the tables, across tenants.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "exec.h"
#include "tenant.h"

PG_FUNCTION_INFO_V1(invoice_metrics);

/* the columns of the tenants statement */
#define Anum_m_org_id			1
#define Anum_m_org				2
#define Anum_m_drafts			3
#define Anum_m_issued			4
#define Anum_m_paid				5
#define Anum_m_void				6
#define Anum_m_overdue			7
#define Anum_m_overdue_balance	8
#define Anum_m_today_invoices	9
#define Anum_m_today_subtotal	10
#define Anum_m_today_tax		11
#define Anum_m_today_total		12
#define Anum_m_numbers_left		13
#define Anum_m_seconds_left		14
#define Anum_m_audit_rows		15
#define Anum_m_audit_written	16
#define Anum_m_chain_ok			17
#define Anum_m_ncols			17

#define EQ		" OPERATOR(pg_catalog.=) "
#define MINUS	" OPERATOR(pg_catalog.-) "
#define PLUS	" OPERATOR(pg_catalog.+) "

static const char *const tenants_sql =
"SELECT o.org_id::pg_catalog.text, o.name,"
" COALESCE(c.drafts, 0)::pg_catalog.text, COALESCE(c.issued, 0)::pg_catalog.text,"
" COALESCE(c.paid, 0)::pg_catalog.text, COALESCE(c.voided, 0)::pg_catalog.text,"
" COALESCE(c.overdue, 0)::pg_catalog.text, COALESCE(c.overdue_balance, 0)::pg_catalog.text,"
" COALESCE(t.issued, 0)::pg_catalog.text, COALESCE(t.subtotal, 0)::pg_catalog.text,"
" COALESCE(t.tax, 0)::pg_catalog.text, COALESCE(t.total, 0)::pg_catalog.text,"
" (o.number_to" MINUS "GREATEST(c.last_number, o.number_from" MINUS "1))::pg_catalog.text,"
" pg_catalog.date_part('epoch', pg_catalog.timezone(o.timezone,"
"  (o.valid_to" PLUS "1)::pg_catalog.timestamp)" MINUS "pg_catalog.now())::pg_catalog.text,"
" COALESCE(h.row_count, 0)::pg_catalog.text,"
" (COALESCE(h.row_count, 0)" PLUS "COALESCE(h.purged_rows, 0))::pg_catalog.text,"
" CASE WHEN k.checked_at IS NOT NULL THEN"
"  (o.org_id OPERATOR(pg_catalog.<>) ALL (k.bad_orgs))::pg_catalog.int4::pg_catalog.text END"
" FROM invoice.organizations o"
" LEFT JOIN (SELECT a.checked_at, a.bad_orgs FROM invoice.audit_checks a"
"  ORDER BY a.checked_at DESC LIMIT 1) k ON k.checked_at OPERATOR(pg_catalog.>=) o.created_at"
" LEFT JOIN invoice.tenant_counts c ON c.org_id" EQ "o.org_id"
" LEFT JOIN invoice.audit_heads h ON h.org_id" EQ "o.org_id"
" LEFT JOIN LATERAL (SELECT pg_catalog.sum(s.issued) AS issued, pg_catalog.sum(s.subtotal) AS subtotal,"
"  pg_catalog.sum(s.tax) AS tax, pg_catalog.sum(s.total) AS total"
"  FROM invoice.sales_daily s WHERE s.org_id" EQ "o.org_id"
"  AND s.day" EQ "pg_catalog.timezone(o.timezone, pg_catalog.now())::pg_catalog.date) t ON true"
" ORDER BY o.org_id";

static const char *const global_sql =
"SELECT (SELECT pg_catalog.date_part('epoch', m.last_started_at)::pg_catalog.text"
"  FROM invoice.maintenance_state m),"
" (SELECT (m.last_duration_ms OPERATOR(pg_catalog./) 1000)::pg_catalog.text FROM invoice.maintenance_state m),"
" (SELECT m.runs::pg_catalog.text FROM invoice.maintenance_state m),"
" (SELECT pg_catalog.count(*) FILTER (WHERE handled_at IS NOT NULL)::pg_catalog.text"
"  FROM invoice.telegram_inbox),"
" (SELECT pg_catalog.count(*) FILTER (WHERE handled_at IS NULL)::pg_catalog.text"
"  FROM invoice.telegram_inbox),"
" (SELECT pg_catalog.count(*) FILTER (WHERE sent_at IS NOT NULL)::pg_catalog.text FROM invoice.telegram_outbox),"
" (SELECT pg_catalog.count(*) FILTER (WHERE dropped_at IS NOT NULL)::pg_catalog.text FROM invoice.telegram_outbox),"
" (SELECT pg_catalog.count(*) FILTER (WHERE sent_at IS NULL AND dropped_at IS NULL)::pg_catalog.text"
"  FROM invoice.telegram_outbox),"
" (SELECT pg_catalog.date_part('epoch', pg_catalog.max(a.checked_at))::pg_catalog.text"
"  FROM invoice.audit_checks a)";

/* append a label value, escaped: \ " and line feed */
static void
append_label_value(StringInfo out, const char *s)
{
	for (; *s; s++)
	{
		if (*s == '\\')
			appendStringInfoString(out, "\\\\");
		else if (*s == '"')
			appendStringInfoString(out, "\\\"");
		else if (*s == '\n')
			appendStringInfoString(out, "\\n");
		else
			appendStringInfoChar(out, *s);
	}
}

static void
family(StringInfo out, const char *name, const char *type, const char *help)
{
	appendStringInfo(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * tenant_labels
 *		The labels of a tenant, org_id="..",org="..", escaped once and
 *		written into every one of its samples.
 */
static char *
tenant_labels(char **row)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "org_id=\"%s\",org=\"", row[Anum_m_org_id - 1]);
	append_label_value(&buf, row[Anum_m_org - 1]);
	appendStringInfoChar(&buf, '"');
	return buf.data;
}

/*
 * tenant_sample
 *		One sample of a tenant: name{labels[,extra]} value.  A scrape of
 *		10 000 tenants writes some 160 000 of them: plain appends, no
 *		format parsing.
 */
static void
tenant_sample(StringInfo out, const char *name, const char *labels,
			  const char *extra, const char *value)
{
	appendStringInfoString(out, name);
	appendStringInfoChar(out, '{');
	appendStringInfoString(out, labels);
	if (extra)
		appendStringInfoString(out, extra);
	appendStringInfoString(out, "} ");
	appendStringInfoString(out, value);
	appendStringInfoChar(out, '\n');
}

/*
 * tenant_family
 *		One family with a sample per tenant, from column `col`; tenants
 *		where it is NULL (no range, no resolution) have none.
 */
static void
tenant_family(StringInfo out, char ***rows, char **labels, uint64 nrows,
			  const char *name, const char *type, const char *help, int col)
{
	uint64		i;

	family(out, name, type, help);
	for (i = 0; i < nrows; i++)
		if (rows[i][col - 1] != NULL)
			tenant_sample(out, name, labels[i], NULL, rows[i][col - 1]);
}

/*
 * invoice_metrics
 *		The exposition, as one text ending with a line feed.
 */
Datum
invoice_metrics(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr tenants_plan = NULL;
	static SPIPlanPtr global_plan = NULL;
	static const char *const statuses[] = {
		",status=\"draft\"", ",status=\"issued\"", ",status=\"paid\"", ",status=\"void\""
	};
	StringInfoData out;
	MemoryContext fn_cxt = CurrentMemoryContext;
	MemoryContext spi_cxt;
	char	  **global;
	char	 ***rows;
	char	  **labels;
	uint64		nrows;
	uint64		i;
	int			col;
	ApiCall		call;

	require_platform_admin("read the metrics of the invoice extension");
	initStringInfo(&out);

	api_begin(&call);
	api_prepare_once(&tenants_plan, tenants_sql, 0, NULL);
	api_prepare_once(&global_plan, global_sql, 0, NULL);
	api_execute(tenants_plan, NULL, NULL, true, SPI_OK_SELECT);
	/* the values must outlive SPI_finish */
	spi_cxt = MemoryContextSwitchTo(fn_cxt);
	nrows = SPI_processed;
	rows = palloc(Max(nrows, 1) * sizeof(char **));
	labels = palloc(Max(nrows, 1) * sizeof(char *));
	for (i = 0; i < nrows; i++)
	{
		rows[i] = palloc(Anum_m_ncols * sizeof(char *));
		for (col = 1; col <= Anum_m_ncols; col++)
			rows[i][col - 1] = api_gettext(i, col);
		labels[i] = tenant_labels(rows[i]);
	}
	MemoryContextSwitchTo(spi_cxt);
	api_execute(global_plan, NULL, NULL, true, SPI_OK_SELECT);
	MemoryContextSwitchTo(fn_cxt);
	global = palloc(9 * sizeof(char *));
	for (col = 1; col <= 9; col++)
		global[col - 1] = api_gettext(0, col);
	MemoryContextSwitchTo(spi_cxt);
	api_end(&call);

	family(&out, "invoice_invoices", "gauge",
		   "Invoices of the tenant by status, as of the last maintenance pass.");
	for (i = 0; i < nrows; i++)
	{
		int			s;

		for (s = 0; s < lengthof(statuses); s++)
			tenant_sample(&out, "invoice_invoices", labels[i], statuses[s],
						  rows[i][Anum_m_drafts - 1 + s]);
	}
	tenant_family(&out, rows, labels, nrows, "invoice_overdue_invoices", "gauge",
				  "Issued invoices past their due date, as of the last maintenance pass.",
				  Anum_m_overdue);
	tenant_family(&out, rows, labels, nrows, "invoice_overdue_balance", "gauge",
				  "What the overdue invoices still owe, in the tenant's currency.",
				  Anum_m_overdue_balance);
	tenant_family(&out, rows, labels, nrows, "invoice_issued_today_invoices", "gauge",
				  "Invoices issued today, the tenant's day in its time zone.",
				  Anum_m_today_invoices);
	tenant_family(&out, rows, labels, nrows, "invoice_issued_today_subtotal", "gauge",
				  "Subtotal of the invoices issued today, in the tenant's currency.",
				  Anum_m_today_subtotal);
	tenant_family(&out, rows, labels, nrows, "invoice_issued_today_tax", "gauge",
				  "Tax of the invoices issued today, in the tenant's currency.",
				  Anum_m_today_tax);
	tenant_family(&out, rows, labels, nrows, "invoice_issued_today_amount", "gauge",
				  "Total of the invoices issued today, in the tenant's currency.",
				  Anum_m_today_total);
	tenant_family(&out, rows, labels, nrows, "invoice_numbers_left", "gauge",
				  "Numbers left in the authorized range (tenants with an upper bound).",
				  Anum_m_numbers_left);
	tenant_family(&out, rows, labels, nrows, "invoice_resolution_remaining_seconds", "gauge",
				  "Time left until the DIAN resolution expires, at the end of valid_to in the tenant's time zone (tenants with valid_to; 86400 a day).",
				  Anum_m_seconds_left);
	tenant_family(&out, rows, labels, nrows, "invoice_audit_rows", "gauge",
				  "Rows of the tenant's audit chain kept.",
				  Anum_m_audit_rows);
	tenant_family(&out, rows, labels, nrows, "invoice_audit_rows_written_total", "counter",
				  "Rows ever written to the tenant's audit chain, purged ones included.",
				  Anum_m_audit_written);
	tenant_family(&out, rows, labels, nrows, "invoice_audit_chain_verified", "gauge",
				  "1 when the tenant's audit chain verified at the last audit_check(), 0 when it did not (tenants that existed then).",
				  Anum_m_chain_ok);
	family(&out, "invoice_audit_last_check_timestamp_seconds", "gauge",
		   "When audit_check() last verified every chain, in seconds since the epoch.");
	if (global[8] != NULL)
		appendStringInfo(&out, "invoice_audit_last_check_timestamp_seconds %s\n", global[8]);

	family(&out, "invoice_maintenance_last_run_timestamp_seconds", "gauge",
		   "When the last maintenance pass started, in seconds since the epoch.");
	if (global[0] != NULL)
		appendStringInfo(&out, "invoice_maintenance_last_run_timestamp_seconds %s\n", global[0]);
	family(&out, "invoice_maintenance_last_duration_seconds", "gauge",
		   "How long the last maintenance pass took.");
	if (global[1] != NULL)
		appendStringInfo(&out, "invoice_maintenance_last_duration_seconds %s\n", global[1]);
	family(&out, "invoice_maintenance_runs_total", "counter",
		   "Maintenance passes run.");
	appendStringInfo(&out, "invoice_maintenance_runs_total %s\n", global[2] ? global[2] : "0");
	family(&out, "invoice_telegram_updates", "gauge",
		   "Telegram updates remembered by the bridge's inbox (kept for days), handled or not.");
	appendStringInfo(&out, "invoice_telegram_updates{state=\"handled\"} %s\n", global[3]);
	appendStringInfo(&out, "invoice_telegram_updates{state=\"pending\"} %s\n", global[4]);
	family(&out, "invoice_telegram_replies", "gauge",
		   "Telegram replies in the bridge's outbox (kept for days): sent, dropped after failing, or pending.");
	appendStringInfo(&out, "invoice_telegram_replies{state=\"sent\"} %s\n", global[5]);
	appendStringInfo(&out, "invoice_telegram_replies{state=\"dropped\"} %s\n", global[6]);
	appendStringInfo(&out, "invoice_telegram_replies{state=\"pending\"} %s\n", global[7]);

	PG_RETURN_TEXT_P(cstring_to_text_with_len(out.data, out.len));
}
