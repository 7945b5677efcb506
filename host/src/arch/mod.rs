//! Architectures as data: the spec type, its checks and measures, and the built-in presets.

pub mod error;
pub mod seed;
pub mod spec;

pub use error::ArchError;
pub use seed::{PRESETS, preset};
pub use spec::{ArchSpec, LayerInfo, LayerSpec, Shape};
