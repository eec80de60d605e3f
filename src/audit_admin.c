/*-------------------------------------------------------------------------
 *
 * audit_admin.c
 *	  Around the audit log: the append-only guard, attaching the audit
 *	  triggers to a table, the monthly partitions, and reading a row's
 *	  history.
 *
 * invoice.audit_log refuses UPDATE, DELETE and TRUNCATE from every role,
 * its owner included, by row and statement triggers on the log and on
 * every partition.  Only the extension's own routines (audit_purge and
 * the partition maintenance) delete, between audit_maintenance_begin()
 * and audit_maintenance_end(); an error ends that window.
 *
 * Partitions hold one calendar month (UTC) each and are named
 * audit_log_yYYYYmMM.  A default partition catches rows beyond the
 * partitions made so far, so that a late maintenance job never stops
 * writes; creating the month's partition later moves those rows into it.
 * Every partition gets the log's row level security and guards, its
 * statistics targets, and no privileges: roles read the log through
 * invoice.audit_log only.
 *
 * Maintenance must not stall the tenants.  CREATE TABLE ... PARTITION OF
 * and DROP TABLE of a partition lock the whole log exclusively, so one
 * idle transaction that has read the log would hold them up, and every
 * tenant's commit would then queue behind them.  A partition is therefore
 * made as a table of its own and attached (ATTACH PARTITION locks the log
 * only against other DDL; it locks the default partition, which writers
 * of the current months do not touch), and every DDL statement on the log
 * runs with a short lock_timeout, retried a few times: a blocked
 * maintenance gives up with a clear error instead of queueing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "exec.h"
#include "money.h"
#include "tenant.h"

PG_FUNCTION_INFO_V1(invoice_audit_log_guard);
PG_FUNCTION_INFO_V1(invoice_audit_enable);
PG_FUNCTION_INFO_V1(invoice_audit_create_partitions);
PG_FUNCTION_INFO_V1(invoice_row_history);
PG_FUNCTION_INFO_V1(invoice_audit_row_ord);

static bool maintenance = false;

void
audit_maintenance_begin(void)
{
	maintenance = true;
}

void
audit_maintenance_end(void)
{
	maintenance = false;
}

static void
maintenance_xact_callback(XactEvent event, void *arg)
{
	maintenance = false;
}

static void
maintenance_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							 SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		maintenance = false;
}

void
audit_admin_init(void)
{
	RegisterXactCallback(maintenance_xact_callback, NULL);
	RegisterSubXactCallback(maintenance_subxact_callback, NULL);
}

/*
 * invoice_audit_log_guard
 *		BEFORE UPDATE OR DELETE (row and statement) and BEFORE TRUNCATE on
 *		the audit log and its partitions.
 */
Datum
invoice_audit_log_guard(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("audit_log_guard() must be fired BEFORE")));
	if (maintenance && TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		return TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ?
			PointerGetDatum(trigdata->tg_trigtuple) : PointerGetDatum(NULL);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("the audit log is append-only"),
			 errdetail("%s of %s is refused for every role.",
					   TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? "UPDATE" :
					   TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ? "DELETE" : "TRUNCATE",
					   RelationGetRelationName(trigdata->tg_relation)),
			 errhint("Old rows leave the log only through invoice.audit_purge().")));
	PG_RETURN_NULL();			/* not reached */
}


static void
run_ddl(const char *sql)
{
	int			rc = SPI_execute(sql, false, 0);

	if (rc < 0)
		elog(ERROR, "SPI_execute failed for \"%s\": %s", sql, SPI_result_code_string(rc));
}

static bool
has_trigger(Oid relid, const char *name)
{
	Relation	rel = table_open(relid, AccessShareLock);
	bool		found = false;

	if (rel->trigdesc != NULL)
	{
		int			i;

		for (i = 0; i < rel->trigdesc->numtriggers; i++)
			if (strcmp(rel->trigdesc->triggers[i].tgname, name) == 0)
				found = true;
	}
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * invoice_audit_enable
 *		audit_enable(tbl regclass): attaches the audit triggers to a table
 *		with a bigint org_id column and a primary key.  The triggers are
 *		created as the caller, who needs the TRIGGER privilege on it.
 */
Datum
invoice_audit_enable(PG_FUNCTION_ARGS)
{
	Oid			relid;
	Relation	rel;
	char	   *name;
	char		relkind;
	AttrNumber	org;
	Oid			pk;
	Oid			relnsp;
	Oid			nsp = get_namespace_oid("invoice", false);

	arg_required(fcinfo, 0, "tbl");
	require_platform_admin("enable auditing");
	relid = PG_GETARG_OID(0);
	rel = table_open(relid, AccessShareLock);
	name = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
									  RelationGetRelationName(rel));
	relkind = rel->rd_rel->relkind;
	relnsp = RelationGetNamespace(rel);
	org = SPI_fnumber(RelationGetDescr(rel), "org_id");
	pk = RelationGetPrimaryKeyIndex(rel);
	if (org > 0 && getBaseType(TupleDescAttr(RelationGetDescr(rel), org - 1)->atttypid) != INT8OID)
		org = 0;
	table_close(rel, AccessShareLock);

	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s is not a table", name)));
	if (relnsp == nsp &&
		(relid == get_relname_relid("audit_log", nsp) || relid == get_relname_relid("audit_heads", nsp)))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s is part of the audit log and cannot be audited", name)));
	if (org <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("table %s has no bigint column \"org_id\"", name),
				 errhint("Only tenant tables, whose rows belong to one organization, can be audited.")));
	if (!OidIsValid(pk))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("table %s has no primary key", name),
				 errhint("The audit log identifies each row by its primary key.")));
	if (has_trigger(relid, "audit_row"))
	{
		ereport(NOTICE,
				(errmsg("table %s is already audited", name)));
		PG_RETURN_VOID();
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	run_ddl(psprintf("CREATE TRIGGER audit_row AFTER INSERT OR UPDATE OR DELETE ON %s"
					 " FOR EACH ROW EXECUTE FUNCTION invoice.audit_row()", name));
	run_ddl(psprintf("CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON %s"
					 " FOR EACH STATEMENT EXECUTE FUNCTION invoice.audit_row()", name));
	run_ddl(psprintf("CREATE CONSTRAINT TRIGGER audit_write AFTER INSERT OR UPDATE OR DELETE ON %s"
					 " DEFERRABLE INITIALLY DEFERRED"
					 " FOR EACH ROW WHEN (invoice.audit_write_needed())"
					 " EXECUTE FUNCTION invoice.audit_flush()", name));
	SPI_finish();
	PG_RETURN_VOID();
}

/* ----------
 * Partitions
 * ----------
 */

/* the first instant (UTC) of month `month` (1-12, may overflow) of `year` */
static TimestampTz
month_start(int year, int month)
{
	struct pg_tm tm;
	TimestampTz result;

	memset(&tm, 0, sizeof(tm));
	year += (month - 1) / 12;
	month = (month - 1) % 12 + 1;
	tm.tm_year = year;
	tm.tm_mon = month;
	tm.tm_mday = 1;
	if (tm2timestamp(&tm, 0, NULL, &result) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return result;
}

static char *
utc_literal(TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return psprintf("'%04d-%02d-01 00:00:00+00'", tm.tm_year, tm.tm_mon);
}

/*
 * harden_partition
 *		What every partition of the log gets: the log's statistics targets,
 *		its policies with row level security forced, the statement guards,
 *		and no privileges.  (The row guard and the indexes come with
 *		ATTACH PARTITION.)
 */
static void
harden_partition(const char *qname)
{
	Relation	log = table_open(get_relname_relid("audit_log", get_namespace_oid("invoice", false)),
								 AccessShareLock);
	TupleDesc	desc = RelationGetDescr(log);
	int			i;

	/* the log's statistics targets: ANALYZE reads each partition's own */
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && att->attstattarget >= 0)
			run_ddl(psprintf("ALTER TABLE %s ALTER COLUMN %s SET STATISTICS %d", qname,
							 quote_identifier(NameStr(att->attname)), att->attstattarget));
	}
	table_close(log, AccessShareLock);

	run_ddl(psprintf("ALTER TABLE %s ENABLE ROW LEVEL SECURITY", qname));
	run_ddl(psprintf("ALTER TABLE %s FORCE ROW LEVEL SECURITY", qname));
	run_ddl(psprintf("CREATE POLICY tenant_isolation ON %s"
					 " USING (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()))", qname));
	run_ddl(psprintf("CREATE POLICY admin_read ON %s FOR SELECT TO invoice_admin USING (true)", qname));
	run_ddl(psprintf("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON %s"
					 " FOR EACH STATEMENT EXECUTE FUNCTION invoice.audit_log_guard()", qname));
	run_ddl(psprintf("REVOKE ALL ON %s FROM PUBLIC", qname));
	/* a partition made by CREATE EXTENSION is a member: pg_dump must still
	 * dump its rows (later partitions are ordinary tables to pg_dump) */
	if (creating_extension)
		run_ddl(psprintf("SELECT pg_catalog.pg_extension_config_dump(%s, '')",
						 quote_literal_cstr(qname)));
}

/*
 * Each DDL step on the log waits at most DDL_LOCK_TIMEOUT for its locks,
 * and is tried DDL_ATTEMPTS times, DDL_RETRY_MS (times the attempt) apart.
 */
#define DDL_LOCK_TIMEOUT "200ms"
#define DDL_ATTEMPTS 5
#define DDL_RETRY_MS 100

typedef void (*ddl_step) (const void *arg);

/*
 * run_locked_step
 *		Runs `step` in a subtransaction with a short lock_timeout, again when
 *		a lock was not granted in time.  Returns false if the last attempt
 *		was still blocked; other errors propagate.  SPI is connected.
 */
static bool
run_locked_step(ddl_step step, const void *arg)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile int attempt;

	for (attempt = 1; attempt <= DDL_ATTEMPTS; attempt++)
	{
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(oldcxt);
		PG_TRY();
		{
			/* saved at the subtransaction's level: undone at its end */
			(void) set_config_option("lock_timeout", DDL_LOCK_TIMEOUT, PGC_USERSET, PGC_S_SESSION,
									 GUC_ACTION_SAVE, true, 0, false);
			/* an aborted subtransaction ended the window: open it again */
			audit_maintenance_begin();
			step(arg);
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(oldcxt);
			CurrentResourceOwner = oldowner;
			return true;
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(oldcxt);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(oldcxt);
			CurrentResourceOwner = oldowner;
			audit_maintenance_begin();
			if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
				ReThrowError(edata);
			FreeErrorData(edata);
		}
		PG_END_TRY();
		if (attempt < DDL_ATTEMPTS)
			pg_usleep(DDL_RETRY_MS * 1000L * attempt);
		CHECK_FOR_INTERRUPTS();
	}
	return false;
}

/* a partition to make: its name, and its bounds (NULL: the default) */
typedef struct AuditPartition
{
	const char *qname;
	const char *bound;
	const char *in_range;
} AuditPartition;

/*
 * attach_step
 *		Makes one partition as a table of its own, hardened before anyone
 *		can reach it, moves into it the rows the default partition holds
 *		for its range, and attaches it.
 */
static void
attach_step(const void *arg)
{
	const AuditPartition *spec = (const AuditPartition *) arg;

	run_ddl(psprintf("CREATE TABLE %s (LIKE invoice.audit_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS"
					 " INCLUDING STORAGE INCLUDING COMPRESSION)", spec->qname));
	harden_partition(spec->qname);
	if (spec->in_range != NULL)
	{
		run_ddl(psprintf("INSERT INTO %s SELECT * FROM invoice.audit_log_default WHERE %s",
						 spec->qname, spec->in_range));
		if (SPI_processed > 0)
			run_ddl(psprintf("DELETE FROM invoice.audit_log_default WHERE %s", spec->in_range));
	}
	run_ddl(psprintf("ALTER TABLE invoice.audit_log ATTACH PARTITION %s %s", spec->qname,
					 spec->bound == NULL ? "DEFAULT" : spec->bound));
}

/*
 * attach_partition
 *		attach_step with retries, or a clear error when the log stays
 *		locked.
 */
static void
attach_partition(const AuditPartition *spec)
{
	if (!run_locked_step(attach_step, spec))
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("could not attach partition %s to the audit log", spec->qname),
				 errdetail("Another transaction held a lock on invoice.audit_log or its default partition through %d attempts of %s each.",
						   DDL_ATTEMPTS, DDL_LOCK_TIMEOUT),
				 errhint("Look in pg_stat_activity for transactions left idle after reading the audit log (and in pg_prepared_xacts), end them, and run audit_create_partitions() again; writers were not held up meanwhile.")));
}

/*
 * create_month
 *		Creates the partition of one month unless it exists; rows that the
 *		default partition holds for that month move into it.
 */
static bool
create_month(Oid nsp, int year, int month)
{
	char	   *name = psprintf("audit_log_y%04dm%02d", year + (month - 1) / 12, (month - 1) % 12 + 1);
	TimestampTz from = month_start(year, month);
	TimestampTz to = month_start(year, month + 1);
	AuditPartition spec;

	if (OidIsValid(get_relname_relid(name, nsp)))
		return false;
	spec.qname = quote_qualified_identifier("invoice", name);
	spec.bound = psprintf("FOR VALUES FROM (%s) TO (%s)", utc_literal(from), utc_literal(to));
	spec.in_range = psprintf("occurred_at OPERATOR(pg_catalog.>=) %s AND occurred_at OPERATOR(pg_catalog.<) %s",
							 utc_literal(from), utc_literal(to));
	attach_partition(&spec);
	return true;
}

/*
 * invoice_audit_create_partitions
 *		audit_create_partitions(months_ahead int DEFAULT 2): makes sure the
 *		partitions of the current month (UTC) and of the months_ahead
 *		following ones exist, and the default partition.  Returns how many
 *		it created.  pg_cron calls it through invoice.maintenance().
 */
Datum
invoice_audit_create_partitions(PG_FUNCTION_ARGS)
{
	Oid			nsp = get_namespace_oid("invoice", false);
	int32		ahead;
	struct pg_tm tm;
	fsec_t		fsec;
	ApiCall		call;
	int			created = 0;
	int			i;

	arg_required(fcinfo, 0, "months_ahead");
	ahead = PG_GETARG_INT32(0);
	if (ahead < 0 || ahead > 120)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"months_ahead\" must be between 0 and 120")));
	require_platform_admin("create partitions of the audit log");
	if (timestamp2tm(GetCurrentTransactionStartTimestamp(), NULL, &tm, &fsec, NULL, NULL) != 0)
		elog(ERROR, "current time out of range");

	api_begin(&call);
	audit_maintenance_begin();
	if (!OidIsValid(get_relname_relid("audit_log_default", nsp)))
	{
		AuditPartition spec = {"invoice.audit_log_default", NULL, NULL};

		attach_partition(&spec);
		created++;
	}
	for (i = 0; i <= ahead; i++)
		if (create_month(nsp, tm.tm_year, tm.tm_mon + i))
			created++;
	audit_maintenance_end();
	api_end(&call);
	PG_RETURN_INT32(created);
}

/*
 * drop_step
 *		Drops one partition if it holds no rows.  Dropping a partition locks
 *		the whole log exclusively: run_locked_step bounds the wait.
 */
static void
drop_step(const void *arg)
{
	const char *qname = (const char *) arg;

	run_ddl(psprintf("SELECT 1 FROM %s LIMIT 1", qname));
	if (SPI_processed == 0)
		run_ddl(psprintf("DROP TABLE %s", qname));
}

/*
 * audit_drop_partitions_before
 *		Drops the monthly partitions that end at or before `cutoff` and
 *		hold no rows any more (audit_purge deleted them).
 */
void
audit_drop_partitions_before(TimestampTz cutoff)
{
	static SPIPlanPtr plan = NULL;
	Oid			nsp = get_namespace_oid("invoice", false);
	Oid			parent = get_relname_relid("audit_log", nsp);
	List	   *names = NIL;
	ListCell   *lc;
	uint64		i;

	api_prepare_once(&plan, "SELECT c.relname::text FROM pg_catalog.pg_inherits i"
					 " JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.inhrelid"
					 " WHERE i.inhparent OPERATOR(pg_catalog.=) $1 ORDER BY 1",
					 1, (Oid[]) {OIDOID});
	api_execute(plan, (Datum[]) {ObjectIdGetDatum(parent)}, NULL, true, SPI_OK_SELECT);
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *relname = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		int			year,
					month;
		char		tail;

		if (sscanf(relname, "audit_log_y%4dm%2d%c", &year, &month, &tail) == 2 &&
			month >= 1 && month <= 12 && month_start(year, month + 1) <= cutoff)
			names = lappend(names, relname);
	}
	foreach(lc, names)
	{
		char	   *qname = quote_qualified_identifier("invoice", lfirst(lc));

		/* an empty partition costs nothing: left for the next purge */
		if (!run_locked_step(drop_step, qname))
			ereport(WARNING,
					(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
					 errmsg("could not drop the empty partition %s of the audit log", qname),
					 errdetail("Another transaction held a lock on invoice.audit_log through %d attempts of %s each.",
							   DDL_ATTEMPTS, DDL_LOCK_TIMEOUT),
					 errhint("The next audit_purge() drops it.")));
	}
}

/* ----------
 * row_history
 * ----------
 */

/*
 * invoice_audit_row_ord
 *		audit_row_ord(row_key jsonb): where a row's audit records sit in
 *		the row index, (org_id, audit_row_ord(row_key)).  It is the largest
 *		integer member of the key other than org_id: a customer_id, an
 *		invoice_id, the invoice_id of an item.  New rows get growing ids, so
 *		their records are appended at the right end of the tenant's part of
 *		the index, where the pages are in memory and already logged since
 *		the last checkpoint; a hash of the key would touch a random page of
 *		the index for every record.  Keys without an integer member (a text
 *		primary key, or org_id alone) get a hash of their members.  org_id
 *		is left out either way, so a key given without it finds the same
 *		place.  Many rows may share a value: readers recheck row_key and
 *		table_name.
 */
Datum
invoice_audit_row_ord(PG_FUNCTION_ARGS)
{
	Jsonb	   *key = PG_GETARG_JSONB_P(0);
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	k,
				v;
	bool		found = false;
	int64		best = 0;
	uint64		hash = 0;

	if (!JB_ROOT_IS_OBJECT(key))
		PG_RETURN_INT64((int64) hash_bytes_extended((const unsigned char *) VARDATA(key),
													VARSIZE(key) - VARHDRSZ, 0));
	it = JsonbIteratorInit(&key->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		uint64		member;

		if (tok != WJB_KEY)
			continue;
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
		if (k.val.string.len == 6 && memcmp(k.val.string.val, "org_id", 6) == 0)
			continue;
		if (v.type == jbvNumeric)
		{
			int64		n;

			/* an integer that fits int64 (5.0 counts, 5.5 does not) */
			if (money_from_numeric(v.val.numeric, 0, PG_INT64_MAX, &n) == MONEY_OK)
			{
				if (!found || n > best)
					best = n;
				found = true;
				continue;
			}
		}
		/* any other member: into a hash, in case no integer member comes */
		member = hash_bytes_extended((const unsigned char *) k.val.string.val, k.val.string.len, 0);
		if (v.type == jbvBinary)
			member ^= hash_bytes_extended((const unsigned char *) v.val.binary.data,
										  v.val.binary.len, member);
		else
			JsonbHashScalarValueExtended(&v, &member, member);
		hash = hash_combine64(hash, member);
	}
	PG_RETURN_INT64(found ? best : (int64) hash);
}

/*
 * invoice_row_history
 *		row_history(tbl regclass, row_key jsonb): the audit rows of one row
 *		of the current tenant, oldest first.  The key may leave out org_id.
 */
Datum
invoice_row_history(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		org_id = tenant_require();
	Oid			relid;
	char	   *relname;
	char	   *nspname;
	Jsonb	   *key;
	Jsonb	   *key_with_org;
	ApiCall		call;
	uint64		i;

	arg_required(fcinfo, 0, "tbl");
	arg_required(fcinfo, 1, "row_key");
	relid = PG_GETARG_OID(0);
	key = PG_GETARG_JSONB_P(1);
	if (!JB_ROOT_IS_OBJECT(key))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"row_key\" must be a JSON object"),
				 errhint("Give the primary key columns, for example '{\"invoice_id\": 42}'.")));
	relname = get_rel_name(relid);
	nspname = relname == NULL ? NULL : get_namespace_name(get_rel_namespace(relid));
	if (relname == NULL || nspname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	key_with_org = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(key),
													  DirectFunctionCall1(jsonb_in,
																		  CStringGetDatum(psprintf("{\"org_id\": " INT64_FORMAT "}", org_id)))));

	InitMaterializedSRF(fcinfo, 0);
	api_begin(&call);
	api_prepare_once(&plan, "SELECT * FROM invoice.audit_log"
					 " WHERE org_id OPERATOR(pg_catalog.=) $1"
					 " AND invoice.audit_row_ord(row_key) OPERATOR(pg_catalog.=) invoice.audit_row_ord($3)"
					 " AND table_name OPERATOR(pg_catalog.=) $2"
					 " AND (row_key OPERATOR(pg_catalog.=) $3 OR row_key OPERATOR(pg_catalog.=) $4)"
					 " ORDER BY audit_id",
					 4, (Oid[]) {INT8OID, TEXTOID, JSONBOID, JSONBOID});
	api_execute(plan,
				(Datum[]) {Int64GetDatum(org_id),
						   CStringGetTextDatum(quote_qualified_identifier(nspname, relname)),
						   JsonbPGetDatum(key), JsonbPGetDatum(key_with_org)},
				NULL, true, SPI_OK_SELECT);
	for (i = 0; i < SPI_processed; i++)
		tuplestore_puttuple(rsinfo->setResult, SPI_tuptable->vals[i]);
	api_end(&call);
	return (Datum) 0;
}
