/*-------------------------------------------------------------------------
 *
 * items.h
 *	  Invoice items: JSON in, validated fixed-point struct out, and the
 *	  per-line arithmetic of README.md, "Invoices and money".
 *
 *-------------------------------------------------------------------------
 */
#ifndef INVOICE_ITEMS_H
#define INVOICE_ITEMS_H

#include "postgres.h"
#include "utils/jsonb.h"

/* the most lines one invoice (or one totals() call) may carry */
#define INVOICE_MAX_ITEMS	1000

typedef struct InvoiceItem
{
	int32		line_no;		/* 1-based */
	char	   *description;	/* palloc'd, never NULL once validated */
	int64		quantity;		/* QTY_SCALE */
	int64		unit_price;		/* MONEY_SCALE */
	bool		has_tax_rate;	/* false: the tenant's default applies */
	int64		tax_rate;		/* RATE_SCALE; the effective rate after item_compute */
	int64		discount_pct;	/* RATE_SCALE, 0 when absent */
	char	   *material;		/* NULL when absent */
	bool		has_karat;
	int32		karat;
	bool		has_weight;
	int64		weight_grams;	/* QTY_SCALE */
	char	   *sku;			/* NULL when absent */

	/* computed by item_compute() */
	int64		base;
	int64		discount;
	int64		net;
	int64		tax;
	int64		line_total;
} InvoiceItem;

typedef struct InvoiceTotals
{
	int64		subtotal;
	int64		discount_total;
	int64		tax_total;
	int64		total;
} InvoiceTotals;

/*
 * item_apply_jsonb: validate the JSON object `obj` (a jsonb container that
 * must be an object) and write the keys it has into *item.  `idx` is the
 * 1-based item number used in error messages ("item 2: ...").  JSON null
 * for an optional key resets it to its default; with `complete`, the
 * required keys (description, quantity, unit_price) must be present in
 * *item afterwards.  Errors are ereport(ERROR) with SQLSTATE 22023 or 22003.
 */
extern void item_apply_jsonb(JsonbContainer *obj, int idx, InvoiceItem *item,
							 bool complete);

/*
 * items_from_jsonb: validate a JSON array of item objects; returns a
 * palloc'd array of *nitems items, line_no 1..n, not yet computed.
 * `what` names the argument in errors ("items").
 */
extern InvoiceItem *items_from_jsonb(Jsonb *items, const char *what, int *nitems);

/*
 * item_compute: fill base, discount, net, tax and line_total (and the
 * effective tax_rate) with the rounding of README.md, "Invoices and money";
 * 22003 on overflow.
 */
extern void item_compute(InvoiceItem *item, int64 default_tax_rate, int idx);

/* totals_add: add (sign = 1) or subtract (sign = -1) a computed line; 22003 on overflow */
extern void totals_add(InvoiceTotals *totals, const InvoiceItem *item, int sign);

#endif							/* INVOICE_ITEMS_H */
