/* extension/invoice--0.1--0.2.sql */
\echo Use "ALTER EXTENSION invoice UPDATE TO '0.2'" to load this file. \quit

/*
 * 0.1 -> 0.2.  Every change here is also made in invoice--0.2.sql, and
 * test/upgrade_check.sh checks that both give the same objects.  New
 * columns go at the end of their tables in both scripts, in the same order
 * (the C sources address columns by position).  Sections by topic; keep
 * each change in its own section.
 */

/* ------------------------------------------------------------------------
 * Issued invoices keep the seller and customer they were issued with
 * ------------------------------------------------------------------------ */


/* ------------------------------------------------------------------------
 * The shop's identity on the document
 * ------------------------------------------------------------------------ */


/* ------------------------------------------------------------------------
 * Hardening: qualified operators, bounded text, statistics
 * ------------------------------------------------------------------------ */


/* ------------------------------------------------------------------------
 * Audit partitions
 * ------------------------------------------------------------------------ */


/* ------------------------------------------------------------------------
 * Telegram
 * ------------------------------------------------------------------------ */


/* ------------------------------------------------------------------------
 * Operations
 * ------------------------------------------------------------------------ */

ALTER TABLE invoice.invoices
	ADD COLUMN branch_id bigint,
	ADD COLUMN sale_location geography(Point, 4326);

-- PostGIS is a required extension: while this script runs, its schema is
-- on the search_path, wherever it was installed, so its type is named
-- without a schema here; the C sources look the schema up (src/geo.c).

CREATE SEQUENCE invoice.branch_id_seq;

CREATE TABLE invoice.branches (
	org_id				bigint NOT NULL,
	branch_id			bigint NOT NULL DEFAULT pg_catalog.nextval('invoice.branch_id_seq'),
	name				text NOT NULL,
	address				text,
	location			geography(Point, 4326) NOT NULL,
	created_at			timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CONSTRAINT branches_pkey PRIMARY KEY (org_id, branch_id),
	CONSTRAINT branches_org_fkey FOREIGN KEY (org_id) REFERENCES invoice.organizations (org_id),
	CONSTRAINT branches_name_check CHECK (pg_catalog.btrim(name) OPERATOR(pg_catalog.<>) '')
);
COMMENT ON TABLE invoice.branches IS 'the shops of a tenant and where they are';
-- nearest_branch orders by distance through this index (KNN)
CREATE INDEX branches_location_idx ON invoice.branches USING gist (location);

ALTER TABLE invoice.branches ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice.branches FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invoice.branches
	USING (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()))
	WITH CHECK (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()));

ALTER TABLE invoice.invoices ADD CONSTRAINT invoices_branch_fkey
	FOREIGN KEY (org_id, branch_id) REFERENCES invoice.branches (org_id, branch_id);

SELECT invoice.audit_enable('invoice.branches');
SELECT pg_catalog.pg_extension_config_dump('invoice.branches', '');
SELECT pg_catalog.pg_extension_config_dump('invoice.branch_id_seq', '');

-- a fourth argument: drop the 0.1 declaration (its privileges are granted
-- again at the end of this script)
DROP FUNCTION invoice.create_invoice(bigint, jsonb, text);
CREATE FUNCTION invoice.create_invoice(customer_id bigint, items jsonb DEFAULT '[]', notes text DEFAULT NULL, branch_id bigint DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'invoice_create_invoice'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.create_invoice(bigint, jsonb, text, bigint) IS 'creates a draft invoice with its items and totals, optionally at one of the tenant''s branches';

CREATE FUNCTION invoice.add_branch(name text, lon float8, lat float8, address text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'invoice_add_branch'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.add_branch(text, float8, float8, text) IS 'adds a shop of the current tenant at (lon, lat), WGS 84 degrees (tenant admin user or invoice_admin)';

CREATE FUNCTION invoice.nearest_branch(lon float8, lat float8)
RETURNS bigint
AS 'MODULE_PATHNAME', 'invoice_nearest_branch'
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.nearest_branch(float8, float8) IS 'the current tenant''s branch nearest to (lon, lat), or NULL when it has none';

CREATE FUNCTION invoice.set_branch(invoice_id bigint, branch_id bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'invoice_set_branch'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.set_branch(bigint, bigint) IS 'puts a draft under one of the tenant''s branches (NULL: none)';

CREATE FUNCTION invoice.sales_by_branch(from_date date, to_date date)
RETURNS TABLE(branch_id bigint, name text, invoices bigint, total numeric)
AS 'MODULE_PATHNAME', 'invoice_sales_by_branch'
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.sales_by_branch(date, date) IS 'issued and paid invoices of the current tenant by branch, by issue date in its time zone, both dates included; a NULL branch for sales without one';

CREATE FUNCTION invoice.sales_within(lon float8, lat float8, radius_m float8, from_date date, to_date date)
RETURNS TABLE(invoices bigint, total numeric)
AS 'MODULE_PATHNAME', 'invoice_sales_within'
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.sales_within(float8, float8, float8, date, date) IS 'issued and paid invoices of the current tenant sold within radius_m metres of (lon, lat) (sale_location, else the branch''s), both dates included';

-- housekeeping (src/maintenance.c)
CREATE TABLE invoice.maintenance_state (
	singleton			boolean NOT NULL DEFAULT true,
	last_started_at		timestamptz NOT NULL,
	last_duration_ms	float8 NOT NULL,
	last_result			jsonb NOT NULL,
	runs				bigint NOT NULL,
	CONSTRAINT maintenance_state_pkey PRIMARY KEY (singleton),
	CONSTRAINT maintenance_state_singleton_check CHECK (singleton)
);
COMMENT ON TABLE invoice.maintenance_state IS 'one row: the last maintenance() pass, what it did and how long it took';

CREATE FUNCTION invoice.maintenance()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'invoice_maintenance'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.maintenance() IS 'one idempotent pass of housekeeping; a concurrent second call returns {"skipped": true} at once (invoice_admin)';

CREATE FUNCTION invoice.schedule_maintenance(schedule text DEFAULT '*/5 * * * *')
RETURNS bigint
AS 'MODULE_PATHNAME', 'invoice_schedule_maintenance'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.schedule_maintenance(text) IS 'creates or reschedules the pg_cron job invoice-maintenance of this database; returns its id, the same on every call (invoice_admin)';

CREATE FUNCTION invoice.unschedule_maintenance()
RETURNS void
AS 'MODULE_PATHNAME', 'invoice_unschedule_maintenance'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.unschedule_maintenance() IS 'removes the pg_cron job invoice-maintenance of this database (invoice_admin)';

CREATE FUNCTION invoice.health()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'invoice_health'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.health() IS 'version, preload, pg_cron job and last run, audit partitions ahead, last maintenance, tenants running out of numbers or resolution (invoice_admin)';


/* ------------------------------------------------------------------------
 * Privileges: last, after every object exists
 * ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------
 * Operations: privileges
 * ------------------------------------------------------------------------ */

REVOKE ALL ON invoice.branches, invoice.branch_id_seq, invoice.maintenance_state FROM PUBLIC;
REVOKE ALL ON FUNCTION invoice.create_invoice(bigint, jsonb, text, bigint),
	invoice.add_branch(text, float8, float8, text), invoice.nearest_branch(float8, float8),
	invoice.set_branch(bigint, bigint), invoice.sales_by_branch(date, date),
	invoice.sales_within(float8, float8, float8, date, date), invoice.maintenance(),
	invoice.schedule_maintenance(text), invoice.unschedule_maintenance(), invoice.health()
	FROM PUBLIC;
GRANT SELECT ON invoice.branches TO invoice_app;
GRANT SELECT ON invoice.maintenance_state TO invoice_admin;
GRANT EXECUTE ON FUNCTION invoice.create_invoice(bigint, jsonb, text, bigint),
	invoice.add_branch(text, float8, float8, text), invoice.nearest_branch(float8, float8),
	invoice.set_branch(bigint, bigint), invoice.sales_by_branch(date, date),
	invoice.sales_within(float8, float8, float8, date, date)
	TO invoice_app;
GRANT EXECUTE ON FUNCTION invoice.maintenance(), invoice.schedule_maintenance(text),
	invoice.unschedule_maintenance(), invoice.health()
	TO invoice_admin;
