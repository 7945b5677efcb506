//! Parameter groups: weights (kernels, biases, BatchNorm γ/β) versus masks versus gates,
//! read off the graph's parameter kinds, so a method can train one group at a time (split
//! gradients by id, or freeze a group); and the kernels' L1/L2 norms.

use burn::module::{Module, ParamGroup, ParamId};
use burn::tensor::Tensor;

use super::module::NodeModule;
use super::net::Net;

/// A set of a net's parameters (the `train_group` setting of a run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Group {
    /// Every parameter.
    All,
    /// Kernels, biases and BatchNorm γ/β.
    Weights,
    /// Mask values.
    Masks,
}

/// Which parameters a phase trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Trainable {
    /// Kernels, biases, BatchNorm γ/β.
    pub weights: bool,
    /// Mask values.
    pub masks: bool,
    /// Gate log α.
    pub gates: bool,
}

impl Trainable {
    /// Weights only (the "pull" phase of push-pull; fine-tuning).
    pub const WEIGHTS: Trainable = Trainable {
        weights: true,
        masks: false,
        gates: false,
    };
    /// Masks only (the "push" phase).
    pub const MASKS: Trainable = Trainable {
        weights: false,
        masks: true,
        gates: false,
    };
    /// Weights and masks together.
    pub const WEIGHTS_MASKS: Trainable = Trainable {
        weights: true,
        masks: true,
        gates: false,
    };
    /// Weights and gates (L0; masks stay as they are).
    pub const WEIGHTS_GATES: Trainable = Trainable {
        weights: true,
        masks: false,
        gates: true,
    };
    /// Everything.
    pub const ALL: Trainable = Trainable {
        weights: true,
        masks: true,
        gates: true,
    };
}

impl From<Group> for Trainable {
    fn from(g: Group) -> Trainable {
        match g {
            Group::All => Trainable::ALL,
            Group::Weights => Trainable::WEIGHTS,
            Group::Masks => Trainable::MASKS,
        }
    }
}

impl Net {
    /// Ids of the parameters `t` selects, in node order.
    pub fn param_ids(&self, t: impl Into<Trainable>) -> Vec<ParamId> {
        let t = t.into();
        let mut ids = Vec::new();
        for m in &self.nodes {
            match m {
                NodeModule::Conv(c) if t.weights => {
                    ids.push(c.weight.id);
                    ids.extend(c.bias.as_ref().map(|b| b.id));
                }
                NodeModule::Dense(d) if t.weights => {
                    ids.push(d.weight.id);
                    ids.extend(d.bias.as_ref().map(|b| b.id));
                }
                NodeModule::BatchNorm(b) if t.weights => {
                    ids.push(b.gamma.id);
                    ids.push(b.beta.id);
                }
                NodeModule::Mask(m) if t.masks => ids.push(m.values.id),
                NodeModule::Gate(g) if t.gates => ids.push(g.log_alpha.id),
                _ => {}
            }
        }
        ids
    }

    /// Ids of the mask parameters, in node order.
    pub fn mask_param_ids(&self) -> Vec<ParamId> {
        self.param_ids(Trainable::MASKS)
    }

    /// Ids of the weight parameters, in node order.
    pub fn weight_param_ids(&self) -> Vec<ParamId> {
        self.param_ids(Trainable::WEIGHTS)
    }

    /// Make the parameters `t` selects (not) require gradients; the others are untouched.
    pub fn set_trainable(self, t: impl Into<Trainable>, trainable: bool) -> Net {
        let ids = self.param_ids(t);
        self.set_require_grad_group(ParamGroup::from_ids(ids), trainable)
    }

    /// Sum of |w| and of w² over the conv/dense kernels (biases, BatchNorm and masks
    /// excluded), the terms of the L1 and L2 penalties.
    pub fn kernel_norms(&self) -> Option<(Tensor<1>, Tensor<1>)> {
        let mut acc: Option<(Tensor<1>, Tensor<1>)> = None;
        for m in &self.nodes {
            let w: Tensor<1> = match m {
                NodeModule::Conv(c) => c.weight.val().flatten(0, 3),
                NodeModule::Dense(d) => d.weight.val().flatten(0, 1),
                _ => continue,
            };
            let (a, b) = (w.clone().abs().sum(), w.square().sum());
            acc = Some(match acc.take() {
                Some((x, y)) => (x + a, y + b),
                None => (a, b),
            });
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::presets::seed_c10;
    use burn::tensor::{Device, Tensor};

    #[test]
    fn groups_are_disjoint_and_cover_the_net() {
        let dev = Device::flex();
        let net = Net::new(&seed_c10(), &dev);
        let masks = net.mask_param_ids();
        let weights = net.weight_param_ids();
        assert_eq!(masks.len(), 5);
        assert_eq!(weights.len(), 12); // 6 layers x (kernel, bias)
        assert!(masks.iter().all(|m| !weights.contains(m)));
        assert_eq!(net.param_ids(Group::All).len(), 17);
        assert_eq!(net.num_params(), 118_962 + 16 + 24 + 32 + 32 + 48);
    }

    #[test]
    fn frozen_masks_get_no_gradient_but_weights_do() {
        let dev = Device::flex().autodiff();
        let net = Net::new(&seed_c10(), &dev).set_trainable(Group::Masks, false);
        let x = Tensor::<4>::ones([2, 3, 32, 32], &dev);
        let grads = net.forward(x).sum().backward();
        for m in &net.nodes {
            match m {
                NodeModule::Mask(m) => assert!(m.values.val().grad(&grads).is_none()),
                NodeModule::Conv(c) => assert!(c.weight.val().grad(&grads).is_some()),
                _ => {}
            }
        }
    }
}
