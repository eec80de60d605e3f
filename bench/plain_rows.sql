-- bench/plain_rows.sql: the ceiling written row by row: the header and
-- each of the 5 items in its own INSERT, as an application without a
-- batching layer writes them (bench/plain_insert.sql is the batched one).
--
-- As in bench/plain_insert.sql:  The same issued header row (totals
-- as literals, computed once by hand with the arithmetic of README.md and checked
-- by bench/run.sh against what the API stored) and the same 5 item rows,
-- written with plain INSERTs into bench_plain tables of the same shape
-- (same columns, defaults, checks, indexes, primary and foreign keys) that
-- have no functions, no triggers and no row level security.  No gapless
-- counter either: the number comes from a plain sequence.
\set org random(:org_lo, :org_hi)
\set usr :org + :user_off
\set cust :org + :cust_off
BEGIN;
INSERT INTO bench_plain.invoices
  (org_id, number, number_text, status, customer_id, created_by, issued_at, currency,
   subtotal, discount_total, tax_total, total, item_count, next_line_no,
   seller_snapshot, customer_snapshot)
VALUES
  (:org, nextval('bench_plain.number_seq'), 'FV' || currval('bench_plain.number_seq'), 'issued',
   :cust, :usr, now(), 'COP', 2924900.00, 119000.00, 533121.00, 3339021.00, 5, 6,
   -- what an issued invoice keeps of its seller and customer (the API
   -- builds them from the rows; the same size here)
   '{"name": "Bench 1", "tax_id": null, "address": null, "city": null, "department": null, "phone": null, "email": null, "tax_regime": null, "resolution": "Resolución DIAN 18764000000001 (bench)", "prefix": "FV", "number_from": 1, "number_to": 99999999, "valid_from": "2026-11-04", "valid_to": "2028-11-04", "timezone": "America/Bogota"}',
   '{"id_type": "CC", "id_number": "1000000001", "name": "Cliente bench 1", "address": null, "phone": null, "email": null}')
RETURNING invoice_id AS inv \gset
INSERT INTO bench_plain.invoice_items
  (org_id, invoice_id, line_no, description, quantity, unit_price, tax_rate, discount_pct,
   base, discount, net, tax, line_total, material, karat, weight_grams, sku)
VALUES (:org, :inv, 1, 'Anillo oro amarillo 18k', 1, 1250000, 19, 0, 1250000.00, 0.00, 1250000.00, 237500.00, 1487500.00, 'oro', 18, 3.5, 'AN-18K-035');
INSERT INTO bench_plain.invoice_items
  (org_id, invoice_id, line_no, description, quantity, unit_price, tax_rate, discount_pct,
   base, discount, net, tax, line_total, material, karat, weight_grams, sku)
VALUES (:org, :inv, 2, 'Cadena plata 925 50 cm', 1, 189900, 19, 0, 189900.00, 0.00, 189900.00, 36081.00, 225981.00, 'plata', NULL, 12.8, 'CA-925-050');
INSERT INTO bench_plain.invoice_items
  (org_id, invoice_id, line_no, description, quantity, unit_price, tax_rate, discount_pct,
   base, discount, net, tax, line_total, material, karat, weight_grams, sku)
VALUES (:org, :inv, 3, 'Aretes topo oro 18k', 2, 210000, 19, 5, 420000.00, 21000.00, 399000.00, 75810.00, 474810.00, 'oro', 18, 2.4, 'AR-18K-024');
INSERT INTO bench_plain.invoice_items
  (org_id, invoice_id, line_no, description, quantity, unit_price, tax_rate, discount_pct,
   base, discount, net, tax, line_total, material, karat, weight_grams, sku)
VALUES (:org, :inv, 4, 'Dije plata 925 con circonia', 1, 85000, 19, 0, 85000.00, 0.00, 85000.00, 16150.00, 101150.00, 'plata', NULL, 4.1, 'DI-925-041');
INSERT INTO bench_plain.invoice_items
  (org_id, invoice_id, line_no, description, quantity, unit_price, tax_rate, discount_pct,
   base, discount, net, tax, line_total, material, karat, weight_grams, sku)
VALUES (:org, :inv, 5, 'Pulsera oro rosa 14k', 1, 980000, 19, 10, 980000.00, 98000.00, 882000.00, 167580.00, 1049580.00, 'oro', 14, 6.25, 'PU-14K-062');
COMMIT;
