//! Crossing the int8 boundary of a model: quantizing a CHW f32 image into the input
//! tensor's HWC int8 layout, and dequantizing an int8 output back to f32 CHW.

use whittle_shared::TensorInfo;

use super::params::{QParams, quantize_value};
use crate::export::layout::{chw_to_hwc, hwc_to_chw};

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
    use whittle_shared::Shape;

    #[test]
    fn input_quantization_of_normalized_pixels() {
        let t = TensorInfo {
            shape: Shape::new(2, 1, 2),
            offset: 0,
            scale: 2.0 / 255.0,
            zero_point: 0,
        };
        // CHW: channel 0 = [-1, 0], channel 1 = [1, 0.5]
        let q = quantize_input(&[-1.0, 0.0, 1.0, 0.5], &t);
        // HWC: pixel 0 = (c0 -1, c1 1), pixel 1 = (c0 0, c1 0.5). ±1 are ±127.5 steps: in
        // f32, -1 / (2/255) is -127.49999 → -127, and +127.5 clamps to 127.
        assert_eq!(q, vec![-127, 127, 0, 64]);
        let back = dequantize_output(&q, &t);
        for (a, b) in back.iter().zip([-1.0, 0.0, 1.0, 0.5]) {
            assert!((a - b).abs() <= 1.0 / 255.0 + 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn agrees_with_the_firmware_byte_path() {
        let t = TensorInfo {
            shape: Shape::new(3, 2, 2),
            offset: 0,
            scale: 2.0 / 255.0,
            zero_point: 0,
        };
        let bytes: Vec<u8> = (0..12).map(|i| (i * 23) as u8).collect();
        let x: Vec<f32> = bytes.iter().map(|&b| crate::data::normalize(b)).collect();
        assert_eq!(
            Some(quantize_input(&x, &t)),
            crate::firmware::input::quantize_chw(&bytes, &t)
        );
    }
}
