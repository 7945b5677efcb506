//! Checkpoints: weights + optimizer state + progress (epoch, seed, history) + spec in
//! `checkpoint/`, replaced as a whole directory so a crash never leaves a mixed or bad one.

use std::fs;
use std::path::{Path, PathBuf};

use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::config::TrainConfig;
use super::error::TrainError;
use super::history::History;
use super::run_dir::{RunDir, TMP_SUFFIX, read_json, write_atomic, write_json};
use crate::graph::Graph;
use crate::nn::Net;

/// Progress saved with a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Epochs completed.
    pub epochs_done: usize,
    /// Optimizer steps taken.
    pub steps: u64,
    /// The run's seed (every epoch's randomness derives from it and the epoch number).
    pub seed: u64,
    /// History up to `epochs_done`.
    pub history: History,
}

/// A loaded checkpoint.
pub struct Checkpoint {
    /// The architecture.
    pub spec: Graph,
    /// The settings.
    pub config: TrainConfig,
    /// The net, on the training device.
    pub net: Net,
    /// The optimizer with its state.
    pub optim: ModuleOptimizer,
    /// Where training stands.
    pub progress: Progress,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn prev_dir(run: &RunDir) -> PathBuf {
    run.root().join("checkpoint.prev")
}

/// The checkpoint directory to read: `checkpoint/`, or `checkpoint.prev/` if a crash hit
/// between the two renames of [`save`].
pub fn find(run: &RunDir) -> Option<PathBuf> {
    [run.checkpoint_dir(), prev_dir(run)]
        .into_iter()
        .find(|d| d.join("progress.json").is_file())
}

/// Write a checkpoint: fill `checkpoint.whittle.tmp/`, then swap it in for `checkpoint/`.
pub fn save(
    run: &RunDir,
    spec: &Graph,
    config: &TrainConfig,
    net: &Net,
    optim: &ModuleOptimizer,
    progress: &Progress,
) -> Result<(), TrainError> {
    let tmp = run.root().join(format!("checkpoint.{TMP_SUFFIX}"));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    net.save(&tmp.join("model.bpk"))?;
    let opath = tmp.join("optim.bpk");
    optim.save(&opath).map_err(|source| TrainError::Optimizer {
        path: opath.clone(),
        source,
    })?;
    write_atomic(&tmp.join("spec.json"), spec.to_json().as_bytes())?;
    write_json(&tmp.join("train.json"), config)?;
    // progress.json last: its presence marks a complete checkpoint.
    write_json(&tmp.join("progress.json"), progress)?;
    let cur = run.checkpoint_dir();
    let prev = prev_dir(run);
    if prev.exists() {
        fs::remove_dir_all(&prev).map_err(io(&prev))?;
    }
    if cur.exists() {
        fs::rename(&cur, &prev).map_err(io(&cur))?;
    }
    fs::rename(&tmp, &cur).map_err(io(&cur))?;
    if prev.exists() {
        fs::remove_dir_all(&prev).map_err(io(&prev))?;
    }
    Ok(())
}

/// Load the run's checkpoint onto `device` (an autodiff device), with `optim` as the
/// (fresh) optimizer to restore state into.
pub fn load(
    run: &RunDir,
    device: &Device,
    optim: ModuleOptimizer,
) -> Result<Checkpoint, TrainError> {
    let dir = find(run).ok_or_else(|| TrainError::NoCheckpoint {
        dir: run.root().to_path_buf(),
    })?;
    let config: TrainConfig = read_json(&dir.join("train.json"))?;
    let progress: Progress = read_json(&dir.join("progress.json"))?;
    let (spec, net) =
        super::run_dir::load_net(&dir.join("spec.json"), &dir.join("model.bpk"), device)?;
    let opath = dir.join("optim.bpk");
    let optim = optim.load(&opath).map_err(|source| TrainError::Optimizer {
        path: opath.clone(),
        source,
    })?;
    Ok(Checkpoint {
        spec,
        config,
        net,
        optim,
        progress,
    })
}
