//! Surgery: cut a trained, masked net down to the channels a [`KeepPlan`] keeps, fold the
//! mask values into the producers, and check that the result computes what the masked net does.
//!
//! Semantics. A pruned channel is one whose output is replaced by 0 — exactly what the
//! masked net computes when that channel's mask is 0 (the *reference* net: the base net with
//! every dropped channel's mask zeroed, or its producer row zeroed where no mask follows).
//! For every dependency group ([`crate::prune::graph`]) surgery
//! - keeps the producer's output rows (Conv weight dim 0, Dense weight dim 1, bias),
//! - folds each kept mask value m ≥ 0 into them (relu(z)·m = relu(z·m), max-pool commutes
//!   with m ≥ 0) and sets the mask to 1; a negative m stays in the mask (still exact),
//! - keeps the consumer's input columns (Conv weight dim 1; Dense weight rows
//!   `c*H*W..(c+1)*H*W` after a flatten, NCHW).
//!
//! Mask layers stay in the pruned spec (at 1.0), so a pruned model trains and prunes again
//! like any other.
//!
//! Fully pruned layer. Its output is the constant 0, so its consumer's output is its bias
//! everywhere (zero padding sees the same zeros), a constant that flows on exactly through
//! ReLU, mask, pool, flatten and dense layers — in a sequential net everything downstream
//! becomes input-independent. The spec language has no zero-width layer and burn no
//! zero-size tensors, so the layer is kept as one *dead* channel (weights, bias and the
//! consumer's column all 0): the consumer's constant stays in its own bias, which is
//! exact for conv→conv (folding a constant map into a following conv's bias would not be:
//! 'same' padding makes border sums differ) and for →dense alike.
//!
//! After every cut [`apply`] runs [`check::compare`]: reference vs pruned on a seeded batch,
//! every layer's kept channels, tolerance `1e-5 · max(1, max |reference activation|)`.

pub mod check;
pub mod error;
pub mod slice;

#[cfg(test)]
mod tests;

use burn::tensor::Device;

pub use check::{CheckReport, DEFAULT_TOLERANCE};
pub use error::SurgeryError;

use crate::arch::ArchSpec;
use crate::nn::{LayerWeights, NamedTensor, Net};
use crate::prune::graph::{self, DepGroup};
use crate::prune::plan::KeepPlan;

/// A pruned model with its check.
#[derive(Debug)]
pub struct Pruned {
    /// The smaller spec (masks kept).
    pub spec: ArchSpec,
    /// Its net, weights cut and masks folded.
    pub net: Net,
    /// What the equivalence check measured.
    pub check: CheckReport,
}

/// Cut `net` (built from `spec`) to `plan`, then check it against the masked reference.
/// `device` is where the pruned net is built (a plain, non-autodiff device).
pub fn apply(
    spec: &ArchSpec,
    net: &Net,
    plan: &KeepPlan,
    device: &Device,
) -> Result<Pruned, SurgeryError> {
    let (pruned_spec, pruned) = cut(spec, net, plan, device)?;
    let reference = reference_net(spec, net, plan)?;
    let check = check::compare(
        spec,
        &reference,
        &pruned_spec,
        &pruned,
        plan,
        device,
        DEFAULT_TOLERANCE,
    )?;
    Ok(Pruned {
        spec: pruned_spec,
        net: pruned,
        check,
    })
}

fn tensor<'a>(
    lw: &'a [LayerWeights],
    layer: usize,
    name: &'static str,
) -> Result<&'a NamedTensor, SurgeryError> {
    lw.get(layer)
        .and_then(|l| l.get(name))
        .ok_or(SurgeryError::MissingTensor { layer, name })
}

/// The masked reference: `net` with every dropped channel's mask set to 0 (or, for a
/// group without a mask, its producer's weight row and bias set to 0).
pub fn reference_net(spec: &ArchSpec, net: &Net, plan: &KeepPlan) -> Result<Net, SurgeryError> {
    plan.check(spec)?;
    let groups = graph::groups(spec)?;
    let lw = net.layer_weights()?;
    let mut out = net.clone();
    for (g, keep) in groups.iter().zip(&plan.groups) {
        let dropped: Vec<f32> = (0..g.channels)
            .map(|c| {
                if keep.keep.binary_search(&c).is_ok() {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        match g.masks.first() {
            Some(&m) => {
                let mut t = tensor(&lw, m, "values")?.clone();
                slice::scale(&mut t, 0, &dropped);
                out.set_tensor(m, &t)?;
            }
            None => {
                for &p in &g.producers {
                    let kind = lw[p].kind;
                    for name in ["weight", "bias"] {
                        let mut t = tensor(&lw, p, name)?.clone();
                        slice::scale(&mut t, slice::out_axis(kind, name), &dropped);
                        out.set_tensor(p, &t)?;
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Kept channels of a group with their fold factors and the values left in the mask.
struct Fold {
    keep: Vec<usize>,
    factor: Vec<f32>,
    mask_after: Vec<f32>,
}

fn fold(g: &DepGroup, keep: &[usize], lw: &[LayerWeights]) -> Result<Fold, SurgeryError> {
    let Some(&m) = g.masks.first() else {
        return Ok(Fold {
            keep: keep.to_vec(),
            factor: vec![1.0; keep.len()],
            mask_after: vec![1.0; keep.len()],
        });
    };
    let values = &tensor(lw, m, "values")?.values;
    let mut factor = Vec::with_capacity(keep.len());
    let mut mask_after = Vec::with_capacity(keep.len());
    for &c in keep {
        let v = values[c];
        if !v.is_finite() {
            return Err(SurgeryError::NonFiniteMask {
                layer: m,
                channel: c,
                value: v,
            });
        }
        if v >= 0.0 {
            factor.push(v);
            mask_after.push(1.0);
        } else {
            factor.push(1.0);
            mask_after.push(v);
        }
    }
    Ok(Fold {
        keep: keep.to_vec(),
        factor,
        mask_after,
    })
}

/// Surgery without the check: the pruned spec and net.
pub fn cut(
    spec: &ArchSpec,
    net: &Net,
    plan: &KeepPlan,
    device: &Device,
) -> Result<(ArchSpec, Net), SurgeryError> {
    plan.check(spec)?;
    let groups = graph::groups(spec)?;
    let pruned_spec = plan.pruned_spec(spec)?;
    let lw = net.layer_weights()?;
    // New tensors per layer, starting from the old ones.
    let mut new: Vec<Vec<NamedTensor>> = lw.iter().map(|l| l.tensors.clone()).collect();
    for (g, keep) in groups.iter().zip(&plan.groups) {
        let dead = keep.keep.is_empty();
        let f = fold(g, &keep.keep, &lw)?;
        for &p in &g.producers {
            let kind = lw[p].kind;
            for t in &mut new[p] {
                let axis = slice::out_axis(kind, &t.name);
                *t = if dead {
                    slice::zeros_like(t, axis, 1)
                } else {
                    let mut s = slice::select(t, axis, &f.keep, 1);
                    slice::scale(&mut s, axis, &f.factor);
                    s
                };
            }
        }
        for &m in &g.masks {
            let values = if dead {
                vec![1.0]
            } else {
                f.mask_after.clone()
            };
            new[m] = vec![NamedTensor {
                name: "values".into(),
                shape: vec![values.len()],
                values,
            }];
        }
        for c in &g.consumers {
            let kind = lw[c.layer].kind;
            let axis = slice::in_axis(kind);
            for t in new[c.layer].iter_mut().filter(|t| t.name == "weight") {
                *t = if dead {
                    slice::zeros_like(t, axis, c.block)
                } else {
                    slice::select(t, axis, &f.keep, c.block)
                };
            }
        }
    }
    let mut out = Net::new(&pruned_spec, device)?;
    for (index, tensors) in new.iter().enumerate() {
        for t in tensors {
            out.set_tensor(index, t)?;
        }
    }
    Ok((pruned_spec, out))
}
