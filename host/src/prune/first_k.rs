//! `first-k`: the seed's trivial baseline — drop the first k channels of every group
//! (or, under a budget, the lowest indices first, the same fraction of each group).

use super::budget::Ranking;
use super::error::PruneError;
use super::method::{PlanContext, PruneMethod, choose};
use crate::nn::Net;
use crate::plan::KeepPlan;

/// Drop channels by index, lowest first.
#[derive(Debug, Clone, Default)]
pub struct FirstK;

impl PruneMethod for FirstK {
    fn name(&self) -> &'static str {
        "first-k"
    }

    fn keep_plan(&self, _net: &Net, ctx: &PlanContext) -> Result<KeepPlan, PruneError> {
        // Score = index: the first channels are the least important.
        let scores: Vec<Vec<f32>> = ctx
            .spec
            .groups()?
            .widths()
            .iter()
            .map(|&w| (0..w).map(|c| c as f32).collect())
            .collect();
        Ok(KeepPlan::new(
            ctx.spec,
            self.name(),
            choose(ctx, &scores, Ranking::Uniform)?,
        )?)
    }
}
