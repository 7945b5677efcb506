//! `TrainConfig`: every setting of a training run, stored as `train.json` in the run
//! directory so `--resume` and `eval` see exactly what the run used.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::distill::Distill;
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
    /// How the learning rate moves over the run (older `train.json` files: constant).
    #[serde(default)]
    pub lr_schedule: LrSchedule,
    /// Validation hold-out and `--limit`.
    pub split: SplitOptions,
    /// Which parameters the optimizer updates.
    pub train_group: Group,
    /// Batch size of validation passes.
    pub eval_batch_size: usize,
    /// Distill from a teacher run while training (older `train.json` files: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distill: Option<Distill>,
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
            lr_schedule: LrSchedule::Constant,
            split: SplitOptions::default(),
            train_group: Group::All,
            eval_batch_size: 256,
            distill: None,
        }
    }
}

/// The learning rate over a run of `epochs` epochs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum LrSchedule {
    /// `lr` at every step.
    #[default]
    Constant,
    /// Cosine decay from `lr` at the first step to 0 after the last (per step).
    Cosine,
}

impl TrainConfig {
    /// The learning rate of step `step` (0-based, counted over the whole run) of a run with
    /// `steps_per_epoch` steps per epoch.
    pub fn lr_at(&self, step: usize, steps_per_epoch: usize) -> f64 {
        match self.lr_schedule {
            LrSchedule::Constant => self.lr,
            LrSchedule::Cosine => {
                let total = (self.epochs * steps_per_epoch).max(1) as f64;
                let t = (step as f64 / total).min(1.0);
                self.lr * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }

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
        if let Some(d) = &self.distill {
            d.check()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_decays_from_lr_to_zero_over_the_run() {
        let c = TrainConfig {
            epochs: 4,
            lr: 0.1,
            lr_schedule: LrSchedule::Cosine,
            ..TrainConfig::default()
        };
        assert_eq!(c.lr_at(0, 10), 0.1);
        assert!((c.lr_at(20, 10) - 0.05).abs() < 1e-12, "half-way is lr/2");
        assert!(c.lr_at(39, 10) < 1e-3 && c.lr_at(39, 10) > 0.0);
        assert_eq!(c.lr_at(40, 10), 0.0);
        assert!(c.lr_at(10, 10) > c.lr_at(11, 10), "decreasing");
        let flat = TrainConfig {
            lr_schedule: LrSchedule::Constant,
            ..c
        };
        assert_eq!(flat.lr_at(39, 10), 0.1);
    }

    #[test]
    fn older_train_json_without_a_schedule_is_constant() {
        let mut v = serde_json::to_value(TrainConfig::default()).expect("serializes");
        v.as_object_mut().expect("object").remove("lr_schedule");
        let c: TrainConfig = serde_json::from_value(v).expect("parses");
        assert_eq!(c.lr_schedule, LrSchedule::Constant);
    }
}
