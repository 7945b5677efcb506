//! The demo pipeline end to end on a tiny slice of CIFAR-10: train a few steps → prune with
//! l1 to a MAC budget (surgery + its automatic check) → fine-tune → export int8 → run in
//! QEMU → every firmware result equals the host simulation, and the pruned model is smaller
//! and faster on the chip.

use whittle::demo::{self, DemoOptions};
use whittle::graph;
use whittle::prune::{PruneSummary, Target};
use whittle_tests::{data_dir, require_tools, train_tiny};

#[test]
fn tiny_pipeline_trains_prunes_exports_and_runs_bit_exact_on_the_chip() {
    require_tools();
    let data = data_dir();
    let tmp = tempfile::tempdir().expect("temp dir");
    let base = tmp.path().join("base");

    // Train a few steps on a small slice.
    let spec = graph::preset("seed-c10").expect("preset");
    train_tiny(&base, &spec, &data, 320, 160);

    let mut opts = DemoOptions::new(data, base.clone(), tmp.path().join("demo"), true);
    opts.firmware_images = 3;
    opts.test_images = 64;
    opts.limit = Some(320);
    let test = demo::test_set(&opts, whittle::graph::InputRange::Signed).expect("test set");

    // Prune to half the MACs; surgery checks masked == pruned itself and fails otherwise.
    let macs = spec.macs().expect("macs");
    let pruned = demo::prune("l1", Target::Macs(macs / 2), "l1-half", &opts).expect("prune");
    let summary: PruneSummary =
        serde_json::from_slice(&std::fs::read(pruned.join("prune.json")).expect("prune.json"))
            .expect("prune summary");
    let check = summary.check.expect("surgery was checked");
    assert!(check.max_rel_diff <= check.tolerance, "{check:?}");
    assert!(
        summary.macs.1 <= macs / 2 + macs / 20,
        "MACs {} for a target of {}",
        summary.macs.1,
        macs / 2
    );

    // Export → firmware in QEMU → compared with the host simulation image by image.
    let full = demo::measure("base", &base, "base", "-".into(), &test, &opts).expect("base runs");
    let half = demo::measure("l1-half", &pruned, "l1", "50% MACs".into(), &test, &opts)
        .expect("pruned model runs");
    for r in [&full, &half] {
        assert!(
            r.run.host_matches,
            "firmware != host: {:?}",
            r.run.per_image
        );
        assert_eq!(r.run.images, 3);
        assert!(
            r.run
                .per_image
                .iter()
                .all(|i| i.pred == i.host_pred && i.crc == i.host_crc)
        );
    }
    assert_eq!(half.run.macs, summary.macs.1);
    assert!(half.run.instructions_per_inference < full.run.instructions_per_inference);
    assert!(half.run.flash_bytes < full.run.flash_bytes);
    assert!(half.run.model_ram_bytes <= full.run.model_ram_bytes);
    assert_eq!(half.channels, summary.widths_after);
}
