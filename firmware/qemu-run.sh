#!/bin/sh
# Cargo runner for the QEMU machines: runs the ELF under a timeout with semihosting and
# -icount (instruction counting), decodes its defmt output. Usage: qemu-run.sh ELF
set -eu
elf="$1"
machine="${WHITTLE_MACHINE:-mps2-an386}"
timeout "${WHITTLE_QEMU_TIMEOUT:-300}" qemu-system-arm -machine "$machine" \
  -nographic -monitor none -serial none \
  -semihosting-config enable=on,target=native \
  -icount shift=0,align=off,sleep=off \
  -kernel "$elf" | defmt-print -e "$elf" --log-format "{L} {s}"
