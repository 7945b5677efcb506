//! Pins the byte examples of `docs/FORMAT.md`: if one of these fails, the wire format
//! changed — bump `VERSION` and update the spec in the same commit.

use whittle_shared::encode::{Parts, encode};
use whittle_shared::format::*;

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn tensor_record_bytes() {
    let t = TensorInfo {
        shape: Shape::new(3, 32, 32),
        offset: 4096,
        scale: 0.5,
        zero_point: -128,
    };
    assert_eq!(
        hex(&postcard::to_allocvec(&t).unwrap()),
        "03 20 20 80 20 00 00 00 3f 80"
    );
}

#[test]
fn op_record_bytes() {
    let conv = Op::Conv2d(Conv2d {
        input: 0,
        output: 1,
        kernel: [3, 3],
        stride: [1, 1],
        padding: Padding::same(1),
        relu: true,
        weights: DataRef {
            offset: 0,
            len: 432,
        },
        bias: DataRef {
            offset: 432,
            len: 64,
        },
        requant: DataRef {
            offset: 496,
            len: 128,
        },
    });
    assert_eq!(
        hex(&postcard::to_allocvec(&conv).unwrap()),
        "00 00 01 03 03 01 01 01 01 01 01 01 00 b0 03 b0 03 40 f0 03 80 01"
    );
    let flat = Op::Flatten(Unary {
        input: 6,
        output: 7,
    });
    assert_eq!(hex(&postcard::to_allocvec(&flat).unwrap()), "07 06 07");
    let rq = Requant {
        multiplier: 1 << 30,
        shift: -7,
    };
    assert_eq!(
        hex(&postcard::to_allocvec(&rq).unwrap()),
        "80 80 80 80 08 0d"
    );
}

#[test]
fn smallest_blob_bytes() {
    // One ReLU on a 4-element f32 vector: header, metadata, no data.
    let parts = Parts {
        precision: Precision::F32,
        input: 0,
        output: 1,
        input_range: InputRange::Raw,
        arena_bytes: 32,
        scratch_bytes: 0,
        tensors: vec![
            TensorInfo {
                shape: Shape::vector(4),
                offset: 0,
                scale: 1.0,
                zero_point: 0,
            },
            TensorInfo {
                shape: Shape::vector(4),
                offset: 16,
                scale: 1.0,
                zero_point: 0,
            },
        ],
        ops: vec![Op::Relu(Unary {
            input: 0,
            output: 1,
        })],
        data: vec![],
    };
    let b = encode(&parts);
    assert_eq!(
        hex(&b),
        "57 48 54 4c 02 00 00 00 40 00 00 00 ea d7 a0 2c 20 00 00 00 1f 00 00 00 40 00 00 00 00 00 00 00 \
         01 00 01 02 20 00 02 01 12 04 01 01 00 00 00 80 3f 00 04 01 01 10 00 00 80 3f 00 03 05 00 01 00"
    );
    let a = whittle_shared::encode::AlignedBytes::new(&b);
    assert!(whittle_shared::Model::from_bytes(&a).is_ok());
}
