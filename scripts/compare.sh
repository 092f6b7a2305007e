#!/usr/bin/env bash
# End-to-end load comparison (not run in CI): three axum hello-world servers, one behind each
# of tower-bearer, jwt-authorizer and tower-oauth2-resource-server, built in release mode and
# driven in turn by the same load generator with the same RS256 tokens for the same time, for
# a unique-token and a repeated-token mix. See peers/src/bin/compare.rs for the method.
#
#   scripts/compare.sh                      # 20 s per run, 32 connections, 10 000 tokens
#   scripts/compare.sh --seconds 5          # a quick run
#
# Prints requests/s, p50 and p99 per layer and mix, and writes them to
# target/compare.json (read by scripts/chart.py).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-$PWD/target}"
(cd peers && CARGO_TARGET_DIR="$target" cargo build --release --bins)
mkdir -p "$target"
"$target/release/compare" --out "$target/compare.json" "$@"
