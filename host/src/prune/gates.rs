//! Hard-concrete gates as graph nodes (the L0 method's model): one `Gate` per prunable
//! group inserted after its first Mask (or, without one, its first ReLU), and removed again.

use burn::tensor::Device;

use super::error::PruneError;
use crate::graph::group_masks;
use crate::graph::op::Gate;
use crate::graph::{Graph, Op};
use crate::nn::Net;
use crate::nn::module::{self, NodeModule};

/// Where one group's gate sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateSite {
    /// The prunable group's name.
    pub group: String,
    /// The node the gate follows (a Mask, or a ReLU where the group has no mask).
    pub after: String,
    /// True when `after` is a Mask node (the test-time gate then scales its values).
    pub after_mask: bool,
    /// The Gate node's name.
    pub gate: String,
}

/// The gate sites of `g`, one per prunable group in group order.
pub fn sites(g: &Graph) -> Result<Vec<GateSite>, PruneError> {
    let groups = g.groups()?;
    groups
        .prunable()
        .into_iter()
        .map(|gi| {
            let grp = &groups.all[gi];
            let mask = group_masks(g, &groups, gi).first().copied();
            let in_group = |i: usize| groups.of_value[g.nodes[i].inputs[0].0].0 == gi;
            // A ReLU whose input comes straight from a Conv/Dense/BatchNorm read by it
            // alone: the gate after it folds into that node.
            let relu = || {
                (0..g.nodes.len()).find(|&i| {
                    let v = g.nodes[i].inputs[0];
                    matches!(g.nodes[i].op, Op::Relu(_))
                        && in_group(i)
                        && g.values[v.0].producer.is_some_and(|p| {
                            matches!(
                                g.nodes[p].op,
                                Op::Conv2d(_) | Op::Dense(_) | Op::BatchNorm(_)
                            ) && g.readers(v).len() == 1
                        })
                })
            };
            // Otherwise (a group whose ReLU follows a residual Add): right after the
            // group's first BatchNorm, or its first producer — one branch of the group,
            // so learning there is approximate, while the cut stays exact.
            let branch = || {
                let first = |pred: fn(&Op) -> bool| {
                    (0..g.nodes.len()).find(|&i| {
                        pred(&g.nodes[i].op) && groups.of_value[g.nodes[i].output.0].0 == gi
                    })
                };
                first(|o| matches!(o, Op::BatchNorm(_)))
                    .or_else(|| first(|o| matches!(o, Op::Conv2d(_) | Op::Dense(_))))
            };
            let after = mask.or_else(relu).or_else(branch).ok_or_else(|| {
                PruneError::Config(format!(
                    "l0: group `{}` has neither a Mask nor a ReLU to put a gate after",
                    grp.name
                ))
            })?;
            let base = format!("{}_gate", g.nodes[after].name);
            let mut gate = base.clone();
            let mut k = 1;
            while g.node_index(&gate).is_some() || g.values[g.input.0].name == gate {
                k += 1;
                gate = format!("{base}{k}");
            }
            Ok(GateSite {
                group: grp.name.clone(),
                after: g.nodes[after].name.clone(),
                after_mask: mask.is_some(),
                gate,
            })
        })
        .collect()
}

/// The device a net's parameters live on.
pub fn device_of(net: &Net) -> Option<Device> {
    net.nodes.iter().find_map(|m| match m {
        NodeModule::Conv(c) => Some(c.weight.val().device()),
        NodeModule::Dense(d) => Some(d.weight.val().device()),
        NodeModule::BatchNorm(b) => Some(b.gamma.val().device()),
        NodeModule::Mask(k) => Some(k.values.val().device()),
        NodeModule::Gate(h) => Some(h.log_alpha.val().device()),
        NodeModule::Dropout(_)
        | NodeModule::MaxPool(_)
        | NodeModule::AvgPool(_)
        | NodeModule::Stateless(_) => None,
    })
}

/// `net` with a Gate node (log α = `init`) at each of `sites`; every other node keeps its
/// module (and parameter ids).
pub fn insert(net: Net, sites: &[GateSite], init: f32) -> Result<Net, PruneError> {
    let device = device_of(&net)
        .ok_or_else(|| PruneError::Config("l0: the net has no parameters".into()))?;
    let mut g = net.graph.clone();
    for s in sites {
        let after = g.node_index(&s.after).ok_or_else(|| PruneError::Node {
            node: s.after.clone(),
            what: "not in the graph".into(),
        })?;
        g = g.insert_after(
            after,
            &s.gate,
            Op::Gate(Gate {
                log_alpha_init: init,
            }),
        )?;
    }
    let old = net.graph;
    let mut modules: Vec<Option<NodeModule>> = net.nodes.into_iter().map(Some).collect();
    let nodes = (0..g.nodes.len())
        .map(|i| {
            match old
                .node_index(&g.nodes[i].name)
                .and_then(|j| modules[j].take())
            {
                Some(m) => m,
                None => module::build(&g.nodes[i].op, &g.input_shapes(i), &device),
            }
        })
        .collect();
    Ok(Net { nodes, graph: g })
}

/// `net` without its Gate nodes (the other modules kept as they are).
pub fn remove(net: Net) -> Result<Net, PruneError> {
    let g = net.graph.without(|op| matches!(op, Op::Gate(_)))?;
    let nodes = net
        .nodes
        .into_iter()
        .zip(&net.graph.nodes)
        .filter(|(_, n)| !matches!(n.op, Op::Gate(_)))
        .map(|(m, _)| m)
        .collect();
    Ok(Net { nodes, graph: g })
}
