/*-------------------------------------------------------------------------
 *
 * exec.c
 *	  How the API functions run their statements.
 *
 * The API functions are ordinary (SECURITY INVOKER) C functions: they check
 * the tenant context and the caller's rights themselves, then run kept SPI
 * plans as the owner of the extension's tables, the way PostgreSQL's own
 * referential integrity triggers switch user.  This keeps the caller's
 * role visible to the authorization code (a SECURITY DEFINER function
 * would hide it) and costs no GUC save/restore per call.
 *
 * Plans are prepared once per backend with search_path set to
 * "pg_catalog, pg_temp", and the plan cache re-parses them with that same
 * path, so nothing a caller puts on its search_path can capture a name in
 * them.  Every statement still schema-qualifies its names.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "exec.h"

/* nesting depth of API calls running their own statements */
static int	api_depth = 0;

/* the role that called the outermost API function under way */
static Oid	api_caller_id = InvalidOid;

/* owner of invoice.organizations, looked up once; reset on invalidation */
static Oid	cached_owner = InvalidOid;
static Oid	cached_owner_rel = InvalidOid;

/*
 * api_xact_callback
 *		An error anywhere ends every API call that was under way.
 */
static void
api_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		api_depth = 0;
}

/*
 * api_subxact_callback
 *		A subtransaction that aborts took the API call with it; after that
 *		the guards check everything again, which is never less safe.
 */
static void
api_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					 SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		api_depth = 0;
}

/*
 * owner_relcache_callback
 *		Forget the owner when invoice.organizations changes or is dropped.
 */
static void
owner_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == cached_owner_rel)
	{
		cached_owner = InvalidOid;
		cached_owner_rel = InvalidOid;
	}
}

void
exec_init(void)
{
	RegisterXactCallback(api_xact_callback, NULL);
	RegisterSubXactCallback(api_subxact_callback, NULL);
	CacheRegisterRelcacheCallback(owner_relcache_callback, (Datum) 0);
}

/*
 * api_owner
 *		The role the API's statements run as: the owner of the tables.
 */
static Oid
api_owner(void)
{
	if (!OidIsValid(cached_owner))
	{
		Oid			nsp = get_namespace_oid("invoice", true);
		Oid			rel = OidIsValid(nsp) ? get_relname_relid("organizations", nsp) : InvalidOid;
		HeapTuple	tup;

		if (!OidIsValid(rel))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("extension \"invoice\" is not installed in this database"),
					 errhint("Run CREATE EXTENSION invoice CASCADE.")));
		tup = SearchSysCache1(RELOID, ObjectIdGetDatum(rel));
		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for relation %u", rel);
		cached_owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
		cached_owner_rel = rel;
		ReleaseSysCache(tup);
	}
	return cached_owner;
}

/*
 * api_begin
 *		Connects SPI and switches to the owner for the API's statements.
 */
void
api_begin(ApiCall *call)
{
	Oid			owner = api_owner();

	GetUserIdAndSecContext(&call->save_userid, &call->save_sec_context);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	SetUserIdAndSecContext(owner,
						   call->save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	if (api_depth == 0)
		api_caller_id = call->save_userid;
	api_depth++;
}

/*
 * api_end
 *		Gives back the caller's identity and disconnects SPI.
 */
void
api_end(ApiCall *call)
{
	if (api_depth > 0)
		api_depth--;
	SetUserIdAndSecContext(call->save_userid, call->save_sec_context);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
}

bool
api_active(void)
{
	return api_depth > 0;
}

/*
 * api_caller
 *		The role acting: while an API function runs its statements as the
 *		owner, the role that called it; otherwise the current user.
 */
Oid
api_caller(void)
{
	return api_depth > 0 ? api_caller_id : GetUserId();
}

/*
 * api_prepare
 *		Prepares `sql` under a safe search_path and keeps the plan for the
 *		life of the backend.  Only api_prepare_once calls it.
 */
static SPIPlanPtr
api_prepare(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan;
	int			save_nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	plan = SPI_prepare(sql, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	AtEOXact_GUC(true, save_nestlevel);
	return plan;
}

/*
 * api_prepare_once
 *		The plan of a static slot, prepared and kept on first use.  Each
 *		slot is tested on its own, so an error (a lock_timeout, a cancel)
 *		between two preparations leaves the later slot NULL, to be prepared
 *		by the next call, never half a set of plans for the life of the
 *		backend.
 */
SPIPlanPtr
api_prepare_once(SPIPlanPtr *slot, const char *sql, int nargs, Oid *argtypes)
{
	if (*slot == NULL)
		*slot = api_prepare(sql, nargs, argtypes);
	return *slot;
}

/*
 * api_execute
 *		Runs a kept plan and checks that it did what the caller expects.
 */
int
api_execute(SPIPlanPtr plan, Datum *values, const char *nulls,
			bool read_only, int expected)
{
	int			rc = SPI_execute_plan(plan, values, nulls, read_only, 0);

	if (rc != expected)
		elog(ERROR, "SPI_execute_plan returned %s, expected %s",
			 SPI_result_code_string(rc), SPI_result_code_string(expected));
	return rc;
}

Datum
api_getdatum(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
						 col, isnull);
}

/*
 * api_gettext
 *		A text column of SPI_tuptable as a C string in the current memory
 *		context; NULL for SQL NULL.
 */
char *
api_gettext(int row, int col)
{
	bool		isnull;
	Datum		d = api_getdatum(row, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/*
 * arg_required
 *		Functions are not STRICT: a NULL where a value is required is an
 *		error (22004), never a silent NULL result.
 */
void
arg_required(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("\"%s\" must not be null", name)));
}

/*
 * arg_trimmed_text
 *		A text argument without surrounding white space; NULL stays NULL.
 */
char *
arg_trimmed_text(FunctionCallInfo fcinfo, int argno)
{
	char	   *s;
	char	   *end;

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return NULL;
	s = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
					   end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/*
 * check_not_blank
 *		A required text must say something.
 */
void
check_not_blank(const char *value, const char *name)
{
	if (value == NULL || value[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" must not be empty", name)));
}

/*
 * check_max_length
 *		A text that must fit `max` bytes (NULL fits).
 */
void
check_max_length(const char *value, const char *name, int max)
{
	if (value != NULL && strlen(value) > (size_t) max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" must not be longer than %d bytes", name, max),
				 errhint("The value has %zu bytes; the limit is %d.", strlen(value), max)));
}
