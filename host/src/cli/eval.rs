//! `whittle eval`: accuracy of a run's weights on its validation split or the test set.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use whittle::train::{self, EvalSplit, Weights};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SplitArg {
    Val,
    Test,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum WeightsArg {
    Final,
    Best,
}

/// Arguments of `whittle eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The run directory.
    run: PathBuf,
    /// Which images: the validation hold-out or the test set.
    #[arg(long, value_enum, default_value = "val")]
    split: SplitArg,
    /// Which weights: after the last epoch or at the best validation accuracy.
    #[arg(long, value_enum, default_value = "final")]
    weights: WeightsArg,
    /// Data directory (default: WHITTLE_DATA, the one stored in train.json, the cache).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Compute backend.
    #[arg(long, default_value = "flex")]
    backend: String,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Run `whittle eval`.
pub fn run(a: EvalArgs) -> anyhow::Result<()> {
    let device = whittle::device::device(&a.backend)?;
    let split = match a.split {
        SplitArg::Val => EvalSplit::Val,
        SplitArg::Test => EvalSplit::Test,
    };
    let weights = match a.weights {
        WeightsArg::Final => Weights::Final,
        WeightsArg::Best => Weights::Best,
    };
    let data = super::data::run_data_dir(a.data.as_deref(), &a.run)?;
    let e = train::evaluate_run(&a.run, weights, split, Some(&data), &device)?;
    if a.json {
        println!("{}", serde_json::to_string(&e)?);
    } else {
        println!(
            "{} {:?} {:?}: accuracy {:.2}% ({} images), loss {:.4}",
            a.run.display(),
            weights,
            split,
            100.0 * e.accuracy,
            e.images,
            e.loss
        );
    }
    Ok(())
}
