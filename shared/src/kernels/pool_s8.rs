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
pub fn maxpool2d_s8(g: &PoolGeom, input: &[i8], output: &mut [i8]) {
    let c = g.input.c as usize;
    let (oh, ow) = (g.output.h as usize, g.output.w as usize);
    let (kh, kw) = (g.kernel[0] as usize, g.kernel[1] as usize);
    if c == 0 {
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

/// int8 average pooling, rounding half away from zero.
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
