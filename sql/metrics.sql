-- metrics(): the Prometheus exposition, and the rollup that maintenance()
-- keeps for it.  Prints no ids (org_id labels are masked) and nothing of
-- the clock.
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

-- the lines of one tenant's samples, ids masked
CREATE FUNCTION pg_temp.samples(org text) RETURNS SETOF text LANGUAGE sql AS $$
SELECT regexp_replace(l, 'org_id="[0-9]+"', 'org_id="N"')
  FROM regexp_split_to_table(invoice.metrics(), E'\n') WITH ORDINALITY AS t(l, n)
 WHERE strpos(l, 'org="' || org || '"') > 0
   AND l NOT LIKE 'invoice_resolution_remaining_seconds%'
 ORDER BY n
$$;

-- every counter and gauge whose figures do not depend on the clock
CREATE FUNCTION pg_temp.matches() RETURNS boolean LANGUAGE sql AS $$
SELECT NOT EXISTS (
    SELECT c.org_id FROM invoice.tenant_counts c
      JOIN (SELECT o.org_id,
                   count(i.invoice_id) FILTER (WHERE i.status = 'draft') AS drafts,
                   count(i.invoice_id) FILTER (WHERE i.status = 'issued') AS issued,
                   count(i.invoice_id) FILTER (WHERE i.status = 'paid') AS paid,
                   count(i.invoice_id) FILTER (WHERE i.status = 'void') AS voided,
                   count(i.invoice_id) FILTER (WHERE i.overdue AND i.status = 'issued') AS overdue,
                   coalesce(sum(i.total - i.amount_paid) FILTER (WHERE i.overdue AND i.status = 'issued'), 0) AS owed,
                   max(i.number) AS last_number
              FROM invoice.organizations o LEFT JOIN invoice.invoices i ON i.org_id = o.org_id
             GROUP BY o.org_id) r ON r.org_id = c.org_id
     WHERE (c.drafts, c.issued, c.paid, c.voided, c.overdue, c.overdue_balance)
           IS DISTINCT FROM (r.drafts, r.issued, r.paid, r.voided, r.overdue, r.owed)
        OR c.last_number IS DISTINCT FROM r.last_number)
   AND (SELECT count(*) FROM invoice.tenant_counts) = (SELECT count(*) FROM invoice.organizations)
$$;

-- only invoice_admin (and superusers)
CREATE ROLE regress_metrics_app;
GRANT invoice_service TO regress_metrics_app;
CREATE ROLE regress_metrics_admin;
GRANT invoice_admin TO regress_metrics_admin;
SET ROLE regress_metrics_app;
SELECT pg_temp.err($$SELECT invoice.metrics()$$);
SELECT pg_temp.err($$SELECT invoice.audit_check()$$);
RESET ROLE;

SELECT invoice.create_organization('metrics-a', E'Métricas "A" \\ Uno',  NULL,
       '{"number_from": 1, "number_to": 10, "payment_terms_days": 30}') AS org_a \gset
-- before any pass: zeros
SELECT * FROM pg_temp.samples(E'Métricas \\"A\\" \\\\ Uno');

BEGIN;
SELECT invoice.set_tenant(:org_a);
SELECT invoice.upsert_customer('CC', '1020304050', 'María') AS maria \gset
SELECT invoice.create_and_issue(:maria, '[{"description": "Anillo", "quantity": 1, "unit_price": 1000}]')->>'number' AS credit;
SELECT invoice.create_and_issue(:maria, '[{"description": "Aretes", "quantity": 2, "unit_price": 500}]', NULL, 'cash')->>'number' AS cash;
SELECT invoice.create_invoice(:maria, '[{"description": "Cadena", "quantity": 1, "unit_price": 300}]') AS draft \gset
SELECT invoice.create_invoice(:maria, '[{"description": "Dije", "quantity": 1, "unit_price": 200}]') AS late \gset
SELECT invoice.issue(:late);
COMMIT;

SET ROLE regress_metrics_admin;
SELECT (invoice.maintenance()#>'{steps,rollup,tenants_counted}')::int > 0 AS counted;
RESET ROLE;
-- read as the superuser: tenant_counts has row level security
SELECT * FROM pg_temp.samples(E'Métricas \\"A\\" \\\\ Uno');
SELECT pg_temp.matches() AS matches;

-- changes after the first count: read from the audit log, not recounted
BEGIN;
SELECT invoice.set_tenant(:org_a);
SELECT invoice.issue(:draft);
SELECT invoice.void(:draft, 'error de precio');
SELECT invoice.record_payment(:late, 100) IS NOT NULL AS part_paid;
COMMIT;
ALTER TABLE invoice.invoices DISABLE TRIGGER invoices_guard;
UPDATE invoice.invoices SET due_date = (now() AT TIME ZONE 'America/Bogota')::date - 1 WHERE invoice_id = :late;
ALTER TABLE invoice.invoices ENABLE TRIGGER invoices_guard;
SET ROLE regress_metrics_admin;
-- the first pass marks it overdue; the second reads that mark's record
SELECT (invoice.maintenance()#>>'{steps,rollup,tenants_changed}')::int > 0 AS changed;
SELECT (invoice.maintenance()#>>'{steps,overdue,marked}')::int AS marked_again;
-- a pass when nothing changed changes no tenant
SELECT (invoice.maintenance()#>'{steps,rollup}') - 'ms' AS idle;
RESET ROLE;
SELECT * FROM pg_temp.samples(E'Métricas \\"A\\" \\\\ Uno');
SELECT pg_temp.matches() AS matches;

-- the daily rollup: today's sales by seller (no user: 0)
SELECT seller_id, issued, voided, subtotal, tax, total, voided_total
  FROM invoice.sales_daily
 WHERE org_id = :org_a AND day = (now() AT TIME ZONE 'America/Bogota')::date;

-- the day's sales that metrics() reads are summed into the tenant's row by
-- the pass: as if the last pass had run yesterday, today has none until
-- the next pass sums them again (and only that tenant's)
UPDATE invoice.tenant_counts SET today = today - 1 WHERE org_id = :org_a;
SELECT s FROM pg_temp.samples(E'Métricas \\"A\\" \\\\ Uno') s WHERE s LIKE 'invoice_issued_today%';
SET ROLE regress_metrics_admin;
SELECT (invoice.maintenance()#>'{steps,rollup}') - 'ms' AS next_day;
RESET ROLE;
SELECT s FROM pg_temp.samples(E'Métricas \\"A\\" \\\\ Uno') s WHERE s LIKE 'invoice_issued_today%';
SELECT (today_issued, today_subtotal, today_tax, today_total) = (
       SELECT sum(issued)::bigint, sum(subtotal), sum(tax), sum(total) FROM invoice.sales_daily
        WHERE org_id = :org_a AND day = (now() AT TIME ZONE 'America/Bogota')::date) AS sums_match
  FROM invoice.tenant_counts WHERE org_id = :org_a;

-- the chains' check: every chain verifies; health() and metrics() say so
SET ROLE regress_metrics_admin;
SELECT invoice.audit_check() - 'checked_at' - 'ms' - 'tenants' - 'rows_checked' AS checked;
SELECT (invoice.health()->'chain_check') - 'checked_at' - 'tenants' - 'rows_checked' AS chain_check;
RESET ROLE;
SELECT s FROM pg_temp.samples(E'Métricas \\"A\\" \\\\ Uno') s WHERE s LIKE 'invoice_audit_chain%';

-- the families: HELP and TYPE once each, counters named _total
SET ROLE regress_metrics_admin;
SELECT l FROM regexp_split_to_table(invoice.metrics(), E'\n') WITH ORDINALITY AS t(l, n)
 WHERE l LIKE '# TYPE %' ORDER BY n;
SELECT right(invoice.metrics(), 1) = E'\n' AS ends_with_line_feed;
RESET ROLE;

DROP ROLE regress_metrics_app;
DROP ROLE regress_metrics_admin;
