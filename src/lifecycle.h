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
#include "tenant.h"
#include "utils/jsonb.h"

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

/* a new invoice as create_invoice and create_and_issue take it */
typedef struct NewInvoice
{
	int64		org_id;
	int64		user_id;		/* 0 when the context has none */
	int64		customer_id;
	Jsonb	   *items_json;
	char	   *notes;			/* NULL when none */
	InvoiceItem *items;
	int			nitems;
	InvoiceTotals totals;
	TenantSettings st;
} NewInvoice;

/* arguments 0-2 (customer_id, items, notes), validated and computed */
extern void new_invoice_from_args(FunctionCallInfo fcinfo, NewInvoice *inv);

/* the parameters $1..$11 of a header INSERT, typed by new_invoice_types */
#define NEW_INVOICE_NARGS 11
extern const Oid new_invoice_types[NEW_INVOICE_NARGS];
extern void new_invoice_values(const NewInvoice *inv, Datum *values, char *nulls);

/* writes the lines of an invoice (between api_begin and api_end) */
extern void items_insert(int64 org_id, int64 invoice_id, const InvoiceItem *items,
						 int nitems);

/* P0002 "customer N not found" unless `found` */
extern void require_customer(int64 customer_id, bool found);

#endif							/* INVOICE_LIFECYCLE_H */
