//! `whittle experiment CONFIG`: the seed article's chart as one command — learned and
//! baseline methods at several budgets, each point its own run directory and command
//! (`--point K`), so a sweep resumes after a kill and spreads over a scheduler.

pub mod chart;
pub mod config;
pub mod error;
pub mod point;
pub mod report;

pub use config::{Config, PointSpec};
pub use error::ExperimentError;
pub use point::{PointResult, run_point};
pub use report::{report, run_all};
