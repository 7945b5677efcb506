//! 1×1 int8 convolution without im2col (pointwise): a block of 4 output pixels of one output
//! row reads its 4 input pixels' channel vectors in place (HWC, `stride · ic` bytes apart),
//! widens them once into the block's interleaved i16 groups and runs all filters over them in
//! one asm body ([`mac_requant_filters`](super::arm::mac_requant_filters)). Fused with the
//! residual add after it, each block's outputs go to a `4 · oc`-byte buffer and are added into
//! the skip in place right away, as the band path does.
//!
//! ResNet shortcuts (1×1, stride 2) went through the im2col path: per block the window
//! arithmetic and column build of a general conv, and fused with their add, chunks of rows
//! computed into scratch by that path and added after. Here a block costs one
//! [`widen_4cols`](super::arm::widen_4cols) of `ic / 4` groups and the filter loop.
//!
//! The portable twin (no DSP) runs the same blocks with plain loops and the same
//! requantization tables; both equal the reference loops bit for bit.

use super::add_s8::{SkipAdd, TABLE_BYTES};
use super::conv2d_s8::{RQ_WORDS, Table, fold_table};
use super::requant_s8::FoldedRequant;
use super::{ConvGeom, OutQuant};
use crate::format::Requant;

/// Output pixels per block (the asm's 4 accumulators).
const BLOCK: usize = 4;

/// Whether the direct path takes `g`'s geometry: a 1×1 kernel, no padding, the same stride
/// along both axes, input channels a multiple of 4 (whole widened groups, read in place), at
/// least one full block per output row, and an input as large as the output's pixels read.
pub(crate) const fn applies(g: &ConvGeom) -> bool {
    let (ic, s) = (g.input.c as usize, g.stride[0] as usize);
    let p = g.padding;
    g.kernel[0] == 1
        && g.kernel[1] == 1
        && p.top == 0
        && p.left == 0
        && p.bottom == 0
        && p.right == 0
        && s >= 1
        && g.stride[1] == g.stride[0]
        && ic >= 4
        && ic.is_multiple_of(4)
        && g.output.w as usize >= BLOCK
        && g.output.h >= 1
        && g.output.c >= 1
        && (g.output.w as usize - 1) * s < g.input.w as usize
        && (g.output.h as usize - 1) * s < g.input.h as usize
}

/// Words of the path's scratch: the requantization table and one block's widened groups
/// (`ic / 4` groups of 8 words).
const fn conv_words(g: &ConvGeom) -> usize {
    RQ_WORDS * g.output.c as usize + 2 * g.input.c as usize
}

/// Scratch bytes of the unfused path (0 where it does not apply), with 4 bytes of slack for
/// a misaligned scratch start.
pub(crate) const fn scratch_bytes(g: &ConvGeom) -> usize {
    if applies(g) { 4 * conv_words(g) + 4 } else { 0 }
}

/// Bytes of one block's outputs (`BLOCK · oc`), the buffer a fused add folds from.
const fn block_bytes(g: &ConvGeom) -> usize {
    (BLOCK * g.output.c as usize + 3) & !3
}

/// The fused path's layout of `scratch_len` bytes: `(lut, len)`, the bytes of the add's
/// tables at the start (two where they fit beside the conv's needs, else the skip's only,
/// and 4 to align them) and the conv's bytes after them, before one block's outputs at the
/// end. `None` where the path does not take the geometry or the scratch is short.
pub(crate) const fn add_scratch(g: &ConvGeom, scratch_len: usize) -> Option<(usize, usize)> {
    let need = scratch_bytes(g);
    let block = block_bytes(g);
    if need == 0 || scratch_len < TABLE_BYTES + 4 + need + block {
        return None;
    }
    let rest = scratch_len - block;
    let tables = if rest >= 2 * TABLE_BYTES + 4 + need {
        2
    } else {
        1
    };
    let lut = tables * TABLE_BYTES + 4;
    Some((lut, rest - lut))
}

/// Whether the direct path runs a conv whose input, weights, bias and multipliers the caller
/// checked against its geometry ([`inputs_fit`](super::conv2d_s8::inputs_fit)) with
/// `scratch_words` words of scratch: the geometry ([`applies`]), no upper clamp but int8's,
/// and multipliers that take a folded table (the asm requantizes from it). The same on every
/// target.
pub(crate) fn plan(g: &ConvGeom, q: &OutQuant, requant: &[Requant], scratch_words: usize) -> bool {
    let oc = g.output.c as usize;
    applies(g)
        && q.act_max == 127
        && scratch_words >= conv_words(g)
        && requant
            .get(..oc)
            .is_some_and(|r| FoldedRequant::layer_ok(r, q.output_zp, q.act_min, q.act_max))
}

/// Where a run's outputs go.
pub(crate) enum Dest<'a> {
    /// The conv's output tensor.
    Tensor(&'a mut [i8]),
    /// A fused residual add: each block's outputs go to `buf` (`BLOCK · oc` bytes) and are
    /// added into the skip tensor in place before the next block.
    Add {
        buf: &'a mut [i8],
        skip: &'a mut [i8],
        add: &'a SkipAdd<'a>,
    },
}

/// Runs `g` on the direct path into `dest` and returns `true`, or returns `false` having
/// written nothing where the path does not apply after all (never for what [`plan`] chose):
/// another geometry or clamp, multipliers without a folded table, buffers shorter than the
/// geometry, too little scratch. The caller has checked the input, weights, bias and
/// multipliers against the geometry. Always inlined, so that the destination folds at each
/// call site and a build without the fused path links no fused row loop (nor, through it,
/// a second caller of the add's element loop, which the band path then keeps inline).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn conv(
    g: &ConvGeom,
    q: &OutQuant,
    input: &[i8],
    weights: &[i8],
    bias: &[i32],
    requant: &[Requant],
    scratch: &mut [u8],
    dest: Dest<'_>,
) -> bool {
    let (ic, oc) = (g.input.c as usize, g.output.c as usize);
    if !applies(g) || q.act_max != 127 || input.len() < g.input.len() {
        return false;
    }
    let out_len = match &dest {
        Dest::Tensor(y) => y.len(),
        Dest::Add { buf, skip, .. } => {
            if buf.len() < BLOCK * oc {
                return false;
            }
            skip.len()
        }
    };
    if out_len < g.output.len() || weights.len() < oc * ic || bias.len() < oc {
        return false;
    }
    let (_, words, _) = bytemuck::pod_align_to_mut::<u8, u32>(scratch);
    let Some((table, cols)) = words.split_at_mut_checked(RQ_WORDS * oc) else {
        return false;
    };
    let Some(cols) = cols.get_mut(..2 * ic) else {
        return false;
    };
    let Some(table) = fold_table(q, &requant[..oc], &bias[..oc], ic, table) else {
        return false;
    };
    let run = Run {
        g,
        q,
        input,
        weights,
        table,
    };
    // The destination is resolved here, so that the unfused loop carries no test of it.
    match dest {
        Dest::Tensor(y) => run.rows::<false>(cols, y, &mut [], None),
        Dest::Add { buf, skip, add } => run.rows::<true>(cols, skip, buf, Some(add)),
    }
    true
}

/// One call's constant state.
struct Run<'a> {
    g: &'a ConvGeom,
    q: &'a OutQuant,
    input: &'a [i8],
    weights: &'a [i8],
    table: Table<'a>,
}

impl Run<'_> {
    /// Every output row in blocks of 4 pixels (the last one moved left to end at the row's
    /// end where the width is not a multiple of 4: it recomputes a few pixels, same values,
    /// which a fused add folds in only once). With `ADD`, `out` is the skip tensor, each
    /// block goes to `buf` and `add` folds it in.
    fn rows<const ADD: bool>(
        &self,
        cols: &mut [u32],
        out: &mut [i8],
        buf: &mut [i8],
        add: Option<&SkipAdd<'_>>,
    ) {
        let g = self.g;
        let (oh, ow, oc) = (
            g.output.h as usize,
            g.output.w as usize,
            g.output.c as usize,
        );
        let (s, w, ic) = (g.stride[0] as usize, g.input.w as usize, g.input.c as usize);
        for oy in 0..oh {
            let row = oy * s * w * ic;
            let mut pos = 0;
            while pos < ow {
                let x = pos.min(ow - BLOCK);
                let first = (oy * ow + x) * oc;
                // Pixel `x + j` reads input pixel `s·(x + j)` of input row `s·oy`; the last,
                // `s·(ow − 1) < w`, is in the row (`applies`).
                let src = &self.input[row + s * x * ic..row + (s * (x + BLOCK - 1) + 1) * ic];
                let y = if ADD {
                    &mut buf[..BLOCK * oc]
                } else {
                    &mut out[first..first + BLOCK * oc]
                };
                self.block(src, s * ic, cols, y);
                if ADD && let Some(add) = add {
                    // Pixels `x..pos` of a moved last block were added already.
                    let new = (pos - x) * oc;
                    let end = first + BLOCK * oc;
                    add.apply(&mut out[first + new..end], &buf[new..BLOCK * oc]);
                }
                pos = x + BLOCK;
            }
        }
    }

    /// One block (DSP): the 4 pixels at `src`, `ps` bytes apart, widened into `cols`, then
    /// every filter in [`mac_requant_filters`](super::arm::mac_requant_filters) into `y`
    /// (`BLOCK` pixels of `oc` bytes).
    #[cfg(dsp)]
    #[inline(always)]
    fn block(&self, src: &[i8], ps: usize, cols: &mut [u32], y: &mut [i8]) {
        use super::arm::{mac_requant_filters, splat16, widen_4cols};
        let ic = self.g.input.c as usize;
        let entries = match self.table {
            Table::Relu(t) | Table::Folded(t) => t,
        };
        let (ng, oc) = (ic / 4, entries.len());
        let relu = matches!(self.table, Table::Relu(_));
        // `act_min` is every entry's lower clamp (`fold_table`); SSAT alone gives −128.
        let clamp_lo = self.q.act_min > -128;
        let t = entries.as_ptr().cast::<u32>();
        // SAFETY: `src` holds pixel 0's `ic = 4·ng` bytes and pixel 3's at `3·ps` (its length,
        // `3·ps + ic`, was sliced by the caller); `cols` holds `2·ic = 8·ng` words, 4-byte
        // aligned; `ng ≥ 1`. The filters are `ic = 4·ng` bytes each (`adj = 0`), `oc` of
        // them in `weights` (checked by `conv`); the table holds `oc ≥ 1` entries of a
        // layer that passed `layer_ok` for its kind; `y` holds `BLOCK · oc` bytes, so
        // `y + f + j·oc` is in it for `f < oc`, `j < BLOCK`.
        unsafe {
            widen_4cols(
                src.as_ptr(),
                ps,
                cols.as_mut_ptr(),
                ng,
                splat16(-self.q.input_zp),
            );
            mac_requant_filters(
                self.weights.as_ptr(),
                cols.as_ptr(),
                ng,
                0,
                t,
                t.add(RQ_WORDS * oc),
                y.as_mut_ptr(),
                oc,
                relu,
                clamp_lo,
            );
        }
    }

    /// One block (portable twin): each of the 4 pixels at `src`, `ps` bytes apart, against
    /// every filter (`x − zp_in` as the DSP path widens it, wrapping i32 sums as its SMLAD),
    /// requantized by the same table, into `y`. `cols` holds the block's `x − zp_in` as i16.
    #[cfg(not(dsp))]
    #[inline(always)]
    fn block(&self, src: &[i8], ps: usize, cols: &mut [u32], y: &mut [i8]) {
        let ic = self.g.input.c as usize;
        let (zp, lo, hi) = (self.q.input_zp, self.q.act_min, self.q.act_max);
        let cols: &mut [i16] = bytemuck::cast_slice_mut(cols);
        for (j, col) in cols.chunks_exact_mut(ic).take(BLOCK).enumerate() {
            for (d, &x) in col.iter_mut().zip(&src[j * ps..j * ps + ic]) {
                *d = (x as i32 - zp) as i16;
            }
        }
        let entries = match self.table {
            Table::Relu(t) | Table::Folded(t) => t,
        };
        let oc = entries.len();
        for (o, (e, w)) in entries
            .iter()
            .zip(self.weights.chunks_exact(ic))
            .enumerate()
        {
            for (j, col) in cols.chunks_exact(ic).take(BLOCK).enumerate() {
                let acc = w.iter().zip(col).fold(e[0] as i32, |a, (&w, &x)| {
                    a.wrapping_add(w as i32 * x as i32)
                });
                y[j * oc + o] = self.table.apply(o, acc, lo, hi);
            }
        }
    }
}
