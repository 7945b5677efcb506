//! `l0`: hard-concrete gates (the seed's hard way) — loss + λ·Σ P(gate ≠ 0), gates sampled
//! while training, final keep = log α ≥ 0; kept masks are scaled by the test-time gate.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::budget::{Ranking, Target};
use super::error::PruneError;
use super::gated::{GateMode, GatedNet, Trainable};
use super::method::{Amount, MethodLog, PlanContext, PruneMethod, choose};
use super::plan::KeepPlan;
use crate::arch::ArchSpec;
use crate::nn::hard_concrete::Temperature;
use crate::nn::{Layer, Net};

/// Settings of the L0 method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct L0Config {
    /// Penalty weight λ on the expected number of open gates.
    pub lambda: f64,
    /// Initial log α (2.5: mostly open without saturating).
    pub log_alpha_init: f32,
    /// Temperature schedule (paper: fixed 2/3; seed: 0.05 decayed).
    pub temperature: Temperature,
    /// Gate-learning epochs.
    pub epochs: usize,
    /// Adapt λ each epoch until the expected cost meets this.
    pub target: Option<Target>,
    /// λ step factor under a budget.
    pub lambda_step: f64,
}

impl Default for L0Config {
    fn default() -> Self {
        Self {
            lambda: 1e-3,
            log_alpha_init: 2.5,
            temperature: Temperature::paper(),
            epochs: 4,
            target: None,
            lambda_step: 1.5,
        }
    }
}

/// The L0 method's state.
#[derive(Debug, Clone)]
pub struct L0 {
    /// Settings (λ changes under a budget).
    pub config: L0Config,
    spec: ArchSpec,
    /// log α per gate after [`PruneMethod::finalize`].
    pub log_alpha: Vec<Vec<f32>>,
    /// Test-time gate values after [`PruneMethod::finalize`].
    pub test_gates: Vec<Vec<f32>>,
}

impl L0 {
    /// The method for nets of `spec`.
    pub fn new(spec: &ArchSpec, config: L0Config) -> Self {
        Self {
            config,
            spec: spec.clone(),
            log_alpha: Vec::new(),
            test_gates: Vec::new(),
        }
    }

    fn beta(&self, epoch: usize) -> f64 {
        self.config.temperature.at(epoch)
    }

    fn read_alpha(model: &GatedNet) -> Result<Vec<Vec<f32>>, PruneError> {
        Ok(model
            .gates
            .iter()
            .enumerate()
            .map(|(i, g)| g.log_alpha_values(i))
            .collect::<Result<_, _>>()?)
    }
}

impl PruneMethod for L0 {
    fn name(&self) -> &'static str {
        "l0"
    }

    fn learn_epochs(&self) -> usize {
        self.config.epochs
    }

    fn init(&mut self, model: GatedNet) -> Result<GatedNet, PruneError> {
        if self.spec.mask_layers().len() != self.spec.prunable_layers().len() {
            return Err(PruneError::Config(
                "l0 needs a Mask after every prunable layer".into(),
            ));
        }
        Ok(GatedNet::with_gates(model.net, self.config.log_alpha_init))
    }

    fn trainable(&self, _epoch: usize) -> Trainable {
        Trainable::WEIGHTS_GATES
    }

    fn gate_mode(&self, epoch: usize) -> GateMode {
        GateMode::Sample(self.beta(epoch))
    }

    fn penalty(&self, model: &GatedNet, epoch: usize) -> Option<Tensor<1>> {
        let beta = self.beta(epoch);
        model
            .gates
            .iter()
            .map(|g| g.expected_l0(beta).mul_scalar(self.config.lambda))
            .reduce(|a, b| a + b)
    }

    fn on_epoch_end(&mut self, model: &GatedNet, epoch: usize) -> Result<MethodLog, PruneError> {
        let beta = self.beta(epoch);
        // Read log α first: refuses NaN with a clear message.
        Self::read_alpha(model)?;
        let channels: Vec<f64> = model
            .gates
            .iter()
            .map(|g| {
                let s: f32 = g.prob_nonzero(beta).sum().into_scalar();
                f64::from(s)
            })
            .collect();
        let expected_macs = Target::Macs(0).expected_cost(&self.spec, &channels)?;
        let mut log = MethodLog {
            lambda: self.config.lambda,
            channels: channels.clone(),
            expected_macs,
            expected_cost: None,
            snapped: 0,
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

    fn finalize(&mut self, model: GatedNet) -> Result<Net, PruneError> {
        self.log_alpha = Self::read_alpha(&model)?;
        let gates: Vec<Vec<f32>> = model
            .gates
            .iter()
            .map(|g| {
                g.test_gate()
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap_or_default()
            })
            .collect();
        self.test_gates = gates.clone();
        let mut net = model.net;
        let masks = self.spec.mask_layers();
        let lw = net.layer_weights()?;
        // The surgery reference zeroes dropped channels; kept ones carry the test gate.
        for (&i, z) in masks.iter().zip(&gates) {
            let Some(Layer::Mask(_)) = net.layers.get(i) else {
                continue;
            };
            let Some(mut t) = lw[i].get("values").cloned() else {
                continue;
            };
            for (v, &zc) in t.values.iter_mut().zip(z) {
                *v *= zc;
            }
            net.set_tensor(i, &t)?;
        }
        Ok(net)
    }

    fn keep_plan(&self, _net: &Net, ctx: &PlanContext) -> Result<KeepPlan, PruneError> {
        if self.log_alpha.is_empty() {
            return Err(PruneError::Config("l0: keep_plan before finalize".into()));
        }
        let scores: Vec<Vec<f32>> = self
            .log_alpha
            .iter()
            .zip(&self.test_gates)
            .map(|(la, z)| {
                la.iter()
                    .zip(z)
                    .map(|(&a, &zc)| match ctx.amount {
                        // A closed test gate computes nothing: never keep it for a budget.
                        Amount::Target(_) if zc <= 0.0 => f32::NEG_INFINITY,
                        Amount::Target(_) => a,
                        _ if a >= 0.0 => a,
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
