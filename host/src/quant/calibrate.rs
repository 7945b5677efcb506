//! Calibration: run the f32 blob on sample images with the firmware's own f32 kernels and
//! record each tensor's range — plain min/max, or percentiles from a histogram.

use whittle_shared::Model;
use whittle_shared::encode::AlignedBytes;
use whittle_shared::exec::run_f32_observed;

use super::error::QuantError;
use crate::sim::layout::chw_to_hwc;

/// How activation ranges are estimated.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Calibration {
    /// Smallest and largest value seen.
    MinMax,
    /// The `p`-th and `(100 − p)`-th percentiles (e.g. 99.99), from a 2048-bin histogram
    /// over the min/max range: clips rare outliers for a finer scale.
    Percentile(f64),
}

/// An observed value range.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Range {
    /// Smallest value kept.
    pub min: f32,
    /// Largest value kept.
    pub max: f32,
}

impl Range {
    /// Nothing observed yet.
    pub const EMPTY: Range = Range {
        min: f32::INFINITY,
        max: f32::NEG_INFINITY,
    };
    fn add(&mut self, v: &[f32]) {
        for &x in v {
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
    }
}

const BINS: usize = 2048;

/// Runs `f32_model` on every CHW image in `images` (concatenated) and returns one range per
/// tensor id (tensor 0, the input, included; a tensor never written keeps [`Range::EMPTY`]).
pub fn calibrate(
    f32_model: &Model,
    images: &[f32],
    method: Calibration,
) -> Result<Vec<Range>, QuantError> {
    let tin = f32_model.input()?;
    let dims = [
        tin.shape.c as usize,
        tin.shape.h as usize,
        tin.shape.w as usize,
    ];
    let n_in = tin.shape.len();
    if images.is_empty() {
        return Err(QuantError::NoImages);
    }
    if !images.len().is_multiple_of(n_in) {
        return Err(QuantError::ImageSize {
            found: images.len(),
            input: n_in,
        });
    }
    if let Calibration::Percentile(p) = method
        && !(p > 50.0 && p <= 100.0)
    {
        return Err(QuantError::BadPercentile(p));
    }
    let inputs: Vec<Vec<f32>> = images.chunks(n_in).map(|x| chw_to_hwc(x, dims)).collect();
    let n_t = f32_model.n_tensors() as usize;
    let input_id = f32_model.meta().input as usize;
    let mut ram = AlignedBytes::zeroed(f32_model.ram_bytes());

    // Pass 1: min/max.
    let mut ranges = vec![Range::EMPTY; n_t];
    for x in &inputs {
        ranges[input_id].add(x);
        run_f32_observed(f32_model, x, &mut ram, &mut |_, op, out| {
            ranges[op.output() as usize].add(out);
        })?;
    }
    let Calibration::Percentile(p) = method else {
        return Ok(ranges);
    };

    // Pass 2: histograms over each min/max range, then the percentiles.
    let mut hist = vec![vec![0u64; BINS]; n_t];
    let bin = |r: &Range, x: f32| -> usize {
        let span = r.max - r.min;
        if span > 0.0 {
            (((x - r.min) / span * BINS as f32) as usize).min(BINS - 1)
        } else {
            0
        }
    };
    for x in &inputs {
        for &v in x {
            hist[input_id][bin(&ranges[input_id], v)] += 1;
        }
        run_f32_observed(f32_model, x, &mut ram, &mut |_, op, out| {
            let t = op.output() as usize;
            for &v in out {
                hist[t][bin(&ranges[t], v)] += 1;
            }
        })?;
    }
    let q = p / 100.0;
    Ok(ranges
        .iter()
        .zip(&hist)
        .map(|(r, h)| percentile_range(r, h, q))
        .collect())
}

/// Clips `r` to the `(1 − q, q)` quantiles of histogram `h` over it (bin edges, outward).
fn percentile_range(r: &Range, h: &[u64], q: f64) -> Range {
    let total: u64 = h.iter().sum();
    if total == 0 || r.max <= r.min {
        return *r;
    }
    let width = (r.max - r.min) / h.len() as f32;
    // Values allowed outside on each side (the epsilon absorbs 1 − 0.9999 ≠ 0.0001).
    let clip = ((1.0 - q) * total as f64 + 1e-9).floor() as u64;
    // Lowest bin where more than `below` values have been seen: its lower edge.
    let mut seen = 0;
    let mut lo = r.min;
    for (i, &c) in h.iter().enumerate() {
        seen += c;
        if seen > clip {
            lo = r.min + i as f32 * width;
            break;
        }
    }
    let mut seen = 0;
    let mut hi = r.max;
    for (i, &c) in h.iter().enumerate().rev() {
        seen += c;
        if seen > clip {
            hi = r.min + (i + 1) as f32 * width;
            break;
        }
    }
    Range {
        min: lo.max(r.min),
        max: hi.min(r.max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_clips_a_lone_outlier() {
        let r = Range {
            min: 0.0,
            max: 1000.0,
        };
        let mut h = vec![0u64; BINS];
        h[0] = 5000; // values near 0
        h[20] = 4999; // values near 10
        h[BINS - 1] = 1; // one outlier at 1000
        let c = percentile_range(&r, &h, 0.9999);
        assert_eq!(c.min, 0.0);
        assert!(c.max < 11.0 && c.max > 9.0, "{c:?}");
        // 100% keeps everything
        assert_eq!(percentile_range(&r, &h, 1.0), r);
    }
}
