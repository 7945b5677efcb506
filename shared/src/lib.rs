//! whittle's deployed-model arithmetic, shared by the host and the firmware: the versioned
//! blob format, int8/f32 kernels, the executor, the memory planner and the cost model.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod cost;
pub mod crc32;
#[cfg(feature = "alloc")]
pub mod encode;
pub mod error;
pub mod exec;
pub mod format;
pub mod fuse;
pub mod kernels;
pub mod model;
pub mod plan;
pub mod requant;

pub use error::{Error, FormatError, Result};
pub use format::{InputRange, Op, Precision, Requant, Shape, TensorInfo};
pub use model::Model;
