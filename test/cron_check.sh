#!/usr/bin/env bash
# test/cron_check.sh: pg_cron really runs invoice.maintenance().  pg_cron
# works only in the database cron.database_name names (postgres in the test
# cluster), so the extension is created there for the test and dropped
# again.  The job is scheduled every minute (the seconds syntax needs
# pg_cron 1.5; Debian bookworm ships 1.4), then the test waits at most
# CRON_WAIT seconds for cron.job_run_details to show a run that succeeded.
# Needs cron.use_background_workers = on (or cron.host): with the default,
# pg_cron connects over TCP, which a socket-only cluster refuses, and the
# job fails.  TAP output; run by scripts/test-suites as a superuser.
set -u
cd "$(dirname "$0")/.."
db=$(psql -X -At -d postgres -c "SHOW cron.database_name" 2>/dev/null)
wait_max=${CRON_WAIT:-100}
. test/tap.sh
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@" 2>&1; }

ok "$([ -n "$db" ]; echo $?)" "pg_cron is loaded, cron.database_name = '$db'"
[ -n "$db" ] || tap_end
bg=$(q -c "SHOW cron.use_background_workers")
ok "$([ "$bg" = on ]; echo $?)" "cron.use_background_workers = on" "$bg"

had_cron=$(q -c "SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron'")
had_invoice=$(q -c "SELECT count(*) FROM pg_extension WHERE extname = 'invoice'")
out=$(q -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS pg_cron" \
        -c "CREATE EXTENSION IF NOT EXISTS invoice CASCADE")
ok $? "pg_cron and invoice in database $db" "$out"
echo "# pg_cron $(q -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'")"

# the same job, whatever the schedule, and one job only
jobid=$(q -c "SELECT invoice.schedule_maintenance('*/10 * * * *')")
ok "$([[ "$jobid" =~ ^[0-9]+$ ]]; echo $?)" "schedule_maintenance returns a job id" "$jobid"
again=$(q -c "SELECT invoice.schedule_maintenance('* * * * *')")
ok "$([ "$again" = "$jobid" ]; echo $?)" "scheduling again keeps job $jobid" "$again"
job=$(q -c "SELECT string_agg(jobname || ' ' || schedule || ' ' || database || ' ' || command, ';') FROM cron.job WHERE jobname = 'invoice-maintenance'")
ok "$([ "$job" = "invoice-maintenance * * * * * $db SELECT invoice.maintenance()" ]; echo $?)" "one job with the new schedule" "$job"

# wait for a run to finish
status=
for ((i = 0; i < wait_max; i += 2)); do
    status=$(q -c "SELECT status FROM cron.job_run_details WHERE jobid = $jobid AND status IN ('succeeded', 'failed') ORDER BY runid DESC LIMIT 1")
    [ -n "$status" ] && break
    sleep 2
done
detail=$(q -c "SELECT status || ': ' || coalesce(return_message, '') FROM cron.job_run_details WHERE jobid = $jobid ORDER BY runid DESC LIMIT 1")
ok "$([ "$status" = succeeded ]; echo $?)" "pg_cron ran the job within ${wait_max}s and it succeeded" "$detail"
runs=$(q -c "SELECT runs FROM invoice.maintenance_state")
ok "$([ "${runs:-0}" -ge 1 ] 2>/dev/null; echo $?)" "the pass was recorded in invoice.maintenance_state" "$runs"
health=$(q -c "SELECT invoice.health()->'cron'->>'scheduled', invoice.health()->'cron'->'last_run'->>'status'")
ok "$([ "$health" = "true|succeeded" ]; echo $?)" "health() shows the job and its last run" "$health"

# unscheduling removes it; doing it again is a no-op
out=$(q -c "SELECT invoice.unschedule_maintenance()" -c "SELECT invoice.unschedule_maintenance()")
ok $? "unschedule_maintenance, twice" "$out"
left=$(q -c "SELECT count(*) FROM cron.job WHERE jobname = 'invoice-maintenance'")
ok "$([ "$left" = 0 ]; echo $?)" "no job left" "$left"
health=$(q -c "SELECT invoice.health()->'cron'->>'scheduled'")
ok "$([ "$health" = false ]; echo $?)" "health() shows no job" "$health"

[ "$had_invoice" = 0 ] && q -c "SET client_min_messages = warning" -c "DROP EXTENSION invoice" >/dev/null
[ "$had_cron" = 0 ] && q -c "DROP EXTENSION pg_cron" >/dev/null
tap_end
