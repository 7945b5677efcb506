//! Which code path a conv variant that [`select`](super::select) planned runs on a DSP core,
//! down to its requantization table and column builder (the instruction model in `cost`
//! reads this; the variant itself is the planner's, never re-derived here).

use super::add_s8::{TABLE_BYTES, tables_apply};
use super::requant_s8::{FoldedRequant, ReluRequant, acc_bound};
use super::select::Kernel;
use super::{AddParams, ConvGeom, OutQuant, conv2d_1x1, conv2d_add_s8};
use crate::format::Requant;

/// How an int8 conv's columns are built and its outputs requantized on a DSP core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvPath {
    /// The 3×3 band kernel with `q` widened channel groups per pixel (3 channels: `q = 1`,
    /// widened with a zero 4th channel), at stride 1 or 2.
    Band {
        q: usize,
        table: RequantTable,
        stride2: bool,
    },
    /// The direct 1×1 kernel: blocks of 4 pixels widened in place, no im2col.
    Pointwise { table: RequantTable },
    /// im2col blocks of 4 pixels with `columns` as the column builder.
    Im2col {
        columns: Columns,
        table: RequantTable,
    },
    /// The reference loops (buffers shorter than the geometry; never for a validated blob).
    Reference,
}

/// How an im2col column is gathered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columns {
    /// Input channels in whole groups of 4: widened straight from the input.
    Groups,
    /// A 3×3 kernel over 3 channels (an RGB first layer).
    Rgb3x3,
    /// Any other channel count: through the int8 staging column.
    Staging,
}

/// The requantization a layer's outputs take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequantTable {
    /// The ReLU table (SMMLAR).
    Relu,
    /// The folded table (SMLAL).
    Folded,
    /// Channel by channel (no table).
    PerChannel,
}

/// The table `fold_table` builds for this layer (its own two predicates, in its order).
pub fn requant_table(q: &OutQuant, requant: &[Requant], bias: &[i32], k: usize) -> RequantTable {
    let (zp, lo, hi) = (q.output_zp, q.act_min, q.act_max);
    if !FoldedRequant::layer_ok(requant, zp, lo, hi) {
        RequantTable::PerChannel
    } else if ReluRequant::layer_ok(requant, zp, lo, hi, acc_bound(k, bias)) {
        RequantTable::Relu
    } else {
        RequantTable::Folded
    }
}

/// The path of conv variant `kernel` (as [`select::conv_s8`](super::select::conv_s8) or
/// [`select::conv_add_s8`](super::select::conv_add_s8) planned it) for geometry `g`;
/// `None` for a variant that is no conv.
pub fn conv_path(
    kernel: Kernel,
    g: &ConvGeom,
    q: &OutQuant,
    requant: &[Requant],
    bias: &[i32],
) -> Option<ConvPath> {
    let oc = (g.output.c as usize).min(requant.len()).min(bias.len());
    let table = || requant_table(q, &requant[..oc], &bias[..oc], g.filter_len());
    Some(match kernel {
        Kernel::ConvBand {
            groups,
            relu,
            stride2,
        } => ConvPath::Band {
            q: groups as usize,
            table: if relu {
                RequantTable::Relu
            } else {
                RequantTable::Folded
            },
            stride2,
        },
        Kernel::ConvPointwise => ConvPath::Pointwise { table: table() },
        Kernel::ConvIm2col => {
            let ic = g.input.c as usize;
            let columns = if ic.is_multiple_of(4) {
                Columns::Groups
            } else if ic == 3 && g.kernel == [3, 3] {
                Columns::Rgb3x3
            } else {
                Columns::Staging
            };
            ConvPath::Im2col {
                columns,
                table: table(),
            }
        }
        Kernel::ConvReference => ConvPath::Reference,
        Kernel::ConvAdd
        | Kernel::ConvAddBand
        | Kernel::ConvAddPointwise
        | Kernel::Dense
        | Kernel::DenseReference
        | Kernel::MaxPool
        | Kernel::AvgPool
        | Kernel::GlobalAvgPool
        | Kernel::Relu
        | Kernel::Add => return None,
    })
}

/// The element loop a fused add runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddLoop {
    /// The asm loop (`arm::add_skip_tables` with two tables, `add_skip_scale` with the
    /// skip's only), with the lower clamp where `clamp`.
    Asm { tables: usize, clamp: bool },
    /// The portable loops: `tables` tables (0: every element rescaled).
    Portable { tables: usize },
}

impl AddLoop {
    /// Instructions per element of the asm loops (their own count, docs in `arm`).
    pub const fn asm_per_element(self) -> usize {
        match self {
            AddLoop::Asm { tables: 2, clamp } => 14 + 3 * clamp as usize,
            AddLoop::Asm { clamp, .. } => 25 + 3 * clamp as usize,
            AddLoop::Portable { .. } => 0,
        }
    }

    /// Tables built per call.
    pub const fn tables(self) -> usize {
        match self {
            AddLoop::Asm { tables, .. } | AddLoop::Portable { tables } => tables,
        }
    }
}

/// A fused conv + add as [`conv2d_add_s8`](super::conv2d_add_s8) runs the path `path`
/// ([`Kernel::ConvAddBand`], [`Kernel::ConvAddPointwise`] or [`Kernel::ConvAdd`]) with
/// `scratch` bytes: output rows per conv call (a block row for the block-wise paths, a
/// chunk for [`Kernel::ConvAdd`]), whether the add runs per block of 4 pixels, and its loop;
/// `None` for a variant that is no fused path.
pub fn conv_add_split(
    path: Kernel,
    g: &ConvGeom,
    add: &AddParams,
    scratch: usize,
) -> Option<(usize, bool, AddLoop)> {
    let asm = |tables: usize| {
        if tables == 0 || !tables_apply(add) {
            AddLoop::Portable { tables: 0 }
        } else if add.act_max == 127
            && FoldedRequant::layer_ok(&[add.quant.out], add.output_zp, add.act_min, add.act_max)
        {
            AddLoop::Asm {
                tables,
                clamp: add.act_min > -128,
            }
        } else {
            AddLoop::Portable { tables }
        }
    };
    // The layouts put the tables first; with 4 bytes of slack they hold whole tables.
    let from_lut = |lut: usize| asm(lut.saturating_sub(4) / TABLE_BYTES);
    let oh = g.output.h as usize;
    Some(match path {
        Kernel::ConvAddBand => {
            let lut = conv2d_add_s8::band_conv_scratch(g, scratch).map_or(0, |(l, _)| l);
            (oh, true, from_lut(lut))
        }
        Kernel::ConvAddPointwise => {
            let lut = conv2d_1x1::add_scratch(g, scratch).map_or(0, |(l, _)| l);
            (oh, true, from_lut(lut))
        }
        Kernel::ConvAdd => {
            let rest = scratch.saturating_sub(conv2d_add_s8::chunk_bytes(g));
            let lut = rest.saturating_sub(conv2d_add_s8::chunked_conv_scratch(g, scratch));
            (conv2d_add_s8::chunk_rows(g), false, from_lut(lut))
        }
        Kernel::ConvBand { .. }
        | Kernel::ConvPointwise
        | Kernel::ConvIm2col
        | Kernel::ConvReference
        | Kernel::Dense
        | Kernel::DenseReference
        | Kernel::MaxPool
        | Kernel::AvgPool
        | Kernel::GlobalAvgPool
        | Kernel::Relu
        | Kernel::Add => return None,
    })
}

/// The sub-geometry [`conv2d_add_s8`](super::conv2d_add_s8) runs the conv on for output
/// rows `oy0..oy1`.
pub fn conv2d_add_s8_chunk(g: &ConvGeom, oy0: usize, oy1: usize) -> Option<ConvGeom> {
    conv2d_add_s8::rows(g, oy0, oy1).map(|(sub, _, _)| sub)
}
