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

-- BETWEEN resolves >= and <= through search_path, which held public while
-- 0.1 was installed: re-add the CHECKs with operators from pg_catalog
ALTER TABLE invoice.invoice_items DROP CONSTRAINT invoice_items_karat_check,
	ADD CONSTRAINT invoice_items_karat_check CHECK (karat OPERATOR(pg_catalog.>=) 1 AND karat OPERATOR(pg_catalog.<=) 24);

-- no planner statistics on free text and personal data: EXPLAIN's row
-- estimate, open to any reader without a tenant, would tell another
-- tenant's values (see invoice--0.2.sql)
ALTER TABLE invoice.organizations ALTER COLUMN slug SET STATISTICS 0,
	ALTER COLUMN name SET STATISTICS 0, ALTER COLUMN tax_id SET STATISTICS 0,
	ALTER COLUMN resolution SET STATISTICS 0;
ALTER TABLE invoice.tenant_grants ALTER COLUMN role_name SET STATISTICS 0;
ALTER TABLE invoice.users ALTER COLUMN display_name SET STATISTICS 0;
ALTER TABLE invoice.customers ALTER COLUMN id_number SET STATISTICS 0,
	ALTER COLUMN name SET STATISTICS 0, ALTER COLUMN email SET STATISTICS 0,
	ALTER COLUMN phone SET STATISTICS 0, ALTER COLUMN address SET STATISTICS 0;
ALTER TABLE invoice.invoices ALTER COLUMN number_text SET STATISTICS 0,
	ALTER COLUMN void_reason SET STATISTICS 0, ALTER COLUMN notes SET STATISTICS 0;
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

