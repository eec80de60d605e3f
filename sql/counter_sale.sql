-- The counter sale: create_and_issue() is create_invoice + issue (+ a full
-- record_payment) in one statement, with the same checks, arithmetic,
-- numbering and audit, the header written once.  Prints no ids: its
-- output does not depend on the files that ran before.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS invoice CASCADE;
\set VERBOSITY terse

CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    -- ids come from sequences that other files use too
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '(invoice|tenant|customer) [0-9]+', '\1 N', 'g');
END
$$;

SELECT invoice.create_organization('sale-a', 'Joyería Mostrador', '900123456-8',
       '{"prefix": "MS", "number_from": 50, "number_to": 56}') AS org_a \gset
SELECT invoice.create_organization('sale-b', 'Otra Joyería') AS org_b \gset
CREATE ROLE regress_sale;
GRANT invoice_app TO regress_sale;
SELECT invoice.grant_tenant('regress_sale', :org_a);
SELECT invoice.grant_tenant('regress_sale', :org_b);
BEGIN;
SELECT invoice.set_tenant(:org_b);
SELECT invoice.upsert_customer('CC', '999001', 'Cliente de B') AS cust_b \gset
COMMIT;
BEGIN;
SELECT invoice.set_tenant(:org_a);
SELECT invoice.add_user('Vendedora', 'seller') AS seller \gset
COMMIT;

SET ROLE regress_sale;

-- no tenant context
SELECT pg_temp.err($$SELECT invoice.create_and_issue(1, '[{"description": "x", "quantity": 1, "unit_price": 1}]')$$);

BEGIN;
SELECT invoice.set_tenant(:org_a, :seller);
SELECT invoice.upsert_customer('CC', '1020304050', 'María Pérez') AS maria \gset

-- what the table holds, to show that a refused call writes nothing
CREATE TEMP VIEW written AS
SELECT (SELECT count(*) FROM invoice.invoices) AS invoices,
       (SELECT count(*) FROM invoice.invoice_items) AS items,
       (SELECT count(*) FROM invoice.payments) AS payments;

----------------------------------------------------------------------
-- the same items through create_invoice + issue and create_and_issue
----------------------------------------------------------------------
\set items '[{"description": "Cadena de plata", "quantity": 3, "unit_price": 333.33, "discount_pct": 10, "tax_rate": 19}, {"description": "Anillo oro 18k", "quantity": 1, "unit_price": 1250000, "material": "oro", "karat": 18, "weight_grams": 3.5, "sku": "AN-18"}]'
SELECT invoice.issue(invoice.create_invoice(:maria, :'items', 'mostrador')) AS two_calls;
SELECT invoice.create_and_issue(:maria, :'items', 'mostrador') - 'invoice_id' AS one_call;
SELECT invoice.create_and_issue(:maria, :'items') ->> 'invoice_id' AS sale_id \gset
SELECT :sale_id = max(invoice_id) AS returns_its_id FROM invoice.invoices;
-- headers and lines alike, but for the number
SELECT number, number_text, status, notes, subtotal, discount_total, tax_total, total,
       amount_paid, item_count, next_line_no, created_by = :seller AS by_seller,
       issued_at IS NOT NULL AS issued, paid_at IS NULL AS unpaid,
       seller_snapshot ->> 'name' AS seller, customer_snapshot ->> 'name' AS customer
  FROM invoice.invoices WHERE org_id = :org_a ORDER BY number;
SELECT i.number, it.line_no, it.description, it.quantity, it.unit_price, it.tax_rate,
       it.discount_pct, it.base, it.discount, it.net, it.tax, it.line_total,
       it.material, it.karat, it.weight_grams, it.sku
  FROM invoice.invoice_items it JOIN invoice.invoices i USING (org_id, invoice_id)
 WHERE i.org_id = :org_a ORDER BY i.number, it.line_no;
-- its documents print like those of an issued invoice
SELECT invoice.to_json(max(invoice_id)) -> 'invoice' ->> 'number_text' AS json_number,
       invoice.to_json(max(invoice_id)) -> 'customer' ->> 'name' AS json_customer,
       position('MS52' IN invoice.render_html(max(invoice_id))) > 0 AS html_number
  FROM invoice.invoices;
-- issued means immutable
SELECT pg_temp.err(format($$SELECT invoice.add_item(%s, '{"description": "x", "quantity": 1, "unit_price": 1}')$$,
       (SELECT max(invoice_id) FROM invoice.invoices)));

----------------------------------------------------------------------
-- paid at the counter: one payment of the total, status paid
----------------------------------------------------------------------
SELECT invoice.create_and_issue(:maria, '[{"description": "Aretes", "quantity": 2, "unit_price": 45000.50, "tax_rate": 0}]',
       NULL, ' nequi ') - 'invoice_id' AS paid_sale;
SELECT i.status, i.amount_paid, i.total, i.paid_at = i.issued_at AS paid_when_issued,
       p.amount, p.method, p.paid_at = i.issued_at AS payment_when_issued,
       p.created_by = :seller AS payment_by_seller
  FROM invoice.invoices i JOIN invoice.payments p USING (org_id, invoice_id)
 WHERE i.number = 53 AND i.org_id = :org_a;
-- a paid invoice takes no more payments; it can be voided
SELECT pg_temp.err(format($$SELECT invoice.record_payment(%s, 1)$$,
       (SELECT invoice_id FROM invoice.invoices WHERE number = 53)));
-- nothing to pay: paid without a payment row, as issue() does
SELECT invoice.create_and_issue(:maria, '[{"description": "Cortesía", "quantity": 1, "unit_price": 0}]') - 'invoice_id' AS free_sale;
SELECT count(*) AS payments_of_free_sale FROM invoice.payments p JOIN invoice.invoices i USING (org_id, invoice_id) WHERE i.number = 54;

----------------------------------------------------------------------
-- refused: nothing written, no number used
----------------------------------------------------------------------
SELECT * FROM written;
SELECT pg_temp.err($$SELECT invoice.create_and_issue(NULL, '[]')$$);
SELECT pg_temp.err(format($$SELECT invoice.create_and_issue(%s, NULL)$$, :maria));
SELECT pg_temp.err(format($$SELECT invoice.create_and_issue(%s, '[]')$$, :maria));
SELECT pg_temp.err(format($$SELECT invoice.create_and_issue(%s, '[{"description": "a", "quantity": 1, "unit_price": 1}, {"description": "b", "quantity": 0, "unit_price": 1}]')$$, :maria));
SELECT pg_temp.err(format($$SELECT invoice.create_and_issue(%s, '[{"description": "a", "quantity": 1, "unit_price": 1}]', NULL, 'bitcoin')$$, :maria));
SELECT pg_temp.err($$SELECT invoice.create_and_issue(999999999, '[{"description": "a", "quantity": 1, "unit_price": 1}]')$$);
-- another tenant's customer is "not found"
SELECT pg_temp.err(format($$SELECT invoice.create_and_issue(%s, '[{"description": "a", "quantity": 1, "unit_price": 1}]')$$, :cust_b));
SELECT * FROM written;
-- the failed calls used no number
SELECT invoice.create_and_issue(:maria, '[{"description": "Dije", "quantity": 1, "unit_price": 85000}]') ->> 'number_text' AS next_number;
-- 56 is the last number of the range: then the range is exhausted
SELECT invoice.create_and_issue(:maria, '[{"description": "Dije", "quantity": 1, "unit_price": 85000}]') ->> 'number_text' AS last_number;
SELECT pg_temp.err(format($$SELECT invoice.create_and_issue(%s, '[{"description": "a", "quantity": 1, "unit_price": 1}]')$$, :maria));
SELECT * FROM written;
DROP VIEW written;
COMMIT;

----------------------------------------------------------------------
-- the audit: one INSERT record per row, no UPDATE of the new header
----------------------------------------------------------------------
RESET ROLE;
SELECT a.table_name, a.operation, count(*)
  FROM invoice.audit_log a
 WHERE a.org_id = :org_a AND a.table_name IN ('invoice.invoices', 'invoice.invoice_items', 'invoice.payments')
   AND (coalesce(a.new_row, a.old_row) ->> 'invoice_id')::bigint IN
       (SELECT invoice_id FROM invoice.invoices WHERE org_id = :org_a AND number BETWEEN 52 AND 56)
 GROUP BY 1, 2 ORDER BY 1, 2;
SELECT a.new_row ->> 'status' AS status, a.new_row ->> 'number_text' AS number_text
  FROM invoice.audit_log a
 WHERE a.org_id = :org_a AND a.table_name = 'invoice.invoices' AND a.operation = 'INSERT'
 ORDER BY a.audit_id;
SELECT rows_checked > 0 AS checked, first_bad_audit_id FROM invoice.audit_verify(:org_a);

DROP ROLE regress_sale;
