/*-------------------------------------------------------------------------
 *
 * checks.h
 *	  CHECK constraints prepared once per backend (checks.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef INVOICE_CHECKS_H
#define INVOICE_CHECKS_H

#include "postgres.h"

#include "nodes/execnodes.h"

/*
 * gives `rri` its table's CHECK constraints ready to evaluate, before the
 * executor would prepare them again from their text; for writers that build
 * their own EState (the audit log, the chain heads)
 */
extern void checks_give(ResultRelInfo *rri, EState *estate);

/* defines invoice.keep_checks, installs the ExecutorStart hook; from _PG_init */
extern void checks_init(void);

#endif							/* INVOICE_CHECKS_H */
