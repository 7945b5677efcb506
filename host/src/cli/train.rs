//! `whittle train`: build the spec, load and split the data, train (or resume) into a run
//! directory, printing one line per epoch.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use whittle::data::{self, DEFAULT_SPLIT_SEED, DEFAULT_VAL, DatasetKind, SplitOptions};
use whittle::graph::{self, Graph, Op};
use whittle::nn::Group;
use whittle::train::{self, EpochRecord, LrSchedule, RunDir, RunOptions, TrainConfig};

/// Defaults are the seed article's recipe: Adam 1e-3, batch 32, L2 2.5e-6, L1 1.25e-6.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// A preset (seed-c10, seed-c100) or a spec.json file.
    #[arg(long, default_value = "seed-c10")]
    arch: String,
    /// Total epochs (with --resume: train on up to this many; default: as stored).
    #[arg(long)]
    epochs: Option<usize>,
    /// Run directory (spec.json, train.json, history.json, model.bpk, checkpoint/).
    #[arg(long)]
    out: PathBuf,
    /// Data directory: contains cifar-10-batches-bin/ (or cifar-100-binary/), or is it
    /// (default: WHITTLE_DATA, else the per-user cache; see `whittle data fetch`).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Train on the first N training images only (smoke runs).
    #[arg(long)]
    limit: Option<usize>,
    /// Validation images held out of the training files.
    #[arg(long, default_value_t = DEFAULT_VAL)]
    val: usize,
    /// Seed of the validation hold-out (keep it fixed across runs you compare).
    #[arg(long, default_value_t = DEFAULT_SPLIT_SEED)]
    split_seed: u64,
    /// Batch size.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Adam beta1.
    #[arg(long, default_value_t = 0.9)]
    beta1: f32,
    /// Adam beta2.
    #[arg(long, default_value_t = 0.999)]
    beta2: f32,
    /// L1 penalty on conv/dense kernels (not masks, not biases).
    #[arg(long, default_value_t = 1.25e-6)]
    l1: f64,
    /// L2 penalty on conv/dense kernels (not masks, not biases).
    #[arg(long, default_value_t = 2.5e-6)]
    l2: f64,
    /// Override every Dropout layer's rate.
    #[arg(long)]
    dropout: Option<f64>,
    /// Which parameters to train: all, weights or masks.
    #[arg(long, default_value = "all", value_parser = parse_group)]
    train_group: Group,
    /// Seed of initialization, shuffles, dropout and augmentation.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Random crop (4 px padding) + horizontal flip.
    #[arg(long)]
    augment: bool,
    /// Learning-rate schedule (cosine: decays to 0 over --epochs).
    #[arg(long, value_enum, default_value_t = LrSchedule::Constant)]
    schedule: LrSchedule,
    /// Continue the run in --out from its checkpoint (its train.json settings apply).
    #[arg(long)]
    resume: bool,
    /// Compute backend.
    #[arg(long, default_value = "flex")]
    backend: String,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

fn parse_group(s: &str) -> Result<Group, String> {
    match s {
        "all" => Ok(Group::All),
        "weights" => Ok(Group::Weights),
        "masks" => Ok(Group::Masks),
        _ => Err(format!("`{s}`: expected all, weights or masks")),
    }
}

fn load_spec(arch: &str) -> anyhow::Result<Graph> {
    graph::resolve(arch).with_context(|| format!("loading architecture {arch}"))
}

fn print_epoch(total: usize) -> impl FnMut(&EpochRecord) {
    move |r: &EpochRecord| {
        eprintln!(
            "epoch {}/{}: train loss {:.4} acc {:.2}% penalty {:.4} | val loss {:.4} acc {:.2}% | {:.0} img/s, {:.0} s",
            r.epoch,
            total,
            r.train_loss,
            100.0 * r.train_acc,
            r.penalty,
            r.val_loss,
            100.0 * r.val_acc,
            r.images_per_sec,
            r.train_seconds
        );
    }
}

fn data_base(
    given: Option<&Path>,
    stored: Option<&Path>,
    kind: DatasetKind,
) -> anyhow::Result<PathBuf> {
    let base = super::data::data_dir(given, stored, kind)?;
    Ok(std::fs::canonicalize(&base).unwrap_or(base))
}

/// Run `whittle train`.
pub fn run(a: TrainArgs) -> anyhow::Result<()> {
    let device = whittle::device::device(&a.backend)?;
    let run = RunDir::new(&a.out);
    let opts = RunOptions { progress: !a.quiet };
    if a.resume {
        let config = run
            .config()
            .context("--resume needs the run's train.json")?;
        let base = data_base(
            a.data.as_deref(),
            config.data_dir.as_deref(),
            config.dataset,
        )?;
        let splits = data::load_splits(&base, config.dataset, &config.split)?;
        let total = a.epochs.unwrap_or(config.epochs);
        eprintln!(
            "resuming {} ({} train / {} val images) up to epoch {total}",
            a.out.display(),
            splits.train.len(),
            splits.val.len()
        );
        let h = train::resume(
            &run,
            a.epochs,
            &splits,
            &device,
            opts,
            &mut print_epoch(total),
        )?;
        report(&h);
        return Ok(());
    }

    // Refuse before spending seconds on loading data.
    if train::checkpoint::find(&run).is_some() {
        return Err(train::TrainError::RunExists { dir: a.out.clone() }.into());
    }
    let mut spec = load_spec(&a.arch)?;
    if let Some(p) = a.dropout {
        for n in &mut spec.nodes {
            if let Op::Dropout(d) = &mut n.op {
                d.p = p;
            }
        }
    }
    let kind = DatasetKind::for_classes(spec.classes)
        .with_context(|| format!("no CIFAR dataset has {} classes", spec.classes))?;
    let base = data_base(a.data.as_deref(), None, kind)?;
    let split = SplitOptions {
        val: a.val,
        split_seed: a.split_seed,
        limit: a.limit,
    };
    let config = TrainConfig {
        dataset: kind,
        data_dir: Some(base.clone()),
        epochs: a.epochs.unwrap_or(TrainConfig::default().epochs),
        batch_size: a.batch,
        lr: a.lr,
        beta1: a.beta1,
        beta2: a.beta2,
        l1: a.l1,
        l2: a.l2,
        seed: a.seed,
        augment: a.augment,
        lr_schedule: a.schedule,
        split,
        train_group: a.train_group,
        ..TrainConfig::default()
    };
    let splits = data::load_splits(&base, kind, &split)?;
    eprintln!(
        "training {} ({} weights, {} MACs) on {} train / {} val images, {} epochs, seed {}",
        spec.name,
        spec.num_weights()?,
        spec.macs()?,
        splits.train.len(),
        splits.val.len(),
        config.epochs,
        config.seed
    );
    let h = train::train(
        &run,
        &spec,
        &config,
        &splits,
        &device,
        opts,
        &mut print_epoch(config.epochs),
    )?;
    report(&h);
    Ok(())
}

fn report(h: &train::History) {
    if let (Some(e), Some(acc)) = (h.best_epoch, h.best_val_acc) {
        eprintln!("best validation accuracy {:.2}% at epoch {e}", 100.0 * acc);
    }
}
