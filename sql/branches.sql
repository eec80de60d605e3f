-- Shop locations (PostGIS): branches, nearest branch, the branch of an
-- invoice, sales by branch and within a radius.  Ids are never printed.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS invoice CASCADE;
\set VERBOSITY terse

CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    -- ids depend on the suites that ran before: not printed
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '(branch|invoice|tenant) -?[0-9]+', '\1 #', 'g');
END
$$;

-- where CREATE EXTENSION ... CASCADE put PostGIS: the C code looks it up
SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'postgis';

SELECT invoice.create_organization('branches-a', 'Joyería Sucursales') AS org_a \gset
SELECT invoice.create_organization('branches-b', 'Otra Joyería') AS org_b \gset
CREATE ROLE regress_bapp;
GRANT invoice_app TO regress_bapp;
SELECT invoice.grant_tenant('regress_bapp', :org_a);
SELECT invoice.grant_tenant('regress_bapp', :org_b);

-- no tenant: 42501
SELECT pg_temp.err($$SELECT invoice.add_branch('x', 0, 0)$$);
SELECT pg_temp.err($$SELECT invoice.nearest_branch(0, 0)$$);
SELECT pg_temp.err($$SELECT * FROM invoice.sales_by_branch('2026-01-01', '2026-01-31')$$);

-- tenant B has one shop in Medellín, added by a platform admin (superuser)
BEGIN;
SELECT invoice.set_tenant(:org_b);
SELECT invoice.nearest_branch(-74.0721, 4.7110) IS NULL AS none_yet;
SELECT invoice.add_branch('Medellín B', -75.5636, 6.2518) AS b_med \gset
COMMIT;

-- tenant A: its admin user adds the shops; a seller may not
BEGIN;
SELECT invoice.set_tenant(:org_a);
SELECT invoice.add_user('Admin A', 'admin') AS admin_a \gset
SELECT invoice.add_user('Vendedor A', 'seller') AS seller_a \gset
COMMIT;
SET ROLE regress_bapp;
BEGIN;
SELECT invoice.set_tenant(:org_a, :seller_a);
SELECT pg_temp.err($$SELECT invoice.add_branch('Cali', -76.5320, 3.4516)$$);
ROLLBACK;
BEGIN;
SELECT invoice.set_tenant(:org_a);
SELECT pg_temp.err($$SELECT invoice.add_branch('Cali', -76.5320, 3.4516)$$);
ROLLBACK;
BEGIN;
SELECT invoice.set_tenant(:org_a, :admin_a);
SELECT invoice.add_branch('  Bogotá Centro  ', -74.0721, 4.7110, 'Cra 7 # 12-30') AS a_bog \gset
SELECT invoice.add_branch('Cali', -76.5320, 3.4516, '   ') AS a_cali \gset

-- bad input: 22023 naming the argument, 22004 for NULL; nothing written
SELECT pg_temp.err($$SELECT invoice.add_branch('x', 180.5, 0)$$);
SELECT pg_temp.err($$SELECT invoice.add_branch('x', -181, 0)$$);
SELECT pg_temp.err($$SELECT invoice.add_branch('x', 0, 90.0001)$$);
SELECT pg_temp.err($$SELECT invoice.add_branch('x', 0, -91)$$);
SELECT pg_temp.err($$SELECT invoice.add_branch('x', 'NaN', 0)$$);
SELECT pg_temp.err($$SELECT invoice.add_branch('x', 0, 'Infinity')$$);
SELECT pg_temp.err($$SELECT invoice.add_branch('x', NULL, 0)$$);
SELECT pg_temp.err($$SELECT invoice.add_branch('   ', 0, 0)$$);
SELECT pg_temp.err($$SELECT invoice.add_branch(NULL, 0, 0)$$);
SELECT pg_temp.err($$SELECT invoice.nearest_branch(0, -90.5)$$);
SELECT pg_temp.err($$SELECT invoice.nearest_branch('-Infinity', 0)$$);
-- the poles and the antimeridian are fine
SELECT invoice.nearest_branch(180, 90) IS NOT NULL AS pole_ok;

-- tenant A sees its two shops only, names trimmed, blank address is none
SELECT name, address, round(public.ST_X(location::public.geometry)::numeric, 4) AS lon,
       round(public.ST_Y(location::public.geometry)::numeric, 4) AS lat
  FROM invoice.branches ORDER BY name COLLATE "C";

-- distances on the spheroid: Bogotá - Cali about 300 km, Bogotá - Medellín
-- about 240 km
SELECT round(public.ST_Distance(a.location, b.location)::numeric / 1000) AS km
  FROM invoice.branches a, invoice.branches b
 WHERE a.name = 'Bogotá Centro' AND b.name = 'Cali';
SELECT round(public.ST_Distance('SRID=4326;POINT(-74.0721 4.7110)'::public.geography,
                                'SRID=4326;POINT(-75.5636 6.2518)'::public.geography)::numeric / 1000) AS bogota_medellin_km;

-- nearest: in Medellín itself, A's nearest is Bogotá (B's Medellín shop
-- is never chosen); near Cali, Cali
SELECT invoice.nearest_branch(-75.5636, 6.2518) = :a_bog AS medellin_gets_bogota;
SELECT invoice.nearest_branch(-76.4, 3.5) = :a_cali AS near_cali;
SELECT invoice.nearest_branch(-74.1, 4.6) = :a_bog AS near_bogota;
COMMIT;

-- the nearest branch query uses the GiST index (KNN order)
RESET ROLE;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF)
SELECT branch_id FROM invoice.branches
 ORDER BY location OPERATOR(public.<->) public.ST_SetSRID(public.ST_MakePoint(-75.5, 6.2), 4326)::public.geography
 LIMIT 1;
RESET enable_seqscan;
SET ROLE regress_bapp;

-- B sees only its own shop; nearest from Cali is still its Medellín shop
BEGIN;
SELECT invoice.set_tenant(:org_b);
SELECT name FROM invoice.branches ORDER BY name COLLATE "C";
SELECT invoice.nearest_branch(-76.5320, 3.4516) = :b_med AS b_nearest_is_its_own;
COMMIT;

----------------------------------------------------------------------
-- invoices at branches
----------------------------------------------------------------------
BEGIN;
SELECT invoice.set_tenant(:org_a, :seller_a);
SELECT invoice.upsert_customer('CC', '1020304050', 'María Pérez') AS maria \gset
-- create_invoice with a branch; another tenant's branch is not found
SELECT invoice.create_invoice(:maria, '[{"description": "Anillo", "quantity": 1, "unit_price": 100}]', NULL, :a_bog) AS inv1 \gset
SELECT pg_temp.err(format($$SELECT invoice.create_invoice(%s, '[]', NULL, %s)$$, :maria, :b_med));
SELECT pg_temp.err(format($$SELECT invoice.create_invoice(%s, '[]', NULL, -1)$$, :maria));
-- the three-argument call still works and has no branch
SELECT invoice.create_invoice(:maria, '[{"description": "Cadena", "quantity": 1, "unit_price": 200}]', 'sin sucursal') AS inv2 \gset
SELECT invoice.create_invoice(:maria, '[{"description": "Aretes", "quantity": 1, "unit_price": 400}]') AS inv3 \gset
SELECT invoice.create_invoice(:maria, '[{"description": "Reloj", "quantity": 1, "unit_price": 800}]') AS inv4 \gset
SELECT invoice.create_invoice(:maria, '[{"description": "Pulsera", "quantity": 1, "unit_price": 1600}]') AS inv5 \gset
SELECT invoice.create_invoice(:maria, '[{"description": "Broche", "quantity": 1, "unit_price": 3200}]') AS inv6 \gset
SELECT invoice_id = :inv1 AS first, branch_id = :a_bog AS at_bogota, branch_id IS NULL AS no_branch
  FROM invoice.invoices WHERE invoice_id IN (:inv1, :inv2) ORDER BY invoice_id;

-- set_branch: drafts only; another tenant's branch is not found; NULL clears
SELECT invoice.set_branch(:inv3, :a_cali);
SELECT invoice.set_branch(:inv4, :a_bog);
SELECT invoice.set_branch(:inv5, :a_bog);
SELECT invoice.set_branch(:inv6, :a_cali);
SELECT invoice.set_branch(:inv6, NULL);
SELECT pg_temp.err(format('SELECT invoice.set_branch(%s, %s)', :inv3, :b_med));
SELECT pg_temp.err(format('SELECT invoice.set_branch(%s, %s)', :inv3, -5));
SELECT pg_temp.err(format('SELECT invoice.set_branch(%s, %s)', -5, :a_bog));
SELECT pg_temp.err(format('SELECT invoice.set_branch(NULL, %s)', :a_bog));
SELECT invoice.issue(:inv1) IS NOT NULL, invoice.issue(:inv2) IS NOT NULL, invoice.issue(:inv3) IS NOT NULL,
       invoice.issue(:inv4) IS NOT NULL, invoice.issue(:inv5) IS NOT NULL;
SELECT pg_temp.err(format('SELECT invoice.set_branch(%s, %s)', :inv1, :a_cali));
SELECT invoice.record_payment(:inv3, 476) IS NOT NULL AS paid;
SELECT invoice.void(:inv5, 'error de digitación');
COMMIT;

-- the test puts the issue instants where the dates' edges are (the guard
-- keeps issued invoices as they are, so it steps aside for this), and
-- inv2 was sold in Medellín although it has no branch
RESET ROLE;
ALTER TABLE invoice.invoices DISABLE TRIGGER invoices_guard;
UPDATE invoice.invoices SET issued_at = '2026-03-01 00:00:00-05' WHERE invoice_id = :inv1;
UPDATE invoice.invoices SET issued_at = '2026-03-31 23:59:59.999-05',
       sale_location = 'SRID=4326;POINT(-75.5636 6.2518)' WHERE invoice_id = :inv2;
UPDATE invoice.invoices SET issued_at = '2026-03-15 12:00:00-05' WHERE invoice_id = :inv3;
UPDATE invoice.invoices SET issued_at = '2026-02-28 23:59:59.999-05' WHERE invoice_id = :inv4;
UPDATE invoice.invoices SET issued_at = '2026-03-10 10:00:00-05' WHERE invoice_id = :inv5;
ALTER TABLE invoice.invoices ENABLE TRIGGER invoices_guard;
SET ROLE regress_bapp;

BEGIN;
SELECT invoice.set_tenant(:org_a);
-- March, both ends included: inv1 (Bogotá), inv3 (Cali, paid), inv2 (no
-- branch); inv4 is February in Bogotá, inv5 is void, inv6 a draft
SELECT branch_id = :a_bog AS bogota, branch_id = :a_cali AS cali, name, invoices, total
  FROM invoice.sales_by_branch('2026-03-01', '2026-03-31');
SELECT name, invoices, total FROM invoice.sales_by_branch('2026-02-28', '2026-02-28');
SELECT name, invoices, total FROM invoice.sales_by_branch('2026-03-31', '2026-03-31');
SELECT name, invoices, total FROM invoice.sales_by_branch('2026-04-01', '2026-04-30');
SELECT pg_temp.err($$SELECT * FROM invoice.sales_by_branch('2026-03-31', '2026-03-01')$$);
SELECT pg_temp.err($$SELECT * FROM invoice.sales_by_branch(NULL, '2026-03-01')$$);

-- within 10 km of Bogotá: inv1; of Medellín: inv2 (its sale_location);
-- 500 km around Bogotá reaches Medellín and Cali too
SELECT * FROM invoice.sales_within(-74.0721, 4.7110, 10000, '2026-03-01', '2026-03-31');
SELECT * FROM invoice.sales_within(-75.5636, 6.2518, 10000, '2026-03-01', '2026-03-31');
SELECT * FROM invoice.sales_within(-74.0721, 4.7110, 500000, '2026-03-01', '2026-03-31');
SELECT * FROM invoice.sales_within(-74.0721, 4.7110, 500000, '2026-02-01', '2026-02-28');
SELECT * FROM invoice.sales_within(0, 0, 1000, '2026-03-01', '2026-03-31');
SELECT pg_temp.err($$SELECT * FROM invoice.sales_within(-74, 4, -1, '2026-03-01', '2026-03-31')$$);
SELECT pg_temp.err($$SELECT * FROM invoice.sales_within(-74, 4, 'NaN', '2026-03-01', '2026-03-31')$$);
SELECT pg_temp.err($$SELECT * FROM invoice.sales_within(-74, 91, 10, '2026-03-01', '2026-03-31')$$);
SELECT pg_temp.err($$SELECT * FROM invoice.sales_within(-74, 4, 10, '2026-03-01', NULL)$$);
COMMIT;

-- B sees none of A's sales, near its own shop or anywhere
BEGIN;
SELECT invoice.set_tenant(:org_b);
SELECT name, invoices, total FROM invoice.sales_by_branch('2026-01-01', '2026-12-31');
SELECT * FROM invoice.sales_within(-75.5636, 6.2518, 500000, '2026-01-01', '2026-12-31');
COMMIT;

-- branches are audited
RESET ROLE;
SELECT table_name, operation, count(*) FROM invoice.audit_log WHERE table_name = 'invoice.branches' GROUP BY 1, 2 ORDER BY 1, 2;
DROP ROLE regress_bapp;
