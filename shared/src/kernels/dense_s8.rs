//! int8 fully connected layer: the input vector widened once into i16 scratch (offset folded
//! in), then two output rows per pass (SMLAD on reordered pairs where `cfg(dsp)`).

use super::{OutQuant, reference};
use crate::format::Requant;

/// Scratch bytes: the input widened to i16, padded to whole 4-value groups, plus 4 bytes of
/// slack for aligning a misaligned scratch start.
pub const fn scratch_bytes(in_len: usize, _out_len: usize) -> usize {
    ((in_len + 3) & !3) * 2 + 4
}

/// The kernel behind [`super::dense_s8`]. Falls back to the reference loops if the buffers
/// are shorter than the lengths say (a validated model never does that).
pub fn dense_s8(
    q: &OutQuant,
    input: &[i8],
    weights: &[i8],
    bias: &[i32],
    requant: &[Requant],
    scratch: &mut [u8],
    output: &mut [i8],
) {
    let words = bytemuck::pod_align_to::<u8, u32>(scratch).1.len();
    let kernel = super::select::dense_s8(
        input.len(),
        weights.len(),
        bias.len(),
        requant.len(),
        output.len(),
        words,
    );
    match kernel {
        super::select::Kernel::Dense => fast(q, input, weights, bias, requant, scratch, output),
        _ => reference::dense_s8(q, input, weights, bias, requant, output),
    }
}

/// The fast variant ([`Kernel::Dense`](super::select::Kernel::Dense)): buffers as
/// [`select::dense_s8`](super::select::dense_s8) checked them.
#[inline(never)]
pub(crate) fn fast(
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
    dsp::dense(q, input, weights, bias, requant, words, output);
    #[cfg(not(dsp))]
    portable::dense(q, input, weights, bias, requant, words, output);
}

/// Plain-Rust path: natural-order i16 input, i32 dot products.
#[cfg(not(dsp))]
mod portable {
    use super::*;

    pub(super) fn dense(
        q: &OutQuant,
        input: &[i8],
        weights: &[i8],
        bias: &[i32],
        requant: &[Requant],
        words: &mut [u32],
        output: &mut [i8],
    ) {
        let n = input.len();
        let x: &mut [i16] = &mut bytemuck::cast_slice_mut(words)[..n];
        for (d, &s) in x.iter_mut().zip(input) {
            *d = (s as i32 - q.input_zp) as i16;
        }
        let x = &*x;
        for ((out, w), (&b, &m)) in output
            .iter_mut()
            .zip(weights.chunks_exact(n))
            .zip(bias.iter().zip(requant))
        {
            let dot = w
                .iter()
                .zip(x)
                .fold(0i32, |a, (&w, &x)| a.wrapping_add(w as i32 * x as i32));
            *out = crate::requant::requantize(
                b.wrapping_add(dot),
                m,
                q.output_zp,
                q.act_min,
                q.act_max,
            );
        }
    }
}

/// DSP path: the widened input holds each 4-value group as `(x0, x2)`, `(x1, x3)` to pair
/// with SXTB16 / SXTB16-ROR8 of the weight word; a partial last group is zero-padded.
#[cfg(dsp)]
mod dsp {
    use super::*;
    use crate::kernels::arm::{
        mac_2x1_pairs, smlad, splat16, sxtb16, sxtb16_ror8, widen_reordered,
    };

    /// Word of up to 4 bytes, zero-padded.
    #[inline(always)]
    fn word(b: &[i8]) -> u32 {
        b.iter()
            .take(4)
            .enumerate()
            .fold(0u32, |a, (i, &v)| a | ((v as u8 as u32) << (8 * i)))
    }

    /// `Σ w_r · x` for the two rows at `w` (`n` bytes each, consecutive) over the `g` whole
    /// groups of `x` (`2 · g` words): pairs of groups in [`mac_2x1_pairs`], an odd last
    /// group in [`mac_2`].
    #[inline(always)]
    fn mac_2_rows(w: &[i8], n: usize, x: &[u32], g: usize, acc: [i32; 2]) -> [i32; 2] {
        let pairs = g / 2;
        let g = g.min(x.len() / 2).min(n / 4);
        if w.len() < 2 * n || pairs * 2 > g {
            return acc; // unreachable: callers pass two whole rows and `g ≤ n / 4`
        }
        let mut acc = acc;
        if pairs > 0 {
            // SAFETY: both rows hold `n ≥ 4 · g ≥ 8 · pairs` bytes (checked above); `x`, a
            // `u32` slice, holds `2 · g ≥ 4 · pairs` words.
            acc = unsafe { mac_2x1_pairs(w.as_ptr(), n, x.as_ptr(), pairs, acc) };
        }
        if g % 2 == 1 {
            let o = 4 * (g - 1);
            let (wa, wb) = (&w[o..o + 4], &w[n + o..n + o + 4]);
            acc = mac_2(wa, wb, &x[2 * (g - 1)..], acc);
        }
        acc
    }

    /// `Σ w_r · x` for two rows over whole groups (`wa`, `wb`: 4·g bytes, `x`: 2·g words).
    #[inline(always)]
    fn mac_2(wa: &[i8], wb: &[i8], x: &[u32], acc: [i32; 2]) -> [i32; 2] {
        let [mut a, mut b] = acc;
        let (wa, _) = wa.as_chunks::<4>();
        let (wb, _) = wb.as_chunks::<4>();
        let (x, _) = x.as_chunks::<2>();
        for ((wa, wb), x) in wa.iter().zip(wb).zip(x) {
            let wa = u32::from_le_bytes(wa.map(|v| v as u8));
            let wb = u32::from_le_bytes(wb.map(|v| v as u8));
            a = smlad(sxtb16(wa), x[0], a);
            a = smlad(sxtb16_ror8(wa), x[1], a);
            b = smlad(sxtb16(wb), x[0], b);
            b = smlad(sxtb16_ror8(wb), x[1], b);
        }
        [a, b]
    }

    /// One row, whole groups.
    #[inline(always)]
    fn mac_1(w: &[i8], x: &[u32], mut a: i32) -> i32 {
        let (w, _) = w.as_chunks::<4>();
        let (x, _) = x.as_chunks::<2>();
        for (w, x) in w.iter().zip(x) {
            let w = u32::from_le_bytes(w.map(|v| v as u8));
            a = smlad(sxtb16(w), x[0], a);
            a = smlad(sxtb16_ror8(w), x[1], a);
        }
        a
    }

    /// Adds the zero-padded partial group of one row (no-op when `n` is a multiple of 4).
    #[inline(always)]
    fn tail(w: &[i8], x: &[u32], acc: i32) -> i32 {
        if w.is_empty() {
            return acc;
        }
        let t = word(w);
        smlad(sxtb16_ror8(t), x[1], smlad(sxtb16(t), x[0], acc))
    }

    pub(super) fn dense(
        q: &OutQuant,
        input: &[i8],
        weights: &[i8],
        bias: &[i32],
        requant: &[Requant],
        words: &mut [u32],
        output: &mut [i8],
    ) {
        let n = input.len();
        let n4 = n & !3;
        let x = &mut words[..n.div_ceil(4) * 2];
        let off2 = splat16(-q.input_zp);
        let (groups, rest) = input.as_chunks::<4>();
        let (pairs, _) = x.as_chunks_mut::<2>();
        for (s, d) in groups.iter().zip(pairs.iter_mut()) {
            let (lo, hi) = widen_reordered(u32::from_le_bytes(s.map(|v| v as u8)), off2);
            *d = [lo, hi];
        }
        if !rest.is_empty() {
            // Pad with zp so the padding widens to 0.
            let mut b = [q.input_zp as i8; 4];
            b[..rest.len()].copy_from_slice(rest);
            let (lo, hi) = widen_reordered(u32::from_le_bytes(b.map(|v| v as u8)), off2);
            if let Some(d) = pairs.get_mut(groups.len()) {
                *d = [lo, hi];
            }
        }
        let x = &*x;
        let xt = &x[n4 / 2..];
        let (zp, lo, hi) = (q.output_zp, q.act_min, q.act_max);
        let m = output.len();
        let mut o = 0;
        while o + 2 <= m {
            let wa = &weights[o * n..(o + 1) * n];
            let wb = &weights[(o + 1) * n..(o + 2) * n];
            let rows = &weights[o * n..(o + 2) * n];
            let [a, b] = mac_2_rows(rows, n, x, n4 / 4, [bias[o], bias[o + 1]]);
            let (a, b) = (tail(&wa[n4..], xt, a), tail(&wb[n4..], xt, b));
            output[o] = crate::requant::requantize(a, requant[o], zp, lo, hi);
            output[o + 1] = crate::requant::requantize(b, requant[o + 1], zp, lo, hi);
            o += 2;
        }
        if o < m {
            let w = &weights[o * n..(o + 1) * n];
            let a = tail(&w[n4..], xt, mac_1(&w[..n4], x, bias[o]));
            output[o] = crate::requant::requantize(a, requant[o], zp, lo, hi);
        }
    }
}
