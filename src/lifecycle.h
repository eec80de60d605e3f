/*-------------------------------------------------------------------------
 *
 * lifecycle.h
 *	  An invoice's status and its locked header, shared by the functions
 *	  that change invoices (lifecycle.c, numbering.c) and the documents.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INVOICE_LIFECYCLE_H
#define INVOICE_LIFECYCLE_H

#include "postgres.h"

#include "fmgr.h"

#include "exec.h"
#include "items.h"

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

#endif							/* INVOICE_LIFECYCLE_H */
