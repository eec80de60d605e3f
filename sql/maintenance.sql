-- Operations: maintenance(), its pg_cron job, health().  Figures that
-- depend on the clock or on what ran before are printed as checks.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS invoice CASCADE;
\set VERBOSITY terse

CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    hint text;
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
    RETURN SQLSTATE || ': ' || SQLERRM || coalesce(' HINT: ' || nullif(hint, ''), '');
END
$$;

-- only invoice_admin (and superusers, the pg_cron job's owner) may call
CREATE ROLE regress_mapp;
GRANT invoice_service TO regress_mapp;
CREATE ROLE regress_madmin;
GRANT invoice_admin TO regress_madmin;
SET ROLE regress_mapp;
SELECT pg_temp.err($$SELECT invoice.maintenance()$$);
SELECT pg_temp.err($$SELECT invoice.schedule_maintenance()$$);
SELECT pg_temp.err($$SELECT invoice.unschedule_maintenance()$$);
SELECT pg_temp.err($$SELECT invoice.health()$$);
RESET ROLE;

-- a pass as a platform admin: every step reports what it did and how long
SET ROLE regress_madmin;
SELECT invoice.maintenance() AS r \gset
SELECT (:'r'::jsonb)->'skipped' AS skipped,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys((:'r'::jsonb)->'steps') k) AS steps,
       jsonb_typeof((:'r'::jsonb)->'ms') AS ms,
       ((:'r'::jsonb)#>>'{steps,audit_partitions,created}')::int >= 0 AS created,
       jsonb_typeof((:'r'::jsonb)#>'{steps,analyze,tables}') AS analyzed,
       jsonb_typeof((:'r'::jsonb)#>'{steps,analyze,ms}') AS analyze_ms,
       jsonb_typeof((:'r'::jsonb)#>'{steps,telegram}') AS telegram;

-- idempotent: a second pass creates nothing, and the state row counts it
SELECT runs AS runs_before FROM invoice.maintenance_state \gset
SELECT invoice.maintenance()#>'{steps,audit_partitions,created}' AS created_again;
SELECT runs - :runs_before AS more_runs, last_duration_ms >= 0 AS duration,
       last_result->'skipped' AS skipped
  FROM invoice.maintenance_state;

-- the current month and the next two are covered
SELECT count(*) AS months_covered
  FROM generate_series(date_trunc('month', now()), date_trunc('month', now()) + interval '2 months',
                       interval '1 month') AS m
 WHERE to_regclass(format('invoice.audit_log_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM'))) IS NOT NULL;

-- stale statistics are refreshed: customers gets many fresh rows, and
-- once its counters reach the statistics system the next pass analyzes
-- it, and the pass after that does not
RESET ROLE;
SELECT invoice.create_organization('maint-stats', 'Estadísticas') AS org_stats \gset
BEGIN;
SELECT invoice.set_tenant(:org_stats);
-- more new rows than the threshold, whatever the suites before left there
SELECT greatest(300, 100 + 0.2 * reltuples)::int AS n FROM pg_class WHERE oid = 'invoice.customers'::regclass \gset
SELECT count(invoice.upsert_customer('CC', (7000000 + g)::text, 'Cliente ' || g)) = :n AS added
  FROM generate_series(1, :n) g;
COMMIT;
SELECT pg_stat_force_next_flush();
SET ROLE regress_madmin;
SELECT invoice.maintenance()#>'{steps,analyze,tables}' ? 'invoice.customers' AS analyzed;
SELECT invoice.maintenance()#>'{steps,analyze,tables}' ? 'invoice.customers' AS analyzed_again;
RESET ROLE;

-- pg_cron lives in the database cron.database_name names (postgres in the
-- test cluster), not this one: a clear error, with the settings to change
SET ROLE regress_madmin;
SELECT pg_temp.err($$SELECT invoice.schedule_maintenance('*/5 * * * *')$$);
SELECT pg_temp.err($$SELECT invoice.unschedule_maintenance()$$);
SELECT pg_temp.err($$SELECT invoice.schedule_maintenance(NULL)$$);
SELECT pg_temp.err($$SELECT invoice.schedule_maintenance('  ')$$);
RESET ROLE;

-- health: the version installed, the library, the job, partitions ahead,
-- the last pass, and the tenants running out within 30 days
SELECT invoice.create_organization('maint-range', 'Rango corto', NULL,
       '{"number_from": 1, "number_to": 1}') AS org_range \gset
SELECT invoice.create_organization('maint-resolution', 'Resolución vence', NULL,
       jsonb_build_object('valid_from', '2020-01-01', 'valid_to', current_date + 10)) AS org_res \gset
SELECT invoice.create_organization('maint-fine', 'Sin apuro', NULL,
       jsonb_build_object('number_to', 1000000, 'valid_from', '2020-01-01', 'valid_to', current_date + 400)) AS org_fine \gset
-- the short range: its one number issued today
BEGIN;
SELECT invoice.set_tenant(:org_range);
SELECT invoice.upsert_customer('CC', '1010', 'Cliente') AS cust \gset
SELECT invoice.create_invoice(:cust, '[{"description": "Anillo", "quantity": 1, "unit_price": 10}]') AS inv \gset
SELECT invoice.issue(:inv);
COMMIT;

SET ROLE regress_madmin;
SELECT invoice.health() AS h \gset
SELECT (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(:'h'::jsonb) k) AS keys,
       (:'h'::jsonb)->>'version' = (SELECT extversion FROM pg_extension WHERE extname = 'invoice') AS version,
       (:'h'::jsonb)->'preloaded' AS preloaded,
       (:'h'::jsonb)->'cron' AS cron,
       ((:'h'::jsonb)->>'partitions_ahead')::int >= 2 AS partitions_ahead,
       ((:'h'::jsonb)#>>'{maintenance,runs}')::int >= 2 AS maintenance_runs;
SELECT r->>'slug' AS slug, r->'numbers_left' AS numbers_left, r->'issued_last_30_days' AS recent,
       (r->>'valid_to')::date - current_date AS days_left
  FROM jsonb_array_elements(:'h'::jsonb->'running_out') r
 WHERE r->>'slug' LIKE 'maint-%' ORDER BY 1;
RESET ROLE;

-- audit retention: opt-in per tenant, a whole number of days from 1
SELECT pg_temp.err($$SELECT invoice.create_organization('maint-bad', 'X', NULL, '{"audit_retention_days": 0}')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('maint-bad', 'X', NULL, '{"audit_retention_days": 36501}')$$);
SELECT invoice.create_organization('maint-retain', 'Retiene poco', NULL,
       '{"audit_retention_days": 1}') AS org_retain \gset
SELECT invoice.update_organization(:org_retain, '{"audit_retention_days": 400}');
SELECT invoice.update_organization(:org_retain, '{"audit_retention_days": null}');
SELECT invoice.update_organization(:org_retain, '{"audit_retention_days": 1}');
SELECT slug, audit_retention_days FROM invoice.organizations WHERE slug = 'maint-retain';
BEGIN;
SELECT invoice.set_tenant(:org_retain);
SELECT invoice.upsert_customer('CC', '2020', 'Cliente') IS NOT NULL AS written;
COMMIT;
SELECT row_count AS rows_before FROM invoice.audit_heads WHERE org_id = :org_retain \gset
SET ROLE regress_madmin;
-- nothing is a day old yet: nothing goes, and the chain still verifies
SELECT (invoice.maintenance()#>'{steps,audit_retention}') - 'ms' AS retention;
RESET ROLE;
SELECT row_count = :rows_before AS kept, purged_rows FROM invoice.audit_heads WHERE org_id = :org_retain;
BEGIN;
SELECT invoice.set_tenant(:org_retain);
SELECT first_bad_audit_id FROM invoice.audit_verify(:org_retain);
COMMIT;

DROP ROLE regress_mapp;
DROP ROLE regress_madmin;
