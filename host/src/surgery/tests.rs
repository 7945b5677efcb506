//! Surgery acceptance tests: masked ≡ pruned on the seed nets with random masks and on a
//! residual graph (BatchNorm, identity and projection shortcuts, stride 2), exact rows on
//! a hand-built conv→flatten→dense net, fully pruned and 1-channel groups, folding of
//! masks ≠ 1, save → load, and a planted bug the check must name.

use burn::tensor::{Device, Tensor};

use super::*;
use crate::graph::legacy::{LayerV1, sequential};
use crate::graph::op::{Add, BatchNorm, Conv2d, Dense, Flatten, GlobalAvgPool, Mask, Relu};
use crate::graph::presets::{seed_c10, seed_c100};
use crate::graph::{Builder, Op, Pad};
use crate::nn::NamedTensor;
use crate::rng::SplitMix64;

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn logits(net: &Net, x: Tensor<4>) -> Vec<f32> {
    ok(net
        .forward(x)
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| format!("{e:?}")))
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()))
}

fn widths(g: &Graph) -> Vec<usize> {
    ok(g.groups()).widths()
}

fn node(g: &Graph, name: &str) -> usize {
    g.node_index(name)
        .unwrap_or_else(|| panic!("no node {name}"))
}

fn masks(g: &Graph) -> Vec<usize> {
    g.nodes_where(|o| matches!(o, Op::Mask(_)))
}

fn uniform(rng: &mut SplitMix64) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A seeded net with random masks in [0, 2], about `zero_frac` of them exactly 0 (at least
/// one channel per mask survives), and random BatchNorm γ, β and statistics.
fn random_masked(g: &Graph, seed: u64, zero_frac: f64) -> Net {
    let dev = Device::flex();
    dev.seed(seed);
    let mut net = Net::new(g, &dev);
    let mut rng = SplitMix64::new(seed);
    for m in masks(g) {
        let mut t = ok(net.tensor(m, "values"));
        for v in t.values.iter_mut() {
            let u = uniform(&mut rng);
            *v = if u < zero_frac { 0.0 } else { (u * 2.0) as f32 };
        }
        t.values[0] = 1.5;
        ok(net.set_tensor(m, &t));
    }
    for b in g.nodes_where(|o| matches!(o, Op::BatchNorm(_))) {
        for (name, lo, hi) in [
            ("gamma", 0.5, 1.5),
            ("beta", -0.5, 0.5),
            ("running_mean", -0.3, 0.3),
            ("running_var", 0.5, 2.0),
        ] {
            let mut t = ok(net.tensor(b, name));
            for v in t.values.iter_mut() {
                *v = (lo + (hi - lo) * uniform(&mut rng)) as f32;
            }
            ok(net.set_tensor(b, &t));
        }
    }
    net
}

/// A small residual net on 3×8×8: conv+BN+ReLU stem; a block with an identity Add; a
/// block with a stride-2 3×3 conv padded `[0, 0, 1, 1]` (with a Mask after its ReLU, which
/// folds into the BatchNorm) and a stride-2 1×1 projection; a Mask after the last Add's
/// ReLU (which cannot fold); GlobalAvgPool, Flatten, Dense.
pub(crate) fn residual() -> Graph {
    residual_sized(8)
}

/// [`residual`] on `hw`×`hw` images.
pub(crate) fn residual_sized(hw: usize) -> Graph {
    let conv = |out, k, s, pad: [usize; 4]| {
        Op::Conv2d(Conv2d {
            out,
            kernel: [k, k],
            stride: [s, s],
            padding: Pad(pad),
            bias: false,
            groups: 1,
        })
    };
    let bn = || Op::BatchNorm(BatchNorm::default());
    let relu = || Op::Relu(Relu {});
    let mut b = Builder::new("res", [3, hw, hw], 10);
    b.then("conv0", conv(8, 3, 1, [1, 1, 1, 1]));
    b.then("bn0", bn());
    b.then("relu0", relu());
    b.then("b1_conv1", conv(6, 3, 1, [1, 1, 1, 1]));
    b.then("b1_bn1", bn());
    b.then("b1_relu1", relu());
    b.then("b1_conv2", conv(8, 3, 1, [1, 1, 1, 1]));
    b.then("b1_bn2", bn());
    b.node("add1", Op::Add(Add {}), &["b1_bn2", "relu0"]);
    b.then("relu_a1", relu());
    b.then("b2_conv1", conv(12, 3, 2, [0, 0, 1, 1]));
    b.then("b2_bn1", bn());
    b.then("b2_relu1", relu());
    b.then("b2_mask1", Op::Mask(Mask {}));
    b.then("b2_conv2", conv(12, 3, 1, [1, 1, 1, 1]));
    b.then("b2_bn2", bn());
    b.node("b2_short", conv(12, 1, 2, [0, 0, 0, 0]), &["relu_a1"]);
    b.node("add2", Op::Add(Add {}), &["b2_bn2", "b2_short"]);
    b.then("relu_a2", relu());
    b.then("mask_a2", Op::Mask(Mask {}));
    b.then("gap", Op::GlobalAvgPool(GlobalAvgPool {}));
    b.then("flatten", Op::Flatten(Flatten {}));
    b.then(
        "dense",
        Op::Dense(Dense {
            out: 10,
            bias: true,
        }),
    );
    ok(b.finish())
}

/// A random keep plan: each channel kept with probability 0.6 (at least one per group).
fn random_plan(g: &Graph, seed: u64) -> KeepPlan {
    let mut rng = SplitMix64::new(seed);
    let keeps = widths(g)
        .iter()
        .map(|&w| {
            let mut k: Vec<usize> = (0..w).filter(|_| uniform(&mut rng) < 0.6).collect();
            if k.is_empty() {
                k.push(w / 2);
            }
            k
        })
        .collect();
    ok(KeepPlan::new(g, "random", keeps))
}

fn masked_equals_pruned(spec: &Graph, seed: u64) {
    let dev = Device::flex();
    let net = random_masked(spec, seed, 0.35);
    let plan = ok(KeepPlan::from_masks(spec, &net, "test", 0.0));
    let dropped: usize = plan.groups.iter().map(|g| g.width - g.keep.len()).sum();
    assert!(
        dropped > 10,
        "the test must actually prune ({dropped} dropped)"
    );
    let p = ok(apply(spec, &net, &plan, &dev));
    assert_eq!(widths(&p.spec), plan.kept());
    assert!(p.spec.num_weights().unwrap_or(0) < ok(spec.num_weights()));
    // Independently of the layer-wise check: the logits on another batch.
    let x = check::check_batch(spec, 4, seed + 1, &dev);
    let (a, b) = (logits(&net, x.clone()), logits(&p.net, x));
    let scale = a.iter().fold(1f32, |m, v| m.max(v.abs()));
    assert!(
        max_diff(&a, &b) <= 1e-5 * scale,
        "{} > {}",
        max_diff(&a, &b),
        1e-5 * scale
    );
    // Kept masks are folded to 1 (all random masks were >= 0).
    for m in masks(&p.spec) {
        assert!(
            ok(p.net.tensor(m, "values"))
                .values
                .iter()
                .all(|&v| v == 1.0)
        );
    }
}

#[test]
fn random_masks_seed_c10_masked_equals_pruned() {
    masked_equals_pruned(&seed_c10(), 11);
}

#[test]
fn random_masks_seed_c100_masked_equals_pruned() {
    masked_equals_pruned(&seed_c100(), 12);
}

/// Input 1x2x2, Conv3 (1x1) + ReLU, Mask, Flatten (12 = 3 channels x 4), Dense2.
fn hand_spec() -> Graph {
    ok(sequential(
        "hand",
        [1, 2, 2],
        2,
        vec![
            LayerV1::Conv {
                out: 3,
                k: 1,
                relu: true,
            },
            LayerV1::Mask,
            LayerV1::Flatten,
            LayerV1::Dense {
                out: 2,
                relu: false,
            },
        ],
    ))
}

fn set(net: &mut Net, node: usize, name: &str, shape: &[usize], values: Vec<f32>) {
    let t = NamedTensor {
        name: name.into(),
        shape: shape.to_vec(),
        values,
    };
    ok(net.set_tensor(node, &t));
}

fn values(net: &Net, node: usize, name: &str) -> Vec<f32> {
    ok(net.tensor(node, name)).values
}

#[test]
fn conv_flatten_dense_keeps_exact_rows_and_folds_masks() {
    let dev = Device::flex();
    let spec = hand_spec();
    let mut net = Net::new(&spec, &dev);
    let (conv, mask, dense) = (
        node(&spec, "conv1"),
        node(&spec, "mask1"),
        node(&spec, "dense1"),
    );
    set(&mut net, conv, "weight", &[3, 1, 1, 1], vec![1.0, 2.0, 3.0]);
    set(&mut net, conv, "bias", &[3], vec![0.1, 0.2, 0.3]);
    set(&mut net, mask, "values", &[3], vec![2.0, 0.0, 0.5]);
    // Dense weight [12, 2]: row r = [r, 100 + r].
    let dw: Vec<f32> = (0..12).flat_map(|r| [r as f32, 100.0 + r as f32]).collect();
    set(&mut net, dense, "weight", &[12, 2], dw);
    set(&mut net, dense, "bias", &[2], vec![-1.0, 1.0]);
    let plan = ok(KeepPlan::new(&spec, "hand", vec![vec![0, 2]]));
    let p = ok(apply(&spec, &net, &plan, &dev));
    // Producer rows 0 and 2, scaled by their masks 2 and 0.5.
    assert_eq!(values(&p.net, conv, "weight"), vec![2.0, 1.5]);
    assert_eq!(values(&p.net, conv, "bias"), vec![0.2, 0.15]);
    assert_eq!(values(&p.net, mask, "values"), vec![1.0, 1.0]);
    // Dense keeps input rows 0..4 (channel 0) and 8..12 (channel 2), in order.
    let expect: Vec<f32> = [0, 1, 2, 3, 8, 9, 10, 11]
        .iter()
        .flat_map(|&r| [r as f32, 100.0 + r as f32])
        .collect();
    let w = ok(p.net.tensor(dense, "weight"));
    assert_eq!((w.shape, w.values), (vec![8, 2], expect));
    assert_eq!(values(&p.net, dense, "bias"), vec![-1.0, 1.0]);
    assert!(p.check.layers_checked >= 3);
}

#[test]
fn negative_mask_stays_in_the_mask_and_is_still_exact() {
    let dev = Device::flex();
    let spec = hand_spec();
    let mut net = Net::new(&spec, &dev);
    let mask = node(&spec, "mask1");
    set(&mut net, mask, "values", &[3], vec![-0.5, 0.0, 3.0]);
    let plan = ok(KeepPlan::from_masks(&spec, &net, "neg", 0.0));
    assert_eq!(plan.groups[0].keep, vec![0, 2]);
    let p = ok(apply(&spec, &net, &plan, &dev));
    assert_eq!(values(&p.net, mask, "values"), vec![-0.5, 1.0]);
}

#[test]
fn fully_pruned_layers_collapse_to_their_constant_exactly() {
    let dev = Device::flex();
    let spec = seed_c10();
    let net = random_masked(&spec, 5, 0.2);
    // Conv→conv: the second conv loses every channel. Then conv→dense: the last conv.
    for dead in [1usize, 3] {
        let mut keeps: Vec<Vec<usize>> = widths(&spec).iter().map(|&w| (0..w).collect()).collect();
        keeps[dead].clear();
        let plan = ok(KeepPlan::new(&spec, "dead", keeps));
        let p = ok(apply(&spec, &net, &plan, &dev));
        assert_eq!(widths(&p.spec)[dead], 1);
        let reference = ok(reference_net(&spec, &net, &plan));
        let x1 = check::check_batch(&spec, 2, 1, &dev);
        let x2 = check::check_batch(&spec, 2, 2, &dev);
        let (a, b) = (logits(&reference, x1.clone()), logits(&p.net, x1));
        assert!(max_diff(&a, &b) <= 1e-5, "{}", max_diff(&a, &b));
        // Downstream of a dead layer the net is a constant function of its input.
        assert!(max_diff(&b, &logits(&p.net, x2)) <= 1e-6);
    }
}

#[test]
fn one_channel_layers_work_and_prune_again() {
    let dev = Device::flex();
    let spec = seed_c10();
    let net = random_masked(&spec, 9, 0.0);
    let keeps: Vec<Vec<usize>> = widths(&spec).iter().map(|&w| vec![w - 1]).collect();
    let plan = ok(KeepPlan::new(&spec, "one", keeps));
    let p = ok(apply(&spec, &net, &plan, &dev));
    assert_eq!(widths(&p.spec), vec![1; 5]);
    // The pruned spec keeps its masks, so it can be pruned again (keep everything).
    let again = ok(KeepPlan::full(&p.spec, "again"));
    let q = ok(apply(&p.spec, &p.net, &again, &dev));
    let x = check::check_batch(&spec, 3, 4, &dev);
    assert!(max_diff(&logits(&p.net, x.clone()), &logits(&q.net, x)) <= 1e-6);
}

#[test]
fn save_load_gives_identical_outputs() {
    let dev = Device::flex();
    let spec = seed_c10();
    let net = random_masked(&spec, 3, 0.4);
    let plan = ok(KeepPlan::from_masks(&spec, &net, "io", 0.0));
    let p = ok(apply(&spec, &net, &plan, &dev));
    let dir = ok(tempfile::tempdir());
    let path = dir.path().join("pruned.bpk");
    ok(p.net.save(&path));
    let back = ok(Net::load(&p.spec, &path, &dev));
    assert_eq!(back.graph, p.spec);
    let x = check::check_batch(&spec, 4, 8, &dev);
    assert_eq!(logits(&p.net, x.clone()), logits(&back, x));
}

#[test]
fn check_names_the_layer_of_a_planted_bug() {
    let dev = Device::flex();
    let spec = seed_c10();
    let net = random_masked(&spec, 4, 0.3);
    let plan = ok(KeepPlan::from_masks(&spec, &net, "bug", 0.0));
    let (pspec, mut pruned) = ok(cut(&spec, &net, &plan, &dev));
    // Plant a bug: perturb the third conv's bias.
    let conv3 = node(&spec, "conv3");
    let mut b = ok(pruned.tensor(conv3, "bias"));
    b.values[0] += 0.01;
    ok(pruned.set_tensor(conv3, &b));
    let reference = ok(reference_net(&spec, &net, &plan));
    match check::compare(
        &spec,
        &reference,
        &pspec,
        &pruned,
        &plan,
        &dev,
        DEFAULT_TOLERANCE,
    ) {
        Err(SurgeryError::Mismatch {
            node, op: "Mask", ..
        }) if node == "mask3" => {}
        other => panic!("expected a mismatch at mask3 (the mask conv3 folds into), got {other:?}"),
    }
    // The untouched cut passes.
    let (_, good) = ok(cut(&spec, &net, &plan, &dev));
    assert!(
        check::compare(
            &spec,
            &reference,
            &pspec,
            &good,
            &plan,
            &dev,
            DEFAULT_TOLERANCE
        )
        .is_ok()
    );
}

#[test]
fn residual_random_plans_masked_equal_pruned() {
    let dev = Device::flex();
    let g = residual();
    let groups = ok(g.groups());
    assert_eq!(
        groups.names(),
        vec!["conv0", "b1_conv1", "b2_conv1", "b2_conv2"]
    );
    assert_eq!(groups.widths(), vec![8, 6, 12, 12]);
    for seed in [1u64, 2, 3] {
        let net = random_masked(&g, seed, 0.0);
        let plan = random_plan(&g, seed + 10);
        let p = ok(apply(&g, &net, &plan, &dev));
        assert!(p.check.max_rel_diff <= DEFAULT_TOLERANCE);
        assert!(p.check.layers_checked > 10, "{:?}", p.check);
        // The Add groups are cut together: every producer of a group has its kept width.
        assert_eq!(widths(&p.spec), plan.kept());
        for (name, k) in [
            ("conv0", 0),
            ("b1_conv2", 0),
            ("b2_conv2", 3),
            ("b2_short", 3),
        ] {
            let i = node(&p.spec, name);
            assert_eq!(
                p.spec.nodes[i].op.width(),
                Some(plan.groups[k].keep.len()),
                "{name}"
            );
        }
        // BatchNorm sliced: bn0's γ and statistics are the kept ones, unchanged (no mask
        // follows it); b2_bn1's γ/β carry the folded mask, its statistics are sliced.
        let (bn0, bn1) = (node(&g, "bn0"), node(&g, "b2_bn1"));
        let mask1 = node(&g, "b2_mask1");
        let pick = |v: Vec<f32>, keep: &[usize]| keep.iter().map(|&c| v[c]).collect::<Vec<f32>>();
        for name in ["gamma", "beta", "running_mean", "running_var"] {
            assert_eq!(
                values(&p.net, bn0, name),
                pick(values(&net, bn0, name), &plan.groups[0].keep)
            );
        }
        let keep2 = &plan.groups[2].keep;
        let m = pick(values(&net, mask1, "values"), keep2);
        let gamma: Vec<f32> = pick(values(&net, bn1, "gamma"), keep2)
            .iter()
            .zip(&m)
            .map(|(g, m)| g * m)
            .collect();
        assert_eq!(values(&p.net, bn1, "gamma"), gamma);
        assert_eq!(values(&p.net, mask1, "values"), vec![1.0; keep2.len()]);
        assert_eq!(
            values(&p.net, bn1, "running_var"),
            pick(values(&net, bn1, "running_var"), keep2)
        );
        // The mask after an Add cannot fold: its kept values stay.
        let ma2 = node(&g, "mask_a2");
        assert_eq!(
            values(&p.net, ma2, "values"),
            pick(values(&net, ma2, "values"), &plan.groups[3].keep)
        );
        // Logits on another batch match the masked reference.
        let reference = ok(reference_net(&g, &net, &plan));
        let x = check::check_batch(&g, 4, seed + 100, &dev);
        let (a, b) = (logits(&reference, x.clone()), logits(&p.net, x));
        let scale = a.iter().fold(1f32, |m, v| m.max(v.abs()));
        assert!(max_diff(&a, &b) <= 1e-5 * scale, "{}", max_diff(&a, &b));
    }
}

#[test]
fn residual_fully_pruned_groups_are_exact() {
    let dev = Device::flex();
    let g = residual();
    let net = random_masked(&g, 7, 0.0);
    // The inner group of block 1: one dead channel, the block's identity path carries on.
    // (The identity-Add group itself may not be emptied: `plan` refuses it by name.)
    let mut trunk: Vec<Vec<usize>> = widths(&g).iter().map(|&w| (0..w).collect()).collect();
    trunk[0].clear();
    assert!(KeepPlan::new(&g, "dead", trunk).is_err());
    let dead = 1usize;
    let mut keeps: Vec<Vec<usize>> = widths(&g).iter().map(|&w| (0..w).collect()).collect();
    keeps[dead].clear();
    let plan = ok(KeepPlan::new(&g, "dead", keeps));
    let p = ok(apply(&g, &net, &plan, &dev));
    assert_eq!(widths(&p.spec)[dead], 1);
    let reference = ok(reference_net(&g, &net, &plan));
    let x = check::check_batch(&g, 2, 3, &dev);
    let (a, b) = (logits(&reference, x.clone()), logits(&p.net, x));
    let scale = a.iter().fold(1f32, |m, v| m.max(v.abs()));
    assert!(max_diff(&a, &b) <= 1e-5 * scale, "{}", max_diff(&a, &b));
}
