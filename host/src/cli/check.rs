//! `whittle check BLOB --baseline REPORT.json`: runs the blob in QEMU on the baseline's images
//! and target, and fails when instructions, flash, RAM or stack grew or any output changed.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

use whittle::firmware::check::{self, CheckError};

use super::run::{ImageArgs, TargetArgs, run_blob};

/// Arguments of `whittle check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The int8 blob (`.whittle`).
    model: PathBuf,
    /// The report to compare with (`whittle run --json` output, or an earlier `--update`).
    #[arg(long)]
    baseline: PathBuf,
    /// Write this run's report as the new baseline (and pass); the first run needs it.
    #[arg(long)]
    update: bool,
    #[command(flatten)]
    target: TargetArgs,
    /// With --update: which images (default: the baseline's, or 10 CIFAR-10 test images).
    #[command(flatten)]
    images: ImageArgs,
}

/// Runs the check; an error (non-zero exit) when it fails.
pub fn run(mut a: CheckArgs) -> anyhow::Result<()> {
    let blob = std::fs::read(&a.model).with_context(|| format!("reading {}", a.model.display()))?;
    let baseline = match check::read_baseline(&a.baseline) {
        Ok(b) => Some(b),
        Err(CheckError::Read { source, .. })
            if a.update && source.kind() == std::io::ErrorKind::NotFound =>
        {
            None
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(b) = &baseline {
        // Make the baseline's run again, unless flags say otherwise for a new baseline.
        if !a.update {
            a.images.images = b.images;
            a.images.synthetic = b.images_source.starts_with("synthetic");
            if a.images.synthetic {
                a.images.data = None;
            }
            if a.target.machine.is_none() {
                a.target.machine = Some(b.machine);
            }
            if a.target.chip.is_none() && !b.chip_name.is_empty() {
                a.target.chip = Some(b.chip_name.clone());
            }
        }
    }
    let now = run_blob(&blob, &a.model, &a.target, &a.images)?;
    if a.update {
        if now.mismatches > 0 {
            bail!(
                "not recording a baseline: firmware and host simulation disagree on {} of {} images",
                now.mismatches,
                now.images
            );
        }
        check::write_baseline(&a.baseline, &now)?;
        println!(
            "baseline {} written: {} images ({}) on {}, {} instructions/inference, flash {} B, static RAM {} B, stack {} B",
            a.baseline.display(),
            now.images,
            now.images_source,
            now.machine,
            now.instructions_per_inference,
            now.flash_bytes,
            now.static_ram_bytes,
            now.stack_peak_bytes
        );
        return Ok(());
    }
    let Some(baseline) = baseline else {
        bail!("no baseline at {}", a.baseline.display());
    };
    let verdict = check::compare(&baseline, &now)?;
    print!("{}", verdict.render());
    if !verdict.passed() {
        bail!(
            "{} regressed against {}",
            a.model.display(),
            a.baseline.display()
        );
    }
    Ok(())
}
