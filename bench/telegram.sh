#!/usr/bin/env bash
# bench/telegram.sh: the Telegram side's throughput (see bench/README.md,
# "## Telegram").
#
# (a) telegram_handle() alone, in SQL: pgbench as a role whose only
#     membership is invoice_bridge calls it with one update a transaction,
#     from many linked users of many tenants doing the shop's commands
#     (/facturas, /ver, /buscar, /pago, /nueva and /cancelar, /ayuda, text
#     the bot does not understand) and a few strangers; updates/s and p95.
# (b) end to end: the same kind of updates queued in the fake Bot API
#     (test/telegram/fake_bot_api.py, no latency), the real invoice-bridge
#     with pacing lifted (BRIDGE_PACING=off): updates/s from the first
#     getUpdates to the last reply, and the p95 of telegram_handle's
#     transaction as the bridge measured it (its /metrics histogram).
#
# By default it makes its own throw-away cluster with pg_virtualenv (port
# BENCH_PORT, 5491, fsync on).  BENCH_EXISTING=1 uses the server that the
# libpq variables (PGHOST, PGPORT, PGUSER as a superuser) point at; that
# server must preload invoice.  The extension and invoice-bridge must be
# installed (make && sudo make install).
#
# Environment: TG_TENANTS (40), TG_USERS (users a tenant, 100), TG_INVOICES
# (issued invoices a tenant, 20), TG_SECONDS (20 per pgbench run),
# TG_CLIENTS ("1 2 4"), TG_UPDATES (5000, end to end), TG_RUNS (end-to-end
# runs, 3), BENCH_DB (invoice_tg_bench), BENCH_PORT (5491), TG_PART
# (a, b or ab).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd -P)
ROOT=$(dirname "$BENCH_DIR")
BENCH_PORT=${BENCH_PORT:-5491}

if [ -z "${BENCH_INSIDE:-}" ] && [ "${BENCH_EXISTING:-0}" != 1 ]; then
    export BENCH_INSIDE=1 PGPORT=$BENCH_PORT
    exec pg_virtualenv -t -v 15 \
        -o "shared_preload_libraries=pg_cron,invoice" \
        -o "fsync=on" \
        -o "max_connections=100" \
        "$BENCH_DIR/telegram.sh" "$@"
fi

TENANTS=${TG_TENANTS:-40}
USERS=${TG_USERS:-100}
INVOICES=${TG_INVOICES:-20}
SECS=${TG_SECONDS:-20}
CLIENTS=${TG_CLIENTS:-"1 2 4"}
UPDATES=${TG_UPDATES:-5000}
RUNS=${TG_RUNS:-3}
PART=${TG_PART:-ab}
DB=${BENCH_DB:-invoice_tg_bench}
ROLE=tg_bench_bridge
TOKEN="987654321:AAHbench_token_not_a_real_one_0123456789"
. "$BENCH_DIR/lib.sh"
OUT="$BENCH_DIR/results/telegram-$STAMP"
mkdir -p "$OUT"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

echo "== server: $(psql_su -d postgres -Atc "SELECT version()" | cut -d' ' -f1-2)," \
     "fsync=$(psql_su -d postgres -Atc 'SHOW fsync')," \
     "synchronous_commit=$(psql_su -d postgres -Atc 'SHOW synchronous_commit'); $(nproc) cores;" \
     "load $(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- setup
echo "== setup: $TENANTS tenants x $USERS linked users, $INVOICES issued invoices each"
psql_su -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
psql_db -c "SET client_min_messages = warning" -c "CREATE EXTENSION invoice CASCADE" >/dev/null
psql_su -d postgres -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS $ROLE" \
    -c "CREATE ROLE $ROLE LOGIN PASSWORD '$APP_PW' IN ROLE invoice_bridge" >/dev/null
psql_db -v tenants="$TENANTS" -v users="$USERS" -v invoices="$INVOICES" -v role="$ROLE" >/dev/null <<'EOF'
SET client_min_messages = error;
CREATE SCHEMA tg_bench;
CREATE SEQUENCE tg_bench.update_id;
CREATE TABLE tg_bench.conf AS SELECT :tenants::int AS tenants, :users::int AS users, :invoices::int AS invoices;

-- telegram ids: tenant t's user u is t * 100000 + u; strangers are 9e9 + n
DO $$
DECLARE
	c	tg_bench.conf;
	org	bigint;
	cust bigint;
BEGIN
	SELECT * INTO c FROM tg_bench.conf;
	FOR t IN 1 .. c.tenants LOOP
		org := invoice.create_organization('tg-bench-' || t, 'Joyería ' || t, NULL, '{"prefix": "FV"}');
		PERFORM invoice.set_tenant(org);
		FOR u IN 1 .. c.users LOOP
			PERFORM invoice.add_user('Vendedor ' || u, CASE WHEN u = 1 THEN 'admin' ELSE 'seller' END, t * 100000 + u);
		END LOOP;
		FOR i IN 1 .. c.invoices LOOP
			cust := invoice.upsert_customer('CC', (1020304000 + i % 7)::text, 'María Pérez ' || i % 7);
			PERFORM invoice.issue(invoice.create_invoice(cust,
				'[{"description": "Anillo de oro", "quantity": 1, "unit_price": 1000000, "weight_grams": 3.5},
				  {"description": "Cadena", "quantity": 2, "unit_price": 250000}]'));
		END LOOP;
	END LOOP;
END
$$;

-- update number n (a fresh update_id) of the benchmark's mix; k picks the
-- kind: 1-6 /facturas, 7-10 /ver, 11-13 /buscar, 14 /pago, 15 /nueva,
-- 16 /cancelar, 17 /ayuda, 18 text not understood, 19-20 a stranger
CREATE FUNCTION tg_bench.update(t int, u int, k int, n int)
RETURNS jsonb LANGUAGE sql VOLATILE AS $$
	SELECT jsonb_build_object('update_id', nextval('tg_bench.update_id'),
		'message', jsonb_build_object('message_id', 1, 'date', 1,
			'from', jsonb_build_object('id', tg, 'is_bot', false, 'first_name', 'B'),
			'chat', jsonb_build_object('id', tg, 'type', 'private'),
			'text', CASE WHEN k <= 6 THEN '/facturas'
						 WHEN k <= 10 THEN '/ver FV' || n
						 WHEN k <= 13 THEN '/buscar María'
						 WHEN k = 14 THEN '/pago FV' || n || ' 1000 efectivo'
						 WHEN k = 15 THEN '/nueva'
						 WHEN k = 16 THEN '/cancelar'
						 WHEN k = 17 THEN '/ayuda'
						 WHEN k = 18 THEN 'hola'
						 ELSE 'hola' END))
	  FROM (SELECT CASE WHEN k >= 19 THEN 9000000000 + t * 1000 + u ELSE t * 100000::bigint + u END AS tg) x
$$;
-- the i-th update of a run: every user in turn, so none reaches the rate limit
CREATE FUNCTION tg_bench.nth(i bigint)
RETURNS jsonb LANGUAGE sql VOLATILE AS $$
	SELECT tg_bench.update((i % c.tenants)::int + 1, ((i / c.tenants) % c.users)::int + 1,
						   (i % 20)::int + 1, ((i * 7) % c.invoices)::int + 1)
	  FROM tg_bench.conf c
$$;
GRANT USAGE ON SCHEMA tg_bench TO :role;
GRANT USAGE ON SEQUENCE tg_bench.update_id TO :role;
GRANT SELECT ON tg_bench.conf TO :role;
EOF
reset_rate() { psql_db -c "UPDATE invoice.telegram_sessions SET window_updates = 0" >/dev/null; }

BRIDGE=$(pg_config --bindir)/invoice-bridge
[ -x "$BRIDGE" ] || BRIDGE=$ROOT/src/bridge/invoice-bridge
HOST=${PGHOST:-localhost}
case "$HOST" in /*) HOST=localhost ;; esac

# ---------------------------------------------------- (a) telegram_handle
if [[ $PART == *a* ]]; then
    echo "== (a) telegram_handle alone: pgbench -M prepared, ${SECS} s a run, as $ROLE"
    cat > "$OUT/handle.sql" <<'EOF'
\set i random(0, 1000000000)
SELECT invoice.telegram_handle(tg_bench.nth(:i));
EOF
    printf '%-8s %10s %10s %10s\n' clients "updates/s" "avg ms" "p95 ms"
    for c in $CLIENTS; do
        reset_rate
        rm -f "$OUT"/pgbench_log.*
        (cd "$OUT" && PGPASSWORD=$APP_PW pgbench -h "$HOST" -U $ROLE -n -M prepared -c "$c" -j "$([ "$c" -gt 1 ] && echo 2 || echo 1)" \
            -T "$SECS" -l -f handle.sql "$DB" > "pgbench-$c.out" 2>&1) || { cat "$OUT/pgbench-$c.out"; exit 1; }
        tps=$(awk '/^tps/ {printf "%.0f", $3; exit}' "$OUT/pgbench-$c.out")
        cat "$OUT"/pgbench_log.* | awk '{print $3 / 1000}' | sort -n > "$OUT/lat-$c.txt"
        avg=$(awk '{s += $1} END {printf "%.2f", s / NR}' "$OUT/lat-$c.txt")
        p95=$(awk '{a[NR] = $1} END {printf "%.2f", a[int(NR * 0.95)]}' "$OUT/lat-$c.txt")
        printf '%-8s %10s %10s %10s\n' "$c" "$tps" "$avg" "$p95"
    done
    psql_db -At -F ' ' -c "SELECT 'replies a kind:', count(*) FILTER (WHERE params->>'text' LIKE 'Vas muy%') || ' rate-limited,',
        count(*) FILTER (WHERE params->>'text' LIKE '%no está vinculada%') || ' refusals,', count(*) || ' replies in all'
        FROM invoice.telegram_outbox"
fi

# ------------------------------------------------------- (b) end to end
if [[ $PART == *b* ]]; then
    echo "== (b) end to end: $UPDATES updates queued in the fake Bot API, invoice-bridge with pacing off, $RUNS runs"
    printf '%-5s %10s %12s %13s %13s %8s\n' run "updates/s" "handled/s" "handle p95" "handle avg" replies
    for run in $(seq "$RUNS"); do
        reset_rate
        psql_db -c "DELETE FROM invoice.telegram_outbox" >/dev/null
        python3 "$ROOT/test/telegram/fake_bot_api.py" --token "$TOKEN" --port-file "$OUT/fport" 2>"$OUT/fake.log" &
        fpid=$!; pids+=($fpid)
        for _ in $(seq 50); do [ -s "$OUT/fport" ] && break; sleep 0.1; done
        fport=$(cat "$OUT/fport"); rm -f "$OUT/fport"
        hport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        first=$(psql_db -At -c "SELECT last_value + is_called::int FROM tg_bench.update_id")
        psql_db -At -c "SELECT jsonb_agg(tg_bench.nth(i) ORDER BY i) FROM generate_series(0, $UPDATES - 1) i" > "$OUT/updates.json"
        curl -s -X POST --data-binary @"$OUT/updates.json" "http://127.0.0.1:$fport/control/updates" >/dev/null
        env TELEGRAM_BOT_TOKEN="$TOKEN" TELEGRAM_API_BASE="http://127.0.0.1:$fport" TELEGRAM_POLL_TIMEOUT=2 \
            BRIDGE_HEALTH_ADDR="127.0.0.1:$hport" BRIDGE_PACING=off LOG_LEVEL=warn \
            DATABASE_URL="host=$HOST port=${PGPORT:-5432} dbname=$DB user=$ROLE password=$APP_PW" \
            "$BRIDGE" 2>"$OUT/bridge-$run.log" &
        bpid=$!; pids+=($bpid)
        # done: every update in the inbox and no reply pending
        t0=$(date +%s)
        until [ "$(psql_db -At -c "SELECT (SELECT count(*) FROM invoice.telegram_inbox WHERE update_id >= $first) = $UPDATES
                   AND NOT EXISTS (SELECT FROM invoice.telegram_outbox WHERE sent_at IS NULL AND dropped_at IS NULL)")" = t ]; do
            [ $(($(date +%s) - t0)) -gt 300 ] && { echo "run $run: not done after 300 s" >&2; break; }
            sleep 0.2
        done
        curl -s "http://127.0.0.1:$hport/metrics" > "$OUT/metrics-$run.txt"
        curl -s "http://127.0.0.1:$fport/control/calls" > "$OUT/calls-$run.txt"
        kill -TERM $bpid; wait $bpid || true
        kill $fpid; wait $fpid 2>/dev/null || true
        python3 - "$OUT/calls-$run.txt" "$OUT/metrics-$run.txt" "$UPDATES" "$run" "$((first + UPDATES))" <<'PY'
import json, sys
calls = [json.loads(l) for l in open(sys.argv[1])]
polls = [c for c in calls if c["method"] == "getUpdates"]
sends = [c["t"] for c in calls if c["method"] not in ("getUpdates", "getMe") and c.get("status") == 200]
# every update handled: the bridge asks for the ones after the last
handled = min(c["t"] for c in polls if int(c["params"].get("offset") or 0) >= int(sys.argv[5]))
buckets, count, total = [], 0, 0.0
for line in open(sys.argv[2]):
    if line.startswith("invoice_bridge_handle_seconds_bucket"):
        le = line.split('le="')[1].split('"')[0]
        buckets.append((float("inf") if le == "+Inf" else float(le), float(line.split()[-1])))
    elif line.startswith("invoice_bridge_handle_seconds_count"):
        count = float(line.split()[-1])
    elif line.startswith("invoice_bridge_handle_seconds_sum"):
        total = float(line.split()[-1])
def quantile(q):
    # as Prometheus' histogram_quantile: linear within the bucket
    want, lo, below = q * count, 0.0, 0.0
    for le, c in buckets:
        if c >= want:
            return lo + (le - lo) * (want - below) / max(c - below, 1)
        lo, below = le, c
    return lo
n = int(sys.argv[3])
start = polls[0]["t"]
print("%-5s %10.0f %12.0f %10.1f ms %10.2f ms %8d" % (sys.argv[4], n / (max(sends) - start), n / (handled - start),
      quantile(0.95) * 1000, total / max(count, 1) * 1000, len(sends)))
PY
    done
fi
echo "== results kept in $OUT"
