#!/usr/bin/env bash
# Installs everything whittle needs on a fresh Debian machine with rustup: the Cortex-M
# targets (M4F/M7 and M33), llvm-tools, QEMU for Arm, and defmt-print. Idempotent; safe to
# run every time.
set -euo pipefail

need_root() { if [ "$(id -u)" -ne 0 ]; then sudo "$@"; else "$@"; fi; }

rustup target add thumbv7em-none-eabihf thumbv8m.main-none-eabihf >/dev/null
rustup component add llvm-tools clippy rustfmt >/dev/null

if ! command -v qemu-system-arm >/dev/null 2>&1; then
    echo "setup: installing qemu-system-arm"
    need_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive need_root apt-get install -y -qq qemu-system-arm >/dev/null
fi

if ! command -v defmt-print >/dev/null 2>&1; then
    echo "setup: installing defmt-print (about 3 minutes)"
    cargo install --locked --quiet defmt-print
fi

echo "setup: ok ($(qemu-system-arm --version | head -n1); $(defmt-print --version 2>/dev/null || echo defmt-print))"
