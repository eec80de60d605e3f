#!/usr/bin/env bash
# test/memory_check.sh: the hot paths leave nothing behind per call.  One
# backend runs rounds of ROUND transactions, each through the whole API as
# an application does it (set_tenant, upsert_customer, create_invoice with
# items, issue, record_payment, totals, to_json, render_html, render_pdf,
# row_history, a refused call caught by a subtransaction), audited, and
# reads how much of each of its memory contexts is in use (total less
# free bytes of pg_backend_memory_contexts, summed by context name) after
# each round.  After a warm-up round (caches, plans), ROUNDS more are
# measured.  A leak grows its context in every round; a cache grows once:
# catalog caches and plans filled again when autovacuum's ANALYZE makes the
# backend replan (on a busy machine, a round added 58 kB to the backend
# and the next one shrank).  So the check fails only for a context that
# grew by more than GROWTH bytes in each measured round: a leak of 64 bytes
# a transaction shows as 24 kB a round (checked by leaking on purpose in
# set_tenant: "CacheMemoryContext|24000 24000 24000 24000").  TAP output; run by
# scripts/test-suites against the server in PGHOST/PGPORT (as a superuser).
set -u
db=invoice_memory
ROUND=${ROUND:-300}
ROUNDS=${ROUNDS:-4}
GROWTH=${GROWTH:-2048}
n=0
fail=0
trap 'dropdb --if-exists $db >/dev/null 2>&1; psql -X -q -d postgres -c "DROP ROLE IF EXISTS memcheck_app" >/dev/null 2>&1' EXIT

check() {       # check DESCRIPTION OK(0/1) DETAIL
    n=$((n + 1))
    if [ "$2" = 1 ]; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1"
        echo "#   $3"
        fail=1
    fi
}

dropdb --if-exists $db >/dev/null 2>&1
createdb $db
psql -X -q -v ON_ERROR_STOP=1 -d $db >/dev/null <<'EOF' || fail=1
SET client_min_messages = warning;
CREATE EXTENSION invoice CASCADE;
DROP ROLE IF EXISTS memcheck_app;
CREATE ROLE memcheck_app;
GRANT invoice_app TO memcheck_app;
SELECT invoice.create_organization('memory-shop', 'Joyería La Memoria', '900123456-8',
	'{"prefix": "MEM", "number_from": 1, "number_to": 100000, "default_tax_rate": 19}');
SELECT invoice.grant_tenant('memcheck_app', org_id) FROM invoice.organizations WHERE slug = 'memory-shop';
BEGIN;
SELECT invoice.set_tenant(org_id) FROM invoice.organizations WHERE slug = 'memory-shop';
SELECT invoice.add_user('Vendedora', 'seller');
COMMIT;
EOF

# round_sql R: the transactions of round R (0 .. ROUNDS), as memcheck_app,
# then the memory in use after them, by context name
round_sql() {
    cat <<EOF
SET ROLE memcheck_app;
\o /dev/null
SELECT format('BEGIN; SELECT pg_temp.work(%s, %s, %s); COMMIT;', i, :org, :usr)
  FROM generate_series($1 * $ROUND + 1, ($1 + 1) * $ROUND) i \gexec
\o
RESET ROLE;
INSERT INTO mem SELECT $1, name, sum(total_bytes - free_bytes) FROM pg_backend_memory_contexts GROUP BY name;
EOF
}

out=$(psql -X -q -At -v ON_ERROR_STOP=1 -d $db 2>&1 <<EOF
SET client_min_messages = warning;
SELECT org_id AS org FROM invoice.organizations WHERE slug = 'memory-shop' \gset
SELECT max(user_id) AS usr FROM invoice.users WHERE org_id = :org \gset
CREATE TEMP TABLE mem (round int, name text, bytes bigint);
-- the measuring statement itself, once, so that its own caches are not
-- counted as growth
INSERT INTO mem SELECT -1, name, sum(total_bytes - free_bytes) FROM pg_backend_memory_contexts GROUP BY name;
SET ROLE memcheck_app;
-- one transaction through the API, as an application makes it; i makes
-- each customer new
CREATE FUNCTION pg_temp.work(i int, org bigint, usr bigint) RETURNS void LANGUAGE plpgsql AS \$f\$
DECLARE
	cust bigint;
	inv bigint;
BEGIN
	PERFORM invoice.set_tenant(org, usr);
	cust := invoice.upsert_customer('CC', (1000000 + i)::text, 'Cliente Ñandú ' || i, 'c' || i || '@example.com');
	inv := invoice.create_invoice(cust,
		'[{"description": "Anillo oro 18k", "quantity": 1, "unit_price": 1250000, "material": "oro", "karat": 18, "weight_grams": 3.1},
		  {"description": "Cadena plata", "quantity": 2.5, "unit_price": 89900.50, "discount_pct": 10, "tax_rate": 5},
		  {"description": "Aretes", "quantity": 3, "unit_price": 45000}]', 'nota ' || i);
	PERFORM invoice.issue(inv);
	PERFORM invoice.record_payment(inv, (SELECT total FROM invoice.invoices WHERE invoice_id = inv), 'nequi');
	PERFORM invoice.to_json(inv), invoice.render_html(inv), invoice.render_pdf(inv),
			invoice.totals('[{"description": "Dije", "quantity": 2, "unit_price": 10.05}]');
	PERFORM * FROM invoice.row_history('invoice.invoices', jsonb_build_object('invoice_id', inv));
	BEGIN
		PERFORM invoice.create_invoice(cust, '[{"description": "x", "quantity": "mucho", "unit_price": 1}]');
		RAISE EXCEPTION 'a bad quantity was accepted';
	EXCEPTION WHEN invalid_parameter_value OR invalid_text_representation OR check_violation THEN
		NULL;
	END;
END
\$f\$;
$(for r in $(seq 0 "$ROUNDS"); do round_sql "$r"; done)
-- each context's growth in each measured round (a context missing in a
-- round holds 0 bytes there)
CREATE TEMP VIEW growth AS
WITH grid AS (
	SELECT n.name, r.round, coalesce(m.bytes, 0) AS bytes
	  FROM (SELECT DISTINCT name FROM mem WHERE round >= 0) n
	 CROSS JOIN generate_series(0, $ROUNDS) r(round)
	  LEFT JOIN mem m ON m.name = n.name AND m.round = r.round
)
SELECT name, round, bytes - lag(bytes) OVER (PARTITION BY name ORDER BY round) AS grew FROM grid;
SELECT 'bytes', string_agg(b::text, ' ' ORDER BY round)
  FROM (SELECT round, sum(bytes) AS b FROM mem WHERE round >= 0 GROUP BY round) t;
-- the contexts that grew in every measured round
SELECT 'leak', name, string_agg(grew::text, ' ' ORDER BY round)
  FROM growth WHERE round >= 1 GROUP BY name HAVING min(grew) > $GROWTH ORDER BY name;
-- what grew most in each round, to tell a cache from a leak when it fails
SELECT 'grew', round, string_agg(name || ' +' || grew, ', ' ORDER BY grew DESC)
  FROM (SELECT *, rank() OVER (PARTITION BY round ORDER BY grew DESC) AS k FROM growth WHERE round >= 1 AND grew > 0) t
 WHERE k <= 3 GROUP BY round ORDER BY round;
SELECT 'issued', count(*) FILTER (WHERE status = 'paid'), count(*) FROM invoice.invoices;
SELECT 'audit', count(*) FILTER (WHERE first_bad_audit_id IS NULL) FROM invoice.audit_verify();
EOF
)

# every transaction of the rounds went through, and was audited
total=$(((ROUNDS + 1) * ROUND))
issued=$(sed -n 's/^issued|//p' <<<"$out")
check "all $total transactions issued and paid an invoice" \
    "$([ "$issued" = "$total|$total" ] && echo 1)" "paid|issued: ${issued:-none}; $(grep -m3 ERROR <<<"$out")"
check "the audit chain of the tenant verifies" \
    "$(grep -qx 'audit|1' <<<"$out" && echo 1)" "$(grep '^audit' <<<"$out")"

bytes=$(sed -n 's/^bytes|//p' <<<"$out")
if [ "$(wc -w <<<"$bytes")" != $((ROUNDS + 1)) ]; then
    check "memory was read after each round" 0 "$(tail -5 <<<"$out")"
else
    leaks=$(sed -n 's/^leak|//p' <<<"$out")
    check "no memory context grew by more than $GROWTH bytes in each of $ROUNDS rounds of $ROUND transactions (backend: $bytes bytes)" \
        "$([ -z "$leaks" ] && echo 1)" "growing every round (name|bytes per round): $(tr '\n' ';' <<<"$leaks") most growth by round: $(sed -n 's/^grew|//p' <<<"$out" | tr '\n' ';')"
fi
echo "1..$n"
exit $fail
