//! Folding a trained graph into the float graph a blob is lowered from: BatchNorm into the
//! producing conv/dense, masks into the producer they follow, Dropout and a final Softmax
//! removed. The result, [`Folded`], computes the same logits with convs, denses and plain ops.

use std::collections::HashMap;

use super::error::ExportError;
use crate::graph::op::{Conv2d, Dense};
use crate::graph::{Graph, NodeDef, Op, ParamKind, ValueId};
use crate::nn::NamedTensor;

/// A float graph ready to lower: only Conv2d (with bias), Dense (with bias), Relu, Clip,
/// Add, pools, GlobalAvgPool and Flatten nodes; `weights[i]` holds node `i`'s `weight` and
/// `bias` in burn's layouts (Conv `[out, in, kh, kw]`, Dense `[in, out]`), empty otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct Folded {
    /// The folded graph.
    pub graph: Graph,
    /// Per node: its tensors (see above).
    pub weights: Vec<Vec<NamedTensor>>,
}

impl Folded {
    /// Values of one input image (`c·h·w`).
    pub fn input_len(&self) -> usize {
        self.graph.input_dims().iter().product()
    }

    /// Weights and biases of every conv and dense node.
    pub fn num_params(&self) -> usize {
        self.weights.iter().flatten().map(|t| t.values.len()).sum()
    }

    /// Node `node`'s tensor called `name`.
    pub fn tensor(&self, node: usize, name: &str) -> Result<&NamedTensor, ExportError> {
        self.weights
            .get(node)
            .and_then(|ts| ts.iter().find(|t| t.name == name))
            .ok_or_else(|| ExportError::Tensor {
                node: self
                    .graph
                    .nodes
                    .get(node)
                    .map(|n| n.name.clone())
                    .unwrap_or_else(|| format!("#{node}")),
                tensor: name.into(),
                what: "missing".into(),
            })
    }
}

/// Tensors for every node of `g` that make each parameterized node neutral: zero kernels and
/// biases, BatchNorm γ = 1, β = 0, mean 0, variance 1, masks 1, gates 0 (for structure-only
/// uses such as synthetic models, whose weights come from elsewhere).
pub fn placeholder_tensors(g: &Graph) -> Vec<Vec<NamedTensor>> {
    (0..g.nodes.len())
        .map(|i| {
            g.params(i)
                .into_iter()
                .map(|d| {
                    let fill = match d.kind {
                        ParamKind::Kernel
                        | ParamKind::Bias
                        | ParamKind::Gate
                        | ParamKind::BnShift
                        | ParamKind::BnMean => 0.0,
                        ParamKind::Mask | ParamKind::BnScale | ParamKind::BnVar => 1.0,
                    };
                    NamedTensor {
                        name: d.name.into(),
                        values: vec![fill; d.shape.iter().product()],
                        shape: d.shape,
                    }
                })
                .collect()
        })
        .collect()
}

/// Checks node `i`'s tensors against the graph's declarations (names, shapes, finite
/// values) and returns them by name.
pub(super) fn checked<'t>(
    g: &Graph,
    i: usize,
    tensors: &'t [NamedTensor],
) -> Result<HashMap<&'static str, &'t [f32]>, ExportError> {
    let node = &g.nodes[i].name;
    let mut by_name = HashMap::new();
    for d in g.params(i) {
        let t = tensors
            .iter()
            .find(|t| t.name == d.name)
            .ok_or_else(|| ExportError::Tensor {
                node: node.clone(),
                tensor: d.name.into(),
                what: format!("missing (expected shape {:?})", d.shape),
            })?;
        if t.shape != d.shape || t.values.len() != d.shape.iter().product::<usize>() {
            return Err(ExportError::Tensor {
                node: node.clone(),
                tensor: d.name.into(),
                what: format!(
                    "shape {:?} with {} values, the graph implies {:?}",
                    t.shape,
                    t.values.len(),
                    d.shape
                ),
            });
        }
        if !t.values.iter().all(|v| v.is_finite()) {
            return Err(ExportError::NonFinite {
                node: node.clone(),
                tensor: d.name.into(),
            });
        }
        by_name.insert(d.name, t.values.as_slice());
    }
    Ok(by_name)
}

/// A producer's float parameters while folding: `weight` in burn's layout, `bias` per
/// output channel, and how to find output channel `o`'s weights.
#[derive(Debug, Clone)]
struct Params {
    weight: Vec<f32>,
    bias: Vec<f32>,
    /// Conv: rows of `per` consecutive values per output channel (OIHW); Dense: `[in, out]`,
    /// column `o` (stride `out`).
    conv: bool,
}

impl Params {
    fn out(&self) -> usize {
        self.bias.len()
    }
    /// Applies `f(o, w)` to every weight of output channel `o`.
    fn map_weights(&mut self, mut f: impl FnMut(usize, f32) -> f32) {
        let out = self.out();
        if self.conv {
            let per = self.weight.len() / out.max(1);
            for (k, w) in self.weight.iter_mut().enumerate() {
                *w = f(k / per.max(1), *w);
            }
        } else {
            for (k, w) in self.weight.iter_mut().enumerate() {
                *w = f(k % out, *w);
            }
        }
    }
}

/// Folding state: which nodes are gone, what each value now is.
struct State<'g> {
    g: &'g Graph,
    /// Every value's replacement (itself unless its node was removed).
    alias: Vec<ValueId>,
    removed: Vec<bool>,
}

impl State<'_> {
    fn resolve(&self, v: ValueId) -> ValueId {
        self.alias[v.0]
    }
    /// Nodes still present reading `v` (after aliasing).
    fn readers(&self, v: ValueId) -> Vec<usize> {
        (0..self.g.nodes.len())
            .filter(|&j| !self.removed[j])
            .filter(|&j| self.g.nodes[j].inputs.iter().any(|&u| self.resolve(u) == v))
            .collect()
    }
    fn is_output(&self, v: ValueId) -> bool {
        self.resolve(self.g.output) == v
    }
    /// Removes node `i`: its readers read its (resolved) first input.
    fn remove(&mut self, i: usize) {
        let n = &self.g.nodes[i];
        self.alias[n.output.0] = self.resolve(n.inputs[0]);
        self.removed[i] = true;
    }
}

/// Folds a trained graph with its tensors (`tensors[i]` = node `i`'s, as
/// [`Net::tensors`](crate::nn::Net::tensors) returns them) into a [`Folded`] graph:
///
/// - **BatchNorm** (eval mode) into the Conv2d/Dense whose output only it reads, exactly:
///   with `s = γ/√(var+ε)` per channel, `w' = w·s`, `b' = (b − mean)·s + β` (a producer
///   without a bias gets one);
/// - **Mask** `m ≥ 0` into the producer (or BatchNorm) it follows through ReLU, MaxPool,
///   AvgPool, GlobalAvgPool or Dropout: `relu(z)·m = relu(m·z)` and pools commute with a
///   non-negative scale, so output channel `o`'s weights and bias are multiplied by `m[o]`
///   (negative or NaN values are refused);
/// - **Dropout** removed (identity at inference);
/// - **Softmax** removed when it produces the logits: deployment returns the logits, whose
///   argmax is the same;
/// - **Gate** refused: L0 gates must be removed (pruned) before export.
///
/// Every value on a folded path must be read by that path only, and none of them may be the
/// graph output; otherwise folding would change what another reader sees, and is refused.
pub fn fold(graph: &Graph, tensors: &[Vec<NamedTensor>]) -> Result<Folded, ExportError> {
    let g = graph;
    if tensors.len() != g.nodes.len() {
        return Err(ExportError::NodeCount {
            expected: g.nodes.len(),
            found: tensors.len(),
        });
    }
    let mut params: Vec<Option<Params>> = vec![None; g.nodes.len()];
    let mut st = State {
        g,
        alias: (0..g.values.len()).map(ValueId).collect(),
        removed: vec![false; g.nodes.len()],
    };
    for (i, node) in g.nodes.iter().enumerate() {
        let t = checked(g, i, &tensors[i])?;
        let get = |name: &str| t.get(name).copied().unwrap_or(&[]);
        match &node.op {
            Op::Conv2d(Conv2d { out, .. }) | Op::Dense(Dense { out, .. }) => {
                let bias = if t.contains_key("bias") {
                    get("bias").to_vec()
                } else {
                    vec![0.0; *out]
                };
                params[i] = Some(Params {
                    weight: get("weight").to_vec(),
                    bias,
                    conv: matches!(node.op, Op::Conv2d(_)),
                });
            }
            Op::BatchNorm(bn) => {
                let v = st.resolve(node.inputs[0]);
                let p = g.values[v.0].producer;
                let target = match p {
                    Some(p)
                        if matches!(g.nodes[p].op, Op::Conv2d(_) | Op::Dense(_))
                            && st.readers(v) == [i]
                            && !st.is_output(v) =>
                    {
                        p
                    }
                    _ => {
                        return Err(ExportError::node(
                            g,
                            i,
                            "a BatchNorm folds only into the Conv2d or Dense directly before \
                             it, whose output nothing else reads",
                        ));
                    }
                };
                let Some(pp) = params[target].as_mut() else {
                    return Err(ExportError::node(g, target, "producer without parameters"));
                };
                let (gamma, beta, mean, var) = (
                    get("gamma"),
                    get("beta"),
                    get("running_mean"),
                    get("running_var"),
                );
                let scale: Vec<f64> = gamma
                    .iter()
                    .zip(var)
                    .map(|(&gm, &vr)| f64::from(gm) / (f64::from(vr) + bn.epsilon).sqrt())
                    .collect();
                if scale.len() != pp.out() || !scale.iter().all(|s| s.is_finite()) {
                    return Err(ExportError::node(
                        g,
                        i,
                        format!(
                            "γ/√(var+ε) is not finite or does not match {} channels",
                            pp.out()
                        ),
                    ));
                }
                pp.map_weights(|o, w| (f64::from(w) * scale[o]) as f32);
                for (o, b) in pp.bias.iter_mut().enumerate() {
                    *b = ((f64::from(*b) - f64::from(mean[o])) * scale[o] + f64::from(beta[o]))
                        as f32;
                }
                st.remove(i);
            }
            Op::Mask(_) => {
                let m = get("values");
                if let Some((j, v)) = m.iter().enumerate().find(|(_, v)| v.is_nan() || **v < 0.0) {
                    return Err(ExportError::node(
                        g,
                        i,
                        format!("mask value {v} at channel {j}: only m ≥ 0 folds through a ReLU"),
                    ));
                }
                let target = mask_target(&st, i)?;
                let Some(pp) = params[target].as_mut() else {
                    return Err(ExportError::node(g, target, "producer without parameters"));
                };
                if pp.out() != m.len() {
                    return Err(ExportError::node(
                        g,
                        i,
                        format!("{} mask values for {} channels", m.len(), pp.out()),
                    ));
                }
                // f32 products, as the channel's activations would have been scaled.
                pp.map_weights(|o, w| w * m[o]);
                pp.bias.iter_mut().zip(m).for_each(|(b, s)| *b *= s);
                st.remove(i);
            }
            Op::Dropout(_) => st.remove(i),
            Op::Softmax(_) => {
                if g.output != node.output {
                    return Err(ExportError::node(
                        g,
                        i,
                        "only a Softmax producing the logits is dropped for deployment",
                    ));
                }
                st.remove(i);
            }
            Op::Gate(_) => {
                return Err(ExportError::node(
                    g,
                    i,
                    "hard-concrete gates cannot be exported: finish the L0 method (cut the \
                     gated channels and remove the gates) first",
                ));
            }
            Op::Relu(_)
            | Op::Clip(_)
            | Op::Add(_)
            | Op::MaxPool(_)
            | Op::AvgPool(_)
            | Op::GlobalAvgPool(_)
            | Op::Flatten(_) => {}
        }
    }
    let mut def = g.to_def();
    let name = |v: ValueId| g.values[st.resolve(v).0].name.clone();
    let mut nodes = Vec::new();
    let mut weights = Vec::new();
    for (i, node) in g.nodes.iter().enumerate() {
        if st.removed[i] {
            continue;
        }
        let op = match &node.op {
            Op::Conv2d(c) => Op::Conv2d(Conv2d {
                bias: true,
                ..c.clone()
            }),
            Op::Dense(d) => Op::Dense(Dense {
                bias: true,
                ..d.clone()
            }),
            other => other.clone(),
        };
        weights.push(match params[i].take() {
            Some(p) => {
                let decl = g.params(i);
                let shape = decl.first().map(|d| d.shape.clone()).unwrap_or_default();
                vec![
                    NamedTensor {
                        name: "weight".into(),
                        shape,
                        values: p.weight,
                    },
                    NamedTensor {
                        name: "bias".into(),
                        shape: vec![p.bias.len()],
                        values: p.bias,
                    },
                ]
            }
            None => Vec::new(),
        });
        nodes.push(NodeDef {
            name: node.name.clone(),
            op,
            inputs: node.inputs.iter().map(|&v| name(v)).collect(),
        });
    }
    def.output = name(g.output);
    def.frozen.retain(|f| nodes.iter().any(|n| &n.name == f));
    def.nodes = nodes;
    let graph = Graph::new(def)?;
    Ok(Folded { graph, weights })
}

/// The Conv2d/Dense node mask `i` folds into: back from its input through ReLU, pools and
/// (removed) Dropout, each value read only by the next node of the path.
fn mask_target(st: &State, i: usize) -> Result<usize, ExportError> {
    let g = st.g;
    let mut next = i;
    let mut v = st.resolve(g.nodes[i].inputs[0]);
    loop {
        if st.is_output(v) || st.readers(v) != [next] {
            return Err(ExportError::node(
                g,
                i,
                format!(
                    "`{}` is read by other nodes too (or is the output): scaling it for the \
                     mask would change what they see",
                    g.values[v.0].name
                ),
            ));
        }
        let Some(p) = g.values[v.0].producer else {
            return Err(ExportError::node(
                g,
                i,
                "a mask on the model input cannot fold",
            ));
        };
        match &g.nodes[p].op {
            Op::Conv2d(_) | Op::Dense(_) => return Ok(p),
            Op::Relu(_) | Op::MaxPool(_) | Op::AvgPool(_) | Op::GlobalAvgPool(_) => {
                next = p;
                v = st.resolve(g.nodes[p].inputs[0]);
            }
            Op::BatchNorm(_)
            | Op::Clip(_)
            | Op::Mask(_)
            | Op::Gate(_)
            | Op::Add(_)
            | Op::Flatten(_)
            | Op::Dropout(_)
            | Op::Softmax(_) => {
                return Err(ExportError::node(
                    g,
                    i,
                    format!(
                        "a mask folds through ReLU, pools and Dropout into a Conv2d or Dense, \
                         not through `{}` ({})",
                        g.nodes[p].name,
                        g.nodes[p].op.name()
                    ),
                ));
            }
        }
    }
}
