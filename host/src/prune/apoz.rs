//! `apoz` (Hu et al. 2016): drop the channels whose ReLU output is most often zero on a
//! calibration set (Average Percentage of Zeros), the same fraction of every group; the
//! zeros are counted by an observer on the interpreter's pass.

use std::collections::HashMap;

use super::budget::Ranking;
use super::error::PruneError;
use super::method::{PlanContext, PruneMethod, choose};
use crate::data::make_batch_in;
use crate::graph::group_masks;
use crate::graph::{Graph, Op, ValueId};
use crate::nn::{Act, GateMode, Net, Observer};
use crate::plan::KeepPlan;

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

/// Counts zeros per channel of the watched values.
struct ZeroCounter {
    /// Watched value → (group slot, channels).
    watch: HashMap<ValueId, (usize, usize)>,
    zeros: Vec<Vec<f64>>,
    counts: Vec<f64>,
}

impl Observer for ZeroCounter {
    fn value(&mut self, v: ValueId, act: &Act) {
        let Some(&(slot, channels)) = self.watch.get(&v) else {
            return;
        };
        let dims = act.dims();
        let values = act.to_vec();
        let n = dims[0];
        let per = values.len() / n.max(1);
        let block = per / channels.max(1);
        for s in 0..n {
            for (c, z) in self.zeros[slot].iter_mut().enumerate() {
                let base = s * per + c * block;
                *z += values[base..base + block]
                    .iter()
                    .filter(|x| **x == 0.0)
                    .count() as f64;
            }
        }
        self.counts[slot] += (n * block) as f64;
    }
}

/// The value APoZ watches for each prunable group: its first Mask's output (a zero mask
/// zeroes the channel), else its first ReLU's, else its first producer's.
pub fn watched(g: &Graph) -> Result<Vec<ValueId>, PruneError> {
    let groups = g.groups()?;
    Ok(groups
        .prunable()
        .into_iter()
        .map(|gi| {
            let node = group_masks(g, &groups, gi).first().copied().or_else(|| {
                (0..g.nodes.len()).find(|&i| {
                    matches!(g.nodes[i].op, Op::Relu(_))
                        && groups.of_value[g.nodes[i].inputs[0].0].0 == gi
                })
            });
            match node {
                Some(i) => g.nodes[i].output,
                None => g.nodes[groups.all[gi].producers[0]].output,
            }
        })
        .collect())
}

/// APoZ of every channel of every prunable group (fraction of zero outputs after ReLU,
/// over images and positions; a masked-out channel counts as always zero).
pub fn apoz(
    g: &Graph,
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
    let widths = g.groups()?.widths();
    let mut counter = ZeroCounter {
        watch: watched(g)?
            .into_iter()
            .zip(&widths)
            .enumerate()
            .map(|(slot, (v, &w))| (v, (slot, w)))
            .collect(),
        zeros: widths.iter().map(|&w| vec![0.0; w]).collect(),
        counts: vec![0.0; widths.len()],
    };
    let idx: Vec<usize> = (0..n).collect();
    for chunk in idx.chunks(64) {
        let b = make_batch_in(calib, chunk, None, net.graph.input_range, ctx.device);
        net.run(b.images, GateMode::Off, &mut counter);
    }
    Ok(counter
        .zeros
        .into_iter()
        .zip(counter.counts)
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
        Ok(KeepPlan::new(
            ctx.spec,
            self.name(),
            choose(ctx, &scores, Ranking::Uniform)?,
        )?)
    }
}
