//! Where a per-channel scale can be folded: the Conv/Dense or BatchNorm a Mask (or Gate)
//! follows through ReLU / pooling / Dropout only, with no other reader on the way.

use crate::graph::{Graph, Op, ParamKind, ValueId};
use crate::nn::NamedTensor;

use super::slice;

/// The chain from a channel-wise node back to the node its scale folds into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldPath {
    /// The Conv2d, Dense or BatchNorm node whose output channels absorb the scale.
    pub source: usize,
    /// The values from the source's output up to the channel-wise node's input: they
    /// carry the scale after folding (so a check compares them no more).
    pub values: Vec<ValueId>,
}

/// The fold path of channel-wise node `node`, if its scale `m ≥ 0` can move into an
/// earlier node exactly: `relu(z)·m = relu(z·m)`, max/avg pooling and dropout commute with
/// it, and every value on the way is read by the next node only (nobody else sees it).
pub fn fold_path(g: &Graph, node: usize) -> Option<FoldPath> {
    let mut v = *g.nodes.get(node)?.inputs.first()?;
    let mut values = Vec::new();
    loop {
        if v == g.output || g.readers(v).len() != 1 {
            return None;
        }
        values.push(v);
        let p = g.values[v.0].producer?;
        match &g.nodes[p].op {
            Op::Conv2d(_) | Op::Dense(_) | Op::BatchNorm(_) => {
                values.reverse();
                return Some(FoldPath { source: p, values });
            }
            Op::Relu(_)
            | Op::MaxPool(_)
            | Op::AvgPool(_)
            | Op::GlobalAvgPool(_)
            | Op::Dropout(_) => {
                v = g.nodes[p].inputs[0];
            }
            Op::Clip(_)
            | Op::Mask(_)
            | Op::Gate(_)
            | Op::Add(_)
            | Op::Flatten(_)
            | Op::Softmax(_) => return None,
        }
    }
}

/// True for the tensors a fold scales: kernels, biases, BatchNorm γ and β (not the
/// running statistics, masks or gates).
pub fn folds_into(kind: ParamKind) -> bool {
    match kind {
        ParamKind::Kernel | ParamKind::Bias | ParamKind::BnScale | ParamKind::BnShift => true,
        ParamKind::Mask | ParamKind::Gate | ParamKind::BnMean | ParamKind::BnVar => false,
    }
}

/// Multiply output channel `c` of node `source` (its tensors `tensors`, laid out as `g`
/// declares them) by `factors[c]`.
pub fn scale_source(g: &Graph, source: usize, tensors: &mut [NamedTensor], factors: &[f32]) {
    let decls = g.params(source);
    for t in tensors.iter_mut() {
        if let Some(d) = decls.iter().find(|d| d.name == t.name)
            && folds_into(d.kind)
            && let Some(axis) = d.out_axis
        {
            slice::scale(t, axis, factors);
        }
    }
}
