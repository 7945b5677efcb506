//! Errors of surgery: plans that do not fit, tensors that do not fit, and a failed
//! equivalence check (which names the first node whose output differs).

/// Why a surgery was refused or failed its check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SurgeryError {
    /// The graph is invalid, or its channel groups cannot be formed.
    #[error(transparent)]
    Graph(#[from] crate::graph::GraphError),
    /// Reading or setting the net's tensors failed.
    #[error(transparent)]
    Nn(#[from] crate::nn::NnError),
    /// The two nets do not match in structure.
    #[error("plan: {0}")]
    Plan(String),
    /// The keep plan does not fit the graph.
    #[error(transparent)]
    KeepPlan(#[from] crate::plan::PlanError),
    /// A node lacks a tensor surgery needs.
    #[error("node `{node}`: missing tensor `{name}`")]
    MissingTensor {
        /// The node.
        node: String,
        /// Tensor name.
        name: &'static str,
    },
    /// A mask value that cannot be folded or kept.
    #[error("node `{node}` (Mask) channel {channel}: value {value} is not finite")]
    NonFiniteMask {
        /// The Mask node.
        node: String,
        /// Channel.
        channel: usize,
        /// The value.
        value: f32,
    },
    /// The pruned net does not compute what the masked net computes.
    #[error(
        "surgery check failed at node `{node}` ({op}): max |masked - pruned| = {max_abs_diff:e} \
         > tolerance {tolerance:e}"
    )]
    Mismatch {
        /// First node (in execution order) whose output differs (`input` for the input).
        node: String,
        /// Its op.
        op: &'static str,
        /// Largest absolute difference over the kept channels of the check batch.
        max_abs_diff: f32,
        /// Allowed difference.
        tolerance: f32,
    },
}
