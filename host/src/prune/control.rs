//! λ control shared by the learned methods (l1, l0): a linear ramp, a multiplicative
//! controller acting every N penalty steps on the *live* cost (hard channel counts, so a
//! uniform shrink is no progress), and per-channel penalty weights in the budget's currency.

use serde::{Deserialize, Serialize};

use super::budget::Target;
use super::error::PruneError;
use crate::graph::{Graph, Groups};

/// How λ is steered.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Control {
    /// Act every this many penalty steps (steps of a mask/gate phase); 0: never.
    pub every: usize,
    /// λ is multiplied by this while the live cost is over the target and did not fall
    /// since the last control step, and divided by it once the target is met.
    pub factor: f64,
    /// The penalty ramps linearly from 0 to λ over this many penalty steps.
    pub ramp_steps: usize,
    /// A channel is not removed under a budget if that lands the live cost under
    /// `(1 − tolerance)·target` (see [`budget_picks`]).
    pub tolerance: f64,
}

impl Default for Control {
    fn default() -> Self {
        Self {
            every: 10,
            factor: 1.5,
            ramp_steps: 50,
            tolerance: 0.02,
        }
    }
}

impl Control {
    /// Refuses a factor ≤ 1 or a tolerance outside [0, 1).
    pub fn check(&self) -> Result<(), PruneError> {
        if self.factor.is_nan() || self.factor <= 1.0 {
            return Err(PruneError::Config(format!(
                "λ control factor {} must be > 1",
                self.factor
            )));
        }
        if !(0.0..1.0).contains(&self.tolerance) {
            return Err(PruneError::Config(format!(
                "λ control tolerance {} not in [0, 1)",
                self.tolerance
            )));
        }
        Ok(())
    }
}

/// λ, its schedule and the penalty steps seen so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Controller {
    /// Settings.
    pub config: Control,
    /// λ now (before the ramp).
    pub lambda: f64,
    /// The budget the live cost is steered to (None: λ stays, the article's point 8).
    pub target: Option<Target>,
    /// Penalty steps so far.
    pub steps: usize,
    /// λ changes made so far.
    pub changes: usize,
    /// The live cost at the last control step.
    pub last_cost: Option<f64>,
}

impl Controller {
    /// A controller starting at `lambda`.
    pub fn new(config: Control, lambda: f64, target: Option<Target>) -> Self {
        Self {
            config,
            lambda,
            target,
            steps: 0,
            changes: 0,
            last_cost: None,
        }
    }

    /// The ramp's share now (0 → 1 over `ramp_steps` penalty steps).
    pub fn ramp(&self) -> f64 {
        if self.config.ramp_steps == 0 {
            1.0
        } else {
            (self.steps as f64 / self.config.ramp_steps as f64).min(1.0)
        }
    }

    /// λ as the penalty uses it (with the ramp).
    pub fn effective(&self) -> f64 {
        self.lambda * self.ramp()
    }

    /// Count one penalty step; true when the controller acts at this step.
    pub fn tick(&mut self) -> bool {
        self.steps += 1;
        self.config.every > 0 && self.steps.is_multiple_of(self.config.every)
    }

    /// Adapt λ to the live cost: up while over the target and stalled (no channel removed
    /// since the last control step: λ must not run away while the masks catch up), held
    /// while channels are going, down once the target is met (the survivors are free).
    pub fn adjust(&mut self, live_cost: f64) {
        let Some(t) = self.target else { return };
        let goal = t.value() as f64;
        let progress = self.last_cost.is_some_and(|l| live_cost < l);
        self.last_cost = Some(live_cost);
        if live_cost > goal {
            if !progress {
                self.lambda *= self.config.factor;
                self.changes += 1;
            }
        } else {
            self.lambda /= self.config.factor;
            self.changes += 1;
        }
    }

    /// True while the live cost is over the target (pruning may go on); always true
    /// without a target.
    pub fn over(&self, live_cost: f64) -> bool {
        self.target.is_none_or(|t| live_cost > t.value() as f64)
    }
}

/// What one more channel of each prunable group costs at `widths` (exact: every cost
/// term is linear in each group's width), in `target`'s currency, divided by the full
/// net's mean cost per channel — so the weights average about 1 and λ keeps its scale.
pub fn channel_weights(
    groups: &Groups,
    g: &Graph,
    target: Target,
    widths: &[f64],
) -> Result<Vec<f64>, PruneError> {
    let full: Vec<f64> = groups.widths().iter().map(|&w| w as f64).collect();
    if widths.len() != full.len() {
        return Err(PruneError::Config(format!(
            "{} widths for {} prunable channel groups",
            widths.len(),
            full.len()
        )));
    }
    let cost = |w: &[f64]| target.of(groups.cost(g, Some(w)));
    let mean = cost(&full) / full.iter().sum::<f64>().max(1.0);
    let at = cost(widths);
    Ok((0..widths.len())
        .map(|i| {
            let mut w = widths.to_vec();
            w[i] -= 1.0;
            ((at - cost(&w)) / mean.max(f64::MIN_POSITIVE)).max(0.0)
        })
        .collect())
}

/// Cost in `target`'s currency of integer live widths.
pub fn live_cost(
    groups: &Groups,
    g: &Graph,
    target: Target,
    widths: &[usize],
) -> Result<f64, PruneError> {
    let w: Vec<f64> = widths.iter().map(|&w| w as f64).collect();
    if w.len() != groups.prunable().len() {
        return Err(PruneError::Config(format!(
            "{} widths for {} prunable channel groups",
            w.len(),
            groups.prunable().len()
        )));
    }
    Ok(target.of(groups.cost(g, Some(&w))))
}

/// Which removal candidates (in preference order, each naming its group) to take so the
/// live cost comes down to the target: while over it, take each candidate whose removal
/// does not land under `(1 − tolerance)·target` (one that would waits: a cheaper channel
/// may give way at a later step, and a final re-rank covers the rest). `live` is updated;
/// `dies[i]` says whether candidate i really removes a channel (false: another mask still
/// keeps it).
pub fn budget_picks(
    groups: &Groups,
    g: &Graph,
    target: Target,
    tolerance: f64,
    live: &mut [usize],
    cands: &[(usize, bool)],
) -> Result<Vec<bool>, PruneError> {
    let goal = target.value() as f64;
    let mut picked = vec![false; cands.len()];
    let mut cost = live_cost(groups, g, target, live)?;
    for (i, &(gi, dies)) in cands.iter().enumerate() {
        if cost <= goal {
            return Ok(picked);
        }
        if !dies {
            picked[i] = true;
            continue;
        }
        live[gi] -= 1;
        let after = live_cost(groups, g, target, live)?;
        if after >= (1.0 - tolerance) * goal {
            picked[i] = true;
            cost = after;
        } else {
            live[gi] += 1;
        }
    }
    Ok(picked)
}
