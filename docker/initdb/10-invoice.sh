#!/usr/bin/env bash
# docker/initdb/10-invoice.sh: run once, by the postgres image's entrypoint,
# when the data volume is new (as /docker-entrypoint-initdb.d/10-invoice.sh).
# It creates invoice (with PostGIS) and pg_cron in POSTGRES_DB, schedules
# invoice.maintenance() with pg_cron, creates the bridge's LOGIN role
# (member of invoice_bridge only) when INVOICE_BRIDGE_PASSWORD is set, and
# loads the demo tenant (scripts/demo.sql) when INVOICE_DEMO=1.
set -euo pipefail

psql_db() {
    psql -X -q -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" "$@"
}

psql_db <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS invoice CASCADE;
CREATE EXTENSION IF NOT EXISTS pg_cron;
SELECT invoice.schedule_maintenance();
SQL

if [ -n "${INVOICE_BRIDGE_PASSWORD:-}" ]; then
    # the password travels as a psql variable, never pasted into SQL text
    psql_db -v role="${INVOICE_BRIDGE_ROLE:-invoice_bridge_login}" \
            -v password="$INVOICE_BRIDGE_PASSWORD" <<'SQL'
SET client_min_messages = warning;
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'role', :'password')
 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = :'role') \gexec
SELECT format('GRANT invoice_bridge TO %I', :'role') \gexec
SQL
    echo "invoice: created the bridge's login role ${INVOICE_BRIDGE_ROLE:-invoice_bridge_login}"
fi

if [ "${INVOICE_DEMO:-0}" = 1 ]; then
    psql_db -f /usr/share/invoice/demo.sql >/dev/null
    echo "invoice: loaded the demo tenant (scripts/demo.sql)"
fi
