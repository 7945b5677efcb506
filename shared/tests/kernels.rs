//! The public kernels against the reference loops (int8: bit for bit) and against naive f64
//! loops (f32), on randomized shapes; plus an int8-vs-f32 agreement check with a derived bound.

use proptest::prelude::*;
use whittle_shared::format::{AddQuant, Padding, Requant, Shape};
use whittle_shared::kernels::{
    self, AddParams, ConvGeom, OutQuant, PoolGeom, conv2d_s8_scratch_bytes, dense_s8_scratch_bytes,
    reference,
};
use whittle_shared::requant::quantize_multiplier;

/// SplitMix64: deterministic data from a proptest-chosen seed (shapes shrink, data follows).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
    fn i8s(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.next() as i8).collect()
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn f32s(&mut self, n: usize, scale: f64) -> Vec<f32> {
        (0..n)
            .map(|_| ((self.unit() * 2.0 - 1.0) * scale) as f32)
            .collect()
    }
    /// A valid requantization multiplier: mostly realistic scales, sometimes extreme ones.
    fn requant(&mut self) -> Requant {
        match self.range(0, 9) {
            0 => Requant {
                multiplier: self.range(0, i32::MAX as i64) as i32,
                shift: self.range(-31, 30) as i32,
            },
            1 => Requant {
                multiplier: 0,
                shift: 0,
            },
            _ => Requant {
                multiplier: self.range(1 << 30, i32::MAX as i64) as i32,
                shift: self.range(-14, 1) as i32,
            },
        }
    }
}

/// A convolution geometry from raw draws, adjusted so the output is at least 1×1.
#[allow(clippy::too_many_arguments)]
fn conv_geom(ic: u16, oc: u16, k: [u8; 2], s: [u8; 2], pad: [u8; 4], h: u16, w: u16) -> ConvGeom {
    // padding strictly smaller than the kernel, as frameworks produce
    let p = |v: u8, k: u8| v % k;
    let padding = Padding {
        top: p(pad[0], k[0]),
        left: p(pad[1], k[1]),
        bottom: p(pad[2], k[0]),
        right: p(pad[3], k[1]),
    };
    let h = h
        .max(k[0] as u16 - (padding.top + padding.bottom).min(k[0]) as u16)
        .max(1);
    let w = w
        .max(k[1] as u16 - (padding.left + padding.right).min(k[1]) as u16)
        .max(1);
    let ph = h + padding.top as u16 + padding.bottom as u16;
    let pw = w + padding.left as u16 + padding.right as u16;
    let oh = (ph - k[0] as u16) / s[0] as u16 + 1;
    let ow = (pw - k[1] as u16) / s[1] as u16 + 1;
    ConvGeom {
        input: Shape::new(ic, h, w),
        output: Shape::new(oc, oh, ow),
        kernel: k,
        stride: s,
        padding,
    }
}

fn conv_strategy() -> impl Strategy<Value = (ConvGeom, u64)> {
    (
        1u16..=40,
        1u16..=40,
        (1u8..=5, 1u8..=5),
        (1u8..=2, 1u8..=2),
        any::<[u8; 4]>(),
        (1u16..=11, 1u16..=11),
        any::<u64>(),
    )
        .prop_map(|(ic, oc, k, s, pad, (h, w), seed)| {
            (conv_geom(ic, oc, [k.0, k.1], [s.0, s.1], pad, h, w), seed)
        })
}

fn out_quant(r: &mut Rng) -> OutQuant {
    let relu = r.range(0, 1) == 1;
    OutQuant::new(r.range(-128, 127) as i32, r.range(-128, 127) as i32, relu)
}

/// Runs the public int8 conv and the reference on one geometry; returns both outputs.
fn run_conv_s8(g: &ConvGeom, seed: u64, scratch_extra: isize) -> (Vec<i8>, Vec<i8>) {
    run_conv_s8_shift(g, seed, scratch_extra, None)
}

/// [`run_conv_s8`] with every channel's requant shift forced to `shift` if given.
fn run_conv_s8_shift(
    g: &ConvGeom,
    seed: u64,
    scratch_extra: isize,
    shift: Option<i32>,
) -> (Vec<i8>, Vec<i8>) {
    let mut r = Rng(seed);
    let (oc, k) = (g.output.c as usize, g.filter_len());
    let q = out_quant(&mut r);
    let input = r.i8s(g.input.len());
    let weights = r.i8s(oc * k);
    let bias: Vec<i32> = (0..oc).map(|_| r.range(-70_000, 70_000) as i32).collect();
    let requant: Vec<Requant> = (0..oc)
        .map(|_| {
            let m = r.requant();
            Requant {
                shift: shift.unwrap_or(m.shift),
                ..m
            }
        })
        .collect();
    let mut want = vec![0i8; g.output.len()];
    reference::conv2d_s8(g, &q, &input, &weights, &bias, &requant, &mut want);
    let n = (conv2d_s8_scratch_bytes(g) as isize + scratch_extra).max(0) as usize;
    let mut scratch = vec![0xA5u8; n];
    let mut got = vec![0i8; g.output.len()];
    kernels::conv2d_s8(
        g,
        &q,
        &input,
        &weights,
        &bias,
        &requant,
        &mut scratch,
        &mut got,
    );
    (got, want)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn conv2d_s8_matches_reference((g, seed) in conv_strategy()) {
        let (got, want) = run_conv_s8(&g, seed, 0);
        prop_assert_eq!(got, want, "{:?}", g);
    }

    #[test]
    fn dense_s8_matches_reference(n in 1usize..=300, m in 1usize..=40, seed in any::<u64>()) {
        let mut r = Rng(seed);
        let q = out_quant(&mut r);
        let input = r.i8s(n);
        let weights = r.i8s(n * m);
        let bias: Vec<i32> = (0..m).map(|_| r.range(-70_000, 70_000) as i32).collect();
        let requant: Vec<Requant> = (0..m).map(|_| r.requant()).collect();
        let mut want = vec![0i8; m];
        reference::dense_s8(&q, &input, &weights, &bias, &requant, &mut want);
        let mut scratch = vec![0x5Au8; dense_s8_scratch_bytes(n, m)];
        let mut got = vec![0i8; m];
        kernels::dense_s8(&q, &input, &weights, &bias, &requant, &mut scratch, &mut got);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn pools_s8_match_reference(
        c in 1u16..=40,
        k in (1u8..=4, 1u8..=4),
        s in (1u8..=3, 1u8..=3),
        hw in (1u16..=12, 1u16..=12),
        seed in any::<u64>(),
    ) {
        let g = pool_geom(c, [k.0, k.1], [s.0, s.1], hw);
        let input = Rng(seed).i8s(g.input.len());
        for (name, fast, slow) in [
            ("max", kernels::maxpool2d_s8 as fn(&PoolGeom, &[i8], &mut [i8]),
             reference::maxpool2d_s8 as fn(&PoolGeom, &[i8], &mut [i8])),
            ("avg", kernels::avgpool2d_s8, reference::avgpool2d_s8),
        ] {
            let (mut got, mut want) = (vec![0i8; g.output.len()], vec![0i8; g.output.len()]);
            fast(&g, &input, &mut got);
            slow(&g, &input, &mut want);
            prop_assert_eq!(got, want, "{}pool {:?}", name, g);
        }
        let (mut got, mut want) = (vec![0i8; c as usize], vec![0i8; c as usize]);
        kernels::global_avgpool_s8(g.input, &input, &mut got);
        reference::global_avgpool_s8(g.input, &input, &mut want);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn add_and_relu_s8_match_reference(n in 0usize..=200, seed in any::<u64>()) {
        let mut r = Rng(seed);
        let (a, b) = (r.i8s(n), r.i8s(n));
        let mut m = || Requant {
            multiplier: r.range(1 << 30, i32::MAX as i64) as i32,
            shift: r.range(-12, 0) as i32,
        };
        let quant = AddQuant { left_shift: 20, a: m(), b: m(), out: m() };
        let mut r = Rng(seed ^ 1);
        let q = OutQuant::new(0, r.range(-128, 127) as i32, r.range(0, 1) == 1);
        let p = AddParams {
            quant,
            a_zp: r.range(-128, 127) as i32,
            b_zp: r.range(-128, 127) as i32,
            output_zp: q.output_zp,
            act_min: q.act_min,
            act_max: q.act_max,
        };
        let (mut got, mut want) = (vec![0i8; n], vec![0i8; n]);
        reference::add_s8(&p, &a, &b, &mut want);
        // Without scratch (rescaling per element) and with the per-input tables.
        kernels::add_s8(&p, &a, &b, &mut [], &mut got);
        prop_assert_eq!(&got, &want);
        let mut scratch = vec![0u8; kernels::add_s8_scratch_bytes()];
        kernels::add_s8(&p, &a, &b, &mut scratch, &mut got);
        prop_assert_eq!(&got, &want);
        let mut acc = b.clone();
        kernels::add_s8_in_place(&p, false, &mut acc, &a, &mut scratch);
        prop_assert_eq!(&acc, &want);
        let zp = r.range(-128, 127) as i8;
        kernels::relu_s8(zp, &a, &mut got);
        reference::relu_s8(zp, &a, &mut want);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn conv2d_f32_matches_f64((g, seed) in conv_strategy(), relu in any::<bool>()) {
        let mut r = Rng(seed);
        let (oc, k) = (g.output.c as usize, g.filter_len());
        let input = r.f32s(g.input.len(), 4.0);
        let weights = r.f32s(oc * k, 0.5);
        let bias = r.f32s(oc, 1.0);
        let mut got = vec![0f32; g.output.len()];
        kernels::conv2d_f32(&g, relu, &input, &weights, &bias, &mut got);
        let (want, mag) = conv_f64(&g, relu, &input, &weights, &bias);
        for (i, ((&y, &x), &m)) in got.iter().zip(&want).zip(&mag).enumerate() {
            prop_assert!(close(y, x, m), "{i}: {y} vs {x} (Σ|terms| {m}) {g:?}");
        }
    }

    #[test]
    fn dense_f32_matches_f64(n in 0usize..=300, m in 1usize..=40, relu in any::<bool>(), seed in any::<u64>()) {
        let mut r = Rng(seed);
        let input = r.f32s(n, 4.0);
        let weights = r.f32s(n * m, 0.5);
        let bias = r.f32s(m, 1.0);
        let mut got = vec![0f32; m];
        kernels::dense_f32(relu, &input, &weights, &bias, &mut got);
        for (o, &y) in got.iter().enumerate() {
            let terms = (0..n).map(|i| input[i] as f64 * weights[o * n + i] as f64);
            let exact = bias[o] as f64 + terms.clone().sum::<f64>();
            let mag = (bias[o] as f64).abs() + terms.map(f64::abs).sum::<f64>();
            let exact = if relu { exact.max(0.0) } else { exact };
            prop_assert!(close(y, exact, mag), "{o}: {y} vs {exact}");
        }
    }

    #[test]
    fn pools_f32_match_f64(
        c in 1u16..=20,
        k in (1u8..=4, 1u8..=4),
        s in (1u8..=3, 1u8..=3),
        hw in (1u16..=10, 1u16..=10),
        seed in any::<u64>(),
    ) {
        let g = pool_geom(c, [k.0, k.1], [s.0, s.1], hw);
        let input = Rng(seed).f32s(g.input.len(), 4.0);
        let (mut mx, mut av) = (vec![0f32; g.output.len()], vec![0f32; g.output.len()]);
        kernels::maxpool2d_f32(&g, &input, &mut mx);
        kernels::avgpool2d_f32(&g, &input, &mut av);
        let cn = c as usize;
        for oy in 0..g.output.h as usize {
            for ox in 0..g.output.w as usize {
                for ch in 0..cn {
                    let mut taps = vec![];
                    for ky in 0..k.0 as usize {
                        for kx in 0..k.1 as usize {
                            let (iy, ix) = (oy * s.0 as usize + ky, ox * s.1 as usize + kx);
                            taps.push(input[(iy * g.input.w as usize + ix) * cn + ch] as f64);
                        }
                    }
                    let at = (oy * g.output.w as usize + ox) * cn + ch;
                    let max = taps.iter().copied().fold(f64::MIN, f64::max);
                    let mag = taps.iter().map(|t| t.abs()).sum::<f64>() / taps.len() as f64;
                    let mean = taps.iter().sum::<f64>() / taps.len() as f64;
                    prop_assert_eq!(mx[at] as f64, max);
                    prop_assert!(close(av[at], mean, mag), "{} vs {}", av[at], mean);
                }
            }
        }
    }

    /// Quantize a random f32 conv, run it in int8, dequantize: every output lies within
    /// the error bound derived in [`int8_error_bound`] of the f32 result.
    #[test]
    fn conv2d_s8_agrees_with_f32((g, seed) in conv_strategy(), relu in any::<bool>()) {
        check_int8_vs_f32(&g, seed, relu)?;
    }
}

fn pool_geom(c: u16, k: [u8; 2], s: [u8; 2], hw: (u16, u16)) -> PoolGeom {
    let (h, w) = (hw.0.max(k[0] as u16), hw.1.max(k[1] as u16));
    PoolGeom {
        input: Shape::new(c, h, w),
        output: Shape::new(
            c,
            (h - k[0] as u16) / s[0] as u16 + 1,
            (w - k[1] as u16) / s[1] as u16 + 1,
        ),
        kernel: k,
        stride: s,
    }
}

/// `|got − exact| ≤ 1e-5 · Σ|terms|`: relative to the magnitude of the summands, the
/// meaningful scale for a sum that may cancel (plus a tiny absolute floor for all-zero sums).
fn close(got: f32, exact: f64, magnitude: f64) -> bool {
    (got as f64 - exact).abs() <= 1e-5 * magnitude + 1e-30
}

/// Naive f64 convolution: exact values and `|bias| + Σ|x·w|` per output.
fn conv_f64(
    g: &ConvGeom,
    relu: bool,
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
) -> (Vec<f64>, Vec<f64>) {
    let (ic, oc) = (g.input.c as usize, g.output.c as usize);
    let (kh, kw) = (g.kernel[0] as usize, g.kernel[1] as usize);
    let (mut out, mut mag) = (vec![], vec![]);
    for oy in 0..g.output.h as usize {
        for ox in 0..g.output.w as usize {
            for o in 0..oc {
                let (mut acc, mut m) = (bias[o] as f64, (bias[o] as f64).abs());
                for ky in 0..kh {
                    for kx in 0..kw {
                        let iy = (oy * g.stride[0] as usize + ky) as isize - g.padding.top as isize;
                        let ix =
                            (ox * g.stride[1] as usize + kx) as isize - g.padding.left as isize;
                        if iy < 0 || ix < 0 || iy >= g.input.h as isize || ix >= g.input.w as isize
                        {
                            continue;
                        }
                        for c in 0..ic {
                            let x =
                                input[(iy as usize * g.input.w as usize + ix as usize) * ic + c];
                            let w = weights[((o * kh + ky) * kw + kx) * ic + c];
                            acc += x as f64 * w as f64;
                            m += (x as f64 * w as f64).abs();
                        }
                    }
                }
                out.push(if relu { acc.max(0.0) } else { acc });
                mag.push(m);
            }
        }
    }
    (out, mag)
}

/// Quantizes `v` with `scale` and zero point `zp` to int8 (saturating).
fn quantize(v: f64, scale: f64, zp: i32) -> i8 {
    ((v / scale).round() as i64 + zp as i64).clamp(-128, 127) as i8
}

/// The bound on `|dequant(int8 conv) − f32 conv|` for one output, with `x̂`, `ŵ` the
/// dequantized inputs and weights (`|x̂ − x| ≤ s_x/2`, `|ŵ − w| ≤ s_w/2`):
///
/// * inputs and weights: `|Σ x̂ŵ − Σ xw| ≤ Σ (s_x/2)·|w| + |x̂|·(s_w/2)`;
/// * bias, quantized with scale `s_x·s_w`: `s_x·s_w / 2`;
/// * requantization: rounding the scaled accumulator to the output grid twice (the
///   doubling high multiply, then the rounding shift) is at most 1 output step `s_y`, and
///   the Q31 multiplier's relative error (≤ 2⁻³¹ of a value in [0.5, 1)) adds
///   `|acc·M|·2⁻³⁰·s_y`;
/// * the f32 side's own rounding: `1e-6·Σ|xw|`, and a clamp to the output range only ever
///   moves the int8 result toward the f32 one (the range covers the f32 outputs).
fn int8_error_bound(sx: f64, sw: f64, sy: f64, xhat: &[f64], w: &[f64], acc_real: f64) -> f64 {
    let terms: f64 = xhat
        .iter()
        .zip(w)
        .map(|(x, w)| sx / 2.0 * w.abs() + x.abs() * sw / 2.0)
        .sum();
    let mag: f64 = xhat.iter().zip(w).map(|(x, w)| (x * w).abs()).sum();
    terms + sx * sw / 2.0 + sy + (acc_real.abs() / sy) * 2f64.powi(-30) * sy + 1e-6 * mag
}

fn check_int8_vs_f32(g: &ConvGeom, seed: u64, relu: bool) -> Result<(), TestCaseError> {
    let mut r = Rng(seed);
    let (ic, oc, k) = (g.input.c as usize, g.output.c as usize, g.filter_len());
    let (kh, kw) = (g.kernel[0] as usize, g.kernel[1] as usize);
    // f32 model: asymmetric input range, per-channel weight scales
    let (lo, hi) = (-r.unit() * 2.0, 0.5 + r.unit() * 3.0);
    let input: Vec<f32> = (0..g.input.len())
        .map(|_| (lo + r.unit() * (hi - lo)) as f32)
        .collect();
    let weights: Vec<f32> = (0..oc)
        .flat_map(|_| {
            let s = 0.05 + r.unit();
            (0..k)
                .map(|_| ((r.unit() * 2.0 - 1.0) * s) as f32)
                .collect::<Vec<_>>()
        })
        .collect();
    let bias = r.f32s(oc, 0.5);
    let mut yf = vec![0f32; g.output.len()];
    kernels::conv2d_f32(g, relu, &input, &weights, &bias, &mut yf);

    // quantize: input asymmetric, weights symmetric per output channel
    // 253 steps (not 255): rounding x and the zero point separately then never clips
    let sx = (hi - lo) / 253.0;
    let zx = (-127.0 - lo / sx).round() as i32;
    let xq: Vec<i8> = input.iter().map(|&v| quantize(v as f64, sx, zx)).collect();
    let xhat: Vec<f64> = xq.iter().map(|&q| (q as i32 - zx) as f64 * sx).collect();
    let sw: Vec<f64> = (0..oc)
        .map(|o| {
            let m = weights[o * k..(o + 1) * k]
                .iter()
                .fold(0f64, |a, &w| a.max((w as f64).abs()));
            if m > 0.0 { m / 127.0 } else { 1.0 }
        })
        .collect();
    let wq: Vec<i8> = (0..oc * k)
        .map(|i| quantize(weights[i] as f64, sw[i / k], 0))
        .collect();
    let bq: Vec<i32> = (0..oc)
        .map(|o| (bias[o] as f64 / (sx * sw[o])).round() as i32)
        .collect();
    // output range covers the f32 results with a margin
    let (ylo, yhi) = yf.iter().fold((0f64, 0f64), |(a, b), &y| {
        (a.min(y as f64), b.max(y as f64))
    });
    let (ylo, yhi) = (ylo * 1.1 - 0.01, yhi * 1.1 + 0.01);
    let sy = (yhi - ylo) / 255.0;
    let zy = (-128.0 - ylo / sy).round().clamp(-128.0, 127.0) as i32;
    let requant: Vec<Requant> = (0..oc)
        .map(|o| quantize_multiplier(sx * sw[o] / sy))
        .collect();
    let q = OutQuant::new(zx, zy, relu);
    let mut yq = vec![0i8; g.output.len()];
    let mut scratch = vec![0u8; conv2d_s8_scratch_bytes(g)];
    kernels::conv2d_s8(g, &q, &xq, &wq, &bq, &requant, &mut scratch, &mut yq);

    for oy in 0..g.output.h as usize {
        for ox in 0..g.output.w as usize {
            for o in 0..oc {
                let at = (oy * g.output.w as usize + ox) * oc + o;
                // the window's dequantized inputs and real weights (padding taps: none)
                let (mut xs, mut ws) = (vec![], vec![]);
                for ky in 0..kh {
                    for kx in 0..kw {
                        let iy = (oy * g.stride[0] as usize + ky) as isize - g.padding.top as isize;
                        let ix =
                            (ox * g.stride[1] as usize + kx) as isize - g.padding.left as isize;
                        if iy < 0 || ix < 0 || iy >= g.input.h as isize || ix >= g.input.w as isize
                        {
                            continue;
                        }
                        for c in 0..ic {
                            xs.push(
                                xhat[(iy as usize * g.input.w as usize + ix as usize) * ic + c],
                            );
                            ws.push(weights[((o * kh + ky) * kw + kx) * ic + c] as f64);
                        }
                    }
                }
                let got = (yq[at] as i32 - zy) as f64 * sy;
                let want = yf[at] as f64;
                let bound = int8_error_bound(sx, sw[o], sy, &xs, &ws, want);
                prop_assert!(
                    (got - want).abs() <= bound,
                    "out {at}: int8 {got} vs f32 {want}, bound {bound} {g:?}"
                );
            }
        }
    }
    Ok(())
}

/// A scratch buffer shorter than asked for (or misaligned) still gives the exact result.
#[test]
fn conv2d_s8_short_or_misaligned_scratch_falls_back() {
    let g = conv_geom(5, 7, [3, 3], [1, 1], [1, 1, 1, 1], 6, 5);
    for extra in [-1, -20, -10_000] {
        let (got, want) = run_conv_s8(&g, 7, extra);
        assert_eq!(got, want, "scratch {extra}");
    }
}

/// The seed CIFAR-10 net's layer shapes (3x3 same), shrunk in height to keep tests fast.
#[test]
fn conv2d_s8_seed_net_shapes() {
    let p = [1, 1, 1, 1];
    for (ic, oc, h, w) in [
        (3, 16, 5, 32),
        (16, 24, 4, 32),
        (24, 32, 5, 16),
        (32, 32, 3, 16),
    ] {
        let g = conv_geom(ic, oc, [3, 3], [1, 1], p, h, w);
        for seed in 0..4 {
            let (got, want) = run_conv_s8(&g, seed, 0);
            assert_eq!(got, want, "{g:?}");
        }
    }
}

/// Input channel counts that are not a multiple of 4 (the staged im2col) and small multiples
/// of it, at odd widths, with windows that are all padding-free (valid), mixed (same) and
/// strided, so both the padding-free fast path and the padded path of the column build run.
#[test]
fn conv2d_s8_small_and_odd_channel_counts() {
    for ic in [1, 2, 3, 4, 5, 6, 7, 8] {
        for w in [1, 3, 5, 7, 13] {
            for (k, pad, s) in [
                (3, 1, 1),
                (3, 0, 1),
                (5, 2, 1),
                (3, 1, 2),
                (2, 0, 1),
                (1, 0, 1),
            ] {
                let p = [pad; 4];
                let g = conv_geom(ic, 5, [k, k], [s, s], p, 6, w);
                for seed in 0..2 {
                    let (got, want) = run_conv_s8(&g, seed, 0);
                    assert_eq!(got, want, "{g:?} seed {seed}");
                }
            }
        }
    }
}

/// Every valid requant shift through the conv and dense entry points: the fused rounding
/// path (right shift ≥ 2) and the general one (−1, 0 and left shifts) meet at −2 / −1.
#[test]
fn kernels_s8_every_requant_shift() {
    let g = conv_geom(3, 6, [3, 3], [1, 1], [1, 1, 1, 1], 5, 7);
    let g4 = conv_geom(8, 5, [3, 3], [1, 1], [1, 1, 1, 1], 4, 5);
    for shift in -31..=30 {
        for seed in 0..3 {
            for g in [&g, &g4] {
                let (got, want) = run_conv_s8_shift(g, seed, 0, Some(shift));
                assert_eq!(got, want, "{g:?} shift {shift} seed {seed}");
            }
            let mut r = Rng(seed ^ 0xD1CE);
            let (n, m) = (37, 7);
            let q = out_quant(&mut r);
            let input = r.i8s(n);
            let weights = r.i8s(n * m);
            let bias: Vec<i32> = (0..m).map(|_| r.range(-70_000, 70_000) as i32).collect();
            let requant: Vec<Requant> = (0..m)
                .map(|_| Requant {
                    shift,
                    ..r.requant()
                })
                .collect();
            let mut want = vec![0i8; m];
            reference::dense_s8(&q, &input, &weights, &bias, &requant, &mut want);
            let mut scratch = vec![0x5Au8; dense_s8_scratch_bytes(n, m)];
            let mut got = vec![0i8; m];
            kernels::dense_s8(
                &q,
                &input,
                &weights,
                &bias,
                &requant,
                &mut scratch,
                &mut got,
            );
            assert_eq!(got, want, "dense shift {shift} seed {seed}");
        }
    }
}

/// Runs the public int8 conv and the reference with explicit quantization: `shifts[o % len]`
/// as channel `o`'s requant shift; returns both outputs.
fn run_conv_s8_with(g: &ConvGeom, seed: u64, q: &OutQuant, shifts: &[i32]) -> (Vec<i8>, Vec<i8>) {
    let mut r = Rng(seed);
    let (oc, k) = (g.output.c as usize, g.filter_len());
    let input = r.i8s(g.input.len());
    let weights = r.i8s(oc * k);
    let bias: Vec<i32> = (0..oc).map(|_| r.range(-70_000, 70_000) as i32).collect();
    let requant: Vec<Requant> = (0..oc)
        .map(|o| Requant {
            multiplier: r.range(1 << 30, i32::MAX as i64) as i32,
            shift: shifts[o % shifts.len()],
        })
        .collect();
    let mut want = vec![0i8; g.output.len()];
    reference::conv2d_s8(g, q, &input, &weights, &bias, &requant, &mut want);
    let mut scratch = vec![0xA5u8; conv2d_s8_scratch_bytes(g)];
    let mut got = vec![0i8; g.output.len()];
    kernels::conv2d_s8(
        g,
        q,
        &input,
        &weights,
        &bias,
        &requant,
        &mut scratch,
        &mut got,
    );
    (got, want)
}

/// The seed net's shapes at pruned widths (halved, and the odd widths learned pruning
/// leaves), full 32 / 16 columns so every kind of 4-pixel block occurs: padding-free, left
/// and right padding, top and bottom rows, and the first and last input pixel.
#[test]
fn conv2d_s8_pruned_widths() {
    let p = [1, 1, 1, 1];
    for widths in [[8, 12, 16, 16], [7, 13, 20, 19], [4, 5, 9, 3]] {
        let [c0, c1, c2, c3] = widths;
        for (ic, oc, h, w) in [
            (3, c0, 4, 32),
            (c0, c1, 4, 32),
            (c1, c2, 4, 16),
            (c2, c3, 3, 16),
        ] {
            let g = conv_geom(ic, oc, [3, 3], [1, 1], p, h, w);
            for seed in 0..3 {
                let (got, want) = run_conv_s8(&g, seed, 0);
                assert_eq!(got, want, "{g:?}");
                let q = OutQuant::new(-5, -17, true);
                let (got, want) = run_conv_s8_with(&g, seed, &q, &[-9, -10, -8]);
                assert_eq!(got, want, "{g:?} folded");
            }
        }
    }
}

/// The folded requantization (right shifts 2..=22, zero point folded into the rounding
/// constant) at its bounds, with and without an upper clamp below 127, and a layer where
/// one channel falls outside the range so the whole layer takes the per-channel path.
#[test]
fn conv2d_s8_folded_requant_bounds_and_clamps() {
    let shift_sets: [&[i32]; 6] = [&[-2], &[-22], &[-2, -22, -13], &[-23], &[-8, -1], &[-9, 0]];
    let quants = [
        OutQuant::new(0, 0, false),
        OutQuant::new(7, -128, true),
        OutQuant::new(-128, 127, true),
        OutQuant::new(3, 127, false),
        OutQuant {
            input_zp: -4,
            output_zp: -20,
            act_min: -20,
            act_max: 40,
        },
        OutQuant {
            input_zp: 11,
            output_zp: 5,
            act_min: -100,
            act_max: 100,
        },
    ];
    for (ic, oc) in [(3, 5), (8, 6), (6, 9)] {
        let g = conv_geom(ic, oc, [3, 3], [1, 1], [1, 1, 1, 1], 3, 9);
        for shifts in shift_sets {
            for q in &quants {
                for seed in 0..2 {
                    let (got, want) = run_conv_s8_with(&g, seed, q, shifts);
                    assert_eq!(got, want, "{g:?} {q:?} shifts {shifts:?}");
                }
            }
        }
    }
}

/// Output widths that are not a multiple of the 4-pixel block (blocks span two output rows)
/// and strides of 2, through both column builds (whole groups of 4 channels, and staged).
#[test]
fn conv2d_s8_blocks_across_rows_and_strides() {
    for ic in [3, 4, 8, 12] {
        for (w, s) in [(6, 1), (7, 1), (9, 2), (10, 2), (17, 1)] {
            let g = conv_geom(ic, 6, [3, 3], [s, s], [1, 1, 1, 1], 5, w);
            for seed in 0..2 {
                let (got, want) = run_conv_s8(&g, seed, 0);
                assert_eq!(got, want, "{g:?}");
            }
        }
    }
}

/// One 1×1 layer's data: quantization (a fused ReLU or not), input, weights, bias and
/// multipliers that take the folded requantization (right shifts 2..=14).
struct Pointwise {
    q: OutQuant,
    input: Vec<i8>,
    weights: Vec<i8>,
    bias: Vec<i32>,
    requant: Vec<Requant>,
}

fn pointwise(g: &ConvGeom, r: &mut Rng, relu: bool) -> Pointwise {
    let (oc, k) = (g.output.c as usize, g.filter_len());
    let q = OutQuant::new(r.range(-128, 127) as i32, r.range(-128, 127) as i32, relu);
    Pointwise {
        q,
        input: r.i8s(g.input.len()),
        weights: r.i8s(oc * k),
        bias: (0..oc).map(|_| r.range(-70_000, 70_000) as i32).collect(),
        requant: (0..oc)
            .map(|_| Requant {
                multiplier: r.range(1 << 30, i32::MAX as i64) as i32,
                shift: r.range(-14, -2) as i32,
            })
            .collect(),
    }
}

/// The 1×1 geometries of the direct path's tests: stride 1 and 2, odd and even sizes (output
/// widths that are and are not a multiple of the 4-pixel block), the channel counts of
/// ResNet-8 and its pruned widths.
fn pointwise_geoms() -> Vec<ConvGeom> {
    let chans = [3u16, 4, 12, 16, 20, 32, 40, 64];
    let mut gs = Vec::new();
    for (i, &ic) in chans.iter().enumerate() {
        for (j, &oc) in chans.iter().enumerate() {
            // Every pair once at one size, cycling through the sizes and both strides.
            let (s, h, w) = [
                (1, 5, 9),
                (2, 16, 16),
                (2, 9, 11),
                (1, 4, 4),
                (2, 8, 7),
                (1, 3, 13),
                (2, 15, 9),
            ][(i * chans.len() + j) % 7];
            gs.push(conv_geom(ic, oc, [1, 1], [s, s], [0; 4], h, w));
        }
    }
    gs
}

/// The direct 1×1 conv (planned wherever the input channels are a multiple of 4 and a row
/// holds a block) against the reference loops, bit for bit, with and without a fused ReLU.
#[test]
fn conv2d_s8_1x1_direct_matches_reference() {
    use kernels::select::{self, Kernel};
    let mut direct = 0;
    for g in pointwise_geoms() {
        for (seed, relu) in [(1, false), (2, true), (3, false)] {
            let mut r = Rng(seed ^ (g.input.c as u64) << 8 ^ (g.output.c as u64) << 16);
            let l = pointwise(&g, &mut r, relu);
            let mut want = vec![0i8; g.output.len()];
            reference::conv2d_s8(
                &g, &l.q, &l.input, &l.weights, &l.bias, &l.requant, &mut want,
            );
            let mut scratch = vec![0xA5u8; conv2d_s8_scratch_bytes(&g)];
            let words = select::scratch_words(0, scratch.len());
            let kernel = select::conv_s8(
                &g,
                &l.q,
                l.input.len(),
                l.weights.len(),
                &l.bias,
                &l.requant,
                want.len(),
                words,
            );
            let expect_direct = g.input.c.is_multiple_of(4) && g.output.w >= 4;
            assert_eq!(
                kernel == Kernel::ConvPointwise,
                expect_direct,
                "{g:?}: {kernel:?}"
            );
            direct += expect_direct as usize;
            let mut got = vec![0i8; g.output.len()];
            kernels::conv2d_s8(
                &g,
                &l.q,
                &l.input,
                &l.weights,
                &l.bias,
                &l.requant,
                &mut scratch,
                &mut got,
            );
            assert_eq!(got, want, "{g:?} relu {relu}");
        }
    }
    assert!(direct > 100, "{direct} direct runs");
}

/// The direct 1×1 conv fused with the residual add after it (the skip as either input, two
/// tables, one, or a scratch too short for the direct path) against the reference conv then
/// the reference add, bit for bit.
#[test]
fn conv2d_add_s8_1x1_direct_matches_conv_then_add() {
    use kernels::select::{self, Kernel};
    let mut seen = [0usize; 3];
    for g in pointwise_geoms() {
        for (seed, relu) in [(5, false), (6, true)] {
            let mut r = Rng(seed ^ (g.input.c as u64) << 8 ^ (g.output.c as u64) << 16);
            let l = pointwise(&g, &mut r, relu);
            let mut m = || Requant {
                multiplier: r.range(1 << 30, i32::MAX as i64) as i32,
                shift: r.range(-12, 0) as i32,
            };
            let (a, b, out) = (m(), m(), m());
            let quant = AddQuant {
                left_shift: 20,
                a,
                b,
                out: Requant {
                    shift: r.range(-20, -2) as i32,
                    ..out
                },
            };
            let aq = OutQuant::new(0, r.range(-128, 127) as i32, r.range(0, 1) == 1);
            let add = AddParams {
                quant,
                a_zp: r.range(-128, 127) as i32,
                b_zp: l.q.output_zp,
                output_zp: aq.output_zp,
                act_min: aq.act_min,
                act_max: aq.act_max,
            };
            let skip0 = r.i8s(g.output.len());
            let mut conv = vec![0i8; g.output.len()];
            reference::conv2d_s8(
                &g, &l.q, &l.input, &l.weights, &l.bias, &l.requant, &mut conv,
            );
            let declared = kernels::conv2d_add_s8_scratch_bytes(&g);
            let least = kernels::conv2d_add_s8_min_scratch_bytes(&g);
            for skip_is_a in [true, false] {
                let mut want = vec![0i8; g.output.len()];
                let mut add = add;
                if !skip_is_a {
                    (add.a_zp, add.b_zp) = (add.b_zp, add.a_zp);
                    (add.quant.a, add.quant.b) = (add.quant.b, add.quant.a);
                }
                if skip_is_a {
                    reference::add_s8(&add, &skip0, &conv, &mut want);
                } else {
                    reference::add_s8(&add, &conv, &skip0, &mut want);
                }
                for len in [declared + 1000, declared, declared - 700, least] {
                    let len = len.max(least);
                    let kernels = select::conv_add_s8(
                        &g,
                        &l.q,
                        l.input.len(),
                        l.weights.len(),
                        &l.bias,
                        &l.requant,
                        &add,
                        0,
                        len,
                    );
                    let two = len >= declared + 1000;
                    match kernels {
                        (Kernel::ConvAddPointwise, Kernel::ConvPointwise) => {
                            seen[two as usize] += 1
                        }
                        (Kernel::ConvAddPointwise, _) => panic!("{kernels:?}"),
                        _ => seen[2] += 1,
                    }
                    let mut scratch = vec![0x5Au8; len];
                    let mut got = skip0.clone();
                    let ran = kernels::conv2d_add_s8::<{ select::KernelSet::ALL.0 }>(
                        kernels,
                        &g,
                        &l.q,
                        &l.input,
                        &l.weights,
                        &l.bias,
                        &l.requant,
                        &add,
                        skip_is_a,
                        &mut scratch,
                        &mut got,
                    );
                    assert!(ran, "{kernels:?}");
                    assert_eq!(
                        got, want,
                        "{g:?} {kernels:?} scratch {len} skip_is_a {skip_is_a}"
                    );
                }
            }
        }
    }
    assert!(seen.iter().all(|&n| n > 20), "{seen:?}");
}
