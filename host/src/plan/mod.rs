//! `KeepPlan`: the kept channel indices of every prunable channel group — plain,
//! replayable data (`keep_plan.json`); surgery rebuilds a pruned net from the base graph,
//! weights and plan.

use std::path::Path;

use serde::{Deserialize, Serialize};

pub mod error;

pub use error::PlanError;

use crate::graph::{Graph, Groups, group_masks};
use crate::nn::Net;

/// Kept channels of one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupKeep {
    /// The channel group's name (its first producer's) in the base graph.
    pub group: String,
    /// Width in the base graph.
    pub width: usize,
    /// Kept channel indices, sorted, unique, `< width`; empty = the group is fully pruned.
    pub keep: Vec<usize>,
}

impl GroupKeep {
    /// Width after surgery: the kept count, or 1 for a fully pruned group (one dead
    /// channel whose output is exactly 0, see `surgery`).
    pub fn pruned_width(&self) -> usize {
        self.keep.len().max(1)
    }
}

/// Kept channels of every prunable group of a graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeepPlan {
    /// The method that chose it (`l1`, `first-k`, …).
    pub method: String,
    /// Name of the graph it applies to.
    pub arch: String,
    /// One entry per prunable group, in [`Groups::prunable`] order.
    pub groups: Vec<GroupKeep>,
}

impl KeepPlan {
    /// Keep everything.
    pub fn full(g: &Graph, method: &str) -> Result<KeepPlan, PlanError> {
        let keeps = g
            .groups()?
            .widths()
            .iter()
            .map(|&w| (0..w).collect())
            .collect();
        KeepPlan::new(g, method, keeps)
    }

    /// A plan from one kept-index list per prunable group (sorted here; checked).
    pub fn new(g: &Graph, method: &str, keeps: Vec<Vec<usize>>) -> Result<KeepPlan, PlanError> {
        let groups = g.groups()?;
        let (names, widths) = (groups.names(), groups.widths());
        if keeps.len() != names.len() {
            return Err(PlanError::Plan {
                group: String::new(),
                what: format!(
                    "{} keep lists for {} prunable channel groups",
                    keeps.len(),
                    names.len()
                ),
            });
        }
        let groups = names
            .into_iter()
            .zip(widths)
            .zip(keeps)
            .map(|((group, width), mut keep)| {
                keep.sort_unstable();
                GroupKeep { group, width, keep }
            })
            .collect();
        let plan = KeepPlan {
            method: method.into(),
            arch: g.name.clone(),
            groups,
        };
        plan.check(g)?;
        Ok(plan)
    }

    /// Keep the channels whose mask value has |m| > `threshold` (groups without a mask
    /// keep everything).
    pub fn from_masks(
        g: &Graph,
        net: &Net,
        method: &str,
        threshold: f32,
    ) -> Result<KeepPlan, PlanError> {
        let widths = g.groups()?.widths();
        let keeps = mask_values(g, net)?
            .into_iter()
            .zip(widths)
            .map(|(v, w)| match v {
                Some(v) => (0..v.len()).filter(|&c| v[c].abs() > threshold).collect(),
                None => (0..w).collect(),
            })
            .collect();
        KeepPlan::new(g, method, keeps)
    }

    /// Check that the plan fits `g`: the same prunable groups (names, widths), sorted
    /// unique indices in range.
    pub fn check(&self, g: &Graph) -> Result<(), PlanError> {
        let groups = g.groups()?;
        let (names, widths) = (groups.names(), groups.widths());
        if names.len() != self.groups.len() {
            return Err(PlanError::Plan {
                group: String::new(),
                what: format!(
                    "{} groups, the graph has {} prunable channel groups",
                    self.groups.len(),
                    names.len()
                ),
            });
        }
        for ((k, name), &width) in self.groups.iter().zip(&names).zip(&widths) {
            let bad = |what: String| PlanError::Plan {
                group: k.group.clone(),
                what,
            };
            if &k.group != name || k.width != width {
                return Err(bad(format!(
                    "plan says width {}, the graph has group `{name}` of width {width}",
                    k.width
                )));
            }
            if k.keep.windows(2).any(|w| w[0] >= w[1]) {
                return Err(bad("kept indices not sorted and unique".into()));
            }
            if let Some(&c) = k.keep.iter().find(|&&c| c >= width) {
                return Err(bad(format!("channel {c} out of range (width {width})")));
            }
        }
        Ok(())
    }

    /// Kept counts per group (0 for a fully pruned group).
    pub fn kept(&self) -> Vec<usize> {
        self.groups.iter().map(|g| g.keep.len()).collect()
    }

    /// Widths of the pruned graph (a fully pruned group keeps one dead channel).
    pub fn widths(&self) -> Vec<usize> {
        self.groups.iter().map(GroupKeep::pruned_width).collect()
    }

    /// The pruned graph: `g` with the plan's widths ([`Groups::resize`]), named
    /// `<name>-<method>`; its Mask nodes stay (at 1.0 after surgery) so the result can be
    /// pruned again.
    pub fn pruned_spec(&self, g: &Graph) -> Result<Graph, PlanError> {
        self.check(g)?;
        let mut out = g.groups()?.resize(g, &self.widths())?;
        out.name = format!("{}-{}", g.name, self.method);
        Ok(out)
    }

    /// Write as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<(), PlanError> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|source| PlanError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        std::fs::write(path, bytes).map_err(|source| PlanError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Read a plan written by [`KeepPlan::save`].
    pub fn load(path: &Path) -> Result<KeepPlan, PlanError> {
        let bytes = std::fs::read(path).map_err(|source| PlanError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|source| PlanError::Json {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Values of Mask node `node` of `net`.
pub fn mask_of(net: &Net, node: usize) -> Result<Vec<f32>, PlanError> {
    Ok(net.tensor(node, "values")?.values)
}

/// Each prunable group's mask values, `None` where it has no Mask node. With several
/// masks on a group (residual branches) each channel gets the value of largest magnitude.
pub fn mask_values(g: &Graph, net: &Net) -> Result<Vec<Option<Vec<f32>>>, PlanError> {
    let groups = g.groups()?;
    group_mask_values(g, &groups, net)
}

/// [`mask_values`] with the groups already computed.
pub fn group_mask_values(
    g: &Graph,
    groups: &Groups,
    net: &Net,
) -> Result<Vec<Option<Vec<f32>>>, PlanError> {
    groups
        .prunable()
        .into_iter()
        .map(|gi| {
            let mut acc: Option<Vec<f32>> = None;
            for m in group_masks(g, groups, gi) {
                let v = mask_of(net, m)?;
                acc = Some(match acc {
                    None => v,
                    Some(a) => a
                        .into_iter()
                        .zip(v)
                        .map(|(x, y)| if y.abs() > x.abs() { y } else { x })
                        .collect(),
                });
            }
            Ok(acc)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Op;
    use crate::graph::presets::seed_c10;

    #[test]
    fn plan_checks_round_trips_and_shrinks_the_spec() {
        let g = seed_c10();
        let widths = g.groups().unwrap_or_else(|e| panic!("{e}")).widths();
        let full = KeepPlan::full(&g, "none").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(full.kept(), widths);
        assert_eq!(full.groups[1].group, "conv2");
        let keeps = vec![vec![3, 1], vec![0], vec![], (0..32).collect(), vec![47]];
        let plan = KeepPlan::new(&g, "t", keeps).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.groups[0].keep, vec![1, 3]);
        assert_eq!(plan.widths(), vec![2, 1, 1, 32, 1]);
        let pruned = plan.pruned_spec(&g).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pruned.name, "seed-c10-t");
        assert_eq!(
            pruned.groups().unwrap_or_else(|e| panic!("{e}")).widths(),
            vec![2, 1, 1, 32, 1]
        );
        assert_eq!(pruned.nodes_where(|o| matches!(o, Op::Mask(_))).len(), 5);
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("plan.json");
        plan.save(&p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(KeepPlan::load(&p).unwrap_or_else(|e| panic!("{e}")), plan);
        // Out of range, duplicates, wrong count, wrong group are refused.
        let mut bad = plan.clone();
        bad.groups[0].keep = vec![16];
        assert!(bad.check(&g).is_err());
        bad.groups[0].keep = vec![2, 2];
        assert!(bad.check(&g).is_err());
        let mut bad = plan.clone();
        bad.groups[2].group = "conv9".into();
        assert!(bad.check(&g).is_err());
        assert!(KeepPlan::new(&g, "t", vec![vec![0]]).is_err());
    }
}
