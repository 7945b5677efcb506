//! The instruction model: per-op instruction counts on a DSP Cortex-M core (M4, M7, M33),
//! predicted as the kernel path's trip counts times per-iteration costs fitted in QEMU.
//!
//! Each op is classed by the kernel variant the executor's own planner gives it
//! ([`exec::plan_s8`]: the dispatch's predicates, in one place) and the path that variant
//! takes ([`kernels::conv_path`], [`kernels::conv_add_split`]); its [`Features`] are the
//! trip counts of that path's loops (calls, blocks, filter passes, MAC groups, widened rows,
//! …), walked block by block as the kernel walks them. The instructions are `Σ features × costs` with
//! one cost row per [`Kernel`] in [`super::calibration::COSTS`], which the calibration
//! program measures (docs/FIRMWARE.md, "Instruction model", says how to rerun it). The
//! counts cover everything between two of the firmware's per-layer clock reads: the
//! executor's dispatch of the op, the kernel, and the observer call.

use crate::error::{Error, Result};
use crate::exec::{self, Step};
use crate::format::{Op, Shape};
use crate::kernels::{
    self, AddLoop, Columns, ConvGeom, ConvPath, OutQuant, RequantTable, conv_add_split, conv_path,
    conv2d_add_s8_chunk,
};
use crate::model::Model;

/// Trip counts per op (see the slot constants and [`conv_call`] for what each slot counts
/// on each path).
pub const N_FEATURES: usize = 35;

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
    /// The direct 1×1 conv (no padding, input channels in groups of 4).
    ConvPointwise,
    /// Reference loops (never for a validated blob; not calibrated).
    ConvReference,
    /// A fully connected layer (its reference loops, never for a validated blob, are
    /// costed like it).
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
pub const N_KERNELS: usize = 18;

/// Slot of the tensor-table decodes: `Model::tensor(id)` walks records `0..=id`, so an
/// op pays `Σ (id + 1)` over the tensors the executor looks up for it. Its cost, like
/// [`TENSOR_BYTES`]'s, is one figure for every kernel (the lookup is one function).
pub const TENSOR_DECODES: usize = 16;
/// Slot of the tensor-table bytes those lookups walk (records are varint-coded, so their
/// lengths vary with the shapes and arena offsets).
pub const TENSOR_BYTES: usize = 34;
/// Slot of the input bytes the executor copies into the arena (the first op's interval).
pub const INPUT_COPY: usize = 17;
/// Slots of a fused conv + add: conv calls of the chunked path (one per chunk of rows);
/// the asm element loops' own instructions (14 to 28 per element, [`AddLoop`]); 1 (the
/// fused op's setup).
const FUSED_CHUNKS: usize = 18;
const FUSED_ELEMENT_INSNS: usize = 19;
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
/// Band filter passes at stride 2.
const STRIDE2_PASSES: usize = 26;
/// A fused add's elements on the portable loops (no asm: tables refused or output
/// requantization off the folded path).
const FUSED_PORTABLE_ELEMENTS: usize = 27;
/// A fused add's 256-entry tables built (per op: 1 or 2).
const FUSED_TABLES: usize = 28;
/// A block-wise fused add's calls into its element loop (one per block of 4 pixels).
const FUSED_BLOCK_ADDS: usize = 29;
/// Full-block filter passes outside the asm (filters too short for their padded last group
/// to stay inside the weights: `filter_end` and the table per output).
const FILTER_END_PASSES: usize = 30;
/// im2col block rows with taps in the horizontal padding (per pixel and kernel row).
const HPAD_ROWS: usize = 31;
/// Per-channel outputs on `ChannelRequant`'s unfused branch (right shift below 2).
const CHANNEL_SLOW_OUTPUTS: usize = 32;
/// Bytes an interior window copies into the staging column.
const STAGED_BYTES: usize = 33;

impl Kernel {
    /// All kernels, in cost-table order.
    pub const ALL: [Kernel; N_KERNELS] = [
        Kernel::ConvBand,
        Kernel::ConvBandRgb,
        Kernel::ConvGroups,
        Kernel::ConvRgb,
        Kernel::ConvStaging,
        Kernel::ConvPointwise,
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
            Kernel::ConvPointwise => "conv-1x1",
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

/// An int8 conv's description for the model: geometry, path, and how it is fused with the
/// add after it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConvCase {
    pub geom: ConvGeom,
    pub path: ConvPath,
    /// For a fused conv + add ([`kernels::conv_add_split`]): output rows per conv call,
    /// whether the add runs block by block, and its element loop.
    pub fused: Option<(usize, bool, AddLoop)>,
    /// The lower clamp is above −128 (a fused ReLU at a zero point above −128).
    pub clamp_lo: bool,
    /// Channels whose multiplier takes `ChannelRequant`'s unfused branch (a right shift
    /// below 2), for a layer requantized channel by channel.
    pub slow_channels: usize,
}

/// Filters of `oc` (each `k` bytes, `kp` padded) whose padded last group stays inside the
/// weights, as `conv2d_s8`'s im2col path computes them (the weights exactly `oc · k`).
fn fast_filters(oc: usize, k: usize, kp: usize) -> usize {
    match (oc * k).checked_sub(kp) {
        Some(rest) if k > 0 => (rest / k + 1).min(oc),
        _ => 0,
    }
}

/// Trip counts of one `conv2d_s8` call on `g` along `path`, added into `f`.
fn conv_call(g: &ConvGeom, case: &ConvCase, f: &mut Features) {
    let (path, clamp_lo) = (case.path, case.clamp_lo);
    let oc = g.output.c as usize;
    let k = g.filter_len();
    let kp = (k + 3) & !3;
    let (oh, ow) = (g.output.h as usize, g.output.w as usize);
    let npix = oh * ow;
    f[1] += oc as f64;
    match path {
        ConvPath::Band { q, table, stride2 } => {
            let s = g.stride[0] as usize;
            let w = g.input.w as usize + g.padding.left as usize + g.padding.right as usize;
            f[2] += (3 * w * 2 * q) as f64; // ring fill
            let blocks = oh * ow.div_ceil(BLOCK);
            f[3] += blocks as f64;
            let passes = (blocks * oc) as f64;
            table_passes(f, table, passes);
            // Per pass and kernel row: 3·Q groups of 15 instructions; beyond Q = 1 in a loop
            // of two groups per iteration, entered in the middle for odd Q.
            f[7] += passes * (9 * q) as f64;
            if q > 1 {
                f[LOOP_ITERATIONS] += passes * (3 * (3 * q).div_ceil(2)) as f64;
                if q % 2 == 1 {
                    f[ODD_ENTRIES] += passes * 3.0;
                }
            }
            if stride2 {
                f[STRIDE2_PASSES] += passes;
            }
            f[8] += oh as f64;
            // Input rows brought into the ring: each distinct row of the windows once.
            let top = g.padding.top as isize;
            let (first, last) = (-top, ((oh - 1) * s) as isize - top + 2);
            let h = g.input.h as isize;
            let inside = (last.min(h - 1) - first.max(0) + 1).max(0) as usize;
            let outside = (last - first + 1) as usize - inside;
            f[9] += (inside * g.input.w as usize * q) as f64;
            f[10] += (outside * g.input.w as usize * q) as f64;
        }
        ConvPath::Pointwise { table } => {
            let ng = g.input.c as usize / 4;
            let blocks = oh * ow.div_ceil(BLOCK);
            f[3] += blocks as f64;
            asm_passes(f, table, (blocks * oc) as f64, ng, clamp_lo);
            f[8] += oh as f64;
            f[9] += (blocks * ng) as f64; // widened groups (4 pixels each)
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
                    (RequantTable::Relu | RequantTable::Folded, true) => true,
                    (RequantTable::Relu | RequantTable::Folded, false)
                    | (RequantTable::PerChannel, _) => {
                        f[6] += passes;
                        false
                    }
                };
                if fast {
                    // Filters `..fast` in one asm call, the last from its padded copy in a
                    // second where only it is left, any others through `filter_end`.
                    let first = fast_filters(oc, k, kp);
                    let tail = first + 1 == oc;
                    asm_passes(f, table, (first + tail as usize) as f64, ng, clamp_lo);
                    if tail {
                        f[TAIL_FILTER_BLOCKS] += 1.0;
                    }
                    let rest = oc - first - tail as usize;
                    f[FILTER_END_PASSES] += rest as f64;
                    f[CHANNEL_MAC_GROUPS] += (rest * (k / 4)) as f64;
                } else {
                    f[CHANNEL_MAC_GROUPS] += passes * ng as f64;
                    if table == RequantTable::PerChannel {
                        f[CHANNEL_SLOW_OUTPUTS] += (n * case.slow_channels) as f64;
                    }
                }
                pixel += n;
            }
        }
        ConvPath::Reference => {
            // Per output: the bias, the taps (each bounds-checked), the MACs of those in
            // the input, one requantization.
            let (kh, kw) = (g.kernel[0] as usize, g.kernel[1] as usize);
            let mut inside = 0;
            for p in 0..npix {
                let (iy0, _, kx0, kx1) = window(g, p);
                let rows = (0..kh as isize)
                    .filter(|&ky| (0..g.input.h as isize).contains(&(iy0 + ky)))
                    .count();
                inside += rows * (kx1 - kx0);
            }
            f[6] += (npix * oc) as f64;
            f[11] += (npix * oc * kh * kw) as f64;
            f[12] += (inside * oc) as f64;
            f[13] += (inside * oc * g.input.c as usize) as f64;
        }
    }
}

/// Filter passes of the MAC + requantization asm, counted in the slot of their table.
fn table_passes(f: &mut Features, table: RequantTable, passes: f64) {
    match table {
        RequantTable::Relu => f[4] += passes,
        RequantTable::Folded | RequantTable::PerChannel => f[5] += passes,
    }
}

/// `passes` filter passes of the asm over `ng` 4-channel groups (its two-group loop,
/// entered in the middle for odd `ng`), with a lower clamp above −128 when `clamp_lo`.
fn asm_passes(f: &mut Features, table: RequantTable, passes: f64, ng: usize, clamp_lo: bool) {
    table_passes(f, table, passes);
    f[7] += passes * ng as f64;
    f[LOOP_ITERATIONS] += passes * ng.div_ceil(2) as f64;
    if ng % 2 == 1 {
        f[ODD_ENTRIES] += passes;
    }
    if clamp_lo {
        f[CLAMP_LO_PASSES] += passes;
    }
}

/// Where a window of output pixel `pixel` lands: `(iy0, ix0, kx0, kx1)`.
fn window(g: &ConvGeom, pixel: usize) -> (isize, isize, usize, usize) {
    let w = crate::kernels::conv2d_s8::Window::new(g, pixel);
    (w.iy0, w.ix0, w.kx0, w.kx1)
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
                    if taps > 0 {
                        f[HPAD_ROWS] += kh as f64;
                    }
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
                f[STAGED_BYTES] += (kh * row_len) as f64;
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
        ConvPath::Pointwise { .. } => Kernel::ConvPointwise,
        ConvPath::Reference => Kernel::ConvReference,
    }
}

/// The prediction for one conv (fused or not: then the conv calls over its rows — one, or
/// one per chunk — and the add of its elements, block by block or per chunk).
pub fn conv(case: &ConvCase) -> OpInstructions {
    let g = &case.geom;
    let kernel = conv_kernel(case.path, g.input.c);
    let mut f = [0.0; N_FEATURES];
    f[0] = 1.0;
    match case.fused {
        None => conv_call(g, case, &mut f),
        Some((_, true, add)) => {
            conv_call(g, case, &mut f);
            let blocks = g.output.h as usize * (g.output.w as usize).div_ceil(BLOCK);
            f[FUSED_BLOCK_ADDS] = blocks as f64;
            fused_add(g, add, &mut f);
        }
        Some((rows, false, add)) => {
            let oh = g.output.h as usize;
            let mut oy = 0;
            while oy < oh {
                let end = (oy + rows.max(1)).min(oh);
                if let Some(sub) = conv2d_add_s8_chunk(g, oy, end) {
                    conv_call(&sub, case, &mut f);
                }
                f[FUSED_CHUNKS] += 1.0;
                oy = end;
            }
            fused_add(g, add, &mut f);
        }
    }
    OpInstructions {
        kernel,
        features: f,
        instructions: apply(kernel, &f),
    }
}

/// Trip counts of a fused add's tables and element loop over `g`'s output, added into `f`.
fn fused_add(g: &ConvGeom, add: AddLoop, f: &mut Features) {
    let n = g.output.len();
    match add {
        AddLoop::Asm { .. } => f[FUSED_ELEMENT_INSNS] = (n * add.asm_per_element()) as f64,
        AddLoop::Portable { .. } => f[FUSED_PORTABLE_ELEMENTS] = n as f64,
    }
    f[FUSED_TABLES] = add.tables() as f64;
    f[FUSED] = 1.0;
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

/// The conv of step `s` as the executor runs it in `model` (its planned variants).
fn conv_case(model: &Model, s: &Step) -> Result<ConvCase> {
    let bad = Error::BadOpTable { index: s.index };
    let (Op::Conv2d(c), Some((geom, i, o)), Some(kernel)) = (s.op, s.geom, s.kernel) else {
        return Err(bad);
    };
    let q = OutQuant::new(i.zero_point as i32, o.zero_point as i32, c.relu);
    let requant = model.data_requant(c.requant)?;
    let bias = model.data_i32(c.bias)?;
    let clamp_lo = q.act_min > -128;
    let (variant, fused) = match (s.fused, s.conv) {
        (Some((_, f)), Some(conv)) => {
            let add = exec::add_params(model, &f.add)?;
            let split = conv_add_split(kernel, &geom, &add, model.scratch_bytes());
            (conv, Some(split.ok_or(bad)?))
        }
        (None, _) => (kernel, None),
        (Some(_), None) => return Err(bad),
    };
    let oc = (geom.output.c as usize).min(requant.len());
    let slow_channels = requant[..oc].iter().filter(|m| m.shift > -2).count();
    Ok(ConvCase {
        geom,
        path: conv_path(variant, &geom, &q, requant, bias).ok_or(bad)?,
        fused,
        clamp_lo,
        slow_channels,
    })
}

/// Calls `each` with the prediction of every op of an int8 `model` in op order (a fused
/// conv + add is two: the conv with all the work, then the add's lookup), then returns the
/// [`Kernel::Tail`] after the last op.
fn walk(model: &Model, each: &mut dyn FnMut(OpInstructions)) -> Result<OpInstructions> {
    let mut first = true;
    for step in exec::plan_s8(model) {
        let step = step?;
        let (mut p, add) = step_instructions(model, &step)?;
        if first {
            let input = model.input()?;
            let (n, b) = decodes(model, &[model_input_id(model)])?;
            p.features[TENSOR_DECODES] += n;
            p.features[TENSOR_BYTES] += b;
            p.features[INPUT_COPY] = input.shape.len() as f64;
            first = false;
        }
        p.instructions = predicted_with_extra(&p);
        each(p);
        if let Some(mut a) = add {
            a.instructions = predicted_with_extra(&a);
            each(a);
        }
    }
    let mut t = constant(Kernel::Tail);
    (t.features[TENSOR_DECODES], t.features[TENSOR_BYTES]) =
        decodes(model, &[model_output_id(model)])?;
    t.instructions = apply(Kernel::Tail, &t.features);
    Ok(t)
}

/// `p.instructions` (the kernel's, plus a fused add's share) with the executor's share.
fn predicted_with_extra(p: &OpInstructions) -> u64 {
    let mut e = [0.0; N_FEATURES];
    e[TENSOR_DECODES] = p.features[TENSOR_DECODES];
    e[TENSOR_BYTES] = p.features[TENSOR_BYTES];
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
    Ok(per_op_and_tail(model)?.0)
}

/// [`per_op`] and the executor's share after the last op ([`Kernel::Tail`], part of
/// [`total`]), from one walk over the model.
#[cfg(feature = "alloc")]
pub fn per_op_and_tail(model: &Model) -> Result<(alloc::vec::Vec<OpInstructions>, OpInstructions)> {
    let mut out = alloc::vec::Vec::new();
    let tail = walk(model, &mut |p| out.push(p))?;
    Ok((out, tail))
}

/// Predicted instructions of one inference of an int8 `model` (the ops and the executor's
/// output lookup after them).
pub fn total(model: &Model) -> Result<u64> {
    let mut sum = 0;
    let tail = walk(model, &mut |p| sum += p.instructions)?;
    Ok(sum + tail.instructions)
}

/// `Σ (id + 1)` over `ids` (the records their lookups walk) and the table bytes walked.
fn decodes(model: &Model, ids: &[u16]) -> Result<(f64, f64)> {
    let (mut n, mut b) = (0.0, 0.0);
    for &i in ids {
        n += i as f64 + 1.0;
        b += model.tensor_table_bytes(i)? as f64;
    }
    Ok((n, b))
}

/// One step's prediction (without the first op's input copy), and for a fused conv + add
/// the add's. The tensor decodes are the executor's lookups for the step: the planner's,
/// the run's and the observer's (`exec::plan_op`, `op_s8`, `run_s8_in`).
fn step_instructions(
    model: &Model,
    step: &Step,
) -> Result<(OpInstructions, Option<OpInstructions>)> {
    let shape = |t: u16| model.tensor(t).map(|t| t.shape);
    let op = step.op;
    let (mut p, ids): (OpInstructions, Ids) = match op {
        Op::Conv2d(c) => {
            let p = conv(&conv_case(model, step)?);
            let mut ids = heapless_ids();
            // The planner's fusion check, where the next op is an add fusion takes.
            if let Some(n) = model
                .ops()
                .nth(step.index as usize + 1)
                .and_then(|n| n.ok())
                && let Some(f) = crate::fuse::conv_add(model.precision(), &c, &n)
            {
                ids.extend(&[f.add.output, f.skip]);
            }
            match step.fused {
                Some((_, f)) => {
                    let add = [f.add.a, f.add.b, f.add.output];
                    ids.extend(&[c.input, c.output]);
                    ids.extend(&add);
                    ids.push(f.skip);
                    ids.extend(&add);
                    let mut a = constant(Kernel::FusedAdd);
                    (a.features[TENSOR_DECODES], a.features[TENSOR_BYTES]) =
                        decodes(model, &[f.add.output])?;
                    let mut p = p;
                    (p.features[TENSOR_DECODES], p.features[TENSOR_BYTES]) =
                        decodes(model, ids.as_slice())?;
                    return Ok((p, Some(a)));
                }
                None => ids.extend(&[c.input, c.output, c.output]),
            }
            (p, ids)
        }
        Op::Dense(d) => {
            let (n, m) = (shape(d.input)?.len(), shape(d.output)?.len());
            let mut ids = heapless_ids();
            ids.extend(&[d.input, d.output, d.input, d.output, d.output]);
            (dense(n, m), ids)
        }
        Op::MaxPool2d(u) | Op::AvgPool2d(u) => {
            let avg = matches!(op, Op::AvgPool2d(_));
            let mut ids = heapless_ids();
            ids.extend(&[u.input, u.output, u.output]);
            let p = pool(avg, shape(u.input)?, shape(u.output)?, u.kernel);
            (p, ids)
        }
        Op::GlobalAvgPool(u) => {
            let mut ids = heapless_ids();
            ids.extend(&[u.input, u.output, u.output]);
            (global_avgpool(shape(u.input)?), ids)
        }
        Op::Relu(u) => {
            let mut ids = heapless_ids();
            ids.extend(&[u.input, u.output, u.output]);
            (relu(shape(u.input)?.len()), ids)
        }
        Op::Add(a) => {
            let mut ids = heapless_ids();
            ids.extend(&[a.a, a.b, a.output, a.a, a.b, a.output, a.output]);
            let lut = model.scratch_bytes() >= kernels::add_s8_scratch_bytes();
            (add(shape(a.output)?.len(), lut), ids)
        }
        Op::Flatten(u) => {
            let mut ids = heapless_ids();
            ids.push(u.output);
            (constant(Kernel::Flatten), ids)
        }
    };
    (p.features[TENSOR_DECODES], p.features[TENSOR_BYTES]) = decodes(model, ids.as_slice())?;
    Ok((p, None))
}

/// Up to 16 tensor ids without allocating.
struct Ids {
    ids: [u16; 16],
    n: usize,
}

impl Ids {
    fn push(&mut self, id: u16) {
        if let Some(slot) = self.ids.get_mut(self.n) {
            *slot = id;
            self.n += 1;
        }
    }
    fn extend(&mut self, ids: &[u16]) {
        for &id in ids {
            self.push(id);
        }
    }
    fn as_slice(&self) -> &[u16] {
        &self.ids[..self.n]
    }
}

fn heapless_ids() -> Ids {
    Ids { ids: [0; 16], n: 0 }
}
