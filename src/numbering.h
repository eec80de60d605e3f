/*-------------------------------------------------------------------------
 *
 * numbering.h
 *	  The tenant's gapless numbering (numbering.c); both functions run
 *	  between api_begin and api_end.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INVOICE_NUMBERING_H
#define INVOICE_NUMBERING_H

#include "postgres.h"

/* locks the tenant's numbering until the end of the transaction */
extern void numbering_lock(int64 org_id);

/* the last number issued by the tenant, as committed now; false if none */
extern bool numbering_last(int64 org_id, int64 *last);

#endif							/* INVOICE_NUMBERING_H */
