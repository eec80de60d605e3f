-- test/pgtap/tenancy_admin.sql
--
-- Who may administer what: platform admins (invoice_admin) create tenants
-- and grant them; a tenant's admin user adds users and changes its own
-- tenant's settings; sellers, plain application roles and service roles do
-- neither.  Inactive tenants cannot be entered, and cannot be told apart
-- from missing ones by a role that was not granted them.
--
-- Everything runs in one transaction that is rolled back.

BEGIN;
SELECT plan(47);

/* ------------------------------------------------------------------------
 * Set-up, as superuser
 * ------------------------------------------------------------------------ */

CREATE ROLE regress_app NOLOGIN;			-- application role, granted tenant A
CREATE ROLE regress_service NOLOGIN;		-- enters every tenant, administers none
CREATE ROLE regress_platform NOLOGIN;		-- platform admin
GRANT invoice_app TO regress_app;
GRANT invoice_service TO regress_service;
GRANT invoice_admin TO regress_platform;

SELECT invoice.create_organization('regress-admin-a', 'Admin Tenant A') AS org_a \gset
SELECT invoice.create_organization('regress-admin-b', 'Admin Tenant B') AS org_b \gset
SELECT max(org_id) + 1000 AS org_none FROM invoice.organizations \gset
SELECT invoice.grant_tenant('regress_app', :org_a) AS ignored \gset

SELECT invoice.set_tenant(:org_a) AS ignored \gset
SELECT invoice.add_user('Admin A', 'admin') AS admin_a \gset
SELECT invoice.add_user('Seller A', 'seller') AS seller_a \gset
SELECT invoice.set_tenant(:org_b) AS ignored \gset
SELECT invoice.add_user('Admin B', 'admin') AS admin_b \gset
SELECT set_config('invoice.org_id', '', true) AS ignored,
	   set_config('invoice.user_id', '', true) AS ignored2 \gset

/* ------------------------------------------------------------------------
 * A plain application role
 * ------------------------------------------------------------------------ */

SET ROLE regress_app;

SELECT throws_ok($$SELECT invoice.create_organization('regress-evil', 'Evil')$$, '42501', NULL,
				 'app role: create_organization is refused');
SELECT throws_ok(format($$SELECT invoice.grant_tenant('regress_app', %s)$$, :org_b), '42501', NULL,
				 'app role: grant_tenant (of B, to itself) is refused');
SELECT throws_ok(format($$SELECT invoice.revoke_tenant('regress_app', %s)$$, :org_a), '42501', NULL,
				 'app role: revoke_tenant is refused');
SELECT throws_ok(format($$SELECT invoice.update_organization(%s, '{"prefix": "X"}')$$, :org_a), '42501', NULL,
				 'app role without a context: update_organization is refused');

-- in A, without an application user
SELECT invoice.set_tenant(:org_a) AS ignored \gset
SELECT throws_ok($$SELECT invoice.add_user('Mallory')$$, '42501',
				 format('permission denied to add users to tenant %s', :org_a),
				 'app role in A, no user: add_user is refused');
SELECT throws_ok(format($$SELECT invoice.update_organization(%s, '{"prefix": "X"}')$$, :org_a), '42501', NULL,
				 'app role in A, no user: update_organization(A) is refused');

-- in A, as a seller
SELECT invoice.set_tenant(:org_a, :seller_a) AS ignored \gset
SELECT throws_ok($$SELECT invoice.add_user('Mallory')$$, '42501',
				 format('permission denied to add users to tenant %s', :org_a),
				 'seller of A: add_user is refused');
SELECT throws_ok($$SELECT invoice.add_user('Mallory', 'admin')$$, '42501', NULL,
				 'seller of A: add_user of an admin is refused');
SELECT throws_ok(format($$SELECT invoice.update_organization(%s, '{"prefix": "X"}')$$, :org_a), '42501', NULL,
				 'seller of A: update_organization(A) is refused');

-- in A, as the admin of A
SELECT throws_ok(format('SELECT invoice.set_tenant(%s, %s)', :org_a, :admin_b), '42501', NULL,
				 'app role: set_tenant(A, the admin of B) is refused');
SELECT invoice.set_tenant(:org_a, :admin_a) AS ignored \gset
SELECT invoice.add_user('New seller A') AS new_seller \gset
SELECT results_eq(format('SELECT org_id, role, display_name FROM invoice.users WHERE user_id = %s', :new_seller),
				  format($$VALUES (%s::bigint, 'seller'::text, 'New seller A'::text)$$, :org_a),
				  'admin of A: add_user adds a seller to A');
SELECT lives_ok($$SELECT invoice.add_user('New admin A', 'admin')$$, 'admin of A: add_user of an admin works');
SELECT lives_ok(format($$SELECT invoice.update_organization(%s, '{"prefix": "FA"}')$$, :org_a),
				'admin of A: update_organization(A) works');
SELECT is((SELECT prefix FROM invoice.organizations), 'FA', 'admin of A: the new prefix is stored');
SELECT throws_ok(format($$SELECT invoice.update_organization(%s, '{"prefix": "X"}')$$, :org_b), '42501',
				 format('permission denied to update tenant %s', :org_b),
				 'admin of A: update_organization(B) is refused');
SELECT throws_ok(format($$SELECT invoice.update_organization(%s, '{"prefix": "X"}')$$, :org_none), '42501',
				 format('permission denied to update tenant %s', :org_none),
				 'admin of A: update_organization(no such tenant) is refused alike');
SELECT throws_ok($$SELECT invoice.create_organization('regress-evil', 'Evil')$$, '42501', NULL,
				 'admin of A: create_organization is refused');
SELECT throws_ok(format($$SELECT invoice.grant_tenant('regress_app', %s)$$, :org_b), '42501', NULL,
				 'admin of A: grant_tenant is refused');
SELECT throws_ok('SELECT count(*) FROM invoice.tenant_grants', '42501', NULL,
				 'admin of A: tenant_grants is not readable');
SELECT is((SELECT count(*) FROM invoice.users), 4::bigint, 'admin of A: sees A''s four users only');

RESET ROLE;
SELECT is((SELECT prefix FROM invoice.organizations WHERE org_id = :org_b), '', 'tenant B''s settings are untouched');
SELECT is((SELECT count(*) FROM invoice.users WHERE org_id = :org_b), 1::bigint, 'tenant B''s users are untouched');

/* ------------------------------------------------------------------------
 * A service role: enters every tenant, administers none
 * ------------------------------------------------------------------------ */

SELECT set_config('invoice.org_id', '', true) AS ignored,
	   set_config('invoice.user_id', '', true) AS ignored2 \gset
SET ROLE regress_service;

SELECT lives_ok(format('SELECT invoice.set_tenant(%s)', :org_b), 'service role: set_tenant(B) works without a grant');
SELECT is((SELECT count(*) FROM invoice.users), 1::bigint, 'service role in B: sees B''s users only');
SELECT throws_ok($$SELECT invoice.add_user('Mallory')$$, '42501', NULL,
				 'service role in B, no user: add_user is refused');
SELECT throws_ok($$SELECT invoice.create_organization('regress-evil', 'Evil')$$, '42501', NULL,
				 'service role: create_organization is refused');
SELECT throws_ok(format($$SELECT invoice.grant_tenant('regress_service', %s)$$, :org_b), '42501', NULL,
				 'service role: grant_tenant is refused');
SELECT throws_ok(format('SELECT invoice.set_tenant(%s)', :org_none), '42501',
				 format('permission denied for tenant %s', :org_none),
				 'service role: set_tenant(no such tenant) is refused');

/* ------------------------------------------------------------------------
 * A platform admin
 * ------------------------------------------------------------------------ */

RESET ROLE;
SELECT set_config('invoice.org_id', '', true) AS ignored,
	   set_config('invoice.user_id', '', true) AS ignored2 \gset
SET ROLE regress_platform;

SELECT lives_ok($$SELECT invoice.create_organization('regress-admin-c', 'Admin Tenant C', '900123456-8', '{"prefix": "C"}')$$,
				'platform admin: create_organization works');
SELECT org_id AS org_c FROM invoice.organizations WHERE slug = 'regress-admin-c' \gset
SELECT results_eq($$SELECT slug FROM invoice.organizations WHERE slug LIKE 'regress-admin-%' ORDER BY slug COLLATE "C"$$,
				  $$VALUES ('regress-admin-a'::text), ('regress-admin-b'), ('regress-admin-c')$$,
				  'platform admin: lists every tenant');
SELECT throws_ok($$INSERT INTO invoice.organizations (slug, name) VALUES ('regress-direct', 'Direct')$$, '42501', NULL,
				 'platform admin: INSERT into organizations directly is refused');
SELECT throws_ok($$SELECT invoice.create_organization('regress-admin-c', 'Again')$$, '23505', NULL,
				 'platform admin: a duplicate slug is refused');
SELECT lives_ok(format($$SELECT invoice.grant_tenant('regress_app', %s)$$, :org_c),
				'platform admin: grant_tenant works');
SELECT is((SELECT count(*) FROM invoice.tenant_grants WHERE role_oid = 'regress_app'::regrole), 2::bigint,
		  'platform admin: reads the grants');
SELECT lives_ok(format($$SELECT invoice.update_organization(%s, '{"prefix": "FB"}')$$, :org_b),
				'platform admin: update_organization of any tenant works');
SELECT invoice.set_tenant(:org_b) AS ignored \gset
SELECT lives_ok($$SELECT invoice.add_user('Seller B')$$, 'platform admin in B, no user: add_user works');

-- the app role enters C now; then C is revoked, and then deactivated
RESET ROLE;
SET ROLE regress_app;
SELECT lives_ok(format('SELECT invoice.set_tenant(%s)', :org_c), 'app role: set_tenant(C) works once granted');
SELECT is(invoice.current_org(), :org_c::bigint, 'app role: the context is C');

RESET ROLE;
SET ROLE regress_platform;
SELECT lives_ok(format($$SELECT invoice.revoke_tenant('regress_app', %s)$$, :org_c),
				'platform admin: revoke_tenant works');
RESET ROLE;
SET ROLE regress_app;
SELECT throws_ok(format('SELECT invoice.set_tenant(%s)', :org_c), '42501',
				 format('permission denied for tenant %s', :org_c),
				 'app role: set_tenant(C) is refused once revoked');

RESET ROLE;
SET ROLE regress_platform;
SELECT lives_ok(format($$SELECT invoice.update_organization(%s, '{"active": false}')$$, :org_c),
				'platform admin: a tenant can be deactivated');
SELECT lives_ok(format($$SELECT invoice.grant_tenant('regress_app', %s)$$, :org_c),
				'platform admin: grant_tenant(C) again');
RESET ROLE;
SET ROLE regress_app;
SELECT throws_ok(format('SELECT invoice.set_tenant(%s)', :org_c), '42501', NULL,
				 'app role: set_tenant(an inactive tenant it was granted) is refused');

-- a role that was never granted C cannot tell "inactive" from "missing"
RESET ROLE;
SET ROLE regress_platform;
SELECT lives_ok(format($$SELECT invoice.revoke_tenant('regress_app', %s)$$, :org_c),
				'platform admin: revoke_tenant(C) again');
RESET ROLE;
SET ROLE regress_app;
SELECT throws_ok(format('SELECT invoice.set_tenant(%s)', :org_c), '42501',
				 format('permission denied for tenant %s', :org_c),
				 'app role: set_tenant(an inactive tenant it was not granted) fails like a missing one');
SELECT throws_ok(format('SELECT invoice.set_tenant(%s)', :org_none), '42501',
				 format('permission denied for tenant %s', :org_none),
				 'app role: set_tenant(no such tenant) fails alike');
SELECT is(invoice.current_org(), :org_c::bigint, 'app role: failed set_tenant calls keep the context it had');

RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
