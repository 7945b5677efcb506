//! `whittle bench`: training and inference images/s of a network on CIFAR or random images (compare with `bench/pytorch_seed_c10.py`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use whittle::bench::{self, BenchOptions, Labels, breakdown};
use whittle::data::{self, DatasetKind, SplitOptions};
use whittle::graph::{self, Graph};

/// Defaults: 20 warm-up + 200 timed steps, batch 32 (training) and 256 (inference).
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A preset (seed-c10, seed-c100) or a spec.json file.
    #[arg(long, default_value = "seed-c10")]
    arch: String,
    /// Data directory (as for `whittle train`); training batches come from the training
    /// split, inference batches from the validation split.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Random images and labels instead of CIFAR (no data needed).
    #[arg(long)]
    synthetic: bool,
    /// Untimed training steps (and inference batches) first.
    #[arg(long, default_value_t = 20)]
    warmup: usize,
    /// Timed training steps and timed inference batches.
    #[arg(long, default_value_t = 200)]
    steps: usize,
    /// Training batch size.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Inference batch size (what `whittle eval` uses).
    #[arg(long, default_value_t = 256)]
    infer_batch: usize,
    /// CPU threads (default: RAYON_NUM_THREADS, else every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Seed of initialization, dropout and batch order.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Compute backend.
    #[arg(long, default_value = "flex")]
    backend: String,
    /// Also time each phase of a training step and each conv layer's ops alone.
    #[arg(long)]
    breakdown: bool,
    /// burn's own ops instead of whittle's kernels (same as WHITTLE_BURN_OPS=1).
    #[arg(long)]
    burn_ops: bool,
    /// Also write the figures as JSON (same keys as the PyTorch script's --json).
    #[arg(long)]
    json: Option<PathBuf>,
}

fn load_spec(arch: &str) -> anyhow::Result<Graph> {
    graph::resolve(arch).with_context(|| format!("loading architecture {arch}"))
}

/// Run `whittle bench`.
pub fn run(a: BenchArgs) -> anyhow::Result<()> {
    let device = whittle::device::device(&a.backend)?;
    if a.burn_ops {
        whittle::kernels::set_burn_ops(true);
    }
    if let Some(n) = a.threads {
        anyhow::ensure!(n > 0, "--threads must be at least 1");
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("setting up the thread pool")?;
    }
    let spec = load_spec(&a.arch)?;
    let opts = BenchOptions {
        warmup: a.warmup,
        steps: a.steps,
        batch: a.batch,
        infer_batch: a.infer_batch,
        seed: a.seed,
    };
    opts.check()?;
    let (train, infer, data_label) = if a.synthetic {
        let n = 4096.max(a.batch).max(a.infer_batch);
        (
            bench::synthetic_images(n, spec.classes, a.seed),
            bench::synthetic_images(n, spec.classes, a.seed + 1),
            "synthetic".to_string(),
        )
    } else {
        let kind = DatasetKind::for_classes(spec.classes)
            .with_context(|| format!("no CIFAR dataset has {} classes", spec.classes))?;
        let base = &super::data::data_dir(a.data.as_deref(), None, kind)?;
        let splits = data::load_splits(base, kind, &SplitOptions::default())?;
        let label = match kind {
            DatasetKind::Cifar10 => "cifar-10",
            DatasetKind::Cifar100 => "cifar-100",
        };
        (splits.train, splits.val, label.to_string())
    };
    let threads = rayon::current_num_threads();
    let ops = if whittle::kernels::burn_ops() {
        "burn's ops"
    } else {
        "whittle's kernels"
    };
    eprintln!(
        "bench {} on {} ({} backend, {ops}, {threads} threads): {} warm-up + {} timed steps, batch {} (train) / {} (inference)",
        spec.name, data_label, a.backend, a.warmup, a.steps, a.batch, a.infer_batch
    );
    let labels = Labels {
        backend: &a.backend,
        threads,
        data: &data_label,
    };
    let r = bench::run(&spec, &train, &infer, &opts, &device, labels)?;
    println!(
        "train:     {:8.1} images/s ({} steps of {} in {:.2} s, mean loss {:.4})",
        r.train_images_per_sec, r.steps, r.batch, r.train_seconds, r.train_loss
    );
    println!(
        "inference: {:8.1} images/s ({} batches of {} in {:.2} s)",
        r.infer_images_per_sec, r.steps, r.infer_batch, r.infer_seconds
    );
    if a.breakdown {
        print_breakdown(&spec, &train, &opts, &device)?;
    }
    if let Some(path) = &a.json {
        let text = serde_json::to_string_pretty(&r)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn print_breakdown(
    spec: &Graph,
    train: &whittle::data::Images,
    opts: &BenchOptions,
    device: &burn::tensor::Device,
) -> anyhow::Result<()> {
    let p = breakdown::phases(spec, train, opts, device)?;
    let t = p.total_ms();
    let pct = |ms: f64| 100.0 * ms / t.max(1e-9);
    println!(
        "training step, batch {} (mean of {} steps): {t:.2} ms",
        opts.batch, opts.steps
    );
    for (name, ms) in [
        ("batch", p.batch_ms),
        ("forward + loss", p.forward_ms),
        ("backward", p.backward_ms),
        ("optimizer", p.optimizer_ms),
    ] {
        println!("  {name:15} {ms:8.2} ms {:5.1}%", pct(ms));
    }
    let ops = breakdown::conv_ops(spec, opts.batch, 20, device)?;
    let which = if whittle::kernels::burn_ops() {
        "burn's ops"
    } else {
        "whittle's kernels"
    };
    println!(
        "conv ops alone ({which}), batch {} (median of 20, ms):",
        opts.batch
    );
    println!("  layer  input           out  forward   x-grad   w-grad");
    let mut sum = [0f64; 3];
    for (i, o) in ops.iter().enumerate() {
        let [_, c, h, w] = o.input;
        // The first conv's input gradient is never computed (the image needs none).
        let x = if i == 0 { 0.0 } else { o.x_grad_ms };
        println!(
            "  {:5}  {c:3}x{h:2}x{w:2}  {:11} {:8.2} {:8.2} {:8.2}",
            o.layer, o.out, o.forward_ms, x, o.w_grad_ms
        );
        sum[0] += o.forward_ms;
        sum[1] += x;
        sum[2] += o.w_grad_ms;
    }
    println!(
        "  conv total: forward {:.2} ms, backward {:.2} ms (x {:.2} + w {:.2}) of a {t:.2} ms step",
        sum[0],
        sum[1] + sum[2],
        sum[1],
        sum[2]
    );
    Ok(())
}
