//! Errors of an experiment: a bad config (naming the field), or a failed point.

use std::path::PathBuf;

/// What can stop an experiment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExperimentError {
    /// The config file is invalid; `field` names the offending field.
    #[error("{path}: `{field}`: {what}")]
    Config {
        /// The config file.
        path: String,
        /// The field (`methods[2]`, `removed[0]`, `data`, …).
        field: String,
        /// What is wrong.
        what: String,
    },
    /// No point with this index.
    #[error("point {index} does not exist (the config has {count} points: see --list)")]
    NoPoint {
        /// Asked for.
        index: usize,
        /// Points in the config.
        count: usize,
    },
    /// Pruning or training a point failed.
    #[error("point {index} ({name}): {source}")]
    Point {
        /// The point's index.
        index: usize,
        /// Its name.
        name: String,
        /// The cause.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A JSON file is malformed.
    #[error("{}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
}
