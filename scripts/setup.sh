#!/usr/bin/env bash
# Installs what building and testing Tessera needs, skipping whatever is already there.
# Sourced by scripts/run.sh and scripts/test.sh; `browser` as first argument (the tests) also
# installs Chromium for the end-to-end tests and cargo-deny for the dependency checks. Only
# package registries are used (crates.io, npm, Debian).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_LEPTOS_VERSION="0.3.10"
CARGO_DENY_VERSION="0.20.2"
# The wasm-bindgen CLI must equal the wasm-bindgen crate pinned in Cargo.lock.
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/[^0-9.]/, ""); print; exit}' "$ROOT/Cargo.lock")"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v cargo >/dev/null; then
  echo "cargo not found: install Rust with rustup first (https://rustup.rs)" >&2
  exit 1
fi
export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION (takes about 10 minutes, once)"
  cargo install cargo-leptos --locked --version "$CARGO_LEPTOS_VERSION"
fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  # Without --locked: the CLI's own lock file pins crates that no longer build here.
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# npm: Playwright (no browser download) and binaryen's wasm-opt for release builds.
if [ ! -x "$ROOT/end2end/node_modules/.bin/wasm-opt" ] || [ "$ROOT/end2end/package-lock.json" -nt "$ROOT/end2end/node_modules/.package-lock.json" ]; then
  say "installing npm packages (Playwright, binaryen)"
  (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi
# cargo-leptos uses the wasm-opt it finds first on PATH (Debian's binaryen breaks hydration).
export PATH="$ROOT/end2end/node_modules/.bin:$PATH"

# The test command's dependency checks (deny.toml). cargo-deny's own release profile asks for
# fat LTO in one codegen unit (5.5 minutes to build here); a checker that runs for two seconds
# does not need it, and without it the install takes about 2 minutes.
if [ "${1:-}" = browser ] && [ "$(cargo deny --version 2>/dev/null | awk '{print $2}')" != "$CARGO_DENY_VERSION" ]; then
  say "installing cargo-deny $CARGO_DENY_VERSION (about 2 minutes, once)"
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
    cargo install cargo-deny --locked --version "$CARGO_DENY_VERSION"
fi

if [ "${1:-}" = browser ] && [ ! -x /usr/bin/chromium ]; then
  say "installing Chromium from Debian"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
