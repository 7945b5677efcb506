//! int8 pooling: max and average over a window, and global average. Channels are innermost,
//! so each window tap is a contiguous run of bytes (4 lanes per SSUB8/SEL where `cfg(dsp)`).

use super::PoolGeom;
use super::reference::rounded_mean;
use crate::format::Shape;

/// Input offset of the window tap `(ky, kx)` for output pixel `(oy, ox)`.
#[inline(always)]
fn tap_offset(g: &PoolGeom, oy: usize, ox: usize, ky: usize, kx: usize) -> usize {
    let iy = oy * g.stride[0] as usize + ky;
    let ix = ox * g.stride[1] as usize + kx;
    (iy * g.input.w as usize + ix) * g.input.c as usize
}

/// int8 max pooling.
#[inline(never)]
pub fn maxpool2d_s8(g: &PoolGeom, input: &[i8], output: &mut [i8]) {
    let c = g.input.c as usize;
    let (oh, ow) = (g.output.h as usize, g.output.w as usize);
    let (kh, kw) = (g.kernel[0] as usize, g.kernel[1] as usize);
    if c == 0 {
        return;
    }
    #[cfg(dsp)]
    if kh == 2 && kw == 2 && c >= 4 && maxpool_2x2_words(g, input, output) {
        return;
    }
    for (p, out) in output.chunks_exact_mut(c).take(oh * ow).enumerate() {
        let (oy, ox) = (p / ow, p % ow);
        out.fill(i8::MIN);
        for ky in 0..kh {
            for kx in 0..kw {
                let at = tap_offset(g, oy, ox, ky, kx);
                if let Some(x) = input.get(at..at + c) {
                    max_into(out, x);
                }
            }
        }
    }
}

/// `out[i] = max(out[i], x[i])`.
#[cfg(not(dsp))]
#[inline(always)]
fn max_into(out: &mut [i8], x: &[i8]) {
    for (o, &x) in out.iter_mut().zip(x) {
        *o = (*o).max(x);
    }
}

/// `out[i] = max(out[i], x[i])`, four lanes per SSUB8/SEL.
#[cfg(dsp)]
#[inline(always)]
fn max_into(out: &mut [i8], x: &[i8]) {
    use super::arm::max_s8x4;
    let (o4, o_rest) = out.as_chunks_mut::<4>();
    let (x4, x_rest) = x.as_chunks::<4>();
    for (o, x) in o4.iter_mut().zip(x4) {
        let m = max_s8x4(
            u32::from_le_bytes(o.map(|v| v as u8)),
            u32::from_le_bytes(x.map(|v| v as u8)),
        );
        *o = m.to_le_bytes().map(|v| v as i8);
    }
    for (o, &x) in o_rest.iter_mut().zip(x_rest) {
        *o = (*o).max(x);
    }
}

/// 2×2 max pooling, 4 channels at a time: per output pixel and word of channels, 4 LDRs
/// (two taps in each of two input rows) and 3 SSUB8/SEL pairs into one STR, ~3 instructions
/// per output where the tap-by-tap loop above took ~20 (per-tap offsets, a fill, a
/// read-modify-write of the output per tap); channels past the last whole word one byte at
/// a time. Returns `false`, having written nothing, if the output's windows do not all fit
/// in `input` or `output` is short.
#[cfg(dsp)]
fn maxpool_2x2_words(g: &PoolGeom, input: &[i8], output: &mut [i8]) -> bool {
    use super::arm::max_2x2_words;
    let c = g.input.c as usize;
    let (oh, ow) = (g.output.h as usize, g.output.w as usize);
    let (sy, sx) = (g.stride[0] as usize, g.stride[1] as usize);
    let row = g.input.w as usize * c;
    if oh == 0 || ow == 0 {
        return true;
    }
    // The last window's last byte, and the output's length.
    let last = tap_offset(g, oh - 1, ow - 1, 1, 1) + c;
    if last > input.len() || output.len() < oh * ow * c {
        return false;
    }
    let (c4, rc) = (c & !3, row + c);
    let mut out = output.as_mut_ptr();
    for oy in 0..oh {
        let mut base = oy * sy * row;
        for _ in 0..ow {
            // SAFETY: every window of the output lies below `last ≤ input.len()` (checked):
            // `p + k` for `k < c` plus a tap offset (`c`, `row`, `row + c`) is inside it.
            // `oh · ow · c` output bytes (checked), written in order.
            unsafe {
                let mut p = input.as_ptr().add(base);
                if c4 > 0 {
                    (p, out) = max_2x2_words(p, c, row, out, c4 / 4);
                }
                for _ in c4..c {
                    *out = (*p).max(*p.add(c)).max((*p.add(row)).max(*p.add(rc)));
                    out = out.add(1);
                    p = p.add(1);
                }
            }
            base += sx * c;
        }
    }
    true
}

/// int8 average pooling, rounding half away from zero.
#[inline(never)]
pub fn avgpool2d_s8(g: &PoolGeom, input: &[i8], output: &mut [i8]) {
    let n = g.kernel[0] as usize * g.kernel[1] as usize;
    let c = g.input.c as usize;
    let (oh, ow) = (g.output.h as usize, g.output.w as usize);
    let (kh, kw) = (g.kernel[0] as usize, g.kernel[1] as usize);
    for (p, out) in output.chunks_exact_mut(c.max(1)).take(oh * ow).enumerate() {
        let (oy, ox) = (p / ow, p % ow);
        let base = tap_offset(g, oy, ox, 0, 0);
        let row = g.input.w as usize * c;
        for (ch, o) in out.iter_mut().enumerate() {
            let mut sum = 0i32;
            for ky in 0..kh {
                for kx in 0..kw {
                    sum += input
                        .get(base + ky * row + kx * c + ch)
                        .copied()
                        .unwrap_or(0) as i32;
                }
            }
            *o = rounded_mean(sum, n).clamp(-128, 127) as i8;
        }
    }
}

/// int8 global average pooling to `c × 1 × 1`.
#[inline(never)]
pub fn global_avgpool_s8(s: Shape, input: &[i8], output: &mut [i8]) {
    let c = s.c as usize;
    let n = s.h as usize * s.w as usize;
    if c == 0 {
        return;
    }
    for (ch, out) in output.iter_mut().enumerate().take(c) {
        let sum: i32 = input
            .iter()
            .skip(ch)
            .step_by(c)
            .take(n)
            .map(|&x| x as i32)
            .sum();
        *out = rounded_mean(sum, n).clamp(-128, 127) as i8;
    }
}
