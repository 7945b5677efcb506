//! `slimming` (Network Slimming, Liu et al. 2017): loss + λ·Σ|γ| over the BatchNorm
//! scales, then keep the channels whose |γ| is largest (one global ranking).

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::budget::{Ranking, Target};
use super::error::PruneError;
use super::method::{MethodLog, PlanContext, PruneMethod, choose};
use crate::graph::{Graph, Op};
use crate::nn::{Net, NodeModule, Trainable};
use crate::plan::KeepPlan;

/// Settings of Network Slimming.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlimmingConfig {
    /// Penalty weight λ on Σ|γ| (the paper: 1e-4 to 1e-5).
    pub lambda: f64,
    /// With [`Amount::Learned`](super::Amount::Learned): keep channels with |γ| above this.
    pub threshold: f32,
    /// Sparsity-training epochs.
    pub epochs: usize,
}

impl Default for SlimmingConfig {
    fn default() -> Self {
        Self {
            lambda: 1e-4,
            threshold: 1e-2,
            epochs: 4,
        }
    }
}

/// The Network Slimming method.
#[derive(Debug, Clone)]
pub struct Slimming {
    /// Settings.
    pub config: SlimmingConfig,
    spec: Graph,
}

impl Slimming {
    /// The method for nets of `spec`.
    pub fn new(spec: &Graph, config: SlimmingConfig) -> Self {
        Self {
            config,
            spec: spec.clone(),
        }
    }
}

/// Per prunable group, each channel's largest |γ| over the group's BatchNorm nodes
/// (`None` for a group without BatchNorm).
pub fn gammas(g: &Graph, net: &Net) -> Result<Vec<Option<Vec<f32>>>, PruneError> {
    let groups = g.groups()?;
    groups
        .prunable()
        .into_iter()
        .map(|gi| {
            let mut acc: Option<Vec<f32>> = None;
            for &b in &groups.all[gi].channel_wise {
                if !matches!(g.nodes[b].op, Op::BatchNorm(_)) {
                    continue;
                }
                let v = net.tensor(b, "gamma")?.values;
                acc = Some(match acc {
                    None => v.iter().map(|x| x.abs()).collect(),
                    Some(a) => a.iter().zip(&v).map(|(x, y)| x.max(y.abs())).collect(),
                });
            }
            Ok(acc)
        })
        .collect()
}

impl PruneMethod for Slimming {
    fn name(&self) -> &'static str {
        "slimming"
    }

    fn learn_epochs(&self) -> usize {
        self.config.epochs
    }

    fn init(&mut self, model: Net) -> Result<Net, PruneError> {
        if !model
            .graph
            .nodes
            .iter()
            .any(|n| matches!(n.op, Op::BatchNorm(_)))
        {
            return Err(PruneError::Config(
                "slimming needs BatchNorm nodes (it penalizes their γ)".into(),
            ));
        }
        Ok(model)
    }

    fn trainable(&self, _epoch: usize) -> Trainable {
        Trainable::WEIGHTS
    }

    fn penalty(&self, model: &Net, _epoch: usize) -> Option<Tensor<1>> {
        if self.config.lambda == 0.0 {
            return None;
        }
        model
            .nodes
            .iter()
            .filter_map(|m| match m {
                NodeModule::BatchNorm(b) => {
                    Some(b.gamma.val().abs().sum().mul_scalar(self.config.lambda))
                }
                _ => None,
            })
            .reduce(|a, b| a + b)
    }

    fn on_epoch_end(&mut self, model: &Net, _epoch: usize) -> Result<MethodLog, PruneError> {
        let widths = self.spec.groups()?.widths();
        let th = self.config.threshold;
        let channels: Vec<f64> = gammas(&self.spec, model)?
            .into_iter()
            .zip(widths)
            .map(|(g, w)| match g {
                Some(g) => g.iter().filter(|v| **v > th).count() as f64,
                None => w as f64,
            })
            .collect();
        Ok(MethodLog {
            lambda: self.config.lambda,
            lambda_effective: self.config.lambda,
            expected_macs: Target::Macs(0).expected_cost(&self.spec, &channels)?,
            live: channels.iter().map(|&c| c as usize).collect(),
            channels,
            ..MethodLog::default()
        })
    }

    fn keep_plan(&self, net: &Net, ctx: &PlanContext) -> Result<KeepPlan, PruneError> {
        let widths = ctx.spec.groups()?.widths();
        let th = self.config.threshold;
        let scores: Vec<Vec<f32>> = gammas(ctx.spec, net)?
            .into_iter()
            .zip(widths)
            .map(|(g, w)| match g {
                // Groups without BatchNorm have no γ to judge by: kept.
                None => vec![f32::INFINITY; w],
                Some(g) => g
                    .into_iter()
                    .map(|v| match ctx.amount {
                        super::Amount::Learned if v <= th => f32::NEG_INFINITY,
                        _ => v,
                    })
                    .collect(),
            })
            .collect();
        Ok(KeepPlan::new(
            ctx.spec,
            self.name(),
            choose(ctx, &scores, Ranking::Global)?,
        )?)
    }
}
