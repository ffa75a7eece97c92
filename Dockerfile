# syntax=docker/dockerfile:1
# The syntax line pins the BuildKit Dockerfile frontend, which the cache mounts
# below (RUN --mount=type=cache) need.
#
# Build:  docker build -t inferd:0.1.0 .
# Run:    docker run --rm -p 8080:8080 inferd:0.1.0

# ---------------------------------------------------------------------------
# Build stage: the full Rust toolchain, which never reaches the runtime image.
# Bookworm, like the runtime stage, so the binary links against the same glibc.
FROM rust:1.95-bookworm AS builder

WORKDIR /build

# The whole crate (see .dockerignore for what is left out). benches/ and tests/
# come along because Cargo.toml may declare targets in them (criterion benches
# need [[bench]] harness = false) and cargo refuses a manifest whose targets are
# missing; the same is why dependencies are cached with BuildKit cache mounts below
# rather than the "build a stub main.rs first" trick.
COPY . .

# Dependency caching: the crates.io index, downloaded crates (registry, git) and
# compiled dependencies (target/) live in cache mounts that persist across builds
# on the same builder, so a source-only change downloads nothing and recompiles
# only inferd itself. A cache mount is not part of the image, hence the binary is
# copied out in the same step.
# --locked: build exactly the committed Cargo.lock, never a fresh resolution.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/build/target,sharing=locked \
    cargo build --release --locked --bin inferd \
    && install -D -m 0755 target/release/inferd /out/inferd

# ---------------------------------------------------------------------------
# Runtime stage: only what inferd needs to run. bookworm-slim rather than
# distroless so an operator can `docker exec` a shell when debugging, and because
# its bash is what the HEALTHCHECK below uses.
FROM debian:bookworm-slim

# A fixed, unprivileged uid/gid: Kubernetes' runAsNonRoot can only verify a
# numeric user, and deploy/deployment.yaml refers to these same numbers.
RUN groupadd --system --gid 10001 inferd \
    && useradd --system --uid 10001 --gid inferd \
       --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin inferd

# inferd resolves config/inferd.toml and models/ relative to its working
# directory (SPEC §6), so both sit under it.
WORKDIR /app

COPY --from=builder /out/inferd /usr/local/bin/inferd
# Root-owned and read-only to the inferd user: a compromised process cannot
# replace the models or the config it is serving.
COPY models/ ./models/
COPY config/inferd.toml ./config/inferd.toml

# Structured logs for the log collector; everything else keeps config/inferd.toml
# values and can be overridden per deployment with INFERD_* variables (SPEC §6).
ENV INFERD_LOG__FORMAT=json

USER 10001:10001

# The default listen port (SPEC §6: listen = "0.0.0.0:8080").
EXPOSE 8080

# inferd drains on SIGTERM (SPEC §8: readiness off, finish in-flight work, exit 0
# within shutdown_grace_period). SIGTERM is Docker's default too; stated so the
# contract is visible here. Give `docker stop` more than the 20s grace period:
# `docker stop --time 30` (compose.yaml sets stop_grace_period: 30s).
STOPSIGNAL SIGTERM

# Liveness for plain Docker and compose (Kubernetes ignores this and uses the
# probes in deploy/deployment.yaml). bookworm-slim has no curl or wget, and adding
# one would grow the image for this alone, so bash's /dev/tcp sends a minimal
# HTTP/1.1 request and the status line must be 200. The port follows
# INFERD_LISTEN when it is overridden. start-period covers model loading.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "port=\"${INFERD_LISTEN:-0.0.0.0:8080}\"; port=\"${port##*:}\"; exec 3<>\"/dev/tcp/127.0.0.1/${port}\" && printf \"GET /healthz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n\" >&3 && IFS= read -r -t 2 status <&3 && [[ \"$status\" == HTTP/1.?\" 200 \"* ]]"]

# Exec form: inferd is PID 1 and receives SIGTERM itself rather than through a
# shell that would not forward it.
ENTRYPOINT ["/usr/local/bin/inferd"]
