#!/usr/bin/env bash
# test/packaging_check.sh: the conventions of a PostgreSQL extension's
# distribution.  META.json is valid JSON with the keys the PGXN meta spec
# (1.0.2) requires, its version is invoice.control's default_version (as a
# semantic version: 0.2 is 0.2.0), and it provides the newest install
# script; `make dist` makes invoice-<version>.tar.gz from the committed tree
# with invoice.control, every install and upgrade script and src/.  TAP
# output; needs no server (make reads pg_config for PGXS).
set -u
cd "$(dirname "$0")/.."
. test/tap.sh

version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" invoice.control)

out=$(python3 - "$version" <<'PYEOF'
import json, os, re, sys

control = sys.argv[1]
semver = control + ".0" if re.fullmatch(r"\d+\.\d+", control) else control
problems = []
try:
    meta = json.load(open("META.json", encoding="utf-8"))
except Exception as e:                  # noqa: BLE001 - any failure is the finding
    print("META.json does not parse: %s" % e)
    sys.exit(0)
for key in ("name", "abstract", "version", "maintainer", "license", "provides", "meta-spec"):
    if key not in meta:
        problems.append("META.json lacks the required key %r" % key)
# the license strings of the PGXN meta spec
licenses = {"agpl_3", "apache_1_1", "apache_2_0", "artistic_1", "artistic_2", "bsd", "freebsd",
            "gfdl_1_2", "gfdl_1_3", "gpl_1", "gpl_2", "gpl_3", "lgpl_2_1", "lgpl_3_0", "mit",
            "mozilla_1_0", "mozilla_1_1", "openssl", "perl_5", "postgresql", "qpl_1_0", "ssleay",
            "sun", "zlib", "open_source", "restricted", "unrestricted"}
lic = meta.get("license")
names = list(lic) if isinstance(lic, (list, dict)) else [lic]
if not names or any(l not in licenses for l in names):
    problems.append("license %r is none of the PGXN meta spec's strings" % (lic,))
if meta.get("name") != "invoice":
    problems.append("name is %r, not invoice" % meta.get("name"))
if meta.get("version") != semver:
    problems.append("version %r is not invoice.control's default_version %s (%s)"
                    % (meta.get("version"), control, semver))
if (meta.get("meta-spec") or {}).get("version") != "1.0.2":
    problems.append("meta-spec version is not 1.0.2")
if not isinstance(meta.get("maintainer"), (str, list)) or not meta.get("maintainer"):
    problems.append("maintainer is empty")
prov = (meta.get("provides") or {}).get("invoice") or {}
if prov.get("version") != semver:
    problems.append("provides.invoice.version %r is not %s" % (prov.get("version"), semver))
if prov.get("file") != "extension/invoice--%s.sql" % control:
    problems.append("provides.invoice.file %r is not the newest install script extension/invoice--%s.sql"
                    % (prov.get("file"), control))
for key in ("file", "docfile"):
    if key in prov and not os.path.exists(prov[key]):
        problems.append("provides.invoice.%s %s does not exist" % (key, prov[key]))
req = ((meta.get("prereqs") or {}).get("runtime") or {}).get("requires") or {}
if req.get("PostgreSQL") != "15.14.0":
    problems.append("prereqs.runtime.requires.PostgreSQL is %r, not 15.14.0" % req.get("PostgreSQL"))
if "postgis" not in req:
    problems.append("prereqs.runtime.requires lacks postgis")
for v in [meta.get("version"), prov.get("version")] + list(req.values()):
    if not re.fullmatch(r"\d+\.\d+\.\d+", str(v)):
        problems.append("%r is not a semantic version" % (v,))
print("\n".join(problems) if problems else "ok")
PYEOF
)
if [ "$out" = ok ]; then
    ok 0 "META.json: PGXN keys, version $version, provides, prereqs"
else
    mapfile -t lines <<<"$out"
    notok "META.json follows the PGXN meta spec" "$(printf '%s\n' "${lines[@]}")"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if make -s PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config dist DIST_DIR="$tmp" >/dev/null 2>"$tmp/err"; then
    ok 0 "make dist"
else
    notok "make dist" "$(cat "$tmp/err")"
fi
tarball="$tmp/invoice-$version.tar.gz"
if [ -f "$tarball" ]; then ok 0 "it makes invoice-$version.tar.gz"; else notok "it makes invoice-$version.tar.gz" "$(ls "$tmp")"; fi
listing=$(tar -tzf "$tarball" 2>/dev/null)
missing=""
for f in invoice.control META.json Makefile $(git ls-files extension src); do
    printf '%s\n' "$listing" | grep -qxF "invoice-$version/$f" || missing="$missing $f"
done
if [ -z "$missing" ]; then
    ok 0 "the tarball holds invoice.control, META.json, every install and upgrade script and src/, under invoice-$version/"
else
    notok "the tarball lacks committed files" "missing:$missing"
fi

tap_end
