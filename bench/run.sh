#!/usr/bin/env bash
# bench/run.sh: pgbench figures for invoice (see bench/README.md).
#
# For 1 tenant (one gapless counter) and for 16 tenants, at 1, 8 and 32
# clients, it measures "set_tenant, create a draft with 5 jewelry items,
# issue it" in one transaction (bench/create_issue.sql) beside the plain
# INSERT ceiling (bench/plain_insert.sql, and bench/plain_rows.sql row by
# row) and the API's shape in plain SQL (bench/plain_shape.sql: the API's
# statements doing only what they must write), as a non-superuser so that
# row level security applies, and prints tps, average and p95 latency, CPU
# per transaction, WAL per transaction and the ratios between them.  CPU
# is counted twice: the whole machine's (pgbench, the kernel and whatever
# else runs there included) in the table, and the benchmark's backends'
# alone (their utime + stime over the transactions committed meanwhile) on
# each run's line and in the audit overhead summary, which another
# server's work on a shared machine does not move.  The
# counter sale (bench/create_and_issue.sql: create_and_issue() in one
# statement) runs beside the two-call API, with auditing on and off, and
# beside its floors in plain SQL: the ceiling plus gapless numbering
# (bench/plain_sale.sql), plus the audit rows and chain head as well
# (bench/plain_sale_audited.sql); the two-call API also beside its shape
# with its audit rows (bench/plain_shape_audited.sql).
#
# By default it makes its own throw-away cluster with pg_virtualenv (port
# BENCH_PORT, 5490).  BENCH_EXISTING=1 uses the server that the libpq
# variables (PGHOST, PGPORT, PGUSER as a superuser, ...) point at instead;
# that server must preload invoice.  Either way the extension must be
# installed (make && sudo make install).
#
# The API runs three times: with the extension's C audit trigger (as
# installed), with auditing off, and with the usual PL/pgSQL audit trigger
# (to_jsonb(OLD)/to_jsonb(NEW)) instead; then a bulk INSERT ... SELECT of
# BENCH_BULK_ROWS rows into an audited table is timed in each mode.
#
# Environment: BENCH_SECONDS (20 per run), BENCH_CLIENTS ("1 8 32"),
# BENCH_TENANTS ("1 16"), BENCH_SYNC_OFF (1: a second table with
# synchronous_commit=off), BENCH_DB (invoice_bench), BENCH_PORT (5490),
# BENCH_BULK_ROWS (100000), BENCH_BULK_REPS (3; 0 skips the bulk),
# BENCH_WARMUP (10 s), BENCH_WORKLOADS (every one: "plain rows shape
# shape_floor sale_shape sale_floor floor sale sale_off sale_fresh api
# api_noelr api_fresh api_off api_plpgsql api_chained pipe"; a summary
# line needs
# the runs it compares), BENCH_WALDUMP (1: where each run's WAL went, by
# record type and by relation, from pg_waldump, into the run's logs),
# BENCH_SETUP_SQL (a file of SQL the superuser runs in the database after
# the setup, to try a change), BENCH_PERF (1: a `perf record` of the
# server's processes during each run (from once every client has connected
# to a second before its end), its report of the hottest functions into the
# run's logs, PREFIX.perf.txt; BENCH_PERF_OPTS, "-g" by default, chooses the
# call graphs, e.g. "--call-graph dwarf"), BENCH_REPEAT (1: how many times
# each workload runs, one after another, interleaved with the others; the
# table keeps the run with the least CPU per transaction).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd -P)
BENCH_PORT=${BENCH_PORT:-5490}

if [ -z "${BENCH_INSIDE:-}" ] && [ "${BENCH_EXISTING:-0}" != 1 ]; then
    # pg_virtualenv turns fsync off for its clusters; a benchmark needs the
    # default back.  Everything else stays at the defaults.
    export BENCH_INSIDE=1 PGPORT=$BENCH_PORT
    exec pg_virtualenv -t -v 15 \
        -o "shared_preload_libraries=pg_cron,invoice" \
        -o "fsync=on" \
        -o "max_connections=100" \
        "$BENCH_DIR/run.sh" "$@"
fi

SECS=${BENCH_SECONDS:-20}
CLIENTS=${BENCH_CLIENTS:-"1 8 32"}
TENANT_SETS=${BENCH_TENANTS:-"1 16"}
SYNC_OFF=${BENCH_SYNC_OFF:-0}
BULK_ROWS=${BENCH_BULK_ROWS:-100000}
BULK_REPS=${BENCH_BULK_REPS:-3}
WARMUP=${BENCH_WARMUP:-10}
ALL_WORKLOADS="plain rows shape shape_floor sale_shape sale_floor floor sale sale_off sale_fresh api api_noelr api_fresh api_off api_plpgsql api_chained pipe"
WORKLOADS=${BENCH_WORKLOADS:-$ALL_WORKLOADS}
WALDUMP=${BENCH_WALDUMP:-0}
PERF=${BENCH_PERF:-0}
PERF_OPTS=${BENCH_PERF_OPTS:-"-g"}
REPEAT=${BENCH_REPEAT:-1}
DB=${BENCH_DB:-invoice_bench}
APP=bench_app
. "$BENCH_DIR/lib.sh"
OUT="$BENCH_DIR/results/$STAMP"
mkdir -p "$OUT"


echo "== server: $(psql_su -d postgres -Atc "SELECT version()" | cut -d' ' -f1-2)," \
     "port $(psql_su -d postgres -Atc 'SHOW port'), fsync=$(psql_su -d postgres -Atc 'SHOW fsync')," \
     "synchronous_commit=$(psql_su -d postgres -Atc 'SHOW synchronous_commit')"
if [ "$(psql_su -d postgres -Atc "SELECT count(*) FROM pg_available_extensions WHERE name = 'invoice'")" != 1 ]; then
    echo "the invoice extension is not installed: run make && sudo make install first" >&2
    exit 1
fi

# ---------------------------------------------------------------- setup
echo "== setup: database $DB, role $APP, 1 + 16 tenants, bench_plain tables"
psql_su -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
psql_db -v pw="$APP_PW" <<'EOF'
SET client_min_messages = warning;
CREATE EXTENSION invoice CASCADE;
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bench_app') THEN
		CREATE ROLE bench_app LOGIN;
	END IF;
END
$$;
ALTER ROLE bench_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD :'pw';
GRANT invoice_app TO bench_app;

-- the single tenant first, then the 16: ids in one block each.  Settings
-- like a shop's: a DIAN resolution with a range and validity dates (in
-- force today, whenever the bench runs)
DO $$
DECLARE
	settings jsonb := jsonb_build_object(
		'prefix', 'FV', 'number_from', 1, 'number_to', 99999999,
		'resolution', 'Resolución DIAN 18764000000001 (bench)',
		'valid_from', current_date - 30, 'valid_to', current_date + 700);
BEGIN
	PERFORM invoice.create_organization('bench-solo', 'Bench solo', '900123456-8', settings);
	FOR i IN 1..16 LOOP
		PERFORM invoice.create_organization(format('bench-%s', i), format('Bench %s', i),
											NULL, settings);
	END LOOP;
END
$$;
EOF

orgs=$(psql_db -At -c "SELECT org_id FROM invoice.organizations WHERE slug LIKE 'bench-%' ORDER BY org_id")
for org in $orgs; do
    # one transaction a tenant: a seller user and a customer
    psql_db <<EOF >/dev/null
SELECT invoice.grant_tenant('$APP', $org);
BEGIN;
SELECT invoice.set_tenant($org);
SELECT invoice.add_user('Vendedor bench', 'seller');
SELECT invoice.upsert_customer('CC', '$((1000000000 + org))', 'Cliente bench $org');
COMMIT;
EOF
done

# the scripts find users and customers as org_id + offset: check that holds
read -r solo lo hi n user_off cust_off offsets <<<"$(psql_db -At -F ' ' -c "
    SELECT min(o.org_id) FILTER (WHERE o.slug = 'bench-solo'),
           min(o.org_id) FILTER (WHERE o.slug <> 'bench-solo'),
           max(o.org_id) FILTER (WHERE o.slug <> 'bench-solo'),
           count(*) FILTER (WHERE o.slug <> 'bench-solo'),
           min(u.user_id - o.org_id), min(c.customer_id - o.org_id),
           count(DISTINCT (u.user_id - o.org_id, c.customer_id - o.org_id))
      FROM invoice.organizations o
      JOIN invoice.users u USING (org_id)
      JOIN invoice.customers c USING (org_id)
     WHERE o.slug LIKE 'bench-%'")"
if [ "$n" != 16 ] || [ $((hi - lo)) != 15 ] || [ "$offsets" != 1 ]; then
    echo "!! the bench tenants' ids are not contiguous (another session in this database?)" >&2
    exit 1
fi

# the ceiling: tables of the same shape, owned by bench_app, no triggers or RLS
psql_db <<'EOF'
SET client_min_messages = warning;
CREATE SCHEMA bench_plain AUTHORIZATION bench_app;
CREATE SEQUENCE bench_plain.invoice_id_seq;
CREATE SEQUENCE bench_plain.number_seq;
DO $$
DECLARE
	t text;
	c record;
BEGIN
	FOREACH t IN ARRAY ARRAY['organizations', 'users', 'customers', 'branches', 'invoices', 'invoice_items']
	LOOP
		EXECUTE format('CREATE TABLE bench_plain.%I (LIKE invoice.%I INCLUDING DEFAULTS'
					   ' INCLUDING CONSTRAINTS INCLUDING INDEXES)', t, t);
	END LOOP;
	-- the same foreign keys, pointing at the bench_plain tables
	FOR c IN
		SELECT con.conname, rel.relname, pg_get_constraintdef(con.oid) AS def
		  FROM pg_constraint con
		  JOIN pg_class rel ON rel.oid = con.conrelid
		 WHERE con.contype = 'f'
		   AND rel.relnamespace = 'invoice'::regnamespace
		   AND rel.relname IN ('users', 'customers', 'branches', 'invoices', 'invoice_items')
		 ORDER BY con.oid
	LOOP
		EXECUTE format('ALTER TABLE bench_plain.%I ADD CONSTRAINT %I %s', c.relname, c.conname,
					   replace(c.def, 'REFERENCES invoice.', 'REFERENCES bench_plain.'));
	END LOOP;
END
$$;
ALTER TABLE bench_plain.invoices ALTER invoice_id SET DEFAULT nextval('bench_plain.invoice_id_seq');
INSERT INTO bench_plain.organizations SELECT * FROM invoice.organizations WHERE slug LIKE 'bench-%';
INSERT INTO bench_plain.users SELECT u.* FROM invoice.users u JOIN bench_plain.organizations USING (org_id);
INSERT INTO bench_plain.customers SELECT c.* FROM invoice.customers c JOIN bench_plain.organizations USING (org_id);
ALTER TABLE bench_plain.organizations OWNER TO bench_app;
ALTER TABLE bench_plain.users OWNER TO bench_app;
ALTER TABLE bench_plain.customers OWNER TO bench_app;
ALTER TABLE bench_plain.invoices OWNER TO bench_app;
ALTER TABLE bench_plain.invoice_items OWNER TO bench_app;
ALTER SEQUENCE bench_plain.invoice_id_seq OWNER TO bench_app;
ALTER SEQUENCE bench_plain.number_seq OWNER TO bench_app;
-- the gapless counters of plain_shape.sql, one row a tenant; its numbers start
-- far above those the ceiling takes from number_seq
CREATE TABLE bench_plain.counters (
	org_id	bigint PRIMARY KEY REFERENCES bench_plain.organizations,
	last	bigint NOT NULL);
INSERT INTO bench_plain.counters SELECT org_id, 1000000000000 FROM bench_plain.organizations;
ALTER TABLE bench_plain.counters OWNER TO bench_app;
-- the audit's floor (plain_audited.sql): a log of the same columns, the same
-- two indexes (the row index through the same C function, callable here by
-- bench_app), row images compressed with lz4 in the row as the audit writer
-- does (STORAGE MAIN and a 128-byte toast target: compressed, never moved
-- out of line), and a chain head per tenant
CREATE SEQUENCE bench_plain.audit_id_seq CACHE 1;
CREATE TABLE bench_plain.audit_log (LIKE invoice.audit_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
	WITH (toast_tuple_target = 128);
ALTER TABLE bench_plain.audit_log ALTER row_key SET STORAGE MAIN, ALTER old_row SET STORAGE MAIN,
	ALTER new_row SET STORAGE MAIN, ALTER changed SET STORAGE MAIN,
	ALTER old_row SET COMPRESSION lz4, ALTER new_row SET COMPRESSION lz4, ALTER changed SET COMPRESSION lz4;
ALTER TABLE bench_plain.audit_log ADD PRIMARY KEY (org_id, audit_id, occurred_at);
CREATE FUNCTION bench_plain.audit_row_ord(jsonb) RETURNS bigint
	AS '$libdir/invoice', 'invoice_audit_row_ord' LANGUAGE C IMMUTABLE STRICT;
CREATE INDEX ON bench_plain.audit_log (org_id, bench_plain.audit_row_ord(row_key));
CREATE TABLE bench_plain.audit_heads (LIKE invoice.audit_heads INCLUDING ALL);
INSERT INTO bench_plain.audit_heads (org_id) SELECT org_id FROM bench_plain.organizations;
ALTER TABLE bench_plain.audit_log OWNER TO bench_app;
ALTER TABLE bench_plain.audit_heads OWNER TO bench_app;
ALTER SEQUENCE bench_plain.audit_id_seq OWNER TO bench_app;
VACUUM ANALYZE;
EOF

# the audit modes: the extension's C trigger (audit_row + audit_write), none,
# or the usual PL/pgSQL trigger writing to_jsonb(OLD)/to_jsonb(NEW) into a
# log of the same shape (without the hash chain) with the same indexes
psql_db <<'EOF'
SET client_min_messages = warning;
CREATE SCHEMA bench_audit;
CREATE TABLE bench_audit.log (
	org_id		bigint NOT NULL,
	audit_id	bigserial NOT NULL,
	occurred_at	timestamptz NOT NULL DEFAULT statement_timestamp(),
	txid		bigint NOT NULL DEFAULT txid_current(),
	db_role		text NOT NULL DEFAULT session_user,
	app_user_id	bigint DEFAULT invoice.current_user_id(),
	table_name	text NOT NULL,
	operation	text NOT NULL,
	old_row		jsonb,
	new_row		jsonb,
	PRIMARY KEY (org_id, audit_id));
CREATE INDEX ON bench_audit.log (org_id, table_name, audit_id);
CREATE INDEX ON bench_audit.log (org_id, app_user_id, occurred_at) WHERE app_user_id IS NOT NULL;
CREATE FUNCTION bench_audit.audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO bench_audit.log (org_id, table_name, operation, old_row, new_row)
	VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.org_id ELSE NEW.org_id END,
			TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, TG_OP,
			CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
			CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END);
	RETURN NULL;
END
$$;
-- the same audit's promises in PL/pgSQL, as a plain implementation keeps
-- them: each change becomes a row of a log shaped like invoice.audit_log
-- (its columns, check, indexes and defaults; not partitioned, which spares
-- it the routing) with the row's key, for an UPDATE the changed columns as
-- {"column": [old, new]}, and a SHA-256 over the previous hash and the
-- record's text.  The tenant's chain head is locked at its first change in
-- the transaction and held to its end; the chain's state rides in a
-- transaction-local setting between rows, and the head row moves once a
-- statement (a statement trigger), not once a row: one update of the same
-- row per audited row makes a bulk INSERT quadratic (20 000 rows took 9 s).
-- TG_ARGV of the row trigger: the table's primary key columns.
CREATE SEQUENCE bench_audit.chain_id_seq;
CREATE TABLE bench_audit.chain_log (LIKE invoice.audit_log INCLUDING ALL);
CREATE TABLE bench_audit.chain_heads (LIKE invoice.audit_heads INCLUDING DEFAULTS INCLUDING INDEXES);
INSERT INTO bench_audit.chain_heads (org_id) SELECT org_id FROM invoice.organizations;
-- the chain's state in this transaction: txid, org_id, last audit_id, rows
-- since the head last moved, last hash (hex)
CREATE FUNCTION bench_audit.chain_move_head(st text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF st[1] = txid_current()::text AND st[4]::bigint > 0 THEN
		UPDATE bench_audit.chain_heads
		   SET last_audit_id = st[3]::bigint, head_hash = decode(st[5], 'hex'),
			   row_count = row_count + st[4]::bigint
		 WHERE org_id = st[2]::bigint;
		PERFORM set_config('bench.chain', array_to_string(st[1:3] || '0'::text || st[5], ':'), true);
	END IF;
END
$$;
CREATE FUNCTION bench_audit.audit_chained() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	o		jsonb;
	n		jsonb;
	org		bigint;
	k		jsonb;
	ch		jsonb;
	prev	bytea;
	pending	bigint := 0;
	id		bigint;
	h		bytea;
	ts		timestamptz := statement_timestamp();
	who		bigint := invoice.current_user_id();
	tname	text := TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME;
	xid		bigint := txid_current();
	st		text[] := string_to_array(current_setting('bench.chain', true), ':');
BEGIN
	IF TG_OP <> 'INSERT' THEN o := to_jsonb(OLD); END IF;
	IF TG_OP <> 'DELETE' THEN n := to_jsonb(NEW); END IF;
	org := (coalesce(n, o) ->> 'org_id')::bigint;
	SELECT jsonb_object_agg(e.key, e.value) INTO k FROM jsonb_each(coalesce(n, o)) e WHERE e.key = ANY (TG_ARGV);
	IF TG_OP = 'UPDATE' THEN
		SELECT coalesce(jsonb_object_agg(e.key, jsonb_build_array(o -> e.key, e.value)), '{}') INTO ch
		  FROM jsonb_each(n) e WHERE (o -> e.key) IS DISTINCT FROM e.value;
	END IF;
	IF st[1] = xid::text AND st[2] = org::text THEN
		prev := decode(st[5], 'hex');
		pending := st[4]::bigint;
	ELSE
		PERFORM bench_audit.chain_move_head(st);
		SELECT head_hash INTO prev FROM bench_audit.chain_heads WHERE org_id = org FOR NO KEY UPDATE;
	END IF;
	id := nextval('bench_audit.chain_id_seq');
	h := sha256(prev || convert_to(concat_ws('|', org, id, ts, xid, session_user, current_user, who,
											 tname, TG_OP, k, o, n, ch), 'UTF8'));
	INSERT INTO bench_audit.chain_log VALUES (org, id, ts, xid, session_user, current_user, who,
		tname, TG_OP, k, o, n, ch, prev, h);
	PERFORM set_config('bench.chain', concat_ws(':', xid, org, id, pending + 1, encode(h, 'hex')), true);
	RETURN NULL;
END
$$;
CREATE FUNCTION bench_audit.audit_chained_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM bench_audit.chain_move_head(string_to_array(current_setting('bench.chain', true), ':'));
	RETURN NULL;
END
$$;
-- use(mode, one_table): switches the audit triggers of one table (NULL: every
-- tenant table) to 'c', 'off', 'plpgsql' or 'chained'
CREATE FUNCTION bench_audit.use(mode text, one_table regclass DEFAULT NULL) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t regclass;
	c_state text := CASE mode WHEN 'c' THEN 'ENABLE' ELSE 'DISABLE' END;
BEGIN
	FOR t IN SELECT c.oid::regclass FROM pg_class c
			  WHERE (one_table IS NULL AND c.relnamespace = 'invoice'::regnamespace AND c.relkind = 'r'
					 AND c.relname IN ('organizations', 'invoice_counters', 'tenant_grants', 'users',
									   'customers', 'invoices', 'invoice_items', 'payments'))
				 OR c.oid = one_table
	LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = t AND tgname = 'bench_plpgsql_audit') THEN
			EXECUTE format('CREATE TRIGGER bench_plpgsql_audit AFTER INSERT OR UPDATE OR DELETE ON %s'
						   ' FOR EACH ROW EXECUTE FUNCTION bench_audit.audit()', t);
			EXECUTE format('CREATE TRIGGER bench_chained_audit AFTER INSERT OR UPDATE OR DELETE ON %s'
						   ' FOR EACH ROW EXECUTE FUNCTION bench_audit.audit_chained(%s)', t,
						   (SELECT string_agg(quote_literal(a.attname), ', ' ORDER BY k.n)
							  FROM pg_index i, unnest(i.indkey) WITH ORDINALITY k(attnum, n), pg_attribute a
							 WHERE i.indrelid = t AND i.indisprimary AND a.attrelid = t AND a.attnum = k.attnum));
			EXECUTE format('CREATE TRIGGER bench_chained_audit_head AFTER INSERT OR UPDATE OR DELETE ON %s'
						   ' FOR EACH STATEMENT EXECUTE FUNCTION bench_audit.audit_chained_statement()', t);
		END IF;
		EXECUTE format('ALTER TABLE %s %s TRIGGER audit_row, %s TRIGGER audit_write', t, c_state, c_state);
		EXECUTE format('ALTER TABLE %s %s TRIGGER bench_plpgsql_audit', t,
					   CASE mode WHEN 'plpgsql' THEN 'ENABLE' ELSE 'DISABLE' END);
		EXECUTE format('ALTER TABLE %s %s TRIGGER bench_chained_audit, %2$s TRIGGER bench_chained_audit_head', t,
					   CASE mode WHEN 'chained' THEN 'ENABLE' ELSE 'DISABLE' END);
	END LOOP;
END
$$;
SELECT bench_audit.use('c');
EOF
# a change to try, in the same conditions as a run without it
if [ -n "${BENCH_SETUP_SQL:-}" ]; then
    echo "== setup: $BENCH_SETUP_SQL"
    psql_db -f "$BENCH_SETUP_SQL"
fi

psql_db -At -c "SELECT format('== %s: superuser %s, bypassrls %s, member of invoice_app %s',
                              rolname, rolsuper, rolbypassrls, pg_has_role(oid, 'invoice_app', 'MEMBER'))
                  FROM pg_roles WHERE rolname = '$APP'"
echo "== tenants: solo org $solo; 16 tenants org $lo..$hi; $SECS s a run; logs in $OUT"

# ---------------------------------------------------------------- runs
declare -A TPS AVG P95 CPU WAL SRV

# WAL the server has written, in bytes (pg_stat_wal)
wal_bytes() {
    psql_su -d postgres -Atc "SELECT wal_bytes FROM pg_stat_wal"
}

# the server's current WAL insert position
wal_lsn() {
    psql_su -d postgres -Atc "SELECT pg_current_wal_insert_lsn()"
}

# wal_profile LSN0 LSN1 NTX PREFIX: where the WAL between two positions went,
# per transaction: pg_waldump's statistics by record type, and the bytes of
# each relation (a record counts for the relation of its first block; full
# page images apart), with relfilenodes turned into names
wal_profile() {
    local lsn0=$1 lsn1=$2 ntx=$3 prefix=$4 dir waldump names
    dir="$(psql_su -d postgres -Atc 'SHOW data_directory')/pg_wal"
    waldump="$(pg_config --bindir)/pg_waldump"
    "$waldump" -p "$dir" -s "$lsn0" -e "$lsn1" --stats=record > "$prefix.walstats" 2>&1 || true
    names=$(psql_db -At -F ' ' -c "SELECT pg_relation_filenode(c.oid), n.nspname || '.' || c.relname
                                      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                     WHERE pg_relation_filenode(c.oid) IS NOT NULL")
    "$waldump" -p "$dir" -s "$lsn0" -e "$lsn1" 2>/dev/null |
        awk -v ntx="$ntx" -v names="$names" '
        BEGIN { n = split(names, a, "\n"); for (i = 1; i <= n; i++) { split(a[i], f, " "); name[f[1]] = f[2] } }
        {
            rmgr = $2; tot = $6; sub(/,/, "", tot); rec = $5; sub(/\//, "", rec)
            rel = "-"
            if (match($0, /blkref #0: rel [0-9]+\/[0-9]+\/[0-9]+/)) {
                r = substr($0, RSTART, RLENGTH); sub(/.*\//, "", r); rel = (r in name) ? name[r] : "relfilenode " r
            }
            fpi = (tot > rec + 0) ? tot - rec : 0
            key = rmgr " " rel
            cnt[key]++; bytes[key] += tot; fpw[key] += fpi; all += tot
        }
        END {
            for (k in bytes) {
                split(k, p, " ")
                printf "%-10s %-44s %9.2f %11.0f %11.0f %5.1f%%\n", p[1], p[2], cnt[k] / ntx, bytes[k] / ntx,
                    fpw[k] / ntx, 100 * bytes[k] / all
            }
            printf "%-10s %-44s %9s %11.0f\n", "total", "-", "-", all / ntx
        }' | sort -k4,4nr -s |
        { printf '%-10s %-44s %9s %11s %11s %6s\n' rmgr relation recs/tx bytes/tx "of it FPI" share; cat; } > "$prefix.walrels"
}

# backend_ticks PIDS: "PID TICKS" for each process of PIDS still running, its
# CPU ticks (utime + stime) so far
backend_ticks() {
    local p st
    for p in $1; do
        # a process that has exited is left out
        read -r -a st 2>/dev/null < "/proc/$p/stat" || continue
        echo "$p $((st[13] + st[14]))"
    done
}

# now_us: the time, in microseconds since the epoch (as pgbench logs it)
now_us() {
    date +%s%6N
}

# app_backends: the pids of the client backends of the benchmark's role
app_backends() {
    psql_su -d postgres -Atc "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity
                              WHERE usename = '$APP' AND backend_type = 'client backend'"
}

# busy CPU time of the whole machine (server, pgbench, kernel), in jiffies
cpu_busy() {
    awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat
}

# run_one WORKLOAD TENANTS CLIENTS MODE REP: one pgbench run; its figures into
# TPS/AVG/P95/CPU/WAL, unless an earlier repetition spent less CPU a transaction
run_one() {
    local wl=$1 tenants=$2 clients=$3 mode=$4 rep=${5:-1} script org_lo org_hi key prefix out rc
    local threads=$(( clients < 2 ? clients : 2 ))
    case $wl in
        api|api_off|api_plpgsql|api_chained|api_noelr|api_fresh) script="$BENCH_DIR/create_issue.sql" ;;
        sale|sale_off|sale_fresh) script="$BENCH_DIR/create_and_issue.sql" ;;
        plain) script="$BENCH_DIR/plain_insert.sql" ;;
        floor) script="$BENCH_DIR/plain_audited.sql" ;;
        rows) script="$BENCH_DIR/plain_rows.sql" ;;
        pipe) script="$BENCH_DIR/create_issue_pipelined.sql" ;;
        shape) script="$BENCH_DIR/plain_shape.sql" ;;
        shape_floor) script="$BENCH_DIR/plain_shape_audited.sql" ;;
        sale_shape) script="$BENCH_DIR/plain_sale.sql" ;;
        sale_floor) script="$BENCH_DIR/plain_sale_audited.sql" ;;
    esac
    if [ "$tenants" = 1 ]; then org_lo=$solo; org_hi=$solo; else org_lo=$lo; org_hi=$((lo + tenants - 1)); fi
    key="$mode/$wl/$tenants/$clients"
    prefix="$OUT/$mode-$wl-t$tenants-c$clients"
    [ "$REPEAT" -gt 1 ] && prefix="$prefix-r$rep"
    case $wl in
        api_off|sale_off) psql_db -c "SELECT bench_audit.use('off')" >/dev/null ;;
        api_plpgsql) psql_db -c "SELECT bench_audit.use('plpgsql')" >/dev/null ;;
        api_chained) psql_db -c "SELECT bench_audit.use('chained')" >/dev/null ;;
        *) psql_db -c "SELECT bench_audit.use('c')" >/dev/null ;;
    esac
    # the early lock release and the kept checks are superuser settings:
    # per role, for this run
    if [ "$wl" = api_noelr ]; then
        psql_db -c "ALTER ROLE $APP SET invoice.early_lock_release = off" >/dev/null
    else
        psql_db -c "ALTER ROLE $APP RESET invoice.early_lock_release" >/dev/null
    fi
    case $wl in
        *_fresh) psql_db -c "ALTER ROLE $APP SET invoice.keep_checks = off" >/dev/null ;;
        *) psql_db -c "ALTER ROLE $APP RESET invoice.keep_checks" >/dev/null ;;
    esac
    # the previous run's backends may still be exiting: their CPU is not
    # this run's, and a pid that vanishes between two samples would be
    # counted at one and not at the other
    local gone=0
    while [ -n "$(app_backends)" ] && [ "$gone" -lt 50 ]; do
        sleep 0.1
        gone=$((gone + 1))
    done
    psql_db -c "CHECKPOINT"
    local opts="" busy0 busy1 wal0 wal1 lsn0 lsn1 ntx
    [ "$mode" = async ] && opts="-c synchronous_commit=off"
    rc=0
    wal0=$(wal_bytes)
    [ "$WALDUMP" = 1 ] && lsn0=$(wal_lsn)
    busy0=$(cpu_busy)
    local start_us; start_us=$(now_us)
    PGUSER=$APP PGPASSWORD=$APP_PW PGOPTIONS="$opts" \
        pgbench -n -M prepared -c "$clients" -j "$threads" -T "$SECS" \
            -l --log-prefix="$prefix" -f "$script" \
            -D org_lo="$org_lo" -D org_hi="$org_hi" -D user_off="$user_off" -D cust_off="$cust_off" \
            "$DB" > "$prefix.pgbench" 2>&1 &
    local bench_pid=$! pids ticks0 ticks1 t0="" t1="" srv=""
    if [ "$SECS" -gt 3 ]; then
        # the CPU of the benchmark's own backends (utime + stime), from once
        # every client has connected (32 of them take about a second) to a
        # second before pgbench stops, over the transactions that ended
        # meanwhile: what the server spent, without pgbench, the kernel's
        # work for other processes, or another server on the machine.  A
        # backend missed here would leave its work uncounted.
        local waited=0
        sleep 1
        pids=$(app_backends)
        while [ "$(wc -w <<<"$pids")" -lt "$clients" ] && [ "$waited" -lt 20 ]; do
            sleep 0.1
            waited=$((waited + 1))
            pids=$(app_backends)
        done
        [ "$(wc -w <<<"$pids")" -ge "$clients" ] || echo "!! only $(wc -w <<<"$pids") of $clients backends seen: backends us/tx undercounts" >&2
        ticks0=$(backend_ticks "$pids")
        t0=$(now_us)
        # the second sample a second before pgbench stops, however long the
        # clients took to connect: a backend that has exited by then would
        # take its ticks with it
        local window_us=$((start_us + (SECS - 1) * 1000000 - t0)) window
        if [ "$window_us" -lt 1000000 ]; then
            echo "!! $key: the clients took too long to connect: the backends' CPU is left out" >&2
        else
            printf -v window '%d.%03d' $((window_us / 1000000)) $((window_us % 1000000 / 1000))
            if [ "$PERF" = 1 ]; then
                # this server's processes only (the machine may run other servers)
                perf record -q $PERF_OPTS -p "$(psql_su -d postgres -Atc "SELECT string_agg(pid::text, ',')
                    FROM pg_stat_activity WHERE pid <> pg_backend_pid()")" -o "$prefix.perf.data" -- sleep "$window" \
                    > /dev/null 2>&1 || echo "!! perf record failed" >&2
            else
                sleep "$window"
            fi
            ticks1=$(backend_ticks "$pids")
            t1=$(now_us)
            if ! kill -0 "$bench_pid" 2>/dev/null; then
                echo "!! $key: pgbench ended before the second sample: the backends' CPU is left out" >&2
                t1=""
            fi
        fi
    fi
    wait "$bench_pid" || rc=$?
    out=$(cat "$prefix.pgbench")
    rm -f "$prefix.pgbench"
    busy1=$(cpu_busy)
    wal1=$(wal_bytes)
    [ "$WALDUMP" = 1 ] && lsn1=$(wal_lsn)
    printf '%s\n' "$out" > "$prefix.out"
    if [ "$rc" != 0 ] || ! grep -q '^number of failed transactions: 0 ' <<<"$out"; then
        echo "!! pgbench failed ($key, exit $rc):" >&2
        tail -20 <<<"$out" >&2
        exit 1
    fi
    local tps cpu wal
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' <<<"$out")
    ntx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
    # CPU the machine spent per transaction (USER_HZ jiffies of 10 ms)
    cpu=$(awk -v b="$((busy1 - busy0))" -v n="$ntx" 'BEGIN {printf "%.0f", b * 10000 / n}')
    # WAL per transaction in kB (the whole server's: nothing else runs)
    wal=$(awk -v b="$((wal1 - wal0))" -v n="$ntx" 'BEGIN {printf "%.1f", b / 1024 / n}')
    [ "$WALDUMP" = 1 ] && wal_profile "$lsn0" "$lsn1" "$ntx" "$prefix"
    # the server's hottest functions, self time, then with their callees
    if [ "$PERF" = 1 ]; then
        { echo "== self"; perf report -i "$prefix.perf.data" --no-children \
              --sort dso,sym --stdio -g none --percent-limit 0.3 2>/dev/null | grep -v '^#' | grep -v '^$'
          echo "== with callees"; perf report -i "$prefix.perf.data" --children \
              --sort sym --stdio -g none --percent-limit 2 2>/dev/null | grep -v '^#' | grep -v '^$'
        } > "$prefix.perf.txt"
    fi
    # per-transaction logs: the third field is the latency in microseconds
    local avg p95
    read -r avg p95 < <(cat "$prefix".[0-9]* | awk '$3 ~ /^[0-9]+$/ {print $3}' | sort -n |
        awk '{v[NR] = $1; s += $1} END {i = int(NR * 0.95); if (i < NR * 0.95) i++; if (i < 1) i = 1;
             printf "%.2f %.2f\n", s / NR / 1000, v[i] / 1000}')
    # the backends' ticks of 10 ms, summed over those alive at both samples,
    # over the transactions pgbench saw end between them, in microseconds
    # (not under perf, which adds its own)
    if [ -n "$t1" ] && [ "$PERF" != 1 ]; then
        srv=$(awk -v t0="$t0" -v t1="$t1" '
            FNR == 1 {f++}
            f == 1 {ticks0[$1] = $2; next}
            f == 2 {if ($1 in ticks0) d += $2 - ticks0[$1]; next}
            {t = $5 * 1000000 + $6; if (t > t0 + 0 && t <= t1 + 0) n++}
            END {if (n > 0) printf "%.0f", d * 10000 / n}' <(echo "$ticks0") <(echo "$ticks1") "$prefix".[0-9]*)
    fi
    printf '   %-5s %-11s tenants %2s clients %2s: %8.1f tps %6s us/tx, backends %5s us/tx%s\n' "$mode" "$wl" \
        "$tenants" "$clients" "$tps" "$cpu" "${srv:-n/a}" "$([ "$REPEAT" -gt 1 ] && echo " (run $rep)")"
    [ -z "${CPU[$key]:-}" ] || [ "$cpu" -lt "${CPU[$key]}" ] || return 0
    TPS[$key]=$tps CPU[$key]=$cpu WAL[$key]=$wal AVG[$key]=$avg P95[$key]=$p95 SRV[$key]=$srv
}

# tps_ratio KEY REF: the tps of run KEY over that of run REF
tps_ratio() {
    awk -v a="${TPS[$1]}" -v b="${TPS[$2]}" 'BEGIN {printf "%.2f", a / b}'
}

print_table() {
    local mode=$1 tenants clients wl key label r1 r2 r3
    printf '%-26s %7s %7s %9s %8s %8s %9s %9s %12s %14s %10s\n' workload tenants clients tps "avg ms" "p95 ms" \
        "cpu us/tx" "WAL kB/tx" "/batched" "/row-by-row" "/shape"
    for tenants in $TENANT_SETS; do
        for clients in $CLIENTS; do
            for wl in sale sale_off sale_fresh api api_noelr api_fresh api_off api_plpgsql api_chained pipe shape shape_floor sale_shape sale_floor floor plain rows; do
                key="$mode/$wl/$tenants/$clients"
                [ -n "${TPS[$key]:-}" ] || continue
                case $wl in
                    sale) label="create_and_issue (API)" ;;
                    sale_off) label="create_and_issue, no audit" ;;
                    sale_fresh) label="sale, checks not kept" ;;
                    api) label="create+issue (API)" ;;
                    api_noelr) label="API, locks held to flush" ;;
                    api_fresh) label="API, checks not kept" ;;
                    api_off) label="API, audit off" ;;
                    api_plpgsql) label="API, PL/pgSQL audit" ;;
                    api_chained) label="API, PL/pgSQL same audit" ;;
                    pipe) label="API, issue+COMMIT piped" ;;
                    shape) label="API's shape, plain SQL" ;;
                    shape_floor) label="API's shape + audit rows" ;;
                    sale_shape) label="sale's shape, plain SQL" ;;
                    sale_floor) label="sale's shape + audit rows" ;;
                    floor) label="ceiling + audit rows" ;;
                    plain) label="ceiling, batched items" ;;
                    rows) label="ceiling, row by row" ;;
                esac
                # this row's tps over each reference's, where it is not the reference
                r1="" r2="" r3=""
                if [ "$wl" != plain ] && [ "$wl" != rows ]; then
                    selected plain && r1=$(tps_ratio "$key" "$mode/plain/$tenants/$clients")
                    selected rows && r2=$(tps_ratio "$key" "$mode/rows/$tenants/$clients")
                fi
                case $wl in
                    plain|rows|shape|shape_floor|sale_shape|sale_floor|floor) ;;
                    *) selected shape && r3=$(tps_ratio "$key" "$mode/shape/$tenants/$clients") ;;
                esac
                printf '%-26s %7s %7s %9.1f %8.2f %8.2f %9s %9s %12s %14s %10s\n' "$label" "$tenants" "$clients" \
                    "${TPS[$key]}" "${AVG[$key]}" "${P95[$key]}" "${CPU[$key]}" "${WAL[$key]}" "$r1" "$r2" "$r3"
            done
        done
    done
}

# per_config MODE TITLE FN NEEDS: the summary line TITLE, then FN MODE
# TENANTS CLIENTS for every configuration of the run (FN may be a function
# and its first arguments, "against_floor sale_floor sale"); nothing when a
# workload of NEEDS did not run
per_config() {
    local mode=$1 title=$2 fn=$3 needs=$4 tenants clients wl
    for wl in $needs; do
        selected "$wl" || return 0
    done
    echo "$title"
    for tenants in $TENANT_SETS; do
        for clients in $CLIENTS; do
            $fn "$mode" "$tenants" "$clients"
        done
    done
}

# audit_overhead_of OTHER MODE TENANTS CLIENTS: the share of tps the C audit
# trigger and the PL/pgSQL one of workload OTHER (api_plpgsql, api_chained)
# cost against the API with auditing off
audit_overhead_of() {
    local k="$2/%s/$3/$4"
    awk -v off="${TPS[$(printf "$k" api_off)]}" -v c="${TPS[$(printf "$k" api)]}" \
        -v p="${TPS[$(printf "$k" "$1")]}" -v t="$3" -v n="$4" 'BEGIN {
        lc = 1 - c / off; lp = 1 - p / off
        printf "  tenants %2s clients %2s: C %5.1f %%, PL/pgSQL %5.1f %%, C / PL/pgSQL %s\n", t, n,
            lc * 100, lp * 100, (lp > 0 ? sprintf("%.2f", lc / lp) : "n/a") }'
}

# sale_effect_of MODE TENANTS CLIENTS: the counter sale against the batched
# ceiling (tps with audit on and off, p95, WAL per transaction), the
# targets of issue 16
sale_effect_of() {
    local k="$1/%s/$2/$3"
    awk -v plain="${TPS[$(printf "$k" plain)]}" -v on="${TPS[$(printf "$k" sale)]}" \
        -v off="${TPS[$(printf "$k" sale_off)]}" -v pp="${P95[$(printf "$k" plain)]}" \
        -v ps="${P95[$(printf "$k" sale)]}" -v wp="${WAL[$(printf "$k" plain)]}" \
        -v ws="${WAL[$(printf "$k" sale)]}" -v wa="${WAL[$(printf "$k" api)]:-}" -v t="$2" -v n="$3" 'BEGIN {
        printf "  tenants %2s clients %2s: audit on %.2f, audit off %.2f of the ceiling; p95 %.2f x the ceiling'"'"'s; WAL %.2f x the ceiling'"'"'s (two-call API %s x)\n",
            t, n, on / plain, off / plain, ps / pp, ws / wp, (wa == "" ? "n/a" : sprintf("%.2f", wa / wp)) }'
}

# against_floor FLOOR API MODE TENANTS CLIENTS: a floor in plain SQL (run
# FLOOR) against the ceiling, and the API's run API against that floor, in
# tps, CPU, p95 and WAL
against_floor() {
    local k="$3/%s/$4/$5"
    awk -v plain="${TPS[$(printf "$k" plain)]}" -v fl="${TPS[$(printf "$k" "$1")]}" \
        -v on="${TPS[$(printf "$k" "$2")]}" -v cp="${CPU[$(printf "$k" plain)]}" \
        -v cf="${CPU[$(printf "$k" "$1")]}" -v cs="${CPU[$(printf "$k" "$2")]}" \
        -v pp="${P95[$(printf "$k" plain)]}" -v pf="${P95[$(printf "$k" "$1")]}" \
        -v ps="${P95[$(printf "$k" "$2")]}" -v wp="${WAL[$(printf "$k" plain)]}" \
        -v wf="${WAL[$(printf "$k" "$1")]}" -v ws="${WAL[$(printf "$k" "$2")]}" \
        -v api="$2" -v t="$4" -v n="$5" 'BEGIN {
        printf "  tenants %2s clients %2s: floor/ceiling tps %.2f, cpu %.2f, p95 %.2f x, WAL %.2f x; %s/floor tps %.2f, cpu %.2f, p95 %.2f x, WAL %.2f x\n",
            t, n, fl / plain, cp / cf, pf / pp, wf / wp, api, on / fl, cf / cs, ps / pf, ws / wf }'
}

# elr_effect_of MODE TENANTS CLIENTS: what releasing the tenant's locks
# before the WAL flush gains
elr_effect_of() {
    local k="$1/%s/$2/$3"
    awk -v on="${TPS[$(printf "$k" api)]}" -v off="${TPS[$(printf "$k" api_noelr)]}" \
        -v t="$2" -v n="$3" 'BEGIN {
        printf "  tenants %2s clients %2s: %.2f\n", t, n, on / off }'
}

# kept_effect_of WORKLOAD MODE TENANTS CLIENTS: what keeping the CHECK
# constraints prepared gains WORKLOAD (sale, api) against WORKLOAD_fresh
kept_effect_of() {
    local k="$2/%s/$3/$4"
    awk -v on="${TPS[$(printf "$k" "$1")]}" -v off="${TPS[$(printf "$k" "$1_fresh")]}" \
        -v son="${SRV[$(printf "$k" "$1")]}" -v soff="${SRV[$(printf "$k" "$1_fresh")]}" \
        -v t="$3" -v n="$4" 'BEGIN {
        printf "  tenants %2s clients %2s: tps %.2f; backends %s us/tx against %s (%s)\n", t, n, on / off,
            (son == "" ? "n/a" : son), (soff == "" ? "n/a" : soff),
            (son == "" || soff == "" ? "n/a" : sprintf("%+d us", son - soff)) }'
}

# shape_effect_of MODE TENANTS CLIENTS: what the API's shape alone costs (its
# statements in plain SQL against the ceiling) and what the API's own work
# costs on top of it (audit off, and as installed), in tps and CPU
shape_effect_of() {
    local k="$1/%s/$2/$3"
    awk -v plain="${TPS[$(printf "$k" plain)]}" -v shape="${TPS[$(printf "$k" shape)]}" \
        -v off="${TPS[$(printf "$k" api_off)]}" -v c="${TPS[$(printf "$k" api)]}" \
        -v cplain="${CPU[$(printf "$k" plain)]}" -v cshape="${CPU[$(printf "$k" shape)]}" \
        -v coff="${CPU[$(printf "$k" api_off)]}" -v cc="${CPU[$(printf "$k" api)]}" \
        -v t="$2" -v n="$3" 'BEGIN {
        printf "  tenants %2s clients %2s: shape/ceiling %.2f (cpu %.2f); API audit off/shape %.2f (cpu %.2f), API/shape %.2f (cpu %.2f)\n",
            t, n, shape / plain, cplain / cshape, off / shape, cshape / coff, c / shape, cshape / cc }'
}

# cpu_effect_of OTHER MODE TENANTS CLIENTS: the same comparisons in CPU per
# transaction, which the noise of a shared machine moves much less than tps:
# the ceiling's CPU over the API's (what the tps ratio would be if CPU were
# the only limit), and the audit triggers' CPU against the API with auditing
# off
cpu_effect_of() {
    local k="$2/%s/$3/$4"
    awk -v plain="${CPU[$(printf "$k" plain)]}" -v c="${CPU[$(printf "$k" api)]}" \
        -v off="${CPU[$(printf "$k" api_off)]}" -v p="${CPU[$(printf "$k" "$1")]}" \
        -v t="$3" -v n="$4" 'BEGIN {
        printf "  tenants %2s clients %2s: ceiling/API %.2f, ceiling/API audit off %.2f, C / PL/pgSQL %s\n",
            t, n, plain / c, plain / off, (p > off ? sprintf("%.2f", (c - off) / (p - off)) : "n/a") }'
}

# srv_effect_of OTHER MODE TENANTS CLIENTS: the audit triggers' CPU in the
# benchmark's backends alone (run_one), against the API with auditing off;
# OTHER as in audit_overhead_of
srv_effect_of() {
    local k="$2/%s/$3/$4"
    awk -v c="${SRV[$(printf "$k" api)]}" -v off="${SRV[$(printf "$k" api_off)]}" \
        -v p="${SRV[$(printf "$k" "$1")]}" -v t="$3" -v n="$4" 'BEGIN {
        if (c == "" || off == "" || p == "") { printf "  tenants %2s clients %2s: n/a (runs too short)\n", t, n; exit }
        printf "  tenants %2s clients %2s: API %s us/tx, audit off %s, PL/pgSQL audit %s: C +%d us, PL/pgSQL +%d us, C / PL/pgSQL %s\n",
            t, n, c, off, p, c - off, p - off, (p > off ? sprintf("%.2f", (c - off) / (p - off)) : "n/a") }'
}

# selected WORKLOAD: whether BENCH_WORKLOADS asks for it
selected() {
    case " $WORKLOADS " in *" $1 "*) return 0 ;; *) return 1 ;; esac
}
for wl in $WORKLOADS; do
    case " $ALL_WORKLOADS " in
        *" $wl "*) ;;
        *) echo "!! unknown workload $wl in BENCH_WORKLOADS (known: $ALL_WORKLOADS)" >&2; exit 1 ;;
    esac
done

modes="sync"
[ "$SYNC_OFF" = 1 ] && modes="sync async"

# a fresh database runs its first minute slower (new pages, first full-page
# images after the checkpoint): warm both workloads up, unmeasured
echo "== warm-up: ${WARMUP}s of each workload, not measured"
for script in plain_insert.sql create_issue.sql create_and_issue.sql; do
    PGUSER=$APP PGPASSWORD=$APP_PW pgbench -n -M prepared -c 8 -j 2 -T "$WARMUP" -f "$BENCH_DIR/$script" \
        -D org_lo="$lo" -D org_hi="$hi" -D user_off="$user_off" -D cust_off="$cust_off" "$DB" >/dev/null 2>&1 ||
        { echo "!! warm-up with $script failed" >&2; exit 1; }
done

for mode in $modes; do
    echo "== runs ($mode commit)"
    for tenants in $TENANT_SETS; do
        for clients in $CLIENTS; do
            # the ceiling and the API back to back, in the same conditions
            for rep in $(seq "$REPEAT"); do
                for wl in $ALL_WORKLOADS; do
                    selected "$wl" && run_one "$wl" "$tenants" "$clients" "$mode" "$rep"
                done
            done
        done
    done
done
psql_db -c "SELECT bench_audit.use('c')" >/dev/null
psql_db -c "ALTER ROLE $APP RESET invoice.early_lock_release" >/dev/null
psql_db -c "ALTER ROLE $APP RESET invoice.keep_checks" >/dev/null

# ---------------------------------------------------------------- bulk
# INSERT ... SELECT of BULK_ROWS rows into an audited table (a fresh copy of
# invoice.customers each time) in one transaction, per audit mode; the
# median of BULK_REPS runs
declare -A BULK
[ "$BULK_REPS" -gt 0 ] && echo "== bulk: INSERT ... SELECT of $BULK_ROWS rows, $BULK_REPS runs a mode"
for amode in off c plpgsql chained; do
    [ "$BULK_REPS" -gt 0 ] || break
    times=()
    for rep in $(seq "$BULK_REPS"); do
        ms=$(psql_db -At <<EOF | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_audit.bulk;
CREATE TABLE bench_audit.bulk (LIKE invoice.customers INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
SELECT invoice.audit_enable('bench_audit.bulk');
SELECT bench_audit.use('$amode', 'bench_audit.bulk');
CHECKPOINT;
\timing on
INSERT INTO bench_audit.bulk (org_id, customer_id, id_type, id_number, name, email)
SELECT $solo, i, 'CC', 'bulk-' || i, 'Cliente de prueba ' || i, 'cliente' || i || '@example.com'
  FROM generate_series(1, $BULK_ROWS) i;
EOF
)
        times+=("$ms")
    done
    BULK[$amode]=$(printf '%s\n' "${times[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
    printf '   audit %-8s %10.1f ms (runs: %s)\n' "$amode" "${BULK[$amode]}" "${times[*]}"
done
[ "$BULK_REPS" -gt 0 ] && psql_db -c "DROP TABLE bench_audit.bulk" >/dev/null

# ---------------------------------------------------------------- checks
# the API stored what the ceiling writes, and every series is gapless
psql_db -At <<'EOF' > "$OUT/checks.txt"
SELECT 'totals match: ' || bool_and(a.subtotal = 2924900.00 AND a.discount_total = 119000.00
                                    AND a.tax_total = 533121.00 AND a.total = 3339021.00)
  FROM invoice.invoices a;
SELECT 'items match: ' || (count(*) = 0)
  FROM (SELECT line_no, description, quantity, unit_price, tax_rate, discount_pct, base, discount,
               net, tax, line_total, material, karat, weight_grams, sku
          FROM invoice.invoice_items
        EXCEPT
        SELECT line_no, description, quantity, unit_price, tax_rate, discount_pct, base, discount,
               net, tax, line_total, material, karat, weight_grams, sku
          FROM bench_plain.invoice_items) d;
SELECT 'gapless series: ' || bool_and(n = hi AND lo = 1)
  FROM (SELECT org_id, count(*) AS n, min(number) AS lo, max(number) AS hi
          FROM invoice.invoices WHERE status = 'issued' GROUP BY org_id) s;
SELECT 'drafts left: ' || count(*) FROM invoice.invoices WHERE status = 'draft';
SELECT 'issued invoices: ' || count(*) FROM invoice.invoices;
SELECT 'audit chains intact: ' || bool_and(first_bad_audit_id IS NULL) FROM invoice.audit_verify();
SELECT 'audit rows: ' || count(*) FROM invoice.audit_log;
-- the PL/pgSQL comparator keeps what it claims: every hash recomputes
-- from its row and follows the one before it in its tenant's chain
SELECT 'PL/pgSQL audit chains intact: ' || coalesce(bool_and(ok), true)
  FROM (SELECT row_hash = sha256(prev_hash || convert_to(concat_ws('|', org_id, audit_id, occurred_at, txid,
               db_role, db_current_role, app_user_id, table_name, operation, row_key, old_row, new_row,
               changed), 'UTF8'))
               AND prev_hash = coalesce(lag(row_hash) OVER (PARTITION BY org_id ORDER BY audit_id),
                                        decode(repeat('00', 32), 'hex')) AS ok
          FROM bench_audit.chain_log) c;
SELECT 'PL/pgSQL audit heads match: ' || coalesce(bool_and(h.head_hash = l.row_hash AND h.row_count = l.n), true)
  FROM (SELECT DISTINCT ON (org_id) org_id, row_hash, count(*) OVER (PARTITION BY org_id) AS n
          FROM bench_audit.chain_log ORDER BY org_id, audit_id DESC) l
  JOIN bench_audit.chain_heads h USING (org_id);
SELECT 'PL/pgSQL audit rows: ' || count(*) FROM bench_audit.chain_log;
EOF
cat "$OUT/checks.txt" | sed 's/^/== /'
if grep -q ': false' "$OUT/checks.txt"; then
    echo "!! a check failed" >&2
    exit 1
fi

# ---------------------------------------------------------------- report
{
    echo
    echo "invoice bench, $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc)," \
         "$(psql_su -d postgres -Atc "SELECT version()" | cut -d' ' -f1-2), $SECS s a run," \
         "pgbench -M prepared -j 2, as non-superuser $APP"
    for mode in $modes; do
        echo
        if [ "$mode" = sync ]; then
            echo "synchronous_commit = on (default), fsync = on"
        else
            echo "synchronous_commit = off (set by the client; NOT the default; a crash may lose the last commits)"
        fi
        print_table "$mode"
        per_config "$mode" "audit: tps lost against the API with auditing off (C / PL/pgSQL: target <= 0.50)" \
            "audit_overhead_of api_plpgsql" "api api_off api_plpgsql"
        per_config "$mode" "cpu per transaction: ceiling / API (audit on, off), C / PL/pgSQL audit overhead" \
            "cpu_effect_of api_plpgsql" "plain api api_off api_plpgsql"
        per_config "$mode" "cpu of the backends alone per transaction: the audit triggers' overhead (C / PL/pgSQL: target <= 0.50)" \
            "srv_effect_of api_plpgsql" "api api_off api_plpgsql"
        per_config "$mode" "the same against a PL/pgSQL trigger keeping the same audit (row key, changed, SHA-256 chain, head): tps lost" \
            "audit_overhead_of api_chained" "api api_off api_chained"
        per_config "$mode" "the same in the backends' CPU per transaction" \
            "srv_effect_of api_chained" "api api_off api_chained"
        per_config "$mode" "the API's shape: plain SQL sending the API's statements, against the ceiling; the API against it" \
            shape_effect_of "plain shape api api_off"
        per_config "$mode" "the two-call API's audited floor: its shape plus its 7 audit rows and chain head (plain_shape_audited.sql); the API against it" \
            "against_floor shape_floor api" "plain shape_floor api"
        per_config "$mode" "counter sale (create_and_issue) against the batched ceiling (targets: >= 0.70 audit on, >= 0.85 off, 1 tenant >= 0.60; p95 <= 2 x at 32 clients; WAL <= 2.5 x)" \
            sale_effect_of "plain sale sale_off"
        per_config "$mode" "the sale's floor without audit: the ceiling plus gapless numbering in plain SQL (plain_sale.sql); create_and_issue audit off against it" \
            "against_floor sale_shape sale_off" "plain sale_shape sale_off"
        per_config "$mode" "the audit's floor: the ceiling plus the counter sale's audit rows in plain SQL (plain_audited.sql); create_and_issue against it" \
            "against_floor floor sale" "plain floor sale"
        per_config "$mode" "the audited sale's floor: the sale's shape plus its audit rows and chain head, one statement (plain_sale_audited.sql); create_and_issue against it" \
            "against_floor sale_floor sale" "plain sale_floor sale"
        per_config "$mode" "early lock release: API tps with it / with the locks held to the flush" \
            elr_effect_of "api api_noelr"
        per_config "$mode" "kept CHECK constraints (invoice.keep_checks): the sale with them / prepared for each statement" \
            "kept_effect_of sale" "sale sale_fresh"
        per_config "$mode" "kept CHECK constraints: the two-call API with them / prepared for each statement" \
            "kept_effect_of api" "api api_fresh"
    done
    [ "$BULK_REPS" -gt 0 ] || exit 0
    echo
    echo "bulk INSERT ... SELECT of $BULK_ROWS rows into an audited table (median of $BULK_REPS):"
    awk -v off="${BULK[off]}" -v c="${BULK[c]}" -v p="${BULK[plpgsql]}" 'BEGIN {
        printf "  no audit %.1f ms; C trigger %.1f ms (+%.1f ms); PL/pgSQL trigger %.1f ms (+%.1f ms)\n", off, c, c - off, p, p - off
        printf "  C overhead / PL/pgSQL overhead: %.2f (target <= 0.50)\n", (c - off) / (p - off) }'
    awk -v off="${BULK[off]}" -v c="${BULK[c]}" -v p="${BULK[chained]}" 'BEGIN {
        printf "  PL/pgSQL trigger keeping the same audit %.1f ms (+%.1f ms); C overhead / its overhead: %.2f\n",
            p, p - off, (c - off) / (p - off) }'
} | tee "$OUT/summary.txt"
