/*-------------------------------------------------------------------------
 *
 * commit.h
 *	  The early release of tenant-wide locks at commit (commit.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef INVOICE_COMMIT_H
#define INVOICE_COMMIT_H

#include "postgres.h"

/* a tenant-wide lock was taken: release it before the commit's WAL flush */
extern void commit_release_early(void);

/* defines invoice.early_lock_release, registers the callbacks; from _PG_init */
extern void commit_init(void);

#endif							/* INVOICE_COMMIT_H */
