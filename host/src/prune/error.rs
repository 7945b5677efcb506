//! Errors of pruning: channel groups, keep plans, budgets, method training, run files.

/// What can stop a pruning step.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PruneError {
    /// The graph is invalid, or its channel groups cannot be formed.
    #[error(transparent)]
    Graph(#[from] crate::graph::GraphError),
    /// Building, reading or editing the net failed.
    #[error(transparent)]
    Nn(#[from] crate::nn::NnError),
    /// Training (fine-tuning, run files) failed.
    #[error(transparent)]
    Train(#[from] crate::train::TrainError),
    /// Surgery or its equivalence check failed.
    #[error(transparent)]
    Surgery(#[from] crate::surgery::SurgeryError),
    /// A node's tensors cannot be read or used.
    #[error("node `{node}`: {what}")]
    Node {
        /// The node.
        node: String,
        /// What is wrong.
        what: String,
    },
    /// A keep plan does not fit the graph, or its file cannot be used.
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    /// A budget that no plan can meet.
    #[error("budget {target} {unit} cannot be met: the smallest net allowed costs {min}")]
    Budget {
        /// Target.
        target: u64,
        /// MACs, params or bytes.
        unit: &'static str,
        /// Cost with one channel (or `round_to`) per group.
        min: u64,
    },
    /// A value became NaN or infinite while a method trained.
    #[error("{what} became {value} at epoch {epoch}, step {step}; lower --lr / --lambda")]
    NonFinite {
        /// What went bad.
        what: String,
        /// The value.
        value: f32,
        /// Epoch (1-based).
        epoch: usize,
        /// Step in the epoch (1-based).
        step: usize,
    },
    /// A setting out of range.
    #[error("invalid setting: {0}")]
    Config(String),
}
