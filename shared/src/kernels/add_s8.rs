//! int8 elementwise kernels with no window: residual add (TFLite scheme), out of place or
//! in place over one input (the fused conv + add), and ReLU.
//!
//! Each input's rescaling depends on its byte alone, so it is tabulated once per call (256
//! values per input, [`Luts`], from [`InputScale`]'s one multiply-accumulate); per element
//! that leaves two table loads, a saturating add and the folded requantization of the sum.

use super::AddParams;
use super::requant_s8::{ChannelRequant, FoldedRequant};
use crate::format::Requant;
use crate::requant::multiply_by_quantized_multiplier;

/// One input's rescaling `MBQM((x − zp) << left_shift, m)` for a multiplier with no left
/// shift (`e = −shift ≥ 0`), as one multiply-accumulate (SMLAL) and a shift.
///
/// With `a = (x − zp)·2^ls` and `M ≥ 0`, TFLite's doubling high multiply is
/// `t = ⌊(a·M + 2³⁰) / 2³¹⌋` for either sign, and the rounding shift by `e ≥ 1` is
/// `⌊(t + 2^(e−1) − [t < 0]) / 2^e⌋`. Nested floors compose, so the result is
/// `⌊(2a·M + 2³¹ + (2^(e−1) − s)·2³²) / 2^(32+e)⌋`: the high word of
/// `2a·M + (2^(e−1) − s : 2³¹)`, shifted right by `e`. `s = [t < 0]` may be `[a < 0]`: they
/// differ only where `−2³⁰ ≤ a·M < 0`, and there both give 0. For `e = 0` the high word of
/// `2a·M + 2³¹` is `t` itself. `2a` fits an i32 (`|x − zp| ≤ 255`, `ls ≤ 22`).
#[derive(Debug, Clone, Copy)]
struct InputScale {
    zp: i32,
    /// `ls + 1` (the doubling is folded into the shift).
    ls1: u32,
    m: i32,
    /// `2^(e−1)` (0 for `e = 0`).
    c: i32,
    /// 1 where the sign term applies (`e ≥ 1`), else 0.
    sign: i32,
    e: u32,
}

impl InputScale {
    fn new(zp: i32, ls: u8, m: Requant) -> Option<Self> {
        if m.multiplier < 0 || m.shift > 0 || m.shift < -31 || ls > 22 {
            return None;
        }
        let e = (-m.shift) as u32;
        let (c, sign) = if e == 0 { (0, 0) } else { (1 << (e - 1), 1) };
        Some(InputScale {
            zp,
            ls1: ls as u32 + 1,
            m: m.multiplier,
            c,
            sign,
            e,
        })
    }

    #[inline(always)]
    fn apply(&self, x: i8) -> i32 {
        let v = x as i32 - self.zp;
        let a2 = v << self.ls1;
        let hi = self.c - ((v >> 31) & self.sign);
        let k = ((hi as i64) << 32) | 0x8000_0000;
        let t = a2 as i64 * self.m as i64 + k;
        ((t >> 32) as i32) >> self.e
    }
}

/// An add's constants prepared once per call, or `None` where an input multiplier shifts
/// left (never from TFLite's scheme) and the reference loop runs instead.
#[derive(Debug, Clone, Copy)]
struct Prepared {
    a: InputScale,
    b: InputScale,
    zp: i32,
    lo: i32,
    hi: i32,
    out: Requant,
}

impl Prepared {
    fn new(p: &AddParams) -> Option<Self> {
        let q = p.quant;
        let valid = [q.a, q.b, q.out]
            .iter()
            .all(|&m| crate::requant::is_valid(m));
        if !valid || !(-128..=127).contains(&p.output_zp) || p.act_min > p.act_max {
            return None;
        }
        Some(Prepared {
            a: InputScale::new(p.a_zp, q.left_shift, q.a)?,
            b: InputScale::new(p.b_zp, q.left_shift, q.b)?,
            zp: p.output_zp,
            lo: p.act_min,
            hi: p.act_max,
            out: q.out,
        })
    }
}

/// The reference arithmetic for one pair (the path for parameters [`Prepared`] refuses).
#[inline(always)]
fn slow(p: &AddParams, x: i8, y: i8) -> i8 {
    let ls = p.quant.left_shift as u32;
    let xa = (x as i32 - p.a_zp).wrapping_shl(ls);
    let yb = (y as i32 - p.b_zp).wrapping_shl(ls);
    let sum = multiply_by_quantized_multiplier(xa, p.quant.a)
        .saturating_add(multiply_by_quantized_multiplier(yb, p.quant.b));
    let r = multiply_by_quantized_multiplier(sum, p.quant.out).saturating_add(p.output_zp);
    r.clamp(p.act_min, p.act_max) as i8
}

/// Runs `$body` with `$f` bound to the requantization of a sum (`|sum| → int8`): the folded
/// path where the output multiplier allows, else per value; the choice is made once,
/// outside the element loop.
macro_rules! with_out {
    ($k:expr, |$f:ident| $body:expr) => {{
        let (zp, lo, hi, m) = ($k.zp, $k.lo, $k.hi, $k.out);
        if FoldedRequant::layer_ok(&[m], zp, lo, hi) {
            let r = FoldedRequant::new(m, zp);
            let $f = move |sum: i32| r.apply(sum, lo, hi);
            $body
        } else {
            let r = ChannelRequant::new(m, zp, lo, hi);
            let $f = move |sum: i32| r.apply(sum);
            $body
        }
    }};
}

/// Scratch bytes of the add's tables: each input's rescaled value for all 256 bytes.
pub(crate) const LUT_BYTES: usize = 2 * 256 * 4;

/// Both inputs' rescaled values by input byte: per element then two loads, a saturating
/// add and the sum's requantization.
pub(crate) struct Luts<'a> {
    k: Prepared,
    a: &'a [i32; 256],
    b: &'a [i32; 256],
}

impl<'a> Luts<'a> {
    /// Fills the tables in `words` (at least [`LUT_BYTES`] / 4 of them); `None` where
    /// [`Prepared`] refuses the parameters or `words` is too short.
    pub(crate) fn new(p: &AddParams, words: &'a mut [u32]) -> Option<Self> {
        let k = Prepared::new(p)?;
        let words: &mut [i32] = bytemuck::cast_slice_mut(words.get_mut(..LUT_BYTES / 4)?);
        let (a, b) = words.split_at_mut(256);
        for x in -128i32..=127 {
            a[x as u8 as usize] = k.a.apply(x as i8);
            b[x as u8 as usize] = k.b.apply(x as i8);
        }
        let (a, b): (&[i32], &[i32]) = (a, b);
        Some(Luts {
            k,
            a: a.try_into().ok()?,
            b: b.try_into().ok()?,
        })
    }

    /// The add of `acc` (input `a` when `acc_is_a`, else `b`) and `other`, into `acc`.
    pub(crate) fn in_place(&self, acc_is_a: bool, acc: &mut [i8], other: &[i8]) {
        let (la, lb) = if acc_is_a {
            (self.a, self.b)
        } else {
            (self.b, self.a)
        };
        with_out!(self.k, |f| {
            for (o, &y) in acc.iter_mut().zip(other) {
                *o = f(la[*o as u8 as usize].saturating_add(lb[y as u8 as usize]));
            }
        })
    }

    /// The add of `a` and `b` into `output`.
    pub(crate) fn add(&self, a: &[i8], b: &[i8], output: &mut [i8]) {
        let (la, lb) = (self.a, self.b);
        with_out!(self.k, |f| {
            for ((o, &x), &y) in output.iter_mut().zip(a).zip(b) {
                *o = f(la[x as u8 as usize].saturating_add(lb[y as u8 as usize]));
            }
        })
    }
}

/// Whether the add's parameters take tables ([`SkipAdd::new`] given room for one): what a
/// fused add's band path needs, as the planner checks it.
pub(crate) fn tables_apply(p: &AddParams) -> bool {
    Prepared::new(p).is_some()
}

/// Bytes of one input's table (256 rescaled values).
pub(crate) const TABLE_BYTES: usize = 256 * 4;

/// How the conv's side of a fused add is rescaled: tabulated, or per element where scratch
/// holds only the skip's table.
#[derive(Clone, Copy)]
enum ConvSide<'a> {
    Table(&'a [i32; 256]),
    Scale(InputScale),
}

/// A fused add folded into its skip tensor in place: the skip's rescaling always tabulated,
/// the conv's tabulated too where scratch holds a second table ([`SkipAdd::new`]), else
/// computed per element. Equal to [`add_s8_in_place`] bit for bit either way.
pub(crate) struct SkipAdd<'a> {
    k: Prepared,
    skip: &'a [i32; 256],
    conv: ConvSide<'a>,
    /// The asm loops' constants (`arm::add_skip_tables`, `arm::add_skip_scale`): the conv's
    /// input scale, then the sum's folded requantization; `None` where the sum does not take
    /// the folded path with `act_max = 127`.
    #[cfg(dsp)]
    asm: Option<AsmConsts>,
}

/// `[zp, ls + 1, 2^(e−1), sign, multiplier, e]` of the conv's input scale, then
/// `[multiplier, k_hi, (e − 1) | act_min << 8]` of the sum's requantization, 8-byte aligned
/// for LDRD.
#[cfg(dsp)]
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct AsmConsts([u32; 10]);

impl<'a> SkipAdd<'a> {
    /// The add with the skip as its `a` when `skip_is_a`; tables in `words` (two where it
    /// holds `2 · TABLE_BYTES`, else one). `None` where [`Prepared`] refuses the parameters
    /// or `words` holds less than one table.
    pub(crate) fn new(p: &AddParams, skip_is_a: bool, words: &'a mut [u32]) -> Option<Self> {
        let k = Prepared::new(p)?;
        let (sk, cv) = if skip_is_a { (k.a, k.b) } else { (k.b, k.a) };
        let n = (words.len() / 256).min(2);
        if n == 0 {
            return None;
        }
        let words: &mut [i32] = bytemuck::cast_slice_mut(words.get_mut(..n * 256)?);
        let (st, ct) = words.split_at_mut(256);
        for x in -128i32..=127 {
            st[x as u8 as usize] = sk.apply(x as i8);
        }
        let conv = if ct.len() == 256 {
            for x in -128i32..=127 {
                ct[x as u8 as usize] = cv.apply(x as i8);
            }
            let ct: &[i32] = ct;
            ConvSide::Table(ct.try_into().ok()?)
        } else {
            ConvSide::Scale(cv)
        };
        let st: &[i32] = st;
        #[cfg(dsp)]
        let asm = (FoldedRequant::layer_ok(&[k.out], k.zp, k.lo, k.hi) && k.hi == 127).then(|| {
            let [m, kh, sh] = FoldedRequant::new(k.out, k.zp).to_words();
            AsmConsts([
                cv.zp as u32,
                cv.ls1,
                cv.c as u32,
                cv.sign as u32,
                cv.m as u32,
                cv.e,
                m,
                kh,
                sh | (k.lo as u32) << 8,
                0,
            ])
        });
        Some(SkipAdd {
            k,
            skip: st.try_into().ok()?,
            conv,
            #[cfg(dsp)]
            asm,
        })
    }

    /// `skip ← add(skip, conv)` element by element (in asm where `cfg(dsp)` and the sum
    /// takes the folded requantization).
    pub(crate) fn apply(&self, skip: &mut [i8], conv: &[i8]) {
        let ls = self.skip;
        #[cfg(dsp)]
        if let Some(a) = &self.asm {
            let n = skip.len().min(conv.len());
            if n == 0 {
                return;
            }
            let (y, x, t) = (skip.as_mut_ptr(), conv.as_ptr(), ls.as_ptr());
            let [m, kh, sh] = [a.0[6], a.0[7], a.0[8]];
            // SAFETY: `skip` and `conv` hold `n ≥ 1` bytes; the tables 256 words each; the
            // constants are 10 words, 8-byte aligned, from a sum that passed `layer_ok` with
            // `act_max = 127`; the loops without the lower clamp only where `act_min = −128`
            // (SSAT gives it).
            unsafe {
                use super::arm::{add_skip_scale, add_skip_tables};
                let k = a.0.as_ptr();
                match (self.conv, self.k.lo > -128) {
                    (ConvSide::Table(lc), true) => {
                        add_skip_tables::<true>(y, x, n, t, lc.as_ptr(), [m, kh, sh])
                    }
                    (ConvSide::Table(lc), false) => {
                        add_skip_tables::<false>(y, x, n, t, lc.as_ptr(), [m, kh, sh])
                    }
                    (ConvSide::Scale(_), true) => add_skip_scale::<true>(y, x, n, t, k),
                    (ConvSide::Scale(_), false) => add_skip_scale::<false>(y, x, n, t, k),
                }
            }
            return;
        }
        with_out!(self.k, |f| match self.conv {
            ConvSide::Table(lc) => {
                for (o, &y) in skip.iter_mut().zip(conv) {
                    *o = f(ls[*o as u8 as usize].saturating_add(lc[y as u8 as usize]));
                }
            }
            ConvSide::Scale(c) => {
                for (o, &y) in skip.iter_mut().zip(conv) {
                    *o = f(ls[*o as u8 as usize].saturating_add(c.apply(y)));
                }
            }
        })
    }
}

/// int8 elementwise add, bit-identical to [`super::reference::add_s8`]: through [`Luts`]
/// where `scratch` holds them, else rescaling each element.
#[inline(never)]
pub fn add_s8(p: &AddParams, a: &[i8], b: &[i8], scratch: &mut [u8], output: &mut [i8]) {
    let (_, words, _) = bytemuck::pod_align_to_mut::<u8, u32>(scratch);
    if let Some(l) = Luts::new(p, words) {
        return l.add(a, b, output);
    }
    match Prepared::new(p) {
        Some(k) => with_out!(k, |f| {
            for ((o, &x), &y) in output.iter_mut().zip(a).zip(b) {
                *o = f(k.a.apply(x).saturating_add(k.b.apply(y)));
            }
        }),
        None => {
            for ((o, &x), &y) in output.iter_mut().zip(a).zip(b) {
                *o = slow(p, x, y);
            }
        }
    }
}

/// [`add_s8`] writing over one of its inputs: `acc` is input `a` when `acc_is_a`, else input
/// `b`; `other` is the other input. Element `i` of the sum depends only on element `i` of
/// each input, so the result equals the out-of-place add's.
pub fn add_s8_in_place(
    p: &AddParams,
    acc_is_a: bool,
    acc: &mut [i8],
    other: &[i8],
    scratch: &mut [u8],
) {
    let (_, words, _) = bytemuck::pod_align_to_mut::<u8, u32>(scratch);
    if let Some(l) = Luts::new(p, words) {
        return l.in_place(acc_is_a, acc, other);
    }
    match Prepared::new(p) {
        Some(k) => with_out!(k, |f| {
            for (o, &y) in acc.iter_mut().zip(other) {
                let (x, y) = if acc_is_a { (*o, y) } else { (y, *o) };
                *o = f(k.a.apply(x).saturating_add(k.b.apply(y)));
            }
        }),
        None => {
            for (o, &y) in acc.iter_mut().zip(other) {
                *o = if acc_is_a {
                    slow(p, *o, y)
                } else {
                    slow(p, y, *o)
                };
            }
        }
    }
}

/// int8 ReLU with unchanged quantization: `max(x, zero_point)`.
#[inline(never)]
pub fn relu_s8(zero_point: i8, input: &[i8], output: &mut [i8]) {
    for (o, &x) in output.iter_mut().zip(input) {
        *o = x.max(zero_point);
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::format::AddQuant;
    use crate::kernels::reference;
    use std::{vec, vec::Vec};

    /// Every pair of int8 inputs through [`Prepared`] against the reference, for input
    /// multipliers with shifts 0..=−31 (and left shifts 0..=22) and output multipliers on
    /// both requantization paths.
    #[test]
    fn prepared_matches_reference_on_every_input_pair() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let xs: Vec<i8> = (-128..=127).collect();
        for case in 0..60 {
            let r = next();
            let shift_a = -((r % 32) as i32);
            let shift_b = -(((r >> 8) % 32) as i32);
            let ls = [20, 0, 22, 7][case % 4];
            let m = |bits: u64| ((1u64 << 30) + (bits % (1 << 30))) as i32;
            let quant = AddQuant {
                left_shift: ls,
                a: Requant {
                    multiplier: if case == 0 { 1 << 30 } else { m(next()) },
                    shift: if case == 0 { 0 } else { shift_a },
                },
                b: Requant {
                    multiplier: m(next()),
                    shift: shift_b,
                },
                out: Requant {
                    multiplier: m(next()),
                    // Both the folded (−22..=−2) and the per-value path.
                    shift: -((next() % 30) as i32) + 1,
                },
            };
            let zp = |v: u64| (v % 256) as i32 - 128;
            let output_zp = zp(next());
            let relu = case % 3 == 0;
            let p = AddParams {
                quant,
                a_zp: zp(next()),
                b_zp: zp(next()),
                output_zp,
                act_min: if relu { output_zp } else { -128 },
                act_max: 127,
            };
            let a: Vec<i8> = xs.iter().flat_map(|&x| [x; 256]).collect();
            let b: Vec<i8> = (0..256).flat_map(|_| xs.iter().copied()).collect();
            let mut want = vec![0i8; a.len()];
            let mut got = vec![0i8; a.len()];
            reference::add_s8(&p, &a, &b, &mut want);
            add_s8(&p, &a, &b, &mut [], &mut got);
            let mut lut = vec![0u8; LUT_BYTES + 4];
            let mut got2 = vec![0i8; a.len()];
            add_s8(&p, &a, &b, &mut lut, &mut got2);
            assert!(got2 == want, "tables, case {case}");
            assert!(got == want, "case {case}: {p:?}");
            let mut acc = a.clone();
            add_s8_in_place(&p, true, &mut acc, &b, &mut lut);
            assert!(acc == want, "in place over a, case {case}");
            let mut acc = b.clone();
            add_s8_in_place(&p, false, &mut acc, &a, &mut lut);
            assert!(acc == want, "in place over b, case {case}");
        }
    }
}
