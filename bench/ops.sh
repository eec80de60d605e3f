#!/usr/bin/env bash
# bench/ops.sh: what the operations functions cost at scale (bench/README.md,
# "Operations").
#
# 1. OPS_TENANTS (1 000) tenants and OPS_INVOICES (1 000 000) issued, paid
#    and voided invoices spread over the last year, written by a bulk
#    INSERT ... SELECT as the superuser with every trigger on (the C audit
#    trigger chains them, the guard checks them), so the audit log, the
#    heads and the rollup's input are what the API leaves; then the first
#    maintenance() pass counts them.
# 2. maintenance() when nothing changed (OPS_REPS passes, each its own
#    transaction), then OPS_DAYS times: a day of sales through the API
#    (OPS_DAY_SALES create_and_issue() per tenant, half of them paid, one
#    overdue invoice paid and one invoice voided per tenant) and the pass
#    after it.
# 3. metrics() at OPS_TENANTS tenants, then at OPS_METRICS_TENANTS (10 000):
#    the other tenants get 20 invoices each over the last 10 days.
# 4. 3 branches a tenant: the plans and the cost of nearest_branch() and
#    sales_within() as an application role (row level security on).
#
# By default it makes its own throw-away cluster with pg_virtualenv (port
# BENCH_PORT, 5491, fsync on); BENCH_EXISTING=1 uses the server the libpq
# variables point at (as a superuser; it must preload invoice).  The
# database BENCH_DB (invoice_ops_bench) is dropped and created again.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd -P)
BENCH_PORT=${BENCH_PORT:-5491}

if [ -z "${BENCH_INSIDE:-}" ] && [ "${BENCH_EXISTING:-0}" != 1 ]; then
    export BENCH_INSIDE=1 PGPORT=$BENCH_PORT
    exec pg_virtualenv -t -v 15 \
        -o "shared_preload_libraries=pg_cron,invoice" \
        -o "fsync=on" \
        "$BENCH_DIR/ops.sh" "$@"
fi

DB=${BENCH_DB:-invoice_ops_bench}
TENANTS=${OPS_TENANTS:-1000}
INVOICES=${OPS_INVOICES:-1000000}
METRICS_TENANTS=${OPS_METRICS_TENANTS:-10000}
DAY_SALES=${OPS_DAY_SALES:-10}
DAYS=${OPS_DAYS:-3}
REPS=${OPS_REPS:-7}
. "$BENCH_DIR/lib.sh"
PER=$((INVOICES / TENANTS))

# seconds since the start, for the log
T0=$(date +%s.%N)
say() { printf '== [%6.1fs] %s\n' "$(echo "$(date +%s.%N) - $T0" | bc)" "$*"; }

# times_ms REPS SQL: the statement REPS times, one transaction each, in one
# session; prints "median min max" of psql's \timing (ms, client included)
times_ms() {
    local reps=$1 sql=$2
    { echo '\timing on'; for _ in $(seq "$reps"); do echo "$sql \\g /dev/null"; done; } |
        psql_db | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sort -n |
        awk '{ v[NR] = $1 } END { printf "%.1f %.1f %.1f\n", v[int((NR + 1) / 2)], v[1], v[NR] }'
}

# the steps of the last pass, ms each
steps() {
    psql_db -At -c "SELECT '    steps (ms): ' || string_agg(format('%s %s', k, v->'ms'), ', ' ORDER BY k)
                      FROM invoice.maintenance_state, jsonb_each(last_result->'steps') AS e(k, v)"
}

# tenants FROM TO: tenants ops-FROM .. ops-TO, each with a seller and a
# customer, through the API (one transaction)
tenants() {
    psql_db -v lo="$1" -v hi="$2" <<'EOF'
SET client_min_messages = warning;
SET bench.lo = :lo;
SET bench.hi = :hi;
BEGIN;
DO $$
DECLARE
	settings jsonb := jsonb_build_object(
		'prefix', 'FV', 'number_from', 1, 'number_to', 2000000,
		'resolution', 'Resolución DIAN 18764000000001 (bench)',
		'valid_from', current_date - 400, 'valid_to', current_date + 300,
		'payment_terms_days', 30);
	org bigint;
BEGIN
	FOR i IN current_setting('bench.lo')::int .. current_setting('bench.hi')::int LOOP
		org := invoice.create_organization(format('ops-%s', i), format('Joyería "%s"', i), NULL, settings);
		PERFORM invoice.set_tenant(org);
		PERFORM invoice.add_user('Vendedor', 'seller');
		PERFORM invoice.upsert_customer('CC', (1000000000 + i)::text, format('Cliente %s', i));
	END LOOP;
END
$$;
COMMIT;
EOF
}

# history FROM TO PER DAYS: PER invoices a tenant over the last DAYS days,
# numbers 1..PER in date order; 5 % void, 1 % still issued (overdue by the
# next pass), the last 6 % of the period issued (not yet due), the rest paid
history() {
    psql_db -v lo="$1" -v hi="$2" -v per="$3" -v days="$4" <<'EOF'
INSERT INTO invoice.invoices (org_id, number, number_text, status, customer_id, created_by,
	created_at, issued_at, paid_at, voided_at, void_reason, currency,
	subtotal, tax_total, total, amount_paid, seller_snapshot, customer_snapshot, due_date)
SELECT t.org_id, n, 'FV' || n, x.status, t.customer_id, t.user_id,
	x.at, x.at, CASE WHEN x.status = 'paid' THEN x.at + interval '1 hour' END,
	CASE WHEN x.status = 'void' THEN x.at + interval '2 hours' END,
	CASE WHEN x.status = 'void' THEN 'anulada (bench)' END, 'COP',
	x.sub, round(x.sub * 0.19, 2), x.sub + round(x.sub * 0.19, 2),
	CASE WHEN x.status = 'paid' THEN x.sub + round(x.sub * 0.19, 2) ELSE 0 END,
	'{"display_name": "Vendedor"}', jsonb_build_object('name', 'Cliente'),
	CASE WHEN x.status = 'issued' THEN (x.at AT TIME ZONE 'America/Bogota')::date + 30 END
FROM (SELECT o.org_id, u.user_id, c.customer_id
	    FROM invoice.organizations o
	    JOIN invoice.users u ON u.org_id = o.org_id
	    JOIN invoice.customers c ON c.org_id = o.org_id
	   WHERE o.slug ~ '^ops-[0-9]+$' AND substr(o.slug, 5)::int BETWEEN :lo AND :hi) t
CROSS JOIN generate_series(1, :per) n
CROSS JOIN LATERAL (SELECT now() - (:per - n) * interval '1 day' * :days / :per AS at,
	CASE WHEN n % 20 = 0 THEN 'void'
	     WHEN n % 100 = 1 OR (n > :per * 0.94 AND n % 2 = 1) THEN 'issued'
	     ELSE 'paid' END AS status,
	(50000 + (n * 7919 + t.org_id * 104729) % 2000000)::numeric AS sub) x;
EOF
}

echo "== server: $(psql_su -d postgres -Atc "SELECT version()" | cut -d' ' -f1-2)," \
     "fsync=$(psql_su -d postgres -Atc 'SHOW fsync'), jit=$(psql_su -d postgres -Atc 'SHOW jit')"
psql_su -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
psql_db -c "SET client_min_messages = warning" -c "CREATE EXTENSION invoice CASCADE"

say "$TENANTS tenants (API)"
for ((lo = 1; lo <= TENANTS; lo += 500)); do
    tenants "$lo" $((lo + 499 < TENANTS ? lo + 499 : TENANTS))
done
say "$INVOICES invoices, $PER a tenant over 365 days (INSERT ... SELECT, triggers on)"
for ((lo = 1; lo <= TENANTS; lo += 100)); do
    history "$lo" $((lo + 99 < TENANTS ? lo + 99 : TENANTS)) "$PER" 365
done
say "loaded: $(psql_db -At -c "SELECT format('%s invoices, %s audit rows, database %s',
    (SELECT count(*) FROM invoice.invoices), (SELECT count(*) FROM invoice.audit_log),
    pg_size_pretty(pg_database_size(current_database())))")"
psql_db -c "VACUUM ANALYZE" 2>/dev/null
say "first pass (counts every tenant from its invoices): $(psql_db -At -c '\timing on' -c 'SELECT invoice.maintenance()' | sed -n 's/^Time: //p')"
psql_db -At -c "SELECT invoice.maintenance()" >/dev/null
read -r med lo hi <<<"$(times_ms "$REPS" "SELECT invoice.maintenance()")"
say "IDLE pass, median of $REPS: $med ms (min $lo, max $hi)"
steps

for day in $(seq "$DAYS"); do
    psql_db -v n="$DAY_SALES" -v hi="$TENANTS" >/dev/null <<'EOF'
SET client_min_messages = warning;
SET bench.n = :n;
SET bench.tenants = :hi;
BEGIN;
DO $$
DECLARE
	t record;
	late bigint;
BEGIN
	FOR t IN SELECT o.org_id, u.user_id, c.customer_id FROM invoice.organizations o
			   JOIN invoice.users u ON u.org_id = o.org_id JOIN invoice.customers c ON c.org_id = o.org_id
			  WHERE o.slug ~ '^ops-[0-9]+$' AND substr(o.slug, 5)::int <= current_setting('bench.tenants')::int LOOP
		PERFORM invoice.set_tenant(t.org_id, t.user_id);
		FOR k IN 1 .. current_setting('bench.n')::int LOOP
			PERFORM invoice.create_and_issue(t.customer_id,
				'[{"description": "Anillo oro 18k", "quantity": 1, "unit_price": 1250000},
				  {"description": "Cadena plata", "quantity": 2, "unit_price": 180000}]',
				NULL, CASE WHEN k % 2 = 0 THEN 'cash' END);
		END LOOP;
		SELECT invoice_id INTO late FROM invoice.invoices
		 WHERE org_id = t.org_id AND overdue ORDER BY invoice_id LIMIT 1;
		IF late IS NOT NULL THEN
			PERFORM invoice.record_payment(late, (SELECT total - amount_paid FROM invoice.invoices
												   WHERE org_id = t.org_id AND invoice_id = late), 'cash');
		END IF;
		PERFORM invoice.void((SELECT max(invoice_id) FROM invoice.invoices
							   WHERE org_id = t.org_id AND status = 'issued'), 'devuelta (bench)');
	END LOOP;
END
$$;
COMMIT;
EOF
    say "day $day: $((TENANTS * DAY_SALES)) sales, $TENANTS payments, $TENANTS voids (API); the pass after it: $(psql_db -At -c '\timing on' -c 'SELECT invoice.maintenance()' | sed -n 's/^Time: //p')"
    steps
done
read -r med lo hi <<<"$(times_ms "$REPS" "SELECT invoice.maintenance()")"
say "IDLE pass again, median of $REPS: $med ms (min $lo, max $hi)"
steps

metrics() {
    local n
    n=$(psql_db -At -c "SELECT count(*) FROM invoice.organizations")
    psql_db -At -c "SELECT invoice.metrics()" >/dev/null
    read -r med lo hi <<<"$(times_ms "$REPS" "SELECT invoice.metrics()")"
    say "metrics() at $n tenants, median of $REPS: $med ms (min $lo, max $hi), $(psql_db -At -c "SELECT pg_size_pretty(octet_length(invoice.metrics())::bigint)")"
    read -r med lo hi <<<"$(times_ms "$REPS" "SELECT octet_length(invoice.metrics())")"
    say "  in the server only (octet_length(metrics()), nothing sent): $med ms (min $lo, max $hi)"
}
metrics

say "tenants $((TENANTS + 1)) .. $METRICS_TENANTS, 20 invoices each over 10 days"
for ((lo = TENANTS + 1; lo <= METRICS_TENANTS; lo += 500)); do
    tenants "$lo" $((lo + 499 < METRICS_TENANTS ? lo + 499 : METRICS_TENANTS))
    history "$lo" $((lo + 499 < METRICS_TENANTS ? lo + 499 : METRICS_TENANTS)) 20 10
done
psql_db -c "VACUUM ANALYZE" 2>/dev/null
say "the pass that counts them: $(psql_db -At -c '\timing on' -c 'SELECT invoice.maintenance()' | sed -n 's/^Time: //p')"
psql_db -At -c "SELECT invoice.maintenance()" >/dev/null
read -r med lo hi <<<"$(times_ms "$REPS" "SELECT invoice.maintenance()")"
say "IDLE pass at $METRICS_TENANTS tenants, median of $REPS: $med ms (min $lo, max $hi)"
steps
metrics

if [ "${OPS_EXPLAIN:-0}" = 1 ]; then
    say "plans of the statements of an idle pass and of metrics() that took 1 ms or more"
    psql_db 2>&1 <<'EOF' | grep -v '^  *\(Buffers\|Heap Fetches\|Planning\)'
LOAD 'auto_explain';
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_analyze = on;
SET auto_explain.log_level = notice;
SET auto_explain.log_min_duration = 1;
SELECT invoice.maintenance() \g /dev/null
SELECT octet_length(invoice.metrics()) \g /dev/null
EOF
fi

say "3 branches a tenant (API)"
psql_db >/dev/null <<'EOF'
SET client_min_messages = warning;
BEGIN;
DO $$
DECLARE
	t record;
BEGIN
	FOR t IN SELECT org_id FROM invoice.organizations WHERE slug ~ '^ops-[0-9]+$' LOOP
		PERFORM invoice.set_tenant(t.org_id);
		FOR k IN 1 .. 3 LOOP
			-- somewhere in Colombia
			PERFORM invoice.add_branch(format('Sede %s', k), -77 + random() * 5, 1 + random() * 9);
		END LOOP;
	END LOOP;
END
$$;
COMMIT;
ANALYZE invoice.branches;
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ops_bench_app') THEN
		CREATE ROLE ops_bench_app;
	END IF;
END
$$;
GRANT invoice_app TO ops_bench_app;
SELECT invoice.grant_tenant('ops_bench_app', org_id) FROM invoice.organizations WHERE slug = 'ops-1';
EOF
org=$(psql_db -At -c "SELECT org_id FROM invoice.organizations WHERE slug = 'ops-1'")
say "branches: $(psql_db -At -c "SELECT count(*) FROM invoice.branches"); plans as ops_bench_app in tenant ops-1 (the 7th call of each: a generic plan may be used from the 6th)"
# auto_explain prints the plan of the statement inside the function
psql_db -v org="$org" 2>&1 <<'EOF' | sed -n 's/^psql:<stdin>:[0-9]*: NOTICE:  //p; /^ *->\|^ *Sort\|^ *Limit\|^ *Index\|^ *Filter\|^ *Aggregate\|^ *Hash\|^ *Nested\|^ *Planning\|^ *Execution\|^ *Buffers/p'
LOAD 'auto_explain';
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_analyze = on;
SET auto_explain.log_buffers = on;
SET auto_explain.log_level = notice;
SET auto_explain.log_min_duration = -1;
BEGIN;
SET LOCAL ROLE ops_bench_app;
SELECT invoice.set_tenant(:org) \g /dev/null
SELECT invoice.nearest_branch(-74.0721, 4.7110) FROM generate_series(1, 6) \g /dev/null
SELECT count(*) FROM invoice.sales_within(-74.0721, 4.7110, 50000, current_date - 30, current_date), generate_series(1, 6) \g /dev/null
RESET ROLE;
SET LOCAL auto_explain.log_min_duration = 0;
SET LOCAL ROLE ops_bench_app;
SELECT invoice.nearest_branch(-74.0721, 4.7110) \g /dev/null
SELECT * FROM invoice.sales_within(-74.0721, 4.7110, 50000, current_date - 30, current_date) \g /dev/null
COMMIT;
EOF
for fn in "nearest_branch(-74.0721, 4.7110)" \
          "sales_within(-74.0721, 4.7110, 50000, current_date - 30, current_date)"; do
    say "$fn: 1000 calls in $(psql_db -At -v org="$org" 2>&1 <<EOF | sed -n 's/.*NOTICE:  //p'
BEGIN;
SET LOCAL ROLE ops_bench_app;
SELECT invoice.set_tenant(:org) \g /dev/null
DO \$\$
DECLARE
	t0 timestamptz := clock_timestamp();
BEGIN
	FOR i IN 1 .. 1000 LOOP
		PERFORM invoice.$fn;
	END LOOP;
	RAISE NOTICE '%', round(extract(epoch FROM clock_timestamp() - t0) * 1000, 1);
END
\$\$;
COMMIT;
EOF
) ms"
done
say "done"
