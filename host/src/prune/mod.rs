//! Pruning: the dependency graph, keep plans, budgets and the methods (one file each)
//! behind the narrow [`PruneMethod`] trait, the learning loop and the whole pipeline.

pub mod apoz;
pub mod budget;
pub mod error;
pub mod first_k;
pub mod gated;
pub mod graph;
pub mod l0;
pub mod l1;
pub mod l1_norm;
pub mod learn;
pub mod method;
pub mod pipeline;
pub mod plan;
pub mod scratch;

#[cfg(test)]
mod tests;

pub use budget::{Ranking, Target};
pub use error::PruneError;
pub use gated::{GateMode, GatedNet, Trainable};
pub use method::{Amount, MethodLog, PlanContext, PruneMethod};
pub use pipeline::{PruneOptions, PruneSummary, prune_run};
pub use plan::{GroupKeep, KeepPlan};
