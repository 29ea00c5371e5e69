#!/usr/bin/env bash
# The release server's resident memory on a data directory (BENCHMARKS.md, "Memory"): idle after
# start, after 100 logins, after an administrator's click-through of 35 pages, then three rounds
# of those pages and 300 more logins each, then idle. Learners must be learner1 … learnerN with the password
# seed-password-1, as `tessera seed` makes them.
#
#   tessera seed --data-dir /tmp/school --users 100000 --groups 10000 --courses 100 --courses-per-group 10
#   bash scripts/memory.sh target/release/tessera /tmp/school [extra serve flags, e.g. --cache-mb 16]
set -euo pipefail
BIN=$1
DATA=$2
shift 2
N=${USERS:-100000}
PORT=${PORT:-3917}
A=127.0.0.1:$PORT
JAR=$(mktemp -d)
LOG="$JAR/server.log"
RUST_LOG=warn "$BIN" serve --addr "$A" --data-dir "$DATA" "$@" > "$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$JAR"' EXIT
until curl -s -o /dev/null "http://$A/login"; do
  kill -0 $PID 2>/dev/null || { cat "$LOG"; exit 1; }
  sleep 0.2
done
rss() { echo $(( $(ps -o rss= -p $PID) / 1024 )); }
sleep 2
echo "idle after start: $(rss) MiB"
login() {
  curl -s -o /dev/null -w '%{http_code}' -c "$JAR/$1" -H 'Accept: application/json' \
    --data "identifier=$1&password=seed-password-1" "http://$A/api/login"
}
refused=0
for i in $(seq 1 100); do
  [ "$(login learner$(( i * 997 % N + 1 )))" = 200 ] || refused=$((refused + 1))
done
echo "after 100 logins: $(rss) MiB ($refused not answered 200)"
login admin > /dev/null
pages=(/ /groups "/groups?page=50" "/groups?q=Class+09" /users "/users?q=learner4242" /courses /reports /activity /inbox)
for g in 1 500 2500 5000 9999; do
  id=$(curl -s -b "$JAR/admin" -H 'Accept: application/json' \
    --data "query=Class+$(printf %04d $g)&sort=name&page=1" "http://$A/api/list_groups" \
    | grep -o "\"id\":[0-9]*" | head -1 | cut -d: -f2 || true)
  [ -n "$id" ] || continue
  for tab in "" "?tab=courses" "?tab=report" "?tab=activity" "?tab=managers"; do pages+=("/groups/$id$tab"); done
done
for p in "${pages[@]}"; do
  c=$(curl -s -o /dev/null -w '%{http_code}' -b "$JAR/admin" "http://$A$p")
  [ "$c" = 200 ] || echo "  $p answered $c"
done
echo "after an administrator's click-through of ${#pages[@]} pages: $(rss) MiB"
for round in 1 2 3; do
  for p in "${pages[@]}"; do curl -s -o /dev/null -b "$JAR/admin" "http://$A$p"; done
  for i in $(seq 1 300); do login learner$(( (i * 7919 + round * 31) % N + 1 )) > /dev/null; done
  echo "round $round (the pages again, 300 more logins): $(rss) MiB"
done
sleep 5
echo "idle 5 s later: $(rss) MiB; peak $(( $(awk '/VmHWM/ {print $2}' /proc/$PID/status) / 1024 )) MiB"
# Idle hashing workers give their buffers back after 30 s each (they take turns waiting).
sleep 60
echo "idle 65 s later: $(rss) MiB"
echo "panic lines in the log: $(grep -ci panic "$LOG" || true)"
