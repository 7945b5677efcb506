//! The instruction model: per-op instruction counts on a DSP Cortex-M core (M4, M7, M33),
//! predicted as the kernel path's trip counts times per-iteration costs fitted in QEMU.
//!
//! Each op is classed by the kernel path the executor and `kernels` dispatch would take
//! ([`kernels::conv2d_s8_path`], [`exec::fused`]); its [`Features`] are the trip counts of
//! that path's loops (calls, blocks, filter passes, MAC groups, widened rows, …), walked
//! block by block as the kernel walks them. The instructions are `Σ features × costs` with
//! one cost row per [`Kernel`] in [`super::calibration::COSTS`], which the calibration
//! program measures (docs/FIRMWARE.md, "Instruction model", says how to rerun it). The
//! counts cover everything between two of the firmware's per-layer clock reads: the
//! executor's dispatch of the op, the kernel, and the observer call.

use crate::error::Result;
use crate::exec;
use crate::format::{Conv2d, Op, Shape};
use crate::kernels::{
    self, Columns, ConvGeom, ConvPath, OutQuant, RequantTable, conv2d_add_s8_chunk,
    conv2d_add_s8_split, conv2d_s8_path,
};
use crate::model::Model;

/// Trip counts per op (see [`Kernel`] for what each slot counts on each path).
pub const N_FEATURES: usize = 26;

/// One op's trip counts.
pub type Features = [f64; N_FEATURES];

/// The kernel path an op runs on; each has its own cost row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kernel {
    /// Band conv over channels in groups of 4.
    ConvBand,
    /// Band conv over 3 channels.
    ConvBandRgb,
    /// im2col conv, channels in whole groups of 4.
    ConvGroups,
    /// im2col conv, 3×3 over 3 channels.
    ConvRgb,
    /// im2col conv through the staging column.
    ConvStaging,
    /// Reference loops (never for a validated blob; costed like staging).
    ConvReference,
    Dense,
    /// 2×2 max pool on 4 or more channels (word path).
    MaxPool2x2,
    MaxPool,
    AvgPool,
    GlobalAvgPool,
    /// Elementwise add on its tables.
    Add,
    /// Elementwise add rescaling every element (no room for the tables).
    AddScalar,
    Relu,
    Flatten,
    /// The add of a fused conv + add (its work is the conv's).
    FusedAdd,
    /// After the last op: the executor's output lookup (in the total, in no layer).
    Tail,
}

/// Number of [`Kernel`]s.
pub const N_KERNELS: usize = 17;

/// Slot of the tensor-table decodes: `Model::tensor(id)` decodes records `0..=id`, so an
/// op pays `Σ (id + 1)` over the tensors the executor looks up for it.
pub const TENSOR_DECODES: usize = 16;
/// Slot of the input bytes the executor copies into the arena (the first op's interval).
pub const INPUT_COPY: usize = 17;
/// Slots of a fused conv + add: conv calls (chunks), the add's elements, and 1 (its
/// tables and setup).
const FUSED_CHUNKS: usize = 18;
const FUSED_ELEMENTS: usize = 19;
const FUSED: usize = 20;
/// im2col blocks whose last filter takes a second asm call (filter length not a multiple
/// of 4).
const TAIL_FILTER_BLOCKS: usize = 21;
/// MAC groups on the per-filter path (`channels`: partial blocks, per-channel
/// requantization).
const CHANNEL_MAC_GROUPS: usize = 22;
/// Filter passes × iterations of the asm's two-group loop.
const LOOP_ITERATIONS: usize = 23;
/// Filter passes × loops entered in the middle (an odd number of groups).
const ODD_ENTRIES: usize = 24;
/// Filter passes with a lower clamp above −128 (CMP/IT per output).
const CLAMP_LO_PASSES: usize = 25;

impl Kernel {
    /// All kernels, in cost-table order.
    pub const ALL: [Kernel; N_KERNELS] = [
        Kernel::ConvBand,
        Kernel::ConvBandRgb,
        Kernel::ConvGroups,
        Kernel::ConvRgb,
        Kernel::ConvStaging,
        Kernel::ConvReference,
        Kernel::Dense,
        Kernel::MaxPool2x2,
        Kernel::MaxPool,
        Kernel::AvgPool,
        Kernel::GlobalAvgPool,
        Kernel::Add,
        Kernel::AddScalar,
        Kernel::Relu,
        Kernel::Flatten,
        Kernel::FusedAdd,
        Kernel::Tail,
    ];

    /// Row of the cost table.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Short name (inspect, calibration tables).
    pub const fn name(self) -> &'static str {
        match self {
            Kernel::ConvBand => "conv-band",
            Kernel::ConvBandRgb => "conv-band-rgb",
            Kernel::ConvGroups => "conv-im2col",
            Kernel::ConvRgb => "conv-im2col-rgb",
            Kernel::ConvStaging => "conv-im2col-staging",
            Kernel::ConvReference => "conv-reference",
            Kernel::Dense => "dense",
            Kernel::MaxPool2x2 => "maxpool-2x2",
            Kernel::MaxPool => "maxpool",
            Kernel::AvgPool => "avgpool",
            Kernel::GlobalAvgPool => "global-avgpool",
            Kernel::Add => "add",
            Kernel::AddScalar => "add-scalar",
            Kernel::Relu => "relu",
            Kernel::Flatten => "flatten",
            Kernel::FusedAdd => "fused-add",
            Kernel::Tail => "tail",
        }
    }
}

/// One op's prediction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpInstructions {
    pub kernel: Kernel,
    pub features: Features,
    /// Predicted instructions of one inference.
    pub instructions: u64,
}

/// `features · costs`, rounded.
pub fn apply(kernel: Kernel, f: &Features) -> u64 {
    let c: &[f64] = super::calibration::COSTS[kernel.index()];
    let v: f64 = f.iter().zip(c.iter()).map(|(a, b)| a * b).sum();
    if v > 0.0 { (v + 0.5) as u64 } else { 0 }
}

/// Output pixels per block of the conv kernels.
const BLOCK: usize = 4;

/// An int8 conv's description for the model: geometry, path, and whether it is fused with
/// the add after it (then `scratch` is what its conv calls get).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConvCase {
    pub geom: ConvGeom,
    pub path: ConvPath,
    /// Output rows per chunk and whether the add uses its tables, for a fused conv + add.
    pub fused: Option<(usize, bool)>,
    /// The lower clamp is above −128 (a fused ReLU at a zero point above −128).
    pub clamp_lo: bool,
}

/// Trip counts of one `conv2d_s8` call on `g` along `path`, added into `f`.
fn conv_call(g: &ConvGeom, path: ConvPath, clamp_lo: bool, f: &mut Features) {
    let oc = g.output.c as usize;
    let k = g.filter_len();
    let kp = (k + 3) & !3;
    let (oh, ow) = (g.output.h as usize, g.output.w as usize);
    let npix = oh * ow;
    f[1] += oc as f64;
    match path {
        ConvPath::Band { q, table } => {
            let w = g.input.w as usize + g.padding.left as usize + g.padding.right as usize;
            f[2] += (3 * w * 2 * q) as f64; // ring fill
            let blocks = oh * ow.div_ceil(BLOCK);
            f[3] += blocks as f64;
            let passes = (blocks * oc) as f64;
            match table {
                RequantTable::Relu => f[4] += passes,
                _ => f[5] += passes,
            }
            // Per pass and kernel row: 3·Q groups of 15 instructions; beyond Q = 1 in a loop
            // of two groups per iteration, entered in the middle for odd Q.
            f[7] += passes * (9 * q) as f64;
            if q > 1 {
                f[LOOP_ITERATIONS] += passes * (3 * (3 * q).div_ceil(2)) as f64;
                if q % 2 == 1 {
                    f[ODD_ENTRIES] += passes * 3.0;
                }
            }
            f[8] += oh as f64;
            // Input rows brought into the ring: each distinct row once.
            let top = g.padding.top as isize;
            let (first, last) = (-top, oh as isize - 1 - top + 2);
            let h = g.input.h as isize;
            let inside = (last.min(h - 1) - first.max(0) + 1).max(0) as usize;
            let outside = (last - first + 1) as usize - inside;
            f[9] += (inside * g.input.w as usize * q) as f64;
            f[10] += (outside * g.input.w as usize * q) as f64;
        }
        ConvPath::Im2col { columns, table } => {
            f[2] += kp as f64;
            let ng = kp / 4;
            let mut pixel = 0;
            while pixel < npix {
                let n = BLOCK.min(npix - pixel);
                f[3] += 1.0;
                im2col_columns(g, columns, pixel, n, f);
                let passes = oc as f64;
                let fast = match (table, n == BLOCK) {
                    (RequantTable::Relu, true) => {
                        f[4] += passes;
                        true
                    }
                    (RequantTable::Folded, true) => {
                        f[5] += passes;
                        true
                    }
                    _ => {
                        f[6] += passes;
                        false
                    }
                };
                if fast {
                    f[7] += passes * ng as f64;
                    f[LOOP_ITERATIONS] += passes * ng.div_ceil(2) as f64;
                    if ng % 2 == 1 {
                        f[ODD_ENTRIES] += passes;
                    }
                    if clamp_lo {
                        f[CLAMP_LO_PASSES] += passes;
                    }
                    if !k.is_multiple_of(4) {
                        f[TAIL_FILTER_BLOCKS] += 1.0;
                    }
                } else {
                    f[CHANNEL_MAC_GROUPS] += passes * ng as f64;
                }
                pixel += n;
            }
        }
        ConvPath::Reference => {
            f[13] += (npix * oc * k) as f64;
        }
    }
}

/// Where a window of output pixel `pixel` lands: `(iy0, ix0, kx0, kx1)`.
fn window(g: &ConvGeom, pixel: usize) -> (isize, isize, usize, usize) {
    let ow = g.output.w as usize;
    let (oy, ox) = (pixel / ow, pixel % ow);
    let iy0 = (oy * g.stride[0] as usize) as isize - g.padding.top as isize;
    let ix0 = (ox * g.stride[1] as usize) as isize - g.padding.left as isize;
    let kw = g.kernel[1] as isize;
    let kx0 = (-ix0).clamp(0, kw);
    let kx1 = (g.input.w as isize - ix0).clamp(kx0, kw);
    (iy0, ix0, kx0 as usize, kx1 as usize)
}

/// Trip counts of one block's columns (the kernel's `columns`).
fn im2col_columns(g: &ConvGeom, columns: Columns, pixel: usize, n: usize, f: &mut Features) {
    let ic = g.input.c as usize;
    let (kh, kw) = (g.kernel[0] as usize, g.kernel[1] as usize);
    let ow = g.output.w as usize;
    let ox = pixel % ow;
    let (h, w) = (g.input.h as isize, g.input.w as isize);
    if n == BLOCK && columns == Columns::Groups && ox + BLOCK <= ow {
        let (iy0, ix0, _, _) = window(g, pixel);
        let sx = g.stride[1] as isize;
        let ix_end = ix0 + (BLOCK as isize - 1) * sx + kw as isize;
        let len = g.input.len() as isize;
        let icx = ic as isize;
        let rg = kw * ic / 4;
        let ok = (0..kh as isize).all(|ky| {
            let iy = iy0 + ky;
            iy < 0 || iy >= h || ((iy * w + ix0) * icx >= 0 && (iy * w + ix_end) * icx <= len)
        });
        if ok && rg > 0 {
            f[8] += 1.0;
            for ky in 0..kh as isize {
                let iy = iy0 + ky;
                if iy < 0 || iy >= h {
                    f[10] += rg as f64;
                } else {
                    f[9] += rg as f64;
                }
            }
            if ix0 < 0 || ix_end > w {
                for j in 0..BLOCK as isize {
                    let x = ix0 + j * sx;
                    let left = (-x).clamp(0, kw as isize);
                    let right = (w - x).clamp(left, kw as isize);
                    let taps = (left + kw as isize - right) as usize;
                    f[10] += (kh * taps * ic / 4) as f64;
                }
            }
            return;
        }
    }
    for j in 0..n {
        let p = pixel + j;
        let (iy0, _, kx0, kx1) = window(g, p);
        let interior = kx0 == 0 && kx1 == kw && iy0 >= 0 && iy0 + kh as isize <= h;
        let rgb_block = n == BLOCK && columns == Columns::Rgb3x3 && ox + BLOCK <= ow;
        if !rgb_block || !interior {
            f[11] += 1.0;
        }
        let row_len = kw * ic;
        match (columns, interior) {
            (Columns::Groups, true) => f[12] += (kh * row_len / 4) as f64,
            (Columns::Rgb3x3, true) => f[12] += 1.0,
            (Columns::Staging, true) => {
                f[12] += (kh * row_len).div_ceil(4) as f64;
                f[13] += kh as f64;
            }
            (Columns::Groups, false) => {
                for ky in 0..kh as isize {
                    let iy = iy0 + ky;
                    if iy >= 0 && iy < h {
                        f[12] += ((kx1 - kx0) * ic / 4) as f64;
                        f[13] += 1.0;
                    }
                    f[14] += ((kw - (kx1 - kx0)) * ic / 4) as f64;
                }
            }
            (_, false) => {
                f[15] += (kh * row_len) as f64;
                f[12] += (kh * row_len).div_ceil(4) as f64;
                for ky in 0..kh as isize {
                    let iy = iy0 + ky;
                    if iy >= 0 && iy < h {
                        f[13] += 1.0;
                    }
                }
            }
        }
    }
}

/// Kernel class of a conv path.
fn conv_kernel(path: ConvPath, ic: u16) -> Kernel {
    match path {
        ConvPath::Band { .. } if ic == 3 => Kernel::ConvBandRgb,
        ConvPath::Band { .. } => Kernel::ConvBand,
        ConvPath::Im2col {
            columns: Columns::Groups,
            ..
        } => Kernel::ConvGroups,
        ConvPath::Im2col {
            columns: Columns::Rgb3x3,
            ..
        } => Kernel::ConvRgb,
        ConvPath::Im2col {
            columns: Columns::Staging,
            ..
        } => Kernel::ConvStaging,
        ConvPath::Reference => Kernel::ConvReference,
    }
}

/// The prediction for one conv (fused or not: then one conv call per chunk of rows and the
/// add of its rows).
pub fn conv(case: &ConvCase) -> OpInstructions {
    let g = &case.geom;
    let kernel = conv_kernel(case.path, g.input.c);
    let mut f = [0.0; N_FEATURES];
    f[0] = 1.0;
    match case.fused {
        None => conv_call(g, case.path, case.clamp_lo, &mut f),
        Some((rows, _lut)) => {
            let oh = g.output.h as usize;
            let mut oy = 0;
            while oy < oh {
                let end = (oy + rows.max(1)).min(oh);
                if let Some(sub) = conv2d_add_s8_chunk(g, oy, end) {
                    conv_call(&sub, case.path, case.clamp_lo, &mut f);
                }
                f[FUSED_CHUNKS] += 1.0;
                oy = end;
            }
            f[FUSED_ELEMENTS] = g.output.len() as f64;
            f[FUSED] = 1.0;
        }
    }
    OpInstructions {
        kernel,
        features: f,
        instructions: apply(kernel, &f),
    }
}

fn simple(kernel: Kernel, f: Features) -> OpInstructions {
    OpInstructions {
        kernel,
        features: f,
        instructions: apply(kernel, &f),
    }
}

/// Trip counts of a dense layer of `n` inputs and `m` outputs.
pub fn dense(n: usize, m: usize) -> OpInstructions {
    let mut f = [0.0; N_FEATURES];
    f[0] = 1.0;
    f[1] = m as f64;
    f[2] = n.div_ceil(4) as f64;
    f[3] = (m / 2) as f64;
    f[7] = ((m / 2) * (n / 4)) as f64;
    f[8] = ((m % 2) * (n / 4)) as f64;
    f[9] = (m * (n % 4)) as f64;
    simple(Kernel::Dense, f)
}

/// Trip counts of a max or average pool (`avg`) from `input` to `output`.
pub fn pool(avg: bool, input: Shape, output: Shape, kernel: [u8; 2]) -> OpInstructions {
    let c = input.c as usize;
    let (oh, ow) = (output.h as usize, output.w as usize);
    let px = (oh * ow) as f64;
    let taps = (kernel[0] as usize * kernel[1] as usize) as f64;
    let mut f = [0.0; N_FEATURES];
    f[0] = 1.0;
    if avg {
        f[4] = px;
        f[5] = px * c as f64;
        f[6] = px * c as f64 * taps;
        return simple(Kernel::AvgPool, f);
    }
    if kernel == [2, 2] && c >= 4 {
        f[3] = oh as f64;
        f[4] = px;
        f[5] = px * (c / 4) as f64;
        f[6] = px * (c % 4) as f64;
        return simple(Kernel::MaxPool2x2, f);
    }
    f[4] = px;
    f[5] = px * taps;
    f[6] = px * taps * (c / 4) as f64;
    f[7] = px * taps * (c % 4) as f64;
    f[8] = px * c as f64;
    simple(Kernel::MaxPool, f)
}

/// Global average pool of `input`.
pub fn global_avgpool(input: Shape) -> OpInstructions {
    let mut f = [0.0; N_FEATURES];
    f[0] = 1.0;
    f[5] = input.c as f64;
    f[6] = input.len() as f64;
    simple(Kernel::GlobalAvgPool, f)
}

/// Elementwise add of `n` elements, on its tables when `lut`.
pub fn add(n: usize, lut: bool) -> OpInstructions {
    let mut f = [0.0; N_FEATURES];
    f[0] = 1.0;
    f[1] = if lut { 1.0 } else { 0.0 };
    f[5] = n as f64;
    simple(if lut { Kernel::Add } else { Kernel::AddScalar }, f)
}

/// ReLU of `n` elements.
pub fn relu(n: usize) -> OpInstructions {
    let mut f = [0.0; N_FEATURES];
    f[0] = 1.0;
    f[5] = n as f64;
    simple(Kernel::Relu, f)
}

/// An op with no work of its own (flatten; the add of a fused conv + add).
pub fn constant(kernel: Kernel) -> OpInstructions {
    let mut f = [0.0; N_FEATURES];
    f[0] = 1.0;
    simple(kernel, f)
}

/// The conv's case as the executor runs it in `model` (`next`: the op after it).
fn conv_case(model: &Model, c: &Conv2d, next: Option<&Op>) -> Result<ConvCase> {
    let (i, o) = (model.tensor(c.input)?, model.tensor(c.output)?);
    let geom = ConvGeom {
        input: i.shape,
        output: o.shape,
        kernel: c.kernel,
        stride: c.stride,
        padding: c.padding,
    };
    let q = OutQuant::new(i.zero_point as i32, o.zero_point as i32, c.relu);
    let requant = model.data_requant(c.requant)?;
    let bias = model.data_i32(c.bias)?;
    let fused = match next {
        Some(n) => exec::fused(model, c, n)?,
        None => None,
    };
    let clamp_lo = q.act_min > -128;
    Ok(match fused {
        None => ConvCase {
            geom,
            path: conv2d_s8_path(&geom, &q, requant, bias, model.scratch_bytes()),
            fused: None,
            clamp_lo,
        },
        Some(_) => {
            let (rows, scratch, lut) = conv2d_add_s8_split(&geom, model.scratch_bytes());
            ConvCase {
                geom,
                path: conv2d_s8_path(&geom, &q, requant, bias, scratch),
                fused: Some((rows, lut)),
                clamp_lo,
            }
        }
    })
}

/// Calls `each` with the prediction of every op of an int8 `model` in op order, then
/// returns the [`Kernel::Tail`] after the last op.
fn walk(model: &Model, each: &mut dyn FnMut(OpInstructions)) -> Result<OpInstructions> {
    let mut ops = model.ops().peekable();
    let mut fused_add: Option<u16> = None;
    let mut first = true;
    while let Some(op) = ops.next() {
        let op = op?;
        let mut p = match fused_add.take() {
            Some(out) => {
                let mut p = constant(Kernel::FusedAdd);
                p.features[TENSOR_DECODES] = out as f64 + 1.0;
                p
            }
            None => {
                let next = match ops.peek() {
                    Some(Ok(n)) => Some(*n),
                    _ => None,
                };
                op_instructions(model, &op, next.as_ref(), &mut fused_add)?
            }
        };
        if first {
            let input = model.input()?;
            p.features[TENSOR_DECODES] += model_input_id(model) as f64 + 1.0;
            p.features[INPUT_COPY] = input.shape.len() as f64;
            first = false;
        }
        p.instructions = predicted_with_extra(&p);
        each(p);
    }
    let mut t = constant(Kernel::Tail);
    t.features[TENSOR_DECODES] = model_output_id(model) as f64 + 1.0;
    t.instructions = apply(Kernel::Tail, &t.features);
    Ok(t)
}

/// `p.instructions` (the kernel's, plus a fused add's share) with the executor's share.
fn predicted_with_extra(p: &OpInstructions) -> u64 {
    let mut e = [0.0; N_FEATURES];
    e[TENSOR_DECODES] = p.features[TENSOR_DECODES];
    e[INPUT_COPY] = p.features[INPUT_COPY];
    p.instructions + apply(p.kernel, &e)
}

fn model_input_id(model: &Model) -> u16 {
    model.meta().input
}

fn model_output_id(model: &Model) -> u16 {
    model.meta().output
}

/// Predicted instructions per op of an int8 `model`, in op order.
#[cfg(feature = "alloc")]
pub fn per_op(model: &Model) -> Result<alloc::vec::Vec<OpInstructions>> {
    let mut out = alloc::vec::Vec::new();
    walk(model, &mut |p| out.push(p))?;
    Ok(out)
}

/// Predicted instructions of one inference of an int8 `model` (the ops and the executor's
/// output lookup after them).
pub fn total(model: &Model) -> Result<u64> {
    let mut sum = 0;
    let tail = walk(model, &mut |p| sum += p.instructions)?;
    Ok(sum + tail.instructions)
}

/// Predicted instructions of the executor after the last op (part of [`total`]).
pub fn tail(model: &Model) -> Result<OpInstructions> {
    walk(model, &mut |_| {})
}

/// `Σ (id + 1)` over `ids`.
fn decodes(ids: &[u16]) -> f64 {
    ids.iter().map(|&i| i as f64 + 1.0).sum()
}

/// One op's prediction (without the first op's input copy); sets `fused_add` to the add's
/// output when `op` is a conv fused with `next`.
fn op_instructions(
    model: &Model,
    op: &Op,
    next: Option<&Op>,
    fused_add: &mut Option<u16>,
) -> Result<OpInstructions> {
    let shape = |t: u16| model.tensor(t).map(|t| t.shape);
    let mut p = match *op {
        Op::Conv2d(c) => {
            let case = conv_case(model, &c, next)?;
            let mut p = conv(&case);
            let candidate = next.and_then(|n| crate::fuse::conv_add(model.precision(), &c, n));
            let mut ids = heapless_ids();
            if let Some(f) = candidate {
                ids.push(f.add.output);
                ids.push(f.skip);
            }
            match (case.fused, candidate) {
                (Some(_), Some(f)) => {
                    *fused_add = Some(f.add.output);
                    for id in [c.input, c.output, f.skip, f.add.a, f.add.b, f.add.output] {
                        ids.push(id);
                    }
                }
                _ => {
                    for id in [c.input, c.output, c.output] {
                        ids.push(id);
                    }
                }
            }
            p.features[TENSOR_DECODES] = decodes(ids.as_slice());
            return Ok(p);
        }
        Op::Dense(d) => dense(shape(d.input)?.len(), shape(d.output)?.len()),
        Op::MaxPool2d(p) => pool(false, shape(p.input)?, shape(p.output)?, p.kernel),
        Op::AvgPool2d(p) => pool(true, shape(p.input)?, shape(p.output)?, p.kernel),
        Op::GlobalAvgPool(u) => global_avgpool(shape(u.input)?),
        Op::Relu(u) => relu(shape(u.input)?.len()),
        Op::Add(a) => {
            let mut p = add(
                shape(a.output)?.len(),
                model.scratch_bytes() >= kernels::add_s8_scratch_bytes(),
            );
            p.features[TENSOR_DECODES] =
                decodes(&[a.a, a.b, a.output, a.a, a.b, a.output, a.output]);
            return Ok(p);
        }
        Op::Flatten(u) => {
            let mut p = constant(Kernel::Flatten);
            p.features[TENSOR_DECODES] = decodes(&[u.output]);
            return Ok(p);
        }
    };
    let [input, _] = op.inputs();
    let input = input.unwrap_or(0);
    p.features[TENSOR_DECODES] = decodes(&[input, op.output(), op.output()]);
    Ok(p)
}

/// Up to 8 tensor ids without allocating.
struct Ids {
    ids: [u16; 8],
    n: usize,
}

impl Ids {
    fn push(&mut self, id: u16) {
        if let Some(slot) = self.ids.get_mut(self.n) {
            *slot = id;
            self.n += 1;
        }
    }
    fn as_slice(&self) -> &[u16] {
        &self.ids[..self.n]
    }
}

fn heapless_ids() -> Ids {
    Ids { ids: [0; 8], n: 0 }
}
