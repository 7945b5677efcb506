//! `scratch`: the seed's "same reduced size trained from scratch" points — the pruned
//! widths (uniform, or another run's plan) trained from a fresh init with the same total
//! epoch budget (learning + fine-tuning epochs).

use super::error::PruneError;
use super::first_k::FirstK;
use super::method::{PlanContext, PruneMethod};
use crate::nn::Net;
use crate::plan::KeepPlan;

/// Widths from a plan (or first-k's uniform cut); weights from a fresh init.
#[derive(Debug, Clone, Default)]
pub struct Scratch {
    /// Widths to reproduce (e.g. a learned run's `keep_plan.json`); none: uniform.
    pub plan: Option<KeepPlan>,
}

impl PruneMethod for Scratch {
    fn name(&self) -> &'static str {
        "scratch"
    }

    fn keep_plan(&self, net: &Net, ctx: &PlanContext) -> Result<KeepPlan, PruneError> {
        let mut plan = match &self.plan {
            Some(p) => {
                p.check(ctx.spec)?;
                p.clone()
            }
            None => FirstK.keep_plan(net, ctx)?,
        };
        plan.method = self.name().into();
        Ok(plan)
    }

    fn trains_from_scratch(&self) -> bool {
        true
    }
}
