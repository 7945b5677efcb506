//! Sweeps int8 kernel shapes: firmware DSP path in QEMU vs host portable path, bit for bit.
//!
//! The seed nets reach the DSP conv only with CIFAR shapes (3 or a multiple of 4 input
//! channels, 3×3 'same', widths that are multiples of 4, ReLU at zero point −128), mostly
//! on the band path; the im2col path, its requantization tables and the dense and pool
//! kernels see little of their shape space. Each model here is a short chain of small
//! random-weight layers, calibrated on its own test images so that every layer's outputs
//! spread over the int8 range (or saturate where the case says so); the firmware's output
//! CRC and class must equal the host simulation's for every image. The output of the last
//! op is all the firmware reports, so each model ends in a sizeable tensor and chains stay
//! short. Which kernel path each op takes is worked out from the blob by [`paths`], which
//! mirrors the dispatch in `shared/src/kernels/` (update it with the dispatch);
//! `the_sweep_reaches_every_kernel_path` asserts that the models together reach them all.

use std::collections::BTreeSet;
use std::time::Duration;

use whittle::firmware::{LabeledImage, Machine, RunOptions};
use whittle::rng::SplitMix64;
use whittle_shared::encode::{AlignedBytes, Builder};
use whittle_shared::format::{Add, AddQuant, Conv2d, Dense, Padding, Pool2d, Unary};
use whittle_shared::requant::quantize_multiplier;
use whittle_shared::{Model, Op, Precision, Requant, Shape, exec, fuse, kernels};
use whittle_tests::require_tools;

/// Test images per model: one of alternating extremes (−128/127), the rest uniform noise.
const IMAGES: usize = 5;
/// Scale of the int8 weights (only ratios of scales reach the integer arithmetic).
const WEIGHT_SCALE: f64 = 1.0 / 256.0;
/// Share of a layer's outputs that must sit on a bound it is designed to reach.
const MIN_SHARE: f64 = 0.01;

/// Output zero point and fused ReLU of a conv, dense or add.
#[derive(Debug, Clone, Copy)]
struct Act {
    relu: bool,
    zp: i8,
}

const fn relu(zp: i8) -> Act {
    Act { relu: true, zp }
}

const fn linear(zp: i8) -> Act {
    Act { relu: false, zp }
}

impl Act {
    /// The lower clamp the kernels apply.
    fn act_min(self) -> i8 {
        if self.relu { self.zp } else { -128 }
    }
}

/// A conv (or, with kernel 1×1 on a vector, the parameters of a dense).
#[derive(Debug, Clone, Copy)]
struct ConvSpec {
    oc: u16,
    kernel: [u8; 2],
    stride: [u8; 2],
    /// top, left, bottom, right.
    pad: [u8; 4],
    act: Act,
    /// Spread of the outputs in int8 steps (the requantization maps one standard deviation
    /// of the accumulator to this).
    gain: f64,
    /// Weights are drawn from `−wmax..=wmax` (nonzero when below 127).
    wmax: i8,
    /// Channel 0 gets a multiplier below the folded range (shift −23) and a bias that
    /// carries its value: the layer requantizes channel by channel.
    tiny: bool,
    /// Channel 0 gets a bias above 2^30 (with multiplier 2^30, shift −22: the value
    /// `zp + 144`), which keeps a ReLU layer off the ReLU table.
    big: bool,
    /// Designed to saturate: 127 (and −128 without ReLU) must each hold ≥ [`MIN_SHARE`].
    sat: bool,
}

fn conv(oc: u16, kernel: [u8; 2], stride: [u8; 2], pad: [u8; 4], act: Act) -> ConvSpec {
    ConvSpec {
        oc,
        kernel,
        stride,
        pad,
        act,
        gain: 50.0,
        wmax: 127,
        tiny: false,
        big: false,
        sat: false,
    }
}

impl ConvSpec {
    fn gain(self, gain: f64) -> Self {
        ConvSpec { gain, ..self }
    }
    fn wmax(self, wmax: i8) -> Self {
        ConvSpec { wmax, ..self }
    }
    fn tiny(self) -> Self {
        ConvSpec { tiny: true, ..self }
    }
    fn big(self) -> Self {
        ConvSpec { big: true, ..self }
    }
    /// Saturating: a gain of 150 puts ~20–40% of the outputs on the bounds.
    fn sat(self) -> Self {
        ConvSpec {
            sat: true,
            gain: 150.0,
            ..self
        }
    }
    fn padding(&self) -> Padding {
        let [top, left, bottom, right] = self.pad;
        Padding {
            top,
            left,
            bottom,
            right,
        }
    }
}

fn dense(out: u16, act: Act) -> ConvSpec {
    conv(out, [1, 1], [1, 1], [0; 4], act)
}

/// `k / 2` on every side: 'same' for an odd kernel at stride 1.
const fn same(k: u8) -> [u8; 4] {
    [k / 2; 4]
}

const VALID: [u8; 4] = [0; 4];

#[derive(Debug, Clone, Copy)]
enum Layer {
    Conv(ConvSpec),
    Dense(ConvSpec),
    MaxPool([u8; 2], [u8; 2]),
    AvgPool([u8; 2], [u8; 2]),
    GlobalAvgPool,
    Flatten,
    Relu,
    /// Adds the output of layer `back` to the current tensor; the output scale is `out`
    /// times twice the larger input scale (below ~0.3 it saturates).
    AddSkip {
        back: usize,
        act: Act,
        out: f64,
    },
    /// A conv reading the output of layer `back` (`None`: the model input).
    ConvFrom(Option<usize>, ConvSpec),
}

/// One model of the sweep.
struct Case {
    name: &'static str,
    input: Shape,
    input_zp: i8,
    layers: Vec<Layer>,
    seed: u64,
}

/// 3-channel 3×3 'same' first layer with ReLU (the band path with a zero 4th channel,
/// output width 9: its last block moved left); then 5 input channels through the staging
/// column of im2col (3×3 stride 2
/// 'valid', ReLU at zero point −100 saturating at 127, channel 0's bias above 2^30: the
/// folded table with the asm's CMP/IT clamp); then a 1×1 from 8 channels (whole groups)
/// to 13, no ReLU.
fn rgb_first_layer() -> Case {
    Case {
        name: "rgb_first_layer",
        input: Shape::new(3, 9, 9),
        input_zp: -7,
        layers: vec![
            Layer::Conv(conv(5, [3, 3], [1, 1], same(3), relu(-128)).gain(60.0)),
            Layer::Conv(conv(8, [3, 3], [2, 2], VALID, relu(-100)).sat().big()),
            Layer::Conv(conv(13, [1, 1], [1, 1], VALID, linear(10))),
        ],
        seed: 1,
    }
}

/// 3-channel 3×3 stride 2 with padding and a positive input zero point, ReLU at zero point
/// 0 saturating at 127 (im2col's `rgb3x3_block`: interior columns straight from the input,
/// `im2col` at the border; 8×8×8, blocks in one row); 2×2 max pool on 8 channels (word
/// path); a 3×3 'same' to 3 channels over a 4×4 map, no ReLU (im2col: off the band path);
/// a 2×2 stride-1 max pool on 3 channels (the generic path); flatten; dense 27 → 13 (ReLU,
/// a partial group, odd rows) and 13 → 10.
fn rgb_stride2_dense_head() -> Case {
    Case {
        name: "rgb_stride2_dense_head",
        input: Shape::new(3, 15, 15),
        input_zp: 37,
        layers: vec![
            Layer::Conv(conv(8, [3, 3], [2, 2], same(3), relu(0)).sat()),
            Layer::MaxPool([2, 2], [2, 2]),
            Layer::Conv(conv(3, [3, 3], [1, 1], same(3), linear(-5))),
            Layer::MaxPool([2, 2], [1, 1]),
            Layer::Flatten,
            Layer::Dense(dense(13, relu(-128)).gain(60.0)),
            Layer::Dense(dense(10, linear(0)).gain(40.0)),
        ],
        seed: 2,
    }
}

/// 4 input channels, 5×5 'same' (whole-group block columns with taps in the horizontal
/// padding, kernel rows in the vertical padding), ReLU at zero point 0; 3×3 stride 2 with
/// TF-style asymmetric padding (bottom/right only) to 12 channels; a non-square 3×1 from 12
/// channels to 3, no ReLU, saturating at both ends.
fn four_channels_5x5_nonsquare() -> Case {
    Case {
        name: "four_channels_5x5_nonsquare",
        input: Shape::new(4, 8, 8),
        input_zp: 0,
        layers: vec![
            Layer::Conv(conv(8, [5, 5], [1, 1], same(5), relu(0))),
            Layer::Conv(conv(12, [3, 3], [2, 2], [0, 0, 1, 1], relu(-128)).gain(60.0)),
            Layer::Conv(conv(3, [3, 1], [1, 1], [1, 0, 1, 0], linear(-20)).sat()),
        ],
        seed: 3,
    }
}

/// 1 input channel, 1×1 (filter length 1) to 8 with weights in −2..=2 and a gain of 150:
/// multipliers ≥ 1, so positive shifts (the per-channel, non-fused requantization with a
/// left shift), saturating both ends, 81 pixels (a partial last block); a 3×3 'same' to 2
/// channels with ReLU (band path, 2 channel groups); a 1×1 stride 2 from 2 channels (filter
/// length 2) to 5 over a 5×5 output.
fn one_channel_positive_shift() -> Case {
    Case {
        name: "one_channel_positive_shift",
        input: Shape::new(1, 9, 9),
        input_zp: 5,
        layers: vec![
            Layer::Conv(conv(8, [1, 1], [1, 1], VALID, linear(-3)).sat().wmax(2)),
            Layer::Conv(conv(2, [3, 3], [1, 1], same(3), relu(-128)).gain(60.0)),
            Layer::Conv(conv(5, [1, 1], [2, 2], VALID, linear(0))),
        ],
        seed: 4,
    }
}

/// Input zero point −128; 1×1 from 1 channel to 8 on the folded path (filters 5 and 6 end
/// in `filter_end`, 7 from the padded copy); 3×3 'valid' to 13 with channel 0's shift at
/// −23 (the whole layer requantizes per channel, fused form); a 1×1 from 13 channels
/// (staging, filter length 13) to 1 (no filter in the asm loop), ReLU at zero point −60.
fn short_filters_and_tiny_shift() -> Case {
    Case {
        name: "short_filters_and_tiny_shift",
        input: Shape::new(1, 10, 10),
        input_zp: -128,
        layers: vec![
            Layer::Conv(conv(8, [1, 1], [1, 1], VALID, relu(-128)).gain(60.0)),
            Layer::Conv(conv(13, [3, 3], [1, 1], VALID, linear(0)).tiny()),
            Layer::Conv(conv(1, [1, 1], [1, 1], VALID, relu(-60))),
        ],
        seed: 5,
    }
}

/// 5 input channels, 3×3 'same' (staging column with padding) on a 7×7 map; a 3×3 from 8
/// channels, no ReLU; a residual add with ReLU; 3×3 stride 2 max pool (generic path); 1×1
/// to 13 saturating; 2×2 stride 1 max pool on 13 channels (words and a 1-byte tail).
fn staging_residual_maxpools() -> Case {
    Case {
        name: "staging_residual_maxpools",
        input: Shape::new(5, 7, 7),
        input_zp: 12,
        layers: vec![
            Layer::Conv(conv(8, [3, 3], [1, 1], same(3), relu(-128)).gain(60.0)),
            Layer::Conv(conv(8, [3, 3], [1, 1], same(3), linear(5))),
            Layer::AddSkip {
                back: 0,
                act: relu(-128),
                out: 0.75,
            },
            Layer::MaxPool([3, 3], [2, 2]),
            Layer::Conv(conv(13, [1, 1], [1, 1], VALID, linear(0)).sat()),
            Layer::MaxPool([2, 2], [1, 1]),
        ],
        seed: 6,
    }
}

/// 1×1 from 1 channel to 3 (3 weights in all: every filter outside the asm loop); 5×5
/// stride 2 with padding from 3 channels (staging, filter length 75) to 5, no ReLU, with a
/// shift of −23 in channel 0 (per-channel requantization: the last filter's 3-byte tail in
/// `filter_end` on every block), then a ReLU op at zero point 10; 2×2 average pool; dense
/// 45 → 13 with ReLU at −90 and 13 → 10.
fn five_by_five_avgpool_dense() -> Case {
    Case {
        name: "five_by_five_avgpool_dense",
        input: Shape::new(1, 12, 12),
        input_zp: 20,
        layers: vec![
            Layer::Conv(conv(3, [1, 1], [1, 1], VALID, relu(-128)).gain(60.0)),
            Layer::Conv(conv(5, [5, 5], [2, 2], [2; 4], linear(10)).tiny()),
            Layer::Relu,
            Layer::AvgPool([2, 2], [2, 2]),
            Layer::Flatten,
            Layer::Dense(dense(13, relu(-90)).gain(60.0)),
            Layer::Dense(dense(10, linear(0)).gain(40.0)),
        ],
        seed: 7,
    }
}

/// 12 input channels, 3×3 'same' to 13 with ReLU (the band path with 3 channel groups,
/// width 7: the last block moved left); global average pool;
/// dense 13 → 7 with ReLU at zero point 0 saturating at 127; dense 7 → 5 (one partial
/// group only) saturating at both ends.
fn twelve_channels_global_pool() -> Case {
    Case {
        name: "twelve_channels_global_pool",
        input: Shape::new(12, 7, 7),
        input_zp: -3,
        layers: vec![
            Layer::Conv(conv(13, [3, 3], [1, 1], same(3), relu(-128)).gain(70.0)),
            Layer::GlobalAvgPool,
            Layer::Dense(dense(7, relu(0)).sat()),
            Layer::Dense(dense(5, linear(-10)).sat()),
        ],
        seed: 8,
    }
}

/// The band path (stride-1 3×3 with the ReLU table and `act_min = −128`) over channel
/// group counts 1, 5, 2 and 4: 4 channels 'valid' to 20 with ReLU; 20 to 8 with asymmetric
/// padding (bottom/right), no ReLU at zero point −128; 8 to 16 and 16 to 5 'same', ReLU.
fn band_channel_groups() -> Case {
    Case {
        name: "band_channel_groups",
        input: Shape::new(4, 10, 10),
        input_zp: 9,
        layers: vec![
            Layer::Conv(conv(20, [3, 3], [1, 1], VALID, relu(-128)).gain(60.0)),
            Layer::Conv(conv(8, [3, 3], [1, 1], [0, 0, 1, 1], linear(-128)).gain(60.0)),
            Layer::Conv(conv(16, [3, 3], [1, 1], same(3), relu(-128)).gain(60.0)),
            Layer::Conv(conv(5, [3, 3], [1, 1], same(3), relu(-128)).gain(60.0)),
        ],
        seed: 9,
    }
}

/// A ResNet stack as the synthetic ResNet-8 has it, at 16 channels on 8×8: conv + ReLU,
/// a linear conv (band path, folded requantization) at zero point 7 fused with the add of
/// the stack's input (zero point −128, another scale), ReLU, saturating at 127; then the
/// same with 64 channels (band Q 16) after a 1×1, the add linear at zero point 3.
fn resnet_stacks_fused_adds() -> Case {
    Case {
        name: "resnet_stacks_fused_adds",
        input: Shape::new(16, 8, 8),
        input_zp: -128,
        layers: vec![
            Layer::Conv(conv(16, [3, 3], [1, 1], same(3), relu(-128)).gain(60.0)),
            Layer::Conv(conv(16, [3, 3], [1, 1], same(3), relu(-128)).gain(60.0)),
            Layer::Conv(conv(16, [3, 3], [1, 1], same(3), linear(7)).gain(40.0)),
            Layer::AddSkip {
                back: 0,
                act: relu(-128),
                out: 0.2,
            },
            Layer::Conv(conv(64, [1, 1], [1, 1], VALID, relu(-128)).gain(60.0)),
            Layer::Conv(conv(64, [3, 3], [1, 1], same(3), relu(-128)).gain(60.0)),
            Layer::Conv(conv(64, [3, 3], [1, 1], same(3), linear(-4)).gain(50.0)),
            Layer::AddSkip {
                back: 4,
                act: linear(3),
                out: 0.75,
            },
        ],
        seed: 10,
    }
}

/// A ResNet-8 downsampling stack on an 8-channel 12×12 input: the 1×1 stride-2
/// projection shortcut first, then a 3×3 stride 2 with TensorFlow's asymmetric padding
/// (bottom/right), a 3×3 linear conv fused with the add of the shortcut (two scales, zero
/// points −3 and 9), ReLU at zero point −20; a 3×3 stride 2 with padding 'same' on the
/// add's output; a 1×1 and an add of its output to its own input, which cannot fuse (the
/// fused op would overwrite the input the conv still reads).
fn stride2_projection_shortcut() -> Case {
    Case {
        name: "stride2_projection_shortcut",
        input: Shape::new(8, 12, 12),
        input_zp: 4,
        layers: vec![
            Layer::Conv(conv(12, [1, 1], [2, 2], VALID, linear(-3)).gain(40.0)),
            Layer::ConvFrom(
                None,
                conv(12, [3, 3], [2, 2], [0, 0, 1, 1], relu(-128)).gain(60.0),
            ),
            Layer::Conv(conv(12, [3, 3], [1, 1], same(3), linear(9)).gain(40.0)),
            Layer::AddSkip {
                back: 0,
                act: relu(-20),
                out: 0.75,
            },
            Layer::Conv(conv(8, [3, 3], [2, 2], same(3), linear(0)).gain(50.0)),
            Layer::Conv(conv(8, [1, 1], [1, 1], VALID, linear(2)).gain(50.0)),
            Layer::AddSkip {
                back: 4,
                act: linear(0),
                out: 0.25,
            },
        ],
        seed: 11,
    }
}

/// A ResNet stack on a wide 16-channel 8×40 map, where the fused op sets the scratch: its
/// band path then holds only the skip's table and rescales the conv's side per element;
/// then a 3×3 stride 2 'same' with ReLU to 8 channels (the band path at stride 2, symmetric
/// padding, an output width of 20).
fn resnet_stack_one_table() -> Case {
    Case {
        name: "resnet_stack_one_table",
        input: Shape::new(16, 8, 40),
        input_zp: -128,
        layers: vec![
            Layer::Conv(conv(16, [3, 3], [1, 1], same(3), relu(-128)).gain(60.0)),
            Layer::Conv(conv(16, [3, 3], [1, 1], same(3), relu(-128)).gain(60.0)),
            Layer::Conv(conv(16, [3, 3], [1, 1], same(3), linear(-5)).gain(40.0)),
            Layer::AddSkip {
                back: 0,
                act: relu(-128),
                out: 0.5,
            },
            Layer::Conv(conv(8, [3, 3], [2, 2], same(3), relu(-128)).gain(60.0)),
        ],
        seed: 12,
    }
}

/// The direct 1×1 path (pixels widened in place, no im2col) at output widths that are not a
/// multiple of 4 (13 and 7: the last block moved left): a 1×1 stride 2 from 8 channels to 12
/// with ReLU (the ReLU table); a 3×3 linear conv as the main branch; a 1×1 stride 1 from
/// the first layer's output, linear, fused with the add of the main branch (ReLU at zero
/// point −20: the asm's lower clamp in the add); then a downsampling stack: 3×3 stride 2
/// 'same' with ReLU, a 3×3 linear, and the 1×1 stride-2 shortcut 12 → 16 from the stack's
/// input fused with the add (linear, zero point 3), as the imported ResNet-8 runs them.
fn pointwise_shortcuts() -> Case {
    Case {
        name: "pointwise_shortcuts",
        input: Shape::new(8, 21, 26),
        input_zp: -9,
        layers: vec![
            Layer::Conv(conv(12, [1, 1], [2, 2], VALID, relu(-128)).gain(60.0)),
            Layer::Conv(conv(12, [3, 3], [1, 1], same(3), linear(6)).gain(40.0)),
            Layer::ConvFrom(
                Some(0),
                conv(12, [1, 1], [1, 1], VALID, linear(-3)).gain(40.0),
            ),
            Layer::AddSkip {
                back: 1,
                act: relu(-20),
                out: 0.75,
            },
            Layer::Conv(conv(16, [3, 3], [2, 2], same(3), relu(-128)).gain(60.0)),
            Layer::Conv(conv(16, [3, 3], [1, 1], same(3), linear(2)).gain(40.0)),
            Layer::ConvFrom(
                Some(3),
                conv(16, [1, 1], [2, 2], VALID, linear(0)).gain(40.0),
            ),
            Layer::AddSkip {
                back: 5,
                act: linear(3),
                out: 0.5,
            },
        ],
        seed: 12,
    }
}

const CASES: [fn() -> Case; 13] = [
    rgb_first_layer,
    rgb_stride2_dense_head,
    four_channels_5x5_nonsquare,
    one_channel_positive_shift,
    short_filters_and_tiny_shift,
    staging_residual_maxpools,
    five_by_five_avgpool_dense,
    twelve_channels_global_pool,
    band_channel_groups,
    resnet_stacks_fused_adds,
    stride2_projection_shortcut,
    resnet_stack_one_table,
    pointwise_shortcuts,
];

/// Image 0 alternates −128 and 127; the others are uniform int8 noise.
fn test_images(len: usize, seed: u64) -> Vec<Vec<i8>> {
    let mut rng = SplitMix64::new(seed ^ 0x494d_4147); // "IMAG"
    let mut images = vec![(0..len).map(|i| [-128, 127][i % 2]).collect()];
    images.extend((1..IMAGES).map(|_| {
        (0..len)
            .map(|_| (rng.below(256) as i32 - 128) as i8)
            .collect()
    }));
    images
}

/// The values of tensor `t` for every image, from the model built so far.
fn values(b: &Builder, t: u16, images: &[Vec<i8>]) -> Vec<Vec<i8>> {
    if t == b.input() {
        return images.to_vec();
    }
    let blob = AlignedBytes::new(&b.clone().finish(t).expect("prefix model"));
    let model = Model::from_bytes(&blob).expect("prefix model");
    let mut ram = AlignedBytes::zeroed(model.ram_bytes());
    images
        .iter()
        .map(|img| {
            exec::run_s8(&model, img, &mut ram)
                .expect("host run")
                .to_vec()
        })
        .collect()
}

fn conv_out(s: Shape, c: &ConvSpec) -> Shape {
    let [top, left, bottom, right] = c.pad.map(u16::from);
    let (kh, kw) = (c.kernel[0] as u16, c.kernel[1] as u16);
    assert!(
        s.h + top + bottom >= kh && s.w + left + right >= kw,
        "{c:?} on {s:?}"
    );
    Shape::new(
        c.oc,
        (s.h + top + bottom - kh) / c.stride[0] as u16 + 1,
        (s.w + left + right - kw) / c.stride[1] as u16 + 1,
    )
}

/// The exact accumulators `Σ (x − zp) · w` (without bias) of a conv, HWC, as the kernels'
/// reference defines them.
fn accumulators(x: &[i8], s: Shape, zp: i8, w: &[i8], c: &ConvSpec, out: Shape) -> Vec<i32> {
    let (ic, ih, iw) = (s.c as usize, s.h as isize, s.w as isize);
    let (kh, kw) = (c.kernel[0] as usize, c.kernel[1] as usize);
    let k = kh * kw * ic;
    let mut accs = Vec::with_capacity(out.len());
    for oy in 0..out.h as usize {
        for ox in 0..out.w as usize {
            for o in 0..out.c as usize {
                let mut acc = 0i32;
                for ky in 0..kh {
                    let iy = (oy * c.stride[0] as usize + ky) as isize - c.pad[0] as isize;
                    for kx in 0..kw {
                        let ix = (ox * c.stride[1] as usize + kx) as isize - c.pad[1] as isize;
                        if iy < 0 || iy >= ih || ix < 0 || ix >= iw {
                            continue;
                        }
                        let at = (iy * iw + ix) as usize * ic;
                        for ch in 0..ic {
                            let wv = w[o * k + (ky * kw + kx) * ic + ch] as i32;
                            acc += wv * (x[at + ch] as i32 - zp as i32);
                        }
                    }
                }
                accs.push(acc);
            }
        }
    }
    accs
}

/// A uniform draw in [0, 1).
fn unit(rng: &mut SplitMix64) -> f64 {
    rng.below(1 << 24) as f64 / (1 << 24) as f64
}

/// Random weights, then biases and multipliers that map each channel's accumulators (over
/// every pixel of every test image) to `gain · (z + offset)` around the zero point, `z`
/// standardized; ReLU layers are shifted up by 0.25–1 σ so that 16–40% are cut. Returns
/// weights, biases, multipliers and the layer's mean real multiplier.
fn layer_params(
    rng: &mut SplitMix64,
    x: &[Vec<i8>],
    s: Shape,
    zp: i8,
    c: &ConvSpec,
    out: Shape,
) -> (Vec<i8>, Vec<i32>, Vec<Requant>, f64) {
    let k = c.kernel[0] as usize * c.kernel[1] as usize * s.c as usize;
    let oc = c.oc as usize;
    let w: Vec<i8> = (0..oc * k)
        .map(|_| {
            let m = c.wmax as i64;
            let v = rng.below(2 * m as u64 + 1) as i64 - m;
            match (v, c.wmax < 127) {
                (0, true) => 1,
                _ => v as i8,
            }
        })
        .collect();
    let accs: Vec<Vec<i32>> = x
        .iter()
        .map(|img| accumulators(img, s, zp, &w, c, out))
        .collect();
    let (mut bias, mut requant, mut reals) = (Vec::new(), Vec::new(), Vec::new());
    for o in 0..oc {
        let v: Vec<f64> = accs
            .iter()
            .flat_map(|a| a.iter().skip(o).step_by(oc).map(|&a| a as f64))
            .collect();
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let std = (v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n)
            .sqrt()
            .max(1.0);
        let offset = if c.act.relu {
            0.25 + 0.75 * unit(rng)
        } else {
            unit(rng) - 0.5
        };
        let real = c.gain / std * (0.8 + 0.45 * unit(rng));
        if c.tiny && o == 0 {
            // Shift −23: multiplier · 2^−54 ≈ 9e−8; the bias alone sets the value.
            let real = 1.5 * 2f64.powi(-24);
            let value = 80.0 * unit(rng) - 40.0;
            bias.push((value / real).round() as i32);
            requant.push(quantize_multiplier(real));
        } else if c.big && o == 0 {
            // 2^30 · 2^−53 · (2^30 + 2^27) = 144, the accumulator adds < 0.01.
            bias.push((1 << 30) + (1 << 27) + rng.below(1 << 16) as i32);
            requant.push(Requant {
                multiplier: 1 << 30,
                shift: -22,
            });
        } else {
            bias.push((-mean + offset * std).round() as i32);
            requant.push(quantize_multiplier(real));
            reals.push(real);
        }
    }
    let nominal = reals.iter().sum::<f64>() / reals.len().max(1) as f64;
    (w, bias, requant, nominal)
}

/// A case built: the blob, its test images, and the ops that must saturate.
struct Built {
    blob: Vec<u8>,
    images: Vec<Vec<i8>>,
    /// Per op: `Some((act, sat))` for conv and dense.
    checks: Vec<Option<(Act, bool)>>,
}

fn build(case: &Case) -> Built {
    let images = test_images(case.input.len(), case.seed);
    let mut rng = SplitMix64::new(case.seed);
    let mut b = Builder::new(Precision::Int8, case.input, 1.0 / 64.0, case.input_zp);
    let mut outs: Vec<u16> = Vec::new();
    let mut checks = Vec::new();
    let mut cur = b.input();
    for layer in &case.layers {
        let info = *b.tensor_info(cur).expect("current tensor");
        let (s, scale, zp) = (info.shape, info.scale, info.zero_point);
        let same_quant = |b: &mut Builder, shape: Shape| b.tensor(shape, scale, zp);
        let mut check = None;
        let t = match *layer {
            Layer::Conv(c) | Layer::Dense(c) | Layer::ConvFrom(_, c) => {
                let (cur, s, scale, zp) = match *layer {
                    Layer::ConvFrom(from, _) => {
                        let t = from.map_or(b.input(), |i| outs[i]);
                        let info = *b.tensor_info(t).expect("conv input");
                        (t, info.shape, info.scale, info.zero_point)
                    }
                    _ => (cur, s, scale, zp),
                };
                let is_dense = matches!(layer, Layer::Dense(_));
                assert!(
                    !is_dense || (s.h, s.w) == (1, 1),
                    "{}: dense on {s:?}",
                    case.name
                );
                let out = if is_dense {
                    Shape::vector(c.oc)
                } else {
                    conv_out(s, &c)
                };
                let x = values(&b, cur, &images);
                let (w, bias, rq, real) = layer_params(&mut rng, &x, s, zp, &c, out);
                let out_scale = (scale as f64 * WEIGHT_SCALE / real) as f32;
                let t = b.tensor(out, out_scale, c.act.zp);
                let (weights, bias, requant) =
                    (b.data_i8(&w), b.data_i32(&bias), b.data_requant(&rq));
                b.op(if is_dense {
                    Op::Dense(Dense {
                        input: cur,
                        output: t,
                        relu: c.act.relu,
                        weights,
                        bias,
                        requant,
                    })
                } else {
                    Op::Conv2d(Conv2d {
                        input: cur,
                        output: t,
                        kernel: c.kernel,
                        stride: c.stride,
                        padding: c.padding(),
                        relu: c.act.relu,
                        weights,
                        bias,
                        requant,
                    })
                });
                check = Some((c.act, c.sat));
                t
            }
            Layer::MaxPool(kernel, stride) | Layer::AvgPool(kernel, stride) => {
                let (kh, kw) = (kernel[0] as u16, kernel[1] as u16);
                let out = Shape::new(
                    s.c,
                    (s.h - kh) / stride[0] as u16 + 1,
                    (s.w - kw) / stride[1] as u16 + 1,
                );
                let t = same_quant(&mut b, out);
                let p = Pool2d {
                    input: cur,
                    output: t,
                    kernel,
                    stride,
                };
                b.op(match layer {
                    Layer::MaxPool(..) => Op::MaxPool2d(p),
                    _ => Op::AvgPool2d(p),
                });
                t
            }
            Layer::GlobalAvgPool | Layer::Flatten | Layer::Relu => {
                let out = match layer {
                    Layer::GlobalAvgPool => Shape::vector(s.c),
                    Layer::Flatten => Shape::vector(s.len() as u16),
                    _ => s,
                };
                let t = same_quant(&mut b, out);
                let u = Unary {
                    input: cur,
                    output: t,
                };
                b.op(match layer {
                    Layer::GlobalAvgPool => Op::GlobalAvgPool(u),
                    Layer::Flatten => Op::Flatten(u),
                    _ => Op::Relu(u),
                });
                t
            }
            Layer::AddSkip { back, act, out } => {
                let a = outs[back];
                let ia = *b.tensor_info(a).expect("skip tensor");
                assert_eq!(ia.shape, s, "{}: add shapes", case.name);
                // TFLite's int8 add: both inputs to twice the larger scale, 20 bits up.
                let twice_max = 2.0 * (ia.scale as f64).max(scale as f64);
                let out_scale = out * twice_max;
                let quant = AddQuant {
                    left_shift: 20,
                    a: quantize_multiplier(ia.scale as f64 / twice_max),
                    b: quantize_multiplier(scale as f64 / twice_max),
                    out: quantize_multiplier(twice_max / ((1u64 << 20) as f64 * out_scale)),
                };
                let t = b.tensor(s, out_scale as f32, act.zp);
                b.op(Op::Add(Add {
                    a,
                    b: cur,
                    output: t,
                    relu: act.relu,
                    quant,
                }));
                t
            }
        };
        outs.push(t);
        checks.push(check);
        cur = t;
    }
    let blob = b
        .finish(cur)
        .unwrap_or_else(|e| panic!("{}: blob: {e}", case.name));
    Built {
        blob,
        images,
        checks,
    }
}

/// The kernel paths the ops of `blob` take, worked out as `shared/src/kernels/` dispatches
/// (`conv2d_s8.rs`: `im2col_block`, `rgb3x3_block`, the staging column, `fold_table`,
/// `block_folded`'s `fast` filters; `dense_s8.rs`; `pool_s8.rs`).
fn paths(blob: &[u8]) -> BTreeSet<String> {
    let bytes = AlignedBytes::new(blob);
    let model = Model::from_bytes(&bytes).expect("valid blob");
    let mut tags = BTreeSet::new();
    let mut tag = |s: String| {
        tags.insert(s);
    };
    let ops: Vec<Op> = model.ops().map(|o| o.expect("op")).collect();
    for (index, &op) in ops.iter().enumerate() {
        let [input, _] = op.inputs();
        let i = model.tensor(input.expect("input")).expect("tensor");
        let o = model.tensor(op.output()).expect("tensor");
        match op {
            Op::Conv2d(c) => {
                let (ic, oc) = (i.shape.c as usize, o.shape.c as usize);
                let (kh, kw) = (c.kernel[0], c.kernel[1]);
                let k = kh as usize * kw as usize * ic;
                let kp = (k + 3) & !3;
                let ow = o.shape.w as usize;
                let npix = o.shape.h as usize * ow;
                tag(format!("conv ic {ic}"));
                tag(format!("conv oc {oc}"));
                tag(format!("conv kernel {kh}x{kw}"));
                tag(format!("conv stride {}", c.stride[0].max(c.stride[1])));
                let p = c.padding;
                let padding = if p == Padding::default() {
                    "none"
                } else if p.top == p.bottom && p.left == p.right {
                    "symmetric"
                } else {
                    "asymmetric"
                };
                tag(format!("conv padding {padding}"));
                if !k.is_multiple_of(4) {
                    tag("conv filter length not multiple of 4".into());
                }
                tag(match (c.relu, o.zero_point) {
                    (false, _) => "conv linear".into(),
                    (true, -128) => "conv relu zp -128".into(),
                    (true, _) => "conv relu zp above -128".into(),
                });
                let rq = model.data_requant(c.requant).expect("requant");
                let bias = model.data_i32(c.bias).expect("bias");
                // `fold_table`: every shift in −22..=−2 gives a table, the ReLU one (SMMLAR)
                // where the lower clamp is at or above the zero point and no accumulator
                // can reach 2^30, else the folded one (SMLAL); no table: per channel.
                let folded = rq
                    .iter()
                    .all(|m| m.multiplier >= 0 && (-22..=-2).contains(&m.shift));
                let zp = o.zero_point as i32;
                let lo = if c.relu { zp.max(-128) } else { -128 };
                let bound = bias
                    .iter()
                    .map(|b| b.unsigned_abs() as u64)
                    .max()
                    .unwrap_or(0)
                    + k as u64 * 128 * 255;
                let relu_table = folded && lo >= zp && bound < 1 << 30;
                if rq.iter().any(|m| m.shift > 0) {
                    tag("requant left shift".into());
                }
                // `exec`/`fuse`: a conv and the add after it fuse where the add's output
                // shares the skip's offset; the conv then runs on the band path with the add
                // folded in per block, or on chunks of output rows.
                let mut fused = false;
                if let Some(next) = ops.get(index + 1)
                    && let Some(f) = fuse::conv_add(Precision::Int8, &c, next)
                {
                    let skip = model.tensor(f.skip).expect("skip");
                    let out = model.tensor(f.add.output).expect("add output");
                    if skip.offset == out.offset {
                        fused = true;
                        tag("conv fused with its add".into());
                        tag(format!(
                            "fused add skip is {}",
                            if f.skip_is_a { "a" } else { "b" }
                        ));
                    }
                }
                // `conv2d_1x1::plan`: a 1×1 without padding, one stride along both axes,
                // whole groups of 4 input channels, a block per row, a folded table, no
                // upper clamp but 127 (the blob's scratch holds it beside a fused add's
                // tables: the encoder declares the chunked path's, which is more).
                let direct = c.kernel == [1, 1]
                    && p == Padding::default()
                    && c.stride[0] == c.stride[1]
                    && ic.is_multiple_of(4)
                    && ow >= 4
                    && folded;
                if direct {
                    tag(format!("direct 1x1 stride {}", c.stride[0]));
                    if !ow.is_multiple_of(4) {
                        tag("direct 1x1 width not multiple of 4 (last block moved left)".into());
                    }
                    if fused {
                        tag("direct 1x1 fused with its add".into());
                    } else {
                        tag("direct 1x1 unfused".into());
                    }
                    tag(if relu_table {
                        "direct 1x1 relu table".into()
                    } else {
                        "direct 1x1 folded table".into()
                    });
                    continue;
                }
                // `conv2d_band::conv`: stride 1 (or 2 with the ReLU table), 3×3, a whole
                // block per row, 3 channels or 4..=64 in groups of 4, a folded table and
                // `act_min = −128`.
                let groups = if ic == 3 {
                    Some(1)
                } else if ic.is_multiple_of(4) && (4..=64).contains(&ic) {
                    Some(ic / 4)
                } else {
                    None
                };
                let stride_ok = c.stride == [1, 1] || c.stride == [2, 2] && relu_table;
                let band = stride_ok && c.kernel == [3, 3] && ow >= 4;
                if let (true, Some(q), true, -128) = (band, groups, folded, lo) {
                    tag(format!("band Q {q}"));
                    tag(format!("band stride {}", c.stride[0]));
                    if c.stride == [2, 2] {
                        tag(format!("band stride 2 padding {padding}"));
                    }
                    if fused {
                        // `conv2d_add_s8::band`: the skip's table and, where the scratch
                        // holds it beside the band's needs, the conv's.
                        let iw = i.shape.w as usize + p.left as usize + p.right as usize;
                        let ring = 3 * iw * 2 * q * 4;
                        let extra = if ic == 3 { oc * 9 * 4 } else { 0 };
                        let need = 4 * 4 * oc + ring + extra + 4;
                        let block = (4 * oc + 3) & !3;
                        let two = model.scratch_bytes() >= block + 2 * 1024 + 4 + need;
                        tag(format!(
                            "fused band blocks, {} table{}",
                            if two { "two" } else { "one" },
                            if two { "s" } else { "" }
                        ));
                    }
                    tag(format!("band ic {ic}"));
                    tag(format!("band padding {padding}"));
                    if !ow.is_multiple_of(4) {
                        tag("band width not multiple of 4 (last block moved left)".into());
                    }
                    tag(if relu_table {
                        "band relu table".into()
                    } else {
                        "band folded table".into()
                    });
                    if !c.relu {
                        tag(format!(
                            "band linear zp {}",
                            if zp == -128 { "-128" } else { "other" }
                        ));
                    }
                    continue;
                }
                tag(if ow.is_multiple_of(4) {
                    "im2col width multiple of 4".into()
                } else {
                    "im2col width not multiple of 4 (blocks span rows)".into()
                });
                if !npix.is_multiple_of(4) {
                    tag("im2col partial last block".into());
                }
                tag(if ic.is_multiple_of(4) {
                    "im2col whole groups".into()
                } else if ic == 3 && c.kernel == [3, 3] {
                    "im2col rgb 3x3".into()
                } else {
                    "im2col staging".into()
                });
                if folded {
                    // The asm adds CMP/IT/ASRLT where `act_min > −128`.
                    let table = if relu_table {
                        "relu table (SMMLAR)"
                    } else {
                        "folded table (SMLAL)"
                    };
                    let clamp = if lo > -128 {
                        "lower clamp in asm"
                    } else {
                        "SSAT only"
                    };
                    tag(format!("{table}, {clamp}"));
                    // `block_folded`: filters `..fast` in one asm call; the last from its
                    // padded copy in a second if `fast = oc − 1`, else `filter_end`.
                    let fast = (oc * k).checked_sub(kp).map_or(0, |r| (r / k + 1).min(oc));
                    if fast == 0 {
                        tag("table, no filter in the first asm call".into());
                    }
                    if fast + 1 < oc {
                        tag("table, filters in filter_end".into());
                    }
                    if fast + 1 == oc {
                        tag("table, last filter from its padded copy".into());
                    }
                    if k % 4 == 3 && fast + 1 < oc {
                        tag("filter_end with a 3-byte tail".into());
                    }
                } else {
                    tag(if rq.iter().any(|m| m.shift > -2) {
                        "per-channel requant, not fused".into()
                    } else {
                        "per-channel requant, fused".into()
                    });
                    if k % 4 == 3 {
                        // `channels`: the last filter of every block through `filter_end`.
                        tag("filter_end with a 3-byte tail".into());
                    }
                }
            }
            Op::Dense(d) => {
                let (n, m) = (i.shape.len(), o.shape.len());
                tag(match (d.relu, o.zero_point) {
                    (false, _) => "dense linear".into(),
                    (true, -128) => "dense relu zp -128".into(),
                    (true, _) => "dense relu zp above -128".into(),
                });
                if !n.is_multiple_of(4) {
                    tag("dense input not multiple of 4".into());
                }
                if (n / 4) % 2 == 1 {
                    tag("dense odd group count".into());
                }
                if m % 2 == 1 {
                    tag("dense odd output count".into());
                }
            }
            Op::MaxPool2d(p) => {
                let c = i.shape.c;
                if p.kernel == [2, 2] && c >= 4 {
                    tag("maxpool 2x2 words".into());
                    if !c.is_multiple_of(4) {
                        tag("maxpool 2x2 words, byte tail".into());
                    }
                } else {
                    tag("maxpool generic".into());
                }
            }
            Op::AvgPool2d(_) => {
                tag("avgpool".into());
            }
            Op::GlobalAvgPool(_) => {
                tag("global avgpool".into());
            }
            Op::Relu(_) => {
                tag("relu op".into());
            }
            Op::Add(a) => {
                tag("add".into());
                let (ta, tb) = (model.tensor(a.a).expect("a"), model.tensor(a.b).expect("b"));
                if ta.scale != tb.scale && ta.zero_point != tb.zero_point {
                    tag("add inputs of other scales and zero points".into());
                }
                if !a.relu {
                    tag("add linear".into());
                }
                let fused = matches!(ops.get(index.wrapping_sub(1)), Some(Op::Conv2d(c)) if fuse::conv_add(Precision::Int8, c, &op).is_some_and(|f| model.tensor(f.skip).expect("skip").offset == o.offset));
                if !fused {
                    // `add_s8`: the per-input tables where the scratch holds them.
                    tag(
                        if model.scratch_bytes() >= kernels::add_s8_scratch_bytes() {
                            "add unfused, tables".into()
                        } else {
                            "add unfused, per element".into()
                        },
                    );
                }
            }
            Op::Flatten(_) => {
                tag("flatten".into());
            }
        };
    }
    tags
}

/// Runs every image on the host, checks each conv and dense against its design (outputs
/// spread, ReLU cuts some but not all, saturating layers reach their bounds) and returns
/// the saturation tags it saw.
fn host_checks(case: &Case, built: &Built) -> BTreeSet<String> {
    let bytes = AlignedBytes::new(&built.blob);
    let model = Model::from_bytes(&bytes).expect("valid blob");
    let mut ram = AlignedBytes::zeroed(model.ram_bytes());
    let mut outputs: Vec<Vec<i8>> = vec![Vec::new(); built.checks.len()];
    let mut finals = BTreeSet::new();
    for img in &built.images {
        let out = exec::run_s8_observed(&model, img, &mut ram, &mut |i, _, y| {
            outputs[i as usize].extend_from_slice(y)
        })
        .expect("host run");
        finals.insert(out.to_vec());
    }
    assert_eq!(
        finals.len(),
        built.images.len(),
        "{}: some images give the same output",
        case.name
    );
    let mut tags = BTreeSet::new();
    for (index, (check, y)) in built.checks.iter().zip(&outputs).enumerate() {
        let Some((act, sat)) = *check else { continue };
        if y.is_empty() {
            continue; // a conv fused with its add: its output never exists
        }
        let n = y.len() as f64;
        let share = |v: i8| y.iter().filter(|&&x| x == v).count() as f64 / n;
        let distinct: BTreeSet<i8> = y.iter().copied().collect();
        let what = format!("{} op {index}", case.name);
        assert!(distinct.len() >= 8, "{what}: only values {distinct:?}");
        let lo = share(act.act_min());
        if act.relu {
            assert!(
                (MIN_SHARE..=0.9).contains(&lo),
                "{what}: ReLU cuts {:.1}% of the outputs",
                100.0 * lo
            );
        }
        let (top, bottom) = (share(127), share(-128));
        if sat {
            assert!(top >= MIN_SHARE, "{what}: {:.1}% at 127", 100.0 * top);
            if !act.relu {
                assert!(
                    bottom >= MIN_SHARE,
                    "{what}: {:.1}% at -128",
                    100.0 * bottom
                );
            }
        }
        if top >= MIN_SHARE {
            tags.insert("saturates at 127".into());
        }
        if !act.relu && bottom >= MIN_SHARE {
            tags.insert("saturates at -128 without ReLU".into());
        }
    }
    tags
}

/// Builds `case`, checks it on the host, runs it on mps2-an386 and compares every image.
fn sweep(make: fn() -> Case) {
    require_tools();
    let case = make();
    let built = build(&case);
    host_checks(&case, &built);
    let images: Vec<LabeledImage> = built
        .images
        .iter()
        .map(|p| LabeledImage {
            label: 0,
            pixels: p.clone(),
        })
        .collect();
    let mut opts = RunOptions::new(Machine::Mps2An386);
    opts.timeout = Duration::from_secs(120);
    let r = whittle::firmware::run(&built.blob, &images, &opts)
        .unwrap_or_else(|e| panic!("{}: whittle run on mps2-an386: {e}", case.name));
    let tags = paths(&built.blob);
    println!(
        "{}: {} ops, {} B blob, {} instructions/inference, {:.2} s QEMU; paths: {}",
        case.name,
        r.per_layer.len(),
        built.blob.len(),
        r.instructions_per_inference,
        r.qemu_wall_s,
        tags.iter().cloned().collect::<Vec<_>>().join(", ")
    );
    assert_eq!(r.images, IMAGES, "{}", case.name);
    for i in &r.per_image {
        assert_eq!(
            (i.pred, &i.crc),
            (i.host_pred, &i.host_crc),
            "{} image {} (input {:?}, zp {}): firmware (DSP) vs host (portable)",
            case.name,
            i.index,
            case.input,
            case.input_zp
        );
    }
    assert!(r.host_matches && r.mismatches == 0, "{}", case.name);
    let crcs: BTreeSet<&str> = r.per_image.iter().map(|i| i.crc.as_str()).collect();
    assert_eq!(crcs.len(), IMAGES, "{}: repeated CRCs {crcs:?}", case.name);
    let classes: BTreeSet<u32> = r.per_image.iter().map(|i| i.pred).collect();
    assert!(
        classes.len() >= 2,
        "{}: every image got class {classes:?}",
        case.name
    );
    // The instruction model on these small edge-case nets, where per-op constants weigh most.
    whittle_tests::assert_predicted(case.name, &built.blob, &r);
}

#[test]
fn the_sweep_reaches_every_kernel_path() {
    let mut seen = BTreeSet::new();
    for make in CASES {
        let case = make();
        let built = build(&case);
        seen.extend(paths(&built.blob));
        seen.extend(host_checks(&case, &built));
    }
    let mut want: Vec<String> = Vec::new();
    for ic in [1, 3, 4, 5, 8, 12] {
        want.push(format!("conv ic {ic}"));
    }
    for oc in [1, 2, 3, 5, 8, 13] {
        want.push(format!("conv oc {oc}"));
    }
    want.extend(
        [
            "conv kernel 1x1",
            "conv kernel 3x3",
            "conv kernel 5x5",
            "conv kernel 3x1",
            "conv stride 1",
            "conv stride 2",
            "conv padding none",
            "conv padding symmetric",
            "conv padding asymmetric",
            "im2col width multiple of 4",
            "im2col width not multiple of 4 (blocks span rows)",
            "im2col partial last block",
            "conv filter length not multiple of 4",
            "band Q 1",
            "band Q 2",
            "band Q 3",
            "band Q 4",
            "band Q 5",
            "band ic 3",
            "band ic 4",
            "band padding none",
            "band padding symmetric",
            "band padding asymmetric",
            "band width not multiple of 4 (last block moved left)",
            "band linear zp -128",
            "band linear zp other",
            "band relu table",
            "band folded table",
            "band Q 16",
            "band stride 1",
            "band stride 2",
            "band stride 2 padding asymmetric",
            "band stride 2 padding symmetric",
            "fused band blocks, one table",
            "fused band blocks, two tables",
            "band ic 64",
            "conv fused with its add",
            "fused add skip is a",
            "add inputs of other scales and zero points",
            "add linear",
            "add unfused, tables",
            "im2col whole groups",
            "direct 1x1 stride 1",
            "direct 1x1 stride 2",
            "direct 1x1 width not multiple of 4 (last block moved left)",
            "direct 1x1 fused with its add",
            "direct 1x1 unfused",
            "direct 1x1 relu table",
            "direct 1x1 folded table",
            "im2col rgb 3x3",
            "im2col staging",
            "conv linear",
            "conv relu zp -128",
            "conv relu zp above -128",
            "relu table (SMMLAR), SSAT only",
            "relu table (SMMLAR), lower clamp in asm",
            "folded table (SMLAL), SSAT only",
            "folded table (SMLAL), lower clamp in asm",
            "table, no filter in the first asm call",
            "table, filters in filter_end",
            "table, last filter from its padded copy",
            "filter_end with a 3-byte tail",
            "per-channel requant, fused",
            "per-channel requant, not fused",
            "requant left shift",
            "dense linear",
            "dense relu zp -128",
            "dense relu zp above -128",
            "dense input not multiple of 4",
            "dense odd group count",
            "dense odd output count",
            "maxpool 2x2 words",
            "maxpool 2x2 words, byte tail",
            "maxpool generic",
            "avgpool",
            "global avgpool",
            "relu op",
            "add",
            "flatten",
            "saturates at 127",
            "saturates at -128 without ReLU",
        ]
        .map(String::from),
    );
    let missing: Vec<&String> = want.iter().filter(|w| !seen.contains(*w)).collect();
    assert!(missing.is_empty(), "no model reaches {missing:?}");
}

#[test]
fn rgb_first_layer_matches_host() {
    sweep(rgb_first_layer);
}

#[test]
fn rgb_stride2_dense_head_matches_host() {
    sweep(rgb_stride2_dense_head);
}

#[test]
fn four_channels_5x5_nonsquare_matches_host() {
    sweep(four_channels_5x5_nonsquare);
}

#[test]
fn one_channel_positive_shift_matches_host() {
    sweep(one_channel_positive_shift);
}

#[test]
fn short_filters_and_tiny_shift_matches_host() {
    sweep(short_filters_and_tiny_shift);
}

#[test]
fn staging_residual_maxpools_matches_host() {
    sweep(staging_residual_maxpools);
}

#[test]
fn five_by_five_avgpool_dense_matches_host() {
    sweep(five_by_five_avgpool_dense);
}

#[test]
fn twelve_channels_global_pool_matches_host() {
    sweep(twelve_channels_global_pool);
}

#[test]
fn band_channel_groups_matches_host() {
    sweep(band_channel_groups);
}

#[test]
fn resnet_stacks_fused_adds_matches_host() {
    sweep(resnet_stacks_fused_adds);
}

#[test]
fn stride2_projection_shortcut_matches_host() {
    sweep(stride2_projection_shortcut);
}

#[test]
fn resnet_stack_one_table_matches_host() {
    sweep(resnet_stack_one_table);
}

#[test]
fn pointwise_shortcuts_matches_host() {
    sweep(pointwise_shortcuts);
}
