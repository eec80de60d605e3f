-- Customers: upsert_customer and Colombian identity documents.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS invoice CASCADE;
\set VERBOSITY terse

CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

SELECT invoice.create_organization('customers-a', 'Joyas A') AS org_a \gset
SELECT invoice.create_organization('customers-b', 'Joyas B') AS org_b \gset
-- an application role that may enter every tenant; row level security applies to it
CREATE ROLE regress_capp;
GRANT invoice_service TO regress_capp;
SET ROLE regress_capp;

-- without a tenant context
SELECT pg_temp.err($$SELECT invoice.upsert_customer('CC', '123456', 'Nadie')$$);

BEGIN;
SELECT invoice.set_tenant(:org_a);
SELECT invoice.upsert_customer('CC', '1020304050', 'María Pérez', 'maria@example.co', '+57 300 123 4567', 'Cra 7 # 12-34, Bogotá') AS maria \gset
-- the same document again updates the other fields and returns the same id
SELECT invoice.upsert_customer('CC', '1020304050', 'María Pérez Gómez') = :maria AS same_id;
-- NULL optional fields keep what is stored
SELECT name, email, phone, address FROM invoice.customers WHERE customer_id = :maria;
-- a NIT with its DIAN check digit; DIAN's own NIT is 800197268-4
SELECT invoice.upsert_customer('NIT', '800197268-4', 'DIAN') IS NOT NULL AS nit_ok;
SELECT invoice.upsert_customer('NIT', '900123456-8', 'Comercializadora S.A.S.') IS NOT NULL AS nit_ok;
SELECT invoice.upsert_customer('PP', 'ab123456', 'Tourist') IS NOT NULL AS passport_upper_cased;
SELECT invoice.upsert_customer('FOREIGN', 'X-99/2', 'Foreign Co') IS NOT NULL AS foreign_ok;
SELECT id_type, id_number, name FROM invoice.customers ORDER BY customer_id;
SELECT count(*) AS customers_before FROM invoice.customers \gset

-- bad input names the field; nothing is written
SELECT pg_temp.err($$SELECT invoice.upsert_customer(NULL, '1', 'x')$$);
SELECT pg_temp.err($$SELECT invoice.upsert_customer('CC', NULL, 'x')$$);
SELECT pg_temp.err($$SELECT invoice.upsert_customer('CC', '123456', NULL)$$);
SELECT pg_temp.err($$SELECT invoice.upsert_customer('DNI', '123456', 'x')$$);
SELECT pg_temp.err($$SELECT invoice.upsert_customer('CC', '12.345.678', 'x')$$);
SELECT pg_temp.err($$SELECT invoice.upsert_customer('CC', '   ', 'x')$$);
SELECT pg_temp.err($$SELECT invoice.upsert_customer('CC', '123456', '  ')$$);
SELECT pg_temp.err($$SELECT invoice.upsert_customer('NIT', '900123456-7', 'x')$$);
SELECT pg_temp.err($$SELECT invoice.upsert_customer('NIT', '900123456', 'x')$$);
SELECT pg_temp.err($$SELECT invoice.upsert_customer('NIT', '900.123.456-8', 'x')$$);
SELECT pg_temp.err($$SELECT invoice.upsert_customer('PP', 'AB-12', 'x')$$);
SELECT pg_temp.err($$SELECT invoice.upsert_customer('CC', '123456', 'x', 'not-an-email')$$);
SELECT pg_temp.err($$SELECT invoice.upsert_customer('CC', '123456', 'x', NULL, 'call me')$$);
SELECT pg_temp.err($$SELECT invoice.upsert_customer('CC', '123456', 'x', NULL, '123')$$);
SELECT count(*) - :customers_before AS customers_written FROM invoice.customers;
COMMIT;

-- the same document in another tenant is another customer, invisible to A
BEGIN;
SELECT invoice.set_tenant(:org_b);
SELECT invoice.upsert_customer('CC', '1020304050', 'Otra María') <> :maria AS other_customer;
SELECT count(*) AS visible_in_b FROM invoice.customers;
COMMIT;
RESET ROLE;
DROP ROLE regress_capp;
