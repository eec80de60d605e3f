#!/usr/bin/env bash
# test/telegram/transport_check.sh: the Telegram transport inside the
# database, without the bridge.  telegram_handle() records each update once,
# writes its replies to the outbox and returns them; a redelivered update
# changes nothing; a stranger gets the refusal and nothing of any tenant;
# the bridge's functions see pending actions only; and a role whose only
# membership is invoice_bridge can call them and do nothing else.  TAP
# output; run by scripts/test-suites against the server in PGHOST/PGPORT
# (as a superuser).
set -u
cd "$(dirname "$0")/../.."
. test/tap.sh
db=invoice_tg_transport
role=regress_tg_bridge
trap 'dropdb --if-exists $db >/dev/null 2>&1; psql -X -q -d postgres -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1' EXIT

is() {          # is GOT EXPECTED DESCRIPTION
    [ "$1" = "$2" ]; ok $? "$3" "got: $1
expected: $2"
}
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d $db "$@" 2>&1; }
qb() { PGUSER=$role PGPASSWORD=secret psql -X -q -At -v ON_ERROR_STOP=1 -d $db -h "${PGHOST:-localhost}" "$@" 2>&1; }

dropdb --if-exists $db >/dev/null 2>&1
createdb $db
psql -X -q -d postgres -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1
q -c "SET client_min_messages = warning" -c "CREATE EXTENSION invoice CASCADE" >/dev/null
q -c "CREATE ROLE $role LOGIN PASSWORD 'secret' IN ROLE invoice_bridge" >/dev/null
# a tenant with data that must never show up in a reply
org=$(q -c "SELECT invoice.create_organization('joyeria-secreta', 'Joyería Secreta', '900123456-8')")

msg='{"update_id": 100, "message": {"message_id": 1, "date": 1, "from": {"id": 555, "is_bot": false, "first_name": "<b>Eve</b>"}, "chat": {"id": 555, "type": "private"}, "text": "/start 900123456 Joyería Secreta"}}'
out=$(qb -c "SELECT invoice.telegram_handle('$msg')")
is "$(q -c "SELECT jsonb_array_length('$out'::jsonb -> 'actions'), '$out'::jsonb #>> '{actions,0,method}', '$out'::jsonb #>> '{actions,0,params,chat_id}', '$out'::jsonb #>> '{actions,0,params,parse_mode}'")" \
   "1|sendMessage|555|HTML" "a stranger's message gets one sendMessage to its chat, parse_mode HTML"
text=$(q -c "SELECT '$out'::jsonb #>> '{actions,0,params,text}'")
echo "$text" | grep -q 'no está vinculada'; ok $? "the reply is the refusal, in Spanish" "$text"
echo "$text" | grep -Eqi 'secreta|900123456|eve'; ok $((! $?)) "the reply names nothing of any tenant nor echoes the sender" "$text"
is "$(qb -c "SELECT invoice.telegram_handle('$msg')")" '{"actions": []}' "the same update again returns no actions"
is "$(q -c "SELECT count(*) FROM invoice.telegram_inbox WHERE update_id = 100 AND handled_at IS NOT NULL")|$(q -c "SELECT count(*) FROM invoice.telegram_outbox")" \
   "1|1" "a redelivery writes nothing: one inbox row, one outbox row"

cb='{"update_id": 101, "callback_query": {"id": "cb-77", "from": {"id": 555, "is_bot": false, "first_name": "E"}, "message": {"message_id": 9, "date": 1, "chat": {"id": 555, "type": "private"}}, "data": "inv:1"}}'
out=$(qb -c "SELECT invoice.telegram_handle('$cb')")
is "$(q -c "SELECT '$out'::jsonb #>> '{actions,0,method}', '$out'::jsonb #>> '{actions,0,params,callback_query_id}', jsonb_array_length('$out'::jsonb -> 'actions')")" \
   "answerCallbackQuery|cb-77|1" "a stranger's button press is answered with answerCallbackQuery"
is "$(qb -c "SELECT invoice.telegram_handle('{\"update_id\": 102, \"edited_message\": {\"message_id\": 1, \"date\": 1, \"chat\": {\"id\": 555, \"type\": \"private\"}}}')")" \
   '{"actions": []}' "an update of another kind is recorded and answered with nothing"
err=$(qb -c "SELECT invoice.telegram_handle('{\"message\": {}}')" 2>&1)
echo "$err" | grep -q 'update_id'; ok $? "an update without update_id is refused, naming the field" "$err"

# the bridge's side
is "$(qb -F ' ' -c "SELECT action_id, chat_id, method, body IS NOT NULL FROM invoice.telegram_pending() ORDER BY action_id")" \
   "1 555 sendMessage t
2 555 answerCallbackQuery t" "telegram_pending lists both actions in order with a JSON body"
is "$(qb -c "SELECT invoice.telegram_sent(1)")" "t" "telegram_sent marks a pending action sent"
is "$(qb -c "SELECT invoice.telegram_sent(1) IS NULL")" "t" "telegram_sent of an action already sent changes nothing"
is "$(qb -c "SELECT invoice.telegram_failed(2, 'Too Many Requests', false)")|$(qb -c "SELECT count(*) FROM invoice.telegram_pending()")" "t|1" \
   "a transient failure keeps the action pending"
is "$(qb -c "SELECT invoice.telegram_failed(2, 'Bad Request: query is too old')")|$(qb -c "SELECT count(*) FROM invoice.telegram_pending()")" "t|0" \
   "a permanent failure (400) drops the action"
is "$(q -c "SELECT attempts, last_error, dropped_at IS NOT NULL FROM invoice.telegram_outbox WHERE action_id = 2")" "2|Bad Request: query is too old|t" \
   "the dropped action keeps its attempts and the reason"

# documents: only a pending document action gives bytes, once sent its file_id is reused
q -1 -c "SET tg.org = '$org'" -f - <<'SQL'
DO $$
DECLARE o bigint := current_setting('tg.org')::bigint;
	c bigint; i bigint;
BEGIN
	PERFORM invoice.set_tenant(o);
	c := invoice.upsert_customer('CC', '1020304050', 'María Pérez');
	i := invoice.create_invoice(c, '[{"description": "Anillo", "quantity": 1, "unit_price": 1000}]');
	PERFORM invoice.issue(i);
	INSERT INTO invoice.telegram_outbox (org_id, chat_id, method, params, document) VALUES
		(o, 555, 'sendDocument', '{"chat_id": 555, "caption": "Factura <b>1</b>", "parse_mode": "HTML"}',
		 jsonb_build_object('invoice_id', i, 'format', 'pdf', 'filename', 'FV1.pdf')),
		(o, 555, 'sendDocument', '{"chat_id": 555, "caption": "Otra vez"}',
		 jsonb_build_object('invoice_id', i, 'format', 'pdf', 'filename', 'FV1.pdf'));
END $$;
SQL
is "$(qb -F ' ' -c "SELECT action_id, method, body IS NULL FROM invoice.telegram_pending()")" "3 sendDocument t
4 sendDocument t" "a document not sent yet has no body: it must be uploaded"
is "$(qb -F '=' -c "SELECT name, value FROM invoice.telegram_form(3)")" "caption=Factura <b>1</b>
chat_id=555
parse_mode=HTML" "telegram_form gives the upload's fields as text"
is "$(qb -1 -F ' ' -c "SELECT filename, substr(content, 1, 5) = '%PDF-' FROM invoice.telegram_document(3)")" "FV1.pdf t" \
   "telegram_document gives the PDF of a pending document action"
is "$(qb -c "SELECT invoice.telegram_sent(3, 'FILE-ABC')")|$(qb -c "SELECT body::jsonb ->> 'document' FROM invoice.telegram_pending()")" "t|FILE-ABC" \
   "once sent, the same document is sent again by its file_id"
err=$(qb -c "SELECT * FROM invoice.telegram_document(3)")
echo "$err" | grep -q 'not a pending document'; ok $? "telegram_document of an action already sent fails" "$err"
err=$(qb -c "SELECT * FROM invoice.telegram_document(1)")
echo "$err" | grep -q 'not a pending document'; ok $? "telegram_document of a message action fails" "$err"

# one chat's burst does not hide the others: the first few of each chat
q -c "INSERT INTO invoice.telegram_outbox (chat_id, method, params) SELECT 777, 'sendMessage', '{\"chat_id\": 777, \"text\": \"x\"}' FROM generate_series(1, 12)" \
  -c "INSERT INTO invoice.telegram_outbox (chat_id, method, params) VALUES (778, 'sendMessage', '{\"chat_id\": 778, \"text\": \"y\"}')" >/dev/null
is "$(qb -c "SELECT count(*) FILTER (WHERE chat_id = 777), count(*) FILTER (WHERE chat_id = 778), bool_and(action_id < 20) FROM invoice.telegram_pending(100, 10)")" "10|1|t" \
   "telegram_pending gives at most per_chat actions of a chat, the oldest, and the other chats' too"
q -c "UPDATE invoice.telegram_outbox SET dropped_at = now() WHERE chat_id IN (777, 778)" >/dev/null

# one shop's burst does not hide another shop's reply: the shops take turns
q -c "INSERT INTO invoice.telegram_outbox (org_id, chat_id, method, params) SELECT $org, 3000 + g % 150, 'sendMessage', jsonb_build_object('chat_id', 3000 + g % 150, 'text', 'a') FROM generate_series(1, 300) g" \
  -c "INSERT INTO invoice.telegram_outbox (org_id, chat_id, method, params) VALUES ($org + 1000, 4000, 'sendMessage', '{\"chat_id\": 4000, \"text\": \"b\"}'), ($org + 1000, 4000, 'sendMessage', '{\"chat_id\": 4000, \"text\": \"c\"}')" >/dev/null
is "$(qb -A -t -F ' ' -c "SELECT string_agg(chat_id::text, ' ' ORDER BY n) FILTER (WHERE org_id = $org + 1000), count(*), count(DISTINCT org_id) FROM invoice.telegram_pending(10, 10) WITH ORDINALITY AS t(action_id, chat_id, method, body, org_id, n)")" \
   "4000 4000 10 2" "telegram_pending lets another shop's replies in before a shop's burst of 300, in their order"
q -c "UPDATE invoice.telegram_outbox SET dropped_at = now() WHERE chat_id >= 3000" >/dev/null

# the bridge's role can do nothing else
for t in telegram_inbox telegram_outbox organizations invoices customers users audit_log; do
    err=$(qb -c "SELECT count(*) FROM invoice.$t")
    echo "$err" | grep -q 'permission denied'; ok $? "the bridge cannot read invoice.$t" "$err"
done
err=$(qb -c "INSERT INTO invoice.telegram_outbox (chat_id, method, params) VALUES (1, 'sendMessage', '{}')")
echo "$err" | grep -q 'permission denied'; ok $? "the bridge cannot write the outbox" "$err"
for f in "invoice.set_tenant(1)" "invoice.telegram_dispatch('{}')" "invoice.telegram_refuse('{}')" "invoice.render_pdf(1)" "invoice.to_json(1)"; do
    err=$(qb -c "SELECT $f")
    echo "$err" | grep -q 'permission denied'; ok $? "the bridge cannot call $f" "$err"
done
is "$(q -c "SELECT string_agg(p.proname, ',' ORDER BY p.proname) FROM pg_proc p WHERE p.pronamespace = 'invoice'::regnamespace AND has_function_privilege('$role', p.oid, 'EXECUTE')")" \
   "audit_write_needed,current_org,current_user_id,telegram_document,telegram_failed,telegram_forget,telegram_form,telegram_handle,telegram_pending,telegram_sent,totals" \
   "the bridge may execute the Telegram functions and the public ones only" 
is "$(q -c "SELECT bool_and(p.prosecdef AND p.proconfig = '{\"search_path=pg_catalog, pg_temp\"}') FROM pg_proc p WHERE p.pronamespace = 'invoice'::regnamespace AND p.proname IN ('telegram_handle','telegram_pending','telegram_form','telegram_document','telegram_sent','telegram_failed','telegram_forget')")" \
   "t" "the bridge's functions are SECURITY DEFINER with search_path = pg_catalog, pg_temp"

# forgetting
err=$(qb -c "SELECT invoice.telegram_forget('1 hour')")
echo "$err" | grep -q '"older_than" must be at least 1 day'; ok $? "telegram_forget refuses an age under a day" "$err"
q -c "UPDATE invoice.telegram_inbox SET received_at = received_at - interval '8 days' WHERE update_id = 100" >/dev/null
is "$(qb -c "SELECT invoice.telegram_forget()")|$(q -c "SELECT string_agg(update_id::text, ',' ORDER BY update_id) FROM invoice.telegram_inbox")" "1|101,102" \
   "telegram_forget forgets only the inbox rows older than the age (7 days by default)"

tap_end
