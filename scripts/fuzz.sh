#!/usr/bin/env bash
# Runs the stable-Rust mutation fuzzer (tests/fuzz.rs) for about SECONDS
# seconds in total (default 120), one target after another, and fails on the
# first panic with the seed that reproduces it. CI calls it with 120.
#
#   scripts/fuzz.sh [SECONDS] [SEED]
#
# Replay a failure: TANDEM_FUZZ_SEED=<seed> TANDEM_FUZZ_ITERATIONS=1 \
#   cargo test -p tandem --test fuzz <target>
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-120}"
case "$seconds" in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS] [SEED] (SECONDS is a whole number)" >&2; exit 2 ;;
esac
export TANDEM_NO_MDNS=1 CARGO_TERM_COLOR=never TANDEM_FUZZ_SECONDS="$seconds"
if [ -n "${2:-}" ]; then export TANDEM_FUZZ_SEED="$2"; fi
exec cargo test -p tandem --test fuzz -- --test-threads=1 --nocapture
