#!/usr/bin/env bash
# Builds the web UI into ui/dist when needed: installs its npm dependencies
# when missing or older than the lock file, and rebuilds only when a source is
# newer than the last build. (A fresh ui/dist makes cargo rebuild the desktop
# app, which embeds it: 10+ s on every launch.)
set -euo pipefail
cd "$(dirname "$0")/../ui"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
if [ ! -f dist/index.html ] || [ -n "$(find src index.html package.json package-lock.json vite.config.* \
      -newer dist/index.html -print -quit 2>/dev/null)" ]; then
  npm run build
else
  echo "ui/dist is up to date"
fi
