#!/usr/bin/env bash
# Runs the Tandem desktop app from a fresh checkout on Debian/Ubuntu:
# installs the system packages Tauri needs (as root, or through sudo; else
# prints what to install), builds the UI, then `cargo run`s the app.
#
#   scripts/run.sh              # debug build
#   scripts/run.sh --release    # optimised build
#
# Environment passed through to the app: TANDEM_DATA_DIR (where documents are
# kept), TANDEM_LISTEN (the embedded sync server's address; default: the first
# free port from 127.0.0.1:7450), TANDEM_NO_MDNS, RUST_LOG.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=()
case "${1:-}" in
  --release) profile=(--release) ;;
  "") ;;
  *) echo "usage: $0 [--release]" >&2; exit 2 ;;
esac

packages=(build-essential pkg-config libwebkit2gtk-4.1-dev)
missing=()
command -v cc >/dev/null || missing+=(build-essential)
command -v pkg-config >/dev/null || missing+=(pkg-config)
pkg-config --exists webkit2gtk-4.1 2>/dev/null || missing+=(libwebkit2gtk-4.1-dev)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then sudo="sudo"; else
      echo "Tandem needs these system packages: ${packages[*]}" >&2
      echo "Install them as root, then re-run:  apt-get install ${missing[*]}" >&2
      exit 1
    fi
  fi
  if ! command -v apt-get >/dev/null; then
    echo "Tandem needs a C toolchain, pkg-config and WebKitGTK 4.1 (Debian: ${packages[*]})." >&2
    echo "Install them with your package manager, then re-run." >&2
    exit 1
  fi
  echo "== installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
for tool in cargo npm; do
  if ! command -v "$tool" >/dev/null; then
    case "$tool" in
      cargo) echo "cargo is missing: install Rust from https://rustup.rs (1.90 or newer)" >&2 ;;
      npm) echo "npm is missing: install Node.js 20.19 or newer (e.g. apt-get install nodejs npm)" >&2 ;;
    esac
    exit 1
  fi
done

echo "== the UI (ui/dist, embedded into the app)"
scripts/ui-build.sh

echo "== building and starting the desktop app"
# The environment (TANDEM_NO_MDNS, TANDEM_DATA_DIR, …) reaches the app as is.
exec cargo run "${profile[@]}" -p tandem-desktop
