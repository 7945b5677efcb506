//! Turning images into burn tensors: NCHW f32 in the model's input range (whittle's own
//! nets: [-1, 1], x/127.5 - 1) and integer labels, optionally augmented.

use burn::tensor::{Device, Int, Tensor, TensorData};

use super::augment::Crop;
use super::images::{CHANNELS, IMAGE_BYTES, Images, SIDE};
use crate::graph::InputRange;
use crate::rng::SplitMix64;

/// The input scaling of whittle's own nets (training, evaluation, calibration): byte →
/// [-1, 1], [`InputRange::Signed`].
pub fn normalize(byte: u8) -> f32 {
    f32::from(byte) / 127.5 - 1.0
}

/// Pixel bytes as the model inputs of a model trained on `range`.
pub fn to_inputs(bytes: &[u8], range: InputRange) -> Vec<f32> {
    match range {
        // The same expression as `normalize`, so whittle's own nets see identical bits.
        InputRange::Signed => bytes.iter().map(|&b| normalize(b)).collect(),
        r => bytes.iter().map(|&b| r.scale(b)).collect(),
    }
}

/// One batch on a device.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `[n, 3, 32, 32]`, values in the model's input range.
    pub images: Tensor<4>,
    /// `[n]` class indices.
    pub labels: Tensor<1, Int>,
}

/// The images at `indices` as a batch in [-1, 1] (whittle's own nets); each is augmented
/// when `augment` holds an RNG. Models trained on another range: [`make_batch_in`].
pub fn make_batch(
    images: &Images,
    indices: &[usize],
    augment: Option<&mut SplitMix64>,
    device: &Device,
) -> Batch {
    make_batch_in(images, indices, augment, InputRange::Signed, device)
}

/// The images at `indices` as a batch of inputs in `range` (the graph's
/// [`input_range`](crate::graph::Graph::input_range)); augmented when `augment` holds an RNG.
pub fn make_batch_in(
    images: &Images,
    indices: &[usize],
    mut augment: Option<&mut SplitMix64>,
    range: InputRange,
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
        values.extend(to_inputs(bytes, range));
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

    #[test]
    fn batches_follow_the_input_range() {
        let bytes = records(DatasetKind::Cifar10, 2, |r| r as u8);
        let im = parse_records(Path::new("mem"), &bytes, DatasetKind::Cifar10, None)
            .unwrap_or_else(|e| panic!("{e}"));
        let dev = Device::flex();
        let values = |range| {
            make_batch_in(&im, &[1], None, range, &dev)
                .images
                .into_data()
                .try_to_vec::<f32>()
                .unwrap_or_else(|e| panic!("{e:?}"))
        };
        let px = im.image(1);
        let raw = values(InputRange::Raw);
        let unit = values(InputRange::Unit);
        let signed = values(InputRange::Signed);
        let plain = make_batch(&im, &[1], None, &dev)
            .images
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_else(|e| panic!("{e:?}"));
        for k in 0..px.len() {
            assert_eq!(raw[k], f32::from(px[k]), "raw {k}");
            assert_eq!(unit[k], f32::from(px[k]) / 255.0, "unit {k}");
            // whittle's own nets keep the exact bits they were trained on
            assert_eq!(
                signed[k].to_bits(),
                normalize(px[k]).to_bits(),
                "signed {k}"
            );
            assert_eq!(plain[k].to_bits(), signed[k].to_bits(), "default {k}");
        }
    }
}
