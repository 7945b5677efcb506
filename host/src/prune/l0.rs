//! `l0`: hard-concrete gates (the seed's hard way) — a Gate node per prunable group, loss +
//! λ·Σ_c w_c·P(gate_c ≠ 0) (w_c: the channel's cost in the budget's currency), log α
//! clamped on the parameter after every step, λ steered every N steps until the open gates
//! meet the budget (gates close for good only while over it), final keep = log α ≥ 0; the
//! gates are removed again and kept masks scaled by the test-time gate.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::budget::{Ranking, Target};
use super::control::{Control, Controller, budget_picks, channel_weights, live_cost};
use super::error::PruneError;
use super::gates::{self, GateSite, sites};
use super::method::{Amount, MethodLog, PlanContext, PruneMethod, choose};
use crate::graph::{Graph, Groups};
use crate::nn::hard_concrete::{HardConcrete, PENALTY_CLAMP, Temperature};
use crate::nn::{GateMode, NamedTensor, Net, NodeModule, Trainable};
use crate::plan::KeepPlan;
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
    /// Steer λ until the open gates (log α ≥ 0, not closed) meet this.
    pub target: Option<Target>,
    /// The λ controller (every N steps, ramp).
    pub control: Control,
    /// log α is kept in [−clamp, clamp] on the parameter after every step (Louizos), so
    /// the penalty's gradient never vanishes on a gate that ran past the clamp.
    pub clamp: f32,
}

impl Default for L0Config {
    fn default() -> Self {
        Self {
            lambda: 1e-3,
            log_alpha_init: 2.5,
            temperature: Temperature::paper(),
            epochs: 4,
            target: None,
            control: Control::default(),
            clamp: PENALTY_CLAMP as f32,
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
    /// Gates closed for good (held at −clamp) per group.
    pub closed: Vec<Vec<bool>>,
    /// λ and its schedule.
    pub controller: Controller,
    /// Penalty weight per group: its channel's cost in the budget's currency (1 without).
    pub weights: Vec<f64>,
    groups: Groups,
    report: Option<MethodLog>,
}

impl L0 {
    /// The method for nets of `spec`.
    pub fn new(spec: &Graph, config: L0Config) -> Self {
        let groups = spec.groups().unwrap_or_else(|_| Groups {
            all: Vec::new(),
            of_value: Vec::new(),
        });
        let widths = groups.widths();
        Self {
            controller: Controller::new(config.control, config.lambda, config.target),
            weights: vec![1.0; widths.len()],
            closed: widths.iter().map(|&w| vec![false; w]).collect(),
            config,
            spec: spec.clone(),
            sites: Vec::new(),
            log_alpha: Vec::new(),
            test_gates: Vec::new(),
            groups,
            report: None,
        }
    }

    /// Open gates per group: not closed and log α ≥ 0.
    fn live_of(&self, alpha: &[Vec<f32>]) -> Vec<usize> {
        alpha
            .iter()
            .zip(&self.closed)
            .map(|(a, z)| a.iter().zip(z).filter(|(x, c)| !**c && **x >= 0.0).count())
            .collect()
    }

    /// Clamp log α to [−clamp, clamp] on the parameters, hold closed gates at −clamp, and
    /// under a budget close gates whose log α fell below 0 — most negative first, only
    /// while the open gates cost more than the target; once it is met, a gate about to
    /// close is held at 0 instead (the controller then lowers λ).
    fn project(&mut self, mut model: Net) -> Result<Net, PruneError> {
        let c = self.config.clamp;
        let mut alpha = self.read_alpha(&model)?;
        if let Some(t) = self.config.target {
            let mut cand: Vec<(usize, usize)> = Vec::new();
            for (g, a) in alpha.iter().enumerate() {
                for (k, &x) in a.iter().enumerate() {
                    if !self.closed[g][k] && x < 0.0 {
                        cand.push((g, k));
                    }
                }
            }
            cand.sort_by(|p, q| alpha[p.0][p.1].total_cmp(&alpha[q.0][q.1]).then(p.cmp(q)));
            // Every candidate counts as open until it is closed.
            let mut open: Vec<usize> = alpha
                .iter()
                .zip(&self.closed)
                .map(|(a, z)| a.iter().zip(z).filter(|(_, c)| !**c).count())
                .collect();
            let info: Vec<(usize, bool)> = cand.iter().map(|&(g, _)| (g, true)).collect();
            let picks = budget_picks(
                &self.groups,
                &self.spec,
                t,
                self.config.control.tolerance,
                &mut open,
                &info,
            )?;
            for (&(g, k), p) in cand.iter().zip(picks) {
                if p {
                    self.closed[g][k] = true;
                } else {
                    alpha[g][k] = 0.0;
                }
            }
        }
        let gates: Vec<usize> = self.gates(&model)?.into_iter().map(|(i, _)| i).collect();
        for ((i, a), z) in gates.into_iter().zip(alpha).zip(&self.closed) {
            let v: Vec<f32> = a
                .iter()
                .zip(z)
                .map(|(&x, &closed)| if closed { -c } else { x.clamp(-c, c) })
                .collect();
            if v != a {
                let t = NamedTensor {
                    name: "log_alpha".into(),
                    shape: vec![v.len()],
                    values: v,
                };
                model.set_tensor(i, &t)?;
            }
        }
        Ok(model)
    }

    /// A report of the gates now.
    fn log(&self, model: &Net, epoch: usize) -> Result<MethodLog, PruneError> {
        let beta = self.beta(epoch);
        // Read log α first: refuses NaN with a clear message.
        let alpha = self.read_alpha(model)?;
        let channels: Vec<f64> = self
            .gates(model)?
            .into_iter()
            .map(|(_, g)| {
                let s: f32 = g.prob_nonzero(beta).sum().into_scalar();
                f64::from(s)
            })
            .collect();
        let live = self.live_of(&alpha);
        Ok(MethodLog {
            step: self.controller.steps,
            lambda: self.controller.lambda,
            lambda_effective: self.controller.effective(),
            expected_macs: live_cost(&self.groups, &self.spec, Target::Macs(0), &live)?,
            expected_cost: match self.config.target {
                Some(t) => Some(live_cost(&self.groups, &self.spec, t, &live)?),
                None => None,
            },
            channels,
            live,
            snapped: 0,
            closed: self.closed.iter().flatten().filter(|c| **c).count(),
        })
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
        self.config.control.check()?;
        if self.config.clamp.is_nan() || self.config.clamp <= 0.0 {
            return Err(PruneError::Config(format!(
                "l0: log α clamp {} must be > 0",
                self.config.clamp
            )));
        }
        if let Some(t) = self.config.target {
            let full: Vec<f64> = self.groups.widths().iter().map(|&w| w as f64).collect();
            self.weights = channel_weights(&self.groups, &self.spec, t, &full)?;
        }
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
        let lambda = self.controller.effective();
        if lambda == 0.0 {
            return None;
        }
        self.gates(model)
            .ok()?
            .into_iter()
            .zip(&self.weights)
            .map(|((_, g), &w)| g.expected_l0(beta).mul_scalar(lambda * w))
            .reduce(|a, b| a + b)
    }

    fn after_step(&mut self, model: Net, epoch: usize) -> Result<Net, PruneError> {
        let model = self.project(model)?;
        if self.controller.tick() {
            let log = self.log(&model, epoch)?;
            if let (Some(t), Some(cost)) = (self.config.target, log.expected_cost) {
                self.controller.adjust(cost);
                let live: Vec<f64> = log.live.iter().map(|&l| l as f64).collect();
                self.weights = channel_weights(&self.groups, &self.spec, t, &live)?;
            }
            self.report = Some(MethodLog {
                lambda: self.controller.lambda,
                lambda_effective: self.controller.effective(),
                ..log
            });
        }
        Ok(model)
    }

    fn take_report(&mut self) -> Option<MethodLog> {
        self.report.take()
    }

    fn on_epoch_end(&mut self, model: &Net, epoch: usize) -> Result<MethodLog, PruneError> {
        self.log(model, epoch)
    }

    fn learned_keep(&self, _net: &Net) -> Result<Option<Vec<Vec<usize>>>, PruneError> {
        if self.log_alpha.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            self.log_alpha
                .iter()
                .zip(&self.closed)
                .map(|(a, z)| {
                    (0..a.len())
                        .filter(|&c| !z.get(c).copied().unwrap_or(false) && a[c] >= 0.0)
                        .collect()
                })
                .collect(),
        ))
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
                        // A closed gate computes nothing: never keep it for a budget.
                        Amount::Target(_) if zc <= 0.0 || a < 0.0 => f32::NEG_INFINITY,
                        Amount::Target(_) => a,
                        _ if a >= 0.0 => a,
                        _ => f32::NEG_INFINITY,
                    })
                    .collect()
            })
            .collect();
        Ok(KeepPlan::new(
            ctx.spec,
            self.name(),
            choose(ctx, &scores, Ranking::Global)?,
        )?)
    }
}
