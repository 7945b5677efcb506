//! `ExportError`: why a network could not be folded, lowered, encoded or evaluated. Variants
//! name the graph node and carry the numbers that locate the problem.

use whittle_shared::Error as FormatError;

/// Everything that can go wrong between a trained [`Net`](crate::nn::Net) and a blob.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The folded graph is invalid (a bug in folding, or a bad graph handed in).
    #[error(transparent)]
    Graph(#[from] crate::graph::GraphError),
    /// Reading the net's tensors failed.
    #[error("reading the trained net: {0}")]
    Net(#[from] crate::nn::NnError),
    /// A node cannot be folded or lowered (an unfoldable BatchNorm or mask, a Gate, an op
    /// the blob format has no kernel for).
    #[error("node `{node}` ({op}): {what}")]
    Node {
        /// The node.
        node: String,
        /// Its op.
        op: &'static str,
        /// What is wrong.
        what: String,
    },
    /// A node's tensor is missing or has the wrong shape.
    #[error("node `{node}` tensor `{tensor}`: {what}")]
    Tensor {
        /// The node.
        node: String,
        /// The tensor's name.
        tensor: String,
        /// What is wrong, with the shapes.
        what: String,
    },
    /// A weight, bias or BatchNorm value is NaN or infinite.
    #[error("node `{node}` has a non-finite {tensor} value")]
    NonFinite {
        /// The node.
        node: String,
        /// The tensor.
        tensor: String,
    },
    /// A number does not fit the blob's field (kernel > 255, a dimension > 16384, ...).
    #[error("node `{node}` ({op}): {what} = {value} does not fit the blob format (max {max})")]
    FormatLimit {
        /// The node (or `input`).
        node: String,
        /// Its op.
        op: &'static str,
        /// Field name.
        what: &'static str,
        /// The value.
        value: usize,
        /// Largest value the format takes.
        max: usize,
    },
    /// The weights do not cover the graph (one list of tensors per node).
    #[error("{found} tensor lists for {expected} nodes")]
    NodeCount {
        /// Nodes in the graph.
        expected: usize,
        /// Lists given.
        found: usize,
    },
    /// An image or label buffer has the wrong length for the model.
    #[error("{what}: expected {expected} values, found {found}")]
    InputSize {
        /// Which buffer.
        what: &'static str,
        /// Length the model implies.
        expected: usize,
        /// Length given.
        found: usize,
    },
    /// The blob encoder, validator or executor refused.
    #[error("blob: {0}")]
    Format(#[from] FormatError),
}

impl ExportError {
    /// A [`Node`](Self::Node) error for node `node` of `g`.
    pub(crate) fn node(g: &crate::graph::Graph, node: usize, what: impl Into<String>) -> Self {
        ExportError::Node {
            node: g.nodes[node].name.clone(),
            op: g.nodes[node].op.name(),
            what: what.into(),
        }
    }
}
