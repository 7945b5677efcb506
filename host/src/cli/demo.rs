//! `whittle demo`: the README's main command — prune the shipped seed-c10 checkpoint with
//! l1 and l0 at two budgets, export int8, and measure every model on a Cortex-M in QEMU.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use whittle::data::{DatasetKind, locate};
use whittle::demo::{self, DemoOptions};
use whittle::firmware::Machine;

/// Arguments of `whittle demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory holding `cifar-10-batches-bin/` (default: WHITTLE_DATA, else the per-user
    /// cache, fetched there when missing unless WHITTLE_FETCH=0).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The trained base run to prune (shipped with the repository).
    #[arg(long, default_value = "models/seed-c10")]
    base: PathBuf,
    /// Output folder: pruned runs, blobs, demo.json, demo.svg (the demo replaces its own
    /// previous results there).
    #[arg(long, default_value = "runs/demo")]
    out: PathBuf,
    /// Smoke run in about two minutes: small slices, one epoch, few images.
    #[arg(long)]
    quick: bool,
    /// Images run on the target per model.
    #[arg(long)]
    images: Option<usize>,
    /// Test images scored on the host per model (default: all 10,000; 500 with --quick).
    #[arg(long)]
    test_images: Option<usize>,
    /// Training images used while pruning and fine-tuning.
    #[arg(long)]
    limit: Option<usize>,
    /// QEMU machine.
    #[arg(long, value_enum, default_value = "mps2-an386")]
    machine: Machine,
    /// Which demo: the seed net pruned four ways, or MLPerf Tiny's ResNet-8 (needs --onnx).
    #[arg(long, value_enum, default_value = "seed")]
    model: DemoModel,
    /// resnet8: MLPerf Tiny's reference ResNet-8 as ONNX (`resnet8_fp32_nchw.onnx`, raw
    /// 0..255 pixels in); imported once into `<out>/resnet8`.
    #[arg(long, required_if_eq("model", "resnet8"))]
    onnx: Option<PathBuf>,
    /// resnet8: pruned runs of `<out>/resnet8` to measure beside it (repeatable).
    #[arg(long)]
    pruned: Vec<PathBuf>,
}

/// The demos.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoModel {
    /// The seed CIFAR-10 net, pruned with l1 and l0 at two budgets each.
    Seed,
    /// MLPerf Tiny's ResNet-8 imported from ONNX, and pruned runs of it.
    Resnet8,
}

/// Run `whittle demo`.
pub fn run(a: DemoArgs) -> anyhow::Result<()> {
    let data = locate::data_dir(a.data.as_deref(), None, DatasetKind::Cifar10, true)?;
    let mut opts = DemoOptions::new(data, a.base, a.out, a.quick);
    opts.machine = a.machine;
    if let Some(n) = a.images {
        opts.firmware_images = n;
    }
    if let Some(n) = a.test_images {
        opts.test_images = n;
    }
    if a.limit.is_some() {
        opts.limit = a.limit;
    }
    if a.model == DemoModel::Resnet8 {
        let onnx = a.onnx.context("--model resnet8 needs --onnx FILE")?;
        let rows = demo::resnet8::run(&opts, &onnx, &a.pruned).context("whittle demo")?;
        println!("{}", demo::table::render(&rows));
        println!("{}", demo::resnet8::versus_tflm(&rows));
        return Ok(());
    }
    let rows = demo::run(&opts).context("whittle demo")?;
    println!("{}", demo::table::render(&rows));
    Ok(())
}
