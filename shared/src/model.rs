//! `Model`: a zero-copy view of a blob that has been validated completely — header, CRC,
//! tables, every op's shapes, data lengths and quantization, and the arena plan — before
//! any kernel may run on it.

use crate::crc32::crc32;
use crate::error::{Error, Result};
use crate::format::*;
use crate::fuse;
use crate::kernels::{self, ConvGeom};
use crate::requant;

/// The geometry of a conv of `model`.
fn conv_geom(model: &Model, c: &Conv2d) -> Result<ConvGeom> {
    Ok(ConvGeom {
        input: model.tensor(c.input)?.shape,
        output: model.tensor(c.output)?.shape,
        kernel: c.kernel,
        stride: c.stride,
        padding: c.padding,
    })
}

/// A validated model borrowing its bytes (e.g. straight from flash).
#[derive(Debug, Clone, Copy)]
pub struct Model<'a> {
    meta: Meta<'a>,
    data: &'a [u8],
    blob_len: u32,
}

/// The fixed header fields (see `docs/FORMAT.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub version: u16,
    pub flags: u16,
    pub total_len: u32,
    pub crc: u32,
    pub meta_offset: u32,
    pub meta_len: u32,
    pub data_offset: u32,
    pub data_len: u32,
}

#[inline]
fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

#[inline]
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl Header {
    /// Parses and checks the header against the blob it heads (lengths, magic, version,
    /// CRC, section layout), in that order so that the first problem found is reported.
    pub fn parse(bytes: &[u8]) -> Result<Header> {
        let found = bytes.len() as u32;
        if bytes.len() < HEADER_LEN {
            // Too short to tell more; still recognize a foreign file by its magic.
            if bytes.len() >= 4 && bytes[..4] != MAGIC {
                return Err(Error::BadMagic);
            }
            return Err(Error::Truncated {
                found,
                needed: HEADER_LEN as u32,
            });
        }
        if bytes[..4] != MAGIC {
            return Err(Error::BadMagic);
        }
        let h = Header {
            version: u16_at(bytes, 4),
            flags: u16_at(bytes, 6),
            total_len: u32_at(bytes, 8),
            crc: u32_at(bytes, 12),
            meta_offset: u32_at(bytes, 16),
            meta_len: u32_at(bytes, 20),
            data_offset: u32_at(bytes, 24),
            data_len: u32_at(bytes, 28),
        };
        if h.version != VERSION {
            return Err(Error::UnsupportedVersion {
                found: h.version,
                supported: VERSION,
            });
        }
        if h.flags != 0 {
            return Err(Error::BadHeader);
        }
        if found < h.total_len {
            return Err(Error::Truncated {
                found,
                needed: h.total_len,
            });
        }
        if found > h.total_len {
            return Err(Error::TrailingBytes {
                found,
                declared: h.total_len,
            });
        }
        let computed = crc32(&bytes[16..]);
        if computed != h.crc {
            return Err(Error::BadCrc {
                stored: h.crc,
                computed,
            });
        }
        let meta_end = h.meta_offset.checked_add(h.meta_len);
        let data_end = h.data_offset.checked_add(h.data_len);
        match (meta_end, data_end) {
            (Some(me), Some(de))
                if h.meta_offset as usize == HEADER_LEN
                    && me <= h.data_offset
                    && (h.data_offset as usize).is_multiple_of(DATA_ALIGN)
                    && de == h.total_len => {}
            _ => return Err(Error::BadHeader),
        }
        Ok(h)
    }
}

/// Lazily decodes `count` postcard records of type `T` from `bytes`.
#[derive(Debug, Clone)]
pub struct Records<'a, T> {
    rest: &'a [u8],
    left: u16,
    _t: core::marker::PhantomData<T>,
}

impl<T> Records<'_, T> {
    /// The first byte of the next record (for an enum, its variant tag when below 128),
    /// without decoding it; `None` at the end.
    pub fn next_tag(&self) -> Option<u8> {
        if self.left == 0 {
            None
        } else {
            self.rest.first().copied()
        }
    }
}

impl<'a, T: serde::Deserialize<'a>> Iterator for Records<'a, T> {
    type Item = Result<T>;
    fn next(&mut self) -> Option<Result<T>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        match postcard::take_from_bytes::<T>(self.rest) {
            Ok((v, rest)) => {
                self.rest = rest;
                Some(Ok(v))
            }
            Err(_) => {
                self.left = 0;
                Some(Err(Error::BadMeta))
            }
        }
    }
}

/// The bytes after one postcard-encoded [`TensorInfo`]: its four varints (`shape.c`,
/// `shape.h`, `shape.w`, `offset`: LEB128, the last byte below 0x80), then the `f32`
/// scale and the `i8` zero point (5 bytes). `None` if `b` ends first. Tested against
/// postcard in `tests::skip_tensor_matches_postcard`.
fn skip_tensor(b: &[u8]) -> Option<&[u8]> {
    let mut i = 0;
    for _ in 0..4 {
        while *b.get(i)? & 0x80 != 0 {
            i += 1;
        }
        i += 1;
    }
    b.get(i + 5..)
}

/// The tensor table `table` after its first `n` records ([`skip_tensor`] each).
#[inline(always)]
fn skip_tensors(table: &[u8], n: u16) -> Result<&[u8]> {
    let mut rest = table;
    for _ in 0..n {
        rest = skip_tensor(rest).ok_or(Error::BadMeta)?;
    }
    Ok(rest)
}

/// Bitset over tensor ids (at most [`MAX_ENTRIES`]).
#[derive(Default)]
struct IdSet([u32; MAX_ENTRIES / 32]);

impl IdSet {
    fn insert(&mut self, id: u16) {
        self.0[id as usize / 32] |= 1 << (id % 32);
    }
    fn contains(&self, id: u16) -> bool {
        self.0[id as usize / 32] & (1 << (id % 32)) != 0
    }
}

impl<'a> Model<'a> {
    /// Validates `bytes` completely and returns a zero-copy view of the model.
    ///
    /// `bytes` must start at a 16-byte aligned address (the data section is read in place
    /// as i32/f32 arrays); nothing here panics on any input.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Model<'a>> {
        let model = Self::decode(bytes)?;
        model.validate()?;
        Ok(model)
    }

    /// [`Self::from_bytes`] without the table, op and arena checks, for bytes known to pass
    /// them — a firmware whose build validated this very blob (the header, CRC and
    /// metadata are still checked, so a corrupted copy is still refused).
    ///
    /// # Safety
    /// `Model::from_bytes` must have accepted the same bytes (in any build of this crate's
    /// version): the executor's kernels rely on the checks skipped here.
    pub unsafe fn from_validated_bytes(bytes: &'a [u8]) -> Result<Model<'a>> {
        Self::decode(bytes)
    }

    /// The header, CRC and metadata checks of [`Self::from_bytes`], and the view.
    fn decode(bytes: &'a [u8]) -> Result<Model<'a>> {
        let h = Header::parse(bytes)?;
        let data_off = h.data_offset as usize;
        if !(bytes.as_ptr() as usize + data_off).is_multiple_of(DATA_ALIGN) {
            return Err(Error::Misaligned {
                offset: h.data_offset,
                align: DATA_ALIGN as u32,
            });
        }
        let meta_bytes = &bytes[HEADER_LEN..HEADER_LEN + h.meta_len as usize];
        let meta = match postcard::take_from_bytes::<Meta<'a>>(meta_bytes) {
            Ok((m, [])) => m,
            _ => return Err(Error::BadMeta),
        };
        // Padding between metadata and data must be zero so every byte has one meaning.
        if bytes[HEADER_LEN + h.meta_len as usize..data_off]
            .iter()
            .any(|&b| b != 0)
        {
            return Err(Error::BadHeader);
        }
        Ok(Model {
            meta,
            data: &bytes[data_off..],
            blob_len: h.total_len,
        })
    }

    /// The blob's metadata (precision, tensor ids, arena and scratch sizes).
    pub fn meta(&self) -> &Meta<'a> {
        &self.meta
    }
    /// int8 or f32.
    pub fn precision(&self) -> Precision {
        self.meta.precision
    }
    /// Bytes of the whole blob.
    pub fn blob_len(&self) -> u32 {
        self.blob_len
    }
    /// Bytes of the activation arena (tensors only).
    pub fn arena_bytes(&self) -> usize {
        self.meta.arena_bytes as usize
    }
    /// Bytes of im2col/scratch space, placed right after the arena.
    pub fn scratch_bytes(&self) -> usize {
        self.meta.scratch_bytes as usize
    }
    /// Bytes of RAM a run needs: arena plus scratch (the buffer handed to `exec::run_*`).
    pub fn ram_bytes(&self) -> usize {
        self.arena_bytes() + self.scratch_bytes()
    }
    /// Number of ops.
    pub fn n_ops(&self) -> u16 {
        self.meta.n_ops
    }
    /// Number of tensors.
    pub fn n_tensors(&self) -> u16 {
        self.meta.n_tensors
    }
    /// The ops in execution order.
    pub fn ops(&self) -> Records<'a, Op> {
        Records {
            rest: self.meta.ops,
            left: self.meta.n_ops,
            _t: core::marker::PhantomData,
        }
    }
    /// All tensors in id order.
    pub fn tensors(&self) -> Records<'a, TensorInfo> {
        Records {
            rest: self.meta.tensors,
            left: self.meta.n_tensors,
            _t: core::marker::PhantomData,
        }
    }
    /// Tensor `id`: the records before it skipped by [`skip_tensor`] (a byte scan: the
    /// executor looks tensors up per op, and decoding each one before `id` cost ~170
    /// instructions a record on Cortex-M at opt-level `s`), then record `id` decoded.
    /// Not inlined: one body for every caller, so that a lookup costs the same whichever
    /// kernels a firmware links (the instruction model counts it per record and byte).
    #[inline(never)]
    pub fn tensor(&self, id: u16) -> Result<TensorInfo> {
        if id >= self.meta.n_tensors {
            return Err(Error::BadTensorRef {
                op: u16::MAX,
                tensor: id,
            });
        }
        match postcard::take_from_bytes::<TensorInfo>(skip_tensors(self.meta.tensors, id)?) {
            Ok((t, _)) => Ok(t),
            Err(_) => Err(Error::BadMeta),
        }
    }
    /// Bytes of the tensor table up to the end of record `id`: what [`Self::tensor`] walks.
    pub(crate) fn tensor_table_bytes(&self, id: u16) -> Result<usize> {
        let table = self.meta.tensors;
        let rest = skip_tensor(skip_tensors(table, id)?).ok_or(Error::BadMeta)?;
        Ok(table.len() - rest.len())
    }
    /// The input tensor.
    pub fn input(&self) -> Result<TensorInfo> {
        self.tensor(self.meta.input)
    }
    /// The output tensor.
    pub fn output(&self) -> Result<TensorInfo> {
        self.tensor(self.meta.output)
    }

    /// The raw bytes of a data reference.
    pub fn bytes(&self, r: DataRef) -> Result<&'a [u8]> {
        let start = r.offset as usize;
        start
            .checked_add(r.len as usize)
            .and_then(|end| self.data.get(start..end))
            .ok_or(Error::DataOutOfBounds {
                op: u16::MAX,
                offset: r.offset,
                len: r.len,
            })
    }
    /// A data reference as i8 values.
    pub fn data_i8(&self, r: DataRef) -> Result<&'a [i8]> {
        Ok(bytemuck::cast_slice(self.bytes(r)?))
    }
    /// A data reference as i32 values.
    pub fn data_i32(&self, r: DataRef) -> Result<&'a [i32]> {
        bytemuck::try_cast_slice(self.bytes(r)?).map_err(|_| Error::Misaligned {
            offset: r.offset,
            align: 4,
        })
    }
    /// A data reference as f32 values.
    pub fn data_f32(&self, r: DataRef) -> Result<&'a [f32]> {
        bytemuck::try_cast_slice(self.bytes(r)?).map_err(|_| Error::Misaligned {
            offset: r.offset,
            align: 4,
        })
    }
    /// A data reference as per-channel requantization multipliers.
    pub fn data_requant(&self, r: DataRef) -> Result<&'a [Requant]> {
        bytemuck::try_cast_slice(self.bytes(r)?).map_err(|_| Error::Misaligned {
            offset: r.offset,
            align: 4,
        })
    }

    fn validate(&self) -> Result<()> {
        let m = &self.meta;
        let max = MAX_ENTRIES as u32;
        if m.n_tensors == 0 || m.n_tensors as usize > MAX_ENTRIES {
            return Err(Error::TooLarge {
                count: m.n_tensors as u32,
                max,
            });
        }
        if m.n_ops == 0 || m.n_ops as usize > MAX_ENTRIES {
            return Err(Error::TooLarge {
                count: m.n_ops as u32,
                max,
            });
        }
        // Tensor table: decodable, exact length, sane shapes, inside the arena.
        let mut tensors = self.tensors();
        for index in 0..m.n_tensors {
            let t = match tensors.next() {
                Some(Ok(t)) => t,
                _ => return Err(Error::BadTensorTable { index }),
            };
            let s = t.shape;
            let dims_ok = [s.c, s.h, s.w].iter().all(|&d| d > 0 && d <= MAX_DIM);
            let quant_ok = m.precision == Precision::F32 || (t.scale.is_finite() && t.scale > 0.0);
            if !dims_ok || !quant_ok || !(t.offset as usize).is_multiple_of(DATA_ALIGN) {
                return Err(Error::BadTensorTable { index });
            }
            let end = t.offset as u64 + t.bytes(m.precision) as u64;
            if end > m.arena_bytes as u64 {
                return Err(Error::ArenaTooSmall {
                    tensor: index,
                    needed: end.min(u32::MAX as u64) as u32,
                    arena: m.arena_bytes,
                });
            }
        }
        if !tensors.rest.is_empty() {
            return Err(Error::BadTensorTable { index: m.n_tensors });
        }
        if m.input >= m.n_tensors || m.output >= m.n_tensors || m.input == m.output {
            return Err(Error::BadMeta);
        }

        // Ops: decodable, exact length, refs to produced tensors, per-op checks.
        // Lifetimes (first op that defines, last op that reads) for the arena check.
        let mut first = [0u16; MAX_ENTRIES];
        let mut last = [0u16; MAX_ENTRIES];
        let mut alias_of = [u16::MAX; MAX_ENTRIES];
        let mut produced = IdSet::default();
        produced.insert(m.input);
        // Fused conv + add pairs (`fuse`): the conv's output takes no bytes (`virtual_`),
        // the add's output shares the skip's (`fused_out`, with `alias_of`).
        let mut virtual_ = IdSet::default();
        let mut fused_out = IdSet::default();
        let mut prev: Option<Op> = None;
        let mut ops = self.ops();
        for index in 0..m.n_ops {
            let op = match ops.next() {
                Some(Ok(op)) => op,
                _ => return Err(Error::BadOpTable { index }),
            };
            for t in op.inputs().into_iter().flatten() {
                if t >= m.n_tensors || !produced.contains(t) {
                    return Err(Error::BadTensorRef {
                        op: index,
                        tensor: t,
                    });
                }
                last[t as usize] = index;
            }
            let out = op.output();
            if out >= m.n_tensors || produced.contains(out) {
                return Err(Error::BadTensorRef {
                    op: index,
                    tensor: out,
                });
            }
            produced.insert(out);
            first[out as usize] = index;
            last[out as usize] = index;
            if let Op::Flatten(f) = op {
                alias_of[out as usize] = f.input;
            }
            self.check_op(index, &op)?;
            if let Some(Op::Conv2d(c)) = prev
                && let Some(f) = fuse::conv_add(m.precision, &c, &op)
                && self.tensor(f.add.output)?.offset == self.tensor(f.skip)?.offset
            {
                virtual_.insert(c.output);
                fused_out.insert(out);
                alias_of[out as usize] = f.skip;
                let g = conv_geom(self, &c)?;
                self.check_scratch(index - 1, kernels::conv2d_add_s8_min_scratch_bytes(&g))?;
            }
            prev = Some(op);
        }
        if !ops.rest.is_empty() {
            return Err(Error::BadOpTable { index: m.n_ops });
        }
        if !produced.contains(m.output) {
            return Err(Error::BadTensorRef {
                op: m.n_ops,
                tensor: m.output,
            });
        }
        last[m.output as usize] = m.n_ops;
        // A fused conv's output is read by its add alone, and a fused add's skip by nothing
        // after it: their bytes are gone once the add has run.
        for t in 0..m.n_tensors {
            let i = t as usize;
            let bad = Error::BadTensorRef {
                op: first[i].saturating_add(1),
                tensor: t,
            };
            if virtual_.contains(t) && (t == m.output || last[i] != first[i] + 1) {
                return Err(bad);
            }
            if fused_out.contains(t) {
                let s = alias_of[i];
                if s == m.output || last[s as usize] != first[i] {
                    return Err(Error::ArenaOverlap { a: s, b: t });
                }
            }
        }

        // Arena: tensors alive at the same time must not share bytes (a flatten's output
        // is a view of its input and shares them by design).
        let n = m.n_tensors as usize;
        let mut ti = self.tensors();
        for a in 0..n {
            let Some(Ok(ta)) = ti.next() else {
                return Err(Error::BadTensorTable { index: a as u16 });
            };
            if a as u16 != m.input && !produced.contains(a as u16) {
                continue; // never written, never read: takes no space
            }
            let mut tj = ti.clone();
            for b in a + 1..n {
                let Some(Ok(tb)) = tj.next() else {
                    return Err(Error::BadTensorTable { index: b as u16 });
                };
                if b as u16 != m.input && !produced.contains(b as u16) {
                    continue;
                }
                if alias_of[a] == b as u16 || alias_of[b] == a as u16 {
                    continue;
                }
                if virtual_.contains(a as u16) || virtual_.contains(b as u16) {
                    continue; // a fused conv's output takes no bytes
                }
                let live = first[a] <= last[b] && first[b] <= last[a];
                let (sa, sb) = (ta.bytes(m.precision) as u64, tb.bytes(m.precision) as u64);
                let (oa, ob) = (ta.offset as u64, tb.offset as u64);
                let overlap = oa < ob + sb && ob < oa + sa;
                if live && overlap {
                    return Err(Error::ArenaOverlap {
                        a: a as u16,
                        b: b as u16,
                    });
                }
            }
        }
        Ok(())
    }

    /// Checks a data reference: inside the data section, 16-byte aligned, exact length.
    fn check_data(&self, op: u16, r: DataRef, expected: usize) -> Result<()> {
        let in_bounds = (r.offset as u64 + r.len as u64) <= self.data.len() as u64;
        if !in_bounds || !(r.offset as usize).is_multiple_of(DATA_ALIGN) {
            return Err(Error::DataOutOfBounds {
                op,
                offset: r.offset,
                len: r.len,
            });
        }
        if r.len as usize != expected {
            return Err(Error::WeightSize {
                op,
                found: r.len,
                expected: expected as u32,
            });
        }
        Ok(())
    }

    /// Checks weights/bias/requant of a conv or dense with `oc` outputs and `k` taps each.
    fn check_params(
        &self,
        op: u16,
        w: DataRef,
        b: DataRef,
        rq: DataRef,
        oc: usize,
        k: usize,
    ) -> Result<()> {
        let int8 = self.meta.precision == Precision::Int8;
        let wb = if int8 { 1 } else { 4 };
        self.check_data(op, w, oc * k * wb)?;
        self.check_data(op, b, oc * 4)?;
        self.check_data(op, rq, if int8 { oc * 8 } else { 0 })?;
        if int8 && !self.data_requant(rq)?.iter().all(|&m| requant::is_valid(m)) {
            return Err(Error::BadQuant { op });
        }
        Ok(())
    }

    fn same_quant(&self, op: u16, a: &TensorInfo, b: &TensorInfo) -> Result<()> {
        if self.meta.precision == Precision::Int8
            && (a.scale != b.scale || a.zero_point != b.zero_point)
        {
            return Err(Error::BadQuant { op });
        }
        Ok(())
    }

    fn check_op(&self, index: u16, op: &Op) -> Result<()> {
        let mismatch = |expected: usize, found: usize| Error::ShapeMismatch {
            op: index,
            expected: expected as u32,
            found: found as u32,
        };
        match *op {
            Op::Conv2d(c) => {
                let (i, o) = (self.tensor(c.input)?, self.tensor(c.output)?);
                let g = ConvGeom {
                    input: i.shape,
                    output: o.shape,
                    kernel: c.kernel,
                    stride: c.stride,
                    padding: c.padding,
                };
                let (ph, pw) = (
                    i.shape.h as usize + c.padding.top as usize + c.padding.bottom as usize,
                    i.shape.w as usize + c.padding.left as usize + c.padding.right as usize,
                );
                let (kh, kw) = (c.kernel[0] as usize, c.kernel[1] as usize);
                if kh == 0 || kw == 0 || c.stride[0] == 0 || c.stride[1] == 0 || ph < kh || pw < kw
                {
                    return Err(Error::BadShape { op: index });
                }
                let oh = (ph - kh) / c.stride[0] as usize + 1;
                let ow = (pw - kw) / c.stride[1] as usize + 1;
                if oh != o.shape.h as usize {
                    return Err(mismatch(oh, o.shape.h as usize));
                }
                if ow != o.shape.w as usize {
                    return Err(mismatch(ow, o.shape.w as usize));
                }
                let oc = o.shape.c as usize;
                self.check_params(index, c.weights, c.bias, c.requant, oc, g.filter_len())?;
                self.check_scratch(index, self.conv_scratch(&g))
            }
            Op::Dense(d) => {
                let (i, o) = (self.tensor(d.input)?, self.tensor(d.output)?);
                if o.shape.h != 1 || o.shape.w != 1 {
                    return Err(mismatch(o.shape.c as usize, o.shape.len()));
                }
                let (n, oc) = (i.shape.len(), o.shape.c as usize);
                self.check_params(index, d.weights, d.bias, d.requant, oc, n)?;
                let need = match self.meta.precision {
                    Precision::Int8 => kernels::dense_s8_scratch_bytes(n, oc),
                    Precision::F32 => 0,
                };
                self.check_scratch(index, need)
            }
            Op::MaxPool2d(p) | Op::AvgPool2d(p) => {
                let (i, o) = (self.tensor(p.input)?, self.tensor(p.output)?);
                let (kh, kw) = (p.kernel[0] as u16, p.kernel[1] as u16);
                if kh == 0
                    || kw == 0
                    || p.stride[0] == 0
                    || p.stride[1] == 0
                    || i.shape.h < kh
                    || i.shape.w < kw
                {
                    return Err(Error::BadShape { op: index });
                }
                let oh = (i.shape.h - kh) / p.stride[0] as u16 + 1;
                let ow = (i.shape.w - kw) / p.stride[1] as u16 + 1;
                let want = Shape::new(i.shape.c, oh, ow);
                if o.shape != want {
                    return Err(mismatch(want.len(), o.shape.len()));
                }
                self.same_quant(index, &i, &o)
            }
            Op::GlobalAvgPool(u) => {
                let (i, o) = (self.tensor(u.input)?, self.tensor(u.output)?);
                if o.shape != Shape::vector(i.shape.c) {
                    return Err(mismatch(i.shape.c as usize, o.shape.len()));
                }
                self.same_quant(index, &i, &o)
            }
            Op::Relu(u) => {
                let (i, o) = (self.tensor(u.input)?, self.tensor(u.output)?);
                if o.shape != i.shape {
                    return Err(mismatch(i.shape.len(), o.shape.len()));
                }
                self.same_quant(index, &i, &o)
            }
            Op::Flatten(u) => {
                let (i, o) = (self.tensor(u.input)?, self.tensor(u.output)?);
                let n = i.shape.len();
                if o.shape.h != 1 || o.shape.w != 1 || o.shape.c as usize != n {
                    return Err(mismatch(n, o.shape.len()));
                }
                if o.offset != i.offset {
                    return Err(Error::BadTensorRef {
                        op: index,
                        tensor: u.output,
                    });
                }
                self.same_quant(index, &i, &o)
            }
            Op::Add(a) => {
                let (ta, tb, o) = (self.tensor(a.a)?, self.tensor(a.b)?, self.tensor(a.output)?);
                if ta.shape != o.shape {
                    return Err(mismatch(o.shape.len(), ta.shape.len()));
                }
                if tb.shape != o.shape {
                    return Err(mismatch(o.shape.len(), tb.shape.len()));
                }
                let q = a.quant;
                let ok =
                    [q.a, q.b, q.out].iter().all(|&m| requant::is_valid(m)) && q.left_shift <= 22;
                if self.meta.precision == Precision::Int8 && !ok {
                    return Err(Error::BadQuant { op: index });
                }
                Ok(())
            }
        }
    }

    fn conv_scratch(&self, g: &ConvGeom) -> usize {
        match self.meta.precision {
            Precision::Int8 => kernels::conv2d_s8_min_scratch_bytes(g),
            Precision::F32 => 0,
        }
    }

    fn check_scratch(&self, op: u16, needed: usize) -> Result<()> {
        if needed > self.meta.scratch_bytes as usize {
            return Err(Error::ScratchTooSmall {
                op,
                needed: needed as u32,
                declared: self.meta.scratch_bytes,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Shape;

    /// [`skip_tensor`] lands where postcard's decoder does, for varints of every length.
    #[test]
    fn skip_tensor_matches_postcard() {
        let dims = [0u16, 1, 127, 128, 300, 16_383, 16_384, u16::MAX];
        let offsets = [0u32, 127, 128, 1 << 14, 1 << 21, 1 << 28, u32::MAX];
        for (i, &c) in dims.iter().enumerate() {
            for &off in &offsets {
                let t = TensorInfo {
                    shape: Shape::new(c, dims[(i + 3) % dims.len()], dims[(i + 5) % dims.len()]),
                    offset: off,
                    scale: -0.5,
                    zero_point: -128,
                };
                let mut buf = [0u8; 64];
                let n = postcard::to_slice(&t, &mut buf[..])
                    .map(|b| b.len())
                    .unwrap_or(0);
                buf[n] = 0xA5;
                let (got, rest) = postcard::take_from_bytes::<TensorInfo>(&buf[..n + 1])
                    .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(got, t);
                assert_eq!(skip_tensor(&buf[..n + 1]), Some(rest));
                assert_eq!(skip_tensor(&buf[..n - 1]), None);
            }
        }
    }
}
