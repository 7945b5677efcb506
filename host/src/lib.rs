//! whittle's host library: CIFAR data, the graph IR every stage reads, burn modules and
//! the interpreter over it, training, pruning, surgery, quantization, export and firmware runs.

pub mod bench;
pub mod data;
pub mod demo;
pub mod device;
pub mod experiment;
pub mod export;
pub mod firmware;
pub mod graph;
pub mod import;
pub mod kernels;
pub mod nn;
pub mod plan;
pub mod prune;
pub mod quant;
pub mod rng;
pub mod sim;
pub mod surgery;
pub mod synth;
pub mod train;

pub use graph::Graph;
pub use nn::{NamedTensor, Net};
pub use train::{evaluate, evaluate_run, load_model};
