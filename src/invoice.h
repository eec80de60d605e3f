/*-------------------------------------------------------------------------
 *
 * invoice.h
 *	  What the modules of the invoice extension share: the tenant context,
 *	  the cached tenant settings, and the way the API runs its statements.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INVOICE_H
#define INVOICE_H

#include "postgres.h"

#include "executor/spi.h"
#include "items.h"
#include "pgtime.h"
#include "utils/date.h"

/* ----------
 * Tenant context (tenant.c)
 * ----------
 */

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

/* drops every cached setting, grant and user (all backends, at commit) */
extern void tenant_cache_invalidate_all(Oid relid);

extern void tenant_init(void);

/* ----------
 * Running statements (exec.c)
 * ----------
 */

/* what api_begin saved, to be given back to api_end */
typedef struct ApiCall
{
	Oid			save_userid;
	int			save_sec_context;
} ApiCall;

/*
 * api_begin/api_end bracket the statements of an API function: SPI is
 * connected and the statements run as the owner of the extension's tables,
 * after the function has done its own authorization.
 */
extern void api_begin(ApiCall *call);
extern void api_end(ApiCall *call);

/* true while an API function runs its own statements (guard triggers) */
extern bool api_active(void);

/* the role acting: the caller of the API function under way, if any */
extern Oid	api_caller(void);

/* prepares and keeps a plan, parsed with search_path = pg_catalog, pg_temp */
extern SPIPlanPtr api_prepare(const char *sql, int nargs, Oid *argtypes);

/* the plan kept in *slot, prepared by api_prepare on first use */
extern SPIPlanPtr api_prepare_once(SPIPlanPtr *slot, const char *sql,
								   int nargs, Oid *argtypes);

/* runs a kept plan; errors out (elog) unless the result is `expected` */
extern int	api_execute(SPIPlanPtr plan, Datum *values, const char *nulls,
						bool read_only, int expected);

/* value of column `col` (1-based) of row `row` of SPI_tuptable */
extern Datum api_getdatum(int row, int col, bool *isnull);

/* a text column of SPI_tuptable as a palloc'd C string, NULL for NULL */
extern char *api_gettext(int row, int col);

/* the owner of the extension's tables */
extern Oid	api_owner(void);

extern void exec_init(void);

/* ----------
 * Argument helpers (exec.c)
 * ----------
 */

/* 22004 unless argument `argno` is given; `name` is its SQL name */
extern void arg_required(FunctionCallInfo fcinfo, int argno, const char *name);

/* text argument as a palloc'd C string with surrounding blanks trimmed */
extern char *arg_trimmed_text(FunctionCallInfo fcinfo, int argno);

/* 22023 when a required text is empty after trimming */
extern void check_not_blank(const char *value, const char *name);

/* 22023 when a text is longer than `max` bytes */
extern void check_max_length(const char *value, const char *name, int max);

/* ----------
 * Invoices (lifecycle.c)
 * ----------
 */

typedef enum InvoiceStatus
{
	STATUS_DRAFT = 1,
	STATUS_ISSUED = 2,
	STATUS_PAID = 4,
	STATUS_VOID = 8
} InvoiceStatus;

/* the stored status text ("draft", "issued", "paid", "void") as an InvoiceStatus */
extern InvoiceStatus invoice_status_from_text(const char *s);

/* an invoice header, read and locked by invoice_lock() */
typedef struct InvoiceHeader
{
	int64		org_id;
	int64		invoice_id;
	InvoiceStatus status;
	bool		is_deleted;
	int32		item_count;
	int32		next_line_no;
	InvoiceTotals totals;
	int64		amount_paid;
} InvoiceHeader;

/*
 * invoice_lock: locks the header (FOR UPDATE) between api_begin/api_end;
 * P0002 when the tenant has no such invoice.
 */
extern void invoice_lock(int64 org_id, int64 invoice_id, InvoiceHeader *h);

/* 55000 unless the invoice is in one of the `allowed` states and not deleted */
extern void invoice_require_status(const InvoiceHeader *h, int allowed,
								   const char *action);

/*
 * invoice_open: argument 0 is the invoice_id; api_begin, then lock it and
 * require one of the `allowed` states.  Returns the invoice_id.
 */
extern int64 invoice_open(FunctionCallInfo fcinfo, int64 org_id, int allowed,
						  const char *action, InvoiceHeader *h, ApiCall *call);

/* ----------
 * Numbering (numbering.c); both between api_begin and api_end
 * ----------
 */

/* locks the tenant's numbering until the end of the transaction */
extern void numbering_lock(int64 org_id);

/* the last number issued by the tenant, as committed now; false if none */
extern bool numbering_last(int64 org_id, int64 *last);

/*
 * numbering_write_issue: a locked draft becomes issued (paid when `paid`)
 * with its number, and keeps the seller and customer its document shows
 */
extern void numbering_write_issue(int64 org_id, int64 invoice_id, int64 number,
								  const char *number_text, TimestampTz issued_at,
								  bool paid);

/* ----------
 * Commit (commit.c)
 * ----------
 */

/* a tenant-wide lock was taken: release it before the commit's WAL flush */
extern void commit_release_early(void);

extern void commit_init(void);

/* ----------
 * Customers (customers.c)
 * ----------
 */

/* 22023 unless `value` is a NIT "900123456-8" with a valid DIAN check digit */
extern void nit_check(const char *value, const char *field);

/* 22023 unless `email` looks like an e-mail address ("email" in messages) */
extern void check_email(const char *email);

/* 22023 unless `phone` has 7 to 15 digits ("phone" in messages) */
extern void check_phone(const char *phone);

#endif							/* INVOICE_H */
