/*-------------------------------------------------------------------------
 *
 * rollup.h
 *	  The figures per tenant that metrics() reads, for maintenance().
 *
 *-------------------------------------------------------------------------
 */
#ifndef INVOICE_ROLLUP_H
#define INVOICE_ROLLUP_H

#include "lib/stringinfo.h"

extern void rollup_refresh(StringInfo out);

#endif							/* INVOICE_ROLLUP_H */
