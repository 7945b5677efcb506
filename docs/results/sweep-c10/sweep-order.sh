#!/usr/bin/env bash
# Runs the seed-c10 sweep's points in the order this release ran them (the 50% ablation
# first, then the other budgets); a finished point is skipped by `whittle experiment`
# itself, so the script resumes after a kill. Run from the repository root.
set -u
order="0 2 14 20 26 8 3 4 15 16 21 22 27 28 9 10 1 5 6 7 11 12 13 17 18 19 23 24 25 29 30 32 31 35 36 33 34"
for k in $order; do
  nice -n 10 whittle experiment docs/results/sweep-c10.json --point "$k" || echo "point $k failed"
done
whittle experiment docs/results/sweep-c10.json --report
