# docker/bridge.Dockerfile: invoice-bridge, the Telegram relay, alone.
# Build context: the repository root
#   docker build -f docker/bridge.Dockerfile -t invoice-bridge .
# Configuration comes only from the environment (README, "Operating"):
# TELEGRAM_BOT_TOKEN, DATABASE_URL / PG*, BRIDGE_HEALTH_ADDR, LOG_LEVEL.

# ---- build: the bridge target of the Makefile (PGXS needs pg_config)
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        build-essential postgresql-server-dev-15 libpq-dev \
        libcurl4-openssl-dev libmicrohttpd-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile invoice.control ./
COPY src/bridge/ src/bridge/
RUN make -s PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config src/bridge/invoice-bridge

# ---- runtime: the program and its three libraries
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        libcurl4 libpq5 libmicrohttpd12 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin bridge
COPY --from=build /src/src/bridge/invoice-bridge /usr/local/bin/invoice-bridge

# inside a container the health endpoints must be reachable from outside
# the container's loopback (the healthcheck uses loopback; compose may publish it)
ENV BRIDGE_HEALTH_ADDR=0.0.0.0:8081
USER bridge
EXPOSE 8081
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8081/health/live || exit 1
# exits 0 on SIGTERM (docker stop)
ENTRYPOINT ["/usr/local/bin/invoice-bridge"]
