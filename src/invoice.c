/*-------------------------------------------------------------------------
 *
 * invoice.c
 *	  Module entry point of the invoice extension.
 *
 * The library must be loaded through shared_preload_libraries: the tenant
 * context is a reserved, superuser-only GUC, and only a library loaded
 * before any session can run SET guarantees that no placeholder of that
 * name was created by an unprivileged user first.  Loading it any other
 * way is refused with an error that says how to fix it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "audit.h"
#include "checks.h"
#include "commit.h"
#include "exec.h"
#include "tenant.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * _PG_init
 *		Refuses late loading, then sets up the tenant context and caches.
 *		The "invoice" prefix is reserved last: reserving it removes every
 *		invoice.* value read from postgresql.conf or ALTER SYSTEM that no
 *		variable defined so far claims, so each module defines its own
 *		variables before.
 */
void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("invoice must be loaded via \"shared_preload_libraries\""),
				 errdetail("The tenant context is only tamper-proof when the library is loaded at server start."),
				 errhint("Add invoice to shared_preload_libraries in postgresql.conf (for example \"pg_cron,invoice\") and restart the server.")));

	tenant_init();
	exec_init();
	commit_init();
	audit_init();
	checks_init();

	/* after every invoice.* variable is defined */
	MarkGUCPrefixReserved("invoice");
}
