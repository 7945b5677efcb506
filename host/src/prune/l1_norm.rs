//! `l1-norm` (Li et al. 2017): drop the filters with the smallest L1 norm, the same
//! fraction of every layer; the norm includes the mask value that multiplies the filter.

use super::budget::Ranking;
use super::error::PruneError;
use super::graph;
use super::method::{PlanContext, PruneMethod, choose};
use super::plan::{KeepPlan, mask_values};
use crate::nn::Net;
use crate::surgery::slice;

/// Smallest ‖W_i‖₁·|m_i| first.
#[derive(Debug, Clone, Default)]
pub struct L1Norm;

/// Per prunable layer, each output channel's ‖W_c‖₁ (+ |bias_c|), times |mask_c|.
pub fn filter_norms(spec: &crate::arch::ArchSpec, net: &Net) -> Result<Vec<Vec<f32>>, PruneError> {
    let lw = net.layer_weights()?;
    let masks = mask_values(spec, net)?;
    graph::groups(spec)?
        .iter()
        .zip(masks)
        .map(|(g, m)| {
            let p = g.producers[0];
            let w = lw[p].get("weight").ok_or(PruneError::Graph {
                layer: p,
                what: "no weight".into(),
            })?;
            let axis = slice::out_axis(lw[p].kind, "weight");
            let len = w.shape[axis];
            let inner: usize = w.shape[axis + 1..].iter().product();
            let mut norms = vec![0f32; len];
            for (k, v) in w.values.iter().enumerate() {
                norms[(k / inner) % len] += v.abs();
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
        KeepPlan::new(
            ctx.spec,
            self.name(),
            choose(ctx, &scores, Ranking::Uniform)?,
        )
    }
}
