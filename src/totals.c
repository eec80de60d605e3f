/*-------------------------------------------------------------------------
 *
 * totals.c
 *	  The totals engine: invoice.totals(items jsonb, default_tax_rate
 *	  numeric) and the JSON form of computed lines and totals.
 *
 * invoice.totals() is pure: it reads no table, needs no tenant and writes
 * nothing; items.c validates and computes, this file only sums and
 * answers.  The result is built with pushJsonbValue, never through text.
 *
 * Number formats in the result: amounts carry exactly 2 decimals
 * (1070.99, 100.00); rates are written without trailing zeros (19, 12.5,
 * 0.0001), the shortest exact form; line_no is an integer.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "items.h"
#include "money.h"
#include "totals.h"

PG_FUNCTION_INFO_V1(invoice_totals);

/*
 * json_push_key
 *		Pushes an object key; `name` is a C string literal.
 */
void
json_push_key(JsonbParseState **state, const char *name)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) name;
	v.val.string.len = strlen(name);
	(void) pushJsonbValue(state, WJB_KEY, &v);
}

/*
 * json_push_null
 *		Pushes `key`: null.
 */
void
json_push_null(JsonbParseState **state, const char *key)
{
	JsonbValue	v;

	json_push_key(state, key);
	v.type = jbvNull;
	(void) pushJsonbValue(state, WJB_VALUE, &v);
}

/*
 * json_push_string
 *		Pushes `key`: the string s, or null when s is NULL.
 */
void
json_push_string(JsonbParseState **state, const char *key, const char *s)
{
	JsonbValue	v;

	if (s == NULL)
	{
		json_push_null(state, key);
		return;
	}
	json_push_key(state, key);
	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = strlen(s);
	(void) pushJsonbValue(state, WJB_VALUE, &v);
}

/*
 * json_push_numeric
 *		Pushes `key`: num as an object member.
 */
void
json_push_numeric(JsonbParseState **state, const char *key, Numeric num)
{
	JsonbValue	v;

	json_push_key(state, key);
	v.type = jbvNumeric;
	v.val.numeric = num;
	(void) pushJsonbValue(state, WJB_VALUE, &v);
}

/*
 * json_push_amount
 *		An amount in cents, written with exactly 2 decimals.
 */
void
json_push_amount(JsonbParseState **state, const char *key, int64 cents)
{
	json_push_numeric(state, key, money_to_numeric(cents, MONEY_SCALE));
}

/*
 * json_push_rate
 *		A rate at RATE_SCALE, written without trailing zeros (19, not
 *		19.0000), so that equal rates always print alike.
 */
void
json_push_rate(JsonbParseState **state, const char *key, int64 rate)
{
	int			scale = RATE_SCALE;

	while (scale > 0 && rate % 10 == 0)
	{
		rate /= 10;
		scale--;
	}
	json_push_numeric(state, key, money_to_numeric(rate, scale));
}

/*
 * tax_group_cmp
 *		qsort order of "taxes": rate ascending.
 */
static int
tax_group_cmp(const void *a, const void *b)
{
	int64		ra = ((const TaxGroup *) a)->rate;
	int64		rb = ((const TaxGroup *) b)->rate;

	return (ra > rb) - (ra < rb);
}

/*
 * totals_push_lines
 *		Pushes the "lines" array (one object per computed item: line_no,
 *		base, discount, net, tax, line_total, tax_rate) as the next value
 *		of *state.
 */
static void
totals_push_lines(JsonbParseState **state, const InvoiceItem *items, int nitems)
{
	int			i;

	(void) pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	for (i = 0; i < nitems; i++)
	{
		const InvoiceItem *it = &items[i];

		(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
		json_push_numeric(state, "line_no", int64_to_numeric(it->line_no));
		json_push_amount(state, "base", it->base);
		json_push_amount(state, "discount", it->discount);
		json_push_amount(state, "net", it->net);
		json_push_amount(state, "tax", it->tax);
		json_push_amount(state, "line_total", it->line_total);
		json_push_rate(state, "tax_rate", it->tax_rate);
		(void) pushJsonbValue(state, WJB_END_OBJECT, NULL);
	}
	(void) pushJsonbValue(state, WJB_END_ARRAY, NULL);
}

/*
 * totals_tax_groups
 *		The breakdown by rate; see totals.h.  Invoices have few distinct
 *		rates, so the groups are found by a linear search and sorted once.
 */
TaxGroup *
totals_tax_groups(const InvoiceItem *items, int nitems, int *ngroups)
{
	TaxGroup   *groups = NULL;
	int			n = 0;
	int			i;
	int			g;

	if (nitems > 0)
		groups = (TaxGroup *) palloc(sizeof(TaxGroup) * nitems);
	for (i = 0; i < nitems; i++)
	{
		for (g = 0; g < n; g++)
			if (groups[g].rate == items[i].tax_rate)
				break;
		if (g == n)
		{
			groups[g].rate = items[i].tax_rate;
			groups[g].base = 0;
			groups[g].tax = 0;
			n++;
		}
		groups[g].base = money_add(groups[g].base, items[i].net);
		groups[g].tax = money_add(groups[g].tax, items[i].tax);
	}
	if (n > 1)
		qsort(groups, n, sizeof(TaxGroup), tax_group_cmp);
	*ngroups = n;
	return groups;
}

/*
 * totals_push_taxes
 *		The "taxes" array; see totals.h.
 */
void
totals_push_taxes(JsonbParseState **state, const InvoiceItem *items, int nitems)
{
	int			ngroups;
	TaxGroup   *groups = totals_tax_groups(items, nitems, &ngroups);
	int			g;

	(void) pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	for (g = 0; g < ngroups; g++)
	{
		(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
		json_push_rate(state, "rate", groups[g].rate);
		json_push_amount(state, "base", groups[g].base);
		json_push_amount(state, "tax", groups[g].tax);
		(void) pushJsonbValue(state, WJB_END_OBJECT, NULL);
	}
	(void) pushJsonbValue(state, WJB_END_ARRAY, NULL);

	if (groups != NULL)
		pfree(groups);
}

/*
 * totals_push_object
 *		Pushes the whole totals object (subtotal, discount_total,
 *		tax_total, total, lines, taxes) as the next value of *state;
 *		returns what pushJsonbValue returned for its end.
 */
static JsonbValue *
totals_push_object(JsonbParseState **state, const InvoiceItem *items,
				   int nitems, const InvoiceTotals *totals)
{
	(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	json_push_amount(state, "subtotal", totals->subtotal);
	json_push_amount(state, "discount_total", totals->discount_total);
	json_push_amount(state, "tax_total", totals->tax_total);
	json_push_amount(state, "total", totals->total);
	json_push_key(state, "lines");
	totals_push_lines(state, items, nitems);
	json_push_key(state, "taxes");
	totals_push_taxes(state, items, nitems);
	return pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/*
 * totals_to_jsonb
 *		The totals object as a Jsonb of its own.
 */
static Jsonb *
totals_to_jsonb(const InvoiceItem *items, int nitems, const InvoiceTotals *totals)
{
	JsonbParseState *state = NULL;

	return JsonbValueToJsonb(totals_push_object(&state, items, nitems, totals));
}

/*
 * default_tax_rate_arg
 *		The default_tax_rate argument at RATE_SCALE: 0 to 100, at most 4
 *		decimals (22023).
 */
static int64
default_tax_rate_arg(Numeric num)
{
	int64		rate = 0;

	switch (rate_from_numeric(num, &rate))
	{
		case MONEY_OK:
			break;
		case MONEY_TOO_MANY_DECIMALS:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"default_tax_rate\" must not have more than 4 decimals"),
					 errhint("Rates are percentages and may have up to 4 decimals.")));
			break;
		case MONEY_NOT_FINITE:
		case MONEY_OUT_OF_RANGE:
			rate = -1;
			break;
	}
	if (rate < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"default_tax_rate\" must be between 0 and 100"),
				 errhint("Rates are percentages: 19 means 19 %%.")));
	return rate;
}

/*
 * invoice_totals
 *		invoice.totals(items jsonb, default_tax_rate numeric DEFAULT 19):
 *		validates the items, computes every line (round per line, half away
 *		from zero) and returns lines, totals and the breakdown by tax rate.
 *		Not STRICT: a NULL argument is 22004, never a NULL result.
 */
Datum
invoice_totals(PG_FUNCTION_ARGS)
{
	Jsonb	   *items_json;
	int64		default_rate;
	InvoiceItem *items;
	InvoiceTotals totals = {0, 0, 0, 0};
	int			nitems;
	int			i;

	if (PG_NARGS() < 1 || PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("\"items\" must not be null")));
	if (PG_NARGS() < 2 || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("\"default_tax_rate\" must not be null")));

	items_json = PG_GETARG_JSONB_P(0);
	default_rate = default_tax_rate_arg(PG_GETARG_NUMERIC(1));

	items = items_from_jsonb(items_json, "items", &nitems);
	for (i = 0; i < nitems; i++)
	{
		item_compute(&items[i], default_rate, i + 1);
		totals_add(&totals, &items[i], 1);
	}

	PG_RETURN_JSONB_P(totals_to_jsonb(items, nitems, &totals));
}
