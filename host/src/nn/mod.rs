//! burn modules for whittle's networks: the Mask and hard-concrete Gate layers, one module
//! per graph node, the interpreter over the graph, parameter groups, per-node weight access
//! and loading weight files written before the graph IR.

pub mod error;
pub mod hard_concrete;
pub mod legacy;
pub mod mask;
pub mod module;
pub mod net;
pub mod params;
pub mod weights;

pub use error::NnError;
pub use mask::{Mask, MaskConfig};
pub use module::{Act, GateMode, NodeModule};
pub use net::{Capture, Net, NoObserver, Observer};
pub use params::{Group, Trainable};
pub use weights::NamedTensor;
