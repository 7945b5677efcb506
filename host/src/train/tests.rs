//! Training acceptance tests on a tiny net and synthetic images: determinism, resume
//! equivalence, refusal to overwrite, and NaN handling that keeps the last good checkpoint.

use burn::tensor::Device;

use super::*;
use crate::data::images::IMAGE_BYTES;
use crate::data::{Images, Splits};
use crate::graph::Graph;
use crate::graph::legacy::{LayerV1, sequential};
use crate::nn::NamedTensor;
use crate::rng::SplitMix64;

/// flex's RNG (init, dropout) is process-global: training tests must not interleave.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub(crate) fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Equality without dumping thousands of floats on failure.
fn same(a: &[Vec<NamedTensor>], b: &[Vec<NamedTensor>]) -> bool {
    a == b
}

fn tiny_spec() -> Graph {
    sequential(
        "tiny",
        [3, 32, 32],
        10,
        vec![
            LayerV1::Conv {
                out: 4,
                k: 3,
                relu: true,
            },
            LayerV1::Mask,
            LayerV1::Pool { size: 4 },
            LayerV1::Flatten,
            LayerV1::Dropout { p: 0.5 },
            LayerV1::Dense { out: 8, relu: true },
            LayerV1::Mask,
            LayerV1::Dense {
                out: 10,
                relu: false,
            },
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn images(n: usize, seed: u64) -> Images {
    let mut rng = SplitMix64::new(seed);
    let mut im = Images::new(10);
    for i in 0..n {
        let px: Vec<u8> = (0..IMAGE_BYTES).map(|_| rng.next_u64() as u8).collect();
        im.push(&px, (i % 10) as u8);
    }
    im
}

fn data() -> Splits {
    Splits {
        train: images(40, 1),
        val: images(8, 2),
    }
}

fn config(epochs: usize, seed: u64) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 4, // 10 steps per epoch
        seed,
        augment: true,
        eval_batch_size: 8,
        ..TrainConfig::default()
    }
}

fn weights(dir: &std::path::Path) -> Vec<Vec<NamedTensor>> {
    let (_, net) = load_model(dir, &Device::flex()).unwrap_or_else(|e| panic!("{e}"));
    net.tensors().unwrap_or_else(|e| panic!("{e}"))
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

fn quiet() -> RunOptions {
    RunOptions { progress: false }
}

fn fresh(dir: &std::path::Path, cfg: &TrainConfig) -> History {
    train(
        &RunDir::new(dir),
        &tiny_spec(),
        cfg,
        &data(),
        &Device::flex(),
        quiet(),
        &mut |_| {},
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn same_seed_gives_identical_weights_after_20_steps() {
    let _guard = serial();
    let (a, b, c) = (tmp(), tmp(), tmp());
    let ha = fresh(a.path(), &config(2, 7));
    fresh(b.path(), &config(2, 7));
    fresh(c.path(), &config(2, 8));
    assert_eq!(ha.epochs.len(), 2);
    let (wa, wb, wc) = (weights(a.path()), weights(b.path()), weights(c.path()));
    assert!(same(&wa, &wb), "same seed must give bit-identical weights");
    assert!(
        !same(&wa, &wc),
        "a different seed must give different weights"
    );
    // Training moved the weights away from a fresh init with the same seed.
    let init = crate::nn::Net::new(&tiny_spec(), &Device::flex())
        .tensors()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(wa[0] != init[0]);
}

#[test]
fn two_epochs_equal_one_plus_resume_one() {
    let _guard = serial();
    let (a, b) = (tmp(), tmp());
    fresh(a.path(), &config(2, 3));
    fresh(b.path(), &config(1, 3));
    let h = resume(
        &RunDir::new(b.path()),
        Some(2),
        &data(),
        &Device::flex(),
        quiet(),
        &mut |_| {},
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(h.epochs.len(), 2);
    assert!(
        same(&weights(a.path()), &weights(b.path())),
        "resumed run differs"
    );
    let ha = RunDir::new(a.path())
        .history()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ha.epochs[1].val_acc, h.epochs[1].val_acc);
    assert_eq!(ha.epochs[1].train_loss, h.epochs[1].train_loss);
}

#[test]
fn fresh_run_refuses_a_directory_with_a_checkpoint() {
    let _guard = serial();
    let a = tmp();
    fresh(a.path(), &config(1, 1));
    let again = train(
        &RunDir::new(a.path()),
        &tiny_spec(),
        &config(1, 1),
        &data(),
        &Device::flex(),
        quiet(),
        &mut |_| {},
    );
    assert!(matches!(again, Err(TrainError::RunExists { .. })));
}

#[test]
fn non_finite_loss_stops_and_keeps_last_good_checkpoint() {
    let _guard = serial();
    let a = tmp();
    let run = RunDir::new(a.path());
    fresh(a.path(), &config(1, 5));
    let good = weights(a.path());
    // Make the stored settings explode, then resume.
    let mut cfg = run.config().unwrap_or_else(|e| panic!("{e}"));
    cfg.lr = 1e30;
    cfg.l1 = 0.0;
    cfg.l2 = 0.0;
    run_dir::write_json(&run.config_path(), &cfg).unwrap_or_else(|e| panic!("{e}"));
    let ckpt_cfg = run.checkpoint_dir().join("train.json");
    run_dir::write_json(&ckpt_cfg, &cfg).unwrap_or_else(|e| panic!("{e}"));
    let r = resume(
        &run,
        Some(3),
        &data(),
        &Device::flex(),
        quiet(),
        &mut |_| {},
    );
    match r {
        Err(TrainError::NonFinite { last_good: 1, .. }) => {}
        other => panic!("expected NonFinite, got {other:?}"),
    }
    assert!(same(&weights(a.path()), &good), "model.bpk untouched");
    let p: checkpoint::Progress = run_dir::read_json(&run.checkpoint_dir().join("progress.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.epochs_done, 1, "checkpoint still the last good one");
}

#[test]
fn training_only_weights_leaves_masks_at_one_and_vice_versa() {
    let _guard = serial();
    let (a, b) = (tmp(), tmp());
    let cfg = TrainConfig {
        train_group: crate::nn::Group::Weights,
        ..config(1, 4)
    };
    fresh(a.path(), &cfg);
    let w = weights(a.path());
    let masks: Vec<f32> = w
        .iter()
        .flatten()
        .filter(|t| t.name == "values")
        .flat_map(|t| t.values.clone())
        .collect();
    assert!(masks.iter().all(|&m| m == 1.0), "masks moved: {masks:?}");

    let cfg = TrainConfig {
        train_group: crate::nn::Group::Masks,
        ..config(1, 4)
    };
    fresh(b.path(), &cfg);
    let init = {
        let dev = Device::flex();
        dev.seed(SplitMix64::derive(4, &[1]).next_u64());
        let net = crate::nn::Net::new(&tiny_spec(), &dev);
        net.init_now();
        net.tensors().unwrap_or_else(|e| panic!("{e}"))
    };
    let wb = weights(b.path());
    assert!(
        same(&wb[0..1], &init[0..1]),
        "conv weights moved while training masks only"
    );
    let mask = tiny_spec()
        .node_index("mask1")
        .unwrap_or_else(|| panic!("mask1"));
    assert!(wb[mask] != init[mask], "masks did not train");
}

fn distilled(teacher: &std::path::Path, alpha: f64) -> TrainConfig {
    TrainConfig {
        distill: Some(Distill {
            teacher: teacher.to_path_buf(),
            temperature: 4.0,
            alpha,
        }),
        ..config(1, 5)
    }
}

#[test]
fn distillation_at_alpha_zero_trains_bit_for_bit_as_without_a_teacher_and_at_one_differs() {
    let _guard = serial();
    let (teacher, plain, zero, one) = (tmp(), tmp(), tmp(), tmp());
    fresh(teacher.path(), &config(1, 3));
    fresh(plain.path(), &config(1, 5));
    fresh(zero.path(), &distilled(teacher.path(), 0.0));
    fresh(one.path(), &distilled(teacher.path(), 1.0));
    let (wp, wz, wo) = (
        weights(plain.path()),
        weights(zero.path()),
        weights(one.path()),
    );
    assert!(same(&wp, &wz), "alpha 0 must leave the step untouched");
    assert!(!same(&wp, &wo), "alpha 1 must train toward the teacher");
    let stored = RunDir::new(one.path())
        .config()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored.distill, distilled(teacher.path(), 1.0).distill);
}

#[test]
fn a_teacher_that_predicts_other_classes_is_refused_by_name() {
    let _guard = serial();
    let (teacher, student) = (tmp(), tmp());
    let spec = sequential(
        "tiny5",
        [3, 32, 32],
        5,
        vec![
            LayerV1::Conv {
                out: 4,
                k: 3,
                relu: true,
            },
            LayerV1::Pool { size: 4 },
            LayerV1::Flatten,
            LayerV1::Dense {
                out: 5,
                relu: false,
            },
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut five = data();
    for im in [&mut five.train, &mut five.val] {
        im.num_classes = 5;
        im.labels.iter_mut().for_each(|l| *l %= 5);
    }
    train(
        &RunDir::new(teacher.path()),
        &spec,
        &config(1, 3),
        &five,
        &Device::flex(),
        quiet(),
        &mut |_| {},
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let err = train(
        &RunDir::new(student.path()),
        &tiny_spec(),
        &distilled(teacher.path(), 0.5),
        &data(),
        &Device::flex(),
        quiet(),
        &mut |_| {},
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(
        err.contains("teacher") && err.contains("does not match"),
        "{err}"
    );
}

#[test]
fn a_train_json_without_distill_loads_as_none() {
    let json = serde_json::to_value(config(1, 1)).unwrap_or_else(|e| panic!("{e}"));
    assert!(json.get("distill").is_none(), "none is not written: {json}");
    let back: TrainConfig = serde_json::from_value(json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.distill, None);
}
