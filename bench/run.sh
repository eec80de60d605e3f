#!/usr/bin/env bash
# bench/run.sh: pgbench figures for invoice (see bench/README.md).
#
# For 1 tenant (one gapless counter) and for 16 tenants, at 1, 8 and 32
# clients, it measures "set_tenant, create a draft with 5 jewelry items,
# issue it" in one transaction (bench/create_issue.sql) beside the plain
# INSERT ceiling (bench/plain_insert.sql), as a non-superuser so that row
# level security applies, and prints tps, average and p95 latency and the
# ratio between the two.
#
# By default it makes its own throw-away cluster with pg_virtualenv (port
# BENCH_PORT, 5490).  BENCH_EXISTING=1 uses the server that the libpq
# variables (PGHOST, PGPORT, PGUSER as a superuser, ...) point at instead;
# that server must preload invoice.  Either way the extension must be
# installed (make && sudo make install).
#
# Environment: BENCH_SECONDS (20 per run), BENCH_CLIENTS ("1 8 32"),
# BENCH_TENANTS ("1 16"), BENCH_SYNC_OFF (1: a second table with
# synchronous_commit=off), BENCH_DB (invoice_bench), BENCH_PORT (5490).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd -P)
BENCH_PORT=${BENCH_PORT:-5490}

if [ -z "${BENCH_INSIDE:-}" ] && [ "${BENCH_EXISTING:-0}" != 1 ]; then
    # pg_virtualenv turns fsync off for its clusters; a benchmark needs the
    # default back.  Everything else stays at the defaults.
    export BENCH_INSIDE=1 PGPORT=$BENCH_PORT
    exec pg_virtualenv -t -v 15 \
        -o "shared_preload_libraries=pg_cron,invoice" \
        -o "fsync=on" \
        -o "max_connections=100" \
        "$BENCH_DIR/run.sh" "$@"
fi

SECS=${BENCH_SECONDS:-20}
CLIENTS=${BENCH_CLIENTS:-"1 8 32"}
TENANT_SETS=${BENCH_TENANTS:-"1 16"}
SYNC_OFF=${BENCH_SYNC_OFF:-0}
DB=${BENCH_DB:-invoice_bench}
APP=bench_app
APP_PW=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$BENCH_DIR/results/$STAMP"
mkdir -p "$OUT"

psql_su() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
psql_db() { psql_su -d "$DB" "$@"; }

echo "== server: $(psql_su -d postgres -Atc "SELECT version()" | cut -d' ' -f1-2)," \
     "port $(psql_su -d postgres -Atc 'SHOW port'), fsync=$(psql_su -d postgres -Atc 'SHOW fsync')," \
     "synchronous_commit=$(psql_su -d postgres -Atc 'SHOW synchronous_commit')"
if [ "$(psql_su -d postgres -Atc "SELECT count(*) FROM pg_available_extensions WHERE name = 'invoice'")" != 1 ]; then
    echo "the invoice extension is not installed: run make && sudo make install first" >&2
    exit 1
fi

# ---------------------------------------------------------------- setup
echo "== setup: database $DB, role $APP, 1 + 16 tenants, bench_plain tables"
psql_su -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
psql_db -v pw="$APP_PW" <<'EOF'
SET client_min_messages = warning;
CREATE EXTENSION invoice CASCADE;
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bench_app') THEN
		CREATE ROLE bench_app LOGIN;
	END IF;
END
$$;
ALTER ROLE bench_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD :'pw';
GRANT invoice_app TO bench_app;

-- the single tenant first, then the 16: ids in one block each.  Settings
-- like a shop's: a DIAN resolution with a range and validity dates (in
-- force today, whenever the bench runs)
DO $$
DECLARE
	settings jsonb := jsonb_build_object(
		'prefix', 'FV', 'number_from', 1, 'number_to', 99999999,
		'resolution', 'Resolución DIAN 18764000000001 (bench)',
		'valid_from', current_date - 30, 'valid_to', current_date + 700);
BEGIN
	PERFORM invoice.create_organization('bench-solo', 'Bench solo', '900123456-8', settings);
	FOR i IN 1..16 LOOP
		PERFORM invoice.create_organization(format('bench-%s', i), format('Bench %s', i),
											NULL, settings);
	END LOOP;
END
$$;
EOF

orgs=$(psql_db -At -c "SELECT org_id FROM invoice.organizations WHERE slug LIKE 'bench-%' ORDER BY org_id")
for org in $orgs; do
    # one transaction a tenant: a seller user and a customer
    psql_db <<EOF >/dev/null
SELECT invoice.grant_tenant('$APP', $org);
BEGIN;
SELECT invoice.set_tenant($org);
SELECT invoice.add_user('Vendedor bench', 'seller');
SELECT invoice.upsert_customer('CC', '$((1000000000 + org))', 'Cliente bench $org');
COMMIT;
EOF
done

# the scripts find users and customers as org_id + offset: check that holds
read -r solo lo hi n user_off cust_off offsets <<<"$(psql_db -At -F ' ' -c "
    SELECT min(o.org_id) FILTER (WHERE o.slug = 'bench-solo'),
           min(o.org_id) FILTER (WHERE o.slug <> 'bench-solo'),
           max(o.org_id) FILTER (WHERE o.slug <> 'bench-solo'),
           count(*) FILTER (WHERE o.slug <> 'bench-solo'),
           min(u.user_id - o.org_id), min(c.customer_id - o.org_id),
           count(DISTINCT (u.user_id - o.org_id, c.customer_id - o.org_id))
      FROM invoice.organizations o
      JOIN invoice.users u USING (org_id)
      JOIN invoice.customers c USING (org_id)
     WHERE o.slug LIKE 'bench-%'")"
if [ "$n" != 16 ] || [ $((hi - lo)) != 15 ] || [ "$offsets" != 1 ]; then
    echo "!! the bench tenants' ids are not contiguous (another session in this database?)" >&2
    exit 1
fi

# the ceiling: tables of the same shape, owned by bench_app, no triggers or RLS
psql_db <<'EOF'
SET client_min_messages = warning;
CREATE SCHEMA bench_plain AUTHORIZATION bench_app;
CREATE SEQUENCE bench_plain.invoice_id_seq;
CREATE SEQUENCE bench_plain.number_seq;
DO $$
DECLARE
	t text;
	c record;
BEGIN
	FOREACH t IN ARRAY ARRAY['organizations', 'users', 'customers', 'invoices', 'invoice_items']
	LOOP
		EXECUTE format('CREATE TABLE bench_plain.%I (LIKE invoice.%I INCLUDING DEFAULTS'
					   ' INCLUDING CONSTRAINTS INCLUDING INDEXES)', t, t);
	END LOOP;
	-- the same foreign keys, pointing at the bench_plain tables
	FOR c IN
		SELECT con.conname, rel.relname, pg_get_constraintdef(con.oid) AS def
		  FROM pg_constraint con
		  JOIN pg_class rel ON rel.oid = con.conrelid
		 WHERE con.contype = 'f'
		   AND rel.relnamespace = 'invoice'::regnamespace
		   AND rel.relname IN ('users', 'customers', 'invoices', 'invoice_items')
		 ORDER BY con.oid
	LOOP
		EXECUTE format('ALTER TABLE bench_plain.%I ADD CONSTRAINT %I %s', c.relname, c.conname,
					   replace(c.def, 'REFERENCES invoice.', 'REFERENCES bench_plain.'));
	END LOOP;
END
$$;
ALTER TABLE bench_plain.invoices ALTER invoice_id SET DEFAULT nextval('bench_plain.invoice_id_seq');
INSERT INTO bench_plain.organizations SELECT * FROM invoice.organizations WHERE slug LIKE 'bench-%';
INSERT INTO bench_plain.users SELECT u.* FROM invoice.users u JOIN bench_plain.organizations USING (org_id);
INSERT INTO bench_plain.customers SELECT c.* FROM invoice.customers c JOIN bench_plain.organizations USING (org_id);
ALTER TABLE bench_plain.organizations OWNER TO bench_app;
ALTER TABLE bench_plain.users OWNER TO bench_app;
ALTER TABLE bench_plain.customers OWNER TO bench_app;
ALTER TABLE bench_plain.invoices OWNER TO bench_app;
ALTER TABLE bench_plain.invoice_items OWNER TO bench_app;
ALTER SEQUENCE bench_plain.invoice_id_seq OWNER TO bench_app;
ALTER SEQUENCE bench_plain.number_seq OWNER TO bench_app;
VACUUM ANALYZE;
EOF

psql_db -At -c "SELECT format('== %s: superuser %s, bypassrls %s, member of invoice_app %s',
                              rolname, rolsuper, rolbypassrls, pg_has_role(oid, 'invoice_app', 'MEMBER'))
                  FROM pg_roles WHERE rolname = '$APP'"
echo "== tenants: solo org $solo; 16 tenants org $lo..$hi; $SECS s a run; logs in $OUT"

# ---------------------------------------------------------------- runs
declare -A TPS AVG P95

# run_one WORKLOAD TENANTS CLIENTS MODE: one pgbench run; its figures into TPS/AVG/P95
run_one() {
    local wl=$1 tenants=$2 clients=$3 mode=$4 script org_lo org_hi key prefix out rc
    local threads=$(( clients < 2 ? clients : 2 ))
    case $wl in
        api) script="$BENCH_DIR/create_issue.sql" ;;
        plain) script="$BENCH_DIR/plain_insert.sql" ;;
        rows) script="$BENCH_DIR/plain_rows.sql" ;;
        pipe) script="$BENCH_DIR/create_issue_pipelined.sql" ;;
    esac
    if [ "$tenants" = 1 ]; then org_lo=$solo; org_hi=$solo; else org_lo=$lo; org_hi=$((lo + tenants - 1)); fi
    key="$mode/$wl/$tenants/$clients"
    prefix="$OUT/$mode-$wl-t$tenants-c$clients"
    psql_db -c "CHECKPOINT"
    local opts=""
    [ "$mode" = async ] && opts="-c synchronous_commit=off"
    rc=0
    out=$(PGUSER=$APP PGPASSWORD=$APP_PW PGOPTIONS="$opts" \
        pgbench -n -M prepared -c "$clients" -j "$threads" -T "$SECS" \
            -l --log-prefix="$prefix" -f "$script" \
            -D org_lo="$org_lo" -D org_hi="$org_hi" -D user_off="$user_off" -D cust_off="$cust_off" \
            "$DB" 2>&1) || rc=$?
    printf '%s\n' "$out" > "$prefix.out"
    if [ "$rc" != 0 ] || ! grep -q '^number of failed transactions: 0 ' <<<"$out"; then
        echo "!! pgbench failed ($key, exit $rc):" >&2
        tail -20 <<<"$out" >&2
        exit 1
    fi
    TPS[$key]=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' <<<"$out")
    # per-transaction logs: the third field is the latency in microseconds
    local avg p95
    read -r avg p95 < <(cat "$prefix".[0-9]* | awk '$3 ~ /^[0-9]+$/ {print $3}' | sort -n |
        awk '{v[NR] = $1; s += $1} END {i = int(NR * 0.95); if (i < NR * 0.95) i++; if (i < 1) i = 1;
             printf "%.2f %.2f\n", s / NR / 1000, v[i] / 1000}')
    AVG[$key]=$avg
    P95[$key]=$p95
    printf '   %-5s %-6s tenants %2s clients %2s: %8.1f tps\n' "$mode" "$wl" "$tenants" "$clients" "${TPS[$key]}"
}

print_table() {
    local mode=$1 tenants clients wl key ratio ratio2 label
    printf '%-26s %7s %7s %9s %8s %8s %14s %14s\n' workload tenants clients tps "avg ms" "p95 ms" \
        "api/batched" "api/row-by-row"
    for tenants in $TENANT_SETS; do
        for clients in $CLIENTS; do
            for wl in api pipe plain rows; do
                key="$mode/$wl/$tenants/$clients"
                ratio=""
                ratio2=""
                case $wl in
                    api|pipe)
                        ratio=$(awk -v a="${TPS[$key]}" -v p="${TPS[$mode/plain/$tenants/$clients]}" \
                            'BEGIN {printf "%.2f", a / p}')
                        ratio2=$(awk -v a="${TPS[$key]}" -v p="${TPS[$mode/rows/$tenants/$clients]}" \
                            'BEGIN {printf "%.2f", a / p}')
                        label="create+issue (API)"
                        [ "$wl" = pipe ] && label="API, issue+COMMIT piped" ;;
                    plain) label="ceiling, batched items" ;;
                    rows) label="ceiling, row by row" ;;
                esac
                printf '%-26s %7s %7s %9.1f %8.2f %8.2f %14s %14s\n' "$label" "$tenants" "$clients" \
                    "${TPS[$key]}" "${AVG[$key]}" "${P95[$key]}" "$ratio" "$ratio2"
            done
        done
    done
}

modes="sync"
[ "$SYNC_OFF" = 1 ] && modes="sync async"
for mode in $modes; do
    echo "== runs ($mode commit)"
    for tenants in $TENANT_SETS; do
        for clients in $CLIENTS; do
            # the ceiling and the API back to back, in the same conditions
            run_one plain "$tenants" "$clients" "$mode"
            run_one rows "$tenants" "$clients" "$mode"
            run_one api "$tenants" "$clients" "$mode"
            run_one pipe "$tenants" "$clients" "$mode"
        done
    done
done

# ---------------------------------------------------------------- checks
# the API stored what the ceiling writes, and every series is gapless
psql_db -At <<'EOF' > "$OUT/checks.txt"
SELECT 'totals match: ' || bool_and(a.subtotal = 2924900.00 AND a.discount_total = 119000.00
                                    AND a.tax_total = 533121.00 AND a.total = 3339021.00)
  FROM invoice.invoices a;
SELECT 'items match: ' || (count(*) = 0)
  FROM (SELECT line_no, description, quantity, unit_price, tax_rate, discount_pct, base, discount,
               net, tax, line_total, material, karat, weight_grams, sku
          FROM invoice.invoice_items
        EXCEPT
        SELECT line_no, description, quantity, unit_price, tax_rate, discount_pct, base, discount,
               net, tax, line_total, material, karat, weight_grams, sku
          FROM bench_plain.invoice_items) d;
SELECT 'gapless series: ' || bool_and(n = hi AND lo = 1)
  FROM (SELECT org_id, count(*) AS n, min(number) AS lo, max(number) AS hi
          FROM invoice.invoices WHERE status = 'issued' GROUP BY org_id) s;
SELECT 'drafts left: ' || count(*) FROM invoice.invoices WHERE status = 'draft';
SELECT 'issued invoices: ' || count(*) FROM invoice.invoices;
EOF
cat "$OUT/checks.txt" | sed 's/^/== /'
if grep -q ': false' "$OUT/checks.txt"; then
    echo "!! a check failed" >&2
    exit 1
fi

# ---------------------------------------------------------------- report
{
    echo
    echo "invoice bench, $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc)," \
         "$(psql_su -d postgres -Atc "SELECT version()" | cut -d' ' -f1-2), $SECS s a run," \
         "pgbench -M prepared -j 2, as non-superuser $APP"
    for mode in $modes; do
        echo
        if [ "$mode" = sync ]; then
            echo "synchronous_commit = on (default), fsync = on"
        else
            echo "synchronous_commit = off (set by the client; NOT the default; a crash may lose the last commits)"
        fi
        print_table "$mode"
    done
} | tee "$OUT/summary.txt"
