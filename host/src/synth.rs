//! Synthetic int8 models for tests and benchmarks: a simple layer list with seeded random
//! weights, requantized so activations neither saturate nor die, encoded as a whittle blob.

use whittle_shared::encode::AlignedBytes;
use whittle_shared::encode::Builder;
use whittle_shared::format::{Add, AddQuant, Conv2d, Dense, Padding, Pool2d, Unary};
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

/// One layer of a synthetic model. A layer reads the previous layer's output unless it
/// names another ([`ConvLayer::from`], [`Layer::Add`]'s `skip`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// 3x3 conv, stride 1, padding 1, `out` channels, fused ReLU (as in the seed nets).
    Conv(u16),
    /// A conv of any kernel, stride and padding, ReLU fused or not.
    ConvEx(ConvLayer),
    /// Adds the output of layer `skip` to the previous layer's output (TFLite's int8 add),
    /// ReLU fused or not.
    Add { skip: usize, relu: bool },
    /// 2x2 max pool, stride 2.
    MaxPool2,
    /// `k × k` average pool, stride `k`.
    AvgPool(u8),
    /// `c × h × w` → vector (HWC memory order, as the dense that follows reads it).
    Flatten,
    /// Fully connected layer with `out` outputs, ReLU fused or not.
    Dense { out: u16, relu: bool },
}

/// A square conv of [`Layer::ConvEx`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvLayer {
    /// The layer whose output it reads; `None`: the previous layer.
    pub from: Option<usize>,
    pub out: u16,
    pub kernel: u8,
    pub stride: u8,
    pub padding: Padding,
    pub relu: bool,
}

impl ConvLayer {
    /// A `kernel × kernel` conv at `stride` reading the previous layer.
    pub const fn new(out: u16, kernel: u8, stride: u8, padding: Padding, relu: bool) -> Self {
        ConvLayer {
            from: None,
            out,
            kernel,
            stride,
            padding,
            relu,
        }
    }
    /// The same conv reading layer `index`'s output.
    pub const fn from(self, index: usize) -> Self {
        ConvLayer {
            from: Some(index),
            ..self
        }
    }
    /// Output shape on an input of `s`, or `None` if the kernel does not fit.
    fn output(&self, s: Shape) -> Option<Shape> {
        let p = self.padding;
        let (k, st) = (self.kernel as u16, self.stride as u16);
        let h = s.h + p.top as u16 + p.bottom as u16;
        let w = s.w + p.left as u16 + p.right as u16;
        (self.out > 0 && k > 0 && st > 0 && h >= k && w >= k)
            .then(|| Shape::new(self.out, (h - k) / st + 1, (w - k) / st + 1))
    }
}

/// Named architectures `whittle synth --arch` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Arch {
    /// The seed CIFAR-10 net: Conv16-Conv24-Pool-Conv32-Conv32-Pool-Flatten-Dense48-Dense10.
    SeedC10,
    /// MLPerf Tiny's ResNet-8 (BatchNorm folded into the convs): conv16, three residual
    /// stacks of 16, 32 and 64 channels (the last two enter with a stride-2 3×3 conv,
    /// TensorFlow-'same' padding bottom/right only, and a stride-2 1×1 projection
    /// shortcut), 8×8 average pool, dense 10.
    Resnet8,
}

impl Arch {
    /// Input shape of the architecture.
    pub fn input(self) -> Shape {
        match self {
            Arch::SeedC10 | Arch::Resnet8 => Shape::new(3, 32, 32),
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
            Arch::Resnet8 => resnet8(s(16), s(32), s(64)),
        })
    }
}

/// ResNet-8's layer list with stack widths `c1`, `c2`, `c3`. Each stack's projection
/// shortcut runs first, so the stack's input dies with the first main conv, and the second
/// main conv directly precedes its add.
fn resnet8(c1: u16, c2: u16, c3: u16) -> Vec<Layer> {
    let same = Padding::same(1);
    // TensorFlow 'same' at stride 2 on an even size: one row and column, bottom/right.
    let tf_s2 = Padding {
        top: 0,
        left: 0,
        bottom: 1,
        right: 1,
    };
    let none = Padding::default();
    let mut l = vec![
        Layer::Conv(c1),
        Layer::Conv(c1),
        Layer::ConvEx(ConvLayer::new(c1, 3, 1, same, false)),
        Layer::Add {
            skip: 0,
            relu: true,
        },
    ];
    for c in [c2, c3] {
        let input = l.len() - 1;
        l.extend([
            Layer::ConvEx(ConvLayer::new(c, 1, 2, none, false).from(input)),
            Layer::ConvEx(ConvLayer::new(c, 3, 2, tf_s2, true).from(input)),
            Layer::ConvEx(ConvLayer::new(c, 3, 1, same, false)),
            Layer::Add {
                skip: input + 1,
                relu: true,
            },
        ]);
    }
    l.extend([
        Layer::AvgPool(8),
        Layer::Flatten,
        Layer::Dense {
            out: 10,
            relu: false,
        },
    ]);
    l
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
        if let Some(Drawn { q: Some(q), .. }) = params.last() {
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
        if let Some(Drawn { q: Some(q), .. }) = params.last_mut() {
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

/// What [`draw`] found for one layer: its parameters (conv and dense), output shape, and
/// the root-mean-square of its outputs minus their zero point, in int8 steps.
#[derive(Debug, Clone)]
struct Drawn {
    q: Option<Quant>,
    shape: Shape,
    rms: f64,
}

/// The RMS of a ReLU'd N(0, [`TARGET_STD`]) in int8 steps.
const RELU_RMS: f64 = TARGET_STD / std::f64::consts::SQRT_2;

/// The conv a layer is, if it is one.
fn conv_of(layer: Layer) -> Option<ConvLayer> {
    match layer {
        Layer::Conv(oc) => Some(ConvLayer::new(oc, 3, 1, Padding::same(1), true)),
        Layer::ConvEx(c) => Some(c),
        _ => None,
    }
}

/// Checks that `layers` chain from `input` and draws each conv's and dense's parameters.
fn draw(input: Shape, layers: &[Layer], seed: u64) -> Result<Vec<Drawn>, SynthError> {
    let mut rng = SplitMix64::derive(seed, &[0x5359_4e54]); // "SYNT"
    let mut drawn: Vec<Drawn> = Vec::with_capacity(layers.len());
    for (index, &layer) in layers.iter().enumerate() {
        let (shape, rms) = drawn
            .last()
            .map_or((input, INPUT_RMS), |d| (d.shape, d.rms));
        let bad = SynthError::BadLayer {
            index,
            layer,
            c: shape.c,
            h: shape.h,
            w: shape.w,
        };
        let src = |from: Option<usize>| match from {
            None => Some((shape, rms)),
            Some(i) => drawn.get(i).map(|d| (d.shape, d.rms)),
        };
        let d = if let Some(c) = conv_of(layer) {
            let Some(((s, r), out)) = src(c.from).and_then(|x| Some((x, c.output(x.0)?))) else {
                return Err(bad);
            };
            let k = c.kernel as usize;
            let q = Quant::new(&mut rng, k * k * s.c as usize, c.out as usize, r, c.relu);
            let rms = if c.relu { RELU_RMS } else { TARGET_STD };
            Drawn {
                q: Some(q),
                shape: out,
                rms,
            }
        } else {
            match layer {
                Layer::Add { skip, relu } => match drawn.get(skip) {
                    Some(a) if a.shape == shape => Drawn {
                        q: None,
                        shape,
                        rms: if relu { RELU_RMS } else { TARGET_STD },
                    },
                    _ => return Err(bad),
                },
                Layer::MaxPool2 if shape.h >= 2 && shape.w >= 2 => Drawn {
                    q: None,
                    shape: Shape::new(shape.c, shape.h / 2, shape.w / 2),
                    rms: rms * 1.5, // the max of four ReLU outputs is larger than one
                },
                Layer::AvgPool(k) if k > 0 && shape.h >= k as u16 && shape.w >= k as u16 => {
                    let k = k as u16;
                    Drawn {
                        q: None,
                        shape: Shape::new(shape.c, (shape.h - k) / k + 1, (shape.w - k) / k + 1),
                        rms,
                    }
                }
                Layer::Flatten => {
                    let n = u16::try_from(shape.len()).map_err(|_| bad)?;
                    Drawn {
                        q: None,
                        shape: Shape::vector(n),
                        rms,
                    }
                }
                Layer::Dense { out, relu } if shape.h == 1 && shape.w == 1 && out > 0 => {
                    let q = Quant::new(&mut rng, shape.c as usize, out as usize, rms, relu);
                    Drawn {
                        q: Some(q),
                        shape: Shape::vector(out),
                        rms: RELU_RMS,
                    }
                }
                _ => return Err(bad),
            }
        };
        drawn.push(d);
    }
    Ok(drawn)
}

/// A layer's output as [`encode`] tracks it.
#[derive(Debug, Clone, Copy)]
struct Encoded {
    tensor: u16,
    shape: Shape,
    scale: f64,
    zp: i8,
    rms: f64,
}

/// TFLite's int8 add quantization for inputs of scales `sa`, `sb` and an output of `so`:
/// both inputs to twice the larger scale, 20 bits up.
fn add_quant(sa: f64, sb: f64, so: f64) -> AddQuant {
    let twice_max = 2.0 * sa.max(sb);
    AddQuant {
        left_shift: 20,
        a: quantize_multiplier(sa / twice_max),
        b: quantize_multiplier(sb / twice_max),
        out: quantize_multiplier(twice_max / ((1u64 << 20) as f64 * so)),
    }
}

/// Encodes `layers` with what [`draw`] found (same length, checked by it).
fn encode(input: Shape, layers: &[Layer], drawn: &[Drawn]) -> Result<Vec<u8>, SynthError> {
    let mut b = Builder::new(Precision::Int8, input, INPUT_SCALE, 0);
    let first = Encoded {
        tensor: b.input(),
        shape: input,
        scale: INPUT_SCALE as f64,
        zp: 0,
        rms: INPUT_RMS,
    };
    let mut outs: Vec<Encoded> = Vec::with_capacity(layers.len());
    for (index, (&layer, d)) in layers.iter().zip(drawn).enumerate() {
        let prev = outs.last().copied().unwrap_or(first);
        let bad = SynthError::BadLayer {
            index,
            layer,
            c: prev.shape.c,
            h: prev.shape.h,
            w: prev.shape.w,
        };
        let src = |from: Option<usize>| match from {
            None => Some(prev),
            Some(i) => outs.get(i).copied(),
        };
        let data = |b: &mut Builder, q: &Quant| {
            (
                b.data_i8(&q.weights),
                b.data_i32(&q.bias),
                b.data_requant(&q.requant),
            )
        };
        let (x, scale, zp, op) = match (layer, &d.q) {
            (Layer::Conv(_) | Layer::ConvEx(_), Some(q)) => {
                let (Some(c), Some(x)) = (conv_of(layer), conv_of(layer).and_then(|c| src(c.from)))
                else {
                    return Err(bad);
                };
                let scale = x.scale * WEIGHT_SCALE / q.real;
                let zp = if c.relu { -128 } else { 0 };
                let t = b.tensor(d.shape, scale as f32, zp);
                let (weights, bias, requant) = data(&mut b, q);
                let op = Op::Conv2d(Conv2d {
                    input: x.tensor,
                    output: t,
                    kernel: [c.kernel; 2],
                    stride: [c.stride; 2],
                    padding: c.padding,
                    relu: c.relu,
                    weights,
                    bias,
                    requant,
                });
                (t, scale, zp, op)
            }
            (Layer::Dense { relu, .. }, Some(q)) => {
                let scale = prev.scale * WEIGHT_SCALE / q.real;
                let zp = if relu { -128 } else { 0 };
                let t = b.tensor(d.shape, scale as f32, zp);
                let (weights, bias, requant) = data(&mut b, q);
                let op = Op::Dense(Dense {
                    input: prev.tensor,
                    output: t,
                    relu,
                    weights,
                    bias,
                    requant,
                });
                (t, scale, zp, op)
            }
            (Layer::Add { skip, relu }, None) => {
                let a = outs.get(skip).copied().ok_or(bad)?;
                // The output spreads as the sum of two independent inputs would, over
                // `TARGET_STD` steps.
                let spread = ((a.scale * a.rms).powi(2) + (prev.scale * prev.rms).powi(2)).sqrt();
                let scale = spread / TARGET_STD;
                let zp = if relu { -128 } else { 0 };
                let t = b.tensor(d.shape, scale as f32, zp);
                let op = Op::Add(Add {
                    a: a.tensor,
                    b: prev.tensor,
                    output: t,
                    relu,
                    quant: add_quant(a.scale, prev.scale, scale),
                });
                (t, scale, zp, op)
            }
            (Layer::MaxPool2 | Layer::AvgPool(_), None) => {
                let t = b.tensor(d.shape, prev.scale as f32, prev.zp);
                let (kernel, op): ([u8; 2], fn(Pool2d) -> Op) = match layer {
                    Layer::AvgPool(k) => ([k; 2], Op::AvgPool2d),
                    _ => ([2; 2], Op::MaxPool2d),
                };
                let op = op(Pool2d {
                    input: prev.tensor,
                    output: t,
                    kernel,
                    stride: kernel,
                });
                (t, prev.scale, prev.zp, op)
            }
            (Layer::Flatten, None) => {
                let t = b.tensor(d.shape, prev.scale as f32, prev.zp);
                let op = Op::Flatten(Unary {
                    input: prev.tensor,
                    output: t,
                });
                (t, prev.scale, prev.zp, op)
            }
            _ => return Err(bad),
        };
        b.op(op);
        outs.push(Encoded {
            tensor: x,
            shape: d.shape,
            scale,
            zp,
            rms: d.rms,
        });
    }
    let last = outs.last().map_or(first.tensor, |o| o.tensor);
    Ok(b.finish(last)?)
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
    fn resnet8_has_mlperf_tinys_costs_and_varies_its_classes() {
        let blob = AlignedBytes::new(&build_arch(Arch::Resnet8, 1.0, 1).unwrap());
        let model = Model::from_bytes(&blob).unwrap();
        let t = cost::totals(&model).unwrap();
        // Conv and dense weights plus biases (BatchNorm folded), and the MACs of the
        // MLPerf Tiny reference model.
        assert_eq!((t.params, t.macs), (77_706, 12_501_632));
        let names: Vec<&str> = model.ops().map(|o| o.unwrap().name()).collect();
        assert_eq!(names.iter().filter(|&&n| n == "add").count(), 3);
        assert_eq!(names.iter().filter(|&&n| n == "conv2d").count(), 9);
        let mut ram = vec![0u128; model.ram_bytes().div_ceil(16)];
        let mut classes = std::collections::BTreeSet::new();
        for img in calibration_images(Shape::new(3, 32, 32), 24, 99) {
            let out = exec::run_s8(&model, &img, bytemuck::cast_slice_mut(&mut ram)).unwrap();
            let best = (0..out.len())
                .max_by_key(|&i| (out[i], usize::MAX - i))
                .unwrap();
            classes.insert(best);
        }
        assert!(classes.len() >= 3, "predicted classes {classes:?}");
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
