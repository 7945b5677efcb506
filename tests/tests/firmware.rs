//! End to end on Cortex-M: random-weight seed nets built on the host, run by the firmware
//! in QEMU, compared bit for bit with the host simulation; costs checked against the model.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock};

use whittle::firmware::builder::{self, BuildError, BuildRequest};
use whittle::firmware::{Machine, RunError, RunOptions, RunReport};
use whittle::graph::op::{Dense, Flatten};
use whittle::graph::{Builder, Op};
use whittle::synth::{self, Arch};
use whittle_tests::{assert_bit_exact, images, require_tools};

const SEED: u64 = 42;

/// Runs are slow (seconds of QEMU each): the full- and half-width runs on mps2-an386 are
/// shared by the tests that need them.
type Cache = Mutex<Vec<((u32, usize), Arc<RunReport>)>>;
static RUNS: OnceLock<Cache> = OnceLock::new();

fn blob(width: f32) -> Vec<u8> {
    synth::build_arch(Arch::SeedC10, width, SEED).expect("synthetic seed net")
}

fn run(machine: Machine, width: f32, n: usize) -> RunReport {
    let blob = blob(width);
    whittle::firmware::run(&blob, &images(&blob, n), &RunOptions::new(machine))
        .unwrap_or_else(|e| panic!("whittle run on {machine}, width {width}: {e}"))
}

fn an386(width: f32, n: usize) -> Arc<RunReport> {
    let key = ((width * 100.0) as u32, n);
    let cache = RUNS.get_or_init(|| Mutex::new(Vec::new()));
    // Holding the lock while running keeps the two shared runs from being done twice.
    let mut c = cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, r)) = c.iter().find(|(k, _)| *k == key) {
        return r.clone();
    }
    let r = Arc::new(run(Machine::Mps2An386, width, n));
    c.push((key, r.clone()));
    r
}

#[test]
fn seed_net_firmware_matches_host_simulation_bit_for_bit() {
    require_tools();
    let r = an386(1.0, 10);
    assert_eq!(r.images, 10);
    assert_bit_exact(&r);
    let classes: BTreeSet<u32> = r.per_image.iter().map(|i| i.pred).collect();
    assert!(classes.len() >= 2, "every image got class {classes:?}");
    assert!(r.stack_peak_bytes > 0 && r.stack_peak_bytes < r.stack_size_bytes);
    assert_eq!(r.per_layer.len(), 9);
    let layer_sum: u64 = r.per_layer.iter().map(|l| l.instructions).sum();
    let diff = r.instructions_per_inference.abs_diff(layer_sum);
    assert!(
        diff * 100 < r.instructions_per_inference,
        "layers {layer_sum} vs total"
    );
}

#[test]
fn two_runs_give_identical_instruction_counts() {
    require_tools();
    let a = run(Machine::Mps2An386, 0.5, 3);
    let b = run(Machine::Mps2An386, 0.5, 3);
    let instr = |r: &RunReport| {
        r.per_image
            .iter()
            .map(|i| i.instructions)
            .collect::<Vec<_>>()
    };
    assert_eq!(instr(&a), instr(&b));
    assert_eq!(a.per_layer, b.per_layer);
    assert_eq!(a.stack_peak_bytes, b.stack_peak_bytes);
}

#[test]
fn half_width_runs_in_fewer_instructions_in_step_with_its_macs() {
    require_tools();
    let (full, half) = (an386(1.0, 10), an386(0.5, 10));
    let instr_ratio =
        full.instructions_per_inference as f64 / half.instructions_per_inference as f64;
    let mac_ratio = full.macs as f64 / half.macs as f64;
    // Issue 3's bar: instructions fall by at least 0.9 of the MAC ratio. Per-output
    // requantization and per-pixel work shrink by 2x when the MACs shrink by 4x, so this
    // holds only because both are small next to the MAC loop (see docs/FIRMWARE.md).
    eprintln!(
        "full {} half {} instructions: {instr_ratio:.4}x for {mac_ratio:.4}x fewer MACs = {:.4}",
        full.instructions_per_inference,
        half.instructions_per_inference,
        instr_ratio / mac_ratio
    );
    assert!(
        instr_ratio >= 0.9 * mac_ratio,
        "instructions fell {instr_ratio:.2}x, MACs {mac_ratio:.2}x (need >= 0.9 of it)"
    );
    // Regression guard: QEMU -icount counts are exact, so the firmware may not get slower.
    // The ceilings are the larger count of the two image sets the test can run on (CIFAR-10
    // under WHITTLE_DATA, as in CI, and the synthetic patterns): a few instructions apart.
    assert!(
        full.instructions_per_inference <= 9_105_200,
        "{}",
        full.instructions_per_inference
    );
    assert!(
        half.instructions_per_inference <= 2_655_120,
        "{}",
        half.instructions_per_inference
    );
}

#[test]
fn half_width_saves_the_flash_and_ram_the_cost_model_predicts() {
    require_tools();
    let (full, half) = (an386(1.0, 10), an386(0.5, 10));
    const KIB: i64 = 1024;
    let flash_drop = full.flash_bytes as i64 - half.flash_bytes as i64;
    let blob_drop = full.blob_bytes as i64 - half.blob_bytes as i64;
    assert!(
        (flash_drop - blob_drop).abs() <= KIB,
        "flash fell {flash_drop} B, the blob {blob_drop} B"
    );
    let ram_drop = full.static_ram_bytes as i64 - half.static_ram_bytes as i64;
    let model_drop = full.model_ram_bytes as i64 - half.model_ram_bytes as i64;
    assert!(
        (ram_drop - model_drop).abs() <= KIB,
        "static RAM fell {ram_drop} B, ram_bytes {model_drop} B"
    );
    assert!(model_drop > 0 && blob_drop > 0);
    assert!(full.stack_peak_bytes.abs_diff(half.stack_peak_bytes) <= 256);
}

#[test]
fn seed_net_runs_on_every_qemu_machine() {
    require_tools();
    for machine in [Machine::Mps2An500, Machine::Netduinoplus2] {
        let r = run(machine, 1.0, 2);
        assert!(r.host_matches, "{machine}: firmware and host differ");
        let (table, measured) = (r.instructions_per_tick, r.calib_instructions_per_tick);
        assert!(
            (measured / table - 1.0).abs() < 0.01,
            "{machine}: {measured} instructions per tick measured, table says {table}"
        );
    }
    let r = an386(1.0, 10);
    assert!((r.calib_instructions_per_tick / 40.0 - 1.0).abs() < 0.01);
}

#[test]
fn probe_rs_board_build_compiles() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (blob_path, images_path, elf) = (
        dir.path().join("m.whittle"),
        dir.path().join("i.wimg"),
        dir.path().join("fw.elf"),
    );
    let blob = blob(0.5);
    std::fs::write(&blob_path, &blob).expect("write blob");
    let imgs = whittle::firmware::images::encode(&images(&blob, 2)).expect("images");
    std::fs::write(&images_path, imgs).expect("write images");
    builder::build(&BuildRequest {
        firmware_dir: &builder::firmware_dir(),
        machine: Machine::Stm32f4Board,
        blob: &blob_path,
        images: &images_path,
        out_elf: &elf,
    })
    .unwrap_or_else(|e| panic!("stm32f4-board build: {e}"));
    let sizes = whittle::firmware::elf::sizes(&elf).expect("ELF");
    assert_eq!(sizes.blob_bytes, blob.len() as u64);
}

#[test]
fn corrupt_blob_is_rejected_by_the_firmware_with_its_format_error() {
    require_tools();
    let mut blob = blob(0.5);
    let last = blob.len() - 1;
    blob[last] ^= 0x55; // a weight byte: only the CRC notices
    let err = whittle::firmware::run(&blob, &[], &RunOptions::new(Machine::Mps2An386))
        .expect_err("a corrupt blob must not run");
    match &err {
        RunError::Rejected { error, status, .. } => {
            assert!(error.starts_with("BadCrc"), "{error}");
            assert_eq!(*status, Some(1));
        }
        other => panic!("expected the firmware to reject the blob, got: {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("rejected the blob: FormatError BadCrc"),
        "{msg}"
    );
    assert!(
        msg.contains("CRC mismatch"),
        "host's reading missing: {msg}"
    );
}

/// A dense layer of 3,072 × 400 int8 weights: 1.2 MiB, more than 1 MiB of flash.
fn big_blob() -> Vec<u8> {
    let mut b = Builder::new("big", [3, 32, 32], 400);
    b.then("flat", Op::Flatten(Flatten {}));
    b.then(
        "fc",
        Op::Dense(Dense {
            out: 400,
            bias: true,
        }),
    );
    synth::build(&b.finish().expect("graph"), 1).expect("big blob")
}

#[test]
fn too_big_a_model_is_refused_before_building() {
    let blob = big_blob();
    let err = whittle::firmware::run(&blob, &[], &RunOptions::new(Machine::Netduinoplus2))
        .expect_err("1.2 MiB of weights cannot fit 1 MiB of flash");
    assert!(
        matches!(
            err,
            RunError::Build(BuildError::DoesNotFit { what: "flash", .. })
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("the model needs 1.2 MiB flash; netduinoplus2 has 1 MiB"),
        "{err}"
    );
}

#[test]
fn seed_net_runs_bit_exact_on_the_cortex_m33() {
    require_tools();
    let r = run(Machine::Mps2An505, 1.0, 3);
    assert!(r.host_matches, "mps2-an505: firmware and host differ");
    assert_eq!(r.chip, "STM32U585AI (Cortex-M33)");
    // SysTick runs at 20 MHz there: 50 instructions per tick, as the loop measures
    assert!((r.calib_instructions_per_tick / 50.0 - 1.0).abs() < 0.001);
    // The same kernels (DSP asm included) run on the M4F: within 0.5 % of its count (other images)
    let m4 = an386(1.0, 10);
    let ratio = r.instructions_per_inference as f64 / m4.instructions_per_inference as f64;
    assert!(
        (ratio - 1.0).abs() < 0.005,
        "M33 / M4F instructions {ratio}"
    );
    // linked into the STM32U585's 768 KiB of RAM: statics, then the stack up to the top
    let ram = r.static_ram_bytes + r.stack_size_bytes;
    assert!(ram <= 768 * 1024 && ram > 760 * 1024, "{ram}");
}

#[test]
fn a_model_too_big_for_a_named_chip_names_it_and_the_shortfall() {
    let blob = big_blob();
    let mut opts = RunOptions::new(Machine::Mps2An505);
    opts.chip = Some(&whittle::firmware::chips::NRF5340);
    let err = whittle::firmware::run(&blob, &[], &opts).expect_err("1.2 MiB in 1 MiB");
    assert_eq!(
        err.to_string(),
        "the model needs 1.2 MiB flash; nRF5340 has 1 MiB (Cortex-M33, on QEMU mps2-an505): 195.7 KiB short"
    );
    opts.machine = Machine::Mps2An386;
    let err = whittle::firmware::run(&blob, &[], &opts).expect_err("wrong core");
    assert!(err.to_string().contains("nRF5340 is a Cortex-M33"), "{err}");
}

#[test]
fn images_beyond_flash_are_streamed_with_the_same_results() {
    require_tools();
    let blob = blob(0.5);
    let imgs = images(&blob, 300);
    let mut opts = RunOptions::new(Machine::Mps2An386);
    opts.streaming = whittle::firmware::Streaming::Never;
    let baked = whittle::firmware::run(&blob, &imgs, &opts);
    assert!(
        matches!(
            baked,
            Err(RunError::Build(BuildError::DoesNotFit {
                what: "flash",
                ..
            }))
        ),
        "300 images (900 KiB) cannot be baked into 512 KiB: {baked:?}"
    );
    opts.streaming = whittle::firmware::Streaming::Auto;
    let streamed = whittle::firmware::run(&blob, &imgs, &opts).expect("streamed run");
    assert!(streamed.streamed && streamed.host_matches);
    assert_eq!((streamed.images, streamed.mismatches), (300, 0));
    assert_eq!(streamed.test_images_bytes, 0);
    // The first 10 baked in give the same classes and checksums
    let first = an386(0.5, 10);
    for (s, b) in streamed.per_image.iter().zip(&first.per_image) {
        assert_eq!((s.pred, &s.crc), (b.pred, &b.crc), "image {}", s.index);
    }
    // and the same RAM: the streaming buffer is left out, as baked images are of flash
    assert_eq!(streamed.static_ram_bytes, first.static_ram_bytes);
    assert!(streamed.flash_bytes > first.flash_bytes);
    assert!(streamed.flash_bytes - first.flash_bytes <= builder::STREAM_FLASH_ESTIMATE);
}

/// The synthetic ResNet-8 (MLPerf Tiny's topology, random weights): firmware equals the host
/// bit for bit, and the instruction count may not grow. Its adds run fused with the convs
/// before them, so the conv ops carry the adds' instructions and the add ops report ~0.
#[test]
fn resnet8_matches_host_and_stays_under_its_instruction_ceiling() {
    require_tools();
    let blob = synth::build_arch(Arch::Resnet8, 1.0, SEED).expect("synthetic ResNet-8");
    let r = whittle::firmware::run(
        &blob,
        &images(&blob, 4),
        &RunOptions::new(Machine::Mps2An386),
    )
    .unwrap_or_else(|e| panic!("whittle run ResNet-8: {e}"));
    assert_bit_exact(&r);
    assert_eq!(r.macs, 12_501_632);
    assert_eq!(
        r.arena_bytes, 32_768,
        "the fused adds keep two 16 KiB tensors live at most"
    );
    let ops: Vec<&str> = r.per_layer.iter().map(|l| l.op.as_str()).collect();
    assert_eq!(ops.len(), 15, "{ops:?}");
    // Regression guard (exact under -icount; the larger count of the two image sets).
    eprintln!("ResNet-8: {} instructions", r.instructions_per_inference);
    assert!(
        r.instructions_per_inference <= 14_367_760,
        "{}",
        r.instructions_per_inference
    );
}
