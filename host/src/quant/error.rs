//! `QuantError`: why post-training quantization could not calibrate or encode a network.

use whittle_shared::Error as FormatError;

use crate::export::ExportError;

/// Everything that can go wrong quantizing a network.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QuantError {
    /// Calibration needs at least one image.
    #[error("no calibration images")]
    NoImages,
    /// The image buffer is not a whole number of model inputs.
    #[error("calibration images: {found} values is not a multiple of the input size {input}")]
    ImageSize {
        /// Values in the buffer.
        found: usize,
        /// Values of one input.
        input: usize,
    },
    /// A percentile outside (50, 100].
    #[error("percentile {0} must be in (50, 100]")]
    BadPercentile(f64),
    /// The range table does not cover the graph's tensors.
    #[error("{found} calibrated ranges for {expected} tensors")]
    RangeCount {
        /// Tensors in the graph.
        expected: usize,
        /// Ranges given.
        found: usize,
    },
    /// Checking or lowering the float network failed.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// The blob encoder, validator or executor refused.
    #[error("blob: {0}")]
    Format(#[from] FormatError),
}
