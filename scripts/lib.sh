# scripts/lib.sh: what scripts/run and scripts/test share.  Sourced, not run.

# the Debian packages the build, the service and the tests need (installed
# without recommends, so everything used is named: pg_prove, for one, is only
# recommended by postgresql-15-pgtap)
INVOICE_PACKAGES="build-essential postgresql-15 postgresql-server-dev-15
postgresql-contrib postgresql-15-postgis-3 postgresql-15-cron
postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl libpq-dev libssl-dev libcurl4-openssl-dev libmicrohttpd-dev
poppler-utils qpdf python3 python3-yaml perl cppcheck curl prometheus"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# install_packages: apt-get install whatever is missing (nothing when all is there)
install_packages() {
    local missing=""
    for p in $INVOICE_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        echo "== installing:$missing"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
}

# build_and_install: the extension (and, when present, the bridge)
build_and_install() {
    make -s PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
    as_root make -s PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config install
}
