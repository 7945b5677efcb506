//! Quantization parameters: affine per-tensor activations (0.0 exactly representable),
//! symmetric per-output-channel weights, i32 biases and fixed-point requant multipliers.

use whittle_shared::Requant;
use whittle_shared::requant::quantize_multiplier;

pub use crate::sim::qparams::{INPUT_QPARAMS, QParams, input_qparams, quantize_value};

/// Quantization of an activation observed in `[min, max]`: the range is widened to contain
/// 0, split in 255 steps, and the zero point chosen so 0.0 is exactly an int8 value.
/// A degenerate range (a dead layer) gets scale 1/255.
pub fn activation_qparams(min: f32, max: f32) -> QParams {
    let lo = if min.is_finite() { min.min(0.0) } else { 0.0 };
    let hi = if max.is_finite() { max.max(0.0) } else { 0.0 };
    let span = hi as f64 - lo as f64;
    let scale = if span > 1e-12 {
        (span / 255.0) as f32
    } else {
        1.0 / 255.0
    };
    let zp = (-128.0 - lo as f64 / scale as f64)
        .round()
        .clamp(-128.0, 127.0);
    QParams {
        scale,
        zero_point: zp as i8,
    }
}

/// The int8 data of a conv or dense layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerQuant {
    /// Weights, same order as given, symmetric (zero point 0) in −127..=127.
    pub weights: Vec<i8>,
    /// Per-output-channel weight scales.
    pub weight_scales: Vec<f32>,
    /// `round(b / (s_in · s_w[o]))`.
    pub bias: Vec<i32>,
    /// `quantize_multiplier(s_in · s_w[o] / s_out)`.
    pub requant: Vec<Requant>,
}

/// Quantizes a conv (OHWI) or dense (`[out][in]`) layer: `weight` is `out` rows of equal
/// length, `s_in`/`s_out` the scales of its input and output tensors.
///
/// Weight scale per channel: `max|w| / 127`, raised where needed so the i32 bias cannot
/// overflow (`|b| / (s_in · s_w) ≤ 2^30`); an all-zero channel with zero bias gets 1/127.
pub fn quantize_layer(weight: &[f32], bias: &[f32], s_in: f32, s_out: f32) -> LayerQuant {
    let out = bias.len();
    let k = weight.len().checked_div(out).unwrap_or(0);
    let mut q = LayerQuant {
        weights: Vec::with_capacity(weight.len()),
        weight_scales: Vec::with_capacity(out),
        bias: Vec::with_capacity(out),
        requant: Vec::with_capacity(out),
    };
    for (o, &b) in bias.iter().enumerate() {
        let row = &weight[o * k..(o + 1) * k];
        let max_abs = row.iter().fold(0f32, |m, w| m.max(w.abs()));
        let for_bias = (b.abs() as f64 / (s_in as f64 * (1u64 << 30) as f64)) as f32;
        let mut s_w = (max_abs / 127.0).max(for_bias);
        if !(s_w > 0.0 && s_w.is_finite()) {
            s_w = 1.0 / 127.0;
        }
        q.weights.extend(
            row.iter()
                .map(|&w| (w / s_w).round().clamp(-127.0, 127.0) as i8),
        );
        let acc_scale = s_in as f64 * s_w as f64;
        let bq = (b as f64 / acc_scale).round();
        q.bias
            .push(bq.clamp(i32::MIN as f64, i32::MAX as f64) as i32);
        q.requant
            .push(quantize_multiplier(acc_scale / s_out as f64));
        q.weight_scales.push(s_w);
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_exact_and_ranges_map_to_int8_ends() {
        let q = activation_qparams(0.0, 5.1);
        assert_eq!(q.zero_point, -128);
        assert!((q.scale - 0.02).abs() < 1e-7);
        assert_eq!(quantize_value(0.0, q), -128);
        assert_eq!(quantize_value(5.1, q), 127);
        let q = activation_qparams(-1.0, 3.0);
        // scale 4/255, zero point -128 + 1/(4/255) = -64.25 -> -64
        assert_eq!(q.zero_point, -64);
        assert_eq!(quantize_value(0.0, q), -64);
        let q = activation_qparams(-2.0, -1.0); // widened to [-2, 0]
        assert_eq!(q.zero_point, 127);
        let dead = activation_qparams(0.0, 0.0);
        assert!(dead.scale > 0.0);
        assert_eq!(dead.zero_point, -128);
    }

    #[test]
    fn hand_example_bias_and_multiplier() {
        // 2 output channels of 3 taps; s_in = 0.5, s_out = 0.25 (binary-exact numbers).
        let w = [0.5, -0.9921875, 0.0, 0.1, 0.25, -0.0625];
        let b = [1.0, -0.3];
        let q = quantize_layer(&w, &b, 0.5, 0.25);
        // channel 0: s_w = 0.9921875 / 127 = 2^-7; w / s_w = 64, -127, 0
        assert_eq!(q.weight_scales[0], 0.0078125);
        assert_eq!(&q.weights[..3], &[64, -127, 0]);
        // bias 1.0 / (0.5 · 2^-7) = 256; multiplier 0.5 · 2^-7 / 0.25 = 2^-6 = 2^30 · 2^(-5-31)
        assert_eq!(q.bias[0], 256);
        assert_eq!(
            q.requant[0],
            Requant {
                multiplier: 1 << 30,
                shift: -5
            }
        );
        // channel 1: s_w = 0.25/127; w / s_w = 50.8, 127, -31.75; bias -0.3 · 1016 = -304.8
        assert_eq!(&q.weights[3..], &[51, 127, -32]);
        assert_eq!(q.bias[1], -305);
        let m = q.requant[1];
        let real = m.multiplier as f64 * 2f64.powi(m.shift - 31);
        assert!((real - 2.0 * 0.25 / 127.0).abs() < 1e-9, "{m:?} = {real}");
    }

    #[test]
    fn dead_channel_keeps_its_bias() {
        let q = quantize_layer(&[0.0, 0.0], &[3.0], 0.1, 0.05);
        assert_eq!(q.weights, vec![0, 0]);
        let m = q.requant[0];
        let real = m.multiplier as f64 * 2f64.powi(m.shift - 31);
        let y = q.bias[0] as f64 * real; // output in units of s_out
        assert!((y * 0.05 - 3.0).abs() < 1e-6, "{y}");
    }
}
