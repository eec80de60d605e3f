/*-------------------------------------------------------------------------
 *
 * money.c
 *	  Fixed-point decimal arithmetic for amounts, quantities and rates.
 *
 * A value is an int64 scaled by 10^scale (cents, thousandths, ten-
 * thousandths of a percent).  Numerics are converted through their exact
 * decimal text, parsed here digit by digit: nothing is rounded, nothing
 * goes through float or double, and no SQL numeric arithmetic is used.
 * Products are formed by the callers in int128 and brought back with
 * money_div_round, which rounds half away from zero.
 *
 * This module only converts and rounds; what a field may hold (signs,
 * limits, messages) is decided by its callers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "money.h"

/* the largest scale an int64 can carry at all (10^18 fits) */
#define MONEY_MAX_SCALE		18

/* decimal text of an int64 magnitude, sign, point and terminator */
#define MONEY_TEXT_LEN		(MONEY_MAX_SCALE + 24)

/*
 * pow10_int64
 *		10^n for 0 <= n <= MONEY_MAX_SCALE.
 */
static int64
pow10_int64(int n)
{
	int64		p = 1;

	while (n-- > 0)
		p *= 10;
	return p;
}

/*
 * check_scale
 *		A scale outside 0..18 is a programming error, not a user error.
 */
static void
check_scale(int scale)
{
	if (scale < 0 || scale > MONEY_MAX_SCALE)
		elog(ERROR, "invalid fixed-point scale %d", scale);
}

/*
 * money_from_numeric
 *		Converts `num` into an integer scaled by 10^scale, exactly.
 *
 * The Numeric's text (numeric_out never uses an exponent) is parsed as
 * [-]digits[.digits].  Trailing zeros of the fraction do not count, so
 * 1.2500 has two decimals.  The integer part is checked against `limit`
 * first, so a value that is both too large and too precise reports
 * MONEY_OUT_OF_RANGE.  *result is set only when MONEY_OK is returned.
 */
MoneyParseResult
money_from_numeric(Numeric num, int scale, int64 limit, int64 *result)
{
	char	   *text;
	const char *p;
	const char *frac;
	int			nfrac;
	bool		negative = false;
	int128		acc = 0;
	int128		unit;
	int			i;

	check_scale(scale);
	if (numeric_is_nan(num) || numeric_is_inf(num))
		return MONEY_NOT_FINITE;

	text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
	p = text;
	if (*p == '-')
	{
		negative = true;
		p++;
	}

	/* the integer part: acc stays <= limit, so it never overflows */
	unit = pow10_int64(scale);
	for (; *p >= '0' && *p <= '9'; p++)
	{
		acc = acc * 10 + (*p - '0');
		if (acc * unit > limit)
		{
			pfree(text);
			return MONEY_OUT_OF_RANGE;
		}
	}
	acc *= unit;

	/* the fraction, without its trailing zeros */
	nfrac = 0;
	frac = p;
	if (*p == '.')
	{
		frac = ++p;
		while (p[nfrac] >= '0' && p[nfrac] <= '9')
			nfrac++;
		p += nfrac;
		while (nfrac > 0 && frac[nfrac - 1] == '0')
			nfrac--;
	}
	if (*p != '\0')
		elog(ERROR, "unexpected numeric text \"%s\"", text);
	if (nfrac > scale)
	{
		pfree(text);
		return MONEY_TOO_MANY_DECIMALS;
	}
	for (i = 0; i < nfrac; i++)
	{
		unit /= 10;
		acc += (frac[i] - '0') * unit;
	}
	pfree(text);
	if (acc > limit)
		return MONEY_OUT_OF_RANGE;

	*result = negative ? -(int64) acc : (int64) acc;
	return MONEY_OK;
}

/*
 * money_to_cstring
 *		"-1234.50" style text with exactly `scale` decimals, palloc'd.
 *
 * Works on the unsigned magnitude, so INT64_MIN is written correctly.
 */
char *
money_to_cstring(int64 value, int scale)
{
	char		buf[MONEY_TEXT_LEN];
	char	   *p = buf + sizeof(buf);
	uint64		mag;
	int			ndigits = 0;

	check_scale(scale);
	mag = value < 0 ? -(uint64) value : (uint64) value;

	*--p = '\0';
	/* at least one digit before the point */
	while (mag != 0 || ndigits <= scale)
	{
		if (scale > 0 && ndigits == scale)
			*--p = '.';
		*--p = (char) ('0' + mag % 10);
		mag /= 10;
		ndigits++;
	}
	if (value < 0)
		*--p = '-';
	return pstrdup(p);
}

/*
 * rate_from_numeric
 *		Every rate the API takes or reads back is checked here: 0 to 100
 *		with at most 4 decimals.  The columns say the same (numeric(7,4)
 *		and the CHECKs organizations_tax_rate_check and
 *		invoice_items_rates_check).  The decimals are checked before the
 *		sign, as money_from_numeric does.
 */
MoneyParseResult
rate_from_numeric(Numeric num, int64 *result)
{
	int64		rate;
	MoneyParseResult r = money_from_numeric(num, RATE_SCALE, RATE_100, &rate);

	if (r == MONEY_OK && rate < 0)
		r = MONEY_OUT_OF_RANGE;
	if (r == MONEY_OK)
		*result = rate;
	return r;
}

/*
 * money_to_numeric
 *		The Numeric for `value` with exactly `scale` decimals (12.50, not
 *		12.5).
 */
Numeric
money_to_numeric(int64 value, int scale)
{
	/* an exact integer division by a power of ten, dscale = scale */
	return int64_div_fast_to_numeric(value, scale);
}

/*
 * money_div_round
 *		num / den rounded half away from zero, for both signs (den > 0).
 *
 * Callers keep the quotient within int64 (they compare it with their own
 * limit first); a quotient that does not fit is refused here rather than
 * silently truncated.
 */
int64
money_div_round(int128 num, int64 den)
{
	int128		q;
	int128		r;

	if (den <= 0)
		elog(ERROR, "money_div_round: divisor must be positive");

	q = num / den;
	r = num % den;				/* same sign as num */
	if (r < 0)
		r = -r;
	if (r * 2 >= den)
		q += (num < 0) ? -1 : 1;

	if (q > PG_INT64_MAX || q < PG_INT64_MIN)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("amount is out of range")));
	return (int64) q;
}

/*
 * money_add
 *		a + b for amounts within numeric(18,2) (so the int64 sum itself
 *		cannot overflow); a result beyond numeric(18,2) is 22003.
 */
int64
money_add(int64 a, int64 b)
{
	int64		r = a + b;

	if (r > MONEY_MAX || r < -MONEY_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("invoice total is out of range"),
				 errdetail("Invoice totals must fit numeric(18,2).")));
	return r;
}
