#!/usr/bin/env bash
# whittle's whole test suite: formatting, lints, the no_std build of `shared` for the
# Cortex-M target, the firmware builds, and every unit and end-to-end test (in release:
# burn is too slow unoptimized). Run `scripts/setup.sh` first.
set -euo pipefail
cd "$(dirname "$0")/.."
# CIFAR-10 for the end-to-end tests: WHITTLE_DATA, else CI's copy beside the checkout, else
# the per-user cache that `whittle data fetch cifar10` fills. The tests never download.
if [ -z "${WHITTLE_DATA:-}" ]; then
  if [ -d ../shared/data ]; then
    WHITTLE_DATA="$(cd .. && pwd)/shared/data"
  else
    WHITTLE_DATA="${XDG_CACHE_HOME:-$HOME/.cache}/whittle"
  fi
fi
export WHITTLE_DATA

step() { printf '\n==> %s\n' "$*"; }

step "rustfmt"
cargo fmt --all -- --check
(cd firmware && cargo fmt -- --check)

step "shared: no_std build for thumbv7em-none-eabihf"
cargo build --release -p whittle-shared --target thumbv7em-none-eabihf

step "clippy (host workspace, shared on the target, firmware)"
cargo clippy --release --workspace --all-targets -- -D warnings
cargo clippy --release -p whittle-shared --target thumbv7em-none-eabihf -- -D warnings
(cd firmware && cargo clippy --release -- -D warnings)
(cd firmware && cargo clippy --release --features mps2-an505 --target thumbv8m.main-none-eabihf -- -D warnings)

step "firmware: real-board (probe-rs, STM32F4) build"
(cd firmware && cargo build --release --features stm32f4-board)

step "tests (unit + end to end, release)"
cargo test --release --workspace
