//! int8 convolution (HWC, OHWI): im2col of a block of output pixels into i16 scratch with the
//! input offset folded in, then a multiply-accumulate over the block (SMLAD where `cfg(dsp)`).

use super::requant_s8::{self, ChannelRequant, FoldedRequant, ReluRequant};
use super::{ConvGeom, OutQuant, conv2d_band, select};
use crate::format::Requant;

/// i16 slots of one im2col column: the filter length rounded up to whole 4-value groups.
pub(crate) const fn col_len(g: &ConvGeom) -> usize {
    (g.filter_len() + 3) & !3
}

/// Output pixels per im2col block (the DSP path's accumulators per filter pass).
const BLOCK: usize = 4;

/// Words of one channel's entry in the scratch table built per call: `[bias, multiplier,
/// k, shift | act_min << 8]` with `k`, `shift` as [`Table::Relu`] or [`Table::Folded`]
/// says (the shift in the low byte is all ASR-by-register reads, the clamp comes back with
/// an ASR #8).
pub(crate) const RQ_WORDS: usize = 4;

/// Scratch bytes of the DSP im2col path: `BLOCK` i16 columns, one int8 staging column, a
/// table of `RQ_WORDS` words per output channel, a copy of the last filter padded to whole
/// groups, and 4 bytes of slack so a misaligned scratch start can still be rounded up to a
/// word boundary.
pub(crate) const fn im2col_bytes(g: &ConvGeom) -> usize {
    let kp = col_len(g);
    BLOCK * kp * 2 + kp + 4 * RQ_WORDS * g.output.c as usize + kp + 4
}

/// Scratch bytes of the portable path: two i16 columns, the table and the slack.
const fn portable_bytes(g: &ConvGeom) -> usize {
    2 * col_len(g) * 2 + 4 * RQ_WORDS * g.output.c as usize + 4
}

/// The least scratch a conv runs with, the same on every target so that a blob sized on the
/// host fits the firmware: the im2col path's, or for a geometry the band path takes
/// ([`conv2d_band::groups`]) the band's where that is less (a 64-channel 3×3 conv needs
/// 4,868 B there against 6,788 B for im2col), and never less than the portable path's. With
/// only that much, a layer the band path refuses at run time (its requantization) runs the
/// reference loops on the DSP target: same results, slower.
pub const fn min_scratch_bytes(g: &ConvGeom) -> usize {
    let im2col = im2col_bytes(g);
    let band = conv2d_band::scratch_bytes(g, RQ_WORDS);
    let portable = portable_bytes(g);
    let band = if band > portable { band } else { portable };
    if band != 0 && band < im2col && conv2d_band::groups(g).is_some() {
        band
    } else {
        im2col
    }
}

/// Scratch bytes an encoder declares: the band path's (at least the portable path's) for a
/// geometry it takes, else the im2col path's.
pub const fn scratch_bytes(g: &ConvGeom) -> usize {
    let band = conv2d_band::scratch_bytes(g, RQ_WORDS);
    let portable = portable_bytes(g);
    match conv2d_band::groups(g) {
        Some(_) if band > portable => band,
        Some(_) => portable,
        None => im2col_bytes(g),
    }
}

/// A layer's table of bias and requantization constants, built once per call so that no
/// channel recomputes them per block, and which arithmetic its entries are for.
#[derive(Clone, Copy)]
pub(crate) enum Table<'a> {
    /// [`ReluRequant`] entries (`ka`, `e`): a fused ReLU, the cheapest path.
    Relu(&'a [[u32; RQ_WORDS]]),
    /// [`FoldedRequant`] entries (`k_hi`, `e − 1`).
    Folded(&'a [[u32; RQ_WORDS]]),
}

impl Table<'_> {
    #[cfg(dsp)]
    fn entries(&self) -> &[[u32; RQ_WORDS]] {
        match self {
            Table::Relu(t) | Table::Folded(t) => t,
        }
    }

    /// Entry `o` applied to `acc`, clamped to `lo..=hi`.
    #[inline(always)]
    pub(crate) fn apply(&self, o: usize, acc: i32, lo: i32, hi: i32) -> i8 {
        match self {
            Table::Relu(t) => {
                let e = &t[o];
                ReluRequant::from_words([e[1], e[2], e[3] & 0xFF]).apply(acc, lo, hi)
            }
            Table::Folded(t) => {
                let e = &t[o];
                FoldedRequant::from_words([e[1], e[2], e[3] & 0xFF]).apply(acc, lo, hi)
            }
        }
    }
}

/// Fills `words` (the scratch past the columns and staging) with the layer's [`Table`] if
/// every channel can take a folded path ([`FoldedRequant::layer_ok`], and
/// [`ReluRequant::layer_ok`] for the ReLU one, which needs the filter length `k` to bound
/// the accumulators); `None` for the per-channel [`ChannelRequant`] path.
pub(crate) fn fold_table<'a>(
    q: &OutQuant,
    requant: &[Requant],
    bias: &[i32],
    k: usize,
    words: &'a mut [u32],
) -> Option<Table<'a>> {
    let oc = requant.len();
    let (zp, lo, hi) = (q.output_zp, q.act_min, q.act_max);
    if !FoldedRequant::layer_ok(requant, zp, lo, hi) {
        return None;
    }
    let relu = ReluRequant::layer_ok(requant, zp, lo, hi, requant_s8::acc_bound(k, bias));
    let (table, _) = words.as_chunks_mut::<RQ_WORDS>();
    let table = table.get_mut(..oc)?;
    for ((c, &m), &b) in table.iter_mut().zip(requant).zip(bias) {
        let [mult, k, sh] = if relu {
            ReluRequant::new(m, zp).to_words()
        } else {
            FoldedRequant::new(m, zp).to_words()
        };
        *c = [b as u32, mult, k, sh | (lo as u32) << 8];
    }
    Some(if relu {
        Table::Relu(table)
    } else {
        Table::Folded(table)
    })
}

/// Whether the input, weights, bias and multipliers hold what `g` reads, every multiplier is
/// valid and the filter is not empty (what every fast path assumes).
pub(crate) fn inputs_fit(
    g: &ConvGeom,
    input_len: usize,
    weights_len: usize,
    bias: &[i32],
    requant: &[Requant],
) -> bool {
    let oc = g.output.c as usize;
    input_len >= g.input.len()
        && weights_len >= oc * g.filter_len()
        && bias.len() >= oc
        && requant.len() >= oc
        && requant_s8::all_valid(&requant[..oc])
        && g.filter_len() > 0
}

/// Scratch words the DSP im2col path needs: `BLOCK` i16 columns, the staging column, the
/// table and the padded last filter.
pub(crate) const fn im2col_words(g: &ConvGeom) -> usize {
    let kp = col_len(g);
    BLOCK * kp / 2 + kp / 4 + RQ_WORDS * g.output.c as usize + kp / 4
}

/// The kernel behind [`super::conv2d_s8`]: the variant [`select::conv_s8`] picks, run.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_s8(
    g: &ConvGeom,
    q: &OutQuant,
    input: &[i8],
    weights: &[i8],
    bias: &[i32],
    requant: &[Requant],
    scratch: &mut [u8],
    output: &mut [i8],
) {
    let words = bytemuck::pod_align_to::<u8, u32>(scratch).1.len();
    let kernel = select::conv_s8(
        g,
        q,
        input.len(),
        weights.len(),
        bias,
        requant,
        output.len(),
        words,
    );
    let ran = select::conv2d_s8_in::<{ select::KernelSet::ALL.0 }>(
        kernel, g, q, input, weights, bias, requant, scratch, output,
    );
    debug_assert!(ran, "{kernel:?} is in the set of all variants");
}

/// The band variant planned as `plan` (`(Q, relu)`, [`conv2d_band::plan`]) with its block
/// function: `false`, having written nothing, where the path does not apply after all (never
/// when planned). Without the DSP extension `block` is absent and the portable loops run.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub(crate) fn band(
    g: &ConvGeom,
    q: &OutQuant,
    input: &[i8],
    weights: &[i8],
    bias: &[i32],
    requant: &[Requant],
    scratch: &mut [u8],
    output: &mut [i8],
    plan: (usize, bool),
    #[cfg(dsp)] block: conv2d_band::BlockFn,
) -> bool {
    #[cfg(dsp)]
    {
        let (_, words, _) = bytemuck::pod_align_to_mut::<u8, u32>(scratch);
        let dest = conv2d_band::Dest::Tensor(output);
        conv2d_band::conv(
            g, q, input, weights, bias, requant, words, dest, plan, block,
        )
    }
    #[cfg(not(dsp))]
    {
        let _ = plan;
        im2col(g, q, input, weights, bias, requant, scratch, output);
        true
    }
}

/// The im2col variant (DSP), or the portable loops; the buffers as [`select::conv_s8`]
/// checked them. The portable loops need less scratch than either DSP path, but a blob's
/// scratch may be sized for the band path alone: with less than they need, the reference
/// loops (same results).
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub(crate) fn im2col(
    g: &ConvGeom,
    q: &OutQuant,
    input: &[i8],
    weights: &[i8],
    bias: &[i32],
    requant: &[Requant],
    scratch: &mut [u8],
    output: &mut [i8],
) {
    let (_, words, _) = bytemuck::pod_align_to_mut::<u8, u32>(scratch);
    #[cfg(dsp)]
    dsp::conv(g, q, input, weights, bias, requant, words, output);
    #[cfg(not(dsp))]
    if words.len() >= col_len(g) + RQ_WORDS * g.output.c as usize {
        portable::conv(g, q, input, weights, bias, requant, words, output)
    } else {
        super::reference::conv2d_s8(g, q, input, weights, bias, requant, output)
    }
}

/// Where one output pixel's filter window lands in the input.
#[derive(Clone, Copy)]
pub(crate) struct Window {
    /// Input row and column of kernel tap (0, 0); may be negative (padding).
    pub(crate) iy0: isize,
    pub(crate) ix0: isize,
    /// Kernel columns `kx0..kx1` fall inside the input.
    pub(crate) kx0: usize,
    pub(crate) kx1: usize,
}

impl Window {
    #[inline(always)]
    pub(crate) fn new(g: &ConvGeom, pixel: usize) -> Self {
        let ow = g.output.w as usize;
        let (oy, ox) = (pixel / ow, pixel % ow);
        let iy0 = (oy * g.stride[0] as usize) as isize - g.padding.top as isize;
        let ix0 = (ox * g.stride[1] as usize) as isize - g.padding.left as isize;
        let kw = g.kernel[1] as isize;
        let kx0 = (-ix0).clamp(0, kw);
        let kx1 = (g.input.w as isize - ix0).clamp(kx0, kw);
        Window {
            iy0,
            ix0,
            kx0: kx0 as usize,
            kx1: kx1 as usize,
        }
    }

    /// For a window with no padding tap, the input index of tap (0, 0); `None` if some tap
    /// is padding or the window's last byte is not in an input of `len` bytes (the DSP
    /// path's fast column build).
    #[cfg(dsp)]
    #[inline(always)]
    fn interior(&self, g: &ConvGeom, len: usize) -> Option<usize> {
        let (kh, kw) = (g.kernel[0] as usize, g.kernel[1] as usize);
        // `kx0 == 0` means `ix0 ≥ 0`; `kx1 == kw` means the row's taps are all in bounds.
        if self.kx0 != 0 || self.kx1 != kw || self.iy0 < 0 {
            return None;
        }
        let iy0 = self.iy0 as usize;
        if iy0 + kh > g.input.h as usize {
            return None;
        }
        let (w, ic) = (g.input.w as usize, g.input.c as usize);
        let base = (iy0 * w + self.ix0 as usize) * ic;
        let end = base + ((kh - 1) * w + kw) * ic;
        (end <= len).then_some(base)
    }

    /// For kernel row `ky`: the input bytes of taps `kx0..kx1`, or `None` if the row is
    /// padding.
    #[inline(always)]
    fn row<'a>(&self, g: &ConvGeom, input: &'a [i8], ky: usize) -> Option<&'a [i8]> {
        let iy = self.iy0 + ky as isize;
        if iy < 0 || iy >= g.input.h as isize || self.kx0 == self.kx1 {
            return None;
        }
        let ic = g.input.c as usize;
        let start =
            (iy as usize * g.input.w as usize + (self.ix0 + self.kx0 as isize) as usize) * ic;
        input.get(start..start + (self.kx1 - self.kx0) * ic)
    }
}

/// Plain-Rust path: natural-order i16 columns and i32 dot products (auto-vectorized on the
/// host, reasonable on cores without the DSP extension).
#[cfg(not(dsp))]
mod portable {
    use super::*;

    /// Fills `col[..k]` with the window's `x − zp_in` (0 for padding taps), natural order.
    fn im2col(g: &ConvGeom, zp: i32, input: &[i8], pixel: usize, col: &mut [i16]) {
        let win = Window::new(g, pixel);
        let ic = g.input.c as usize;
        let row_len = g.kernel[1] as usize * ic;
        for (ky, dst) in col
            .chunks_exact_mut(row_len)
            .take(g.kernel[0] as usize)
            .enumerate()
        {
            dst.fill(0);
            if let Some(src) = win.row(g, input, ky) {
                let d = &mut dst[win.kx0 * ic..win.kx0 * ic + src.len()];
                for (d, &x) in d.iter_mut().zip(src) {
                    *d = (x as i32 - zp) as i16;
                }
            }
        }
    }

    #[inline(always)]
    fn dot(w: &[i8], x: &[i16]) -> i32 {
        w.iter()
            .zip(x)
            .fold(0i32, |a, (&w, &x)| a.wrapping_add(w as i32 * x as i32))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn conv(
        g: &ConvGeom,
        q: &OutQuant,
        input: &[i8],
        weights: &[i8],
        bias: &[i32],
        requant: &[Requant],
        words: &mut [u32],
        output: &mut [i8],
    ) {
        let k = g.filter_len();
        let oc = g.output.c as usize;
        let npix = g.output.h as usize * g.output.w as usize;
        let (cols, rest) = words.split_at_mut(col_len(g));
        let table = fold_table(q, &requant[..oc], &bias[..oc], k, rest);
        let (zp, lo, hi) = (q.output_zp, q.act_min, q.act_max);
        // The same requantization as the DSP path: folded constants where the layer allows.
        let rq = |o: usize, acc: i32| match table {
            Some(t) => t.apply(o, acc, lo, hi),
            None => ChannelRequant::new(requant[o], zp, lo, hi).apply(acc),
        };
        let col: &mut [i16] = bytemuck::cast_slice_mut(cols);
        let (col_a, rest) = col.split_at_mut(k);
        let col_b = &mut rest[..k];
        let mut pixel = 0;
        while pixel + 2 <= npix {
            im2col(g, q.input_zp, input, pixel, col_a);
            im2col(g, q.input_zp, input, pixel + 1, col_b);
            let (out0, out1) = output[pixel * oc..(pixel + 2) * oc].split_at_mut(oc);
            for (o, (y0, y1)) in out0.iter_mut().zip(out1.iter_mut()).enumerate() {
                let w = &weights[o * k..(o + 1) * k];
                *y0 = rq(o, bias[o].wrapping_add(dot(w, col_a)));
                *y1 = rq(o, bias[o].wrapping_add(dot(w, col_b)));
            }
            pixel += 2;
        }
        if pixel < npix {
            im2col(g, q.input_zp, input, pixel, col_a);
            let out = &mut output[pixel * oc..(pixel + 1) * oc];
            for (o, y) in out.iter_mut().enumerate() {
                *y = rq(
                    o,
                    bias[o].wrapping_add(dot(&weights[o * k..(o + 1) * k], col_a)),
                );
            }
        }
    }
}

/// DSP path: one filter against a block of 4 im2col columns per pass (4 accumulators), so
/// each weight word is loaded and widened once per 16 MACs. The columns are interleaved per
/// 4-value group — `[(x0,x2), (x1,x3)]` for pixel 0, then pixel 1, … — in the "reordered"
/// pairing that SXTB16 / SXTB16-ROR8 give a weight word, so each SMLAD is two MACs. A filter
/// length that is not a multiple of 4 ends in a zero-padded group.
///
/// Costs that do not scale with MACs are what keep a pruned (narrower) layer from speeding
/// up in proportion, so they are kept per layer where possible: the bias and folded
/// requantization constants are tabulated once per call ([`fold_table`]); a block's columns
/// are built together when its pixels share an output row (`im2col_block`,
/// `rgb3x3_block`); per output the requantization is one asm block of 10 instructions
/// (`arm::mac_requant_filters`).
#[cfg(dsp)]
mod dsp {
    use super::*;
    use crate::kernels::arm::{
        copy_bytes, mac_1x4, mac_requant_filters, smlad, splat16, sxtb16, sxtb16_ror8, widen_4cols,
        widen_groups, widen_reordered,
    };

    /// Words per group of the block: `BLOCK` columns × 2 pairs.
    const GW: usize = 2 * BLOCK;
    /// Bytes per group of the block (the column stride in [`widen_groups`]).
    const GROUP_BYTES: usize = 4 * GW;

    /// One group of the block: `[(x0,x2), (x1,x3)]` of pixel 0, then pixel 1, …
    type Group = [u32; GW];

    /// Writes pixel `c`'s pairs of one group (`c < BLOCK`).
    #[inline(always)]
    fn put(c: usize, d: &mut Group, lo: u32, hi: u32) {
        let c = c % BLOCK;
        d[2 * c] = lo;
        d[2 * c + 1] = hi;
    }

    /// Widens the whole groups of 4 int8 in `src` (plus `off2`) into column `c` of `dst`;
    /// returns the groups of `dst` past the end of `src`.
    #[inline(always)]
    fn widen_column<'a>(c: usize, src: &[i8], dst: &'a mut [Group], off2: u32) -> &'a mut [Group] {
        let n = (src.len() / 4).min(dst.len());
        let (head, rest) = dst.split_at_mut(n);
        if n > 0 {
            // SAFETY: `src` holds `4 · n` bytes; `head` holds `n` groups of `GW` words
            // (`GROUP_BYTES` apart, 4-byte aligned), column `c`'s pair is words `2c, 2c + 1`.
            unsafe {
                let dst = head.as_mut_ptr().cast::<u32>().add(2 * (c % BLOCK));
                widen_groups::<GROUP_BYTES>(src.as_ptr(), dst, n, off2);
            }
        }
        rest
    }

    /// Zeroes column `c` of `dst` (padding taps: `zp_in − zp_in`).
    #[inline(always)]
    fn zero_column(c: usize, dst: &mut [Group]) {
        for d in dst {
            put(c, d, 0, 0);
        }
    }

    /// Copies `src` into the start of `dst`.
    #[inline(always)]
    fn copy_row(dst: &mut [i8], src: &[i8]) {
        let n = dst.len().min(src.len());
        // SAFETY: both slices hold `n` bytes and cannot overlap (`dst` is exclusive).
        unsafe { copy_bytes(dst.as_mut_ptr(), src.as_ptr(), n) }
    }

    /// Column `c` for a window with no padding tap of a 3×3 kernel over 3 input channels
    /// (an RGB first layer): its 27 bytes are 3 runs of 9, `stride` apart, read straight from
    /// the input as the column's 7 words (seams between runs joined with shifts, the last
    /// word's 4th byte set to `zp_in` so it widens to 0) and widened: about 40 instructions
    /// where the staging copy took ~150.
    ///
    /// # Safety
    /// `p ..p + 2·stride + 9` must be readable.
    #[inline(always)]
    unsafe fn col_rgb3x3(c: usize, p: *const i8, stride: usize, zp: i32, groups: &mut [Group]) {
        // SAFETY: every read lies in one of the runs `p + r ..+ 9`, `r` in {0, stride,
        // 2·stride} (the caller's range); LDR/LDRH tolerate misalignment on M4/M7.
        let words = unsafe {
            let word = |o: usize| p.add(o).cast::<u32>().read_unaligned();
            let (r1, r2) = (stride, 2 * stride);
            [
                word(0),
                word(4),
                *p.add(8) as u8 as u32 | word(r1) << 8,
                word(r1 + 3),
                p.add(r1 + 7).cast::<u16>().read_unaligned() as u32 | word(r2) << 16,
                word(r2 + 2),
                word(r2 + 5) >> 8 | (zp as u32) << 24,
            ]
        };
        let off2 = splat16(-zp);
        for (d, w) in groups.iter_mut().zip(words) {
            let (lo, hi) = widen_reordered(w, off2);
            put(c, d, lo, hi);
        }
    }

    /// Fills column `c` of the block with the window's reordered `x − zp_in` pairs. Input
    /// channels in whole groups of 4 widen straight from the input, one kernel row (its
    /// in-bounds taps are contiguous in HWC) at a time; other channel counts are gathered
    /// into the int8 `staging` column first (padding = `zp_in`, which widens to 0; a window
    /// with no padding tap skips that fill) and widened from there, except the interior
    /// windows of a 3×3 kernel over 3 channels ([`col_rgb3x3`]). The staging bytes past the
    /// filter length stay `zp_in` (set once per call): they meet the next filter's bytes.
    fn im2col(
        c: usize,
        g: &ConvGeom,
        zp: i32,
        input: &[i8],
        pixel: usize,
        groups: &mut [Group],
        staging: &mut [i8],
    ) {
        let win = Window::new(g, pixel);
        let ic = g.input.c as usize;
        let kh = g.kernel[0] as usize;
        let row_len = g.kernel[1] as usize * ic;
        let off2 = splat16(-zp);
        if let Some(base) = win.interior(g, input.len()) {
            // No padding tap: `kh` runs of `row_len` bytes, `stride` apart, all in bounds.
            let stride = g.input.w as usize * ic;
            let src = input.as_ptr();
            if ic.is_multiple_of(4) {
                let rg = row_len / 4;
                if rg > 0 && groups.len() >= kh * rg {
                    for ky in 0..kh {
                        // SAFETY: `interior` checked the run `base + ky·stride ..+ row_len` is
                        // in `input`; row `ky` of the column is groups `ky·rg ..+ rg`.
                        unsafe {
                            let dst = groups
                                .as_mut_ptr()
                                .add(ky * rg)
                                .cast::<u32>()
                                .add(2 * (c % BLOCK));
                            widen_groups::<GROUP_BYTES>(src.add(base + ky * stride), dst, rg, off2);
                        }
                    }
                    return;
                }
            } else if ic == 3 && kh == 3 && row_len == 9 && groups.len() >= 7 {
                // SAFETY: `interior` checked the window's last byte, `base + 2·stride + 9`,
                // is in `input`.
                unsafe { col_rgb3x3(c, src.add(base), stride, zp, groups) };
                return;
            } else if staging.len() >= kh * row_len {
                for ky in 0..kh {
                    // SAFETY: the run is in `input` (as above); `staging` holds `kh · row_len`.
                    unsafe {
                        let dst = staging.as_mut_ptr().add(ky * row_len);
                        copy_bytes(dst, src.add(base + ky * stride), row_len);
                    }
                }
                widen_column(c, staging, groups, off2);
                return;
            }
        }
        if ic.is_multiple_of(4) {
            let tap_groups = ic / 4;
            for (ky, row) in groups.chunks_mut(row_len / 4).take(kh).enumerate() {
                match win.row(g, input, ky) {
                    Some(src) => {
                        let (pad, rest) = row.split_at_mut((win.kx0 * tap_groups).min(row.len()));
                        zero_column(c, pad);
                        zero_column(c, widen_column(c, src, rest, off2));
                    }
                    None => zero_column(c, row),
                }
            }
        } else {
            let k = kh * row_len;
            let interior = win.kx0 == 0
                && win.kx1 == g.kernel[1] as usize
                && win.iy0 >= 0
                && win.iy0 as usize + kh <= g.input.h as usize;
            if !interior {
                let n = k.min(staging.len());
                staging[..n].fill(zp as i8);
            }
            for (ky, dst) in staging.chunks_exact_mut(row_len).take(kh).enumerate() {
                if let Some(src) = win.row(g, input, ky) {
                    let start = win.kx0 * ic;
                    if let Some(d) = dst.get_mut(start..) {
                        copy_row(d, src);
                    }
                }
            }
            widen_column(c, staging, groups, off2);
        }
    }

    /// All `BLOCK` columns at once when the block's pixels share an output row (every block
    /// when the output width is a multiple of `BLOCK`), one kernel row at a time: a row in
    /// the vertical padding is zeroed; otherwise each window's row is read whole, taps in
    /// the horizontal padding included (they are bytes of the neighbouring input rows, in
    /// bounds), and those taps are then overwritten with padding; a kernel row of all 4
    /// columns is one [`widen_4cols`]. Only for input channels in whole groups of 4. Returns
    /// `false` for other channel counts, where a row's bytes would fall outside `input` (the
    /// first or last input pixel's padding), or where the block spans two output rows; the
    /// caller then builds every column itself, overwriting whatever was written.
    fn im2col_block(
        g: &ConvGeom,
        zp: i32,
        input: &[i8],
        pixel: usize,
        groups: &mut [Group],
    ) -> bool {
        let ic = g.input.c as usize;
        if !ic.is_multiple_of(4) {
            return false;
        }
        let ow = g.output.w as usize;
        let (oy, ox) = (pixel / ow, pixel % ow);
        if ox + BLOCK > ow {
            return false;
        }
        let (kh, kw) = (g.kernel[0] as usize, g.kernel[1] as usize);
        let row_len = kw * ic;
        let (h, w) = (g.input.h as isize, g.input.w as isize);
        let sx = g.stride[1] as isize;
        let iy0 = (oy * g.stride[0] as usize) as isize - g.padding.top as isize;
        let ix0 = (ox as isize) * sx - g.padding.left as isize;
        let ix_end = ix0 + (BLOCK as isize - 1) * sx + kw as isize;
        // Some window of the block has a tap in the left or right padding.
        let h_pad = ix0 < 0 || ix_end > w;
        let len = input.len() as isize;
        let icx = ic as isize;
        let off2 = splat16(-zp);
        let src = input.as_ptr();
        let (rg, tg) = (row_len / 4, ic / 4);
        if rg == 0 || groups.len() < kh * rg {
            return false;
        }
        for (ky, row) in groups.chunks_exact_mut(rg).take(kh).enumerate() {
            let iy = iy0 + ky as isize;
            if iy < 0 || iy >= h {
                row.fill([0; GW]);
                continue;
            }
            let start = (iy * w + ix0) * icx;
            if start < 0 || (iy * w + ix_end) * icx > len {
                return false;
            }
            // SAFETY: pixel `j`'s row is `start + j·sx·ic ..+ row_len`, inside
            // `start .. (iy·w + ix_end)·ic ⊆ input` (checked); `row` is `rg` groups of
            // `GW` words.
            unsafe {
                let ps = sx as usize * ic;
                let dst = row.as_mut_ptr().cast::<u32>();
                widen_4cols(src.offset(start), ps, dst, rg, off2);
            }
        }
        if h_pad {
            // The taps in the horizontal padding are the same in every kernel row.
            for j in 0..BLOCK {
                let x = ix0 + j as isize * sx;
                let left = (-x).clamp(0, kw as isize) as usize;
                let right = (w - x).clamp(left as isize, kw as isize) as usize;
                if left == 0 && right == kw {
                    continue;
                }
                for row in groups.chunks_exact_mut(rg).take(kh) {
                    for kx in (0..left).chain(right..kw) {
                        for d in row.iter_mut().skip(kx * tg).take(tg) {
                            d[2 * j] = 0;
                            d[2 * j + 1] = 0;
                        }
                    }
                }
            }
        }
        true
    }

    /// The last, partial weight group (1 to 3 bytes) as a zero-padded word.
    #[inline(always)]
    fn tail_word(w: &[i8]) -> u32 {
        w.iter()
            .take(3)
            .enumerate()
            .fold(0u32, |a, (i, &b)| a | ((b as u8 as u32) << (8 * i)))
    }

    /// One weight word against one group of the block: 2 SXTB16 + 8 SMLAD for 16 MACs.
    #[inline(always)]
    fn mac_group(w: u32, x: &Group, acc: [i32; BLOCK]) -> [i32; BLOCK] {
        let (w02, w13) = (sxtb16(w), sxtb16_ror8(w));
        let [a0, a1, a2, a3] = acc;
        [
            smlad(w13, x[1], smlad(w02, x[0], a0)),
            smlad(w13, x[3], smlad(w02, x[2], a1)),
            smlad(w13, x[5], smlad(w02, x[4], a2)),
            smlad(w13, x[7], smlad(w02, x[6], a3)),
        ]
    }

    /// `acc[p] + Σ w · x_p` for filter `o` over the block's `groups` (`⌈k / 4⌉` of them).
    /// The last group of a filter whose length is not a multiple of 4 reads up to 3 bytes
    /// of the next filter; they meet the column's zero padding. Only where that would read
    /// past `weights` (the last filter) does the partial group go through [`tail_word`].
    #[inline(always)]
    fn filter(
        weights: &[i8],
        o: usize,
        k: usize,
        groups: &[Group],
        acc: [i32; BLOCK],
    ) -> [i32; BLOCK] {
        let start = o * k;
        let n = groups.len();
        if start + 4 * n <= weights.len() && n > 0 {
            // SAFETY: `weights` holds `4 · n` bytes from `start` (checked); `groups` holds
            // `n` groups of `GW` words, 4-byte aligned; `n ≥ 1`.
            unsafe { mac_1x4(weights.as_ptr().add(start), groups.as_ptr().cast(), n, acc) }
        } else {
            filter_end(weights.get(start..start + k).unwrap_or(&[]), groups, acc)
        }
    }

    /// [`filter`] for a filter whose padded last group would run past the weights: whole
    /// groups in [`mac_1x4`], the partial one zero-padded.
    #[cold]
    #[inline(never)]
    fn filter_end(w: &[i8], groups: &[Group], mut acc: [i32; BLOCK]) -> [i32; BLOCK] {
        let full = (w.len() / 4).min(groups.len());
        if full > 0 {
            // SAFETY: `w` holds `4 · full` bytes, `groups` at least `full` groups.
            acc = unsafe { mac_1x4(w.as_ptr(), groups.as_ptr().cast(), full, acc) };
        }
        match groups.get(full) {
            Some(x) if w.len() > 4 * full => mac_group(tail_word(&w[4 * full..]), x, acc),
            _ => acc,
        }
    }

    /// All `oc` filters against the block's `n` columns, requantized by `apply` with the
    /// per-channel constants `prep(o)` gives, into `out` (`n` pixels of `oc` bytes).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn channels<R>(
        groups: &[Group],
        k: usize,
        oc: usize,
        n: usize,
        weights: &[i8],
        bias: &[i32],
        out: &mut [i8],
        prep: impl Fn(usize) -> R,
        apply: impl Fn(&R, i32) -> i8,
    ) {
        let bias = &bias[..oc];
        if n == BLOCK {
            let (r0, r) = out.split_at_mut(oc);
            let (r1, r) = r.split_at_mut(oc);
            let (r2, r3) = r.split_at_mut(oc);
            let r3 = &mut r3[..oc];
            for o in 0..oc {
                let acc = filter(weights, o, k, groups, [bias[o]; BLOCK]);
                let m = prep(o);
                r0[o] = apply(&m, acc[0]);
                r1[o] = apply(&m, acc[1]);
                r2[o] = apply(&m, acc[2]);
                r3[o] = apply(&m, acc[3]);
            }
        } else {
            for o in 0..oc {
                let acc = filter(weights, o, k, groups, [bias[o]; BLOCK]);
                let m = prep(o);
                for (c, &a) in acc.iter().enumerate().take(n) {
                    out[c * oc + o] = apply(&m, a);
                }
            }
        }
    }

    /// A block of a 3×3 conv over 3 input channels whose pixels share an output row: the
    /// window arithmetic once for the block, [`col_rgb3x3`] for each window with no padding
    /// tap and [`im2col`] for the others. Returns `false`, having written nothing, for any
    /// other geometry or block.
    fn rgb3x3_block(
        g: &ConvGeom,
        zp: i32,
        input: &[i8],
        pixel: usize,
        groups: &mut [Group],
        staging: &mut [i8],
    ) -> bool {
        let ow = g.output.w as usize;
        let (oy, ox) = (pixel / ow, pixel % ow);
        if g.input.c != 3 || g.kernel != [3, 3] || ox + BLOCK > ow || groups.len() < 7 {
            return false;
        }
        let (h, w) = (g.input.h as isize, g.input.w as isize);
        let sx = g.stride[1] as isize;
        let iy0 = (oy * g.stride[0] as usize) as isize - g.padding.top as isize;
        let ix0 = (ox as isize) * sx - g.padding.left as isize;
        let rows_in = iy0 >= 0 && iy0 + 3 <= h && input.len() >= g.input.len();
        // Column `C` straight from the input if its window has no padding tap.
        #[inline(always)]
        fn one<const C: usize>(
            input: &[i8],
            (iy0, ix0, sx, w, rows_in): (isize, isize, isize, isize, bool),
            zp: i32,
            groups: &mut [Group],
        ) -> bool {
            let x = ix0 + C as isize * sx;
            if !(rows_in && x >= 0 && x + 3 <= w) {
                return false;
            }
            let base = (iy0 as usize * w as usize + x as usize) * 3;
            // SAFETY: the window's rows `iy0..iy0 + 3` and columns `x..x + 3` are inside the
            // `h × w × 3` input (`rows_in` checked `input` holds it all), so
            // `base ..base + 2·stride + 9` is too.
            unsafe { col_rgb3x3(C, input.as_ptr().add(base), 3 * w as usize, zp, groups) };
            true
        }
        let at = (iy0, ix0, sx, w, rows_in);
        if !one::<0>(input, at, zp, groups) {
            im2col(0, g, zp, input, pixel, groups, staging);
        }
        if !one::<1>(input, at, zp, groups) {
            im2col(1, g, zp, input, pixel + 1, groups, staging);
        }
        if !one::<2>(input, at, zp, groups) {
            im2col(2, g, zp, input, pixel + 2, groups, staging);
        }
        if !one::<3>(input, at, zp, groups) {
            im2col(3, g, zp, input, pixel + 3, groups, staging);
        }
        true
    }

    /// The block's `n` columns: [`im2col_block`] where it applies, else pixel by pixel.
    /// Not inlined, like [`block_folded`], so that neither half's register allocation
    /// depends on the other's (inlined into one function, an edit to either moved the
    /// other by a few instructions per output).
    #[inline(never)]
    fn columns(
        g: &ConvGeom,
        zp: i32,
        input: &[i8],
        pixel: usize,
        n: usize,
        groups: &mut [Group],
        staging: &mut [i8],
    ) {
        if n == BLOCK && im2col_block(g, zp, input, pixel, groups) {
            return;
        }
        if n == BLOCK && rgb3x3_block(g, zp, input, pixel, groups, staging) {
            return;
        }
        im2col(0, g, zp, input, pixel, groups, staging);
        if n > 1 {
            im2col(1, g, zp, input, pixel + 1, groups, staging);
        }
        if n > 2 {
            im2col(2, g, zp, input, pixel + 2, groups, staging);
        }
        if n > 3 {
            im2col(3, g, zp, input, pixel + 3, groups, staging);
        }
    }

    /// [`channels`] for the common case — a full block, a layer on a folded
    /// requantization with no upper clamp below 127 — all filters in
    /// [`mac_requant_filters`] (one asm body: MAC loop, requantization and stores per
    /// filter). Filters `..fast` read their padded last group from `weights`; the last one,
    /// if `fast = oc − 1`, from `last` (its copy padded to whole groups) in a second call;
    /// any other (filters shorter than 4 bytes) goes through [`filter_end`]. `out` holds
    /// `BLOCK` pixels of `oc = table.len()` bytes.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn block_folded(
        groups: &[Group],
        k: usize,
        fast: usize,
        weights: &[i8],
        last: &[i8],
        table: Table<'_>,
        lo: i32,
        out: &mut [i8],
    ) {
        let entries = table.entries();
        let oc = entries.len();
        let ng = groups.len();
        let fits = out.len() >= BLOCK * oc
            && ng > 0
            && (k..k + 4).contains(&(4 * ng))
            && fast <= oc
            && (fast == 0 || (fast - 1) * k + 4 * ng <= weights.len())
            && last.len() >= 4 * ng;
        if !fits {
            return; // unreachable: the caller passes a whole block, `fast` as it computes it
        }
        let x = groups.as_ptr().cast::<u32>();
        let relu = matches!(table, Table::Relu(_));
        // `lo` is every entry's `act_min` (`fold_table`); SSAT alone gives −128.
        let clamp_lo = lo > -128;
        let t = entries.as_ptr().cast::<u32>();
        let y = out.as_mut_ptr();
        // SAFETY: filter `o < fast` has `4 · ng` bytes from `o · k` in `weights` (checked
        // above, `4 · ng − k < 4`), and the last filter's `4 · ng` padded bytes are `last`;
        // `groups` holds `ng ≥ 1` groups of `GW` words, 4-byte aligned; every entry is 4
        // aligned words of a layer that passed `layer_ok` for its kind;
        // `o + j·oc < BLOCK · oc ≤ out.len()` for `o < oc`, `j < BLOCK`.
        unsafe {
            if fast > 0 {
                let (t_end, adj) = (t.add(RQ_WORDS * fast), 4 * ng - k);
                mac_requant_filters(
                    weights.as_ptr(),
                    x,
                    ng,
                    adj,
                    t,
                    t_end,
                    y,
                    oc,
                    relu,
                    clamp_lo,
                );
            }
        }
        let tail = fast + 1 == oc;
        if tail {
            // SAFETY: as above, for the last filter from its padded copy.
            unsafe {
                let (t, t_end, y) = (t.add(RQ_WORDS * fast), t.add(RQ_WORDS * oc), y.add(fast));
                mac_requant_filters(last.as_ptr(), x, ng, 0, t, t_end, y, oc, relu, clamp_lo);
            }
            return;
        }
        for (o, e) in entries.iter().enumerate().skip(fast) {
            let b = [e[0] as i32; BLOCK];
            let acc = filter_end(weights.get(o * k..o * k + k).unwrap_or(&[]), groups, b);
            for (j, &a) in acc.iter().enumerate() {
                out[j * oc + o] = table.apply(o, a, lo, 127);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn conv(
        g: &ConvGeom,
        q: &OutQuant,
        input: &[i8],
        weights: &[i8],
        bias: &[i32],
        requant: &[Requant],
        words: &mut [u32],
        output: &mut [i8],
    ) {
        let k = g.filter_len();
        let kp = col_len(g);
        let oc = g.output.c as usize;
        let npix = g.output.h as usize * g.output.w as usize;
        let (cols, rest) = words.split_at_mut(kp / 4 * GW);
        let (staging, rest) = rest.split_at_mut(kp / 4);
        let staging: &mut [i8] = bytemuck::cast_slice_mut(staging);
        let (rest, last) = rest.split_at_mut(RQ_WORDS * oc);
        let table = fold_table(q, &requant[..oc], &bias[..oc], k, rest);
        // The last filter zero-padded to whole groups, so that every filter's last group
        // can be read as a word ([`block_folded`]).
        let last: &mut [i8] = bytemuck::cast_slice_mut(&mut last[..kp / 4]);
        last.fill(0);
        if let Some(w) = weights.get((oc - 1) * k..oc * k) {
            last[..k].copy_from_slice(w);
        }
        let last = &*last;
        // Bytes `k..kp` are never written again: as `zp_in` they widen to the zero padding
        // that the next filter's bytes in a partial last group meet.
        staging.fill(q.input_zp as i8);
        let (groups, _) = cols.as_chunks_mut::<GW>();
        let zp = q.input_zp;
        let (ozp, lo, hi) = (q.output_zp, q.act_min, q.act_max);
        // Filters whose padded last group stays inside `weights` (all but at most the last
        // when `k` is not a multiple of 4).
        let fast = match weights.len().checked_sub(kp) {
            Some(rest) => (rest / k + 1).min(oc),
            None => 0,
        };
        let mut pixel = 0;
        while pixel < npix {
            // A short last block leaves stale columns whose results are dropped.
            let n = BLOCK.min(npix - pixel);
            columns(g, zp, input, pixel, n, groups, staging);
            let out = &mut output[pixel * oc..(pixel + n) * oc];
            let groups = &*groups;
            if let Some(t) = table {
                if hi == 127 && n == BLOCK {
                    // SSAT does the upper clamp; `lo ≥ −128` is checked by `layer_ok`.
                    block_folded(groups, k, fast, weights, last, t, lo, out);
                } else {
                    let ap = |&o: &usize, a| t.apply(o, a, lo, hi);
                    channels(groups, k, oc, n, weights, bias, out, |o| o, ap);
                }
            } else {
                let cr = |o: usize| ChannelRequant::new(requant[o], ozp, lo, hi);
                let ap = |r: &ChannelRequant, a| r.apply(a);
                channels(groups, k, oc, n, weights, bias, out, cr, ap);
            }
            pixel += n;
        }
    }
}
