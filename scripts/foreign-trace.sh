#!/bin/sh
# The editing trace with a peer that behaves like the Go library (64 KiB
# lines, no capability flags), both ways: prints lines, longest line, bytes on
# the wire and time (tests/foreign_peer.rs). Slow in debug builds (minutes).
# TANDEM_FOREIGN_LIMIT=off lets the foreign client read any line, to measure
# a sender that does not keep to the limit.
set -eu
cd "$(dirname "$0")/.."
TRACE="${TANDEM_TRACE:-$(pwd)/../shared/data/editing-trace.automerge}"
TANDEM_NO_MDNS=1 TANDEM_TRACE="$TRACE" \
  cargo test -p tandem --test foreign_peer editing_trace -- --nocapture
