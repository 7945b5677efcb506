//! The automatic check after surgery: run the masked reference and the pruned net on the
//! same seeded batch, layer by layer, and compare every kept channel.

use burn::tensor::{Device, Tensor, TensorData};

use super::error::SurgeryError;
use crate::arch::ArchSpec;
use crate::nn::{Activation, Layer, Net};
use crate::prune::graph;
use crate::prune::plan::KeepPlan;
use crate::rng::SplitMix64;

/// Allowed |reference − pruned| relative to `max(1, max |reference activation|)` of a layer:
/// f32 sums over fewer terms in another order differ by a few ulps of the largest values.
pub const DEFAULT_TOLERANCE: f32 = 1e-5;

/// Images in the check batch.
pub const CHECK_BATCH: usize = 8;

/// What the check measured.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CheckReport {
    /// Largest absolute difference over all compared layers.
    pub max_abs_diff: f32,
    /// Largest difference relative to its layer's scale `max(1, max |reference|)`.
    pub max_rel_diff: f32,
    /// The relative tolerance applied.
    pub tolerance: f32,
    /// Layers compared.
    pub layers_checked: usize,
}

/// Every layer's output (after its ReLU) for `input`, as host vectors with shapes.
pub fn trace(net: &Net, input: Tensor<4>) -> Vec<(Vec<usize>, Vec<f32>)> {
    let mut x = Activation::Spatial(input);
    let mut out = Vec::with_capacity(net.layers.len());
    for (layer, &relu) in net.layers.iter().zip(&net.relu_after) {
        x = match (layer, x) {
            (Layer::Conv(l), Activation::Spatial(t)) => Activation::Spatial(l.forward(t)),
            (Layer::Pool(l), Activation::Spatial(t)) => Activation::Spatial(l.forward(t)),
            (Layer::Dropout(_), a) => a,
            (Layer::Flatten(l), Activation::Spatial(t)) => Activation::Flat(l.forward(t)),
            (Layer::Dense(l), Activation::Flat(t)) => Activation::Flat(l.forward(t)),
            (Layer::Mask(l), Activation::Spatial(t)) => Activation::Spatial(l.forward(t)),
            (Layer::Mask(l), Activation::Flat(t)) => Activation::Flat(l.forward(t)),
            (l, _) => panic!("layer {l:?} got an activation of the wrong rank"),
        };
        if relu {
            x = x.relu();
        }
        let (shape, data) = match &x {
            Activation::Spatial(t) => (t.dims().to_vec(), t.clone().into_data()),
            Activation::Flat(t) => (t.dims().to_vec(), t.clone().into_data()),
        };
        out.push((shape, data.try_to_vec::<f32>().unwrap_or_default()));
    }
    out
}

/// A seeded batch of `n` inputs of `spec`'s shape, uniform in [-1, 1] (the data range).
pub fn check_batch(spec: &ArchSpec, n: usize, seed: u64, device: &Device) -> Tensor<4> {
    let [c, h, w] = spec.input;
    let mut rng = SplitMix64::new(seed);
    let values: Vec<f32> = (0..n * c * h * w)
        .map(|_| (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0)
        .collect();
    Tensor::from_data(TensorData::new(values, [n, c, h, w]), device)
}

/// Compare `reference` (built from `spec`) with `pruned` (from `pruned_spec`) layer by
/// layer on [`check_batch`]; the first layer over tolerance is named in the error.
pub fn compare(
    spec: &ArchSpec,
    reference: &Net,
    pruned_spec: &ArchSpec,
    pruned: &Net,
    plan: &KeepPlan,
    device: &Device,
    tolerance: f32,
) -> Result<CheckReport, SurgeryError> {
    let groups = graph::groups(spec)?;
    let input = check_batch(spec, CHECK_BATCH, 0x5eed, device);
    let ta = trace(reference, input.clone());
    let tb = trace(pruned, input);
    if ta.len() != tb.len() || tb.len() != pruned_spec.layers.len() {
        return Err(SurgeryError::Plan(
            "reference and pruned nets differ in depth".into(),
        ));
    }
    // Which group's channels each layer's output carries (None: the input or logits).
    let mut owner: Vec<Option<usize>> = vec![None; spec.layers.len()];
    for (gi, g) in groups.iter().enumerate() {
        let end = g
            .consumers
            .iter()
            .map(|c| c.layer)
            .min()
            .unwrap_or(spec.layers.len());
        for o in owner.iter_mut().take(end).skip(g.producers[0]) {
            *o = Some(gi);
        }
    }
    let mut report = CheckReport {
        max_abs_diff: 0.0,
        max_rel_diff: 0.0,
        tolerance,
        layers_checked: 0,
    };
    for (i, ((sa, va), (sb, vb))) in ta.iter().zip(&tb).enumerate() {
        let g = owner[i];
        // A producer's own output is compared after its mask (the fold moves m into it).
        if let Some(gi) = g
            && groups[gi].producers.contains(&i)
            && !groups[gi].masks.is_empty()
        {
            continue;
        }
        let n = sa[0];
        let per_a = va.len() / n.max(1);
        let per_b = vb.len() / n.max(1);
        let scale = va.iter().fold(1f32, |m, v| m.max(v.abs()));
        let mut max_abs = 0f32;
        match g {
            None => {
                if va.len() != vb.len() {
                    return Err(SurgeryError::Plan(format!(
                        "layer {i}: shapes {sa:?} vs {sb:?}"
                    )));
                }
                for (a, b) in va.iter().zip(vb) {
                    max_abs = max_abs.max((a - b).abs());
                }
            }
            Some(gi) => {
                let keep = &plan.groups[gi].keep;
                let channels = groups[gi].channels;
                let block = per_a / channels.max(1);
                if keep.is_empty() {
                    // The dead channel must be exactly the zero the reference computes.
                    for b in vb {
                        max_abs = max_abs.max(b.abs());
                    }
                } else {
                    if per_b != keep.len() * block {
                        return Err(SurgeryError::Plan(format!(
                            "layer {i}: shapes {sa:?} vs {sb:?}"
                        )));
                    }
                    for s in 0..n {
                        for (k, &c) in keep.iter().enumerate() {
                            let a = &va[s * per_a + c * block..s * per_a + (c + 1) * block];
                            let b = &vb[s * per_b + k * block..s * per_b + (k + 1) * block];
                            for (x, y) in a.iter().zip(b) {
                                max_abs = max_abs.max((x - y).abs());
                            }
                        }
                    }
                }
            }
        }
        let rel = max_abs / scale;
        if rel.is_nan() || rel > tolerance {
            return Err(SurgeryError::Mismatch {
                layer: i,
                kind: spec.layers[i].kind(),
                max_abs_diff: max_abs,
                tolerance: tolerance * scale,
            });
        }
        report.max_abs_diff = report.max_abs_diff.max(max_abs);
        report.max_rel_diff = report.max_rel_diff.max(rel);
        report.layers_checked += 1;
    }
    Ok(report)
}
