#!/usr/bin/env bash
# Install test of the desktop package: builds the .deb (scripts/package.sh,
# a debug build), installs it with `dpkg -i` on this machine, checks the
# desktop entry, icon and MIME registration it put in place, launches the
# INSTALLED /usr/bin/tandem-desktop under Xvfb (own data dir, loopback port,
# no mDNS, a private D-Bus session bus), checks that its embedded server
# answers GET /_health, hands it an .automerge file through a second launch
# (which must exit while the first imports the file), quits it with SIGTERM
# and removes the package (`dpkg --purge`: `-r` plus its dpkg records), also
# when a check fails.
#
# Slow (a full Tauri build): not part of scripts/test.sh. Needs root or sudo.
# Last line: "install test: passed (…)" or "install test: FAILED: …".
set -euo pipefail
cd "$(dirname "$0")/.."
export TANDEM_NO_MDNS=1

fail() {
  echo "install test: FAILED: $*"
  exit 1
}

sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || fail "needs root (or sudo) for dpkg -i"
  sudo="sudo"
fi
for tool in xvfb-run dbus-daemon curl python3 dpkg-deb; do
  command -v "$tool" >/dev/null || fail "missing $tool (apt-get install xvfb xauth dbus curl python3 dpkg)"
done

t0=$(date +%s)
deb=$(scripts/package.sh | tail -1) || fail "scripts/package.sh failed"
t_built=$(date +%s)
pkg=$(dpkg-deb -f "$deb" Package)
size=$(stat -c %s "$deb")
echo "== built $deb ($((size / 1024)) KiB) in $((t_built - t0)) s"
dpkg-deb -c "$deb" | awk '{print "   " $6}'

tmp=$(mktemp -d /tmp/tandem-install-test.XXXXXX)
data="$tmp/data"
bus_pid=""
app_pid=""
installed=""
cleanup() {
  if [ -n "$app_pid" ] && kill -0 "$app_pid" 2>/dev/null; then kill -KILL "$app_pid" 2>/dev/null || true; fi
  if [ -n "$bus_pid" ]; then kill "$bus_pid" 2>/dev/null || true; fi
  if [ -n "$installed" ]; then
    $sudo dpkg --purge "$pkg" >/dev/null && echo "== removed $pkg (dpkg --purge)" || echo "install test: could not remove $pkg" >&2
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "== dpkg -i"
$sudo dpkg -i "$deb" >/dev/null || fail "dpkg -i failed (missing dependencies? apt-get install -f)"
installed=1

bin=/usr/bin/tandem-desktop
desktop=/usr/share/applications/Tandem.desktop
[ -x "$bin" ] || fail "no $bin"
[ -f "$desktop" ] || fail "no desktop entry $desktop"
grep -q '^Exec=tandem-desktop %U$' "$desktop" || fail "the desktop entry does not pass files and links to tandem-desktop: $(grep ^Exec= "$desktop")"
grep -q '^Icon=tandem-desktop' "$desktop" || fail "the desktop entry names no icon"
grep -Eq '^MimeType=.*x-scheme-handler/tandem' "$desktop" || fail "the desktop entry does not handle tandem:// links"
grep -Eq '^MimeType=.*application/x-automerge' "$desktop" || fail "the desktop entry does not open .automerge files"
ls /usr/share/icons/hicolor/*/apps/tandem-desktop.png >/dev/null 2>&1 || fail "no icon in /usr/share/icons/hicolor"
mime=$(grep -l 'application/x-automerge' /usr/share/mime/packages/*.xml 2>/dev/null | head -1 || true)
[ -n "$mime" ] && grep -q 'pattern="\*\.automerge"' "$mime" || fail "no MIME type for *.automerge in /usr/share/mime/packages"
echo "== desktop entry, icon and MIME type in place ($desktop, $mime)"

# A private session bus: the single-instance hand-over goes over D-Bus.
bus=$(dbus-daemon --session --fork --print-address=1 --print-pid=1) || fail "cannot start a D-Bus session bus"
export DBUS_SESSION_BUS_ADDRESS=$(echo "$bus" | sed -n 1p)
bus_pid=$(echo "$bus" | sed -n 2p)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export TANDEM_DATA_DIR="$data" TANDEM_LISTEN="127.0.0.1:$port"
mkdir -p "$data"
echo "== launching the installed app (Xvfb, 127.0.0.1:$port)"
t_launch=$(date +%s%N)
xvfb-run -a -s "-screen 0 1280x800x24" "$bin" >"$tmp/app.log" 2>&1 </dev/null &
runner=$!

# The app process itself (xvfb-run is its parent): found by binary and data dir.
find_app() {
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/exe" 2>/dev/null)" = "$bin" ] || continue
    tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qx "TANDEM_DATA_DIR=$data" && echo "${p#/proc/}"
  done
}
health=""
for _ in $(seq 1 600); do
  health=$(curl -fsS --max-time 2 "http://127.0.0.1:$port/_health" 2>/dev/null) && break
  kill -0 "$runner" 2>/dev/null || { cat "$tmp/app.log"; fail "the app exited at start"; }
  sleep 0.1
done
[ -n "$health" ] || { tail -20 "$tmp/app.log"; fail "GET /_health did not answer within 60 s"; }
t_up=$(( ($(date +%s%N) - t_launch) / 1000000 ))
echo "$health" | grep -q '"ok":true' || fail "unexpected /_health: $health"
app_pid=$(find_app | head -1)
[ -n "$app_pid" ] || fail "cannot find the app's process"
echo "== the installed app answers /_health after $t_up ms: $health"

# An .automerge file, handed to the running app by a second launch.
token=$(cat "$data/owner-token")
auth=(-H "authorization: Bearer $token")
id=$(curl -fsS "${auth[@]}" -H 'content-type: application/json' -d '{"title":"From a file"}' "http://127.0.0.1:$port/_docs" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') || fail "POST /_docs failed"
curl -fsS "${auth[@]}" -H 'accept: application/octet-stream' -o "$tmp/From a file.automerge" "http://127.0.0.1:$port/$id" ||
  fail "GET /$id failed"
[ "$(head -c 4 "$tmp/From a file.automerge" | od -An -tx1 | tr -d ' ')" = 856f4a83 ] || fail "GET /$id gave no .automerge bytes"
count() { curl -fsS "${auth[@]}" "http://127.0.0.1:$port/_docs" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d if isinstance(d, list) else d.get("docs", [])))'; }
before=$(count)
(cd "$tmp" && timeout 30 xvfb-run -a -s "-screen 0 1280x800x24" "$bin" "From a file.automerge" >"$tmp/second.log" 2>&1 </dev/null) ||
  { cat "$tmp/second.log"; fail "the second launch did not exit cleanly"; }
[ "$(find_app | wc -l)" = 1 ] || fail "a second app process is running"
after=$before
for _ in $(seq 1 100); do
  after=$(count)
  [ "$after" -gt "$before" ] && break
  sleep 0.1
done
[ "$after" = $((before + 1)) ] || fail "the running app did not import the handed-over file ($before → $after documents)"
grep -q "a second launch handed over its arguments" "$tmp/app.log" || fail "the running app did not log the hand-over"
echo "== a second launch with an .automerge file: it exited, the running app imported the file"

kill -TERM "$app_pid"
for _ in $(seq 1 300); do kill -0 "$app_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$app_pid" 2>/dev/null && fail "the app did not quit within 30 s of SIGTERM"
app_pid=""
wait "$runner" 2>/dev/null || true
grep -q "Tandem core stopped" "$tmp/app.log" || fail "the app did not log a clean shutdown"
echo "== SIGTERM: the app quit cleanly"
echo "install test: passed (package built in $((t_built - t0)) s, $((size / 1024)) KiB; installed app up in $t_up ms)"
