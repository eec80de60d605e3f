/*-------------------------------------------------------------------------
 *
 * items.c
 *	  Invoice items: JSON in, validated fixed-point struct out, and the
 *	  per-line arithmetic of README.md, "Invoices and money".
 *
 * Every key of an item is checked for its JSON type, sign, range and
 * number of decimals (counted by value: 1.2500 has two).  Nothing is ever
 * rounded on the way in: a price with three decimals is refused.  Bad
 * input is 22023 (22003 when a value or a computed amount does not fit
 * its column: numeric(18,2), numeric(18,3), numeric(12,3) for weights),
 * with a message that names the item, counted from 1, and the field.
 *
 * This is the hot path of every invoice: one pass over each object; what
 * stays allocated is the item array and the strings kept in it, the rest
 * (numeric text, iterators) is freed as it goes, all in
 * CurrentMemoryContext.  Nothing here touches the database.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "items.h"
#include "money.h"

/* weight_grams is stored as numeric(12,3) */
#define WEIGHT_MAX		INT64CONST(999999999999)

/* how much of an unknown key an error message repeats */
#define KEY_ECHO_MAX	64

/*
 * Text fields of an item, in bytes, and the lines of a description: every
 * line is a line of the PDF, so an unbounded description made documents
 * of tens of megabytes.
 */
#define DESCRIPTION_MAX		1000
#define DESCRIPTION_LINES	10
#define MATERIAL_MAX		100
#define SKU_MAX				64

/* the keys an item may have */
typedef enum ItemKey
{
	KEY_DESCRIPTION,
	KEY_QUANTITY,
	KEY_UNIT_PRICE,
	KEY_TAX_RATE,
	KEY_DISCOUNT_PCT,
	KEY_MATERIAL,
	KEY_KARAT,
	KEY_WEIGHT_GRAMS,
	KEY_SKU,
	KEY_UNKNOWN
} ItemKey;

static const char *const item_key_names[] = {
	"description", "quantity", "unit_price", "tax_rate", "discount_pct",
	"material", "karat", "weight_grams", "sku"
};

StaticAssertDecl(lengthof(item_key_names) == KEY_UNKNOWN,
				 "item_key_names does not match ItemKey");

#define ITEM_KEYS_HINT \
	"Allowed keys are description, quantity, unit_price, tax_rate, " \
	"discount_pct, material, karat, weight_grams and sku."

/*
 * How a numeric field is checked.  Values below zero are 22023, and so is
 * zero with `min_exclusive`.  Values beyond `max` are 22003 (they would
 * not fit the column's numeric(p,s)), except for percentages, where they
 * are 22023 "must be between 0 and 100".
 */
typedef struct NumberSpec
{
	const char *name;
	int			scale;
	int64		max;
	bool		min_exclusive;
	bool		is_percentage;	/* 0..100, "must be between 0 and 100" */
	const char *decimals_hint;
	const char *range_detail;	/* for 22003 */
} NumberSpec;

static const NumberSpec quantity_spec = {
	"quantity", QTY_SCALE, QTY_MAX, true, false,
	"Quantities may have up to 3 decimals.",
	"Quantities must fit numeric(18,3)."
};

static const NumberSpec unit_price_spec = {
	"unit_price", MONEY_SCALE, MONEY_MAX, false, false,
	"Prices may have up to 2 decimals.",
	"Prices must fit numeric(18,2)."
};

static const NumberSpec tax_rate_spec = {
	"tax_rate", RATE_SCALE, RATE_100, false, true,
	"Rates are percentages and may have up to 4 decimals.",
	NULL
};

static const NumberSpec discount_pct_spec = {
	"discount_pct", RATE_SCALE, RATE_100, false, true,
	"Rates are percentages and may have up to 4 decimals.",
	NULL
};

static const NumberSpec weight_spec = {
	"weight_grams", QTY_SCALE, WEIGHT_MAX, true, false,
	"Weights may have up to 3 decimals.",
	"Weights must fit numeric(12,3)."
};

static void report_below_min(int idx, const NumberSpec *spec) pg_attribute_noreturn();
static void item_unknown_key(const JsonbValue *key, int idx) pg_attribute_noreturn();

/*
 * item_key_lookup
 *		Which key a (not NUL-terminated) JSON key is.
 */
static ItemKey
item_key_lookup(const char *key, int len)
{
	int			k;

	for (k = 0; k < KEY_UNKNOWN; k++)
	{
		const char *name = item_key_names[k];

		if ((int) strlen(name) == len && memcmp(name, key, len) == 0)
			return (ItemKey) k;
	}
	return KEY_UNKNOWN;
}

/*
 * numeric_text_is_negative
 *		The sign of a Numeric that could not be converted; only used on the
 *		way to an error, to report the sign rather than the size.
 */
static bool
numeric_text_is_negative(Numeric num)
{
	char	   *text;
	bool		negative;

	text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
	negative = (text[0] == '-');
	pfree(text);
	return negative;
}

/*
 * report_below_min
 *		The message for a value under the field's lower bound.
 */
static void
report_below_min(int idx, const NumberSpec *spec)
{
	if (spec->is_percentage)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item %d: \"%s\" must be between 0 and 100", idx, spec->name),
				 errhint("%s", spec->decimals_hint)));
	else if (spec->min_exclusive)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item %d: \"%s\" must be greater than zero", idx, spec->name)));
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item %d: \"%s\" must not be negative", idx, spec->name)));
}

/*
 * item_number
 *		A JSON number converted to fixed point and checked against `spec`.
 *
 * A negative value reports its sign before anything else; then size
 * (22003, or "between 0 and 100" for percentages), then decimals.
 */
static int64
item_number(const JsonbValue *v, int idx, const NumberSpec *spec)
{
	int64		value = 0;

	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item %d: \"%s\" must be a number", idx, spec->name)));

	switch (spec->is_percentage ?
			rate_from_numeric(v->val.numeric, &value) :
			money_from_numeric(v->val.numeric, spec->scale, spec->max, &value))
	{
		case MONEY_OK:
			break;
		case MONEY_NOT_FINITE:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("item %d: \"%s\" must be a finite number", idx, spec->name)));
			break;
		case MONEY_TOO_MANY_DECIMALS:
			if (numeric_text_is_negative(v->val.numeric))
				report_below_min(idx, spec);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("item %d: \"%s\" must not have more than %d decimals",
							idx, spec->name, spec->scale),
					 errhint("%s", spec->decimals_hint)));
			break;
		case MONEY_OUT_OF_RANGE:
			if (spec->is_percentage || numeric_text_is_negative(v->val.numeric))
				report_below_min(idx, spec);
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("item %d: \"%s\" is out of range", idx, spec->name),
					 errdetail("%s", spec->range_detail)));
			break;
	}

	if (value < 0 || (value == 0 && spec->min_exclusive))
		report_below_min(idx, spec);
	return value;
}

/*
 * item_karat
 *		A whole number of karats, 1 to 24 (24.0 is 24: counted by value).
 */
static int32
item_karat(const JsonbValue *v, int idx)
{
	int64		value = 0;
	MoneyParseResult r;

	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item %d: \"karat\" must be an integer", idx)));
	r = money_from_numeric(v->val.numeric, 0, 24, &value);
	if (r == MONEY_NOT_FINITE || r == MONEY_TOO_MANY_DECIMALS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item %d: \"karat\" must be an integer", idx)));
	if (r == MONEY_OUT_OF_RANGE || value < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item %d: \"karat\" must be between 1 and 24", idx)));
	return (int32) value;
}

/*
 * item_text
 *		A JSON string with surrounding blanks (space, tab, CR, LF) trimmed,
 *		copied and NUL-terminated; NULL when nothing is left.  Longer than
 *		`max` bytes is refused.
 */
static char *
item_text(const JsonbValue *v, int idx, const char *name, int max)
{
	const char *s;
	int			len;

	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item %d: \"%s\" must be a string", idx, name)));

	s = v->val.string.val;
	len = v->val.string.len;
	while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
	{
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
					   s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	if (len > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item %d: \"%s\" must not be longer than %d bytes", idx, name, max),
				 errhint("\"%s\" has %d bytes; the limit is %d.", name, len, max)));
	return len > 0 ? pnstrdup(s, len) : NULL;
}

/*
 * check_description_lines
 *		A description of at most DESCRIPTION_LINES lines, counted as the
 *		renderers break them (src/pdf_text.c): LF, CR, CR LF, and the
 *		UTF-8 of U+0085, U+2028 and U+2029.
 */
static void
check_description_lines(const char *description, int idx)
{
	int			lines = 1;
	const unsigned char *p;

	for (p = (const unsigned char *) description; *p; p++)
	{
		if (*p == '\n' || (*p == '\r' && p[1] != '\n'))
			lines++;
		else if (p[0] == 0xC2 && p[1] == 0x85)
			lines++;
		else if (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9))
			lines++;
	}
	if (lines > DESCRIPTION_LINES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item %d: \"description\" must not have more than %d lines", idx, DESCRIPTION_LINES),
				 errhint("The description has %d lines; the limit is %d.", lines, DESCRIPTION_LINES)));
}

/*
 * item_unknown_key
 *		Refuses a key that is not an item field, echoing at most
 *		KEY_ECHO_MAX bytes of it (clipped on a character boundary).
 */
static void
item_unknown_key(const JsonbValue *key, int idx)
{
	int			len = pg_mbcliplen(key->val.string.val, key->val.string.len,
								   KEY_ECHO_MAX);

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("item %d: unknown key \"%.*s\"%s", idx, len,
					key->val.string.val,
					len < key->val.string.len ? "..." : ""),
			 errhint(ITEM_KEYS_HINT)));
}

/*
 * item_require
 *		A required key that is still missing.
 */
static void
item_require(bool present, int idx, const char *name)
{
	if (!present)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item %d: \"%s\" is required", idx, name)));
}

/*
 * item_apply_jsonb
 *		Validates the JSON object `obj` and writes the keys it has into
 *		*item (see items.h).
 *
 * JSON null resets an optional key to its default and is a wrong type for
 * a required one.  With `complete`, description, quantity and unit_price
 * must be known afterwards: description and quantity are known when set
 * (a description is never NULL and a quantity never 0 once validated);
 * unit_price, where 0 is valid, is known when this object gives it or when
 * *item was already a complete item (description set) on entry.
 */
void
item_apply_jsonb(JsonbContainer *obj, int idx, InvoiceItem *item, bool complete)
{
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	key;
	JsonbValue	v;
	bool		had_price = (item->description != NULL);
	bool		got_price = false;

	if (!JsonContainerIsObject(obj) || JsonContainerIsScalar(obj))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item %d must be a JSON object", idx)));

	it = JsonbIteratorInit(obj);
	while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
	{
		ItemKey		k;
		bool		isnull;

		if (tok != WJB_KEY)
			continue;			/* WJB_BEGIN_OBJECT, WJB_END_OBJECT */

		k = item_key_lookup(key.val.string.val, key.val.string.len);
		if (k == KEY_UNKNOWN)
			item_unknown_key(&key, idx);

		tok = JsonbIteratorNext(&it, &v, true);
		if (tok != WJB_VALUE)
			elog(ERROR, "unexpected jsonb token %d in an object", (int) tok);
		isnull = (v.type == jbvNull);

		switch (k)
		{
			case KEY_DESCRIPTION:
				item->description = item_text(&v, idx, "description", DESCRIPTION_MAX);
				if (item->description == NULL)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("item %d: \"description\" must not be blank", idx)));
				check_description_lines(item->description, idx);
				break;
			case KEY_QUANTITY:
				item->quantity = item_number(&v, idx, &quantity_spec);
				break;
			case KEY_UNIT_PRICE:
				item->unit_price = item_number(&v, idx, &unit_price_spec);
				got_price = true;
				break;
			case KEY_TAX_RATE:
				item->has_tax_rate = !isnull;
				item->tax_rate = isnull ? 0 : item_number(&v, idx, &tax_rate_spec);
				break;
			case KEY_DISCOUNT_PCT:
				item->discount_pct = isnull ? 0 : item_number(&v, idx, &discount_pct_spec);
				break;
			case KEY_MATERIAL:
				item->material = isnull ? NULL : item_text(&v, idx, "material", MATERIAL_MAX);
				break;
			case KEY_KARAT:
				item->has_karat = !isnull;
				item->karat = isnull ? 0 : item_karat(&v, idx);
				break;
			case KEY_WEIGHT_GRAMS:
				item->has_weight = !isnull;
				item->weight_grams = isnull ? 0 : item_number(&v, idx, &weight_spec);
				break;
			case KEY_SKU:
				item->sku = isnull ? NULL : item_text(&v, idx, "sku", SKU_MAX);
				break;
			case KEY_UNKNOWN:
				break;			/* refused above */
		}
	}

	if (complete)
	{
		item_require(item->description != NULL, idx, "description");
		item_require(item->quantity > 0, idx, "quantity");
		item_require(got_price || had_price, idx, "unit_price");
	}
}

/*
 * items_from_jsonb
 *		Validates a JSON array of item objects (see items.h).
 */
InvoiceItem *
items_from_jsonb(Jsonb *items, const char *what, int *nitems)
{
	InvoiceItem *result;
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	v;
	int			count;
	int			n = 0;

	if (!JB_ROOT_IS_ARRAY(items) || JB_ROOT_IS_SCALAR(items))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" must be a JSON array", what)));

	count = JB_ROOT_COUNT(items);
	if (count > INVOICE_MAX_ITEMS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" must not have more than %d items", what,
						INVOICE_MAX_ITEMS),
				 errdetail("It has %d.", count)));

	result = (InvoiceItem *) palloc0(sizeof(InvoiceItem) * Max(count, 1));
	it = JsonbIteratorInit(&items->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;			/* WJB_BEGIN_ARRAY, WJB_END_ARRAY */
		if (n >= count)
			elog(ERROR, "jsonb array has more elements than its count");

		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("item %d must be a JSON object", n + 1)));
		result[n].line_no = n + 1;
		item_apply_jsonb(v.val.binary.data, n + 1, &result[n], true);
		n++;
	}

	*nitems = n;
	return result;
}

/*
 * line_amount
 *		num / den rounded half away from zero, refused (22003, naming the
 *		item) when it does not fit numeric(18,2).  The quotient is checked
 *		before it is narrowed to int64.
 */
static int64
line_amount(int128 num, int64 den, int idx)
{
	int128		q = num / den;
	int64		r = 0;
	bool		fits = (q <= MONEY_MAX && q >= -MONEY_MAX);

	if (fits)
	{
		r = money_div_round(num, den);
		fits = (r <= MONEY_MAX && r >= -MONEY_MAX);
	}
	if (!fits)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("item %d: \"quantity\" times \"unit_price\" is out of range", idx),
				 errdetail("Line amounts must fit numeric(18,2).")));
	return r;
}

/*
 * item_compute
 *		The arithmetic of README.md, "Invoices and money", one rounding
 *		per step:
 *
 *		base		= round(quantity * unit_price, 2)
 *		discount	= round(base * discount_pct / 100, 2)
 *		net			= base - discount
 *		tax			= round(net * tax_rate / 100, 2)
 *		line_total	= net + tax
 *
 * In fixed point: quantity (10^-3) * price (10^-2) is in 10^-5, so base
 * divides by 10^3; an amount (10^-2) * a rate (10^-4 %) / 100 is in
 * 10^-8, so discount and tax divide by 10^6 (RATE_100).  Products are
 * int128.
 */
void
item_compute(InvoiceItem *item, int64 default_tax_rate, int idx)
{
	int64		rate = item->has_tax_rate ? item->tax_rate : default_tax_rate;

	if (rate < 0 || rate > RATE_100 ||
		item->discount_pct < 0 || item->discount_pct > RATE_100)
		elog(ERROR, "item %d: rate outside 0..100 reached item_compute", idx);

	item->tax_rate = rate;
	item->base = line_amount((int128) item->quantity * item->unit_price, 1000, idx);
	item->discount = money_div_round((int128) item->base * item->discount_pct, RATE_100);
	item->net = item->base - item->discount;
	item->tax = money_div_round((int128) item->net * rate, RATE_100);
	item->line_total = item->net + item->tax;
	if (item->line_total > MONEY_MAX || item->line_total < -MONEY_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("item %d: \"line_total\" is out of range", idx),
				 errdetail("Line amounts must fit numeric(18,2).")));
}

/*
 * totals_add
 *		Adds (sign = 1) or subtracts (sign = -1) a computed line, so that a
 *		header moves by exactly what one line changes.
 */
void
totals_add(InvoiceTotals *totals, const InvoiceItem *item, int sign)
{
	if (sign != 1 && sign != -1)
		elog(ERROR, "totals_add: sign must be 1 or -1");

	totals->subtotal = money_add(totals->subtotal, sign * item->base);
	totals->discount_total = money_add(totals->discount_total, sign * item->discount);
	totals->tax_total = money_add(totals->tax_total, sign * item->tax);
	totals->total = money_add(totals->total, sign * item->line_total);
}
