//! Fixed-point requantization exactly as TFLite defines it: a saturating rounding doubling
//! high multiply followed by a rounding right shift. Every int8 kernel ends here.

use crate::format::Requant;

/// `round(a · b / 2^31)` with TFLite's rounding (half up), saturating the one overflow case
/// (`i32::MIN · i32::MIN`). TFLite's `SaturatingRoundingDoublingHighMul`.
#[inline(always)]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = a as i64 * b as i64;
    let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// `x / 2^exponent` rounded half away from zero; `exponent` in `0..=31`.
/// TFLite's `RoundingDivideByPOT`.
#[inline(always)]
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    debug_assert!((0..=31).contains(&exponent));
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + (x < 0) as i32;
    (x >> exponent) + (remainder > threshold) as i32
}

/// `x · multiplier · 2^(shift − 31)`, rounded: TFLite's `MultiplyByQuantizedMultiplier`.
/// A left shift wraps on overflow (it never does for valid accumulators and multipliers).
#[inline(always)]
pub fn multiply_by_quantized_multiplier(x: i32, m: Requant) -> i32 {
    let left = if m.shift > 0 { m.shift } else { 0 };
    let right = if m.shift > 0 { 0 } else { -m.shift };
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(x.wrapping_shl(left as u32), m.multiplier),
        right,
    )
}

/// Whether a multiplier is one the kernels accept (validated before any kernel runs).
pub const fn is_valid(m: Requant) -> bool {
    m.multiplier >= 0 && m.shift >= -31 && m.shift <= 30
}

/// Requantize an i32 accumulator to int8: scale, add the output zero point, clamp.
#[inline(always)]
pub fn requantize(acc: i32, m: Requant, output_zp: i32, act_min: i32, act_max: i32) -> i8 {
    let v = multiply_by_quantized_multiplier(acc, m).saturating_add(output_zp);
    v.clamp(act_min, act_max) as i8
}

/// The [`Requant`] closest to a positive real multiplier (TFLite's `QuantizeMultiplier`).
/// Host side only: quantization happens at export.
#[cfg(feature = "std")]
pub fn quantize_multiplier(real: f64) -> Requant {
    if real <= 0.0 || !real.is_finite() {
        return Requant {
            multiplier: 0,
            shift: 0,
        };
    }
    // frexp: real = q · 2^exp with q in [0.5, 1).
    let mut exp = real.log2().floor() as i32 + 1;
    let mut q = real / 2f64.powi(exp);
    // Guard against log2 rounding at exact powers of two.
    if q >= 1.0 {
        q /= 2.0;
        exp += 1;
    } else if q < 0.5 {
        q *= 2.0;
        exp -= 1;
    }
    let mut q_fixed = (q * (1i64 << 31) as f64).round() as i64;
    if q_fixed == 1i64 << 31 {
        q_fixed /= 2;
        exp += 1;
    }
    if exp < -31 {
        return Requant {
            multiplier: 0,
            shift: 0,
        };
    }
    if exp > 30 {
        return Requant {
            multiplier: i32::MAX,
            shift: 30,
        };
    }
    Requant {
        multiplier: q_fixed as i32,
        shift: exp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srdhm_matches_tflite_cases() {
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN),
            i32::MAX
        );
        // 0.5 · 0.5 in Q31 = 0.25
        assert_eq!(
            saturating_rounding_doubling_high_mul(1 << 30, 1 << 30),
            1 << 29
        );
        // 1.5 rounds to 2 and -1.5 to -1 (TFLite's nudge, then truncating division)
        assert_eq!(saturating_rounding_doubling_high_mul(3, 1 << 30), 2);
        assert_eq!(saturating_rounding_doubling_high_mul(-3, 1 << 30), -1);
    }

    #[test]
    fn rounding_divide_rounds_half_away() {
        assert_eq!(rounding_divide_by_pot(5, 1), 3);
        assert_eq!(rounding_divide_by_pot(-5, 1), -3);
        assert_eq!(rounding_divide_by_pot(4, 1), 2);
        assert_eq!(rounding_divide_by_pot(-7, 2), -2);
        assert_eq!(rounding_divide_by_pot(i32::MIN, 31), -1);
    }

    #[cfg(feature = "std")]
    #[test]
    fn quantized_multiplier_approximates_real() {
        for &r in &[0.0001, 0.00390625, 0.1234, 0.5, 0.999999, 1.0, 3.75, 1234.5] {
            let m = quantize_multiplier(r);
            assert!(is_valid(m), "{r}: {m:?}");
            let got = m.multiplier as f64 * 2f64.powi(m.shift - 31);
            assert!((got - r).abs() <= r * 1e-9, "{r} -> {got}");
            // applying it to an integer gives round(x · r)
            let x = 1_000_000;
            let y = multiply_by_quantized_multiplier(x, m);
            assert!((y as f64 - x as f64 * r).abs() <= 1.0, "{r}: {y}");
        }
        assert_eq!(
            quantize_multiplier(0.0),
            Requant {
                multiplier: 0,
                shift: 0
            }
        );
    }
}
