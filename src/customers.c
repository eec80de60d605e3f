/*-------------------------------------------------------------------------
 *
 * customers.c
 *	  Customers of a tenant, and Colombian identity documents.
 *
 * A customer is unique per tenant on (id_type, id_number).  upsert_customer
 * inserts or updates in one statement (ON CONFLICT on the tenant's unique
 * key), so two sessions upserting the same document never create two
 * customers.  A NIT's DIAN check digit (modulo 11) is verified.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "customers.h"
#include "exec.h"
#include "tenant.h"

PG_FUNCTION_INFO_V1(invoice_upsert_customer);

static const char *const id_types[] = {"CC", "CE", "NIT", "PP", "TI", "NUIP", "FOREIGN"};

/*
 * nit_check_digit
 *		The DIAN check digit of the digits of a NIT (without it).
 */
static int
nit_check_digit(const char *digits, int len)
{
	static const int weights[] = {3, 7, 13, 17, 19, 23, 29, 37, 41, 43, 47, 53, 59, 67, 71};
	int			sum = 0;
	int			i;
	int			r;

	for (i = 0; i < len; i++)
		sum += (digits[len - 1 - i] - '0') * weights[i];
	r = sum % 11;
	return r > 1 ? 11 - r : r;
}

/*
 * nit_check
 *		A NIT is written "900123456-8": 5 to 15 digits, a hyphen and the
 *		check digit.
 */
void
nit_check(const char *value, const char *field)
{
	int			len = strlen(value);
	int			ndigits = len - 2;
	int			expected;

	if (len < 7 || len > 17 || value[ndigits] != '-' ||
		strspn(value, "0123456789") != (size_t) ndigits ||
		value[len - 1] < '0' || value[len - 1] > '9')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" must be a NIT written like 900123456-8", field),
				 errhint("Write the digits without dots, a hyphen, then the check digit.")));
	expected = nit_check_digit(value, ndigits);
	if (value[len - 1] - '0' != expected)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" has a wrong NIT check digit", field),
				 errdetail("The DIAN check digit of %.*s is %d, not %c.",
						   ndigits, value, expected, value[len - 1])));
}

static bool
all_chars_in(const char *s, const char *set)
{
	return strspn(s, set) == strlen(s);
}

/*
 * check_id_number
 *		The shape each document type has; upper-cases letters in place.
 */
static void
check_id_number(const char *id_type, char *id_number)
{
	int			len = strlen(id_number);
	char	   *p;

	if (strcmp(id_type, "NIT") == 0)
	{
		nit_check(id_number, "id_number");
		return;
	}
	for (p = id_number; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p -= 'a' - 'A';

	if (strcmp(id_type, "CC") == 0 || strcmp(id_type, "TI") == 0 ||
		strcmp(id_type, "NUIP") == 0)
	{
		if (len < 3 || len > 12 || !all_chars_in(id_number, "0123456789"))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"id_number\" of a %s must be 3 to 12 digits", id_type),
					 errhint("Write the number without dots or spaces.")));
	}
	else if (strcmp(id_type, "CE") == 0 || strcmp(id_type, "PP") == 0)
	{
		if (len < 3 || len > 20 ||
			!all_chars_in(id_number, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"id_number\" of a %s must be 3 to 20 letters or digits", id_type)));
	}
	else
		check_max_length(id_number, "id_number", 40);
}

/* check_email: 22023 unless `email` looks like an e-mail address */
void
check_email(const char *email)
{
	const char *at = strchr(email, '@');

	if (at == NULL || at == email || at[1] == '\0' || strchr(at + 1, '@') ||
		strchr(at + 1, '.') == NULL || strpbrk(email, " \t\r\n<>,;\"") ||
		strlen(email) > 254)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"email\" is not a valid e-mail address")));
}

/* check_phone: 22023 unless `phone` has 7 to 15 digits */
void
check_phone(const char *phone)
{
	int			digits = 0;
	const char *p;

	check_max_length(phone, "phone", 40);
	for (p = phone; *p; p++)
		if (*p >= '0' && *p <= '9')
			digits++;
	if (!all_chars_in(phone, "0123456789+-() ") || digits < 7 || digits > 15)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"phone\" must have 7 to 15 digits"),
				 errhint("Digits, spaces, \"+\", \"-\" and parentheses are allowed, for example \"+57 300 123 4567\".")));
}

/* optional text: blank means absent */
static char *
optional_text(FunctionCallInfo fcinfo, int argno)
{
	char	   *s = arg_trimmed_text(fcinfo, argno);

	return (s != NULL && s[0] == '\0') ? NULL : s;
}

/*
 * invoice_upsert_customer
 *		Inserts the customer, or updates the one with the same document.
 *		Optional fields given as NULL keep their stored value.
 */
Datum
invoice_upsert_customer(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr upsert_plan = NULL;
	static SPIPlanPtr find_plan = NULL;
	int64		org_id = tenant_require();
	char	   *id_type;
	char	   *id_number;
	char	   *name;
	char	   *opt[3];
	Datum		values[7];
	char		nulls[7];
	bool		isnull;
	int64		customer_id;
	int			i;
	bool		known = false;
	ApiCall		call;

	arg_required(fcinfo, 0, "id_type");
	arg_required(fcinfo, 1, "id_number");
	arg_required(fcinfo, 2, "name");
	id_type = arg_trimmed_text(fcinfo, 0);
	id_number = arg_trimmed_text(fcinfo, 1);
	name = arg_trimmed_text(fcinfo, 2);

	for (i = 0; i < lengthof(id_types); i++)
		if (strcmp(id_type, id_types[i]) == 0)
			known = true;
	if (!known)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"id_type\" must be one of CC, CE, NIT, PP, TI, NUIP, FOREIGN"),
				 errdetail("Got \"%s\".", id_type)));
	check_not_blank(id_number, "id_number");
	check_id_number(id_type, id_number);
	check_not_blank(name, "name");
	check_max_length(name, "name", 300);

	for (i = 0; i < 3; i++)
		opt[i] = optional_text(fcinfo, 3 + i);
	if (opt[0])
		check_email(opt[0]);
	if (opt[1])
		check_phone(opt[1]);
	check_max_length(opt[2], "address", 500);

	values[0] = Int64GetDatum(org_id);
	values[1] = CStringGetTextDatum(id_type);
	values[2] = CStringGetTextDatum(id_number);
	values[3] = CStringGetTextDatum(name);
	memset(nulls, ' ', sizeof(nulls));
	for (i = 0; i < 3; i++)
	{
		values[4 + i] = opt[i] ? CStringGetTextDatum(opt[i]) : (Datum) 0;
		nulls[4 + i] = opt[i] ? ' ' : 'n';
	}

	api_begin(&call);
	api_prepare_once(&upsert_plan,
					 "INSERT INTO invoice.customers AS c"
					 " (org_id, id_type, id_number, name, email, phone, address)"
					 " VALUES ($1, $2, $3, $4, $5, $6, $7)"
					 " ON CONFLICT (org_id, id_type, id_number) DO UPDATE"
					 " SET name = excluded.name,"
					 " email = COALESCE(excluded.email, c.email),"
					 " phone = COALESCE(excluded.phone, c.phone),"
					 " address = COALESCE(excluded.address, c.address),"
					 " updated_at = pg_catalog.now()"
					 " WHERE (c.name, c.email, c.phone, c.address) IS DISTINCT FROM"
					 " (excluded.name, COALESCE(excluded.email, c.email),"
					 " COALESCE(excluded.phone, c.phone),"
					 " COALESCE(excluded.address, c.address))"
					 " RETURNING customer_id",
					 7, (Oid[]) {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID});
	api_prepare_once(&find_plan, "SELECT customer_id FROM invoice.customers"
					 " WHERE org_id OPERATOR(pg_catalog.=) $1"
					 " AND id_type OPERATOR(pg_catalog.=) $2"
					 " AND id_number OPERATOR(pg_catalog.=) $3",
					 3, (Oid[]) {INT8OID, TEXTOID, TEXTOID});
	api_execute(upsert_plan, values, nulls, false, SPI_OK_INSERT_RETURNING);
	if (SPI_processed == 0)
	{
		/*
		 * Nothing changed: the customer exists as given.  Read it with a
		 * fresh snapshot: the row may have been committed by the session
		 * the INSERT waited for, or written earlier in this statement.
		 */
		api_execute(find_plan, values, NULL, false, SPI_OK_SELECT);
		if (SPI_processed != 1)
			elog(ERROR, "customer vanished during upsert");
	}
	customer_id = DatumGetInt64(api_getdatum(0, 1, &isnull));
	api_end(&call);

	PG_RETURN_INT64(customer_id);
}
