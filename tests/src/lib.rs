//! Helpers shared by the end-to-end tests in `tests/tests/`: test images (CIFAR-10 when
//! `WHITTLE_DATA` is set, seeded synthetic patterns otherwise) and the tool check.

use std::path::{Path, PathBuf};

use whittle::data::{self, DatasetKind, SplitOptions, load_test};
use whittle::firmware::{LabeledImage, RunReport, qemu};
use whittle::graph::Graph;
use whittle::sim::quantize_chw;
use whittle::train::{self, RunDir, RunOptions, TrainConfig};
use whittle_shared::Model;
use whittle_shared::encode::AlignedBytes;

/// CIFAR-10 for the end-to-end tests: `WHITTLE_DATA`, or the project's `../shared/data`
/// beside the repository. Panics (fails the test, never skips it) when it holds none.
pub fn data_dir() -> PathBuf {
    let dir = std::env::var_os("WHITTLE_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    assert!(
        data::locate(&dir, DatasetKind::Cifar10).exists(),
        "this test needs CIFAR-10 in {} (set WHITTLE_DATA)",
        dir.display()
    );
    dir
}

/// Trains `graph` for one epoch into the run directory `dir` on the first `limit` CIFAR-10
/// training images of `data` (`val` of them held out): a small base run to prune.
pub fn train_tiny(dir: &Path, graph: &Graph, data: &Path, limit: usize, val: usize) {
    let split = SplitOptions {
        limit: Some(limit),
        val,
        ..SplitOptions::default()
    };
    let config = TrainConfig {
        epochs: 1,
        data_dir: Some(data.to_path_buf()),
        split,
        ..TrainConfig::default()
    };
    let splits = data::load_splits(data, DatasetKind::Cifar10, &split).expect("data");
    let device = whittle::device::device("flex").expect("flex device");
    train::train(
        &RunDir::new(dir),
        graph,
        &config,
        &splits,
        &device,
        RunOptions::default(),
        &mut |_| {},
    )
    .expect("training runs");
}

/// Panics (fails the test, never skips it) when QEMU or defmt-print is missing, saying
/// how to install it.
pub fn require_tools() {
    if let Err(e) = qemu::check_tools() {
        panic!("firmware tests need qemu-system-arm and defmt-print: {e}");
    }
}

/// The first `n` CIFAR-10 test images under `WHITTLE_DATA` quantized for `blob`'s input,
/// or `n` synthetic patterns (label 0) when `WHITTLE_DATA` is unset.
pub fn images(blob: &[u8], n: usize) -> Vec<LabeledImage> {
    let bytes = AlignedBytes::new(blob);
    let model = Model::from_bytes(&bytes).expect("test blob is valid");
    let input = model.input().expect("input tensor");
    let range = model.meta().input_range;
    match std::env::var_os("WHITTLE_DATA") {
        Some(dir) => {
            let test = load_test(std::path::Path::new(&dir), DatasetKind::Cifar10)
                .expect("WHITTLE_DATA holds the CIFAR-10 test batch");
            (0..n.min(test.len()))
                .map(|i| LabeledImage {
                    label: test.labels[i],
                    pixels: quantize_chw(test.image(i), &input, range).expect("CIFAR-shaped input"),
                })
                .collect()
        }
        None => whittle::synth::calibration_images(input.shape, n, 2024)
            .into_iter()
            .map(|pixels| LabeledImage { label: 0, pixels })
            .collect(),
    }
}

/// Asserts that the firmware's class and output CRC equal the host simulation's on every
/// image of a run.
pub fn assert_bit_exact(r: &RunReport) {
    for i in &r.per_image {
        assert_eq!(
            (i.pred, &i.crc),
            (i.host_pred, &i.host_crc),
            "image {}: firmware vs host",
            i.index
        );
    }
    assert!(r.host_matches && r.mismatches == 0);
}

/// The `whittle` binary beside this test's target directory (built if missing).
pub fn whittle_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("{}", exe.display()));
    let bin = dir.join("whittle");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = std::process::Command::new(cargo)
            .args(["build", "--release", "-p", "whittle", "--bin", "whittle"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok && bin.exists(), "could not build {}", bin.display());
    }
    bin
}

/// Asserts that the instruction model (`shared::cost::instructions`) predicts the
/// instructions per inference QEMU measured for `blob` in `r` within 2%, and returns the
/// relative error.
pub fn assert_predicted(name: &str, blob: &[u8], r: &whittle::firmware::RunReport) -> f64 {
    let bytes = AlignedBytes::new(blob);
    let model = Model::from_bytes(&bytes).expect("valid blob");
    let predicted = whittle_shared::cost::instructions::total(&model).expect("prediction");
    let measured = r.instructions_per_inference;
    let e = (predicted as f64 - measured as f64) / measured as f64;
    println!(
        "{name}: instruction model {predicted}, QEMU {measured} ({:+.3}%)",
        100.0 * e
    );
    let ops = whittle_shared::cost::instructions::per_op(&model).expect("prediction");
    for (p, l) in ops.iter().zip(&r.per_layer) {
        println!(
            "  {:>3} {:<20} predicted {:>9} QEMU {:>9}",
            l.index,
            p.kernel.name(),
            p.instructions,
            l.instructions
        );
    }
    assert!(
        e.abs() <= 0.02,
        "{name}: the instruction model predicts {predicted}, QEMU counts {measured}"
    );
    e
}
