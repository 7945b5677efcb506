//! Method tests on a tiny net and synthetic images: snapping freezes, push-pull phases
//! leave the other group bit-identical, first-k drops exactly k, budgets are met, the
//! criteria drop the channels they should, and L0 learns end to end through surgery.

use burn::tensor::Device;

use super::budget::{self, Ranking, Target};
use super::first_k::FirstK;
use super::gated::GatedNet;
use super::l0::{L0, L0Config};
use super::l1::{L1, L1Config, PushPull};
use super::learn::{LearnConfig, learn};
use super::method::{Amount, PlanContext, PruneMethod};
use super::*;
use crate::arch::seed::seed_c10;
use crate::arch::{ArchSpec, LayerSpec};
use crate::data::images::IMAGE_BYTES;
use crate::data::{Images, Splits};
use crate::nn::{LayerWeights, NamedTensor, Net};
use crate::rng::SplitMix64;

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn tiny_spec() -> ArchSpec {
    ArchSpec {
        name: "tiny".into(),
        input: [3, 32, 32],
        num_classes: 10,
        // Pool first: 8x8 maps keep the tests fast and the channel costs fine-grained.
        layers: vec![
            LayerSpec::Pool { size: 4 },
            LayerSpec::Conv {
                out: 16,
                k: 3,
                relu: true,
            },
            LayerSpec::Mask,
            LayerSpec::Pool { size: 2 },
            LayerSpec::Conv {
                out: 32,
                k: 3,
                relu: true,
            },
            LayerSpec::Mask,
            LayerSpec::Pool { size: 4 },
            LayerSpec::Flatten,
            LayerSpec::Dense {
                out: 16,
                relu: true,
            },
            LayerSpec::Mask,
            LayerSpec::Dense {
                out: 10,
                relu: false,
            },
        ],
    }
}

/// Images whose class is visible: class k brightens colour plane k % 3 by 40 * (k / 3).
fn images(n: usize, seed: u64) -> Images {
    let mut rng = SplitMix64::new(seed);
    let mut im = Images::new(10);
    for i in 0..n {
        let label = (i % 10) as u8;
        let px: Vec<u8> = (0..IMAGE_BYTES)
            .map(|p| {
                let noise = (rng.next_u64() % 64) as u8;
                let boost = if p / 1024 == usize::from(label % 3) {
                    40 * (label / 3)
                } else {
                    0
                };
                noise.saturating_add(boost)
            })
            .collect();
        im.push(&px, label);
    }
    im
}

fn data(n: usize) -> Splits {
    Splits {
        train: images(n, 1),
        val: images(20, 2),
    }
}

fn cfg() -> LearnConfig {
    LearnConfig {
        batch_size: 8,
        eval_batch_size: 20,
        ..LearnConfig::default()
    }
}

fn model(spec: &ArchSpec, dev: &Device) -> GatedNet {
    dev.seed(3);
    GatedNet::plain(ok(Net::new(spec, dev)))
}

fn weights_only(lw: &[LayerWeights]) -> Vec<LayerWeights> {
    lw.iter().filter(|l| l.kind != "Mask").cloned().collect()
}

fn masks_only(lw: &[LayerWeights]) -> Vec<LayerWeights> {
    lw.iter().filter(|l| l.kind == "Mask").cloned().collect()
}

#[test]
fn push_pull_phases_leave_the_other_group_bit_identical() {
    let dev = Device::flex().autodiff();
    let spec = tiny_spec();
    let d = data(24);
    let m0 = model(&spec, &dev);
    let before = ok(m0.net.layer_weights());
    // Masks-only phase (1 epoch of a 1+1 cycle).
    let mut l1 = L1::new(
        &spec,
        L1Config {
            epochs: 1,
            lambda: 1e-2,
            snap: None,
            push_pull: Some(PushPull {
                mask_epochs: 1,
                weight_epochs: 1,
            }),
            ..L1Config::default()
        },
    );
    let (m1, _) = ok(learn(&mut l1, m0, &d, &cfg(), &dev, &mut |_| {}));
    let after = ok(m1.net.layer_weights());
    assert_eq!(
        weights_only(&before),
        weights_only(&after),
        "weights moved in a masks-only epoch"
    );
    assert_ne!(masks_only(&before), masks_only(&after), "masks must move");
    // Weights-only phase.
    let mut l1w = L1::new(
        &spec,
        L1Config {
            epochs: 1,
            snap: None,
            push_pull: Some(PushPull {
                mask_epochs: 0,
                weight_epochs: 1,
            }),
            ..L1Config::default()
        },
    );
    let (m2, _) = ok(learn(&mut l1w, m1, &d, &cfg(), &dev, &mut |_| {}));
    let after2 = ok(m2.net.layer_weights());
    assert_eq!(
        masks_only(&after),
        masks_only(&after2),
        "masks moved in a weights-only epoch"
    );
    assert_ne!(weights_only(&after), weights_only(&after2));
}

#[test]
fn snapped_mask_stays_zero_through_later_steps() {
    let dev = Device::flex().autodiff();
    let spec = tiny_spec();
    let mut m = model(&spec, &dev);
    let t = NamedTensor {
        name: "values".into(),
        shape: vec![16],
        values: std::iter::once(0.05)
            .chain(std::iter::repeat_n(1.0, 15))
            .collect(),
    };
    ok(m.net.set_tensor(2, &t));
    // A large lr and no penalty: the gradient would move the mask off 0 if it were free.
    let mut l1 = L1::new(
        &spec,
        L1Config {
            epochs: 2,
            lambda: 0.0,
            snap: Some(0.075),
            ..L1Config::default()
        },
    );
    let c = LearnConfig { lr: 0.05, ..cfg() };
    let (m, _) = ok(learn(&mut l1, m, &data(24), &c, &dev, &mut |_| {}));
    let lw = ok(m.net.layer_weights());
    let v = &lw[2].tensors[0].values;
    assert_eq!(v[0], 0.0);
    assert!(l1.frozen[0][0]);
    assert!(
        v[1..].iter().all(|&x| x != 0.0 && x != 1.0),
        "the others trained: {v:?}"
    );
}

#[test]
fn first_k_removes_exactly_k_per_layer() {
    let dev = Device::flex();
    let spec = seed_c10();
    let net = ok(Net::new(&spec, &dev));
    let ctx = PlanContext {
        spec: &spec,
        amount: Amount::PerLayer(5),
        round_to: 1,
        calib: None,
        device: &dev,
    };
    let plan = ok(FirstK.keep_plan(&net, &ctx));
    for (g, w) in plan.groups.iter().zip(spec.widths()) {
        assert_eq!(g.keep, (5..w).collect::<Vec<_>>());
    }
}

#[test]
fn budget_select_meets_targets_with_rounding() {
    let spec = seed_c10();
    let full = ok(Target::Macs(0).cost(&spec));
    let mut rng = SplitMix64::new(4);
    let scores: Vec<Vec<f32>> = spec
        .widths()
        .iter()
        .map(|&w| (0..w).map(|_| (rng.next_u64() % 1000) as f32).collect())
        .collect();
    for ranking in [Ranking::Global, Ranking::Uniform] {
        for frac in [0.3, 0.5, 0.8] {
            let target = Target::Macs((full as f64 * frac) as u64);
            let keeps = ok(budget::select(&spec, &scores, target, 4, ranking));
            let widths: Vec<usize> = keeps.iter().map(Vec::len).collect();
            assert!(widths.iter().all(|w| w % 4 == 0 && *w >= 4), "{widths:?}");
            let cost = ok(target.cost_of(&spec, &widths));
            assert!(
                cost <= target.value(),
                "{ranking:?} {frac}: {cost} > {}",
                target.value()
            );
            if ranking == Ranking::Global {
                assert!(
                    cost as f64 >= 0.9 * target.value() as f64,
                    "{frac}: {cost} far under"
                );
            }
        }
    }
    // Global keeps the best-scored channels.
    let target = Target::Params(ok(Target::Params(0).cost(&spec)) / 2);
    let keeps = ok(budget::select(&spec, &scores, target, 1, Ranking::Global));
    for (k, s) in keeps.iter().zip(&scores) {
        let worst_kept = k.iter().map(|&c| s[c]).fold(f32::INFINITY, f32::min);
        let best_dropped = (0..s.len())
            .filter(|c| !k.contains(c))
            .map(|c| s[c])
            .fold(f32::NEG_INFINITY, f32::max);
        assert!(worst_kept >= best_dropped || k.len() <= 1);
    }
    assert!(budget::select(&spec, &scores, Target::Macs(10), 1, Ranking::Global).is_err());
    // Expected cost interpolates the integer cost at integer widths.
    let w: Vec<f64> = spec.widths().iter().map(|&w| w as f64 / 2.0).collect();
    let wi: Vec<usize> = spec.widths().iter().map(|&w| w / 2).collect();
    for t in [Target::Macs(0), Target::Params(0), Target::Flash(0)] {
        let e = ok(t.expected_cost(&spec, &w));
        assert!((e - ok(t.cost_of(&spec, &wi)) as f64).abs() < 1e-6, "{t:?}");
    }
}

#[test]
fn l1_budget_mode_reaches_its_mac_target_within_5_percent() {
    let dev = Device::flex().autodiff();
    let spec = tiny_spec();
    let full = ok(Target::Macs(0).cost(&spec));
    let target = Target::Macs(full / 2);
    let mut l1 = L1::new(
        &spec,
        L1Config {
            epochs: 3,
            lambda: 1e-3,
            target: Some(target),
            ..L1Config::default()
        },
    );
    let (m, log) = ok(learn(
        &mut l1,
        model(&spec, &dev),
        &data(32),
        &cfg(),
        &dev,
        &mut |_| {},
    ));
    assert!(
        log.iter()
            .all(|e| e.method.expected_cost.is_some() && !e.method.channels.is_empty())
    );
    assert!(
        log[2].method.lambda > log[0].method.lambda,
        "λ must grow while over budget"
    );
    let net = ok(l1.finalize(m));
    use burn::module::Module;
    let net = net.valid();
    let plain = Device::flex();
    let ctx = PlanContext {
        spec: &spec,
        amount: Amount::Target(target),
        round_to: 1,
        calib: None,
        device: &plain,
    };
    let plan = ok(l1.keep_plan(&net, &ctx));
    let cost = ok(target.cost_of(&spec, &plan.widths()));
    let goal = target.value() as f64;
    assert!(
        cost as f64 <= goal && cost as f64 >= 0.95 * goal,
        "{cost} vs {goal}"
    );
    ok(crate::surgery::apply(&spec, &net, &plan, &plain));
}

#[test]
fn l1_norm_and_apoz_drop_the_dead_channel_first() {
    let dev = Device::flex();
    let spec = tiny_spec();
    dev.seed(21);
    let mut net = ok(Net::new(&spec, &dev));
    let lw = ok(net.layer_weights());
    // Conv (layer 1), channel 2: zero filter and a very negative bias → always 0 after ReLU.
    let mut w = lw[1].get("weight").cloned().unwrap_or_else(|| panic!("w"));
    w.values[2 * 27..3 * 27].iter_mut().for_each(|v| *v = 0.0);
    let mut b = lw[1].get("bias").cloned().unwrap_or_else(|| panic!("b"));
    b.values[2] = -100.0;
    ok(net.set_tensor(1, &w));
    ok(net.set_tensor(1, &b));
    let calib = images(16, 9);
    let ctx = PlanContext {
        spec: &spec,
        amount: Amount::PerLayer(1),
        round_to: 1,
        calib: Some(&calib),
        device: &dev,
    };
    let expect: Vec<usize> = (0..16).filter(|&c| c != 2).collect();
    let plan = ok(l1_norm::L1Norm.keep_plan(&net, &ctx));
    assert_eq!(plan.groups[0].keep, expect, "l1-norm drops the zero filter");
    assert_eq!(plan.groups[1].keep.len(), 31);
    // APoZ: channel 2 is zero on every image and position; the dropped channel is one of
    // the channels with the highest APoZ (random init may kill others too).
    let scores = ok(apoz::apoz(&spec, &net, &ctx, 16));
    assert_eq!(scores[0][2], 1.0);
    let plan = ok(apoz::Apoz { images: 16 }.keep_plan(&net, &ctx));
    let dropped: Vec<usize> = (0..16)
        .filter(|c| !plan.groups[0].keep.contains(c))
        .collect();
    assert_eq!(dropped.len(), 1);
    assert_eq!(scores[0][dropped[0]], 1.0);
    assert!(
        scores[0].iter().any(|&a| a < 1.0),
        "APoZ must tell channels apart"
    );
}

#[test]
fn l0_learns_fixes_gates_and_cuts() {
    let dev = Device::flex().autodiff();
    let spec = tiny_spec();
    // A strong λ and low initial log α: some gates must close within 2 epochs.
    let mut l0 = L0::new(
        &spec,
        L0Config {
            epochs: 2,
            lambda: 0.5,
            log_alpha_init: 0.3,
            ..L0Config::default()
        },
    );
    let m = ok(l0.init(model(&spec, &dev)));
    assert_eq!(m.gates.len(), 3);
    let c = LearnConfig { lr: 0.05, ..cfg() };
    let (m, log) = ok(learn(&mut l0, m, &data(64), &c, &dev, &mut |_| {}));
    let open: f64 = log[1].method.channels.iter().sum();
    assert!(open < 64.0 * 0.9, "expected open gates {open}");
    use burn::module::Module;
    let net = ok(l0.finalize(m.valid()));
    let plain = Device::flex();
    let ctx = PlanContext {
        spec: &spec,
        amount: Amount::Learned,
        round_to: 1,
        calib: None,
        device: &plain,
    };
    let plan = ok(l0.keep_plan(&net, &ctx));
    for (g, la) in plan.groups.iter().zip(&l0.log_alpha) {
        let expect: Vec<usize> = (0..la.len()).filter(|&c| la[c] >= 0.0).collect();
        assert_eq!(g.keep, expect);
    }
    ok(crate::surgery::apply(&spec, &net, &plan, &plain));
}

#[test]
fn finetune_writes_an_ordinary_run_dir_and_keeps_masks_at_one() {
    use crate::train::{RunDir, RunOptions, TrainConfig, load_model};
    let dev = Device::flex();
    let spec = tiny_spec();
    dev.seed(22);
    let net = ok(Net::new(&spec, &dev));
    let ctx = PlanContext {
        spec: &spec,
        amount: Amount::PerLayer(2),
        round_to: 1,
        calib: None,
        device: &dev,
    };
    let plan = ok(FirstK.keep_plan(&net, &ctx));
    let pruned = ok(crate::surgery::apply(&spec, &net, &plan, &dev));
    let dir = ok(tempfile::tempdir());
    let config = TrainConfig {
        epochs: 1,
        batch_size: 8,
        eval_batch_size: 20,
        train_group: crate::nn::Group::Weights,
        ..TrainConfig::default()
    };
    let run = RunDir::new(dir.path());
    let h = ok(pipeline::finetune(
        &run,
        &pruned.spec,
        &pruned.net,
        &config,
        &data(16),
        &dev,
        RunOptions { progress: false },
        &mut |_| {},
    ));
    assert_eq!(h.epochs.len(), 1);
    let (s, back) = ok(load_model(dir.path(), &dev));
    assert_eq!(s, pruned.spec);
    let lw = ok(back.layer_weights());
    for m in s.mask_layers() {
        assert!(lw[m].tensors[0].values.iter().all(|&v| v == 1.0));
    }
    assert_ne!(
        ok(pruned.net.layer_weights())[1],
        lw[1],
        "weights were fine-tuned"
    );
}
