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
//! dispatch that calls its function under `has(K, …)`.

use super::{ConvGeom, OutQuant, conv2d_band, conv2d_s8};
use crate::format::Requant;

/// One compiled kernel variant: what an op runs, as far as it decides the code linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Kernel {
    /// A conv whose buffers are shorter than its geometry (never for a validated model):
    /// the reference loops.
    ConvReference,
    /// A stride-1 3×3 conv on the band path with `groups` widened 4-channel groups per
    /// pixel (1–8, or 16), requantized by the fused-ReLU table (`relu`) or the folded one.
    ConvBand {
        groups: u8,
        relu: bool,
    },
    /// Any other conv: im2col blocks (DSP), or the portable loops.
    ConvIm2col,
    /// A conv fused with the residual add after it (the chunking and in-place add; its conv
    /// is a variant of its own).
    ConvAdd,
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
const BAND_GROUPS: [u8; 9] = [1, 2, 3, 4, 5, 6, 7, 8, 16];

/// Slots before the band variants (the others, in [`Kernel::index`] order).
const FIXED: [Kernel; 10] = [
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
            Kernel::ConvBand { groups, relu } => {
                let slot = if groups >= 1 && groups <= 8 {
                    groups - 1
                } else {
                    8
                };
                BAND0 + 2 * slot + relu as u8
            }
        }
    }

    /// The variant in slot `i`, if one is there.
    pub const fn from_index(i: u8) -> Option<Kernel> {
        if (i as usize) < FIXED.len() {
            return Some(FIXED[i as usize]);
        }
        if i >= BAND0 && ((i - BAND0) / 2) < BAND_GROUPS.len() as u8 {
            let groups = BAND_GROUPS[((i - BAND0) / 2) as usize];
            return Some(Kernel::ConvBand {
                groups,
                relu: (i - BAND0) % 2 == 1,
            });
        }
        None
    }

    /// Short name, as error messages and `whittle fit` print it (`conv_band_q4_relu`).
    pub const fn name(self) -> &'static str {
        const BAND: [[&str; 2]; 9] = [
            ["conv_band_q1_folded", "conv_band_q1_relu"],
            ["conv_band_q2_folded", "conv_band_q2_relu"],
            ["conv_band_q3_folded", "conv_band_q3_relu"],
            ["conv_band_q4_folded", "conv_band_q4_relu"],
            ["conv_band_q5_folded", "conv_band_q5_relu"],
            ["conv_band_q6_folded", "conv_band_q6_relu"],
            ["conv_band_q7_folded", "conv_band_q7_relu"],
            ["conv_band_q8_folded", "conv_band_q8_relu"],
            ["conv_band_q16_folded", "conv_band_q16_relu"],
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
            Kernel::ConvBand { .. } => {
                let i = (self.index() - BAND0) as usize;
                BAND[i / 2][i % 2]
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

/// Whether the set of bits `k` holds `kernel`: with `k` a const generic parameter this is a
/// constant, and the dispatch arm it guards compiles to nothing when false.
#[inline(always)]
pub const fn has(k: u128, kernel: Kernel) -> bool {
    k >> kernel.index() & 1 == 1
}

/// The variant [`conv2d_s8_in`] runs for a conv of geometry `g` with these buffers
/// (`scratch_words`: the whole 4-byte words of its scratch from the first aligned one). The
/// same on every target: the host computes what the firmware will run.
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
    if !conv2d_s8::fits(
        g,
        input_len,
        weights_len,
        bias,
        requant,
        output_len,
        scratch_words,
    ) {
        return Kernel::ConvReference;
    }
    match conv2d_band::plan(g, q, bias, requant, scratch_words) {
        Some((groups, relu)) => Kernel::ConvBand { groups, relu },
        None => Kernel::ConvIm2col,
    }
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
    /// One band arm per (groups, relu): each calls its own monomorphization.
    macro_rules! band {
        ($($q:literal),*) => {
            match kernel {
                $(
                    Kernel::ConvBand { groups: $q, relu: true }
                        if has(K, Kernel::ConvBand { groups: $q, relu: true }) =>
                    {
                        conv2d_s8::band::<$q, true>(g, q, input, weights, bias, requant, scratch, output)
                    }
                    Kernel::ConvBand { groups: $q, relu: false }
                        if has(K, Kernel::ConvBand { groups: $q, relu: false }) =>
                    {
                        conv2d_s8::band::<$q, false>(g, q, input, weights, bias, requant, scratch, output)
                    }
                )*
                Kernel::ConvIm2col if has(K, Kernel::ConvIm2col) => {
                    conv2d_s8::im2col(g, q, input, weights, bias, requant, scratch, output);
                    true
                }
                Kernel::ConvReference if has(K, Kernel::ConvReference) => {
                    super::reference::conv2d_s8(g, q, input, weights, bias, requant, output);
                    true
                }
                _ => false,
            }
        };
    }
    band!(1, 2, 3, 4, 5, 6, 7, 8, 16)
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
        assert_eq!(n, FIXED.len() + 2 * BAND_GROUPS.len());
        assert_eq!(
            Kernel::ConvBand {
                groups: 4,
                relu: true
            }
            .name(),
            "conv_band_q4_relu"
        );
    }

    #[test]
    fn a_set_holds_what_was_added_and_nothing_else() {
        let band = Kernel::ConvBand {
            groups: 16,
            relu: false,
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
        FIXED.len() + 2 * BAND_GROUPS.len()
    }
}
