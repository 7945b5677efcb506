//! whittle's host library: CIFAR data, architectures as data, burn modules with mask
//! layers, training and evaluation. Export, pruning and surgery modules build on these.

pub mod arch;
pub mod bench;
pub mod data;
pub mod demo;
pub mod device;
pub mod export;
pub mod firmware;
pub mod nn;
pub mod prune;
pub mod quant;
pub mod rng;
pub mod surgery;
pub mod synth;
pub mod train;

pub use arch::ArchSpec;
pub use nn::{LayerWeights, NamedTensor, Net};
pub use train::{evaluate, evaluate_run, load_model};
