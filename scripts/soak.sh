#!/usr/bin/env bash
# Soak run (not part of CI): 1,000 live connections for 10 minutes with edits
# flowing, the server's RSS sampled every 10 s; fails if it grows by more than
# 10 % after the first minute. Loopback only. Tunables: SOAK_SECONDS,
# SOAK_CLIENTS, SOAK_DOCS, SOAK_EDITS_PER_SECOND, TANDEM_BIN.
set -euo pipefail
cd "$(dirname "$0")/.."
export TANDEM_NO_MDNS=1
# Two sockets per connection in this machine's processes: raise the open-files limit.
ulimit -n 16384 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# SOAK_PROFILE=dev reuses the test build (quicker to build, same memory behaviour).
profile="${SOAK_PROFILE:-release}"
cargo build --profile "$profile" --bin tandem
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
export TANDEM_BIN="${TANDEM_BIN:-$PWD/target/$dir/tandem}"
exec cargo bench --profile "$profile" --bench soak
