//! The instruction model (`shared::cost::instructions`) against QEMU: its calibration
//! program (ignored test `calibrate`) and the check that it predicts every test blob's
//! instructions per inference within 2% on mps2-an386.
//!
//! `calibrate` builds random-weight chains over many shapes per kernel path, measures each
//! op's instructions in the firmware, fits each path's per-iteration costs by least squares
//! and prints (with `WHITTLE_CALIBRATE_WRITE=1` writes) `shared/src/cost/calibration.rs`:
//! `WHITTLE_CALIBRATE_WRITE=1 cargo test --release -p whittle-tests --test cost_model --
//! --ignored calibrate --nocapture`.

use std::collections::BTreeMap;
use std::time::Duration;

use whittle::firmware::{LabeledImage, Machine, RunOptions, RunReport};
use whittle::rng::SplitMix64;
use whittle::synth::{self, Arch};
use whittle_shared::cost::instructions::{self, Kernel, N_FEATURES};
use whittle_shared::encode::{AlignedBytes, Builder};
use whittle_shared::format::{Add, AddQuant, Conv2d, Dense, Padding, Pool2d, Unary};
use whittle_shared::requant::quantize_multiplier;
use whittle_shared::{Model, Op, Precision, Shape};
use whittle_tests::require_tools;

/// Images per calibration run (per-layer counts are summed over them: finer than a tick).
const IMAGES: usize = 4;

fn run(blob: &[u8], machine: Machine) -> RunReport {
    let bytes = AlignedBytes::new(blob);
    let model = Model::from_bytes(&bytes).expect("valid blob");
    let len = model.input().expect("input").shape.len();
    let mut rng = SplitMix64::new(7);
    let images: Vec<LabeledImage> = (0..IMAGES)
        .map(|_| LabeledImage {
            label: 0,
            pixels: (0..len).map(|_| rng.below(256) as i32 as i8).collect(),
        })
        .collect();
    let mut opts = RunOptions::new(machine);
    opts.timeout = Duration::from_secs(300);
    whittle::firmware::run(blob, &images, &opts).expect("firmware run")
}

/// How a random conv requantizes.
#[derive(Clone, Copy)]
enum Quant {
    /// Fused ReLU at zero point −128 (the ReLU table, band-eligible).
    Relu,
    /// No ReLU, zero point 3 (the folded table).
    Linear,
    /// Fused ReLU at zero point −20 (im2col only: the lower clamp is above −128).
    ReluHigh,
    /// One channel with a multiplier below the folded range (per-channel requantization).
    PerChannel,
    /// Multipliers above 1 (a left shift: per-channel requantization, its unfused branch).
    LeftShift,
}

struct Chain {
    b: Builder,
    rng: SplitMix64,
    cur: u16,
    /// Same-shaped earlier tensors for residual adds.
    history: Vec<u16>,
}

impl Chain {
    fn new(input: Shape, seed: u64) -> Self {
        let b = Builder::new(Precision::Int8, input, 1.0 / 64.0, -3);
        let cur = b.input();
        Chain {
            b,
            rng: SplitMix64::new(seed),
            cur,
            history: vec![cur],
        }
    }

    fn shape(&self) -> Shape {
        self.b.tensor_info(self.cur).expect("tensor").shape
    }

    fn weights(&mut self, n: usize) -> Vec<i8> {
        (0..n)
            .map(|_| (self.rng.below(61) as i32 - 30) as i8)
            .collect()
    }

    fn params(
        &mut self,
        oc: usize,
        fan_in: usize,
        q: Quant,
    ) -> (Vec<i8>, Vec<i32>, Vec<whittle_shared::Requant>) {
        let w = self.weights(oc * fan_in);
        let bias: Vec<i32> = (0..oc)
            .map(|_| self.rng.below(2001) as i32 - 1000)
            .collect();
        let real = match q {
            Quant::LeftShift => 1.5,
            _ => 1.0 / (30.0 * 40.0 * (fan_in as f64).sqrt()),
        };
        let mut rq: Vec<_> = (0..oc).map(|_| quantize_multiplier(real)).collect();
        if let Quant::PerChannel = q {
            rq[0] = quantize_multiplier(2f64.powi(-24));
        }
        (w, bias, rq)
    }

    fn act(q: Quant) -> (bool, i8) {
        match q {
            Quant::Relu => (true, -128),
            Quant::Linear | Quant::PerChannel | Quant::LeftShift => (false, 3),
            Quant::ReluHigh => (true, -20),
        }
    }

    fn conv(&mut self, oc: u16, k: [u8; 2], s: [u8; 2], pad: [u8; 4], q: Quant) -> u16 {
        self.conv_from(self.cur, oc, k, s, pad, q)
    }

    /// A conv of tensor `input` (not necessarily the current one).
    fn conv_from(
        &mut self,
        input: u16,
        oc: u16,
        k: [u8; 2],
        s: [u8; 2],
        pad: [u8; 4],
        q: Quant,
    ) -> u16 {
        let i = self.b.tensor_info(input).expect("tensor").shape;
        let oh = (i.h + pad[0] as u16 + pad[2] as u16 - k[0] as u16) / s[0] as u16 + 1;
        let ow = (i.w + pad[1] as u16 + pad[3] as u16 - k[1] as u16) / s[1] as u16 + 1;
        let out = Shape::new(oc, oh, ow);
        let (relu, zp) = Self::act(q);
        let fan_in = k[0] as usize * k[1] as usize * i.c as usize;
        let (w, bias, rq) = self.params(oc as usize, fan_in, q);
        let t = self.b.tensor(out, 1.0 / 32.0, zp);
        let (weights, bias, requant) = (
            self.b.data_i8(&w),
            self.b.data_i32(&bias),
            self.b.data_requant(&rq),
        );
        self.b.op(Op::Conv2d(Conv2d {
            input,
            output: t,
            kernel: k,
            stride: s,
            padding: Padding {
                top: pad[0],
                left: pad[1],
                bottom: pad[2],
                right: pad[3],
            },
            relu,
            weights,
            bias,
            requant,
        }));
        self.cur = t;
        self.history.push(t);
        t
    }

    fn dense(&mut self, m: u16, q: Quant) {
        let n = self.shape().len();
        let (relu, zp) = Self::act(q);
        let (w, bias, rq) = self.params(m as usize, n, q);
        let t = self.b.tensor(Shape::vector(m), 1.0 / 32.0, zp);
        let (weights, bias, requant) = (
            self.b.data_i8(&w),
            self.b.data_i32(&bias),
            self.b.data_requant(&rq),
        );
        self.b.op(Op::Dense(Dense {
            input: self.cur,
            output: t,
            relu,
            weights,
            bias,
            requant,
        }));
        self.cur = t;
    }

    fn pool(&mut self, avg: bool, k: [u8; 2], s: [u8; 2]) {
        let i = self.shape();
        let out = Shape::new(
            i.c,
            (i.h - k[0] as u16) / s[0] as u16 + 1,
            (i.w - k[1] as u16) / s[1] as u16 + 1,
        );
        let info = *self.b.tensor_info(self.cur).expect("tensor");
        let t = self.b.tensor(out, info.scale, info.zero_point);
        let p = Pool2d {
            input: self.cur,
            output: t,
            kernel: k,
            stride: s,
        };
        self.b.op(if avg {
            Op::AvgPool2d(p)
        } else {
            Op::MaxPool2d(p)
        });
        self.cur = t;
        self.history.push(t);
    }

    fn unary(&mut self, kind: &str) {
        let info = *self.b.tensor_info(self.cur).expect("tensor");
        let s = info.shape;
        let out = match kind {
            "flatten" => Shape::vector(s.len() as u16),
            "gap" => Shape::vector(s.c),
            _ => s,
        };
        let t = self.b.tensor(out, info.scale, info.zero_point);
        let u = Unary {
            input: self.cur,
            output: t,
        };
        self.b.op(match kind {
            "flatten" => Op::Flatten(u),
            "gap" => Op::GlobalAvgPool(u),
            _ => Op::Relu(u),
        });
        self.cur = t;
        self.history.push(t);
    }

    /// Adds `skip` to the current tensor.
    fn add(&mut self, skip: u16, relu: bool) {
        let s = self.shape();
        let t = self.b.tensor(s, 1.0 / 16.0, -5);
        let quant = AddQuant {
            left_shift: 20,
            a: quantize_multiplier(0.5),
            b: quantize_multiplier(0.25),
            out: quantize_multiplier(1.0 / (1u64 << 20) as f64 * 2.0),
        };
        self.b.op(Op::Add(Add {
            a: skip,
            b: self.cur,
            output: t,
            relu,
            quant,
        }));
        self.cur = t;
        self.history.push(t);
    }

    fn finish(self) -> Vec<u8> {
        self.b.finish(self.cur).expect("calibration blob")
    }
}

fn pick<T: Copy>(rng: &mut SplitMix64, v: &[T]) -> T {
    v[rng.below(v.len() as u64) as usize]
}

/// A random chain of `n` feature layers over `input`, then a dense head of `dense` layers.
fn random_chain(seed: u64, input: Shape, n: usize, dense: usize) -> Vec<u8> {
    let mut c = Chain::new(input, seed);
    let mut r = SplitMix64::new(seed ^ 0x5eed);
    let quants = [
        Quant::Relu,
        Quant::Relu,
        Quant::Linear,
        Quant::ReluHigh,
        Quant::PerChannel,
    ];
    for _ in 0..n {
        let s = c.shape();
        let q = pick(&mut r, &quants);
        let oc_choices: &[u16] = &[3, 4, 5, 8, 12, 16, 20, 24, 28, 32, 64, 7, 10];
        let mut oc = pick(&mut r, oc_choices);
        // Keep each layer's MACs moderate.
        while (oc as u64) * (s.h as u64) * (s.w as u64) * 9 * (s.c as u64) > 1_500_000 && oc > 3 {
            oc /= 2;
        }
        match r.below(12) {
            0 | 10 | 11 if s.h >= 8 && s.w >= 8 => {
                let avg = r.below(3) == 0;
                let k = if avg {
                    pick(&mut r, &[[2u8, 2], [3, 3]])
                } else {
                    pick(&mut r, &[[2u8, 2], [2, 2], [3, 3]])
                };
                c.pool(avg, k, [2, 2]);
            }
            1 | 9 if s.h >= 4 => {
                // Residual: two same-shaped convs, then the add (fused by the planner).
                let skip = c.cur;
                c.conv(s.c, [3, 3], [1, 1], [1; 4], Quant::Relu);
                let k = pick(&mut r, &[[3u8, 3], [1, 1]]);
                c.conv(s.c, k, [1, 1], [k[0] / 2; 4], pick(&mut r, &quants[..3]));
                c.add(skip, r.coin());
            }
            2 => {
                let skip = c.cur;
                c.conv(s.c, [1, 1], [1, 1], [0; 4], Quant::Linear);
                c.unary("relu");
                c.add(skip, false);
            }
            5 | 7 if s.h >= 8 && s.w >= 8 => {
                // A ResNet downsampling block: 3×3 stride 2 (ReLU), 3×3, and a 1×1 stride-2
                // shortcut from the block's input, fused with the add (the direct 1×1 path).
                let skip = c.cur;
                let oc = pick(&mut r, &[s.c, 2 * s.c, 8, 16, 24, 40]).min(64);
                c.conv(oc, [3, 3], [2, 2], [1; 4], Quant::Relu);
                let main = c.conv(oc, [3, 3], [1, 1], [1; 4], pick(&mut r, &quants[..3]));
                c.conv_from(skip, oc, [1, 1], [2, 2], [0; 4], pick(&mut r, &quants[..3]));
                c.add(main, r.coin());
            }
            6 => {
                // A 1×1 conv, stride 1 or 2 (the direct path where channels come in 4s).
                let st = pick(&mut r, &[[1u8, 1], [2, 2]]);
                if s.w >= 7 || st == [1, 1] {
                    c.conv(oc, [1, 1], st, [0; 4], q);
                }
            }
            3 | 8 if s.h >= 6 => {
                let k = pick(&mut r, &[[1u8, 1], [3, 3], [5, 5], [3, 1], [2, 2]]);
                let st = pick(&mut r, &[[1u8, 1], [2, 2], [2, 1]]);
                let p = pick(
                    &mut r,
                    &[[0u8; 4], [1, 1, 1, 1], [0, 0, 1, 1], [2, 2, 2, 2]],
                );
                let p = [
                    p[0].min(k[0] - 1),
                    p[1].min(k[1] - 1),
                    p[2].min(k[0] - 1),
                    p[3].min(k[1] - 1),
                ];
                c.conv(oc, k, st, p, q);
            }
            4 if s.h >= 8 => {
                c.conv(
                    oc,
                    [3, 3],
                    [2, 2],
                    pick(&mut r, &[[1u8; 4], [0, 0, 1, 1], [0; 4]]),
                    q,
                );
            }
            _ => {
                let p = pick(&mut r, &[[1u8; 4], [1; 4], [0; 4], [1, 0, 1, 2]]);
                if s.h + p[0] as u16 + p[2] as u16 >= 3 && s.w + p[1] as u16 + p[3] as u16 >= 3 {
                    c.conv(oc, [3, 3], [1, 1], p, q);
                }
            }
        }
    }
    let s = c.shape();
    if r.coin() && s.h > 1 {
        c.unary("gap");
    } else {
        c.unary("flatten");
    }
    for _ in 0..dense {
        let m = pick(&mut r, &[10u16, 7, 16, 33, 48, 64, 5, 128]);
        c.dense(m, pick(&mut r, &[Quant::Relu, Quant::Linear]));
    }
    c.finish()
}

/// An RGB first layer alone (3×3 over 3 channels: the band path's or im2col's RGB column
/// builder), a dense head after it: these layers are always a net's first op, whose
/// interval also holds the input copy, so they need shapes of their own to be told apart.
fn first_layer(
    seed: u64,
    input: Shape,
    (oc, k): (u16, u8),
    stride: u8,
    pad: [u8; 4],
    q: Quant,
) -> Vec<u8> {
    let mut c = Chain::new(input, seed);
    c.conv(oc, [k, k], [stride; 2], pad, q);
    c.unary("gap");
    c.dense(10, Quant::Linear);
    c.finish()
}

/// A ResNet-like stack: a first conv (5×5 where `big`, which sizes the scratch for both of
/// a fused add's tables), `blocks` residual blocks of two 3×3 convs fused with their add,
/// optionally a downsampling block (1×1 stride-2 shortcut), then a pooled dense head.
fn residual_stack(
    seed: u64,
    input: Shape,
    c: u16,
    blocks: usize,
    big: bool,
    down: bool,
) -> Vec<u8> {
    let mut ch = Chain::new(input, seed);
    let mut r = SplitMix64::new(seed ^ 0x5eed);
    if big {
        ch.conv(c, [5, 5], [1, 1], [2; 4], Quant::Relu);
    } else {
        ch.conv(c, [3, 3], [1, 1], [1; 4], Quant::Relu);
    }
    for _ in 0..blocks {
        let skip = ch.cur;
        ch.conv(c, [3, 3], [1, 1], [1; 4], Quant::Relu);
        ch.conv(
            c,
            [3, 3],
            [1, 1],
            [1; 4],
            pick(&mut r, &[Quant::Linear, Quant::Relu]),
        );
        ch.add(skip, r.coin());
    }
    if down {
        let skip = ch.cur;
        let oc = (2 * c).min(64);
        ch.conv(oc, [3, 3], [2, 2], [1; 4], Quant::Relu);
        let main = ch.conv(oc, [3, 3], [1, 1], [1; 4], Quant::Linear);
        ch.conv_from(skip, oc, [1, 1], [2, 2], [0; 4], Quant::Linear);
        ch.add(main, r.coin());
    }
    ch.unary("gap");
    ch.dense(10, Quant::Linear);
    ch.finish()
}

/// The calibration blobs: random chains over several input shapes.
fn calibration_blobs() -> Vec<Vec<u8>> {
    let inputs = [
        Shape::new(3, 32, 32),
        Shape::new(3, 24, 20),
        Shape::new(8, 16, 16),
        Shape::new(3, 17, 13),
        Shape::new(16, 12, 12),
        Shape::new(4, 32, 32),
        Shape::new(3, 32, 32),
        Shape::new(12, 20, 24),
        Shape::new(3, 28, 28),
        Shape::new(32, 16, 16),
        Shape::new(3, 32, 32),
        Shape::new(6, 18, 18),
        Shape::new(16, 32, 32),
        Shape::new(3, 32, 32),
        Shape::new(32, 8, 8),
        Shape::new(8, 32, 32),
    ];
    // Small nets: edge-case channel counts, 5×5 kernels, pools and dense heads, where the
    // per-op constants weigh most.
    let small = [
        Shape::new(1, 9, 9),
        Shape::new(2, 12, 12),
        Shape::new(4, 10, 14),
        Shape::new(5, 8, 8),
        Shape::new(3, 15, 15),
        Shape::new(1, 16, 12),
        Shape::new(6, 11, 11),
        Shape::new(3, 9, 9),
        Shape::new(7, 12, 10),
        Shape::new(4, 13, 9),
    ];
    let big = inputs
        .iter()
        .enumerate()
        .map(|(i, &s)| random_chain(i as u64 + 1, s, 22, 5));
    let small = small
        .iter()
        .enumerate()
        .map(|(i, &s)| random_chain(i as u64 + 101, s, 8, 4));
    let firsts = [
        (Shape::new(3, 32, 32), (32, 3), 1, [1u8; 4], Quant::Relu),
        (Shape::new(3, 32, 32), (16, 3), 1, [1; 4], Quant::Relu),
        (Shape::new(3, 32, 32), (24, 3), 2, [1; 4], Quant::Relu),
        (Shape::new(3, 32, 32), (8, 3), 1, [0; 4], Quant::Linear),
        (Shape::new(3, 24, 24), (12, 3), 1, [1; 4], Quant::Relu),
        (Shape::new(3, 16, 16), (32, 3), 1, [1; 4], Quant::Relu),
        (Shape::new(3, 16, 20), (20, 3), 1, [0, 0, 1, 1], Quant::Relu),
        (Shape::new(3, 28, 28), (4, 3), 1, [1; 4], Quant::Relu),
        (Shape::new(3, 12, 12), (16, 3), 1, [1; 4], Quant::Linear),
        (Shape::new(3, 20, 32), (28, 3), 1, [1; 4], Quant::Relu),
        (Shape::new(3, 32, 32), (12, 3), 1, [1; 4], Quant::ReluHigh),
        (Shape::new(3, 18, 18), (16, 2), 2, [1; 4], Quant::Relu),
        // im2col's RGB and staging first layers: a lower clamp, stride 2, 5×5, 1 channel.
        (Shape::new(3, 32, 32), (8, 3), 2, [1; 4], Quant::ReluHigh),
        (
            Shape::new(3, 16, 16),
            (16, 3),
            2,
            [0, 0, 1, 1],
            Quant::ReluHigh,
        ),
        (Shape::new(3, 24, 24), (5, 3), 1, [1; 4], Quant::PerChannel),
        (Shape::new(3, 16, 16), (8, 5), 1, [2; 4], Quant::Relu),
        (Shape::new(3, 20, 20), (5, 5), 2, [2; 4], Quant::Linear),
        (Shape::new(1, 16, 16), (8, 5), 1, [2; 4], Quant::Relu),
        (Shape::new(1, 28, 28), (4, 3), 1, [1; 4], Quant::ReluHigh),
        (Shape::new(1, 20, 12), (12, 5), 2, [0; 4], Quant::Linear),
        (Shape::new(2, 16, 16), (8, 3), 1, [1; 4], Quant::Relu),
        // A band geometry whose requantization the band refuses, in a blob whose scratch
        // that op sized for the band: the reference loops.
        (Shape::new(8, 12, 12), (16, 3), 1, [1; 4], Quant::ReluHigh),
        (Shape::new(16, 8, 8), (8, 3), 1, [1; 4], Quant::PerChannel),
        (Shape::new(4, 16, 16), (12, 3), 2, [1; 4], Quant::ReluHigh),
        (Shape::new(12, 10, 10), (4, 3), 1, [0; 4], Quant::PerChannel),
        (Shape::new(32, 6, 6), (16, 3), 1, [1; 4], Quant::ReluHigh),
        (
            Shape::new(4, 9, 13),
            (20, 3),
            1,
            [1, 0, 1, 0],
            Quant::PerChannel,
        ), // Filters of 1 to 3 bytes (`filter_end` for all but the asm's first ones) and left
        // shifts (per-channel requantization on its unfused branch).
        (Shape::new(1, 12, 12), (3, 1), 1, [0; 4], Quant::Relu),
        (Shape::new(1, 9, 9), (8, 1), 1, [0; 4], Quant::Relu),
        (Shape::new(1, 10, 10), (6, 1), 1, [0; 4], Quant::Linear),
        (Shape::new(1, 16, 16), (2, 1), 1, [0; 4], Quant::Relu),
        (Shape::new(2, 10, 10), (4, 1), 1, [0; 4], Quant::Relu),
        (Shape::new(2, 12, 12), (5, 1), 1, [0; 4], Quant::ReluHigh),
        (Shape::new(3, 8, 8), (2, 1), 1, [0; 4], Quant::Linear),
        (Shape::new(3, 14, 14), (7, 1), 2, [0; 4], Quant::Relu),
        (Shape::new(1, 9, 9), (8, 1), 1, [0; 4], Quant::LeftShift),
        (Shape::new(1, 12, 12), (4, 3), 1, [1; 4], Quant::LeftShift),
        (Shape::new(3, 10, 10), (5, 1), 1, [0; 4], Quant::LeftShift),
        (Shape::new(4, 8, 8), (8, 3), 1, [1; 4], Quant::LeftShift),
        (Shape::new(2, 11, 11), (3, 3), 2, [1; 4], Quant::LeftShift),
    ];
    let firsts = firsts
        .iter()
        .enumerate()
        .map(|(i, &(s, k, st, p, q))| first_layer(i as u64 + 201, s, k, st, p, q));
    // Residual stacks on the band path (fused adds with one table, or two where a 5×5
    // first conv asks for more scratch), some with a downsampling block.
    let stacks = [
        (Shape::new(3, 32, 32), 16, 2, false, true),
        (Shape::new(3, 32, 32), 16, 1, true, false),
        (Shape::new(3, 16, 16), 8, 2, false, false),
        (Shape::new(8, 16, 16), 16, 1, true, true),
        (Shape::new(3, 24, 24), 12, 2, true, false),
        (Shape::new(4, 20, 20), 24, 1, false, true),
        (Shape::new(3, 12, 12), 40, 1, false, false),
        (Shape::new(3, 16, 16), 64, 1, true, false),
        (Shape::new(3, 16, 16), 32, 2, false, true),
        (Shape::new(16, 8, 8), 20, 2, true, true),
        // Channel counts off multiples of 4 (what a pruned net's groups become): staging
        // convs, chunked fused adds.
        (Shape::new(3, 32, 32), 13, 1, false, false),
        (Shape::new(3, 32, 32), 10, 2, false, true),
        (Shape::new(3, 16, 16), 21, 1, false, true),
        (Shape::new(3, 24, 24), 7, 2, false, false),
        (Shape::new(3, 32, 32), 30, 1, false, false),
        (Shape::new(3, 16, 16), 45, 1, true, false),
    ];
    let stacks = stacks
        .iter()
        .enumerate()
        .map(|(i, &(s, c, n, big, down))| residual_stack(i as u64 + 301, s, c, n, big, down));
    big.chain(small).chain(firsts).chain(stacks).collect()
}

/// Least squares on relative errors with a little ridge over rows `(f, t, y)` (features,
/// target, measured): `argmin Σ ((f·x − t) / y)² + ε|z|²` over the columns `cols` that some
/// row uses, each scaled to at most 1 (`z` the scaled unknowns); the others stay 0.
fn fit(rows: &[([f64; N_FEATURES], f64, f64)], cols: &dyn Fn(usize) -> bool) -> [f64; N_FEATURES] {
    let used: Vec<usize> = (0..N_FEATURES)
        .filter(|&j| cols(j) && rows.iter().any(|(f, _, _)| f[j] != 0.0))
        .collect();
    let scale: Vec<f64> = used
        .iter()
        .map(|&j| {
            rows.iter()
                .map(|(f, _, y)| (f[j] / y.max(1.0)).abs())
                .fold(0.0, f64::max)
        })
        .collect();
    let n = used.len();
    let mut a = vec![vec![0.0f64; n + 1]; n];
    for (f, t, y) in rows {
        let y = y.max(1.0);
        let x: Vec<f64> = used
            .iter()
            .zip(&scale)
            .map(|(&j, s)| f[j] / y / s)
            .collect();
        for i in 0..n {
            for j in 0..n {
                a[i][j] += x[i] * x[j];
            }
            a[i][n] += x[i] * t / y;
        }
    }
    for (i, row) in a.iter_mut().enumerate() {
        row[i] += 1e-9;
    }
    // Gauss-Jordan with partial pivoting.
    for col in 0..n {
        let p = (col..n)
            .max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))
            .expect("rows");
        a.swap(col, p);
        let pivot = a[col].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let m = row[col] / pivot[col];
                for (v, p) in row.iter_mut().zip(&pivot).skip(col) {
                    *v -= m * p;
                }
            }
        }
    }
    let mut x = [0.0; N_FEATURES];
    for (i, &ci) in used.iter().enumerate() {
        x[ci] = a[i][n] / a[i][i] / scale[i];
    }
    x
}

/// The columns whose cost is one figure for every kernel: the tensor lookups (one function,
/// `Model::tensor`, whatever calls it). Fitted per kernel, the rows with few calibration
/// ops absorbed other costs into them.
const SHARED: [usize; 2] = [instructions::TENSOR_DECODES, instructions::TENSOR_BYTES];

fn dot(f: &[f64; N_FEATURES], x: &[f64; N_FEATURES]) -> f64 {
    f.iter().zip(x).map(|(a, b)| a * b).sum()
}

/// Every kernel's row, fitted jointly: each kernel's own columns on its ops, and the
/// [`SHARED`] columns on all ops, alternating until both settle (block coordinate descent
/// on one least-squares problem in relative error).
fn fit_all(
    rows: &BTreeMap<Kernel, Vec<([f64; N_FEATURES], f64)>>,
) -> BTreeMap<Kernel, [f64; N_FEATURES]> {
    let own = |j: usize| !SHARED.contains(&j);
    let mut shared = [0.0; N_FEATURES];
    let mut fitted: BTreeMap<Kernel, [f64; N_FEATURES]> = BTreeMap::new();
    for _ in 0..60 {
        for (&k, r) in rows {
            let t: Vec<_> = r
                .iter()
                .map(|(f, y)| (*f, y - dot(f, &shared), *y))
                .collect();
            fitted.insert(k, fit(&t, &own));
        }
        let all: Vec<_> = rows
            .iter()
            .flat_map(|(k, r)| r.iter().map(move |(f, y)| (k, f, y)))
            .map(|(k, f, y)| (*f, y - dot(f, &fitted[k]), *y))
            .collect();
        shared = fit(&all, &|j| SHARED.contains(&j));
    }
    for x in fitted.values_mut() {
        for j in SHARED {
            x[j] = shared[j];
        }
    }
    fitted
}

/// (kernel, features, measured instructions) of every op of `blob` run on `machine`.
fn measure(blob: &[u8], machine: Machine) -> Vec<(Kernel, [f64; N_FEATURES], u64)> {
    let r = run(blob, machine);
    let bytes = AlignedBytes::new(blob);
    let model = Model::from_bytes(&bytes).expect("valid");
    let (pred, tail) = instructions::per_op_and_tail(&model).expect("prediction");
    assert_eq!(pred.len(), r.per_layer.len());
    let mut rows: Vec<_> = pred
        .iter()
        .zip(&r.per_layer)
        .map(|(p, l)| (p.kernel, p.features, l.instructions))
        .collect();
    let layers: u64 = r.per_layer.iter().map(|l| l.instructions).sum();
    rows.push((
        Kernel::Tail,
        tail.features,
        r.instructions_per_inference.saturating_sub(layers),
    ));
    let predicted = pred.iter().map(|p| p.instructions).sum::<u64>() + tail.instructions;
    println!(
        "blob: predicted {predicted}, QEMU {} ({:+.3}%)",
        r.instructions_per_inference,
        100.0 * (predicted as f64 / r.instructions_per_inference as f64 - 1.0)
    );
    rows
}

#[test]
#[ignore = "calibration program: runs minutes of QEMU, prints the cost table"]
fn calibrate() {
    require_tools();
    let mut rows: BTreeMap<Kernel, Vec<([f64; N_FEATURES], f64)>> = BTreeMap::new();
    let mut blobs = Vec::new();
    for (i, blob) in calibration_blobs().iter().enumerate() {
        let m = measure(blob, Machine::Mps2An386);
        println!("calibration blob {i}: {} ops", m.len());
        for &(k, f, y) in &m {
            rows.entry(k).or_default().push((f, y as f64));
        }
        blobs.push(m);
    }
    let mut fitted = fit_all(&rows);
    let mut table = String::new();
    for k in Kernel::ALL {
        let r = rows.get(&k).map(Vec::as_slice).unwrap_or(&[]);
        let x = *fitted.entry(k).or_insert([0.0; N_FEATURES]);
        let worst = r
            .iter()
            .map(|(f, y)| {
                let p: f64 = f.iter().zip(&x).map(|(a, b)| a * b).sum();
                (p - y).abs() / y.max(1.0)
            })
            .fold(0.0f64, f64::max);
        println!(
            "{:20} {:3} ops, worst per-op error {:.2}%",
            k.name(),
            r.len(),
            100.0 * worst
        );
        if std::env::var_os("WHITTLE_CALIBRATE_ROWS").is_some() {
            for (f, y) in r {
                let p: f64 = f.iter().zip(&x).map(|(a, b)| a * b).sum();
                let nz: Vec<String> = f
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| **v != 0.0)
                    .map(|(i, v)| format!("{i}:{v}"))
                    .collect();
                println!(
                    "    measured {y:>9} predicted {p:>11.1} ({:+.2}%)  {}",
                    100.0 * (p / y - 1.0),
                    nz.join(" ")
                );
            }
        }
        let vals: Vec<String> = x.iter().map(|v| format!("{v:.4}")).collect();
        table.push_str(&format!(
            "    // {} ({} calibration ops)\n    &[{}],\n",
            k.name(),
            r.len(),
            vals.join(", ")
        ));
    }
    // Each calibration blob's whole-network error with the fitted costs (rounded per op as
    // the model rounds).
    for (i, m) in blobs.iter().enumerate() {
        let (mut p, mut y) = (0.0, 0.0);
        for (k, f, v) in m {
            let dot: f64 = f.iter().zip(&fitted[k]).map(|(a, b)| a * b).sum();
            p += dot.max(0.0).round();
            y += *v as f64;
        }
        println!(
            "calibration blob {i}: fitted {p:.0}, QEMU {y:.0} ({:+.3}%)",
            100.0 * (p / y - 1.0)
        );
    }
    let file = format!(
        "//! The instruction model's per-iteration costs, one row per kernel path (written by the\n\
         //! calibration program: `WHITTLE_CALIBRATE_WRITE=1 cargo test --release -p whittle-tests\n\
         //! --test cost_model -- --ignored calibrate`).\n\n\
         use super::instructions::N_KERNELS;\n\n\
         /// Instructions per unit of each feature, per [`Kernel`](super::instructions::Kernel)\n\
         /// (missing trailing features cost 0).\n\
         #[rustfmt::skip]\n\
         pub const COSTS: [&[f64]; N_KERNELS] = [\n{table}];\n"
    );
    println!("{file}");
    if std::env::var_os("WHITTLE_CALIBRATE_WRITE").is_some() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/src/cost/calibration.rs"
        );
        std::fs::write(path, file).expect("write calibration.rs");
    }
}

/// Predicted vs measured instructions per inference of `blob`: the relative error.
fn error_of(name: &str, blob: &[u8], machine: Machine) -> f64 {
    let r = run(blob, machine);
    let bytes = AlignedBytes::new(blob);
    let model = Model::from_bytes(&bytes).expect("valid");
    let predicted = instructions::total(&model).expect("prediction");
    let measured = r.instructions_per_inference;
    let ops = instructions::per_op(&model).expect("prediction");
    for (p, l) in ops.iter().zip(&r.per_layer) {
        println!(
            "  {:>3} {:<20} predicted {:>9} QEMU {:>9} ({:+.2}%)",
            l.index,
            p.kernel.name(),
            p.instructions,
            l.instructions,
            100.0 * (p.instructions as f64 / l.instructions.max(1) as f64 - 1.0)
        );
    }
    let e = (predicted as f64 - measured as f64) / measured as f64;
    println!(
        "{name} on {:?}: predicted {predicted}, QEMU {measured}, error {:+.3}%",
        machine,
        100.0 * e
    );
    e
}

#[test]
fn the_instruction_model_predicts_the_test_blobs_within_2_percent() {
    require_tools();
    let blobs = [
        (
            "seed-c10 synth",
            synth::build_arch(Arch::SeedC10, 1.0, 7).expect("seed"),
        ),
        (
            "seed-c10 synth width 0.5",
            synth::build_arch(Arch::SeedC10, 0.5, 7).expect("half"),
        ),
        (
            "resnet8 synth",
            synth::build_arch(Arch::Resnet8, 1.0, 7).expect("resnet8"),
        ),
        (
            "random chain 11",
            random_chain(11, Shape::new(3, 32, 32), 16, 3),
        ),
    ];
    let errors: Vec<(&str, f64)> = blobs
        .iter()
        .map(|(name, blob)| (*name, error_of(name, blob, Machine::Mps2An386)))
        .collect();
    let worst = errors.iter().map(|e| e.1.abs()).fold(0.0, f64::max);
    println!("worst error {:.3}%", 100.0 * worst);
    for (name, e) in errors {
        assert!(e.abs() <= 0.02, "{name}: {:+.3}% off", 100.0 * e);
    }
}

#[test]
fn seed_net_counts_and_predictions_per_machine() {
    // The instruction model is one per ISA family; the M7 (same thumbv7em code) must
    // count exactly what the M4 counts, the M33 (thumbv8m code) within 2%.
    require_tools();
    let blob = synth::build_arch(Arch::SeedC10, 1.0, 7).expect("seed");
    let m4 = run(&blob, Machine::Mps2An386).instructions_per_inference;
    let m7 = run(&blob, Machine::Mps2An500).instructions_per_inference;
    assert_eq!(m4, m7, "M4 and M7 run the same code");
    let e = error_of("seed-c10 synth", &blob, Machine::Mps2An505);
    assert!(e.abs() <= 0.02, "M33: {:+.3}% off", 100.0 * e);
}

/// A trained base (one epoch on a slice) pruned by l1-norm to 30 ms on an STM32F405 at its
/// 168 MHz: its int8 export runs in QEMU within 5% under the budget's instructions.
#[test]
fn a_latency_budget_prune_lands_within_5_percent_under_it_in_qemu() {
    use whittle::data::{self, batch::normalize, images::IMAGE_BYTES};
    use whittle::firmware::chips;
    use whittle::prune::budget::ChipBudget;
    use whittle::prune::l1_norm::L1Norm;
    use whittle::prune::{Amount, PruneOptions, Target, prune_run};
    use whittle::quant::{self, QuantConfig};
    use whittle::train::{RunDir, Weights};

    require_tools();
    let data_dir = whittle_tests::data_dir();
    let tmp = tempfile::tempdir().expect("temp dir");
    let (base, out) = (tmp.path().join("base"), tmp.path().join("pruned"));
    let spec = whittle::graph::preset("seed-c10").expect("preset");
    whittle_tests::train_tiny(&base, &spec, &data_dir, 320, 160);

    let chip = chips::find("STM32F405").expect("chip");
    let budget = ChipBudget {
        instructions: chip.instructions_in(30.0),
        ram_bytes: chip.ram_bytes,
        flash_bytes: chip.flash_bytes,
    };
    let opts = PruneOptions {
        amount: Amount::Target(Target::Chip(budget)),
        round_to: 4,
        finetune_epochs: 0,
        limit: Some(320),
        data_dir: Some(data_dir.clone()),
        ..PruneOptions::default()
    };
    let device = whittle::device::device("flex").expect("device");
    prune_run(
        &base,
        &out,
        &mut L1Norm,
        &opts,
        &device,
        &mut |_| {},
        &mut |_| {},
    )
    .expect("prune");

    let dir = RunDir::new(&out);
    let (graph, net) = dir.load_model(Weights::Final, &device).expect("pruned net");
    let planned = whittle::prune::budget::ChipCost::of(&graph)
        .expect("cost")
        .instructions;
    let float = whittle::export::from_net(&net).expect("fold");
    let cfg = QuantConfig::default();
    let split = data::SplitOptions {
        limit: Some(320),
        val: 160,
        ..data::SplitOptions::default()
    };
    let splits = data::load_splits(&data_dir, data::DatasetKind::Cifar10, &split).expect("data");
    let n = cfg.images.min(splits.train.len());
    let calib: Vec<f32> = splits.train.pixels[..n * IMAGE_BYTES]
        .iter()
        .map(|&b| normalize(b))
        .collect();
    let blob = quant::quantize(&float, &calib, &cfg).expect("int8").blob;

    let r = run(&blob, Machine::Mps2An386);
    let measured = r.instructions_per_inference;
    let b = budget.instructions;
    println!(
        "budget {b} instructions (30 ms at 168 MHz), QEMU {measured} ({:.2}% under); the prune's prediction {planned}",
        100.0 * (1.0 - measured as f64 / b as f64)
    );
    whittle_tests::assert_predicted("the pruned net's int8 export", &blob, &r);
    assert!(measured <= b, "{measured} instructions over the budget {b}");
    assert!(
        measured as f64 >= 0.95 * b as f64,
        "{measured} instructions: more than 5% under the budget {b}"
    );
}
