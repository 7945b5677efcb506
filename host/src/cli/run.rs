//! `whittle run`: builds the firmware for a blob (capped at a machine's or a named chip's
//! memory), runs it in QEMU on CIFAR-10 test images (baked in or streamed), prints accuracy,
//! instructions, flash, RAM and stack, and checks it against the host.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use whittle::data::{DatasetKind, load_test};
use whittle::firmware::{LabeledImage, Machine, RunOptions, RunReport, Streaming, Target};
use whittle::sim::quantize_chw;
use whittle::synth;
use whittle_shared::Model;
use whittle_shared::encode::AlignedBytes;

/// Seed of the `--synthetic` images.
const SYNTHETIC_SEED: u64 = 12345;

/// Arguments of `whittle run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The int8 blob (`.whittle`).
    model: PathBuf,
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    images: ImageArgs,
    /// Write the full report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Print every image's line, not only the first 20 and the mismatches.
    #[arg(long)]
    all_images: bool,
}

/// Where the firmware runs (shared by `run`, `check` and `fit`).
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Machine to run on (default: mps2-an386, or the one emulating --chip's core).
    #[arg(long, value_enum)]
    pub machine: Option<Machine>,
    /// Cap the build at this chip's flash and RAM (STM32F405, nRF5340, RP2350, ...; see
    /// docs/FIRMWARE.md); the machine defaults to the one emulating its core.
    #[arg(long)]
    pub chip: Option<String>,
    /// Kill QEMU after this many seconds (default: 600, plus 0.1 s per image).
    #[arg(long)]
    pub timeout: Option<u64>,
    /// The firmware crate (default: firmware/ of this checkout; env WHITTLE_FIRMWARE_DIR).
    #[arg(long)]
    pub firmware: Option<PathBuf>,
    /// Build the whole firmware at opt-level `z` (about 8 % less code, 0.7–1.6 % more
    /// instructions than the default, which builds it at `s`).
    #[arg(long)]
    pub opt_size: bool,
}

/// Which test images (shared by `run`, `check` and `fit`).
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// Number of CIFAR-10 test images (the first N; up to all 10,000).
    #[arg(long, default_value_t = 10)]
    pub images: usize,
    /// Folder holding `cifar-10-batches-bin/` (or that folder itself; default: WHITTLE_DATA,
    /// else the per-user cache).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Use seeded synthetic patterns instead of CIFAR-10 (no data needed; labels are 0).
    #[arg(long, conflicts_with = "data")]
    pub synthetic: bool,
    /// Bake the images into flash, stream them over semihosting, or bake them when they
    /// fit beside the model and stream them otherwise.
    #[arg(long, value_enum, default_value = "auto")]
    pub streaming: Streaming,
}

impl TargetArgs {
    /// The machine and chip these arguments name.
    pub fn target(&self) -> anyhow::Result<Target> {
        Ok(match &self.chip {
            Some(name) => Target::chip(name, self.machine)?,
            None => Target::machine(self.machine.unwrap_or(Machine::Mps2An386)),
        })
    }

    /// Run options for `target` and `images` images.
    pub fn options(&self, target: &Target, images: usize) -> RunOptions {
        let mut opts = RunOptions::new(target.machine);
        opts.chip = target.named.then_some(target.chip);
        let secs = self.timeout.unwrap_or(600 + images as u64 / 10);
        opts.timeout = Duration::from_secs(secs);
        if let Some(dir) = &self.firmware {
            opts.firmware_dir = dir.clone();
        }
        opts.opt_size = self.opt_size;
        opts
    }
}

/// Loads the images, runs the pipeline, prints and saves the report.
pub fn run(a: RunArgs) -> anyhow::Result<()> {
    let blob = std::fs::read(&a.model).with_context(|| format!("reading {}", a.model.display()))?;
    let report = run_blob(&blob, &a.model, &a.target, &a.images)?;
    print_table(&report, a.all_images);
    if let Some(path) = &a.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    if !report.host_matches {
        bail!(
            "firmware and host simulation disagree on {} of {} images",
            report.mismatches,
            report.images
        );
    }
    Ok(())
}

/// Runs `blob` (read from `path`) with these target and image arguments.
pub fn run_blob(
    blob: &[u8],
    path: &std::path::Path,
    t: &TargetArgs,
    i: &ImageArgs,
) -> anyhow::Result<RunReport> {
    let target = t.target()?;
    let aligned = AlignedBytes::new(blob);
    let (images, source) = match Model::from_bytes(&aligned) {
        // A malformed blob still goes to the firmware, which must refuse it too.
        Err(e) => {
            eprintln!(
                "warning: {} is not a valid blob ({e}); running the firmware anyway",
                path.display()
            );
            (Vec::new(), String::new())
        }
        Ok(model) => load_images(i, &model)?,
    };
    let mut opts = t.options(&target, images.len());
    opts.streaming = i.streaming;
    opts.images_source = source;
    Ok(whittle::firmware::run(blob, &images, &opts)?)
}

/// The images `i` names, quantized for `model`, and what they are ("cifar10-test",
/// "synthetic-12345": a report's `images_source`).
pub fn load_images(i: &ImageArgs, model: &Model) -> anyhow::Result<(Vec<LabeledImage>, String)> {
    let input = model.input()?;
    let range = model.meta().input_range;
    if i.synthetic {
        let images = synth::calibration_images(input.shape, i.images, SYNTHETIC_SEED)
            .into_iter()
            .map(|pixels| LabeledImage { label: 0, pixels })
            .collect();
        return Ok((images, format!("synthetic-{SYNTHETIC_SEED}")));
    }
    let dir = &super::data::data_dir(i.data.as_deref(), None, DatasetKind::Cifar10)?;
    let test = load_test(dir, DatasetKind::Cifar10)
        .with_context(|| format!("reading the CIFAR-10 test set under {}", dir.display()))?;
    let n = i.images.min(test.len());
    let images = (0..n)
        .map(|k| {
            let pixels = quantize_chw(test.image(k), &input, range).with_context(|| {
                format!(
                    "model input {}x{}x{} is not a CIFAR image",
                    input.shape.c, input.shape.h, input.shape.w
                )
            })?;
            Ok(LabeledImage {
                label: test.labels[k],
                pixels,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok((images, "cifar10-test".to_string()))
}

fn print_table(r: &RunReport, all_images: bool) {
    println!("machine      {} ({})", r.machine, r.chip);
    println!(
        "images       {} {}, {}   accuracy {:.2}% ({} correct; host simulation {} correct)",
        r.images,
        r.images_source,
        if r.streamed {
            "streamed over semihosting"
        } else {
            "baked into flash"
        },
        100.0 * r.accuracy,
        r.correct,
        r.host_correct
    );
    println!(
        "host match   {} ({} mismatches)",
        if r.host_matches { "yes" } else { "NO" },
        r.mismatches
    );
    println!("MACs         {}", r.macs);
    println!(
        "instructions {} per inference, {:.2} per MAC (QEMU -icount: instructions, not cycles); {:.1} ms at {} MHz, one per cycle",
        r.instructions_per_inference,
        r.instructions_per_mac,
        r.ms_at_one_per_cycle,
        r.chip_clock_hz / 1_000_000
    );
    println!(
        "flash        {} B (blob {} B, code+const {} B)   static RAM {} B   stack peak {} B   arena {} B + scratch {} B",
        r.flash_bytes,
        r.blob_bytes,
        r.flash_bytes.saturating_sub(r.blob_bytes),
        r.static_ram_bytes,
        r.stack_peak_bytes,
        r.arena_bytes,
        r.scratch_bytes
    );
    println!(
        "{:>3} {:<10} {:>12} {:>10} {:>8}",
        "#", "op", "instr", "MACs", "instr/MAC"
    );
    for l in &r.per_layer {
        let ipm = l
            .instructions_per_mac
            .map_or(String::from("-"), |v| format!("{v:.2}"));
        println!(
            "{:>3} {:<10} {:>12} {:>10} {:>8}",
            l.index, l.op, l.instructions, l.macs, ipm
        );
    }
    println!(
        "{:>3} {:>5} {:>5} {:>9} {:>5} {:>9} {:>12}",
        "img", "label", "pred", "crc", "host", "host crc", "instr"
    );
    let shown = r
        .per_image
        .iter()
        .enumerate()
        .filter(|(k, i)| all_images || *k < 20 || !i.matches);
    for (_, i) in shown {
        println!(
            "{:>3} {:>5} {:>5} {:>9} {:>5} {:>9} {:>12}{}",
            i.index,
            i.label,
            i.pred,
            i.crc,
            i.host_pred,
            i.host_crc,
            i.instructions,
            if i.matches { "" } else { "  MISMATCH" }
        );
    }
    if !all_images && r.per_image.len() > 20 {
        println!(
            "... {} more images (--all-images lists them)",
            r.per_image.len() - 20
        );
    }
    println!(
        "wall time    {:.1} s in all, {:.1} s of it in QEMU",
        r.total_wall_s, r.qemu_wall_s
    );
}
