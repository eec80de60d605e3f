-- Everyday reads through row level security are index scans:
-- 100 000 invoices over 20 tenants.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS invoice CASCADE;

-- the data is loaded directly as superuser: this suite is about the plans
SELECT invoice.create_organization('idx-' || g, 'Index tenant ' || g) FROM generate_series(1, 20) g;
CREATE TEMP TABLE idx_orgs AS
SELECT org_id, row_number() OVER (ORDER BY org_id) AS n
  FROM invoice.organizations WHERE slug LIKE 'idx-%';
INSERT INTO invoice.customers (org_id, id_type, id_number, name)
SELECT o.org_id, 'CC', (1000000 + c)::text, 'Cliente ' || c
  FROM idx_orgs o, generate_series(1, 50) c;
CREATE TEMP TABLE idx_customers AS
SELECT org_id, customer_id, row_number() OVER (PARTITION BY org_id ORDER BY customer_id) % 50 AS k
  FROM invoice.customers WHERE org_id IN (SELECT org_id FROM idx_orgs);
INSERT INTO invoice.invoices (org_id, number, number_text, status, customer_id, created_at,
                              issued_at, currency, subtotal, tax_total, total, item_count,
                              next_line_no, is_deleted, seller_snapshot, customer_snapshot)
SELECT o.org_id,
       CASE WHEN g % 10 = 0 THEN NULL ELSE g END,
       CASE WHEN g % 10 = 0 THEN NULL ELSE 'FV' || g END,
       CASE WHEN g % 10 = 0 THEN 'draft' WHEN g % 3 = 0 THEN 'paid' ELSE 'issued' END,
       c.customer_id,
       timestamptz '2026-01-01' + g * interval '1 minute',
       CASE WHEN g % 10 = 0 THEN NULL ELSE timestamptz '2026-01-01' + g * interval '1 minute' END,
       'COP', 1000, 190, 1190, 1, 2, g % 100 = 0,
       CASE WHEN g % 10 = 0 THEN NULL ELSE '{}'::jsonb END,
       CASE WHEN g % 10 = 0 THEN NULL ELSE '{}'::jsonb END
  FROM idx_orgs o CROSS JOIN generate_series(1, 5000) g
  JOIN idx_customers c ON c.org_id = o.org_id AND c.k = g % 50;
UPDATE invoice.invoices SET amount_paid = total WHERE status = 'paid';
INSERT INTO invoice.invoice_items (org_id, invoice_id, line_no, description, quantity, unit_price,
                                   tax_rate, base, discount, net, tax, line_total)
SELECT org_id, invoice_id, 1, 'Anillo', 1, 1000, 19, 1000, 0, 1000, 190, 1190
  FROM invoice.invoices WHERE org_id IN (SELECT org_id FROM idx_orgs);
SET default_statistics_target = 1000;  -- sample every row: stable plans
ANALYZE invoice.organizations, invoice.customers, invoice.invoices, invoice.invoice_items;
SELECT count(*) AS invoices, count(DISTINCT org_id) AS tenants FROM invoice.invoices
 WHERE org_id IN (SELECT org_id FROM idx_orgs);

CREATE ROLE regress_idx;
GRANT invoice_service TO regress_idx;
SELECT org_id AS org FROM idx_orgs WHERE n = 7 \gset
SELECT customer_id AS cust FROM idx_customers WHERE org_id = :org AND k = 3 \gset

SET ROLE regress_idx;
BEGIN;
SELECT invoice.set_tenant(:org);
-- newest first
EXPLAIN (COSTS OFF)
SELECT invoice_id, number_text, status, total FROM invoice.invoices
 WHERE NOT is_deleted ORDER BY created_at DESC, invoice_id DESC LIMIT 20;
-- by status
EXPLAIN (COSTS OFF)
SELECT invoice_id FROM invoice.invoices
 WHERE status = 'issued' AND NOT is_deleted ORDER BY created_at DESC LIMIT 20;
-- by customer
PREPARE by_customer(bigint) AS
SELECT invoice_id FROM invoice.invoices
 WHERE customer_id = $1 AND NOT is_deleted ORDER BY created_at DESC LIMIT 20;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE by_customer(:cust);
RESET plan_cache_mode;
SELECT count(*) AS customer_invoices FROM invoice.invoices WHERE customer_id = :cust;
-- by number
EXPLAIN (COSTS OFF)
SELECT invoice_id FROM invoice.invoices WHERE number = 4321;
-- the lines of one invoice
EXPLAIN (COSTS OFF)
SELECT * FROM invoice.invoice_items WHERE invoice_id = 12345 ORDER BY line_no;
SELECT count(*) AS visible_items FROM invoice.invoice_items;
-- and the answers only ever come from the current tenant
SELECT count(*) AS visible, count(DISTINCT org_id) AS tenants FROM invoice.invoices;
SELECT count(*) AS found FROM invoice.invoices WHERE number = 4321;
COMMIT;
RESET ROLE;
DROP ROLE regress_idx;
