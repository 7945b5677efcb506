//! Channel groups by union-find over values (Torch-Pruning's dependency graph): values
//! joined by pass-through, channel-wise, flatten and Add nodes carry the same channels, so
//! one keep list cuts every producer, BatchNorm, mask and consumer of a group together.

use super::error::GraphError;
use super::ir::{Graph, ValueId};
use super::op::{Cost, CostArgs, Op, Role};

/// A node reading a group's channels along its input axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consumer {
    /// The consuming Conv2d/Dense node.
    pub node: usize,
    /// Consecutive input features per channel: 1, or `h·w` after a flatten (NCHW).
    pub block: usize,
}

/// Values and nodes that share one set of channels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelGroup {
    /// Name: its first producer's, or the value's for groups without a producer.
    pub name: String,
    /// Channels in the group.
    pub channels: usize,
    /// Every value carrying the channels, with its block size (features per channel).
    pub values: Vec<(ValueId, usize)>,
    /// Producer nodes (Conv2d/Dense) whose output channels these are.
    pub producers: Vec<usize>,
    /// BatchNorm, Mask and Gate nodes on these channels.
    pub channel_wise: Vec<usize>,
    /// Nodes reading these channels.
    pub consumers: Vec<Consumer>,
    /// Why the group can't be pruned (the input, the logits, a barrier, frozen), if so.
    pub fixed: Option<String>,
}

impl ChannelGroup {
    /// True when the group may be cut.
    pub fn prunable(&self) -> bool {
        self.fixed.is_none()
    }
}

/// All channel groups of a graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Groups {
    /// Every group, ordered by first producer (then first value).
    pub all: Vec<ChannelGroup>,
    /// For each value: its group index in `all` and its block size.
    pub of_value: Vec<(usize, usize)>,
}

fn find(parent: &mut [usize], v: usize) -> usize {
    let mut r = v;
    while parent[r] != r {
        r = parent[r];
    }
    let mut x = v;
    while parent[x] != r {
        let next = parent[x];
        parent[x] = r;
        x = next;
    }
    r
}

impl Groups {
    /// Computes the groups of `g`. Errors when an Add joins values whose channel blocks
    /// differ (a flattened value added to a spatial one).
    pub fn of(g: &Graph) -> Result<Groups, GraphError> {
        let nv = g.values.len();
        let mut parent: Vec<usize> = (0..nv).collect();
        let mut block = vec![1usize; nv];
        let mut barrier = vec![false; nv];
        for n in &g.nodes {
            let out = n.output.0;
            let inp = n.inputs[0].0;
            match n.op.kind().role() {
                Role::Producer => {}
                Role::ChannelWise | Role::PassThrough => {
                    block[out] = block[inp];
                    let (a, b) = (find(&mut parent, out), find(&mut parent, inp));
                    parent[a] = b;
                }
                Role::Flatten => {
                    block[out] = block[inp] * g.values[inp].shape.positions();
                    let (a, b) = (find(&mut parent, out), find(&mut parent, inp));
                    parent[a] = b;
                }
                Role::Barrier => {
                    block[out] = block[inp];
                    barrier[out] = true;
                    let (a, b) = (find(&mut parent, out), find(&mut parent, inp));
                    parent[a] = b;
                }
                Role::Join => {
                    for v in &n.inputs {
                        if block[v.0] != block[inp] {
                            return Err(GraphError::Groups(format!(
                                "node `{}` adds values whose channels are laid out differently",
                                n.name
                            )));
                        }
                        let (a, b) = (find(&mut parent, out), find(&mut parent, v.0));
                        parent[a] = b;
                    }
                    block[out] = block[inp];
                }
            }
        }
        // Group roots in order of first producer, then first value.
        let mut order: Vec<usize> = Vec::new();
        let mut key: Vec<(usize, usize)> = Vec::new();
        let root_of: Vec<usize> = (0..nv).map(|v| find(&mut parent, v)).collect();
        for (v, &r) in root_of.iter().enumerate() {
            if !order.contains(&r) {
                order.push(r);
                let first_producer = (0..nv)
                    .filter(|&u| root_of[u] == r)
                    .filter_map(|u| {
                        g.values[u]
                            .producer
                            .filter(|&p| g.nodes[p].op.kind().role() == Role::Producer)
                    })
                    .min()
                    .unwrap_or(usize::MAX);
                key.push((first_producer, v));
            }
        }
        let mut idx: Vec<usize> = (0..order.len()).collect();
        idx.sort_by_key(|&i| key[i]);
        let mut all = Vec::with_capacity(order.len());
        let mut group_of_root = std::collections::HashMap::new();
        for &i in &idx {
            group_of_root.insert(order[i], all.len());
            all.push(ChannelGroup {
                name: String::new(),
                channels: 0,
                values: Vec::new(),
                producers: Vec::new(),
                channel_wise: Vec::new(),
                consumers: Vec::new(),
                fixed: None,
            });
        }
        let mut of_value = vec![(0, 1); nv];
        for v in 0..nv {
            let gi = group_of_root[&root_of[v]];
            of_value[v] = (gi, block[v]);
            let grp = &mut all[gi];
            grp.values.push((ValueId(v), block[v]));
            let ch = g.values[v].shape.channels() / block[v].max(1);
            if grp.values.len() == 1 {
                grp.channels = ch;
            } else if grp.channels != ch {
                return Err(GraphError::Groups(format!(
                    "value `{}` has {ch} channel(s), its group {}",
                    g.values[v].name, grp.channels
                )));
            }
            if barrier[v] {
                grp.fixed = Some(format!(
                    "read by `{}`, which mixes channels",
                    g.values[v].name
                ));
            }
        }
        for (i, n) in g.nodes.iter().enumerate() {
            let (go, _) = of_value[n.output.0];
            match n.op.kind().role() {
                Role::Producer => {
                    all[go].producers.push(i);
                    let (gi, b) = of_value[n.inputs[0].0];
                    all[gi].consumers.push(Consumer { node: i, block: b });
                }
                Role::ChannelWise => all[go].channel_wise.push(i),
                Role::PassThrough | Role::Flatten | Role::Join | Role::Barrier => {}
            }
        }
        let (gin, _) = of_value[g.input.0];
        let (gout, _) = of_value[g.output.0];
        for (gi, grp) in all.iter_mut().enumerate() {
            grp.name = match grp.producers.first() {
                Some(&p) => g.nodes[p].name.clone(),
                None => g.values[grp.values[0].0.0].name.clone(),
            };
            if gi == gin {
                grp.fixed = Some("the model input".into());
            } else if gi == gout {
                grp.fixed = Some("the logits".into());
            } else if grp.producers.is_empty() {
                grp.fixed = Some("no producer".into());
            } else if let Some(f) = grp
                .producers
                .iter()
                .find(|&&p| g.frozen.contains(&g.nodes[p].name))
            {
                grp.fixed = Some(format!("`{}` is marked unprunable", g.nodes[*f].name));
            }
        }
        Ok(Groups { all, of_value })
    }

    /// Indices (into `all`) of the prunable groups, in order.
    pub fn prunable(&self) -> Vec<usize> {
        (0..self.all.len())
            .filter(|&i| self.all[i].prunable())
            .collect()
    }

    /// Widths of the prunable groups, in order.
    pub fn widths(&self) -> Vec<usize> {
        self.prunable()
            .iter()
            .map(|&i| self.all[i].channels)
            .collect()
    }

    /// Names of the prunable groups, in order.
    pub fn names(&self) -> Vec<String> {
        self.prunable()
            .iter()
            .map(|&i| self.all[i].name.clone())
            .collect()
    }

    /// `g` with the prunable groups' widths replaced (every producer of a group gets its
    /// width); checked like any graph.
    pub fn resize(&self, g: &Graph, widths: &[usize]) -> Result<Graph, GraphError> {
        let p = self.prunable();
        if p.len() != widths.len() {
            return Err(GraphError::Groups(format!(
                "{} widths for {} prunable channel groups",
                widths.len(),
                p.len()
            )));
        }
        let mut def = g.to_def();
        for (&gi, &w) in p.iter().zip(widths) {
            for &node in &self.all[gi].producers {
                def.nodes[node].op = def.nodes[node].op.with_width(w);
            }
        }
        Graph::new(def)
    }

    /// Each node's cost with the prunable groups at `widths` (real numbers: expected
    /// channel counts interpolate), or at their full widths when `None`.
    pub fn node_costs(&self, g: &Graph, widths: Option<&[f64]>) -> Vec<Cost> {
        let p = self.prunable();
        let eff = |v: ValueId| -> f64 {
            let (gi, b) = self.of_value[v.0];
            match widths.and_then(|w| p.iter().position(|&x| x == gi).map(|k| w[k])) {
                Some(w) => w * b as f64,
                None => g.values[v.0].shape.channels() as f64,
            }
        };
        g.nodes
            .iter()
            .map(|n| {
                n.op.kind().cost(&CostArgs {
                    input: g.shape(n.inputs[0]),
                    output: g.shape(n.output),
                    cin: eff(n.inputs[0]),
                    cout: eff(n.output),
                })
            })
            .collect()
    }

    /// Whole-graph cost at `widths` (see [`node_costs`](Self::node_costs)).
    pub fn cost(&self, g: &Graph, widths: Option<&[f64]>) -> Cost {
        let mut total = Cost::default();
        for c in self.node_costs(g, widths) {
            total += c;
        }
        total
    }
}

impl Graph {
    /// The graph's channel groups.
    pub fn groups(&self) -> Result<Groups, GraphError> {
        Groups::of(self)
    }

    /// Whole-graph cost (MACs, params, int8 flash bytes) at its own widths.
    pub fn cost(&self) -> Result<Cost, GraphError> {
        Ok(self.groups()?.cost(self, None))
    }

    /// Multiply-accumulates per image.
    pub fn macs(&self) -> Result<u64, GraphError> {
        Ok(self.cost()?.macs.round() as u64)
    }

    /// Trainable weights and biases (masks and gates excluded).
    pub fn num_weights(&self) -> Result<u64, GraphError> {
        Ok(self.cost()?.params.round() as u64)
    }
}

/// The Mask nodes among group `gi`'s channel-wise nodes.
pub fn group_masks(g: &Graph, groups: &Groups, gi: usize) -> Vec<usize> {
    groups.all[gi]
        .channel_wise
        .iter()
        .copied()
        .filter(|&i| matches!(g.nodes[i].op, Op::Mask(_)))
        .collect()
}
