#!/bin/bash
# NOT used by CI (see build.sh). Go clients against the Go server (stock, and with the line limit raised in
# server and clients) and tandem serve (stock Go clients), side by side.
cd /tmp/goio
TOK=goio-owner-token-0123456789abcdef
G=$(cat goserver.pid); B=$(cat gobig.pid); T=$(cat tandem.pid)
tag=${1:-r}; reps=${2:-2}
for w in "10 10" "10 100" "100 10"; do
  set -- $w
  for rep in $(seq $reps); do
    for proto in h1 h2; do
      if [ $proto = h1 ]; then s=http; gp=18080; bp=18081; else s=https; gp=18443; bp=18444; fi
      d=$tag-$1x$2-$proto-$rep
      echo -n "go-stock  "; timeout 120 ./harness/goharness bench -url $s://127.0.0.1:$gp/$d -proto $proto -n $1 -m $2 -serverpid $G -timeout 100s 2>&1 | tail -1
      echo -n "go-raised "; timeout 120 ./harness-big/goharness bench -url $s://127.0.0.1:$bp/$d -proto $proto -n $1 -m $2 -serverpid $B -timeout 100s 2>&1 | tail -1
      echo -n "tandem    "; timeout 120 ./harness/goharness bench -token $TOK -url $s://127.0.0.1:17450/$d -proto $proto -n $1 -m $2 -serverpid $T -timeout 100s 2>&1 | tail -1
    done
  done
done
