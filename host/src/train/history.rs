//! Per-epoch records of a run (`history.json`), and for a pruned run the learning phase's
//! progress (λ, live cost, live channels, snapped / closed counts).

use serde::{Deserialize, Serialize};

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean cross-entropy over the epoch's training batches.
    pub train_loss: f64,
    /// L1 + L2 penalty at the end of the epoch.
    pub penalty: f64,
    /// Accuracy on the training batches (with dropout/augmentation active).
    pub train_acc: f64,
    /// Mean cross-entropy on the validation set.
    pub val_loss: f64,
    /// Accuracy on the validation set.
    pub val_acc: f64,
    /// Wall time of the training part of the epoch, seconds.
    pub train_seconds: f64,
    /// Training throughput.
    pub images_per_sec: f64,
}

/// One report of a pruning method's learning phase (every N penalty steps, and at the end
/// of each learning epoch).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LearnProgress {
    /// 1-based learning epoch.
    pub epoch: usize,
    /// Penalty steps so far.
    pub step: usize,
    /// λ (before the ramp).
    pub lambda: f64,
    /// λ as applied (after the ramp).
    pub lambda_effective: f64,
    /// The budget's cost of the live channels (None without a budget).
    pub expected_cost: Option<f64>,
    /// MACs of the live channels.
    pub expected_macs: f64,
    /// Live channels per prunable group.
    pub live: Vec<usize>,
    /// Mask channels snapped to zero (L1).
    pub snapped: usize,
    /// Gates closed (L0).
    pub closed: usize,
}

/// All epochs so far, and the best by validation accuracy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One record per completed epoch.
    pub epochs: Vec<EpochRecord>,
    /// Epoch with the best validation accuracy (its weights are `best.bpk`).
    pub best_epoch: Option<usize>,
    /// That accuracy.
    pub best_val_acc: Option<f64>,
    /// A pruned run's learning phase before these epochs (empty for other runs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub learn: Vec<LearnProgress>,
}

impl History {
    /// Append an epoch; returns true when it is the new best.
    pub fn push(&mut self, rec: EpochRecord) -> bool {
        let better = self.best_val_acc.is_none_or(|b| rec.val_acc > b);
        if better {
            self.best_epoch = Some(rec.epoch);
            self.best_val_acc = Some(rec.val_acc);
        }
        self.epochs.push(rec);
        better
    }
}
