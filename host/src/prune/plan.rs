//! `KeepPlan`: the kept channel indices of every dependency group — plain, replayable data
//! (`keep_plan.json`); surgery rebuilds a pruned net from the base spec, weights and plan.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::PruneError;
use super::graph;
use crate::arch::ArchSpec;
use crate::nn::{Layer, Net};

/// Kept channels of one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupKeep {
    /// Producer layer index in the base spec.
    pub layer: usize,
    /// Width in the base spec.
    pub width: usize,
    /// Kept channel indices, sorted, unique, `< width`; empty = the layer is fully pruned.
    pub keep: Vec<usize>,
}

impl GroupKeep {
    /// Width after surgery: the kept count, or 1 for a fully pruned layer (one dead channel
    /// whose output is exactly 0, see `surgery`).
    pub fn pruned_width(&self) -> usize {
        self.keep.len().max(1)
    }
}

/// Kept channels of every prunable layer of a spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeepPlan {
    /// The method that chose it (`l1`, `first-k`, …).
    pub method: String,
    /// Name of the spec it applies to.
    pub arch: String,
    /// One entry per prunable layer, in layer order.
    pub groups: Vec<GroupKeep>,
}

impl KeepPlan {
    /// Keep everything.
    pub fn full(spec: &ArchSpec, method: &str) -> Result<KeepPlan, PruneError> {
        let keeps = graph::groups(spec)?
            .iter()
            .map(|g| (0..g.channels).collect())
            .collect();
        KeepPlan::new(spec, method, keeps)
    }

    /// A plan from one kept-index list per prunable layer (sorted here; checked).
    pub fn new(
        spec: &ArchSpec,
        method: &str,
        keeps: Vec<Vec<usize>>,
    ) -> Result<KeepPlan, PruneError> {
        let prunable = spec.prunable_layers();
        if keeps.len() != prunable.len() {
            return Err(PruneError::Plan {
                group: keeps.len().min(prunable.len()),
                layer: 0,
                what: format!(
                    "{} keep lists for {} prunable layers",
                    keeps.len(),
                    prunable.len()
                ),
            });
        }
        let groups = prunable
            .iter()
            .zip(keeps)
            .map(|(&layer, mut keep)| {
                keep.sort_unstable();
                GroupKeep {
                    layer,
                    width: spec.layers[layer].width().unwrap_or(0),
                    keep,
                }
            })
            .collect();
        let plan = KeepPlan {
            method: method.into(),
            arch: spec.name.clone(),
            groups,
        };
        plan.check(spec)?;
        Ok(plan)
    }

    /// Keep the channels whose mask value has |m| > `threshold` (prunable layers without a
    /// mask keep everything).
    pub fn from_masks(
        spec: &ArchSpec,
        net: &Net,
        method: &str,
        threshold: f32,
    ) -> Result<KeepPlan, PruneError> {
        let values = mask_values(spec, net)?;
        let keeps = values
            .into_iter()
            .zip(spec.widths())
            .map(|(v, w)| match v {
                Some(v) => (0..v.len()).filter(|&c| v[c].abs() > threshold).collect(),
                None => (0..w).collect(),
            })
            .collect();
        KeepPlan::new(spec, method, keeps)
    }

    /// Check that the plan fits `spec`: same prunable layers and widths, sorted unique
    /// indices in range.
    pub fn check(&self, spec: &ArchSpec) -> Result<(), PruneError> {
        let prunable = spec.prunable_layers();
        if prunable.len() != self.groups.len() {
            return Err(PruneError::Plan {
                group: 0,
                layer: 0,
                what: format!(
                    "{} groups, the spec has {} prunable layers",
                    self.groups.len(),
                    prunable.len()
                ),
            });
        }
        for (gi, (g, &layer)) in self.groups.iter().zip(&prunable).enumerate() {
            let bad = |what: String| PruneError::Plan {
                group: gi,
                layer,
                what,
            };
            let width = spec.layers[layer].width().unwrap_or(0);
            if g.layer != layer || g.width != width {
                return Err(bad(format!(
                    "plan says layer {} width {}, spec has layer {layer} width {width}",
                    g.layer, g.width
                )));
            }
            if g.keep.windows(2).any(|w| w[0] >= w[1]) {
                return Err(bad("kept indices not sorted and unique".into()));
            }
            if let Some(&c) = g.keep.iter().find(|&&c| c >= width) {
                return Err(bad(format!("channel {c} out of range (width {width})")));
            }
        }
        Ok(())
    }

    /// Kept counts per group (0 for a fully pruned layer).
    pub fn kept(&self) -> Vec<usize> {
        self.groups.iter().map(|g| g.keep.len()).collect()
    }

    /// Widths of the pruned spec (a fully pruned layer keeps one dead channel).
    pub fn widths(&self) -> Vec<usize> {
        self.groups.iter().map(GroupKeep::pruned_width).collect()
    }

    /// The pruned spec: `spec` with the plan's widths, named `<name>-<method>`; its Mask
    /// layers stay (at 1.0 after surgery) so the result can be pruned again.
    pub fn pruned_spec(&self, spec: &ArchSpec) -> Result<ArchSpec, PruneError> {
        self.check(spec)?;
        let mut out = spec.with_widths(&self.widths())?;
        out.name = format!("{}-{}", spec.name, self.method);
        Ok(out)
    }

    /// Write as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<(), PruneError> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|source| PruneError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        std::fs::write(path, bytes).map_err(|source| PruneError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Read a plan written by [`KeepPlan::save`].
    pub fn load(path: &Path) -> Result<KeepPlan, PruneError> {
        let bytes = std::fs::read(path).map_err(|source| PruneError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|source| PruneError::Json {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Each prunable layer's mask values (the mask right after it), `None` if it has none.
pub fn mask_values(spec: &ArchSpec, net: &Net) -> Result<Vec<Option<Vec<f32>>>, PruneError> {
    let groups = graph::groups(spec)?;
    groups
        .iter()
        .map(|g| match g.masks.first() {
            Some(&i) => match net.layers.get(i) {
                Some(Layer::Mask(m)) => {
                    let v = m
                        .values
                        .val()
                        .into_data()
                        .try_to_vec::<f32>()
                        .map_err(|e| PruneError::Graph {
                            layer: i,
                            what: format!("reading mask: {e:?}"),
                        })?;
                    Ok(Some(v))
                }
                _ => Err(PruneError::Graph {
                    layer: i,
                    what: "net and spec disagree: expected a Mask layer".into(),
                }),
            },
            None => Ok(None),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::seed::seed_c10;

    #[test]
    fn plan_checks_round_trips_and_shrinks_the_spec() {
        let spec = seed_c10();
        let full = KeepPlan::full(&spec, "none").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(full.kept(), spec.widths());
        let keeps = vec![vec![3, 1], vec![0], vec![], (0..32).collect(), vec![47]];
        let plan = KeepPlan::new(&spec, "t", keeps).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.groups[0].keep, vec![1, 3]);
        assert_eq!(plan.widths(), vec![2, 1, 1, 32, 1]);
        let pruned = plan.pruned_spec(&spec).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pruned.widths(), vec![2, 1, 1, 32, 1]);
        assert_eq!(pruned.mask_layers().len(), 5);
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("plan.json");
        plan.save(&p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(KeepPlan::load(&p).unwrap_or_else(|e| panic!("{e}")), plan);
        // Out of range, duplicates, wrong count are refused.
        let mut bad = plan.clone();
        bad.groups[0].keep = vec![16];
        assert!(bad.check(&spec).is_err());
        bad.groups[0].keep = vec![2, 2];
        assert!(bad.check(&spec).is_err());
        assert!(KeepPlan::new(&spec, "t", vec![vec![0]]).is_err());
    }
}
