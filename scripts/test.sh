#!/usr/bin/env bash
# Runs every Tandem test. On a fresh Debian machine it first installs what the
# tests need (as root, or through sudo). mDNS stays off everywhere except
# inside network namespaces that the tests create themselves.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then sudo="sudo"; else
      echo "missing system packages: $*; install them (apt-get install $*) and re-run" >&2
      exit 1
    fi
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
command -v curl >/dev/null || missing+=(curl ca-certificates)
command -v script >/dev/null || missing+=(bsdutils)
command -v cc >/dev/null || missing+=(build-essential)
if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi

export TANDEM_NO_MDNS=1
export CARGO_TERM_COLOR=never
cargo test --workspace --locked
