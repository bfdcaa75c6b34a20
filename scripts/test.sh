#!/usr/bin/env bash
# The test command (README): installs what the tests need, then runs the
# whole suite: formatting, lints, unit, property and black-box tests.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/test-env.sh
export GLIMPSE_GLANCE_ETC="$root/.cache/glance-etc"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
