//! Host-side blob writer: collects tensors, ops and constant data, plans the arena, sizes
//! the scratch, encodes header + postcard metadata + 16-byte aligned data, and checks the
//! result with the same validator the firmware runs.

use alloc::vec::Vec;

use crate::crc32::crc32;
use crate::error::{Error, Result};
use crate::format::*;
use crate::kernels::{self, ConvGeom};
use crate::model::Model;
use crate::plan::{self, Plan};

/// Bytes with a 16-byte aligned start, as [`Model::from_bytes`] requires.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlignedBytes {
    words: Vec<u128>,
    len: usize,
}

impl AlignedBytes {
    /// Copies `bytes` into aligned storage.
    pub fn new(bytes: &[u8]) -> Self {
        let mut words = alloc::vec![0u128; bytes.len().div_ceil(16)];
        bytemuck::cast_slice_mut::<u128, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        AlignedBytes {
            words,
            len: bytes.len(),
        }
    }
    /// `len` zero bytes (e.g. the RAM buffer a host run needs).
    pub fn zeroed(len: usize) -> Self {
        AlignedBytes {
            words: alloc::vec![0u128; len.div_ceil(16)],
            len,
        }
    }
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<u128, u8>(&self.words)[..self.len]
    }
    /// The bytes, mutable.
    pub fn as_mut_bytes(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut::<u128, u8>(&mut self.words)[..self.len]
    }
}

impl core::ops::DerefMut for AlignedBytes {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.as_mut_bytes()
    }
}

impl core::ops::Deref for AlignedBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// Every field of a blob, unvalidated: what [`encode`] writes byte for byte.
#[derive(Debug, Clone, PartialEq)]
pub struct Parts {
    pub precision: Precision,
    pub input: u16,
    pub output: u16,
    pub input_range: InputRange,
    pub arena_bytes: u32,
    pub scratch_bytes: u32,
    pub tensors: Vec<TensorInfo>,
    pub ops: Vec<Op>,
    pub data: Vec<u8>,
}

/// Encodes `parts` into a blob without validating anything (tests use it to build
/// malformed blobs; [`Builder::finish`] validates).
pub fn encode(parts: &Parts) -> Vec<u8> {
    let mut tensors = Vec::new();
    for t in &parts.tensors {
        tensors.extend(postcard::to_allocvec(t).unwrap_or_default());
    }
    let mut ops = Vec::new();
    for op in &parts.ops {
        ops.extend(postcard::to_allocvec(op).unwrap_or_default());
    }
    let meta = Meta {
        precision: parts.precision,
        input: parts.input,
        output: parts.output,
        input_range: parts.input_range,
        arena_bytes: parts.arena_bytes,
        scratch_bytes: parts.scratch_bytes,
        n_tensors: parts.tensors.len() as u16,
        n_ops: parts.ops.len() as u16,
        tensors: &tensors,
        ops: &ops,
    };
    let meta = postcard::to_allocvec(&meta).unwrap_or_default();
    let data_offset = plan::align_up(HEADER_LEN + meta.len());
    let total = data_offset + parts.data.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // CRC, filled below
    out.extend_from_slice(&(HEADER_LEN as u32).to_le_bytes());
    out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    out.extend_from_slice(&(data_offset as u32).to_le_bytes());
    out.extend_from_slice(&(parts.data.len() as u32).to_le_bytes());
    out.extend_from_slice(&meta);
    out.resize(data_offset, 0);
    out.extend_from_slice(&parts.data);
    let crc = crc32(&out[16..]);
    out[12..16].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Builds a model op by op; [`Builder::finish`] plans memory and encodes.
#[derive(Debug, Clone)]
pub struct Builder {
    precision: Precision,
    tensors: Vec<TensorInfo>,
    ops: Vec<Op>,
    data: Vec<u8>,
    input: u16,
    input_range: InputRange,
}

impl Builder {
    /// A model of `precision` whose input has `shape` and int8 quantization `scale`, `zp`.
    pub fn new(precision: Precision, shape: Shape, scale: f32, zero_point: i8) -> Self {
        let mut b = Builder {
            precision,
            tensors: Vec::new(),
            ops: Vec::new(),
            data: Vec::new(),
            input: 0,
            input_range: InputRange::Signed,
        };
        b.input = b.tensor(shape, scale, zero_point);
        b
    }
    /// Records the pixel range the model was trained on (default [`InputRange::Signed`]).
    pub fn set_input_range(&mut self, range: InputRange) {
        self.input_range = range;
    }
    /// The input tensor id.
    pub fn input(&self) -> u16 {
        self.input
    }
    /// The model's precision.
    pub fn precision(&self) -> Precision {
        self.precision
    }
    /// Info of a tensor added so far.
    pub fn tensor_info(&self, id: u16) -> Option<&TensorInfo> {
        self.tensors.get(id as usize)
    }
    /// Declares a tensor (its arena offset is planned at `finish`).
    pub fn tensor(&mut self, shape: Shape, scale: f32, zero_point: i8) -> u16 {
        self.tensors.push(TensorInfo {
            shape,
            offset: 0,
            scale,
            zero_point,
        });
        (self.tensors.len() - 1) as u16
    }
    /// Appends constant bytes at the next 16-byte boundary of the data section.
    pub fn data(&mut self, bytes: &[u8]) -> DataRef {
        self.data.resize(plan::align_up(self.data.len()), 0);
        let r = DataRef {
            offset: self.data.len() as u32,
            len: bytes.len() as u32,
        };
        self.data.extend_from_slice(bytes);
        r
    }
    /// Appends i8 values.
    pub fn data_i8(&mut self, v: &[i8]) -> DataRef {
        self.data(bytemuck::cast_slice(v))
    }
    /// Appends i32 values (little-endian).
    pub fn data_i32(&mut self, v: &[i32]) -> DataRef {
        let b: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.data(&b)
    }
    /// Appends f32 values (little-endian).
    pub fn data_f32(&mut self, v: &[f32]) -> DataRef {
        let b: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.data(&b)
    }
    /// Appends requantization multipliers.
    pub fn data_requant(&mut self, v: &[Requant]) -> DataRef {
        let b: Vec<u8> = v
            .iter()
            .flat_map(|r| [r.multiplier.to_le_bytes(), r.shift.to_le_bytes()])
            .flatten()
            .collect();
        self.data(&b)
    }
    /// Appends an op.
    pub fn op(&mut self, op: Op) {
        self.ops.push(op);
    }

    /// Scratch bytes the ops need (a conv fused with its add, [`plan::fusions`], more).
    fn scratch_bytes(&self, output: u16) -> usize {
        if self.precision != Precision::Int8 {
            return 0;
        }
        let shape = |id: u16| {
            self.tensors
                .get(id as usize)
                .map(|t| t.shape)
                .unwrap_or(Shape::new(0, 0, 0))
        };
        let fused = plan::fusions(
            self.precision,
            self.tensors.len(),
            self.input,
            output,
            &self.ops,
        );
        self.ops
            .iter()
            .enumerate()
            .map(|(i, op)| match *op {
                Op::Conv2d(c) => {
                    let g = ConvGeom {
                        input: shape(c.input),
                        output: shape(c.output),
                        kernel: c.kernel,
                        stride: c.stride,
                        padding: c.padding,
                    };
                    if fused.iter().any(|&(at, _)| at == i) {
                        kernels::conv2d_add_s8_scratch_bytes(&g)
                    } else {
                        kernels::conv2d_s8_scratch_bytes(&g)
                    }
                }
                Op::Add(_) => kernels::add_s8_scratch_bytes(),
                Op::Dense(d) => kernels::dense_s8_scratch_bytes(
                    shape(d.input).len(),
                    shape(d.output).c as usize,
                ),
                _ => 0,
            })
            .max()
            .unwrap_or(0)
    }

    /// The memory plan `finish` would use.
    pub fn plan(&self, output: u16) -> Plan {
        let sizes: Vec<usize> = self
            .tensors
            .iter()
            .map(|t| t.bytes(self.precision))
            .collect();
        plan::plan(&sizes, self.input, output, &self.ops, self.precision)
    }

    /// Plans, encodes and validates; returns the blob bytes.
    pub fn finish(self, output: u16) -> Result<Vec<u8>> {
        let p = self.plan(output);
        let scratch = plan::align_up(self.scratch_bytes(output));
        let mut tensors = self.tensors;
        for (t, off) in tensors.iter_mut().zip(&p.offsets) {
            t.offset = *off;
        }
        let parts = Parts {
            precision: self.precision,
            input: self.input,
            output,
            input_range: self.input_range,
            arena_bytes: p.arena_bytes as u32,
            scratch_bytes: scratch as u32,
            tensors,
            ops: self.ops,
            data: self.data,
        };
        let bytes = encode(&parts);
        Model::from_bytes(&AlignedBytes::new(&bytes))?;
        if bytes.len() > u32::MAX as usize {
            return Err(Error::TooLarge {
                count: bytes.len() as u32,
                max: u32::MAX,
            });
        }
        Ok(bytes)
    }
}
