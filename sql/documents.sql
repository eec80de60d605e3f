-- Invoices as legal documents: an issued invoice prints, forever, the
-- seller and the customer it was issued with; the shop's identity
-- (address, city, department, phone, e-mail, IVA regime) and the payment
-- form on the document; what voiding an invoice with payments says.
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

-- the three exports of an invoice, each as an md5
CREATE FUNCTION pg_temp.prints(inv bigint) RETURNS text[] LANGUAGE sql AS $$
SELECT ARRAY[pg_catalog.md5(invoice.to_json(inv)::text),
             pg_catalog.md5(invoice.render_html(inv)),
             pg_catalog.md5(invoice.render_pdf(inv))]
$$;

-- the texts the PDF shows (its content is not compressed) that match `pattern`
CREATE FUNCTION pg_temp.pdf_lines(inv bigint, pattern text) RETURNS SETOF text LANGUAGE sql AS $$
SELECT t FROM (SELECT pg_catalog.regexp_replace(l, '^.*Td \((.*)\) Tj$', '\1') AS t
                 FROM pg_catalog.regexp_split_to_table(
                        pg_catalog.convert_from(invoice.render_pdf(inv), 'LATIN1'), E'\n') l
                WHERE l ~ 'Tj$') s
 WHERE t ~ pattern
$$;

-- Everything below runs in one transaction that is rolled back, and the
-- sequences are put back where they were: the suites that run after this
-- one see the ids they expect.
SELECT last_value AS org_last, is_called AS org_called FROM invoice.org_id_seq \gset
SELECT last_value AS cust_last, is_called AS cust_called FROM invoice.customer_id_seq \gset
SELECT last_value AS inv_last, is_called AS inv_called FROM invoice.invoice_id_seq \gset
SELECT last_value AS pay_last, is_called AS pay_called FROM invoice.payment_id_seq \gset
CREATE ROLE regress_dapp;
GRANT invoice_service TO regress_dapp;

BEGIN;

----------------------------------------------------------------------
-- the shop's identity: settings, validated
----------------------------------------------------------------------
SELECT invoice.create_organization('docs-a', 'Joyería Antigua', '900123456-8',
       '{"prefix": "DA", "number_from": 1, "number_to": 999, "resolution": "18764000009",
         "valid_from": "2020-01-01", "valid_to": "2099-12-31",
         "address": "  Calle 52 # 49-20, local 3  ", "city": "Medellín", "department": "Antioquia",
         "phone": "604 512 3456", "email": "ventas@antigua.example", "tax_regime": "responsable_iva"}') AS org_a \gset
SELECT address, city, department, phone, email, tax_regime
  FROM invoice.organizations WHERE org_id = :org_a;
-- each key is checked and named in its error
SELECT pg_temp.err($$SELECT invoice.create_organization('docs-x', 'X', NULL, '{"tax_regime": "simple"}')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('docs-x', 'X', NULL, '{"tax_regime": 1}')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('docs-x', 'X', NULL, '{"address": 12}')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('docs-x', 'X', NULL, '{"phone": "12"}')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('docs-x', 'X', NULL, '{"email": "ventas"}')$$);
SELECT pg_temp.err(pg_catalog.format('SELECT invoice.create_organization(%L, %L, NULL, %L)',
       'docs-x', 'X', pg_catalog.jsonb_build_object('city', pg_catalog.repeat('x', 101))));
SELECT pg_temp.err($$SELECT invoice.update_organization($$ || :org_a || $$, '{"tax_regime": "RESPONSABLE_IVA"}')$$);
SELECT pg_temp.err($$SELECT invoice.update_organization($$ || :org_a || $$, '{"departamento": "Antioquia"}')$$);
-- the table refuses a regime the API would refuse
SELECT pg_temp.err($$UPDATE invoice.organizations SET tax_regime = 'simple' WHERE org_id = $$ || :org_a);
-- nothing was written by the refused calls
SELECT count(*) AS refused_orgs FROM invoice.organizations WHERE slug = 'docs-x';

----------------------------------------------------------------------
-- an issued invoice keeps its seller and customer
----------------------------------------------------------------------
SET LOCAL ROLE regress_dapp;
SELECT invoice.set_tenant(:org_a);
SELECT invoice.upsert_customer('CC', '1020304050', 'María Pérez', 'maria@example.com',
       '+57 300 1234567', 'Calle 10 # 5-20') AS maria \gset
SELECT invoice.create_invoice(:maria, '[{"description": "Anillo", "quantity": 1, "unit_price": 100000}]') AS issued \gset
SELECT invoice.issue(:issued) AS number_text;
SELECT invoice.create_invoice(:maria, '[{"description": "Cadena", "quantity": 1, "unit_price": 50000}]') AS draft \gset
RESET ROLE;
-- what the invoice keeps, and that a draft keeps nothing
SELECT pg_catalog.jsonb_pretty(seller_snapshot) AS seller_snapshot,
       pg_catalog.jsonb_pretty(customer_snapshot) AS customer_snapshot
  FROM invoice.invoices WHERE invoice_id = :issued;
SELECT seller_snapshot IS NULL AND customer_snapshot IS NULL AS draft_keeps_nothing
  FROM invoice.invoices WHERE invoice_id = :draft;
SET LOCAL ROLE regress_dapp;
SELECT pg_temp.prints(:issued) AS before \gset
SELECT invoice.to_json(:issued) #>> '{seller,address}' AS seller_address,
       invoice.to_json(:issued) #>> '{seller,tax_regime}' AS tax_regime,
       invoice.to_json(:issued) #>> '{invoice,due_date}' AS due_date;

-- the customer is renamed and moves; the shop renames itself, moves and
-- registers a new resolution and series
SELECT invoice.upsert_customer('CC', '1020304050', 'María Pérez de Gómez', 'maria.gomez@example.com',
       '+57 310 7654321', 'Carrera 80 # 30-12') = :maria AS same_customer;
RESET ROLE;
SELECT invoice.update_organization(:org_a,
       '{"resolution": "18764000077", "prefix": "DB", "number_from": 1000, "number_to": 1999,
         "valid_from": "2020-06-01", "valid_to": "2099-12-31",
         "address": "Avenida El Poblado # 10-10", "city": "Envigado", "phone": "604 999 0000",
         "email": "hola@antigua.example", "tax_regime": "no_responsable_iva",
         "timezone": "America/Lima"}');
UPDATE invoice.organizations SET name = 'Joyería Nueva' WHERE org_id = :org_a;
SET LOCAL ROLE regress_dapp;
SELECT invoice.set_tenant(:org_a);

-- the issued invoice prints exactly as before: JSON, HTML and PDF
SELECT pg_temp.prints(:issued) = :'before'::text[] AS issued_unchanged;
SELECT invoice.to_json(:issued) #>> '{seller,name}' AS seller,
       invoice.to_json(:issued) #>> '{seller,resolution}' AS resolution,
       invoice.to_json(:issued) #>> '{customer,name}' AS customer;
-- the draft shows the shop and the customer as they are now
SELECT invoice.to_json(:draft) #>> '{seller,name}' AS seller,
       invoice.to_json(:draft) #>> '{seller,resolution}' AS resolution,
       invoice.to_json(:draft) #>> '{seller,city}' AS city,
       invoice.to_json(:draft) #>> '{seller,timezone}' AS timezone,
       invoice.to_json(:draft) #>> '{customer,name}' AS customer;
SELECT invoice.render_html(:draft) LIKE '%Avenida El Poblado%María Pérez de Gómez%Carrera 80%' AS html_now,
       invoice.render_html(:draft) LIKE '%No responsable de IVA%' AS html_regime_now,
       invoice.render_html(:issued) LIKE '%María Pérez de Gómez%' AS html_issued_renamed;
SELECT count(*) AS pdf_draft_new_name FROM pg_temp.pdf_lines(:draft, 'Joyer.a Nueva');
SELECT count(*) AS pdf_issued_new_name FROM pg_temp.pdf_lines(:issued, 'Joyer.a Nueva');

-- paying and voiding it keeps the same seller and customer on paper
SELECT invoice.record_payment(:issued, 30000, 'cash') > 0 AS paid_part;
SELECT invoice.to_json(:issued) #>> '{customer,name}' AS customer_after_payment;

----------------------------------------------------------------------
-- nobody changes what an invoice kept, not even its owner
----------------------------------------------------------------------
RESET ROLE;
SELECT pg_temp.err($$UPDATE invoice.invoices SET seller_snapshot = seller_snapshot || '{"name": "Otra"}' WHERE invoice_id = $$ || :issued);
SELECT pg_temp.err($$UPDATE invoice.invoices SET customer_snapshot = NULL WHERE invoice_id = $$ || :issued);
SELECT pg_temp.err($$UPDATE invoice.invoices SET due_date = '2030-01-01' WHERE invoice_id = $$ || :issued);
-- and a row cannot be issued without them, nor a draft carry them
ALTER TABLE invoice.invoices DISABLE TRIGGER invoices_guard;
SELECT pg_temp.err($$UPDATE invoice.invoices SET customer_snapshot = NULL WHERE invoice_id = $$ || :issued);
ALTER TABLE invoice.invoices ENABLE TRIGGER invoices_guard;
SELECT pg_temp.err($$UPDATE invoice.invoices SET seller_snapshot = '{}' WHERE invoice_id = $$ || :draft);

----------------------------------------------------------------------
-- the payment form: contado, or crédito with the due date
----------------------------------------------------------------------
SET LOCAL ROLE regress_dapp;
SELECT invoice.render_html(:draft) ~ 'Forma de pago: Contado' AS draft_contado;
-- a draft's due date (issue() refuses one before the day of issue)
SELECT invoice.set_due_date(:draft, '2030-03-31');
SELECT pg_catalog.substring(invoice.render_html(:draft), '<p class="pago">[^<]*</p>') AS html_form,
       invoice.to_json(:draft) #>> '{invoice,due_date}' AS due_date;
SELECT l AS pdf_form FROM pg_temp.pdf_lines(:draft, 'Forma de pago') l;
SELECT invoice.issue(:draft) AS credit_number;
SELECT pg_catalog.substring(invoice.render_html(:draft), '<p class="pago">[^<]*</p>') AS html_form_issued;

----------------------------------------------------------------------
-- what says nothing is not printed: no discount, Colombia's time zone
----------------------------------------------------------------------
SELECT invoice.render_html(:issued) ~ '<tr><th>Descuento</th>' AS html_discount_row,
       invoice.render_html(:issued) ~ 'Zona horaria' AS html_zone,
       (SELECT count(*) FROM pg_temp.pdf_lines(:issued, '^Descuento$')) AS pdf_discount_texts,
       (SELECT count(*) FROM pg_temp.pdf_lines(:issued, 'Zona horaria')) AS pdf_zone;
-- the draft is now printed in Lima's time: it says so
SELECT invoice.render_html(:draft) ~ 'Zona horaria: America/Lima' AS html_zone_lima;
-- a discount is printed
SELECT invoice.create_invoice(:maria, '[{"description": "Dije", "quantity": 1, "unit_price": 20000, "discount_pct": 10}]') AS disc \gset
SELECT pg_catalog.substring(invoice.render_html(:disc), '<tr><th>Descuento</th><td>[^<]*</td></tr>') AS html_discount,
       pg_catalog.substring(invoice.render_html(:disc), '<td data-label="Descuento"><span>.*?</span></span></td>') AS html_discount_cell;

----------------------------------------------------------------------
-- voiding an invoice that has payments says how much it had received
----------------------------------------------------------------------
SET client_min_messages = notice;
\set VERBOSITY default
SELECT invoice.void(:issued, 'precio equivocado');
\set VERBOSITY terse
SELECT invoice.void(:draft, 'sin pagos: nada que decir');
SET client_min_messages = warning;
-- the void document shows what was received, and owes nothing
SELECT pg_catalog.substring(invoice.render_html(:issued), '<tr><th>Pagado</th><td>[^<]*</td></tr>') AS html_paid,
       invoice.render_html(:issued) ~ 'Saldo' AS html_balance;
SELECT l AS pdf_paid FROM pg_temp.pdf_lines(:issued, 'Pagado|Saldo|30\.000') l;
SELECT invoice.render_html(:draft) ~ 'Pagado' AS void_unpaid_shows_paid;

RESET ROLE;
ROLLBACK;
SELECT pg_catalog.setval('invoice.org_id_seq', :org_last, :'org_called'::boolean) AS org_seq,
       pg_catalog.setval('invoice.customer_id_seq', :cust_last, :'cust_called'::boolean) AS cust_seq,
       pg_catalog.setval('invoice.invoice_id_seq', :inv_last, :'inv_called'::boolean) AS inv_seq,
       pg_catalog.setval('invoice.payment_id_seq', :pay_last, :'pay_called'::boolean) AS pay_seq \gset
DROP ROLE regress_dapp;
