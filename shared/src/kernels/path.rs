//! Which code path the DSP build of [`conv2d_s8`](super::conv2d_s8) takes for a layer, from
//! the same predicates its dispatch tests (the instruction model in `cost` reads this).

use super::conv2d_s8::{RQ_WORDS, col_len};
use super::requant_s8::{FoldedRequant, ReluRequant, acc_bound, all_valid};
use super::{ConvGeom, OutQuant, conv2d_band};
use crate::format::Requant;

/// How an int8 conv's columns are built and its outputs requantized on a DSP core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvPath {
    /// The stride-1 3×3 band kernel with `q` widened channel groups per pixel (3 channels:
    /// `q = 1`, widened with a zero 4th channel).
    Band { q: usize, table: RequantTable },
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

/// The table `fold_table` builds for this layer.
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

/// The path of `conv2d_s8` on a DSP core for geometry `g` with `scratch` bytes of scratch
/// (a valid layer's buffers assumed: the checks on input and output lengths are the
/// validator's).
pub fn conv2d_s8_path(
    g: &ConvGeom,
    q: &OutQuant,
    requant: &[Requant],
    bias: &[i32],
    scratch: usize,
) -> ConvPath {
    let oc = g.output.c as usize;
    let k = g.filter_len();
    // The executor's scratch starts word-aligned (after the 16-byte aligned arena).
    let words = scratch / 4;
    let kp = col_len(g);
    if k == 0
        || requant.len() < oc
        || bias.len() < oc
        || !all_valid(&requant[..oc])
        || words < 4 * kp / 2 + kp / 4 + RQ_WORDS * oc + kp / 4
    {
        return ConvPath::Reference;
    }
    let table = requant_table(q, &requant[..oc], &bias[..oc], k);
    if let Some(qg) = conv2d_band::groups(g) {
        let band_words = conv2d_band::scratch_bytes(g, RQ_WORDS).saturating_sub(4) / 4;
        if q.act_min == -128
            && q.act_max == 127
            && table != RequantTable::PerChannel
            && words >= band_words
        {
            return ConvPath::Band { q: qg, table };
        }
    }
    let ic = g.input.c as usize;
    let columns = if ic.is_multiple_of(4) {
        Columns::Groups
    } else if ic == 3 && g.kernel == [3, 3] {
        Columns::Rgb3x3
    } else {
        Columns::Staging
    };
    ConvPath::Im2col { columns, table }
}

/// How [`conv2d_add_s8`](super::conv2d_add_s8) splits `g` with `scratch` bytes: output rows
/// per chunk, the scratch bytes its conv calls get, and whether the add uses its tables.
pub fn conv2d_add_s8_split(g: &ConvGeom, scratch: usize) -> (usize, usize, bool) {
    use super::add_s8::LUT_BYTES;
    let rest = scratch.saturating_sub(super::conv2d_add_s8::chunk_bytes(g));
    let need = super::conv2d_s8::scratch_bytes(g);
    let lut = rest >= need + LUT_BYTES + 4;
    let conv = if lut { rest - LUT_BYTES - 4 } else { rest };
    (super::conv2d_add_s8::chunk_rows(g), conv, lut)
}

/// The sub-geometry [`conv2d_add_s8`](super::conv2d_add_s8) runs the conv on for output
/// rows `oy0..oy1`.
pub fn conv2d_add_s8_chunk(g: &ConvGeom, oy0: usize, oy1: usize) -> Option<ConvGeom> {
    super::conv2d_add_s8::rows(g, oy0, oy1).map(|(sub, _, _)| sub)
}
