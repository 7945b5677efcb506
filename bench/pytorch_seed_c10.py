#!/usr/bin/env python3
"""PyTorch CPU twin of `whittle bench`: training and inference images/s of the seed CIFAR-10 net.

The network, recipe and per-step work match whittle's (models/seed-c10/spec.json,
host/src/train/trainer.rs): Conv16-Conv24-Pool-Conv32-Conv32-Pool-Flatten-Dropout(0.5)-
Dense48-Dense10, 3x3 'same' convolutions, ReLU, a learnable per-channel mask multiplied
after each of the five hidden ReLUs; Adam (lr 1e-3, betas 0.9/0.999, eps 1e-7) on every
parameter, masks included; cross-entropy plus 1.25e-6 * sum|w| + 2.5e-6 * sum w^2 over the
conv and dense kernels; each step builds its batch from the uint8 images (x / 127.5 - 1)
and reads the loss and the number of correct predictions back, as whittle's trainer does.
Inference is `whittle eval`'s per-batch work: forward, cross-entropy, argmax hits.

    python bench/pytorch_seed_c10.py --synthetic
    python bench/pytorch_seed_c10.py --data ~/.cache/whittle --threads 2 --json torch.json
"""

import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

L1 = 1.25e-6
L2 = 2.5e-6
LR = 1e-3
EPS = 1e-7
IMAGE_BYTES = 3 * 32 * 32


class Mask(nn.Module):
    """Learnable per-channel scale (init 1) on dim 1: whittle's `Mask`."""

    def __init__(self, channels):
        super().__init__()
        self.values = nn.Parameter(torch.ones(channels))

    def forward(self, x):
        shape = [1, -1] + [1] * (x.dim() - 2)
        return x * self.values.view(shape)


class SeedC10(nn.Module):
    """seed-c10 with its five masks."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 16, 3, padding="same")
        self.m1 = Mask(16)
        self.c2 = nn.Conv2d(16, 24, 3, padding="same")
        self.m2 = Mask(24)
        self.c3 = nn.Conv2d(24, 32, 3, padding="same")
        self.m3 = Mask(32)
        self.c4 = nn.Conv2d(32, 32, 3, padding="same")
        self.m4 = Mask(32)
        self.drop = nn.Dropout(0.5)
        self.d1 = nn.Linear(32 * 8 * 8, 48)
        self.m5 = Mask(48)
        self.d2 = nn.Linear(48, 10)

    def forward(self, x):
        x = self.m1(F.relu(self.c1(x)))
        x = self.m2(F.relu(self.c2(x)))
        x = F.max_pool2d(x, 2)
        x = self.m3(F.relu(self.c3(x)))
        x = self.m4(F.relu(self.c4(x)))
        x = F.max_pool2d(x, 2)
        x = self.drop(torch.flatten(x, 1))
        x = self.m5(F.relu(self.d1(x)))
        return self.d2(x)

    def kernels(self):
        return [m.weight for m in (self.c1, self.c2, self.c3, self.c4, self.d1, self.d2)]


def read_cifar10(base):
    """(train images, train labels, held-out images, held-out labels) from the binary batches."""
    folder = base
    if os.path.isdir(os.path.join(base, "cifar-10-batches-bin")):
        folder = os.path.join(base, "cifar-10-batches-bin")

    def read(stem):
        for name, opener in ((stem + ".bin", open), (stem + ".bin.gz", gzip.open)):
            path = os.path.join(folder, name)
            if os.path.exists(path):
                with opener(path, "rb") as f:
                    raw = np.frombuffer(f.read(), dtype=np.uint8)
                rec = raw.reshape(-1, 1 + IMAGE_BYTES)
                return rec[:, 1:].copy(), rec[:, 0].astype(np.int64)
        sys.exit(f"{folder}: no {stem}.bin or {stem}.bin.gz (CIFAR-10 binary version)")

    parts = [read(f"data_batch_{i}") for i in range(1, 6)]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    # Like whittle: 5,000 held out for inference (here simply the last ones).
    return images[:-5000], labels[:-5000], images[-5000:], labels[-5000:]


def synthetic(n, seed):
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 256, size=(n, IMAGE_BYTES), dtype=np.uint8),
        rng.integers(0, 10, size=n, dtype=np.int64),
    )


def make_batch(images, labels, idx, channels_last):
    x = torch.from_numpy(images[idx].astype(np.float32) / 127.5 - 1.0).view(-1, 3, 32, 32)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, torch.from_numpy(labels[idx])


def batch_indices(order, step, size):
    return order[(step * size + np.arange(size)) % len(order)]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=os.environ.get("WHITTLE_DATA"),
                   help="folder holding cifar-10-batches-bin/ (or it); default $WHITTLE_DATA")
    p.add_argument("--synthetic", action="store_true", help="random images and labels")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--infer-batch", type=int, default=256)
    p.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="torch.set_num_threads (default: every core)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--channels-last", action="store_true",
                   help="NHWC activations (not what whittle does; for exploration)")
    p.add_argument("--json", help="also write the figures here (whittle bench --json's keys)")
    a = p.parse_args()
    for name in ("steps", "batch", "infer_batch", "threads"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if a.warmup < 0:
        p.error("--warmup must be >= 0")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    if a.synthetic:
        n = max(4096, a.batch, a.infer_batch)
        tr_x, tr_y = synthetic(n, a.seed)
        in_x, in_y = synthetic(n, a.seed + 1)
        data = "synthetic"
    else:
        if not a.data:
            p.error("give --data DIR (or WHITTLE_DATA), or --synthetic")
        tr_x, tr_y, in_x, in_y = read_cifar10(a.data)
        data = "cifar-10"
    print(f"bench seed-c10 on {data} (pytorch {torch.__version__} cpu, {torch.get_num_threads()} "
          f"threads): {a.warmup} warm-up + {a.steps} timed steps, batch {a.batch} (train) / "
          f"{a.infer_batch} (inference)", file=sys.stderr)

    model = SeedC10()
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=(0.9, 0.999), eps=EPS)
    order = np.random.default_rng(a.seed).permutation(len(tr_x))

    model.train()
    loss_sum = 0.0
    start = time.perf_counter()
    for step in range(a.warmup + a.steps):
        if step == a.warmup:
            start = time.perf_counter()
        x, y = make_batch(tr_x, tr_y, batch_indices(order, step, a.batch), a.channels_last)
        logits = model(x)
        ce = F.cross_entropy(logits, y)
        ks = model.kernels()
        loss = ce + L1 * sum(k.abs().sum() for k in ks) + L2 * sum(k.square().sum() for k in ks)
        ce_value = ce.item()
        if not np.isfinite(ce_value):
            sys.exit(f"training loss became {ce_value} at step {step + 1}")
        _hits = (logits.argmax(1) == y).sum().item()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step >= a.warmup:
            loss_sum += ce_value
    train_seconds = time.perf_counter() - start

    model.eval()
    all_idx = np.arange(len(in_x))
    with torch.inference_mode():
        start = time.perf_counter()
        for step in range(a.warmup + a.steps):
            if step == a.warmup:
                start = time.perf_counter()
            x, y = make_batch(in_x, in_y, batch_indices(all_idx, step, a.infer_batch),
                              a.channels_last)
            logits = model(x)
            _loss = F.cross_entropy(logits, y).item()
            _hits = (logits.argmax(1) == y).sum().item()
        infer_seconds = time.perf_counter() - start

    r = {
        "tool": "pytorch",
        "arch": "seed-c10",
        "backend": "cpu-channels-last" if a.channels_last else "cpu",
        "threads": torch.get_num_threads(),
        "data": data,
        "batch": a.batch,
        "infer_batch": a.infer_batch,
        "warmup": a.warmup,
        "steps": a.steps,
        "train_seconds": train_seconds,
        "train_images_per_sec": a.steps * a.batch / train_seconds,
        "train_loss": loss_sum / a.steps,
        "infer_seconds": infer_seconds,
        "infer_images_per_sec": a.steps * a.infer_batch / infer_seconds,
    }
    print(f"train:     {r['train_images_per_sec']:8.1f} images/s ({a.steps} steps of {a.batch} "
          f"in {train_seconds:.2f} s, mean loss {r['train_loss']:.4f})")
    print(f"inference: {r['infer_images_per_sec']:8.1f} images/s ({a.steps} batches of "
          f"{a.infer_batch} in {infer_seconds:.2f} s)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
