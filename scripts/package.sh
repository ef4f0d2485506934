#!/usr/bin/env bash
# Builds the desktop app's Linux package with the Tauri CLI (npm
# `@tauri-apps/cli`, installed in ui/node_modules by `npm ci`):
#
#   scripts/package.sh            # debug build (faster; what test-install.sh uses)
#   scripts/package.sh --release  # optimised build
#
# Prints the path of the .deb on its last line. The package holds the app,
# its desktop entry (with the `.automerge` file type and the `tandem://`
# link scheme), its icons and the MIME type of `.automerge` files.
#
# Only `deb` is built: it needs nothing beyond dpkg. AppImage's tooling
# downloads helpers at build time (fails offline) and rpm needs `rpmbuild`
# — see README "Install".
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
export PATH="$HOME/.cargo/bin:$PATH"

profile=(--debug)
out=target/debug/bundle/deb
if [ "${1:-}" = "--release" ]; then
  profile=()
  out=target/release/bundle/deb
elif [ $# -gt 0 ]; then
  echo "usage: scripts/package.sh [--release]" >&2
  exit 2
fi

command -v dpkg-deb >/dev/null || { echo "package: dpkg-deb is missing (apt-get install dpkg)" >&2; exit 1; }

echo "== UI: build (ui/dist is embedded into the app)"
(cd ui && { [ -x node_modules/.bin/tauri ] || npm ci --no-audit --no-fund; } && npm run build)

echo "== Tauri: build the app and bundle it (deb)"
rm -f "$out"/*.deb
(cd src-tauri && ../ui/node_modules/.bin/tauri build "${profile[@]}" --bundles deb --ci)

deb=$(ls "$out"/*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { echo "package: no .deb in $out" >&2; exit 1; }
echo "$deb"
