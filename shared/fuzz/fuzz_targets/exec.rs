//! Fuzzes the int8 executor on decoded blobs: the input is 4 seed bytes for the input values
//! and a blob (length and CRC re-sealed); every blob `Model::from_bytes` accepts runs on
//! pseudo-random int8 inputs (saturation included), twice, with the same result; the run
//! must not panic nor refuse the kernel variant its own plan chose. `cargo +nightly fuzz run exec`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use whittle_shared::crc32::crc32;
use whittle_shared::encode::AlignedBytes;
use whittle_shared::{Error, Model, Precision, cost, exec};

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 + 16 {
        return;
    }
    let (seed, blob) = data.split_at(4);
    let mut sealed = blob.to_vec();
    let len = sealed.len() as u32;
    sealed[8..12].copy_from_slice(&len.to_le_bytes());
    let crc = crc32(&sealed[16..]);
    sealed[12..16].copy_from_slice(&crc.to_le_bytes());
    let bytes = AlignedBytes::new(&sealed);
    let Ok(model) = Model::from_bytes(&bytes) else {
        return;
    };
    if model.precision() != Precision::Int8 {
        return;
    }
    let Ok(t) = cost::totals(&model) else { return };
    if model.ram_bytes() > 1 << 18 || t.macs > 1 << 18 {
        return;
    }
    let Ok(input) = model.input() else { return };
    let mut s = u32::from_le_bytes([seed[0], seed[1], seed[2], seed[3]]) | 1;
    let x: Vec<i8> = (0..input.shape.len())
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            // Mostly full-range values, sometimes the extremes.
            match s % 8 {
                0 => -128,
                1 => 127,
                _ => (s >> 8) as i8,
            }
        })
        .collect();
    let mut ram = AlignedBytes::zeroed(model.ram_bytes());
    let first = exec::run_s8(&model, &x, &mut ram).map(|y| y.to_vec());
    assert!(
        !matches!(first, Err(Error::KernelNotBuilt { .. })),
        "{first:?}"
    );
    // The arena holds stale values from the first run: outputs must not depend on them.
    let again = exec::run_s8(&model, &x, &mut ram).map(|y| y.to_vec());
    assert_eq!(first, again);
});
