#!/usr/bin/env bash
# test/preload_check.sh: in a cluster that does NOT preload the library,
# CREATE EXTENSION and LOAD must fail with the preload error (not crash,
# not load silently).  Run inside its own pg_virtualenv by scripts/test-suites.
set -u
fail=0
for sql in "CREATE EXTENSION invoice CASCADE" "LOAD 'invoice'"; do
    out=$(psql -X -q -c "$sql" 2>&1)
    if printf '%s' "$out" | grep -q 'ERROR:  invoice must be loaded via "shared_preload_libraries"'; then
        echo "ok - $sql refused without preload"
    else
        echo "not ok - $sql: $out"
        fail=1
    fi
done
# and nothing of the extension was left behind
n=$(psql -X -At -c "SELECT count(*) FROM pg_extension WHERE extname = 'invoice'")
if [ "$n" = 0 ]; then echo "ok - no extension left behind"; else echo "not ok - extension exists"; fail=1; fi
exit $fail
