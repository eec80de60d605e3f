# docker/db.Dockerfile: PostgreSQL 15 with PostGIS, pg_cron, pgcrypto and
# invoice built from this source.  Build context: the repository root
#   docker build -f docker/db.Dockerfile -t invoice-db .
# (docker/compose.yaml does this).  Based on the official postgres image,
# Debian bookworm, whose entrypoint creates the cluster, the role and the
# database from POSTGRES_* and runs /docker-entrypoint-initdb.d once.

# ---- build: the -dev packages, then the project's own build (make)
FROM postgres:15-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        build-essential postgresql-server-dev-15 libpq-dev libssl-dev \
        libcurl4-openssl-dev libmicrohttpd-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile invoice.control ./
COPY extension/ extension/
COPY src/ src/
# the same build as scripts/lib.sh (build_and_install), installed into /out
RUN make -s PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config \
 && make -s PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config install DESTDIR=/out \
 && rm -f /out/usr/lib/postgresql/15/bin/invoice-bridge   # docker/bridge.Dockerfile's

# ---- runtime: the server and its extensions, no compiler, no -dev package
FROM postgres:15-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        postgresql-15-postgis-3 postgresql-15-postgis-3-scripts postgresql-15-cron \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /

# initdb copies this sample into every new cluster: the libraries are
# preloaded (invoice refuses to load otherwise) and pg_cron runs its jobs
# in background workers in the database "invoice"
RUN { echo; \
      echo "# invoice (docker/db.Dockerfile)"; \
      echo "shared_preload_libraries = 'pg_cron,invoice'"; \
      echo "cron.database_name = 'invoice'"; \
      echo "cron.use_background_workers = on"; \
      echo "cron.max_running_jobs = 8"; \
      echo "max_worker_processes = 24"; \
    } >> /usr/share/postgresql/postgresql.conf.sample

COPY scripts/demo.sql /usr/share/invoice/demo.sql
COPY docker/initdb/10-invoice.sh /docker-entrypoint-initdb.d/10-invoice.sh

ENV POSTGRES_DB=invoice
USER postgres
# over TCP: the entrypoint's temporary server of the first start listens on
# its socket only, so the container is healthy once the init script is done
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=5 \
    CMD pg_isready -q -h 127.0.0.1 -p 5432 -U "${POSTGRES_USER:-postgres}" -d "${POSTGRES_DB:-invoice}" || exit 1
EXPOSE 5432
