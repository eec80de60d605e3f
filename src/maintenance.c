/*-------------------------------------------------------------------------
 *
 * maintenance.c
 *	  Housekeeping (maintenance), its pg_cron job, and health for DBAs.
 *
 * maintenance() is one idempotent pass: every step makes a state true
 * ("the audit log has partitions up to two months ahead", "no audit row is
 * older than its tenant's retention", "no inbox row is older than its age",
 * "overdue invoices are marked", "the rollup has read the audit log up to
 * every tenant's head", "statistics are fresh"), so running it twice does
 * nothing the second time.  Passes never run side by side: a pass holds a
 * transaction-level advisory lock, and a second caller that cannot take it
 * at once returns {"skipped": true} without waiting.
 *
 * pg_cron is optional and lives in the one database named by
 * cron.database_name, in schema "cron", which may not exist when the
 * extension is created: it is looked up at call time only, and its
 * statements are prepared only once it is known to be there.
 *
 * Who may call: members of invoice_admin and superusers (the owner of the
 * pg_cron job, which runs as the role that scheduled it: the extension's
 * owner, since schedule_maintenance runs its statements as the owner).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "due_dates.h"
#include "exec.h"
#include "lifecycle.h"
#include "rollup.h"
#include "tenant.h"

PG_FUNCTION_INFO_V1(invoice_maintenance);
PG_FUNCTION_INFO_V1(invoice_schedule_maintenance);
PG_FUNCTION_INFO_V1(invoice_unschedule_maintenance);
PG_FUNCTION_INFO_V1(invoice_health);
PG_FUNCTION_INFO_V1(invoice_audit_check);

/* the advisory lock of a pass: "invoicem" in ASCII */
#define MAINTENANCE_LOCK_KEY	INT64CONST(0x696e766f6963656d)

/* the pg_cron job's name, one per database */
#define CRON_JOB_NAME		"invoice-maintenance"

/* how many months ahead of the current one the audit log is partitioned */
#define PARTITION_MONTHS_AHEAD	2

/*
 * How long the bridge's inbox remembers a handled update (and the outbox a
 * reply sent or dropped): Telegram redelivers for 24 hours at most.
 */
#define TELEGRAM_KEEP			"7 days"

/* when a table's statistics are stale: like autovacuum's default rule */
#define ANALYZE_BASE_THRESHOLD	50
#define ANALYZE_SCALE_FACTOR	0.1

static double
elapsed_ms(instr_time start)
{
	instr_time	end;

	INSTR_TIME_SET_CURRENT(end);
	INSTR_TIME_SUBTRACT(end, start);
	return INSTR_TIME_GET_MILLISEC(end);
}

static int64
count_result(void)
{
	bool		isnull;
	Datum		d = api_getdatum(0, 1, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

/*
 * step_partitions
 *		The current month and the next two have their audit partitions.
 */
static void
step_partitions(StringInfo out)
{
	static SPIPlanPtr plan = NULL;
	instr_time	start;
	bool		isnull;
	int32		created;

	INSTR_TIME_SET_CURRENT(start);
	api_prepare_once(&plan, "SELECT invoice.audit_create_partitions($1)",
					 1, (Oid[]) {INT4OID});
	api_execute(plan, (Datum[]) {Int32GetDatum(PARTITION_MONTHS_AHEAD)},
				NULL, false, SPI_OK_SELECT);
	created = DatumGetInt32(api_getdatum(0, 1, &isnull));
	appendStringInfo(out, "\"audit_partitions\": {\"created\": %d, \"ms\": %.3f}",
					 created, elapsed_ms(start));
}

/*
 * step_audit_retention
 *		The tenants that set audit_retention_days keep no audit rows older
 *		than that (audit_purge's removal, per tenant); the others keep
 *		everything: purging is opt-in.
 */
static void
step_audit_retention(StringInfo out)
{
	instr_time	start;
	int64		purged;

	INSTR_TIME_SET_CURRENT(start);
	purged = audit_purge_retained();
	appendStringInfo(out, "\"audit_retention\": {\"purged\": " INT64_FORMAT ", \"ms\": %.3f}",
					 purged, elapsed_ms(start));
}

/* does the relation exist (a name, qualified)? */
static bool
relation_exists(const char *name)
{
	static SPIPlanPtr plan = NULL;
	bool		isnull;

	api_prepare_once(&plan, "SELECT pg_catalog.to_regclass($1) IS NOT NULL",
					 1, (Oid[]) {TEXTOID});
	api_execute(plan, (Datum[]) {CStringGetTextDatum(name)}, NULL, true, SPI_OK_SELECT);
	return DatumGetBool(api_getdatum(0, 1, &isnull));
}

/*
 * step_telegram
 *		Forgets the handled updates and the finished replies of the
 *		Telegram bridge past their age (invoice.telegram_forget).
 */
static void
step_telegram(StringInfo out)
{
	static SPIPlanPtr plan = NULL;
	instr_time	start;

	INSTR_TIME_SET_CURRENT(start);
	api_prepare_once(&plan, "SELECT invoice.telegram_forget('" TELEGRAM_KEEP "')", 0, NULL);
	api_execute(plan, NULL, NULL, false, SPI_OK_SELECT);
	appendStringInfo(out, "\"telegram\": {\"inbox_forgotten\": " INT64_FORMAT ", \"ms\": %.3f}",
					 count_result(), elapsed_ms(start));
}

/*
 * step_analyze
 *		ANALYZEs the extension's tables whose rows changed by more than the
 *		threshold since their last ANALYZE (or that were never analyzed),
 *		and names them.
 */
static void
step_analyze(StringInfo out)
{
	static SPIPlanPtr plan = NULL;
	instr_time	start;
	char	  **tables;
	uint64		ntables;
	uint64		i;

	INSTR_TIME_SET_CURRENT(start);
	api_prepare_once(&plan,
					 "SELECT pg_catalog.quote_ident(s.schemaname) OPERATOR(pg_catalog.||) '.'"
					 " OPERATOR(pg_catalog.||) pg_catalog.quote_ident(s.relname)"
					 " FROM pg_catalog.pg_stat_user_tables s"
					 " JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) s.relid"
					 " WHERE s.schemaname OPERATOR(pg_catalog.=) 'invoice'"
					 " AND c.relkind OPERATOR(pg_catalog.=) 'r'"
					 " AND s.n_mod_since_analyze OPERATOR(pg_catalog.>) 0"
					 " AND s.n_mod_since_analyze::pg_catalog.float8 OPERATOR(pg_catalog.>) ($1"
					 "  OPERATOR(pg_catalog.+) ($2 OPERATOR(pg_catalog.*)"
					 "  GREATEST(c.reltuples, 0)::pg_catalog.float8))"
					 " ORDER BY 1",
					 2, (Oid[]) {FLOAT8OID, FLOAT8OID});
	api_execute(plan, (Datum[]) {Float8GetDatum(ANALYZE_BASE_THRESHOLD),
				Float8GetDatum(ANALYZE_SCALE_FACTOR)}, NULL, true, SPI_OK_SELECT);
	ntables = SPI_processed;
	tables = palloc(Max(ntables, 1) * sizeof(char *));
	for (i = 0; i < ntables; i++)
		tables[i] = api_gettext(i, 1);

	/* names from the catalog, quoted above; nothing of the caller's */
	appendStringInfoString(out, "\"analyze\": {\"tables\": [");
	for (i = 0; i < ntables; i++)
	{
		if (SPI_execute(psprintf("ANALYZE %s", tables[i]), false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "ANALYZE %s failed", tables[i]);
		if (i > 0)
			appendStringInfoString(out, ", ");
		escape_json(out, tables[i]);
	}
	appendStringInfo(out, "], \"ms\": %.3f}", elapsed_ms(start));
}

/*
 * record_run
 *		The last pass, for health() and metrics().
 */
static void
record_run(TimestampTz started, double ms, const char *result)
{
	static SPIPlanPtr plan = NULL;

	api_prepare_once(&plan,
					 "INSERT INTO invoice.maintenance_state AS m"
					 " (last_started_at, last_duration_ms, last_result, runs)"
					 " VALUES ($1, $2, $3::pg_catalog.jsonb, 1)"
					 " ON CONFLICT (singleton) DO UPDATE SET last_started_at = $1,"
					 " last_duration_ms = $2, last_result = $3::pg_catalog.jsonb,"
					 " runs = m.runs OPERATOR(pg_catalog.+) 1",
					 3, (Oid[]) {TIMESTAMPTZOID, FLOAT8OID, TEXTOID});
	api_execute(plan, (Datum[]) {TimestampTzGetDatum(started), Float8GetDatum(ms),
				CStringGetTextDatum(result)}, NULL, false, SPI_OK_INSERT);
}

static Datum
jsonb_from_cstring(const char *s)
{
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(s));
}

/*
 * invoice_maintenance
 *		One pass of housekeeping; returns what each step did and how long
 *		it took.
 */
Datum
invoice_maintenance(PG_FUNCTION_ARGS)
{
	StringInfoData out;
	StringInfoData steps;
	TimestampTz started = GetCurrentTimestamp();
	instr_time	start;
	double		ms;
	ApiCall		call;

	require_platform_admin("run the maintenance of the invoice extension");

	initStringInfo(&out);
	if (!DatumGetBool(DirectFunctionCall1(pg_try_advisory_xact_lock_int8,
										  Int64GetDatum(MAINTENANCE_LOCK_KEY))))
	{
		appendStringInfoString(&out, "{\"skipped\": true,"
							   " \"reason\": \"another maintenance() pass is running\"}");
		PG_RETURN_DATUM(jsonb_from_cstring(out.data));
	}

	INSTR_TIME_SET_CURRENT(start);
	initStringInfo(&steps);
	api_begin(&call);
	step_partitions(&steps);
	appendStringInfoString(&steps, ", ");
	step_audit_retention(&steps);
	appendStringInfoString(&steps, ", ");
	step_telegram(&steps);
	appendStringInfoString(&steps, ", ");
	/*
	 * The rollup first: a tenant it counts from the invoices must not see
	 * this pass's overdue marks, whose audit records (written at commit)
	 * the next pass reads.
	 */
	rollup_refresh(&steps);
	appendStringInfoString(&steps, ", ");
	due_dates_mark_overdue(&steps);
	appendStringInfoString(&steps, ", ");
	step_analyze(&steps);
	ms = elapsed_ms(start);
	appendStringInfo(&out, "{\"skipped\": false, \"started_at\": \"%s\", \"ms\": %.3f, \"steps\": {%s}}",
					 timestamptz_to_str(started), ms, steps.data);
	record_run(started, ms, out.data);
	api_end(&call);

	PG_RETURN_DATUM(jsonb_from_cstring(out.data));
}

/* ----------
 * pg_cron
 * ----------
 */

/*
 * cron_require
 *		55000 unless pg_cron is installed in this database.
 */
static void
cron_require(void)
{
	if (!relation_exists("cron.job"))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_cron is not installed in this database"),
				 errhint("Add pg_cron to shared_preload_libraries, set cron.database_name to this database, restart the server, then run CREATE EXTENSION pg_cron.")));
}

/* the id of this database's job, or 0 */
static int64
cron_job_id(void)
{
	static SPIPlanPtr plan = NULL;

	api_prepare_once(&plan,
					 "SELECT jobid FROM cron.job"
					 " WHERE jobname OPERATOR(pg_catalog.=) $1"
					 " AND database OPERATOR(pg_catalog.=) pg_catalog.current_database()"
					 " ORDER BY jobid LIMIT 1",
					 1, (Oid[]) {TEXTOID});
	api_execute(plan, (Datum[]) {CStringGetTextDatum(CRON_JOB_NAME)}, NULL, true, SPI_OK_SELECT);
	return SPI_processed == 1 ? count_result() : 0;
}

/*
 * invoice_schedule_maintenance
 *		Creates this database's maintenance job, or gives it the new
 *		schedule; the job keeps its id.
 */
Datum
invoice_schedule_maintenance(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr create_plan = NULL;
	static SPIPlanPtr alter_plan = NULL;
	char	   *schedule;
	int64		jobid;
	ApiCall		call;

	require_platform_admin("schedule the maintenance of the invoice extension");
	arg_required(fcinfo, 0, "schedule");
	schedule = arg_trimmed_text(fcinfo, 0);
	check_not_blank(schedule, "schedule");
	check_max_length(schedule, "schedule", 100);

	api_begin(&call);
	cron_require();
	jobid = cron_job_id();
	if (jobid == 0)
	{
		api_prepare_once(&create_plan,
						 "SELECT cron.schedule_in_database($1, $2,"
						 " 'SELECT invoice.maintenance()', pg_catalog.current_database())",
						 2, (Oid[]) {TEXTOID, TEXTOID});
		api_execute(create_plan, (Datum[]) {CStringGetTextDatum(CRON_JOB_NAME),
					CStringGetTextDatum(schedule)}, NULL, false, SPI_OK_SELECT);
		jobid = count_result();
	}
	else
	{
		api_prepare_once(&alter_plan,
						 "SELECT cron.alter_job(job_id => $1, schedule => $2)",
						 2, (Oid[]) {INT8OID, TEXTOID});
		api_execute(alter_plan, (Datum[]) {Int64GetDatum(jobid),
					CStringGetTextDatum(schedule)}, NULL, false, SPI_OK_SELECT);
	}
	api_end(&call);

	PG_RETURN_INT64(jobid);
}

/*
 * invoice_unschedule_maintenance
 *		Removes this database's maintenance job, if there is one.
 */
Datum
invoice_unschedule_maintenance(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	int64		jobid;
	ApiCall		call;

	require_platform_admin("unschedule the maintenance of the invoice extension");
	api_begin(&call);
	cron_require();
	jobid = cron_job_id();
	if (jobid != 0)
	{
		api_prepare_once(&plan, "SELECT cron.unschedule($1)", 1, (Oid[]) {INT8OID});
		api_execute(plan, (Datum[]) {Int64GetDatum(jobid)}, NULL, false, SPI_OK_SELECT);
	}
	api_end(&call);

	PG_RETURN_VOID();
}

/* ----------
 * Health
 * ----------
 */

/*
 * invoice_audit_check
 *		Verifies every tenant's audit chain (audit_verify, as the owner)
 *		and records when, how many rows, and which tenants' chains did not
 *		verify: health() and metrics() report the last check.  It reads
 *		every chain, so it is not part of maintenance(): schedule it daily.
 */
Datum
invoice_audit_check(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	TimestampTz started = GetCurrentTimestamp();
	MemoryContext fn_cxt = CurrentMemoryContext;
	char	   *result;
	ApiCall		call;

	require_platform_admin("check the audit chains of the invoice extension");
	api_begin(&call);
	api_prepare_once(&plan,
					 "WITH v AS (SELECT * FROM invoice.audit_verify(NULL)),"
					 " c AS (INSERT INTO invoice.audit_checks (checked_at, tenants, rows_checked, bad_orgs, duration_ms)"
					 " SELECT $1, pg_catalog.count(*), COALESCE(pg_catalog.sum(v.rows_checked), 0),"
					 "  COALESCE(pg_catalog.array_agg(v.org_id ORDER BY v.org_id)"
					 "   FILTER (WHERE v.first_bad_audit_id IS NOT NULL), '{}'),"
					 "  pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) $1)"
					 "   OPERATOR(pg_catalog.*) 1000"
					 " FROM v RETURNING *)"
					 " SELECT pg_catalog.jsonb_build_object('checked_at', checked_at, 'tenants', tenants,"
					 " 'rows_checked', rows_checked, 'bad_orgs', bad_orgs, 'ms', duration_ms)::pg_catalog.text FROM c",
					 1, (Oid[]) {TIMESTAMPTZOID});
	api_execute(plan, (Datum[]) {TimestampTzGetDatum(started)}, NULL, false, SPI_OK_SELECT);
	/* SPI_finish frees what SPI allocated */
	result = MemoryContextStrdup(fn_cxt, api_gettext(0, 1));
	api_end(&call);

	PG_RETURN_DATUM(jsonb_from_cstring(result));
}

/*
 * invoice_health
 *		What a DBA checks first, as one jsonb document: the version, the
 *		library, the pg_cron job and its last run, the audit partitions
 *		ahead, the last maintenance pass, and the tenants whose numbering
 *		range or DIAN resolution runs out within 30 days.
 */
Datum
invoice_health(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr base_plan = NULL;
	static SPIPlanPtr cron_plan = NULL;
	char	   *base;
	char	   *cron = "{\"installed\": false}";
	MemoryContext fn_cxt = CurrentMemoryContext;
	ApiCall		call;

	require_platform_admin("read the health of the invoice extension");
	api_begin(&call);
	api_prepare_once(&base_plan,
					 "SELECT pg_catalog.jsonb_build_object("
					 " 'version', (SELECT extversion FROM pg_catalog.pg_extension"
					 "  WHERE extname OPERATOR(pg_catalog.=) 'invoice'),"
					 " 'preloaded', 'invoice' OPERATOR(pg_catalog.=) ANY (pg_catalog.regexp_split_to_array("
					 "  pg_catalog.current_setting('shared_preload_libraries'), '\\s*,\\s*')),"
					 " 'partitions_ahead', (SELECT pg_catalog.count(*) FROM pg_catalog.pg_inherits h"
					 "  JOIN pg_catalog.pg_class p ON p.oid OPERATOR(pg_catalog.=) h.inhrelid"
					 "  WHERE h.inhparent OPERATOR(pg_catalog.=) 'invoice.audit_log'::pg_catalog.regclass"
					 "  AND p.relname OPERATOR(pg_catalog.~) '^audit_log_y[0-9]{4}m[0-9]{2}$'"
					 "  AND p.relname::pg_catalog.text OPERATOR(pg_catalog.>) pg_catalog.to_char(pg_catalog.now(),"
					 "   '\"audit_log_y\"YYYY\"m\"MM') COLLATE \"C\"),"
					 " 'maintenance', (SELECT pg_catalog.jsonb_build_object('last_started_at', last_started_at,"
					 "  'last_duration_ms', last_duration_ms, 'runs', runs)"
					 "  FROM invoice.maintenance_state),"
					 " 'chain_check', (SELECT pg_catalog.jsonb_build_object('checked_at', a.checked_at,"
					 "  'tenants', a.tenants, 'rows_checked', a.rows_checked, 'bad_orgs', a.bad_orgs,"
					 "  'ok', pg_catalog.cardinality(a.bad_orgs) OPERATOR(pg_catalog.=) 0)"
					 "  FROM invoice.audit_checks a ORDER BY a.checked_at DESC LIMIT 1),"
					 " 'running_out', (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
					 "  'org_id', o.org_id, 'slug', o.slug, 'numbers_left', o.number_to OPERATOR(pg_catalog.-)"
					 "  COALESCE(l.last, o.number_from OPERATOR(pg_catalog.-) 1),"
					 "  'issued_last_30_days', l.recent, 'valid_to', o.valid_to)"
					 "  ORDER BY o.org_id), '[]')"
					 "  FROM invoice.organizations o"
					 "  CROSS JOIN LATERAL (SELECT pg_catalog.max(i.number) AS last,"
					 "   pg_catalog.count(*) FILTER (WHERE i.issued_at OPERATOR(pg_catalog.>)"
					 "    (pg_catalog.now() OPERATOR(pg_catalog.-) '30 days'::pg_catalog.interval)) AS recent"
					 "   FROM invoice.invoices i"
					 "   WHERE i.org_id OPERATOR(pg_catalog.=) o.org_id AND i.number IS NOT NULL) l"
					 "  WHERE o.is_active AND ((o.valid_to IS NOT NULL AND o.valid_to OPERATOR(pg_catalog.<)"
					 "   (CURRENT_DATE OPERATOR(pg_catalog.+) 30))"
					 "   OR (o.number_to IS NOT NULL AND (o.number_to OPERATOR(pg_catalog.-)"
					 "   COALESCE(l.last, o.number_from OPERATOR(pg_catalog.-) 1)) OPERATOR(pg_catalog.<=) l.recent))))::pg_catalog.text",
					 0, NULL);
	api_execute(base_plan, NULL, NULL, true, SPI_OK_SELECT);
	base = api_gettext(0, 1);

	if (relation_exists("cron.job"))
	{
		int64		jobid = cron_job_id();

		if (jobid == 0)
			cron = "{\"installed\": true, \"scheduled\": false}";
		else
		{
			api_prepare_once(&cron_plan,
							 "SELECT pg_catalog.jsonb_build_object('installed', true, 'scheduled', true,"
							 " 'jobid', j.jobid, 'schedule', j.schedule, 'active', j.active,"
							 " 'last_run', (SELECT pg_catalog.jsonb_build_object('status', d.status,"
							 "  'start_time', d.start_time, 'end_time', d.end_time,"
							 "  'message', d.return_message)"
							 "  FROM cron.job_run_details d WHERE d.jobid OPERATOR(pg_catalog.=) j.jobid"
							 "  ORDER BY d.runid DESC LIMIT 1))::pg_catalog.text"
							 " FROM cron.job j WHERE j.jobid OPERATOR(pg_catalog.=) $1",
							 1, (Oid[]) {INT8OID});
			api_execute(cron_plan, (Datum[]) {Int64GetDatum(jobid)}, NULL, true, SPI_OK_SELECT);
			cron = api_gettext(0, 1);
		}
	}
	/* in the function's context: SPI_finish frees what SPI allocated */
	base = MemoryContextStrdup(fn_cxt, psprintf("%s, \"cron\": %s}",
												pnstrdup(base, strlen(base) - 1), cron));
	api_end(&call);

	PG_RETURN_DATUM(jsonb_from_cstring(base));
}
