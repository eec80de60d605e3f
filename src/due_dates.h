/*-------------------------------------------------------------------------
 *
 * due_dates.h
 *	  Due dates given to the API, and overdue invoices for maintenance().
 *
 *-------------------------------------------------------------------------
 */
#ifndef INVOICE_DUE_DATES_H
#define INVOICE_DUE_DATES_H

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/date.h"

extern bool due_date_arg(FunctionCallInfo fcinfo, int argno, DateADT *due_date);
extern void due_dates_mark_overdue(StringInfo out);

#endif							/* INVOICE_DUE_DATES_H */
