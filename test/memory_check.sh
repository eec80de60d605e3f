#!/usr/bin/env bash
# test/memory_check.sh: the hot paths leave nothing behind per call.  One
# backend runs rounds of ROUND transactions, each through the whole API as
# an application does it (set_tenant, upsert_customer, create_invoice with
# items, issue, record_payment, totals, to_json, render_html, render_pdf,
# row_history, a refused call caught by a subtransaction), audited, and
# reads how much of its memory contexts is in use (total less free bytes
# of pg_backend_memory_contexts) after each round.  After a warm-up round
# (caches, plans), a later round may not add more than SLACK bytes: a leak
# of 64 bytes a transaction shows as 48 kB (checked by leaking on purpose).
# TAP output; run by scripts/test-suites against the server in PGHOST/PGPORT
# (as a superuser).
set -u
db=invoice_memory
ROUND=${ROUND:-600}
SLACK=${SLACK:-16384}
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

# round_sql R: the transactions of round R (0, 1, 2), as memcheck_app, then
# the memory in use after them
round_sql() {
    cat <<EOF
SET ROLE memcheck_app;
\o /dev/null
SELECT format('BEGIN; SELECT pg_temp.work(%s, %s, %s); COMMIT;', i, :org, :usr)
  FROM generate_series($1 * $ROUND + 1, ($1 + 1) * $ROUND) i \gexec
\o
RESET ROLE;
INSERT INTO mem SELECT $1, sum(total_bytes - free_bytes) FROM pg_backend_memory_contexts;
EOF
}

out=$(psql -X -q -At -v ON_ERROR_STOP=1 -d $db 2>&1 <<EOF
SET client_min_messages = warning;
SELECT org_id AS org FROM invoice.organizations WHERE slug = 'memory-shop' \gset
SELECT max(user_id) AS usr FROM invoice.users WHERE org_id = :org \gset
CREATE TEMP TABLE mem (round int, bytes bigint);
-- the measuring statement itself, once, so that its own caches are not
-- counted as growth
INSERT INTO mem SELECT -1, sum(total_bytes - free_bytes) FROM pg_backend_memory_contexts;
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
$(round_sql 0)
$(round_sql 1)
$(round_sql 2)
SELECT 'bytes', string_agg(bytes::text, ' ' ORDER BY round) FROM mem WHERE round >= 0;
SELECT 'issued', count(*) FILTER (WHERE status = 'paid'), count(*) FROM invoice.invoices;
SELECT 'audit', count(*) FILTER (WHERE first_bad_audit_id IS NULL) FROM invoice.audit_verify();
EOF
)

# every transaction of the three rounds went through, and was audited
issued=$(sed -n 's/^issued|//p' <<<"$out")
check "all $((3 * ROUND)) transactions issued and paid an invoice" \
    "$([ "$issued" = "$((3 * ROUND))|$((3 * ROUND))" ] && echo 1)" "paid|issued: ${issued:-none}; $(grep -m3 ERROR <<<"$out")"
check "the audit chain of the tenant verifies" \
    "$(grep -qx 'audit|1' <<<"$out" && echo 1)" "$(grep '^audit' <<<"$out")"

read -r m0 m1 m2 <<<"$(sed -n 's/^bytes|//p' <<<"$out")"
if [ -z "${m2:-}" ]; then
    check "memory was read after each round" 0 "$(tail -5 <<<"$out")"
else
    check "round 2 added at most $SLACK bytes to the backend ($m0 -> $m1)" \
        "$([ $((m1 - m0)) -le "$SLACK" ] && echo 1)" "grew by $((m1 - m0)) bytes over $ROUND transactions"
    check "round 3 added at most $SLACK bytes to the backend ($m1 -> $m2)" \
        "$([ $((m2 - m1)) -le "$SLACK" ] && echo 1)" "grew by $((m2 - m1)) bytes over $ROUND transactions"
fi
echo "1..$n"
exit $fail
