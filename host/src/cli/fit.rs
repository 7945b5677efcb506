//! `whittle fit MODEL --chip X`: whether a blob fits a chip's flash and RAM (and a time budget
//! at its clock), by how much, and a per-layer table of where instructions, flash, RAM go.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

use whittle::firmware::builder::{BuildError, human};
use whittle::firmware::fit::{self, Budget, FitReport};
use whittle::firmware::{RunError, Target};

use super::run::{ImageArgs, TargetArgs, run_blob};

/// Arguments of `whittle fit`.
#[derive(Debug, Args)]
pub struct FitArgs {
    /// The int8 blob (`.whittle`).
    model: PathBuf,
    /// Measure instructions, flash, RAM and stack by running the blob in QEMU on the
    /// machine emulating the chip's core (otherwise: estimates, instructions unknown).
    #[arg(long)]
    measure: bool,
    /// Latency budget in milliseconds at the chip's clock (at the core's assumed cycles per
    /// instruction, 1.0 until measured on silicon).
    #[arg(long)]
    max_ms: Option<f64>,
    /// Write the assessment as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    #[command(flatten)]
    target: TargetArgs,
    /// With --measure: the images to run.
    #[command(flatten)]
    images: ImageArgs,
}

/// Prints the assessment; an error (non-zero exit) when the model does not fit.
pub fn run(a: FitArgs) -> anyhow::Result<()> {
    if a.target.chip.is_none() {
        bail!("name the chip: --chip STM32F405 (the table is in docs/FIRMWARE.md)");
    }
    let blob = std::fs::read(&a.model).with_context(|| format!("reading {}", a.model.display()))?;
    let target = a.target.target()?;
    let mut measured = None;
    if a.measure {
        match run_blob(&blob, &a.model, &a.target, &a.images) {
            Ok(r) => measured = Some(r),
            // Too big to build: the estimates below say by how much.
            Err(e) => match e.downcast_ref::<RunError>() {
                Some(RunError::Build(b @ BuildError::DoesNotFit { .. })) => {
                    println!("cannot measure: {b}");
                }
                _ => return Err(e),
            },
        }
    }
    let r = fit::assess(
        &blob,
        &target,
        measured.as_ref(),
        Some(&fit::CostModel),
        a.max_ms,
    )?;
    print_report(&r, &target);
    if let Some(path) = &a.json {
        let text = serde_json::to_string_pretty(&r)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    if !r.fits {
        bail!("{} does not fit {}", a.model.display(), r.chip);
    }
    Ok(())
}

fn row(what: &str, b: &Budget) -> String {
    let m = b.margin();
    let verdict = if m >= 0 {
        format!("{} free", human(m as u64))
    } else {
        format!("{} SHORT", human(m.unsigned_abs()))
    };
    format!(
        "{what:<6} {:>11} of {:>9}  {:>5.1}%  {verdict}  ({})",
        human(b.need),
        human(b.have),
        100.0 * b.need as f64 / b.have as f64,
        if b.measured {
            "measured"
        } else {
            "estimated: blob/arena + firmware overhead"
        }
    )
}

fn print_report(r: &FitReport, t: &Target) {
    println!("chip   {} on QEMU {}", r.chip, t.machine);
    println!("{}", row("flash", &r.flash));
    println!("{}", row("RAM", &r.ram));
    println!(
        "       arena {} + scratch {} + firmware statics and stack {}",
        human(r.arena_bytes),
        human(r.scratch_bytes),
        human(r.ram.need.saturating_sub(r.arena_bytes + r.scratch_bytes))
    );
    match (r.instructions, r.ms) {
        (Some(n), Some(ms)) => {
            let budget = r.max_ms.map_or(String::new(), |max| {
                if ms <= max {
                    format!("; budget {max} ms: {:.2} ms to spare", max - ms)
                } else {
                    format!("; budget {max} ms: {:.2} ms OVER", ms - max)
                }
            });
            println!(
                "time   {n} instructions/inference ({}) = {ms:.2} ms at {} MHz, {:.1} cycles per instruction (assumed){budget}",
                r.instructions_source,
                r.clock_hz / 1_000_000,
                r.cycles_per_instruction
            );
        }
        _ => println!("time   {}", r.instructions_source),
    }
    println!(
        "{:>3} {:<10} {:>10} {:>10} {:>10} {:>12} {:>6} {:>12}",
        "#", "op", "MACs", "flash B", "RAM out B", "instr", "instr%", "predicted"
    );
    let total: u64 = r.layers.iter().filter_map(|l| l.instructions).sum();
    for l in &r.layers {
        let (instr, share) = match l.instructions {
            Some(n) if total > 0 => (
                n.to_string(),
                format!("{:.1}", 100.0 * n as f64 / total as f64),
            ),
            _ => ("-".into(), "-".into()),
        };
        let pred = l
            .predicted_instructions
            .map_or_else(|| "-".to_string(), |n| n.to_string());
        println!(
            "{:>3} {:<10} {:>10} {:>10} {:>10} {:>12} {:>6} {:>12}",
            l.index, l.op, l.macs, l.weight_bytes, l.output_bytes, instr, share, pred
        );
    }
    let weights: u64 = r.layers.iter().map(|l| l.weight_bytes).sum();
    println!(
        "    {:<10} {:>10} {:>10}   (code, tensor table, padding)",
        "rest",
        "",
        r.flash.need.saturating_sub(weights)
    );
    let mut why = Vec::new();
    for (what, b) in [("flash", &r.flash), ("RAM", &r.ram)] {
        if !b.fits() {
            why.push(format!("{} {what} short", human(b.margin().unsigned_abs())));
        }
    }
    if let (Some(ms), Some(max)) = (r.ms, r.max_ms)
        && ms > max
    {
        why.push(format!("{:.2} ms over the {max} ms budget", ms - max));
    }
    if why.is_empty() {
        println!("verdict: fits {}", r.chip_name);
    } else {
        println!("verdict: does NOT fit {}: {}", r.chip_name, why.join(", "));
    }
}
