-- Tenancy: organizations, settings, grants, users and the tenant context.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS invoice CASCADE;
\set VERBOSITY terse

-- err(sql): runs a statement and shows its SQLSTATE and message, or "ok"
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

CREATE ROLE regress_tadmin LOGIN;
CREATE ROLE regress_tapp LOGIN;
CREATE ROLE regress_tnobody LOGIN;
GRANT invoice_admin TO regress_tadmin;
GRANT invoice_app TO regress_tapp;
GRANT invoice_app TO regress_tnobody;

-- the extension's roles exist, with the documented membership
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'invoice\_%' ORDER BY rolname COLLATE "C";
SELECT pg_has_role('invoice_service', 'invoice_app', 'MEMBER') AS service_is_app,
       pg_has_role('invoice_admin', 'invoice_service', 'MEMBER') AS admin_is_service;

-- row level security is enabled and forced on every table of the schema
SELECT relname, relrowsecurity, relforcerowsecurity
  FROM pg_class WHERE relnamespace = 'invoice'::regnamespace AND relkind IN ('r', 'p') AND NOT relispartition
 ORDER BY relname COLLATE "C";

-- the context GUCs can only be set by superusers
SELECT name, context FROM pg_settings WHERE name LIKE 'invoice.%' ORDER BY name COLLATE "C";

----------------------------------------------------------------------
-- create_organization
----------------------------------------------------------------------
SET ROLE regress_tadmin;
SELECT invoice.create_organization('tenancy-a', 'Joyería A', '900123456-8',
       '{"prefix": "FA", "number_from": 100, "number_to": 102, "resolution": "DIAN 18760000001",
         "valid_from": "2020-01-01", "valid_to": "2099-12-31"}') AS org_a \gset
SELECT invoice.create_organization('tenancy-b', 'Joyería B') AS org_b \gset
SELECT slug, name, tax_id, currency, default_tax_rate, prefix, number_from, number_to,
       resolution, to_char(valid_from, 'YYYY-MM-DD') AS valid_from, to_char(valid_to, 'YYYY-MM-DD') AS valid_to, timezone, rounding, is_active
  FROM invoice.organizations WHERE slug LIKE 'tenancy-%' ORDER BY slug COLLATE "C";
RESET ROLE;
SELECT count(*) AS numbering_rows FROM invoice.invoice_counters c JOIN invoice.organizations o USING (org_id)
 WHERE o.slug = 'tenancy-a';

SELECT count(*) AS orgs_before FROM invoice.organizations \gset
SET ROLE regress_tadmin;
-- bad input: each is refused with its field named, and nothing is written
SELECT pg_temp.err($$SELECT invoice.create_organization(NULL, 'x')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('ok-slug', NULL)$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('Bad Slug', 'x')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('tenancy-a', 'again')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('ok-slug', '   ')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('ok-slug', 'x', '900123456-7')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('ok-slug', 'x', '900.123.456-8')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('ok-slug', 'x', NULL, '[]')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('ok-slug', 'x', NULL, '{"colour": 1}')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('ok-slug', 'x', NULL, '{"currency": "pesos"}')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('ok-slug', 'x', NULL, '{"default_tax_rate": 101}')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('ok-slug', 'x', NULL, '{"default_tax_rate": "19"}')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('ok-slug', 'x', NULL, '{"prefix": "F V"}')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('ok-slug', 'x', NULL, '{"number_from": 0}')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('ok-slug', 'x', NULL, '{"number_from": 1.5}')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('ok-slug', 'x', NULL, '{"number_from": 10, "number_to": 5}')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('ok-slug', 'x', NULL, '{"valid_from": "2026-02-30"}')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('ok-slug', 'x', NULL, '{"valid_from": "2026-05-01", "valid_to": "2026-04-30"}')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('ok-slug', 'x', NULL, '{"timezone": "Mars/Olympus"}')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('ok-slug', 'x', NULL, '{"rounding": "invoice"}')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('ok-slug', 'x', NULL, '{"active": false}')$$);
RESET ROLE;
SELECT count(*) - :orgs_before AS orgs_written FROM invoice.organizations;

-- only invoice_admin creates tenants
SET ROLE regress_tapp;
SELECT pg_temp.err($$SELECT invoice.create_organization('app-made', 'x')$$);
RESET ROLE;

----------------------------------------------------------------------
-- grants and set_tenant
----------------------------------------------------------------------
SET ROLE regress_tadmin;
SELECT invoice.grant_tenant('regress_tapp', :org_a);
SELECT invoice.grant_tenant('regress_tapp', :org_a);	-- twice is fine
SELECT pg_temp.err($$SELECT invoice.grant_tenant('regress_no_such_role', 1)$$);
SELECT pg_temp.err(format('SELECT invoice.grant_tenant(%L, %s)', 'regress_tapp', 999999));
RESET ROLE;
SELECT count(*) AS grants FROM invoice.tenant_grants WHERE role_oid = 'regress_tapp'::regrole;

SET ROLE regress_tapp;
SELECT invoice.current_org() IS NULL AS no_context, invoice.current_user_id() IS NULL AS no_user;
BEGIN;
SELECT invoice.set_tenant(:org_a);
SELECT invoice.current_org() = :org_a AS in_a, invoice.current_user_id() IS NULL AS no_user;
SELECT slug FROM invoice.organizations;	-- only its own tenant
COMMIT;
-- the context ends with the transaction
SELECT invoice.current_org() IS NULL AS context_gone;
BEGIN;
-- not granted, and not existing: the same error
SELECT pg_temp.err(format('SELECT invoice.set_tenant(%s)', :org_b));
SELECT pg_temp.err('SELECT invoice.set_tenant(999999)');
SELECT pg_temp.err('SELECT invoice.set_tenant(NULL)');
ROLLBACK;
-- the context cannot be written by any other means
BEGIN;
SELECT invoice.set_tenant(:org_a);
SELECT pg_temp.err(format('SET invoice.org_id = %s', :org_b));
SELECT pg_temp.err(format('SET LOCAL invoice.org_id = %s', :org_b));
SELECT pg_temp.err(format($$SELECT set_config('invoice.org_id', '%s', true)$$, :org_b));
SELECT pg_temp.err('RESET invoice.org_id');
SELECT pg_temp.err('SET invoice.user_id = 1');
SELECT pg_temp.err('SET invoice.anything_else = 1');
RESET ALL;
SELECT invoice.current_org() = :org_a AS still_a;
-- like SET LOCAL, a context set in a rolled-back savepoint is undone
SAVEPOINT s;
SELECT invoice.set_tenant(:org_a);
ROLLBACK TO SAVEPOINT s;
SELECT invoice.current_org() = :org_a AS still_a_after_savepoint;
COMMIT;
RESET ROLE;

-- an application role without a grant cannot enter
SET ROLE regress_tnobody;
BEGIN;
SELECT pg_temp.err(format('SELECT invoice.set_tenant(%s)', :org_a));
ROLLBACK;
RESET ROLE;

-- revoke takes effect for the next transaction
SET ROLE regress_tadmin;
SELECT invoice.revoke_tenant('regress_tapp', :org_a);
SELECT invoice.revoke_tenant('regress_tapp', :org_a);
RESET ROLE;
SET ROLE regress_tapp;
BEGIN;
SELECT pg_temp.err(format('SELECT invoice.set_tenant(%s)', :org_a));
ROLLBACK;
RESET ROLE;
SET ROLE regress_tadmin;
SELECT invoice.grant_tenant('regress_tapp', :org_a);
RESET ROLE;

----------------------------------------------------------------------
-- users
----------------------------------------------------------------------
-- no context: a clear error
SELECT pg_temp.err($$SELECT invoice.add_user('Ana')$$);
SET ROLE regress_tadmin;
BEGIN;
SELECT invoice.set_tenant(:org_a);
SELECT invoice.add_user('Ana Admin', 'admin', 5551) AS ana \gset
SELECT invoice.add_user('Sergio Seller') AS sergio \gset
SELECT pg_temp.err($$SELECT invoice.add_user('  ')$$);
SELECT pg_temp.err($$SELECT invoice.add_user('X', 'owner')$$);
SELECT pg_temp.err($$SELECT invoice.add_user('X', NULL)$$);
SELECT pg_temp.err($$SELECT invoice.add_user('X', 'seller', -4)$$);
SELECT pg_temp.err($$SELECT invoice.add_user('X', 'seller', 5551)$$);
SELECT display_name, role, telegram_user_id, is_active FROM invoice.users ORDER BY user_id;
COMMIT;
RESET ROLE;

SET ROLE regress_tapp;
BEGIN;
-- a seller may not add users; an admin user may
SELECT invoice.set_tenant(:org_a, :sergio);
SELECT invoice.current_user_id() = :sergio AS acting_as_sergio;
SELECT pg_temp.err($$SELECT invoice.add_user('Eve')$$);
SELECT invoice.set_tenant(:org_a, :ana);
SELECT invoice.add_user('Carla Seller') IS NOT NULL AS added_by_tenant_admin;
-- a user of another tenant, or none, cannot be acted as
SELECT pg_temp.err(format('SELECT invoice.set_tenant(%s, 999999)', :org_a));
COMMIT;
RESET ROLE;

----------------------------------------------------------------------
-- update_organization (the settings cache follows every change)
----------------------------------------------------------------------
SET ROLE regress_tapp;
BEGIN;
SELECT invoice.set_tenant(:org_a, :sergio);
SELECT pg_temp.err(format($$SELECT invoice.update_organization(%s, '{"prefix": "X"}')$$, :org_a));
SELECT invoice.set_tenant(:org_a, :ana);
SELECT invoice.update_organization(:org_a, '{"default_tax_rate": 5}');
SELECT pg_temp.err(format($$SELECT invoice.update_organization(%s, '{"prefix": "X"}')$$, :org_b));
SELECT pg_temp.err(format($$SELECT invoice.update_organization(%s, '{"number_to": 50}')$$, :org_a));
SELECT pg_temp.err(format($$SELECT invoice.update_organization(%s, NULL)$$, :org_a));
SELECT default_tax_rate, prefix, number_to FROM invoice.organizations;
-- the new default rate is used at once
SELECT invoice.upsert_customer('CC', '1020304050', 'Cliente Uno') AS cust \gset
SELECT invoice.create_invoice(:cust, '[{"description": "Anillo", "quantity": 1, "unit_price": 100}]') AS inv \gset
SELECT tax_total, total FROM invoice.invoices WHERE invoice_id = :inv;
COMMIT;
RESET ROLE;

-- a tenant admin may not (de)activate its own tenant
SET ROLE regress_tapp;
BEGIN;
SELECT invoice.set_tenant(:org_a, :ana);
SELECT pg_temp.err(format($$SELECT invoice.update_organization(%s, '{"active": false}')$$, :org_a));
ROLLBACK;
RESET ROLE;

-- a grant is bound to the role's name as well as its OID: once renamed
-- (or dropped, its OID reused by a new role) the role has no grant
ALTER ROLE regress_tapp RENAME TO regress_tapp2;
SET ROLE regress_tapp2;
BEGIN;
SELECT pg_temp.err(format('SELECT invoice.set_tenant(%s)', :org_a));
ROLLBACK;
RESET ROLE;
ALTER ROLE regress_tapp2 RENAME TO regress_tapp;
SET ROLE regress_tapp;
BEGIN;
SELECT invoice.set_tenant(:org_a);
ROLLBACK;
RESET ROLE;

-- the context belongs to the role that entered: after SET ROLE to a role
-- without its privileges there is no context (and RLS shows nothing)
CREATE ROLE regress_tlesser;
GRANT invoice_app TO regress_tlesser;
BEGIN;
SELECT invoice.set_tenant(:org_a);
SELECT count(*) > 0 AS superuser_sees_rows FROM invoice.invoices WHERE org_id = :org_a;
SET LOCAL ROLE regress_tlesser;
SELECT invoice.current_org() IS NULL AS no_context_after_set_role,
       invoice.current_user_id() IS NULL AS no_user_after_set_role;
SELECT count(*) AS visible_invoices FROM invoice.invoices;
SELECT pg_temp.err($$SELECT invoice.upsert_customer('CC', '1234567', 'Nadie')$$);
RESET ROLE;
SELECT invoice.current_org() = :org_a AS context_back;
ROLLBACK;
DROP ROLE regress_tlesser;

-- the platform admin may deactivate a tenant; nobody enters it then
SET ROLE regress_tadmin;
SELECT invoice.update_organization(:org_b, '{"active": false}');
SELECT pg_temp.err(format($$SELECT invoice.update_organization(%s, '{}')$$, 999999));
RESET ROLE;
BEGIN;
SELECT pg_temp.err(format('SELECT invoice.set_tenant(%s)', :org_b));
ROLLBACK;
SET ROLE regress_tadmin;
SELECT invoice.update_organization(:org_b, '{"active": true}');
RESET ROLE;

-- clean up the roles (their grants go with the tenants of this database)
DELETE FROM invoice.tenant_grants WHERE role_oid IN ('regress_tapp'::regrole, 'regress_tadmin'::regrole);
DROP ROLE regress_tadmin;
DROP ROLE regress_tapp;
DROP ROLE regress_tnobody;
