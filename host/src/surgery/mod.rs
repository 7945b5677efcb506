//! Surgery: cut a trained, masked net down to the channels a [`KeepPlan`] keeps, fold the
//! mask values into the nodes they follow, and check that the result computes what the
//! masked net does. Generic over the graph IR: residual adds, BatchNorm, strides.
//!
//! Semantics. A pruned channel is one whose output is replaced by 0 — exactly what the
//! masked *reference* net computes: the base net with every dropped channel's producer
//! rows and bias, BatchNorm γ/β and mask values zeroed. For every prunable channel group
//! ([`crate::graph::Groups`]) surgery
//! - keeps every producer's output channels (each parameter's `out_axis`),
//! - keeps every channel-wise node's channels (BatchNorm γ/β/mean/var, mask values, gate
//!   log α),
//! - keeps every consumer's input channels (`in_axis`; a dense layer after a flatten sees
//!   channel c as the block of `h·w` inputs `c·h·w..(c+1)·h·w`, NCHW),
//! - folds each kept mask value m ≥ 0 into the Conv/Dense or BatchNorm the mask follows
//!   when only ReLU, pooling and Dropout lie between them ([`fold::fold_path`]) and sets it
//!   to 1 (relu(z)·m = relu(z·m)); otherwise (a negative m, an Add in between, a second
//!   reader) the sliced mask value stays (still exact).
//!
//! Mask nodes stay in the pruned graph (at 1.0 where folded), so a pruned model trains and
//! prunes again like any other.
//!
//! Fully pruned group. Its output is the constant 0, so the graph keeps it as one *dead*
//! channel (no zero-size tensors): producer rows and bias 0, BatchNorm γ = β = 0 (variance
//! 1), mask 1, consumer columns 0 — the consumers' constant stays in their own biases,
//! which is exact for conv→conv (zero padding sees the same zeros) and →dense alike.
//!
//! After every cut [`apply`] runs [`check::compare`]: reference vs pruned on a seeded
//! batch, every value's kept channels, tolerance `1e-5 · max(1, max |reference value|)`.

pub mod check;
pub mod error;
pub mod fold;
pub mod slice;

#[cfg(test)]
pub(crate) mod tests;

use burn::tensor::Device;

pub use check::{CheckReport, DEFAULT_TOLERANCE};
pub use error::SurgeryError;

use crate::graph::{Graph, Groups, ParamKind, group_masks};
use crate::nn::{NamedTensor, Net};
use crate::plan::KeepPlan;

/// A pruned model with its check.
#[derive(Debug)]
pub struct Pruned {
    /// The smaller graph (masks kept).
    pub spec: Graph,
    /// Its net, weights cut and masks folded.
    pub net: Net,
    /// What the equivalence check measured.
    pub check: CheckReport,
}

/// Cut `net` (built from `g`) to `plan`, then check it against the masked reference.
/// `device` is where the pruned net is built (a plain, non-autodiff device).
pub fn apply(
    g: &Graph,
    net: &Net,
    plan: &KeepPlan,
    device: &Device,
) -> Result<Pruned, SurgeryError> {
    let (pruned_spec, pruned) = cut(g, net, plan, device)?;
    let reference = reference_net(g, net, plan)?;
    let check = check::compare(
        g,
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

/// Each prunable group's index in `Groups::all` with the plan's kept channels for it.
type Pairs<'a> = Vec<(usize, &'a [usize])>;

/// The prunable groups of `g` paired with the plan's entries (checked to fit).
fn paired<'a>(g: &Graph, plan: &'a KeepPlan) -> Result<(Groups, Pairs<'a>), SurgeryError> {
    plan.check(g)?;
    let groups = g.groups()?;
    let pairs = groups
        .prunable()
        .into_iter()
        .zip(&plan.groups)
        .map(|(gi, k)| (gi, k.keep.as_slice()))
        .collect();
    Ok((groups, pairs))
}

/// Node `node`'s tensors with `f` applied to each one `g` declares an axis for: `f(t, kind,
/// out_axis, in_axis)`.
fn each_decl(
    g: &Graph,
    node: usize,
    tensors: &mut [NamedTensor],
    mut f: impl FnMut(&mut NamedTensor, ParamKind, Option<usize>, Option<usize>),
) {
    let decls = g.params(node);
    for t in tensors.iter_mut() {
        if let Some(d) = decls.iter().find(|d| d.name == t.name) {
            f(t, d.kind, d.out_axis, d.in_axis);
        }
    }
}

/// The masked reference: `net` with every dropped channel's producer rows and bias,
/// BatchNorm γ/β and mask values set to 0 (so the channel is exactly 0 everywhere).
pub fn reference_net(g: &Graph, net: &Net, plan: &KeepPlan) -> Result<Net, SurgeryError> {
    let (groups, pairs) = paired(g, plan)?;
    let mut tensors = net.tensors()?;
    for (gi, keep) in pairs {
        let grp = &groups.all[gi];
        let factors: Vec<f32> = (0..grp.channels)
            .map(|c| {
                if keep.binary_search(&c).is_ok() {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        for &node in grp.producers.iter().chain(&grp.channel_wise) {
            each_decl(g, node, &mut tensors[node], |t, kind, out, _| {
                let zeroed = match kind {
                    ParamKind::Kernel
                    | ParamKind::Bias
                    | ParamKind::BnScale
                    | ParamKind::BnShift
                    | ParamKind::Mask => true,
                    ParamKind::Gate | ParamKind::BnMean | ParamKind::BnVar => false,
                };
                if let (true, Some(axis)) = (zeroed, out) {
                    slice::scale(t, axis, &factors);
                }
            });
        }
    }
    let mut out = net.clone();
    for (i, ts) in tensors.iter().enumerate() {
        for t in ts {
            out.set_tensor(i, t)?;
        }
    }
    Ok(out)
}

/// Surgery without the check: the pruned graph and net.
pub fn cut(
    g: &Graph,
    net: &Net,
    plan: &KeepPlan,
    device: &Device,
) -> Result<(Graph, Net), SurgeryError> {
    let (groups, pairs) = paired(g, plan)?;
    let pruned_spec = plan.pruned_spec(g)?;
    let mut new = net.tensors()?;
    for (gi, keep) in pairs {
        let grp = &groups.all[gi];
        let dead = keep.is_empty();
        for &p in &grp.producers {
            each_decl(g, p, &mut new[p], |t, _, out, _| {
                if let Some(axis) = out {
                    *t = if dead {
                        slice::zeros_like(t, axis, 1)
                    } else {
                        slice::select(t, axis, keep, 1)
                    };
                }
            });
        }
        for &c in &grp.channel_wise {
            each_decl(g, c, &mut new[c], |t, kind, out, _| {
                let Some(axis) = out else { return };
                if !dead {
                    *t = slice::select(t, axis, keep, 1);
                    return;
                }
                let mut z = slice::zeros_like(t, axis, 1);
                let fill = match kind {
                    ParamKind::BnVar | ParamKind::Mask => 1.0,
                    ParamKind::Kernel
                    | ParamKind::Bias
                    | ParamKind::Gate
                    | ParamKind::BnScale
                    | ParamKind::BnShift
                    | ParamKind::BnMean => 0.0,
                };
                z.values.iter_mut().for_each(|v| *v = fill);
                *t = z;
            });
        }
        for cons in &grp.consumers {
            each_decl(g, cons.node, &mut new[cons.node], |t, _, _, inp| {
                if let Some(axis) = inp {
                    *t = if dead {
                        slice::zeros_like(t, axis, cons.block)
                    } else {
                        slice::select(t, axis, keep, cons.block)
                    };
                }
            });
        }
        if dead {
            continue;
        }
        for m in group_masks(g, &groups, gi) {
            let values = new[m]
                .iter_mut()
                .find(|t| t.name == "values")
                .ok_or_else(|| SurgeryError::MissingTensor {
                    node: g.nodes[m].name.clone(),
                    name: "values",
                })?;
            if let Some((k, &v)) = values
                .values
                .iter()
                .enumerate()
                .find(|(_, v)| !v.is_finite())
            {
                return Err(SurgeryError::NonFiniteMask {
                    node: g.nodes[m].name.clone(),
                    channel: keep[k],
                    value: v,
                });
            }
            let Some(path) = fold::fold_path(g, m) else {
                continue;
            };
            let factors: Vec<f32> = values
                .values
                .iter_mut()
                .map(|v| {
                    if *v >= 0.0 {
                        std::mem::replace(v, 1.0)
                    } else {
                        1.0
                    }
                })
                .collect();
            fold::scale_source(g, path.source, &mut new[path.source], &factors);
        }
    }
    let mut out = Net::new(&pruned_spec, device);
    for (index, tensors) in new.iter().enumerate() {
        for t in tensors {
            out.set_tensor(index, t)?;
        }
    }
    Ok((pruned_spec, out))
}
