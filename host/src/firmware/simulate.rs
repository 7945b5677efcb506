//! The host simulation: the same blob through `whittle_shared::exec::run_s8` with the
//! portable kernels, giving the predicted class and output CRC the firmware must match.

use rayon::prelude::*;
use whittle_shared::crc32::crc32;
use whittle_shared::encode::AlignedBytes;
use whittle_shared::{Model, exec};

use super::images::LabeledImage;

/// The host's result for one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SimResult {
    pub pred: u32,
    /// CRC-32 of the output int8 vector.
    pub crc: u32,
}

/// Index of the largest value, the first one on ties (as the firmware decides).
pub fn argmax(v: &[i8]) -> u32 {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best as u32
}

/// Runs every image through `blob` on the host, images in parallel (rayon's pool; one RAM
/// buffer per worker), results in image order.
pub fn simulate(
    blob: &[u8],
    images: &[LabeledImage],
) -> Result<Vec<SimResult>, whittle_shared::Error> {
    let bytes = AlignedBytes::new(blob);
    let model = Model::from_bytes(&bytes)?;
    let words = model.ram_bytes().div_ceil(16);
    images
        .par_iter()
        .map_init(
            || vec![0u128; words],
            |ram, img| {
                let out = exec::run_s8(&model, &img.pixels, bytemuck::cast_slice_mut(ram))?;
                Ok(SimResult {
                    pred: argmax(out),
                    crc: crc32(bytemuck::cast_slice(out)),
                })
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_maximum() {
        assert_eq!(argmax(&[1, 5, 5, -3]), 1);
        assert_eq!(argmax(&[-128]), 0);
    }
}
