//! Turning images into burn tensors: NCHW f32 scaled to [-1, 1] (x/127.5 - 1) and
//! integer labels, optionally augmented.

use burn::tensor::{Device, Int, Tensor, TensorData};

use super::augment::Crop;
use super::images::{CHANNELS, IMAGE_BYTES, Images, SIDE};
use crate::rng::SplitMix64;

/// The input scaling used everywhere (training, evaluation, calibration): byte → [-1, 1].
pub fn normalize(byte: u8) -> f32 {
    f32::from(byte) / 127.5 - 1.0
}

/// One batch on a device.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `[n, 3, 32, 32]`, values in [-1, 1].
    pub images: Tensor<4>,
    /// `[n]` class indices.
    pub labels: Tensor<1, Int>,
}

/// The images at `indices` as a batch; each is augmented when `augment` holds an RNG.
pub fn make_batch(
    images: &Images,
    indices: &[usize],
    mut augment: Option<&mut SplitMix64>,
    device: &Device,
) -> Batch {
    let n = indices.len();
    let mut values = Vec::with_capacity(n * IMAGE_BYTES);
    let mut scratch = vec![0u8; IMAGE_BYTES];
    let mut labels = Vec::with_capacity(n);
    for &i in indices {
        let src = images.image(i);
        let bytes: &[u8] = match augment.as_deref_mut() {
            Some(rng) => {
                Crop::random(rng).apply(src, &mut scratch);
                &scratch
            }
            None => src,
        };
        values.extend(bytes.iter().map(|&b| normalize(b)));
        labels.push(i64::from(images.labels[i]));
    }
    Batch {
        images: Tensor::from_data(TensorData::new(values, [n, CHANNELS, SIDE, SIDE]), device),
        labels: Tensor::from_data(TensorData::new(labels, [n]), device),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::cifar::tests::{pattern, records};
    use crate::data::cifar::{DatasetKind, parse_records};
    use std::path::Path;

    #[test]
    fn batch_is_nchw_with_known_pixel_in_place_and_scaled() {
        let bytes = records(DatasetKind::Cifar10, 3, |r| r as u8);
        let im = parse_records(Path::new("mem"), &bytes, DatasetKind::Cifar10, None)
            .unwrap_or_else(|e| panic!("{e}"));
        let dev = Device::flex();
        let b = make_batch(&im, &[2, 0], None, &dev);
        assert_eq!(b.images.dims(), [2, 3, 32, 32]);
        let v = b
            .images
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_else(|e| panic!("{e:?}"));
        // Batch position 0 is record 2; check every pixel lands at [n][c][y][x].
        for c in 0..3 {
            for y in 0..32 {
                for x in 0..32 {
                    let got = v[((c * 32) + y) * 32 + x];
                    assert_eq!(got, normalize(pattern(2, c, y, x)), "c{c} y{y} x{x}");
                }
            }
        }
        // Record 0, blue plane, row 3, column 30 (a hand-picked pixel).
        let at = 3072 + (2 * 32 + 3) * 32 + 30;
        assert_eq!(v[at], f32::from(pattern(0, 2, 3, 30)) / 127.5 - 1.0);
        let labels = b
            .labels
            .into_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(labels, vec![2, 0]);
        assert_eq!(normalize(0), -1.0);
        assert_eq!(normalize(255), 1.0);
    }
}
