#!/usr/bin/env bash
# The whole test suite, with all set-up, on a fresh machine (what .ci/run calls).
#
# - Rust checks: formatting, clippy (warnings denied), docs (warnings denied).
# - cargo nextest: every test, including the pycti interop tests, which create a pinned
#   pycti 7.261026.0 venv under target/ on first use (from PyPI).
# - doc tests (nextest does not run them), and the public API's shape (every root item has
#   an example, every type it names is exported; from rustdoc's JSON, on the nightly
#   toolchain the machine has for cargo-fuzz).
# - every benchmark in quick mode (scripts/bench.sh), so they cannot rot.
# - the RabbitMQ broker the AMQP tests use is provided first (scripts/broker.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
start=$(date +%s)

step "RabbitMQ broker for the AMQP tests"
# shellcheck source=scripts/broker.sh
source scripts/broker.sh
ensure_broker

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (warnings denied)"
cargo clippy --workspace --all-targets --locked -- -D warnings

# The two library builds a dependent crate gets, without the `internals` feature this
# workspace's own tests turn on: there the implementation is private, so the dead-code
# lint sees all of it.
step "cargo clippy of the library as \`cargo install\` builds it (default features)"
cargo clippy --lib --locked -- -D warnings

step "cargo clippy of the library without default features (what a test crate depends on)"
cargo clippy --lib --no-default-features --locked -- -D warnings

step "cargo nextest run --workspace --profile ci"
cargo nextest run --workspace --profile ci --locked

step "cargo test --doc"
cargo test --workspace --doc --locked

step "cargo doc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --document-private-items --locked

step "public API: every root item has a runnable example; every type it names is exported"
# rustdoc's JSON output is a nightly option (the machine's nightly, also used for
# cargo-fuzz); its own target directory keeps the stable builds' fingerprints intact.
CARGO_TARGET_DIR=target/api-json cargo +nightly rustdoc --lib --no-default-features --locked -- \
    -Z unstable-options --output-format json
python3 scripts/api_check.py target/api-json/doc/opencti_mock.json

step "benchmarks, quick mode (tiny sizes; correctness asserted, speed not judged)"
# The dev profile reuses the test build: only the eight bench binaries are compiled. The
# full figures come from `scripts/bench.sh` (release), which writes BENCHMARKS.md.
BENCH_QUICK=1 BENCH_PROFILE=dev scripts/bench.sh

echo
echo "all checks passed in $(( $(date +%s) - start )) s"
