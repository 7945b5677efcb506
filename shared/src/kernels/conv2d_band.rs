//! 3×3 int8 convolution, stride 1 or 2, without im2col (DSP path): each input row is widened
//! once into a ring of 3 rows, and a block of 4 output pixels reads its windows straight from it.
//!
//! The im2col path widens every input byte once per window it falls in (9 times for a 3×3
//! kernel) and pays per-block bookkeeping; both scale with pixels, not with MACs, so they
//! are what kept a narrower (pruned) layer from speeding up in proportion. Here a row is
//! widened once, a block's windows are addresses into the ring, and one asm body
//! ([`mac_requant_band`](super::arm::mac_requant_band)) runs all filters of a block. An RGB
//! input (3 channels) is widened with a zero 4th channel and the filters copied to 4
//! channels in scratch, so it takes the same path.

use super::ConvGeom;

/// Output pixels per block (the asm's 4 accumulators).
const BLOCK: usize = 4;

/// The widened channel groups per pixel (`Q`) if the band path can run `g`: stride 1 or 2
/// (the same along both axes; any padding, symmetric or not), a 3×3 kernel, at least one
/// full block per output row, and 3 input channels or a multiple of 4 up to 64.
pub(crate) const fn groups(g: &ConvGeom) -> Option<usize> {
    let ic = g.input.c as usize;
    let ok = (g.stride[0] == 1 || g.stride[0] == 2)
        && g.stride[1] == g.stride[0]
        && g.kernel[0] == 3
        && g.kernel[1] == 3
        && g.output.w as usize >= BLOCK
        && g.output.h >= 1;
    if !ok {
        None
    } else if ic == 3 {
        Some(1)
    } else if ic.is_multiple_of(4) && ic >= 4 && ic <= 64 {
        Some(ic / 4)
    } else {
        None
    }
}

/// Words of one widened input row: every pixel of the padded row, `2·Q` words each.
const fn row_words(g: &ConvGeom, q: usize) -> usize {
    let w = g.input.w as usize + g.padding.left as usize + g.padding.right as usize;
    w * 2 * q
}

/// Scratch bytes of the band path (0 where it does not apply): the requantization table
/// (`table_words` per output channel), the ring of 3 widened rows, the filters copied to 4
/// channels for an RGB input, and 4 bytes of slack for a misaligned scratch start.
pub(crate) const fn scratch_bytes(g: &ConvGeom, table_words: usize) -> usize {
    match groups(g) {
        Some(q) => {
            let oc = g.output.c as usize;
            let packed = if g.input.c == 3 { oc * 9 } else { 0 };
            4 * (table_words * oc + 3 * row_words(g, q) + packed) + 4
        }
        None => 0,
    }
}

/// Bytes of one block's outputs (`BLOCK · oc`), the buffer a fused add folds from.
pub(crate) const fn block_bytes(g: &ConvGeom) -> usize {
    (BLOCK * g.output.c as usize + 3) & !3
}

/// The band path's `(Q, relu)` for a conv whose input, weights, bias and multipliers the
/// caller checked against its geometry ([`inputs_fit`](super::conv2d_s8::inputs_fit)), if
/// the band path runs it: the geometry ([`groups`]), no clamp but int8's (a fused ReLU at
/// zero point −128, or no ReLU), multipliers that take a folded table (`relu`: the
/// fused-ReLU one; stride 2 only with it, the one variant compiled for stride 2: a ResNet's
/// stride-2 3×3 convs are followed by BatchNorm and ReLU), and `scratch_words` enough for the
/// table, the ring and (RGB) the padded filters. Target-independent: the host plans what
/// the firmware runs.
pub(crate) fn plan(
    g: &ConvGeom,
    q: &crate::kernels::OutQuant,
    bias: &[i32],
    requant: &[crate::format::Requant],
    scratch_words: usize,
) -> Option<(u8, bool)> {
    use super::conv2d_s8::RQ_WORDS;
    use super::requant_s8::{self, FoldedRequant, ReluRequant};
    let qg = groups(g)?;
    if q.act_min != -128 || q.act_max != 127 {
        return None;
    }
    let oc = g.output.c as usize;
    let packed = if g.input.c == 3 { oc * 9 } else { 0 };
    // `fold_table`'s conditions, on the layer's `oc` multipliers.
    let (zp, lo, hi) = (q.output_zp, q.act_min, q.act_max);
    let need = RQ_WORDS * oc + 3 * row_words(g, qg) + packed;
    let (requant, bias) = (requant.get(..oc)?, bias.get(..oc)?);
    if scratch_words < need || !FoldedRequant::layer_ok(requant, zp, lo, hi) {
        return None;
    }
    let bound = requant_s8::acc_bound(g.filter_len(), bias);
    let relu = ReluRequant::layer_ok(requant, zp, lo, hi, bound);
    (relu || g.stride[0] == 1).then_some((qg as u8, relu))
}

#[cfg(dsp)]
pub(super) use dsp::{BlockFn, Dest, conv};

#[cfg(dsp)]
mod dsp {
    use super::*;
    use crate::format::Requant;
    use crate::kernels::OutQuant;
    use crate::kernels::add_s8::SkipAdd;
    #[cfg(doc)]
    use crate::kernels::arm::mac_requant_band;
    use crate::kernels::arm::{BandArgs, splat16, widen_groups, widen_reordered};
    use crate::kernels::conv2d_s8::{RQ_WORDS, Table, fold_table};

    /// Where a band run's outputs go.
    pub(in crate::kernels) enum Dest<'a> {
        /// The conv's output tensor.
        Tensor(&'a mut [i8]),
        /// A fused residual add: each block's outputs go to `buf` ([`block_bytes`]) and are
        /// added into the skip tensor in place, pixel by pixel, before the next block.
        Add {
            buf: &'a mut [i8],
            skip: &'a mut [i8],
            add: &'a SkipAdd<'a>,
        },
    }

    /// Runs `g` on the band path with `Q = plan.0` groups and the block function `block`
    /// (`mac_requant_band::<Q, RELU, S>`, `RELU = plan.1`, `S` the stride) and returns
    /// `true`, or returns `false` having written nothing where the path does not apply after
    /// all (never for what [`plan`] chose): another geometry or clamp, a table of the other
    /// kind, buffers shorter than the geometry, too little scratch. The caller has checked
    /// the input, weights, bias and multipliers against the geometry
    /// ([`conv2d_s8::inputs_fit`](crate::kernels::conv2d_s8::inputs_fit)).
    #[allow(clippy::too_many_arguments)]
    pub(in crate::kernels) fn conv(
        g: &ConvGeom,
        q: &OutQuant,
        input: &[i8],
        weights: &[i8],
        bias: &[i32],
        requant: &[Requant],
        words: &mut [u32],
        mut dest: Dest<'_>,
        plan: (usize, bool),
        block: BlockFn,
    ) -> bool {
        if groups(g) != Some(plan.0) {
            return false;
        }
        let qg = plan.0;
        let oc = g.output.c as usize;
        let k = g.filter_len();
        let out_len = match &dest {
            Dest::Tensor(y) => y.len(),
            Dest::Add { buf, skip, .. } => {
                if buf.len() < BLOCK * oc {
                    return false;
                }
                skip.len()
            }
        };
        if out_len < g.output.len() || q.act_min != -128 || q.act_max != 127 {
            return false;
        }
        let rw = row_words(g, qg);
        let packed = if g.input.c == 3 { oc * 9 } else { 0 };
        let Some((table_words, rest)) = words.split_at_mut_checked(RQ_WORDS * oc) else {
            return false;
        };
        let Some((ring, rest)) = rest.split_at_mut_checked(3 * rw) else {
            return false;
        };
        let Some(packed) = rest.get_mut(..packed) else {
            return false;
        };
        let table = match fold_table(q, &requant[..oc], &bias[..oc], k, table_words) {
            Some(Table::Relu(t)) if plan.1 => t,
            Some(Table::Folded(t)) if !plan.1 => t,
            _ => return false,
        };
        let w: &[i8] = if g.input.c == 3 {
            let p: &mut [i8] = bytemuck::cast_slice_mut(packed);
            for (dst, src) in p.chunks_exact_mut(4).zip(weights.chunks_exact(3)) {
                dst[..3].copy_from_slice(src);
                dst[3] = 0;
            }
            p
        } else {
            weights
        };
        let t = table.as_ptr().cast::<u32>();
        let run = Band {
            g,
            zp: q.input_zp,
            input,
            w: w.as_ptr(),
            t,
            // SAFETY: `table` holds `oc` entries of `RQ_WORDS` words.
            t_end: unsafe { t.add(RQ_WORDS * oc) },
        };
        // The destination is resolved here, so that the unfused loop carries no test of it.
        match &mut dest {
            Dest::Tensor(y) => run.rows::<false>(qg, block, ring, y, &mut [], None),
            Dest::Add { buf, skip, add } => run.rows::<true>(qg, block, ring, skip, buf, Some(add)),
        }
        true
    }

    /// One block's filters for the layer's `Q` ([`mac_requant_band`]).
    pub(in crate::kernels) type BlockFn = unsafe fn(*const i8, *const u32, *mut BandArgs);

    /// One call's constant state.
    struct Band<'a> {
        g: &'a ConvGeom,
        zp: i32,
        input: &'a [i8],
        /// Filters with `4·Q` channels (OHWI), `oc` of them.
        w: *const i8,
        t: *const u32,
        t_end: *const u32,
    }

    impl Band<'_> {
        /// Every output row: bring the 3 input rows of its windows into the ring (each
        /// input row is widened once: the ring slot of input row `iy` is `iy mod 3`, and the
        /// 3 rows of a window are consecutive, so at stride 2 too they take distinct slots),
        /// then the blocks of 4 pixels (the last one moved left to end at the row's end,
        /// where the width is not a multiple of 4: it recomputes a few pixels, same values,
        /// which a fused add folds in only once).
        /// With `ADD`, `out` is the skip tensor, each block goes to `buf` and `add` folds it in.
        #[allow(clippy::too_many_arguments)]
        fn rows<const ADD: bool>(
            &self,
            q: usize,
            block: BlockFn,
            ring: &mut [u32],
            out: &mut [i8],
            buf: &mut [i8],
            add: Option<&SkipAdd<'_>>,
        ) {
            let g = self.g;
            let (h, oh, ow) = (g.input.h as isize, g.output.h as usize, g.output.w as usize);
            let s = g.stride[0] as usize;
            let oc = g.output.c as usize;
            let rw = row_words(g, q);
            ring.fill(0);
            let mut held = [isize::MIN; 3];
            let pairs = (3 * q).div_ceil(2);
            let top = g.padding.top as isize;
            // Words from one output pixel's window to the next one's.
            let step = 2 * q * s;
            for oy in 0..oh {
                let mut rows = [core::ptr::null::<u32>(); 3];
                for (r, row) in rows.iter_mut().enumerate() {
                    let iy = (oy * s) as isize - top + r as isize;
                    let slot = iy.rem_euclid(3) as usize;
                    let dst = &mut ring[slot * rw..(slot + 1) * rw];
                    if held[slot] != iy {
                        self.fill(q, iy, h, dst);
                        held[slot] = iy;
                    }
                    *row = dst.as_ptr();
                }
                let mut pos = 0;
                while pos < ow {
                    let x = pos.min(ow - BLOCK);
                    let first = (oy * ow + x) * oc;
                    let y = if ADD {
                        buf[..BLOCK * oc].as_mut_ptr()
                    } else {
                        out[first..first + BLOCK * oc].as_mut_ptr()
                    };
                    let d = step * x;
                    // SAFETY (offsets): padded pixel `s·x` of a padded row of
                    // `w + left + right ≥ s·(ow − 1) + 3` pixels, `2·q` words each.
                    // Spelled out, not `rows.map(…)`: at opt-level `s` that stays a loop
                    // and two copies of the array, ~30 instructions per block.
                    let [r0, r1, r2] = rows;
                    let mut args = BandArgs {
                        rows: unsafe {
                            [(r0.add(d), pairs), (r1.add(d), pairs), (r2.add(d), pairs)]
                        },
                        y,
                        oc,
                        t_end: self.t_end,
                    };
                    // SAFETY: `block` is `mac_requant_band::<q, _, s>`; the table has `oc ≥ 1`
                    // entries of a layer with `act_min = −128` (checked by `conv`); `w` holds
                    // `oc` filters of `36·q` bytes; each row pointer is word-aligned with the
                    // padded pixels `s·x .. s·(x + 3) + 3` in its row (the windows of the
                    // block's 4 pixels, `s·(ow − 1) + 3` being at most the padded width);
                    // `y` holds the block's `4 · oc` outputs.
                    unsafe { block(self.w, self.t, &mut args) };
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
        /// Widens input row `iy` into `dst` (its pixels after the left padding), or zeroes
        /// them if `iy` is a padding row; the padding pixels stay 0 from the ring's fill.
        fn fill(&self, q: usize, iy: isize, h: isize, dst: &mut [u32]) {
            let g = self.g;
            let w = g.input.w as usize;
            let left = 2 * q * g.padding.left as usize;
            let dst = &mut dst[left..left + 2 * q * w];
            if iy < 0 || iy >= h {
                dst.fill(0);
                return;
            }
            let ic = g.input.c as usize;
            let src = &self.input[iy as usize * w * ic..(iy as usize + 1) * w * ic];
            let off2 = splat16(-self.zp);
            if ic == 3 {
                // The 4th channel's byte is the zero point: it widens to 0.
                let pad = (self.zp as u8 as u32) << 24;
                for (d, p) in dst.chunks_exact_mut(2).zip(src.chunks_exact(3)) {
                    let v =
                        p[0] as u8 as u32 | (p[1] as u8 as u32) << 8 | (p[2] as u8 as u32) << 16;
                    let (lo, hi) = widen_reordered(v | pad, off2);
                    d[0] = lo;
                    d[1] = hi;
                }
            } else {
                // SAFETY: `src` holds `w · ic = 4 · (w · q)` bytes, `dst` `2 · (w · q)`
                // words, word-aligned; `w · q ≥ 1`.
                unsafe { widen_groups::<8>(src.as_ptr(), dst.as_mut_ptr(), w * q, off2) };
            }
        }
    }
}
