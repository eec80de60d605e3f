#!/usr/bin/env bash
# bench/telegram_conversation.sh [BASE_REF]: updates per second that
# invoice.telegram_handle() handles for linked users (SQL side only, no
# bridge), with the conversation's functions of this tree and, beside it in
# the same run, with those of BASE_REF (default: the merge base with main).
#
# Two databases get the same fixture: TG_TENANTS shops with TG_USERS linked
# sellers each and three issued invoices a shop.  In the "base" one, every
# CREATE FUNCTION invoice.telegram_* of BASE_REF's invoice--0.2.sql is run
# again as CREATE OR REPLACE, so the two differ only in the conversation's
# SQL (the C library is this tree's).  pgbench then sends /ayuda, /facturas
# and /ver FV1 (one each in three) from random accounts, alternating
# base, new, base, new for TG_SECONDS each, and prints each run's tps and
# the ratio of the best runs.  Runs against the server the libpq variables
# point at (a superuser; invoice preloaded), e.g. inside
#   /tmp/invoice-devcheck.sh . bench/telegram_conversation.sh
set -eu
cd "$(dirname "$0")/.."
base=${1:-$(git merge-base HEAD main 2>/dev/null || echo HEAD)}
tenants=${TG_TENANTS:-50}
users=${TG_USERS:-80}
seconds=${TG_SECONDS:-10}
clients=${TG_CLIENTS:-2}
tmp=$(mktemp -d)
: 'rm -rf "$tmp"; for d in bench_tg_base bench_tg_new; do dropdb --if-exists $d >/dev/null 2>&1; done' EXIT

fixture() {
    dropdb --if-exists "$1" >/dev/null 2>&1
    createdb "$1"
    psql -X -q -v ON_ERROR_STOP=1 -d "$1" -v tenants="$tenants" -v users="$users" >/dev/null <<'SQL'
SET client_min_messages = error;
CREATE EXTENSION invoice CASCADE;
CREATE SEQUENCE public.bench_update_id;
SELECT set_config('bench.tenants', :'tenants', false), set_config('bench.users', :'users', false);
DO $$
DECLARE
	o bigint;
BEGIN
	FOR t IN 1 .. current_setting('bench.tenants')::int LOOP
		o := invoice.create_organization('shop' || t, 'Joyería ' || t, NULL, '{"prefix": "FV"}');
		PERFORM invoice.set_tenant(o);
		FOR u IN 1 .. current_setting('bench.users')::int LOOP
			PERFORM invoice.add_user('Vendedor ' || u, 'seller', 100000 + (t - 1) * current_setting('bench.users')::int + u);
		END LOOP;
		PERFORM invoice.upsert_customer('CC', '1020304050', 'María Pérez');
		FOR i IN 1 .. 3 LOOP
			PERFORM invoice.issue(invoice.create_invoice(
				(SELECT min(customer_id) FROM invoice.customers WHERE org_id = o),
				'[{"description": "Anillo", "quantity": 1, "unit_price": 1000000}]'));
		END LOOP;
	END LOOP;
END
$$;
SQL
}

fixture bench_tg_new
fixture bench_tg_base
# the base's conversation: every function of this tree with the name of
# one of its SQL-bodied invoice.telegram_* functions is dropped (left out
# of the extension first), and the base's CREATE FUNCTION run instead
git show "$base:extension/invoice--0.2.sql" | python3 -c '
import sys
names, out = [], []
for chunk in sys.stdin.read().split("\nCREATE ")[1:]:
    if chunk.startswith("FUNCTION invoice.telegram_") and "\nAS $$\n" in chunk:
        names.append(chunk[len("FUNCTION invoice."):chunk.index("(")])
        out.append("CREATE " + chunk[:chunk.index("\n$$;\n") + 4])
print("DO $d$ DECLARE f regprocedure; BEGIN")
print("FOR f IN SELECT p.oid FROM pg_proc p WHERE p.pronamespace = %s::regnamespace AND p.proname = ANY (%s) LOOP" %
      ("\x27invoice\x27", "\x27{" + ",".join(names) + "}\x27"))
print("EXECUTE format(%s, f, f); END LOOP; END $d$;" % "\x27ALTER EXTENSION invoice DROP FUNCTION %s; DROP FUNCTION %s\x27")
sys.stdout.write("\n".join(out) + "\n")
' > "$tmp/base.sql"
psql -X -q -v ON_ERROR_STOP=1 -d bench_tg_base -c "SET client_min_messages = error" -f "$tmp/base.sql" >/dev/null

accounts=$((tenants * users))
for c in '/ayuda' '/facturas' '/ver FV1'; do
    f="$tmp/$(echo "$c" | tr -dc a-z).sql"
    cat > "$f" <<SQL
\\set tg random(100001, $((100000 + accounts)))
SELECT invoice.telegram_handle(jsonb_build_object('update_id', nextval('public.bench_update_id'),
  'message', jsonb_build_object('message_id', 1, 'date', 1,
    'from', jsonb_build_object('id', :tg, 'is_bot', false, 'first_name', 'X'),
    'chat', jsonb_build_object('id', :tg, 'type', 'private'), 'text', '$c')));
SQL
done

run() {     # run DB: prints tps (pgbench's errors in $tmp/pgbench.err)
    psql -X -q -d "$1" -c "UPDATE invoice.telegram_sessions SET window_updates = 0" >/dev/null
    pgbench -n -c "$clients" -j "$clients" -T "$seconds" -f "$tmp/ayuda.sql" -f "$tmp/facturas.sql" \
        -f "$tmp/ver.sql" "$1" 2>"$tmp/pgbench.err" | sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
echo "# $accounts linked accounts in $tenants shops; $clients clients, ${seconds}s a run; base $(git rev-parse --short "$base")"
best_base=0 best_new=0
for round in 1 2; do
    b=$(run bench_tg_base); echo "base round $round: $b updates/s"
    n=$(run bench_tg_new); echo "new  round $round: $n updates/s"
    best_base=$(python3 -c "print(max($best_base, $b))")
    best_new=$(python3 -c "print(max($best_new, $n))")
done
python3 -c "print('best: base %.0f, new %.0f updates/s: x%.2f' % ($best_base, $best_new, $best_new / $best_base))"
# the actions written, to be sure both did the same work
for d in bench_tg_base bench_tg_new; do
    echo "$d: $(psql -X -At -d $d -c "SELECT count(*) FILTER (WHERE params->>'text' LIKE '%No entendí%' OR params->>'text' LIKE '%rápido%'), count(*) FROM invoice.telegram_outbox") (refusals or rate-limited, all actions)"
done
