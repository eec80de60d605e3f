#!/usr/bin/env bash
# test/upgrade_check.sh: the upgrade chain.  For every version that shipped
# (every extension/invoice--V.sql but the newest), install V, fill it with
# data through the API (test/upgrade/fill.sql), ALTER EXTENSION invoice
# UPDATE to the newest, and check: every row of every table is still there
# with the values it had (new columns aside), every audit chain verifies,
# numbering continues without a gap, and the extension's objects are those
# of a fresh install of the newest version (test/upgrade/catalog.sql, with
# the differences that cannot match listed below with their reason).  Each
# step V -> next needs its script: a missing one fails.  TAP output; run by
# scripts/test-suites against the server in PGHOST/PGPORT (as a superuser).
set -u
cd "$(dirname "$0")/.."
. test/tap.sh
tmp=$(mktemp -d)
dbs=()
trap 'for d in "${dbs[@]}"; do dropdb --if-exists "$d" >/dev/null 2>&1; done; rm -rf "$tmp"' EXIT

newdb() { dropdb --if-exists "$1" >/dev/null 2>&1; createdb "$1"; dbs+=("$1"); }

# the versions, oldest first
mapfile -t versions < <(ls extension/invoice--*.sql | sed -n 's|^extension/invoice--\([0-9.]*\)\.sql$|\1|p' | sort -V)
newest=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" invoice.control)
ok "$([ "${versions[-1]}" = "$newest" ]; echo $?)" "the newest install script is default_version $newest"

# every step of the chain has its script
for ((i = 0; i + 1 < ${#versions[@]}; i++)); do
    f="extension/invoice--${versions[i]}--${versions[i+1]}.sql"
    ok "$([ -f "$f" ]; echo $?)" "upgrade script $f exists"
done

# snapshot DB TABLE: the rows of every table of the extension, one jsonb
# a row, into public.TABLE of that database (outside the extension)
snapshot() {
    psql_q -d "$1" <<SQL
CREATE TABLE public.$2 (tbl text, r jsonb);
SELECT format('INSERT INTO public.$2 SELECT %L, to_jsonb(t) FROM %s t', c.oid::regclass, c.oid::regclass)
  FROM pg_class c
 WHERE c.relnamespace = 'invoice'::regnamespace AND c.relkind IN ('r', 'p')
   AND NOT c.relispartition
 ORDER BY c.relname
\\gexec
SQL
}

# catalog DB FILE: the description of the extension's objects
catalog() {
    psql_q -d "$1" -f test/upgrade/catalog.sql > "$2" 2>&1 && [ "$(wc -l < "$2")" -gt 100 ]
}

# a fresh install of the newest version
newdb invoice_upg_fresh
psql_q -d invoice_upg_fresh -c "SET client_min_messages = warning" -c "CREATE EXTENSION invoice CASCADE" >/dev/null
catalog invoice_upg_fresh "$tmp/fresh.txt"
ok $? "a fresh $newest install describes itself (test/upgrade/catalog.sql)" "$tmp/fresh.txt"

for v in "${versions[@]}"; do
    [ "$v" = "$newest" ] && continue
    db="invoice_upg_${v//./_}"
    newdb "$db"
    psql_q -d "$db" -c "SET client_min_messages = warning" -c "CREATE EXTENSION invoice VERSION '$v' CASCADE" >/dev/null
    psql_q -d "$db" -f test/upgrade/fill.sql > "$tmp/fill.log" 2>&1
    ok $? "$v: filled through its API" "$tmp/fill.log"
    snapshot "$db" upg_before > /dev/null
    last_before=$(psql_q -d "$db" -c "SELECT string_agg(org_id || ':' || max, ',' ORDER BY org_id) FROM (SELECT org_id, max(number) FROM invoice.invoices GROUP BY org_id) m")

    # what each issued invoice prints, before the upgrade (by this library)
    prints() {
        psql_q -d "$db" -c "CREATE TABLE IF NOT EXISTS public.$1 (invoice_id bigint, json text, html text, pdf text)" >/dev/null || return 1
        for slug in upg-uno upg-dos; do
            psql_q -d "$db" >/dev/null <<SQL || return 1
BEGIN;
SELECT invoice.set_tenant(org_id) FROM invoice.organizations WHERE slug = '$slug';
INSERT INTO public.$1
SELECT invoice_id, md5(invoice.to_json(invoice_id)::text), md5(invoice.render_html(invoice_id)),
       md5(invoice.render_pdf(invoice_id))
  FROM invoice.invoices WHERE org_id = invoice.current_org() AND status <> 'draft';
COMMIT;
SQL
        done
    }
    prints upg_prints_before > "$tmp/prints.log" 2>&1
    ok $? "$v: the issued invoices print before the upgrade" "$tmp/prints.log"

    psql_q -d "$db" -c "ALTER EXTENSION invoice UPDATE" > "$tmp/update.log" 2>&1
    ok $? "$v: ALTER EXTENSION invoice UPDATE" "$tmp/update.log"
    ok "$([ "$(psql_q -d "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'invoice'")" = "$newest" ]; echo $?)" \
        "$v: now at version $newest"

    # every row is still there with the values it had: each row after the
    # upgrade contains the row before (new columns may have been added).
    # The head of each audit chain moves by what the upgrade itself wrote
    # (0.1 -> 0.2 gives the issued invoices their seller and customer, and
    # the audit records it): its hash, count and last id are checked by
    # audit_verify below, not here.
    snapshot "$db" upg_after > /dev/null
    psql_q -d "$db" > "$tmp/rows.txt" 2>&1 <<'SQL'
SELECT 'missing or changed: ' || b.tbl || ' ' || b.r::text
  FROM public.upg_before b
 WHERE NOT EXISTS (SELECT 1 FROM public.upg_after a WHERE a.tbl = b.tbl
                      AND a.r @> CASE WHEN b.tbl = 'invoice.audit_heads'
                                      THEN b.r - ARRAY['head_hash', 'row_count', 'last_audit_id']
                                      ELSE b.r END);
SQL
    rows=$(psql_q -d "$db" -c "SELECT count(*) FROM public.upg_before")
    ok "$([ ! -s "$tmp/rows.txt" ] && [ "$rows" -gt 20 ]; echo $?)" \
        "$v: all $rows rows kept their values" "$tmp/rows.txt"

    bad=$(psql_q -d "$db" -c "SELECT count(*) FILTER (WHERE first_bad_audit_id IS NOT NULL) || '/' || count(*) FROM invoice.audit_verify()")
    ok "$([ "$bad" = "0/2" ]; echo $?)" "$v: every audit chain verifies after the upgrade ($bad bad)"

    # what the upgrade changed in issued invoices is in their audit trail
    # (0.2: seller_snapshot and customer_snapshot, once per issued invoice)
    if [ "$v" = 0.1 ]; then
        kept=$(psql_q -d "$db" -c "SELECT (SELECT count(*) FROM invoice.invoices WHERE status <> 'draft' AND seller_snapshot IS NOT NULL AND customer_snapshot IS NOT NULL) || '/' || (SELECT count(*) FROM public.upg_before WHERE tbl = 'invoice.invoices' AND r->>'status' <> 'draft') || '/' || (SELECT count(*) FROM invoice.audit_log WHERE table_name = 'invoice.invoices' AND operation = 'UPDATE' AND changed ? 'seller_snapshot' AND changed ? 'customer_snapshot')")
        ok "$([ "${kept%%/*}" -gt 0 ] && [ "$(echo "$kept" | tr / '\n' | sort -u | wc -l)" = 1 ]; echo $?)" \
            "$v: every issued invoice got its seller and customer, each change audited (kept/issued/audited $kept)"
    fi

    # and they print the same after it, now from what they keep
    prints upg_prints_after > "$tmp/prints.log" 2>&1
    psql_q -d "$db" >> "$tmp/prints.log" 2>&1 <<'SQL'
SELECT 'prints differently: invoice ' || b.invoice_id
  FROM public.upg_prints_before b LEFT JOIN public.upg_prints_after a USING (invoice_id)
 WHERE (a.json, a.html, a.pdf) IS DISTINCT FROM (b.json, b.html, b.pdf);
SQL
    ok "$([ ! -s "$tmp/prints.log" ] && [ "$(psql_q -d "$db" -c "SELECT count(*) FROM public.upg_prints_before")" -gt 0 ]; echo $?)" \
        "$v: every issued invoice prints the same after the upgrade (JSON, HTML, PDF)" "$tmp/prints.log"

    # numbering goes on without a gap, in both tenants
    psql_q -d "$db" > "$tmp/issue.log" 2>&1 <<'SQL'
BEGIN;
SELECT invoice.set_tenant(org_id) FROM invoice.organizations WHERE slug = 'upg-uno';
SELECT invoice.issue(invoice.create_invoice(min(customer_id), '[{"description": "Tras la actualización", "quantity": 1, "unit_price": 5}]')) FROM invoice.customers WHERE org_id = invoice.current_org();
COMMIT;
BEGIN;
SELECT invoice.set_tenant(org_id) FROM invoice.organizations WHERE slug = 'upg-dos';
SELECT invoice.issue(invoice.create_invoice(min(customer_id), '[{"description": "Tras la actualización", "quantity": 1, "unit_price": 5}]')) FROM invoice.customers WHERE org_id = invoice.current_org();
COMMIT;
SQL
    ok $? "$v: issue after the upgrade" "$tmp/issue.log"
    last_after=$(psql_q -d "$db" -c "SELECT string_agg(org_id || ':' || (max - 1), ',' ORDER BY org_id) FROM (SELECT org_id, max(number) FROM invoice.invoices GROUP BY org_id) m")
    ok "$([ "$last_before" = "$last_after" ]; echo $?)" "$v: the next numbers follow the last ones ($last_before)"
    gaps=$(psql_q -d "$db" -c "SELECT count(*) FROM (SELECT number - lag(number) OVER (PARTITION BY org_id ORDER BY number) AS d FROM invoice.invoices WHERE number IS NOT NULL) s WHERE d <> 1")
    ok "$([ "$gaps" = 0 ]; echo $?)" "$v: no gap in any series"
    bad=$(psql_q -d "$db" -c "SELECT count(*) FILTER (WHERE first_bad_audit_id IS NOT NULL) FROM invoice.audit_verify()")
    ok "$([ "$bad" = 0 ]; echo $?)" "$v: the chains still verify after more writes"

    # the same objects as a fresh install
    catalog "$db" "$tmp/upgraded.txt"
    ok $? "$v: the upgraded database describes itself" "$tmp/upgraded.txt"
    diff "$tmp/fresh.txt" "$tmp/upgraded.txt" > "$tmp/catalog.diff"
    # differences that cannot match, each with its reason:
    #   (none so far)
    ok $? "$v: the upgraded objects are those of a fresh $newest install (< fresh, > upgraded)" "$tmp/catalog.diff"
done

tap_end
