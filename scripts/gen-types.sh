#!/usr/bin/env bash
# Regenerates ui/src/generated/ (TypeScript types made from the Rust types by
# ts-rs); tests/generated_types.rs fails when the checked-in ones drift.
set -euo pipefail
cd "$(dirname "$0")/.."
TANDEM_REGENERATE_TYPES=1 cargo test -p tandem --test generated_types
