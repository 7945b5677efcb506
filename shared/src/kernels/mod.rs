//! The deployed model's kernels, int8 and f32, as the firmware and the host simulation both
//! call them. Layouts: activations HWC, conv weights OHWI, dense weights `[out][in]`.
//!
//! Each public function here is the entry point the executor calls; the straightforward
//! loops in [`reference`] define what every faster path must reproduce bit for bit.
//! One file per kernel (CMSIS-NN naming); each has a portable path and, where `cfg(dsp)`
//! (Armv7E-M / Armv8-M Mainline), a DSP path built on the wrappers in `arm`.

mod add_s8;
#[cfg(dsp)]
mod arm;
mod conv2d_1x1;
mod conv2d_add_s8;
mod conv2d_band;
mod conv2d_f32;
pub(crate) mod conv2d_s8;
mod dense_s8;
mod path;
mod pool_s8;
pub mod reference;
mod requant_s8;
pub mod select;

use crate::format::{AddQuant, Padding, Requant, Shape};

pub use path::{
    AddLoop, Columns, ConvPath, RequantTable, conv_add_split, conv_path, conv2d_add_s8_chunk,
    requant_table,
};

/// Geometry of a 2-D convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    pub input: Shape,
    pub output: Shape,
    /// Kernel height, width.
    pub kernel: [u8; 2],
    /// Stride along height, width.
    pub stride: [u8; 2],
    pub padding: Padding,
}

impl ConvGeom {
    /// Multiply-accumulates of one run.
    pub const fn macs(&self) -> u64 {
        self.output.len() as u64
            * self.kernel[0] as u64
            * self.kernel[1] as u64
            * self.input.c as u64
    }
    /// Length of one filter (`kh · kw · in_c`).
    pub const fn filter_len(&self) -> usize {
        self.kernel[0] as usize * self.kernel[1] as usize * self.input.c as usize
    }
}

/// Geometry of a pooling window (no padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGeom {
    pub input: Shape,
    pub output: Shape,
    pub kernel: [u8; 2],
    pub stride: [u8; 2],
}

/// Zero points and clamp range of a requantizing int8 op. A fused ReLU is expressed as
/// `act_min = max(-128, output_zp)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutQuant {
    pub input_zp: i32,
    pub output_zp: i32,
    pub act_min: i32,
    pub act_max: i32,
}

impl OutQuant {
    /// Zero points with the clamp range of an optional fused ReLU.
    pub const fn new(input_zp: i32, output_zp: i32, relu: bool) -> Self {
        let act_min = if relu && output_zp > -128 {
            output_zp
        } else {
            -128
        };
        OutQuant {
            input_zp,
            output_zp,
            act_min,
            act_max: 127,
        }
    }
}

/// Zero points, clamp range and multipliers of an int8 elementwise add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddParams {
    pub quant: AddQuant,
    pub a_zp: i32,
    pub b_zp: i32,
    pub output_zp: i32,
    pub act_min: i32,
    pub act_max: i32,
}

/// Scratch bytes an encoder declares for [`conv2d_s8`] with this geometry (the same on every
/// target): the band path's for a 3×3 conv it takes (stride 1, or 2: 3 widened input rows),
/// else the im2col path's.
pub const fn conv2d_s8_scratch_bytes(g: &ConvGeom) -> usize {
    conv2d_s8::scratch_bytes(g)
}

/// Scratch bytes [`conv2d_s8`] needs at least, what validation checks: the im2col path's
/// (four i16 columns, an int8 staging column, 16 bytes of bias and requantization constants
/// per output channel, and the last filter padded to whole 4-byte groups), or the band
/// path's where that is less. With less than a path needs the kernel takes a slower one
/// (at worst the reference loops), with the same results.
pub const fn conv2d_s8_min_scratch_bytes(g: &ConvGeom) -> usize {
    conv2d_s8::min_scratch_bytes(g)
}

/// Scratch bytes [`dense_s8`] needs (the input widened to i16).
pub const fn dense_s8_scratch_bytes(in_len: usize, out_len: usize) -> usize {
    dense_s8::scratch_bytes(in_len, out_len)
}

/// int8 convolution: `out = clamp(zp_out + M·(bias + Σ (x − zp_in)·w))`.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_s8(
    g: &ConvGeom,
    q: &OutQuant,
    input: &[i8],
    weights: &[i8],
    bias: &[i32],
    requant: &[Requant],
    scratch: &mut [u8],
    output: &mut [i8],
) {
    conv2d_s8::conv2d_s8(g, q, input, weights, bias, requant, scratch, output)
}

/// Scratch bytes an encoder declares for [`conv2d_add_s8`]: the conv's
/// ([`conv2d_s8_scratch_bytes`]) plus a buffer for a chunk of output rows.
pub const fn conv2d_add_s8_scratch_bytes(g: &ConvGeom) -> usize {
    conv2d_add_s8::scratch_bytes(g)
}

/// Scratch bytes [`conv2d_add_s8`] needs at least (what validation checks).
pub const fn conv2d_add_s8_min_scratch_bytes(g: &ConvGeom) -> usize {
    conv2d_add_s8::min_scratch_bytes(g)
}

/// int8 convolution fused with the residual add that reads its output:
/// `skip ← add(skip, conv(input))`, the skip being the add's `a` when `skip_is_a`, on the
/// path and conv variant `kernels` that [`select::conv_add_s8`] planned for this scratch.
/// Equal to [`conv2d_s8`] then [`add_s8`] bit for bit, without the conv's output tensor.
/// `false`, with `skip` unchanged, where the variant set `K` lacks one of them.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_add_s8<const K: u128>(
    kernels: (select::Kernel, select::Kernel),
    g: &ConvGeom,
    q: &OutQuant,
    input: &[i8],
    weights: &[i8],
    bias: &[i32],
    requant: &[Requant],
    add: &AddParams,
    skip_is_a: bool,
    scratch: &mut [u8],
    skip: &mut [i8],
) -> bool {
    conv2d_add_s8::conv2d_add_s8::<K>(
        kernels, g, q, input, weights, bias, requant, add, skip_is_a, scratch, skip,
    )
}

/// int8 fully connected layer; lengths come from `input` and `output`.
pub fn dense_s8(
    q: &OutQuant,
    input: &[i8],
    weights: &[i8],
    bias: &[i32],
    requant: &[Requant],
    scratch: &mut [u8],
    output: &mut [i8],
) {
    dense_s8::dense_s8(q, input, weights, bias, requant, scratch, output)
}

/// [`dense_s8`]'s fast variant alone ([`select::Kernel::Dense`]), for buffers that
/// [`select::dense_s8`] accepted.
pub fn dense_s8_fast(
    q: &OutQuant,
    input: &[i8],
    weights: &[i8],
    bias: &[i32],
    requant: &[Requant],
    scratch: &mut [u8],
    output: &mut [i8],
) {
    dense_s8::fast(q, input, weights, bias, requant, scratch, output)
}

/// int8 max pooling (quantization unchanged).
pub fn maxpool2d_s8(g: &PoolGeom, input: &[i8], output: &mut [i8]) {
    pool_s8::maxpool2d_s8(g, input, output)
}

/// int8 average pooling, rounding half away from zero (quantization unchanged).
pub fn avgpool2d_s8(g: &PoolGeom, input: &[i8], output: &mut [i8]) {
    pool_s8::avgpool2d_s8(g, input, output)
}

/// int8 global average pooling to `c × 1 × 1`.
pub fn global_avgpool_s8(input_shape: Shape, input: &[i8], output: &mut [i8]) {
    pool_s8::global_avgpool_s8(input_shape, input, output)
}

/// Scratch bytes an encoder declares for [`add_s8`] (its per-input tables; with less it
/// rescales every element, with the same results).
pub const fn add_s8_scratch_bytes() -> usize {
    add_s8::LUT_BYTES + 4
}

/// int8 elementwise add (TFLite scheme).
pub fn add_s8(p: &AddParams, a: &[i8], b: &[i8], scratch: &mut [u8], output: &mut [i8]) {
    add_s8::add_s8(p, a, b, scratch, output)
}

/// [`add_s8`] writing over one input: `acc` is input `a` when `acc_is_a`, else `b`.
pub fn add_s8_in_place(
    p: &AddParams,
    acc_is_a: bool,
    acc: &mut [i8],
    other: &[i8],
    scratch: &mut [u8],
) {
    add_s8::add_s8_in_place(p, acc_is_a, acc, other, scratch)
}

/// int8 ReLU with unchanged quantization: `max(x, zero_point)`.
pub fn relu_s8(zero_point: i8, input: &[i8], output: &mut [i8]) {
    add_s8::relu_s8(zero_point, input, output)
}

/// f32 convolution with optional fused ReLU.
pub fn conv2d_f32(
    g: &ConvGeom,
    relu: bool,
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    output: &mut [f32],
) {
    conv2d_f32::conv2d_f32(g, relu, input, weights, bias, output)
}

/// f32 fully connected layer with optional fused ReLU.
pub fn dense_f32(relu: bool, input: &[f32], weights: &[f32], bias: &[f32], output: &mut [f32]) {
    conv2d_f32::dense_f32(relu, input, weights, bias, output)
}

/// f32 max pooling.
pub fn maxpool2d_f32(g: &PoolGeom, input: &[f32], output: &mut [f32]) {
    reference::maxpool2d_f32(g, input, output)
}

/// f32 average pooling.
pub fn avgpool2d_f32(g: &PoolGeom, input: &[f32], output: &mut [f32]) {
    reference::avgpool2d_f32(g, input, output)
}

/// f32 global average pooling.
pub fn global_avgpool_f32(input_shape: Shape, input: &[f32], output: &mut [f32]) {
    reference::global_avgpool_f32(input_shape, input, output)
}

/// f32 elementwise add with optional fused ReLU.
pub fn add_f32(relu: bool, a: &[f32], b: &[f32], output: &mut [f32]) {
    reference::add_f32(relu, a, b, output)
}

/// f32 ReLU.
pub fn relu_f32(input: &[f32], output: &mut [f32]) {
    reference::relu_f32(input, output)
}
