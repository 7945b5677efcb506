//! Surgery acceptance tests: masked ≡ pruned on the seed nets with random masks, exact
//! rows on a hand-built conv→flatten→dense net, fully pruned and 1-channel layers, folding
//! of masks ≠ 1, save → load, and a planted bug the check must name.

use burn::tensor::{Device, Tensor};

use super::*;
use crate::arch::seed::{seed_c10, seed_c100};
use crate::arch::{ArchSpec, LayerSpec};
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

/// A seeded net with random masks in [0, 2], about `zero_frac` of them exactly 0 (at least
/// one channel per layer survives).
fn random_masked(spec: &ArchSpec, seed: u64, zero_frac: f64) -> Net {
    let dev = Device::flex();
    dev.seed(seed);
    let mut net = ok(Net::new(spec, &dev));
    let mut rng = SplitMix64::new(seed);
    for m in spec.mask_layers() {
        let lw = ok(net.layer_weights());
        let mut t = lw[m].tensors[0].clone();
        for v in t.values.iter_mut() {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            *v = if u < zero_frac { 0.0 } else { (u * 2.0) as f32 };
        }
        t.values[0] = 1.5;
        ok(net.set_tensor(m, &t));
    }
    net
}

fn masked_equals_pruned(spec: &ArchSpec, seed: u64) {
    let dev = Device::flex();
    let net = random_masked(spec, seed, 0.35);
    let plan = ok(KeepPlan::from_masks(spec, &net, "test", 0.0));
    let dropped: usize = plan.groups.iter().map(|g| g.width - g.keep.len()).sum();
    assert!(
        dropped > 10,
        "the test must actually prune ({dropped} dropped)"
    );
    let p = ok(apply(spec, &net, &plan, &dev));
    assert_eq!(p.spec.widths(), plan.kept());
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
    for m in p.spec.mask_layers() {
        let lw = ok(p.net.layer_weights());
        assert!(lw[m].tensors[0].values.iter().all(|&v| v == 1.0));
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
fn hand_spec() -> ArchSpec {
    ArchSpec {
        name: "hand".into(),
        input: [1, 2, 2],
        num_classes: 2,
        layers: vec![
            LayerSpec::Conv {
                out: 3,
                k: 1,
                relu: true,
            },
            LayerSpec::Mask,
            LayerSpec::Flatten,
            LayerSpec::Dense {
                out: 2,
                relu: false,
            },
        ],
    }
}

fn set(net: &mut Net, layer: usize, name: &str, shape: &[usize], values: Vec<f32>) {
    let t = NamedTensor {
        name: name.into(),
        shape: shape.to_vec(),
        values,
    };
    ok(net.set_tensor(layer, &t));
}

#[test]
fn conv_flatten_dense_keeps_exact_rows_and_folds_masks() {
    let dev = Device::flex();
    let spec = hand_spec();
    let mut net = ok(Net::new(&spec, &dev));
    set(&mut net, 0, "weight", &[3, 1, 1, 1], vec![1.0, 2.0, 3.0]);
    set(&mut net, 0, "bias", &[3], vec![0.1, 0.2, 0.3]);
    set(&mut net, 1, "values", &[3], vec![2.0, 0.0, 0.5]);
    // Dense weight [12, 2]: row r = [r, 100 + r].
    let dw: Vec<f32> = (0..12).flat_map(|r| [r as f32, 100.0 + r as f32]).collect();
    set(&mut net, 3, "weight", &[12, 2], dw);
    set(&mut net, 3, "bias", &[2], vec![-1.0, 1.0]);
    let plan = ok(KeepPlan::new(&spec, "hand", vec![vec![0, 2]]));
    let p = ok(apply(&spec, &net, &plan, &dev));
    let lw = ok(p.net.layer_weights());
    // Producer rows 0 and 2, scaled by their masks 2 and 0.5.
    assert_eq!(
        lw[0].get("weight").map(|t| t.values.clone()),
        Some(vec![2.0, 1.5])
    );
    assert_eq!(
        lw[0].get("bias").map(|t| t.values.clone()),
        Some(vec![0.2, 0.15])
    );
    assert_eq!(
        lw[1].get("values").map(|t| t.values.clone()),
        Some(vec![1.0, 1.0])
    );
    // Dense keeps input rows 0..4 (channel 0) and 8..12 (channel 2), in order.
    let expect: Vec<f32> = [0, 1, 2, 3, 8, 9, 10, 11]
        .iter()
        .flat_map(|&r| [r as f32, 100.0 + r as f32])
        .collect();
    let w = lw[3]
        .get("weight")
        .unwrap_or_else(|| panic!("dense weight"));
    assert_eq!((w.shape.clone(), w.values.clone()), (vec![8, 2], expect));
    assert_eq!(
        lw[3].get("bias").map(|t| t.values.clone()),
        Some(vec![-1.0, 1.0])
    );
    assert!(p.check.layers_checked >= 3);
}

#[test]
fn negative_mask_stays_in_the_mask_and_is_still_exact() {
    let dev = Device::flex();
    let spec = hand_spec();
    let mut net = ok(Net::new(&spec, &dev));
    set(&mut net, 1, "values", &[3], vec![-0.5, 0.0, 3.0]);
    let plan = ok(KeepPlan::from_masks(&spec, &net, "neg", 0.0));
    assert_eq!(plan.groups[0].keep, vec![0, 2]);
    let p = ok(apply(&spec, &net, &plan, &dev));
    let lw = ok(p.net.layer_weights());
    assert_eq!(
        lw[1].get("values").map(|t| t.values.clone()),
        Some(vec![-0.5, 1.0])
    );
}

#[test]
fn fully_pruned_layers_collapse_to_their_constant_exactly() {
    let dev = Device::flex();
    let spec = seed_c10();
    let net = random_masked(&spec, 5, 0.2);
    // Conv→conv: the second conv loses every channel. Then conv→dense: the last conv.
    for dead in [1usize, 3] {
        let mut keeps: Vec<Vec<usize>> = spec.widths().iter().map(|&w| (0..w).collect()).collect();
        keeps[dead].clear();
        let plan = ok(KeepPlan::new(&spec, "dead", keeps));
        let p = ok(apply(&spec, &net, &plan, &dev));
        assert_eq!(p.spec.widths()[dead], 1);
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
    let keeps: Vec<Vec<usize>> = spec.widths().iter().map(|&w| vec![w - 1]).collect();
    let plan = ok(KeepPlan::new(&spec, "one", keeps));
    let p = ok(apply(&spec, &net, &plan, &dev));
    assert_eq!(p.spec.widths(), vec![1; 5]);
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
    // Plant a bug: perturb the third conv's (layer 5) bias.
    let lw = ok(pruned.layer_weights());
    let mut b = lw[5].get("bias").cloned().unwrap_or_else(|| panic!("bias"));
    b.values[0] += 0.01;
    ok(pruned.set_tensor(5, &b));
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
            layer: 6,
            kind: "Mask",
            ..
        }) => {}
        other => panic!("expected a mismatch at layer 6 (the mask after conv 5), got {other:?}"),
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
