//! A residual net with BatchNorm end to end (the graph IR's acceptance case): conv + BN +
//! ReLU, an identity-shortcut block, a block with a stride-2 3×3 conv (TF-SAME padding
//! `[0, 0, 1, 1]`) and a stride-2 1×1 projection, global average pool, dense. It trains a
//! few steps, is pruned by every method (l1, l0, first-k, l1-norm, APoZ, Network
//! Slimming) with the channel groups tied by each Add cut together (surgery's masked ≡
//! pruned check), folds BatchNorm exactly, exports int8, and runs in QEMU bit-exact with
//! the host simulation.

use whittle::data::{self, DatasetKind, SplitOptions};
use whittle::graph::op::{Add, BatchNorm, Conv2d, Dense, Flatten, GlobalAvgPool, Mask, Relu};
use whittle::graph::{Builder, Graph, Op, Pad};
use whittle::prune::apoz::Apoz;
use whittle::prune::first_k::FirstK;
use whittle::prune::l0::{L0, L0Config};
use whittle::prune::l1::{L1, L1Config};
use whittle::prune::l1_norm::L1Norm;
use whittle::prune::slimming::{Slimming, SlimmingConfig};
use whittle::prune::{Amount, PruneMethod, PruneOptions, PruneSummary, Target, prune_run};
use whittle::train::{RunDir, Weights};
use whittle_tests::{data_dir, require_tools, train_tiny};

fn conv(out: usize, k: usize, stride: usize, pad: Pad) -> Op {
    Op::Conv2d(Conv2d {
        out,
        kernel: [k, k],
        stride: [stride, stride],
        padding: pad,
        bias: true,
        groups: 1,
    })
}

fn bn() -> Op {
    Op::BatchNorm(BatchNorm {
        epsilon: 1e-3,
        momentum: 0.1,
    })
}

/// The test model: 8 → [8, 8 + identity] → [16/2, 16 + 1×1/2 projection] → GAP → dense.
fn residual() -> Graph {
    let mut b = Builder::new("residual", [3, 32, 32], 10);
    b.then("stem", conv(8, 3, 1, Pad::same(1)));
    b.then("stem_bn", bn());
    b.then("stem_relu", Op::Relu(Relu {}));
    let x = b.then("stem_mask", Op::Mask(Mask {}));
    b.then("a_conv1", conv(8, 3, 1, Pad::same(1)));
    b.then("a_bn1", bn());
    b.then("a_relu1", Op::Relu(Relu {}));
    b.then("a_mask1", Op::Mask(Mask {}));
    b.then("a_conv2", conv(8, 3, 1, Pad::same(1)));
    let a = b.then("a_bn2", bn());
    b.node("a_add", Op::Add(Add {}), &[&a, &x]);
    let y = b.then("a_relu", Op::Relu(Relu {}));
    b.then("b_conv1", conv(16, 3, 2, Pad([0, 0, 1, 1])));
    b.then("b_bn1", bn());
    b.then("b_relu1", Op::Relu(Relu {}));
    b.then("b_mask1", Op::Mask(Mask {}));
    b.then("b_conv2", conv(16, 3, 1, Pad::same(1)));
    let main = b.then("b_bn2", bn());
    let short = b.node("b_short", conv(16, 1, 2, Pad::same(0)), &[&y]);
    b.node("b_add", Op::Add(Add {}), &[&main, &short]);
    b.then("b_relu", Op::Relu(Relu {}));
    b.then("gap", Op::GlobalAvgPool(GlobalAvgPool {}));
    b.then("flat", Op::Flatten(Flatten {}));
    b.then(
        "fc",
        Op::Dense(Dense {
            out: 10,
            bias: true,
        }),
    );
    b.finish().expect("residual graph")
}

#[test]
fn residual_net_trains_prunes_by_every_method_exports_and_runs_bit_exact() {
    require_tools();
    let data = data_dir();
    let tmp = tempfile::tempdir().expect("temp dir");
    let base = tmp.path().join("base");
    train_tiny(&base, &residual(), &data, 320, 160);
    let device = whittle::device::device("flex").expect("flex device");
    let (spec, _) = RunDir::new(&base)
        .load_model(Weights::Final, &device)
        .expect("base loads");
    assert_eq!(spec, residual(), "the run's spec.json is the graph");
    let groups = spec.groups().expect("groups");
    // The stem, block a's identity Add and its second conv are one group; block b's
    // second conv and its projection shortcut another.
    assert_eq!(
        groups.names(),
        vec!["stem", "a_conv1", "b_conv1", "b_conv2"]
    );
    let macs = spec.macs().expect("macs");
    let target = Target::Macs(macs * 6 / 10);

    let l1 = L1Config {
        epochs: 1,
        target: Some(target),
        ..L1Config::default()
    };
    let l0 = L0Config {
        epochs: 1,
        target: Some(target),
        ..L0Config::default()
    };
    let methods: Vec<(&str, Box<dyn PruneMethod>, Amount)> = vec![
        ("l1", Box::new(L1::new(&spec, l1)), Amount::Target(target)),
        ("l0", Box::new(L0::new(&spec, l0)), Amount::Target(target)),
        ("first-k", Box::new(FirstK), Amount::Ratio(0.5)),
        ("l1-norm", Box::new(L1Norm), Amount::Ratio(0.5)),
        ("apoz", Box::new(Apoz::default()), Amount::Target(target)),
        (
            "slimming",
            Box::new(Slimming::new(
                &spec,
                SlimmingConfig {
                    epochs: 1,
                    ..SlimmingConfig::default()
                },
            )),
            Amount::Target(target),
        ),
    ];
    for (name, mut method, amount) in methods {
        let out = tmp.path().join(name);
        let opts = PruneOptions {
            amount,
            finetune_epochs: 1,
            limit: Some(320),
            data_dir: Some(data.clone()),
            ..PruneOptions::default()
        };
        let s: PruneSummary = prune_run(
            &base,
            &out,
            method.as_mut(),
            &opts,
            &device,
            &mut |_| {},
            &mut |_| {},
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let check = s
            .check
            .unwrap_or_else(|| panic!("{name}: surgery was checked"));
        assert!(check.max_rel_diff <= check.tolerance, "{name}: {check:?}");
        assert!(
            s.macs.1 < s.macs.0,
            "{name} removed nothing: {:?}",
            s.widths_after
        );
        let (pruned, net) = RunDir::new(&out)
            .load_model(Weights::Final, &device)
            .expect("pruned run loads");
        // Tied channels stay tied: each Add still adds equal shapes (the graph validated),
        // and the pruned widths are the summary's.
        assert_eq!(
            pruned.groups().expect("groups").widths(),
            s.widths_after,
            "{name}"
        );
        // Fold (BatchNorm, masks), quantize, run on the Cortex-M4 in QEMU.
        let folded = whittle::export::from_net(&net).expect("fold");
        assert!(
            !folded
                .graph
                .nodes
                .iter()
                .any(|n| matches!(n.op, Op::BatchNorm(_) | Op::Mask(_))),
            "{name}: BatchNorm and masks fold away"
        );
        let splits = data::load_splits(
            &data,
            DatasetKind::Cifar10,
            &SplitOptions {
                limit: Some(320),
                val: 160,
                ..SplitOptions::default()
            },
        )
        .expect("data");
        let calib: Vec<f32> = splits.train.pixels[..64 * data::images::IMAGE_BYTES]
            .iter()
            .map(|&b| data::normalize(b))
            .collect();
        let q = whittle::quant::quantize(&folded, &calib, &Default::default()).expect("int8");
        let images = whittle_tests::images(&q.blob, 3);
        let r = whittle::firmware::run(
            &q.blob,
            &images,
            &whittle::firmware::RunOptions::new(whittle::firmware::Machine::Mps2An386),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            r.host_matches,
            "{name}: firmware != host: {:?}",
            r.per_image
        );
        assert_eq!(r.macs, s.macs.1, "{name}: the blob's MACs are the plan's");
        whittle_tests::assert_predicted(name, &q.blob, &r);
    }
}
