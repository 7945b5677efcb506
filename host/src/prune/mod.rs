//! Pruning over the graph IR's channel groups: keep plans, budgets, gates as graph nodes,
//! and the methods (one file each) behind the narrow [`PruneMethod`] trait, the learning
//! loop and the whole pipeline.

pub mod apoz;
pub mod budget;
pub mod control;
pub mod error;
pub mod first_k;
pub mod gates;
pub mod l0;
pub mod l1;
pub mod l1_norm;
pub mod learn;
pub mod method;
pub mod pipeline;
pub mod scratch;
pub mod slimming;

#[cfg(test)]
mod tests;

pub use crate::nn::{GateMode, Trainable};
pub use crate::plan::{GroupKeep, KeepPlan};
pub use budget::{Ranking, Target};
pub use error::PruneError;
pub use method::{Amount, MaskOptimizer, MethodLog, PlanContext, PruneMethod};
pub use pipeline::{LearnedPlan, PruneOptions, PruneSummary, prune_run};
