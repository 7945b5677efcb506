//! `whittle run`: builds the firmware for a blob, runs it in QEMU on CIFAR-10 test images,
//! prints accuracy, instructions, flash, RAM and stack, and checks it against the host.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use whittle::data::{DatasetKind, load_test};
use whittle::firmware::input::quantize_chw;
use whittle::firmware::{LabeledImage, Machine, RunOptions, RunReport};
use whittle::synth;
use whittle_shared::Model;
use whittle_shared::encode::AlignedBytes;

/// Arguments of `whittle run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The int8 blob (`.whittle`).
    model: PathBuf,
    /// Machine to run on.
    #[arg(long, value_enum, default_value = "mps2-an386")]
    machine: Machine,
    /// Number of CIFAR-10 test images (the first N).
    #[arg(long, default_value_t = 10)]
    images: usize,
    /// Folder holding `cifar-10-batches-bin/` (or that folder itself; default: WHITTLE_DATA,
    /// else the per-user cache).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Use seeded synthetic patterns instead of CIFAR-10 (no data needed; labels are 0).
    #[arg(long, conflicts_with = "data")]
    synthetic: bool,
    /// Write the full report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Kill QEMU after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// The firmware crate (default: firmware/ of this checkout; env WHITTLE_FIRMWARE_DIR).
    #[arg(long)]
    firmware: Option<PathBuf>,
}

/// Loads the images, runs the pipeline, prints and saves the report.
pub fn run(a: RunArgs) -> anyhow::Result<()> {
    let blob = std::fs::read(&a.model).with_context(|| format!("reading {}", a.model.display()))?;
    let aligned = AlignedBytes::new(&blob);
    let images = match Model::from_bytes(&aligned) {
        // A malformed blob still goes to the firmware, which must refuse it too.
        Err(e) => {
            eprintln!(
                "warning: {} is not a valid blob ({e}); running the firmware anyway",
                a.model.display()
            );
            Vec::new()
        }
        Ok(model) => load_images(&a, &model)?,
    };
    let mut opts = RunOptions::new(a.machine);
    opts.timeout = Duration::from_secs(a.timeout);
    if let Some(dir) = &a.firmware {
        opts.firmware_dir = dir.clone();
    }
    let report = whittle::firmware::run(&blob, &images, &opts)?;
    print_table(&report);
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

fn load_images(a: &RunArgs, model: &Model) -> anyhow::Result<Vec<LabeledImage>> {
    let input = model.input()?;
    if a.synthetic {
        return Ok(synth::calibration_images(input.shape, a.images, 12345)
            .into_iter()
            .map(|pixels| LabeledImage { label: 0, pixels })
            .collect());
    }
    let dir = &super::data::data_dir(a.data.as_deref(), None, DatasetKind::Cifar10)?;
    let test = load_test(dir, DatasetKind::Cifar10)
        .with_context(|| format!("reading the CIFAR-10 test set under {}", dir.display()))?;
    let n = a.images.min(test.len());
    (0..n)
        .map(|i| {
            let pixels = quantize_chw(test.image(i), &input).with_context(|| {
                format!(
                    "model input {}x{}x{} is not a CIFAR image",
                    input.shape.c, input.shape.h, input.shape.w
                )
            })?;
            Ok(LabeledImage {
                label: test.labels[i],
                pixels,
            })
        })
        .collect()
}

fn print_table(r: &RunReport) {
    println!("machine      {} ({})", r.machine, r.chip);
    println!(
        "images       {}   accuracy {:.1}% ({} correct)",
        r.images,
        100.0 * r.accuracy,
        r.correct
    );
    println!(
        "host match   {} ({} mismatches)",
        if r.host_matches { "yes" } else { "NO" },
        r.mismatches
    );
    println!("MACs         {}", r.macs);
    println!(
        "instructions {} per inference, {:.2} per MAC (QEMU -icount: instructions, not cycles)",
        r.instructions_per_inference, r.instructions_per_mac
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
    for i in &r.per_image {
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
}
