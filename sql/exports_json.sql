-- Exports: invoice.to_json(), one invoice of the current tenant as jsonb.
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

-- a document without what depends on the clock or on the sequences:
-- ids become "<id>", timestamps of the expected shape become "<timestamp>"
CREATE FUNCTION pg_temp.masked(doc jsonb) RETURNS text LANGUAGE sql AS $$
SELECT pg_catalog.jsonb_pretty(pg_catalog.regexp_replace(pg_catalog.regexp_replace(doc::text,
         '"(invoice_id|org_id|customer_id|payment_id|created_by)": \d+', '"\1": "<id>"', 'g'),
         '"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"', '"<timestamp>"', 'g')::jsonb)
$$;

-- Everything below runs in one transaction that is rolled back, and the
-- sequences are put back where they were: the suites that run after this
-- one see the ids they expect.
SELECT last_value AS org_last, is_called AS org_called FROM invoice.org_id_seq \gset
SELECT last_value AS cust_last, is_called AS cust_called FROM invoice.customer_id_seq \gset
SELECT last_value AS inv_last, is_called AS inv_called FROM invoice.invoice_id_seq \gset
SELECT last_value AS pay_last, is_called AS pay_called FROM invoice.payment_id_seq \gset
CREATE ROLE regress_xapp;
GRANT invoice_service TO regress_xapp;

BEGIN;
SET LOCAL ROLE regress_xapp;
-- no tenant context
SELECT pg_temp.err('SELECT invoice.to_json(1)');
RESET ROLE;

SELECT invoice.create_organization('exports-a', 'Joyería "El Dorado"', '900123456-8',
       '{"prefix": "EX", "number_from": 100, "number_to": 199, "resolution": "18764000001",
         "valid_from": "2020-01-01", "valid_to": "2099-12-31"}') AS org_a \gset
SELECT invoice.create_organization('exports-b', 'Otra Joyería', NULL,
       '{"timezone": "Asia/Kolkata"}') AS org_b \gset
SET LOCAL ROLE regress_xapp;

SELECT invoice.set_tenant(:org_b);
SELECT invoice.upsert_customer('CC', '7777777', 'Cliente de B') AS cust_b \gset
SELECT invoice.create_invoice(:cust_b, '[{"description": "Reloj", "quantity": 1, "unit_price": 10}]') AS inv_b \gset
SELECT invoice.issue(:inv_b) AS number_b;
-- timestamps carry the tenant's offset, here +05:30
SELECT invoice.to_json(:inv_b) #>> '{invoice,issued_at}'
       = pg_catalog.to_char(issued_at AT TIME ZONE 'Asia/Kolkata', 'YYYY-MM-DD"T"HH24:MI:SS') || '+05:30' AS issued_at_ok,
       invoice.to_json(:inv_b) #>> '{seller,timezone}' AS timezone
  FROM invoice.invoices WHERE invoice_id = :inv_b;

SELECT invoice.set_tenant(:org_a);
SELECT invoice.upsert_customer('CC', '1020304050', 'María Pérez', 'maria@example.com',
       '+57 300 1234567', 'Calle 10 # 5-20, Medellín') AS maria \gset
SELECT invoice.upsert_customer('NIT', '800197268-4', 'Empresa S.A.S.') AS empresa \gset

----------------------------------------------------------------------
-- a draft: no number, no dates but created_at, null customer details
----------------------------------------------------------------------
SELECT invoice.create_invoice(:empresa, '[{"description": "Pulsera", "quantity": 2, "unit_price": 50000}]',
       'Pendiente de aprobación') AS draft \gset
SELECT pg_temp.masked(invoice.to_json(:draft));

----------------------------------------------------------------------
-- issued: accents and quotes, a zero-tax line, a discount, jewelry fields
----------------------------------------------------------------------
SELECT invoice.create_invoice(:maria, $$[
  {"description": "Anillo \"Solitario\" de oro — 18k", "quantity": 1, "unit_price": 1250000,
   "material": "oro", "karat": 18, "weight_grams": 3.5, "sku": "AN-18-001"},
  {"description": "Cadena d'Artagnan, ñandú", "quantity": 3, "unit_price": 333.33, "discount_pct": 12.5},
  {"description": "Limpieza (exenta)", "quantity": 0.25, "unit_price": 20000, "tax_rate": 0},
  {"description": "Estuche", "quantity": 1, "unit_price": 15000.50, "tax_rate": 0}
]$$, 'Entrega "en tienda"') AS issued \gset
SELECT invoice.issue(:issued) AS number_text;
SELECT pg_temp.masked(invoice.to_json(:issued));
-- the timestamps are the stored ones, in the tenant's time zone
SELECT invoice.to_json(:issued) #>> '{invoice,issued_at}'
       = pg_catalog.to_char(issued_at AT TIME ZONE 'America/Bogota', 'YYYY-MM-DD"T"HH24:MI:SS') || '-05:00' AS issued_at_ok,
       invoice.to_json(:issued) #>> '{invoice,created_at}' IS NOT NULL AS has_created_at
  FROM invoice.invoices WHERE invoice_id = :issued;
-- the ids are the real ones
SELECT (d #>> '{invoice,invoice_id}')::bigint = :issued AS invoice_id_ok,
       (d #>> '{seller,org_id}')::bigint = :org_a AS org_id_ok,
       (d #>> '{customer,customer_id}')::bigint = :maria AS customer_id_ok
  FROM invoice.to_json(:issued) d;
-- the breakdown by rate is the one invoice.totals() computes for the same lines
SELECT invoice.to_json(:issued) -> 'taxes' = invoice.totals($$[
  {"description": "a", "quantity": 1, "unit_price": 1250000},
  {"description": "b", "quantity": 3, "unit_price": 333.33, "discount_pct": 12.5},
  {"description": "c", "quantity": 0.25, "unit_price": 20000, "tax_rate": 0},
  {"description": "d", "quantity": 1, "unit_price": 15000.50, "tax_rate": 0}
]$$, 19) -> 'taxes' AS taxes_ok;
-- deterministic: the same document twice, to the byte
SELECT invoice.to_json(:issued) = invoice.to_json(:issued) AS same_jsonb,
       invoice.to_json(:issued)::text = invoice.to_json(:issued)::text AS same_text;

----------------------------------------------------------------------
-- paid in two payments, ordered by payment_id
----------------------------------------------------------------------
SELECT invoice.create_invoice(:maria, '[{"description": "Dije", "quantity": 1, "unit_price": 100000}]') AS paid \gset
SELECT invoice.issue(:paid) AS number_text;
SELECT invoice.record_payment(:paid, 40000.50, 'card') AS pay1 \gset
-- before the second payment: partly paid, one payment
SELECT d -> 'totals' AS totals, jsonb_array_length(d -> 'payments') AS payments
  FROM invoice.to_json(:paid) d;
SELECT invoice.record_payment(:paid, 78999.50, 'nequi') AS pay2 \gset
SELECT pg_temp.masked(d -> 'invoice') AS invoice, pg_temp.masked(d -> 'totals') AS totals,
       pg_temp.masked(d -> 'payments') AS payments
  FROM invoice.to_json(:paid) d;
SELECT (d #>> '{payments,0,payment_id}')::bigint = :pay1 AS first_ok,
       (d #>> '{payments,1,payment_id}')::bigint = :pay2 AS second_ok,
       d #>> '{invoice,paid_at}' = d #>> '{payments,1,paid_at}' AS paid_at_ok
  FROM invoice.to_json(:paid) d;

----------------------------------------------------------------------
-- void: it keeps its number, its reason is shown
----------------------------------------------------------------------
SELECT invoice.create_invoice(:maria, '[{"description": "Aretes", "quantity": 2, "unit_price": 45000}]') AS voided \gset
SELECT invoice.issue(:voided) AS number_text;
SELECT invoice.void(:voided, 'Precio "equivocado"');
SELECT pg_temp.masked(d -> 'invoice') AS invoice, d -> 'totals' AS totals, d -> 'payments' AS payments
  FROM invoice.to_json(:voided) d;

----------------------------------------------------------------------
-- errors
----------------------------------------------------------------------
-- another tenant's invoice is not found, like an unknown one
SELECT pg_temp.err(format('SELECT invoice.to_json(%s)', :inv_b)) = format('P0002: invoice %s not found', :inv_b) AS other_tenant;
SELECT pg_temp.err('SELECT invoice.to_json(0)');
SELECT pg_temp.err('SELECT invoice.to_json(NULL)');
ROLLBACK;

SELECT pg_catalog.setval('invoice.org_id_seq', :org_last, :'org_called'::boolean) AS org_seq,
       pg_catalog.setval('invoice.customer_id_seq', :cust_last, :'cust_called'::boolean) AS cust_seq,
       pg_catalog.setval('invoice.invoice_id_seq', :inv_last, :'inv_called'::boolean) AS inv_seq,
       pg_catalog.setval('invoice.payment_id_seq', :pay_last, :'pay_called'::boolean) AS pay_seq \gset
DROP ROLE regress_xapp;
