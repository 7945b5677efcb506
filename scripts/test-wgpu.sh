#!/usr/bin/env bash
# Proves the wgpu backend trains: builds whittle with `--features wgpu` (its own target dir,
# about 17 minutes cold on 2 cores), trains a few steps of seed-c10 on wgpu and on flex with
# the same seed and data, and fails unless their losses agree. Without a GPU it runs on
# Mesa's CPU Vulkan driver (lavapipe, `mesa-vulkan-drivers`), installed here if missing.
#
#   scripts/test-wgpu.sh [--limit N] [--tolerance X]     (data: WHITTLE_DATA or --data DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

limit=256
tolerance=0.02
data_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --limit) limit="$2"; shift 2 ;;
        --tolerance) tolerance="$2"; shift 2 ;;
        --data) data_args=(--data "$2"); shift 2 ;;
        *) echo "test-wgpu: unknown argument $1" >&2; exit 2 ;;
    esac
done

need_root() { if [ "$(id -u)" -ne 0 ]; then sudo "$@"; else "$@"; fi; }
lvp=$(ls /usr/share/vulkan/icd.d/lvp_icd.*.json 2>/dev/null | head -n1 || true)
if [ -z "$lvp" ] && [ -z "${VK_ICD_FILENAMES:-}" ]; then
    echo "test-wgpu: installing mesa-vulkan-drivers (lavapipe)"
    need_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive need_root apt-get install -y -qq mesa-vulkan-drivers >/dev/null
    lvp=$(ls /usr/share/vulkan/icd.d/lvp_icd.*.json | head -n1)
fi
# A machine with a real GPU keeps its driver when VK_ICD_FILENAMES is set by the caller.
export VK_ICD_FILENAMES="${VK_ICD_FILENAMES:-$lvp}"

target="${WHITTLE_WGPU_TARGET:-target/wgpu}"
echo "test-wgpu: building with --features wgpu into $target"
cargo build --release -p whittle --features wgpu --target-dir "$target"
bin="$target/release/whittle"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for backend in wgpu flex; do
    echo "test-wgpu: training on $backend ($limit images, 1 epoch)"
    "$bin" train --arch seed-c10 --limit "$limit" --epochs 1 --seed 3 --backend "$backend" \
        "${data_args[@]}" --out "$work/$backend"
done

python3 - "$work/wgpu/history.json" "$work/flex/history.json" "$tolerance" <<'PY'
import json, sys
w, f, tol = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), float(sys.argv[3])
ew, ef = w["epochs"][-1], f["epochs"][-1]
bad = []
for key in ("train_loss", "val_loss"):
    a, b = ew[key], ef[key]
    ok = abs(a - b) <= tol and a == a
    print(f"test-wgpu: {key}: wgpu {a:.4f}, flex {b:.4f}, |diff| {abs(a - b):.4f} (tolerance {tol})")
    if not ok:
        bad.append(key)
print(f"test-wgpu: wgpu trained at {ew['images_per_sec']:.1f} images/s, flex at {ef['images_per_sec']:.1f}")
if bad:
    sys.exit(f"test-wgpu: FAILED: {', '.join(bad)} differ by more than {tol}")
print("test-wgpu: ok")
PY
