#!/usr/bin/env bash
# test/docker_check.sh: what can be checked of docker/ without a container
# engine.  The compose file parses (PyYAML) and has the services, the named
# volume, healthchecks, restart policies, resource limits and environment
# the README promises; no secret value is committed (compose reads them
# from docker/.env, which git ignores; docker/.env.example names them all,
# empty); the Dockerfiles are multi-stage with no -dev package at run time,
# run as a non-root user, have a HEALTHCHECK, and every file they COPY
# exists in their build context.  TAP output; needs no server.
set -u
cd "$(dirname "$0")/.."
exec python3 - <<'PYEOF'
import os, re, subprocess, sys

try:
    import yaml
except ImportError:
    print("not ok 1 - PyYAML is installed (Debian python3-yaml, scripts/lib.sh)")
    print("1..1")
    sys.exit(1)

n = 0
failed = 0

def check(desc, cond, detail=None):
    global n, failed
    n += 1
    if cond:
        print("ok %d - %s" % (n, desc))
    else:
        failed += 1
        print("not ok %d - %s" % (n, desc))
        if detail:
            for line in str(detail).splitlines():
                print("#   " + line)

def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()

# --- the compose file
try:
    compose = yaml.safe_load(read("docker/compose.yaml"))
    check("docker/compose.yaml parses", isinstance(compose, dict))
except Exception as e:                  # noqa: BLE001 - any failure is the finding
    check("docker/compose.yaml parses", False, e)
    print("1..%d" % n)
    sys.exit(1)

services = compose.get("services") or {}
check("services db and bridge", sorted(services) == ["bridge", "db"], sorted(services))
db = services.get("db") or {}
bridge = services.get("bridge") or {}

volumes = compose.get("volumes") or {}
check("a named volume for the data", "invoice-data" in volumes, sorted(volumes))
check("the db keeps PGDATA on the named volume",
      "invoice-data:/var/lib/postgresql/data" in (db.get("volumes") or []), db.get("volumes"))

for name, svc in (("db", db), ("bridge", bridge)):
    hc = svc.get("healthcheck") or {}
    check("%s has a healthcheck" % name, bool(hc.get("test")), hc)
    check("%s restarts unless stopped" % name,
          svc.get("restart") in ("unless-stopped", "always", "on-failure"), svc.get("restart"))
    limits = ((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    check("%s has cpu and memory limits" % name, "cpus" in limits and "memory" in limits, limits)
    build = svc.get("build") or {}
    check("%s is built from docker/%s.Dockerfile" % (name, name),
          build.get("dockerfile") == "docker/%s.Dockerfile" % name, build)

check("the db healthcheck uses pg_isready", "pg_isready" in " ".join(db.get("healthcheck", {}).get("test", [])))
check("the bridge healthcheck asks /health/live",
      "/health/live" in " ".join(bridge.get("healthcheck", {}).get("test", [])))
dep = (bridge.get("depends_on") or {}).get("db") or {}
check("the bridge waits for a healthy db", dep.get("condition") == "service_healthy", dep)

def env_of(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    return env

dbenv, brenv = env_of(db), env_of(bridge)
for var in ("POSTGRES_PASSWORD", "INVOICE_BRIDGE_PASSWORD", "INVOICE_DEMO"):
    check("db environment has %s" % var, var in dbenv, sorted(dbenv))
for var in ("TELEGRAM_BOT_TOKEN", "DATABASE_URL", "PGPASSWORD", "BRIDGE_HEALTH_ADDR"):
    check("bridge environment has %s" % var, var in brenv, sorted(brenv))
check("the bridge listens on every address of its container",
      str(brenv.get("BRIDGE_HEALTH_ADDR")) == "0.0.0.0:8081", brenv.get("BRIDGE_HEALTH_ADDR"))
check("the bridge logs in as invoice_bridge_login",
      "user=invoice_bridge_login" in str(brenv.get("DATABASE_URL")), brenv.get("DATABASE_URL"))

# --- secrets: only ${VARIABLE} references in the compose file, none in git
SECRETS = ("POSTGRES_PASSWORD", "INVOICE_BRIDGE_PASSWORD", "TELEGRAM_BOT_TOKEN", "PGPASSWORD")
literal = []
for svc_name, env in (("db", dbenv), ("bridge", brenv)):
    for var in SECRETS:
        if var in env and not re.fullmatch(r"\$\{[A-Z_]+(:?[?-][^}]*)?\}", str(env[var])):
            literal.append("%s.%s" % (svc_name, var))
check("no secret value in docker/compose.yaml", not literal, literal)
check("no password in DATABASE_URL", "password" not in str(brenv.get("DATABASE_URL")).lower())

tracked = subprocess.run(["git", "ls-files"], capture_output=True, text=True).stdout.split()
check("docker/.env is not committed", "docker/.env" not in tracked)
ignored = subprocess.run(["git", "check-ignore", "-q", "docker/.env"]).returncode == 0
check("docker/.env is ignored by git", ignored)

example = {}
for line in read("docker/.env.example").splitlines():
    line = line.strip()
    if line and not line.startswith("#"):
        k, _, v = line.partition("=")
        example[k.strip()] = v.strip()
used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", read("docker/compose.yaml")))
check("docker/.env.example names every variable compose reads",
      used <= set(example), sorted(used - set(example)))
check("docker/.env.example holds no secret value",
      all(example.get(v, "") == "" for v in SECRETS), [v for v in SECRETS if example.get(v)])

# --- the Dockerfiles
def instructions(path):
    """(KEYWORD, arguments) of each instruction, continuation lines joined"""
    out, cur = [], ""
    for line in read(path).splitlines():
        s = line.strip()
        if not cur and (not s or s.startswith("#")):
            continue
        if s.startswith("#"):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        cur += s
        kw, _, rest = cur.partition(" ")
        out.append((kw.upper(), rest.strip()))
        cur = ""
    return out

for name, svc in (("db", db), ("bridge", bridge)):
    path = "docker/%s.Dockerfile" % name
    if not os.path.exists(path):
        check("%s exists" % path, False)
        continue
    ctx = os.path.normpath(os.path.join("docker", (svc.get("build") or {}).get("context", ".")))
    ins = instructions(path)
    froms = [a for k, a in ins if k == "FROM"]
    check("%s is multi-stage" % path, len(froms) >= 2, froms)
    check("%s is Debian bookworm" % path, all("bookworm" in f for f in froms), froms)
    # the last stage: everything after the last FROM
    last = max(i for i, (k, _) in enumerate(ins) if k == "FROM")
    runtime = ins[last:]
    dev = [p for k, a in runtime if k == "RUN" for p in re.findall(r"\S+-dev\b", a)]
    check("%s installs no -dev package at run time" % path, not dev, dev)
    users = [a for k, a in runtime if k == "USER"]
    check("%s runs as a non-root user" % path, bool(users) and users[-1] not in ("root", "0"), users)
    check("%s has a HEALTHCHECK" % path, any(k == "HEALTHCHECK" for k, _ in runtime))
    builds = [a for k, a in ins if k == "RUN" and "make" in a.split()]
    check("%s builds with the project's Makefile" % path, bool(builds))
    missing = []
    for k, a in ins:
        if k not in ("COPY", "ADD"):
            continue
        args = [t for t in a.split() if not t.startswith("--")]
        if re.search(r"--from=", a):
            continue
        if a.lstrip().startswith("["):
            import json
            args = json.loads(a[a.index("["):])
        for src in args[:-1]:
            if not os.path.exists(os.path.join(ctx, src)):
                missing.append(src)
    check("every file %s COPYs exists in its context %s" % (path, ctx), not missing, missing)
    if name == "db":
        text = read(path)
        for want in ("shared_preload_libraries = 'pg_cron,invoice'", "cron.database_name",
                     "cron.use_background_workers = on", "pg_isready"):
            check("%s sets %s" % (path, want), want in text)
    else:
        check("%s sets BRIDGE_HEALTH_ADDR=0.0.0.0:8081" % path,
              any(k == "ENV" and "BRIDGE_HEALTH_ADDR=0.0.0.0:8081" in a for k, a in runtime))
        check("%s checks /health/live" % path,
              any(k == "HEALTHCHECK" and "/health/live" in a for k, a in runtime))

# the init script: executable, valid shell, and the bridge role it makes
init = "docker/initdb/10-invoice.sh"
check("%s is executable" % init, os.access(init, os.X_OK))
check("%s is valid bash" % init, subprocess.run(["bash", "-n", init]).returncode == 0)
text = read(init)
check("%s creates the extension" % init, "CREATE EXTENSION IF NOT EXISTS invoice CASCADE" in text)
check("%s loads the demo when INVOICE_DEMO=1" % init,
      "INVOICE_DEMO" in text and "demo.sql" in text)
check("%s makes a LOGIN role granted only invoice_bridge" % init,
      "LOGIN PASSWORD" in text and "GRANT invoice_bridge TO" in text
      and len(re.findall(r"\bGRANT\b", text)) == 1)

print("1..%d" % n)
sys.exit(1 if failed else 0)
PYEOF
