-- bench/plain_sale_audited.sql: the audited counter sale's floor, in plain
-- SQL.  What bench/plain_sale.sql does (set_config(), then one statement
-- that takes the tenant's next number from its counter row, locked until
-- commit, and inserts the issued header and its 5 items), plus, in that
-- same statement, what the audit of the sale must write: the 6 audit rows
-- (as bench/plain_audited.sql writes them: row_key, to_jsonb() of each row,
-- two 32-byte hashes as literals) and the UPDATE of the tenant's chain
-- head, also locked until commit.  The same four statements as
-- bench/create_and_issue.sql, and both per-tenant locks a gapless, chained
-- sale must hold: at 1 tenant this is what serializes any implementation.
-- No hash is computed, no trigger, function or row level security runs.
\set org random(:org_lo, :org_hi)
\set usr :org + :user_off
\set cust :org + :cust_off
BEGIN;
SELECT pg_catalog.set_config('bench.tenant', :org || ':' || :usr, true);
WITH n AS (
  UPDATE bench_plain.counters SET last = last + 1 WHERE org_id = :org RETURNING last),
h AS (
  INSERT INTO bench_plain.invoices
    (org_id, number, number_text, status, customer_id, created_by, issued_at, currency,
     subtotal, discount_total, tax_total, total, item_count, next_line_no,
     seller_snapshot, customer_snapshot)
  SELECT :org, n.last, 'FV' || n.last, 'issued', :cust, :usr, now(), 'COP',
     2924900.00, 119000.00, 533121.00, 3339021.00, 5, 6,
     '{"name": "Bench 1", "tax_id": null, "address": null, "city": null, "department": null, "phone": null, "email": null, "tax_regime": null, "resolution": "Resolución DIAN 18764000000001 (bench)", "prefix": "FV", "number_from": 1, "number_to": 99999999, "valid_from": "2026-11-04", "valid_to": "2028-11-04", "timezone": "America/Bogota"}',
     '{"id_type": "CC", "id_number": "1000000001", "name": "Cliente bench 1", "address": null, "phone": null, "email": null}'
  FROM n
  RETURNING *),
i AS (
  INSERT INTO bench_plain.invoice_items
    (org_id, invoice_id, line_no, description, quantity, unit_price, tax_rate, discount_pct,
     base, discount, net, tax, line_total, material, karat, weight_grams, sku)
  SELECT :org, h.invoice_id, v.* FROM h, (VALUES
    (1, 'Anillo oro amarillo 18k', 1, 1250000, 19, 0, 1250000.00, 0.00, 1250000.00, 237500.00, 1487500.00, 'oro', 18, 3.5, 'AN-18K-035'),
    (2, 'Cadena plata 925 50 cm', 1, 189900, 19, 0, 189900.00, 0.00, 189900.00, 36081.00, 225981.00, 'plata', NULL, 12.8, 'CA-925-050'),
    (3, 'Aretes topo oro 18k', 2, 210000, 19, 5, 420000.00, 21000.00, 399000.00, 75810.00, 474810.00, 'oro', 18, 2.4, 'AR-18K-024'),
    (4, 'Dije plata 925 con circonia', 1, 85000, 19, 0, 85000.00, 0.00, 85000.00, 16150.00, 101150.00, 'plata', NULL, 4.1, 'DI-925-041'),
    (5, 'Pulsera oro rosa 14k', 1, 980000, 19, 10, 980000.00, 98000.00, 882000.00, 167580.00, 1049580.00, 'oro', 14, 6.25, 'PU-14K-062')) v
  RETURNING *),
a AS (
  INSERT INTO bench_plain.audit_log
  SELECT :org, nextval('bench_plain.audit_id_seq'), statement_timestamp(), txid_current(), session_user, NULL,
         :usr, r.t, 'INSERT', r.k, NULL, r.j, NULL,
         '\x0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0'::bytea,
         '\xf0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f'::bytea
    FROM (SELECT 'invoice.invoices', jsonb_build_object('org_id', h.org_id, 'invoice_id', h.invoice_id), to_jsonb(h)
            FROM h
          UNION ALL
          SELECT 'invoice.invoice_items', jsonb_build_object('org_id', i.org_id, 'invoice_id', i.invoice_id,
                                                             'line_no', i.line_no), to_jsonb(i)
            FROM i) r(t, k, j)
  RETURNING audit_id),
u AS (
  UPDATE bench_plain.audit_heads
     SET last_audit_id = (SELECT max(audit_id) FROM a), row_count = row_count + 6,
         head_hash = '\xf0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f'::bytea
   WHERE org_id = :org)
SELECT h.number_text FROM h;
COMMIT;
