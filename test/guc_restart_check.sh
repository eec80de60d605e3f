#!/usr/bin/env bash
# test/guc_restart_check.sh: server-wide invoice.* settings survive a
# restart.  _PG_init must define every invoice.* variable before it
# reserves the prefix (MarkGUCPrefixReserved): reserving first makes the
# server drop their postgresql.conf / ALTER SYSTEM values at every start,
# logging "invalid configuration parameter name".  Run by scripts/test-suites
# inside its own pg_virtualenv (cluster 15/regress, restartable) that
# preloads pg_cron and invoice.  TAP output.
set -u
. "$(dirname "$0")/tap.sh"
psql_at() { psql -X -At -v ON_ERROR_STOP=1 -c "$1" 2>&1; }

cluster_ver=${PGVERSION:-15}
logfile=$(pg_lsclusters -h | awk -v v="$cluster_ver" '$1 == v && $2 == "regress" {print $NF}')
if [ -z "$logfile" ] || [ ! -f "$logfile" ]; then
    notok "the log file of cluster $cluster_ver/regress was not found"
    tap_end
fi

# the defaults, so that the values set below are changes
before=$(psql_at "SELECT current_setting('invoice.early_lock_release') || ',' || current_setting('invoice.audit_skip_noop_updates') || ',' || current_setting('invoice.keep_checks')")
if [ "$before" = "on,off,on" ]; then ok 0 "defaults: early_lock_release on, audit_skip_noop_updates off, keep_checks on"; else notok "defaults: $before"; fi

psql_at "ALTER SYSTEM SET invoice.early_lock_release = off" >/dev/null
psql_at "ALTER SYSTEM SET invoice.audit_skip_noop_updates = on" >/dev/null
psql_at "ALTER SYSTEM SET invoice.keep_checks = off" >/dev/null

# only what the server logs from the restart on
lines=$(wc -l < "$logfile")
if pg_ctlcluster "$cluster_ver" regress restart -m fast; then ok 0 "restart"; else notok "restart"; fi

v=$(psql_at "SHOW invoice.early_lock_release")
if [ "$v" = off ]; then ok 0 "invoice.early_lock_release is off after the restart"; else notok "invoice.early_lock_release after the restart: $v"; fi
v=$(psql_at "SHOW invoice.audit_skip_noop_updates")
if [ "$v" = on ]; then ok 0 "invoice.audit_skip_noop_updates is on after the restart"; else notok "invoice.audit_skip_noop_updates after the restart: $v"; fi
v=$(psql_at "SHOW invoice.keep_checks")
if [ "$v" = off ]; then ok 0 "invoice.keep_checks is off after the restart"; else notok "invoice.keep_checks after the restart: $v"; fi
v=$(psql_at "SELECT source FROM pg_settings WHERE name = 'invoice.early_lock_release'")
if [ "$v" = configuration\ file ]; then ok 0 "the value comes from the configuration file"; else notok "source of invoice.early_lock_release: $v"; fi

dropped=$(tail -n +"$((lines + 1))" "$logfile" | grep 'invalid configuration parameter name')
if [ -z "$dropped" ]; then ok 0 "the server log names no invalid invoice.* parameter"; else notok "the server log says: $dropped"; fi

# the context variables stay reserved: no placeholder can be made in the prefix
v=$(psql_at "SET invoice.no_such_setting = 1")
if printf '%s' "$v" | grep -q 'invalid configuration parameter name'; then
    ok 0 "the invoice prefix is reserved"
else
    notok "SET invoice.no_such_setting: $v"
fi

psql_at "ALTER SYSTEM RESET ALL" >/dev/null
tap_end
