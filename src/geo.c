/*-------------------------------------------------------------------------
 *
 * geo.c
 *	  The shops' locations (PostGIS): branches, the nearest branch, the
 *	  branch of a draft, and sales by branch or within a radius.
 *
 * Locations are geography(Point, 4326): distances are metres on the
 * spheroid.  PostGIS is a relocatable extension, so its schema is looked
 * up once per backend (pg_extension) and written, quoted, into the plans'
 * text; nothing else of the caller's ever reaches the SQL.  Every function
 * works inside the current tenant only: the statements filter on org_id
 * and row level security filters again, so another tenant's branches are
 * never seen, chosen or reported.
 *
 * Adding a branch is for the tenant's admin user or an invoice_admin, the
 * same rule as add_user; reading them and the reports are for anyone who
 * may enter the tenant.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "geo.h"
#include "exec.h"
#include "lifecycle.h"
#include "tenant.h"

PG_FUNCTION_INFO_V1(invoice_add_branch);
PG_FUNCTION_INFO_V1(invoice_nearest_branch);
PG_FUNCTION_INFO_V1(invoice_set_branch);
PG_FUNCTION_INFO_V1(invoice_sales_by_branch);
PG_FUNCTION_INFO_V1(invoice_sales_within);

#define BRANCH_NAME_MAX		200
#define BRANCH_ADDRESS_MAX	500

/* the invoices that count as sales: issued or paid (void and drafts do not) */
#define SALES_STATUS \
	" i.status OPERATOR(pg_catalog.=) ANY (ARRAY['issued', 'paid'])"

/*
 * A point from $lon, $lat; "@" stands for PostGIS's schema (see geo_sql).
 */
#define POINT_SQL(lon, lat) \
	"@.ST_SetSRID(@.ST_MakePoint(" lon ", " lat "), 4326)::@.geography"

/*
 * geo_sql
 *		The statement `sql` with every "@" replaced by PostGIS's schema,
 *		quoted.  Only called while SPI is connected.
 */
static char *
geo_sql(const char *sql)
{
	static char *schema = NULL;
	StringInfoData buf;
	const char *p;

	if (schema == NULL)
	{
		char	   *nsp;

		if (SPI_execute("SELECT n.nspname::pg_catalog.text FROM pg_catalog.pg_extension e"
						" JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace"
						" WHERE e.extname OPERATOR(pg_catalog.=) 'postgis'",
						true, 1) != SPI_OK_SELECT || SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("extension \"postgis\" is not installed"),
					 errhint("The invoice extension requires it: CREATE EXTENSION postgis.")));
		nsp = api_gettext(0, 1);
		schema = MemoryContextStrdup(TopMemoryContext, quote_identifier(nsp));
	}

	initStringInfo(&buf);
	for (p = sql; *p; p++)
	{
		if (*p == '@')
			appendStringInfoString(&buf, schema);
		else
			appendStringInfoChar(&buf, *p);
	}
	return buf.data;
}

/*
 * coordinate_arg
 *		A longitude or latitude argument: given, finite, within +-limit.
 */
static float8
coordinate_arg(FunctionCallInfo fcinfo, int argno, const char *name, float8 limit)
{
	float8		v;

	arg_required(fcinfo, argno, name);
	v = PG_GETARG_FLOAT8(argno);
	if (isnan(v) || isinf(v) || v < -limit || v > limit)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" must be between %g and %g", name, -limit, limit),
				 errhint("Coordinates are WGS 84 degrees: longitude first, then latitude.")));
	return v;
}

/*
 * date_range_args
 *		from_date and to_date, both given, the first not after the second.
 */
static void
date_range_args(FunctionCallInfo fcinfo, int from_arg, DateADT *from, DateADT *to)
{
	arg_required(fcinfo, from_arg, "from_date");
	arg_required(fcinfo, from_arg + 1, "to_date");
	*from = PG_GETARG_DATEADT(from_arg);
	*to = PG_GETARG_DATEADT(from_arg + 1);
	if (*from > *to)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"from_date\" must not be after \"to_date\""),
				 errhint("Both dates are included in the report.")));
}

/*
 * branch_require
 *		Is the branch one of the tenant's?  The same error for a branch that
 *		does not exist and for another tenant's, so that ids tell nothing.
 */
void
branch_require(int64 org_id, int64 branch_id)
{
	static SPIPlanPtr plan = NULL;

	api_prepare_once(&plan,
					 "SELECT 1 FROM invoice.branches"
					 " WHERE org_id OPERATOR(pg_catalog.=) $1"
					 " AND branch_id OPERATOR(pg_catalog.=) $2"
					 " FOR KEY SHARE",
					 2, (Oid[]) {INT8OID, INT8OID});
	api_execute(plan, (Datum[]) {Int64GetDatum(org_id), Int64GetDatum(branch_id)},
				NULL, false, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("branch " INT64_FORMAT " not found", branch_id),
				 errhint("Create it with invoice.add_branch().")));
}

/*
 * invoice_add_branch
 *		A shop of the current tenant at (lon, lat); returns its id.
 */
Datum
invoice_add_branch(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	int64		org_id = tenant_require();
	char	   *name;
	char	   *address;
	float8		lon;
	float8		lat;
	bool		isnull;
	int64		branch_id;
	ApiCall		call;

	if (!tenant_caller_is_platform_admin() && !tenant_user_is_admin())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to add branches to tenant " INT64_FORMAT, org_id),
				 errhint("Only an admin user of the tenant or an invoice_admin may add branches.")));

	arg_required(fcinfo, 0, "name");
	name = arg_trimmed_text(fcinfo, 0);
	check_not_blank(name, "name");
	check_max_length(name, "name", BRANCH_NAME_MAX);
	lon = coordinate_arg(fcinfo, 1, "lon", 180);
	lat = coordinate_arg(fcinfo, 2, "lat", 90);
	address = PG_NARGS() > 3 ? arg_trimmed_text(fcinfo, 3) : NULL;
	if (address != NULL && address[0] == '\0')
		address = NULL;
	check_max_length(address, "address", BRANCH_ADDRESS_MAX);

	api_begin(&call);
	if (plan == NULL)
		api_prepare_once(&plan,
						 geo_sql("INSERT INTO invoice.branches (org_id, name, address, location)"
								 " VALUES ($1, $2, $3, " POINT_SQL("$4", "$5") ")"
								 " RETURNING branch_id"),
						 5, (Oid[]) {INT8OID, TEXTOID, TEXTOID, FLOAT8OID, FLOAT8OID});
	api_execute(plan,
				(Datum[]) {Int64GetDatum(org_id), CStringGetTextDatum(name),
					address ? CStringGetTextDatum(address) : (Datum) 0,
					Float8GetDatum(lon), Float8GetDatum(lat)},
				address ? "     " : "  n  ", false, SPI_OK_INSERT_RETURNING);
	branch_id = DatumGetInt64(api_getdatum(0, 1, &isnull));
	api_end(&call);

	PG_RETURN_INT64(branch_id);
}

/*
 * invoice_nearest_branch
 *		The tenant's branch nearest to (lon, lat); NULL when the tenant
 *		has none.  A tenant has a few branches: they are read through the
 *		primary key (org_id first) and sorted by their exact distance on
 *		the spheroid.  Ordering by "<->" would let the planner walk the
 *		GiST index on location across every tenant's branches, skipping
 *		other tenants' until it meets one of this tenant's.
 */
Datum
invoice_nearest_branch(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	int64		org_id = tenant_require();
	float8		lon = coordinate_arg(fcinfo, 0, "lon", 180);
	float8		lat = coordinate_arg(fcinfo, 1, "lat", 90);
	bool		isnull = true;
	int64		branch_id = 0;
	ApiCall		call;

	api_begin(&call);
	if (plan == NULL)
		api_prepare_once(&plan,
						 geo_sql("SELECT branch_id FROM invoice.branches"
								 " WHERE org_id OPERATOR(pg_catalog.=) $1"
								 " ORDER BY @.ST_Distance(location, " POINT_SQL("$2", "$3") "), branch_id"
								 " LIMIT 1"),
						 3, (Oid[]) {INT8OID, FLOAT8OID, FLOAT8OID});
	api_execute(plan, (Datum[]) {Int64GetDatum(org_id), Float8GetDatum(lon), Float8GetDatum(lat)},
				NULL, true, SPI_OK_SELECT);
	if (SPI_processed == 1)
		branch_id = DatumGetInt64(api_getdatum(0, 1, &isnull));
	api_end(&call);

	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_INT64(branch_id);
}

/*
 * invoice_set_branch
 *		Puts a draft under one of the tenant's branches (NULL: none).
 */
Datum
invoice_set_branch(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	int64		org_id = tenant_require();
	int64		invoice_id;
	bool		has_branch = PG_NARGS() > 1 && !PG_ARGISNULL(1);
	int64		branch_id = has_branch ? PG_GETARG_INT64(1) : 0;
	InvoiceHeader h;
	ApiCall		call;

	invoice_id = invoice_open(fcinfo, org_id, STATUS_DRAFT, "change the branch of", &h, &call);
	if (has_branch)
		branch_require(org_id, branch_id);
	api_prepare_once(&plan,
					 "UPDATE invoice.invoices SET branch_id = $3"
					 " WHERE org_id OPERATOR(pg_catalog.=) $1"
					 " AND invoice_id OPERATOR(pg_catalog.=) $2",
					 3, (Oid[]) {INT8OID, INT8OID, INT8OID});
	api_execute(plan, (Datum[]) {Int64GetDatum(org_id), Int64GetDatum(invoice_id),
				Int64GetDatum(branch_id)},
				has_branch ? "   " : "  n", false, SPI_OK_UPDATE);
	api_end(&call);

	PG_RETURN_VOID();
}

/*
 * report_rows
 *		Copies the rows of SPI_tuptable into the function's result; the
 *		statement's columns are those of the result, in order.
 */
static void
report_rows(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TupleDesc	desc = rsinfo->setDesc;
	Datum	   *values = palloc(desc->natts * sizeof(Datum));
	bool	   *nulls = palloc(desc->natts * sizeof(bool));
	uint64		row;
	int			col;

	for (row = 0; row < SPI_processed; row++)
	{
		for (col = 0; col < desc->natts; col++)
			values[col] = api_getdatum(row, col + 1, &nulls[col]);
		tuplestore_putvalues(rsinfo->setResult, desc, values, nulls);
	}
}

/*
 * The sales of the tenant between two dates of its time zone, both
 * included: $1 org_id, $2 time zone, $3 from_date, $4 to_date.  The
 * bounds are instants, so the issued_at range can use an index.
 */
#define SALES_CTE \
	"WITH sales AS (" \
	" SELECT i.invoice_id, i.branch_id, i.sale_location, i.total" \
	" FROM invoice.invoices i" \
	" WHERE i.org_id OPERATOR(pg_catalog.=) $1 AND" SALES_STATUS \
	" AND i.issued_at OPERATOR(pg_catalog.>=) pg_catalog.timezone($2, $3::pg_catalog.timestamp)" \
	" AND i.issued_at OPERATOR(pg_catalog.<) pg_catalog.timezone($2," \
	"  ($4 OPERATOR(pg_catalog.+) 1)::pg_catalog.timestamp))"

/*
 * invoice_sales_by_branch
 *		Sales per branch of the tenant (branches without sales too, with
 *		zero), and one row with a NULL branch for sales that have none.
 */
Datum
invoice_sales_by_branch(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	int64		org_id = tenant_require();
	DateADT		from;
	DateADT		to;
	TenantSettings st;
	ApiCall		call;

	date_range_args(fcinfo, 0, &from, &to);
	if (!tenant_settings(org_id, &st))
		elog(ERROR, "tenant " INT64_FORMAT " vanished", org_id);
	InitMaterializedSRF(fcinfo, 0);

	api_begin(&call);
	api_prepare_once(&plan,
					 SALES_CTE
					 " SELECT b.branch_id, b.name, pg_catalog.count(s.invoice_id),"
					 "  COALESCE(pg_catalog.sum(s.total), 0)::pg_catalog.numeric"
					 " FROM invoice.branches b LEFT JOIN sales s"
					 "  ON s.branch_id OPERATOR(pg_catalog.=) b.branch_id"
					 " WHERE b.org_id OPERATOR(pg_catalog.=) $1"
					 " GROUP BY b.branch_id, b.name"
					 " UNION ALL"
					 " SELECT NULL, NULL, pg_catalog.count(*), pg_catalog.sum(s.total)::pg_catalog.numeric"
					 " FROM sales s WHERE s.branch_id IS NULL"
					 " HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 0"
					 " ORDER BY 1 NULLS LAST",
					 4, (Oid[]) {INT8OID, TEXTOID, DATEOID, DATEOID});
	api_execute(plan, (Datum[]) {Int64GetDatum(org_id), CStringGetTextDatum(st.timezone),
				DateADTGetDatum(from), DateADTGetDatum(to)},
				NULL, true, SPI_OK_SELECT);
	report_rows(fcinfo);
	api_end(&call);

	return (Datum) 0;
}

/*
 * invoice_sales_within
 *		Sales located within radius_m metres of (lon, lat): an invoice is
 *		where it was sold (sale_location), else at its branch; sales with
 *		neither are nowhere and never counted.
 */
Datum
invoice_sales_within(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	int64		org_id = tenant_require();
	float8		lon = coordinate_arg(fcinfo, 0, "lon", 180);
	float8		lat = coordinate_arg(fcinfo, 1, "lat", 90);
	float8		radius;
	DateADT		from;
	DateADT		to;
	TenantSettings st;
	ApiCall		call;

	arg_required(fcinfo, 2, "radius_m");
	radius = PG_GETARG_FLOAT8(2);
	if (isnan(radius) || isinf(radius) || radius < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"radius_m\" must be a finite number of metres, zero or more")));
	date_range_args(fcinfo, 3, &from, &to);
	if (!tenant_settings(org_id, &st))
		elog(ERROR, "tenant " INT64_FORMAT " vanished", org_id);
	InitMaterializedSRF(fcinfo, 0);

	api_begin(&call);
	if (plan == NULL)
		api_prepare_once(&plan,
						 geo_sql(SALES_CTE
								 " SELECT pg_catalog.count(*), COALESCE(pg_catalog.sum(s.total), 0)::pg_catalog.numeric"
								 " FROM sales s LEFT JOIN invoice.branches b"
								 "  ON b.org_id OPERATOR(pg_catalog.=) $1"
								 "  AND b.branch_id OPERATOR(pg_catalog.=) s.branch_id"
								 " WHERE @.ST_DWithin(COALESCE(s.sale_location, b.location),"
								 "  " POINT_SQL("$5", "$6") ", $7)"),
						 7, (Oid[]) {INT8OID, TEXTOID, DATEOID, DATEOID,
							 FLOAT8OID, FLOAT8OID, FLOAT8OID});
	api_execute(plan, (Datum[]) {Int64GetDatum(org_id), CStringGetTextDatum(st.timezone),
				DateADTGetDatum(from), DateADTGetDatum(to),
				Float8GetDatum(lon), Float8GetDatum(lat), Float8GetDatum(radius)},
				NULL, true, SPI_OK_SELECT);
	report_rows(fcinfo);
	api_end(&call);

	return (Datum) 0;
}
