/*-------------------------------------------------------------------------
 *
 * totals.h
 *	  The JSON form of computed invoice lines and totals, shared by
 *	  invoice.totals() and any export that shows the same figures.
 *
 * Amounts are JSON numbers with exactly 2 decimals (1070.99, 100.00);
 * rates are JSON numbers without trailing zeros (19, 12.5, 0); line_no is
 * an integer.  Keys are those README.md documents under "Exports:
 * invoice.to_json".
 *
 *-------------------------------------------------------------------------
 */
#ifndef INVOICE_TOTALS_H
#define INVOICE_TOTALS_H

#include "postgres.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "items.h"

/* one rate of an invoice's tax breakdown ("taxes") */
typedef struct TaxGroup
{
	int64		rate;			/* RATE_SCALE */
	int64		base;			/* sum of net, MONEY_SCALE */
	int64		tax;			/* sum of tax, MONEY_SCALE */
} TaxGroup;

/*
 * totals_tax_groups: net and tax of computed lines summed by effective
 * rate, rate ascending; a palloc'd array of *ngroups (NULL when there are
 * no lines).  22003 if a sum does not fit numeric(18,2).
 */
extern TaxGroup *totals_tax_groups(const InvoiceItem *items, int nitems,
								   int *ngroups);

/*
 * The members every JSON document of invoices is made of; `key` is the
 * member's name (a C string that must outlive the JsonbParseState).
 */
extern void json_push_key(JsonbParseState **state, const char *key);
extern void json_push_null(JsonbParseState **state, const char *key);
/* a string, or null when s is NULL */
extern void json_push_string(JsonbParseState **state, const char *key, const char *s);
extern void json_push_numeric(JsonbParseState **state, const char *key, Numeric num);
/* an amount in cents, with exactly 2 decimals */
extern void json_push_amount(JsonbParseState **state, const char *key, int64 cents);
/* a rate at RATE_SCALE, without trailing zeros */
extern void json_push_rate(JsonbParseState **state, const char *key, int64 rate);

/*
 * totals_push_taxes: pushes the "taxes" array ({rate, base, tax}: net and
 * tax summed by effective rate, rate ascending) as the next value of
 * *state; 22003 if a sum does not fit numeric(18,2).
 */
extern void totals_push_taxes(JsonbParseState **state,
							  const InvoiceItem *items, int nitems);

#endif							/* INVOICE_TOTALS_H */
