#!/usr/bin/env bash
# test/telegram/conversation_check.sh: the shop's conversation in the
# database, without the bridge: telegram_handle() is called with crafted
# updates, as the bridge's role, and the replies are read from what it
# returns and from the outbox.  Checks: strangers and sellers of another
# tenant get nothing of this tenant (buttons included); an invitation
# links once, an expired or used one is refused; the link is audited
# under the linked user; /ayuda, /facturas, /ver, /pdf (a document that
# telegram_document renders: pdftotext shows the number), /buscar, /pago,
# /anular (admins only), /cancelar, /tienda with two shops; user text is
# HTML-escaped; callback_data within 64 bytes; every button press
# answered; the rate limit.  TAP output; run by scripts/test-suites
# against the server in PGHOST/PGPORT (as a superuser).
set -u
cd "$(dirname "$0")/../.."
. test/tap.sh
db=invoice_tg_conversation
role=regress_tg_conv_bridge
app=regress_tg_conv_app
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; dropdb --if-exists $db >/dev/null 2>&1; psql -X -q -d postgres -c "DROP ROLE IF EXISTS $role" -c "DROP ROLE IF EXISTS $app" >/dev/null 2>&1' EXIT

is() {          # is GOT EXPECTED DESCRIPTION
    [ "$1" = "$2" ]; ok $? "$3" "got: $1
expected: $2"
}
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d $db "$@" 2>&1; }
qb() { PGUSER=$role PGPASSWORD=secret psql -X -q -At -v ON_ERROR_STOP=1 -d $db -h "${PGHOST:-localhost}" "$@" 2>&1; }

echo 1000 > "$tmp/upd"
# the next update_id (a file: the helpers run in command substitutions)
next_upd() { local u; u=$(( $(cat "$tmp/upd") + 1 )); echo $u > "$tmp/upd"; echo $u; }
# msg FROM TEXT: a message update from Telegram user FROM (its private chat),
# handled by the bridge's role; prints the actions returned
msg() {
    local j upd
    upd=$(next_upd)
    j=$(jq -cn --argjson u $upd --argjson f "$1" --arg t "$2" \
        '{update_id: $u, message: {message_id: $u, date: 1, from: {id: $f, is_bot: false, first_name: "X"}, chat: {id: $f, type: "private"}, text: $t}}')
    printf '%s\n' "BEGIN;" "SELECT invoice.telegram_handle(:'j') -> 'actions';" "COMMIT;" | qb -v j="$j"
}
# press FROM DATA: a button press
press() {
    local j upd
    upd=$(next_upd)
    j=$(jq -cn --argjson u $upd --argjson f "$1" --arg d "$2" \
        '{update_id: $u, callback_query: {id: ("cb" + ($u|tostring)), from: {id: $f, is_bot: false, first_name: "X"}, message: {message_id: 1, date: 1, chat: {id: $f, type: "private"}}, data: $d}}')
    printf '%s\n' "BEGIN;" "SELECT invoice.telegram_handle(:'j') -> 'actions';" "COMMIT;" | qb -v j="$j"
}
# loc FROM LON LAT: a location shared
loc() {
    local j upd
    upd=$(next_upd)
    j=$(jq -cn --argjson u $upd --argjson f "$1" --argjson lon "$2" --argjson lat "$3" \
        '{update_id: $u, message: {message_id: $u, date: 1, from: {id: $f, is_bot: false, first_name: "X"}, chat: {id: $f, type: "private"}, location: {longitude: $lon, latitude: $lat}}}')
    printf '%s\n' "BEGIN;" "SELECT invoice.telegram_handle(:'j') -> 'actions';" "COMMIT;" | qb -v j="$j"
}
buttons() { jq -r '[.[] | .params.reply_markup.inline_keyboard // empty | .[][] | .text + "=" + .callback_data] | join(" ")' <<<"$1"; }
# rest: a new minute for the rate limit (the tests send more than 20)
rest() { q -c "UPDATE invoice.telegram_sessions SET window_updates = 0" >/dev/null; }
text() { jq -r '[.[] | .params.text // .params.caption // empty] | join("\n")' <<<"$1"; }
methods() { jq -r '[.[] | .method] | join(",")' <<<"$1"; }

dropdb --if-exists $db >/dev/null 2>&1
createdb $db
psql -X -q -d postgres -c "DROP ROLE IF EXISTS $role" -c "DROP ROLE IF EXISTS $app" >/dev/null 2>&1
q -c "SET client_min_messages = warning" -c "CREATE EXTENSION invoice CASCADE" >/dev/null
q -c "CREATE ROLE $role LOGIN PASSWORD 'secret' IN ROLE invoice_bridge" -c "CREATE ROLE $app IN ROLE invoice_app" >/dev/null
# qa SQL...: as an application role (not a superuser), in one transaction
qa() { q -1 -c "SET ROLE $app" "$@"; }

# shop A (Joyería Demo, numbers FV...) with an admin, a seller, two invoices;
# shop B (Otra Joyería, numbers OJ...) with a seller linked to account 2002
q -f - >/dev/null <<'SQL'
SET client_min_messages = error;
SELECT invoice.create_organization('demo', 'Joyería Demo', '900123456-8', '{"prefix": "FV"}');
SELECT invoice.create_organization('otra', 'Otra Joyería', NULL, '{"prefix": "OJ"}');
SELECT invoice.grant_tenant('regress_tg_conv_app', 1), invoice.grant_tenant('regress_tg_conv_app', 2);
BEGIN;
SELECT invoice.set_tenant(1);
SELECT invoice.add_user('Ana Admin', 'admin', 3005);
SELECT invoice.add_user('Sergio <Vendedor>', 'seller');
SELECT invoice.upsert_customer('CC', '1020304050', 'María <Pérez> & Cía');
SELECT invoice.issue(invoice.create_invoice(1, '[{"description": "Anillo <oro>", "quantity": 1, "unit_price": 1000000}]'));
SELECT invoice.issue(invoice.create_invoice(1, '[{"description": "Cadena", "quantity": 2, "unit_price": 50000}]'));
COMMIT;
BEGIN;
SELECT invoice.set_tenant(2);
SELECT invoice.add_user('Beto de Otra', 'seller', 2002);
SELECT invoice.add_user('Bea de Otra', 'seller');
SELECT invoice.upsert_customer('CC', '555', 'Cliente Secreto');
SELECT invoice.issue(invoice.create_invoice(2, '[{"description": "Reloj", "quantity": 1, "unit_price": 7777}]'));
COMMIT;
SQL
is "$(q -c "SELECT string_agg(format('%s:%s:%s', org_id, invoice_id, number_text), ' ' ORDER BY invoice_id) FROM invoice.invoices")" \
   "1:1:FV1 1:2:FV2 2:3:OJ1" "the fixture: FV1, FV2 in shop 1 and OJ1 in shop 2"
leaks_a='Demo|FV[0-9]|María|Sergio|Anillo|Cadena|1\.190\.000'

# strangers
out=$(msg 3001 "/facturas")
is "$(methods "$out")" "sendMessage" "a stranger's command gets one message"
t=$(text "$out"); echo "$t" | grep -q 'no está vinculada'; ok $? "it is the refusal" "$t"
out=$(press 3001 "v:1")
is "$(methods "$out")" "answerCallbackQuery" "a stranger's button for an invoice gets only the answer to the press"
echo "$out" | grep -Eq "$leaks_a"; ok $((! $?)) "and nothing of the tenant" "$out"
out=$(press 3001 "p:1")
echo "$out" | grep -Eq "sendDocument|$leaks_a"; ok $((! $?)) "a stranger's PDF button sends no document" "$out"

# invitations
err=$(qa -c "SELECT invoice.set_tenant(1, 2)" -c "SELECT invoice.invite_user(2)")
echo "$err" | grep -q 'permission denied to invite'; ok $? "a seller cannot invite" "$err"
err=$(qa -c "SELECT invoice.set_tenant(1, 1)" -c "SELECT invoice.invite_user(99)")
echo "$err" | grep -q 'user 99 not found'; ok $? "an admin cannot invite a user of another tenant or none" "$err"
err=$(qa -c "SELECT invoice.set_tenant(1, 1)" -c "SELECT invoice.invite_user(2, '2 months')")
echo "$err" | grep -q '"ttl" must be between'; ok $? "a ttl beyond 30 days is refused" "$err"
code=$(qa -c "SELECT invoice.set_tenant(1, 1)" -c "SELECT invoice.invite_user(2)" | tail -1)
echo "$code" | grep -Eq '^[0-9a-f]{32}$'; ok $? "the admin gets a 32-digit hexadecimal code" "$code"
is "$(q -c "SELECT count(*), bool_and(code_hash = sha256(convert_to('$code', 'UTF8'))), bool_and(expires_at > now() + interval '23 hours') FROM invoice.telegram_invitations")" \
   "1|t|t" "only the code's SHA-256 is stored, expiring in a day"
is "$(q -c "SELECT count(*) FROM invoice.audit_log WHERE table_name = 'invoice.telegram_invitations' AND operation = 'INSERT' AND app_user_id = 1 AND NOT new_row::text LIKE '%$code%'")" \
   "1" "creating it is audited under the admin, without the code"

out=$(msg 3001 "/start $code")
t=$(text "$out"); echo "$t" | grep -q 'vinculada a <b>Joyería Demo</b>'; ok $? "/start CODE links the account" "$t"
echo "$t" | grep -q 'Sergio &lt;Vendedor&gt;'; ok $? "greeting the user by name, escaped" "$t"
is "$(q -c "SELECT telegram_user_id FROM invoice.users WHERE user_id = 2")" "3001" "users.telegram_user_id holds the account"
is "$(q -c "SELECT count(*) FROM invoice.audit_log WHERE table_name = 'invoice.users' AND operation = 'UPDATE' AND app_user_id = 2 AND changed ? 'telegram_user_id'")" \
   "1" "the link is audited under the linked user"
out=$(msg 3003 "/start $code")
t=$(text "$out"); echo "$t" | grep -q 'no es válido'; ok $? "the same code again is refused" "$t"
echo "$t" | grep -Eq "$leaks_a"; ok $((! $?)) "naming nothing of the tenant" "$t"
is "$(q -c "SELECT count(*) FROM invoice.users WHERE telegram_user_id = 3003")" "0" "and links nothing"
code2=$(qa -c "SELECT invoice.set_tenant(1, 1)" -c "SELECT invoice.invite_user(2, '1 minute')" | tail -1)
q -c "UPDATE invoice.telegram_invitations SET expires_at = now() - interval '1 second' WHERE code_hash = sha256(convert_to('$code2', 'UTF8'))" >/dev/null
out=$(msg 3004 "/start $code2")
t=$(text "$out"); echo "$t" | grep -q 'no es válido'; ok $? "an expired code is refused" "$t"

# set_tenant's warning is for a client's own statement in autocommit, not
# for the conversation's nested call: the bridge handles each update in
# autocommit, and the warning went to the server log once per update
rest
j=$(jq -cn --argjson u "$(next_upd)" '{update_id: $u, message: {message_id: 1, date: 1, from: {id: 3001, is_bot: false, first_name: "X"}, chat: {id: 3001, type: "private"}, text: "/ayuda"}}')
# the server's log, when it can be read (pg_virtualenv keeps it beside the cluster)
log=$(ls "${PG_CLUSTER_CONF_ROOT:-/nonexistent}"/../log/postgresql-*.log 2>/dev/null | head -1)
warnings() { if [ -n "$log" ]; then grep -c 'set_tenant() outside a transaction block' "$log"; else echo 0; fi; }
before=$(warnings)
err=$(echo "SELECT invoice.telegram_handle(:'j') -> 'actions';" | PGOPTIONS="-c client_min_messages=debug1" qb -v j="$j" 2>&1)
echo "$err" | grep -q '/nueva' && ! echo "$err" | grep -Eq 'WARNING|lasts only'
ok $? "a linked user's update handled in autocommit raises no warning" "$err"
is "$(warnings)" "$before" "nor does the server log one${log:+ ($log)}"
is "$(q -c "SELECT count(*) FROM pg_proc p, unnest(p.proconfig) c WHERE p.pronamespace = 'invoice'::regnamespace AND p.proname LIKE 'telegram%' AND c LIKE '%min_messages%'")" \
   "0" "no Telegram function hides messages with a SET clause"
err=$(psql -X -q -At -d $db -c "SET ROLE $app" -c "SELECT invoice.set_tenant(1)" 2>&1)
echo "$err" | grep -q 'WARNING:  invoice.set_tenant() outside a transaction block lasts only for this statement'
ok $? "a client's own set_tenant() in autocommit still warns" "$err"
[ -z "$log" ] || [ "$(warnings)" -gt "$before" ]; ok $? "in the server log too${log:+ ($log)}"
err=$(psql -X -q -At -d $db -c "SET ROLE $app" -c "SELECT invoice.telegram_enter(1, 2)" 2>&1)
echo "$err" | grep -q 'permission denied for function telegram_enter'; ok $? "and a client cannot call the conversation's way in" "$err"
err=$(qb -c "SELECT invoice.telegram_enter(1, 2)" 2>&1)
echo "$err" | grep -q 'permission denied for function telegram_enter'; ok $? "nor can the bridge's role" "$err"

# a linked seller at work
rest
out=$(msg 3001 "/ayuda")
t=$(text "$out"); echo "$t" | grep -q '/nueva' && echo "$t" | grep -q '/pago'; ok $? "/ayuda lists the commands, /nueva among them" "$t"
out=$(msg 3001 "/facturas")
t=$(text "$out"); echo "$t" | grep -q '<b>FV2</b>.*María &lt;Pérez&gt; &amp; Cía · \$ 119.000,00 · emitida' && echo "$t" | grep -q '\$ 1.190.000,00'
ok $? "/facturas lists the invoices, money as in the PDF, names escaped" "$t"
is "$(jq -r '[.[0].params.reply_markup.inline_keyboard[][] | .callback_data] | join(" ")' <<<"$out")" "v:2 p:2 v:1 p:1" \
   "with a view and a PDF button for each, newest first"
is "$(jq '[.. | .callback_data? // empty | utf8bytelength] | max <= 64' <<<"$out")" "true" "callback_data within 64 bytes"
out=$(msg 3001 "/ver fv1")
t=$(text "$out"); echo "$t" | grep -q 'Factura FV1' && echo "$t" | grep -q 'Anillo &lt;oro&gt;' && echo "$t" | grep -q 'Total: \$ 1.190.000,00'
ok $? "/ver shows the invoice (number in any case)" "$t"
out=$(msg 3001 "/ver OJ1")
t=$(text "$out"); echo "$t" | grep -q 'No encontré la factura <b>OJ1</b>'; ok $? "/ver of another shop's number finds nothing" "$t"
echo "$t" | grep -Eq 'Reloj|Secreto|7\.777'; ok $((! $?)) "and shows nothing of it" "$t"
out=$(msg 3001 "/buscar <b>x&y")
t=$(text "$out"); echo "$t" | grep -q '«&lt;b&gt;x&amp;y»'; ok $? "the text typed is escaped in the reply" "$t"
out=$(msg 3001 "/buscar maría")
is "$(jq -r '[.[0].params.reply_markup.inline_keyboard[][0].callback_data] | join(" ")' <<<"$out")" "v:2 v:1" "/buscar finds by customer name"

# /pdf: a document that telegram_document renders
rest
out=$(msg 3001 "/pdf FV1")
is "$(jq -c '[.[0].method, .[0].document]' <<<"$out")" '["sendDocument",{"format":"pdf","filename":"FV1.pdf","invoice_id":1}]' \
   "/pdf writes a sendDocument action for the invoice's PDF"
aid=$(jq '.[0].action_id' <<<"$out")
is "$(q -c "SELECT org_id FROM invoice.telegram_outbox WHERE action_id = $aid")" "1" "the outbox row carries the tenant"
qb -1 -At -c "SELECT encode(content, 'base64') FROM invoice.telegram_document($aid)" | base64 -d > "$tmp/fv1.pdf" 2>/dev/null
if command -v pdftotext >/dev/null; then
    pdftotext "$tmp/fv1.pdf" - 2>/dev/null | grep -q 'FV1'; ok $? "telegram_document renders it: pdftotext shows FV1"
else
    head -c 5 "$tmp/fv1.pdf" | grep -q '%PDF-'; ok $? "telegram_document renders a PDF (pdftotext not installed)"
fi
out=$(press 3001 "p:2")
is "$(methods "$out")" "answerCallbackQuery,sendDocument" "the PDF button is answered and sends the document"
out=$(press 3001 "v:2")
is "$(methods "$out")" "answerCallbackQuery,sendMessage" "the view button is answered and shows the invoice"
out=$(press 3001 "v:3")
is "$(methods "$out")" "answerCallbackQuery" "a button for another shop's invoice is only answered"
echo "$out" | grep -Eq 'Reloj|Secreto|OJ1'; ok $((! $?)) "naming nothing of it" "$out"
out=$(press 3001 "zzz")
is "$(methods "$out")" "answerCallbackQuery" "an unknown button is answered"

# payments
rest
out=$(msg 3001 "/pago FV2 100.000 nequi")
t=$(text "$out"); echo "$t" | grep -q 'Pago de \$ 100.000,00 registrado en la factura <b>FV2</b>' && echo "$t" | grep -q 'Saldo: \$ 19.000,00'
ok $? "/pago records a payment, amounts written the Colombian way" "$t"
is "$(q -c "SELECT method, amount FROM invoice.payments")|$(q -c "SELECT count(*) FROM invoice.audit_log WHERE table_name = 'invoice.payments' AND app_user_id = 2")" \
   "nequi|100000.00|1" "through record_payment, audited under the user"
out=$(msg 3001 "/pago FV2 50.000")
t=$(text "$out"); echo "$t" | grep -q 'mayor que el saldo'; ok $? "an overpayment gets a polite message" "$t"
out=$(msg 3001 "/pago FV2 1.000 <bitcoin>")
t=$(text "$out"); echo "$t" | grep -q 'No conozco el método «&lt;bitcoin&gt;»'; ok $? "an unknown method gets a polite message, escaped" "$t"
out=$(msg 3001 "/pago FV2 mucho")
t=$(text "$out"); echo "$t" | grep -q 'No entendí el monto'; ok $? "an amount that is no number gets a polite message" "$t"
out=$(msg 3001 "/pago FV2 19.000 efectivo")
t=$(text "$out"); echo "$t" | grep -q '(pagada)'; ok $? "paying the balance says the invoice is paid" "$t"

# voiding: admins only
rest
out=$(msg 3001 "/anular FV1 error")
t=$(text "$out"); echo "$t" | grep -q 'Solo quien administra'; ok $? "a seller cannot void" "$t"
out=$(msg 3005 "/anular FV1 precio <mal>")
t=$(text "$out"); echo "$t" | grep -q 'Factura <b>FV1</b> anulada. Motivo: precio &lt;mal&gt;'; ok $? "an admin voids, the reason escaped" "$t"
is "$(q -c "SELECT status, void_reason FROM invoice.invoices WHERE invoice_id = 1")" "void|precio <mal>" "through void()"
out=$(msg 3005 "/anular FV1 otra vez")
t=$(text "$out"); echo "$t" | grep -q 'no se puede anular'; ok $? "voiding twice gets a polite message" "$t"
out=$(msg 3001 "/cancelar")
t=$(text "$out"); echo "$t" | grep -q 'cancelé'; ok $? "/cancelar" "$t"
out=$(msg 3001 "hola")
t=$(text "$out"); echo "$t" | grep -q '/ayuda'; ok $? "anything else points to /ayuda" "$t"

# a seller of the other shop
rest
out=$(msg 2002 "/facturas")
t=$(text "$out"); echo "$t" | grep -q 'OJ1'; ok $? "the other shop's seller sees their invoices" "$t"
echo "$out" | grep -Eq "$leaks_a"; ok $((! $?)) "and nothing of shop 1" "$out"
for d in v:1 p:1 v:2 p:2 t:1; do
    out=$(press 2002 "$d")
    [ "$(methods "$out")" = "answerCallbackQuery" ] && ! echo "$out" | grep -Eq "$leaks_a"
    ok $? "the other shop's seller pressing $d gets only the answer" "$out"
done
out=$(msg 2002 "/pdf FV2")
echo "$out" | grep -Eq "sendDocument"; ok $((! $?)) "nor a document of shop 1 by its number" "$out"

# two shops for one account: /tienda
rest
code3=$(q -1 -c "SELECT invoice.set_tenant(2)" -c "SELECT invoice.invite_user(4)" | tail -1)
out=$(msg 3001 "/start $code3")
t=$(text "$out"); echo "$t" | grep -q 'vinculada a <b>Otra Joyería</b>'; ok $? "an account links to a second shop" "$t"
out=$(msg 3001 "/facturas")
t=$(text "$out"); echo "$t" | grep -q 'OJ1' && ! echo "$t" | grep -q 'FV'; ok $? "it works in the shop it linked last" "$t"
out=$(msg 3001 "/tienda")
is "$(jq -r '[.[0].params.reply_markup.inline_keyboard[][] | .text + "=" + .callback_data] | join(" ")' <<<"$out")" \
   "Joyería Demo=t:1 Otra Joyería=t:2" "/tienda offers both shops"
out=$(press 3001 "t:1")
is "$(methods "$out")" "answerCallbackQuery,sendMessage" "choosing one is answered"
out=$(msg 3001 "/facturas")
t=$(text "$out"); echo "$t" | grep -q 'FV2' && ! echo "$t" | grep -q 'OJ1'; ok $? "and the account works in it" "$t"
q -c "UPDATE invoice.telegram_sessions SET shop_expires_at = now() - interval '1 second' WHERE telegram_user_id = 3001" >/dev/null
out=$(msg 3001 "/facturas")
t=$(text "$out"); echo "$t" | grep -q '¿En qué tienda'; ok $? "once the choice expired, it is asked again" "$t"

# /nueva, step by step
rest
press 3001 "t:1" >/dev/null
out=$(loc 3001 -74.0722 4.7111)
t=$(text "$out"); echo "$t" | grep -q 'no tiene sucursales'; ok $? "a location shared in a shop without branches gets a polite message" "$t"
# shop 1: Centro in Bogotá, Poblado in Medellín; shop 2: a branch right
# where the seller of shop 1 will stand
q -f - >/dev/null <<'SQL'
SET client_min_messages = error;
BEGIN;
SELECT invoice.set_tenant(1);
SELECT invoice.add_branch('Centro <Bogotá>', -74.0721, 4.7110);
SELECT invoice.add_branch('Poblado', -75.5636, 6.2518);
COMMIT;
BEGIN;
SELECT invoice.set_tenant(2);
SELECT invoice.add_branch('Sucursal Secreta', -74.0722, 4.7111);
COMMIT;
SQL
out=$(msg 3001 "/nueva")
t=$(text "$out"); echo "$t" | grep -q '¿Para qué cliente?'; ok $? "/nueva asks for the customer" "$t"
out=$(msg 3001 "maría")
is "$(jq -r '[.[0].params.reply_markup.inline_keyboard[][] | .callback_data] | join(" ")' <<<"$out")" "c:1" "a name offers the matching customers as buttons"
out=$(press 3001 "c:1")
t=$(text "$out"); is "$(methods "$out")" "answerCallbackQuery,sendMessage" "choosing one is answered"
echo "$t" | grep -q 'Cliente: <b>María &lt;Pérez&gt; &amp; Cía</b>'; ok $? "and the items are asked for" "$t"
out=$(msg 3001 "Anillo <oro>; 1; 1.250.000; 3,5")
t=$(text "$out"); echo "$t" | grep -q '1. 1 × Anillo &lt;oro&gt;: \$ 1.487.500,00' && echo "$t" | grep -q 'Total: \$ 1.487.500,00'
ok $? "an item line shows the lines so far and the running total" "$t"
is "$(jq -r '[.[0].params.reply_markup.inline_keyboard[][] | .text + "=" + .callback_data] | join(" ")' <<<"$out")" \
   "Agregar ítem=n:add Emitir=n:issue Cancelar=n:cancel" "with the buttons Agregar ítem, Emitir and Cancelar"
msg 3001 "Cadena; 2; 100.000" >/dev/null
out=$(msg 3001 "Dije; 3; 33.333,33")
t=$(text "$out"); echo "$t" | grep -q 'Total: \$ 1.844.499,99'; ok $? "three items, the total as the API computes it" "$t"
out=$(msg 3001 "malo")
t=$(text "$out"); echo "$t" | grep -q 'Ítem: <b>malo</b>' && echo "$t" | grep -q '<b>cantidad</b>'
ok $? "text without semicolons is taken as a description, and the quantity asked" "$t"
out=$(msg 3001 "Nada; 0; 5")
t=$(text "$out"); echo "$t" | grep -q 'La cantidad debe ser un número mayor que cero'; ok $? "add_item's refusal becomes a polite message naming the field" "$t"
out=$(press 3001 "n:add")
t=$(text "$out"); echo "$t" | grep -q 'siguiente ítem'; ok $? "Agregar ítem asks for the next item" "$t"
out=$(press 3001 "n:issue")
t=$(text "$out"); echo "$t" | grep -q '¿Emito la factura a <b>María &lt;Pérez&gt; &amp; Cía</b> por <b>\$ 1.844.499,99</b>?'
ok $? "Emitir asks to confirm" "$t"
is "$(q -c "SELECT count(*) FROM invoice.invoices WHERE number IS NOT NULL AND org_id = 1")" "2" "nothing issued before Confirmar"
out=$(press 3001 "n:ok")
is "$(methods "$out")" "answerCallbackQuery,sendMessage,sendDocument" "Confirmar is answered, issues and sends the PDF"
t=$(text "$out"); echo "$t" | grep -q 'Factura <b>FV3</b> emitida por <b>\$ 1.844.499,99</b>'; ok $? "replying with the number" "$t"
is "$(q -c "SELECT i.status, i.created_by, count(*), sum(it.weight_grams) FROM invoice.invoices i JOIN invoice.invoice_items it USING (org_id, invoice_id) WHERE i.number_text = 'FV3' GROUP BY 1, 2")" \
   "issued|2|3|3.500" "the invoice: issued, by the linked user, three items with the weight"
aid=$(jq '.[2].action_id' <<<"$out")
qb -1 -At -c "SELECT encode(content, 'base64') FROM invoice.telegram_document($aid)" | base64 -d > "$tmp/fv3.pdf" 2>/dev/null
pdftotext "$tmp/fv3.pdf" - 2>/dev/null > "$tmp/fv3.txt"
grep -q 'FV3' "$tmp/fv3.txt" && grep -q '1.844.499,99' "$tmp/fv3.txt"; ok $? "its PDF shows the number and the total" "$(head -5 "$tmp/fv3.txt")"
out=$(press 3001 "n:ok")
is "$(methods "$out")" "answerCallbackQuery" "Confirmar again does nothing more"
is "$(q -c "SELECT count(*) FROM invoice.invoices WHERE org_id = 1 AND number IS NOT NULL")" "3" "one invoice issued"
out=$(msg 3001 "/nueva")
out=$(msg 3001 "CC 99887766 Pedro <P>")
t=$(text "$out"); echo "$t" | grep -q 'Cliente: <b>Pedro &lt;P&gt;</b> (CC 99887766)'; ok $? "a document and a name create the customer" "$t"
is "$(q -c "SELECT name FROM invoice.customers WHERE id_number = '99887766'")" "Pedro <P>" "through upsert_customer"
is "$(buttons "$out")" "Paso a paso=n:step" "the items are asked with a button Paso a paso"
draft=$(q -c "SELECT max(invoice_id) FROM invoice.invoices WHERE org_id = 1 AND status = 'draft' AND NOT is_deleted")

# an item field by field
rest
out=$(press 3001 "n:step")
is "$(methods "$out")" "answerCallbackQuery,sendMessage" "Paso a paso is answered"
t=$(text "$out"); echo "$t" | grep -q '¿Cuál es la <b>descripción</b>'; ok $? "and asks for the description" "$t"
out=$(msg 3001 "Pulsera <plata>")
t=$(text "$out"); echo "$t" | grep -q 'Ítem: <b>Pulsera &lt;plata&gt;</b>' && echo "$t" | grep -q '<b>cantidad</b>'
ok $? "then the quantity, naming the item escaped" "$t"
is "$(q -c "SELECT state->>'step', state->'item'->>'description', state_expires_at BETWEEN now() + interval '59 minutes' AND now() + interval '61 minutes' FROM invoice.telegram_sessions WHERE telegram_user_id = 3001")" \
   "item_qty|Pulsera <plata>|t" "the fields so far are in the session, for an hour"
out=$(msg 3001 "dos")
t=$(text "$out"); echo "$t" | grep -q 'No entendí la cantidad «dos»'; ok $? "a quantity that is no number is named" "$t"
out=$(msg 3001 "0")
t=$(text "$out"); echo "$t" | grep -q 'La cantidad debe ser un número mayor que cero'; ok $? "a zero quantity is refused by the API's rules, in Spanish" "$t"
out=$(msg 3001 "1,2345")
t=$(text "$out"); echo "$t" | grep -q 'a lo sumo 3 decimales'; ok $? "so are too many decimals" "$t"
out=$(msg 3001 "2")
t=$(text "$out"); echo "$t" | grep -q '<b>precio</b>'; ok $? "then the price" "$t"
out=$(msg 3001 "<b>")
t=$(text "$out"); echo "$t" | grep -q 'No entendí el precio «&lt;b&gt;»'; ok $? "a price that is no number is named, escaped" "$t"
out=$(msg 3001 "80.000,555")
t=$(text "$out"); echo "$t" | grep -q 'El precio debe ser .* a lo sumo 2 decimales'; ok $? "a price with 3 decimals is refused" "$t"
out=$(msg 3001 "80.000")
t=$(text "$out"); echo "$t" | grep -q '<b>peso en gramos</b>'; ok $? "then the weight" "$t"
is "$(buttons "$out")" "Sin peso=n:noweight" "with a button Sin peso"
out=$(press 3001 "n:noweight")
t=$(text "$out"); is "$(methods "$out")" "answerCallbackQuery,sendMessage" "Sin peso is answered"
echo "$t" | grep -q '1. 2 × Pulsera &lt;plata&gt;: \$ 190.400,00'; ok $? "and adds the item without weight, showing the draft" "$t"
out=$(msg 3001 "Aretes; 1")
t=$(text "$out"); echo "$t" | grep -q 'No entendí ese ítem' && echo "$t" | grep -q '¿Cuál es la <b>descripción</b>'
ok $? "a line that is no item leads to asking field by field" "$t"
for f in Aretes 1 50.000; do msg 3001 "$f" >/dev/null; done
out=$(msg 3001 "-1")
t=$(text "$out"); echo "$t" | grep -q 'No entendí el peso en gramos «-1»'; ok $? "a weight that is no number is named" "$t"
out=$(msg 3001 "0")
t=$(text "$out"); echo "$t" | grep -q 'El peso en gramos debe ser un número mayor que cero'; ok $? "a zero weight is refused" "$t"
out=$(msg 3001 "2,5")
t=$(text "$out"); echo "$t" | grep -q '2. 1 × Aretes: \$ 59.500,00'; ok $? "a weight adds the item" "$t"
rest
out=$(msg 3001 "Collar")
out=$(msg 3001 "Collar; 1; 10.000")
t=$(text "$out"); echo "$t" | grep -q '3. 1 × Collar: \$ 11.900,00'; ok $? "a whole line is still taken while asking field by field" "$t"
is "$(q -c "SELECT string_agg(format('%s:%s:%s:%s', description, trim_scale(quantity), trim_scale(unit_price), coalesce(trim_scale(weight_grams)::text, '-')), ' ' ORDER BY line_no) FROM invoice.invoice_items WHERE invoice_id = $draft")" \
   "Pulsera <plata>:2:80000:- Aretes:1:50000:2.5 Collar:1:10000:-" "the items, through add_item"
is "$(q -c "SELECT state->>'step' FROM invoice.telegram_sessions WHERE telegram_user_id = 3001")" "items" "back at the items step"

# a location shared during /nueva: the tenant's nearest branch, never another's
out=$(loc 3001 -74.0722 4.7111)
t=$(text "$out"); echo "$t" | grep -q 'queda en la sucursal <b>Centro &lt;Bogotá&gt;</b>'; ok $? "a location puts the draft under the nearest branch, named escaped" "$t"
echo "$t" | grep -q 'Secreta'; ok $((! $?)) "never another shop's branch, even nearer" "$t"
is "$(q -c "SELECT b.name, ST_AsText(i.sale_location::geometry) FROM invoice.invoices i JOIN invoice.branches b USING (org_id, branch_id) WHERE i.invoice_id = $draft")" \
   "Centro <Bogotá>|POINT(-74.0722 4.7111)" "through set_branch, with the sale_location"
is "$(q -c "SELECT count(*) FROM invoice.audit_log WHERE table_name = 'invoice.invoices' AND operation = 'UPDATE' AND app_user_id = 2 AND changed ? 'sale_location'")" \
   "1" "audited under the seller"
out=$(loc 3001 -74.07 200)
t=$(text "$out"); echo "$t" | grep -q 'No pude leer esa ubicación'; ok $? "a location out of range gets a polite message" "$t"
out=$(msg 3001 "/cancelar")
is "$(q -c "SELECT count(*) FROM invoice.invoices WHERE org_id = 1 AND status = 'draft' AND NOT is_deleted")" "0" "/cancelar deletes the draft"
out=$(press 3001 "n:issue")
is "$(methods "$out")" "answerCallbackQuery" "a button of a cancelled invoice is only answered"
rest
out=$(loc 3001 -75.57 6.25)
t=$(text "$out"); echo "$t" | grep -q 'La sucursal más cercana es <b>Poblado</b>'; ok $? "a location outside /nueva names the nearest branch" "$t"
out=$(msg 3001 "/nueva")
out=$(msg 3001 "CC 1020304050")
t=$(text "$out"); echo "$t" | grep -q 'Sucursal: <b>Poblado</b>'; ok $? "and the next draft is put there" "$t"
is "$(q -c "SELECT b.name FROM invoice.invoices i JOIN invoice.branches b USING (org_id, branch_id) WHERE i.org_id = 1 AND i.status = 'draft' AND NOT i.is_deleted")" \
   "Poblado" "through set_branch"
msg 3001 "/cancelar" >/dev/null
out=$(loc 2002 -74.0722 4.7111)
t=$(text "$out"); echo "$t" | grep -q '<b>Sucursal Secreta</b>' && ! echo "$t" | grep -Eq "$leaks_a|Centro"
ok $? "the other shop's seller gets their own branch and nothing of shop 1" "$t"
out=$(press 2002 "n:ok")
is "$(methods "$out")" "answerCallbackQuery" "another shop's seller pressing Confirmar gets only the answer"

# the rate limit
for i in $(seq 1 20); do msg 4001 "/ayuda" >/dev/null; done
out=$(msg 4001 "/ayuda")
t=$(text "$out"); echo "$t" | grep -q 'Vas muy rápido'; ok $? "the 21st update in a minute gets a polite message" "$t"
out=$(msg 4001 "/ayuda")
is "$out" "[]" "the next ones get nothing"
out=$(press 4001 "v:1")
is "$(methods "$out")" "answerCallbackQuery" "but a button press is still answered"

tap_end
