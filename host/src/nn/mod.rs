//! burn modules for whittle's networks: the Mask layer, the runtime layer enum, the net
//! built from a spec, parameter groups and per-layer weight access.

pub mod error;
pub mod flatten;
pub mod hard_concrete;
pub mod layer;
pub mod mask;
pub mod net;
pub mod params;
pub mod weights;

pub use error::NnError;
pub use layer::{Activation, Layer};
pub use mask::{Mask, MaskConfig};
pub use net::Net;
pub use params::Group;
pub use weights::{LayerWeights, NamedTensor};
