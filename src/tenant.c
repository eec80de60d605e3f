/*-------------------------------------------------------------------------
 *
 * tenant.c
 *	  The tenant context, who may enter which tenant, and the per-backend
 *	  cache of tenant settings, grants and users.
 *
 * The context lives in two GUCs, invoice.org_id and invoice.user_id, of
 * context PGC_SUSET with GUC_NO_RESET_ALL, under the reserved prefix
 * "invoice".  Only invoice.set_tenant() writes them, from C, with
 * GUC_ACTION_LOCAL: the value lasts until the end of the transaction (and
 * is undone by ROLLBACK TO SAVEPOINT, like SET LOCAL).  A non-superuser's
 * SET, SET LOCAL, RESET, set_config(), startup option or function SET
 * clause is refused by the GUC machinery itself, and RESET ALL / DISCARD
 * ALL skip them.  Parallel workers receive them with the rest of the GUC
 * state, so row level security sees the same tenant there.
 *
 * The settings of a tenant, the roles granted it and its users are read
 * once per backend and kept in hash tables; the statement triggers of
 * those tables broadcast a relcache invalidation of the table on every
 * change, and our relcache callback empties the whole cache.  Changes are
 * rare, so nothing finer is needed.  Entries are always copied out: an
 * invalidation may arrive whenever a lock is taken.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "exec.h"
#include "money.h"
#include "tenant.h"

PG_FUNCTION_INFO_V1(invoice_set_tenant);
PG_FUNCTION_INFO_V1(invoice_telegram_enter);
PG_FUNCTION_INFO_V1(invoice_current_org);
PG_FUNCTION_INFO_V1(invoice_current_user_id);
PG_FUNCTION_INFO_V1(invoice_invalidate_cache);

/* the GUC strings; "" when there is no context */
static char *context_org = NULL;
static char *context_user = NULL;
static char *context_role = NULL;	/* the role that called set_tenant() */

typedef struct TenantEntry
{
	int64		org_id;			/* hash key */
	bool		exists;
	TenantSettings settings;
	int			ngrants;
	Oid		   *grants;			/* in TenantCacheContext */
	NameData   *grant_names;	/* the name each grant was given to */
} TenantEntry;

typedef struct UserKey
{
	int64		org_id;
	int64		user_id;
} UserKey;

typedef struct UserEntry
{
	UserKey		key;			/* hash key */
	bool		exists;
	bool		is_active;
	bool		is_admin;
} UserEntry;

static MemoryContext TenantCacheContext = NULL;
static HTAB *tenant_cache = NULL;
static HTAB *user_cache = NULL;

/* bumped by every invalidation; a fill that saw it move is not kept */
static uint64 cache_generation = 0;

/* the tables whose changes empty the cache (known once the cache is used) */
static Oid	watched_rels[3];

/*
 * check_context_guc
 *		The context GUCs hold "" or a positive 64-bit integer.
 */
static bool
check_context_guc(char **newval, void **extra, GucSource source)
{
	char	   *end;
	int64		v;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	errno = 0;
	v = strtoi64(*newval, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
	{
		GUC_check_errmsg("invalid tenant context value \"%s\"", *newval);
		return false;
	}
	return true;
}

static int64
parse_context(const char *value)
{
	if (value == NULL || value[0] == '\0')
		return 0;
	return strtoi64(value, NULL, 10);
}

/*
 * tenant_current_org
 *		The context belongs to the role that entered the tenant and to roles
 *		that have its privileges (a superuser-owned SECURITY DEFINER
 *		function, say).  After SET ROLE to a role that does not, there is no
 *		context: a privileged session cannot hand a tenant to a lesser role.
 */
int64
tenant_current_org(void)
{
	int64		org_id = parse_context(context_org);
	Oid			entered_by;

	if (org_id == 0)
		return 0;
	entered_by = (Oid) parse_context(context_role);
	if (entered_by != GetUserId() && !has_privs_of_role(GetUserId(), entered_by))
		return 0;
	return org_id;
}

int64
tenant_current_user(void)
{
	return parse_context(context_user);
}

/*
 * tenant_require
 *		Every tenant-scoped function starts here.
 */
int64
tenant_require(void)
{
	int64		org_id = tenant_current_org();

	if (org_id == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("no tenant context"),
				 errhint("Call invoice.set_tenant(org_id) first in this transaction.")));
	return org_id;
}

/*
 * tenant_cache_reset
 *		Drops every cached entry.
 */
static void
tenant_cache_reset(void)
{
	cache_generation++;
	tenant_cache = NULL;
	user_cache = NULL;
	memset(watched_rels, 0, sizeof(watched_rels));
	if (TenantCacheContext != NULL)
		MemoryContextReset(TenantCacheContext);
}

static void
tenant_relcache_callback(Datum arg, Oid relid)
{
	int			i;

	if (relid == InvalidOid)
	{
		tenant_cache_reset();
		return;
	}
	for (i = 0; i < lengthof(watched_rels); i++)
		if (watched_rels[i] == relid)
		{
			tenant_cache_reset();
			return;
		}
}

/*
 * tenant_cache_invalidate_all
 *		Drops every cached setting, grant and user, in all backends, at
 *		commit: a relcache invalidation of the changed table.
 */
static void
tenant_cache_invalidate_all(Oid relid)
{
	CacheInvalidateRelcacheByRelid(relid);
}

/*
 * tenant_cache_ensure
 *		Creates the hash tables (after a reset) and learns which tables to
 *		watch.
 */
static void
tenant_cache_ensure(void)
{
	HASHCTL		ctl;

	if (TenantCacheContext == NULL)
		TenantCacheContext = AllocSetContextCreate(CacheMemoryContext,
												   "invoice tenant cache",
												   ALLOCSET_SMALL_SIZES);
	if (tenant_cache == NULL)
	{
		Oid			nsp = get_namespace_oid("invoice", false);

		watched_rels[0] = get_relname_relid("organizations", nsp);
		watched_rels[1] = get_relname_relid("tenant_grants", nsp);
		watched_rels[2] = get_relname_relid("users", nsp);

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(TenantEntry);
		ctl.hcxt = TenantCacheContext;
		tenant_cache = hash_create("invoice tenants", 64, &ctl,
								   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(UserKey);
		ctl.entrysize = sizeof(UserEntry);
		ctl.hcxt = TenantCacheContext;
		user_cache = hash_create("invoice users", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
}

/* copies text column `col` of the first SPI row into a fixed buffer */
static void
copy_text_field(char *dst, size_t size, int col)
{
	bool		isnull;
	Datum		d = api_getdatum(0, col, &isnull);

	if (isnull)
		dst[0] = '\0';
	else
		strlcpy(dst, TextDatumGetCString(d), size);
}

/*
 * tenant_load
 *		Reads one tenant's settings and grants into *entry (grants in the
 *		caller's memory context).
 */
static void
tenant_load(int64 org_id, TenantEntry *entry)
{
	static SPIPlanPtr org_plan = NULL;
	static SPIPlanPtr grant_plan = NULL;
	MemoryContext caller_cxt = CurrentMemoryContext;
	ApiCall		call;
	Datum		args[1];
	bool		isnull;
	TenantSettings *s = &entry->settings;
	int64		rate;

	memset(entry, 0, sizeof(*entry));
	entry->org_id = org_id;
	s->org_id = org_id;
	args[0] = Int64GetDatum(org_id);

	api_begin(&call);
	api_prepare_once(&org_plan,
					 "SELECT is_active, currency, default_tax_rate, prefix, number_from,"
					 " number_to, valid_from, valid_to, timezone"
					 " FROM invoice.organizations WHERE org_id OPERATOR(pg_catalog.=) $1",
					 1, (Oid[]) {INT8OID});
	api_prepare_once(&grant_plan,
					 "SELECT role_oid, role_name FROM invoice.tenant_grants"
					 " WHERE org_id OPERATOR(pg_catalog.=) $1",
					 1, (Oid[]) {INT8OID});

	api_execute(org_plan, args, NULL, true, SPI_OK_SELECT);
	if (SPI_processed == 1)
	{
		entry->exists = true;
		s->is_active = DatumGetBool(api_getdatum(0, 1, &isnull));
		copy_text_field(s->currency, sizeof(s->currency), 2);
		if (rate_from_numeric(DatumGetNumeric(api_getdatum(0, 3, &isnull)),
							  &rate) != MONEY_OK)
			elog(ERROR, "invalid default_tax_rate of tenant " INT64_FORMAT, org_id);
		s->default_tax_rate = rate;
		copy_text_field(s->prefix, sizeof(s->prefix), 4);
		s->number_from = DatumGetInt64(api_getdatum(0, 5, &isnull));
		s->number_to = DatumGetInt64(api_getdatum(0, 6, &isnull));
		if (isnull)
			s->number_to = 0;
		s->valid_from = DatumGetDateADT(api_getdatum(0, 7, &isnull));
		s->has_valid_from = !isnull;
		s->valid_to = DatumGetDateADT(api_getdatum(0, 8, &isnull));
		s->has_valid_to = !isnull;
		copy_text_field(s->timezone, sizeof(s->timezone), 9);
		s->tz = pg_tzset(s->timezone);
		if (s->tz == NULL)
			elog(ERROR, "invalid timezone \"%s\" of tenant " INT64_FORMAT,
				 s->timezone, org_id);

		api_execute(grant_plan, args, NULL, true, SPI_OK_SELECT);
		entry->ngrants = (int) SPI_processed;
		if (entry->ngrants > 0)
		{
			int			i;

			entry->grants = MemoryContextAlloc(caller_cxt,
											   sizeof(Oid) * entry->ngrants);
			entry->grant_names = MemoryContextAlloc(caller_cxt,
													sizeof(NameData) * entry->ngrants);
			for (i = 0; i < entry->ngrants; i++)
			{
				entry->grants[i] = DatumGetObjectId(api_getdatum(i, 1, &isnull));
				entry->grant_names[i] = *DatumGetName(api_getdatum(i, 2, &isnull));
			}
		}
	}
	api_end(&call);
}

/*
 * tenant_lookup
 *		Copies the entry of org_id, from the cache or freshly read, into
 *		*out (grants in the caller's memory context).  Never hand out a
 *		pointer into the cache: any lock taken later may empty it.
 */
static void
tenant_lookup(int64 org_id, TenantEntry *out)
{
	TenantEntry *entry;
	uint64		generation;

	tenant_cache_ensure();
	entry = hash_search(tenant_cache, &org_id, HASH_FIND, NULL);
	if (entry != NULL)
	{
		*out = *entry;
		if (entry->ngrants > 0)
		{
			out->grants = palloc(sizeof(Oid) * entry->ngrants);
			memcpy(out->grants, entry->grants, sizeof(Oid) * entry->ngrants);
			out->grant_names = palloc(sizeof(NameData) * entry->ngrants);
			memcpy(out->grant_names, entry->grant_names, sizeof(NameData) * entry->ngrants);
		}
		return;
	}

	generation = cache_generation;
	tenant_load(org_id, out);
	if (generation != cache_generation)
		return;					/* invalidated meanwhile: use once, keep none */

	tenant_cache_ensure();
	entry = hash_search(tenant_cache, &org_id, HASH_ENTER, NULL);
	*entry = *out;
	if (out->ngrants > 0)
	{
		entry->grants = MemoryContextAlloc(TenantCacheContext,
										   sizeof(Oid) * out->ngrants);
		memcpy(entry->grants, out->grants, sizeof(Oid) * out->ngrants);
		entry->grant_names = MemoryContextAlloc(TenantCacheContext,
												sizeof(NameData) * out->ngrants);
		memcpy(entry->grant_names, out->grant_names, sizeof(NameData) * out->ngrants);
	}
}

bool
tenant_settings(int64 org_id, TenantSettings *out)
{
	TenantEntry entry;

	tenant_lookup(org_id, &entry);
	if (!entry.exists)
		return false;
	*out = entry.settings;
	return true;
}

/*
 * user_lookup
 *		Copies the cached facts about (org_id, user_id) into *out.
 */
static void
user_lookup(int64 org_id, int64 user_id, UserEntry *out)
{
	static SPIPlanPtr plan = NULL;
	UserKey		key;
	UserEntry  *entry;
	uint64		generation;
	ApiCall		call;
	Datum		args[2];
	bool		isnull;

	tenant_cache_ensure();
	memset(&key, 0, sizeof(key));
	key.org_id = org_id;
	key.user_id = user_id;
	entry = hash_search(user_cache, &key, HASH_FIND, NULL);
	if (entry != NULL)
	{
		*out = *entry;
		return;
	}

	memset(out, 0, sizeof(*out));
	out->key = key;
	generation = cache_generation;
	args[0] = Int64GetDatum(org_id);
	args[1] = Int64GetDatum(user_id);
	api_begin(&call);
	api_prepare_once(&plan, "SELECT is_active, role OPERATOR(pg_catalog.=) 'admin'"
					 " FROM invoice.users"
					 " WHERE org_id OPERATOR(pg_catalog.=) $1"
					 " AND user_id OPERATOR(pg_catalog.=) $2",
					 2, (Oid[]) {INT8OID, INT8OID});
	api_execute(plan, args, NULL, true, SPI_OK_SELECT);
	if (SPI_processed == 1)
	{
		out->exists = true;
		out->is_active = DatumGetBool(api_getdatum(0, 1, &isnull));
		out->is_admin = DatumGetBool(api_getdatum(0, 2, &isnull));
	}
	api_end(&call);

	if (generation == cache_generation)
	{
		tenant_cache_ensure();
		entry = hash_search(user_cache, &key, HASH_ENTER, NULL);
		*entry = *out;
	}
}

/*
 * role_may_enter
 *		Superusers and members of invoice_service enter every tenant; other
 *		roles need a grant to themselves or to a role whose privileges they
 *		have.  A grant counts only while its OID still carries the name it
 *		was given to: a role that was renamed, or dropped and its OID reused
 *		by a new role, gets nothing.
 */
static bool
role_may_enter(Oid roleid, TenantEntry *entry)
{
	Oid			service = get_role_oid("invoice_service", true);
	int			i;

	if (superuser_arg(roleid))
		return true;
	if (OidIsValid(service) && has_privs_of_role(roleid, service))
		return true;
	for (i = 0; i < entry->ngrants; i++)
	{
		char	   *current = GetUserNameFromId(entry->grants[i], true);

		if (current != NULL &&
			strcmp(current, NameStr(entry->grant_names[i])) == 0 &&
			has_privs_of_role(roleid, entry->grants[i]))
			return true;
	}
	return false;
}

bool
tenant_caller_is_platform_admin(void)
{
	Oid			admin = get_role_oid("invoice_admin", true);

	return superuser() || (OidIsValid(admin) && has_privs_of_role(GetUserId(), admin));
}

/*
 * require_platform_admin
 *		Tenants, grants and the audit log's administration are for members
 *		of invoice_admin (and superusers) only.
 */
void
require_platform_admin(const char *what)
{
	if (!tenant_caller_is_platform_admin())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s", what),
				 errhint("Only members of invoice_admin may do this.")));
}

bool
tenant_user_is_admin(void)
{
	int64		org_id = tenant_current_org();
	int64		user_id = tenant_current_user();
	UserEntry	user;

	if (org_id == 0 || user_id == 0)
		return false;
	user_lookup(org_id, user_id, &user);
	return user.exists && user.is_active && user.is_admin;
}

static void
set_context_guc(const char *name, int64 value)
{
	char		buf[32];

	if (value == 0)
		buf[0] = '\0';
	else
		snprintf(buf, sizeof(buf), INT64_FORMAT, value);
	(void) set_config_option(name, buf, PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
}

/*
 * enter_tenant
 *		Enters a tenant for the rest of the transaction.  A tenant that does
 *		not exist and one the role may not enter give the same error, so
 *		that tenants cannot be enumerated.  warn_statement: warn when this
 *		is outside a transaction block, where the context ends with the
 *		statement; a client that runs set_tenant() as a statement of its
 *		own in autocommit has entered nothing for its next one.
 */
static void
enter_tenant(int64 org_id, int64 user_id, bool warn_statement)
{
	TenantEntry entry;
	bool		allowed;

	/* see grants revoked by transactions that committed before this call */
	AcceptInvalidationMessages();

	tenant_lookup(org_id, &entry);
	allowed = entry.exists && role_may_enter(GetUserId(), &entry);
	if (!allowed)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for tenant " INT64_FORMAT, org_id),
				 errhint("An invoice_admin must run invoice.grant_tenant() for this role.")));
	if (!entry.settings.is_active)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("tenant " INT64_FORMAT " is inactive", org_id)));

	if (user_id != 0)
	{
		UserEntry	user;

		user_lookup(org_id, user_id, &user);
		if (!user.exists || !user.is_active)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("user " INT64_FORMAT " is not an active user of tenant " INT64_FORMAT,
							user_id, org_id)));
	}

	if (warn_statement && !IsTransactionBlock())
		ereport(WARNING,
				(errcode(ERRCODE_NO_ACTIVE_SQL_TRANSACTION),
				 errmsg("invoice.set_tenant() outside a transaction block lasts only for this statement"),
				 errhint("Call it after BEGIN, in the transaction that does the work.")));

	set_context_guc("invoice.org_id", org_id);
	set_context_guc("invoice.user_id", user_id);
	set_context_guc("invoice.tenant_role", (int64) GetUserId());
}

/*
 * invoice_set_tenant
 *		The client's way in: enter_tenant(), warning when the context would
 *		not outlive the statement.
 */
Datum
invoice_set_tenant(PG_FUNCTION_ARGS)
{
	int64		user_id = 0;

	arg_required(fcinfo, 0, "org_id");
	if (!PG_ARGISNULL(1))
		user_id = PG_GETARG_INT64(1);
	enter_tenant(PG_GETARG_INT64(0), user_id, true);
	PG_RETURN_VOID();
}

/*
 * invoice_telegram_enter
 *		The conversation's way in (invoice.telegram_enter, EXECUTE for no
 *		role: only the extension's own functions call it): the same checks
 *		as set_tenant(), without its warning.  telegram_handle() runs a
 *		whole update as one statement, outside a transaction block when the
 *		bridge calls it in autocommit; the context is meant to last exactly
 *		that long, and the warning would land in the server log once per
 *		update.
 */
Datum
invoice_telegram_enter(PG_FUNCTION_ARGS)
{
	enter_tenant(PG_GETARG_INT64(0), PG_GETARG_INT64(1), false);
	PG_RETURN_VOID();
}

Datum
invoice_current_org(PG_FUNCTION_ARGS)
{
	int64		org_id = tenant_current_org();

	if (org_id == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(org_id);
}

Datum
invoice_current_user_id(PG_FUNCTION_ARGS)
{
	int64		user_id;

	if (tenant_current_org() == 0)
		PG_RETURN_NULL();
	user_id = tenant_current_user();
	if (user_id == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(user_id);
}

/*
 * invoice_invalidate_cache
 *		Statement trigger on organizations, tenant_grants and users: every
 *		backend drops its cached copy when this transaction commits (and
 *		this backend at the end of the statement).
 */
Datum
invoice_invalidate_cache(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("invoice.invalidate_cache() must be called as a trigger")));
	if (!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("invoice.invalidate_cache() must be fired AFTER ... FOR EACH STATEMENT")));

	tenant_cache_invalidate_all(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}

void
tenant_init(void)
{
	DefineCustomStringVariable("invoice.org_id",
							   "The tenant entered with invoice.set_tenant().",
							   "Set only by invoice.set_tenant(), for the current transaction.",
							   &context_org,
							   "",
							   PGC_SUSET,
							   GUC_NO_RESET_ALL | GUC_NOT_IN_SAMPLE |
							   GUC_DISALLOW_IN_FILE | GUC_DISALLOW_IN_AUTO_FILE,
							   check_context_guc, NULL, NULL);
	DefineCustomStringVariable("invoice.user_id",
							   "The application user given to invoice.set_tenant().",
							   "Set only by invoice.set_tenant(), for the current transaction.",
							   &context_user,
							   "",
							   PGC_SUSET,
							   GUC_NO_RESET_ALL | GUC_NOT_IN_SAMPLE |
							   GUC_DISALLOW_IN_FILE | GUC_DISALLOW_IN_AUTO_FILE,
							   check_context_guc, NULL, NULL);
	DefineCustomStringVariable("invoice.tenant_role",
							   "The role that called invoice.set_tenant().",
							   "Set only by invoice.set_tenant(), for the current transaction.",
							   &context_role,
							   "",
							   PGC_SUSET,
							   GUC_NO_RESET_ALL | GUC_NOT_IN_SAMPLE |
							   GUC_DISALLOW_IN_FILE | GUC_DISALLOW_IN_AUTO_FILE,
							   check_context_guc, NULL, NULL);

	CacheRegisterRelcacheCallback(tenant_relcache_callback, (Datum) 0);
}
