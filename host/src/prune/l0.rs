//! `l0`: hard-concrete gates (the seed's hard way) — a Gate node per prunable group, loss +
//! λ·Σ P(gate ≠ 0), gates sampled while training, final keep = log α ≥ 0; the gates are
//! removed again and kept masks scaled by the test-time gate.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::budget::{Ranking, Target};
use super::error::PruneError;
use super::gates::{self, GateSite, sites};
use super::method::{Amount, MethodLog, PlanContext, PruneMethod, choose};
use super::plan::KeepPlan;
use crate::graph::Graph;
use crate::nn::hard_concrete::{HardConcrete, Temperature};
use crate::nn::{GateMode, Net, NodeModule, Trainable};
use crate::surgery::fold::{fold_path, scale_source};

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
    spec: Graph,
    /// Where the gates sit, one per prunable group (set by [`PruneMethod::init`]).
    pub sites: Vec<GateSite>,
    /// log α per group after [`PruneMethod::finalize`].
    pub log_alpha: Vec<Vec<f32>>,
    /// Test-time gate values per group after [`PruneMethod::finalize`].
    pub test_gates: Vec<Vec<f32>>,
}

impl L0 {
    /// The method for nets of `spec`.
    pub fn new(spec: &Graph, config: L0Config) -> Self {
        Self {
            config,
            spec: spec.clone(),
            sites: Vec::new(),
            log_alpha: Vec::new(),
            test_gates: Vec::new(),
        }
    }

    fn beta(&self, epoch: usize) -> f64 {
        self.config.temperature.at(epoch)
    }

    /// The gate module of each group, with its node index, in group order.
    fn gates<'a>(&self, model: &'a Net) -> Result<Vec<(usize, &'a HardConcrete)>, PruneError> {
        self.sites
            .iter()
            .map(|s| {
                let missing = || PruneError::Node {
                    node: s.gate.clone(),
                    what: "gate not in the model (init not run?)".into(),
                };
                let i = model.graph.node_index(&s.gate).ok_or_else(missing)?;
                match model.nodes.get(i) {
                    Some(NodeModule::Gate(h)) => Ok((i, h)),
                    _ => Err(missing()),
                }
            })
            .collect()
    }

    fn read_alpha(&self, model: &Net) -> Result<Vec<Vec<f32>>, PruneError> {
        self.gates(model)?
            .into_iter()
            .map(|(i, g)| Ok(g.log_alpha_values(i)?))
            .collect()
    }
}

impl PruneMethod for L0 {
    fn name(&self) -> &'static str {
        "l0"
    }

    fn learn_epochs(&self) -> usize {
        self.config.epochs
    }

    fn init(&mut self, model: Net) -> Result<Net, PruneError> {
        self.sites = sites(&model.graph)?;
        let gated = gates::insert(model, &self.sites, self.config.log_alpha_init)?;
        // A gate after a ReLU must fold into the node before it when it is removed.
        for s in self.sites.iter().filter(|s| !s.after_mask) {
            let ok = gated
                .graph
                .node_index(&s.gate)
                .and_then(|i| fold_path(&gated.graph, i))
                .is_some();
            if !ok {
                return Err(PruneError::Config(format!(
                    "l0: group `{}` has no Mask, and its gate after `{}` cannot fold into a \
                     Conv/Dense/BatchNorm",
                    s.group, s.after
                )));
            }
        }
        Ok(gated)
    }

    fn trainable(&self, _epoch: usize) -> Trainable {
        Trainable::WEIGHTS_GATES
    }

    fn gate_mode(&self, epoch: usize) -> GateMode {
        GateMode::Sample(self.beta(epoch))
    }

    fn penalty(&self, model: &Net, epoch: usize) -> Option<Tensor<1>> {
        let beta = self.beta(epoch);
        model
            .nodes
            .iter()
            .filter_map(|m| match m {
                NodeModule::Gate(g) => Some(g.expected_l0(beta).mul_scalar(self.config.lambda)),
                _ => None,
            })
            .reduce(|a, b| a + b)
    }

    fn on_epoch_end(&mut self, model: &Net, epoch: usize) -> Result<MethodLog, PruneError> {
        let beta = self.beta(epoch);
        // Read log α first: refuses NaN with a clear message.
        self.read_alpha(model)?;
        let channels: Vec<f64> = self
            .gates(model)?
            .into_iter()
            .map(|(_, g)| {
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

    fn finalize(&mut self, model: Net) -> Result<Net, PruneError> {
        self.log_alpha = self.read_alpha(&model)?;
        self.test_gates = self
            .gates(&model)?
            .into_iter()
            .map(|(_, g)| {
                g.test_gate()
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap_or_default()
            })
            .collect();
        // Where each group's test gate goes once the gates are gone: the mask it followed,
        // or the node its ReLU follows.
        let mut targets = Vec::with_capacity(self.sites.len());
        for s in &self.sites {
            let name = if s.after_mask {
                s.after.clone()
            } else {
                let path = model
                    .graph
                    .node_index(&s.gate)
                    .and_then(|i| fold_path(&model.graph, i))
                    .ok_or_else(|| PruneError::Node {
                        node: s.gate.clone(),
                        what: "gate cannot fold".into(),
                    })?;
                model.graph.nodes[path.source].name.clone()
            };
            targets.push(name);
        }
        let mut net = gates::remove(model)?;
        // The surgery reference zeroes dropped channels; kept ones carry the test gate.
        for ((s, z), name) in self.sites.iter().zip(&self.test_gates).zip(&targets) {
            let i = net.graph.node_index(name).ok_or_else(|| PruneError::Node {
                node: name.clone(),
                what: "not in the graph".into(),
            })?;
            let mut tensors = net.node_tensors(i)?;
            if s.after_mask {
                for t in tensors.iter_mut().filter(|t| t.name == "values") {
                    for (v, &zc) in t.values.iter_mut().zip(z) {
                        *v *= zc;
                    }
                }
            } else {
                scale_source(&net.graph, i, &mut tensors, z);
            }
            for t in &tensors {
                net.set_tensor(i, t)?;
            }
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
