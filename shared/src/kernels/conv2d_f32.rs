//! f32 convolution and fully connected layer (host simulation of the float model): the
//! reference's summation order, with each kernel row's in-bounds taps as one contiguous dot.

use super::ConvGeom;

#[inline(always)]
fn relu_if(relu: bool, x: f32) -> f32 {
    if relu && x < 0.0 { 0.0 } else { x }
}

/// Sequential dot product (same rounding as the reference's running sum).
#[inline(always)]
fn dot(acc: f32, x: &[f32], w: &[f32]) -> f32 {
    x.iter().zip(w).fold(acc, |a, (&x, &w)| a + x * w)
}

/// f32 convolution with optional fused ReLU; padding taps are skipped.
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
    let (ih, iw) = (g.input.h as isize, g.input.w as isize);
    let (oh, ow) = (g.output.h as usize, g.output.w as usize);
    let k = g.filter_len();
    if oc == 0 {
        return;
    }
    for (p, out) in output.chunks_exact_mut(oc).take(oh * ow).enumerate() {
        let (oy, ox) = (p / ow, p % ow);
        let iy0 = (oy * g.stride[0] as usize) as isize - g.padding.top as isize;
        let ix0 = (ox * g.stride[1] as usize) as isize - g.padding.left as isize;
        let kx0 = (-ix0).clamp(0, kw as isize) as usize;
        let kx1 = (iw - ix0).clamp(kx0 as isize, kw as isize) as usize;
        let span = (kx1 - kx0) * ic;
        for (o, y) in out.iter_mut().enumerate() {
            let mut acc = bias.get(o).copied().unwrap_or(0.0);
            let filter = weights.get(o * k..(o + 1) * k).unwrap_or(&[]);
            for ky in 0..kh {
                let iy = iy0 + ky as isize;
                if iy < 0 || iy >= ih || span == 0 {
                    continue;
                }
                let at = (iy as usize * iw as usize + (ix0 + kx0 as isize) as usize) * ic;
                let w_at = (ky * kw + kx0) * ic;
                if let (Some(x), Some(w)) =
                    (input.get(at..at + span), filter.get(w_at..w_at + span))
                {
                    acc = dot(acc, x, w);
                }
            }
            *y = relu_if(relu, acc);
        }
    }
}

/// f32 fully connected layer with optional fused ReLU.
pub fn dense_f32(relu: bool, input: &[f32], weights: &[f32], bias: &[f32], output: &mut [f32]) {
    let n = input.len();
    if n == 0 {
        for (y, &b) in output.iter_mut().zip(bias) {
            *y = relu_if(relu, b);
        }
        return;
    }
    for ((y, w), &b) in output.iter_mut().zip(weights.chunks_exact(n)).zip(bias) {
        *y = relu_if(relu, dot(b, input, w));
    }
}
