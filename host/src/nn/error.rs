//! Errors of the nn module: building nets from specs, loading weights, setting tensors.

/// Building, loading or editing a [`Net`](super::net::Net).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NnError {
    /// The graph itself is invalid.
    #[error(transparent)]
    Graph(#[from] crate::graph::GraphError),
    /// A weights file could not be read or does not fit the spec.
    #[error("{path}: cannot load weights: {source}")]
    Load {
        /// The file.
        path: String,
        /// burn's complaint.
        source: burn::store::RecordError,
    },
    /// A weights file could not be written.
    #[error("{path}: cannot save weights: {source}")]
    Save {
        /// The file.
        path: String,
        /// burn's complaint.
        source: burn::store::RecordError,
    },
    /// A layer index out of range or of a kind without that tensor.
    #[error("node {index} ({kind}) has no tensor `{name}`")]
    NoSuchTensor {
        /// Node index.
        index: usize,
        /// The layer's kind.
        kind: &'static str,
        /// The tensor asked for.
        name: String,
    },
    /// A tensor of the wrong shape or length.
    #[error(
        "node {index} tensor `{name}`: expected shape {expected:?}, found {found:?} ({values} values)"
    )]
    Shape {
        /// Node index.
        index: usize,
        /// Tensor name.
        name: String,
        /// Shape the layer has.
        expected: Vec<usize>,
        /// Shape given.
        found: Vec<usize>,
        /// Values given.
        values: usize,
    },
    /// Reading a tensor back from the device failed.
    #[error("reading tensor `{name}` of node {index}: {message}")]
    Read {
        /// Node index.
        index: usize,
        /// Tensor name.
        name: String,
        /// The cause.
        message: String,
    },
}
