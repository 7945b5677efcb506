//! `ImportError`: why an ONNX file cannot become a whittle run — each a single line that
//! names the file, the node (its ONNX name and op type) and what whittle supports.

use thiserror::Error;

use crate::graph::GraphError;
use crate::nn::NnError;
use crate::train::TrainError;

/// Errors of the ONNX importer.
#[derive(Debug, Error)]
pub enum ImportError {
    /// The file cannot be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's reason.
        message: String,
    },
    /// The bytes are not a protobuf ONNX model (truncated, or some other file).
    #[error("{path} is not an ONNX model: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What the protobuf decoder or the envelope check found.
        message: String,
    },
    /// An op whittle does not import.
    #[error(
        "{path}: node `{node}` is {op} (opset {opset}), which whittle does not import; \
         supported: {supported}"
    )]
    Unsupported {
        /// The file.
        path: String,
        /// The ONNX node's name (or `#index (output NAME)` when it has none).
        node: String,
        /// Its op type (with the domain when not the default one).
        op: String,
        /// The model's default-domain opset.
        opset: i64,
        /// The ops whittle imports.
        supported: &'static str,
    },
    /// A supported op with attributes or inputs whittle cannot express.
    #[error("{path}: node `{node}` ({op}, opset {opset}): {message}")]
    Node {
        /// The file.
        path: String,
        /// The ONNX node's name.
        node: String,
        /// Its op type.
        op: String,
        /// The model's default-domain opset.
        opset: i64,
        /// What is wrong and what whittle supports instead.
        message: String,
    },
    /// The graph's inputs or outputs are not one image batch in and one vector out.
    #[error("{path}: {message}")]
    Signature {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The converted graph does not validate.
    #[error("{path}: the converted graph is invalid: {source}")]
    Graph {
        /// The file.
        path: String,
        /// The validation error (it names the node).
        source: GraphError,
    },
    /// The weights do not fit the burn modules.
    #[error("{path}: {source}")]
    Weights {
        /// The file.
        path: String,
        /// What did not fit.
        source: NnError,
    },
    /// Writing the run directory failed.
    #[error("writing the run: {0}")]
    Run(#[from] TrainError),
    /// The run directory exists and is not empty.
    #[error("{path} already holds files; pass an empty or new directory")]
    Exists {
        /// The directory.
        path: String,
    },
}
