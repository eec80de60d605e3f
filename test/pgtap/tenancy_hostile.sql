-- test/pgtap/tenancy_hostile.sql
--
-- Tenant isolation as a hostile non-superuser: a member of invoice_app that
-- was granted tenant A only tries to see, infer, change and enter tenant B,
-- to write the tenant tables directly, and to forge the tenant context.
-- Ends with the immutability of issued invoices (API and superuser).
--
-- Everything runs in one transaction that is rolled back.

BEGIN;
SELECT plan(205);

/* ------------------------------------------------------------------------
 * Set-up, as superuser: two tenants with users, customers and invoices
 * ------------------------------------------------------------------------ */

CREATE ROLE regress_hostile NOLOGIN;
CREATE ROLE regress_tenant_b NOLOGIN;
GRANT invoice_app TO regress_hostile, regress_tenant_b;
CREATE SCHEMA regress_scratch AUTHORIZATION regress_hostile;

SELECT invoice.create_organization('regress-tenant-a', 'Tenant A', NULL, '{"prefix": "A"}') AS org_a \gset
SELECT invoice.create_organization('regress-tenant-b', 'Tenant B', NULL, '{"prefix": "B"}') AS org_b \gset
SELECT max(org_id) + 1000 AS org_none FROM invoice.organizations \gset
SELECT invoice.grant_tenant('regress_hostile', :org_a) AS ignored \gset
SELECT invoice.grant_tenant('regress_tenant_b', :org_b) AS ignored \gset

SELECT invoice.set_tenant(:org_a) AS ignored \gset
SELECT invoice.add_user('Admin A', 'admin') AS admin_a \gset
SELECT invoice.add_user('Seller A') AS seller_a \gset
SELECT invoice.upsert_customer('CC', '1001', 'Ana Alpha') AS cust_a1 \gset
SELECT invoice.upsert_customer('CC', '1002', 'Alba Alpha') AS cust_a2 \gset
SELECT invoice.create_invoice(:cust_a1,
	'[{"description": "Ring A", "quantity": 1, "unit_price": 100}]',
	'a-draft') AS inv_a_draft \gset
SELECT invoice.create_invoice(:cust_a2,
	'[{"description": "Chain A", "quantity": 1, "unit_price": 200},
	  {"description": "Clasp A", "quantity": 2, "unit_price": 10}]',
	'a-issued') AS inv_a_issued \gset
SELECT invoice.issue(:inv_a_issued) AS ignored \gset
SELECT invoice.record_payment(:inv_a_issued, 10) AS ignored \gset

SELECT invoice.set_tenant(:org_b) AS ignored \gset
SELECT invoice.add_user('Admin B', 'admin') AS admin_b \gset
SELECT invoice.add_user('Seller B') AS seller_b \gset
SELECT invoice.add_user('Other B') AS ignored \gset
SELECT invoice.upsert_customer('CC', '2001', 'Beto Beta') AS cust_b1 \gset
SELECT invoice.upsert_customer('CC', '2002', 'Bea Beta') AS ignored \gset
SELECT invoice.upsert_customer('CC', '2003', 'Bruno Beta') AS ignored \gset
SELECT invoice.create_invoice(:cust_b1,
	'[{"description": "Ring B", "quantity": 1, "unit_price": 300},
	  {"description": "Box B", "quantity": 1, "unit_price": 5}]',
	'b-draft') AS inv_b_draft \gset
SELECT invoice.create_invoice(:cust_b1,
	'[{"description": "Bracelet B", "quantity": 1, "unit_price": 400},
	  {"description": "Polish B", "quantity": 1, "unit_price": 20}]',
	'b-issued') AS inv_b_issued \gset
SELECT invoice.issue(:inv_b_issued) AS ignored \gset
SELECT invoice.record_payment(:inv_b_issued, 5) AS ignored \gset
-- B's frequent values, for the planner statistics below: 40 customers of
-- one name and e-mail, a draft of 200 items of one description and SKU
SELECT count(invoice.upsert_customer('CC', (3000 + i)::text, 'Bárbara Secreta',
									 'secreta@b.example', '3001234567', 'Calle Secreta 1'))
  FROM generate_series(1, 40) i \gset
SELECT invoice.create_invoice(:cust_b1,
	(SELECT jsonb_agg(jsonb_build_object('description', 'Diadema secreta de B', 'sku', 'SECRET-B',
										 'quantity', 1, 'unit_price', 1)) FROM generate_series(1, 200)),
	'nota secreta de B') AS ignored \gset
-- and the audit rows of all this in the log now, not at commit
SET CONSTRAINTS ALL IMMEDIATE;
SET CONSTRAINTS ALL DEFERRED;

-- ids that no row of any tenant has
SELECT max(invoice_id) + 1000 AS inv_none FROM invoice.invoices \gset
SELECT max(customer_id) + 1000 AS cust_none FROM invoice.customers \gset
SELECT max(user_id) + 1000 AS user_none FROM invoice.users \gset

-- leave the superuser's context, and give pg_stats something to show
SELECT set_config('invoice.org_id', '', true) AS ignored,
	   set_config('invoice.user_id', '', true) AS ignored2 \gset
ANALYZE invoice.organizations, invoice.users, invoice.customers,
	invoice.invoices, invoice.invoice_items, invoice.payments, invoice.audit_log;

/* ------------------------------------------------------------------------
 * The hostile role, without a tenant context
 * ------------------------------------------------------------------------ */

SET ROLE regress_hostile;

-- a helper that reports an error as text, with one id replaced by <id>,
-- so that two errors can be compared for equality
CREATE FUNCTION regress_scratch.error_of(sql text, id bigint)
RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
	st text;
	msg text;
	det text;
	hnt text;
BEGIN
	EXECUTE sql;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
		det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
	RETURN concat_ws(' | ', st, regexp_replace(msg, '\m' || id || '\M', '<id>', 'g'), det, hnt);
END
$fn$;

-- the planner's row estimate of a query, as EXPLAIN shows it to any reader
CREATE FUNCTION regress_scratch.estimate(sql text)
RETURNS numeric LANGUAGE plpgsql AS $fn$
DECLARE
	plan json;
BEGIN
	EXECUTE 'EXPLAIN (FORMAT JSON) ' || sql INTO plan;
	RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::numeric;
END
$fn$;

SELECT is(current_user, 'regress_hostile', 'the tests run as the hostile role');
SELECT ok(NOT pg_has_role('regress_hostile', 'invoice_service', 'USAGE')
		  AND NOT (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = 'regress_hostile'),
		  'the hostile role is a plain application role');
SELECT is(invoice.current_org(), NULL, 'no tenant context to begin with');
SELECT is(invoice.current_user_id(), NULL, 'no application user to begin with');
SELECT is(current_setting('invoice.org_id'), '', 'invoice.org_id is empty to begin with');

SELECT is_empty('SELECT * FROM invoice.organizations', 'no context: organizations shows nothing');
SELECT is_empty('SELECT * FROM invoice.users', 'no context: users shows nothing');
SELECT is_empty('SELECT * FROM invoice.customers', 'no context: customers shows nothing');
SELECT is_empty('SELECT * FROM invoice.invoices', 'no context: invoices shows nothing');
SELECT is_empty('SELECT * FROM invoice.invoice_items', 'no context: invoice_items shows nothing');
SELECT is_empty('SELECT * FROM invoice.payments', 'no context: payments shows nothing');
SELECT results_eq(
	'SELECT (SELECT count(*) FROM invoice.organizations) + (SELECT count(*) FROM invoice.users)
	      + (SELECT count(*) FROM invoice.customers) + (SELECT count(*) FROM invoice.invoices)
	      + (SELECT count(*) FROM invoice.invoice_items) + (SELECT count(*) FROM invoice.payments)',
	$$VALUES (0::bigint)$$,
	'no context: every count is zero');
SELECT throws_ok('SELECT count(*) FROM invoice.tenant_grants', '42501', NULL,
				 'no context: tenant_grants is not readable');
SELECT throws_ok('SELECT count(*) FROM invoice.invoice_counters', '42501', NULL,
				 'no context: invoice_counters is not readable');

-- every tenant-scoped function needs a context
SELECT throws_ok($$SELECT invoice.upsert_customer('CC', '3001', 'X')$$, '42501', 'no tenant context',
				 'no context: upsert_customer fails');
SELECT throws_ok(format('SELECT invoice.create_invoice(%s)', :cust_a1), '42501', 'no tenant context',
				 'no context: create_invoice fails');
SELECT throws_ok(format($$SELECT invoice.add_item(%s, '{"description": "x", "quantity": 1, "unit_price": 1}')$$, :inv_a_draft),
				 '42501', 'no tenant context', 'no context: add_item fails');
SELECT throws_ok(format($$SELECT invoice.update_item(%s, 1, '{"quantity": 2}')$$, :inv_a_draft),
				 '42501', 'no tenant context', 'no context: update_item fails');
SELECT throws_ok(format('SELECT invoice.remove_item(%s, 1)', :inv_a_draft),
				 '42501', 'no tenant context', 'no context: remove_item fails');
SELECT throws_ok(format('SELECT invoice.set_customer(%s, %s)', :inv_a_draft, :cust_a2),
				 '42501', 'no tenant context', 'no context: set_customer fails');
SELECT throws_ok(format('SELECT invoice.issue(%s)', :inv_a_draft),
				 '42501', 'no tenant context', 'no context: issue fails');
SELECT throws_ok(format($$SELECT invoice.void(%s, 'x')$$, :inv_a_issued),
				 '42501', 'no tenant context', 'no context: void fails');
SELECT throws_ok(format('SELECT invoice.record_payment(%s, 1)', :inv_a_issued),
				 '42501', 'no tenant context', 'no context: record_payment fails');
SELECT throws_ok(format('SELECT invoice.delete_draft(%s)', :inv_a_draft),
				 '42501', 'no tenant context', 'no context: delete_draft fails');
SELECT throws_ok($$SELECT invoice.add_user('X')$$, '42501', 'no tenant context',
				 'no context: add_user fails');
SELECT matches(regress_scratch.error_of(format('SELECT invoice.issue(%s)', :inv_a_draft), 0),
			   'Call invoice\.set_tenant', 'the error says to call invoice.set_tenant');

-- not even its own tenant can be entered by writing the GUC
SELECT throws_ok(format('SET invoice.org_id = %s', :org_a), '42501', NULL,
				 'no context: SET invoice.org_id (own tenant) is refused');
SELECT throws_ok(format($$SELECT set_config('invoice.org_id', '%s', false)$$, :org_a), '42501', NULL,
				 'no context: set_config(invoice.org_id) is refused');
SELECT is(invoice.current_org(), NULL, 'no context: still no context after the attempts');

/* ------------------------------------------------------------------------
 * Planner statistics: EXPLAIN does not tell another tenant's values
 * ------------------------------------------------------------------------ */

-- (query, B's frequent value, a value nobody has)
SELECT is(regress_scratch.estimate(format(q, frequent)), regress_scratch.estimate(format(q, absent)),
		  format('no context: EXPLAIN estimates %s alike for B''s frequent value and an absent one', what))
  FROM (VALUES
	('customers.name', 'SELECT * FROM invoice.customers WHERE name = %L', 'Bárbara Secreta', 'Nadie Nunca'),
	('customers.name <', 'SELECT * FROM invoice.customers WHERE name < %L', 'Bárbara Secreta', 'Aaaa'),
	('customers.email', 'SELECT * FROM invoice.customers WHERE email = %L', 'secreta@b.example', 'nadie@x.example'),
	('customers.phone', 'SELECT * FROM invoice.customers WHERE phone = %L', '3001234567', '3999999999'),
	('customers.address', 'SELECT * FROM invoice.customers WHERE address = %L', 'Calle Secreta 1', 'Calle Falsa 123'),
	('invoice_items.description', 'SELECT * FROM invoice.invoice_items WHERE description = %L', 'Diadema secreta de B', 'Nada'),
	('invoice_items.description <', 'SELECT * FROM invoice.invoice_items WHERE description < %L', 'Diadema secreta de B', 'Aaaa'),
	('invoice_items.sku', 'SELECT * FROM invoice.invoice_items WHERE sku = %L', 'SECRET-B', 'NONE'),
	('invoices.notes', 'SELECT * FROM invoice.invoices WHERE notes = %L', 'nota secreta de B', 'ninguna'),
	('audit_log.db_role', 'SELECT * FROM invoice.audit_log WHERE db_role = %L', session_user, 'regress_nobody'),
	('audit_log.new_row', 'SELECT * FROM invoice.audit_log WHERE new_row < %L', '{"name": "Bárbara Secreta"}', '{}')
  ) AS t(what, q, frequent, absent);

/* ------------------------------------------------------------------------
 * set_tenant: who may enter which tenant, without enumeration
 * ------------------------------------------------------------------------ */

SELECT throws_ok(format('SELECT invoice.set_tenant(%s)', :org_b), '42501',
				 format('permission denied for tenant %s', :org_b),
				 'set_tenant(B) is refused');
SELECT throws_ok(format('SELECT invoice.set_tenant(%s)', :org_none), '42501',
				 format('permission denied for tenant %s', :org_none),
				 'set_tenant(a tenant that does not exist) is refused');
SELECT is(regress_scratch.error_of(format('SELECT invoice.set_tenant(%s)', :org_b), :org_b),
		  regress_scratch.error_of(format('SELECT invoice.set_tenant(%s)', :org_none), :org_none),
		  'set_tenant(B) and set_tenant(no such tenant) fail alike (code, message, hint)');
SELECT throws_ok('SELECT invoice.set_tenant(NULL)', '22004', NULL, 'set_tenant(NULL) is refused');
SELECT throws_ok(format('SELECT invoice.set_tenant(%s, %s)', :org_a, :seller_b), '42501', NULL,
				 'set_tenant(A, a user of B) is refused');
SELECT is(regress_scratch.error_of(format('SELECT invoice.set_tenant(%s, %s)', :org_a, :seller_b), :seller_b),
		  regress_scratch.error_of(format('SELECT invoice.set_tenant(%s, %s)', :org_a, :user_none), :user_none),
		  'set_tenant(A, a user of B) and set_tenant(A, no such user) fail alike');
SELECT throws_ok(format('SELECT invoice.set_tenant(%s, %s)', :org_b, :seller_b), '42501', NULL,
				 'set_tenant(B, a user of B) is refused');
SELECT is(invoice.current_org(), NULL, 'failed set_tenant calls leave no context');

-- a savepoint rolled back takes the context with it
SAVEPOINT before_enter;
SELECT invoice.set_tenant(:org_a) AS ignored \gset
SELECT invoice.current_org() AS org_in_savepoint \gset
ROLLBACK TO SAVEPOINT before_enter;
SELECT is(:org_in_savepoint::bigint, :org_a::bigint, 'set_tenant(A) inside a savepoint enters A');
SELECT is(invoice.current_org(), NULL, 'ROLLBACK TO SAVEPOINT undoes set_tenant');

-- enter A for good (in this transaction)
SELECT invoice.set_tenant(:org_a) AS ignored \gset
SELECT is(invoice.current_org(), :org_a::bigint, 'set_tenant(A) enters A');
SELECT is(current_setting('invoice.org_id'), :'org_a', 'invoice.org_id holds A');

SAVEPOINT before_user;
SELECT invoice.set_tenant(:org_a, :seller_a) AS ignored \gset
SELECT invoice.current_user_id() AS user_in_savepoint \gset
ROLLBACK TO SAVEPOINT before_user;
SELECT is(:user_in_savepoint::bigint, :seller_a::bigint, 'set_tenant(A, seller) inside a savepoint acts as the seller');
SELECT is(invoice.current_user_id(), NULL, 'ROLLBACK TO SAVEPOINT gives the previous user back');
SELECT is(invoice.current_org(), :org_a::bigint, 'ROLLBACK TO SAVEPOINT keeps the previous tenant');

SELECT throws_ok(format('SELECT invoice.set_tenant(%s)', :org_b), '42501', NULL,
				 'in A: set_tenant(B) is refused');
SELECT is(invoice.current_org(), :org_a::bigint, 'in A: a refused set_tenant(B) leaves the context at A');

/* ------------------------------------------------------------------------
 * Reading in tenant A: only A, and nothing to infer about B
 * ------------------------------------------------------------------------ */

SELECT results_eq('SELECT org_id FROM invoice.organizations',
				  format('VALUES (%s::bigint)', :org_a), 'in A: organizations shows A only');
SELECT is((SELECT count(*) FROM invoice.users), 2::bigint, 'in A: count(users) counts A only');
SELECT is((SELECT count(*) FROM invoice.customers), 2::bigint, 'in A: count(customers) counts A only');
SELECT is((SELECT count(*) FROM invoice.invoices), 2::bigint, 'in A: count(invoices) counts A only');
SELECT is((SELECT count(*) FROM invoice.invoice_items), 3::bigint, 'in A: count(invoice_items) counts A only');
SELECT is((SELECT count(*) FROM invoice.payments), 1::bigint, 'in A: count(payments) counts A only');
SELECT is_empty(format('SELECT 1 FROM invoice.organizations WHERE org_id <> %s', :org_a), 'in A: no other organization');
SELECT is_empty(format('SELECT 1 FROM invoice.users WHERE org_id <> %s', :org_a), 'in A: no user of another tenant');
SELECT is_empty(format('SELECT 1 FROM invoice.customers WHERE org_id <> %s', :org_a), 'in A: no customer of another tenant');
SELECT is_empty(format('SELECT 1 FROM invoice.invoices WHERE org_id <> %s', :org_a), 'in A: no invoice of another tenant');
SELECT is_empty(format('SELECT 1 FROM invoice.invoice_items WHERE org_id <> %s', :org_a), 'in A: no item of another tenant');
SELECT is_empty(format('SELECT 1 FROM invoice.payments WHERE org_id <> %s', :org_a), 'in A: no payment of another tenant');
SELECT is_empty(format('SELECT 1 FROM invoice.invoices WHERE invoice_id IN (%s, %s)', :inv_b_draft, :inv_b_issued),
				'in A: B''s invoices are not found by id');
SELECT is_empty(format('SELECT 1 FROM invoice.customers WHERE customer_id = %s', :cust_b1),
				'in A: B''s customer is not found by id');
SELECT results_eq('SELECT sum(total), sum(amount_paid), max(number) FROM invoice.invoices',
				  $$VALUES (380.80::numeric, 10.00::numeric, 1::bigint)$$,
				  'in A: aggregates over invoices add up A only');
SELECT results_eq('SELECT count(*), sum(amount) FROM invoice.payments',
				  $$VALUES (1::bigint, 10.00::numeric)$$,
				  'in A: aggregates over payments add up A only');
SELECT throws_ok('SELECT count(*) FROM invoice.tenant_grants', '42501', NULL,
				 'in A: tenant_grants is not readable');
SELECT throws_ok('SELECT count(*) FROM invoice.invoice_counters', '42501', NULL,
				 'in A: invoice_counters is not readable');
SELECT throws_ok('SELECT last_value FROM invoice.invoice_id_seq', '42501', NULL,
				 'in A: the invoice id sequence is not readable');
SELECT throws_ok($$SELECT nextval('invoice.invoice_id_seq')$$, '42501', NULL,
				 'in A: the invoice id sequence cannot be advanced');
SELECT is_empty($$SELECT 1 FROM pg_stats WHERE schemaname = 'invoice'$$,
				'in A: pg_stats shows no statistics (values) of the tenant tables');

-- a leaky function in a WHERE clause only ever sees A's rows
CREATE TABLE regress_scratch.seen (name text);
CREATE FUNCTION regress_scratch.leak(text) RETURNS boolean
LANGUAGE plpgsql COST 0.0001 AS $fn$
BEGIN
	INSERT INTO regress_scratch.seen VALUES ($1);
	RETURN true;
END
$fn$;
SELECT is((SELECT count(*) FROM invoice.customers WHERE regress_scratch.leak(name)), 2::bigint,
		  'in A: a query with a leaky function returns A''s rows');
SELECT results_eq('SELECT name FROM regress_scratch.seen ORDER BY name COLLATE "C"',
				  $$VALUES ('Alba Alpha'), ('Ana Alpha')$$,
				  'in A: the leaky function was never called with another tenant''s row');

/* ------------------------------------------------------------------------
 * Writing the tables directly: refused, even for A's own rows
 * ------------------------------------------------------------------------ */

SELECT throws_ok(format($$INSERT INTO invoice.organizations (slug, name) VALUES ('regress-evil', 'Evil')$$), '42501', NULL,
				 'INSERT into organizations is refused');
SELECT throws_ok(format($$UPDATE invoice.organizations SET name = 'Evil' WHERE org_id = %s$$, :org_a), '42501', NULL,
				 'UPDATE of A''s organization is refused');
SELECT throws_ok(format('DELETE FROM invoice.organizations WHERE org_id = %s', :org_a), '42501', NULL,
				 'DELETE of A''s organization is refused');
SELECT throws_ok('TRUNCATE invoice.organizations CASCADE', '42501', NULL, 'TRUNCATE organizations is refused');

SELECT throws_ok(format($$INSERT INTO invoice.users (org_id, display_name, role) VALUES (%s, 'Evil', 'admin')$$, :org_a), '42501', NULL,
				 'INSERT into users (an admin of A) is refused');
SELECT throws_ok(format($$UPDATE invoice.users SET role = 'admin' WHERE org_id = %s$$, :org_a), '42501', NULL,
				 'UPDATE of A''s users is refused');
SELECT throws_ok(format('DELETE FROM invoice.users WHERE org_id = %s', :org_a), '42501', NULL,
				 'DELETE of A''s users is refused');
SELECT throws_ok('TRUNCATE invoice.users CASCADE', '42501', NULL, 'TRUNCATE users is refused');

SELECT throws_ok(format($$INSERT INTO invoice.customers (org_id, id_type, id_number, name) VALUES (%s, 'CC', '9999', 'Evil')$$, :org_a), '42501', NULL,
				 'INSERT into customers is refused');
SELECT throws_ok(format($$UPDATE invoice.customers SET name = 'Evil' WHERE org_id = %s$$, :org_a), '42501', NULL,
				 'UPDATE of A''s customers is refused');
SELECT throws_ok(format('DELETE FROM invoice.customers WHERE org_id = %s', :org_a), '42501', NULL,
				 'DELETE of A''s customers is refused');
SELECT throws_ok('TRUNCATE invoice.customers CASCADE', '42501', NULL, 'TRUNCATE customers is refused');

SELECT throws_ok(format($$INSERT INTO invoice.invoices (org_id, customer_id, currency) VALUES (%s, %s, 'COP')$$, :org_a, :cust_a1), '42501', NULL,
				 'INSERT into invoices is refused');
SELECT throws_ok(format('UPDATE invoice.invoices SET total = 0 WHERE org_id = %s', :org_a), '42501', NULL,
				 'UPDATE of A''s invoices is refused');
SELECT throws_ok(format('DELETE FROM invoice.invoices WHERE org_id = %s', :org_a), '42501', NULL,
				 'DELETE of A''s invoices is refused');
SELECT throws_ok('TRUNCATE invoice.invoices CASCADE', '42501', NULL, 'TRUNCATE invoices is refused');

SELECT throws_ok(format($$INSERT INTO invoice.invoice_items (org_id, invoice_id, line_no, description, quantity, unit_price, tax_rate, base, discount, net, tax, line_total)
						 VALUES (%s, %s, 9, 'Evil', 1, 0, 0, 0, 0, 0, 0, 0)$$, :org_a, :inv_a_issued), '42501', NULL,
				 'INSERT into invoice_items is refused');
SELECT throws_ok(format('UPDATE invoice.invoice_items SET unit_price = 0 WHERE org_id = %s', :org_a), '42501', NULL,
				 'UPDATE of A''s invoice_items is refused');
SELECT throws_ok(format('DELETE FROM invoice.invoice_items WHERE org_id = %s', :org_a), '42501', NULL,
				 'DELETE of A''s invoice_items is refused');
SELECT throws_ok('TRUNCATE invoice.invoice_items', '42501', NULL, 'TRUNCATE invoice_items is refused');

SELECT throws_ok(format($$INSERT INTO invoice.payments (org_id, invoice_id, amount, method) VALUES (%s, %s, 1, 'cash')$$, :org_a, :inv_a_issued), '42501', NULL,
				 'INSERT into payments is refused');
SELECT throws_ok(format('UPDATE invoice.payments SET amount = 1000 WHERE org_id = %s', :org_a), '42501', NULL,
				 'UPDATE of A''s payments is refused');
SELECT throws_ok(format('DELETE FROM invoice.payments WHERE org_id = %s', :org_a), '42501', NULL,
				 'DELETE of A''s payments is refused');
SELECT throws_ok('TRUNCATE invoice.payments', '42501', NULL, 'TRUNCATE payments is refused');

SELECT throws_ok(format('INSERT INTO invoice.tenant_grants (org_id, role_oid) VALUES (%s, %s)',
						:org_b, 'regress_hostile'::regrole::oid), '42501', NULL,
				 'INSERT into tenant_grants (a grant of B to itself) is refused');
SELECT throws_ok(format('UPDATE invoice.tenant_grants SET org_id = %s', :org_b), '42501', NULL,
				 'UPDATE of tenant_grants is refused');
SELECT throws_ok('DELETE FROM invoice.tenant_grants', '42501', NULL, 'DELETE of tenant_grants is refused');
SELECT throws_ok('TRUNCATE invoice.tenant_grants', '42501', NULL, 'TRUNCATE tenant_grants is refused');
SELECT throws_ok(format('UPDATE invoice.invoice_counters SET org_id = org_id WHERE org_id = %s', :org_a), '42501', NULL,
				 'UPDATE of A''s invoice counter is refused');
SELECT throws_ok(format('DELETE FROM invoice.invoice_counters WHERE org_id = %s', :org_a), '42501', NULL,
				 'DELETE of A''s invoice counter is refused');

-- nor can it lock the tables or rows the API needs, or change their rules
SELECT throws_ok('SELECT 1 FROM invoice.invoices FOR UPDATE', '42501', NULL,
				 'SELECT ... FOR UPDATE on invoices is refused');
SELECT throws_ok('SELECT 1 FROM invoice.invoices FOR SHARE', '42501', NULL,
				 'SELECT ... FOR SHARE on invoices is refused');
SELECT throws_ok('LOCK TABLE invoice.invoices IN SHARE MODE', '42501', NULL,
				 'LOCK TABLE invoices IN SHARE MODE is refused');
SELECT throws_ok('LOCK TABLE invoice.invoice_counters IN ACCESS SHARE MODE', '42501', NULL,
				 'LOCK TABLE invoice_counters is refused');
SELECT throws_ok('ALTER TABLE invoice.customers NO FORCE ROW LEVEL SECURITY', '42501', NULL,
				 'ALTER TABLE ... NO FORCE ROW LEVEL SECURITY is refused');
SELECT throws_ok('DROP POLICY tenant_isolation ON invoice.customers', '42501', NULL,
				 'DROP POLICY is refused');
SELECT throws_ok('CREATE POLICY regress_all ON invoice.customers FOR SELECT USING (true)', '42501', NULL,
				 'CREATE POLICY is refused');
SELECT throws_ok('ALTER TABLE invoice.invoices DISABLE TRIGGER invoices_guard', '42501', NULL,
				 'disabling the guard trigger is refused');
SELECT throws_ok($$CREATE OR REPLACE FUNCTION invoice.current_org() RETURNS bigint LANGUAGE sql AS 'SELECT 1::bigint'$$, '42501', NULL,
				 'replacing invoice.current_org() is refused');

/* ------------------------------------------------------------------------
 * Forging the context while in A
 * ------------------------------------------------------------------------ */

SELECT throws_ok(format('SET invoice.org_id = %s', :org_b), '42501', NULL, 'SET invoice.org_id is refused');
SELECT throws_ok(format('SET LOCAL invoice.org_id = %s', :org_b), '42501', NULL, 'SET LOCAL invoice.org_id is refused');
SELECT throws_ok(format($$SELECT set_config('invoice.org_id', '%s', true)$$, :org_b), '42501', NULL,
				 'set_config(invoice.org_id, ..., true) is refused');
SELECT throws_ok(format($$SELECT set_config('invoice.org_id', '%s', false)$$, :org_b), '42501', NULL,
				 'set_config(invoice.org_id, ..., false) is refused');
SELECT throws_ok($$SELECT set_config('invoice.org_id', '', true)$$, '42501', NULL,
				 'set_config(invoice.org_id, '''') (clearing it) is refused');
SELECT throws_ok('RESET invoice.org_id', '42501', NULL, 'RESET invoice.org_id is refused');
SELECT throws_ok('SET invoice.org_id TO DEFAULT', '42501', NULL, 'SET invoice.org_id TO DEFAULT is refused');
SELECT throws_ok(format('SET invoice.user_id = %s', :admin_a), '42501', NULL, 'SET invoice.user_id is refused');
SELECT throws_ok(format($$SELECT set_config('invoice.user_id', '%s', true)$$, :admin_a), '42501', NULL,
				 'set_config(invoice.user_id) is refused');
SELECT throws_ok(format('ALTER ROLE CURRENT_USER SET invoice.org_id = %s', :org_b), '42501', NULL,
				 'ALTER ROLE CURRENT_USER SET invoice.org_id is refused');
SELECT throws_ok('SET invoice.other_thing = 1', '42602', NULL,
				 'a placeholder under the reserved invoice prefix is refused');
SELECT throws_ok($$SELECT set_config('invoice.other_thing', '1', false)$$, '42602', NULL,
				 'set_config of a placeholder under the reserved invoice prefix is refused');
SELECT throws_ok(format($$CREATE FUNCTION regress_scratch.enter_b() RETURNS bigint LANGUAGE sql
						 SET invoice.org_id = '%s' AS 'SELECT invoice.current_org()'$$, :org_b), '42501', NULL,
				 'CREATE FUNCTION ... SET invoice.org_id is refused');
SELECT ok(NOT has_parameter_privilege('invoice.org_id', 'SET')
		  AND NOT has_parameter_privilege('invoice.user_id', 'SET'),
		  'the role has no SET privilege on the context parameters');
RESET ALL;
SELECT is(invoice.current_org(), :org_a::bigint, 'RESET ALL leaves the context at A');
SELECT is(invoice.current_org(), :org_a::bigint, 'after every forging attempt the context is still A');
SELECT is(invoice.current_user_id(), NULL, 'after every forging attempt there is still no application user');
SELECT is((SELECT count(*) FROM invoice.customers), 2::bigint, 'after every forging attempt only A''s rows are visible');

SELECT results_eq($$SELECT name::text, context FROM pg_settings WHERE name IN ('invoice.org_id', 'invoice.user_id') ORDER BY name COLLATE "C"$$,
				  $$VALUES ('invoice.org_id', 'superuser'), ('invoice.user_id', 'superuser')$$,
				  'the context parameters can be set by superusers only');

/* ------------------------------------------------------------------------
 * Another tenant's ids are simply "not found"
 * ------------------------------------------------------------------------ */

SELECT invoice.set_tenant(:org_a, :seller_a) AS ignored \gset

SELECT throws_ok(format('SELECT invoice.create_invoice(%s)', :cust_b1), 'P0002',
				 format('customer %s not found', :cust_b1), 'create_invoice(B''s customer) is not found');
SELECT throws_ok(format('SELECT invoice.set_customer(%s, %s)', :inv_a_draft, :cust_b1), 'P0002',
				 format('customer %s not found', :cust_b1), 'set_customer(A''s draft, B''s customer) is not found');
SELECT throws_ok(format($$SELECT invoice.add_item(%s, '{"description": "x", "quantity": 1, "unit_price": 1}')$$, :inv_b_draft),
				 'P0002', format('invoice %s not found', :inv_b_draft), 'add_item(B''s draft) is not found');
SELECT throws_ok(format($$SELECT invoice.update_item(%s, 1, '{"unit_price": 1}')$$, :inv_b_draft),
				 'P0002', format('invoice %s not found', :inv_b_draft), 'update_item(B''s draft) is not found');
SELECT throws_ok(format('SELECT invoice.remove_item(%s, 1)', :inv_b_draft),
				 'P0002', format('invoice %s not found', :inv_b_draft), 'remove_item(B''s draft) is not found');
SELECT throws_ok(format('SELECT invoice.set_customer(%s, %s)', :inv_b_draft, :cust_a1),
				 'P0002', format('invoice %s not found', :inv_b_draft), 'set_customer(B''s draft, A''s customer) is not found');
SELECT throws_ok(format('SELECT invoice.issue(%s)', :inv_b_draft),
				 'P0002', format('invoice %s not found', :inv_b_draft), 'issue(B''s draft) is not found');
SELECT throws_ok(format('SELECT invoice.delete_draft(%s)', :inv_b_draft),
				 'P0002', format('invoice %s not found', :inv_b_draft), 'delete_draft(B''s draft) is not found');
SELECT throws_ok(format($$SELECT invoice.void(%s, 'evil')$$, :inv_b_issued),
				 'P0002', format('invoice %s not found', :inv_b_issued), 'void(B''s issued invoice) is not found');
SELECT throws_ok(format('SELECT invoice.record_payment(%s, 1)', :inv_b_issued),
				 'P0002', format('invoice %s not found', :inv_b_issued), 'record_payment(B''s issued invoice) is not found');
SELECT is(regress_scratch.error_of(format('SELECT invoice.issue(%s)', :inv_b_draft), :inv_b_draft),
		  regress_scratch.error_of(format('SELECT invoice.issue(%s)', :inv_none), :inv_none),
		  'issue(B''s invoice) and issue(no such invoice) fail alike');
SELECT is(regress_scratch.error_of(format('SELECT invoice.create_invoice(%s)', :cust_b1), :cust_b1),
		  regress_scratch.error_of(format('SELECT invoice.create_invoice(%s)', :cust_none), :cust_none),
		  'create_invoice(B''s customer) and create_invoice(no such customer) fail alike');
SELECT is(invoice.upsert_customer('CC', '2001', 'Same document as Beto'), invoice.upsert_customer('CC', '2001', 'Same document'),
		  'a document number B already uses makes a new, separate customer in A');
SELECT isnt(invoice.upsert_customer('CC', '2001', 'Same document'), :cust_b1::bigint,
			'... which is not B''s customer');

/* ------------------------------------------------------------------------
 * Issued invoices are immutable; the lifecycle works
 * ------------------------------------------------------------------------ */

SELECT throws_ok(format($$SELECT invoice.update_item(%s, 1, '{"unit_price": 1}')$$, :inv_a_issued), '55000', NULL,
				 'update_item on an issued invoice is refused');
SELECT throws_ok(format($$SELECT invoice.add_item(%s, '{"description": "x", "quantity": 1, "unit_price": 1}')$$, :inv_a_issued), '55000', NULL,
				 'add_item on an issued invoice is refused');
SELECT throws_ok(format('SELECT invoice.remove_item(%s, 1)', :inv_a_issued), '55000', NULL,
				 'remove_item on an issued invoice is refused');
SELECT throws_ok(format('SELECT invoice.set_customer(%s, %s)', :inv_a_issued, :cust_a1), '55000', NULL,
				 'set_customer on an issued invoice is refused');
SELECT throws_ok(format('SELECT invoice.delete_draft(%s)', :inv_a_issued), '55000', NULL,
				 'delete_draft on an issued invoice is refused');
SELECT throws_ok(format('SELECT invoice.issue(%s)', :inv_a_issued), '55000', NULL,
				 'issuing an invoice twice is refused');
SELECT throws_ok(format($$SELECT invoice.void(%s, 'x')$$, :inv_a_draft), '55000', NULL,
				 'voiding a draft is refused');
SELECT throws_ok(format('SELECT invoice.record_payment(%s, 1)', :inv_a_draft), '55000', NULL,
				 'paying a draft is refused');

SELECT invoice.create_invoice(:cust_a1, '[{"description": "Pendant", "quantity": 1, "unit_price": 100}]',
							  'hostile-lifecycle') AS inv_life \gset
SELECT is(invoice.add_item(:inv_life, '{"description": "Chain", "quantity": 1, "unit_price": 50}'), 2,
		  'lifecycle: add_item on a draft returns line 2');
SELECT lives_ok(format($$SELECT invoice.update_item(%s, 1, '{"quantity": 2}')$$, :inv_life),
				'lifecycle: update_item on a draft works');
SELECT lives_ok(format('SELECT invoice.remove_item(%s, 2)', :inv_life),
				'lifecycle: remove_item on a draft works');
SELECT is(invoice.issue(:inv_life), 'A2', 'lifecycle: issue gives A''s next number (B''s series is apart)');
SELECT throws_ok(format('SELECT invoice.record_payment(%s, 238.01)', :inv_life), '22023', NULL,
				 'lifecycle: an overpayment is refused');
SELECT lives_ok(format('SELECT invoice.record_payment(%s, 38)', :inv_life), 'lifecycle: a partial payment works');
SELECT lives_ok(format($$SELECT invoice.record_payment(%s, 200, 'card')$$, :inv_life), 'lifecycle: paying the balance works');
SELECT results_eq(format('SELECT status, number_text, total, amount_paid, created_by FROM invoice.invoices WHERE invoice_id = %s', :inv_life),
				  format($$VALUES ('paid'::text, 'A2'::text, 238.00::numeric, 238.00::numeric, %s::bigint)$$, :seller_a),
				  'lifecycle: the invoice is paid, by the seller of the context');
SELECT lives_ok(format($$SELECT invoice.void(%s, 'returned')$$, :inv_life), 'lifecycle: a paid invoice can be voided');
SELECT results_eq(format('SELECT status, number_text, void_reason FROM invoice.invoices WHERE invoice_id = %s', :inv_life),
				  $$VALUES ('void'::text, 'A2'::text, 'returned'::text)$$,
				  'lifecycle: the void invoice keeps its number');
SELECT throws_ok(format($$SELECT invoice.void(%s, 'again')$$, :inv_life), '55000', NULL,
				 'lifecycle: voiding twice is refused');
SELECT throws_ok(format('SELECT invoice.record_payment(%s, 1)', :inv_life), '55000', NULL,
				 'lifecycle: paying a void invoice is refused');
SELECT lives_ok(format('SELECT invoice.delete_draft(%s)', :inv_a_draft), 'lifecycle: a draft can be deleted');
SELECT throws_ok(format('SELECT invoice.issue(%s)', :inv_a_draft), '55000', NULL,
				 'lifecycle: a deleted draft cannot be issued');

/* ------------------------------------------------------------------------
 * Limits: free text is bounded (a description of 2.1 million line breaks
 * made a PDF of 63 MB)
 * ------------------------------------------------------------------------ */

SELECT throws_ok(format($$SELECT invoice.create_invoice(%s, jsonb_build_array(jsonb_build_object(
						 'description', repeat('x', 1001), 'quantity', 1, 'unit_price', 1)))$$, :cust_a1),
				 '22023', 'item 1: "description" must not be longer than 1000 bytes',
				 'limits: a description of 1001 bytes is refused');
SELECT matches(regress_scratch.error_of(format($$SELECT invoice.create_invoice(%s, jsonb_build_array(jsonb_build_object(
						 'description', repeat(E'x\n', 10) || 'x', 'quantity', 1, 'unit_price', 1)))$$, :cust_a1), 0),
			   '^22023 \| item 1: "description" must not have more than 10 lines \|  \| The description has 11 lines; the limit is 10\.$',
			   'limits: a description of 11 lines is refused, the hint gives the limit');
SELECT throws_ok(format($$SELECT invoice.create_invoice(%s, jsonb_build_array(jsonb_build_object(
						 'description', repeat(E'x\u2028', 4) || repeat(E'x\r', 4) || E'x\u0085x\u2029x', 'quantity', 1, 'unit_price', 1)))$$, :cust_a1),
				 '22023', 'item 1: "description" must not have more than 10 lines',
				 'limits: lines are counted as the renderers break them (CR, U+0085, U+2028, U+2029)');
SELECT lives_ok(format($$SELECT invoice.create_invoice(%s, jsonb_build_array(jsonb_build_object(
						 'description', repeat(E'x\n', 9) || repeat('x', 980), 'quantity', 1, 'unit_price', 1)))$$, :cust_a1),
				'limits: a description of 10 lines and 1000 bytes is accepted');
SELECT throws_ok(format($$SELECT invoice.create_invoice(%s, '[{"description": "x", "quantity": 1, "unit_price": 1, "sku": "%s"}]')$$,
						:cust_a1, repeat('S', 65)),
				 '22023', 'item 1: "sku" must not be longer than 64 bytes', 'limits: an SKU of 65 bytes is refused');
SELECT throws_ok(format($$SELECT invoice.create_invoice(%s, '[{"description": "x", "quantity": 1, "unit_price": 1, "material": "%s"}]')$$,
						:cust_a1, repeat('m', 101)),
				 '22023', 'item 1: "material" must not be longer than 100 bytes', 'limits: a material of 101 bytes is refused');
SELECT throws_ok(format('SELECT invoice.create_invoice(%s, ''[]'', %L)', :cust_a1, repeat('n', 4001)),
				 '22023', '"notes" must not be longer than 4000 bytes', 'limits: notes of 4001 bytes are refused');
SELECT throws_ok($$SELECT invoice.upsert_customer('CC', '5001', 'X', NULL, '300' || repeat(' ', 40) || '1234567')$$,
				 '22023', '"phone" must not be longer than 40 bytes', 'limits: a phone padded to 40 bytes is refused');
SELECT throws_ok(format($$SELECT invoice.upsert_customer('CC', '5001', %L)$$, repeat('N', 301)),
				 '22023', '"name" must not be longer than 300 bytes', 'limits: a customer name of 301 bytes is refused');
SELECT throws_ok(format($$SELECT invoice.upsert_customer('CC', '5001', 'X', NULL, NULL, %L)$$, repeat('A', 501)),
				 '22023', '"address" must not be longer than 500 bytes', 'limits: an address of 501 bytes is refused');
SELECT throws_ok(format('SELECT invoice.void(%s, %L)', :inv_a_issued, repeat('r', 1001)),
				 '22023', '"reason" must not be longer than 1000 bytes', 'limits: a void reason of 1001 bytes is refused');

/* ------------------------------------------------------------------------
 * Back to superuser: the guard holds for it too, and B is untouched
 * ------------------------------------------------------------------------ */

RESET ROLE;
SET client_min_messages = warning;

SELECT throws_ok(format('UPDATE invoice.invoices SET total = total + 1 WHERE invoice_id = %s', :inv_a_issued), '55000', NULL,
				 'superuser: UPDATE of an issued invoice''s total is refused');
SELECT throws_ok(format('UPDATE invoice.invoices SET number = 99 WHERE invoice_id = %s', :inv_a_issued), '55000', NULL,
				 'superuser: UPDATE of an issued invoice''s number is refused');
SELECT throws_ok(format($$UPDATE invoice.invoices SET status = 'draft', number = NULL, number_text = NULL, issued_at = NULL
						 WHERE invoice_id = %s$$, :inv_a_issued), '55000', NULL,
				 'superuser: turning an issued invoice back into a draft is refused');
SELECT throws_ok(format($$UPDATE invoice.invoices SET status = 'issued', void_reason = NULL WHERE invoice_id = %s$$, :inv_life), '55000', NULL,
				 'superuser: un-voiding an invoice is refused');
SELECT throws_ok(format('DELETE FROM invoice.invoices WHERE invoice_id = %s', :inv_a_issued), '55000', NULL,
				 'superuser: DELETE of an issued invoice is refused');
-- the audit records of this transaction are written first (they are
-- pending trigger events, which TRUNCATE would refuse with 55006)
SET CONSTRAINTS ALL IMMEDIATE;
SELECT throws_ok('TRUNCATE invoice.invoices CASCADE', '55000', NULL,
				 'superuser: TRUNCATE of invoices is refused');
SELECT throws_ok(format('UPDATE invoice.invoice_items SET unit_price = 1 WHERE invoice_id = %s', :inv_a_issued), '55000', NULL,
				 'superuser: UPDATE of an issued invoice''s items is refused');
-- a tenant's time zone is one of PostgreSQL's zone names, not a POSIX rule
SELECT throws_ok(format($$SELECT invoice.update_organization(%s, '{"timezone": "XXX-24:59:59"}')$$, :org_a),
				 '22023', 'settings: "timezone" must be a time zone name such as "America/Bogota"',
				 'limits: a POSIX time zone rule is refused');
SELECT throws_ok(format($$SELECT invoice.update_organization(%s, '{"timezone": "Mars/Olympus"}')$$, :org_a),
				 '22023', NULL, 'limits: an unknown zone name is refused');
SELECT lives_ok(format($$SELECT invoice.update_organization(%s, '{"timezone": "america/bogota"}')$$, :org_a),
				'limits: a zone name in another case is accepted');
SELECT is((SELECT timezone FROM invoice.organizations WHERE org_id = :org_a), 'America/Bogota',
		  'limits: and kept as the time zone database spells it');
SELECT throws_ok(format($$SELECT invoice.update_organization(%s, jsonb_build_object('resolution', repeat('r', 1001)))$$, :org_a),
				 '22023', '"resolution" must not be longer than 1000 bytes', 'limits: a resolution of 1001 bytes is refused');
SELECT throws_ok(format($$SELECT invoice.create_organization('regress-long', %L)$$, repeat('N', 301)),
				 '22023', '"name" must not be longer than 300 bytes', 'limits: an organization name of 301 bytes is refused');

SELECT ok(EXISTS (SELECT 1 FROM pg_stats WHERE schemaname = 'invoice' AND tablename = 'customers'),
		  'superuser: pg_stats does have statistics of the tenant tables (the hostile test was not vacuous)');

SELECT results_eq(format($$SELECT notes, status, number_text, total, amount_paid, item_count, is_deleted, customer_id
						  FROM invoice.invoices WHERE org_id = %s ORDER BY notes COLLATE "C"$$, :org_b),
				  format($$VALUES ('b-draft'::text, 'draft'::text, NULL::text, 362.95::numeric, 0.00::numeric, 2, false, %1$s::bigint),
								 ('b-issued', 'issued', 'B1', 499.80, 5.00, 2, false, %1$s),
								 ('nota secreta de B', 'draft', NULL, 238.00, 0.00, 200, false, %1$s)$$, :cust_b1),
				  'tenant B''s invoices are untouched');
SELECT is((SELECT count(*) FROM invoice.invoice_items WHERE org_id = :org_b), 204::bigint, 'tenant B''s items are untouched');
SELECT is((SELECT count(*) FROM invoice.payments WHERE org_id = :org_b), 1::bigint, 'tenant B''s payments are untouched');
SELECT is((SELECT count(*) FROM invoice.customers WHERE org_id = :org_b), 43::bigint, 'tenant B''s customers are untouched');
SELECT is((SELECT max(number) FROM invoice.invoices WHERE org_id = :org_b), 1::bigint, 'tenant B''s numbering is untouched');
SELECT is((SELECT count(*) FROM invoice.tenant_grants WHERE role_oid = 'regress_hostile'::regrole), 1::bigint,
		  'the hostile role still holds exactly one grant');

SELECT * FROM finish();
ROLLBACK;
