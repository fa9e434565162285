# syntax=docker/dockerfile:1
# asyncbot in a container: `docker build -t asyncbot .`, then
#   docker run -d --name asyncbot -v asyncbot-data:/data -p 3000:3000 \
#     --env-file asyncbot.env --stop-timeout 20 asyncbot
# with SLACK_BOT_TOKEN and SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP) in
# asyncbot.env. README "Operations" has the whole story (metrics, shutdown, backup).

# ---- build: the release binary, with cargo's registry and target dir cached across builds ----
FROM rust:1.90-bookworm AS build
WORKDIR /src
COPY . .
# The target dir is a cache mount (gone after this step): the binary is copied out of it.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin asyncbot \
    && cp target/release/asyncbot /usr/local/bin/asyncbot

# ---- runtime: the binary, CA certificates (TLS to Slack uses the system's roots), no shell tools ----
FROM debian:bookworm-slim
# Unpinned on purpose: ca-certificates must follow Debian's updates, and a pinned version
# disappears from the archive when bookworm moves on.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 asyncbot \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --shell /usr/sbin/nologin asyncbot \
    && mkdir -p /data \
    && chown asyncbot:asyncbot /data
COPY --from=build /usr/local/bin/asyncbot /usr/local/bin/asyncbot
# The store lives on the volume; the server listens on every interface of the container.
# Any other key can be set the same way (ASYNCBOT_<SECTION>__<KEY>) or with a mounted
# config file: `serve --config /etc/asyncbot.toml`.
ENV ASYNCBOT_STORE__PATH=/data/asyncbot.redb \
    ASYNCBOT_SERVER__LISTEN=0.0.0.0:3000 \
    ASYNCBOT_LOG__FORMAT=json
VOLUME ["/data"]
WORKDIR /data
# Numeric, so that Kubernetes' runAsNonRoot can check it.
USER 10001:10001
EXPOSE 3000
# SIGTERM stops the bot gracefully within server.shutdown_grace (10 s by default): give
# `docker stop` more than that (--stop-timeout / stop_grace_period).
STOPSIGNAL SIGTERM
# `asyncbot healthcheck` GETs http://127.0.0.1:3000/healthz (the configured port): no curl needed.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["asyncbot", "healthcheck"]
ENTRYPOINT ["asyncbot"]
CMD ["serve"]
