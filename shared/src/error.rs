//! The one error type of `shared`: every way a blob can be malformed and every way a run can
//! be mis-set-up, each variant carrying the numbers that locate the problem (no `String`s).

use core::fmt;

/// Everything that can go wrong reading a blob or running a model.
///
/// Variants name the phase (header, tables, op checks, run) and carry the numbers a user
/// needs to find the problem: which op, how many bytes were found and how many needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The blob is shorter than its fixed header or than the length the header declares.
    Truncated { found: u32, needed: u32 },
    /// The blob is longer than the length its header declares (trailing garbage).
    TrailingBytes { found: u32, declared: u32 },
    /// The first four bytes are not `WHTL`.
    BadMagic,
    /// The blob was written by another format version than this code reads.
    UnsupportedVersion { found: u16, supported: u16 },
    /// Reserved header fields are not zero, or the section offsets are out of order.
    BadHeader,
    /// The CRC-32 of the payload does not match the header.
    BadCrc { stored: u32, computed: u32 },
    /// The tensor data section (or the blob itself) is not aligned as the format requires.
    Misaligned { offset: u32, align: u32 },
    /// The postcard-encoded metadata could not be decoded.
    BadMeta,
    /// The tensor table could not be decoded or has the wrong number of entries.
    BadTensorTable { index: u16 },
    /// The op table could not be decoded or has the wrong number of entries.
    BadOpTable { index: u16 },
    /// An op refers to a tensor id that does not exist, or uses one before it is produced.
    BadTensorRef { op: u16, tensor: u16 },
    /// An op's input and output shapes do not chain (e.g. conv output size mismatch).
    ShapeMismatch { op: u16, expected: u32, found: u32 },
    /// A shape has a zero or too-large dimension, or a kernel/stride/padding is invalid.
    BadShape { op: u16 },
    /// A data reference points outside the data section or is misaligned.
    DataOutOfBounds { op: u16, offset: u32, len: u32 },
    /// A weight, bias or requantization array has the wrong byte length for its shape.
    WeightSize { op: u16, found: u32, expected: u32 },
    /// A quantization parameter is invalid (zero point outside int8, shift out of range, ...).
    BadQuant { op: u16 },
    /// A tensor's arena range lies outside the declared arena.
    ArenaTooSmall {
        tensor: u16,
        needed: u32,
        arena: u32,
    },
    /// Two tensors live at the same time share arena bytes.
    ArenaOverlap { a: u16, b: u16 },
    /// The scratch buffer declared by the blob is smaller than an op needs.
    ScratchTooSmall { op: u16, needed: u32, declared: u32 },
    /// The model has more ops or tensors than this build supports, or none.
    TooLarge { count: u32, max: u32 },
    /// A buffer handed to `run` has the wrong size.
    BufferSize { expected: u32, found: u32 },
    /// The model's precision does not match the call (int8 input to an f32 model, ...).
    WrongPrecision,
    /// Layer `op` needs a kernel variant (`kernel`: its `select::Kernel` index) that this
    /// build left out: a firmware built for another blob.
    KernelNotBuilt { op: u16, kernel: u8 },
}

/// `Result` with [`Error`].
pub type Result<T> = core::result::Result<T, Error>;

/// The name the blob reader's callers know it by.
pub type FormatError = Error;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Error::*;
        match *self {
            Truncated { found, needed } => {
                write!(f, "blob truncated: {found} bytes, needs {needed}")
            }
            TrailingBytes { found, declared } => write!(
                f,
                "blob has {found} bytes but its header declares {declared}"
            ),
            BadMagic => write!(f, "not a whittle blob (magic is not \"WHTL\")"),
            UnsupportedVersion { found, supported } => write!(
                f,
                "blob format v{found}, this build reads v{supported}; re-export the model with a matching `whittle export`"
            ),
            BadHeader => write!(
                f,
                "blob header has invalid section offsets or reserved bits"
            ),
            BadCrc { stored, computed } => write!(
                f,
                "blob CRC mismatch: header says {stored:#010x}, payload gives {computed:#010x} (corrupt file)"
            ),
            Misaligned { offset, align } => write!(
                f,
                "data at offset {offset} is not {align}-byte aligned (load the blob into an aligned buffer)"
            ),
            BadMeta => write!(f, "blob metadata cannot be decoded"),
            BadTensorTable { index } => write!(f, "tensor table entry {index} is invalid"),
            BadOpTable { index } => write!(f, "op table entry {index} is invalid"),
            BadTensorRef { op, tensor } => {
                write!(
                    f,
                    "layer {op}: refers to tensor {tensor}, which is not available there"
                )
            }
            ShapeMismatch {
                op,
                expected,
                found,
            } => write!(
                f,
                "layer {op}: shapes do not chain (expected {expected}, found {found})"
            ),
            BadShape { op } => write!(f, "layer {op}: invalid shape, kernel, stride or padding"),
            DataOutOfBounds { op, offset, len } => write!(
                f,
                "layer {op}: data range {offset}+{len} is outside the data section or misaligned"
            ),
            WeightSize {
                op,
                found,
                expected,
            } => write!(
                f,
                "layer {op}: tensor data has {found} bytes, its shape needs {expected}"
            ),
            BadQuant { op } => write!(f, "layer {op}: invalid quantization parameters"),
            ArenaTooSmall {
                tensor,
                needed,
                arena,
            } => write!(
                f,
                "tensor {tensor} needs arena bytes up to {needed}, the plan declares {arena}"
            ),
            ArenaOverlap { a, b } => {
                write!(
                    f,
                    "tensors {a} and {b} are live together but share arena bytes"
                )
            }
            ScratchTooSmall {
                op,
                needed,
                declared,
            } => write!(
                f,
                "layer {op}: needs {needed} scratch bytes, the blob declares {declared}"
            ),
            TooLarge { count, max } => write!(
                f,
                "model has {count} entries, this build supports 1..={max}"
            ),
            BufferSize { expected, found } => {
                write!(f, "buffer has {found} elements, expected {expected}")
            }
            WrongPrecision => write!(f, "model precision does not match the call"),
            KernelNotBuilt { op, kernel } => write!(
                f,
                "layer {op}: needs kernel {}, which this firmware was built without (it was built for another blob; rebuild it for this one)",
                crate::kernels::select::Kernel::from_index(kernel).map_or("?", |k| k.name())
            ),
        }
    }
}

impl core::error::Error for Error {}
