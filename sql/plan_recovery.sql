-- Plan recovery: an error between two preparations of a function's saved
-- plans (here a lock_timeout) must not break that function for the rest of
-- the backend.  Each case starts a new backend (\c), makes the FIRST call
-- fail between the function's first and last preparation by holding, from
-- a second connection (dblink), a lock that only a later statement of the
-- function needs, then releases it and calls again in the same backend.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS invoice CASCADE;
CREATE EXTENSION IF NOT EXISTS dblink;
\set VERBOSITY terse

-- plan_recovery_lock(rel, mode): a second connection takes the lock and
-- keeps it until plan_recovery_unlock()
CREATE FUNCTION plan_recovery_lock(rel text, mode text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM dblink_connect('plan_recovery_locker',
        format('host=%s port=%s dbname=%s',
               split_part(current_setting('unix_socket_directories'), ',', 1),
               current_setting('port'), current_database()));
    PERFORM dblink_exec('plan_recovery_locker', 'BEGIN');
    PERFORM dblink_exec('plan_recovery_locker', format('LOCK TABLE %s IN %s MODE', rel, mode));
END
$$;
CREATE FUNCTION plan_recovery_unlock() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM dblink_exec('plan_recovery_locker', 'COMMIT');
    PERFORM dblink_disconnect('plan_recovery_locker');
END
$$;

-- a tenant with an issued invoice, made in this first backend
SELECT invoice.create_organization('plan-recovery', 'Joyería Planes', '900123456-8') AS org \gset
BEGIN;
SELECT invoice.set_tenant(:org);
SELECT invoice.upsert_customer('CC', '1020304050', 'María Pérez') AS cust \gset
SELECT invoice.create_invoice(:cust, '[{"description": "Anillo", "quantity": 1, "unit_price": 100000}]') AS inv \gset
SELECT invoice.issue(:inv) IS NOT NULL AS issued;
COMMIT;

----------------------------------------------------------------------
-- create_organization: the organizations statements are prepared, the
-- invoice_counters one waits
----------------------------------------------------------------------
\c -
SET client_min_messages = warning;
\set VERBOSITY terse
SELECT plan_recovery_lock('invoice.invoice_counters', 'ACCESS EXCLUSIVE');
SET lock_timeout = '100ms';
SELECT invoice.create_organization('plan-recovery-2', 'Joyería Planes 2') IS NOT NULL AS created;
RESET lock_timeout;
SELECT plan_recovery_unlock();
SELECT invoice.create_organization('plan-recovery-2', 'Joyería Planes 2') AS org2 \gset
SELECT slug, name FROM invoice.organizations WHERE org_id = :org2;
SELECT count(*) AS counters FROM invoice.invoice_counters WHERE org_id = :org2;

----------------------------------------------------------------------
-- update_organization: the row is read FOR NO KEY UPDATE (ROW SHARE), the
-- UPDATE (ROW EXCLUSIVE) waits behind a SHARE lock
----------------------------------------------------------------------
\c -
SET client_min_messages = warning;
\set VERBOSITY terse
SELECT plan_recovery_lock('invoice.organizations', 'SHARE');
SET lock_timeout = '100ms';
SELECT invoice.update_organization(:org, '{"prefix": "PR"}');
RESET lock_timeout;
SELECT plan_recovery_unlock();
SELECT invoice.update_organization(:org, '{"prefix": "PR"}');
SELECT prefix FROM invoice.organizations WHERE org_id = :org;

----------------------------------------------------------------------
-- add_user: the users SELECT is prepared, the INSERT waits
----------------------------------------------------------------------
\c -
SET client_min_messages = warning;
\set VERBOSITY terse
SELECT plan_recovery_lock('invoice.users', 'SHARE');
BEGIN;
SELECT invoice.set_tenant(:org);
SET LOCAL lock_timeout = '100ms';
SELECT invoice.add_user('Vendedora', 'seller', 7001) IS NOT NULL AS added;
ROLLBACK;
SELECT plan_recovery_unlock();
BEGIN;
SELECT invoice.set_tenant(:org);
SELECT invoice.add_user('Vendedora', 'seller', 7001) IS NOT NULL AS added;
SELECT display_name, role FROM invoice.users WHERE org_id = :org ORDER BY user_id;
COMMIT;

----------------------------------------------------------------------
-- upsert_customer: the INSERT ... ON CONFLICT takes the stronger lock of
-- the only table either statement names, so no lock fails its lookup
-- alone; the first call fails before it, the unchanged second upsert
-- needs the lookup
----------------------------------------------------------------------
\c -
SET client_min_messages = warning;
\set VERBOSITY terse
SELECT plan_recovery_lock('invoice.customers', 'SHARE');
BEGIN;
SELECT invoice.set_tenant(:org);
SET LOCAL lock_timeout = '100ms';
SELECT invoice.upsert_customer('CC', '1020304050', 'María Pérez') IS NOT NULL AS upserted;
ROLLBACK;
SELECT plan_recovery_unlock();
BEGIN;
SELECT invoice.set_tenant(:org);
SELECT invoice.upsert_customer('CC', '1020304050', 'María Pérez') = :cust AS same_customer;
SELECT invoice.upsert_customer('CC', '1020304050', 'María Pérez', 'maria@example.com') = :cust AS same_customer;
COMMIT;

----------------------------------------------------------------------
-- record_payment: the header is locked FOR UPDATE (ROW SHARE) and the
-- payments INSERT prepared; the invoices UPDATE waits behind a SHARE lock
----------------------------------------------------------------------
\c -
SET client_min_messages = warning;
\set VERBOSITY terse
SELECT plan_recovery_lock('invoice.invoices', 'SHARE');
BEGIN;
SELECT invoice.set_tenant(:org);
SET LOCAL lock_timeout = '100ms';
SELECT invoice.record_payment(:inv, 40000, 'cash') IS NOT NULL AS recorded;
ROLLBACK;
SELECT plan_recovery_unlock();
BEGIN;
SELECT invoice.set_tenant(:org);
SELECT invoice.record_payment(:inv, 40000, 'cash') IS NOT NULL AS recorded;
SELECT status, amount_paid FROM invoice.invoices WHERE invoice_id = :inv;
COMMIT;

----------------------------------------------------------------------
-- the document loader (to_json, render_html, render_pdf): the header and
-- items statements are prepared, the payments one waits
----------------------------------------------------------------------
\c -
SET client_min_messages = warning;
\set VERBOSITY terse
SELECT plan_recovery_lock('invoice.payments', 'ACCESS EXCLUSIVE');
BEGIN;
SELECT invoice.set_tenant(:org);
SET LOCAL lock_timeout = '100ms';
SELECT invoice.to_json(:inv) IS NOT NULL AS loaded;
ROLLBACK;
SELECT plan_recovery_unlock();
BEGIN;
SELECT invoice.set_tenant(:org);
SELECT invoice.to_json(:inv) IS NOT NULL AS loaded;
SELECT jsonb_array_length(invoice.to_json(:inv) -> 'payments') AS payments;
COMMIT;

----------------------------------------------------------------------
-- the audit write at commit: the chain head UPDATE is prepared, the log
-- waits behind a SHARE lock
----------------------------------------------------------------------
\c -
SET client_min_messages = warning;
\set VERBOSITY terse
SELECT plan_recovery_lock('invoice.audit_log', 'SHARE');
SET lock_timeout = '100ms';
SELECT invoice.update_organization(:org, '{"prefix": "PQ"}');
RESET lock_timeout;
SELECT plan_recovery_unlock();
SELECT invoice.update_organization(:org, '{"prefix": "PQ"}');
SELECT prefix FROM invoice.organizations WHERE org_id = :org;
SELECT rows_checked > 0 AS checked, first_bad_audit_id IS NULL AS chain_ok FROM invoice.audit_verify(:org);

----------------------------------------------------------------------
-- audit_purge: the bounds query (ROW SHARE on the heads, ACCESS SHARE on
-- the log) is prepared, the DELETE waits behind a SHARE lock on the log;
-- the file runs last, so purging every tenant's rows disturbs no other
----------------------------------------------------------------------
\c -
SET client_min_messages = warning;
\set VERBOSITY terse
SELECT plan_recovery_lock('invoice.audit_log', 'SHARE');
SET lock_timeout = '100ms';
SELECT invoice.audit_purge('1 microsecond');
RESET lock_timeout;
SELECT plan_recovery_unlock();
-- every row written so far, of every tenant, is old enough
SELECT invoice.audit_purge('1 microsecond') > 0 AS purged;
SELECT bool_and(first_bad_audit_id IS NULL) AS chains_ok FROM invoice.audit_verify();

DROP FUNCTION plan_recovery_lock(text, text);
DROP FUNCTION plan_recovery_unlock();
DROP EXTENSION dblink;
