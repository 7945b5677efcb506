//! Snapshots of the firmware's report for fixed models and inputs: every image's class,
//! output CRC and instructions, every layer's instructions, the ELF's sections and the stack
//! peak, compared line by line with `tests/snapshots/*.out` (QEMU `-icount` counts are
//! exact). Any change to the kernels or the firmware shows up here as a diff; re-record on
//! purpose with `WHITTLE_SNAPSHOT=overwrite cargo test --release -p whittle-tests --test
//! snapshot` and commit the new files with the change that explains them.

use std::fmt::Write as _;
use std::path::PathBuf;

use whittle::firmware::{LabeledImage, Machine, RunOptions, RunReport};
use whittle::synth::{self, Arch};
use whittle_shared::Model;
use whittle_shared::encode::AlignedBytes;
use whittle_tests::require_tools;

/// Synthetic inputs (not CIFAR: the snapshot must not depend on `WHITTLE_DATA`).
const IMAGES: usize = 3;

fn snapshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("snapshots")
        .join(format!("{name}.out"))
}

/// The report's deterministic part, one fact per line.
fn render(r: &RunReport) -> String {
    let mut s = String::new();
    let w = &mut s;
    // `write!` to a String cannot fail.
    let _ = writeln!(w, "machine {}", r.machine);
    let _ = writeln!(w, "macs {}", r.macs);
    for i in &r.per_image {
        let _ = writeln!(
            w,
            "image {} pred {} crc {} instructions {}",
            i.index, i.pred, i.crc, i.instructions
        );
    }
    for l in &r.per_layer {
        let _ = writeln!(
            w,
            "layer {} {} instructions {}",
            l.index, l.op, l.instructions
        );
    }
    let _ = writeln!(
        w,
        "text {} rodata {} data {} static_ram {} stack_peak {}",
        r.text_bytes, r.rodata_bytes, r.data_bytes, r.static_ram_bytes, r.stack_peak_bytes
    );
    let _ = writeln!(
        w,
        "blob {} arena {} scratch {}",
        r.blob_bytes, r.arena_bytes, r.scratch_bytes
    );
    s
}

/// Compares `actual` with the stored snapshot (or writes it when re-recording), listing
/// every differing line.
fn check(name: &str, actual: &str) {
    let path = snapshot_path(name);
    if std::env::var("WHITTLE_SNAPSHOT").as_deref() == Ok("overwrite") {
        std::fs::create_dir_all(path.parent().expect("snapshots folder")).expect("mkdir");
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; record it with WHITTLE_SNAPSHOT=overwrite",
            path.display()
        )
    });
    if expected == actual {
        return;
    }
    let (e, a): (Vec<_>, Vec<_>) = (expected.lines().collect(), actual.lines().collect());
    let mut diff = String::new();
    for i in 0..e.len().max(a.len()) {
        let (x, y) = (e.get(i).copied(), a.get(i).copied());
        if x != y {
            let _ = writeln!(diff, "- {}\n+ {}", x.unwrap_or(""), y.unwrap_or(""));
        }
    }
    panic!(
        "{name}: the firmware's report changed ({}):\n{diff}If the change is intended, \
         re-record with WHITTLE_SNAPSHOT=overwrite cargo test --release -p whittle-tests \
         --test snapshot",
        path.display()
    );
}

fn run_seed_net(width: f32) -> RunReport {
    let blob = synth::build_arch(Arch::SeedC10, width, 42).expect("synthetic seed net");
    let bytes = AlignedBytes::new(&blob);
    let input = Model::from_bytes(&bytes)
        .and_then(|m| m.input())
        .expect("valid blob");
    let images: Vec<LabeledImage> = synth::calibration_images(input.shape, IMAGES, 7)
        .into_iter()
        .map(|pixels| LabeledImage { label: 0, pixels })
        .collect();
    let r = whittle::firmware::run(&blob, &images, &RunOptions::new(Machine::Mps2An386))
        .unwrap_or_else(|e| panic!("whittle run, width {width}: {e}"));
    assert!(r.host_matches, "firmware != host simulation");
    r
}

#[test]
fn seed_net_report_matches_its_snapshot() {
    require_tools();
    check("seed-c10-w100-mps2-an386", &render(&run_seed_net(1.0)));
}

#[test]
fn half_width_report_matches_its_snapshot() {
    require_tools();
    check("seed-c10-w50-mps2-an386", &render(&run_seed_net(0.5)));
}
