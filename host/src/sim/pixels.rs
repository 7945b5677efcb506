//! The one place a CIFAR image becomes a model input: bytes → the model's pixel range (the
//! blob's `input_range`) → int8 with the input's scale and zero point, CHW planes → HWC.

use whittle_shared::{InputRange, TensorInfo};

/// Quantizes one image given as `c` row-major planes of `h × w` bytes (CIFAR's layout) into
/// the HWC int8 vector a model with input tensor `input`, trained on pixels in `range`,
/// expects: `q = clamp(round(range.real(x) / scale) + zero_point, −128, 127)`, rounding
/// half away from zero. Returns `None` when the byte count does not match the input shape.
pub fn quantize_chw(pixels: &[u8], input: &TensorInfo, range: InputRange) -> Option<Vec<i8>> {
    let s = input.shape;
    let (c, h, w) = (s.c as usize, s.h as usize, s.w as usize);
    if pixels.len() != c * h * w {
        return None;
    }
    let mut out = vec![0i8; pixels.len()];
    for ch in 0..c {
        for p in 0..h * w {
            let byte = pixels[ch * h * w + p];
            out[p * c + ch] = quantize(range.real(byte), input.scale, input.zero_point);
        }
    }
    Some(out)
}

/// One pixel's real value through the input quantization, in f64 so the result is the
/// correctly rounded value for the f32 scale the blob stores (with scale 2/255 every byte
/// lands near a half step, where f32 arithmetic would round either way).
pub fn quantize(real: f64, scale: f32, zero_point: i8) -> i8 {
    let q = (real / scale as f64).round() + zero_point as f64;
    q.clamp(-128.0, 127.0) as i8
}

#[cfg(test)]
mod tests {
    use super::*;
    use whittle_shared::Shape;

    #[test]
    fn chw_becomes_hwc_and_the_range_maps_to_int8() {
        let t = TensorInfo {
            shape: Shape::new(3, 1, 2),
            offset: 0,
            scale: 2.0 / 255.0,
            zero_point: 0,
        };
        // planes R = [0, 255], G = [128, 127], B = [10, 20]; f32(2/255) is a little above
        // 2/255, so the half steps (x - 127.5) round towards zero
        let q = quantize_chw(&[0, 255, 128, 127, 10, 20], &t, InputRange::Signed).unwrap();
        assert_eq!(q, vec![-127, 0, -117, 127, 0, -107]);
        assert_eq!(quantize_chw(&[0; 5], &t, InputRange::Signed), None);
        let s = InputRange::Signed;
        assert_eq!(quantize(s.real(255), 0.01, 5), 105);
        assert_eq!(quantize(s.real(0), 0.001, 0), -128);
    }

    #[test]
    fn raw_pixels_keep_their_byte() {
        // MLPerf Tiny's ResNet-8: raw 0..255 in, scale 1, zero point −128: q = b − 128
        let t = TensorInfo {
            shape: Shape::new(1, 1, 4),
            offset: 0,
            scale: 1.0,
            zero_point: -128,
        };
        let q = quantize_chw(&[0, 1, 128, 255], &t, InputRange::Raw).unwrap();
        assert_eq!(q, vec![-128, -127, 0, 127]);
        // the same bytes read as [-1, 1] pixels would all but saturate to -128 / -127
        let wrong = quantize_chw(&[0, 1, 128, 255], &t, InputRange::Signed).unwrap();
        assert_ne!(q, wrong);
    }
}
