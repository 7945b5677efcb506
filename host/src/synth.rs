//! Synthetic int8 models for tests and benchmarks: a graph (a preset at some width, or any
//! graph) folded and lowered exactly as a trained net is, then given seeded random int8
//! weights requantized so activations neither saturate nor die, encoded as a whittle blob.

use whittle_shared::encode::{AlignedBytes, Builder};
use whittle_shared::format::{Add, Conv2d, Dense};
use whittle_shared::requant::quantize_multiplier;
use whittle_shared::{Model, Op, Precision, Requant, Shape, exec};

use crate::export::{ExportError, Lowered, Node, fold, lower, placeholder_tensors};
use crate::graph::{Graph, GraphError, preset};
use crate::quant::{QParams, add_quant};
use crate::rng::SplitMix64;

/// Why a synthetic model could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SynthError {
    /// The graph (or its resizing) is invalid.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// The graph cannot be folded or lowered to blob ops.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// The width factor is not a positive finite number.
    #[error("width factor {0} must be positive")]
    BadWidth(f32),
    /// The blob encoder or validator refused the model.
    #[error("encoding the blob: {0}")]
    Encode(#[from] whittle_shared::Error),
}

/// Named architectures `whittle synth --arch` knows (the graph presets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Arch {
    /// The seed CIFAR-10 net: Conv16-Conv24-Pool-Conv32-Conv32-Pool-Flatten-Dense48-Dense10.
    SeedC10,
    /// The seed CIFAR-100 net (9 conv/dense groups, 100 classes).
    SeedC100,
    /// MLPerf Tiny's ResNet-8 (BatchNorm folded into the convs): a conv stem, three
    /// residual stacks of 16, 32 and 64 channels (the last two enter with a stride-2 3×3
    /// conv padded `[0, 0, 1, 1]` and a stride-2 1×1 projection shortcut), 8×8 average
    /// pool, dense 10.
    Resnet8,
}

impl Arch {
    /// The preset's name (`seed-c10`, `seed-c100`, `resnet8`).
    pub fn name(self) -> &'static str {
        match self {
            Arch::SeedC10 => "seed-c10",
            Arch::SeedC100 => "seed-c100",
            Arch::Resnet8 => "resnet8",
        }
    }

    /// The architecture's graph at full width.
    pub fn graph(self) -> Result<Graph, SynthError> {
        Ok(preset(self.name())?)
    }

    /// Input shape of the architecture.
    pub fn input(self) -> Result<Shape, SynthError> {
        let [c, h, w] = self.graph()?.input_dims();
        Ok(Shape::new(c as u16, h as u16, w as u16))
    }

    /// The graph with every prunable channel group's width scaled by `width` (see
    /// [`scale_widths`]).
    pub fn graph_at(self, width: f32) -> Result<Graph, SynthError> {
        scale_widths(&self.graph()?, width)
    }
}

/// `g` with every prunable channel group's width scaled by `width` (rounded, at least 1);
/// fixed groups (the logits) keep theirs.
pub fn scale_widths(g: &Graph, width: f32) -> Result<Graph, SynthError> {
    if !(width.is_finite() && width > 0.0) {
        return Err(SynthError::BadWidth(width));
    }
    let groups = g.groups()?;
    let widths: Vec<usize> = groups
        .widths()
        .iter()
        .map(|&c| ((c as f32 * width).round() as usize).max(1))
        .collect();
    Ok(groups.resize(g, &widths)?)
}

/// Input quantization of synthetic models: [-1, 1] in 255 steps, zero point 0.
pub const INPUT_SCALE: f32 = 2.0 / 255.0;

/// Target standard deviation of a layer's pre-activation in int8 steps: wide enough to
/// use the range, narrow enough that ReLU outputs (zero point -128) rarely clip at 127.
const TARGET_STD: f64 = 40.0;
/// Root-mean-square of `x - zero_point` of CIFAR inputs quantized with [`INPUT_SCALE`].
const INPUT_RMS: f64 = 64.0;
/// The RMS of a ReLU'd N(0, [`TARGET_STD`]) in int8 steps.
const RELU_RMS: f64 = TARGET_STD / std::f64::consts::SQRT_2;
/// Standard deviation of weights drawn uniformly from [-127, 127].
const WEIGHT_STD: f64 = 73.3;
/// Scale of the int8 weights (only the ratios of scales reach the integer arithmetic).
const WEIGHT_SCALE: f64 = 1.0 / 256.0;

/// Calibration images the logits are centred on (smooth random colour patterns).
const CALIB_IMAGES: usize = 32;

/// The blob ops of `g`, folded and lowered as a trained net's would be (its weights are
/// placeholders: only the structure is used).
pub fn lowered(g: &Graph) -> Result<Lowered, SynthError> {
    Ok(lower(&fold(g, &placeholder_tensors(g))?)?)
}

/// Builds a blob of graph `g` with int8 weights drawn from `seed`. Each conv's and dense's
/// multipliers map its expected accumulator spread to ±[`TARGET_STD`] (fan-in and the
/// input's RMS tracked analytically), varied ±25% per channel; an add's output scale fits
/// the spread of the sum of its inputs.
///
/// Random features share a large class-independent mean, which would make one class win
/// every time; so when the last op is a dense without ReLU (logits), the model without
/// it is run on calibration images and the logits' bias and gain are set to centre and
/// spread their exact accumulators: the predicted class then varies from image to image.
pub fn build(g: &Graph, seed: u64) -> Result<Vec<u8>, SynthError> {
    let l = lowered(g)?;
    let (mut params, rms) = draw(&l, seed);
    let n = l.nodes.len();
    if let (
        Some(Node::Dense {
            relu: false, input, ..
        }),
        true,
    ) = (l.nodes.last(), n > 1)
        && l.output as usize == n
    {
        let prefix = AlignedBytes::new(&encode(&l, &params, &rms, n - 1, *input)?);
        let model = Model::from_bytes(&prefix)?;
        let zp = model.output()?.zero_point as i64;
        let mut ram = vec![0u128; model.ram_bytes().div_ceil(16)];
        let images = calibration_images(l.tensors[0], CALIB_IMAGES, seed);
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
    encode(&l, &params, &rms, n, l.output)
}

/// [`build`] without centring the logits: the same ops, shapes, memory plan and kernel
/// paths, cheaply (for costing a structure, e.g. a pruning budget in instructions).
pub fn build_structure(g: &Graph, seed: u64) -> Result<Vec<u8>, SynthError> {
    let l = lowered(g)?;
    let (params, rms) = draw(&l, seed);
    encode(&l, &params, &rms, l.nodes.len(), l.output)
}

/// Builds `arch` at `width` from `seed`.
pub fn build_arch(arch: Arch, width: f32, seed: u64) -> Result<Vec<u8>, SynthError> {
    build(&arch.graph_at(width)?, seed)
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

/// Draws each conv's and dense's parameters in op order, and tracks every tensor's RMS of
/// `x − zero_point` in int8 steps (tensor 0, the input: [`INPUT_RMS`]).
fn draw(l: &Lowered, seed: u64) -> (Vec<Option<Quant>>, Vec<f64>) {
    let mut rng = SplitMix64::derive(seed, &[0x5359_4e54]); // "SYNT"
    let mut rms = vec![INPUT_RMS];
    let mut params = Vec::with_capacity(l.nodes.len());
    for node in &l.nodes {
        let x = rms[node.input() as usize];
        let (q, r) = match *node {
            Node::Conv {
                input,
                kernel,
                relu,
                ..
            } => {
                let (s, oc) = (l.tensors[input as usize], l.tensors[rms.len()].c);
                let fan_in = kernel[0] as usize * kernel[1] as usize * s.c as usize;
                let q = Quant::new(&mut rng, fan_in, oc as usize, x, relu);
                (Some(q), if relu { RELU_RMS } else { TARGET_STD })
            }
            Node::Dense { input, relu, .. } => {
                let fan_in = l.tensors[input as usize].len();
                let out = l.tensors[rms.len()].len();
                (Some(Quant::new(&mut rng, fan_in, out, x, relu)), RELU_RMS)
            }
            Node::Add { relu, .. } => (None, if relu { RELU_RMS } else { TARGET_STD }),
            // The max of a window of ReLU outputs is larger than one of them.
            Node::MaxPool { .. } => (None, x * 1.5),
            Node::AvgPool { .. }
            | Node::GlobalAvgPool { .. }
            | Node::Relu { .. }
            | Node::Flatten { .. } => (None, x),
        };
        params.push(q);
        rms.push(r);
    }
    (params, rms)
}

/// Encodes the first `upto` ops of `l` with their drawn `params`, returning `output`.
fn encode(
    l: &Lowered,
    params: &[Option<Quant>],
    rms: &[f64],
    upto: usize,
    output: u16,
) -> Result<Vec<u8>, SynthError> {
    let mut b = Builder::new(Precision::Int8, l.tensors[0], INPUT_SCALE, 0);
    // Scale and zero point of every tensor so far.
    let mut q: Vec<(f64, i8)> = vec![(INPUT_SCALE as f64, 0)];
    for (k, (node, p)) in l.nodes.iter().zip(params).enumerate().take(upto) {
        let shape = l.tensors[k + 1];
        let (si, zi) = q[node.input() as usize];
        let own = |p: &Quant, relu: bool| (si * WEIGHT_SCALE / p.real, if relu { -128 } else { 0 });
        let (scale, zp) = match (node, p) {
            (Node::Conv { relu, .. } | Node::Dense { relu, .. }, Some(p)) => own(p, *relu),
            (Node::Add { a, b, relu }, _) => {
                // The output spreads as the sum of two independent inputs would, over
                // `TARGET_STD` steps.
                let (sa, sb) = (q[*a as usize].0, q[*b as usize].0);
                let spread =
                    ((sa * rms[*a as usize]).powi(2) + (sb * rms[*b as usize]).powi(2)).sqrt();
                (spread / TARGET_STD, if *relu { -128 } else { 0 })
            }
            _ => (si, zi),
        };
        let t = b.tensor(shape, scale as f32, zp);
        let op = match (node, p) {
            (
                Node::Conv {
                    input,
                    kernel,
                    stride,
                    padding,
                    relu,
                    ..
                },
                Some(p),
            ) => {
                let (weights, bias, requant) = p.data(&mut b);
                Op::Conv2d(Conv2d {
                    input: *input,
                    output: t,
                    kernel: *kernel,
                    stride: *stride,
                    padding: *padding,
                    relu: *relu,
                    weights,
                    bias,
                    requant,
                })
            }
            (Node::Dense { input, relu, .. }, Some(p)) => {
                let (weights, bias, requant) = p.data(&mut b);
                Op::Dense(Dense {
                    input: *input,
                    output: t,
                    relu: *relu,
                    weights,
                    bias,
                    requant,
                })
            }
            (Node::Add { a, b: skip, relu }, _) => {
                let qp = |s: f64, zero_point: i8| QParams {
                    scale: s as f32,
                    zero_point,
                };
                let (qa, qb) = (q[*a as usize], q[*skip as usize]);
                Op::Add(Add {
                    a: *a,
                    b: *skip,
                    output: t,
                    relu: *relu,
                    quant: add_quant(qp(qa.0, qa.1), qp(qb.0, qb.1), qp(scale, zp)),
                })
            }
            (other, _) => match other.structural_op(t) {
                Some(op) => op,
                // `draw` gives every conv and dense its parameters.
                None => unreachable!("conv or dense without drawn parameters"),
            },
        };
        b.op(op);
        q.push((scale, zp));
    }
    Ok(b.finish(output)?)
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

    /// Appends weights, biases and multipliers to the blob's data (in that order).
    fn data(
        &self,
        b: &mut Builder,
    ) -> (
        whittle_shared::format::DataRef,
        whittle_shared::format::DataRef,
        whittle_shared::format::DataRef,
    ) {
        (
            b.data_i8(&self.weights),
            b.data_i32(&self.bias),
            b.data_requant(&self.requant),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Builder as GraphBuilder;
    use crate::graph::op::{Dense as DenseOp, Flatten, Op as GraphOp};
    use whittle_shared::cost;

    fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
        r.unwrap_or_else(|e| panic!("{e}"))
    }

    fn fnv1a(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }

    #[test]
    fn seed_net_blobs_keep_the_bytes_of_the_sequential_builder() {
        // Pinned bytes (format v2; in v1 these were the layer-list builder's blobs before
        // the graph IR, so the graph path drew the same numbers and encoded the same ops).
        for (width, seed, len, hash) in [
            (1.0, 42, 121_056, 0xed99_5baf_0e82_07a5u64),
            (0.5, 42, 31_264, 0xc474_5611_3679_0746),
            (0.25, 42, 8_480, 0x2d34_438b_bacc_5682),
            (1.0, 1, 121_056, 0x7a07_227b_b7ec_ba8e),
            (0.5, 7, 31_264, 0x5cca_ccfd_bea3_89c4),
            (0.75, 5, 68_816, 0x1b93_a65c_b5e2_41c3),
        ] {
            let blob = ok(build_arch(Arch::SeedC10, width, seed));
            assert_eq!(
                (blob.len(), fnv1a(&blob)),
                (len, hash),
                "width {width} seed {seed}"
            );
        }
    }

    #[test]
    fn seed_net_has_the_seed_costs_and_half_width_quarter_macs() {
        let full = AlignedBytes::new(&ok(build_arch(Arch::SeedC10, 1.0, 1)));
        let half = AlignedBytes::new(&ok(build_arch(Arch::SeedC10, 0.5, 1)));
        let (f, h) = (
            ok(cost::totals(&ok(Model::from_bytes(&full)))),
            ok(cost::totals(&ok(Model::from_bytes(&half)))),
        );
        assert_eq!(f.params, 118_962);
        assert_eq!(f.macs, 8_208_864);
        assert!(h.macs * 3 < f.macs, "{} vs {}", h.macs, f.macs);
    }

    #[test]
    fn same_seed_same_blob_other_seed_other_blob() {
        let a = ok(build_arch(Arch::SeedC10, 0.5, 7));
        assert_eq!(a, ok(build_arch(Arch::SeedC10, 0.5, 7)));
        assert_ne!(a, ok(build_arch(Arch::SeedC10, 0.5, 8)));
        assert!(matches!(
            build_arch(Arch::SeedC10, 0.0, 1),
            Err(SynthError::BadWidth(_))
        ));
    }

    /// Predicted classes of `blob` on 24 calibration patterns; asserts logits vary and
    /// rarely saturate.
    fn classes(blob: &[u8]) -> std::collections::BTreeSet<usize> {
        let blob = AlignedBytes::new(blob);
        let model = ok(Model::from_bytes(&blob));
        let mut ram = vec![0u128; model.ram_bytes().div_ceil(16)];
        let mut classes = std::collections::BTreeSet::new();
        let input = ok(model.input()).shape;
        for img in calibration_images(input, 24, 99) {
            let out = ok(exec::run_s8(
                &model,
                &img,
                bytemuck::cast_slice_mut(&mut ram),
            ));
            assert!(out.iter().any(|&v| v != out[0]), "flat logits {out:?}");
            assert!(
                out.iter().filter(|&&v| v == 127 || v == -128).count() < 3,
                "{out:?}"
            );
            let best = (0..out.len())
                .max_by_key(|&i| (out[i], usize::MAX - i))
                .unwrap_or(0);
            classes.insert(best);
        }
        classes
    }

    #[test]
    fn activations_use_the_range_and_classes_vary() {
        let c = classes(&ok(build_arch(Arch::SeedC10, 1.0, 3)));
        assert!(c.len() >= 3, "predicted classes {c:?}");
    }

    #[test]
    fn resnet8_has_mlperf_tinys_costs_and_varies_its_classes() {
        let bytes = ok(build_arch(Arch::Resnet8, 1.0, 1));
        let blob = AlignedBytes::new(&bytes);
        let model = ok(Model::from_bytes(&blob));
        let t = ok(cost::totals(&model));
        // Conv and dense weights plus biases (BatchNorm folded), and the MACs of the
        // MLPerf Tiny reference model.
        assert_eq!((t.params, t.macs), (77_706, 12_501_632));
        let names: Vec<&str> = model.ops().map(|o| ok(o).name()).collect();
        assert_eq!(names.iter().filter(|&&n| n == "add").count(), 3);
        assert_eq!(names.iter().filter(|&&n| n == "conv2d").count(), 9);
        assert_eq!(names.len(), 3 + 9 + 3);
        let c = classes(&bytes);
        assert!(c.len() >= 3, "predicted classes {c:?}");
        // Half width: the stacks' groups shrink, the logits stay 10.
        let half = AlignedBytes::new(&ok(build_arch(Arch::Resnet8, 0.5, 1)));
        let h = ok(cost::totals(&ok(Model::from_bytes(&half))));
        assert!(h.macs * 3 < t.macs, "{} vs {}", h.macs, t.macs);
    }

    #[test]
    fn seed_c100_builds_with_100_logits() {
        let bytes = ok(build_arch(Arch::SeedC100, 0.5, 2));
        let blob = AlignedBytes::new(&bytes);
        let model = ok(Model::from_bytes(&blob));
        assert_eq!(ok(model.output()).shape, Shape::vector(100));
        assert!(classes(&bytes).len() >= 3);
    }

    #[test]
    fn any_graph_builds() {
        // The firmware tests' "too big" model: 3072 inputs into 400 logits.
        let mut b = GraphBuilder::new("big", [3, 32, 32], 400);
        b.then("flatten", GraphOp::Flatten(Flatten {}));
        b.then(
            "dense",
            GraphOp::Dense(DenseOp {
                out: 400,
                bias: true,
            }),
        );
        let g = ok(b.finish());
        let blob = ok(build(&g, 1));
        let aligned = AlignedBytes::new(&blob);
        let t = ok(cost::totals(&ok(Model::from_bytes(&aligned))));
        assert_eq!(t.params, 3072 * 400 + 400);
    }
}
