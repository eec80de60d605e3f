/*-------------------------------------------------------------------------
 *
 * orgs.c
 *	  Tenants, their settings, the roles granted them and their users.
 *
 * create_organization, grant_tenant and revoke_tenant belong to platform
 * admins (members of invoice_admin); update_organization and add_user
 * also to the admin user of the tenant itself.  Authorization is checked
 * before the statements switch to the owner (see exec.c).  Every change
 * here reaches the other backends' tenant caches through the statement
 * triggers of these tables.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "pgtime.h"

#include "customers.h"
#include "exec.h"
#include "invoice_doc.h"
#include "money.h"
#include "numbering.h"
#include "tenant.h"

/* free text of a tenant, in bytes */
#define ORG_NAME_MAX	300
#define RESOLUTION_MAX	1000

PG_FUNCTION_INFO_V1(invoice_create_organization);
PG_FUNCTION_INFO_V1(invoice_update_organization);
PG_FUNCTION_INFO_V1(invoice_grant_tenant);
PG_FUNCTION_INFO_V1(invoice_revoke_tenant);
PG_FUNCTION_INFO_V1(invoice_add_user);

/* the settings of a tenant, as create/update_organization handle them */
typedef struct OrgSettings
{
	char	   *currency;
	int64		default_tax_rate;	/* RATE_SCALE */
	char	   *prefix;
	int64		number_from;
	int64		number_to;		/* 0: unbounded */
	char	   *resolution;		/* NULL: none */
	bool		has_valid_from;
	DateADT		valid_from;
	bool		has_valid_to;
	DateADT		valid_to;
	char	   *timezone;
	char	   *rounding;
	bool		is_active;
	/* the shop's identity on its documents; NULL: not set */
	char	   *address;
	char	   *city;
	char	   *department;
	char	   *phone;
	char	   *email;
	char	   *tax_regime;
	int32		payment_terms_days; /* -1: none */
	int32		audit_retention_days;	/* -1: none, the log is kept */
	bool		number_from_set;	/* the patch named number_from */
} OrgSettings;

static const char *const settings_keys[] = {
	"currency", "default_tax_rate", "prefix", "number_from", "number_to",
	"resolution", "valid_from", "valid_to", "timezone", "rounding", "active",
	"address", "city", "department", "phone", "email", "tax_regime",
	"payment_terms_days", "audit_retention_days"
};

/* the longest audit retention a tenant may give: a hundred years */
#define AUDIT_RETENTION_MAX 36500

/* the longest payment term a tenant may give: ten years */
#define PAYMENT_TERMS_MAX 3650

/* the IVA regimes of the "tax_regime" setting (and of its CHECK) */
static const char *const tax_regimes[] = {
	"responsable_iva", "no_responsable_iva"
};

static bool
json_key_known(const char *key, const char *const *keys, int nkeys)
{
	int			i;

	for (i = 0; i < nkeys; i++)
		if (strcmp(key, keys[i]) == 0)
			return true;
	return false;
}

static void
settings_defaults(OrgSettings *s)
{
	memset(s, 0, sizeof(*s));
	s->currency = "COP";
	s->default_tax_rate = 19 * INT64CONST(10000);
	s->prefix = "";
	s->number_from = 1;
	s->timezone = "America/Bogota";
	s->rounding = "line";
	s->is_active = true;
	s->payment_terms_days = -1;
	s->audit_retention_days = -1;
}

static void
bad_setting(const char *key, const char *must)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("settings: \"%s\" must be %s", key, must)));
}

/*
 * parse_date_setting
 *		A date written YYYY-MM-DD, checked to exist.
 */
static DateADT
parse_date_setting(const char *key, const char *str)
{
	int			y,
				m,
				d,
				y2,
				m2,
				d2;
	char		extra;
	int			jd;

	if (sscanf(str, "%4d-%2d-%2d%c", &y, &m, &d, &extra) != 3 ||
		strlen(str) != 10 || y < 1900 || m < 1 || m > 12 || d < 1 || d > 31)
		bad_setting(key, "a date written YYYY-MM-DD");
	jd = date2j(y, m, d);
	j2date(jd, &y2, &m2, &d2);
	if (y2 != y || m2 != m || d2 != d)
		bad_setting(key, "a date written YYYY-MM-DD");
	return jd - POSTGRES_EPOCH_JDATE;
}

static int64
integer_setting(const char *key, JsonbValue *v, int64 min)
{
	int64		result;

	if (v->type != jbvNumeric ||
		money_from_numeric(v->val.numeric, 0, PG_INT64_MAX / 10, &result) != MONEY_OK ||
		result < min)
		bad_setting(key, min > 0 ? "a positive whole number" : "a whole number");
	return result;
}

static char *
string_setting(const char *key, JsonbValue *v)
{
	if (v->type != jbvString)
		bad_setting(key, "a string");
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * identity_setting
 *		A text of the shop's identity: trimmed, at most `max` bytes; null
 *		or blank unsets it.
 */
static char *
identity_setting(const char *key, JsonbValue *v, int max)
{
	char	   *s;
	char	   *end;

	if (v->type == jbvNull)
		return NULL;
	s = string_setting(key, v);
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	if (s[0] == '\0')
		return NULL;
	if (strlen(s) > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("settings: \"%s\" must not be longer than %d bytes", key, max)));
	return s;
}

/*
 * known_zone
 *		A time zone of PostgreSQL's time zone database, by its name (any
 *		case), returned as the database spells it.  pg_tzset() alone also
 *		takes POSIX rules such as "XXX-24:59:59", which are no place's time.
 */
static char *
known_zone(const char *tz)
{
	pg_tz	   *zone = (tz[0] == '\0' || strlen(tz) >= TZ_STRLEN_MAX) ? NULL : pg_tzset(tz);
	const char *canon = zone ? pg_get_timezone_name(zone) : NULL;
	char	   *result = NULL;

	if (canon != NULL)
	{
		pg_tzenum  *dir = pg_tzenumerate_start();
		pg_tz	   *known;

		while (result == NULL && (known = pg_tzenumerate_next(dir)) != NULL)
			if (strcmp(pg_get_timezone_name(known), canon) == 0)
				result = pstrdup(canon);
		pg_tzenumerate_end(dir);
	}
	if (result == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("settings: \"timezone\" must be a time zone name such as \"America/Bogota\""),
				 errhint("The names PostgreSQL knows are listed in pg_timezone_names.")));
	return result;
}

/*
 * settings_apply
 *		Validates a settings object and writes the keys it has into *s.
 *		"active" is only accepted by update_organization.
 */
static void
settings_apply(Jsonb *settings, OrgSettings *s, bool for_update)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	if (!JB_ROOT_IS_OBJECT(settings) || JB_ROOT_IS_SCALAR(settings))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"settings\" must be a JSON object")));

	it = JsonbIteratorInit(&settings->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			if (!json_key_known(key, settings_keys, lengthof(settings_keys)) ||
				(!for_update && strcmp(key, "active") == 0))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("settings: unknown key \"%s\"", key),
						 errhint("Known keys: currency, default_tax_rate, prefix, number_from, number_to, resolution, valid_from, valid_to, timezone, rounding, address, city, department, phone, email, tax_regime, payment_terms_days, audit_retention_days%s.",
								 for_update ? ", active" : "")));
			continue;
		}
		if (tok != WJB_VALUE)
			continue;

		if (strcmp(key, "currency") == 0)
		{
			char	   *c = string_setting(key, &v);

			if (strlen(c) != 3 || strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3)
				bad_setting(key, "an ISO 4217 code such as \"COP\"");
			s->currency = c;
		}
		else if (strcmp(key, "default_tax_rate") == 0)
		{
			if (v.type != jbvNumeric ||
				rate_from_numeric(v.val.numeric, &s->default_tax_rate) != MONEY_OK)
				bad_setting(key, "a number between 0 and 100 with at most 4 decimals");
		}
		else if (strcmp(key, "prefix") == 0)
		{
			char	   *p = string_setting(key, &v);

			if (strlen(p) > 10 ||
				strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") != strlen(p))
				bad_setting(key, "at most 10 letters, digits or hyphens");
			s->prefix = p;
		}
		else if (strcmp(key, "number_from") == 0)
		{
			s->number_from = integer_setting(key, &v, 1);
			s->number_from_set = true;
		}
		else if (strcmp(key, "number_to") == 0)
			s->number_to = (v.type == jbvNull) ? 0 : integer_setting(key, &v, 1);
		else if (strcmp(key, "resolution") == 0)
		{
			s->resolution = (v.type == jbvNull) ? NULL : string_setting(key, &v);
			check_max_length(s->resolution, "resolution", RESOLUTION_MAX);
		}
		else if (strcmp(key, "valid_from") == 0)
		{
			s->has_valid_from = (v.type != jbvNull);
			if (s->has_valid_from)
				s->valid_from = parse_date_setting(key, string_setting(key, &v));
		}
		else if (strcmp(key, "valid_to") == 0)
		{
			s->has_valid_to = (v.type != jbvNull);
			if (s->has_valid_to)
				s->valid_to = parse_date_setting(key, string_setting(key, &v));
		}
		else if (strcmp(key, "timezone") == 0)
		{
			char	   *tz = string_setting(key, &v);

			s->timezone = known_zone(tz);
		}
		else if (strcmp(key, "rounding") == 0)
		{
			s->rounding = string_setting(key, &v);
			if (strcmp(s->rounding, "line") != 0)
				bad_setting(key, "\"line\" (round each line, then add)");
		}
		else if (strcmp(key, "active") == 0)
		{
			if (v.type != jbvBool)
				bad_setting(key, "true or false");
			s->is_active = v.val.boolean;
		}
		else if (strcmp(key, "address") == 0)
			s->address = identity_setting(key, &v, 200);
		else if (strcmp(key, "city") == 0)
			s->city = identity_setting(key, &v, 100);
		else if (strcmp(key, "department") == 0)
			s->department = identity_setting(key, &v, 100);
		else if (strcmp(key, "phone") == 0)
		{
			s->phone = identity_setting(key, &v, 40);
			if (s->phone != NULL)
				check_phone(s->phone);
		}
		else if (strcmp(key, "email") == 0)
		{
			s->email = identity_setting(key, &v, 254);
			if (s->email != NULL)
				check_email(s->email);
		}
		else if (strcmp(key, "tax_regime") == 0)
		{
			s->tax_regime = NULL;
			if (v.type != jbvNull)
			{
				char	   *r = string_setting(key, &v);
				int			i;

				for (i = 0; i < lengthof(tax_regimes); i++)
					if (strcmp(r, tax_regimes[i]) == 0)
						s->tax_regime = r;
				if (s->tax_regime == NULL)
					bad_setting(key, "\"responsable_iva\" or \"no_responsable_iva\"");
			}
		}
		else if (strcmp(key, "payment_terms_days") == 0)
		{
			s->payment_terms_days = -1;
			if (v.type != jbvNull)
			{
				int64		terms = integer_setting(key, &v, 0);

				if (terms > PAYMENT_TERMS_MAX)
					bad_setting(key, "a whole number of days from 0 to 3650, or null");
				s->payment_terms_days = (int32) terms;
			}
		}
		else if (strcmp(key, "audit_retention_days") == 0)
		{
			s->audit_retention_days = -1;
			if (v.type != jbvNull)
			{
				int64		retention = integer_setting(key, &v, 1);

				if (retention > AUDIT_RETENTION_MAX)
					bad_setting(key, "a whole number of days from 1 to 36500, or null");
				s->audit_retention_days = (int32) retention;
			}
		}
	}

	if (s->number_to != 0 && s->number_to < s->number_from)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("settings: \"number_to\" must not be less than \"number_from\"")));
	if (s->has_valid_from && s->has_valid_to && s->valid_to < s->valid_from)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("settings: \"valid_to\" must not be before \"valid_from\"")));
}

/* the values of the settings columns, in the order of the statements below */
#define SETTINGS_NARGS 19
static const Oid settings_types[SETTINGS_NARGS] = {
	TEXTOID, NUMERICOID, TEXTOID, INT8OID, INT8OID, TEXTOID, DATEOID,
	DATEOID, TEXTOID, TEXTOID, BOOLOID,
	TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, INT4OID
};

/*
 * The shop's identity columns came with 0.2.  A new library also serves a
 * database whose extension is still at 0.1 until ALTER EXTENSION invoice
 * UPDATE: the identity is read from the row as jsonb (null where there is
 * no column), written only where the columns exist, and refused before.
 */
#define IDENTITY_READ_SQL \
	"pg_catalog.to_jsonb(o) OPERATOR(pg_catalog.->>) 'address'," \
	" pg_catalog.to_jsonb(o) OPERATOR(pg_catalog.->>) 'city'," \
	" pg_catalog.to_jsonb(o) OPERATOR(pg_catalog.->>) 'department'," \
	" pg_catalog.to_jsonb(o) OPERATOR(pg_catalog.->>) 'phone'," \
	" pg_catalog.to_jsonb(o) OPERATOR(pg_catalog.->>) 'email'," \
	" pg_catalog.to_jsonb(o) OPERATOR(pg_catalog.->>) 'tax_regime'," \
	" (pg_catalog.to_jsonb(o) OPERATOR(pg_catalog.->>) 'payment_terms_days')::pg_catalog.int4," \
	" (pg_catalog.to_jsonb(o) OPERATOR(pg_catalog.->>) 'audit_retention_days')::pg_catalog.int4"

/*
 * identity_columns_exist
 *		Whether the database has the identity columns; 0A000 when it has
 *		not and the settings set one.
 */
static bool
identity_columns_exist(const OrgSettings *s)
{
	const char *key = s->address ? "address" : s->city ? "city" :
		s->department ? "department" : s->phone ? "phone" :
		s->email ? "email" : s->tax_regime ? "tax_regime" :
		s->payment_terms_days >= 0 ? "payment_terms_days" :
		s->audit_retention_days >= 0 ? "audit_retention_days" : NULL;

	if (doc_schema_has("organizations", "tax_regime"))
		return true;
	if (key != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("settings: \"%s\" needs version 0.2 of extension \"invoice\"", key),
				 errhint("Run ALTER EXTENSION invoice UPDATE.")));
	return false;
}

/* optional_datum: a text parameter, NULL when s is */
static Datum
optional_datum(const char *s, char *null)
{
	*null = s ? ' ' : 'n';
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

static void
settings_datums(OrgSettings *s, Datum *values, char *nulls)
{
	memset(nulls, ' ', SETTINGS_NARGS);
	values[0] = CStringGetTextDatum(s->currency);
	values[1] = NumericGetDatum(money_to_numeric(s->default_tax_rate, RATE_SCALE));
	values[2] = CStringGetTextDatum(s->prefix);
	values[3] = Int64GetDatum(s->number_from);
	values[4] = Int64GetDatum(s->number_to);
	nulls[4] = s->number_to == 0 ? 'n' : ' ';
	values[5] = s->resolution ? CStringGetTextDatum(s->resolution) : (Datum) 0;
	nulls[5] = s->resolution ? ' ' : 'n';
	values[6] = DateADTGetDatum(s->valid_from);
	nulls[6] = s->has_valid_from ? ' ' : 'n';
	values[7] = DateADTGetDatum(s->valid_to);
	nulls[7] = s->has_valid_to ? ' ' : 'n';
	values[8] = CStringGetTextDatum(s->timezone);
	values[9] = CStringGetTextDatum(s->rounding);
	values[10] = BoolGetDatum(s->is_active);
	values[11] = optional_datum(s->address, &nulls[11]);
	values[12] = optional_datum(s->city, &nulls[12]);
	values[13] = optional_datum(s->department, &nulls[13]);
	values[14] = optional_datum(s->phone, &nulls[14]);
	values[15] = optional_datum(s->email, &nulls[15]);
	values[16] = optional_datum(s->tax_regime, &nulls[16]);
	values[17] = Int32GetDatum(s->payment_terms_days);
	nulls[17] = s->payment_terms_days >= 0 ? ' ' : 'n';
	values[18] = Int32GetDatum(s->audit_retention_days);
	nulls[18] = s->audit_retention_days >= 0 ? ' ' : 'n';
}

/*
 * settings_from_row
 *		The settings of the first row of SPI_tuptable, in settings_types order.
 */
static void
settings_from_row(OrgSettings *s)
{
	bool		isnull;
	Datum		d;

	settings_defaults(s);
	s->currency = TextDatumGetCString(api_getdatum(0, 1, &isnull));
	if (rate_from_numeric(DatumGetNumeric(api_getdatum(0, 2, &isnull)),
						  &s->default_tax_rate) != MONEY_OK)
		elog(ERROR, "invalid stored default_tax_rate");
	s->prefix = TextDatumGetCString(api_getdatum(0, 3, &isnull));
	s->number_from = DatumGetInt64(api_getdatum(0, 4, &isnull));
	d = api_getdatum(0, 5, &isnull);
	s->number_to = isnull ? 0 : DatumGetInt64(d);
	d = api_getdatum(0, 6, &isnull);
	s->resolution = isnull ? NULL : TextDatumGetCString(d);
	s->valid_from = DatumGetDateADT(api_getdatum(0, 7, &isnull));
	s->has_valid_from = !isnull;
	s->valid_to = DatumGetDateADT(api_getdatum(0, 8, &isnull));
	s->has_valid_to = !isnull;
	s->timezone = TextDatumGetCString(api_getdatum(0, 9, &isnull));
	s->rounding = TextDatumGetCString(api_getdatum(0, 10, &isnull));
	s->is_active = DatumGetBool(api_getdatum(0, 11, &isnull));
	s->address = api_gettext(0, 12);
	s->city = api_gettext(0, 13);
	s->department = api_gettext(0, 14);
	s->phone = api_gettext(0, 15);
	s->email = api_gettext(0, 16);
	s->tax_regime = api_gettext(0, 17);
	d = api_getdatum(0, 18, &isnull);
	s->payment_terms_days = isnull ? -1 : DatumGetInt32(d);
	d = api_getdatum(0, 19, &isnull);
	s->audit_retention_days = isnull ? -1 : DatumGetInt32(d);
}


/*
 * invoice_create_organization
 *		A new tenant with its settings and its numbering counter.
 */
Datum
invoice_create_organization(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr slug_plan = NULL;
	static SPIPlanPtr insert_plan = NULL;
	static SPIPlanPtr insert_plan_0_1 = NULL;
	static SPIPlanPtr counter_plan = NULL;
	SPIPlanPtr	insert;
	char	   *slug;
	char	   *name;
	char	   *tax_id;
	OrgSettings s;
	Datum		values[SETTINGS_NARGS + 3];
	char		nulls[SETTINGS_NARGS + 3];
	Oid			types[SETTINGS_NARGS + 3];
	bool		isnull;
	int64		org_id;
	ApiCall		call;

	require_platform_admin("create organizations");
	arg_required(fcinfo, 0, "slug");
	arg_required(fcinfo, 1, "name");
	slug = arg_trimmed_text(fcinfo, 0);
	name = arg_trimmed_text(fcinfo, 1);
	tax_id = arg_trimmed_text(fcinfo, 2);

	if (strlen(slug) < 2 || strlen(slug) > 63 ||
		strspn(slug, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(slug) ||
		slug[0] == '-')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"slug\" must be 2 to 63 lower-case letters, digits or hyphens"),
				 errhint("For example \"joyeria-demo\".")));
	check_not_blank(name, "name");
	check_max_length(name, "name", ORG_NAME_MAX);
	if (tax_id != NULL && tax_id[0] == '\0')
		tax_id = NULL;
	if (tax_id != NULL)
		nit_check(tax_id, "tax_id");

	settings_defaults(&s);
	if (!PG_ARGISNULL(3))
		settings_apply(PG_GETARG_JSONB_P(3), &s, false);

	settings_datums(&s, values, nulls);
	memcpy(types, settings_types, sizeof(settings_types));
	values[SETTINGS_NARGS] = CStringGetTextDatum(slug);
	values[SETTINGS_NARGS + 1] = CStringGetTextDatum(name);
	values[SETTINGS_NARGS + 2] = tax_id ? CStringGetTextDatum(tax_id) : (Datum) 0;
	nulls[SETTINGS_NARGS] = ' ';
	nulls[SETTINGS_NARGS + 1] = ' ';
	nulls[SETTINGS_NARGS + 2] = tax_id ? ' ' : 'n';
	types[SETTINGS_NARGS] = TEXTOID;
	types[SETTINGS_NARGS + 1] = TEXTOID;
	types[SETTINGS_NARGS + 2] = TEXTOID;

	api_begin(&call);
	api_prepare_once(&slug_plan, "SELECT 1 FROM invoice.organizations WHERE slug OPERATOR(pg_catalog.=) $1",
					 1, (Oid[]) {TEXTOID});
	api_prepare_once(&counter_plan, "INSERT INTO invoice.invoice_counters (org_id) VALUES ($1)",
					 1, (Oid[]) {INT8OID});
	if (identity_columns_exist(&s))
		insert = api_prepare_once(&insert_plan,
								  "INSERT INTO invoice.organizations (currency, default_tax_rate, prefix,"
								  " number_from, number_to, resolution, valid_from, valid_to, timezone,"
								  " rounding, is_active, address, city, department, phone, email,"
								  " tax_regime, payment_terms_days, audit_retention_days, slug, name, tax_id)"
								  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,"
								  " $15, $16, $17, $18, $19, $20, $21, $22)"
								  " RETURNING org_id",
								  SETTINGS_NARGS + 3, types);
	else
		insert = api_prepare_once(&insert_plan_0_1,
								  "INSERT INTO invoice.organizations (currency, default_tax_rate, prefix,"
								  " number_from, number_to, resolution, valid_from, valid_to, timezone,"
								  " rounding, is_active, slug, name, tax_id)"
								  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $20, $21, $22)"
								  " RETURNING org_id",
								  SETTINGS_NARGS + 3, types);
	api_execute(slug_plan, &values[SETTINGS_NARGS], NULL, true, SPI_OK_SELECT);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("an organization with slug \"%s\" already exists", slug)));
	api_execute(insert, values, nulls, false, SPI_OK_INSERT_RETURNING);
	org_id = DatumGetInt64(api_getdatum(0, 1, &isnull));
	api_execute(counter_plan, (Datum[]) {Int64GetDatum(org_id)}, NULL, false, SPI_OK_INSERT);
	api_end(&call);

	PG_RETURN_INT64(org_id);
}

/*
 * invoice_update_organization
 *		Changes the settings named in the patch.  A new numbering range may
 *		start anywhere above the last number issued: numbers are never
 *		reused.
 */
Datum
invoice_update_organization(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr read_plan = NULL;
	static SPIPlanPtr update_plan = NULL;
	static SPIPlanPtr update_plan_0_1 = NULL;
	SPIPlanPtr	update;
	int64		org_id;
	Jsonb	   *patch;
	OrgSettings s;
	int64		old_from;
	bool		old_active;
	bool		platform_admin = tenant_caller_is_platform_admin();
	Datum		values[SETTINGS_NARGS + 1];
	char		nulls[SETTINGS_NARGS + 1];
	Oid			types[SETTINGS_NARGS + 1];
	ApiCall		call;

	arg_required(fcinfo, 0, "org_id");
	arg_required(fcinfo, 1, "settings");
	org_id = PG_GETARG_INT64(0);
	patch = PG_GETARG_JSONB_P(1);

	if (!platform_admin &&
		!(tenant_current_org() == org_id && tenant_user_is_admin()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to update tenant " INT64_FORMAT, org_id),
				 errhint("Only an invoice_admin, or an admin user of the tenant acting in it, may change its settings.")));

	memcpy(types, settings_types, sizeof(settings_types));
	types[SETTINGS_NARGS] = INT8OID;

	api_begin(&call);
	api_prepare_once(&read_plan, "SELECT currency, default_tax_rate, prefix, number_from, number_to,"
					 " resolution, valid_from, valid_to, timezone, rounding, is_active,"
					 " " IDENTITY_READ_SQL
					 " FROM invoice.organizations o"
					 " WHERE org_id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
					 1, (Oid[]) {INT8OID});

	/*
	 * Lock the row (FOR NO KEY UPDATE: the foreign key checks of invoices
	 * being written meanwhile take FOR KEY SHARE and must not wait), then
	 * read the settings as they are now.
	 */
	api_execute(read_plan, (Datum[]) {Int64GetDatum(org_id)}, NULL, false, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("tenant " INT64_FORMAT " does not exist", org_id)));
	settings_from_row(&s);
	old_from = s.number_from;
	old_active = s.is_active;

	settings_apply(patch, &s, true);
	if (s.is_active != old_active && !platform_admin)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to change \"active\" of tenant " INT64_FORMAT, org_id),
				 errhint("Only members of invoice_admin may activate or deactivate tenants.")));

	if (s.number_from_set && s.number_from != old_from)
	{
		int64		last;

		/*
		 * Take the numbering lock first: an issue() under way either
		 * committed before it was granted (and numbering_last() sees its
		 * number) or waits for this transaction.
		 */
		numbering_lock(org_id);
		if (numbering_last(org_id, &last) && s.number_from <= last)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("settings: \"number_from\" must be greater than the last number issued (" INT64_FORMAT ")", last),
					 errdetail("Invoice numbers are never reused.")));
	}

	if (identity_columns_exist(&s))
		update = api_prepare_once(&update_plan,
								  "UPDATE invoice.organizations SET currency = $1, default_tax_rate = $2,"
								  " prefix = $3, number_from = $4, number_to = $5, resolution = $6,"
								  " valid_from = $7, valid_to = $8, timezone = $9, rounding = $10,"
								  " is_active = $11, address = $12, city = $13, department = $14,"
								  " phone = $15, email = $16, tax_regime = $17,"
								  " payment_terms_days = $18, audit_retention_days = $19"
								  " WHERE org_id OPERATOR(pg_catalog.=) $20",
								  SETTINGS_NARGS + 1, types);
	else
		update = api_prepare_once(&update_plan_0_1,
								  "UPDATE invoice.organizations SET currency = $1, default_tax_rate = $2,"
								  " prefix = $3, number_from = $4, number_to = $5, resolution = $6,"
								  " valid_from = $7, valid_to = $8, timezone = $9, rounding = $10,"
								  " is_active = $11"
								  " WHERE org_id OPERATOR(pg_catalog.=) $20",
								  SETTINGS_NARGS + 1, types);
	settings_datums(&s, values, nulls);
	values[SETTINGS_NARGS] = Int64GetDatum(org_id);
	nulls[SETTINGS_NARGS] = ' ';
	api_execute(update, values, nulls, false, SPI_OK_UPDATE);
	api_end(&call);

	PG_RETURN_VOID();
}

/*
 * lookup_role
 *		The role named by a grant_tenant/revoke_tenant argument.
 */
static Oid
lookup_role(FunctionCallInfo fcinfo)
{
	char	   *role_name;
	Oid			roleid;

	arg_required(fcinfo, 0, "role_name");
	arg_required(fcinfo, 1, "org_id");
	role_name = NameStr(*PG_GETARG_NAME(0));
	roleid = get_role_oid(role_name, true);
	if (!OidIsValid(roleid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" does not exist", role_name)));
	return roleid;
}

/*
 * invoice_grant_tenant
 *		Lets a role, and every role that has its privileges, enter a tenant.
 */
Datum
invoice_grant_tenant(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			roleid;
	int64		org_id;
	TenantSettings st;
	ApiCall		call;

	require_platform_admin("grant tenants");
	roleid = lookup_role(fcinfo);
	org_id = PG_GETARG_INT64(1);
	if (!tenant_settings(org_id, &st))
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("tenant " INT64_FORMAT " does not exist", org_id)));

	api_begin(&call);
	api_prepare_once(&plan, "INSERT INTO invoice.tenant_grants (org_id, role_oid, role_name)"
					 " VALUES ($1, $2, $3)"
					 " ON CONFLICT (org_id, role_oid) DO UPDATE SET role_name = excluded.role_name",
					 3, (Oid[]) {INT8OID, OIDOID, NAMEOID});
	api_execute(plan, (Datum[]) {Int64GetDatum(org_id), ObjectIdGetDatum(roleid),
				NameGetDatum(PG_GETARG_NAME(0))}, NULL, false, SPI_OK_INSERT);
	api_end(&call);
	PG_RETURN_VOID();
}

/*
 * invoice_revoke_tenant
 *		Takes a grant back; transactions that already entered the tenant
 *		keep their context until they end.
 */
Datum
invoice_revoke_tenant(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			roleid;
	int64		org_id;
	ApiCall		call;

	require_platform_admin("revoke tenants");
	roleid = lookup_role(fcinfo);
	org_id = PG_GETARG_INT64(1);

	api_begin(&call);
	api_prepare_once(&plan, "DELETE FROM invoice.tenant_grants"
					 " WHERE org_id OPERATOR(pg_catalog.=) $1"
					 " AND role_oid OPERATOR(pg_catalog.=) $2",
					 2, (Oid[]) {INT8OID, OIDOID});
	api_execute(plan, (Datum[]) {Int64GetDatum(org_id), ObjectIdGetDatum(roleid)},
				NULL, false, SPI_OK_DELETE);
	if (SPI_processed == 0)
		ereport(NOTICE,
				(errmsg("role \"%s\" had no grant on tenant " INT64_FORMAT,
						NameStr(*PG_GETARG_NAME(0)), org_id)));
	api_end(&call);
	PG_RETURN_VOID();
}

/*
 * invoice_add_user
 *		An application user (shop staff) of the current tenant.
 */
Datum
invoice_add_user(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr tg_plan = NULL;
	static SPIPlanPtr insert_plan = NULL;
	int64		org_id = tenant_require();
	char	   *display_name;
	char	   *role;
	int64		telegram_user_id = 0;
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	bool		isnull;
	int64		user_id;
	ApiCall		call;

	if (!tenant_caller_is_platform_admin() && !tenant_user_is_admin())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to add users to tenant " INT64_FORMAT, org_id),
				 errhint("Only an admin user of the tenant or an invoice_admin may add users.")));

	arg_required(fcinfo, 0, "display_name");
	arg_required(fcinfo, 1, "role");
	display_name = arg_trimmed_text(fcinfo, 0);
	role = arg_trimmed_text(fcinfo, 1);
	check_not_blank(display_name, "display_name");
	check_max_length(display_name, "display_name", 200);
	if (strcmp(role, "admin") != 0 && strcmp(role, "seller") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"role\" must be \"admin\" or \"seller\"")));
	if (!PG_ARGISNULL(2))
	{
		telegram_user_id = PG_GETARG_INT64(2);
		if (telegram_user_id <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"telegram_user_id\" must be a positive number")));
	}

	values[0] = Int64GetDatum(org_id);
	values[1] = CStringGetTextDatum(display_name);
	values[2] = CStringGetTextDatum(role);
	values[3] = Int64GetDatum(telegram_user_id);
	nulls[3] = telegram_user_id ? ' ' : 'n';

	api_begin(&call);
	api_prepare_once(&tg_plan, "SELECT 1 FROM invoice.users WHERE org_id OPERATOR(pg_catalog.=) $1"
					 " AND telegram_user_id OPERATOR(pg_catalog.=) $2",
					 2, (Oid[]) {INT8OID, INT8OID});
	api_prepare_once(&insert_plan, "INSERT INTO invoice.users (org_id, display_name, role, telegram_user_id)"
					 " VALUES ($1, $2, $3, $4) RETURNING user_id",
					 4, (Oid[]) {INT8OID, TEXTOID, TEXTOID, INT8OID});
	if (telegram_user_id != 0)
	{
		api_execute(tg_plan, (Datum[]) {values[0], values[3]}, NULL, true, SPI_OK_SELECT);
		if (SPI_processed > 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("telegram user " INT64_FORMAT " is already a user of this tenant",
							telegram_user_id)));
	}
	api_execute(insert_plan, values, nulls, false, SPI_OK_INSERT_RETURNING);
	user_id = DatumGetInt64(api_getdatum(0, 1, &isnull));
	api_end(&call);

	PG_RETURN_INT64(user_id);
}
