#!/usr/bin/env bash
# Installs what is missing, builds the single release binary and starts Tessera on
# http://127.0.0.1:3000 with its data in ./tessera-data (settings: Leptos.toml).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
say "building the release binary (site assets embedded)"
cargo leptos build --release --precompress --bin-features embed
say "starting Tessera (Ctrl-C stops it)"
exec "$ROOT/target/release/tessera" serve "$@"
