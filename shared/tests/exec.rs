//! Executor plumbing: a graph using every op kind (residual add, pools, flatten, relu) run
//! through `exec` must equal the reference kernels chained by hand on separate buffers.

mod common;

use common::Rng;
use whittle_shared::encode::{AlignedBytes, Builder};
use whittle_shared::format::*;
use whittle_shared::kernels::{AddParams, ConvGeom, OutQuant, PoolGeom, reference};
use whittle_shared::{Model, exec};

#[test]
fn every_op_kind_int8_matches_hand_chained_reference() {
    let mut rng = Rng(11);
    let s_in = Shape::new(3, 6, 6);
    let mut b = Builder::new(Precision::Int8, s_in, 0.02, -3);
    let x = b.input();
    // conv 3x3 stride 1 pad 1 -> 4x6x6 (relu)
    let w1: Vec<i8> = (0..4 * 9 * 3).map(|_| rng.i8()).collect();
    let b1: Vec<i32> = (0..4).map(|i| i * 100 - 150).collect();
    let rq1: Vec<Requant> = (0..4)
        .map(|i| Requant {
            multiplier: 1_500_000_000 + i * 10_000_000,
            shift: -8,
        })
        .collect();
    let t1 = b.tensor(Shape::new(4, 6, 6), 0.05, -128);
    let (wr, br, rr) = (b.data_i8(&w1), b.data_i32(&b1), b.data_requant(&rq1));
    b.op(Op::Conv2d(Conv2d {
        input: x,
        output: t1,
        kernel: [3, 3],
        stride: [1, 1],
        padding: Padding::same(1),
        relu: true,
        weights: wr,
        bias: br,
        requant: rr,
    }));
    // conv 1x1 -> 4x6x6 (no relu), then relu op
    let w2: Vec<i8> = (0..16).map(|_| rng.i8()).collect();
    let b2 = vec![5i32, -5, 0, 20];
    let rq2 = vec![
        Requant {
            multiplier: 1 << 30,
            shift: -5
        };
        4
    ];
    let t2 = b.tensor(Shape::new(4, 6, 6), 0.07, 4);
    let (wr, br, rr) = (b.data_i8(&w2), b.data_i32(&b2), b.data_requant(&rq2));
    b.op(Op::Conv2d(Conv2d {
        input: t1,
        output: t2,
        kernel: [1, 1],
        stride: [1, 1],
        padding: Padding::default(),
        relu: false,
        weights: wr,
        bias: br,
        requant: rr,
    }));
    let t3 = b.tensor(Shape::new(4, 6, 6), 0.07, 4);
    b.op(Op::Relu(Unary {
        input: t2,
        output: t3,
    }));
    // residual add of t1 and t3
    let aq = AddQuant {
        left_shift: 20,
        a: Requant {
            multiplier: 1 << 30,
            shift: 0,
        },
        b: Requant {
            multiplier: 1_600_000_000,
            shift: 0,
        },
        out: Requant {
            multiplier: 1_200_000_000,
            shift: -19,
        },
    };
    let t4 = b.tensor(Shape::new(4, 6, 6), 0.1, -20);
    b.op(Op::Add(Add {
        a: t1,
        b: t3,
        output: t4,
        relu: true,
        quant: aq,
    }));
    // avgpool 3x3 stride 3 -> 4x2x2, maxpool 2x2 stride 1 -> 4x1x1 ... use global avg instead
    let t5 = b.tensor(Shape::new(4, 2, 2), 0.1, -20);
    b.op(Op::AvgPool2d(Pool2d {
        input: t4,
        output: t5,
        kernel: [3, 3],
        stride: [3, 3],
    }));
    let t6 = b.tensor(Shape::new(4, 1, 1), 0.1, -20);
    b.op(Op::MaxPool2d(Pool2d {
        input: t5,
        output: t6,
        kernel: [2, 2],
        stride: [1, 1],
    }));
    let t7 = b.tensor(Shape::vector(4), 0.1, -20);
    b.op(Op::GlobalAvgPool(Unary {
        input: t6,
        output: t7,
    }));
    let t8 = b.tensor(Shape::vector(4), 0.1, -20);
    b.op(Op::Flatten(Unary {
        input: t7,
        output: t8,
    }));
    let w3: Vec<i8> = (0..12).map(|_| rng.i8()).collect();
    let b3 = vec![1i32, 2, 3];
    let rq3 = vec![
        Requant {
            multiplier: 1 << 30,
            shift: -3
        };
        3
    ];
    let t9 = b.tensor(Shape::vector(3), 0.3, 1);
    let (wr, br, rr) = (b.data_i8(&w3), b.data_i32(&b3), b.data_requant(&rq3));
    b.op(Op::Dense(Dense {
        input: t8,
        output: t9,
        relu: false,
        weights: wr,
        bias: br,
        requant: rr,
    }));
    let blob = AlignedBytes::new(&b.finish(t9).expect("valid"));
    let m = Model::from_bytes(&blob).expect("valid");

    let input: Vec<i8> = (0..s_in.len()).map(|_| rng.i8()).collect();
    let mut ram = AlignedBytes::zeroed(m.ram_bytes());
    let got = exec::run_s8(&m, &input, &mut ram).expect("runs").to_vec();

    // The same graph by hand.
    let g1 = ConvGeom {
        input: s_in,
        output: Shape::new(4, 6, 6),
        kernel: [3, 3],
        stride: [1, 1],
        padding: Padding::same(1),
    };
    let mut y1 = vec![0i8; 144];
    reference::conv2d_s8(
        &g1,
        &OutQuant::new(-3, -128, true),
        &input,
        &w1,
        &b1,
        &rq1,
        &mut y1,
    );
    let g2 = ConvGeom {
        input: Shape::new(4, 6, 6),
        output: Shape::new(4, 6, 6),
        kernel: [1, 1],
        stride: [1, 1],
        padding: Padding::default(),
    };
    let mut y2 = vec![0i8; 144];
    reference::conv2d_s8(
        &g2,
        &OutQuant::new(-128, 4, false),
        &y1,
        &w2,
        &b2,
        &rq2,
        &mut y2,
    );
    let mut y3 = vec![0i8; 144];
    reference::relu_s8(4, &y2, &mut y3);
    let q = OutQuant::new(0, -20, true);
    let ap = AddParams {
        quant: aq,
        a_zp: -128,
        b_zp: 4,
        output_zp: -20,
        act_min: q.act_min,
        act_max: 127,
    };
    let mut y4 = vec![0i8; 144];
    reference::add_s8(&ap, &y1, &y3, &mut y4);
    let mut y5 = vec![0i8; 16];
    reference::avgpool2d_s8(
        &PoolGeom {
            input: Shape::new(4, 6, 6),
            output: Shape::new(4, 2, 2),
            kernel: [3, 3],
            stride: [3, 3],
        },
        &y4,
        &mut y5,
    );
    let mut y6 = vec![0i8; 4];
    reference::maxpool2d_s8(
        &PoolGeom {
            input: Shape::new(4, 2, 2),
            output: Shape::new(4, 1, 1),
            kernel: [2, 2],
            stride: [1, 1],
        },
        &y5,
        &mut y6,
    );
    let mut y7 = vec![0i8; 4];
    reference::global_avgpool_s8(Shape::new(4, 1, 1), &y6, &mut y7);
    let mut y9 = vec![0i8; 3];
    reference::dense_s8(&OutQuant::new(-20, 1, false), &y7, &w3, &b3, &rq3, &mut y9);
    assert_eq!(got, y9);
    // and the intermediate results are not trivially saturated
    assert!(y4.iter().any(|&v| v > -20 && v < 127), "{y4:?}");
}

#[test]
fn run_rejects_wrong_buffers() {
    let bytes = common::seed_blob(Precision::Int8);
    let blob = AlignedBytes::new(&bytes);
    let m = Model::from_bytes(&blob).expect("valid");
    let mut small = AlignedBytes::zeroed(m.ram_bytes() - 1);
    let input = vec![0i8; 3072];
    assert!(matches!(
        exec::run_s8(&m, &input, &mut small),
        Err(whittle_shared::Error::BufferSize { .. })
    ));
    let mut ram = AlignedBytes::zeroed(m.ram_bytes());
    assert!(matches!(
        exec::run_s8(&m, &input[1..], &mut ram),
        Err(whittle_shared::Error::BufferSize { .. })
    ));
    assert_eq!(
        exec::run_f32(&m, &[0.0; 3072], &mut ram),
        Err(whittle_shared::Error::WrongPrecision)
    );
}
