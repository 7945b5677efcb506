//! Errors of surgery: plans that do not fit, tensors that do not fit, and a failed
//! equivalence check (which names the first layer whose output differs).

/// Why a surgery was refused or failed its check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SurgeryError {
    /// The spec is invalid.
    #[error(transparent)]
    Arch(#[from] crate::arch::ArchError),
    /// Reading or setting the net's tensors failed.
    #[error(transparent)]
    Nn(#[from] crate::nn::NnError),
    /// The keep plan or dependency graph does not fit the spec.
    #[error("plan: {0}")]
    Plan(String),
    /// A layer lacks a tensor surgery needs (e.g. a conv without bias).
    #[error("layer {layer}: missing tensor `{name}`")]
    MissingTensor {
        /// Layer index.
        layer: usize,
        /// Tensor name.
        name: &'static str,
    },
    /// A mask value that cannot be folded or kept.
    #[error("layer {layer} (Mask) channel {channel}: value {value} is not finite")]
    NonFiniteMask {
        /// Mask layer index.
        layer: usize,
        /// Channel.
        channel: usize,
        /// The value.
        value: f32,
    },
    /// The pruned net does not compute what the masked net computes.
    #[error(
        "surgery check failed at layer {layer} ({kind}): max |masked - pruned| = {max_abs_diff:e} \
         > tolerance {tolerance:e}"
    )]
    Mismatch {
        /// First layer (index in the spec) whose output differs.
        layer: usize,
        /// Its kind.
        kind: &'static str,
        /// Largest absolute difference over the kept channels of the check batch.
        max_abs_diff: f32,
        /// Allowed difference.
        tolerance: f32,
    },
}

impl From<crate::prune::PruneError> for SurgeryError {
    fn from(e: crate::prune::PruneError) -> Self {
        SurgeryError::Plan(e.to_string())
    }
}
