//! The wire types of a whittle blob: fixed header constants, postcard-encoded metadata,
//! tensor and op records. `docs/FORMAT.md` is the byte-level spec of what these encode to.

use serde::{Deserialize, Serialize};

/// First four bytes of every blob.
pub const MAGIC: [u8; 4] = *b"WHTL";
/// Format version this code writes and reads. Bump on any change to the wire layout.
pub const VERSION: u16 = 2;
/// Length of the fixed little-endian header that precedes the metadata.
pub const HEADER_LEN: usize = 32;
/// Alignment of the data section and of every tensor in it, and of every arena offset.
pub const DATA_ALIGN: usize = 16;
/// Upper bound on ops and tensors in one model (bounds validation work on the device).
pub const MAX_ENTRIES: usize = 256;
/// Largest dimension of a tensor (c, h or w).
pub const MAX_DIM: u16 = 16384;

/// Arithmetic of the whole model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Precision {
    /// int8 activations and weights, i32 bias, fixed-point requantization (TFLite scheme).
    Int8,
    /// f32 everywhere: the reference the int8 model is compared with.
    F32,
}

impl Precision {
    /// Bytes of one activation element.
    pub const fn elem_bytes(self) -> usize {
        match self {
            Precision::Int8 => 1,
            Precision::F32 => 4,
        }
    }
}

/// The pixel range the model was trained on: how a pixel byte `b` becomes the real value
/// that the input tensor's scale and zero point quantize (a host feeding the model reads it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum InputRange {
    /// `b / 127.5 − 1` ∈ [−1, 1] (whittle's own training).
    #[default]
    Signed,
    /// `b / 255` ∈ [0, 1].
    Unit,
    /// `b` itself, 0..255 (e.g. MLPerf Tiny's ResNet-8).
    Raw,
}

impl InputRange {
    /// The real input value of pixel byte `b`, in f64 (the correctly rounded quantization
    /// of it against an f32 scale is then the same on every host).
    pub fn real(self, b: u8) -> f64 {
        let b = f64::from(b);
        match self {
            InputRange::Signed => b / 127.5 - 1.0,
            InputRange::Unit => b / 255.0,
            InputRange::Raw => b,
        }
    }
}

/// Shape of an activation tensor (batch 1): channels, height, width.
///
/// The shape is named NCHW-style; the bytes in the arena are laid out channels-last
/// (HWC: element (c, y, x) at `(y * w + x) * c_total + c`), as the kernels want.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Shape {
    pub c: u16,
    pub h: u16,
    pub w: u16,
}

impl Shape {
    /// A `c × h × w` shape.
    pub const fn new(c: u16, h: u16, w: u16) -> Self {
        Shape { c, h, w }
    }
    /// A vector of `n` features (`n × 1 × 1`).
    pub const fn vector(n: u16) -> Self {
        Shape { c: n, h: 1, w: 1 }
    }
    /// Number of elements.
    pub const fn len(&self) -> usize {
        self.c as usize * self.h as usize * self.w as usize
    }
    /// True when any dimension is zero.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One activation tensor: shape, where it lives in the arena, and its int8 quantization
/// (`real = scale * (q - zero_point)`; ignored by f32 models).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TensorInfo {
    pub shape: Shape,
    /// Byte offset in the activation arena (a multiple of [`DATA_ALIGN`]).
    pub offset: u32,
    pub scale: f32,
    pub zero_point: i8,
}

impl TensorInfo {
    /// Bytes this tensor occupies for the given precision.
    pub const fn bytes(&self, p: Precision) -> usize {
        self.shape.len() * p.elem_bytes()
    }
}

/// A byte range inside the blob's data section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DataRef {
    pub offset: u32,
    pub len: u32,
}

/// Zero padding added around the input of a conv (top, left, bottom, right), in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Padding {
    pub top: u8,
    pub left: u8,
    pub bottom: u8,
    pub right: u8,
}

impl Padding {
    /// The same padding on every side.
    pub const fn same(p: u8) -> Self {
        Padding {
            top: p,
            left: p,
            bottom: p,
            right: p,
        }
    }
}

/// A fixed-point multiplier: `real ≈ multiplier · 2^(shift − 31)` (TFLite convention:
/// `multiplier` in [2^30, 2^31) or 0, `shift` positive = left shift).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    Serialize,
    Deserialize,
    bytemuck::Pod,
    bytemuck::Zeroable,
)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(C)]
pub struct Requant {
    pub multiplier: i32,
    pub shift: i32,
}

/// 2-D convolution, weights OHWI (`[out_c][kh][kw][in_c]`), fused optional ReLU.
///
/// int8: `weights` are i8, `bias` i32 per output channel, `requant` one [`Requant`] per
/// output channel. f32: `weights` and `bias` are f32, `requant` is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Conv2d {
    pub input: u16,
    pub output: u16,
    /// Kernel height, width.
    pub kernel: [u8; 2],
    /// Stride along height, width.
    pub stride: [u8; 2],
    pub padding: Padding,
    pub relu: bool,
    pub weights: DataRef,
    pub bias: DataRef,
    pub requant: DataRef,
}

/// Fully connected layer, weights `[out][in]` where `in` runs over the input tensor in its
/// memory (HWC) order; fused optional ReLU. Data as for [`Conv2d`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dense {
    pub input: u16,
    pub output: u16,
    pub relu: bool,
    pub weights: DataRef,
    pub bias: DataRef,
    pub requant: DataRef,
}

/// Max or average pooling over `kernel` windows moved by `stride`, no padding.
/// int8: output quantization equals the input's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Pool2d {
    pub input: u16,
    pub output: u16,
    pub kernel: [u8; 2],
    pub stride: [u8; 2],
}

/// An op with one input and one output (ReLU, flatten, global average pool).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Unary {
    pub input: u16,
    pub output: u16,
}

/// int8 parameters of an elementwise add (TFLite scheme): both inputs are shifted left by
/// `left_shift`, rescaled by `a` and `b` to a common scale, summed, rescaled by `out`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AddQuant {
    pub left_shift: u8,
    pub a: Requant,
    pub b: Requant,
    pub out: Requant,
}

/// Elementwise residual add of two same-shaped tensors, fused optional ReLU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Add {
    pub a: u16,
    pub b: u16,
    pub output: u16,
    pub relu: bool,
    /// Ignored by f32 models.
    pub quant: AddQuant,
}

/// The postcard tag of [`Op::Add`] (its variant index), the first byte of an add's record.
pub const ADD_TAG: u8 = 6;

/// One node of the graph. Ops run in table order; each reads tensors produced earlier.
/// The variant order is the postcard tag and part of the wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Op {
    Conv2d(Conv2d),
    Dense(Dense),
    MaxPool2d(Pool2d),
    AvgPool2d(Pool2d),
    GlobalAvgPool(Unary),
    Relu(Unary),
    Add(Add),
    /// `c × h × w` → `(c·h·w) × 1 × 1`, same bytes (a view: the output may alias the input).
    Flatten(Unary),
}

impl Op {
    /// Short lowercase name, as `whittle inspect` prints it.
    pub const fn name(&self) -> &'static str {
        match self {
            Op::Conv2d(_) => "conv2d",
            Op::Dense(_) => "dense",
            Op::MaxPool2d(_) => "maxpool2d",
            Op::AvgPool2d(_) => "avgpool2d",
            Op::GlobalAvgPool(_) => "global_avgpool",
            Op::Relu(_) => "relu",
            Op::Add(_) => "add",
            Op::Flatten(_) => "flatten",
        }
    }

    /// The tensor this op writes.
    pub const fn output(&self) -> u16 {
        match self {
            Op::Conv2d(o) => o.output,
            Op::Dense(o) => o.output,
            Op::MaxPool2d(o) | Op::AvgPool2d(o) => o.output,
            Op::GlobalAvgPool(o) | Op::Relu(o) | Op::Flatten(o) => o.output,
            Op::Add(o) => o.output,
        }
    }

    /// The tensors this op reads (one or two), as `[first, second]` with `None` for absent.
    pub const fn inputs(&self) -> [Option<u16>; 2] {
        match self {
            Op::Conv2d(o) => [Some(o.input), None],
            Op::Dense(o) => [Some(o.input), None],
            Op::MaxPool2d(o) | Op::AvgPool2d(o) => [Some(o.input), None],
            Op::GlobalAvgPool(o) | Op::Relu(o) | Op::Flatten(o) => [Some(o.input), None],
            Op::Add(o) => [Some(o.a), Some(o.b)],
        }
    }
}

/// The postcard-encoded metadata that follows the header.
///
/// `tensors` and `ops` are concatenations of `n_tensors` postcard-encoded [`TensorInfo`]
/// and `n_ops` [`Op`] records, decoded lazily so that a model needs no allocator and no
/// fixed-capacity table in RAM.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Meta<'a> {
    pub precision: Precision,
    /// Tensor id of the model input (written by the caller before the first op).
    pub input: u16,
    /// Tensor id of the model output (logits).
    pub output: u16,
    /// The pixel range the input quantization applies to.
    pub input_range: InputRange,
    /// Bytes of the activation arena the plan needs (all tensor offsets + sizes fit in it).
    pub arena_bytes: u32,
    /// Bytes of scratch (im2col) the largest op needs; placed after the arena.
    pub scratch_bytes: u32,
    pub n_tensors: u16,
    pub n_ops: u16,
    #[serde(borrow)]
    pub tensors: &'a [u8],
    #[serde(borrow)]
    pub ops: &'a [u8],
}
