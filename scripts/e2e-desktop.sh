#!/usr/bin/env bash
# Desktop end-to-end test: builds the UI, the desktop app and the CLI, then
# drives the real Tauri app under Xvfb over WebDriver (tauri-driver +
# WebKitWebDriver): create a document, type, sync with the headless `tandem`
# CLI both ways, events, errors, clean shutdown; prints cold-start and
# keystroke timings and saves docs/screenshots/desktop.png. Export/import
# through the (injected) dialogs, tandem:// links and the single-instance
# hand-over are in src-tauri/tests/e2e/desktop-links.mjs; the app gets a
# private D-Bus session bus (dbus-run-session), which single-instance needs. The client is
# src-tauri/tests/e2e/desktop.mjs. mDNS stays off; everything is loopback.
#
# Last line: "desktop e2e: N passed, M failed"; exit status non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export TANDEM_NO_MDNS=1 CARGO_TERM_COLOR=never
export PATH="$HOME/.cargo/bin:$PATH"

give_up() {
  echo "desktop e2e: $*" >&2
  echo "desktop e2e: 0 passed, 1 failed"
  exit 1
}

missing=()
command -v xvfb-run >/dev/null || missing+=(xvfb xauth)
command -v WebKitWebDriver >/dev/null || missing+=(webkit2gtk-driver)
pkg-config --exists webkit2gtk-4.1 2>/dev/null || missing+=(libwebkit2gtk-4.1-dev)
command -v node >/dev/null || missing+=(nodejs npm)
command -v python3 >/dev/null || missing+=(python3)
command -v dbus-run-session >/dev/null || missing+=(dbus)
if [ ${#missing[@]} -gt 0 ]; then
  give_up "missing system packages; install them with: apt-get install ${missing[*]}"
fi

echo "== UI: build (ui/dist is embedded into the app)"
(cd ui && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run build) ||
  give_up "building the UI failed"

echo "== Rust: the desktop app and the CLI"
timeout 1800 cargo build -p tandem -p tandem-desktop || give_up "cargo build failed"

if ! command -v tauri-driver >/dev/null; then
  echo "== installing tauri-driver"
  timeout 1200 cargo install tauri-driver --version '^2' --locked || give_up "installing tauri-driver failed"
fi

echo "== Desktop app under Xvfb and a private D-Bus session (single instance), driven over WebDriver"
status=0
timeout --kill-after=10 420 dbus-run-session -- xvfb-run -a -s "-screen 0 1280x800x24" \
  node src-tauri/tests/e2e/desktop.mjs </dev/null || status=$?
if [ "$status" = 124 ] || [ "$status" = 137 ]; then
  give_up "the run timed out"
fi
exit "$status"
