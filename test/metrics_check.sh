#!/usr/bin/env bash
# test/metrics_check.sh: invoice.metrics() is valid Prometheus text
# exposition (promtool check metrics), with a tenant whose name holds a
# double quote, a backslash and a line break; its counts by status equal
# count(*) by status once maintenance() has run; and a scrape at many
# tenants stays quick.  TAP output; run by scripts/test-suites against the
# server in PGHOST/PGPORT (as a superuser).
set -u
db=invoice_metrics
. "$(dirname "$0")/tap.sh"
tmp=$(mktemp -d)
trap 'dropdb --if-exists $db >/dev/null 2>&1; rm -rf "$tmp"' EXIT


dropdb --if-exists $db >/dev/null 2>&1
createdb $db
psql_q >"$tmp/setup.out" 2>&1 <<'EOF'
SET client_min_messages = warning;
CREATE EXTENSION invoice CASCADE;
SELECT invoice.create_organization('tricky', E'Joyería "La \\ Perla"\nSegunda línea',
       NULL, '{"number_from": 1, "number_to": 100, "valid_to": "2099-12-31", "payment_terms_days": 30}') AS org \gset
BEGIN;
SELECT invoice.set_tenant(:org);
SELECT invoice.upsert_customer('CC', '1020304050', 'María') AS c \gset
SELECT invoice.create_and_issue(:c, '[{"description": "Anillo", "quantity": 1, "unit_price": 1000}]');
SELECT invoice.create_and_issue(:c, '[{"description": "Aretes", "quantity": 2, "unit_price": 500}]', NULL, 'cash');
SELECT invoice.create_invoice(:c, '[{"description": "Cadena", "quantity": 1, "unit_price": 300}]');
COMMIT;
SELECT invoice.maintenance();
SELECT invoice.audit_check();
EOF
ok $? "a tenant with a tricky name, and its invoices" "$tmp/setup.out"

psql_q -c "SELECT invoice.metrics()" >"$tmp/metrics.txt" 2>"$tmp/metrics.err"
ok $? "metrics() answers" "$tmp/metrics.err"
promtool check metrics <"$tmp/metrics.txt" >"$tmp/promtool.out" 2>&1
ok $? "promtool check metrics accepts it" "$tmp/promtool.out"
grep -qF 'org="Joyería \"La \\ Perla\"\nSegunda línea"' "$tmp/metrics.txt"
ok $? "the name's quote, backslash and line break are escaped" "$tmp/metrics.txt"
[ "$(tail -c 1 "$tmp/metrics.txt" | od -An -c | tr -d ' ')" = '\n' ]
ok $? "it ends with a line feed"

# the counts by status equal count(*) by status
psql_q >"$tmp/counts.out" 2>&1 <<'EOF'
SELECT pg_catalog.string_agg(status || '=' || n, ',' ORDER BY status COLLATE "C")
  FROM (SELECT s.status, count(i.invoice_id) AS n
          FROM unnest(ARRAY['draft', 'issued', 'paid', 'void']) s(status)
          LEFT JOIN invoice.invoices i ON i.status = s.status GROUP BY s.status) x;
EOF
want=$(cat "$tmp/counts.out")
got=$(grep '^invoice_invoices{' "$tmp/metrics.txt" | sed -E 's/.*status="([a-z]+)"} ([0-9]+)$/\1=\2/' | sort | paste -sd,)
[ "$want" = "$got" ]
ok $? "invoice_invoices equals count(*) by status ($got)"

# a scrape at 10 000 tenants (no invoices needed: it reads the rollup)
psql_q >"$tmp/many.out" 2>&1 <<'EOF'
SET client_min_messages = warning;
INSERT INTO invoice.organizations (slug, name)
SELECT 'bulk-' || g, 'Joyería ' || g FROM generate_series(1, 10000) g;
SELECT invoice.maintenance();
EOF
ok $? "10 000 more tenants, counted by maintenance()" "$tmp/many.out"
ms=$(psql_q -c "SELECT length(invoice.metrics()) > 0" -c "\timing on" -c "SELECT length(invoice.metrics()) > 0" 2>&1 |
    sed -nE 's/^Time: ([0-9.]+) ms.*/\1/p' | head -1)
echo "# metrics() at 10 001 tenants: ${ms} ms"
awk -v ms="${ms:-99999}" 'BEGIN { exit !(ms < 2000) }'
ok $? "a scrape at 10 001 tenants takes ${ms} ms (well under the 15 s scrape interval)"
psql_q -c "SELECT invoice.metrics()" >"$tmp/metrics.txt" 2>&1
promtool check metrics <"$tmp/metrics.txt" >"$tmp/promtool.out" 2>&1
ok $? "promtool still accepts it" "$tmp/promtool.out"
tap_end
