/*-------------------------------------------------------------------------
 *
 * audit.c
 *	  The audit trigger: every INSERT, UPDATE and DELETE on a tenant table
 *	  becomes a row of invoice.audit_log, chained per tenant by SHA-256.
 *
 * Two triggers work together on every audited table.  audit_row (AFTER
 * ... FOR EACH ROW) turns the change into a record in memory: who (session
 * role, acting role, application user), when (statement start), what
 * (table, operation, primary key, old and new row as jsonb, and for an
 * UPDATE the changed columns).  audit_write, a constraint trigger
 * DEFERRABLE INITIALLY DEFERRED on invoice.audit_flush(), fires at commit
 * (its name sorts after audit_row, so that when it is made IMMEDIATE it
 * still fires after the records of its statement exist): tenant by tenant,
 * in org_id order, audit_write.c locks the chain head (invoice.audit_heads,
 * one row per tenant), gives the records their audit_ids and hashes in the
 * order they were made, writes them and moves the head.
 *
 * So the head of a tenant is locked once per transaction and as late as
 * possible: from the commit's deferred triggers to the end of the commit
 * (to its commit record, when another writer waits: see commit.c).
 * Writers of one tenant are ordered by commit, and their audit_ids follow
 * that order; tenants never wait on each other.  A statement that buffers
 * more than AUDIT_FLUSH_ROWS records at top level writes them early, which
 * takes the lock early; inside a subtransaction the buffer just grows.
 *
 * Records of a subtransaction that rolls back are dropped with it.  If
 * audit rows already written inside that subtransaction carried records of
 * its parents (possible only after SET CONSTRAINTS ... IMMEDIATE), they
 * cannot be written again: the transaction is then refused at commit
 * rather than allowed to commit unaudited changes.  Likewise a commit with
 * records left unwritten (audit_write disabled) fails.
 *
 * TRUNCATE of an audited table is refused: it would remove rows without a
 * trace.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "audit.h"
#include "exec.h"
#include "tenant.h"

PG_FUNCTION_INFO_V1(invoice_audit_row);
PG_FUNCTION_INFO_V1(invoice_audit_flush);
PG_FUNCTION_INFO_V1(invoice_audit_write_needed);

/* records buffered at top level before they are written early */
#define AUDIT_FLUSH_ROWS 1000

/* invoice.audit_skip_noop_updates */
static bool audit_skip_noop_updates = false;

/* ----------
 * What the trigger knows of an audited table, cached per backend
 * ----------
 */

/* how a column's value becomes JSON */
typedef enum AuditKind
{
	AK_BOOL,
	AK_INT2,
	AK_INT4,
	AK_INT8,
	AK_NUMERIC,
	AK_FLOAT4,
	AK_FLOAT8,
	AK_DATETIME,
	AK_JSONB,
	AK_JSON,
	AK_TEXT,
	AK_OTHER					/* its output function, as a string */
} AuditKind;

typedef struct AuditColumn
{
	char	   *name;			/* NULL for a dropped column */
	int			namelen;
	Oid			typid;			/* the base type of a domain */
	AuditKind	kind;
	int16		typlen;
	bool		typbyval;
	FmgrInfo	out;			/* AK_OTHER */
} AuditColumn;

typedef struct AuditRel
{
	Oid			relid;			/* hash key */
	bool		valid;
	MemoryContext cxt;			/* holds everything below */
	char	   *table_name;		/* schema-qualified */
	AttrNumber	org_attnum;
	int			natts;
	AuditColumn *cols;

	/*
	 * The columns (0-based attribute numbers) in the order of their names
	 * as jsonb keys, so that a row's object is built already sorted: all
	 * live columns, and the primary key's.
	 */
	int			ncols;
	int		   *col_order;
	int			npk;
	int			pk_order[INDEX_MAX_KEYS];
} AuditRel;

static HTAB *audit_rels = NULL;
static MemoryContext audit_cache_cxt = NULL;

/* ----------
 * The records of the current transaction
 * ----------
 */

typedef struct BufferedRecord
{
	AuditRecord rec;
	SubTransactionId subid;		/* the subtransaction that made it */
	int			seq;			/* order of making, for a stable sort */
} BufferedRecord;

static MemoryContext buffer_cxt = NULL;	/* child of TopTransactionContext */
static BufferedRecord **buffer = NULL;
static int	nbuffered = 0;
static int	maxbuffered = 0;
static int	nmade = 0;

/* the innermost subtransaction that wrote records of outer levels */
static SubTransactionId flushed_outer_subid = InvalidSubTransactionId;

/* set when such records were rolled back: the commit must fail */
static bool audit_lost = false;

static bool flushing = false;

/*
 * whether an audit_write event is queued, and by which subtransaction: the
 * trigger's WHEN clause queues one event per transaction, not one per row
 */
static bool write_pending = false;
static SubTransactionId write_pending_subid = InvalidSubTransactionId;

/* role names of this transaction, looked up once */
static Oid	named_session = InvalidOid;
static Oid	named_actor = InvalidOid;
static char *session_name = NULL;
static char *actor_name = NULL;

/*
 * check_trigger
 *		Trigger protocol checks; TRUNCATE of an audited table is refused.
 */
static TriggerData *
check_trigger(FunctionCallInfo fcinfo, const char *name)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s() must be called as a trigger", name)));
	if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s is audited and cannot be truncated",
						RelationGetRelationName(trigdata->tg_relation)),
				 errdetail("TRUNCATE would remove rows without an audit record."),
				 errhint("Delete the rows instead.")));
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s() must be fired AFTER ... FOR EACH ROW", name)));
	return trigdata;
}

/*
 * audit_rel_invalidate
 *		Relcache callback: the table changed, read it again next time.
 */
static void
audit_rel_invalidate(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	AuditRel   *entry;

	if (audit_rels == NULL)
		return;
	if (OidIsValid(relid))
	{
		entry = hash_search(audit_rels, &relid, HASH_FIND, NULL);
		if (entry != NULL)
			entry->valid = false;
		return;
	}
	hash_seq_init(&status, audit_rels);
	while ((entry = hash_seq_search(&status)) != NULL)
		entry->valid = false;
}

static AuditKind
column_kind(Oid typid)
{
	switch (typid)
	{
		case BOOLOID:
			return AK_BOOL;
		case INT2OID:
			return AK_INT2;
		case INT4OID:
			return AK_INT4;
		case INT8OID:
			return AK_INT8;
		case NUMERICOID:
			return AK_NUMERIC;
		case FLOAT4OID:
			return AK_FLOAT4;
		case FLOAT8OID:
			return AK_FLOAT8;
		case DATEOID:
		case TIMEOID:
		case TIMETZOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return AK_DATETIME;
		case JSONBOID:
			return AK_JSONB;
		case JSONOID:
			return AK_JSON;
		case TEXTOID:
		case VARCHAROID:
			return AK_TEXT;
		default:
			return AK_OTHER;
	}
}

/*
 * key_order_cmp
 *		Orders attribute numbers as jsonb orders object keys: shorter names
 *		first, then bytewise.
 */
static int
key_order_cmp(const void *a, const void *b, void *arg)
{
	const AuditColumn *cols = (const AuditColumn *) arg;
	const AuditColumn *ca = &cols[*(const int *) a];
	const AuditColumn *cb = &cols[*(const int *) b];

	if (ca->namelen != cb->namelen)
		return ca->namelen < cb->namelen ? -1 : 1;
	return memcmp(ca->name, cb->name, ca->namelen);
}

/*
 * audit_rel_fill
 *		Reads what the trigger needs of a table: its qualified name, its
 *		org_id column, its primary key and how each column becomes JSON.
 */
static void
audit_rel_fill(AuditRel *entry, Relation rel)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	Oid			pkoid = RelationGetPrimaryKeyIndex(rel);
	MemoryContext old;
	Relation	index;
	int			i;

	if (entry->cxt != NULL)
		MemoryContextDelete(entry->cxt);
	entry->cxt = AllocSetContextCreate(audit_cache_cxt, "invoice audit table",
									   ALLOCSET_SMALL_SIZES);
	entry->valid = false;
	old = MemoryContextSwitchTo(entry->cxt);

	entry->table_name = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												   RelationGetRelationName(rel));
	entry->org_attnum = SPI_fnumber(tupdesc, "org_id");
	if (entry->org_attnum <= 0 ||
		getBaseType(TupleDescAttr(tupdesc, entry->org_attnum - 1)->atttypid) != INT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("audited table %s has no bigint column \"org_id\"", entry->table_name)));
	if (!OidIsValid(pkoid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("audited table %s has no primary key", entry->table_name)));
	index = index_open(pkoid, AccessShareLock);
	entry->npk = index->rd_index->indnkeyatts;
	for (i = 0; i < entry->npk; i++)
		entry->pk_order[i] = index->rd_index->indkey.values[i] - 1;
	index_close(index, AccessShareLock);

	entry->natts = tupdesc->natts;
	entry->cols = palloc0(sizeof(AuditColumn) * tupdesc->natts);
	entry->col_order = palloc(sizeof(int) * tupdesc->natts);
	entry->ncols = 0;
	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		AuditColumn *col = &entry->cols[i];

		if (att->attisdropped)
			continue;
		entry->col_order[entry->ncols++] = i;
		col->name = pstrdup(NameStr(att->attname));
		col->namelen = strlen(col->name);
		col->typid = getBaseType(att->atttypid);
		col->kind = column_kind(col->typid);
		col->typlen = att->attlen;
		col->typbyval = att->attbyval;
		if (col->kind == AK_OTHER)
		{
			Oid			outfn;
			bool		isvarlena;

			getTypeOutputInfo(att->atttypid, &outfn, &isvarlena);
			fmgr_info_cxt(outfn, &col->out, entry->cxt);
		}
	}
	qsort_arg(entry->col_order, entry->ncols, sizeof(int), key_order_cmp, entry->cols);
	qsort_arg(entry->pk_order, entry->npk, sizeof(int), key_order_cmp, entry->cols);
	MemoryContextSwitchTo(old);
	entry->valid = true;
}

static AuditRel *
audit_rel(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	AuditRel   *entry;
	bool		found;

	if (audit_rels == NULL)
	{
		HASHCTL		ctl;

		audit_cache_cxt = AllocSetContextCreate(CacheMemoryContext, "invoice audit cache",
												ALLOCSET_SMALL_SIZES);
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(AuditRel);
		ctl.hcxt = audit_cache_cxt;
		audit_rels = hash_create("invoice audit tables", 16, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(audit_rels, &relid, HASH_ENTER, &found);
	if (!found)
	{
		entry->valid = false;
		entry->cxt = NULL;
	}
	if (!entry->valid)
		audit_rel_fill(entry, rel);
	return entry;
}

/* ----------
 * Rows as jsonb
 * ----------
 */

static void
string_value(JsonbValue *v, char *s, int len)
{
	if (len > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("string too long to represent as jsonb string"),
				 errdetail("Due to an implementation restriction, jsonb strings cannot exceed %d bytes.",
						   JENTRY_OFFLENMASK)));
	v->type = jbvString;
	v->val.string.val = s;
	v->val.string.len = len;
}

static void
cstring_value(JsonbValue *v, char *s)
{
	string_value(v, s, strlen(s));
}

/*
 * column_json
 *		One column's value as a JSON value of the matching type: numbers as
 *		numbers, booleans, timestamps as ISO 8601 strings in UTC (so that the
 *		log does not depend on the session's time zone), json and jsonb as
 *		themselves, everything else as its text.  A json or jsonb array or
 *		object comes out as jbvBinary, which only pushJsonbValue() takes:
 *		the function returns true then.
 */
static bool
column_json(const AuditColumn *col, Datum d, bool isnull, JsonbValue *v)
{
	static const int utc = 0;

	if (isnull)
	{
		v->type = jbvNull;
		return false;
	}
	switch (col->kind)
	{
		case AK_BOOL:
			v->type = jbvBool;
			v->val.boolean = DatumGetBool(d);
			break;
		case AK_INT2:
			v->type = jbvNumeric;
			v->val.numeric = int64_to_numeric(DatumGetInt16(d));
			break;
		case AK_INT4:
			v->type = jbvNumeric;
			v->val.numeric = int64_to_numeric(DatumGetInt32(d));
			break;
		case AK_INT8:
			v->type = jbvNumeric;
			v->val.numeric = int64_to_numeric(DatumGetInt64(d));
			break;
		case AK_NUMERIC:
			{
				Numeric		n = DatumGetNumeric(d);

				if (numeric_is_nan(n) || numeric_is_inf(n))
					cstring_value(v, DatumGetCString(DirectFunctionCall1(numeric_out, d)));
				else
				{
					v->type = jbvNumeric;
					v->val.numeric = n;
				}
				break;
			}
		case AK_FLOAT4:
		case AK_FLOAT8:
			{
				float8		f = col->kind == AK_FLOAT4 ? DatumGetFloat4(d) : DatumGetFloat8(d);

				if (isnan(f) || isinf(f))
					cstring_value(v, DatumGetCString(DirectFunctionCall1(float8out, Float8GetDatum(f))));
				else
				{
					v->type = jbvNumeric;
					v->val.numeric = DatumGetNumeric(DirectFunctionCall1(col->kind == AK_FLOAT4 ? float4_numeric : float8_numeric, d));
				}
				break;
			}
		case AK_DATETIME:
			cstring_value(v, JsonEncodeDateTime(NULL, d, col->typid, &utc));
			break;
		case AK_JSONB:
		case AK_JSON:
			{
				Jsonb	   *jb = col->kind == AK_JSONB ? DatumGetJsonbP(d) :
					DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(TextDatumGetCString(d))));

				if (JB_ROOT_IS_SCALAR(jb))
					(void) JsonbExtractScalar(&jb->root, v);
				else
				{
					v->type = jbvBinary;
					v->val.binary.data = &jb->root;
					v->val.binary.len = VARSIZE(jb) - VARHDRSZ;
					return true;
				}
				break;
			}
		case AK_TEXT:
			{
				text	   *t = DatumGetTextPP(d);

				string_value(v, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
				break;
			}
		case AK_OTHER:
			cstring_value(v, OutputFunctionCall((FmgrInfo *) &col->out, d));
			break;
	}
	return false;
}

/*
 * object_jsonb
 *		A jsonb object from pairs already in jsonb key order.  Without a
 *		nested container it is encoded directly; with one, pushJsonbValue()
 *		unpacks it (the order is kept, so it sorts nothing).
 */
static Jsonb *
object_jsonb(JsonbPair *pairs, int n, bool nested)
{
	JsonbParseState *state = NULL;
	JsonbValue	obj;
	int			i;

	if (!nested)
	{
		obj.type = jbvObject;
		obj.val.object.nPairs = n;
		obj.val.object.pairs = pairs;
		return JsonbValueToJsonb(&obj);
	}
	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (i = 0; i < n; i++)
	{
		JsonbValue *v = &pairs[i].value;

		(void) pushJsonbValue(&state, WJB_KEY, &pairs[i].key);
		if (v->type != jbvArray)
			(void) pushJsonbValue(&state, WJB_VALUE, v);
		else
		{
			int			j;

			(void) pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
			for (j = 0; j < v->val.array.nElems; j++)
				(void) pushJsonbValue(&state, WJB_ELEM, &v->val.array.elems[j]);
			(void) pushJsonbValue(&state, WJB_END_ARRAY, NULL);
		}
	}
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

static void
key_value(JsonbPair *pair, const AuditColumn *col)
{
	pair->key.type = jbvString;
	pair->key.val.string.val = col->name;
	pair->key.val.string.len = col->namelen;
}

/*
 * row_json
 *		The whole row, or only its primary key, as a jsonb object, from the
 *		row's deformed values.
 */
static Jsonb *
row_json(const AuditRel *info, const Datum *values, const bool *nulls, bool key_only)
{
	const int  *order = key_only ? info->pk_order : info->col_order;
	int			n = key_only ? info->npk : info->ncols;
	JsonbPair  *pairs = palloc(sizeof(JsonbPair) * Max(n, 1));
	bool		nested = false;
	int			i;

	for (i = 0; i < n; i++)
	{
		int			att = order[i];

		key_value(&pairs[i], &info->cols[att]);
		nested |= column_json(&info->cols[att], values[att], nulls[att], &pairs[i].value);
	}
	return object_jsonb(pairs, n, nested);
}

/*
 * changed_json
 *		{"column": [old, new]} for every column whose stored value changed;
 *		*nchanged tells how many.
 */
static Jsonb *
changed_json(const AuditRel *info, const Datum *oldv, const bool *oldn,
			 const Datum *newv, const bool *newn, int *nchanged)
{
	JsonbPair  *pairs = palloc(sizeof(JsonbPair) * Max(info->ncols, 1));
	bool		nested = false;
	int			n = 0;
	int			i;

	for (i = 0; i < info->ncols; i++)
	{
		int			att = info->col_order[i];
		const AuditColumn *col = &info->cols[att];
		JsonbValue *pair;

		if (oldn[att] && newn[att])
			continue;
		if (!oldn[att] && !newn[att] &&
			datum_image_eq(oldv[att], newv[att], col->typbyval, col->typlen))
			continue;
		key_value(&pairs[n], col);
		pair = palloc(sizeof(JsonbValue) * 2);
		nested |= column_json(col, oldv[att], oldn[att], &pair[0]);
		nested |= column_json(col, newv[att], newn[att], &pair[1]);
		pairs[n].value.type = jbvArray;
		pairs[n].value.val.array.nElems = 2;
		pairs[n].value.val.array.elems = pair;
		pairs[n].value.val.array.rawScalar = false;
		n++;
	}
	*nchanged = n;
	return object_jsonb(pairs, n, nested);
}

/* ----------
 * The buffer
 * ----------
 */

static void
buffer_reset(void)
{
	buffer_cxt = NULL;			/* went with TopTransactionContext */
	buffer = NULL;
	nbuffered = maxbuffered = nmade = 0;
	flushed_outer_subid = InvalidSubTransactionId;
	audit_lost = false;
	flushing = false;
	write_pending = false;
	named_session = named_actor = InvalidOid;
	session_name = actor_name = NULL;
}

/* the transaction's buffer context, made on first use */
static MemoryContext
buffer_context(void)
{
	if (buffer_cxt == NULL)
		buffer_cxt = AllocSetContextCreate(TopTransactionContext, "invoice audit records",
										   ALLOCSET_DEFAULT_SIZES);
	return buffer_cxt;
}

static Jsonb *
copy_jsonb(Jsonb *jb)
{
	return jb == NULL ? NULL : (Jsonb *) datumCopy(JsonbPGetDatum(jb), false, -1);
}

/*
 * buffer_add
 *		Copies a record into the transaction's buffer.
 */
static void
buffer_add(const AuditRecord *rec)
{
	MemoryContext old;
	BufferedRecord *b;

	old = MemoryContextSwitchTo(buffer_context());
	if (nbuffered == maxbuffered)
	{
		maxbuffered = maxbuffered == 0 ? 64 : maxbuffered * 2;
		buffer = buffer == NULL ? palloc(sizeof(BufferedRecord *) * maxbuffered) :
			repalloc(buffer, sizeof(BufferedRecord *) * maxbuffered);
	}
	b = palloc(sizeof(BufferedRecord));
	b->rec = *rec;
	b->rec.row_key = copy_jsonb(rec->row_key);
	b->rec.old_row = copy_jsonb(rec->old_row);
	b->rec.new_row = copy_jsonb(rec->new_row);
	b->rec.changed = copy_jsonb(rec->changed);
	b->subid = GetCurrentSubTransactionId();
	b->seq = nmade++;
	buffer[nbuffered++] = b;
	MemoryContextSwitchTo(old);
}

/*
 * role_names
 *		The session role and, when it differs, the acting role (for an API
 *		call, the role that called it rather than the table owner the API
 *		writes as).  Looked up once per transaction.
 */
static void
role_names(const char **session, const char **actor)
{
	Oid			sess = GetSessionUserId();
	Oid			act = api_caller();

	if (sess != named_session || act != named_actor)
	{
		MemoryContext old = MemoryContextSwitchTo(buffer_context());

		session_name = pstrdup(GetUserNameFromId(sess, false));
		actor_name = act == sess ? NULL : pstrdup(GetUserNameFromId(act, false));
		named_session = sess;
		named_actor = act;
		MemoryContextSwitchTo(old);
	}
	*session = session_name;
	*actor = actor_name;
}

/* a row of an audited table, deformed once */
typedef struct AuditTuple
{
	Datum	   *values;
	bool	   *nulls;
} AuditTuple;

static AuditTuple *
deform(HeapTuple tuple, TupleDesc tupdesc)
{
	AuditTuple *t = palloc(sizeof(AuditTuple));

	t->values = palloc(sizeof(Datum) * tupdesc->natts);
	t->nulls = palloc(sizeof(bool) * tupdesc->natts);
	heap_deform_tuple(tuple, tupdesc, t->values, t->nulls);
	return t;
}

static int64
tuple_org(const AuditRel *info, const AuditTuple *t)
{
	if (t->nulls[info->org_attnum - 1])
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("an audited row of %s has no \"org_id\"", info->table_name)));
	return DatumGetInt64(t->values[info->org_attnum - 1]);
}

static void audit_flush(void);

/*
 * invoice_audit_row
 *		AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW on an audited table
 *		(and BEFORE TRUNCATE, which it refuses).
 */
Datum
invoice_audit_row(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = check_trigger(fcinfo, "audit_row");
	Relation	rel = trigdata->tg_relation;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	AuditRel   *info = audit_rel(rel);
	AuditTuple *oldt = NULL;
	AuditTuple *newt = NULL;
	AuditTuple *keyt;
	AuditRecord rec;
	int			nchanged = 0;

	memset(&rec, 0, sizeof(rec));
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
	{
		newt = keyt = deform(trigdata->tg_trigtuple, tupdesc);
		rec.operation = "INSERT";
	}
	else if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		oldt = deform(trigdata->tg_trigtuple, tupdesc);
		newt = keyt = deform(trigdata->tg_newtuple, tupdesc);
		rec.operation = "UPDATE";
		rec.changed = changed_json(info, oldt->values, oldt->nulls,
								   newt->values, newt->nulls, &nchanged);
		if (nchanged == 0 && audit_skip_noop_updates)
			return PointerGetDatum(NULL);
	}
	else
	{
		oldt = keyt = deform(trigdata->tg_trigtuple, tupdesc);
		rec.operation = "DELETE";
	}

	rec.occurred_at = GetCurrentStatementStartTimestamp();
	rec.txid = (int64) U64FromFullTransactionId(GetTopFullTransactionId());
	role_names(&rec.db_role, &rec.db_current_role);
	rec.app_user_id = tenant_current_user();
	rec.row_key = row_json(info, keyt->values, keyt->nulls, true);
	rec.old_row = oldt != NULL ? row_json(info, oldt->values, oldt->nulls, false) : NULL;
	rec.new_row = newt != NULL ? row_json(info, newt->values, newt->nulls, false) : NULL;
	rec.org_id = tuple_org(info, keyt);
	rec.table_name = MemoryContextStrdup(buffer_context(), info->table_name);
	buffer_add(&rec);

	/* a row that moves to another tenant leaves a trace in both chains */
	if (oldt != NULL && newt != NULL)
	{
		int64		old_org = tuple_org(info, oldt);

		if (old_org != rec.org_id)
		{
			rec.org_id = old_org;
			rec.row_key = row_json(info, oldt->values, oldt->nulls, true);
			buffer_add(&rec);
		}
	}

	if (nbuffered >= AUDIT_FLUSH_ROWS && GetCurrentTransactionNestLevel() == 1)
		audit_flush();
	return PointerGetDatum(NULL);
}

/*
 * invoice_audit_flush
 *		The deferred constraint trigger: the first one to fire at commit
 *		writes every buffered record; the others find nothing to do.
 */
Datum
invoice_audit_flush(PG_FUNCTION_ARGS)
{
	(void) check_trigger(fcinfo, "audit_flush");
	write_pending = false;		/* records made from now on queue a new one */
	if (nbuffered > 0)
		audit_flush();
	return PointerGetDatum(NULL);
}

/*
 * invoice_audit_write_needed
 *		The WHEN clause of audit_write: true for the first audited row since
 *		the last write, so that a transaction queues one deferred event
 *		rather than one per row (a bulk statement would otherwise keep and
 *		fire 100 000 of them).  Calling it by hand can only make the commit
 *		fail (records left unwritten), never skip the audit.
 */
Datum
invoice_audit_write_needed(PG_FUNCTION_ARGS)
{
	if (write_pending)
		PG_RETURN_BOOL(false);
	write_pending = true;
	write_pending_subid = GetCurrentSubTransactionId();
	PG_RETURN_BOOL(true);
}

/* ----------
 * Writing the records
 * ----------
 */

static int
record_cmp(const void *a, const void *b)
{
	const BufferedRecord *ra = *(BufferedRecord *const *) a;
	const BufferedRecord *rb = *(BufferedRecord *const *) b;

	if (ra->rec.org_id != rb->rec.org_id)
		return ra->rec.org_id < rb->rec.org_id ? -1 : 1;
	return ra->seq < rb->seq ? -1 : (ra->seq > rb->seq ? 1 : 0);
}

/*
 * audit_flush
 *		Writes every buffered record, tenant by tenant in org_id order (so
 *		that two transactions touching the same tenants lock their heads in
 *		the same order), and empties the buffer.
 */
static void
audit_flush(void)
{
	SubTransactionId subid = GetCurrentSubTransactionId();
	MemoryContext cxt;
	MemoryContext old;
	AuditRecord **recs;
	ApiCall		call;
	int			start,
				i;

	if (flushing)
		return;

	/* records of outer levels written in a subtransaction (see header) */
	for (i = 0; i < nbuffered; i++)
		if (buffer[i]->subid < subid && subid > flushed_outer_subid)
			flushed_outer_subid = subid;

	flushing = true;
	cxt = AllocSetContextCreate(CurrentMemoryContext, "invoice audit flush",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	qsort(buffer, nbuffered, sizeof(BufferedRecord *), record_cmp);
	recs = palloc(sizeof(AuditRecord *) * nbuffered);
	for (i = 0; i < nbuffered; i++)
		recs[i] = &buffer[i]->rec;
	api_begin(&call);
	for (start = 0; start < nbuffered; start = i)
	{
		for (i = start + 1; i < nbuffered; i++)
			if (recs[i]->org_id != recs[start]->org_id)
				break;
		audit_write_chain(&recs[start], i - start);
	}
	api_end(&call);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);

	/* the records are written: free them */
	MemoryContextReset(buffer_cxt);
	buffer = NULL;
	nbuffered = maxbuffered = 0;
	named_session = named_actor = InvalidOid;
	flushing = false;
}

/*
 * audit_xact_callback
 *		A commit must not leave records unwritten or lost; the buffer goes
 *		with the transaction.
 */
static void
audit_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			if (audit_lost)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("audit records of this transaction were rolled back with a subtransaction"),
						 errdetail("They were written early (SET CONSTRAINTS ... IMMEDIATE) inside a subtransaction that rolled back, so the changes they describe would commit without them."),
						 errhint("Do not make the audit_write triggers IMMEDIATE inside subtransactions.")));
			if (nbuffered > 0)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("%d audit records of this transaction were not written", nbuffered),
						 errhint("The trigger audit_write of an audited table is missing or disabled.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			buffer_reset();
			break;
		default:
			break;
	}
}

/*
 * audit_subxact_callback
 *		A subtransaction that rolls back takes its records with it.
 */
static void
audit_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	int			i,
				kept = 0;

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	flushing = false;
	for (i = 0; i < nbuffered; i++)
		if (buffer[i]->subid < mySubid)
			buffer[kept++] = buffer[i];
	nbuffered = kept;
	/* the event this subtransaction queued is gone with it */
	if (write_pending && write_pending_subid >= mySubid)
		write_pending = false;
	if (flushed_outer_subid != InvalidSubTransactionId && flushed_outer_subid >= mySubid)
		audit_lost = true;
}

void
audit_init(void)
{
	DefineCustomBoolVariable("invoice.audit_skip_noop_updates",
							 "Skips the audit record of an UPDATE that changes no column.",
							 "By default such updates are recorded with an empty \"changed\".",
							 &audit_skip_noop_updates,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	RegisterXactCallback(audit_xact_callback, NULL);
	RegisterSubXactCallback(audit_subxact_callback, NULL);
	CacheRegisterRelcacheCallback(audit_rel_invalidate, (Datum) 0);
	audit_admin_init();
}
