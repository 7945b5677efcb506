//! The narrow trait every pruning method implements (Torch-Pruning's "a method is a small
//! subclass"): what to train when, an extra loss term, hooks after each step and epoch, and
//! the keep plan. Slicing tensors is surgery's job, never a method's.

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::budget::{self, Ranking, Target};
use super::error::PruneError;
use crate::data::Images;
use crate::graph::Graph;
use crate::nn::{GateMode, Net, Trainable};
use crate::plan::KeepPlan;

/// How much to prune.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "kebab-case")]
pub enum Amount {
    /// The learned masks decide (l1/l0 with a fixed λ).
    Learned,
    /// Meet a MAC / parameter / flash budget.
    Target(Target),
    /// Drop this fraction of every prunable group.
    Ratio(f64),
    /// Drop exactly this many channels of every prunable group (at least one survives).
    PerLayer(usize),
    /// Keep exactly this many channels of each prunable group, in group order (the
    /// method still chooses which): a width plan chosen by hand, e.g. wider late stages.
    Widths(Vec<usize>),
}

/// How masks and gates step in the learning phase.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum MaskOptimizer {
    /// Adam at `LearnConfig::mask_lr` on the whole loss, the method's penalty in it.
    Adam,
    /// Adam at `lr` on the task loss alone; the method applies its penalty itself in
    /// [`PruneMethod::after_step`] as a proximal step of size `lr`·λ (outside Adam's
    /// per-parameter normalization, which would make every mask shrink at the same speed).
    ProximalAdam {
        /// Adam learning rate of the masks (and the proximal step's scale).
        lr: f64,
    },
    /// Plain SGD at `lr` on the task loss, the penalty as a proximal step of size `lr`·λ.
    ProximalSgd {
        /// SGD learning rate of the masks.
        lr: f64,
    },
}

impl MaskOptimizer {
    /// The proximal step's learning rate (None: the penalty is in the loss).
    pub fn proximal_lr(self) -> Option<f64> {
        match self {
            Self::Adam => None,
            Self::ProximalAdam { lr } | Self::ProximalSgd { lr } => Some(lr),
        }
    }
}

/// What a keep plan may look at besides the net.
pub struct PlanContext<'a> {
    /// The graph being pruned (the base graph: no gates).
    pub spec: &'a Graph,
    /// How much to prune.
    pub amount: Amount,
    /// Kept counts are multiples of this (or the full width).
    pub round_to: usize,
    /// Calibration images (APoZ).
    pub calib: Option<&'a Images>,
    /// A plain device for calibration passes.
    pub device: &'a Device,
}

/// One report of a learned method (every N penalty steps and at each epoch's end).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MethodLog {
    /// Penalty steps so far (steps of mask/gate phases).
    #[serde(default)]
    pub step: usize,
    /// λ now (before the ramp).
    pub lambda: f64,
    /// λ as the penalty uses it (after the ramp).
    #[serde(default)]
    pub lambda_effective: f64,
    /// Soft channel counts per prunable group: Σ P(gate ≠ 0) (L0) or the live count (L1).
    pub channels: Vec<f64>,
    /// Live channels per prunable group: what the learned plan alone would keep (L1: mask
    /// not snapped / above the threshold; L0: gate not closed and log α ≥ 0). A mask
    /// that shrinks without reaching zero is still live.
    #[serde(default)]
    pub live: Vec<usize>,
    /// MACs of the live channels.
    pub expected_macs: f64,
    /// The budget's cost (MACs, params or bytes) of the live channels, when a target is set.
    pub expected_cost: Option<f64>,
    /// Mask channels snapped to zero so far (L1).
    pub snapped: usize,
    /// Gates closed so far (L0).
    #[serde(default)]
    pub closed: usize,
}

/// A pruning method. Baselines only implement [`name`](Self::name) and
/// [`keep_plan`](Self::keep_plan); learned methods also train (penalty, phases, hooks).
pub trait PruneMethod {
    /// `l1`, `l0`, `first-k`, …
    fn name(&self) -> &'static str;

    /// Epochs of mask/gate learning before the masks are fixed (0: none).
    fn learn_epochs(&self) -> usize {
        0
    }

    /// Prepare the model before learning (insert Gate nodes, project weights); the net it
    /// returns may have a larger graph than the base one.
    fn init(&mut self, model: Net) -> Result<Net, PruneError> {
        Ok(model)
    }

    /// Which parameters epoch `epoch` (0-based) trains.
    fn trainable(&self, _epoch: usize) -> Trainable {
        Trainable::WEIGHTS_MASKS
    }

    /// How gates act while training epoch `epoch`.
    fn gate_mode(&self, _epoch: usize) -> GateMode {
        GateMode::Off
    }

    /// How the masks / gates step (Adam on the loss unless the method says otherwise).
    fn mask_optimizer(&self) -> MaskOptimizer {
        MaskOptimizer::Adam
    }

    /// The method's loss term (added to cross-entropy and the kernels' L1/L2; under
    /// a proximal [`MaskOptimizer`] only reported, the method applying it after the step).
    fn penalty(&self, _model: &Net, _epoch: usize) -> Option<Tensor<1>> {
        None
    }

    /// After every optimizer step (snapping, projections).
    fn after_step(&mut self, model: Net, _epoch: usize) -> Result<Net, PruneError> {
        Ok(model)
    }

    /// After every learning epoch: adapt λ, report expected channels / cost.
    fn on_epoch_end(&mut self, _model: &Net, _epoch: usize) -> Result<MethodLog, PruneError> {
        Ok(MethodLog::default())
    }

    /// A report made by the last [`after_step`](Self::after_step) (the λ controller's
    /// every-N-steps log), taken once.
    fn take_report(&mut self) -> Option<MethodLog> {
        None
    }

    /// The channels that learning itself left alive per prunable group, after
    /// [`finalize`](Self::finalize) (None: the method learns no sparsity). The pipeline
    /// compares it with the keep plan to say how much a final re-rank changed.
    fn learned_keep(&self, _net: &Net) -> Result<Option<Vec<Vec<usize>>>, PruneError> {
        Ok(None)
    }

    /// Fix the masks: the net of the base graph (gates removed again) whose masks the
    /// plan and surgery use.
    fn finalize(&mut self, model: Net) -> Result<Net, PruneError> {
        Ok(model)
    }

    /// Which channels survive.
    fn keep_plan(&self, net: &Net, ctx: &PlanContext) -> Result<KeepPlan, PruneError>;

    /// True when the pruned widths are trained from a fresh init instead of cut (scratch).
    fn trains_from_scratch(&self) -> bool {
        false
    }
}

/// Kept lists from per-channel scores (higher = more important) for `ctx.amount`.
/// `Learned` keeps every channel scored above `-inf`.
pub fn choose(
    ctx: &PlanContext,
    scores: &[Vec<f32>],
    ranking: Ranking,
) -> Result<Vec<Vec<usize>>, PruneError> {
    let r = ctx.round_to.max(1);
    let best = |s: &Vec<f32>, n: usize| -> Vec<usize> {
        let mut idx: Vec<usize> = (0..s.len()).collect();
        idx.sort_by(|&a, &b| s[b].total_cmp(&s[a]).then(a.cmp(&b)));
        let mut keep = idx[..n.min(s.len())].to_vec();
        keep.sort_unstable();
        keep
    };
    let snap = |k: usize, w: usize| (k.div_ceil(r) * r).clamp(1.min(w), w);
    match &ctx.amount {
        &Amount::Target(t) => budget::select(ctx.spec, scores, t, r, ranking),
        &Amount::Ratio(f) => {
            if !(0.0..1.0).contains(&f) {
                return Err(PruneError::Config(format!("ratio {f} not in [0, 1)")));
            }
            Ok(scores
                .iter()
                .map(|s| {
                    best(
                        s,
                        snap(((s.len() as f64) * (1.0 - f)).ceil() as usize, s.len()),
                    )
                })
                .collect())
        }
        &Amount::PerLayer(k) => Ok(scores
            .iter()
            .map(|s| best(s, s.len().saturating_sub(k).max(1)))
            .collect()),
        Amount::Widths(w) => {
            if w.len() != scores.len() {
                return Err(PruneError::Config(format!(
                    "{} widths given for {} prunable groups",
                    w.len(),
                    scores.len()
                )));
            }
            // The i-th prunable group's name, for the error only.
            let name = |i: usize| {
                let groups = ctx.spec.groups().ok()?;
                let mut prunable = groups.all.into_iter().filter(|g| g.prunable());
                prunable.nth(i).map(|g| g.name)
            };
            scores
                .iter()
                .zip(w)
                .enumerate()
                .map(|(i, (s, &n))| {
                    if n == 0 || n > s.len() {
                        let name = name(i).unwrap_or_else(|| "?".into());
                        Err(PruneError::Config(format!(
                            "width {n} for prunable group {i} ({name}) of {} channels (1..={0} allowed)",
                            s.len()
                        )))
                    } else {
                        Ok(best(s, n))
                    }
                })
                .collect()
        }
        Amount::Learned => Ok(scores
            .iter()
            .map(|s| (0..s.len()).filter(|&c| s[c] > f32::NEG_INFINITY).collect())
            .collect()),
    }
}
