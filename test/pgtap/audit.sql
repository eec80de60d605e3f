-- test/pgtap/audit.sql
--
-- The audit log as a hostile non-superuser sees it: only its tenant's
-- rows, read-only, no way around the append-only rules; and the rules
-- hold for the owner (a superuser) as well.
--
-- Everything runs in one transaction that is rolled back.  The audit
-- records are written at the end of each statement (SET CONSTRAINTS ALL
-- IMMEDIATE) instead of at commit, so that they exist inside it.

BEGIN;
SELECT plan(30);
SET CONSTRAINTS ALL IMMEDIATE;

CREATE ROLE regress_audit_hostile NOLOGIN;
CREATE ROLE regress_audit_platform NOLOGIN;
GRANT invoice_app TO regress_audit_hostile;
GRANT invoice_admin TO regress_audit_platform;

SELECT invoice.create_organization('regress-audit-a', 'Audit A') AS org_a \gset
SELECT invoice.create_organization('regress-audit-b', 'Audit B') AS org_b \gset
SELECT invoice.grant_tenant('regress_audit_hostile', :org_a) AS ignored \gset

SELECT invoice.set_tenant(:org_a) AS ignored \gset
SELECT invoice.upsert_customer('CC', '1001', 'Ana Alpha') AS cust_a \gset
SELECT invoice.create_invoice(:cust_a, '[{"description": "Ring A", "quantity": 1, "unit_price": 100}]') AS inv_a \gset
SELECT invoice.set_tenant(:org_b) AS ignored \gset
SELECT invoice.upsert_customer('CC', '2001', 'Beto Beta') AS cust_b \gset
SELECT invoice.create_invoice(:cust_b, '[{"description": "Ring B", "quantity": 1, "unit_price": 300}]') AS inv_b \gset
SELECT invoice.issue(:inv_b) AS ignored \gset

SELECT count(*) AS rows_a FROM invoice.audit_log WHERE org_id = :org_a \gset
SELECT count(*) AS rows_b FROM invoice.audit_log WHERE org_id = :org_b \gset
SELECT relname AS month_partition FROM pg_class
 WHERE oid = (SELECT tableoid FROM invoice.audit_log WHERE org_id = :org_a LIMIT 1) \gset

SELECT cmp_ok(:rows_a::int, '>=', 4, 'set-up: tenant A has audit rows');
SELECT cmp_ok(:rows_b::int, '>=', 5, 'set-up: tenant B has audit rows');

/* ------------------------------------------------------------------------
 * Reading: the current tenant's rows only, through the log only
 * ------------------------------------------------------------------------ */

SET LOCAL ROLE regress_audit_hostile;
SELECT is((SELECT count(*) FROM invoice.audit_log), 0::bigint,
		  'without a tenant context no audit row is visible');
SELECT invoice.set_tenant(:org_a) AS ignored \gset
SELECT is((SELECT count(*) FROM invoice.audit_log), :rows_a::bigint,
		  'in tenant A every audit row of A is visible');
SELECT is((SELECT count(*) FROM invoice.audit_log WHERE org_id = :org_b), 0::bigint,
		  'no audit row of tenant B is visible from A');
SELECT is((SELECT count(*) FROM invoice.audit_log WHERE new_row->>'description' = 'Ring B'), 0::bigint,
		  'B''s data cannot be found by content');
SELECT is((SELECT count(*) FROM invoice.row_history('invoice.invoices', jsonb_build_object('invoice_id', :inv_b))), 0::bigint,
		  'row_history of B''s invoice is empty in A');
SELECT is((SELECT count(*) FROM invoice.row_history('invoice.invoices', jsonb_build_object('invoice_id', :inv_a))), 1::bigint,
		  'row_history of A''s own invoice works');
SELECT throws_ok(format('SELECT count(*) FROM invoice.%I', :'month_partition'), '42501', NULL,
				 'a partition cannot be read directly');
SELECT throws_ok('SELECT count(*) FROM invoice.audit_log_default', '42501', NULL,
				 'the default partition cannot be read directly');
SELECT throws_ok('SELECT count(*) FROM invoice.audit_heads', '42501', NULL,
				 'the chain heads cannot be read');

/* ------------------------------------------------------------------------
 * Writing and tampering: refused
 * ------------------------------------------------------------------------ */

SELECT throws_ok(format($$INSERT INTO invoice.audit_log SELECT * FROM invoice.audit_log WHERE org_id = %s LIMIT 1$$, :org_a),
				 '42501', NULL, 'INSERT into the log is refused');
SELECT throws_ok('UPDATE invoice.audit_log SET db_role = ''x''', '42501', NULL,
				 'UPDATE of the log is refused');
SELECT throws_ok('DELETE FROM invoice.audit_log', '42501', NULL,
				 'DELETE from the log is refused');
SELECT throws_ok('TRUNCATE invoice.audit_log', '42501', NULL,
				 'TRUNCATE of the log is refused');
SELECT throws_ok('UPDATE invoice.audit_heads SET row_count = 0', '42501', NULL,
				 'the chain heads cannot be changed');
SELECT throws_ok('SET session_replication_role = replica', '42501', NULL,
				 'the triggers cannot be switched off with session_replication_role');
SELECT throws_ok('ALTER TABLE invoice.audit_log DISABLE TRIGGER USER', '42501', NULL,
				 'the guard triggers cannot be disabled');
SELECT throws_ok('SET invoice.audit_skip_noop_updates = on', '42501', NULL,
				 'the no-op setting is for superusers only');

/* ------------------------------------------------------------------------
 * The routines: only the own tenant, and nothing of the administration
 * ------------------------------------------------------------------------ */

SELECT results_eq(format('SELECT org_id, first_bad_audit_id FROM invoice.audit_verify()'),
				  format('VALUES (%s::bigint, NULL::bigint)', :org_a),
				  'audit_verify() verifies the current tenant only');
SELECT throws_ok(format('SELECT * FROM invoice.audit_verify(%s)', :org_b), '42501', NULL,
				 'audit_verify of another tenant is refused');
SELECT throws_ok('SELECT invoice.audit_purge(''1 day'')', '42501', NULL,
				 'audit_purge is refused');
SELECT throws_ok('SELECT invoice.audit_create_partitions()', '42501', NULL,
				 'audit_create_partitions is refused');
SELECT throws_ok('SELECT invoice.audit_enable(''invoice.customers'')', '42501', NULL,
				 'audit_enable is refused');
RESET ROLE;

/* ------------------------------------------------------------------------
 * A platform admin (invoice_admin, not a superuser) reads every tenant's
 * log but cannot change it either
 * ------------------------------------------------------------------------ */

SET LOCAL ROLE regress_audit_platform;
SELECT is((SELECT count(*) FROM invoice.audit_log WHERE org_id IN (:org_a, :org_b)), (:rows_a + :rows_b)::bigint,
		  'invoice_admin reads the log of every tenant');
SELECT throws_ok('DELETE FROM invoice.audit_log', '42501', NULL,
				 'invoice_admin cannot delete from the log');
RESET ROLE;

/* ------------------------------------------------------------------------
 * The owner (a superuser here) is refused as well, on the log and on a
 * partition directly
 * ------------------------------------------------------------------------ */

SELECT throws_ok(format('DELETE FROM invoice.audit_log WHERE org_id = %s', :org_b), '42501', NULL,
				 'owner: DELETE from the log is refused');
SELECT throws_ok(format('UPDATE invoice.%I SET db_role = ''x'' WHERE org_id = %s', :'month_partition', :org_b), '42501', NULL,
				 'owner: UPDATE of a partition is refused');
SELECT throws_ok(format('TRUNCATE invoice.%I', :'month_partition'), '42501', NULL,
				 'owner: TRUNCATE of a partition is refused');
SELECT results_eq(format('SELECT first_bad_audit_id FROM invoice.audit_verify(%s)', :org_b),
				  'VALUES (NULL::bigint)',
				  'tenant B''s chain is intact');

SELECT * FROM finish();
ROLLBACK;
