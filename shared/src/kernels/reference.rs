//! Direct-loop kernels that define the arithmetic: every optimized path (portable or DSP)
//! must match these bit for bit (int8) or within float rounding (f32).

use super::{AddParams, ConvGeom, OutQuant, PoolGeom};
use crate::format::{Requant, Shape};
use crate::requant::{multiply_by_quantized_multiplier, requantize};

/// The input pixel index a kernel tap reads for output pixel `(oy, ox)`,
/// or `None` where the tap falls in the padding.
#[inline(always)]
fn tap(g: &ConvGeom, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<usize> {
    let iy = (oy * g.stride[0] as usize + ky) as isize - g.padding.top as isize;
    let ix = (ox * g.stride[1] as usize + kx) as isize - g.padding.left as isize;
    if iy < 0 || ix < 0 || iy >= g.input.h as isize || ix >= g.input.w as isize {
        None
    } else {
        Some(iy as usize * g.input.w as usize + ix as usize)
    }
}

/// int8 convolution, direct loops. Padding taps contribute `(zp_in − zp_in)·w = 0`.
#[inline(never)]
pub fn conv2d_s8(
    g: &ConvGeom,
    q: &OutQuant,
    input: &[i8],
    weights: &[i8],
    bias: &[i32],
    requant: &[Requant],
    output: &mut [i8],
) {
    let (ic, oc) = (g.input.c as usize, g.output.c as usize);
    let (kh, kw) = (g.kernel[0] as usize, g.kernel[1] as usize);
    for oy in 0..g.output.h as usize {
        for ox in 0..g.output.w as usize {
            let opix = oy * g.output.w as usize + ox;
            for o in 0..oc {
                let mut acc = bias[o];
                for ky in 0..kh {
                    for kx in 0..kw {
                        let Some(ipix) = tap(g, oy, ox, ky, kx) else {
                            continue;
                        };
                        for c in 0..ic {
                            let x = input[ipix * ic + c] as i32 - q.input_zp;
                            let w = weights[((o * kh + ky) * kw + kx) * ic + c] as i32;
                            acc += x * w;
                        }
                    }
                }
                output[opix * oc + o] =
                    requantize(acc, requant[o], q.output_zp, q.act_min, q.act_max);
            }
        }
    }
}

/// int8 fully connected layer, direct loops.
#[inline(never)]
pub fn dense_s8(
    q: &OutQuant,
    input: &[i8],
    weights: &[i8],
    bias: &[i32],
    requant: &[Requant],
    output: &mut [i8],
) {
    let n = input.len();
    for (o, out) in output.iter_mut().enumerate() {
        let mut acc = bias[o];
        for (i, &x) in input.iter().enumerate() {
            acc += (x as i32 - q.input_zp) * weights[o * n + i] as i32;
        }
        *out = requantize(acc, requant[o], q.output_zp, q.act_min, q.act_max);
    }
}

/// Visits every pooling window: `f(out_index, window_values)` via a fold over the taps.
#[inline(always)]
fn pool<T: Copy, A>(
    g: &PoolGeom,
    input: &[T],
    output: &mut [T],
    init: A,
    step: impl Fn(A, T) -> A,
    finish: impl Fn(A, usize) -> T,
) where
    A: Copy,
{
    let c = g.input.c as usize;
    let (kh, kw) = (g.kernel[0] as usize, g.kernel[1] as usize);
    for oy in 0..g.output.h as usize {
        for ox in 0..g.output.w as usize {
            for ch in 0..c {
                let mut acc = init;
                for ky in 0..kh {
                    for kx in 0..kw {
                        let iy = oy * g.stride[0] as usize + ky;
                        let ix = ox * g.stride[1] as usize + kx;
                        acc = step(acc, input[(iy * g.input.w as usize + ix) * c + ch]);
                    }
                }
                output[(oy * g.output.w as usize + ox) * c + ch] = finish(acc, kh * kw);
            }
        }
    }
}

/// Integer mean rounded half away from zero (TFLite's average-pool rounding).
#[inline(always)]
pub fn rounded_mean(sum: i32, count: usize) -> i32 {
    let n = count as i32;
    if sum >= 0 {
        (sum + n / 2) / n
    } else {
        (sum - n / 2) / n
    }
}

/// int8 max pooling.
pub fn maxpool2d_s8(g: &PoolGeom, input: &[i8], output: &mut [i8]) {
    pool(g, input, output, i8::MIN, |a, x| a.max(x), |a, _| a)
}

/// int8 average pooling.
pub fn avgpool2d_s8(g: &PoolGeom, input: &[i8], output: &mut [i8]) {
    pool(
        g,
        input,
        output,
        0i32,
        |a, x| a + x as i32,
        |a, n| rounded_mean(a, n).clamp(-128, 127) as i8,
    )
}

/// int8 global average pooling.
pub fn global_avgpool_s8(s: Shape, input: &[i8], output: &mut [i8]) {
    let c = s.c as usize;
    let n = s.h as usize * s.w as usize;
    for (ch, out) in output.iter_mut().enumerate().take(c) {
        let sum: i32 = (0..n).map(|p| input[p * c + ch] as i32).sum();
        *out = rounded_mean(sum, n).clamp(-128, 127) as i8;
    }
}

/// int8 elementwise add.
pub fn add_s8(p: &AddParams, a: &[i8], b: &[i8], output: &mut [i8]) {
    let ls = p.quant.left_shift as u32;
    for ((o, &x), &y) in output.iter_mut().zip(a).zip(b) {
        let xa = (x as i32 - p.a_zp) << ls;
        let yb = (y as i32 - p.b_zp) << ls;
        let sa = multiply_by_quantized_multiplier(xa, p.quant.a);
        let sb = multiply_by_quantized_multiplier(yb, p.quant.b);
        let sum = sa.saturating_add(sb);
        let r = multiply_by_quantized_multiplier(sum, p.quant.out).saturating_add(p.output_zp);
        *o = r.clamp(p.act_min, p.act_max) as i8;
    }
}

/// int8 ReLU.
pub fn relu_s8(zero_point: i8, input: &[i8], output: &mut [i8]) {
    for (o, &x) in output.iter_mut().zip(input) {
        *o = x.max(zero_point);
    }
}

#[inline(always)]
fn relu_if(relu: bool, x: f32) -> f32 {
    if relu && x < 0.0 { 0.0 } else { x }
}

/// f32 convolution, direct loops.
pub fn conv2d_f32(
    g: &ConvGeom,
    relu: bool,
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    output: &mut [f32],
) {
    let (ic, oc) = (g.input.c as usize, g.output.c as usize);
    let (kh, kw) = (g.kernel[0] as usize, g.kernel[1] as usize);
    for oy in 0..g.output.h as usize {
        for ox in 0..g.output.w as usize {
            let opix = oy * g.output.w as usize + ox;
            for o in 0..oc {
                let mut acc = bias[o];
                for ky in 0..kh {
                    for kx in 0..kw {
                        let Some(ipix) = tap(g, oy, ox, ky, kx) else {
                            continue;
                        };
                        for c in 0..ic {
                            acc +=
                                input[ipix * ic + c] * weights[((o * kh + ky) * kw + kx) * ic + c];
                        }
                    }
                }
                output[opix * oc + o] = relu_if(relu, acc);
            }
        }
    }
}

/// f32 fully connected layer.
pub fn dense_f32(relu: bool, input: &[f32], weights: &[f32], bias: &[f32], output: &mut [f32]) {
    let n = input.len();
    for (o, out) in output.iter_mut().enumerate() {
        let mut acc = bias[o];
        for (i, &x) in input.iter().enumerate() {
            acc += x * weights[o * n + i];
        }
        *out = relu_if(relu, acc);
    }
}

/// f32 max pooling.
pub fn maxpool2d_f32(g: &PoolGeom, input: &[f32], output: &mut [f32]) {
    pool(g, input, output, f32::NEG_INFINITY, f32::max, |a, _| a)
}

/// f32 average pooling.
pub fn avgpool2d_f32(g: &PoolGeom, input: &[f32], output: &mut [f32]) {
    pool(g, input, output, 0.0f32, |a, x| a + x, |a, n| a / n as f32)
}

/// f32 global average pooling.
pub fn global_avgpool_f32(s: Shape, input: &[f32], output: &mut [f32]) {
    let c = s.c as usize;
    let n = s.h as usize * s.w as usize;
    for (ch, out) in output.iter_mut().enumerate().take(c) {
        let sum: f32 = (0..n).map(|p| input[p * c + ch]).sum();
        *out = sum / n as f32;
    }
}

/// f32 elementwise add.
pub fn add_f32(relu: bool, a: &[f32], b: &[f32], output: &mut [f32]) {
    for ((o, &x), &y) in output.iter_mut().zip(a).zip(b) {
        *o = relu_if(relu, x + y);
    }
}

/// f32 ReLU.
pub fn relu_f32(input: &[f32], output: &mut [f32]) {
    for (o, &x) in output.iter_mut().zip(input) {
        *o = relu_if(true, x);
    }
}
