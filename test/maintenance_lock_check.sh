#!/usr/bin/env bash
# test/maintenance_lock_check.sh: partition maintenance does not stall the
# tenants.  A second connection reads the audit log and stays idle in its
# transaction (as a forgotten session would, holding its locks); meanwhile
# audit_create_partitions runs, and a tenant commits (which writes to the
# log).  The tenant's commit must not wait, and the maintenance must give
# up soon with a clear error (55P03) instead of queueing; once the reader
# is gone the maintenance succeeds, and the partitions it attached have
# what a partition of the log needs.  TAP output; run by
# scripts/test-suites against the server in PGHOST/PGPORT (as a superuser).
set -u
db=invoice_locks
. "$(dirname "$0")/tap.sh"
tmp=$(mktemp -d)
reader=
trap '[ -n "$reader" ] && kill "$reader" 2>/dev/null; dropdb --if-exists $db >/dev/null 2>&1; rm -rf "$tmp"' EXIT

now_ms() { date +%s%3N; }

# one tenant commit through the API (audited: it writes to the log at
# commit); at most 5 s
tenant_commit() {
    PGOPTIONS="-c statement_timeout=5000" psql_q >"$tmp/commit.out" 2>&1 <<EOF
BEGIN;
SELECT invoice.set_tenant($org);
SELECT invoice.upsert_customer('CC', '$1', 'Cliente $1');
COMMIT;
EOF
}

dropdb --if-exists $db >/dev/null 2>&1
createdb $db
org=$(psql_q -c "SET client_min_messages = warning" -c "CREATE EXTENSION invoice CASCADE" \
    -c "SELECT invoice.create_organization('lock-shop', 'Joyería del Candado')")
tenant_commit 10000001
ok $? "a tenant commits with nobody in the way" "$tmp/commit.out"
# an empty partition of a month long gone (as an earlier purge leaves
# it), for audit_purge to drop
psql_q -c "CREATE TABLE invoice.audit_log_y2020m01 PARTITION OF invoice.audit_log
           FOR VALUES FROM ('2020-01-01 00:00:00+00') TO ('2020-02-01 00:00:00+00')"

# the idle reader: reads the log, then waits in its transaction
(echo "BEGIN; SELECT count(*) FROM invoice.audit_log;"; sleep 60) | psql -X -q -d $db >/dev/null 2>&1 &
reader=$!
for _ in $(seq 50); do
    idle=$(psql_q -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db' AND state = 'idle in transaction'")
    [ "$idle" = 1 ] && break
    sleep 0.1
done
ok "$([ "$idle" = 1 ]; echo $?)" "a reader of the log is idle in its transaction"

# the maintenance (6 months ahead: some partitions to make), at most 30 s
start=$(now_ms)
PGOPTIONS="-c statement_timeout=30000" psql_q -c "SELECT invoice.audit_create_partitions(6)" >"$tmp/maint.out" 2>&1 &
maint=$!
sleep 0.3
t0=$(now_ms)
tenant_commit 10000002
rc=$?
t1=$(now_ms)
ok $rc "a tenant commits while the maintenance waits for the reader" "$tmp/commit.out"
ok "$([ $((t1 - t0)) -lt 1000 ]; echo $?)" "the tenant's commit took $((t1 - t0)) ms (under 1000)"
wait $maint
rc=$?
took=$(($(now_ms) - start))
ok "$([ $rc != 0 ] && grep -q 'could not attach partition .* to the audit log' "$tmp/maint.out"; echo $?)" \
    "the blocked maintenance fails with a clear error" "$tmp/maint.out"
ok "$([ $took -lt 10000 ]; echo $?)" "it gave up after $took ms (under 10000), not queueing behind the reader"

# audit_purge must drop the empty partition, which locks the whole log:
# it gives up on that (a warning) rather than hold the tenants up
start=$(now_ms)
PGOPTIONS="-c statement_timeout=30000" psql_q -c "SELECT invoice.audit_purge('1 day')" >"$tmp/purge.out" 2>&1 &
purge=$!
sleep 0.3
t0=$(now_ms)
tenant_commit 10000003
rc=$?
t1=$(now_ms)
ok $rc "a tenant commits while the purge waits for the reader" "$tmp/commit.out"
ok "$([ $((t1 - t0)) -lt 1000 ]; echo $?)" "the tenant's commit took $((t1 - t0)) ms (under 1000)"
wait $purge
rc=$?
took=$(($(now_ms) - start))
ok "$([ $rc = 0 ] && grep -q 'WARNING:  could not drop the empty partition invoice.audit_log_y2020m01' "$tmp/purge.out"; echo $?)" \
    "the purge ends, leaving the partition for its next run with a warning" "$tmp/purge.out"
ok "$([ $took -lt 10000 ]; echo $?)" "it gave up on the partition after $took ms (under 10000)"
count=$(psql_q -c "SELECT count(*) FROM invoice.customers WHERE id_number IN ('10000001', '10000002', '10000003')" 2>&1)
ok "$([ "$count" = 3 ]; echo $?)" "every commit is there ($count)"

kill "$reader" 2>/dev/null
wait "$reader" 2>/dev/null
reader=
made=$(psql_q -c "SELECT invoice.audit_create_partitions(6)" 2>&1)
ok "$([ "${made:-0}" -ge 1 ] 2>/dev/null; echo $?)" "without the reader the maintenance attaches its partitions ($made)"
left=$(psql_q -c "SELECT invoice.audit_purge('1 day')" -c "SELECT count(*) FROM pg_class WHERE relname = 'audit_log_y2020m01'" 2>&1 | tail -1)
ok "$([ "$left" = 0 ]; echo $?)" "and the purge drops the empty partition ($left left)"

# every partition, made at install or attached now, has the same guards,
# policies, indexes, statistics targets and privileges
psql_q >"$tmp/parts.out" 2>&1 <<'EOF'
SELECT c.relrowsecurity::text || c.relforcerowsecurity::text
	   || ' policies ' || (SELECT string_agg(polname, ',' ORDER BY polname) FROM pg_policy WHERE polrelid = c.oid)
	   || ' triggers ' || (SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = c.oid)
	   || ' indexes ' || (SELECT count(*) FROM pg_index WHERE indrelid = c.oid)
	   || ' checks ' || (SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint WHERE conrelid = c.oid AND contype = 'c')
	   || ' stats0 ' || (SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = c.oid AND attnum > 0 AND attstattarget = 0)
	   || ' acl ' || coalesce(regexp_replace(c.relacl::text, '^\{[^=]*=', '{owner='), '-')
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'invoice.audit_log'::regclass AND c.relname <> 'audit_log_default'
 GROUP BY 1;
EOF
lines=$(grep -c . "$tmp/parts.out")
ok "$([ "$lines" = 1 ] && grep -q '^truetrue policies admin_read,tenant_isolation triggers audit_log_append_only,audit_log_append_only_row indexes 2 .* stats0 db_role,db_current_role,row_key,old_row,new_row,changed' "$tmp/parts.out"; echo $?)" \
    "the partitions attached now are like those made at install" "$tmp/parts.out"
tenant_commit 10000004
ok $? "a tenant commits after the maintenance" "$tmp/commit.out"

tap_end
