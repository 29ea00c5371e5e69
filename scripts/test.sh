#!/usr/bin/env bash
# Installs what is missing and runs every test: formatting and lints for both builds, unit and
# router tests, then the end-to-end tests in Chromium (JavaScript on and off) against the release
# binary copied alone into an empty directory.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh" browser
cd "$ROOT"

# A CI run builds once from nothing: incremental caches would only take disk (3 GB of it).
if [ -n "${CI:-}" ]; then
  export CARGO_INCREMENTAL=0
fi

say "formatting"
cargo fmt --check

# cargo deny reads the metadata of every crate in Cargo.lock, the Windows- and macOS-only ones
# included, which no Linux build downloads: fetch them all first, or a machine that never built
# Tessera fails here (a warm cache hid that once).
say "fetching every crate in Cargo.lock (for the dependency checks)"
cargo fetch --locked

# Advisories come from the RustSec snapshot in ../shared (these machines cannot reach GitHub):
# cloned where deny.toml's db-path makes cargo deny look, again only when the snapshot changed.
DENY_CHECKS="licenses bans sources"
ADVISORY_BUNDLE="$ROOT/../shared/advisory-db/advisory-db.bundle"
# The directory name is cargo deny's hash of the default database URL.
ADVISORY_DB="$ROOT/target/advisory-dbs/advisory-db-3157b0e258782691"
if [ -f "$ADVISORY_BUNDLE" ]; then
  want="$(git bundle list-heads "$ADVISORY_BUNDLE" HEAD | awk '{print $1}')"
  if [ "$(git -C "$ADVISORY_DB" rev-parse HEAD 2>/dev/null || true)" != "$want" ]; then
    rm -rf "$ADVISORY_DB"
    mkdir -p "$(dirname "$ADVISORY_DB")"
    git -c init.defaultBranch=main clone --quiet "$ADVISORY_BUNDLE" "$ADVISORY_DB"
  fi
  DENY_CHECKS="advisories $DENY_CHECKS"
else
  say "skipping the advisories check: no RustSec snapshot at ../shared/advisory-db/advisory-db.bundle (README, Dependency checks, says how to run it)"
fi
say "dependency checks: $DENY_CHECKS (deny.toml)"
# shellcheck disable=SC2086
cargo deny --offline check $DENY_CHECKS

say "clippy (server and browser builds)"
cargo clippy --features ssr --all-targets -- -D warnings
cargo clippy --lib --no-default-features --features hydrate --target wasm32-unknown-unknown -- -D warnings

source "$ROOT/scripts/postgres.sh"
trap pg_stop EXIT
pg_start

say "unit and router tests (the PostgreSQL backend's on the cluster just started)"
cargo test --features ssr

say "release build (single binary)"
cargo leptos build --release --precompress --bin-features embed

E2E_DIR="$(mktemp -d)"
trap 'pg_stop; rm -rf "$E2E_DIR"' EXIT
cp target/release/tessera "$E2E_DIR/tessera"
WASM="$(ls target/site/pkg/*.wasm)"
say "release wasm: $(stat -c %s "$WASM") bytes raw, $(gzip -9 -c "$WASM" | wc -c) gzipped"

say "the shipped binary: memory soak, embedded files only, mass enrolment across kill -9 (20 rounds), a limited key raced by 200 learners (5 rounds)"
TESSERA_BIN="$E2E_DIR/tessera" cargo test --features ssr --test shipped -- --ignored --nocapture

say "two servers of the shipped binary on one PostgreSQL database: shared sessions, a 10-use key raced by 200 learners on both, one login allowance, a mass enrolment finished by the survivor of kill -9"
TESSERA_BIN="$E2E_DIR/tessera" cargo test --features ssr --test servers -- --ignored --nocapture

say "end-to-end tests (Chromium: JavaScript on and off, phone width, and JavaScript on with the store in PostgreSQL) against the copied binary"
cd "$ROOT/end2end"
TESSERA_BIN="$E2E_DIR/tessera" TESSERA_E2E_DIR="$E2E_DIR" npx playwright test
