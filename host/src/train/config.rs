//! `TrainConfig`: every setting of a training run, stored as `train.json` in the run
//! directory so `--resume` and `eval` see exactly what the run used.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::TrainError;
use crate::data::{DatasetKind, SplitOptions};
use crate::nn::Group;

/// The settings of a training run. Defaults are the seed article's recipe (Adam 1e-3, batch 32, L2 2.5e-6, L1 1.25e-6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Which dataset (from the spec's class count).
    pub dataset: DatasetKind,
    /// Data location as given (`--data` / `WHITTLE_DATA`), if any.
    pub data_dir: Option<PathBuf>,
    /// Epochs to train in total.
    pub epochs: usize,
    /// Images per optimizer step.
    pub batch_size: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Adam β1.
    pub beta1: f32,
    /// Adam β2.
    pub beta2: f32,
    /// Adam ε.
    pub epsilon: f32,
    /// L1 penalty on conv/dense kernels: `l1 * Σ|w|` (masks and biases excluded).
    pub l1: f64,
    /// L2 penalty on conv/dense kernels: `l2 * Σw²` (masks and biases excluded).
    pub l2: f64,
    /// Seed of initialization, shuffles, dropout and augmentation.
    pub seed: u64,
    /// Random crop (4 px padding) + horizontal flip on training images.
    pub augment: bool,
    /// Validation hold-out and `--limit`.
    pub split: SplitOptions,
    /// Which parameters the optimizer updates.
    pub train_group: Group,
    /// Batch size of validation passes.
    pub eval_batch_size: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            dataset: DatasetKind::Cifar10,
            data_dir: None,
            epochs: 200,
            batch_size: 32,
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
            l1: 1.25e-6,
            l2: 2.5e-6,
            seed: 1,
            augment: false,
            split: SplitOptions::default(),
            train_group: Group::All,
            eval_batch_size: 256,
        }
    }
}

impl TrainConfig {
    /// Reject settings that cannot train.
    pub fn check(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Config(m));
        if self.batch_size == 0 || self.eval_batch_size == 0 {
            return bad("batch sizes must be > 0".into());
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad(format!("lr = {} must be > 0", self.lr));
        }
        if !(self.l1 >= 0.0 && self.l2 >= 0.0) {
            return bad(format!("l1 = {}, l2 = {} must be >= 0", self.l1, self.l2));
        }
        if !((0.0..1.0).contains(&self.beta1) && (0.0..1.0).contains(&self.beta2)) {
            return bad(format!(
                "betas ({}, {}) must be in [0, 1)",
                self.beta1, self.beta2
            ));
        }
        Ok(())
    }
}
