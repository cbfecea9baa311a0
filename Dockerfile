# claude-relay: multi-stage build on Debian slim; runs as a non-root user.
# The admin UI: Debian's node + npm, the lockfile's packages, admin-ui/build.mjs -> dist/.
FROM debian:bookworm-slim AS ui
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src/admin-ui
COPY admin-ui/package.json admin-ui/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY admin-ui/build.mjs ./
COPY admin-ui/src ./src
RUN node build.mjs

FROM debian:bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
        gcc make pkg-config libc6-dev libmicrohttpd-dev libhiredis-dev libsodium-dev \
        libcjson-dev libcurl4-openssl-dev libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY lib ./lib
COPY server ./server
# scripts/embed-file.sh builds server/store/model_prices.json into the binary (od + sed only).
COPY scripts ./scripts
RUN make -j2 build/relay

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
        libmicrohttpd12 libhiredis0.14 libsodium23 libcjson1 libcurl4 libssl3 \
        ca-certificates curl redis-server \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /app --shell /usr/sbin/nologin relay \
    && mkdir -p /app/data /app/logs /app/admin-ui && chown -R relay:relay /app
WORKDIR /app
COPY --from=build /src/build/relay /usr/local/bin/relay
COPY --from=ui /src/admin-ui/dist ./admin-ui
COPY config.example.env ./
USER relay
ENV HOST=0.0.0.0 PORT=3000 DATA_DIR=/app/data LOG_DIR=/app/logs ADMIN_UI_DIR=/app/admin-ui
EXPOSE 3000
VOLUME ["/app/data", "/app/logs"]
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${PORT}/health" >/dev/null || exit 1
STOPSIGNAL SIGTERM
CMD ["relay"]
