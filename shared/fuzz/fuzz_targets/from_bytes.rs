//! Fuzzes the blob decoder: `Model::from_bytes` (raw, and with length and CRC re-sealed) and,
//! for every blob it accepts, the cost model, the executor's plan and one inference; nothing
//! may panic. Run `cargo +nightly fuzz run from_bytes` in shared/ (docs/FIRMWARE.md).
#![no_main]

use libfuzzer_sys::fuzz_target;
use whittle_shared::crc32::crc32;
use whittle_shared::encode::AlignedBytes;
use whittle_shared::{Error, Model, Precision, cost, exec};

fuzz_target!(|data: &[u8]| {
    check(data);
    // Most mutations only break the CRC; re-seal length and CRC so the fuzzer also
    // explores the metadata, tables and per-op checks behind it.
    if data.len() >= 16 {
        check(&reseal(data));
    }
});

/// `data` with the header's length and CRC fields made to match it.
fn reseal(data: &[u8]) -> Vec<u8> {
    let mut sealed = data.to_vec();
    let len = sealed.len() as u32;
    sealed[8..12].copy_from_slice(&len.to_le_bytes());
    let crc = crc32(&sealed[16..]);
    sealed[12..16].copy_from_slice(&crc.to_le_bytes());
    sealed
}

fn check(data: &[u8]) {
    let blob = AlignedBytes::new(data);
    let Ok(model) = Model::from_bytes(&blob) else {
        return;
    };
    // A validated model always plans: every op gets its kernel variant.
    let needed = exec::needed(&model);
    assert!(needed.is_ok(), "plan of a validated blob: {needed:?}");
    let Ok(t) = cost::totals(&model) else { return };
    // Keep iterations fast: run only models of modest size.
    if model.ram_bytes() > 1 << 16 || t.macs > 1 << 15 {
        return;
    }
    let mut ram = AlignedBytes::zeroed(model.ram_bytes());
    let Ok(input) = model.input() else { return };
    match model.precision() {
        Precision::Int8 => {
            let x = vec![1i8; input.shape.len()];
            let r = exec::run_s8(&model, &x, &mut ram);
            // Every variant is built here: a kernel refusing what the plan chose is a bug.
            assert!(!matches!(r, Err(Error::KernelNotBuilt { .. })), "{r:?}");
        }
        Precision::F32 => {
            let x = vec![0.5f32; input.shape.len()];
            let _ = exec::run_f32(&model, &x, &mut ram);
        }
    }
}
