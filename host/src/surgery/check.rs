//! The automatic check after surgery: run the masked reference and the pruned net on the
//! same seeded batch through the one interpreter, capture every value, and compare the
//! kept channels of each (the whole value where its group is not prunable).

use std::collections::HashSet;

use burn::tensor::{Device, Tensor, TensorData};

use super::error::SurgeryError;
use super::fold::fold_path;
use crate::graph::{Graph, ValueId};
use crate::nn::{Capture, GateMode, Net};
use crate::plan::KeepPlan;
use crate::rng::SplitMix64;

/// Allowed |reference − pruned| relative to `max(1, max |reference value|)` of a value:
/// f32 sums over fewer terms in another order differ by a few ulps of the largest values.
pub const DEFAULT_TOLERANCE: f32 = 1e-5;

/// Images in the check batch.
pub const CHECK_BATCH: usize = 8;

/// What the check measured.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CheckReport {
    /// Largest absolute difference over all compared values.
    pub max_abs_diff: f32,
    /// Largest difference relative to its value's scale `max(1, max |reference|)`.
    pub max_rel_diff: f32,
    /// The relative tolerance applied.
    pub tolerance: f32,
    /// Values (node outputs and the input) compared.
    pub layers_checked: usize,
}

/// Every value `net` computes for `input` (gates off), on the host.
pub fn trace(net: &Net, input: Tensor<4>) -> Capture {
    let mut cap = Capture::default();
    net.run(input, GateMode::Off, &mut cap);
    cap
}

/// A seeded batch of `n` inputs of `g`'s shape, uniform in [-1, 1] (the data range).
pub fn check_batch(g: &Graph, n: usize, seed: u64, device: &Device) -> Tensor<4> {
    let [c, h, w] = g.input_dims();
    let mut rng = SplitMix64::new(seed);
    let values: Vec<f32> = (0..n * c * h * w)
        .map(|_| (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0)
        .collect();
    Tensor::from_data(TensorData::new(values, [n, c, h, w]), device)
}

/// Values a fold scales: between a folded mask's source and the mask (compared after it).
fn folded_values(g: &Graph) -> HashSet<ValueId> {
    (0..g.nodes.len())
        .filter(|&i| matches!(g.nodes[i].op, crate::graph::Op::Mask(_)))
        .filter_map(|m| fold_path(g, m))
        .flat_map(|p| p.values)
        .collect()
}

/// Compare `reference` (built from `g`) with `pruned` (from `pruned_spec`) value by value
/// on [`check_batch`]; the first node over tolerance is named in the error.
pub fn compare(
    g: &Graph,
    reference: &Net,
    pruned_spec: &Graph,
    pruned: &Net,
    plan: &KeepPlan,
    device: &Device,
    tolerance: f32,
) -> Result<CheckReport, SurgeryError> {
    plan.check(g)?;
    let groups = g.groups()?;
    if pruned_spec.values.len() != g.values.len() {
        return Err(SurgeryError::Plan(
            "reference and pruned graphs differ in structure".into(),
        ));
    }
    // Keep list of each group (None: not prunable, compared whole).
    let mut keep_of: Vec<Option<&[usize]>> = vec![None; groups.all.len()];
    for (gi, k) in groups.prunable().into_iter().zip(&plan.groups) {
        keep_of[gi] = Some(&k.keep);
    }
    let skip = folded_values(g);
    let input = check_batch(g, CHECK_BATCH, 0x5eed, device);
    let ta = trace(reference, input.clone());
    let tb = trace(pruned, input);
    let mut report = CheckReport {
        max_abs_diff: 0.0,
        max_rel_diff: 0.0,
        tolerance,
        layers_checked: 0,
    };
    for v in 0..g.values.len() {
        if skip.contains(&ValueId(v)) {
            continue;
        }
        let (node, op) = match g.values[v].producer {
            Some(p) => (g.nodes[p].name.clone(), g.nodes[p].op.name()),
            None => (g.values[v].name.clone(), "input"),
        };
        let (Some(Some((sa, va))), Some(Some((sb, vb)))) = (ta.values.get(v), tb.values.get(v))
        else {
            return Err(SurgeryError::Plan(format!(
                "node `{node}`: value not computed"
            )));
        };
        let shape_err = || SurgeryError::Plan(format!("node `{node}`: shapes {sa:?} vs {sb:?}"));
        let n = sa[0].max(1);
        let (per_a, per_b) = (va.len() / n, vb.len() / n);
        let scale = va.iter().fold(1f32, |m, x| m.max(x.abs()));
        let (gi, _) = groups.of_value[v];
        let mut max_abs = 0f32;
        match keep_of[gi] {
            None => {
                if va.len() != vb.len() {
                    return Err(shape_err());
                }
                for (a, b) in va.iter().zip(vb) {
                    max_abs = max_abs.max((a - b).abs());
                }
            }
            Some([]) => {
                // The dead channel must be exactly the zero the reference computes.
                for b in vb {
                    max_abs = max_abs.max(b.abs());
                }
            }
            Some(keep) => {
                let block = per_a / groups.all[gi].channels.max(1);
                if per_b != keep.len() * block {
                    return Err(shape_err());
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
        let rel = max_abs / scale;
        if rel.is_nan() || rel > tolerance {
            return Err(SurgeryError::Mismatch {
                node,
                op,
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
