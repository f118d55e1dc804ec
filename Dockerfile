# syntax=docker/dockerfile:1
#
# llm-gateway container image.
#
#   docker build -t llm-gateway .
#   docker run -p 8080:8080 -v "$PWD/config.toml:/app/config.toml:ro" \
#     -e LLM_GATEWAY__PROVIDERS__OPENAI__API_KEY=... --stop-timeout 40 llm-gateway
#
# The build uses BuildKit cache mounts (Docker >= 23 builds with BuildKit by
# default): the cargo registry and target/ survive between builds, so a source
# change recompiles only this crate, not its dependencies. A dummy-main layer
# trick is not used because Cargo refuses a manifest whose declared [[bench]] or
# [[test]] targets are missing, so it would break as soon as benches are added.

# Pin the toolchain; bump deliberately. Must be Debian 12 (bookworm) to match
# the glibc of the distroless runtime below.
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /build
# The context is filtered by .dockerignore (no target/, .git, k8s/, secrets).
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/build/target \
    cargo build --release --locked --bin llm-gateway \
 && install -D -m 0755 target/release/llm-gateway /out/llm-gateway

# Runtime: distroless glibc image (CA certificates included, no shell, no
# package manager). The :nonroot variant runs as uid/gid 65532. Pin it by
# digest in your registry mirror for fully reproducible images.
FROM gcr.io/distroless/cc-debian12:nonroot
WORKDIR /app
COPY --from=builder /out/llm-gateway /usr/local/bin/llm-gateway
COPY config/config.toml.example /app/config.toml.example
# Mount the real config here (see README); Kubernetes mounts a ConfigMap
# directory instead and overrides this with /app/config/config.toml.
ENV LLM_GATEWAY_CONFIG=/app/config.toml
USER 65532:65532
EXPOSE 8080
# No shell or curl in distroless: the binary checks itself.
# `llm-gateway healthcheck [--url http://127.0.0.1:8080/health]` exits 0 when
# /health answers 200. If you change [server] port, pass --url to match
# (docker run --health-cmd), or rely on your orchestrator's probes instead.
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/llm-gateway", "healthcheck"]
# SIGTERM drains in-flight requests for [server] shutdown_timeout_seconds
# (default 30 s): give `docker stop` more than Docker's default 10 s
# (docker stop -t 40 / docker run --stop-timeout 40).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/llm-gateway"]
