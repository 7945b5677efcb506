//! int8 convolution (HWC, OHWI): im2col of two output pixels into i16 scratch with the input
//! offset folded in, then a 2-channel × 2-pixel multiply-accumulate (SMLAD where `cfg(dsp)`).

use super::{ConvGeom, OutQuant, reference};
use crate::format::Requant;

/// i16 slots of one im2col column: the filter length rounded up to whole 4-value groups.
pub(crate) const fn col_len(g: &ConvGeom) -> usize {
    (g.filter_len() + 3) & !3
}

/// Scratch bytes: two i16 columns, one int8 staging column, and 4 bytes of slack so a
/// misaligned scratch start can still be rounded up to a word boundary.
pub const fn scratch_bytes(g: &ConvGeom) -> usize {
    let kp = col_len(g);
    2 * kp * 2 + kp + 4
}

/// The kernel behind [`super::conv2d_s8`]. Falls back to the reference loops if the buffers
/// are shorter than the geometry says (a validated model never does that).
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
    let oc = g.output.c as usize;
    let kp = col_len(g);
    let (_, words, _) = bytemuck::pod_align_to_mut::<u8, u32>(scratch);
    let fits = input.len() >= g.input.len()
        && weights.len() >= oc * g.filter_len()
        && bias.len() >= oc
        && requant.len() >= oc
        && output.len() >= g.output.len()
        && words.len() >= kp + kp / 4;
    if !fits || g.filter_len() == 0 {
        return reference::conv2d_s8(g, q, input, weights, bias, requant, output);
    }
    #[cfg(dsp)]
    dsp::conv(g, q, input, weights, bias, requant, words, output);
    #[cfg(not(dsp))]
    portable::conv(g, q, input, weights, bias, requant, words, output);
}

/// Where one output pixel's filter window lands in the input.
#[derive(Clone, Copy)]
struct Window {
    /// Input row and column of kernel tap (0, 0); may be negative (padding).
    iy0: isize,
    ix0: isize,
    /// Kernel columns `kx0..kx1` fall inside the input.
    kx0: usize,
    kx1: usize,
}

impl Window {
    #[inline(always)]
    fn new(g: &ConvGeom, pixel: usize) -> Self {
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

    /// Writes the 4 requantized outputs of a 2-channel × 2-pixel block (`acc[pixel][channel]`).
    #[inline(always)]
    fn store_2x2(
        q: &OutQuant,
        rq: &[Requant],
        acc: [[i32; 2]; 2],
        out0: &mut [i8],
        out1: &mut [i8],
    ) {
        for (c, m) in rq.iter().enumerate().take(2) {
            out0[c] = crate::requant::requantize(acc[0][c], *m, q.output_zp, q.act_min, q.act_max);
            out1[c] = crate::requant::requantize(acc[1][c], *m, q.output_zp, q.act_min, q.act_max);
        }
    }

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
        let col: &mut [i16] = bytemuck::cast_slice_mut(words);
        let (col_a, rest) = col.split_at_mut(k);
        let col_b = &mut rest[..k];
        let mut pixel = 0;
        while pixel + 2 <= npix {
            im2col(g, q.input_zp, input, pixel, col_a);
            im2col(g, q.input_zp, input, pixel + 1, col_b);
            let (out0, out1) = output[pixel * oc..(pixel + 2) * oc].split_at_mut(oc);
            let mut o = 0;
            while o + 2 <= oc {
                let (wa, wb) = (
                    &weights[o * k..(o + 1) * k],
                    &weights[(o + 1) * k..(o + 2) * k],
                );
                let acc = [
                    [
                        bias[o].wrapping_add(dot(wa, col_a)),
                        bias[o + 1].wrapping_add(dot(wb, col_a)),
                    ],
                    [
                        bias[o].wrapping_add(dot(wa, col_b)),
                        bias[o + 1].wrapping_add(dot(wb, col_b)),
                    ],
                ];
                store_2x2(q, &requant[o..o + 2], acc, &mut out0[o..], &mut out1[o..]);
                o += 2;
            }
            if o < oc {
                let w = &weights[o * k..(o + 1) * k];
                let m = requant[o];
                let (zp, lo, hi) = (q.output_zp, q.act_min, q.act_max);
                out0[o] =
                    crate::requant::requantize(bias[o].wrapping_add(dot(w, col_a)), m, zp, lo, hi);
                out1[o] =
                    crate::requant::requantize(bias[o].wrapping_add(dot(w, col_b)), m, zp, lo, hi);
            }
            pixel += 2;
        }
        if pixel < npix {
            im2col(g, q.input_zp, input, pixel, col_a);
            let out = &mut output[pixel * oc..(pixel + 1) * oc];
            for (o, y) in out.iter_mut().enumerate() {
                let acc = bias[o].wrapping_add(dot(&weights[o * k..(o + 1) * k], col_a));
                *y = crate::requant::requantize(acc, requant[o], q.output_zp, q.act_min, q.act_max);
            }
        }
    }
}

/// DSP path: im2col columns hold each 4-value group as the i16 pairs `(x0, x2)`, `(x1, x3)`
/// — the order SXTB16 / SXTB16-ROR8 widen a weight word into — so every pair of products
/// is one SMLAD. Filters whose length is not a multiple of 4 end in a zero-padded group.
#[cfg(dsp)]
mod dsp {
    use super::*;
    use crate::kernels::arm::{smlad, splat16, sxtb16, sxtb16_ror8, widen_reordered};

    /// Widens whole groups of 4 int8 into reordered i16 pairs plus `off2`.
    #[inline(always)]
    fn widen_groups(src: &[i8], dst: &mut [u32], off2: u32) {
        let (groups, _) = src.as_chunks::<4>();
        let (pairs, _) = dst.as_chunks_mut::<2>();
        for (s, d) in groups.iter().zip(pairs) {
            let x = u32::from_le_bytes(s.map(|b| b as u8));
            let (lo, hi) = widen_reordered(x, off2);
            *d = [lo, hi];
        }
    }

    /// Fills the `kp / 2` words of `col` with the window's reordered `x − zp_in` pairs.
    /// Input channels in whole groups of 4 widen straight from the input; other channel
    /// counts go through the int8 `staging` column (padding = `zp_in`, which widens to 0).
    fn im2col(
        g: &ConvGeom,
        zp: i32,
        input: &[i8],
        pixel: usize,
        col: &mut [u32],
        staging: &mut [i8],
    ) {
        let win = Window::new(g, pixel);
        let ic = g.input.c as usize;
        let kh = g.kernel[0] as usize;
        let row_len = g.kernel[1] as usize * ic;
        let off2 = splat16(-zp);
        if ic % 4 == 0 {
            for (ky, dst) in col.chunks_exact_mut(row_len / 2).take(kh).enumerate() {
                match win.row(g, input, ky) {
                    Some(src) => {
                        let (a, b) = (win.kx0 * ic / 2, win.kx0 * ic / 2 + src.len() / 2);
                        dst[..a].fill(0);
                        widen_groups(src, &mut dst[a..b], off2);
                        dst[b..].fill(0);
                    }
                    None => dst.fill(0),
                }
            }
        } else {
            staging.fill(zp as i8);
            for (ky, dst) in staging.chunks_exact_mut(row_len).take(kh).enumerate() {
                if let Some(src) = win.row(g, input, ky) {
                    let d = &mut dst[win.kx0 * ic..win.kx0 * ic + src.len()];
                    for (d, &x) in d.iter_mut().zip(src) {
                        *d = x;
                    }
                }
            }
            widen_groups(staging, col, off2);
        }
    }

    /// The 4-byte weight word of group `i` of a filter of `k` values; the last, partial
    /// group is zero-padded (never reads past the filter).
    #[inline(always)]
    fn tail_word(w: &[i8]) -> u32 {
        w.iter()
            .take(3)
            .enumerate()
            .fold(0u32, |a, (i, &b)| a | ((b as u8 as u32) << (8 * i)))
    }

    /// `acc[p][c] += Σ w_c · x_p` over whole groups: `wa`, `wb` are 4·n bytes, `xa`, `xb`
    /// 2·n words. The hot loop: 2 LDR + 4 SXTB16 + 2 LDRD + 8 SMLAD per 16 MACs.
    #[inline(always)]
    fn mac_2x2(wa: &[i8], wb: &[i8], xa: &[u32], xb: &[u32], acc: &mut [[i32; 2]; 2]) {
        let [[mut a0, mut b0], [mut a1, mut b1]] = *acc;
        let (wa, _) = wa.as_chunks::<4>();
        let (wb, _) = wb.as_chunks::<4>();
        let (xa, _) = xa.as_chunks::<2>();
        let (xb, _) = xb.as_chunks::<2>();
        for (((wa, wb), xa), xb) in wa.iter().zip(wb).zip(xa).zip(xb) {
            let wa = u32::from_le_bytes(wa.map(|b| b as u8));
            let wb = u32::from_le_bytes(wb.map(|b| b as u8));
            let (wa02, wa13) = (sxtb16(wa), sxtb16_ror8(wa));
            let (wb02, wb13) = (sxtb16(wb), sxtb16_ror8(wb));
            a0 = smlad(wa02, xa[0], a0);
            a0 = smlad(wa13, xa[1], a0);
            a1 = smlad(wa02, xb[0], a1);
            a1 = smlad(wa13, xb[1], a1);
            b0 = smlad(wb02, xa[0], b0);
            b0 = smlad(wb13, xa[1], b0);
            b1 = smlad(wb02, xb[0], b1);
            b1 = smlad(wb13, xb[1], b1);
        }
        *acc = [[a0, b0], [a1, b1]];
    }

    /// One filter against up to two columns (the odd channel or odd pixel).
    #[inline(always)]
    fn mac_1x2(w: &[i8], xa: &[u32], xb: &[u32], acc: &mut [i32; 2]) {
        let [mut a0, mut a1] = *acc;
        let (w, _) = w.as_chunks::<4>();
        let (xa, _) = xa.as_chunks::<2>();
        let (xb, _) = xb.as_chunks::<2>();
        for ((w, xa), xb) in w.iter().zip(xa).zip(xb) {
            let w = u32::from_le_bytes(w.map(|b| b as u8));
            let (w02, w13) = (sxtb16(w), sxtb16_ror8(w));
            a0 = smlad(w02, xa[0], a0);
            a0 = smlad(w13, xa[1], a0);
            a1 = smlad(w02, xb[0], a1);
            a1 = smlad(w13, xb[1], a1);
        }
        *acc = [a0, a1];
    }

    /// Full dot product of filter `w` (`k` bytes) with one or two columns, tail included.
    #[inline(always)]
    fn filter_1x2(w: &[i8], k4: usize, xa: &[u32], xb: &[u32], bias: i32) -> [i32; 2] {
        let mut acc = [bias; 2];
        mac_1x2(&w[..k4], xa, xb, &mut acc);
        if k4 < w.len() {
            let t = tail_word(&w[k4..]);
            let (t02, t13) = (sxtb16(t), sxtb16_ror8(t));
            let i = k4 / 2;
            acc[0] = smlad(t13, xa[i + 1], smlad(t02, xa[i], acc[0]));
            acc[1] = smlad(t13, xb[i + 1], smlad(t02, xb[i], acc[1]));
        }
        acc
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
        let k4 = k & !3;
        let kp = col_len(g);
        let oc = g.output.c as usize;
        let npix = g.output.h as usize * g.output.w as usize;
        let (cols, rest) = words.split_at_mut(kp);
        let staging: &mut [i8] = bytemuck::cast_slice_mut(&mut rest[..kp / 4]);
        let (col_a, col_b) = cols.split_at_mut(kp / 2);
        let (zp, lo, hi) = (q.output_zp, q.act_min, q.act_max);
        let rq = |acc: i32, m: Requant| crate::requant::requantize(acc, m, zp, lo, hi);
        let mut pixel = 0;
        while pixel < npix {
            let two = pixel + 1 < npix;
            im2col(g, q.input_zp, input, pixel, col_a, staging);
            if two {
                im2col(g, q.input_zp, input, pixel + 1, col_b, staging);
            }
            // With one pixel left, column b repeats column a and its results are dropped.
            let xb: &[u32] = if two { col_b } else { col_a };
            let xa: &[u32] = col_a;
            let n = if two { 2 } else { 1 };
            let out = &mut output[pixel * oc..(pixel + n) * oc];
            let (out0, out1) = out.split_at_mut(oc);
            let mut o = 0;
            while o + 2 <= oc {
                let wa = &weights[o * k..(o + 1) * k];
                let wb = &weights[(o + 1) * k..(o + 2) * k];
                let mut acc = [[bias[o], bias[o + 1]]; 2];
                mac_2x2(&wa[..k4], &wb[..k4], xa, xb, &mut acc);
                if k4 < k {
                    let (ta, tb) = (tail_word(&wa[k4..]), tail_word(&wb[k4..]));
                    let (ta02, ta13) = (sxtb16(ta), sxtb16_ror8(ta));
                    let (tb02, tb13) = (sxtb16(tb), sxtb16_ror8(tb));
                    let i = k4 / 2;
                    acc[0][0] = smlad(ta13, xa[i + 1], smlad(ta02, xa[i], acc[0][0]));
                    acc[0][1] = smlad(tb13, xa[i + 1], smlad(tb02, xa[i], acc[0][1]));
                    acc[1][0] = smlad(ta13, xb[i + 1], smlad(ta02, xb[i], acc[1][0]));
                    acc[1][1] = smlad(tb13, xb[i + 1], smlad(tb02, xb[i], acc[1][1]));
                }
                out0[o] = rq(acc[0][0], requant[o]);
                out0[o + 1] = rq(acc[0][1], requant[o + 1]);
                if two {
                    out1[o] = rq(acc[1][0], requant[o]);
                    out1[o + 1] = rq(acc[1][1], requant[o + 1]);
                }
                o += 2;
            }
            if o < oc {
                let acc = filter_1x2(&weights[o * k..(o + 1) * k], k4, xa, xb, bias[o]);
                out0[o] = rq(acc[0], requant[o]);
                if two {
                    out1[o] = rq(acc[1], requant[o]);
                }
            }
            pixel += n;
        }
    }
}
