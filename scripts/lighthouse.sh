#!/usr/bin/env bash
# Lighthouse's mobile performance (its default phone form factor and simulated throttling) of five
# pages of the release server on a small seeded school: the login page signed out, the groups list
# and a group page as the administrator, a learner's "My courses" and join page. Each page is
# measured RUNS times; the medians are printed and the JSON reports kept in $OUT.
#
# Simulated throttling only waits for a download before a task when the task names its URL; the
# hydration task usually names tessera.js, not the wasm, so TTI can leave the wasm download out.
# --throttling-method=devtools really slows the network, and its TTI includes it.
#
#   bash scripts/lighthouse.sh target/release/tessera
#   RUNS=1 OUT=/tmp/lh bash scripts/lighthouse.sh target/release/tessera [extra Lighthouse flags,
#     e.g. --throttling-method=devtools]
#
# Lighthouse comes from bench/lighthouse (installed there on first use); Chromium is $CHROME_PATH,
# else the first chromium / google-chrome on the PATH.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$(cd "$(dirname "${1:?usage: scripts/lighthouse.sh BIN (a release tessera built with the site embedded) [lighthouse flags]}")" && pwd)/$(basename "$1")"
shift
RUNS=${RUNS:-3}
PORT=${PORT:-3927}
A=127.0.0.1:$PORT
OUT=${OUT:-$(mktemp -d -t tessera-lighthouse.XXXXXX)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export CHROME_PATH=${CHROME_PATH:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}
[ -x "$CHROME_PATH" ] || { echo "no Chromium: install it or set CHROME_PATH" >&2; exit 2; }

# npm ci only when node_modules is missing or was installed from another lockfile.
LH="$ROOT/bench/lighthouse"
if ! cmp -s "$LH/package-lock.json" "$LH/node_modules/.installed-lock.json"; then
  (cd "$LH" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$LH/package-lock.json" "$LH/node_modules/.installed-lock.json"
fi

# The server runs from its own directory, so that no Leptos.toml of the caller's is read.
WORK=$(mktemp -d -t tessera-lighthouse-work.XXXXXX)
PID=
trap '[ -z "$PID" ] || { kill $PID; wait $PID; } 2>/dev/null; rm -rf "$WORK"' EXIT
cd "$WORK"
"$BIN" seed --data-dir data --users 200 --groups 20 --courses 10 --courses-per-group 3 > seed.log 2>&1 \
  || { cat seed.log; exit 1; }
RUST_LOG=warn "$BIN" serve --addr "$A" --data-dir data > server.log 2>&1 &
PID=$!
until curl -s -o /dev/null "http://$A/login"; do
  kill -0 $PID 2>/dev/null || { cat server.log; exit 1; }
  sleep 0.2
done

# Signs in and writes the session cookie as Lighthouse's extra headers (a JSON file).
login() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -c "$1.jar" -H 'Accept: application/json' \
    --data "identifier=$1&password=seed-password-1" "http://$A/api/login")
  [ "$code" = 200 ] || { echo "login of $1 answered $code" >&2; exit 1; }
  # Cookie-jar lines: domain, subdomains, path, secure, expiry, name, value (HttpOnly ones start #HttpOnly_).
  printf '{"Cookie": "%s"}\n' "$(awk -F'\t' 'NF == 7 { printf "%s%s=%s", sep, $6, $7; sep = "; " }' "$1.jar")" > "$1.json"
}
login admin
login learner1
GROUP=$(curl -s -b admin.jar -H 'Accept: application/json' --data 'query=&sort=name&page=1' \
  "http://$A/api/list_groups" | grep -o '"id":[0-9]*' | head -1 | cut -d: -f2)
[ -n "$GROUP" ] || { echo "no group found" >&2; exit 1; }

# name, path, who (-: signed out)
PAGES=(
  "login /login -"
  "groups /groups admin"
  "group /groups/$GROUP admin"
  "my-courses / learner1"
  "join /join learner1"
)
for p in "${PAGES[@]}"; do
  read -r name path who <<< "$p"
  headers=()
  [ "$who" = - ] || headers=(--extra-headers="$WORK/$who.json")
  for i in $(seq 1 "$RUNS"); do
    # Niced so as not to slow a build alongside; the scores then drop (see the CPU index).
    nice -n 10 "$LH/node_modules/.bin/lighthouse" "http://$A$path" "${headers[@]}" --quiet \
      --only-categories=performance --output=json --output-path="$OUT/$name-$i.json" \
      --chrome-flags="--headless=new --no-sandbox" "$@"
  done
done

# Medians per page. Simulated throttling multiplies the main-thread work it saw by 4, so a busy or
# slow machine lowers the scores: benchmarkIndex (CPU index) is Lighthouse's measure of its speed.
node - "$OUT" "$RUNS" "${PAGES[@]}" <<'JS'
const fs = require('fs');
const [out, runs, ...pages] = process.argv.slice(2);
const median = xs => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const rows = [['page', 'score', 'TBT ms', 'TTI s', 'FCP s', 'LCP s', 'scores', 'CPU index']];
for (const p of pages) {
  const [name, path] = p.split(' ');
  const lhrs = [];
  for (let i = 1; i <= +runs; i++) lhrs.push(JSON.parse(fs.readFileSync(`${out}/${name}-${i}.json`, 'utf8')));
  for (const l of lhrs) {
    if (l.runtimeError) console.error(`${name}: ${l.runtimeError.code} ${l.runtimeError.message}`);
    // A signed-in page that ends elsewhere (the login page) was measured without its session.
    if (new URL(l.finalDisplayedUrl).pathname !== path) console.error(`${name}: ended at ${l.finalDisplayedUrl}`);
  }
  const num = id => median(lhrs.map(l => l.audits[id].numericValue));
  const scores = lhrs.map(l => Math.round(l.categories.performance.score * 100));
  rows.push([`${name} ${path.replace(/\/\d+$/, '/<id>')}`, String(median(scores)), num('total-blocking-time').toFixed(0),
    (num('interactive') / 1000).toFixed(1), (num('first-contentful-paint') / 1000).toFixed(1),
    (num('largest-contentful-paint') / 1000).toFixed(1), scores.join(' '),
    median(lhrs.map(l => l.environment.benchmarkIndex)).toFixed(0)]);
}
const w = rows[0].map((_, c) => Math.max(...rows.map(r => r[c].length)));
for (const r of rows) console.log(r.map((x, c) => x.padEnd(w[c])).join('  ').trimEnd());
const lhr = JSON.parse(fs.readFileSync(`${out}/${pages[0].split(' ')[0]}-1.json`, 'utf8'));
console.log(`Lighthouse ${lhr.lighthouseVersion}, ${lhr.environment.hostUserAgent.match(/(Headless)?Chrome\/[\d.]+/)[0]}, ` +
  `${lhr.configSettings.formFactor}, ${lhr.configSettings.throttlingMethod} throttling; medians of ${runs} run(s); reports in ${out}`);
JS
