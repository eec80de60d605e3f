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

-- what the document of an issued invoice shows of its seller and customer,
-- kept by issue(); filled for the invoices issued under 0.1 below, once the
-- shop's identity columns exist
ALTER TABLE invoice.invoices
	ADD COLUMN seller_snapshot jsonb,
	ADD COLUMN customer_snapshot jsonb;


/* ------------------------------------------------------------------------
 * The shop's identity on the document
 * ------------------------------------------------------------------------ */

ALTER TABLE invoice.organizations
	ADD COLUMN address text,
	ADD COLUMN city text,
	ADD COLUMN department text,
	ADD COLUMN phone text,
	ADD COLUMN email text,
	ADD COLUMN tax_regime text,
	ADD CONSTRAINT organizations_tax_regime_check CHECK (tax_regime OPERATOR(pg_catalog.=) ANY (ARRAY['responsable_iva', 'no_responsable_iva']));

-- NULL: paid in cash (contado); a date: on credit, due that day
ALTER TABLE invoice.invoices
	ADD COLUMN due_date date;

/*
 * The invoices issued under 0.1 keep, from now on, their seller and
 * customer as they are at this upgrade (0.1 kept nothing older).  The
 * objects are those issue() builds (DOC_SELLER_SNAPSHOT_SQL and
 * DOC_CUSTOMER_SNAPSHOT_SQL in src/invoice_doc.h).  The guard refuses any
 * change to an issued invoice, so it is disabled for this one statement
 * only; the audit triggers stay on and record the change in every
 * tenant's chain.  Their deferred write is made to happen right after
 * the statement (SET CONSTRAINTS ... IMMEDIATE), since ALTER TABLE
 * refuses a table with trigger events still pending, and is deferred
 * again afterwards.
 */
ALTER TABLE invoice.invoices DISABLE TRIGGER invoices_guard;
UPDATE invoice.invoices i
   SET seller_snapshot = pg_catalog.jsonb_build_object('name', o.name, 'tax_id', o.tax_id,
			'address', o.address, 'city', o.city, 'department', o.department,
			'phone', o.phone, 'email', o.email, 'tax_regime', o.tax_regime,
			'resolution', o.resolution, 'prefix', o.prefix,
			'number_from', o.number_from, 'number_to', o.number_to,
			'valid_from', o.valid_from, 'valid_to', o.valid_to,
			'timezone', o.timezone),
	   customer_snapshot = pg_catalog.jsonb_build_object('id_type', c.id_type, 'id_number', c.id_number,
			'name', c.name, 'address', c.address, 'phone', c.phone,
			'email', c.email)
  FROM invoice.organizations o, invoice.customers c
 WHERE i.status OPERATOR(pg_catalog.<>) 'draft'
   AND o.org_id OPERATOR(pg_catalog.=) i.org_id
   AND c.org_id OPERATOR(pg_catalog.=) i.org_id
   AND c.customer_id OPERATOR(pg_catalog.=) i.customer_id;
SET CONSTRAINTS invoice.audit_write IMMEDIATE;
SET CONSTRAINTS invoice.audit_write DEFERRED;
ALTER TABLE invoice.invoices ENABLE TRIGGER invoices_guard;

ALTER TABLE invoice.invoices
	ADD CONSTRAINT invoices_snapshot_check CHECK ((status OPERATOR(pg_catalog.=) 'draft') OPERATOR(pg_catalog.=) (seller_snapshot IS NULL) AND (status OPERATOR(pg_catalog.=) 'draft') OPERATOR(pg_catalog.=) (customer_snapshot IS NULL));


/* ------------------------------------------------------------------------
 * The counter sale in one statement
 * ------------------------------------------------------------------------ */

CREATE FUNCTION invoice.create_and_issue(customer_id bigint, items jsonb, notes text DEFAULT NULL, paid_with text DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'invoice_create_and_issue'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.create_and_issue(bigint, jsonb, text, text) IS 'the counter sale: creates an invoice already issued (and paid in full when paid_with names a method) in one statement';


/* ------------------------------------------------------------------------
 * Hardening: qualified operators, bounded text, statistics
 * ------------------------------------------------------------------------ */

-- BETWEEN resolves >= and <= through search_path, which held public while
-- 0.1 was installed: re-add the CHECKs with operators from pg_catalog
ALTER TABLE invoice.invoice_items DROP CONSTRAINT invoice_items_karat_check,
	ADD CONSTRAINT invoice_items_karat_check CHECK (karat OPERATOR(pg_catalog.>=) 1 AND karat OPERATOR(pg_catalog.<=) 24);

-- no planner statistics on free text and personal data: EXPLAIN's row
-- estimate, open to any reader without a tenant, would tell another
-- tenant's values (see invoice--0.2.sql)
ALTER TABLE invoice.organizations ALTER COLUMN slug SET STATISTICS 0,
	ALTER COLUMN name SET STATISTICS 0, ALTER COLUMN tax_id SET STATISTICS 0,
	ALTER COLUMN resolution SET STATISTICS 0, ALTER COLUMN address SET STATISTICS 0,
	ALTER COLUMN city SET STATISTICS 0, ALTER COLUMN department SET STATISTICS 0,
	ALTER COLUMN phone SET STATISTICS 0, ALTER COLUMN email SET STATISTICS 0;
ALTER TABLE invoice.tenant_grants ALTER COLUMN role_name SET STATISTICS 0;
ALTER TABLE invoice.users ALTER COLUMN display_name SET STATISTICS 0;
ALTER TABLE invoice.customers ALTER COLUMN id_number SET STATISTICS 0,
	ALTER COLUMN name SET STATISTICS 0, ALTER COLUMN email SET STATISTICS 0,
	ALTER COLUMN phone SET STATISTICS 0, ALTER COLUMN address SET STATISTICS 0;
ALTER TABLE invoice.invoices ALTER COLUMN number_text SET STATISTICS 0,
	ALTER COLUMN void_reason SET STATISTICS 0, ALTER COLUMN notes SET STATISTICS 0,
	ALTER COLUMN seller_snapshot SET STATISTICS 0, ALTER COLUMN customer_snapshot SET STATISTICS 0;
ALTER TABLE invoice.invoice_items ALTER COLUMN description SET STATISTICS 0,
	ALTER COLUMN material SET STATISTICS 0, ALTER COLUMN sku SET STATISTICS 0;
ALTER TABLE invoice.audit_log ALTER COLUMN db_role SET STATISTICS 0,
	ALTER COLUMN db_current_role SET STATISTICS 0, ALTER COLUMN row_key SET STATISTICS 0,
	ALTER COLUMN old_row SET STATISTICS 0, ALTER COLUMN new_row SET STATISTICS 0,
	ALTER COLUMN changed SET STATISTICS 0;

-- the partitions made so far: ANALYZE reads each partition's own targets
DO $stats$
DECLARE
	part regclass;
	col name;
BEGIN
	FOR part IN SELECT i.inhrelid::pg_catalog.regclass FROM pg_catalog.pg_inherits i
		WHERE i.inhparent OPERATOR(pg_catalog.=) 'invoice.audit_log'::pg_catalog.regclass
	LOOP
		FOREACH col IN ARRAY ARRAY['db_role', 'db_current_role', 'row_key', 'old_row', 'new_row', 'changed']::pg_catalog.name[]
		LOOP
			EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I SET STATISTICS 0', part, col);
		END LOOP;
	END LOOP;
END
$stats$;



/* ------------------------------------------------------------------------
 * Audit partitions
 * ------------------------------------------------------------------------ */


/* ------------------------------------------------------------------------
 * Telegram
 * ------------------------------------------------------------------------ */


/* ------------------------------------------------------------------------
 * Operations
 * ------------------------------------------------------------------------ */


/* ------------------------------------------------------------------------
 * One home per rule: payment methods and rates
 * ------------------------------------------------------------------------ */

-- the accepted payment methods: one list, in C (src/payment_methods.c),
-- read by payments_method_check, record_payment() and the documents
CREATE FUNCTION invoice.payment_methods()
RETURNS text[]
AS 'MODULE_PATHNAME', 'invoice_payment_methods'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION invoice.payment_methods() IS 'the accepted payment methods, as payments.method stores them';

ALTER TABLE invoice.payments DROP CONSTRAINT payments_method_check;
ALTER TABLE invoice.payments ADD CONSTRAINT payments_method_check
	CHECK (method OPERATOR(pg_catalog.=) ANY (invoice.payment_methods()));

-- rates: 0 to 100 (at most 4 decimals: numeric(7,4)), the rule of
-- rate_from_numeric() in C, with operators that do not resolve through
-- search_path as BETWEEN does
ALTER TABLE invoice.organizations DROP CONSTRAINT organizations_tax_rate_check;
ALTER TABLE invoice.organizations ADD CONSTRAINT organizations_tax_rate_check
	CHECK (default_tax_rate OPERATOR(pg_catalog.>=) 0 AND default_tax_rate OPERATOR(pg_catalog.<=) 100);
ALTER TABLE invoice.invoice_items DROP CONSTRAINT invoice_items_rates_check;
ALTER TABLE invoice.invoice_items ADD CONSTRAINT invoice_items_rates_check
	CHECK (tax_rate OPERATOR(pg_catalog.>=) 0 AND tax_rate OPERATOR(pg_catalog.<=) 100
		AND discount_pct OPERATOR(pg_catalog.>=) 0 AND discount_pct OPERATOR(pg_catalog.<=) 100);


/* ------------------------------------------------------------------------
 * Privileges: last, after every object exists
 * ------------------------------------------------------------------------ */

-- 0.1 revoked PUBLIC's EXECUTE before the audit functions existed, which
-- left invoice.audit_row_ord executable by PUBLIC: revoke everything, as
-- the end of invoice--0.2.sql does, and give back only what anyone may
-- call (the tenant context, the pure totals, and the WHEN clause of the
-- audit_write triggers that every writer evaluates)
REVOKE ALL ON ALL TABLES IN SCHEMA invoice FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA invoice FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA invoice FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoice.current_org(), invoice.current_user_id(),
	invoice.totals(jsonb, numeric), invoice.audit_write_needed() TO PUBLIC;

GRANT EXECUTE ON FUNCTION invoice.create_and_issue(bigint, jsonb, text, text) TO invoice_app;
