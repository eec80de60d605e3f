/*-------------------------------------------------------------------------
 *
 * due_dates.h
 *	  Overdue invoices, for maintenance().
 *
 *-------------------------------------------------------------------------
 */
#ifndef INVOICE_DUE_DATES_H
#define INVOICE_DUE_DATES_H

#include "lib/stringinfo.h"

extern void due_dates_mark_overdue(StringInfo out);

#endif							/* INVOICE_DUE_DATES_H */
