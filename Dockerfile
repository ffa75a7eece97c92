# inferd's image. Works with the legacy builder and with BuildKit alike: no
# `# syntax=` line (that would pull a frontend image) and no RUN --mount.
#
# With a registry:     docker build -t inferd:0.1.0 .
# Without (air-gapped): scripts/base-images.sh, then
#   docker build -t inferd:0.1.0 \
#     --build-arg BUILDER_IMAGE=inferd-base/builder:bookworm \
#     --build-arg RUNTIME_IMAGE=inferd-base/runtime:bookworm .
# (compose.yaml passes those arguments; README "Scale-out".)

# Both bases are Debian bookworm, so the binary links against the glibc it runs on.
ARG BUILDER_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---------------------------------------------------------------------------
# Build stage: the Rust toolchain never reaches the runtime image.
FROM ${BUILDER_IMAGE} AS builder
WORKDIR /build

# Dependencies first, in their own layer: only Cargo.toml and Cargo.lock decide
# it, so a source change reuses the compiled dependencies (tract takes the better
# part of a quarter of an hour). The crate's own targets are stubs here; the
# [[bench]] targets Cargo.toml declares get stubs too, since cargo refuses a
# manifest whose declared targets are missing. --locked: exactly Cargo.lock.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && for bench in $(sed -n '/^\[\[bench\]\]/,/^name/s/^name *= *"\(.*\)"/\1/p' Cargo.toml); do \
           echo 'fn main() {}' > "benches/$bench.rs"; \
       done \
    && cargo build --release --locked --bin inferd \
    && rm -rf src target/release/inferd* target/release/deps/inferd-* \
              target/release/deps/libinferd-* target/release/.fingerprint/inferd-*

# The crate itself: only src/ decides this layer (benches/ keeps its stubs, tests/
# are not built), so editing docs, tests or scripts does not rebuild the binary.
COPY src/ ./src/
# The crate's own build output goes in the same step: only /out/inferd is kept in
# the layer, so the layer is not the binary three times over.
RUN cargo build --release --locked --bin inferd \
    && install -D -m 0755 target/release/inferd /out/inferd \
    && rm -rf target/release/inferd* target/release/deps/inferd-* \
              target/release/deps/libinferd-* target/release/.fingerprint/inferd-* \
              target/release/incremental

# ---------------------------------------------------------------------------
# Runtime stage: the binary, the bundled models and the default config.
FROM ${RUNTIME_IMAGE}

# A fixed, unprivileged uid/gid: Kubernetes' runAsNonRoot can only verify a
# numeric user, and deploy/ refers to these same numbers.
RUN groupadd --system --gid 10001 inferd \
    && useradd --system --uid 10001 --gid inferd \
       --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin inferd

# inferd resolves config/inferd.toml and models/ relative to its working directory.
WORKDIR /app
COPY --from=builder /out/inferd /usr/local/bin/inferd
# Root-owned and read-only to the inferd user: a compromised process cannot
# replace the models or the config it is serving.
COPY models/ ./models/
COPY config/inferd.toml ./config/inferd.toml

ENV INFERD_LOG__FORMAT=json
USER 10001:10001
EXPOSE 8080

# inferd drains on SIGTERM (readiness off, in-flight work finished, exit 0 within
# shutdown_grace_period): give `docker stop` more than that (compose.yaml: 30s).
STOPSIGNAL SIGTERM

# Liveness for Docker and compose (Kubernetes uses deploy/'s probes instead). The
# subcommand reads the same config and INFERD_* variables as the server, so it
# follows the listen port wherever it is set. start-period covers model loading.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/inferd", "healthcheck"]

# Exec form: inferd is PID 1 and receives SIGTERM itself.
ENTRYPOINT ["/usr/local/bin/inferd"]
