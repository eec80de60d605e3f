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

#include "datatype/timestamp.h"

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

#endif							/* INVOICE_NUMBERING_H */
