#!/usr/bin/env bash
# test/install_check.sh: the install and upgrade scripts trust neither
# search_path nor defaults.  A role with CREATE on public (the default
# before PostgreSQL 15, and in clusters upgraded from one) plants operators
# and functions there that would bind better than pg_catalog's, before
# CREATE EXTENSION and before ALTER EXTENSION invoice UPDATE from 0.1: no
# constraint, default, policy, index, trigger or view of the extension may
# refer to them (pg_depend).  And PUBLIC may execute only what anyone may
# call, use no table and no sequence.  TAP output; run by
# scripts/test-suites against the server in PGHOST/PGPORT (as a superuser).
set -u
cd "$(dirname "$0")/.."
. test/tap.sh
tmp=$(mktemp -d)
trap 'for d in invoice_plant_fresh invoice_plant_upgrade; do dropdb --if-exists $d >/dev/null 2>&1; done
      psql -X -q -d postgres -c "DROP ROLE IF EXISTS regress_planter" >/dev/null 2>&1; rm -rf "$tmp"' EXIT


psql_q -d postgres -c "DROP ROLE IF EXISTS regress_planter" -c "CREATE ROLE regress_planter LOGIN" >/dev/null

# plant DB: as regress_planter, operators and functions in public that an
# unqualified reference of the scripts would bind to (an exact match of
# the argument types where pg_catalog needs a cast), each counting its calls
plant() {
    psql_q -d "$1" -c "GRANT CREATE ON SCHEMA public TO regress_planter" >/dev/null
    psql_q -d "$1" >"$tmp/plant.out" 2>&1 <<'EOF'
SET ROLE regress_planter;
CREATE TABLE public.planted_calls (what text);
DO $plant$
DECLARE
	op text;
	t text[];
BEGIN
	FOREACH op IN ARRAY ARRAY['=', '<>', '<', '<=', '>', '>=', '~']
	LOOP
		FOREACH t SLICE 1 IN ARRAY ARRAY[['numeric', 'integer'], ['smallint', 'integer'],
			['bigint', 'integer'], ['integer', 'bigint'], ['text', 'text'], ['bigint', 'bigint'],
			['date', 'date'], ['boolean', 'boolean'], ['timestamp with time zone', 'timestamp with time zone']]
		LOOP
			CONTINUE WHEN op OPERATOR(pg_catalog.=) '~' AND t[1] OPERATOR(pg_catalog.<>) 'text';
			-- gives pg_catalog's answer, so that only the count tells
			EXECUTE pg_catalog.format(
				'CREATE FUNCTION public.planted_%s_%s_%s(a %s, b %s) RETURNS boolean LANGUAGE sql'
				' AS $f$ INSERT INTO public.planted_calls VALUES (%L); SELECT a OPERATOR(pg_catalog.%s) b $f$',
				pg_catalog.md5(op), pg_catalog.replace(t[1], ' ', '_'), pg_catalog.replace(t[2], ' ', '_'),
				t[1], t[2], op || ' (' || t[1] || ', ' || t[2] || ')', op);
			EXECUTE pg_catalog.format('CREATE OPERATOR public.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = public.planted_%s_%s_%s)',
				op, t[1], t[2], pg_catalog.md5(op), pg_catalog.replace(t[1], ' ', '_'), pg_catalog.replace(t[2], ' ', '_'));
		END LOOP;
	END LOOP;
END
$plant$;
-- functions the scripts call, with argument types that match better
CREATE FUNCTION public.btrim(varchar) RETURNS text LANGUAGE sql AS $$ SELECT 'planted' $$;
CREATE FUNCTION public.nextval(varchar) RETURNS bigint LANGUAGE sql AS $$ SELECT 1::bigint $$;
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT 'epoch'::timestamptz $$;
CREATE FUNCTION public.repeat(varchar, integer) RETURNS text LANGUAGE sql AS $$ SELECT 'planted' $$;
CREATE FUNCTION public.decode(varchar, varchar) RETURNS bytea LANGUAGE sql AS $$ SELECT 'planted'::bytea $$;
CREATE FUNCTION public.current_org() RETURNS bigint LANGUAGE sql AS $$ SELECT 1::bigint $$;
CREATE FUNCTION public.audit_row_ord(jsonb) RETURNS bigint LANGUAGE sql AS $$ SELECT 1::bigint $$;
EOF
}

# bound DB LABEL: nothing of the extension depends on a planted object
bound() {
    psql_q -d "$1" >"$tmp/bound.out" 2>&1 <<'EOF'
WITH planted AS (
	SELECT 'pg_catalog.pg_operator'::regclass AS classid, oid FROM pg_catalog.pg_operator
	 WHERE oprowner = 'regress_planter'::regrole
	UNION ALL
	SELECT 'pg_catalog.pg_proc'::regclass, oid FROM pg_catalog.pg_proc
	 WHERE proowner = 'regress_planter'::regrole
)
SELECT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) || ' -> ' ||
	   pg_catalog.pg_describe_object(d.refclassid, d.refobjid, 0)
  FROM pg_catalog.pg_depend d JOIN planted p ON p.classid = d.refclassid AND p.oid = d.refobjid
 WHERE NOT EXISTS (SELECT 1 FROM planted q WHERE q.classid = d.classid AND q.oid = d.objid)
   AND d.classid <> 'pg_catalog.pg_type'::regclass
 ORDER BY 1;
EOF
    [ ! -s "$tmp/bound.out" ]
}

# public_can DB: what PUBLIC may do in schema invoice, one line each
public_can() {
    psql_q -d "$1" <<'EOF'
SELECT 'execute ' || p.oid::regprocedure::text
  FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) a
 WHERE p.pronamespace = 'invoice'::regnamespace AND a.grantee = 0
UNION ALL
SELECT a.privilege_type || ' ' || c.oid::regclass::text
  FROM pg_catalog.pg_class c,
	   pg_catalog.aclexplode(coalesce(c.relacl, pg_catalog.acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) a
 WHERE c.relnamespace = 'invoice'::regnamespace AND a.grantee = 0
UNION ALL
SELECT a.privilege_type || ' schema invoice'
  FROM pg_catalog.pg_namespace s, pg_catalog.aclexplode(coalesce(s.nspacl, pg_catalog.acldefault('n', s.nspowner))) a
 WHERE s.nspname = 'invoice' AND a.grantee = 0
ORDER BY 1;
EOF
}

# What PUBLIC may execute, and why (API.md: anyone may call these):
#  current_org(), current_user_id(): the tenant context, NULL outside one,
#    read by the RLS policies of every tenant table whoever queries them;
#  totals(jsonb, numeric): pure arithmetic on the items given, no tenant;
#  audit_write_needed(): the WHEN clause of the audit_write triggers,
#    evaluated for every row written to an audited table by whoever writes.
cat >"$tmp/public.expected" <<'EOF'
execute invoice.audit_write_needed()
execute invoice.current_org()
execute invoice.current_user_id()
execute invoice.totals(jsonb,numeric)
EOF

check() {       # check DB LABEL
    local calls
    bound "$1"
    ok $? "$2: no object of the extension refers to a planted operator or function" "$tmp/bound.out"
    public_can "$1" >"$tmp/public.out" 2>&1
    diff "$tmp/public.expected" "$tmp/public.out" >"$tmp/public.diff"
    ok $? "$2: PUBLIC may execute only current_org, current_user_id, totals and audit_write_needed, and use no table, sequence or the schema" "$tmp/public.diff"
    # the tables work, and the planted functions were never called
    psql_q -d "$1" >"$tmp/use.out" 2>&1 <<'EOF'
SET client_min_messages = warning;
SELECT invoice.create_organization('planted-shop', 'Joyería Plantada', NULL, '{"prefix": "PL"}') AS org \gset
BEGIN;
SELECT invoice.set_tenant(:org);
SELECT invoice.upsert_customer('CC', '10203040', 'Cliente') AS cust \gset
SELECT invoice.create_invoice(:cust, '[{"description": "Anillo", "quantity": 1, "unit_price": 1000, "karat": 18}]') AS inv \gset
SELECT invoice.issue(:inv);
COMMIT;
SELECT 'calls ' || count(*) FROM public.planted_calls;
EOF
    calls=$(sed -n 's/^calls //p' "$tmp/use.out")
    ok "$([ "$calls" = 0 ]; echo $?)" "$2: an invoice is created and issued without calling a planted function (${calls:-?} calls)" "$tmp/use.out"
}

# a fresh install, planted first
dropdb --if-exists invoice_plant_fresh >/dev/null 2>&1
createdb invoice_plant_fresh
plant invoice_plant_fresh
ok $? "fresh: operators and functions planted in public by a role with CREATE on it" "$tmp/plant.out"
psql_q -d invoice_plant_fresh -c "SET client_min_messages = warning" -c "CREATE EXTENSION invoice CASCADE" >"$tmp/create.out" 2>&1
ok $? "fresh: CREATE EXTENSION invoice CASCADE" "$tmp/create.out"
check invoice_plant_fresh fresh

# 0.1, planted, then upgraded
dropdb --if-exists invoice_plant_upgrade >/dev/null 2>&1
createdb invoice_plant_upgrade
psql_q -d invoice_plant_upgrade -c "SET client_min_messages = warning" \
    -c "CREATE EXTENSION invoice VERSION '0.1' CASCADE" >"$tmp/create.out" 2>&1
ok $? "upgrade: CREATE EXTENSION invoice VERSION '0.1'" "$tmp/create.out"
plant invoice_plant_upgrade
ok $? "upgrade: operators and functions planted in public by a role with CREATE on it" "$tmp/plant.out"
psql_q -d invoice_plant_upgrade -c "SET client_min_messages = warning" -c "ALTER EXTENSION invoice UPDATE" >"$tmp/update.out" 2>&1
ok $? "upgrade: ALTER EXTENSION invoice UPDATE" "$tmp/update.out"
check invoice_plant_upgrade upgrade

tap_end
