#!/usr/bin/env bash
# bench/render.sh: how long invoice.render_pdf() and invoice.render_html()
# take (see bench/README.md, "Rendering").
#
# One client, as a non-superuser (row level security applies), for an
# issued invoice of 5 items and one of 60 items (3 pages).  Each pgbench
# transaction is "BEGIN; set_tenant; SELECT invoice.render_...(id); COMMIT".
# The figure that counts is the server time of one render call, from
# pg_stat_statements (track = top: the time of the top-level statement,
# which includes the statements the function runs to read the invoice).
# pgbench's own tps and latency are printed beside it, with a "SELECT 1"
# workload of the same shape as the client and protocol baseline.
#
# By default it makes its own throw-away cluster with pg_virtualenv (port
# BENCH_PORT, 5489) that preloads pg_cron, invoice and pg_stat_statements.
# BENCH_EXISTING=1 uses the server the libpq variables point at instead
# (PGUSER a superuser); it must preload invoice and pg_stat_statements.
# Either way the extension must be installed (make && sudo make install).
#
# Environment: BENCH_SECONDS (10 per run), BENCH_DB (invoice_render_bench),
# BENCH_PORT (5489).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd -P)
BENCH_PORT=${BENCH_PORT:-5489}

if [ -z "${BENCH_INSIDE:-}" ] && [ "${BENCH_EXISTING:-0}" != 1 ]; then
    export BENCH_INSIDE=1 PGPORT=$BENCH_PORT
    exec pg_virtualenv -t -v 15 \
        -o "shared_preload_libraries=pg_cron,invoice,pg_stat_statements" \
        -o "pg_stat_statements.track=top" \
        "$BENCH_DIR/render.sh" "$@"
fi

SECS=${BENCH_SECONDS:-10}
DB=${BENCH_DB:-invoice_render_bench}
APP=bench_render
. "$BENCH_DIR/lib.sh"
OUT="$BENCH_DIR/results/render-$STAMP"
mkdir -p "$OUT"


echo "== server: $(psql_su -d postgres -Atc "SELECT version()" | cut -d' ' -f1-2)," \
     "port $(psql_su -d postgres -Atc 'SHOW port')"

# ---------------------------------------------------------------- setup
psql_su -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
psql_db -v pw="$APP_PW" >/dev/null <<'EOF'
SET client_min_messages = warning;
CREATE EXTENSION invoice CASCADE;
CREATE EXTENSION pg_stat_statements;
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bench_render') THEN
		CREATE ROLE bench_render LOGIN;
	END IF;
END
$$;
ALTER ROLE bench_render LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD :'pw';
GRANT invoice_app TO bench_render;
SELECT invoice.create_organization('bench-render', 'Joyería Bench', '900123456-8',
	jsonb_build_object('prefix', 'FV', 'number_from', 1, 'number_to', 99999999,
					   'resolution', '18764000000001',
					   'valid_from', current_date - 30, 'valid_to', current_date + 700)) AS org \gset
SELECT invoice.grant_tenant('bench_render', :org);
BEGIN;
SELECT invoice.set_tenant(:org);
SELECT invoice.add_user('Vendedora Bench', 'seller') AS usr \gset
COMMIT;
BEGIN;
SELECT invoice.set_tenant(:org, :usr);
SELECT invoice.upsert_customer('CC', '1020304050', 'María Pérez', 'maria@example.com',
	'+57 300 1234567', 'Calle 10 # 5-20, Medellín') AS cust \gset
-- the 5 items of bench/create_issue.sql, and 60: those five twelve times
-- with longer descriptions
CREATE TEMP TABLE five AS SELECT '[
  {"description": "Anillo oro amarillo 18k", "quantity": 1, "unit_price": 1250000, "material": "oro", "karat": 18, "weight_grams": 3.5, "sku": "AN-18K-035"},
  {"description": "Cadena plata 925 50 cm", "quantity": 1, "unit_price": 189900, "material": "plata", "weight_grams": 12.8, "sku": "CA-925-050"},
  {"description": "Aretes topo oro 18k", "quantity": 2, "unit_price": 210000, "discount_pct": 5, "material": "oro", "karat": 18, "weight_grams": 2.4, "sku": "AR-18K-024"},
  {"description": "Dije plata 925 con circonia", "quantity": 1, "unit_price": 85000, "material": "plata", "weight_grams": 4.1, "sku": "DI-925-041"},
  {"description": "Pulsera oro rosa 14k", "quantity": 1, "unit_price": 980000, "discount_pct": 10, "material": "oro", "karat": 14, "weight_grams": 6.25, "sku": "PU-14K-062"}
]'::jsonb AS items;
SELECT invoice.create_invoice(:cust, items, 'Garantía de 6 meses.') AS inv5 FROM five \gset
SELECT invoice.issue(:inv5);
SELECT invoice.create_invoice(:cust,
	(SELECT jsonb_agg(jsonb_set(t.item, '{description}',
			to_jsonb((t.item ->> 'description') || ' · colección Esmeralda, pieza ' || g)) ORDER BY g, t.n)
	   FROM five, generate_series(1, 12) g, jsonb_array_elements(five.items) WITH ORDINALITY t(item, n)),
	'Garantía de 6 meses.') AS inv60 \gset
SELECT invoice.issue(:inv60);
COMMIT;
VACUUM ANALYZE;
EOF
read -r org inv5 inv60 <<<"$(psql_db -At -F ' ' -c "
    SELECT o.org_id, min(i.invoice_id) FILTER (WHERE i.item_count = 5),
           min(i.invoice_id) FILTER (WHERE i.item_count = 60)
      FROM invoice.organizations o JOIN invoice.invoices i USING (org_id)
     WHERE o.slug = 'bench-render' GROUP BY o.org_id")"

# sizes and page counts, and the same bytes on every call
psql_db -At -F ' ' -c "BEGIN" -c "SELECT invoice.set_tenant($org)" -c "
    SELECT n, length(invoice.render_pdf(i)), length(invoice.render_html(i)),
           invoice.render_pdf(i) = invoice.render_pdf(i) AND invoice.render_html(i) = invoice.render_html(i)
      FROM (VALUES (5, $inv5), (60, $inv60)) v(n, i)" -c "COMMIT" > "$OUT/sizes.txt"
while read -r n pdf html same; do
    [ -n "$n" ] || continue
    echo "== $n items: PDF $pdf bytes, HTML $html bytes, deterministic: $same"
done < "$OUT/sizes.txt"

# ---------------------------------------------------------------- runs
declare -A TPS LAT SRV
run_one() {         # run_one NAME SQL PATTERN (of the statement in pg_stat_statements)
    local name=$1 sql=$2 pattern=$3 script="$OUT/$1.sql" out rc=0
    printf 'BEGIN;\nSELECT invoice.set_tenant(%s);\n%s;\nCOMMIT;\n' "$org" "$sql" > "$script"
    psql_db -c "SELECT pg_stat_statements_reset()" >/dev/null
    out=$(PGUSER=$APP PGPASSWORD=$APP_PW pgbench -n -M prepared -c 1 -j 1 -T "$SECS" \
          -f "$script" "$DB" 2>&1) || rc=$?
    printf '%s\n' "$out" > "$OUT/$name.out"
    if [ "$rc" != 0 ] || ! grep -q '^number of failed transactions: 0 ' <<<"$out"; then
        echo "!! pgbench failed ($name, exit $rc):" >&2
        tail -20 <<<"$out" >&2
        exit 1
    fi
    TPS[$name]=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' <<<"$out")
    LAT[$name]=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$out")
    # mean server time of the measured statement, in ms
    SRV[$name]=$(psql_db -At -c "
        SELECT round(sum(total_exec_time)::numeric / sum(calls), 4)
          FROM pg_stat_statements
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND query LIKE '$pattern'")
    printf '   %-10s %8.1f tps, %6.3f ms a transaction, %7.4f ms server time a call\n' \
        "$name" "${TPS[$name]}" "${LAT[$name]}" "${SRV[$name]}"
}

echo "== runs: $SECS s each, 1 client, pgbench -M prepared, as $APP; logs in $OUT"
run_one baseline "SELECT 1" 'SELECT $1'
for n in 5 60; do
    inv=$inv5
    [ "$n" = 60 ] && inv=$inv60
    for fn in render_pdf render_html to_json; do
        # the call as a client fetches it (text protocol: the bytea as hex,
        # the jsonb as text), and the call alone (an O(1) function of its
        # result, so that no output function runs)
        wrap=octet_length
        [ "$fn" = to_json ] && wrap=jsonb_typeof
        run_one "$fn-$n" "SELECT invoice.$fn($inv)" "SELECT invoice.$fn(%"
        run_one "$fn-$n-only" "SELECT $wrap(invoice.$fn($inv))" "SELECT $wrap(invoice.$fn(%"
    done
done

# ---------------------------------------------------------------- report
verdict() {         # verdict NAME CEILING_MS
    awk -v v="${SRV[$1]}" -v c="$2" 'BEGIN {printf "%s (%.0f %% of %s ms)", (v <= c ? "met" : "NOT met"), 100 * v / c, c}'
}
{
    echo
    echo "invoice render bench, $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc)," \
         "$(psql_su -d postgres -Atc "SELECT version()" | cut -d' ' -f1-2), $SECS s a run, 1 client," \
         "as non-superuser $APP"
    printf '%-32s %9s %14s %16s\n' workload tps "ms/transaction" "server ms/call"
    printf '%-32s %9.1f %14.3f %16.4f\n' "SELECT 1 (baseline)" "${TPS[baseline]}" \
        "${LAT[baseline]}" "${SRV[baseline]}"
    for n in 5 60; do
        for fn in render_pdf render_html to_json; do
            printf '%-32s %9.1f %14.3f %16.4f\n' "$fn, $n items, fetched" "${TPS[$fn-$n]}" \
                "${LAT[$fn-$n]}" "${SRV[$fn-$n]}"
            printf '%-32s %9.1f %14.3f %16.4f\n' "$fn, $n items, call only" \
                "${TPS[$fn-$n-only]}" "${LAT[$fn-$n-only]}" "${SRV[$fn-$n-only]}"
        done
    done
    echo
    echo "target render_pdf 5 items <= 0.25 ms: call only $(verdict render_pdf-5-only 0.25);" \
         "fetched as hex $(verdict render_pdf-5 0.25)"
    echo "target render_pdf 60 items <= 1 ms: call only $(verdict render_pdf-60-only 1);" \
         "fetched as hex $(verdict render_pdf-60 1)"
} | tee "$OUT/summary.txt"
