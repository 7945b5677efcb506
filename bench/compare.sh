#!/usr/bin/env bash
# Runs `whittle bench` and the PyTorch twin with the same settings and prints whittle/PyTorch.
#
#   bench/compare.sh --synthetic
#   bench/compare.sh --data ~/.cache/whittle --steps 200 --warmup 20
#
# Every argument goes to both sides (--data, --synthetic, --warmup, --steps, --batch,
# --infer-batch, --seed); --threads defaults to every core for both. PYTHON picks the
# interpreter (default bench/.venv/bin/python); WHITTLE the binary (default: built here).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-bench/.venv/bin/python}
if [[ ! -x $PYTHON ]]; then
    echo "no $PYTHON: python3 -m venv bench/.venv && bench/.venv/bin/pip install torch numpy" >&2
    exit 1
fi
if [[ -z ${WHITTLE:-} ]]; then
    cargo build --release -p whittle --quiet
    WHITTLE=target/release/whittle
fi

args=("$@")
if [[ " ${args[*]-} " != *" --threads "* ]]; then
    args+=(--threads "$(nproc)")
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "== whittle (load: $(cut -d' ' -f1-3 /proc/loadavg))"
"$WHITTLE" bench "${args[@]}" --json "$out/whittle.json"
echo "== pytorch (load: $(cut -d' ' -f1-3 /proc/loadavg))"
"$PYTHON" bench/pytorch_seed_c10.py "${args[@]}" --json "$out/pytorch.json"

"$PYTHON" - "$out/whittle.json" "$out/pytorch.json" <<'PY'
import json, sys
w, p = (json.load(open(f)) for f in sys.argv[1:3])
print(f"== whittle / pytorch ({w['data']}, {w['threads']} threads, batch {w['batch']} / {w['infer_batch']})")
for part in ("train", "infer"):
    k = f"{part}_images_per_sec"
    print(f"{part:5}: {w[k]:8.1f} / {p[k]:8.1f} images/s = {w[k] / p[k]:.2f}x")
PY
