/*-------------------------------------------------------------------------
 *
 * audit_chain.c
 *	  The hash chain of the audit log: how a row is hashed, how the chain
 *	  of each tenant is verified, and how old rows are purged without
 *	  breaking it.
 *
 * row_hash = SHA-256(prev_hash || encoding), where the encoding is a
 * version tag followed by every column but the hashes, each as a 4-byte
 * big-endian length (0xFFFFFFFF for NULL) and its bytes: integers and
 * timestamps as 8-byte big-endian, text as UTF-8, jsonb as its binary
 * form (the bytes after the varlena header).  The first row of a tenant
 * follows 32 zero bytes, or after a purge the anchor: the hash of the last
 * row purged.
 *
 * Why the binary form of jsonb: it is canonical (keys sorted and unique,
 * numbers in numeric's normalized form, the same bytes for the same value
 * however the document was made), it survives dump and restore (jsonb_in
 * of the dumped text builds the same bytes; the restore test checks it)
 * and pg_upgrade (which keeps data files as they are), and hashing it
 * spares printing every document as text, which cost more than the hash.
 *
 * invoice.audit_heads keeps, apart from the log, each tenant's head (the
 * last audit_id and hash written), its row count and its anchor, so that
 * removing or adding rows at the end of the log is noticed too.
 *
 * Verifying and purging run as the owner of the log.  Verifying reads
 * with a cursor and keeps one tenant's state at a time.  Purging locks
 * the heads of the tenants it purges, like a writer would.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "audit.h"
#include "exec.h"
#include "tenant.h"

PG_FUNCTION_INFO_V1(invoice_audit_verify);
PG_FUNCTION_INFO_V1(invoice_audit_purge);

/* bump when the encoding changes; old rows keep verifying by their tag */
static const char audit_encoding_tag[] = "invoice.audit_log v1";

#define NULL_LENGTH 0xFFFFFFFF

/*
 * The SHA-256 context of this backend, made once and reused for every
 * record it hashes.  It is OpenSSL's own, not PostgreSQL's cryptohash
 * wrapper: the wrapper allocates a context per use and, with OpenSSL 3,
 * looks the digest up again on every init, which cost nearly as much as
 * hashing the record.  Being static, it is never lost to an error.
 */
static EVP_MD_CTX *sha_ctx = NULL;
static EVP_MD *sha256 = NULL;

static void
hash_update(const void *data, size_t len)
{
	if (EVP_DigestUpdate(sha_ctx, data, len) != 1)
		elog(ERROR, "could not compute the audit hash");
}

static void
hash_bytes(const char *data, uint32 len, bool isnull)
{
	uint32		be = pg_hton32(isnull ? NULL_LENGTH : len);

	hash_update(&be, sizeof(be));
	if (!isnull)
		hash_update(data, len);
}

static void
hash_int64(int64 value, bool isnull)
{
	uint64		be = pg_hton64((uint64) value);

	hash_bytes((const char *) &be, sizeof(be), isnull);
}

static void
hash_text(const char *s)
{
	hash_bytes(s, s == NULL ? 0 : strlen(s), s == NULL);
}

/* a jsonb (detoasted, 4-byte header) by its binary form */
static void
hash_jsonb(const Jsonb *jb)
{
	if (jb == NULL)
		hash_bytes(NULL, 0, true);
	else
		hash_bytes((const char *) &jb->root, VARSIZE(jb) - VARHDRSZ, false);
}

/*
 * audit_hash
 *		The hash of a record that follows `prev`.
 */
void
audit_hash(const AuditRecord *rec, const uint8 *prev, uint8 *out)
{
	unsigned int len;

	if (sha_ctx == NULL)
	{
		if (sha256 == NULL && (sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
			elog(ERROR, "could not load SHA-256 from OpenSSL");
		if ((sha_ctx = EVP_MD_CTX_new()) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
	}
	if (EVP_DigestInit_ex(sha_ctx, sha256, NULL) != 1)
		elog(ERROR, "could not start the audit hash");
	hash_update(audit_encoding_tag, sizeof(audit_encoding_tag));
	hash_update(prev, AUDIT_HASH_LEN);
	hash_int64(rec->org_id, false);
	hash_int64(rec->audit_id, false);
	hash_int64(rec->occurred_at, false);
	hash_int64(rec->txid, false);
	hash_text(rec->db_role);
	hash_text(rec->db_current_role);
	hash_int64(rec->app_user_id, rec->app_user_id == 0);
	hash_text(rec->table_name);
	hash_text(rec->operation);
	hash_jsonb(rec->row_key);
	hash_jsonb(rec->old_row);
	hash_jsonb(rec->new_row);
	hash_jsonb(rec->changed);
	if (EVP_DigestFinal_ex(sha_ctx, out, &len) != 1 || len != AUDIT_HASH_LEN)
		elog(ERROR, "could not finish the audit hash");
}

/* ----------
 * audit_verify
 * ----------
 */

/* the columns of the heads statement */
#define Anum_head_org_id		1
#define Anum_head_last_audit_id 2
#define Anum_head_head_hash		3
#define Anum_head_live_rows		4
#define Anum_head_anchor_hash	5

typedef struct Head
{
	int64		org_id;
	int64		last_audit_id;	/* 0 when nothing was ever written */
	int64		live_rows;		/* rows written and not purged */
	uint8		head_hash[AUDIT_HASH_LEN];
	uint8		anchor_hash[AUDIT_HASH_LEN];
} Head;

/* the verification of one tenant under way */
typedef struct ChainCheck
{
	int64		org_id;
	const Head *head;			/* NULL: a tenant with rows but no head */
	int64		rows;
	int64		first_bad;		/* 0 while intact */
	int64		last_id;
	int64		first_after_head;	/* first audit_id beyond the head */
	uint8		expect[AUDIT_HASH_LEN];
} ChainCheck;

static void
copy_hash(Datum d, bool isnull, uint8 *out, const char *what)
{
	bytea	   *b;

	if (isnull)
		elog(ERROR, "audit %s is null", what);
	b = DatumGetByteaPP(d);
	if (VARSIZE_ANY_EXHDR(b) != AUDIT_HASH_LEN)
		memset(out, 0xFF, AUDIT_HASH_LEN);	/* a damaged hash never matches */
	else
		memcpy(out, VARDATA_ANY(b), AUDIT_HASH_LEN);
}

static void
check_begin(ChainCheck *c, int64 org_id, const Head *head)
{
	memset(c, 0, sizeof(*c));
	c->org_id = org_id;
	c->head = head;
	if (head != NULL)
		memcpy(c->expect, head->anchor_hash, AUDIT_HASH_LEN);
}

/*
 * check_row
 *		Checks one row of the log (current SPI row `row`) against the chain.
 */
static void
check_row(ChainCheck *c, int row)
{
	AuditRecord rec;
	bool		isnull;
	uint8		stored_prev[AUDIT_HASH_LEN];
	uint8		stored_hash[AUDIT_HASH_LEN];
	uint8		computed[AUDIT_HASH_LEN];
	Datum		d;

	memset(&rec, 0, sizeof(rec));
	rec.org_id = c->org_id;
	rec.audit_id = DatumGetInt64(api_getdatum(row, Anum_audit_log_audit_id, &isnull));
	c->rows++;
	c->last_id = rec.audit_id;
	if (c->head != NULL && rec.audit_id > c->head->last_audit_id && c->first_after_head == 0)
		c->first_after_head = rec.audit_id;
	if (c->first_bad != 0)
		return;
	if (c->head == NULL)
	{
		c->first_bad = rec.audit_id;
		return;
	}

	rec.occurred_at = DatumGetTimestampTz(api_getdatum(row, Anum_audit_log_occurred_at, &isnull));
	rec.txid = DatumGetInt64(api_getdatum(row, Anum_audit_log_txid, &isnull));
	rec.db_role = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, Anum_audit_log_db_role);
	rec.db_current_role = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, Anum_audit_log_db_current_role);
	d = api_getdatum(row, Anum_audit_log_app_user_id, &isnull);
	rec.app_user_id = isnull ? 0 : DatumGetInt64(d);
	rec.table_name = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, Anum_audit_log_table_name);
	rec.operation = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, Anum_audit_log_operation);
	d = api_getdatum(row, Anum_audit_log_row_key, &isnull);
	rec.row_key = isnull ? NULL : DatumGetJsonbP(d);
	d = api_getdatum(row, Anum_audit_log_old_row, &isnull);
	rec.old_row = isnull ? NULL : DatumGetJsonbP(d);
	d = api_getdatum(row, Anum_audit_log_new_row, &isnull);
	rec.new_row = isnull ? NULL : DatumGetJsonbP(d);
	d = api_getdatum(row, Anum_audit_log_changed, &isnull);
	rec.changed = isnull ? NULL : DatumGetJsonbP(d);
	d = api_getdatum(row, Anum_audit_log_prev_hash, &isnull);
	copy_hash(d, isnull, stored_prev, "prev_hash");
	d = api_getdatum(row, Anum_audit_log_row_hash, &isnull);
	copy_hash(d, isnull, stored_hash, "row_hash");

	audit_hash(&rec, c->expect, computed);
	if (memcmp(stored_prev, c->expect, AUDIT_HASH_LEN) != 0 ||
		memcmp(stored_hash, computed, AUDIT_HASH_LEN) != 0)
		c->first_bad = rec.audit_id;
	memcpy(c->expect, computed, AUDIT_HASH_LEN);
}

/*
 * check_end
 *		The log of a tenant must end exactly at its head.
 */
static void
check_end(ChainCheck *c, Tuplestorestate *tupstore, TupleDesc tupdesc)
{
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	if (c->first_bad == 0 && c->head != NULL)
	{
		if (c->first_after_head != 0)
			c->first_bad = c->first_after_head; /* rows beyond the head */
		else if ((c->rows > 0 && c->last_id != c->head->last_audit_id) ||
				 memcmp(c->expect, c->head->head_hash, AUDIT_HASH_LEN) != 0 ||
				 c->rows != c->head->live_rows)
			c->first_bad = c->head->last_audit_id;	/* the newest rows are gone */
	}
	values[0] = Int64GetDatum(c->org_id);
	values[1] = Int64GetDatum(c->rows);
	values[2] = Int64GetDatum(c->first_bad);
	nulls[2] = (c->first_bad == 0);
	tuplestore_putvalues(tupstore, tupdesc, values, nulls);
}

/*
 * load_heads
 *		The heads of every tenant (org_id 0) or of one, in org_id order.
 */
static Head *
load_heads(int64 org_id, int *nheads)
{
	static SPIPlanPtr plan = NULL;
	Head	   *heads;
	bool		isnull;
	uint64		i;

	api_prepare_once(&plan, "SELECT org_id, last_audit_id, head_hash,"
					 " row_count OPERATOR(pg_catalog.-) purged_rows, anchor_hash"
					 " FROM invoice.audit_heads"
					 " WHERE $1 OPERATOR(pg_catalog.=) 0 OR org_id OPERATOR(pg_catalog.=) $1"
					 " ORDER BY org_id",
					 1, (Oid[]) {INT8OID});
	api_execute(plan, (Datum[]) {Int64GetDatum(org_id)}, NULL, true, SPI_OK_SELECT);
	heads = palloc0(sizeof(Head) * (SPI_processed + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		Datum		d;

		heads[i].org_id = DatumGetInt64(api_getdatum(i, Anum_head_org_id, &isnull));
		d = api_getdatum(i, Anum_head_last_audit_id, &isnull);
		heads[i].last_audit_id = isnull ? 0 : DatumGetInt64(d);
		heads[i].live_rows = DatumGetInt64(api_getdatum(i, Anum_head_live_rows, &isnull));
		d = api_getdatum(i, Anum_head_head_hash, &isnull);
		copy_hash(d, isnull, heads[i].head_hash, "head_hash");
		d = api_getdatum(i, Anum_head_anchor_hash, &isnull);
		copy_hash(d, isnull, heads[i].anchor_hash, "anchor_hash");
	}
	*nheads = (int) SPI_processed;
	return heads;
}

/*
 * verify_org_arg
 *		Which tenants the caller may verify: a platform admin any (0 for
 *		all), anyone else only the tenant of the context.
 */
static int64
verify_org_arg(FunctionCallInfo fcinfo)
{
	int64		current;

	if (tenant_caller_is_platform_admin())
		return PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0);
	current = tenant_require();
	if (!PG_ARGISNULL(0) && PG_GETARG_INT64(0) != current)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for organization " INT64_FORMAT, PG_GETARG_INT64(0)),
				 errhint("Only invoice_admin verifies the log of a tenant other than the current one.")));
	return current;
}

/*
 * invoice_audit_verify
 *		audit_verify(org_id bigint DEFAULT NULL): recomputes the chain of
 *		one tenant or of all, one result row per tenant.
 */
Datum
invoice_audit_verify(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		org_id = verify_org_arg(fcinfo);
	MemoryContext rowcxt;
	ApiCall		call;
	Portal		portal;
	Head	   *heads;
	int			nheads,
				h = 0;
	ChainCheck	c;
	bool		open = false;

	InitMaterializedSRF(fcinfo, 0);
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "invoice audit verify",
								   ALLOCSET_DEFAULT_SIZES);
	api_begin(&call);
	heads = load_heads(org_id, &nheads);
	api_prepare_once(&plan, "SELECT org_id, audit_id, occurred_at, txid, db_role, db_current_role,"
					 " app_user_id, table_name, operation, row_key, old_row, new_row, changed,"
					 " prev_hash, row_hash FROM invoice.audit_log"
					 " WHERE $1 OPERATOR(pg_catalog.=) 0 OR org_id OPERATOR(pg_catalog.=) $1"
					 " ORDER BY org_id, audit_id",
					 1, (Oid[]) {INT8OID});
	portal = SPI_cursor_open(NULL, plan, (Datum[]) {Int64GetDatum(org_id)}, NULL, true);
	for (;;)
	{
		uint64		i;

		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;
		for (i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			int64		row_org = DatumGetInt64(api_getdatum(i, Anum_audit_log_org_id, &isnull));
			MemoryContext old;

			if (!open || row_org != c.org_id)
			{
				if (open)
					check_end(&c, rsinfo->setResult, rsinfo->setDesc);
				/* tenants with a head but no rows left come first */
				while (h < nheads && heads[h].org_id < row_org)
				{
					check_begin(&c, heads[h].org_id, &heads[h]);
					check_end(&c, rsinfo->setResult, rsinfo->setDesc);
					h++;
				}
				if (h < nheads && heads[h].org_id == row_org)
					check_begin(&c, row_org, &heads[h++]);
				else
					check_begin(&c, row_org, NULL);
				open = true;
			}
			old = MemoryContextSwitchTo(rowcxt);
			check_row(&c, (int) i);
			MemoryContextSwitchTo(old);
			MemoryContextReset(rowcxt);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	if (open)
		check_end(&c, rsinfo->setResult, rsinfo->setDesc);
	for (; h < nheads; h++)
	{
		check_begin(&c, heads[h].org_id, &heads[h]);
		check_end(&c, rsinfo->setResult, rsinfo->setDesc);
	}
	api_end(&call);
	MemoryContextDelete(rowcxt);
	return (Datum) 0;
}

/* ----------
 * audit_purge
 * ----------
 */

/* the statement that removes one tenant's prefix (purge_prefixes) */
static SPIPlanPtr purge_plan = NULL;

/*
 * purge_prefixes
 *		Removes, for each row (org_id, last audit_id to remove or NULL) of
 *		SPI_tuptable, that prefix of the tenant's chain, and anchors the
 *		rest on its last row.  The heads are locked by the caller's
 *		statement.  Returns the number of rows removed.
 */
static int64
purge_prefixes(void)
{
	int64		removed = 0;
	uint64		i,
				ntenants = SPI_processed;
	int64	   *orgs = palloc(sizeof(int64) * (ntenants + 1));
	int64	   *bounds = palloc(sizeof(int64) * (ntenants + 1));

	for (i = 0; i < ntenants; i++)
	{
		bool		isnull;
		Datum		d;

		orgs[i] = DatumGetInt64(api_getdatum(i, 1, &isnull));
		d = api_getdatum(i, 2, &isnull);
		bounds[i] = isnull ? 0 : DatumGetInt64(d);
	}

	/* one pass over the prefix: delete it, anchor on its last row */
	api_prepare_once(&purge_plan, "WITH gone AS (DELETE FROM invoice.audit_log"
					 "  WHERE org_id OPERATOR(pg_catalog.=) $1 AND audit_id OPERATOR(pg_catalog.<=) $2"
					 "  RETURNING audit_id, row_hash)"
					 " UPDATE invoice.audit_heads h SET anchor_audit_id = $2,"
					 " anchor_hash = (SELECT row_hash FROM gone WHERE audit_id OPERATOR(pg_catalog.=) $2),"
					 " purged_rows = h.purged_rows OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM gone)"
					 " WHERE h.org_id OPERATOR(pg_catalog.=) $1"
					 " RETURNING (SELECT pg_catalog.count(*) FROM gone)",
					 2, (Oid[]) {INT8OID, INT8OID});
	audit_maintenance_begin();
	for (i = 0; i < ntenants; i++)
	{
		Datum		args[2] = {Int64GetDatum(orgs[i]), Int64GetDatum(bounds[i])};
		bool		isnull;

		if (bounds[i] == 0)
			continue;
		api_execute(purge_plan, args, NULL, false, SPI_OK_UPDATE_RETURNING);
		removed += DatumGetInt64(api_getdatum(0, 1, &isnull));
	}
	audit_maintenance_end();
	return removed;
}

/*
 * audit_purge_retained
 *		What maintenance() does for the tenants that set an
 *		audit_retention_days: audit_purge's removal, with each tenant's own
 *		age (the empty partitions are left to audit_purge()).  Tenants
 *		without the setting keep their whole log.  SPI is connected.
 *		Returns the number of rows removed.
 */
int64
audit_purge_retained(void)
{
	static SPIPlanPtr bounds_plan = NULL;

	api_prepare_once(&bounds_plan, "SELECT h.org_id, (SELECT pg_catalog.max(l.audit_id) FROM invoice.audit_log l"
					 "  WHERE l.org_id OPERATOR(pg_catalog.=) h.org_id"
					 "  AND l.audit_id OPERATOR(pg_catalog.<) COALESCE((SELECT pg_catalog.min(m.audit_id)"
					 "   FROM invoice.audit_log m WHERE m.org_id OPERATOR(pg_catalog.=) h.org_id"
					 "   AND m.occurred_at OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-)"
					 "    pg_catalog.make_interval(days => o.audit_retention_days))), 9223372036854775807))"
					 " FROM invoice.audit_heads h"
					 " JOIN invoice.organizations o ON o.org_id OPERATOR(pg_catalog.=) h.org_id"
					 " WHERE o.audit_retention_days IS NOT NULL"
					 " ORDER BY h.org_id FOR NO KEY UPDATE OF h",
					 0, NULL);
	api_execute(bounds_plan, NULL, NULL, false, SPI_OK_SELECT);
	return purge_prefixes();
}

/*
 * invoice_audit_purge
 *		audit_purge(older_than interval): removes, tenant by tenant, the
 *		longest prefix of the chain whose rows all occurred before now() -
 *		older_than, and keeps the hash of its last row as the anchor the
 *		remaining chain starts from.  Returns the number of rows removed.
 *		Partitions that earlier purges left empty and that lie wholly
 *		before the cutoff are dropped first, before the chains' heads are
 *		locked: dropping a partition locks the whole log (for a bounded
 *		time, see audit_admin.c), and with the heads locked every tenant's
 *		commit would wait on the purge meanwhile.
 */
Datum
invoice_audit_purge(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr bounds_plan = NULL;
	Interval   *older_than;
	TimestampTz cutoff;
	ApiCall		call;
	int64		removed;

	arg_required(fcinfo, 0, "older_than");
	require_platform_admin("purge the audit log");
	older_than = PG_GETARG_INTERVAL_P(0);
	if (older_than->month < 0 || older_than->day < 0 || older_than->time < 0 ||
		(older_than->month == 0 && older_than->day == 0 && older_than->time == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"older_than\" must be a positive interval"),
				 errhint("For example '13 months'.")));
	cutoff = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
													 TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
													 IntervalPGetDatum(older_than)));

	api_begin(&call);
	audit_drop_partitions_before(cutoff);
	/*
	 * per tenant, the last audit_id before the first row that is not
	 * old enough; the head is locked so that no writer moves it
	 */
	api_prepare_once(&bounds_plan, "SELECT h.org_id, (SELECT pg_catalog.max(l.audit_id) FROM invoice.audit_log l"
					 "  WHERE l.org_id OPERATOR(pg_catalog.=) h.org_id"
					 "  AND l.audit_id OPERATOR(pg_catalog.<) COALESCE((SELECT pg_catalog.min(m.audit_id)"
					 "   FROM invoice.audit_log m WHERE m.org_id OPERATOR(pg_catalog.=) h.org_id"
					 "   AND m.occurred_at OPERATOR(pg_catalog.>=) $1), 9223372036854775807))"
					 " FROM invoice.audit_heads h ORDER BY h.org_id FOR NO KEY UPDATE OF h",
					 1, (Oid[]) {TIMESTAMPTZOID});
	api_execute(bounds_plan, (Datum[]) {TimestampTzGetDatum(cutoff)}, NULL, false, SPI_OK_SELECT);
	removed = purge_prefixes();
	api_end(&call);

	PG_RETURN_INT64(removed);
}
