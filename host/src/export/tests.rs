//! End-to-end checks of export and quantization on random networks: the f32 blob equals the
//! NCHW reference forward pass, the int8 blob tracks it, and blob bytes round-trip.

use whittle_shared::Model;
use whittle_shared::encode::AlignedBytes;
use whittle_shared::exec::run_s8;

use super::*;
use crate::quant::{self, Calibration, QuantConfig, quantize_input};
use crate::rng::SplitMix64;

fn uniform(rng: &mut SplitMix64, n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|_| ((rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale)
        .collect()
}

fn conv(
    rng: &mut SplitMix64,
    inp: usize,
    out: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    relu: bool,
) -> FloatLayer {
    let fan_in = inp * kernel[0] * kernel[1];
    FloatLayer::Conv2d {
        out,
        weight: uniform(rng, out * fan_in, (3.0 / fan_in as f32).sqrt()),
        bias: uniform(rng, out, 0.1),
        kernel,
        stride,
        padding,
        relu,
    }
}

fn dense(rng: &mut SplitMix64, inp: usize, out: usize, relu: bool) -> FloatLayer {
    FloatLayer::Dense {
        out,
        weight: uniform(rng, inp * out, (3.0 / inp as f32).sqrt()),
        bias: uniform(rng, out, 0.1),
        relu,
    }
}

/// Networks covering non-square inputs, strides, asymmetric kernels, conv→flatten→dense,
/// separate and fused ReLUs, pools and residual adds.
fn nets(seed: u64) -> Vec<FloatNet> {
    let r = &mut SplitMix64::new(seed);
    vec![
        // non-square, strided, asymmetric kernel, pool, flatten, two dense
        FloatNet {
            input: [3, 9, 6],
            layers: vec![
                conv(r, 3, 5, [3, 3], [1, 1], [1, 1], true),
                conv(r, 5, 4, [3, 2], [2, 1], [0, 1], true),
                FloatLayer::MaxPool2d {
                    kernel: [2, 2],
                    stride: [2, 2],
                },
                FloatLayer::Flatten,
                dense(r, 4 * 2 * 3, 7, true),
                dense(r, 7, 4, false),
            ],
        },
        // conv straight into flatten → dense (the row permutation matters most here)
        FloatNet {
            input: [2, 4, 5],
            layers: vec![
                conv(r, 2, 3, [3, 3], [1, 1], [1, 1], false),
                FloatLayer::Flatten,
                dense(r, 3 * 4 * 5, 6, false),
            ],
        },
        // separate ReLU (fused on export), average pools, global pool
        FloatNet {
            input: [3, 8, 8],
            layers: vec![
                conv(r, 3, 6, [3, 3], [1, 1], [1, 1], false),
                FloatLayer::Relu,
                FloatLayer::AvgPool2d {
                    kernel: [2, 2],
                    stride: [2, 2],
                },
                conv(r, 6, 8, [1, 1], [1, 1], [0, 0], true),
                FloatLayer::Relu,
                FloatLayer::GlobalAvgPool,
                FloatLayer::Flatten,
                dense(r, 8, 5, false),
            ],
        },
        // residual block; the first ReLU can't fuse: the add reads the value before it
        FloatNet {
            input: [4, 6, 7],
            layers: vec![
                conv(r, 4, 4, [3, 3], [1, 1], [1, 1], false),
                FloatLayer::Relu,
                conv(r, 4, 4, [3, 3], [1, 1], [1, 1], false),
                FloatLayer::Add { skip: 1 },
                FloatLayer::Relu,
                conv(r, 4, 4, [3, 3], [1, 1], [1, 1], true),
                FloatLayer::Add { skip: 5 },
                FloatLayer::Flatten,
                dense(r, 4 * 6 * 7, 3, false),
            ],
        },
    ]
}

fn close(a: &[f32], b: &[f32], rel: f32) -> bool {
    let scale = b.iter().fold(1f32, |m, x| m.max(x.abs()));
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= rel * scale)
}

#[test]
fn f32_blob_equals_reference_forward() {
    for seed in 0..3 {
        for (i, net) in nets(seed).into_iter().enumerate() {
            let blob = export_f32(&net).unwrap_or_else(|e| panic!("net {i}: {e}"));
            let graph = lower(&net).unwrap_or_else(|e| panic!("{e}"));
            let aligned = AlignedBytes::new(&blob);
            let model = Model::from_bytes(&aligned).unwrap_or_else(|e| panic!("{e}"));
            let mut runner = BlobRunner::new(&model).unwrap_or_else(|e| panic!("{e}"));
            let rng = &mut SplitMix64::new(100 + seed);
            for _ in 0..5 {
                let x = uniform(rng, net.input.iter().product(), 1.0);
                let want = net.forward(&x).unwrap_or_else(|e| panic!("{e}"));
                let got = runner.logits(&x).unwrap_or_else(|e| panic!("{e}"));
                assert!(
                    close(&got, &want, 1e-5),
                    "seed {seed} net {i} ({} ops): {got:?} vs {want:?}",
                    graph.nodes.len()
                );
            }
        }
    }
}

#[test]
fn relus_fuse_unless_a_skip_reads_the_value_before_them() {
    let n = nets(0);
    let g = lower(&n[2]).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<_> = g.nodes.iter().map(|n| n.name()).collect();
    assert_eq!(
        names,
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
    let names: Vec<_> = g.nodes.iter().map(|n| n.name()).collect();
    assert_eq!(
        names,
        [
            "conv2d", "relu", "conv2d", "add", "conv2d", "add", "flatten", "dense"
        ]
    );
    assert!(!g.nodes[0].relu() && g.nodes[3].relu());
}

fn calib_images(net: &FloatNet, n: usize, seed: u64) -> Vec<f32> {
    uniform(
        &mut SplitMix64::new(seed),
        n * net.input.iter().product::<usize>(),
        1.0,
    )
}

#[test]
fn int8_tracks_f32_within_quantization_error() {
    for calibration in [Calibration::MinMax, Calibration::Percentile(99.99)] {
        for (i, net) in nets(7).into_iter().enumerate() {
            let cfg = QuantConfig {
                calibration,
                images: 128,
                ..QuantConfig::default()
            };
            let calib = calib_images(&net, 128, 1);
            let q = quant::quantize(&net, &calib, &cfg).unwrap_or_else(|e| panic!("net {i}: {e}"));
            let aligned = AlignedBytes::new(&q.blob);
            let model = Model::from_bytes(&aligned).unwrap_or_else(|e| panic!("{e}"));
            let mut runner = BlobRunner::new(&model).unwrap_or_else(|e| panic!("{e}"));
            let out_scale = q.qparams[q.graph.output as usize].scale;
            let n_in = net.input.iter().product();
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
                    "{calibration:?} net {i} {set}: max |int8 - f32| = {worst:.4} ({:.1} output \
                     steps, {:.2}% of max |logit| {spread:.3}), argmax agrees {agree}/{total}",
                    worst / out_scale,
                    100.0 * worst / spread
                );
                assert!(
                    agree * 100 >= 85 * total,
                    "net {i} {set}: argmax {agree}/{total}"
                );
                if set == "calibration" && calibration == Calibration::MinMax {
                    assert!(worst <= 0.05 * spread, "net {i}: {worst} vs {spread}");
                }
            }
        }
    }
}

#[test]
fn blob_bytes_round_trip_bit_exactly() {
    let net = nets(3).swap_remove(0);
    let q = quant::quantize(&net, &calib_images(&net, 32, 5), &QuantConfig::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("m.whittle");
    std::fs::write(&path, &q.blob).unwrap_or_else(|e| panic!("{e}"));
    let read = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read, q.blob);
    // Re-encoding from the same graph and quantization gives the same bytes.
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

#[test]
fn evaluate_blob_counts_top1() {
    let net = nets(4).swap_remove(2);
    let images = calib_images(&net, 40, 11);
    let n_in = net.input.iter().product();
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
fn summary_counts_match_the_float_net() {
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
}
