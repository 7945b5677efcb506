//! `l1`: group-lasso masks (the seed's easy way) — loss + λ·Σ_l w_l·Σ|m|, optional push-pull
//! phases, snapping (|m| < s → 0, frozen), unit-norm filters, and λ adapted to a budget.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::budget::{Ranking, Target};
use super::error::PruneError;
use super::method::{Amount, MethodLog, PlanContext, PruneMethod, choose};
use super::plan::{KeepPlan, mask_of, mask_values};
use crate::graph::{Graph, Op};
use crate::nn::{NamedTensor, Net, NodeModule, Trainable};
use crate::surgery::fold::{fold_path, scale_source};
use crate::surgery::slice;

/// Alternate training masks only and weights only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushPull {
    /// Epochs training only masks (with the penalty) per cycle.
    pub mask_epochs: usize,
    /// Epochs training only weights per cycle.
    pub weight_epochs: usize,
}

/// Settings of the L1 method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct L1Config {
    /// Penalty weight λ (the start value under a budget).
    pub lambda: f64,
    /// Per-mask multipliers of λ, Mask nodes in graph order (empty: all 1).
    pub layer_lambda: Vec<f64>,
    /// Keep channels with |m| above this.
    pub threshold: f32,
    /// Snap |m| below this to 0 and freeze it (None: no snapping).
    pub snap: Option<f32>,
    /// Push-pull phases (None: masks and weights train together).
    pub push_pull: Option<PushPull>,
    /// Keep every filter at unit L2 norm, its scale moved into the mask (exact).
    pub spherical: bool,
    /// Mask-learning epochs.
    pub epochs: usize,
    /// Adapt λ each epoch until the kept channels' cost meets this.
    pub target: Option<Target>,
    /// λ is multiplied (over target) or divided (under 95% of it) by this each epoch.
    pub lambda_step: f64,
}

impl Default for L1Config {
    fn default() -> Self {
        Self {
            lambda: 1e-4,
            layer_lambda: Vec::new(),
            threshold: 0.075,
            snap: Some(0.075),
            push_pull: None,
            spherical: false,
            epochs: 4,
            target: None,
            lambda_step: 1.5,
        }
    }
}

/// The L1 method's state.
#[derive(Debug, Clone)]
pub struct L1 {
    /// Settings (λ changes under a budget).
    pub config: L1Config,
    spec: Graph,
    /// The Mask nodes of the graph, in order.
    masks: Vec<usize>,
    /// Frozen (snapped) channels per Mask node (in node order).
    pub frozen: Vec<Vec<bool>>,
}

impl L1 {
    /// The method for nets of `spec`.
    pub fn new(spec: &Graph, config: L1Config) -> Self {
        let masks = spec.nodes_where(|o| matches!(o, Op::Mask(_)));
        let frozen = masks
            .iter()
            .map(|&i| vec![false; spec.shape(spec.nodes[i].output).channels()])
            .collect();
        Self {
            config,
            spec: spec.clone(),
            masks,
            frozen,
        }
    }

    fn mult(&self, i: usize) -> f64 {
        self.config.layer_lambda.get(i).copied().unwrap_or(1.0)
    }

    /// Snap small masks to 0, keep frozen ones at 0.
    fn snap(&mut self, mut model: Net) -> Result<Net, PruneError> {
        let snap = self.config.snap;
        for (k, &i) in self.masks.iter().enumerate() {
            let mut v = mask_of(&model, i)?;
            let mut changed = false;
            for (c, x) in v.iter_mut().enumerate() {
                if !x.is_finite() {
                    return Err(PruneError::NonFinite {
                        what: format!("mask `{}` channel {c}", self.spec.nodes[i].name),
                        value: *x,
                        epoch: 0,
                        step: 0,
                    });
                }
                if let Some(s) = snap
                    && x.abs() < s
                {
                    self.frozen[k][c] = true;
                }
                if self.frozen[k][c] && *x != 0.0 {
                    *x = 0.0;
                    changed = true;
                }
            }
            if changed {
                let t = NamedTensor {
                    name: "values".into(),
                    shape: vec![v.len()],
                    values: v,
                };
                model.set_tensor(i, &t)?;
            }
        }
        Ok(model)
    }

    /// Move every producer filter's L2 norm into the mask that folds into it (exact:
    /// relu is positively homogeneous): W/‖W‖, b/‖W‖, m·‖W‖. Masks that follow a
    /// BatchNorm (which normalizes the scale away) or fold nowhere are left alone.
    fn project_unit_norm(&self, mut model: Net) -> Result<Net, PruneError> {
        for &m in &self.masks {
            let Some(path) = fold_path(&self.spec, m) else {
                continue;
            };
            let p = path.source;
            if !matches!(self.spec.nodes[p].op, Op::Conv2d(_) | Op::Dense(_)) {
                continue;
            }
            let Some(axis) = self
                .spec
                .params(p)
                .iter()
                .find(|d| d.name == "weight")
                .and_then(|d| d.out_axis)
            else {
                continue;
            };
            let w = model.tensor(p, "weight")?;
            let len = w.shape[axis];
            let inner: usize = w.shape[axis + 1..].iter().product();
            let mut sq = vec![0f32; len];
            for (k, v) in w.values.iter().enumerate() {
                sq[(k / inner) % len] += v * v;
            }
            let norm: Vec<f32> = sq.iter().map(|s| s.sqrt().max(1e-12)).collect();
            let inv: Vec<f32> = norm.iter().map(|n| 1.0 / n).collect();
            let mut tensors = model.node_tensors(p)?;
            scale_source(&self.spec, p, &mut tensors, &inv);
            for t in &tensors {
                model.set_tensor(p, t)?;
            }
            let mut mv = model.tensor(m, "values")?;
            slice::scale(&mut mv, 0, &norm);
            model.set_tensor(m, &mv)?;
        }
        Ok(model)
    }

    /// Mask values per prunable group (1 where a group has no mask).
    fn masks(&self, net: &Net) -> Result<Vec<Vec<f32>>, PruneError> {
        let widths = self.spec.groups()?.widths();
        Ok(mask_values(&self.spec, net)?
            .into_iter()
            .zip(widths)
            .map(|(m, w)| m.unwrap_or_else(|| vec![1.0; w]))
            .collect())
    }
}

impl PruneMethod for L1 {
    fn name(&self) -> &'static str {
        "l1"
    }

    fn learn_epochs(&self) -> usize {
        self.config.epochs
    }

    fn init(&mut self, model: Net) -> Result<Net, PruneError> {
        let model = if self.config.spherical {
            self.project_unit_norm(model)?
        } else {
            model
        };
        // Masks already below the snap threshold are snapped before the first step.
        self.snap(model)
    }

    fn trainable(&self, epoch: usize) -> Trainable {
        match self.config.push_pull {
            Some(pp) if pp.mask_epochs + pp.weight_epochs > 0 => {
                if epoch % (pp.mask_epochs + pp.weight_epochs) < pp.mask_epochs {
                    Trainable::MASKS
                } else {
                    Trainable::WEIGHTS
                }
            }
            _ => Trainable::WEIGHTS_MASKS,
        }
    }

    fn penalty(&self, model: &Net, epoch: usize) -> Option<Tensor<1>> {
        if !self.trainable(epoch).masks || self.config.lambda == 0.0 {
            return None;
        }
        let mut total: Option<Tensor<1>> = None;
        let mut k = 0;
        for l in &model.nodes {
            if let NodeModule::Mask(m) = l {
                let term = m
                    .values
                    .val()
                    .abs()
                    .sum()
                    .mul_scalar(self.config.lambda * self.mult(k));
                total = Some(match total {
                    Some(t) => t + term,
                    None => term,
                });
                k += 1;
            }
        }
        total
    }

    fn after_step(&mut self, model: Net, epoch: usize) -> Result<Net, PruneError> {
        let t = self.trainable(epoch);
        let model = if self.config.spherical && t.weights {
            self.project_unit_norm(model)?
        } else {
            model
        };
        self.snap(model)
    }

    fn on_epoch_end(&mut self, model: &Net, _epoch: usize) -> Result<MethodLog, PruneError> {
        let masks = self.masks(model)?;
        let th = self.config.threshold;
        // Kept channels, each counted by min(|m|, 1): a fading mask counts partly.
        let channels: Vec<f64> = masks
            .iter()
            .map(|m| {
                m.iter()
                    .filter(|v| v.abs() > th)
                    .map(|v| f64::from(v.abs().min(1.0)))
                    .sum()
            })
            .collect();
        let expected_macs = Target::Macs(0).expected_cost(&self.spec, &channels)?;
        let mut log = MethodLog {
            lambda: self.config.lambda,
            channels: channels.clone(),
            expected_macs,
            expected_cost: None,
            snapped: self.frozen.iter().flatten().filter(|f| **f).count(),
        };
        if let Some(t) = self.config.target {
            let cost = t.expected_cost(&self.spec, &channels)?;
            log.expected_cost = Some(cost);
            let goal = t.value() as f64;
            if cost > goal {
                self.config.lambda *= self.config.lambda_step;
            } else if cost < 0.95 * goal {
                self.config.lambda /= self.config.lambda_step;
            }
        }
        Ok(log)
    }

    fn keep_plan(&self, net: &Net, ctx: &PlanContext) -> Result<KeepPlan, PruneError> {
        let th = self.config.threshold;
        let scores: Vec<Vec<f32>> = self
            .masks(net)?
            .into_iter()
            .map(|m| {
                m.into_iter()
                    .map(|v| match ctx.amount {
                        // Exactly-zero masks compute nothing: never keep them for a budget.
                        Amount::Target(_) if v == 0.0 => f32::NEG_INFINITY,
                        Amount::Target(_) => v.abs(),
                        _ if v.abs() > th => v.abs(),
                        _ => f32::NEG_INFINITY,
                    })
                    .collect()
            })
            .collect();
        KeepPlan::new(
            ctx.spec,
            self.name(),
            choose(ctx, &scores, Ranking::Global)?,
        )
    }
}
