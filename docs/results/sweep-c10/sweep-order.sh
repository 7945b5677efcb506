#!/usr/bin/env bash
# Runs both seed-c10 sweeps two points at a time (as this release ran them: two queues on
# the 2-core machine), then writes their reports. A finished point is skipped by
# `whittle experiment` itself and a killed one is redone, so the script resumes after a
# kill. Run from the repository root with WHITTLE_DATA set.
set -u
for cfg in docs/results/sweep-c10.json docs/results/sweep-c10-macs.json; do
  whittle experiment "$cfg" --list | cut -d' ' -f1 |
    xargs -P 2 -I{} nice -n 10 whittle experiment "$cfg" --point {}
  whittle experiment "$cfg" --report
done
