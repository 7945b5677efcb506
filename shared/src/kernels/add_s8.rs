//! int8 elementwise kernels with no window: residual add (TFLite scheme) and ReLU. Plain
//! loops; the per-element requantization dominates either way.

use super::AddParams;
use crate::requant::multiply_by_quantized_multiplier;

/// int8 elementwise add, bit-identical to [`super::reference::add_s8`].
pub fn add_s8(p: &AddParams, a: &[i8], b: &[i8], output: &mut [i8]) {
    let ls = p.quant.left_shift as u32;
    let (qa, qb, qo) = (p.quant.a, p.quant.b, p.quant.out);
    for ((o, &x), &y) in output.iter_mut().zip(a).zip(b) {
        let xa = (x as i32 - p.a_zp) << ls;
        let yb = (y as i32 - p.b_zp) << ls;
        let sum = multiply_by_quantized_multiplier(xa, qa)
            .saturating_add(multiply_by_quantized_multiplier(yb, qb));
        let r = multiply_by_quantized_multiplier(sum, qo).saturating_add(p.output_zp);
        *o = r.clamp(p.act_min, p.act_max) as i8;
    }
}

/// int8 ReLU with unchanged quantization: `max(x, zero_point)`.
pub fn relu_s8(zero_point: i8, input: &[i8], output: &mut [i8]) {
    for (o, &x) in output.iter_mut().zip(input) {
        *o = x.max(zero_point);
    }
}
