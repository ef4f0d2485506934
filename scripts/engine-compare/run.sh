#!/usr/bin/env bash
# Compares automerge 0.6.1 and 0.12.0 on the editing trace and on (c)'s
# changes (about 3 minutes to build, 10 s to run). Not run by CI.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
trace="${1:-$here/../../../shared/data/editing-trace.automerge}"
cargo run --release --manifest-path "$here/Cargo.toml" --target-dir "${CARGO_TARGET_DIR:-$here/target}" -- "$trace"
