//! Crossing the int8 boundary of a model: quantizing a CHW f32 image into the input
//! tensor's HWC int8 layout, and dequantizing an int8 output back to f32 CHW.

use whittle_shared::TensorInfo;

use super::qparams::{QParams, quantize_value};
use crate::sim::layout::{chw_to_hwc, hwc_to_chw};

fn dims(t: &TensorInfo) -> [usize; 3] {
    [t.shape.c as usize, t.shape.h as usize, t.shape.w as usize]
}

/// A CHW f32 image (e.g. normalized to [-1, 1]) → the int8 HWC input `t` describes:
/// `clamp(round(x / scale) + zero_point)`. Values beyond `x.len()` or missing are not
/// checked here: `x` must hold `t.shape.len()` values (the executor checks the length).
pub fn quantize_input(x: &[f32], t: &TensorInfo) -> Vec<i8> {
    let q = QParams {
        scale: t.scale,
        zero_point: t.zero_point,
    };
    chw_to_hwc(x, dims(t))
        .into_iter()
        .map(|v| quantize_value(v, q))
        .collect()
}

/// int8 HWC values of tensor `t` → f32 CHW: `scale · (q − zero_point)`.
pub fn dequantize_output(q: &[i8], t: &TensorInfo) -> Vec<f32> {
    let real: Vec<f32> = q
        .iter()
        .map(|&v| t.scale * (v as i32 - t.zero_point as i32) as f32)
        .collect();
    hwc_to_chw(&real, dims(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::qparams::INPUT_QPARAMS;
    use whittle_shared::Shape;

    #[test]
    fn input_quantization_of_normalized_pixels() {
        let t = TensorInfo {
            shape: Shape::new(2, 1, 2),
            offset: 0,
            scale: INPUT_QPARAMS.scale,
            zero_point: INPUT_QPARAMS.zero_point,
        };
        // CHW: channel 0 = [-1, 0], channel 1 = [1, 0.25]
        let q = quantize_input(&[-1.0, 0.0, 1.0, 0.25], &t);
        // HWC: pixel 0 = (c0 -1, c1 1), pixel 1 = (c0 0, c1 0.25 → 31.75)
        assert_eq!(q, vec![-127, 127, 0, 32]);
        let back = dequantize_output(&q, &t);
        for (a, b) in back.iter().zip([-1.0, 0.0, 1.0, 0.25]) {
            assert!((a - b).abs() <= 0.5 / 127.0 + 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn raw_and_unit_pixels_quantize_to_byte_minus_128() {
        use crate::graph::InputRange;
        use crate::sim::qparams::input_qparams;
        let bytes: Vec<u8> = (0..=255).collect();
        for range in [InputRange::Raw, InputRange::Unit] {
            let q = input_qparams(range);
            let t = TensorInfo {
                shape: Shape::new(1, 16, 16),
                offset: 0,
                scale: q.scale,
                zero_point: q.zero_point,
            };
            let x = crate::data::to_inputs(&bytes, range);
            let got = quantize_input(&x, &t);
            let want: Vec<i8> = bytes.iter().map(|&b| (b as i32 - 128) as i8).collect();
            assert_eq!(got, want, "{range:?}");
        }
        assert_eq!(input_qparams(InputRange::Signed), INPUT_QPARAMS);
    }

    #[test]
    fn every_pixel_byte_agrees_with_the_firmware_byte_path() {
        let t = TensorInfo {
            shape: Shape::new(1, 16, 16),
            offset: 0,
            scale: INPUT_QPARAMS.scale,
            zero_point: INPUT_QPARAMS.zero_point,
        };
        let bytes: Vec<u8> = (0..=255).collect();
        let x: Vec<f32> = bytes.iter().map(|&b| crate::data::normalize(b)).collect();
        let q = quantize_input(&x, &t);
        assert_eq!(
            Some(q.clone()),
            crate::sim::quantize_chw(&bytes, &t, whittle_shared::InputRange::Signed)
        );
        // b ↦ b − 128 above the middle, b − 127 below: 255 distinct values, ±1 exact
        for (&b, &v) in bytes.iter().zip(&q) {
            let want = if b >= 128 {
                b as i32 - 128
            } else {
                b as i32 - 127
            };
            assert_eq!(v as i32, want, "byte {b}");
        }
    }
}
