//! `apoz` (Hu et al. 2016): drop the channels whose ReLU output is most often zero on a
//! calibration set (Average Percentage of Zeros), the same fraction of every layer.

use super::budget::Ranking;
use super::error::PruneError;
use super::graph;
use super::method::{PlanContext, PruneMethod, choose};
use super::plan::KeepPlan;
use crate::data::make_batch;
use crate::nn::Net;
use crate::surgery::check::trace;

/// Highest APoZ first.
#[derive(Debug, Clone)]
pub struct Apoz {
    /// Calibration images used (the first N of the calibration set).
    pub images: usize,
}

impl Default for Apoz {
    fn default() -> Self {
        Self { images: 512 }
    }
}

/// APoZ of every channel of every prunable layer (fraction of zero outputs after ReLU,
/// over images and positions; a masked-out channel counts as always zero).
pub fn apoz(
    spec: &crate::arch::ArchSpec,
    net: &Net,
    ctx: &PlanContext,
    images: usize,
) -> Result<Vec<Vec<f32>>, PruneError> {
    let calib = ctx
        .calib
        .ok_or_else(|| PruneError::Config("apoz needs calibration images".into()))?;
    let n = images.min(calib.len());
    if n == 0 {
        return Err(PruneError::Config("apoz: empty calibration set".into()));
    }
    let groups = graph::groups(spec)?;
    let mut zeros: Vec<Vec<f64>> = groups.iter().map(|g| vec![0.0; g.channels]).collect();
    let mut counts = vec![0f64; groups.len()];
    let idx: Vec<usize> = (0..n).collect();
    for chunk in idx.chunks(64) {
        let b = make_batch(calib, chunk, None, ctx.device);
        let t = trace(net, b.images);
        for (gi, g) in groups.iter().enumerate() {
            // After the mask if there is one (a zero mask zeroes the channel), else the producer.
            let at = g.masks.first().copied().unwrap_or(g.producers[0]);
            let (shape, v) = &t[at];
            let per = v.len() / shape[0];
            let block = per / g.channels;
            for s in 0..shape[0] {
                for (c, z) in zeros[gi].iter_mut().enumerate() {
                    let base = s * per + c * block;
                    *z += v[base..base + block].iter().filter(|x| **x == 0.0).count() as f64;
                }
            }
            counts[gi] += (shape[0] * block) as f64;
        }
    }
    Ok(zeros
        .into_iter()
        .zip(counts)
        .map(|(z, n)| z.into_iter().map(|v| (v / n.max(1.0)) as f32).collect())
        .collect())
}

impl PruneMethod for Apoz {
    fn name(&self) -> &'static str {
        "apoz"
    }

    fn keep_plan(&self, net: &Net, ctx: &PlanContext) -> Result<KeepPlan, PruneError> {
        let scores: Vec<Vec<f32>> = apoz(ctx.spec, net, ctx, self.images)?
            .into_iter()
            .map(|l| l.into_iter().map(|a| -a).collect())
            .collect();
        KeepPlan::new(
            ctx.spec,
            self.name(),
            choose(ctx, &scores, Ranking::Uniform)?,
        )
    }
}
