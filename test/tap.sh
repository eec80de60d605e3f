# test/tap.sh: what the shell tests share, sourced by each of them: TAP
# output and a quiet psql.
#
#   ok STATUS DESCRIPTION [DETAIL]  passes when STATUS is 0; a failure shows
#                                   DETAIL under it as comments: the content
#                                   of the file DETAIL names, or else the text
#   notok DESCRIPTION [DETAIL]      a failure
#   tap_end                         prints the plan, exits 1 if anything failed
#   psql_q ARGS...                  psql, quiet and unaligned, stopping at the
#                                   first error; on database $db when the
#                                   script set db (a later -d wins)
n=0
fail=0

ok() {
    n=$((n + 1))
    if [ "$1" = 0 ]; then
        echo "ok $n - $2"
        return 0
    fi
    echo "not ok $n - $2"
    fail=1
    if [ -n "${3:-}" ]; then
        if [ -f "$3" ]; then cat -- "$3"; else printf '%s\n' "$3"; fi | head -60 | sed 's/^/#   /'
    fi
    return 0
}

notok() { ok 1 "$@"; }

tap_end() {
    echo "1..$n"
    exit "$fail"
}

psql_q() { psql -X -q -At -v ON_ERROR_STOP=1 ${db:+-d "$db"} "$@"; }
