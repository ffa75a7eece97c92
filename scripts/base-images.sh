#!/usr/bin/env bash
# Builds the fleet's base images locally from Debian bookworm packages, for a Docker
# engine that cannot pull (no registry, air-gapped). Each image is a debootstrap
# root filesystem turned into an image with `docker import`:
#
#   inferd-base/runtime:bookworm     minbase + ca-certificates (the inferd image's base)
#   inferd-base/builder:bookworm     minbase + gcc, make, libc6-dev, pkg-config and this
#                                    host's Rust toolchain (`rustc --print sysroot`)
#                                    and the host's CA bundle
#   inferd-base/haproxy:bookworm     minbase + Debian's haproxy (the fleet's `lb`)
#   inferd-base/prometheus:bookworm  minbase + Debian's prometheus
#
# Idempotent: an image that already exists is skipped (FORCE=1 rebuilds all).
# Needs root, debootstrap (installed here if missing), a Debian mirror (MIRROR), and
# for the builder a Rust toolchain on PATH. Usage: scripts/base-images.sh [NAME...]
set -euo pipefail

MIRROR="${MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
PREFIX="${BASE_IMAGE_PREFIX:-inferd-base}"
# Downloaded .debs are kept between runs and shared by the four root filesystems.
CACHE="${BASE_IMAGE_CACHE:-/var/cache/inferd-base-images}"
# The CA bundle the builder image trusts (empty: keep Debian's own).
HOST_CA_BUNDLE="${HOST_CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}"
WORK="$(mktemp -d /tmp/inferd-base.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

log() { echo "base-images: $*" >&2; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

ensure_debootstrap() {
    command -v debootstrap >/dev/null 2>&1 && return
    log "installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}

# rootfs NAME PACKAGES: a minbase root filesystem in $WORK/NAME with PACKAGES.
rootfs() {
    local dir="$WORK/$1" include="$2"
    mkdir -p "$CACHE"
    log "debootstrap $1 (${include:-minbase only})"
    debootstrap --variant=minbase --cache-dir="$CACHE" \
        ${include:+--include="$include"} "$SUITE" "$dir" "$MIRROR" >"$WORK/$1.log" 2>&1 \
        || { tail -20 "$WORK/$1.log" >&2; return 1; }
    # Nothing in an image needs the package lists, docs or locales: smaller layers.
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin \
        "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/*
}

# import NAME TAG CHANGES...: turns $WORK/NAME into image TAG.
import() {
    local dir="$WORK/$1" tag="$2"
    shift 2
    local changes=()
    for c in "$@"; do changes+=(--change "$c"); done
    tar --numeric-owner -C "$dir" -c . | docker import "${changes[@]}" - "$tag" >/dev/null
    rm -rf "$dir"
    log "built $tag"
}

build_runtime() {
    rootfs runtime ca-certificates
    import runtime "$PREFIX/runtime:$SUITE" 'CMD ["bash"]'
}

build_builder() {
    local sysroot
    sysroot="$(rustc --print sysroot)"
    rootfs builder gcc,make,libc6-dev,pkg-config,ca-certificates
    # The toolchain without its docs (share/doc is most of share/): cargo, rustc,
    # the standard library, clippy and rustfmt, as rustup laid them out.
    mkdir -p "$WORK/builder/usr/local/rust"
    tar -C "$sysroot" --exclude=./share/doc --exclude=./share/man -c . \
        | tar -C "$WORK/builder/usr/local/rust" -x
    # cargo downloads crates inside `docker build`: the builder trusts the CAs this
    # host trusts, so a TLS-inspecting proxy on the way to crates.io (common where
    # registries are locked down) is accepted as it is by cargo on the host.
    if [ -f "$HOST_CA_BUNDLE" ]; then
        cp "$HOST_CA_BUNDLE" "$WORK/builder/etc/ssl/certs/ca-certificates.crt"
    fi
    import builder "$PREFIX/builder:$SUITE" \
        'ENV PATH=/usr/local/rust/bin:/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        'ENV CARGO_HOME=/usr/local/cargo' 'CMD ["bash"]'
}

build_haproxy() {
    rootfs haproxy haproxy
    import haproxy "$PREFIX/haproxy:$SUITE" \
        'CMD ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]'
}

build_prometheus() {
    rootfs prometheus prometheus
    import prometheus "$PREFIX/prometheus:$SUITE" \
        'ENTRYPOINT ["/usr/bin/prometheus"]' 'USER prometheus' \
        'WORKDIR /var/lib/prometheus'
}

main() {
    [ "$(id -u)" = 0 ] || { log "needs root (debootstrap)"; exit 1; }
    ensure_debootstrap
    local names=("$@")
    [ ${#names[@]} -gt 0 ] || names=(runtime builder haproxy prometheus)
    for name in "${names[@]}"; do
        local tag="$PREFIX/$name:$SUITE"
        if [ "${FORCE:-0}" != 1 ] && have_image "$tag"; then
            log "$tag exists, skipped"
            continue
        fi
        "build_$name"
    done
}

main "$@"
