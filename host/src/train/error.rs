//! Errors of training and evaluation: bad run directories, non-finite values, I/O.

use std::path::PathBuf;

/// What can stop a training run or an evaluation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// Loading data failed.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// The graph (spec) is invalid.
    #[error(transparent)]
    Graph(#[from] crate::graph::GraphError),
    /// Building or (re)loading the net failed.
    #[error(transparent)]
    Nn(#[from] crate::nn::NnError),
    /// A loss or weight became NaN or infinite; the last good checkpoint is kept.
    #[error(
        "{what} became {value} at epoch {epoch}, step {step}; stopped. The last good \
         checkpoint (after epoch {last_good}) is kept: lower --lr or resume from it"
    )]
    NonFinite {
        /// What: `loss` or `weights`.
        what: &'static str,
        /// The value seen.
        value: f32,
        /// Epoch (1-based) being trained.
        epoch: usize,
        /// Step within the epoch.
        step: usize,
        /// Epochs completed in the last checkpoint.
        last_good: usize,
    },
    /// A fresh run would overwrite a run directory that already has a checkpoint.
    #[error("{}: already holds a checkpoint; pass --resume to continue it or choose another --out", dir.display())]
    RunExists {
        /// The run directory.
        dir: PathBuf,
    },
    /// `--resume` without a checkpoint.
    #[error("{}: no checkpoint to resume (expected {}/checkpoint/)", dir.display(), dir.display())]
    NoCheckpoint {
        /// The run directory.
        dir: PathBuf,
    },
    /// A file of the run directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A JSON file of the run directory is malformed.
    #[error("{}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// The optimizer state could not be saved or loaded.
    #[error("{}: optimizer state: {source}", path.display())]
    Optimizer {
        /// The file.
        path: PathBuf,
        /// burn's complaint.
        source: burn::store::RecordError,
    },
    /// A setting out of range.
    #[error("invalid setting: {0}")]
    Config(String),
}
