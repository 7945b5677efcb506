//! Training augmentation behind `--augment`: random crop from the image zero-padded by
//! 4 pixels on each side, then a horizontal flip with probability 1/2.

use super::images::{CHANNELS, IMAGE_BYTES, SIDE};
use crate::rng::SplitMix64;

/// Padding of the random crop in pixels.
pub const PAD: usize = 4;

/// One augmentation's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crop {
    /// Row offset into the padded image, `0..=2*PAD` (`PAD` = no shift).
    pub dy: usize,
    /// Column offset into the padded image, `0..=2*PAD`.
    pub dx: usize,
    /// Mirror left-right.
    pub flip: bool,
}

impl Crop {
    /// Draw a crop and flip.
    pub fn random(rng: &mut SplitMix64) -> Self {
        let span = (2 * PAD + 1) as u64;
        Self {
            dy: rng.below(span) as usize,
            dx: rng.below(span) as usize,
            flip: rng.coin(),
        }
    }

    /// Write the augmented `src` (3072 CHW bytes) into `dst`; pixels from the padding are 0.
    pub fn apply(self, src: &[u8], dst: &mut [u8]) {
        debug_assert_eq!(src.len(), IMAGE_BYTES);
        debug_assert_eq!(dst.len(), IMAGE_BYTES);
        for c in 0..CHANNELS {
            for y in 0..SIDE {
                let sy = (y + self.dy).checked_sub(PAD).filter(|&v| v < SIDE);
                for x in 0..SIDE {
                    let xo = if self.flip { SIDE - 1 - x } else { x };
                    let sx = (xo + self.dx).checked_sub(PAD).filter(|&v| v < SIDE);
                    dst[(c * SIDE + y) * SIDE + x] = match (sy, sx) {
                        (Some(sy), Some(sx)) => src[(c * SIDE + sy) * SIDE + sx],
                        _ => 0,
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp() -> Vec<u8> {
        (0..IMAGE_BYTES).map(|i| (i % 251) as u8 + 1).collect()
    }

    #[test]
    fn centre_crop_without_flip_is_identity() {
        let src = ramp();
        let mut dst = vec![0; IMAGE_BYTES];
        Crop {
            dy: PAD,
            dx: PAD,
            flip: false,
        }
        .apply(&src, &mut dst);
        assert_eq!(src, dst);
    }

    #[test]
    fn flip_mirrors_columns_and_shift_pads_with_zero() {
        let src = ramp();
        let mut dst = vec![0; IMAGE_BYTES];
        Crop {
            dy: PAD,
            dx: PAD,
            flip: true,
        }
        .apply(&src, &mut dst);
        // channel 2, row 5, column 0 comes from column 31
        assert_eq!(dst[(2 * SIDE + 5) * SIDE], src[(2 * SIDE + 5) * SIDE + 31]);
        Crop {
            dy: 0,
            dx: PAD,
            flip: false,
        }
        .apply(&src, &mut dst);
        // shifted down by 4: the top 4 rows are padding, row 4 is the source's row 0
        assert!(dst[..4 * SIDE].iter().all(|&b| b == 0));
        assert_eq!(dst[4 * SIDE + 7], src[7]);
    }
}
