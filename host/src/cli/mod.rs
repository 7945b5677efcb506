//! The clap command tree; one file per subcommand.

mod bench;
mod check;
mod data;
mod demo;
mod eval;
mod experiment;
mod export;
mod fit;
mod import;
mod inspect;
mod prune;
mod run;
mod synth;
mod train;

use clap::{Parser, Subcommand};

/// whittle: prune CIFAR CNN channels with learned masks, quantize, run on Cortex-M.
#[derive(Debug, Parser)]
#[command(name = "whittle", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of its largest variant (`prune`'s flags) costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// The main job: prune the shipped seed-c10 checkpoint with l1 and l0 at two budgets,
    /// export int8 blobs and measure each on a Cortex-M in QEMU (one table, JSON, SVG).
    Demo(demo::DemoArgs),
    /// Train a network (with mask layers) from scratch or resume a run.
    Train(train::TrainArgs),
    /// Evaluate a run's weights on its validation split or the test set.
    Eval(eval::EvalArgs),
    /// Run an int8 blob on Cortex-M in QEMU: accuracy, instructions, flash, RAM, stack.
    Run(run::RunArgs),
    /// CI gate: run a blob in QEMU and fail when it got slower or bigger than a baseline
    /// report, or any output changed (`--update` records the baseline).
    Check(check::CheckArgs),
    /// Does a blob fit a chip (STM32F405, nRF5340, RP2350, ...): flash, RAM, time; per layer.
    Fit(fit::FitArgs),
    /// The article's chart as one command: methods × budgets × seeds, one run directory
    /// per point (`--point K`), resumable; results JSON, CSV and SVG.
    Experiment(experiment::ExperimentArgs),
    /// Prune a trained run (l1, l0, first-k, apoz, l1-norm, scratch), cut, fine-tune.
    Prune(prune::PruneArgs),
    /// Write a random-weight int8 blob of a named architecture (tests, benchmarks).
    Synth(synth::SynthArgs),
    /// Export a trained run as an int8 (calibrated) or f32 blob, or as ONNX.
    Export(export::ExportArgs),
    /// Import an ONNX classifier as a run directory (eval, prune, export read it).
    Import(import::ImportArgs),
    /// Validate a blob and print its layers, parameters, MACs, flash and RAM.
    Inspect(inspect::InspectArgs),
    /// Training and inference images/s (compare with bench/pytorch_seed_c10.py).
    Bench(bench::BenchArgs),
    /// Fetch CIFAR-10/100 from the dataset authors (resumable, checked) or verify a copy.
    Data(data::DataArgs),
}

impl Cli {
    /// Run the chosen subcommand.
    pub fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Demo(a) => demo::run(a),
            Command::Train(a) => train::run(a),
            Command::Eval(a) => eval::run(a),
            Command::Run(a) => run::run(a),
            Command::Check(a) => check::run(a),
            Command::Fit(a) => fit::run(a),
            Command::Synth(a) => synth::run(a),
            Command::Prune(a) => prune::run(a),
            Command::Experiment(a) => experiment::run(a),
            Command::Export(a) => export::run(a),
            Command::Import(a) => import::run(a),
            Command::Inspect(a) => inspect::run(a),
            Command::Bench(a) => bench::run(a),
            Command::Data(a) => data::run(a),
        }
    }
}
