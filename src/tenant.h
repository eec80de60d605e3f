/*-------------------------------------------------------------------------
 *
 * tenant.h
 *	  The tenant context (invoice.set_tenant) and the tenant settings a
 *	  backend caches (tenant.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef INVOICE_TENANT_H
#define INVOICE_TENANT_H

#include "postgres.h"

#include "pgtime.h"
#include "utils/date.h"

/* the tenant settings a backend caches; copied out, never pointed into */
typedef struct TenantSettings
{
	int64		org_id;
	bool		is_active;
	char		currency[4];
	int64		default_tax_rate;	/* RATE_SCALE */
	char		prefix[16];
	int64		number_from;
	int64		number_to;		/* 0 when unbounded */
	bool		has_valid_from;
	DateADT		valid_from;
	bool		has_valid_to;
	DateADT		valid_to;
	pg_tz	   *tz;				/* owned by pg_tzset's cache, lives forever */
	char		timezone[64];
} TenantSettings;

/* the org_id of the context, or 0 when there is none */
extern int64 tenant_current_org(void);

/* the user_id of the context, or 0 when there is none */
extern int64 tenant_current_user(void);

/* the org_id of the context; 42501 when there is none */
extern int64 tenant_require(void);

/* copies the settings of org_id into *out; false if the org does not exist */
extern bool tenant_settings(int64 org_id, TenantSettings *out);

/* is the application user of the context an admin of the current tenant? */
extern bool tenant_user_is_admin(void);

/* is the calling role a member of invoice_admin (or a superuser)? */
extern bool tenant_caller_is_platform_admin(void);

/* 42501 "permission denied to <what>" unless it is */
extern void require_platform_admin(const char *what);

/* defines the context variables; from _PG_init */
extern void tenant_init(void);

#endif							/* INVOICE_TENANT_H */
