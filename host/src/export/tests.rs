//! End-to-end checks of folding, export and quantization on random graphs: the f32 blob
//! equals the NCHW reference forward pass, the int8 blob tracks it, BatchNorm folds
//! exactly, blob bytes round-trip, and the seed net's blobs keep their exact bytes.

use whittle_shared::Model;
use whittle_shared::encode::AlignedBytes;
use whittle_shared::exec::run_s8;

use super::*;
use crate::graph::op::{
    Add, AvgPool, BatchNorm, Conv2d, Dense, Flatten, GlobalAvgPool, MaxPool, Relu,
};
use crate::graph::presets::seed_c10;
use crate::graph::{Builder, Graph, Op, Pad, ParamKind};
use crate::nn::NamedTensor;
use crate::quant::{self, Calibration, QuantConfig};
use crate::rng::SplitMix64;
use crate::sim::quantize_input;

pub(crate) fn uniform(rng: &mut SplitMix64, n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|_| ((rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale)
        .collect()
}

/// Random tensors for every node of `g`, in node order: kernels uniform with variance
/// 1/fan-in, biases in ±0.1, masks in [0, 2) (every fifth 0), BatchNorm γ ∈ [0.5, 1.5),
/// β ∈ ±0.5, mean ∈ ±0.2, variance ∈ [0.5, 2).
pub(crate) fn random_tensors(g: &Graph, rng: &mut SplitMix64) -> Vec<Vec<NamedTensor>> {
    (0..g.nodes.len())
        .map(|i| {
            g.params(i)
                .into_iter()
                .map(|d| {
                    let n: usize = d.shape.iter().product();
                    let u = |rng: &mut SplitMix64| uniform(rng, n, 1.0);
                    let values = match d.kind {
                        ParamKind::Kernel => {
                            let out = d.out_axis.map_or(1, |a| d.shape[a]);
                            uniform(rng, n, (3.0 / (n / out) as f32).sqrt())
                        }
                        ParamKind::Bias => uniform(rng, n, 0.1),
                        ParamKind::Mask => (0..n)
                            .map(|j| {
                                let v = rng.below(100) as f32 / 50.0;
                                if j % 5 == 0 { 0.0 } else { v }
                            })
                            .collect(),
                        ParamKind::Gate => vec![2.5; n],
                        ParamKind::BnScale => u(rng).iter().map(|v| 1.0 + 0.5 * v).collect(),
                        ParamKind::BnShift => u(rng).iter().map(|v| 0.5 * v).collect(),
                        ParamKind::BnMean => u(rng).iter().map(|v| 0.2 * v).collect(),
                        ParamKind::BnVar => u(rng).iter().map(|v| 1.25 + 0.75 * v).collect(),
                    };
                    NamedTensor {
                        name: d.name.into(),
                        shape: d.shape,
                        values,
                    }
                })
                .collect()
        })
        .collect()
}

fn conv(out: usize, kernel: [usize; 2], stride: [usize; 2], padding: Pad, bias: bool) -> Op {
    Op::Conv2d(Conv2d {
        out,
        kernel,
        stride,
        padding,
        bias,
        groups: 1,
    })
}

fn conv3(out: usize) -> Op {
    conv(out, [3, 3], [1, 1], Pad::same(1), true)
}

fn relu() -> Op {
    Op::Relu(Relu {})
}

fn dense(out: usize) -> Op {
    Op::Dense(Dense { out, bias: true })
}

fn bn() -> Op {
    Op::BatchNorm(BatchNorm {
        epsilon: 1e-3,
        momentum: 0.1,
    })
}

fn built(b: Builder) -> Graph {
    b.finish().unwrap_or_else(|e| panic!("{e}"))
}

/// conv+BN+ReLU stem, an identity residual block, a downsampling block (stride-2 3×3
/// padded `[0, 0, 1, 1]`, stride-2 1×1 projection with BN), a pool (8×8 average or global),
/// flatten, dense.
pub(crate) fn residual(avg_pool: bool) -> Graph {
    let mut b = Builder::new("residual", [3, 12, 12], 5);
    b.then("stem", conv(8, [3, 3], [1, 1], Pad::same(1), false));
    b.then("stem_bn", bn());
    let x = b.then("stem_relu", relu());
    b.then("b1_conv1", conv3(8));
    b.then("b1_bn1", bn());
    b.then("b1_relu1", relu());
    b.then("b1_conv2", conv(8, [3, 3], [1, 1], Pad::same(1), false));
    let main = b.then("b1_bn2", bn());
    b.node("b1_add", Op::Add(Add {}), &[&main, &x]);
    let x = b.then("b1_relu", relu());
    b.then(
        "b2_conv1",
        conv(16, [3, 3], [2, 2], Pad([0, 0, 1, 1]), true),
    );
    b.then("b2_bn1", bn());
    b.then("b2_relu1", relu());
    b.then("b2_conv2", conv3(16));
    let main = b.then("b2_bn2", bn());
    b.node(
        "b2_short",
        conv(16, [1, 1], [2, 2], Pad::same(0), false),
        &[&x],
    );
    let short = b.then("b2_short_bn", bn());
    b.node("b2_add", Op::Add(Add {}), &[&main, &short]);
    b.then("b2_relu", relu());
    if avg_pool {
        b.then(
            "pool",
            Op::AvgPool(AvgPool {
                kernel: [6, 6],
                stride: [6, 6],
            }),
        );
    } else {
        b.then("pool", Op::GlobalAvgPool(GlobalAvgPool {}));
    }
    b.then("flatten", Op::Flatten(Flatten {}));
    b.then("dense", dense(5));
    built(b)
}

/// Graphs covering non-square inputs, strides, asymmetric kernels and padding,
/// conv→flatten→dense, separate and fused ReLUs, pools, residual adds and BatchNorm.
fn graphs() -> Vec<Graph> {
    let mut v = Vec::new();
    // non-square, strided, asymmetric kernel and padding, pool, flatten, two dense
    let mut b = Builder::new("a", [3, 9, 6], 4);
    b.then("c1", conv3(5));
    b.then("r1", relu());
    b.then("c2", conv(4, [3, 2], [2, 1], Pad([0, 1, 1, 0]), true));
    b.then("r2", relu());
    b.then(
        "p",
        Op::MaxPool(MaxPool {
            kernel: [2, 2],
            stride: [2, 2],
        }),
    );
    b.then("f", Op::Flatten(Flatten {}));
    b.then("d1", dense(7));
    b.then("d1r", relu());
    b.then("d2", dense(4));
    v.push(built(b));
    // conv straight into flatten → dense (the row permutation matters most here)
    let mut b = Builder::new("b", [2, 4, 5], 6);
    b.then("c", conv3(3));
    b.then("f", Op::Flatten(Flatten {}));
    b.then("d", dense(6));
    v.push(built(b));
    // ReLU after ReLU, average pools, global pool
    let mut b = Builder::new("c", [3, 8, 8], 5);
    b.then("c1", conv3(6));
    b.then("r1", relu());
    b.then(
        "p",
        Op::AvgPool(AvgPool {
            kernel: [2, 2],
            stride: [2, 2],
        }),
    );
    b.then("c2", conv(8, [1, 1], [1, 1], Pad::same(0), true));
    b.then("r2", relu());
    b.then("r3", relu());
    b.then("g", Op::GlobalAvgPool(GlobalAvgPool {}));
    b.then("f", Op::Flatten(Flatten {}));
    b.then("d", dense(5));
    v.push(built(b));
    // residual adds; c1 can't take r1: the first add reads c1's output too
    let mut b = Builder::new("d", [4, 6, 7], 3);
    let c1 = b.then("c1", conv3(4));
    b.then("r1", relu());
    let c2 = b.then("c2", conv3(4));
    b.node("a1", Op::Add(Add {}), &[&c2, &c1]);
    let r2 = b.then("r2", relu());
    b.then("c3", conv3(4));
    let r3 = b.then("r3", relu());
    b.node("a2", Op::Add(Add {}), &[&r3, &r2]);
    b.then("f", Op::Flatten(Flatten {}));
    b.then("d", dense(3));
    v.push(built(b));
    v.push(residual(false));
    v.push(residual(true));
    v
}

fn nets(seed: u64) -> Vec<Folded> {
    let r = &mut SplitMix64::new(seed);
    graphs()
        .into_iter()
        .map(|g| {
            let t = random_tensors(&g, r);
            fold(&g, &t).unwrap_or_else(|e| panic!("{}: {e}", g.name))
        })
        .collect()
}

fn close(a: &[f32], b: &[f32], rel: f32) -> bool {
    let scale = b.iter().fold(1f32, |m, x| m.max(x.abs()));
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= rel * scale)
}

#[test]
fn f32_blob_equals_reference_forward() {
    for seed in 0..3 {
        for net in nets(seed) {
            let name = &net.graph.name;
            let blob = export_f32(&net).unwrap_or_else(|e| panic!("{name}: {e}"));
            let aligned = AlignedBytes::new(&blob);
            let model = Model::from_bytes(&aligned).unwrap_or_else(|e| panic!("{e}"));
            let mut runner = BlobRunner::new(&model).unwrap_or_else(|e| panic!("{e}"));
            let rng = &mut SplitMix64::new(100 + seed);
            for _ in 0..5 {
                let x = uniform(rng, net.input_len(), 1.0);
                let want = net.forward(&x).unwrap_or_else(|e| panic!("{e}"));
                let got = runner.logits(&x).unwrap_or_else(|e| panic!("{e}"));
                assert!(
                    close(&got, &want, 1e-5),
                    "seed {seed} {name}: {got:?} vs {want:?}"
                );
            }
        }
    }
}

#[test]
fn folding_keeps_the_reference_logits() {
    // Unfolded graph (BatchNorm, masks, dropout) and folded graph, same reference loops.
    let r = &mut SplitMix64::new(3);
    for g in [seed_c10(), residual(false), residual(true)] {
        let t = random_tensors(&g, r);
        let f = fold(&g, &t).unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..2 {
            let x = uniform(r, f.input_len(), 1.0);
            let want = reference::forward(&g, &t, &x).unwrap_or_else(|e| panic!("{e}"));
            let got = f.forward(&x).unwrap_or_else(|e| panic!("{e}"));
            assert!(close(&got, &want, 1e-5), "{}: {got:?} vs {want:?}", g.name);
        }
    }
}

#[test]
fn batchnorm_folds_exactly_into_the_conv() {
    for bias in [false, true] {
        let mut b = Builder::new("bn", [3, 5, 6], 4 * 5 * 6);
        b.then("c", conv(4, [3, 3], [1, 1], Pad::same(1), bias));
        b.then("n", bn());
        b.then("f", Op::Flatten(Flatten {}));
        let g = built(b);
        let r = &mut SplitMix64::new(9);
        let t = random_tensors(&g, r);
        let f = fold(&g, &t).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = f.graph.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["c", "f"]);
        assert!(matches!(&f.graph.nodes[0].op, Op::Conv2d(c) if c.bias));
        // w' = w·γ/√(var+ε) for channel 0, computed here by hand.
        let (w, gm, var) = (&t[0][0].values, &t[1][0].values, &t[1][3].values);
        let s = f64::from(gm[0]) / (f64::from(var[0]) + 1e-3).sqrt();
        let w0 = f
            .tensor(0, "weight")
            .unwrap_or_else(|e| panic!("{e}"))
            .values[0];
        assert_eq!(w0, (f64::from(w[0]) * s) as f32);
        for _ in 0..4 {
            let x = uniform(r, f.input_len(), 1.0);
            let want = reference::forward(&g, &t, &x).unwrap_or_else(|e| panic!("{e}"));
            let got = f.forward(&x).unwrap_or_else(|e| panic!("{e}"));
            assert!(close(&got, &want, 1e-5), "{got:?} vs {want:?}");
        }
    }
}

#[test]
fn unfoldable_nodes_are_refused_with_their_name() {
    // A BatchNorm after an Add has no producer of its own.
    let mut b = Builder::new("x", [2, 4, 4], 32);
    let c = b.then("c", conv3(2));
    b.node("a", Op::Add(Add {}), &[&c, "input"]);
    b.then("n", bn());
    b.then("f", Op::Flatten(Flatten {}));
    let g = built(b);
    let t = random_tensors(&g, &mut SplitMix64::new(1));
    let err = fold(&g, &t)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("node `n` (BatchNorm)"), "{err}");
    // A mask whose ReLU output is also read by a residual add.
    let mut b = Builder::new("y", [2, 4, 4], 32);
    b.then("c", conv3(2));
    let r = b.then("r", relu());
    let m = b.then("m", Op::Mask(crate::graph::op::Mask {}));
    b.node("a", Op::Add(Add {}), &[&m, &r]);
    b.then("f", Op::Flatten(Flatten {}));
    let g = built(b);
    let t = random_tensors(&g, &mut SplitMix64::new(1));
    let err = fold(&g, &t)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("node `m` (Mask)") && err.contains("`r`"),
        "{err}"
    );
    // Wrong tensor shapes name the node and tensor.
    let g = seed_c10();
    let mut t = random_tensors(&g, &mut SplitMix64::new(1));
    t[0][1].values.pop();
    let err = fold(&g, &t)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("conv1") && err.contains("bias"), "{err}");
}

#[test]
fn softmax_is_dropped_only_at_the_output() {
    let mut b = Builder::new("s", [1, 2, 2], 3);
    b.then("f", Op::Flatten(Flatten {}));
    b.then("d", dense(3));
    b.then("s", Op::Softmax(crate::graph::op::Softmax {}));
    let g = built(b);
    let t = random_tensors(&g, &mut SplitMix64::new(2));
    let f = fold(&g, &t).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.graph.nodes.len(), 2);
    assert_eq!(f.graph.values[f.graph.output.0].name, "d");
    let mut b = Builder::new("s", [1, 2, 2], 3);
    b.then("f", Op::Flatten(Flatten {}));
    b.then("s", Op::Softmax(crate::graph::op::Softmax {}));
    b.then("d", dense(3));
    let g = built(b);
    let t = random_tensors(&g, &mut SplitMix64::new(2));
    assert!(fold(&g, &t).is_err());
}

#[test]
fn relus_fuse_unless_another_node_reads_the_value_before_them() {
    let n = nets(0);
    let names = |l: &Lowered| l.nodes.iter().map(|n| n.name()).collect::<Vec<_>>();
    let g = lower(&n[2]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        names(&g),
        [
            "conv2d",
            "avgpool2d",
            "conv2d",
            "global_avgpool",
            "flatten",
            "dense"
        ]
    );
    assert!(g.nodes[0].relu() && g.nodes[2].relu());
    let g = lower(&n[3]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        names(&g),
        [
            "conv2d", "relu", "conv2d", "add", "conv2d", "add", "flatten", "dense"
        ]
    );
    assert!(!g.nodes[0].relu() && g.nodes[3].relu() && g.nodes[4].relu());
    assert_eq!(g.names[1], "r1");
    // The residual net: stride-2 conv with [0, 0, 1, 1] padding, both adds + ReLU.
    let g = lower(&n[4]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        names(&g),
        [
            "conv2d",
            "conv2d",
            "conv2d",
            "add",
            "conv2d",
            "conv2d",
            "conv2d",
            "add",
            "global_avgpool",
            "flatten",
            "dense"
        ]
    );
    let relus: Vec<bool> = g.nodes.iter().map(|n| n.relu()).collect();
    assert_eq!(
        relus,
        [
            true, true, false, true, true, false, false, true, false, false, false
        ]
    );
    let Node::Conv {
        padding, stride, ..
    } = &g.nodes[4]
    else {
        panic!("{:?}", g.nodes[4].name())
    };
    assert_eq!(
        (padding.top, padding.left, padding.bottom, padding.right),
        (0, 0, 1, 1)
    );
    assert_eq!(*stride, [2, 2]);
    assert!(matches!(g.nodes[7], Node::Add { a: 6, b: 7, .. }));
}

fn calib_images(net: &Folded, n: usize, seed: u64) -> Vec<f32> {
    uniform(&mut SplitMix64::new(seed), n * net.input_len(), 1.0)
}

#[test]
fn int8_tracks_f32_within_quantization_error() {
    for calibration in [Calibration::MinMax, Calibration::Percentile(99.99)] {
        for net in nets(7) {
            let name = &net.graph.name;
            let cfg = QuantConfig {
                calibration,
                images: 128,
                ..QuantConfig::default()
            };
            let calib = calib_images(&net, 128, 1);
            let q = quant::quantize(&net, &calib, &cfg).unwrap_or_else(|e| panic!("{name}: {e}"));
            let aligned = AlignedBytes::new(&q.blob);
            let model = Model::from_bytes(&aligned).unwrap_or_else(|e| panic!("{e}"));
            let mut runner = BlobRunner::new(&model).unwrap_or_else(|e| panic!("{e}"));
            let out_scale = q.qparams[q.graph.output as usize].scale;
            let n_in = net.input_len();
            // On the calibration images no tensor leaves its range (min/max), so the error is
            // rounding only: each layer adds about half a step of its output, a few layers
            // deep that stays within a few % of the logits' range. Fresh images may also
            // saturate where they exceed the calibrated range: argmax agreement only.
            for (set, images) in [
                ("calibration", calib),
                ("fresh", calib_images(&net, 100, 2)),
            ] {
                let (mut agree, mut worst, mut spread) = (0, 0f32, 0f32);
                for x in images.chunks(n_in) {
                    let want = net.forward(x).unwrap_or_else(|e| panic!("{e}"));
                    let got = runner.logits(x).unwrap_or_else(|e| panic!("{e}"));
                    for (a, b) in got.iter().zip(&want) {
                        worst = worst.max((a - b).abs());
                        spread = spread.max(b.abs());
                    }
                    agree += usize::from(argmax(&got) == argmax(&want));
                }
                let total = images.len() / n_in;
                eprintln!(
                    "{calibration:?} {name} {set}: max |int8 - f32| = {worst:.4} ({:.1} output \
                     steps, {:.2}% of max |logit| {spread:.3}), argmax agrees {agree}/{total}",
                    worst / out_scale,
                    100.0 * worst / spread
                );
                assert!(
                    agree * 100 >= 85 * total,
                    "{name} {set}: argmax {agree}/{total}"
                );
                if set == "calibration" && calibration == Calibration::MinMax {
                    assert!(worst <= 0.05 * spread, "{name}: {worst} vs {spread}");
                }
            }
        }
    }
}

#[test]
fn blob_bytes_round_trip_bit_exactly() {
    for net in [nets(3).swap_remove(0), nets(3).swap_remove(4)] {
        let q = quant::quantize(&net, &calib_images(&net, 32, 5), &QuantConfig::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("m.whittle");
        std::fs::write(&path, &q.blob).unwrap_or_else(|e| panic!("{e}"));
        let read = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read, q.blob);
        // Re-encoding from the same ops and quantization gives the same bytes.
        let again = quant::graph_to_s8_blob(&q.graph, &q.qparams).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, q.blob);

        let (a, b) = (AlignedBytes::new(&q.blob), AlignedBytes::new(&read));
        let ma = Model::from_bytes(&a).unwrap_or_else(|e| panic!("{e}"));
        let mb = Model::from_bytes(&b).unwrap_or_else(|e| panic!("{e}"));
        let (mut ra, mut rb) = (
            AlignedBytes::zeroed(ma.ram_bytes()),
            AlignedBytes::zeroed(mb.ram_bytes()),
        );
        let tin = ma.input().unwrap_or_else(|e| panic!("{e}"));
        for x in calib_images(&net, 10, 9).chunks(tin.shape.len()) {
            let xq = quantize_input(x, &tin);
            let ya = run_s8(&ma, &xq, &mut ra)
                .unwrap_or_else(|e| panic!("{e}"))
                .to_vec();
            let yb = run_s8(&mb, &xq, &mut rb)
                .unwrap_or_else(|e| panic!("{e}"))
                .to_vec();
            assert_eq!(ya, yb);
        }
    }
}

/// FNV-1a 64 of a byte string.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[test]
fn seed_net_blobs_keep_their_exact_bytes() {
    // Weights drawn in node order (kernel, bias, mask values), calibration images from
    // seed 99: the exporter must not change a byte unnoticed. Format v1 hashes were those
    // of the sequential exporter before the graph IR (the port changed no byte); v2 adds
    // the input-range metadata byte, which moves the CRC and so every hash.
    let g = seed_c10();
    let t = random_tensors(&g, &mut SplitMix64::new(2024));
    let f = fold(&g, &t).unwrap_or_else(|e| panic!("{e}"));
    let blob = export_f32(&f).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((blob.len(), fnv1a(&blob)), (476_136, 0x8694_1ba1_04d2_e717));
    let calib = uniform(&mut SplitMix64::new(99), 64 * f.input_len(), 1.0);
    for (c, hash) in [
        (Calibration::MinMax, 0x93e0_3add_fb4f_3b0e),
        (Calibration::Percentile(99.9), 0xb7d6_fa8a_6d41_b824),
    ] {
        let cfg = QuantConfig {
            calibration: c,
            ..QuantConfig::default()
        };
        let q = quant::quantize(&f, &calib, &cfg).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((q.blob.len(), fnv1a(&q.blob)), (121_056, hash), "{c:?}");
    }
}

#[test]
fn evaluate_blob_counts_top1() {
    let net = nets(4).swap_remove(2);
    let images = calib_images(&net, 40, 11);
    let n_in = net.input_len();
    let labels: Vec<u8> = images
        .chunks(n_in)
        .map(|x| argmax(&net.forward(x).unwrap_or_else(|e| panic!("{e}"))) as u8)
        .collect();
    let f32_acc = with_model(&export_f32(&net).unwrap_or_else(|e| panic!("{e}")), |m| {
        evaluate_blob(m, &images, &labels)
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f32_acc, 1.0);
    let q =
        quant::quantize(&net, &images, &QuantConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    let s8_acc = with_model(&q.blob, |m| evaluate_blob(m, &images, &labels))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(s8_acc >= 0.85, "{s8_acc}");
    // wrong lengths are errors, not panics
    assert!(with_model(&q.blob, |m| evaluate_blob(m, &images[1..], &labels)).is_err());
}

#[test]
fn corrupt_blob_is_rejected() {
    let net = nets(5).swap_remove(1);
    let mut blob = export_f32(&net).unwrap_or_else(|e| panic!("{e}"));
    let last = blob.len() - 1;
    blob[last] ^= 0x40;
    let err = with_model(&blob, summarize).err();
    assert!(
        matches!(
            err,
            Some(ExportError::Format(whittle_shared::Error::BadCrc { .. }))
        ),
        "{err:?}"
    );
}

#[test]
fn summary_counts_match_the_folded_graph() {
    let net = nets(6).swap_remove(0);
    let s = with_model(&export_f32(&net).unwrap_or_else(|e| panic!("{e}")), |m| {
        summarize(m)
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.params as usize, net.num_params());
    assert_eq!(s.layers[0].input, [3, 9, 6]);
    assert_eq!(s.layers[0].output, [5, 9, 6]);
    // conv 3x3, 3→5 on 9x6: 9·6·5·27 MACs
    assert_eq!(s.layers[0].macs, 9 * 6 * 5 * 27);
    assert_eq!(s.output, [4, 1, 1]);
    // The residual net: BatchNorm folded, so every conv has a bias.
    let net = nets(6).swap_remove(4);
    let s = with_model(&export_f32(&net).unwrap_or_else(|e| panic!("{e}")), |m| {
        summarize(m)
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.params as usize, net.num_params());
    let convs = [
        (3, 8, 9),
        (8, 8, 9),
        (8, 8, 9),
        (8, 16, 9),
        (16, 16, 9),
        (8, 16, 1),
    ];
    let expect: usize = convs.iter().map(|(i, o, k)| i * o * k + o).sum::<usize>() + 16 * 5 + 5;
    assert_eq!(s.params as usize, expect);
}
