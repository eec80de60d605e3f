-- bench/plain_shape_audited.sql: the two-call API's shape with its audit, in
-- plain SQL (workload shape_floor).  What bench/plain_shape.sql sends,
-- statement for statement (BEGIN, set_config(), one statement for the
-- draft and its items, one for the numbering, COMMIT), plus what auditing
-- that transaction must write, as bench/plain_audited.sql writes it: the
-- draft's and items' 6 INSERT records with the first statement; with the
-- second, the issue UPDATE's record (the old row, the new row and the
-- changed keys as jsonb) and the tenant's chain head, locked until commit.
-- No hash is computed, no trigger, function or row level security runs:
-- the floor of bench/create_issue.sql with auditing on.
\set org random(:org_lo, :org_hi)
\set usr :org + :user_off
\set cust :org + :cust_off
BEGIN;
SELECT pg_catalog.set_config('bench.tenant', :org || ':' || :usr, true);
WITH h AS (
  INSERT INTO bench_plain.invoices
    (org_id, status, customer_id, created_by, currency,
     subtotal, discount_total, tax_total, total, item_count, next_line_no)
  VALUES (:org, 'draft', :cust, :usr, 'COP', 2924900.00, 119000.00, 533121.00, 3339021.00, 5, 6)
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
            FROM i) r(t, k, j))
SELECT invoice_id AS inv FROM h \gset
WITH o AS (
  SELECT * FROM bench_plain.invoices WHERE org_id = :org AND invoice_id = :inv),
n AS (
  UPDATE bench_plain.counters SET last = last + 1 WHERE org_id = :org RETURNING last),
u AS (
  UPDATE bench_plain.invoices
   SET number = n.last, number_text = 'FV' || n.last, status = 'issued', issued_at = now(),
       -- what an issued invoice keeps (as bench/plain_insert.sql writes it)
       seller_snapshot = '{"name": "Bench 1", "tax_id": null, "address": null, "city": null, "department": null, "phone": null, "email": null, "tax_regime": null, "resolution": "Resolución DIAN 18764000000001 (bench)", "prefix": "FV", "number_from": 1, "number_to": 99999999, "valid_from": "2026-11-04", "valid_to": "2028-11-04", "timezone": "America/Bogota"}',
       customer_snapshot = '{"id_type": "CC", "id_number": "1000000001", "name": "Cliente bench 1", "address": null, "phone": null, "email": null}'
  FROM n
   WHERE org_id = :org AND invoice_id = :inv
  RETURNING bench_plain.invoices.*),
a AS (
  INSERT INTO bench_plain.audit_log
  SELECT :org, nextval('bench_plain.audit_id_seq'), statement_timestamp(), txid_current(), session_user, NULL,
         :usr, 'invoice.invoices', 'UPDATE', jsonb_build_object('org_id', u.org_id, 'invoice_id', u.invoice_id),
         to_jsonb(o), to_jsonb(u),
         (SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(to_jsonb(u)) e
           WHERE to_jsonb(o) -> e.key IS DISTINCT FROM e.value),
         '\x0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0'::bytea,
         '\xf0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f'::bytea
    FROM o, u
  RETURNING audit_id),
hd AS (
  UPDATE bench_plain.audit_heads
     SET last_audit_id = (SELECT max(audit_id) FROM a), row_count = row_count + 7,
         head_hash = '\xf0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f'::bytea
   WHERE org_id = :org)
SELECT number_text FROM u;
COMMIT;
