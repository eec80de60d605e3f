#!/usr/bin/env bash
# test/telegram/bridge_check.sh: invoice-bridge end to end, against the fake
# Bot API (test/telegram/fake_bot_api.py) on 127.0.0.1 and a database of the
# cluster in PGHOST/PGPORT (as a superuser, the way scripts/test-suites runs
# it).  The bridge logs in as a role whose only membership is
# invoice_bridge.  Checks: strangers get the refusal exactly once per
# update, a redelivered update is not answered again, a seller linking
# with an invitation and getting a PDF (a multipart upload), pacing per
# chat and overall, 429/500/502/dropped connections retried after the waits
# they call for (the 429 in the seller's chat, which had replies before),
# the database out of reach and PostgreSQL stopped and started under the
# running bridge (503, no polling, then every update answered once), one
# poller per token, kill -9 while the database holds an update with 99
# more queued, the endpoints (promtool when installed), SIGTERM, a wrong
# token, and the token in no output.  TAP; about two minutes.
set -u
cd "$(dirname "$0")/../.."
. test/tap.sh
db=invoice_tg_bridge
role=regress_tg_bridge_login
tmp=$(mktemp -d)
pids=()
TOKEN="123456789:AAHfake_Secret-token_for_the_tests_0123456789"
SECRET=${TOKEN#*:}
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    dropdb --if-exists $db >/dev/null 2>&1
    psql -X -q -d postgres -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1
    [ -n "${KEEP_LOGS:-}" ] && mkdir -p "$KEEP_LOGS" && cp "$tmp"/*.log "$KEEP_LOGS"/
    rm -rf "$tmp"
}
trap cleanup EXIT
# KEEP_LOGS=DIR keeps the bridge's and the fake's logs there

is() { [ "$1" = "$2" ]; ok $? "$3" "got: $1, expected: $2"; }
skip() { n=$((n + 1)); echo "ok $n # skip $1"; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d $db "$@"; }
ctl() { curl -s "http://127.0.0.1:$fport/control/$1"; }
push() { curl -s -X POST --data-binary @- "http://127.0.0.1:$fport/control/$1" >/dev/null; }
health() { curl -s -o "$tmp/health.body" -w '%{http_code}' "http://127.0.0.1:$hport$1"; }
# wait_until SECONDS 'SHELL TEST': true once the test (evaluated anew each
# time) is, false after SECONDS
wait_until() {
    local end=$(($(date +%s%N) + $1 * 1000000000))
    until eval "$2"; do [ "$(date +%s%N)" -gt "$end" ] && return 1; sleep 0.1; done
}
count_is() { [ "$(ctl "count?$1")" = "$2" ]; }
count_ge() { [ "$(ctl "count?$1")" -ge "$2" ]; }
next_uid() {     # a new update_id, also from a subshell (a pipeline, $(...))
    local u=$(($(cat "$tmp/uid") + 1))
    echo $u > "$tmp/uid"; echo $u
}
echo 5000 > "$tmp/uid"
msg() {         # msg CHAT TEXT: a message update from a stranger
    local uid; uid=$(next_uid)
    printf '{"update_id": %d, "message": {"message_id": %d, "date": 1, "from": {"id": %d, "is_bot": false, "first_name": "X"}, "chat": {"id": %d, "type": "private"}, "text": "%s"}}' \
        "$uid" "$uid" "$1" "$1" "$2"
}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

BRIDGE=$(pg_config --bindir 2>/dev/null)/invoice-bridge
[ -x "$BRIDGE" ] || BRIDGE=src/bridge/invoice-bridge
ok "$([ -x "$BRIDGE" ]; echo $?)" "invoice-bridge is built ($BRIDGE)"

dropdb --if-exists $db >/dev/null 2>&1
createdb $db
psql -X -q -d postgres -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1
q -c "SET client_min_messages = warning" -c "CREATE EXTENSION invoice CASCADE" >/dev/null
q -c "CREATE ROLE $role LOGIN PASSWORD 'secret' IN ROLE invoice_bridge" >/dev/null
export DATABASE_URL="host=${PGHOST:-localhost} port=${PGPORT:-5432} dbname=$db user=$role password=secret"

python3 test/telegram/fake_bot_api.py --token "$TOKEN" --port-file "$tmp/fport" 2>"$tmp/fake.log" &
pids+=($!)
wait_until 10 '[ -s "$tmp/fport" ]'
fport=$(cat "$tmp/fport")
hport=$(free_port)

# start_bridge LOG [VAR=VALUE...]: the bridge in the background; $bpid
start_bridge() {
    local log=$1; shift
    env TELEGRAM_BOT_TOKEN="$TOKEN" TELEGRAM_API_BASE="http://127.0.0.1:$fport/" \
        TELEGRAM_POLL_TIMEOUT=3 BRIDGE_HEALTH_ADDR="127.0.0.1:$hport" "$@" \
        "$BRIDGE" 2>>"$log" >>"$log" &
    bpid=$!
    pids+=($bpid)
}
start_bridge "$tmp/bridge1.log"
wait_until 10 '[ "$(health /health/live)" = 200 ]'
ok $? "/health/live answers 200"
wait_until 10 '[ "$(health /health/ready)" = 200 ]'
ok $? "/health/ready answers 200 once the database and Telegram answered" "$(cat "$tmp/health.body")"

# strangers: the refusal, exactly once per update
{ echo "["; msg 501 "hola"; echo ","; msg 501 "/nueva"; echo ","; msg 501 "<b>x</b> & y"; echo ","; msg 502 "/start ABC"; echo ",";
  printf '{"update_id": 4000, "callback_query": {"id": "cbq-1", "from": {"id": 503, "is_bot": false, "first_name": "Y"}, "message": {"message_id": 3, "date": 1, "chat": {"id": 503, "type": "private"}}, "data": "x"}}'
  echo "]"; } | push updates
wait_until 15 'count_is "method=sendMessage&chat_id=501&status=200" 3'
ok $? "three messages of a stranger get three replies"
wait_until 5 'count_is "method=answerCallbackQuery&status=200" 1'
ok $? "a stranger's button press is answered (answerCallbackQuery)"
sleep 1.5
is "$(ctl "count?method=sendMessage&chat_id=501")|$(ctl "count?method=sendMessage&chat_id=502")|$(ctl "count?method=answerCallbackQuery")" \
   "3|1|1" "each update answered exactly once"
is "$(ctl "calls?method=sendMessage" | grep -c 'no est\\u00e1 vinculada')" 4 "every reply is the refusal, which the fake Bot API accepted as valid HTML"
is "$(q -c "SELECT count(*) FROM invoice.telegram_outbox WHERE sent_at IS NULL")" 0 "every action is marked sent"

# a redelivered update is not answered again
first='{"update_id": 5001, "message": {"message_id": 5001, "date": 1, "from": {"id": 501, "is_bot": false, "first_name": "X"}, "chat": {"id": 501, "type": "private"}, "text": "hola"}}'
before=$(ctl "count?method=getUpdates")
echo "{\"update\": $first}" | push redeliver
wait_until 10 'count_ge "method=getUpdates" $((before + 2))'
sleep 0.5
is "$(ctl "count?method=sendMessage&chat_id=501")" 3 "an update delivered again is not answered again"

# a seller links with an invitation and gets an invoice's PDF: a
# multipart upload of the document
code=$(q -1 -f - <<'SQL' | tail -1
SET client_min_messages = error;
SELECT invoice.create_organization('demo', 'Joyería Demo', NULL, '{"prefix": "FV"}') AS org \gset
SELECT invoice.set_tenant(:org);
SELECT invoice.add_user('Sara', 'seller') AS seller \gset
SELECT invoice.issue(invoice.create_invoice(invoice.upsert_customer('CC', '1020304050', 'María Pérez'),
	'[{"description": "Anillo", "quantity": 1, "unit_price": 1000000}]'));
SELECT invoice.invite_user(:seller);
SQL
)
{ echo "["; msg 801 "/start $code"; echo ","; msg 801 "/pdf FV1"; echo "]"; } | push updates
wait_until 15 'count_is "method=sendDocument&chat_id=801&status=200" 1'
ok $? "a seller links with an invitation and /pdf sends a document"
ctl "calls?method=sendMessage&chat_id=801" | grep -q 'vinculada a <b>Joy'; ok $? "the link is confirmed" "$(ctl "calls?method=sendMessage&chat_id=801")"
doc=$(ctl "calls?method=sendDocument&chat_id=801")
echo "$doc" | grep -q '"filename": "FV1.pdf"' && echo "$doc" | grep -q '"head": "%PDF-'
ok $? "uploaded as multipart: the file FV1.pdf, a PDF" "$doc"

# pacing: 9 messages to one chat, 2 to another, at once
{ echo "["; for i in 1 2 3 4 5 6 7 8; do msg 601 "m$i"; echo ","; done; msg 601 "m9"; echo ","; msg 602 "a"; echo ","; msg 602 "b"; echo "]"; } | push updates
t_push=$(date +%s.%N)
wait_until 20 'count_is "method=sendMessage&chat_id=601&status=200" 9'
ok $? "a burst of 9 updates to one chat is answered"
ctl "times?method=sendMessage&chat_id=601" > "$tmp/t601"
worst=$(awk '{t[NR] = $1} END {m = 99; for (i = 1; i + 3 <= NR; i++) if (t[i+3] - t[i] < m) m = t[i+3] - t[i]; printf "%.2f", m}' "$tmp/t601")
ok "$(awk -v w="$worst" 'BEGIN {exit !(w >= 2.9)}'; echo $?)" "never more than 3 messages to one chat in 3 s (shortest span of 4: $worst s)"
span=$(awk 'NR == 1 {a = $1} {b = $1} END {printf "%.2f", b - a}' "$tmp/t601")
ok "$(awk -v s="$span" 'BEGIN {exit !(s >= 5.8)}'; echo $?)" "about one message a second to one chat (9 messages over $span s)"
last602=$(ctl "times?method=sendMessage&chat_id=602" | tail -1)
late=$(awk -v a="$t_push" -v b="$last602" 'BEGIN {printf "%.2f", b - a}')
ok "$(awk -v l="$late" 'BEGIN {exit !(l < 3)}'; echo $?)" "another chat is answered while the burst is paced ($late s after)"

# pacing overall: 45 chats, one message each: at most 30 in any second
{ echo "["; for c in $(seq 700 743); do msg "$c" "x"; echo ","; done; msg 744 "x"; echo "]"; } | push updates
wait_until 20 'count_is "method=sendMessage&status=200&chat_id=744" 1'
sleep 2
for c in $(seq 700 744); do ctl "times?method=sendMessage&chat_id=$c"; done | sort -n > "$tmp/tall"
worst=$(awk '{t[NR] = $1} END {m = 99; for (i = 1; i + 30 <= NR; i++) if (t[i+30] - t[i] < m) m = t[i+30] - t[i]; printf "%.2f", m}' "$tmp/tall")
is "$(wc -l < "$tmp/tall")" 45 "45 chats answered once each"
ok "$(awk -v w="$worst" 'BEGIN {exit !(w >= 0.95)}'; echo $?)" "never more than 30 messages a second overall (shortest span of 31: $worst s)"

# one shop's burst never starves another shop: 240 replies of the demo
# shop to 240 chats (8 s at 30 a second), then one update of a seller of
# another shop, answered within a few seconds
orga=$(q -c "SELECT org_id FROM invoice.telegram_outbox WHERE chat_id = 801 AND org_id IS NOT NULL LIMIT 1")
q -1 -c "SET client_min_messages = error" -c "SELECT invoice.set_tenant(invoice.create_organization('otra', 'Joyería Otra'))" \
  -c "SELECT invoice.add_user('Beto', 'seller', 850)" >/dev/null
q -c "INSERT INTO invoice.telegram_outbox (org_id, chat_id, method, params) SELECT $orga, 20000 + g, 'sendMessage', jsonb_build_object('chat_id', 20000 + g, 'text', 'rafaga') FROM generate_series(1, 240) g" >/dev/null
wait_until 5 'count_ge "method=sendMessage&status=200&chat_id=20001" 1'
t_push=$(date +%s.%N)
echo "[$(msg 850 "/ayuda")]" | push updates
wait_until 20 'count_is "method=sendMessage&status=200&chat_id=850" 1'
ok $? "the other shop's seller is answered during the burst"
late=$(awk -v a="$t_push" -v b="$(ctl "times?method=sendMessage&chat_id=850" | tail -1)" 'BEGIN {printf "%.2f", b - a}')
left=$(q -c "SELECT count(*) FROM invoice.telegram_outbox WHERE chat_id > 20000 AND sent_at IS NULL")
ok "$(awk -v l="$late" 'BEGIN {exit !(l < 3)}'; echo $?)" "one shop's burst does not starve another shop: answered $late s after, $left of the burst still waiting"
wait_until 20 '[ "$(q -c "SELECT count(*) FROM invoice.telegram_outbox WHERE chat_id > 20000 AND sent_at IS NULL")" = 0 ]'
ok $? "the burst is sent in the end"

# Telegram's errors on sendMessage, and the waits they call for
fault_case() {  # fault_case KIND CHAT MIN-WAIT DESCRIPTION
    local chat=$2 before
    # the chat may have had replies before (801: the seller's link and PDF):
    # count only what comes now, and measure from the failed call
    before=$(ctl "count?method=sendMessage&chat_id=$chat&status=200")
    # libcurl sends again at once on a reused connection that died: drop twice
    echo "{\"method\": \"sendMessage\", \"kind\": \"$1\", \"retry_after\": 2, \"count\": $([ "$1" = drop ] && echo 2 || echo 1)}" | push fault
    echo "[$(msg "$2" "x")]" | push updates
    wait_until 20 'count_is "method=sendMessage&chat_id=$chat&status=200" $((before + 1))'
    ok $? "$4: the reply is sent in the end"
    local gap
    # from the last failed call to the one that succeeded after it
    gap=$(ctl "calls?method=sendMessage&chat_id=$chat" | python3 -c 'import json, sys
c = [json.loads(l) for l in sys.stdin]
failed = [i for i, x in enumerate(c) if x.get("status") != 200]
ok = [x for x in c[failed[-1]:] if x.get("status") == 200] if failed else []
print("%.2f" % (ok[0]["t"] - c[failed[-1]]["t"]) if ok else "-1")')
    ok "$(awk -v g="$gap" -v m="$3" 'BEGIN {exit !(g >= m && g < m + 5)}'; echo $?)" "$4: retried after $gap s (at least $3 s)"
}
fault_case 429 801 2 "429 retry_after 2"
fault_case 500 802 0.2 "500"
fault_case 502 803 0.2 "502 with an HTML body"
fault_case drop 804 0.2 "a dropped connection"
is "$(q -c "SELECT count(*) FILTER (WHERE attempts >= 2 AND sent_at IS NOT NULL) FROM invoice.telegram_outbox WHERE chat_id BETWEEN 801 AND 804")" \
   4 "each retried action is sent and records its attempts"
echo '{"method": "sendMessage", "kind": "400"}' | push fault
echo "[$(msg 805 "x")]" | push updates
wait_until 10 '[ "$(q -c "SELECT count(*) FROM invoice.telegram_outbox WHERE chat_id = 805 AND dropped_at IS NOT NULL")" = 1 ]'
ok $? "400: the action is dropped with the reason"

# getUpdates: 500 and 409 are retried after a backoff
for kind in 500 409; do
    echo "{\"method\": \"getUpdates\", \"kind\": \"$kind\"}" | push fault
    wait_until 15 'count_ge "method=getUpdates&status=$kind" 1'
    t_fail=$(ctl "times?method=getUpdates&status=$kind" | tail -1)
    wait_until 10 '[ "$(ctl "times?method=getUpdates" | awk -v f="$t_fail" "\$1 > f" | wc -l)" -ge 1 ]'
    gap=$(ctl "times?method=getUpdates" | awk -v f="$t_fail" '$1 > f {printf "%.2f", $1 - f; exit}')
    ok "$(awk -v g="$gap" 'BEGIN {exit !(g >= 0.2)}'; echo $?)" "getUpdates $kind: polled again after $gap s (at least 0.2 s)"
done

# a lost database session: the bridge connects again and goes on
q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '$role'" >/dev/null
echo "[$(msg 900 "x")]" | push updates
wait_until 20 'count_is "method=sendMessage&chat_id=900&status=200" 1'
ok $? "after its database sessions were terminated the bridge answers again"
wait_until 5 '[ "$(curl -s "http://127.0.0.1:$hport/metrics" | awk "/^invoice_bridge_db_reconnects_total/ {print \$2}")" -ge 1 ]'
ok $? "the reconnection is counted in /metrics"

# the database out of reach (the bridge's role may not log in): not ready,
# no polling; back again: the updates sent meanwhile are answered
q -c "ALTER ROLE $role NOLOGIN" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '$role'" >/dev/null
t0=$(date +%s%N)
wait_until 20 '[ "$(health /health/ready)" = 503 ]'
ok $? "/health/ready answers 503 within $((($(date +%s%N) - t0) / 1000000)) ms of the database going away"
grep -q '"database"' "$tmp/health.body"; ok $? "its JSON body names the database" "$(cat "$tmp/health.body")"
echo "[$(msg 901 "x")]" | push updates
sleep 4
is "$(ctl "count?method=sendMessage&chat_id=901")" 0 "while the database is away nothing is answered"
polls=$(ctl "count?method=getUpdates"); sleep 4
ok "$([ "$(ctl "count?method=getUpdates")" = "$polls" ]; echo $?)" "while the database is away the bridge does not poll"
q -c "ALTER ROLE $role LOGIN" >/dev/null
t0=$(date +%s%N)
wait_until 40 'count_is "method=sendMessage&chat_id=901&status=200" 1'
ok $? "once the database is back the update sent meanwhile is answered ($((($(date +%s%N) - t0) / 1000000)) ms)"
wait_until 10 '[ "$(health /health/ready)" = 200 ]'
ok $? "/health/ready answers 200 again"
is "$(q -c "SELECT count(*) FROM invoice.telegram_outbox WHERE chat_id = 901")" 1 "the update was handled once"
kill -0 "$bpid"; ok $? "the bridge kept running"

# PostgreSQL itself stopped and started under the bridge (only in a
# throw-away cluster of pg_virtualenv, as scripts/test-suites runs it)
cluster=$(pg_lsclusters -h 2>/dev/null | awk -v p="${PGPORT:-5432}" '$3 == p {print $1, $2; exit}')
if [ -n "${PG_CLUSTER_CONF_ROOT:-}" ] && [ -n "$cluster" ]; then
    pg_ctlcluster $cluster stop -m fast
    t0=$(date +%s%N)
    wait_until 20 '[ "$(health /health/ready)" = 503 ]'
    ok $? "PostgreSQL stopped: /health/ready answers 503 after $((($(date +%s%N) - t0) / 1000000)) ms" "$(cat "$tmp/health.body")"
    echo "[$(msg 902 "x")]" | push updates
    sleep 3
    is "$(ctl "count?method=sendMessage&chat_id=902")" 0 "while PostgreSQL is stopped nothing is answered"
    pg_ctlcluster $cluster start
    t0=$(date +%s%N)
    wait_until 40 'count_is "method=sendMessage&chat_id=902&status=200" 1'
    ok $? "PostgreSQL started again: the update sent meanwhile is answered ($((($(date +%s%N) - t0) / 1000000)) ms)"
    wait_until 10 '[ "$(health /health/ready)" = 200 ]'
    ok $? "/health/ready answers 200 again"
    is "$(q -c "SELECT count(*) FROM invoice.telegram_outbox WHERE chat_id = 902")" 1 "that update was handled once"
    kill -0 "$bpid"; ok $? "the bridge kept running"
else
    for i in 1 2 3 4 5 6; do skip "PostgreSQL stop and start: not in a pg_virtualenv cluster"; done
fi

# one poller per token: a second bridge waits for the lock
hport_main=$hport; hport=$(free_port); main_pid=$bpid
start_bridge "$tmp/bridge2.log"
second=$bpid
wait_until 10 'grep -q "another invoice-bridge polls this bot" "$tmp/bridge2.log"'
ok $? "a second bridge with the same token waits for the advisory lock"
kill -TERM "$second"; wait "$second"; rc=$?
is "$rc" 0 "the waiting bridge stops with 0 on SIGTERM"
hport=$hport_main; bpid=$main_pid

# kill -9 with updates queued, then a restart: every update handled once
base=$(cat "$tmp/uid")
# the bridge dies while the database holds the first update: a session
# locks the inbox, the bridge's telegram_handle waits on it, kill -9; the
# handling commits once the lock goes, with nobody left to hear of it
q -c "BEGIN" -c "LOCK TABLE invoice.telegram_inbox IN EXCLUSIVE MODE" -c "SELECT pg_sleep(30) /* tg-lock */" -c "COMMIT" >/dev/null 2>&1 &
lockpid=$!
wait_until 10 '[ "$(q -c "SELECT count(*) FROM pg_locks WHERE relation = '"'invoice.telegram_inbox'"'::regclass AND mode = '"'ExclusiveLock'"' AND granted")" = 1 ]'
{ echo "["; for c in $(seq 1000 1098); do msg "$c" "x"; echo ","; done; msg 1099 "x"; echo "]"; } | push updates
wait_until 10 '[ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE usename = '"'$role'"' AND wait_event_type = '"'Lock'"'")" -ge 1 ]'
ok $? "the bridge's telegram_handle waits on the locked inbox"
kill -9 "$bpid"; wait "$bpid" 2>/dev/null
q -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%tg-lock%' AND pid <> pg_backend_pid()" >/dev/null
wait $lockpid 2>/dev/null
wait_until 10 '[ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE usename = '"'$role'"'")" = 0 ]'
handled=$(q -c "SELECT count(*) FROM invoice.telegram_inbox WHERE update_id > $base")
start_bridge "$tmp/bridge3.log"
wait_until 30 '[ "$(q -c "SELECT count(*) FROM invoice.telegram_outbox WHERE update_id > $base AND sent_at IS NOT NULL")" = 100 ]'
ok $? "after kill -9 (with $handled of 100 updates handled) and a restart, all 100 are answered"
is "$(q -c "SELECT count(*), count(DISTINCT update_id) FROM invoice.telegram_outbox WHERE update_id > $base")" "100|100" \
   "each update was handled once (one reply each in the outbox)"
sent=0; for c in $(seq 1000 1099); do sent=$((sent + $(ctl "count?method=sendMessage&chat_id=$c&status=200"))); done
ok "$([ "$sent" -ge 100 ] && [ "$sent" -le 101 ]; echo $?)" "at most the reply in flight was sent twice ($sent sends for 100 replies)"

# the endpoints
code=$(health /metrics)
cp "$tmp/health.body" "$tmp/metrics.txt"
is "$code" 200 "/metrics answers 200"
for m in updates_received_total updates_handled_total updates_failed_total actions_sent_total actions_failed_total \
         actions_retried_total telegram_429_total db_reconnects_total poll_seconds_bucket handle_seconds_count; do
    grep -q "^invoice_bridge_$m" "$tmp/metrics.txt"; ok $? "/metrics has invoice_bridge_$m"
done
if command -v promtool >/dev/null; then
    promtool check metrics < "$tmp/metrics.txt" > "$tmp/promtool.out" 2>&1
    ok $? "promtool check metrics accepts /metrics" "$(cat "$tmp/promtool.out")"
else
    skip "promtool is not installed (Debian package prometheus)"
fi

# SIGTERM in the middle of a long poll
sleep 1
t0=$(date +%s%N)
kill -TERM "$bpid"; wait "$bpid"; rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
ok "$([ "$rc" = 0 ] && [ "$ms" -lt 15000 ]; echo $?)" "SIGTERM in a long poll: exit $rc after $ms ms"

# a wrong token: 401, exit non-zero, the token not printed
WRONG="123456789:WRONGsecret_value_that_must_not_leak_42"
t0=$(date +%s)
env TELEGRAM_BOT_TOKEN="$WRONG" DATABASE_URL="host=127.0.0.1 port=1 dbname=nothing" TELEGRAM_API_BASE="http://127.0.0.1:$fport" BRIDGE_HEALTH_ADDR="127.0.0.1:$(free_port)" \
    timeout 40 "$BRIDGE" > "$tmp/wrong.log" 2>&1
rc=$?
ok "$([ "$rc" != 0 ] && [ "$rc" != 124 ] && [ $(($(date +%s) - t0)) -le 30 ]; echo $?)" "a wrong token: exit $rc within 30 s"
grep -q '401 Unauthorized' "$tmp/wrong.log"; ok $? "the message names 401 Unauthorized" "$(cat "$tmp/wrong.log")"
! grep -qF "${WRONG#*:}" "$tmp/wrong.log"; ok $? "the wrong token is not printed"

# the token in no output
cat "$tmp"/bridge*.log "$tmp/wrong.log" > "$tmp/all.log"
! grep -qF "$SECRET" "$tmp/all.log"; ok $? "the token appears in no output of the bridge"
python3 -c 'import json, sys
for line in open(sys.argv[1]): json.loads(line)' "$tmp/all.log" 2>"$tmp/json.err"
ok $? "every log line is one JSON object" "$(cat "$tmp/json.err")"

tap_end
