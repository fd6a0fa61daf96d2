# Container image for the `pds` patient demographics service.
#
#   docker build --build-arg PDS_COMMIT="$(git rev-parse --short HEAD)" -t pds .
#   docker run --rm -p 8080:8080 \
#     -e DATABASE_URL=postgres://pds:secret@db.example:5432/pds pds
#
# DATABASE_URL is required: the image contains no PostgreSQL server, and
# without DATABASE_URL the service would try to provision a local cluster,
# which cannot work here. On start-up the service applies its migrations
# (compiled into the binary) and seeds the store if it is empty, then listens
# on BIND (default below). Other settings (DB_POOL_SIZE, DB_WAIT_MS, WORKERS,
# SEED_COUNT, SEED, LOG_FORMAT=json) are read from the environment as well.
#
# The build context should exclude target/ (via .dockerignore) to keep it small.

# --------------------------------------------------------------------- build
FROM rust:1-bookworm AS build

# libpq headers and library for diesel's PostgreSQL backend (pq-sys).
# Versions are not pinned: the Debian archive drops superseded point releases,
# so exact pins would break rebuilds; the base tag fixes the release instead.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Build the dependency graph first against placeholder sources, so this layer
# is reused until a Cargo.toml or Cargo.lock changes. The workspace members'
# manifests must all be present for cargo to load the workspace.
COPY Cargo.toml Cargo.lock ./
COPY crates/local-pg/Cargo.toml ./crates/local-pg/
COPY crates/test-db/Cargo.toml ./crates/test-db/
RUN mkdir src crates/local-pg/src crates/test-db/src \
    && echo 'fn main() {}' > src/main.rs \
    && touch crates/local-pg/src/lib.rs crates/test-db/src/lib.rs \
    && cargo build --release --locked --bin pds \
    && rm -rf src crates/*/src target/release/pds target/release/deps/pds-* \
       target/release/deps/libpds-* target/release/deps/libpds_local_pg-* \
       target/release/.fingerprint/pds-*

# migrations/ is embedded at compile time by diesel_migrations'
# embed_migrations!("migrations"), so it must be present for the real build.
COPY migrations ./migrations
# build.rs rebuilds the binary when a migration is added.
COPY build.rs ./build.rs
# openapi.yaml and the vendored Redoc script are embedded too (include_str! /
# include_bytes! in src/api/docs.rs), for /openapi.yaml, /openapi.json, /docs.
COPY openapi.yaml ./openapi.yaml
COPY assets ./assets
# The built-in access policy is embedded too (include_str! in src/auth/policy.rs).
COPY policy ./policy
COPY crates ./crates
COPY src ./src
# Reported as revision/commitId by /_ping and /_status (read at compile time).
ARG PDS_COMMIT=unknown
# Touch the crate roots so cargo never mistakes the real sources for the
# placeholder built above (COPY keeps the files' original timestamps).
RUN touch src/main.rs src/lib.rs crates/local-pg/src/lib.rs \
    && cargo build --release --locked --bin pds

# ------------------------------------------------------------------- runtime
FROM debian:bookworm-slim

# libpq5 for the database client, CA certificates for TLS connections to the
# database, curl for the HEALTHCHECK. Unpinned for the reason given above.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 pds \
    && useradd --system --uid 10001 --gid pds --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin pds

COPY --from=build /src/target/release/pds /usr/local/bin/pds

# Numeric ids so orchestrators can verify the user is not root.
USER 10001:10001

ENV BIND=0.0.0.0:8080
EXPOSE 8080

# `curl -fsS http://127.0.0.1:8080/_ping || exit 1`, written in JSON form; the
# `|| exit 1` maps curl's error codes to the "unhealthy" status (1) Docker expects.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["sh", "-c", "curl -fsS http://127.0.0.1:8080/_ping || exit 1"]

ENTRYPOINT ["pds"]
