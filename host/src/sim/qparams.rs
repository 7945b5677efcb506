//! The quantization of a tensor crossing the int8 boundary: `QParams`, the rounding every
//! path uses, and the model input's parameters for each pixel range.

/// Affine int8 quantization of a tensor: `real = scale · (q − zero_point)`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QParams {
    /// Step between adjacent int8 values (> 0).
    pub scale: f32,
    /// The int8 value that means 0.0.
    pub zero_point: i8,
}

/// The model input's quantization: images normalized to [-1, 1] (x/127.5 − 1) map
/// symmetrically onto −127..=127 (scale 1/127, zero point 0), so ±1 are exact.
///
/// Not 2/255: with that scale every pixel value sits exactly on a half step, and whether
/// it rounds up or down depends on float noise (f32 vs f64, x/127.5 − 1 vs the byte), so the
/// host and the firmware could disagree. With 1/127 each pixel is ≥ 0.002 steps from a half
/// step, and byte b becomes `b − 128` (b ≥ 128) or `b − 127` (b ≤ 127) on every path.
pub const INPUT_QPARAMS: QParams = QParams {
    scale: 1.0 / 127.0,
    zero_point: 0,
};

/// The model input's quantization for a model fed pixels in `range`: [`INPUT_QPARAMS`]
/// for whittle's [−1, 1]; for raw 0..255 pixels scale 1 and zero point −128, and for
/// 0..1 scale 1/255 and zero point −128, so byte b becomes exactly `b − 128` (the int8
/// input of MLPerf Tiny's reference model).
pub fn input_qparams(range: crate::graph::InputRange) -> QParams {
    use crate::graph::InputRange;
    match range {
        InputRange::Signed => INPUT_QPARAMS,
        InputRange::Unit => QParams {
            scale: 1.0 / 255.0,
            zero_point: -128,
        },
        InputRange::Raw => QParams {
            scale: 1.0,
            zero_point: -128,
        },
    }
}

/// Quantize one value with `q`: `clamp(round(x / scale) + zero_point)` (half away from 0).
#[inline]
pub fn quantize_value(x: f32, q: QParams) -> i8 {
    let v = (x / q.scale).round() + q.zero_point as f32;
    v.clamp(-128.0, 127.0) as i8
}
