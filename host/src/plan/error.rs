//! Errors of keep plans: a plan that does not fit its graph, and `keep_plan.json` files.

use std::path::PathBuf;

/// What can go wrong with a keep plan.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The graph is invalid, or its channel groups cannot be formed.
    #[error(transparent)]
    Graph(#[from] crate::graph::GraphError),
    /// A mask tensor cannot be read.
    #[error(transparent)]
    Nn(#[from] crate::nn::NnError),
    /// A keep plan does not fit the graph.
    #[error("keep plan, group `{group}`: {what}")]
    Plan {
        /// The channel group's name (empty when the whole plan is off).
        group: String,
        /// What is wrong.
        what: String,
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
