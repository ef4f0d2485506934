#!/usr/bin/env bash
# Runs every Tandem test: Rust unit + integration tests, the UI's Vitest unit
# tests, the browser tests (Chromium: two servers, web-page attacks, LAN peers)
# and the desktop app under Xvfb (WebDriver). On a fresh Debian machine it first
# installs what the tests need
# (as root, or through sudo). mDNS stays off everywhere except inside network
# namespaces that the tests create themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
export TANDEM_NO_MDNS=1 CARGO_TERM_COLOR=never

# A clean run writes several GB of build output; a disk that fills up mid-link
# shows only as the linker's "Bus error" or "No space left on device".
target_dir="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target_dir"
free_gib=$(( $(df -Pk "$target_dir" | awk 'NR==2 {print $4}') / 1048576 ))
if [ "$free_gib" -lt "${TANDEM_TEST_MIN_FREE_GIB:-8}" ]; then
  echo "warning: only ${free_gib} GiB free under $target_dir; a clean test run writes about 5 GiB (4.2 GiB measured on 2026-12-01)." >&2
  echo "warning: if a build then fails with 'Bus error' or 'No space left on device', free space (cargo clean) and re-run." >&2
fi

apt_install() {
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then sudo="sudo"; else
      echo "missing system packages: $*; install them (apt-get install $*) and re-run" >&2
      exit 1
    fi
  fi
  echo "== installing: $*"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
command -v curl >/dev/null || missing+=(curl ca-certificates)
command -v script >/dev/null || missing+=(bsdutils)
command -v ip >/dev/null || missing+=(iproute2)
command -v cc >/dev/null || missing+=(build-essential)
command -v pkg-config >/dev/null || missing+=(pkg-config)
pkg-config --exists webkit2gtk-4.1 2>/dev/null || missing+=(libwebkit2gtk-4.1-dev)
command -v WebKitWebDriver >/dev/null || missing+=(webkit2gtk-driver)
command -v xvfb-run >/dev/null || missing+=(xvfb xauth)
command -v dbus-run-session >/dev/null || missing+=(dbus)
[ -x /usr/bin/chromium ] || missing+=(chromium)
# PostgreSQL for the cluster and store-conformance tests (they start their own
# server in a temp dir as an unprivileged user; see tests/common/postgres.rs).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi

echo "== UI: install, lint (Biome: lint + format check; tsc --noEmit), unit tests, build"
(cd ui && { [ -x node_modules/.bin/biome ] || npm ci --no-audit --no-fund; } && npm run lint && npm test && npm run build)
# scripts/run.sh must not rebuild an up-to-date UI (that rebuilt the app on every launch).
before=$(stat -c %Y ui/dist/index.html)
scripts/ui-build.sh >/dev/null
[ "$(stat -c %Y ui/dist/index.html)" = "$before" ] || { echo "scripts/ui-build.sh rebuilt an up-to-date UI" >&2; exit 1; }

echo "== Gates: formatting and lints (cargo fmt --check, clippy -D warnings)"
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi
cargo fmt --all --check || { echo "run 'cargo fmt --all' and commit the result" >&2; exit 1; }
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== Rust: unit and integration tests"
cargo test --workspace --locked

echo "== Fuzzing: line reader, sync-message guard, request admission (2 min)"
scripts/fuzz.sh 120

echo "== Browser: two real servers, two pages"
timeout 300 node ui/tests/e2e/two-servers.mjs </dev/null

echo "== Browser: first steps of a new user (focus, empty documents, live sizes, deleting)"
timeout 240 node ui/tests/e2e/ui-basics.mjs </dev/null

echo "== Browser: editing from two pages, a dropped connection, lists and counters, dialogs, sharing, export/import"
timeout 240 node ui/tests/e2e/ui-editing.mjs </dev/null

echo "== Browser: a server that refuses (token, certificate) says why and is fixed in place"
timeout 240 node ui/tests/e2e/remote-errors.mjs </dev/null
echo "== Browser: presence, remote cursors and highlights across two servers"
timeout 300 node ui/tests/e2e/presence.mjs </dev/null

echo "== Browser: the UI through any node of a cluster (PostgreSQL, two nodes: relayed socket and calls)"
timeout 240 node ui/tests/e2e/cluster.mjs </dev/null

echo "== Browser: history (timeline, a past version, restore and undo, a concurrent conflict resolved)"
timeout 300 node ui/tests/e2e/history.mjs </dev/null

echo "== Browser: pages of other origins and a rebinding name get nothing; the UI still works after sign-in"
timeout 300 node ui/tests/e2e/browser-security.mjs </dev/null

echo "== automerge-repo: real npm clients on tandem serve (both protocols, tokens, 5+5 mixed editors)"
timeout 240 node ui/tests/repo/serve-interop.mjs </dev/null

echo "== automerge-repo: Tandem (CLI, remotes, browser UI) with the npm sync server, through its restart"
timeout 240 node ui/tests/repo/sync-server.mjs </dev/null

echo "== Browser: LAN peers in network namespaces made by the test (mDNS only there)"
timeout 420 node ui/tests/e2e/lan-peers.mjs </dev/null

if [ -x scripts/e2e-desktop.sh ]; then
  echo "== Desktop: the Tauri app under Xvfb, driven by WebDriver"
  timeout 900 scripts/e2e-desktop.sh </dev/null
fi
