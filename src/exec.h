/*-------------------------------------------------------------------------
 *
 * exec.h
 *	  How the API functions run their statements, and the argument checks
 *	  they share (exec.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef INVOICE_EXEC_H
#define INVOICE_EXEC_H

#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"

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

/*
 * the plan kept in *slot, prepared on first use with search_path =
 * pg_catalog, pg_temp and kept for the life of the backend; one slot per plan
 */
extern SPIPlanPtr api_prepare_once(SPIPlanPtr *slot, const char *sql,
								   int nargs, Oid *argtypes);

/* runs a kept plan; errors out (elog) unless the result is `expected` */
extern int	api_execute(SPIPlanPtr plan, Datum *values, const char *nulls,
						bool read_only, int expected);

/* value of column `col` (1-based) of row `row` of SPI_tuptable */
extern Datum api_getdatum(int row, int col, bool *isnull);

/* a text column of SPI_tuptable as a palloc'd C string, NULL for NULL */
extern char *api_gettext(int row, int col);

/* registers the transaction and cache callbacks; from _PG_init */
extern void exec_init(void);

/* 22004 unless argument `argno` is given; `name` is its SQL name */
extern void arg_required(FunctionCallInfo fcinfo, int argno, const char *name);

/* text argument as a palloc'd C string with surrounding blanks trimmed */
extern char *arg_trimmed_text(FunctionCallInfo fcinfo, int argno);

/* 22023 when a required text is empty after trimming */
extern void check_not_blank(const char *value, const char *name);

/* 22023 when a text is longer than `max` bytes */
extern void check_max_length(const char *value, const char *name, int max);

#endif							/* INVOICE_EXEC_H */
