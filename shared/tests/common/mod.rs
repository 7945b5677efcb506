//! Test fixtures: a deterministic generator and the seed CIFAR-10 net built with `Builder`.
#![allow(dead_code)]

use whittle_shared::encode::Builder;
use whittle_shared::format::*;

/// A tiny deterministic generator (SplitMix64) so fixtures need no dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn i8(&mut self) -> i8 {
        self.next_u64() as i8
    }
    pub fn f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Conv widths and dense width of the seed CIFAR-10 net.
pub const SEED_C10: [u16; 5] = [16, 24, 32, 32, 48];

/// Adds conv (3x3 same, ReLU) to `b` reading `x`; returns the output tensor.
fn conv(b: &mut Builder, rng: &mut Rng, x: u16, out_c: u16) -> u16 {
    let i = *b.tensor_info(x).expect("tensor");
    let s = i.shape;
    let y = b.tensor(Shape::new(out_c, s.h, s.w), 0.05, -128);
    let n = out_c as usize * 9 * s.c as usize;
    let (weights, bias, requant) = params(b, rng, n, out_c as usize);
    b.op(Op::Conv2d(Conv2d {
        input: x,
        output: y,
        kernel: [3, 3],
        stride: [1, 1],
        padding: Padding::same(1),
        relu: true,
        weights,
        bias,
        requant,
    }));
    y
}

fn params(b: &mut Builder, rng: &mut Rng, n: usize, oc: usize) -> (DataRef, DataRef, DataRef) {
    match b.precision() {
        Precision::Int8 => {
            let w: Vec<i8> = (0..n).map(|_| rng.i8()).collect();
            let bias: Vec<i32> = (0..oc).map(|_| rng.below(2000) as i32 - 1000).collect();
            let rq: Vec<Requant> = (0..oc)
                .map(|_| Requant {
                    multiplier: (1 << 30) + rng.below(1 << 30) as i32,
                    shift: -9,
                })
                .collect();
            (b.data_i8(&w), b.data_i32(&bias), b.data_requant(&rq))
        }
        Precision::F32 => {
            let w: Vec<f32> = (0..n).map(|_| rng.f32() * 0.2).collect();
            let bias: Vec<f32> = (0..oc).map(|_| rng.f32() * 0.1).collect();
            (b.data_f32(&w), b.data_f32(&bias), b.data(&[]))
        }
    }
}

fn dense(b: &mut Builder, rng: &mut Rng, x: u16, out: u16, relu: bool) -> u16 {
    let n = b.tensor_info(x).expect("tensor").shape.len();
    let y = b.tensor(Shape::vector(out), 0.1, 0);
    let (weights, bias, requant) = params(b, rng, n * out as usize, out as usize);
    b.op(Op::Dense(Dense {
        input: x,
        output: y,
        relu,
        weights,
        bias,
        requant,
    }));
    y
}

fn maxpool(b: &mut Builder, x: u16) -> u16 {
    let i = *b.tensor_info(x).expect("tensor");
    let s = i.shape;
    let y = b.tensor(Shape::new(s.c, s.h / 2, s.w / 2), i.scale, i.zero_point);
    b.op(Op::MaxPool2d(Pool2d {
        input: x,
        output: y,
        kernel: [2, 2],
        stride: [2, 2],
    }));
    y
}

/// The seed CIFAR-10 net with the given widths and random weights; returns the builder and
/// the output tensor id.
pub fn seed_net(precision: Precision, widths: [u16; 5], seed: u64) -> (Builder, u16) {
    let mut rng = Rng(seed);
    let mut b = Builder::new(precision, Shape::new(3, 32, 32), 1.0 / 127.5, 0);
    let x = b.input();
    let x = conv(&mut b, &mut rng, x, widths[0]);
    let x = conv(&mut b, &mut rng, x, widths[1]);
    let x = maxpool(&mut b, x);
    let x = conv(&mut b, &mut rng, x, widths[2]);
    let x = conv(&mut b, &mut rng, x, widths[3]);
    let x = maxpool(&mut b, x);
    let i = *b.tensor_info(x).expect("tensor");
    let f = b.tensor(Shape::vector(i.shape.len() as u16), i.scale, i.zero_point);
    b.op(Op::Flatten(Unary {
        input: x,
        output: f,
    }));
    let x = dense(&mut b, &mut rng, f, widths[4], true);
    let y = dense(&mut b, &mut rng, x, 10, false);
    (b, y)
}

/// The seed net's blob.
pub fn seed_blob(precision: Precision) -> Vec<u8> {
    let (b, y) = seed_net(precision, SEED_C10, 7);
    b.finish(y).expect("seed net encodes")
}
