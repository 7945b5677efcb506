//! Errors of architecture specs: which layer, what it expected, what it found.

/// A spec that cannot be built into a network.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchError {
    /// `--arch` names no known preset.
    #[error("unknown architecture `{name}` (known: {known})")]
    UnknownPreset {
        /// The name given.
        name: String,
        /// The names known.
        known: String,
    },
    /// A layer receives input of the wrong rank (e.g. Dense before Flatten).
    #[error("layer {index} ({layer}) expects {expected} input, found {found}")]
    Rank {
        /// Layer index in the spec.
        index: usize,
        /// The layer kind.
        layer: &'static str,
        /// What it needs.
        expected: &'static str,
        /// What it got.
        found: String,
    },
    /// A mask placed somewhere other than right after a conv/dense layer with ReLU.
    #[error("layer {index}: a Mask must directly follow a Conv or Dense layer with ReLU")]
    MaskPlacement {
        /// Layer index in the spec.
        index: usize,
    },
    /// A width, kernel or pool size of zero, an even kernel, or a pool bigger than its input.
    #[error("layer {index} ({layer}): {what}")]
    BadParameter {
        /// Layer index in the spec.
        index: usize,
        /// The layer kind.
        layer: &'static str,
        /// What is wrong.
        what: String,
    },
    /// The network does not end in `num_classes` logits.
    #[error(
        "the last layer must be a Dense layer without ReLU giving {classes} logits, found {found}"
    )]
    Output {
        /// Classes of the spec.
        classes: usize,
        /// What the spec ends in.
        found: String,
    },
    /// `with_widths` got the wrong number of widths.
    #[error("spec has {expected} prunable layers, {found} widths given")]
    WidthCount {
        /// Prunable layers.
        expected: usize,
        /// Widths given.
        found: usize,
    },
    /// Reading or writing `spec.json`.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// File access for `spec.json`.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}
