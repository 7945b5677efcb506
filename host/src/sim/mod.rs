//! The deployed model's boundary as the host simulates it: NCHW ↔ HWC layouts, float ↔
//! int8 tensors, and CIFAR pixel bytes → the int8 input the firmware receives. Export,
//! quantization, the firmware runner and the demo all cross it here, in one way.

pub mod input;
pub mod layout;
pub mod pixels;
pub mod qparams;

pub use input::{dequantize_output, quantize_input};
pub use pixels::quantize_chw;
