// NOT used by CI. See build.sh.
module goharness

go 1.24

require (
	github.com/astromechza/automerge-ndjson-sync v0.0.0
	github.com/automerge/automerge-go v0.0.0-20241030180337-6fb4f2d08244
)

// Local clones (build.sh puts them there): no module proxy is needed.
replace github.com/astromechza/automerge-ndjson-sync => /tmp/goio/ndjson

replace github.com/automerge/automerge-go => /tmp/goio/amgo
