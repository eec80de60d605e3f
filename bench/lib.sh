# bench/lib.sh: what the bench scripts share (sourced, after DB is set).

psql_su() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
psql_db() { psql_su -d "$DB" "$@"; }

# a password made up for one run of the benchmark role
APP_PW=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
