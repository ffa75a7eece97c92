#!/usr/bin/env bash
# What serde_json's `float_roundtrip` feature (Cargo.toml: exact decimal-to-binary
# float parsing, so a client's f64 arrives bit for bit) costs on decode. A Cargo
# feature is on for the whole build, so inferd cannot time both in one binary: this
# builds a scratch crate in target/float-roundtrip/ twice, with the serde_json that
# Cargo.lock pins, with and without the feature, and times the same parse in each.
#
#   scripts/float-roundtrip-cost.sh
#
# The body: 65,536 rows (batching.max_request_rows) of 16 numbers (the forecaster's
# width), each in [-1, 1) with 1 to 17 significant digits as clients print them;
# parsed into Vec<Vec<f64>> by serde_json's number parser, which inferd's decoder
# (src/json.rs) also goes through for every number. Prints the median of 15 parses
# per build.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(awk '/^name = "serde_json"$/ {getline; gsub(/[^0-9.]/, ""); print}' Cargo.lock)
dir=target/float-roundtrip
mkdir -p "$dir/src"
cat > "$dir/Cargo.toml" <<TOML
[package]
name = "float-roundtrip-cost"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
serde_json = "=$version"

[features]
roundtrip = ["serde_json/float_roundtrip"]

[workspace]
TOML
cat > "$dir/src/main.rs" <<'RS'
use std::time::Instant;

fn main() {
    // A fixed xorshift, so both builds parse the same bytes.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut body = String::from("[");
    for r in 0..65_536 {
        body.push_str(if r == 0 { "[" } else { ",[" });
        for c in 0..16 {
            let v = (next() % 2_000_000_000) as f64 / 1e9 - 1.0;
            let digits = 1 + (next() % 17) as usize;
            if c > 0 {
                body.push(',');
            }
            body.push_str(&format!("{:.*e}", digits - 1, v));
        }
        body.push(']');
    }
    body.push(']');
    let mut times = Vec::new();
    let mut sum = 0.0;
    for _ in 0..15 {
        let t = Instant::now();
        let rows: Vec<Vec<f64>> = serde_json::from_str(&body).unwrap();
        times.push(t.elapsed().as_secs_f64());
        sum += rows[rows.len() - 1][15];
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "{:.1} MiB, 1,048,576 numbers: median {:.1} ms, {:.1} ns per number (check {sum:.3})",
        body.len() as f64 / 1048576.0,
        median * 1e3,
        median * 1e9 / 1_048_576.0
    );
}
RS
cd "$dir"
echo "serde_json $version without float_roundtrip:"
cargo run -q --release
echo "serde_json $version with float_roundtrip (inferd's build):"
cargo run -q --release --features roundtrip
