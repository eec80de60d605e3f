/*-------------------------------------------------------------------------
 *
 * money.h
 *	  Fixed-point decimal arithmetic for amounts, quantities and rates.
 *
 * Amounts are int64 cents (scale 2), quantities int64 thousandths
 * (scale 3), percentages int64 ten-thousandths of a percent (scale 4).
 * Products are formed in 128 bits and rounded half away from zero.  No
 * float or double is ever used.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INVOICE_MONEY_H
#define INVOICE_MONEY_H

#include "postgres.h"
#include "utils/numeric.h"

#define MONEY_SCALE		2		/* amounts: cents */
#define QTY_SCALE		3		/* quantities, grams: thousandths */
#define RATE_SCALE		4		/* percentages: 19 % is 190000 */

/* the largest absolute value of numeric(18,2) in cents, of numeric(18,3) */
#define MONEY_MAX		INT64CONST(999999999999999999)
#define QTY_MAX			INT64CONST(999999999999999999)
/* 100 % at RATE_SCALE */
#define RATE_100		INT64CONST(1000000)

typedef enum MoneyParseResult
{
	MONEY_OK,
	MONEY_NOT_FINITE,			/* NaN or infinity */
	MONEY_TOO_MANY_DECIMALS,	/* more decimals than the scale, by value */
	MONEY_OUT_OF_RANGE			/* |value| > limit */
} MoneyParseResult;

/*
 * money_from_numeric: convert a Numeric into an integer scaled by 10^scale.
 * Decimals are counted by value (1.2500 has two).  Nothing is rounded.
 */
extern MoneyParseResult money_from_numeric(Numeric num, int scale, int64 limit,
										   int64 *result);

/*
 * rate_from_numeric: the one rule for percentages (tax_rate, discount_pct,
 * default_tax_rate): 0 to 100 with at most 4 decimals, at RATE_SCALE.  A
 * negative value is MONEY_OUT_OF_RANGE.
 */
extern MoneyParseResult rate_from_numeric(Numeric num, int64 *result);

/* money_to_numeric: the Numeric with exactly `scale` decimals for value */
extern Numeric money_to_numeric(int64 value, int scale);

/* money_to_cstring: "-1234.50" style text with exactly `scale` decimals */
extern char *money_to_cstring(int64 value, int scale);

/* money_add: a + b of two amounts; 22003 beyond numeric(18,2) */
extern int64 money_add(int64 a, int64 b);

/* money_div_round: num / den rounded half away from zero (den > 0) */
extern int64 money_div_round(int128 num, int64 den);

#endif							/* INVOICE_MONEY_H */
