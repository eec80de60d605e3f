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
#include "utils/palloc.h"

/* locks the tenant's numbering until the end of the transaction */
extern void numbering_lock(int64 org_id);

/* the last number issued by the tenant, as committed now; false if none */
extern bool numbering_last(int64 org_id, int64 *last);

/* the number numbering_next() took, and when */
typedef struct IssueNumber
{
	int64		number;
	char	   *number_text;	/* prefix and number */
	TimestampTz issued_at;
} IssueNumber;

/*
 * numbering_next: locks the tenant's numbering until the end of the
 * transaction and takes the next number of its authorized range, issued
 * now, within the resolution's validity (55000 otherwise)
 */
extern void numbering_next(int64 org_id, MemoryContext result_cxt, IssueNumber *out);

/*
 * numbering_write_issue: a locked draft becomes issued (paid when `paid`)
 * with its number, and keeps the seller and customer its document shows
 */
extern void numbering_write_issue(int64 org_id, int64 invoice_id, int64 number,
								  const char *number_text, TimestampTz issued_at,
								  bool paid);

#endif							/* INVOICE_NUMBERING_H */
