//! `whittle check` end to end: a baseline report from one QEMU run, then the same blob (passes,
//! every figure equal), a wider one (slower and bigger: fails) and a reseeded one (same
//! size, other outputs: fails), all on the same images.

use whittle::firmware::check::{self, CheckError};
use whittle::firmware::{Machine, RunOptions, RunReport};
use whittle::synth::{self, Arch};
use whittle_tests::{images, require_tools};

fn run(width: f32, seed: u64, n: usize) -> RunReport {
    // The images are the half-width net's; every width has the same input.
    let reference = synth::build_arch(Arch::SeedC10, 0.5, 42).expect("seed net");
    let blob = synth::build_arch(Arch::SeedC10, width, seed).expect("seed net");
    let mut opts = RunOptions::new(Machine::Mps2An386);
    opts.images_source = "check-test".into();
    whittle::firmware::run(&blob, &images(&reference, n), &opts)
        .unwrap_or_else(|e| panic!("width {width} seed {seed}: {e}"))
}

#[test]
fn check_passes_on_the_same_blob_and_fails_on_a_slower_bigger_or_different_one() {
    require_tools();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("baseline.json");
    let base = run(0.5, 42, 3);
    check::write_baseline(&path, &base).expect("write baseline");
    let baseline = check::read_baseline(&path).expect("read baseline");
    assert_eq!(baseline, base, "the JSON round trip loses nothing");

    let again = check::compare(&baseline, &run(0.5, 42, 3)).expect("comparable");
    assert!(again.passed(), "{}", again.render());
    assert!(
        again.changes.iter().all(|c| c.now == c.baseline),
        "{again:?}"
    );
    assert!(
        again.render().ends_with("check passed\n"),
        "{}",
        again.render()
    );

    let wider = check::compare(&baseline, &run(0.75, 42, 3)).expect("comparable");
    assert!(!wider.passed());
    let grew: Vec<&str> = wider.regressions().map(|c| c.what).collect();
    for what in ["instructions/inference", "flash bytes", "static RAM bytes"] {
        assert!(
            grew.contains(&what),
            "{what} did not grow: {}",
            wider.render()
        );
    }
    assert!(
        wider
            .render()
            .contains("check FAILED: instructions/inference, flash bytes")
    );

    let reseeded = check::compare(&baseline, &run(0.5, 43, 3)).expect("comparable");
    assert!(!reseeded.passed());
    assert!(
        !reseeded.outputs_changed.is_empty(),
        "{}",
        reseeded.render()
    );
    let flash = reseeded
        .changes
        .iter()
        .find(|c| c.what == "flash bytes")
        .expect("flash row");
    assert_eq!(flash.now, flash.baseline, "same architecture, same flash");

    let fewer = check::compare(&baseline, &run(0.5, 42, 2));
    assert!(
        matches!(fewer, Err(CheckError::Incomparable { what: "images", .. })),
        "{fewer:?}"
    );
}
