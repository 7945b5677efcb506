//! `l1-norm` (Li et al. 2017): drop the filters with the smallest L1 norm, the same
//! fraction of every group; the norm includes the mask value that multiplies the filter.

use super::budget::Ranking;
use super::error::PruneError;
use super::method::{PlanContext, PruneMethod, choose};
use crate::graph::Graph;
use crate::nn::Net;
use crate::plan::{KeepPlan, group_mask_values};

/// Smallest ‖W_i‖₁·|m_i| first.
#[derive(Debug, Clone, Default)]
pub struct L1Norm;

/// Per prunable group, each output channel's ‖W_c‖₁ summed over the group's producers
/// (a residual group has several), times |mask_c|.
pub fn filter_norms(g: &Graph, net: &Net) -> Result<Vec<Vec<f32>>, PruneError> {
    let groups = g.groups()?;
    let masks = group_mask_values(g, &groups, net)?;
    groups
        .prunable()
        .into_iter()
        .zip(masks)
        .map(|(gi, m)| {
            let grp = &groups.all[gi];
            let mut norms = vec![0f32; grp.channels];
            for &p in &grp.producers {
                let axis = g
                    .params(p)
                    .iter()
                    .find(|d| d.name == "weight")
                    .and_then(|d| d.out_axis)
                    .ok_or_else(|| PruneError::Node {
                        node: g.nodes[p].name.clone(),
                        what: "no weight with an output axis".into(),
                    })?;
                let w = net.tensor(p, "weight")?;
                let len = w.shape[axis];
                let inner: usize = w.shape[axis + 1..].iter().product();
                for (k, v) in w.values.iter().enumerate() {
                    norms[(k / inner) % len] += v.abs();
                }
            }
            if let Some(m) = m {
                for (n, mv) in norms.iter_mut().zip(m) {
                    *n *= mv.abs();
                }
            }
            Ok(norms)
        })
        .collect()
}

impl PruneMethod for L1Norm {
    fn name(&self) -> &'static str {
        "l1-norm"
    }

    fn keep_plan(&self, net: &Net, ctx: &PlanContext) -> Result<KeepPlan, PruneError> {
        let scores = filter_norms(ctx.spec, net)?;
        Ok(KeepPlan::new(
            ctx.spec,
            self.name(),
            choose(ctx, &scores, Ranking::Uniform)?,
        )?)
    }
}
