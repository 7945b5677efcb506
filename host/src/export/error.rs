//! `ExportError`: why a float network could not be checked, lowered, encoded or evaluated.
//! Variants carry the layer index and the numbers that locate the problem.

use whittle_shared::Error as FormatError;

/// Everything that can go wrong between a [`FloatNet`](super::FloatNet) and a blob.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// A layer does not fit the shape of its input (rank, channels, window larger than input).
    #[error("layer {layer} ({kind}): {what}")]
    Shape {
        /// Index in `FloatNet::layers`.
        layer: usize,
        /// Layer kind.
        kind: &'static str,
        /// What does not fit, with the numbers.
        what: String,
    },
    /// A weight or bias array has the wrong number of values.
    #[error("layer {layer} ({kind}) {tensor}: expected {expected} values, found {found}")]
    WeightCount {
        /// Index in `FloatNet::layers`.
        layer: usize,
        /// Layer kind.
        kind: &'static str,
        /// `weight` or `bias`.
        tensor: &'static str,
        /// Values the shapes imply.
        expected: usize,
        /// Values given.
        found: usize,
    },
    /// A weight, bias or mask value is NaN or infinite.
    #[error("layer {layer} ({kind}) has a non-finite {tensor} value")]
    NonFinite {
        /// Index in `FloatNet::layers`.
        layer: usize,
        /// Layer kind.
        kind: &'static str,
        /// `weight`, `bias` or `mask`.
        tensor: &'static str,
    },
    /// A number does not fit the blob's field (kernel > 255, a dimension > 16384, ...).
    #[error("layer {layer} ({kind}): {what} = {value} does not fit the blob format (max {max})")]
    FormatLimit {
        /// Index in `FloatNet::layers` (`usize::MAX` for the input).
        layer: usize,
        /// Layer kind.
        kind: &'static str,
        /// Field name.
        what: &'static str,
        /// The value.
        value: usize,
        /// Largest value the format takes.
        max: usize,
    },
    /// The network has no layers, or ends in a spatial tensor the blob cannot return.
    #[error("the network is empty")]
    Empty,
    /// A run's layers cannot be turned into a float network (unsupported layer, bad mask).
    #[error("converting the trained model, layer {layer} ({kind}): {what}")]
    Convert {
        /// Index in the architecture spec.
        layer: usize,
        /// Layer kind.
        kind: &'static str,
        /// What is wrong.
        what: String,
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
