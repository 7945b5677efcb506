//! Running blobs on the host with `shared`'s kernels — the exact arithmetic the firmware
//! runs — and measuring accuracy on CHW f32 images normalized to [-1, 1].

use whittle_shared::encode::AlignedBytes;
use whittle_shared::exec::{run_f32, run_s8};
use whittle_shared::{Model, Precision, TensorInfo};

use super::error::ExportError;
use crate::sim::layout::{chw_to_hwc, hwc_to_chw};
use crate::sim::{dequantize_output, quantize_input};

/// Runs one model image after image, reusing its RAM buffer.
#[derive(Debug)]
pub struct BlobRunner<'m> {
    model: Model<'m>,
    ram: AlignedBytes,
    input: TensorInfo,
    output: TensorInfo,
}

fn dims(t: &TensorInfo) -> [usize; 3] {
    [t.shape.c as usize, t.shape.h as usize, t.shape.w as usize]
}

impl<'m> BlobRunner<'m> {
    /// A runner with a fresh RAM buffer of the size the model declares.
    pub fn new(model: &Model<'m>) -> Result<Self, ExportError> {
        Ok(BlobRunner {
            model: *model,
            ram: AlignedBytes::zeroed(model.ram_bytes()),
            input: model.input()?,
            output: model.output()?,
        })
    }

    /// Values of one input image.
    pub fn input_len(&self) -> usize {
        self.input.shape.len()
    }

    /// The raw int8 output (HWC) of an int8 model for a CHW f32 image.
    pub fn run_s8(&mut self, image: &[f32]) -> Result<Vec<i8>, ExportError> {
        self.check(image)?;
        let q = quantize_input(image, &self.input);
        Ok(run_s8(&self.model, &q, &mut self.ram)?.to_vec())
    }

    /// The output for a CHW f32 image, as f32 in CHW order of the output tensor's shape (a
    /// vector, e.g. logits, as is); an int8 model's output is dequantized.
    pub fn logits(&mut self, image: &[f32]) -> Result<Vec<f32>, ExportError> {
        self.check(image)?;
        match self.model.precision() {
            Precision::Int8 => {
                let q = self.run_s8(image)?;
                Ok(dequantize_output(&q, &self.output))
            }
            Precision::F32 => {
                let x = chw_to_hwc(image, dims(&self.input));
                let y = run_f32(&self.model, &x, &mut self.ram)?;
                Ok(hwc_to_chw(y, dims(&self.output)))
            }
        }
    }

    fn check(&self, image: &[f32]) -> Result<(), ExportError> {
        if image.len() != self.input_len() {
            return Err(ExportError::InputSize {
                what: "image",
                expected: self.input_len(),
                found: image.len(),
            });
        }
        Ok(())
    }
}

/// Index of the largest value (the first on ties).
pub fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &x)| {
            if x > bv { (i, x) } else { (bi, bv) }
        })
        .0
}

/// Top-1 accuracy of `model` (int8 or f32) on `labels.len()` CHW images concatenated in
/// `images`, each normalized to [-1, 1] (CIFAR: x/127.5 − 1). An int8 model runs
/// bit-exactly what the firmware runs.
pub fn evaluate_blob(model: &Model, images: &[f32], labels: &[u8]) -> Result<f64, ExportError> {
    let mut r = BlobRunner::new(model)?;
    let n = r.input_len();
    if images.len() != labels.len() * n {
        return Err(ExportError::InputSize {
            what: "images for the labels given",
            expected: labels.len() * n,
            found: images.len(),
        });
    }
    if labels.is_empty() {
        return Ok(0.0);
    }
    let mut correct = 0usize;
    for (img, &label) in images.chunks(n).zip(labels) {
        if argmax(&r.logits(img)?) == label as usize {
            correct += 1;
        }
    }
    Ok(correct as f64 / labels.len() as f64)
}

/// How closely two models' outputs agree on a set of images.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Agreement {
    /// Images compared.
    pub images: usize,
    /// Fraction of images with the same top-1 class.
    pub top1: f64,
    /// Largest absolute output difference (after dequantization).
    pub max_abs_diff: f32,
    /// Mean absolute output difference.
    pub mean_abs_diff: f64,
}

/// Runs `a` and `b` (e.g. the int8 blob and its f32 reference) on the CHW images in
/// `images` and compares their outputs.
pub fn compare_blobs(a: &Model, b: &Model, images: &[f32]) -> Result<Agreement, ExportError> {
    let (mut ra, mut rb) = (BlobRunner::new(a)?, BlobRunner::new(b)?);
    let n = ra.input_len();
    if n == 0 || !images.len().is_multiple_of(n) || rb.input_len() != n {
        return Err(ExportError::InputSize {
            what: "images for both models",
            expected: n,
            found: images.len(),
        });
    }
    let (mut same, mut max, mut sum, mut count) = (0usize, 0f32, 0f64, 0usize);
    for img in images.chunks(n) {
        let (ya, yb) = (ra.logits(img)?, rb.logits(img)?);
        same += usize::from(argmax(&ya) == argmax(&yb));
        for (x, y) in ya.iter().zip(&yb) {
            max = max.max((x - y).abs());
            sum += (x - y).abs() as f64;
            count += 1;
        }
    }
    let images = images.len() / n;
    Ok(Agreement {
        images,
        top1: same as f64 / images.max(1) as f64,
        max_abs_diff: max,
        mean_abs_diff: sum / count.max(1) as f64,
    })
}

/// Validates `bytes` (copied to aligned storage) and calls `f` with the model.
pub fn with_model<T>(
    bytes: &[u8],
    f: impl FnOnce(&Model) -> Result<T, ExportError>,
) -> Result<T, ExportError> {
    let aligned = AlignedBytes::new(bytes);
    let model = Model::from_bytes(&aligned)?;
    f(&model)
}
