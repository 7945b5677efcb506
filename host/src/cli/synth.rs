//! `whittle synth`: writes a random-weight int8 blob of a preset architecture (seeded, at
//! a width), built through the same fold and lowering as a trained net, for firmware tests
//! and benchmarks.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use whittle::synth::{self, Arch};

/// Arguments of `whittle synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Architecture.
    #[arg(long, value_enum, default_value = "seed-c10")]
    arch: Arch,
    /// Scale every prunable channel group's width by this factor (0.5: the half-width net).
    #[arg(long, default_value_t = 1.0)]
    width: f32,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where to write the blob.
    #[arg(long)]
    out: PathBuf,
}

/// Builds the blob and writes it.
pub fn run(a: SynthArgs) -> anyhow::Result<()> {
    let blob = synth::build_arch(a.arch, a.width, a.seed)?;
    std::fs::write(&a.out, &blob).with_context(|| format!("writing {}", a.out.display()))?;
    println!("{}: {} bytes", a.out.display(), blob.len());
    Ok(())
}
