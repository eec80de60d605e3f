/*-------------------------------------------------------------------------
 *
 * audit_write.c
 *	  Writing audit records into invoice.audit_log: the chain head of a
 *	  tenant, the hashes, and the rows themselves.
 *
 * audit.c hands over the records of one tenant in the order they were
 * made.  The tenant's head (invoice.audit_heads) is locked until the end of
 * the transaction (its commit record, when another writer waits: see
 * commit.c), each record gets the next audit_id, its prev_hash and its
 * row_hash, the rows are written and the head moves to the last of them.
 *
 * The rows are written the way COPY FROM writes them: the executor's own
 * partition routing sends each row to the partition of its month (or the
 * default one), the log's constraints are checked as an INSERT checks
 * them, the heap takes each partition's run of rows in one multi-insert
 * (one WAL record a page), then every index gets its entries.  An INSERT
 * statement cost more than the rows it wrote: the start-up of its plan on
 * every commit, and four copies of each row on the way through unnest()
 * and its tuplestore.  What the executor would do besides is not needed
 * here: the rows come from the audit trigger, never from a user, so row
 * level security (which is about readers) has nothing to check, and the
 * log has no INSERT triggers: if the log or a partition has some, the
 * write is refused rather than the triggers bypassed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/toast_compression.h"
#include "access/toast_internals.h"
#include "access/tupconvert.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/execPartition.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "audit.h"
#include "checks.h"
#include "commit.h"
#include "exec.h"

/* row images shorter than this are stored as they are */
#define AUDIT_COMPRESS_MIN 128

static Datum
jsonb_or_null(Jsonb *jb, bool *isnull)
{
	*isnull = (jb == NULL);
	return jb == NULL ? (Datum) 0 : JsonbPGetDatum(jb);
}

/*
 * jsonb_compressed
 *		A row image as it is stored: compressed inline (lz4) when it is
 *		long enough to gain from it.  PostgreSQL compresses a value only
 *		when the whole row passes 2 kB, which an audit row seldom does; the
 *		images are most of its bytes.  lz4 takes 17 to 26 % off an image of
 *		the tenant tables and 9 to 19 % off the row, its WAL and the pages
 *		the log grows by, for no time the benchmark could tell apart
 *		(bench/README.md).  Readers see the same jsonb, and the hash is
 *		over its uncompressed binary form.
 */
static Datum
jsonb_compressed(Jsonb *jb, bool *isnull)
{
	*isnull = (jb == NULL);
	if (jb == NULL)
		return (Datum) 0;
#ifdef USE_LZ4
	if (VARSIZE(jb) >= AUDIT_COMPRESS_MIN)
	{
		Datum		c = toast_compress_datum(JsonbPGetDatum(jb), TOAST_LZ4_COMPRESSION);

		if (c != (Datum) 0)
			return c;
	}
#endif
	return JsonbPGetDatum(jb);
}

static Datum
hash_datum(const uint8 *hash)
{
	bytea	   *b = palloc(VARHDRSZ + AUDIT_HASH_LEN);

	SET_VARSIZE(b, VARHDRSZ + AUDIT_HASH_LEN);
	memcpy(VARDATA(b), hash, AUDIT_HASH_LEN);
	return PointerGetDatum(b);
}

/*
 * record_tuple
 *		One audit_log row, in the log's own column order.
 */
static HeapTuple
record_tuple(const AuditRecord *rec, TupleDesc tupdesc)
{
	Datum		values[Natts_audit_log];
	bool		nulls[Natts_audit_log];

	memset(nulls, 0, sizeof(nulls));
	values[Anum_audit_log_org_id - 1] = Int64GetDatum(rec->org_id);
	values[Anum_audit_log_audit_id - 1] = Int64GetDatum(rec->audit_id);
	values[Anum_audit_log_occurred_at - 1] = TimestampTzGetDatum(rec->occurred_at);
	values[Anum_audit_log_txid - 1] = Int64GetDatum(rec->txid);
	values[Anum_audit_log_db_role - 1] = CStringGetTextDatum(rec->db_role);
	nulls[Anum_audit_log_db_current_role - 1] = (rec->db_current_role == NULL);
	values[Anum_audit_log_db_current_role - 1] = rec->db_current_role == NULL ? (Datum) 0 :
		CStringGetTextDatum(rec->db_current_role);
	nulls[Anum_audit_log_app_user_id - 1] = (rec->app_user_id == 0);
	values[Anum_audit_log_app_user_id - 1] = Int64GetDatum(rec->app_user_id);
	values[Anum_audit_log_table_name - 1] = CStringGetTextDatum(rec->table_name);
	values[Anum_audit_log_operation - 1] = CStringGetTextDatum(rec->operation);
	values[Anum_audit_log_row_key - 1] = jsonb_or_null(rec->row_key, &nulls[Anum_audit_log_row_key - 1]);
	values[Anum_audit_log_old_row - 1] = jsonb_compressed(rec->old_row, &nulls[Anum_audit_log_old_row - 1]);
	values[Anum_audit_log_new_row - 1] = jsonb_compressed(rec->new_row, &nulls[Anum_audit_log_new_row - 1]);
	values[Anum_audit_log_changed - 1] = jsonb_compressed(rec->changed, &nulls[Anum_audit_log_changed - 1]);
	values[Anum_audit_log_prev_hash - 1] = hash_datum(rec->prev_hash);
	values[Anum_audit_log_row_hash - 1] = hash_datum(rec->row_hash);
	return heap_form_tuple(tupdesc, values, nulls);
}

/*
 * refuse_insert_triggers
 *		The writer does not fire INSERT triggers, so the log and its
 *		partitions must have none.
 */
static void
refuse_insert_triggers(Relation rel)
{
	TriggerDesc *trig = rel->trigdesc;

	if (trig != NULL &&
		(trig->trig_insert_before_row || trig->trig_insert_after_row ||
		 trig->trig_insert_instead_row || trig->trig_insert_before_statement ||
		 trig->trig_insert_after_statement || trig->trig_insert_new_table))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("audit log table \"%s\" has INSERT triggers", RelationGetRelationName(rel)),
				 errdetail("The audit writer inserts rows the way COPY does and would not fire them."),
				 errhint("Drop those triggers; read new rows from invoice.audit_log instead.")));
}

/*
 * insert_rows
 *		Writes rows of the log (in the log's column order), each into the
 *		partition its occurred_at routes it to, as COPY FROM does: routing,
 *		constraints, then the heap (one multi-insert per partition's run of
 *		rows), then the indexes.  `log` is open and locked.
 */
static void
insert_rows(Relation log, HeapTuple *rows, int n)
{
	EState	   *estate = CreateExecutorState();
	RangeTblEntry *rte = makeNode(RangeTblEntry);
	ResultRelInfo *root = makeNode(ResultRelInfo);
	ModifyTableState *mtstate = makeNode(ModifyTableState);
	PartitionTupleRouting *proute;
	TupleTableSlot **slots = palloc(sizeof(TupleTableSlot *) * n);
	TupleTableSlot **made = palloc(sizeof(TupleTableSlot *) * n * 2);
	int			nmade = 0;
	/*
	 * The rows' slots share a copy of the log's descriptor: a copy is not
	 * reference-counted, so a slot costs no pin in the resource owner (and
	 * no search of its pins when dropped).
	 */
	TupleDesc	rowdesc = CreateTupleDescCopy(RelationGetDescr(log));
	ResultRelInfo **parts = palloc(sizeof(ResultRelInfo *) * n);
	CommandId	cid = GetCurrentCommandId(true);
	int			i,
				j,
				start;

	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(log);
	rte->relkind = log->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	rte->requiredPerms = ACL_INSERT;
	ExecInitRangeTable(estate, list_make1(rte));
	ExecInitResultRelation(estate, root, 1);
	mtstate->ps.plan = NULL;
	mtstate->ps.state = estate;
	mtstate->operation = CMD_INSERT;
	mtstate->mt_nrels = 1;
	mtstate->resultRelInfo = root;
	mtstate->rootResultRelInfo = root;
	proute = ExecSetupPartitionTupleRouting(estate, log);

	refuse_insert_triggers(log);
	for (i = 0; i < n; i++)
	{
		TupleTableSlot *slot = made[nmade++] = MakeSingleTupleTableSlot(rowdesc, &TTSOpsHeapTuple);
		ResultRelInfo *part;

		/* the slot owns the row, so the heap takes it without a copy */
		ExecStoreHeapTuple(rows[i], slot, true);
		part = ExecFindPartition(mtstate, root, proute, slot, estate);
		if (i == 0 || part != parts[i - 1])
			refuse_insert_triggers(part->ri_RelationDesc);
		if (part->ri_RootToPartitionMap != NULL)
		{
			made[nmade] = MakeSingleTupleTableSlot(RelationGetDescr(part->ri_RelationDesc),
												   &TTSOpsVirtual);
			slot = execute_attr_map_slot(part->ri_RootToPartitionMap->attrMap, slot, made[nmade++]);
		}
		if (part->ri_RelationDesc->rd_att->constr != NULL)
		{
			checks_give(part, estate);
			ExecConstraints(part, slot, estate);
		}
		slots[i] = slot;
		parts[i] = part;
	}

	for (start = 0; start < n; start = i)
	{
		for (i = start + 1; i < n; i++)
			if (parts[i] != parts[start])
				break;
		table_multi_insert(parts[start]->ri_RelationDesc, &slots[start], i - start, cid, 0, NULL);
		for (j = start; j < i; j++)
		{
			ResetPerTupleExprContext(estate);
			list_free(ExecInsertIndexTuples(parts[start], slots[j], estate, false, false, NULL, NIL));
		}
	}

	/* the slots of converted rows pin their partitions' descriptors */
	for (i = 0; i < nmade; i++)
		ExecDropSingleTupleTableSlot(made[i]);
	ExecCleanupTupleRouting(mtstate, proute);
	ExecCloseResultRelations(estate);
	ExecCloseRangeTableRelations(estate);
	/* routing's own slots, for partitions with another column order */
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
	/* later commands of this transaction see the rows */
	CommandCounterIncrement();
}

/* ----------
 * The chain head of a tenant, read, locked and moved without a statement
 *
 * The head is a lock as much as a row: the next writer of the tenant waits
 * on it, then continues the chain from whatever the last one left, so it
 * must read the newest version of the row, whatever its snapshot (under
 * REPEATABLE READ too: the chain's order is the order of commits, not of
 * snapshots).  This is what SELECT ... FOR NO KEY UPDATE under READ
 * COMMITTED does, and then UPDATE; the two statements cost a quarter of the
 * commit-time write (their plans' start-up, snapshots, the executor), for
 * one index probe, one tuple lock and one heap update.
 * ----------
 */
typedef struct ChainHead
{
	Relation	rel;			/* invoice.audit_heads, RowExclusiveLock */
	TupleTableSlot *slot;		/* the locked version of the tenant's row */
	AttrNumber	att_last_id;
	AttrNumber	att_hash;
	AttrNumber	att_count;
} ChainHead;

static AttrNumber
head_attnum(Relation rel, const char *name)
{
	AttrNumber	att = get_attnum(RelationGetRelid(rel), name);

	if (att == InvalidAttrNumber)
		elog(ERROR, "invoice.audit_heads has no column \"%s\"", name);
	return att;
}

/*
 * head_open
 *		Opens the heads, refusing them if an UPDATE of theirs would fire a
 *		trigger (the foreign key's own check has nothing to check: org_id
 *		never changes).
 */
static void
head_open(ChainHead *h, Oid relid)
{
	TriggerDesc *trig;

	h->rel = table_open(relid, RowExclusiveLock);
	trig = h->rel->trigdesc;
	for (int i = 0; trig != NULL && i < trig->numtriggers; i++)
	{
		Trigger    *t = &trig->triggers[i];

		if (TRIGGER_FOR_UPDATE(t->tgtype) && t->tgenabled != TRIGGER_DISABLED &&
			RI_FKey_trigger_type(t->tgfoid) != RI_TRIGGER_FK)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("audit chain head table \"%s\" has UPDATE trigger \"%s\"",
							RelationGetRelationName(h->rel), t->tgname),
					 errdetail("The audit writer moves the heads without firing triggers."),
					 errhint("Drop that trigger.")));
	}
	h->slot = table_slot_create(h->rel, NULL);
	h->att_last_id = head_attnum(h->rel, "last_audit_id");
	h->att_hash = head_attnum(h->rel, "head_hash");
	h->att_count = head_attnum(h->rel, "row_count");
}

/*
 * head_find
 *		The tenant's row through the primary key, as the newest snapshot
 *		sees it (its tid into h->slot); false if it has none.
 */
static bool
head_find(ChainHead *h, int64 org_id)
{
	Relation	pkey = index_open(RelationGetPrimaryKeyIndex(h->rel), AccessShareLock);
	Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());
	IndexScanDesc scan;
	ScanKeyData key;
	bool		found;

	if (pkey->rd_index->indnatts != 1 || pkey->rd_index->indkey.values[0] != 1)
		elog(ERROR, "the primary key of invoice.audit_heads is not (org_id)");
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(org_id));
	scan = index_beginscan(h->rel, pkey, snap, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, h->slot);
	index_endscan(scan);
	UnregisterSnapshot(snap);
	index_close(pkey, NoLock);
	return found;
}

/*
 * head_lock
 *		Locks the tenant's head until the end of the transaction (waiting
 *		for its holder, and following its update to the newest version),
 *		creates it for a tenant's first record, and copies its hash.
 */
static void
head_lock(ChainHead *h, int64 org_id, uint8 *hash_out)
{
	static SPIPlanPtr create_plan = NULL;
	TM_FailureData tmfd;
	TM_Result	res;
	ItemPointerData tid;
	Datum		d;
	bool		isnull;
	bytea	   *hash;

	if (!head_find(h, org_id))
	{
		Datum		arg = Int64GetDatum(org_id);

		api_prepare_once(&create_plan, "INSERT INTO invoice.audit_heads (org_id) VALUES ($1)"
						 " ON CONFLICT (org_id) DO NOTHING",
						 1, (Oid[]) {INT8OID});
		api_execute(create_plan, &arg, NULL, false, SPI_OK_INSERT);
		if (!head_find(h, org_id))
			elog(ERROR, "could not create the audit chain head of organization " INT64_FORMAT, org_id);
	}
	tid = h->slot->tts_tid;
	res = table_tuple_lock(h->rel, &tid, ActiveSnapshotSet() ? GetActiveSnapshot() : NULL, h->slot, GetCurrentCommandId(false),
						   LockTupleNoKeyExclusive, LockWaitBlock,
						   TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &tmfd);
	if (res != TM_Ok)
		elog(ERROR, "could not lock the audit chain head of organization " INT64_FORMAT " (%d)",
			 org_id, (int) res);
	commit_release_early();
	d = slot_getattr(h->slot, h->att_hash, &isnull);
	hash = isnull ? NULL : DatumGetByteaPP(d);
	if (hash == NULL || VARSIZE_ANY_EXHDR(hash) != AUDIT_HASH_LEN)
		elog(ERROR, "the audit chain head of organization " INT64_FORMAT " is damaged", org_id);
	memcpy(hash_out, VARDATA_ANY(hash), AUDIT_HASH_LEN);
}

/*
 * head_move
 *		Moves the locked head to the last of n records written, as an UPDATE
 *		of those three columns would: the heads' constraints checked, then
 *		the heap (a HOT update as a rule: no indexed column changes), then,
 *		when the new version left the page, every index of the heads.  Then
 *		closes the heads.
 */
static void
head_move(ChainHead *h, int64 last_id, const uint8 *hash, int64 n)
{
	TupleDesc	desc = RelationGetDescr(h->rel);
	HeapTuple	old = ExecFetchSlotHeapTuple(h->slot, false, NULL);
	Datum	   *values = palloc(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * desc->natts);
	bool	   *replace = palloc0(sizeof(bool) * desc->natts);
	EState	   *estate = CreateExecutorState();
	RangeTblEntry *rte = makeNode(RangeTblEntry);
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsHeapTuple);
	AttrNumber	moved[] = {h->att_last_id, h->att_hash, h->att_count};
	Datum		count;
	bool		isnull;
	HeapTuple	tup;

	count = slot_getattr(h->slot, h->att_count, &isnull);
	values[h->att_last_id - 1] = Int64GetDatum(last_id);
	values[h->att_hash - 1] = hash_datum(hash);
	values[h->att_count - 1] = Int64GetDatum((isnull ? 0 : DatumGetInt64(count)) + n);
	for (int i = 0; i < lengthof(moved); i++)
	{
		nulls[moved[i] - 1] = false;
		replace[moved[i] - 1] = true;
		rte->updatedCols = bms_add_member(rte->updatedCols,
										  moved[i] - FirstLowInvalidHeapAttributeNumber);
	}
	tup = heap_modify_tuple(old, desc, values, nulls, replace);

	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(h->rel);
	rte->relkind = h->rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	rte->requiredPerms = ACL_UPDATE;
	ExecInitRangeTable(estate, list_make1(rte));
	ExecInitResultRelation(estate, rri, 1);
	ExecStoreHeapTuple(tup, slot, false);
	if (desc->constr != NULL)
	{
		checks_give(rri, estate);
		ExecConstraints(rri, slot, estate);
	}

	simple_heap_update(h->rel, &h->slot->tts_tid, tup);
	if (!HeapTupleIsHeapOnly(tup))
	{
		slot->tts_tid = tup->t_self;
		ExecOpenIndices(rri, false);
		list_free(ExecInsertIndexTuples(rri, slot, estate, true, false, NULL, NIL));
	}
	ExecDropSingleTupleTableSlot(slot);
	ExecCloseResultRelations(estate);
	ExecCloseRangeTableRelations(estate);
	FreeExecutorState(estate);
	ExecDropSingleTupleTableSlot(h->slot);
	table_close(h->rel, NoLock);
	/* later commands of this transaction see the new head */
	CommandCounterIncrement();
}

/*
 * audit_write_chain
 *		Chains and writes the records of one tenant, in the order given.
 *		SPI is connected (api_begin).
 */
void
audit_write_chain(AuditRecord *const *recs, int n)
{
	Oid			nsp = get_namespace_oid("invoice", false);
	Oid			seqid = get_relname_relid("audit_id_seq", nsp);
	Oid			logid = get_relname_relid("audit_log", nsp);
	Oid			headsid = get_relname_relid("audit_heads", nsp);
	Relation	log;
	ChainHead	h;
	HeapTuple  *rows = palloc(sizeof(HeapTuple) * n);
	uint8		head[AUDIT_HASH_LEN];
	int			i;

	if (!OidIsValid(seqid) || !OidIsValid(logid) || !OidIsValid(headsid))
		elog(ERROR, "invoice.audit_log, invoice.audit_heads or invoice.audit_id_seq is missing");

	/* as an INSERT into the log would: the log, then its partitions */
	log = table_open(logid, RowExclusiveLock);
	if (RelationGetDescr(log)->natts != Natts_audit_log)
		elog(ERROR, "invoice.audit_log has %d columns, expected %d",
			 RelationGetDescr(log)->natts, Natts_audit_log);

	head_open(&h, headsid);
	head_lock(&h, recs[0]->org_id, head);
	for (i = 0; i < n; i++)
	{
		AuditRecord *rec = recs[i];

		/* under the head's lock, so ids follow the chain (CACHE 1) */
		rec->audit_id = nextval_internal(seqid, false);
		memcpy(rec->prev_hash, head, AUDIT_HASH_LEN);
		audit_hash(rec, head, rec->row_hash);
		memcpy(head, rec->row_hash, AUDIT_HASH_LEN);
		rows[i] = record_tuple(rec, RelationGetDescr(log));
	}

	insert_rows(log, rows, n);
	table_close(log, NoLock);
	head_move(&h, recs[n - 1]->audit_id, head, n);
}
