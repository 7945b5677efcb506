#!/usr/bin/env bash
# Runs `whittle bench` and the PyTorch twin in interleaved rounds with the same settings and
# prints each round's whittle/PyTorch ratios and their medians.
#
#   bench/compare.sh --rounds 5 --data ~/.cache/whittle --warmup 10 --steps 100 --threads 2
#   bench/compare.sh --rounds 3 --burn-ops-too --synthetic
#
# --rounds N (default 1) and --burn-ops-too (a third run per round: whittle with burn's own
# ops, WHITTLE_BURN_OPS=1) are this script's; every other argument goes to both sides
# (--data, --synthetic, --warmup, --steps, --batch, --infer-batch, --seed); --threads
# defaults to every core for both. PYTHON picks the interpreter (default
# bench/.venv/bin/python); WHITTLE the binary (default: built here). The 1-minute load
# average is printed before every run: on a shared machine compare medians, not single runs.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-bench/.venv/bin/python}
if [[ ! -x $PYTHON ]]; then
    echo "no $PYTHON: python3 -m venv bench/.venv && bench/.venv/bin/pip install torch numpy" >&2
    exit 1
fi
if [[ -z ${WHITTLE:-} ]]; then
    cargo build --release -p whittle --quiet
    WHITTLE=${CARGO_TARGET_DIR:-target}/release/whittle
fi

rounds=1
burn_too=0
args=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --rounds)
            rounds=$2
            shift 2
            ;;
        --burn-ops-too)
            burn_too=1
            shift
            ;;
        *)
            args+=("$1")
            shift
            ;;
    esac
done
if [[ " ${args[*]-} " != *" --threads "* ]]; then
    args+=(--threads "$(nproc)")
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
load() { cut -d' ' -f1 /proc/loadavg; }
for r in $(seq 1 "$rounds"); do
    echo "== round $r/$rounds: whittle (load $(load))"
    "$WHITTLE" bench "${args[@]}" --json "$out/whittle-$r.json"
    echo "== round $r/$rounds: pytorch (load $(load))"
    "$PYTHON" bench/pytorch_seed_c10.py "${args[@]}" --json "$out/pytorch-$r.json"
    if [[ $burn_too == 1 ]]; then
        echo "== round $r/$rounds: whittle with burn's ops (load $(load))"
        WHITTLE_BURN_OPS=1 "$WHITTLE" bench "${args[@]}" --json "$out/burn-$r.json"
    fi
done

"$PYTHON" - "$out" "$rounds" "$burn_too" <<'PY'
import json, statistics, sys
out, rounds, burn_too = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
read = lambda side, r: json.load(open(f"{out}/{side}-{r}.json"))
sides = ["whittle", "pytorch"] + (["burn"] if burn_too else [])
runs = {s: [read(s, r) for r in range(1, rounds + 1)] for s in sides}
w0 = runs["whittle"][0]
print(f"== whittle / pytorch per round ({w0['data']}, {w0['threads']} threads, "
      f"batch {w0['batch']} / {w0['infer_batch']}, {w0['steps']} steps)")
for part in ("train", "infer"):
    k = f"{part}_images_per_sec"
    ratios = []
    for r in range(rounds):
        w, p = runs["whittle"][r][k], runs["pytorch"][r][k]
        ratios.append(w / p)
        extra = ""
        if burn_too:
            b = runs["burn"][r][k]
            extra = f"   (burn's ops {b:8.1f} = {b / p:.2f}x)"
        print(f"{part:5} round {r + 1}: {w:8.1f} / {p:8.1f} images/s = {w / p:.2f}x{extra}")
    med = lambda s: statistics.median(x[k] for x in runs[s])
    line = (f"{part:5} median of {rounds}: ratio {statistics.median(ratios):.2f}x "
            f"(whittle {med('whittle'):.1f}, pytorch {med('pytorch'):.1f} images/s")
    if burn_too:
        br = statistics.median(b[k] / p[k] for b, p in zip(runs["burn"], runs["pytorch"]))
        line += f"; burn's ops {med('burn'):.1f} = {br:.2f}x"
    print(line + ")")
PY
