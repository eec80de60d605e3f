#!/usr/bin/env bash
# test/dump_restore.sh: a database with audited changes of every JSON type
# goes through pg_dump and pg_restore (the way the README says: triggers
# off with session_replication_role = replica), and the restored audit log
# is the same, row for row, and its hash chains still verify.  The chain
# hashes jsonb by its binary form, so this is what proves that form comes
# back byte for byte.  TAP output; run by scripts/test-suites against the
# server in PGHOST/PGPORT (as a superuser).
set -u
src=invoice_dump_src
dst=invoice_dump_dst
dump=$(mktemp)
n=0
fail=0
trap 'rm -f "$dump"; dropdb --if-exists $src >/dev/null 2>&1; dropdb --if-exists $dst >/dev/null 2>&1' EXIT

check() {       # check DESCRIPTION EXPECTED ACTUAL
    n=$((n + 1))
    if [ "$2" = "$3" ]; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1"
        echo "#   expected: $2"
        echo "#   got:      $3"
        fail=1
    fi
}

psql_q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

dropdb --if-exists $src >/dev/null 2>&1
dropdb --if-exists $dst >/dev/null 2>&1
createdb $src
psql_q -d $src >/dev/null <<'EOF' || fail=1
SET client_min_messages = warning;
CREATE EXTENSION invoice CASCADE;
SELECT invoice.create_organization('dump-shop', 'Joyería Ñandú', '900123456-8',
	'{"prefix": "FV", "number_from": 1, "number_to": 1000, "default_tax_rate": 19}');
BEGIN;
SELECT invoice.set_tenant(org_id) FROM invoice.organizations WHERE slug = 'dump-shop';
SELECT invoice.add_user('Ana María Peña', 'admin');
SELECT invoice.set_tenant(org_id, (SELECT max(user_id) FROM invoice.users u WHERE u.org_id = o.org_id))
  FROM invoice.organizations o WHERE slug = 'dump-shop';
SELECT invoice.upsert_customer('CC', '1020304050', 'José "Pepe" Ñúñez', 'pepe@example.com');
SELECT invoice.issue(invoice.create_invoice(
	(SELECT max(customer_id) FROM invoice.customers),
	'[{"description": "Anillo oro 18k ✓", "quantity": 1.5, "unit_price": 1250000.5, "discount_pct": 12.5, "material": "oro", "karat": 18, "weight_grams": 3.125},
	  {"description": "Cadena plata", "quantity": 3, "unit_price": 0.01, "tax_rate": 5}]'));
SELECT invoice.record_payment(max(invoice_id), 100.10, 'nequi') FROM invoice.invoices;
COMMIT;
-- a table of every kind of column, audited
CREATE TABLE public.kinds (
	org_id bigint NOT NULL, id int NOT NULL, b boolean, i2 smallint, n numeric,
	big numeric, f4 real, f8 double precision, ts timestamptz, d date, t text,
	j json, jb jsonb, arr int[], PRIMARY KEY (org_id, id));
SELECT invoice.audit_enable('public.kinds');
INSERT INTO public.kinds
SELECT org_id, 1, true, -7, 1.50, 123456789012345678901234.000100, 1.25, -0.1e-5,
	   '2026-11-23 10:00:00.123456-05', '2026-02-28', E'tab\tline\nquote" ñ €',
	   '{"b": [1, 2.50, {"x": null}], "a": "z"}', '{"n": 1.0, "k": [true, "é"], "deep": {"e": []}}',
	   '{1,2,3}'
  FROM invoice.organizations WHERE slug = 'dump-shop';
UPDATE public.kinds SET n = 2.000, jb = jb || '{"added": 10e3}', f8 = 'NaN', ts = NULL;
DELETE FROM public.kinds;
EOF

log_sum="SELECT count(*) || ' ' || md5(string_agg(a::text, '|' ORDER BY org_id, audit_id)) FROM invoice.audit_log a"
verify="SELECT coalesce(string_agg(org_id || ':' || coalesce(first_bad_audit_id::text, 'intact'), ','), 'none') FROM invoice.audit_verify()"

check "the source database was set up" 0 "$fail"
before=$(psql_q -d $src -c "$log_sum")
check "the source log verifies" "$(psql_q -d $src -c "SELECT string_agg(org_id || ':intact', ',') FROM invoice.organizations")" \
    "$(psql_q -d $src -c "$verify")"

pg_dump -Fc -d $src -f "$dump"
createdb $dst
PGOPTIONS='-c session_replication_role=replica' pg_restore -d $dst "$dump" 2>&1 | grep -v '^$'
check "the restored log has the same rows" "$before" "$(psql_q -d $dst -c "$log_sum")"
check "the restored chains verify" "$(psql_q -d $src -c "$verify")" "$(psql_q -d $dst -c "$verify")"
check "the restored heads are the source's" \
    "$(psql_q -d $src -c "SELECT md5(string_agg(h::text, '|' ORDER BY org_id)) FROM invoice.audit_heads h")" \
    "$(psql_q -d $dst -c "SELECT md5(string_agg(h::text, '|' ORDER BY org_id)) FROM invoice.audit_heads h")"

# writing goes on in the restored database, on the restored chain
psql_q -d $dst >/dev/null <<'EOF'
BEGIN;
SELECT invoice.set_tenant(org_id, (SELECT min(user_id) FROM invoice.users u WHERE u.org_id = o.org_id))
  FROM invoice.organizations o WHERE slug = 'dump-shop';
SELECT invoice.upsert_customer('CC', '99887766', 'Cliente después de restaurar');
COMMIT;
EOF
check "the restored database takes writes" 0 "$?"
check "a write after the restore extends the chain" \
    "$(psql_q -d $dst -c "SELECT string_agg(org_id || ':intact', ',') FROM invoice.organizations")" \
    "$(psql_q -d $dst -c "$verify")"

echo "1..$n"
exit $fail
