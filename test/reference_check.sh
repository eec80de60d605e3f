#!/usr/bin/env bash
# test/reference_check.sh: doc/reference.md cannot drift from the
# extension.  It installs the newest version (invoice.control's
# default_version) in a scratch database and fails when a function of the
# schema invoice has no entry in doc/reference.md, when an entry names a
# function that does not exist (wrong name or argument types), or when an
# object of the extension (table, view, function, type) has no COMMENT.
# Each failure lists exactly what is missing.  An entry is a heading
#   ### `invoice.name(type, type)`
# with the argument types as PostgreSQL prints them (oid::regprocedure).
# TAP output; run by scripts/test-suites against the server in
# PGHOST/PGPORT (as a superuser).
set -u
cd "$(dirname "$0")/.."
db=invoice_reference
doc=doc/reference.md
. test/tap.sh
trap 'dropdb --if-exists $db >/dev/null 2>&1' EXIT


version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" invoice.control)
newest=$(ls extension/ | sed -n 's/^invoice--\([0-9.]*\)\.sql$/\1/p' | sort -V | tail -1)
if [ "$version" = "$newest" ]; then
    ok 0 "default_version $version is the newest install script"
else
    notok "default_version is the newest install script" "invoice.control says $version, extension/ has invoice--$newest.sql"
fi

dropdb --if-exists $db >/dev/null 2>&1
createdb $db
if ! psql_q -c "SET client_min_messages = warning" -c "CREATE EXTENSION invoice VERSION '$version' CASCADE" >/dev/null; then
    notok "CREATE EXTENSION invoice VERSION '$version'" "see the error above"
    echo "1..$n"
    exit 1
fi

# the functions, as "invoice.name(type,type)"
functions=$(psql_q -c "SELECT p.oid::pg_catalog.regprocedure::text FROM pg_catalog.pg_proc p
    WHERE p.pronamespace = 'invoice'::pg_catalog.regnamespace ORDER BY 1" | sed 's/, */,/g' | LC_ALL=C sort -u)
# the entries, written the same way
entries=$(sed -n 's/^### `\(invoice\.[a-z_0-9]*([^`]*)\)`[[:space:]]*$/\1/p' "$doc" 2>/dev/null |
    sed 's/, */,/g' | LC_ALL=C sort)
dups=$(printf '%s\n' "$entries" | uniq -d)
entries=$(printf '%s\n' "$entries" | uniq)

if [ -f "$doc" ]; then ok 0 "$doc exists"; else notok "$doc exists" "$doc"; fi
missing=$(LC_ALL=C comm -23 <(printf '%s\n' "$functions") <(printf '%s\n' "$entries") | sed '/^$/d')
if [ -z "$missing" ]; then
    ok 0 "every function of invoice--$version.sql has an entry in $doc ($(printf '%s\n' "$functions" | wc -l) functions)"
else
    notok "functions without an entry in $doc (add a ### \`signature\` section for each)" "$missing"
fi
extra=$(LC_ALL=C comm -13 <(printf '%s\n' "$functions") <(printf '%s\n' "$entries") | sed '/^$/d')
if [ -z "$extra" ]; then
    ok 0 "every entry of $doc names a function that exists"
else
    notok "entries of $doc that name no function of invoice--$version.sql" "$extra"
fi
if [ -z "$dups" ]; then ok 0 "no function has two entries"; else notok "functions with two entries" "$dups"; fi

# every object of the extension has a COMMENT: tables, views, functions and
# types (the row types of tables are the tables'; the audit log's
# partitions are described by the log)
uncommented=$(psql_q <<'SQL'
WITH members AS (
	SELECT d.classid, d.objid FROM pg_catalog.pg_depend d
	  JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
	 WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
	   AND d.deptype = 'e' AND e.extname = 'invoice'
)
SELECT pg_catalog.pg_describe_object(m.classid, m.objid, 0)
  FROM members m
  LEFT JOIN pg_catalog.pg_class c ON m.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND c.oid = m.objid
  LEFT JOIN pg_catalog.pg_type t ON m.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND t.oid = m.objid
 WHERE (m.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
		OR (c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition)
		OR (t.oid IS NOT NULL AND t.typtype IN ('c', 'd', 'e', 'r', 'b')
			AND (t.typrelid = 0 OR (SELECT relkind FROM pg_catalog.pg_class WHERE oid = t.typrelid) = 'c')))
   AND pg_catalog.obj_description(m.objid, (SELECT relname FROM pg_catalog.pg_class WHERE oid = m.classid)) IS NULL
 ORDER BY 1;
SQL
)
if [ -z "$uncommented" ]; then
    ok 0 "every table, view, function and type of the extension has a COMMENT"
else
    notok "objects of the extension without a COMMENT (add COMMENT ON ... to both scripts)" "$uncommented"
fi

tap_end
