//! Training with burn: settings, the loop, checkpoints and the run directory, evaluation.

pub mod checkpoint;
pub mod config;
pub mod distill;
pub mod error;
pub mod evaluate;
pub mod history;
pub mod run_dir;
pub mod trainer;

pub use config::{LrSchedule, TrainConfig};
pub use distill::{Distill, Teacher};
pub use error::TrainError;
pub use evaluate::{EvalSplit, Evaluation, evaluate, evaluate_run, score_batch};
pub use history::{EpochRecord, History};
pub use run_dir::{RunDir, Weights, load_model};
pub use trainer::{RunOptions, StepOutcome, resume, train, train_step};

#[cfg(test)]
pub(crate) mod tests;
