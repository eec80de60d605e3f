-- Exports: invoice.render_html(), and to_json/render_pdf on the same
-- fixtures: escaping, accents, multi-line descriptions, zero-tax lines,
-- discounts, every status.  (The PDF is checked with real readers by
-- test/exports/pdf_check.py.)
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

-- the lines of a page that match `pattern`, with the clock masked:
-- "31/01/2026 14:05" becomes "<fecha>"
CREATE FUNCTION pg_temp.lines(html text, pattern text DEFAULT '') RETURNS SETOF text
LANGUAGE sql AS $$
SELECT pg_catalog.regexp_replace(l, '\d\d/\d\d/\d{4} \d\d:\d\d', '<fecha>', 'g')
  FROM pg_catalog.regexp_split_to_table(html, E'\n') WITH ORDINALITY AS t(l, n)
 WHERE l ~ pattern
 ORDER BY n
$$;

-- Everything below runs in one transaction that is rolled back, and the
-- sequences are put back where they were: the suites that run after this
-- one see the ids they expect.
SELECT last_value AS org_last, is_called AS org_called FROM invoice.org_id_seq \gset
SELECT last_value AS user_last, is_called AS user_called FROM invoice.user_id_seq \gset
SELECT last_value AS cust_last, is_called AS cust_called FROM invoice.customer_id_seq \gset
SELECT last_value AS inv_last, is_called AS inv_called FROM invoice.invoice_id_seq \gset
SELECT last_value AS pay_last, is_called AS pay_called FROM invoice.payment_id_seq \gset
CREATE ROLE regress_happ;
GRANT invoice_service TO regress_happ;

BEGIN;
SET LOCAL ROLE regress_happ;
-- no tenant context
SELECT pg_temp.err('SELECT invoice.render_html(1)');
SELECT pg_temp.err('SELECT invoice.render_pdf(1)');
RESET ROLE;

SELECT invoice.create_organization('html-a', 'Joyería <b>"Oro & Plata"</b>', '900123456-8',
       '{"prefix": "FV", "number_from": 7, "number_to": 500, "resolution": "18764000001",
         "valid_from": "2020-01-01", "valid_to": "2099-12-31"}') AS org_a \gset
SELECT invoice.create_organization('html-b', 'Otra Joyería', NULL,
       '{"timezone": "Asia/Kolkata"}') AS org_b \gset
SET LOCAL ROLE regress_happ;

SELECT invoice.set_tenant(:org_b);
SELECT invoice.upsert_customer('CC', '7777777', 'Cliente de B') AS cust_b \gset
SELECT invoice.create_invoice(:cust_b, '[{"description": "Reloj", "quantity": 1, "unit_price": 10}]') AS inv_b \gset
SELECT invoice.issue(:inv_b) AS number_b;
-- dates are those of the tenant's time zone
SELECT invoice.render_html(:inv_b) LIKE '%Fecha de emisión: '
       || pg_catalog.to_char(issued_at AT TIME ZONE 'Asia/Kolkata', 'DD/MM/YYYY HH24:MI') || '%' AS local_time_ok,
       invoice.render_html(:inv_b) LIKE '%Zona horaria: Asia/Kolkata%' AS zone_shown
  FROM invoice.invoices WHERE invoice_id = :inv_b;

RESET ROLE;
SELECT invoice.set_tenant(:org_a);
SELECT invoice.add_user('Ana <Gómez>', 'seller') AS ana \gset
SET LOCAL ROLE regress_happ;
SELECT invoice.set_tenant(:org_a, :ana);
SELECT invoice.upsert_customer('CC', '1020304050', '<script>alert(1)</script> Ñandú O''Brien',
       'maria@example.com', '+57 300 1234567', E'Calle 10 # 5-20\nMedellín & Envigado') AS cust \gset

----------------------------------------------------------------------
-- issued: escaping, accents, multi-line descriptions (LF and CR LF), a
-- discount, zero-tax lines, jewelry details, notes: the whole page
----------------------------------------------------------------------
SELECT invoice.create_invoice(:cust, $$[
  {"description": "Anillo \"Solitario\" <oro> & brillantes — 18k", "quantity": 1, "unit_price": 1250000,
   "material": "oro", "karat": 18, "weight_grams": 3.5, "sku": "AN-18-001"},
  {"description": "Cadena plata 925\nGrabado: 'Para ti, mamá'\r\nSegunda línea", "quantity": 3,
   "unit_price": 333.33, "discount_pct": 12.5},
  {"description": "Limpieza (exenta)", "quantity": 0.25, "unit_price": 20000, "tax_rate": 0},
  {"description": "Estuche de regalo", "quantity": 1000, "unit_price": 15000.5, "tax_rate": 0}
]$$, E'Entrega "en tienda".\nGarantía: 6 meses <sin costo>.') AS issued \gset
SELECT invoice.issue(:issued) AS number_text;
SELECT pg_temp.lines(invoice.render_html(:issued));
-- nothing a user typed reaches the page unescaped
SELECT position('<script>' IN h) = 0 AS no_script, position('<oro>' IN h) = 0 AS no_tag,
       position('<b>' IN h) = 0 AS no_b, position('<Gómez>' IN h) = 0 AS no_user_tag,
       position('<sin costo>' IN h) = 0 AS no_notes_tag
  FROM invoice.render_html(:issued) h;
-- to_json keeps the same texts as they are: line breaks, quotes, tags
SELECT d #>> '{items,1,description}' AS description, d #>> '{customer,name}' AS customer,
       d #>> '{customer,address}' AS address, d #>> '{invoice,notes}' AS notes
  FROM invoice.to_json(:issued) d;
-- deterministic: the same bytes on every call
SELECT invoice.render_html(:issued) = invoice.render_html(:issued) AS same_html,
       invoice.render_pdf(:issued) = invoice.render_pdf(:issued) AS same_pdf;
-- a PDF, whole: header, binary marker, and the end of file
SELECT pg_catalog.substr(p, 1, 9) = '\x255044462d312e340a'::bytea AS pdf_header,
       pg_catalog.substr(p, pg_catalog.length(p) - 5) = '\x2525454f460a'::bytea AS pdf_eof
  FROM invoice.render_pdf(:issued) p;

----------------------------------------------------------------------
-- a draft: BORRADOR, no number, its creation date, no payment lines
----------------------------------------------------------------------
SELECT invoice.create_invoice(:cust, '[{"description": "Pulsera", "quantity": 2, "unit_price": 50000}]',
       'Pendiente de aprobación') AS draft \gset
SELECT pg_temp.lines(invoice.render_html(:draft), 'sello|numero|Fecha|Estado|<title>|Pagado|Saldo|<main');

----------------------------------------------------------------------
-- paid in two payments: PAGADA is no stamp; payments and balance shown
----------------------------------------------------------------------
SELECT invoice.create_invoice(:cust, '[{"description": "Dije", "quantity": 1, "unit_price": 100000}]') AS paid \gset
SELECT invoice.issue(:paid) AS number_text;
SELECT invoice.record_payment(:paid, 40000.50, 'card') AS pay1 \gset
SELECT invoice.record_payment(:paid, 78999.50, 'nequi') AS pay2 \gset
SELECT pg_temp.lines(invoice.render_html(:paid), 'sello|numero|Fecha|Estado|<tr|<main');

----------------------------------------------------------------------
-- void: ANULADA, its date and its reason (escaped)
----------------------------------------------------------------------
SELECT invoice.create_invoice(:cust, '[{"description": "Aretes", "quantity": 2, "unit_price": 45000}]') AS voided \gset
SELECT invoice.issue(:voided) AS number_text;
SELECT invoice.void(:voided, 'Precio <equivocado> & "mal" escrito');
SELECT pg_temp.lines(invoice.render_html(:voided), 'sello|numero|Fecha|Estado|Pagado|Saldo|anulaci|<p>Precio|<main');

----------------------------------------------------------------------
-- a deleted draft still renders, and says so
----------------------------------------------------------------------
SELECT invoice.create_invoice(:cust, '[]') AS deleted \gset
SELECT invoice.delete_draft(:deleted);
SELECT pg_temp.lines(invoice.render_html(:deleted), 'sello|Estado|Sin productos|<tr><th>');

----------------------------------------------------------------------
-- errors
----------------------------------------------------------------------
-- another tenant's invoice is not found, like an unknown one
SELECT pg_temp.err(format('SELECT invoice.render_html(%s)', :inv_b)) = format('P0002: invoice %s not found', :inv_b) AS html_other_tenant,
       pg_temp.err(format('SELECT invoice.render_pdf(%s)', :inv_b)) = format('P0002: invoice %s not found', :inv_b) AS pdf_other_tenant;
SELECT pg_temp.err('SELECT invoice.render_html(0)');
SELECT pg_temp.err('SELECT invoice.render_pdf(0)');
SELECT pg_temp.err('SELECT invoice.render_html(NULL)');
SELECT pg_temp.err('SELECT invoice.render_pdf(NULL)');
ROLLBACK;

-- what the functions are
SELECT p.proname, pg_catalog.pg_get_function_arguments(p.oid) AS args,
       pg_catalog.format_type(p.prorettype, NULL) AS returns, p.provolatile, p.proparallel,
       p.proisstrict, pg_catalog.has_function_privilege('invoice_app', p.oid, 'EXECUTE') AS app_may,
       pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE') AS public_may,
       pg_catalog.obj_description(p.oid, 'pg_proc') IS NOT NULL AS has_comment
  FROM pg_catalog.pg_proc p
 WHERE p.pronamespace = 'invoice'::regnamespace
   AND p.proname IN ('to_json', 'render_html', 'render_pdf')
 ORDER BY p.proname COLLATE "C";

SELECT pg_catalog.setval('invoice.org_id_seq', :org_last, :'org_called'::boolean) AS org_seq,
       pg_catalog.setval('invoice.user_id_seq', :user_last, :'user_called'::boolean) AS user_seq,
       pg_catalog.setval('invoice.customer_id_seq', :cust_last, :'cust_called'::boolean) AS cust_seq,
       pg_catalog.setval('invoice.invoice_id_seq', :inv_last, :'inv_called'::boolean) AS inv_seq,
       pg_catalog.setval('invoice.payment_id_seq', :pay_last, :'pay_called'::boolean) AS pay_seq \gset
DROP ROLE regress_happ;
