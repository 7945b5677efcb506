//! Blob format tests: lossless round trip, and every kind of malformed blob returning the
//! right `FormatError` without panicking (truncation at every offset, byte flips, bad
//! versions, CRC, shapes, data lengths and arena plans).

mod common;

use common::{Rng, seed_blob};
use whittle_shared::crc32::crc32;
use whittle_shared::encode::{AlignedBytes, Parts, encode};
use whittle_shared::format::*;
use whittle_shared::{Error, Model, exec};

fn load(bytes: &[u8]) -> Result<(), Error> {
    Model::from_bytes(&AlignedBytes::new(bytes)).map(|_| ())
}

/// Decodes a blob back into `Parts` through the public `Model` API.
fn parts_of(m: &Model) -> Parts {
    let meta = m.meta();
    let ops: Vec<Op> = m.ops().map(|o| o.expect("op")).collect();
    let tensors: Vec<TensorInfo> = m.tensors().map(|t| t.expect("tensor")).collect();
    let end = ops
        .iter()
        .flat_map(|op| match *op {
            Op::Conv2d(c) => vec![c.weights, c.bias, c.requant],
            Op::Dense(d) => vec![d.weights, d.bias, d.requant],
            _ => vec![],
        })
        .map(|r| (r.offset + r.len) as usize)
        .max()
        .unwrap_or(0);
    let data = m
        .bytes(DataRef {
            offset: 0,
            len: end as u32,
        })
        .expect("data")
        .to_vec();
    Parts {
        precision: meta.precision,
        input: meta.input,
        output: meta.output,
        input_range: meta.input_range,
        arena_bytes: meta.arena_bytes,
        scratch_bytes: meta.scratch_bytes,
        tensors,
        ops,
        data,
    }
}

/// Re-encodes `parts` after `edit`: a blob with valid header and CRC but edited content.
fn edited(bytes: &[u8], edit: impl FnOnce(&mut Parts)) -> Vec<u8> {
    let a = AlignedBytes::new(bytes);
    let m = Model::from_bytes(&a).expect("valid blob");
    let mut p = parts_of(&m);
    edit(&mut p);
    encode(&p)
}

#[test]
fn round_trip_is_lossless() {
    for precision in [Precision::Int8, Precision::F32] {
        let bytes = seed_blob(precision);
        let a = AlignedBytes::new(&bytes);
        let m = Model::from_bytes(&a).expect("valid");
        let p = parts_of(&m);
        // host -> bytes -> Model -> parts -> bytes is the identity
        assert_eq!(encode(&p), bytes, "{precision:?}");
        assert_eq!(p.ops.len(), 9);
        assert_eq!(p.tensors.len(), 10);
        assert_eq!(p.tensors[0].shape, Shape::new(3, 32, 32));
        assert_eq!(m.output().expect("out").shape, Shape::vector(10));
    }
}

#[test]
fn header_layout_is_pinned() {
    let bytes = seed_blob(Precision::Int8);
    assert_eq!(&bytes[0..4], b"WHTL");
    assert_eq!(u16::from_le_bytes([bytes[4], bytes[5]]), VERSION);
    assert_eq!(
        u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize,
        bytes.len()
    );
    assert_eq!(
        u32::from_le_bytes(bytes[12..16].try_into().unwrap()),
        crc32(&bytes[16..])
    );
    assert_eq!(
        u32::from_le_bytes(bytes[16..20].try_into().unwrap()),
        HEADER_LEN as u32
    );
    let data_off = u32::from_le_bytes(bytes[24..28].try_into().unwrap()) as usize;
    assert_eq!(data_off % DATA_ALIGN, 0);
}

#[test]
fn truncation_at_every_offset_is_reported() {
    let bytes = seed_blob(Precision::Int8);
    for cut in 0..bytes.len() {
        let err = load(&bytes[..cut]).expect_err("truncated blob accepted");
        let needed = if cut < HEADER_LEN {
            HEADER_LEN
        } else {
            bytes.len()
        } as u32;
        assert_eq!(
            err,
            Error::Truncated {
                found: cut as u32,
                needed
            },
            "cut at {cut}"
        );
    }
    assert_eq!(load(&bytes), Ok(()));
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        load(&longer),
        Err(Error::TrailingBytes {
            found: bytes.len() as u32 + 1,
            declared: bytes.len() as u32
        })
    );
}

#[test]
fn every_byte_flip_in_header_and_tables_is_caught() {
    let bytes = seed_blob(Precision::Int8);
    let data_off = u32::from_le_bytes(bytes[24..28].try_into().unwrap()) as usize;
    for at in 0..data_off {
        for pattern in [0xFFu8, 0x01, 0x80] {
            let mut b = bytes.clone();
            b[at] ^= pattern;
            let err = load(&b).expect_err("flipped blob accepted");
            let ok = match at {
                0..4 => err == Error::BadMagic,
                4..6 => matches!(err, Error::UnsupportedVersion { .. }),
                6..8 => err == Error::BadHeader,
                8..12 => matches!(err, Error::Truncated { .. } | Error::TrailingBytes { .. }),
                _ => matches!(err, Error::BadCrc { .. }),
            };
            assert!(ok, "flip {pattern:#x} at byte {at}: {err:?}");
        }
    }
}

#[test]
fn flips_behind_a_valid_crc_never_panic() {
    // Corrupt the tables and re-seal the CRC: the validator must reject or accept cleanly,
    // and an accepted model must run without panicking.
    let bytes = seed_blob(Precision::Int8);
    let data_off = u32::from_le_bytes(bytes[24..28].try_into().unwrap()) as usize;
    let mut rng = Rng(3);
    let mut accepted = 0;
    for at in 16..data_off {
        for _ in 0..4 {
            let mut b = bytes.clone();
            b[at] = rng.next_u64() as u8;
            let crc = crc32(&b[16..]);
            b[12..16].copy_from_slice(&crc.to_le_bytes());
            let a = AlignedBytes::new(&b);
            if let Ok(m) = Model::from_bytes(&a) {
                accepted += 1;
                let mut ram = AlignedBytes::zeroed(m.ram_bytes());
                let input = vec![0i8; m.input().expect("in").shape.len()];
                let _ = exec::run_s8(&m, &input, &mut ram);
            }
        }
    }
    // Some flips (e.g. in a scale) still give a valid model; most do not.
    assert!(accepted < (data_off - 16) * 4);
}

#[test]
fn wrong_version_and_bad_crc() {
    let mut b = seed_blob(Precision::Int8);
    b[4..6].copy_from_slice(&(VERSION + 1).to_le_bytes());
    assert_eq!(
        load(&b),
        Err(Error::UnsupportedVersion {
            found: VERSION + 1,
            supported: VERSION
        })
    );
    let mut b = seed_blob(Precision::Int8);
    let n = b.len();
    b[n - 1] ^= 1;
    assert!(matches!(load(&b), Err(Error::BadCrc { .. })));
}

#[test]
fn misaligned_blob_is_rejected() {
    let bytes = seed_blob(Precision::Int8);
    let mut shifted = AlignedBytes::new(&[&[0u8][..], &bytes].concat()).to_vec();
    shifted.push(0);
    let a = AlignedBytes::new(&shifted);
    let err = Model::from_bytes(&a[1..bytes.len() + 1]).expect_err("misaligned accepted");
    assert!(
        matches!(err, Error::Misaligned { align: 16, .. }),
        "{err:?}"
    );
}

#[test]
fn inconsistent_shapes_are_named() {
    let bytes = seed_blob(Precision::Int8);
    // conv 1's output claims 31 rows
    let b = edited(&bytes, |p| p.tensors[1].shape.h = 31);
    assert_eq!(
        load(&b),
        Err(Error::ShapeMismatch {
            op: 0,
            expected: 32,
            found: 31
        })
    );
    // first dense layer's weights one byte short
    let b = edited(&bytes, |p| {
        if let Op::Dense(d) = &mut p.ops[7] {
            d.weights.len -= 1;
        }
    });
    assert_eq!(
        load(&b),
        Err(Error::WeightSize {
            op: 7,
            found: 2048 * 48 - 1,
            expected: 2048 * 48
        })
    );
    // the message names layer and byte counts
    let msg = format!(
        "{}",
        Error::WeightSize {
            op: 3,
            found: 1151,
            expected: 1152
        }
    );
    assert_eq!(
        msg,
        "layer 3: tensor data has 1151 bytes, its shape needs 1152"
    );
    // maxpool output with the wrong channel count
    let b = edited(&bytes, |p| p.tensors[3].shape.c = 23);
    assert!(
        matches!(load(&b), Err(Error::ShapeMismatch { op: 2, .. })),
        "{:?}",
        load(&b)
    );
    // an op reading a tensor that no op produced yet
    let b = edited(&bytes, |p| {
        if let Op::Conv2d(c) = &mut p.ops[0] {
            c.input = 5;
        }
    });
    assert_eq!(load(&b), Err(Error::BadTensorRef { op: 0, tensor: 5 }));
    // weights outside the data section
    let b = edited(&bytes, |p| {
        if let Op::Conv2d(c) = &mut p.ops[0] {
            c.weights.offset = 1 << 24;
        }
    });
    assert!(matches!(
        load(&b),
        Err(Error::DataOutOfBounds { op: 0, .. })
    ));
    // invalid requant shift
    let b = edited(&bytes, |p| {
        let Op::Conv2d(c) = p.ops[0] else { return };
        let at = c.requant.offset as usize + 4;
        p.data[at..at + 4].copy_from_slice(&40i32.to_le_bytes());
    });
    assert_eq!(load(&b), Err(Error::BadQuant { op: 0 }));
}

#[test]
fn arena_problems_are_caught() {
    let bytes = seed_blob(Precision::Int8);
    let b = edited(&bytes, |p| p.arena_bytes -= 16);
    assert!(
        matches!(load(&b), Err(Error::ArenaTooSmall { .. })),
        "{:?}",
        load(&b)
    );
    // two tensors live at the same time placed on the same bytes
    let b = edited(&bytes, |p| p.tensors[3].offset = p.tensors[2].offset);
    assert_eq!(load(&b), Err(Error::ArenaOverlap { a: 2, b: 3 }));
    let b = edited(&bytes, |p| p.scratch_bytes = 0);
    match load(&b) {
        Err(Error::ScratchTooSmall { .. }) | Ok(()) => {}
        other => panic!("{other:?}"),
    }
    let b = edited(&bytes, |p| p.tensors[4].offset += 8);
    assert_eq!(load(&b), Err(Error::BadTensorTable { index: 4 }));
}

#[test]
fn empty_and_oversized_tables() {
    let bytes = seed_blob(Precision::Int8);
    let b = edited(&bytes, |p| p.ops.clear());
    assert_eq!(
        load(&b),
        Err(Error::TooLarge {
            count: 0,
            max: MAX_ENTRIES as u32
        })
    );
    let b = edited(&bytes, |p| p.output = 0);
    assert_eq!(load(&b), Err(Error::BadMeta));
}
