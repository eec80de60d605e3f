#!/usr/bin/env bash
# test/telegram/valgrind_check.sh: invoice-bridge under valgrind
# (--leak-check=full --error-exitcode=1) over 1000 updates from 100 chats,
# against the fake Bot API, with pacing lifted; then SIGTERM.  No leak, no
# memory error, every update answered once.  TAP; runs against the server in
# PGHOST/PGPORT as a superuser, like bridge_check.sh.
set -u
cd "$(dirname "$0")/../.."
. test/tap.sh
db=invoice_tg_valgrind
role=regress_tg_valgrind_login
tmp=$(mktemp -d)
pids=()
TOKEN="123456789:AAHfake_Secret-token_for_valgrind_0123456789"
UPDATES=${UPDATES:-1000}
# VALGRIND=off runs the bridge bare: the end-to-end throughput, pacing lifted
VALGRIND=${VALGRIND:-on}
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    dropdb --if-exists $db >/dev/null 2>&1
    psql -X -q -d postgres -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1
    [ -n "${KEEP_LOGS:-}" ] && mkdir -p "$KEEP_LOGS" && cp "$tmp"/*.log "$KEEP_LOGS"/
    rm -rf "$tmp"
}
trap cleanup EXIT
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d $db "$@"; }
ctl() { curl -s "http://127.0.0.1:$fport/control/$1"; }

if ! command -v valgrind >/dev/null; then echo "1..0 # skip valgrind is not installed"; exit 0; fi
BRIDGE=$(pg_config --bindir 2>/dev/null)/invoice-bridge
[ -x "$BRIDGE" ] || BRIDGE=src/bridge/invoice-bridge

dropdb --if-exists $db >/dev/null 2>&1
createdb $db
psql -X -q -d postgres -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1
q -c "SET client_min_messages = warning" -c "CREATE EXTENSION invoice CASCADE" >/dev/null
q -c "CREATE ROLE $role LOGIN PASSWORD 'secret' IN ROLE invoice_bridge" >/dev/null

python3 test/telegram/fake_bot_api.py --token "$TOKEN" --port-file "$tmp/fport" 2>"$tmp/fake.log" &
pids+=($!)
for _ in $(seq 50); do [ -s "$tmp/fport" ] && break; sleep 0.1; done
fport=$(cat "$tmp/fport")
hport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

python3 - "$UPDATES" > "$tmp/updates.json" <<'PY'
import json, sys
n = int(sys.argv[1])
print(json.dumps([{"update_id": 10000 + i, "message": {"message_id": i, "date": 1,
    "from": {"id": 100 + i % 100, "is_bot": False, "first_name": "V"},
    "chat": {"id": 100 + i % 100, "type": "private"}, "text": "m%d" % i}} for i in range(n)]))
PY
curl -s -X POST --data-binary @"$tmp/updates.json" "http://127.0.0.1:$fport/control/updates" >/dev/null

env TELEGRAM_BOT_TOKEN="$TOKEN" TELEGRAM_API_BASE="http://127.0.0.1:$fport" TELEGRAM_POLL_TIMEOUT=2 \
    BRIDGE_HEALTH_ADDR="127.0.0.1:$hport" BRIDGE_PACING=off LOG_LEVEL=warn \
    DATABASE_URL="host=${PGHOST:-localhost} port=${PGPORT:-5432} dbname=$db user=$role password=secret" \
    $([ "$VALGRIND" = on ] && echo valgrind -q --leak-check=full --errors-for-leak-kinds=definite,possible \
        --error-exitcode=1 --log-file="$tmp/valgrind.log") "$BRIDGE" 2>"$tmp/bridge.log" &
bpid=$!
pids+=($bpid)
t0=$(date +%s%N)
until [ "$(ctl "count?method=sendMessage&status=200")" -ge "$UPDATES" ] || [ $(($(date +%s%N) - t0)) -gt 150000000000 ]; do sleep 0.2; done
ms=$((($(date +%s%N) - t0) / 1000000))
ok "$([ "$(ctl "count?method=sendMessage&status=200")" -ge "$UPDATES" ]; echo $?)" \
   "valgrind $VALGRIND: $UPDATES updates answered in $ms ms ($((UPDATES * 1000 / (ms + 1))) a second, start-up included)"
ok "$([ "$(q -c "SELECT count(*) FROM invoice.telegram_outbox WHERE sent_at IS NOT NULL")" = "$UPDATES" ]; echo $?)" \
   "each once, all marked sent"
kill -TERM $bpid; wait $bpid; rc=$?
ok "$rc" "valgrind $VALGRIND: no leak and no memory error, exit 0 on SIGTERM (exit $rc)" "$(cat "$tmp/valgrind.log" 2>/dev/null)"
tap_end
