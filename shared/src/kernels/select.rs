//! The int8 kernel variants, the one choice of which variant an op runs, and sets of them: the
//! firmware compiles only the variants its blob needs ([`needed`]), the host all of them.
//!
//! How it fits together: [`conv_s8`] and [`dense_s8`] pick a variant from an op's parameters
//! (what the kernels themselves did inline before); the executor's dispatch ([`conv2d_s8_in`]
//! here, the op match in `exec`) calls a variant only when the const set `K` holds it, so a
//! firmware built with its blob's set links no other variant, and answers a variant it lacks
//! with [`Error::KernelNotBuilt`](crate::Error::KernelNotBuilt) instead. [`needed`] walks a
//! blob's ops through the same planner the executor runs, so the set cannot miss a variant.
//!
//! Adding a variant: a [`Kernel`] value (and its [`Kernel::index`] slot and name), the
//! condition in [`conv_s8`] (or a new selection function) that picks it, and one arm in the
//! dispatch that calls its function under `has_const!(K, …)`.

use super::{
    AddParams, ConvGeom, OutQuant, add_s8, conv2d_1x1, conv2d_add_s8, conv2d_band, conv2d_s8,
};
use crate::format::Requant;

/// One compiled kernel variant: what an op runs, as far as it decides the code linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Kernel {
    /// A conv whose buffers are shorter than its geometry (never for a validated model):
    /// the reference loops.
    ConvReference,
    /// A 3×3 conv on the band path with `groups` widened 4-channel groups per pixel (1–16),
    /// requantized by the fused-ReLU table (`relu`) or the folded one; stride 2
    /// (`stride2`) only with the ReLU table.
    ConvBand {
        groups: u8,
        relu: bool,
        stride2: bool,
    },
    /// Any other conv: im2col blocks (DSP), or the portable loops.
    ConvIm2col,
    /// A 1×1 conv without padding (any stride, input channels a multiple of 4) read in place:
    /// each block of 4 output pixels widened straight from the input, no im2col.
    ConvPointwise,
    /// A conv fused with the residual add after it, in chunks of rows added in place (its
    /// conv is a variant of its own).
    ConvAdd,
    /// A conv fused with the residual add after it on the band path: each block of 4 output
    /// pixels added into the skip as it is computed (its conv is a band variant).
    ConvAddBand,
    /// A 1×1 conv fused with the residual add after it: each block of 4 output pixels
    /// ([`Kernel::ConvPointwise`], its conv) added into the skip as it is computed.
    ConvAddPointwise,
    /// A fully connected layer.
    Dense,
    /// A fully connected layer whose buffers are shorter than its lengths (never for a
    /// validated model): the reference loops.
    DenseReference,
    MaxPool,
    AvgPool,
    GlobalAvgPool,
    Relu,
    /// A residual add that is not fused.
    Add,
}

/// The band path's group counts, in [`Kernel::index`] order.
const BAND_GROUPS: [u8; 16] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];

/// Band variants per group count: folded and ReLU table at stride 1, ReLU table at stride 2.
const BAND_KINDS: u8 = 3;

/// Slots before the band variants (the others, in [`Kernel::index`] order).
const FIXED: [Kernel; 13] = [
    Kernel::ConvReference,
    Kernel::ConvIm2col,
    Kernel::ConvAdd,
    Kernel::Dense,
    Kernel::DenseReference,
    Kernel::MaxPool,
    Kernel::AvgPool,
    Kernel::GlobalAvgPool,
    Kernel::Relu,
    Kernel::Add,
    Kernel::ConvAddBand,
    Kernel::ConvPointwise,
    Kernel::ConvAddPointwise,
];

/// The first band slot.
const BAND0: u8 = 16;

/// Number of [`Kernel`] slots (some unused): the bits of a [`KernelSet`].
pub const SLOTS: u8 = 128;

impl Kernel {
    /// The variant's bit in a [`KernelSet`] (stable within a build, not a file format).
    pub const fn index(self) -> u8 {
        match self {
            Kernel::ConvReference => 0,
            Kernel::ConvIm2col => 1,
            Kernel::ConvAdd => 2,
            Kernel::Dense => 3,
            Kernel::DenseReference => 4,
            Kernel::MaxPool => 5,
            Kernel::AvgPool => 6,
            Kernel::GlobalAvgPool => 7,
            Kernel::Relu => 8,
            Kernel::Add => 9,
            Kernel::ConvAddBand => 10,
            Kernel::ConvPointwise => 11,
            Kernel::ConvAddPointwise => 12,
            Kernel::ConvBand {
                groups,
                relu,
                stride2,
            } => {
                let slot = if groups >= 1 && groups <= 16 {
                    groups - 1
                } else {
                    15
                };
                // Folded at stride 2 (never planned) shares the ReLU one's slot.
                let kind = if stride2 { 2 } else { relu as u8 };
                BAND0 + BAND_KINDS * slot + kind
            }
        }
    }

    /// The variant in slot `i`, if one is there.
    pub const fn from_index(i: u8) -> Option<Kernel> {
        if (i as usize) < FIXED.len() {
            return Some(FIXED[i as usize]);
        }
        if i >= BAND0 && ((i - BAND0) / BAND_KINDS) < BAND_GROUPS.len() as u8 {
            let groups = BAND_GROUPS[((i - BAND0) / BAND_KINDS) as usize];
            let kind = (i - BAND0) % BAND_KINDS;
            return Some(Kernel::ConvBand {
                groups,
                relu: kind != 0,
                stride2: kind == 2,
            });
        }
        None
    }

    /// Short name, as error messages and `whittle fit` print it (`conv_band_q4_relu`).
    pub const fn name(self) -> &'static str {
        const BAND: [[&str; 3]; 16] = [
            [
                "conv_band_q1_folded",
                "conv_band_q1_relu",
                "conv_band_q1_relu_s2",
            ],
            [
                "conv_band_q2_folded",
                "conv_band_q2_relu",
                "conv_band_q2_relu_s2",
            ],
            [
                "conv_band_q3_folded",
                "conv_band_q3_relu",
                "conv_band_q3_relu_s2",
            ],
            [
                "conv_band_q4_folded",
                "conv_band_q4_relu",
                "conv_band_q4_relu_s2",
            ],
            [
                "conv_band_q5_folded",
                "conv_band_q5_relu",
                "conv_band_q5_relu_s2",
            ],
            [
                "conv_band_q6_folded",
                "conv_band_q6_relu",
                "conv_band_q6_relu_s2",
            ],
            [
                "conv_band_q7_folded",
                "conv_band_q7_relu",
                "conv_band_q7_relu_s2",
            ],
            [
                "conv_band_q8_folded",
                "conv_band_q8_relu",
                "conv_band_q8_relu_s2",
            ],
            [
                "conv_band_q9_folded",
                "conv_band_q9_relu",
                "conv_band_q9_relu_s2",
            ],
            [
                "conv_band_q10_folded",
                "conv_band_q10_relu",
                "conv_band_q10_relu_s2",
            ],
            [
                "conv_band_q11_folded",
                "conv_band_q11_relu",
                "conv_band_q11_relu_s2",
            ],
            [
                "conv_band_q12_folded",
                "conv_band_q12_relu",
                "conv_band_q12_relu_s2",
            ],
            [
                "conv_band_q13_folded",
                "conv_band_q13_relu",
                "conv_band_q13_relu_s2",
            ],
            [
                "conv_band_q14_folded",
                "conv_band_q14_relu",
                "conv_band_q14_relu_s2",
            ],
            [
                "conv_band_q15_folded",
                "conv_band_q15_relu",
                "conv_band_q15_relu_s2",
            ],
            [
                "conv_band_q16_folded",
                "conv_band_q16_relu",
                "conv_band_q16_relu_s2",
            ],
        ];
        match self {
            Kernel::ConvReference => "conv_reference",
            Kernel::ConvIm2col => "conv_im2col",
            Kernel::ConvAdd => "conv_add",
            Kernel::Dense => "dense",
            Kernel::DenseReference => "dense_reference",
            Kernel::MaxPool => "maxpool",
            Kernel::AvgPool => "avgpool",
            Kernel::GlobalAvgPool => "global_avgpool",
            Kernel::Relu => "relu",
            Kernel::Add => "add",
            Kernel::ConvAddBand => "conv_add_band",
            Kernel::ConvPointwise => "conv_1x1",
            Kernel::ConvAddPointwise => "conv_add_1x1",
            Kernel::ConvBand { .. } => {
                let i = (self.index() - BAND0) as usize;
                let k = BAND_KINDS as usize;
                BAND[i / k][i % k]
            }
        }
    }
}

/// A set of [`Kernel`]s as bits (`1 << index`); const generic parameters take the bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct KernelSet(pub u128);

impl KernelSet {
    /// Every variant: what the host and the tests run with.
    pub const ALL: KernelSet = KernelSet(u128::MAX);
    /// No variant.
    pub const EMPTY: KernelSet = KernelSet(0);

    /// Whether the set holds `k`.
    pub const fn contains(self, k: Kernel) -> bool {
        has(self.0, k)
    }

    /// The set with `k` added.
    pub const fn with(self, k: Kernel) -> KernelSet {
        KernelSet(self.0 | 1 << k.index())
    }

    /// The variants in the set, in slot order.
    pub fn iter(self) -> impl Iterator<Item = Kernel> {
        (0..SLOTS)
            .filter(move |&i| self.0 >> i & 1 == 1)
            .filter_map(Kernel::from_index)
    }
}

/// Whether the set of bits `k` holds `kernel`.
#[inline(always)]
pub const fn has(k: u128, kernel: Kernel) -> bool {
    has_bit(k, kernel.index())
}

/// Whether the set of bits `k` holds the variant in slot `i`.
#[inline(always)]
pub const fn has_bit(k: u128, i: u8) -> bool {
    k >> i & 1 == 1
}

/// [`has`] for a variant written out, its slot computed at compile time: with `k` a const
/// generic parameter the whole test is a constant, and the dispatch arm it guards compiles
/// to nothing when false, whether or not the optimizer (the firmware's executor is built
/// for size) inlines [`Kernel::index`].
macro_rules! has_const {
    ($k:expr, $kernel:expr) => {
        $crate::kernels::select::has_bit($k, const { $kernel.index() })
    };
}
pub(crate) use has_const;

/// The variant [`conv2d_s8_in`] runs for a conv of geometry `g` with these buffers
/// (`scratch_words`: the whole 4-byte words of its scratch from the first aligned one): the
/// direct 1×1 path or the band path where it takes the layer, else im2col where the scratch holds it, else the
/// reference loops (buffers shorter than the geometry, or a blob whose scratch was sized for
/// a band path that refuses the layer's requantization). The same on every target: the host
/// computes what the firmware will run.
#[allow(clippy::too_many_arguments)]
pub fn conv_s8(
    g: &ConvGeom,
    q: &OutQuant,
    input_len: usize,
    weights_len: usize,
    bias: &[i32],
    requant: &[Requant],
    output_len: usize,
    scratch_words: usize,
) -> Kernel {
    if !conv2d_s8::inputs_fit(g, input_len, weights_len, bias, requant)
        || output_len < g.output.len()
    {
        return Kernel::ConvReference;
    }
    if conv2d_1x1::plan(g, q, requant, scratch_words) {
        return Kernel::ConvPointwise;
    }
    match conv2d_band::plan(g, q, bias, requant, scratch_words) {
        Some((groups, relu)) => Kernel::ConvBand {
            groups,
            relu,
            stride2: g.stride[0] == 2,
        },
        None if scratch_words >= conv2d_s8::im2col_words(g) => Kernel::ConvIm2col,
        None => Kernel::ConvReference,
    }
}

/// Whole 4-byte words in `len` bytes of scratch starting `offset` bytes into a 4-byte
/// aligned RAM buffer (what `bytemuck::pod_align_to` gives the kernels).
pub const fn scratch_words(offset: usize, len: usize) -> usize {
    let skip = (4 - offset % 4) % 4;
    len.saturating_sub(skip) / 4
}

/// The path (`ConvAddBand`, `ConvAddPointwise` or `ConvAdd`) and conv variant of a conv
/// fused with the add after it, its scratch `scratch_len` bytes at `offset` bytes into the
/// RAM buffer: the band path where the band takes the conv with the scratch left beside the
/// add's table(s) and one block's outputs, and the add's parameters take tables; the direct
/// 1×1 path likewise; else the chunked path, its
/// conv planned on the scratch before the chunk buffer and the tables. As
/// [`conv2d_add_s8`](super::conv2d_add_s8) lays its scratch out.
#[allow(clippy::too_many_arguments)]
pub fn conv_add_s8(
    g: &ConvGeom,
    q: &OutQuant,
    input_len: usize,
    weights_len: usize,
    bias: &[i32],
    requant: &[Requant],
    add: &AddParams,
    offset: usize,
    scratch_len: usize,
) -> (Kernel, Kernel) {
    let fits = conv2d_s8::inputs_fit(g, input_len, weights_len, bias, requant);
    if fits
        && add_s8::tables_apply(add)
        && let Some((lut, len)) = conv2d_add_s8::band_conv_scratch(g, scratch_len)
        && let Some((groups, relu)) =
            conv2d_band::plan(g, q, bias, requant, scratch_words(offset + lut, len))
    {
        let conv = Kernel::ConvBand {
            groups,
            relu,
            stride2: g.stride[0] == 2,
        };
        return (Kernel::ConvAddBand, conv);
    }
    if fits
        && add_s8::tables_apply(add)
        && let Some((lut, len)) = conv2d_1x1::add_scratch(g, scratch_len)
        && conv2d_1x1::plan(g, q, requant, scratch_words(offset + lut, len))
    {
        return (Kernel::ConvAddPointwise, Kernel::ConvPointwise);
    }
    let len = conv2d_add_s8::chunked_conv_scratch(g, scratch_len);
    let conv = conv_s8(
        g,
        q,
        input_len,
        weights_len,
        bias,
        requant,
        g.output.len(),
        scratch_words(offset, len),
    );
    (Kernel::ConvAdd, conv)
}

/// The variant a dense layer runs with these buffers.
pub fn dense_s8(
    input_len: usize,
    weights_len: usize,
    bias_len: usize,
    requant_len: usize,
    output_len: usize,
    scratch_words: usize,
) -> Kernel {
    let (n, m) = (input_len, output_len);
    let fits = weights_len >= n * m
        && bias_len >= m
        && requant_len >= m
        && scratch_words >= n.div_ceil(4) * 2;
    if fits && n > 0 {
        Kernel::Dense
    } else {
        Kernel::DenseReference
    }
}

/// The block function of band variant `kernel` if the set `K` holds it (each a
/// monomorphization of [`mac_requant_band`](super::arm::mac_requant_band), ~550 B): the only
/// code a band variant adds to the one band body.
#[cfg(dsp)]
#[inline(always)]
pub(crate) fn band_block<const K: u128>(kernel: Kernel) -> Option<conv2d_band::BlockFn> {
    use super::arm::mac_requant_band;
    /// Three arms per group count, each under its own constant `has_const!(K, …)`.
    macro_rules! arms {
        ($($q:literal),*) => {
            match kernel {
                $(
                    Kernel::ConvBand { groups: $q, relu: true, stride2: false }
                        if has_const!(K, Kernel::ConvBand { groups: $q, relu: true, stride2: false }) =>
                    {
                        Some(mac_requant_band::<$q, true, 1>)
                    }
                    Kernel::ConvBand { groups: $q, relu: false, stride2: false }
                        if has_const!(K, Kernel::ConvBand { groups: $q, relu: false, stride2: false }) =>
                    {
                        Some(mac_requant_band::<$q, false, 1>)
                    }
                    Kernel::ConvBand { groups: $q, relu: true, stride2: true }
                        if has_const!(K, Kernel::ConvBand { groups: $q, relu: true, stride2: true }) =>
                    {
                        Some(mac_requant_band::<$q, true, 2>)
                    }
                )*
                _ => None,
            }
        };
    }
    arms!(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)
}

/// The direct 1×1 path into a tensor, as one function of its own: like every variant the op
/// loop calls, never inlined, so that the loop's fixed cost per op does not depend on which
/// variants a firmware links (at opt-level s a variant with one caller was inlined).
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn pointwise(
    g: &ConvGeom,
    q: &OutQuant,
    input: &[i8],
    weights: &[i8],
    bias: &[i32],
    requant: &[Requant],
    scratch: &mut [u8],
    output: &mut [i8],
) -> bool {
    let dest = conv2d_1x1::Dest::Tensor(output);
    conv2d_1x1::conv(g, q, input, weights, bias, requant, scratch, dest)
}

/// Runs conv variant `kernel` (as [`conv_s8`] chose it for these buffers) if the set `K`
/// holds it; `false`, having written nothing, if it does not (or `kernel` is no conv).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn conv2d_s8_in<const K: u128>(
    kernel: Kernel,
    g: &ConvGeom,
    q: &OutQuant,
    input: &[i8],
    weights: &[i8],
    bias: &[i32],
    requant: &[Requant],
    scratch: &mut [u8],
    output: &mut [i8],
) -> bool {
    match kernel {
        Kernel::ConvBand { groups, relu, .. } => {
            let plan = (groups as usize, relu);
            #[cfg(dsp)]
            let Some(block) = band_block::<K>(kernel) else {
                return false;
            };
            #[cfg(not(dsp))]
            if !has(K, kernel) {
                return false;
            }
            conv2d_s8::band(
                g,
                q,
                input,
                weights,
                bias,
                requant,
                scratch,
                output,
                plan,
                #[cfg(dsp)]
                block,
            )
        }
        Kernel::ConvPointwise if has_const!(K, Kernel::ConvPointwise) => {
            pointwise(g, q, input, weights, bias, requant, scratch, output)
        }
        Kernel::ConvIm2col if has_const!(K, Kernel::ConvIm2col) => {
            conv2d_s8::im2col(g, q, input, weights, bias, requant, scratch, output);
            true
        }
        Kernel::ConvReference if has_const!(K, Kernel::ConvReference) => {
            super::reference::conv2d_s8(g, q, input, weights, bias, requant, output);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_slot_names_one_variant_and_back() {
        let mut n = 0;
        let mut names = [""; SLOTS as usize];
        for i in 0..SLOTS {
            if let Some(k) = Kernel::from_index(i) {
                assert_eq!(k.index(), i, "{k:?}");
                assert!(!names.contains(&k.name()), "{} twice", k.name());
                names[n] = k.name();
                n += 1;
            }
        }
        assert_eq!(n, n_variants());
        let band = |groups, relu, stride2| Kernel::ConvBand {
            groups,
            relu,
            stride2,
        };
        assert_eq!(band(4, true, false).name(), "conv_band_q4_relu");
        assert_eq!(band(16, true, true).name(), "conv_band_q16_relu_s2");
        assert_eq!(band(1, false, false).name(), "conv_band_q1_folded");
    }

    #[test]
    fn a_set_holds_what_was_added_and_nothing_else() {
        let band = Kernel::ConvBand {
            groups: 16,
            relu: false,
            stride2: false,
        };
        let s = KernelSet::EMPTY.with(Kernel::Dense).with(band);
        assert!(s.contains(Kernel::Dense) && s.contains(band));
        assert!(!s.contains(Kernel::ConvIm2col));
        assert_eq!(
            s.iter().collect::<std::vec::Vec<_>>(),
            [Kernel::Dense, band]
        );
        assert!(KernelSet::ALL.iter().count() == n_variants());
    }

    fn n_variants() -> usize {
        FIXED.len() + BAND_KINDS as usize * BAND_GROUPS.len()
    }
}
