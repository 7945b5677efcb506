//! `l1`: group-lasso masks (the seed's easy way) — loss + λ·Σ_l w_l·Σ|m|, optional push-pull
//! phases, snapping (|m| < s → 0, frozen), unit-norm filters, and λ adapted to a budget.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::budget::{Ranking, Target};
use super::error::PruneError;
use super::gated::{GatedNet, Trainable};
use super::method::{Amount, MethodLog, PlanContext, PruneMethod, choose};
use super::plan::KeepPlan;
use crate::arch::ArchSpec;
use crate::nn::{Layer, NamedTensor, Net};
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
    /// Per-layer multipliers of λ (empty: all 1).
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
    spec: ArchSpec,
    /// Frozen (snapped) channels per mask.
    pub frozen: Vec<Vec<bool>>,
}

impl L1 {
    /// The method for nets of `spec`.
    pub fn new(spec: &ArchSpec, config: L1Config) -> Self {
        let frozen = spec
            .mask_layers()
            .iter()
            .map(|&i| vec![false; mask_width(spec, i)])
            .collect();
        Self {
            config,
            spec: spec.clone(),
            frozen,
        }
    }

    fn mult(&self, i: usize) -> f64 {
        self.config.layer_lambda.get(i).copied().unwrap_or(1.0)
    }

    /// Snap small masks to 0, keep frozen ones at 0.
    fn snap(&mut self, mut model: GatedNet) -> Result<GatedNet, PruneError> {
        let snap = self.config.snap;
        let masks = self.spec.mask_layers();
        for (k, &i) in masks.iter().enumerate() {
            let Some(Layer::Mask(m)) = model.net.layers.get(i) else {
                continue;
            };
            let mut v = m
                .values
                .val()
                .into_data()
                .try_to_vec::<f32>()
                .map_err(|e| PruneError::Graph {
                    layer: i,
                    what: format!("{e:?}"),
                })?;
            let mut changed = false;
            for (c, x) in v.iter_mut().enumerate() {
                if !x.is_finite() {
                    return Err(PruneError::NonFinite {
                        what: format!("mask {i} channel {c}"),
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
                model.net.set_tensor(i, &t)?;
            }
        }
        Ok(model)
    }

    /// Move every producer filter's L2 norm into its mask: W/‖W‖, b/‖W‖, m·‖W‖.
    fn project_unit_norm(&self, mut model: GatedNet) -> Result<GatedNet, PruneError> {
        let groups = super::graph::groups(&self.spec)?;
        let lw = model.net.layer_weights()?;
        for g in &groups {
            let (Some(&m), Some(&p)) = (g.masks.first(), g.producers.first()) else {
                continue;
            };
            let (Some(w), Some(b), Some(mv)) =
                (lw[p].get("weight"), lw[p].get("bias"), lw[m].get("values"))
            else {
                continue;
            };
            let axis = slice::out_axis(lw[p].kind, "weight");
            let len = w.shape[axis];
            let inner: usize = w.shape[axis + 1..].iter().product();
            let mut sq = vec![0f32; len];
            for (k, v) in w.values.iter().enumerate() {
                sq[(k / inner) % len] += v * v;
            }
            let norm: Vec<f32> = sq.iter().map(|s| s.sqrt().max(1e-12)).collect();
            let inv: Vec<f32> = norm.iter().map(|n| 1.0 / n).collect();
            let (mut w, mut b, mut mv) = (w.clone(), b.clone(), mv.clone());
            slice::scale(&mut w, axis, &inv);
            slice::scale(&mut b, 0, &inv);
            slice::scale(&mut mv, 0, &norm);
            model.net.set_tensor(p, &w)?;
            model.net.set_tensor(p, &b)?;
            model.net.set_tensor(m, &mv)?;
        }
        Ok(model)
    }

    /// Mask values per Mask layer.
    fn masks(&self, net: &Net) -> Result<Vec<Vec<f32>>, PruneError> {
        Ok(super::plan::mask_values(&self.spec, net)?
            .into_iter()
            .zip(self.spec.widths())
            .map(|(m, w)| m.unwrap_or_else(|| vec![1.0; w]))
            .collect())
    }
}

fn mask_width(spec: &ArchSpec, i: usize) -> usize {
    spec.layer_info()
        .ok()
        .and_then(|info| info.get(i).map(|l| l.output.channels()))
        .unwrap_or(0)
}

impl PruneMethod for L1 {
    fn name(&self) -> &'static str {
        "l1"
    }

    fn learn_epochs(&self) -> usize {
        self.config.epochs
    }

    fn init(&mut self, model: GatedNet) -> Result<GatedNet, PruneError> {
        if self.config.spherical {
            self.project_unit_norm(model)
        } else {
            Ok(model)
        }
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

    fn penalty(&self, model: &GatedNet, epoch: usize) -> Option<Tensor<1>> {
        if !self.trainable(epoch).masks || self.config.lambda == 0.0 {
            return None;
        }
        let mut total: Option<Tensor<1>> = None;
        let mut k = 0;
        for l in &model.net.layers {
            if let Layer::Mask(m) = l {
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

    fn after_step(&mut self, model: GatedNet, epoch: usize) -> Result<GatedNet, PruneError> {
        let t = self.trainable(epoch);
        let model = if self.config.spherical && t.weights {
            self.project_unit_norm(model)?
        } else {
            model
        };
        self.snap(model)
    }

    fn on_epoch_end(&mut self, model: &GatedNet, _epoch: usize) -> Result<MethodLog, PruneError> {
        let masks = self.masks(&model.net)?;
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
