#!/usr/bin/env bash
# Runs one benchmark (`cargo bench --features ssr --bench NAME`) and puts its report into
# BENCHMARKS.md, replacing that benchmark's earlier section (between its marker comments) or
# appending it. Environment variables are passed on, e.g.
#   TESSERA_BASELINE_BIN=/path/to/old/tessera bash scripts/bench.sh logins
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NAME="${1:?usage: scripts/bench.sh NAME (a file in benches/, without .rs)}"
cd "$ROOT"
[ -f "benches/$NAME.rs" ] || { echo "no benchmark benches/$NAME.rs" >&2; exit 2; }
OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT
cargo bench --features ssr --bench "$NAME" > "$OUT"
python3 - "$NAME" "$OUT" <<'PY'
import sys, re
name, out = sys.argv[1], sys.argv[2]
report = open(out).read().strip()
begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
block = f"{begin}\n{report}\n{end}"
path = "BENCHMARKS.md"
try:
    text = open(path).read()
except FileNotFoundError:
    text = "# Benchmarks\n"
if begin in text and end in text:
    text = text[: text.index(begin)] + block + text[text.index(end) + len(end):]
else:
    text = text.rstrip() + "\n\n" + block + "\n"
open(path, "w").write(text)
PY
echo "BENCHMARKS.md: section '$NAME' updated"
