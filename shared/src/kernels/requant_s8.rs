//! Per-output-channel requantization with the channel's shift and mask work hoisted out of
//! the pixel loop; bit-identical to [`crate::requant::requantize`] for valid multipliers.

use crate::format::Requant;

/// One channel's [`Requant`] prepared for many accumulators.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChannelRequant {
    multiplier: i64,
    left: u32,
    right: u32,
    mask: i32,
    half: i32,
    /// `right ≥ 2` (every realistic scale): [`Self::apply`] takes the one-SMLAL path.
    fused: bool,
    /// High word of the fused path's rounding constant: `2^(right − 2)`.
    round_hi: i32,
    zp: i32,
    lo: i32,
    hi: i32,
}

impl ChannelRequant {
    /// Prepares `m`, which must pass [`crate::requant::is_valid`] (callers check once per op
    /// and use the reference path otherwise).
    #[inline(always)]
    pub(crate) fn new(m: Requant, zp: i32, lo: i32, hi: i32) -> Self {
        let left = m.shift.max(0) as u32;
        let right = (-m.shift).clamp(0, 31) as u32;
        let mask = ((1i64 << right) - 1) as i32;
        ChannelRequant {
            multiplier: m.multiplier as i64,
            left,
            right,
            mask,
            half: mask >> 1,
            fused: right >= 2,
            round_hi: (1i64 << right.saturating_sub(2)) as i32,
            zp,
            lo,
            hi,
        }
    }

    /// `clamp(zp + MBQM(acc, m))` as an int8.
    ///
    /// With `multiplier ≥ 0` the doubling high multiply never saturates, and TFLite's
    /// `(ab + nudge) / 2³¹` (nudge `2³⁰` or `1 − 2³⁰` by sign, truncating division) equals
    /// `v = ⌊(ab + 2³⁰) / 2³¹⌋` for both signs: one SMLAL and a shift instead of a 64-bit
    /// division. The rounding shift by `e = right` is `⌊(v + 2^(e−1) − [v < 0]) / 2^e⌋`.
    ///
    /// For `e ≥ 2` ([`Self::apply`]'s fused path) both steps fold into one: nested floors of
    /// integer divisions compose, so the result is `⌊(ab + C) / 2^(31+e)⌋` with
    /// `C = 2³⁰ + 2^(30+e) − [v < 0]·2³¹`, which fits an i64 (`|ab| ≤ 2⁶²`). `[v < 0]` may be
    /// replaced by `[acc < 0]`: they differ only when `v = 0`, where both give 0. As words,
    /// `C = (2^(e−2) − s) : (2³⁰ | s·2³¹)` with `s = [acc < 0]`, and since `31 + e ≥ 32` the
    /// result is the high word of `ab + C` shifted right by `e − 1`: AND/ORR/ADD, SMLAL, ASR.
    #[inline(always)]
    pub(crate) fn apply(&self, acc: i32) -> i8 {
        let r = if self.fused {
            let c_lo = (acc as u32 & 0x8000_0000) | 0x4000_0000;
            let c_hi = self.round_hi + (acc >> 31);
            let c = ((c_hi as i64) << 32) | c_lo as i64;
            let t = acc as i64 * self.multiplier + c;
            ((t >> 32) as i32) >> (self.right - 1)
        } else {
            let x = acc.wrapping_shl(self.left) as i64;
            let v = ((x * self.multiplier + (1 << 30)) >> 31) as i32;
            let threshold = self.half + (v < 0) as i32;
            (v >> self.right) + ((v & self.mask) > threshold) as i32
        };
        r.saturating_add(self.zp).clamp(self.lo, self.hi) as i8
    }
}

/// Right shifts the folded path handles: `e ≥ 2` for the one-SMLAL form, `e ≤ 22` so the
/// output zero point fits in the rounding constant's high word (see [`FoldedRequant`]).
const FOLD_SHIFTS: core::ops::RangeInclusive<i32> = -22..=-2;

/// One channel's requantization with the output zero point folded into the rounding
/// constant: per accumulator AND/ORR/ADD, SMLAL, ASR and the clamp (no saturating add, no
/// per-channel branch). Built only for a layer where [`FoldedRequant::layer_ok`] holds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FoldedRequant {
    multiplier: i32,
    /// High word of the rounding constant plus the zero point: `2^(e−2) + zp · 2^(e−1)`.
    k_hi: i32,
    /// `e − 1`.
    sh: u32,
}

impl FoldedRequant {
    /// Whether every channel of a layer can take the folded path: valid multipliers with
    /// right shifts `e` in `2..=22`, an output zero point and clamp range inside int8.
    pub(crate) fn layer_ok(requant: &[Requant], zp: i32, lo: i32, hi: i32) -> bool {
        (-128..=127).contains(&zp)
            && -128 <= lo
            && lo <= hi
            && hi <= 127
            && requant
                .iter()
                .all(|m| m.multiplier >= 0 && FOLD_SHIFTS.contains(&m.shift))
    }

    /// Prepares `m` for a layer that passed [`Self::layer_ok`].
    #[inline(always)]
    pub(crate) fn new(m: Requant, zp: i32) -> Self {
        let e = (-m.shift).clamp(2, 22) as u32;
        FoldedRequant {
            multiplier: m.multiplier,
            k_hi: (1 << (e - 2)) + (zp << (e - 1)),
            sh: e - 1,
        }
    }

    /// The constants as words, to keep a layer's table in scratch.
    #[inline(always)]
    pub(crate) fn to_words(self) -> [u32; 3] {
        [self.multiplier as u32, self.k_hi as u32, self.sh]
    }

    /// Inverse of [`Self::to_words`].
    #[inline(always)]
    pub(crate) fn from_words(w: [u32; 3]) -> Self {
        FoldedRequant {
            multiplier: w[0] as i32,
            k_hi: w[1] as i32,
            sh: w[2],
        }
    }

    /// `clamp(zp + MBQM(acc, m), lo, hi)` as an int8, equal to [`ChannelRequant::apply`].
    ///
    /// That fused path computes `r = ⌊(ab + C) / 2^(31+e)⌋`, then `r + zp` (saturating) and
    /// the clamp. Adding `zp · 2^(31+e)` to `C` (`zp · 2^(e−1)` to its high word) gives
    /// `r + zp` exactly, since a floor division commutes with adding a multiple of the
    /// divisor. With `|ab| < 2⁶²`, `|zp| ≤ 128` and `e ≤ 22`, `ab + C'` stays inside an i64
    /// and its high word inside an i32 (`< 2³⁰ + 2²⁰ + 2³⁰`), and `|r| < 2³⁰` never
    /// saturates when `zp` is added.
    #[inline(always)]
    pub(crate) fn apply(&self, acc: i32, lo: i32, hi: i32) -> i8 {
        self.scaled(acc).clamp(lo, hi) as i8
    }

    /// `zp + MBQM(acc, m)` before the clamp (`|·| < 2³⁰`): AND/ORR, ADD, SMLAL, ASR.
    #[inline(always)]
    pub(crate) fn scaled(&self, acc: i32) -> i32 {
        let c_lo = (acc as u32 & 0x8000_0000) | 0x4000_0000;
        let c_hi = self.k_hi + (acc >> 31);
        let c = ((c_hi as i64) << 32) | c_lo as i64;
        let t = acc as i64 * self.multiplier as i64 + c;
        ((t >> 32) as i32) >> self.sh
    }
}

/// One channel's requantization for a layer whose lower clamp is at or above its output
/// zero point (a fused ReLU) and whose accumulators stay inside ±2³⁰: per accumulator ADD,
/// SMMLAR, ASR and the clamp, bit-identical to [`FoldedRequant`] on such a layer.
///
/// [`FoldedRequant::scaled`] is `⌊(ab + C) / 2^(31+e)⌋` with the sign-dependent constant
/// `C = 2³⁰ + 2^(30+e) + zp·2^(31+e) − s·2³¹`, `s = [acc < 0]`. With a fused ReLU the sign
/// does not matter: for `acc < 0` (and `b ≥ 0`) both `s = 0` and `s = 1` give a result
/// `≤ zp ≤ lo`, which the clamp turns into `lo` (with `s = 0`, `ab + 2³⁰ + 2^(30+e) <
/// 2^(31+e)` for `ab ≤ 0`). So `C = 2³⁰ + 2^(30+e) + zp·2^(31+e)` for every accumulator,
/// and with `ka = 2^(e−1) + zp·2^e`:
/// `⌊(ab + C) / 2^(31+e)⌋ = ⌊(2a·b + 2³¹ + ka·2³²) / 2^(32+e)⌋ = SMMLAR(2a, b, ka) >> e`
/// (nested floors compose; SMMLAR is `⌊(ka·2³² + x·y + 2³¹) / 2³²⌋`). `2a` fits an i32
/// because `|a| < 2³⁰` ([`Self::layer_ok`]'s bound).
/// Its constants sit in a [`FoldedRequant`]'s places: `k_hi` holds `ka`, `sh` holds `e`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReluRequant(FoldedRequant);

impl ReluRequant {
    /// Whether a layer can take this path: [`FoldedRequant::layer_ok`], a lower clamp at or
    /// above the zero point, and `acc_bound` (the largest `|accumulator|` the layer can
    /// produce) below 2³⁰.
    pub(crate) fn layer_ok(requant: &[Requant], zp: i32, lo: i32, hi: i32, acc_bound: u64) -> bool {
        FoldedRequant::layer_ok(requant, zp, lo, hi) && lo >= zp && acc_bound < 1 << 30
    }

    /// Prepares `m` for a layer that passed [`Self::layer_ok`].
    #[inline(always)]
    pub(crate) fn new(m: Requant, zp: i32) -> Self {
        let e = (-m.shift).clamp(2, 22) as u32;
        ReluRequant(FoldedRequant {
            multiplier: m.multiplier,
            k_hi: (1 << (e - 1)) + (zp << e),
            sh: e,
        })
    }

    /// The constants as words, in [`FoldedRequant::to_words`]'s places.
    #[inline(always)]
    pub(crate) fn to_words(self) -> [u32; 3] {
        self.0.to_words()
    }

    /// Inverse of [`Self::to_words`].
    #[inline(always)]
    pub(crate) fn from_words(w: [u32; 3]) -> Self {
        ReluRequant(FoldedRequant::from_words(w))
    }

    /// `clamp(zp + MBQM(acc, m), lo, hi)` as an int8, for `|acc| < 2³⁰` on a layer that
    /// passed [`Self::layer_ok`].
    #[inline(always)]
    pub(crate) fn apply(&self, acc: i32, lo: i32, hi: i32) -> i8 {
        let FoldedRequant {
            multiplier,
            k_hi: ka,
            sh: e,
        } = self.0;
        let x = 2 * acc as i64 * multiplier as i64 + (1 << 31) + ((ka as i64) << 32);
        (((x >> 32) as i32) >> e).clamp(lo, hi) as i8
    }
}

/// The largest `|accumulator|` of a layer with `fan_in` int8 products of `w · (x − zp_in)`
/// (each at most 128 · 255) and these biases.
pub(crate) fn acc_bound(fan_in: usize, bias: &[i32]) -> u64 {
    // The max in u32 (one compare per bias on Cortex-M, a u64 max takes three).
    let b = bias.iter().fold(0u32, |m, b| m.max(b.unsigned_abs()));
    b as u64 + fan_in as u64 * 128 * 255
}

/// Whether every multiplier takes the fast path (validated models always do).
#[inline]
pub(crate) fn all_valid(requant: &[Requant]) -> bool {
    requant.iter().all(|&m| crate::requant::is_valid(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requant::requantize;

    /// Calls `check(acc, m, zp, lo, hi)` for every shift in `shifts`, every `(zp, lo, hi)`,
    /// every edge accumulator and multiplier, and 2000 seeded random pairs each, the random
    /// accumulators shifted right by `narrow` more bits (to stay inside a bound).
    fn sweep(
        seed: u64,
        shifts: core::ops::RangeInclusive<i32>,
        clamps: &[(i32, i32, i32)],
        (edge_accs, edge_mults): (&[i32], &[i32]),
        narrow: u32,
        check: impl Fn(i32, Requant, i32, i32, i32),
    ) {
        let mut seed = seed;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for shift in shifts {
            for &(zp, lo, hi) in clamps {
                let m = |multiplier| Requant { multiplier, shift };
                for &a in edge_accs {
                    for &e in edge_mults {
                        check(a, m(e), zp, lo, hi);
                    }
                }
                for _ in 0..2000 {
                    let r = next();
                    let acc = match r % 3 {
                        0 => (r >> 32) as i32,
                        1 => ((r >> 32) as i32) >> (r % 31),
                        _ => (r >> 40) as i32 - (1 << 23),
                    } >> narrow;
                    check(acc, m(((next() >> 33) as i32).max(0)), zp, lo, hi);
                }
            }
        }
    }

    #[test]
    fn folded_matches_requantize() {
        let edge_accs = [
            0,
            1,
            -1,
            127,
            -128,
            i32::MAX,
            i32::MIN,
            i32::MIN + 1,
            1 << 30,
        ];
        let edge_mults = [0, 1, 1 << 30, i32::MAX, 0x5555_5555];
        let clamps = [
            (0, -128, 127),
            (-7, -7, 127),
            (127, 127, 127),
            (-128, -128, 127),
            (100, -128, 50),
            (5, -3, 9),
        ];
        let edges = (&edge_accs[..], &edge_mults[..]);
        sweep(
            0x9E37_79B9_7F4A_7C15,
            -22..=-2,
            &clamps,
            edges,
            0,
            |acc, m, zp, lo, hi| {
                assert!(FoldedRequant::layer_ok(&[m], zp, lo, hi));
                assert_eq!(
                    FoldedRequant::new(m, zp).apply(acc, lo, hi),
                    requantize(acc, m, zp, lo, hi),
                    "acc {acc} m {m:?} zp {zp}"
                );
            },
        );
        let m = |shift| Requant {
            multiplier: 1 << 30,
            shift,
        };
        assert!(!FoldedRequant::layer_ok(&[m(-1)], 0, -128, 127));
        assert!(!FoldedRequant::layer_ok(&[m(-23)], 0, -128, 127));
        assert!(!FoldedRequant::layer_ok(&[m(-8)], 128, -128, 127));
        assert!(!FoldedRequant::layer_ok(&[m(-8)], 0, -129, 127));
        assert!(!FoldedRequant::layer_ok(&[m(-8), m(0)], 0, -128, 127));
    }

    #[test]
    fn relu_matches_requantize_inside_its_bound() {
        let limit = (1 << 30) - 1;
        let edge_accs = [
            0,
            1,
            -1,
            2,
            -2,
            127,
            -128,
            limit,
            -limit,
            1 << 20,
            -(1 << 20),
        ];
        let edge_mults = [0, 1, 1 << 30, i32::MAX, 0x5555_5555];
        let clamps = [
            (-128, -128, 127),
            (-100, -100, 127),
            (0, 0, 127),
            (-7, 3, 127),
            (127, 127, 127),
            (-128, -128, 50),
            (40, 60, 90),
        ];
        let edges = (&edge_accs[..], &edge_mults[..]);
        sweep(
            0x0123_4567_89AB_CDEF,
            -22..=-2,
            &clamps,
            edges,
            2,
            |acc, m, zp, lo, hi| {
                assert!(ReluRequant::layer_ok(
                    &[m],
                    zp,
                    lo,
                    hi,
                    acc.unsigned_abs() as u64
                ));
                assert_eq!(
                    ReluRequant::new(m, zp).apply(acc, lo, hi),
                    requantize(acc, m, zp, lo, hi),
                    "acc {acc} m {m:?} zp {zp} lo {lo}"
                );
            },
        );
        let m = Requant {
            multiplier: 1 << 30,
            shift: -8,
        };
        // Not a fused ReLU (lower clamp below the zero point), or accumulators too large.
        assert!(!ReluRequant::layer_ok(&[m], 0, -128, 127, 100));
        assert!(!ReluRequant::layer_ok(&[m], -128, -128, 127, 1 << 30));
        assert_eq!(acc_bound(9, &[-5, 3]), 5 + 9 * 128 * 255);
    }

    #[test]
    fn matches_requantize_on_edges_and_sweeps() {
        let accs = [
            0,
            1,
            -1,
            2,
            -2,
            3,
            -3,
            127,
            -128,
            1 << 20,
            -(1 << 20),
            i32::MAX,
            i32::MIN,
            i32::MAX - 1,
            i32::MIN + 1,
            0x4000_0000,
            -0x4000_0000,
        ];
        let mults = [
            0,
            1,
            2,
            1 << 30,
            (1 << 30) + 1,
            i32::MAX,
            i32::MAX - 1,
            0x5555_5555,
        ];
        let clamps = [
            (0, -128, 127),
            (-7, -7, 127),
            (100, -128, 127),
            (-128, -128, 127),
        ];
        let edges = (&accs[..], &mults[..]);
        sweep(
            0x2545_F491_4F6C_DD1D,
            -31..=30,
            &clamps,
            edges,
            0,
            |acc, m, zp, lo, hi| {
                assert_eq!(
                    ChannelRequant::new(m, zp, lo, hi).apply(acc),
                    requantize(acc, m, zp, lo, hi),
                    "acc {acc} m {m:?} zp {zp}"
                );
            },
        );
    }
}
