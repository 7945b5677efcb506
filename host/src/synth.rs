//! Synthetic int8 models for tests and benchmarks: a simple layer list with seeded random
//! weights, requantized so activations neither saturate nor die, encoded as a whittle blob.

use whittle_shared::encode::AlignedBytes;
use whittle_shared::encode::Builder;
use whittle_shared::format::{Conv2d, Dense, Padding, Pool2d, Unary};
use whittle_shared::requant::quantize_multiplier;
use whittle_shared::{Model, Op, Precision, Requant, Shape, exec};

use crate::rng::SplitMix64;

/// Why a synthetic model could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// The layer list does not chain (e.g. a pool on a 1x1 map, a conv after flatten).
    #[error("layer {index} ({layer:?}) does not fit its input shape {c}x{h}x{w}")]
    BadLayer {
        index: usize,
        layer: Layer,
        c: u16,
        h: u16,
        w: u16,
    },
    /// The width factor is not a positive finite number.
    #[error("width factor {0} must be positive")]
    BadWidth(f32),
    /// The blob encoder or validator refused the model.
    #[error("encoding the blob: {0}")]
    Encode(#[from] whittle_shared::Error),
}

/// One layer of a synthetic model (3x3 'same' convs and ReLU fused, as in the seed nets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// 3x3 conv, stride 1, padding 1, `out` channels, fused ReLU.
    Conv(u16),
    /// 2x2 max pool, stride 2.
    MaxPool2,
    /// `c × h × w` → vector (HWC memory order, as the dense that follows reads it).
    Flatten,
    /// Fully connected layer with `out` outputs, ReLU fused or not.
    Dense { out: u16, relu: bool },
}

/// Named architectures `whittle synth --arch` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Arch {
    /// The seed CIFAR-10 net: Conv16-Conv24-Pool-Conv32-Conv32-Pool-Flatten-Dense48-Dense10.
    SeedC10,
}

impl Arch {
    /// Input shape of the architecture.
    pub fn input(self) -> Shape {
        match self {
            Arch::SeedC10 => Shape::new(3, 32, 32),
        }
    }

    /// The layer list with every hidden width scaled by `width` (rounded, at least 1);
    /// the classifier output stays 10.
    pub fn layers(self, width: f32) -> Result<Vec<Layer>, SynthError> {
        if !(width.is_finite() && width > 0.0) {
            return Err(SynthError::BadWidth(width));
        }
        let s = |c: u16| ((c as f32 * width).round() as u16).max(1);
        Ok(match self {
            Arch::SeedC10 => vec![
                Layer::Conv(s(16)),
                Layer::Conv(s(24)),
                Layer::MaxPool2,
                Layer::Conv(s(32)),
                Layer::Conv(s(32)),
                Layer::MaxPool2,
                Layer::Flatten,
                Layer::Dense {
                    out: s(48),
                    relu: true,
                },
                Layer::Dense {
                    out: 10,
                    relu: false,
                },
            ],
        })
    }
}

/// Input quantization of synthetic models: [-1, 1] in 255 steps, zero point 0.
pub const INPUT_SCALE: f32 = 2.0 / 255.0;

/// Target standard deviation of a layer's pre-activation in int8 steps: wide enough to
/// use the range, narrow enough that ReLU outputs (zero point -128) rarely clip at 127.
const TARGET_STD: f64 = 40.0;
/// Root-mean-square of `x - zero_point` of CIFAR inputs quantized with [`INPUT_SCALE`].
const INPUT_RMS: f64 = 64.0;
/// Standard deviation of weights drawn uniformly from [-127, 127].
const WEIGHT_STD: f64 = 73.3;
/// Scale of the int8 weights (only the ratios of scales reach the integer arithmetic).
const WEIGHT_SCALE: f64 = 1.0 / 256.0;

/// Calibration images the logits are centred on (smooth random colour patterns).
const CALIB_IMAGES: usize = 32;

/// Builds a blob for `layers` on an int8 input of `input` shape with weights drawn from
/// `seed`. Each layer's multipliers map its expected accumulator spread to ±[`TARGET_STD`]
/// (fan-in and the input's RMS tracked analytically), varied ±25% per channel.
///
/// Random features share a large class-independent mean, which would make one class win
/// every time; so when the last layer is a dense without ReLU (logits), the model without
/// it is run on calibration images and the logits' bias and gain are set to centre and
/// spread their exact accumulators: the predicted class then varies from image to image.
pub fn build(input: Shape, layers: &[Layer], seed: u64) -> Result<Vec<u8>, SynthError> {
    let mut params = draw(input, layers, seed)?;
    let n = layers.len();
    if let (Some(Layer::Dense { relu: false, .. }), true) = (layers.last(), n > 1) {
        let prefix = AlignedBytes::new(&encode(input, &layers[..n - 1], &params[..n - 1])?);
        let model = Model::from_bytes(&prefix)?;
        let zp = model.output()?.zero_point as i64;
        let mut ram = vec![0u128; model.ram_bytes().div_ceil(16)];
        let images = calibration_images(input, CALIB_IMAGES, seed);
        let mut accs: Vec<Vec<i64>> = Vec::new();
        if let Some(Some(q)) = params.last() {
            for img in &images {
                let f = exec::run_s8(&model, img, bytemuck::cast_slice_mut(&mut ram))?;
                let row = |k: usize| &q.weights[k * f.len()..(k + 1) * f.len()];
                accs.push(
                    (0..q.bias.len())
                        .map(|k| {
                            row(k)
                                .iter()
                                .zip(f)
                                .map(|(&w, &x)| w as i64 * (x as i64 - zp))
                                .sum()
                        })
                        .collect(),
                );
            }
        }
        if let Some(Some(q)) = params.last_mut() {
            let m = images.len().max(1) as f64;
            for k in 0..q.bias.len() {
                let mean = accs.iter().map(|a| a[k] as f64).sum::<f64>() / m;
                let var = accs
                    .iter()
                    .map(|a| (a[k] as f64 - mean).powi(2))
                    .sum::<f64>()
                    / m;
                q.bias[k] = -mean.round() as i32;
                q.requant[k] = quantize_multiplier(TARGET_STD / var.sqrt().max(1.0));
            }
        }
    }
    encode(input, layers, &params)
}

/// Builds `arch` at `width` from `seed`.
pub fn build_arch(arch: Arch, width: f32, seed: u64) -> Result<Vec<u8>, SynthError> {
    build(arch.input(), &arch.layers(width)?, seed)
}

/// `n` smooth int8 test patterns (HWC, [`INPUT_SCALE`]) drawn from `seed`.
pub fn calibration_images(input: Shape, n: usize, seed: u64) -> Vec<Vec<i8>> {
    let mut rng = SplitMix64::derive(seed, &[0x4341_4c49]); // "CALI"
    let (c, h, w) = (input.c as usize, input.h as usize, input.w as usize);
    (0..n)
        .map(|_| {
            let base: Vec<f32> = (0..c).map(|_| rng.below(256) as f32).collect();
            let fx = rng.below(8) as f32 + 1.0;
            let fy = rng.below(8) as f32 + 1.0;
            (0..h * w * c)
                .map(|i| {
                    let (p, ch) = (i / c, i % c);
                    let (y, x) = ((p / w) as f32, (p % w) as f32);
                    let wave = (x / fx).sin() + (y / fy + ch as f32).cos();
                    let v = base[ch] * 0.5 + 60.0 * wave;
                    (v.clamp(0.0, 255.0) - 127.5).round().clamp(-128.0, 127.0) as i8
                })
                .collect()
        })
        .collect()
}

/// Checks that `layers` chain from `input` and draws each conv's and dense's parameters.
fn draw(input: Shape, layers: &[Layer], seed: u64) -> Result<Vec<Option<Quant>>, SynthError> {
    let mut rng = SplitMix64::derive(seed, &[0x5359_4e54]); // "SYNT"
    let mut shape = input;
    let mut rms = INPUT_RMS;
    let mut params = Vec::with_capacity(layers.len());
    for (index, &layer) in layers.iter().enumerate() {
        let bad = SynthError::BadLayer {
            index,
            layer,
            c: shape.c,
            h: shape.h,
            w: shape.w,
        };
        let (out, q) = match layer {
            Layer::Conv(oc) if oc > 0 => {
                let q = Quant::new(&mut rng, 9 * shape.c as usize, oc as usize, rms, true);
                (Shape::new(oc, shape.h, shape.w), Some(q))
            }
            Layer::MaxPool2 if shape.h >= 2 && shape.w >= 2 => {
                rms *= 1.5; // the max of four ReLU outputs is larger than one
                (Shape::new(shape.c, shape.h / 2, shape.w / 2), None)
            }
            Layer::Flatten => {
                let n = u16::try_from(shape.len()).map_err(|_| bad)?;
                (Shape::vector(n), None)
            }
            Layer::Dense { out, relu } if shape.h == 1 && shape.w == 1 && out > 0 => {
                let q = Quant::new(&mut rng, shape.c as usize, out as usize, rms, relu);
                (Shape::vector(out), Some(q))
            }
            _ => return Err(bad),
        };
        if q.is_some() {
            rms = TARGET_STD / 2f64.sqrt(); // the RMS of a ReLU'd N(0, TARGET_STD)
        }
        shape = out;
        params.push(q);
    }
    Ok(params)
}

/// Encodes `layers` with their drawn `params` (same length, checked by [`draw`]).
fn encode(input: Shape, layers: &[Layer], params: &[Option<Quant>]) -> Result<Vec<u8>, SynthError> {
    let mut b = Builder::new(Precision::Int8, input, INPUT_SCALE, 0);
    let mut cur = b.input();
    let mut shape = input;
    let mut scale = INPUT_SCALE as f64;
    let mut zp = 0i8;
    for (index, (&layer, q)) in layers.iter().zip(params).enumerate() {
        let bad = SynthError::BadLayer {
            index,
            layer,
            c: shape.c,
            h: shape.h,
            w: shape.w,
        };
        let (out, op_zp) = match layer {
            Layer::Conv(oc) => (Shape::new(oc, shape.h, shape.w), -128),
            Layer::MaxPool2 => (Shape::new(shape.c, shape.h / 2, shape.w / 2), zp),
            Layer::Flatten => (Shape::vector(shape.len() as u16), zp),
            Layer::Dense { out, relu } => (Shape::vector(out), if relu { -128 } else { 0 }),
        };
        let out_scale = q.as_ref().map_or(scale, |q| scale * WEIGHT_SCALE / q.real);
        let t = b.tensor(out, out_scale as f32, op_zp);
        let data = q.as_ref().map(|q| {
            (
                b.data_i8(&q.weights),
                b.data_i32(&q.bias),
                b.data_requant(&q.requant),
            )
        });
        let op = match (layer, data) {
            (Layer::Conv(_), Some((weights, bias, requant))) => Op::Conv2d(Conv2d {
                input: cur,
                output: t,
                kernel: [3, 3],
                stride: [1, 1],
                padding: Padding::same(1),
                relu: true,
                weights,
                bias,
                requant,
            }),
            (Layer::Dense { relu, .. }, Some((weights, bias, requant))) => Op::Dense(Dense {
                input: cur,
                output: t,
                relu,
                weights,
                bias,
                requant,
            }),
            (Layer::MaxPool2, None) => Op::MaxPool2d(Pool2d {
                input: cur,
                output: t,
                kernel: [2, 2],
                stride: [2, 2],
            }),
            (Layer::Flatten, None) => Op::Flatten(Unary {
                input: cur,
                output: t,
            }),
            _ => return Err(bad),
        };
        b.op(op);
        (cur, shape, scale, zp) = (t, out, out_scale, op_zp);
    }
    Ok(b.finish(cur)?)
}

/// Random weights, biases and multipliers of one conv or dense layer.
#[derive(Debug, Clone)]
struct Quant {
    /// `[out][taps]` (OHWI for a conv).
    weights: Vec<i8>,
    bias: Vec<i32>,
    requant: Vec<Requant>,
    /// The layer's nominal real multiplier (before the per-channel variation).
    real: f64,
}

impl Quant {
    fn new(rng: &mut SplitMix64, fan_in: usize, oc: usize, in_rms: f64, relu: bool) -> Self {
        let weights = (0..fan_in * oc)
            .map(|_| (rng.below(255) as i32 - 127) as i8)
            .collect();
        let acc_std = (fan_in as f64).sqrt() * in_rms * WEIGHT_STD;
        // A ReLU layer's bias shifts how many outputs survive; logits get theirs from
        // calibration in `build`.
        let bias_range = if relu { (acc_std * 0.5) as u64 } else { 0 };
        let bias = (0..oc)
            .map(|_| (rng.below(bias_range + 1) as i64 - (bias_range / 2) as i64) as i32)
            .collect();
        let real = TARGET_STD / acc_std;
        let requant = (0..oc)
            .map(|_| real * (0.75 + 0.5 * (rng.below(1 << 20) as f64 / (1 << 20) as f64)))
            .map(quantize_multiplier)
            .collect();
        Quant {
            weights,
            bias,
            requant,
            real,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use whittle_shared::cost;

    #[test]
    fn seed_net_has_the_seed_costs_and_half_width_quarter_macs() {
        let full = AlignedBytes::new(&build_arch(Arch::SeedC10, 1.0, 1).unwrap());
        let half = AlignedBytes::new(&build_arch(Arch::SeedC10, 0.5, 1).unwrap());
        let (f, h) = (
            cost::totals(&Model::from_bytes(&full).unwrap()).unwrap(),
            cost::totals(&Model::from_bytes(&half).unwrap()).unwrap(),
        );
        assert_eq!(f.params, 118_962);
        assert!(f.macs > 8_000_000 && f.macs < 8_400_000, "{}", f.macs);
        assert!(h.macs * 3 < f.macs, "{} vs {}", h.macs, f.macs);
    }

    #[test]
    fn same_seed_same_blob_other_seed_other_blob() {
        let a = build_arch(Arch::SeedC10, 0.5, 7).unwrap();
        assert_eq!(a, build_arch(Arch::SeedC10, 0.5, 7).unwrap());
        assert_ne!(a, build_arch(Arch::SeedC10, 0.5, 8).unwrap());
    }

    #[test]
    fn activations_use_the_range_and_classes_vary() {
        let blob = AlignedBytes::new(&build_arch(Arch::SeedC10, 1.0, 3).unwrap());
        let model = Model::from_bytes(&blob).unwrap();
        let mut ram = vec![0u128; model.ram_bytes().div_ceil(16)];
        let mut classes = std::collections::BTreeSet::new();
        for img in calibration_images(Shape::new(3, 32, 32), 24, 99) {
            let out = exec::run_s8(&model, &img, bytemuck::cast_slice_mut(&mut ram)).unwrap();
            assert!(out.iter().any(|&v| v != out[0]), "flat logits {out:?}");
            assert!(
                out.iter().filter(|&&v| v == 127 || v == -128).count() < 3,
                "{out:?}"
            );
            let best = (0..out.len())
                .max_by_key(|&i| (out[i], usize::MAX - i))
                .unwrap();
            classes.insert(best);
        }
        assert!(classes.len() >= 3, "predicted classes {classes:?}");
    }
}
