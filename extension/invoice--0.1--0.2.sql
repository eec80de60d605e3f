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

-- as REVOKE ALL ON ALL FUNCTIONS does in invoice--0.2.sql
REVOKE ALL ON FUNCTION invoice.payment_methods() FROM PUBLIC;

