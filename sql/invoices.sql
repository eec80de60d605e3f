-- Invoices: drafts, items, issue, payments, void, soft delete, immutability.
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

SELECT invoice.create_organization('invoices-a', 'Joyería Invoices', '900123456-8',
       '{"prefix": "FV", "number_from": 7, "number_to": 9,
         "valid_from": "2020-01-01", "valid_to": "2099-12-31"}') AS org_a \gset
SELECT invoice.create_organization('invoices-b', 'Otra Joyería') AS org_b \gset
CREATE ROLE regress_iapp;
GRANT invoice_service TO regress_iapp;
SET ROLE regress_iapp;

-- what the row counts look like before and after a failing call
CREATE TEMP VIEW written AS
SELECT (SELECT count(*) FROM invoice.invoices) AS invoices,
       (SELECT count(*) FROM invoice.invoice_items) AS items,
       (SELECT count(*) FROM invoice.payments) AS payments;

BEGIN;
SELECT invoice.set_tenant(:org_b);
SELECT invoice.upsert_customer('CC', '5555555', 'Cliente de B') AS cust_b \gset
SELECT invoice.create_invoice(:cust_b, '[{"description": "Reloj", "quantity": 1, "unit_price": 10}]') AS inv_b \gset
COMMIT;

-- no tenant context: 42501 and a hint to call set_tenant
SELECT pg_temp.err($$SELECT invoice.create_invoice(1)$$);
SELECT pg_temp.err($$SELECT invoice.issue(1)$$);

BEGIN;
SELECT invoice.set_tenant(:org_a);
SELECT invoice.upsert_customer('CC', '1020304050', 'María Pérez') AS maria \gset
SELECT invoice.upsert_customer('NIT', '800197268-4', 'Empresa') AS empresa \gset

----------------------------------------------------------------------
-- a draft with the worked example of sql/totals.sql and a jewelry line
----------------------------------------------------------------------
SELECT invoice.create_invoice(:maria, '[
  {"description": "Cadena de plata", "quantity": 3, "unit_price": 333.33, "discount_pct": 10, "tax_rate": 19},
  {"description": "Anillo oro 18k", "quantity": 1, "unit_price": 1250000, "material": "oro", "karat": 18, "weight_grams": 3.5, "sku": "AN-18-001"}
]', 'Entrega en tienda') AS inv \gset
SELECT number, number_text, status, notes, currency, subtotal, discount_total, tax_total, total,
       amount_paid, item_count, is_deleted, created_by IS NULL AS no_user
  FROM invoice.invoices WHERE invoice_id = :inv;
SELECT line_no, description, quantity, unit_price, tax_rate, discount_pct, base, discount, net, tax,
       line_total, material, karat, weight_grams, sku
  FROM invoice.invoice_items WHERE invoice_id = :inv ORDER BY line_no;

-- add, update and remove lines; the header follows exactly
SELECT invoice.add_item(:inv, '{"description": "Aretes", "quantity": 2, "unit_price": 45000.50, "tax_rate": 0}') AS line;
SELECT invoice.update_item(:inv, 3, '{"quantity": 4, "discount_pct": 12.5}');
SELECT invoice.update_item(:inv, 2, '{"sku": null, "karat": 24}');
SELECT line_no, quantity, base, discount, net, tax, line_total, karat, sku
  FROM invoice.invoice_items WHERE invoice_id = :inv ORDER BY line_no;
SELECT invoice.remove_item(:inv, 1);
SELECT invoice.add_item(:inv, '{"description": "Dije", "quantity": 0.5, "unit_price": 0.01}') AS line;
SELECT line_no, base, tax, line_total FROM invoice.invoice_items WHERE invoice_id = :inv ORDER BY line_no;
-- the stored totals equal the sums of the stored lines
SELECT i.subtotal = sum(l.base) AS subtotal_ok, i.discount_total = sum(l.discount) AS discount_ok,
       i.tax_total = sum(l.tax) AS tax_ok, i.total = sum(l.line_total) AS total_ok,
       i.item_count = count(*) AS count_ok, i.total
  FROM invoice.invoices i JOIN invoice.invoice_items l USING (org_id, invoice_id)
 WHERE i.invoice_id = :inv GROUP BY i.invoice_id, i.subtotal, i.discount_total, i.tax_total, i.total, i.item_count;

----------------------------------------------------------------------
-- bad input: exact SQLSTATE and message, and nothing written
----------------------------------------------------------------------
SELECT * FROM written \gset before_
SELECT pg_temp.err($$SELECT invoice.create_invoice(NULL)$$);
SELECT pg_temp.err(format($$SELECT invoice.create_invoice(%s, NULL)$$, :maria));
SELECT pg_temp.err($$SELECT invoice.create_invoice(999999)$$);
SELECT pg_temp.err(format($$SELECT invoice.create_invoice(%s)$$, :cust_b));
SELECT pg_temp.err(format($$SELECT invoice.create_invoice(%s, '{"description": "x"}')$$, :maria));
SELECT pg_temp.err(format($$SELECT invoice.create_invoice(%s, '[{"description": "ok", "quantity": 1, "unit_price": 1}, {"quantity": 1, "unit_price": 1}]')$$, :maria));
SELECT pg_temp.err(format($$SELECT invoice.create_invoice(%s, '[{"description": "x", "quantity": 0, "unit_price": 1}]')$$, :maria));
SELECT pg_temp.err(format($$SELECT invoice.create_invoice(%s, '[{"description": "x", "quantity": 1, "unit_price": -1}]')$$, :maria));
SELECT pg_temp.err(format($$SELECT invoice.create_invoice(%s, '[{"description": "x", "quantity": 1, "unit_price": 1, "tax_rate": 101}]')$$, :maria));
SELECT pg_temp.err(format($$SELECT invoice.create_invoice(%s, '[{"description": "x", "quantity": 1, "unit_price": 1, "discount_pct": -5}]')$$, :maria));
SELECT pg_temp.err(format($$SELECT invoice.create_invoice(%s, '[{"description": "x", "quantity": 1, "unit_price": 1, "colour": "red"}]')$$, :maria));
SELECT pg_temp.err(format($$SELECT invoice.create_invoice(%s, '[{"description": "x", "quantity": "1", "unit_price": 1}]')$$, :maria));
SELECT pg_temp.err(format($$SELECT invoice.create_invoice(%s, '[{"description": "x", "quantity": 1.0005, "unit_price": 1}]')$$, :maria));
SELECT pg_temp.err(format($$SELECT invoice.create_invoice(%s, '[{"description": "x", "quantity": 1, "unit_price": 1.255}]')$$, :maria));
SELECT pg_temp.err(format($$SELECT invoice.create_invoice(%s, '[{"description": "x", "quantity": 1000000, "unit_price": 9999999999999999.99}]')$$, :maria));
SELECT pg_temp.err(format($$SELECT invoice.create_invoice(%s, '[{"description": "x", "quantity": 1, "unit_price": 1, "karat": 30}]')$$, :maria));
SELECT pg_temp.err(format($$SELECT invoice.create_invoice(%s, '[{"description": "x", "quantity": 1, "unit_price": 1}]', repeat('n', 5000))$$, :maria));
SELECT pg_temp.err(format($$SELECT invoice.add_item(%s, '[]')$$, :inv));
SELECT pg_temp.err(format($$SELECT invoice.add_item(%s, '{"description": "x", "quantity": -1, "unit_price": 1}')$$, :inv));
SELECT pg_temp.err(format($$SELECT invoice.add_item(%s, NULL)$$, :inv));
SELECT pg_temp.err(format($$SELECT invoice.update_item(%s, 99, '{"quantity": 1}')$$, :inv));
SELECT pg_temp.err(format($$SELECT invoice.update_item(%s, 2, '{"quantity": 0}')$$, :inv));
SELECT pg_temp.err(format($$SELECT invoice.update_item(%s, 2, '{"description": null}')$$, :inv));
SELECT pg_temp.err(format($$SELECT invoice.remove_item(%s, 1)$$, :inv));
SELECT pg_temp.err(format($$SELECT invoice.set_customer(%s, %s)$$, :inv, :cust_b));
SELECT pg_temp.err(format($$SELECT invoice.add_item(%s, '{"description": "x", "quantity": 1, "unit_price": 1}')$$, :inv_b));
SELECT pg_temp.err(format($$SELECT invoice.issue(%s)$$, :inv_b));
SELECT pg_temp.err($$SELECT invoice.issue(NULL)$$);
SELECT * FROM written \gset after_
SELECT :after_invoices - :before_invoices AS invoices_written, :after_items - :before_items AS items_written;
SELECT total, item_count FROM invoice.invoices WHERE invoice_id = :inv;

----------------------------------------------------------------------
-- status transitions
----------------------------------------------------------------------
SELECT invoice.create_invoice(:maria) AS empty_inv \gset
SELECT pg_temp.err(format('SELECT invoice.issue(%s)', :empty_inv));
SELECT pg_temp.err(format($$SELECT invoice.void(%s, 'error')$$, :inv));
SELECT pg_temp.err(format($$SELECT invoice.record_payment(%s, 10)$$, :inv));
SELECT invoice.set_customer(:inv, :empresa);

SELECT invoice.issue(:inv) AS number_text;
SELECT number, number_text, status, issued_at IS NOT NULL AS has_issued_at, customer_id = :empresa AS new_customer
  FROM invoice.invoices WHERE invoice_id = :inv;
-- issued is immutable through the API...
SELECT pg_temp.err(format('SELECT invoice.issue(%s)', :inv));
SELECT pg_temp.err(format($$SELECT invoice.add_item(%s, '{"description": "x", "quantity": 1, "unit_price": 1}')$$, :inv));
SELECT pg_temp.err(format($$SELECT invoice.update_item(%s, 2, '{"quantity": 1}')$$, :inv));
SELECT pg_temp.err(format('SELECT invoice.remove_item(%s, 2)', :inv));
SELECT pg_temp.err(format('SELECT invoice.set_customer(%s, %s)', :inv, :maria));
SELECT pg_temp.err(format('SELECT invoice.delete_draft(%s)', :inv));
-- ...and applications cannot write the tables at all
SELECT pg_temp.err(format('UPDATE invoice.invoices SET total = 1 WHERE invoice_id = %s', :inv));
SELECT pg_temp.err(format('DELETE FROM invoice.invoice_items WHERE invoice_id = %s', :inv));
SELECT pg_temp.err('INSERT INTO invoice.customers (org_id, id_type, id_number, name) VALUES (1, $x$CC$x$, $x$1$x$, $x$x$x$)');

-- payments
SELECT total FROM invoice.invoices WHERE invoice_id = :inv \gset
SELECT pg_temp.err(format('SELECT invoice.record_payment(%s, 0)', :inv));
SELECT pg_temp.err(format('SELECT invoice.record_payment(%s, -5)', :inv));
SELECT pg_temp.err(format('SELECT invoice.record_payment(%s, 10.001)', :inv));
SELECT pg_temp.err(format($$SELECT invoice.record_payment(%s, 'NaN')$$, :inv));
SELECT pg_temp.err(format($$SELECT invoice.record_payment(%s, 10, 'bitcoin')$$, :inv));
SELECT pg_temp.err(format('SELECT invoice.record_payment(%s, %s + 0.01)', :inv, :total));
SELECT invoice.record_payment(:inv, 1000000, 'card') IS NOT NULL AS paid_part;
SELECT status, amount_paid FROM invoice.invoices WHERE invoice_id = :inv;
SELECT invoice.record_payment(:inv, :total - 1000000, 'nequi') IS NOT NULL AS paid_rest;
SELECT status, amount_paid = total AS fully_paid, paid_at IS NOT NULL AS has_paid_at
  FROM invoice.invoices WHERE invoice_id = :inv;
SELECT pg_temp.err(format('SELECT invoice.record_payment(%s, 1)', :inv));
SELECT method, amount FROM invoice.payments WHERE invoice_id = :inv ORDER BY payment_id;

-- void keeps the number
SELECT pg_temp.err(format('SELECT invoice.void(%s, NULL)', :inv));
SELECT pg_temp.err(format($$SELECT invoice.void(%s, '  ')$$, :inv));
SELECT invoice.void(:inv, 'Cliente devolvió la pieza');
SELECT status, number_text, void_reason, voided_at IS NOT NULL AS has_voided_at
  FROM invoice.invoices WHERE invoice_id = :inv;
SELECT pg_temp.err(format($$SELECT invoice.void(%s, 'again')$$, :inv));
SELECT pg_temp.err(format('SELECT invoice.record_payment(%s, 1)', :inv));

-- numbers are gapless and never reused: void does not give the number back
SELECT invoice.create_invoice(:maria, '[{"description": "Pulsera", "quantity": 1, "unit_price": 50000}]') AS inv2 \gset
SELECT invoice.issue(:inv2) AS number_text;
-- a rolled-back issue leaves no gap
SELECT invoice.create_invoice(:maria, '[{"description": "Broche", "quantity": 1, "unit_price": 20000}]') AS inv3 \gset
SAVEPOINT before_issue;
SELECT invoice.issue(:inv3) AS number_text;
ROLLBACK TO SAVEPOINT before_issue;
SELECT invoice.issue(:inv3) AS number_text;
-- the authorized range (7..9) is now used up
SELECT invoice.create_invoice(:maria, '[{"description": "Dije", "quantity": 1, "unit_price": 1000}]') AS inv4 \gset
SELECT pg_temp.err(format('SELECT invoice.issue(%s)', :inv4));
SELECT status FROM invoice.invoices WHERE invoice_id = :inv4;

-- soft delete
SELECT invoice.delete_draft(:inv4);
SELECT is_deleted, status FROM invoice.invoices WHERE invoice_id = :inv4;
SELECT pg_temp.err(format('SELECT invoice.delete_draft(%s)', :inv4));
SELECT pg_temp.err(format('SELECT invoice.issue(%s)', :inv4));
SELECT number_text, status FROM invoice.invoices WHERE number IS NOT NULL ORDER BY number;
COMMIT;

----------------------------------------------------------------------
-- a new resolution continues above the last number; an expired one stops issuing
----------------------------------------------------------------------
RESET ROLE;
SELECT pg_temp.err(format($$SELECT invoice.update_organization(%s, '{"number_from": 9, "number_to": 20}')$$, :org_a));
SELECT invoice.update_organization(:org_a, '{"number_from": 15, "number_to": 20, "prefix": "FE"}');
SET ROLE regress_iapp;
BEGIN;
SELECT invoice.set_tenant(:org_a);
SELECT invoice.create_invoice(:maria, '[{"description": "Dije", "quantity": 1, "unit_price": 1000}]') AS inv5 \gset
SELECT invoice.issue(:inv5) AS number_text;
-- an invoice with nothing to pay is paid as soon as it is issued
SELECT invoice.create_invoice(:maria, '[{"description": "Limpieza de cortesía", "quantity": 1, "unit_price": 0}]') AS free_inv \gset
SELECT invoice.issue(:free_inv) AS number_text;
SELECT status, total, amount_paid, paid_at = issued_at AS paid_when_issued FROM invoice.invoices WHERE invoice_id = :free_inv;
COMMIT;
RESET ROLE;
SELECT invoice.update_organization(:org_a, '{"valid_from": "2020-01-01", "valid_to": "2021-12-31"}');
SET ROLE regress_iapp;
BEGIN;
SELECT invoice.set_tenant(:org_a);
SELECT invoice.create_invoice(:maria, '[{"description": "Dije", "quantity": 1, "unit_price": 1000}]') AS inv6 \gset
-- (the date of today is masked)
SELECT regexp_replace(pg_temp.err(format('SELECT invoice.issue(%s)', :inv6)), ' on \d{4}-\d\d-\d\d', ' on <today>');
COMMIT;

----------------------------------------------------------------------
-- even a superuser cannot rewrite an issued invoice (the guard trigger)
----------------------------------------------------------------------
RESET ROLE;
SELECT pg_temp.err(format('UPDATE invoice.invoices SET total = 1 WHERE invoice_id = %s', :inv2));
SELECT pg_temp.err(format($$UPDATE invoice.invoices SET status = 'draft', number = NULL, number_text = NULL WHERE invoice_id = %s$$, :inv2));
SELECT pg_temp.err(format('DELETE FROM invoice.invoices WHERE invoice_id = %s', :inv2));
SELECT pg_temp.err(format($$UPDATE invoice.invoices SET void_reason = 'x' WHERE invoice_id = %s$$, :inv));
SELECT pg_temp.err(format('UPDATE invoice.invoice_items SET unit_price = 1 WHERE invoice_id = %s', :inv2));
SELECT pg_temp.err(format('DELETE FROM invoice.invoice_items WHERE invoice_id = %s', :inv2));
SELECT pg_temp.err(format('UPDATE invoice.payments SET amount = 1 WHERE invoice_id = %s', :inv));
SELECT pg_temp.err(format('DELETE FROM invoice.payments WHERE invoice_id = %s', :inv));
SELECT pg_temp.err('TRUNCATE invoice.payments');
SELECT pg_temp.err('TRUNCATE invoice.invoice_items');
SELECT pg_temp.err('TRUNCATE invoice.invoices CASCADE');

----------------------------------------------------------------------
-- early lock release (src/commit.c): the commit of a transaction that
-- issued sets synchronous_commit = off for itself only (SET LOCAL), so
-- its locks go before the WAL flush, which it then does itself; the
-- session's setting is never changed, and only a superuser turns it off
----------------------------------------------------------------------
SHOW invoice.early_lock_release;
SET ROLE regress_iapp;
BEGIN;
SELECT invoice.set_tenant(:org_b);
SELECT invoice.issue(:inv_b);
SHOW synchronous_commit;
COMMIT;
SHOW synchronous_commit;
SET synchronous_commit = remote_write;
BEGIN;
SELECT invoice.set_tenant(:org_b);
SELECT invoice.issue(invoice.create_invoice(:cust_b, '[{"description": "Pila", "quantity": 1, "unit_price": 5}]'));
COMMIT;
SHOW synchronous_commit;
RESET synchronous_commit;
SELECT pg_temp.err('SET invoice.early_lock_release = off');
RESET ROLE;
SET invoice.early_lock_release = off;
SET ROLE regress_iapp;
BEGIN;
SELECT invoice.set_tenant(:org_b);
SELECT invoice.issue(invoice.create_invoice(:cust_b, '[{"description": "Correa", "quantity": 1, "unit_price": 7}]'));
SELECT number_text, status FROM invoice.invoices WHERE org_id = :org_b ORDER BY number;
COMMIT;
RESET ROLE;
RESET invoice.early_lock_release;

DROP VIEW written;
DROP ROLE regress_iapp;
