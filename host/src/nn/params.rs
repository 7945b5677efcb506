//! Parameter groups: weights (conv/dense kernels and biases) versus masks, so a method can
//! train one group at a time (split gradients by id, or freeze a group).

use burn::module::{Module, ParamGroup, ParamId};
use burn::tensor::Tensor;

use super::layer::Layer;
use super::net::Net;

/// A set of a net's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Group {
    /// Every parameter.
    All,
    /// Conv/Dense kernels and biases.
    Weights,
    /// Mask values.
    Masks,
}

impl Net {
    /// Ids of the mask parameters, in layer order.
    pub fn mask_param_ids(&self) -> Vec<ParamId> {
        self.layers
            .iter()
            .filter_map(|l| match l {
                Layer::Mask(m) => Some(m.values.id),
                _ => None,
            })
            .collect()
    }

    /// Ids of the weight parameters (kernels and biases), in layer order.
    pub fn weight_param_ids(&self) -> Vec<ParamId> {
        let mut ids = Vec::new();
        for l in &self.layers {
            match l {
                Layer::Conv(c) => {
                    ids.push(c.weight.id);
                    ids.extend(c.bias.as_ref().map(|b| b.id));
                }
                Layer::Dense(d) => {
                    ids.push(d.weight.id);
                    ids.extend(d.bias.as_ref().map(|b| b.id));
                }
                _ => {}
            }
        }
        ids
    }

    /// Ids of a group's parameters.
    pub fn param_ids(&self, group: Group) -> Vec<ParamId> {
        match group {
            Group::All => {
                let mut ids = self.weight_param_ids();
                ids.extend(self.mask_param_ids());
                ids
            }
            Group::Weights => self.weight_param_ids(),
            Group::Masks => self.mask_param_ids(),
        }
    }

    /// Make a group's parameters (not) require gradients; the other group is untouched.
    pub fn set_trainable(self, group: Group, trainable: bool) -> Net {
        let ids = self.param_ids(group);
        self.set_require_grad_group(ParamGroup::from_ids(ids), trainable)
    }

    /// Sum of |w| and of w² over the conv/dense kernels (biases and masks excluded), the
    /// terms of the L1 and L2 penalties.
    pub fn kernel_norms(&self) -> Option<(Tensor<1>, Tensor<1>)> {
        let mut l1: Option<Tensor<1>> = None;
        let mut l2: Option<Tensor<1>> = None;
        let mut add = |a: Tensor<1>, b: Tensor<1>| {
            l1 = Some(match l1.take() {
                Some(x) => x + a,
                None => a,
            });
            l2 = Some(match l2.take() {
                Some(x) => x + b,
                None => b,
            });
        };
        for l in &self.layers {
            match l {
                Layer::Conv(c) => {
                    let w = c.weight.val();
                    add(w.clone().abs().sum(), w.square().sum());
                }
                Layer::Dense(d) => {
                    let w = d.weight.val();
                    add(w.clone().abs().sum(), w.square().sum());
                }
                _ => {}
            }
        }
        Some((l1?, l2?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::seed::seed_c10;
    use burn::tensor::Device;

    #[test]
    fn groups_are_disjoint_and_cover_the_net() {
        let dev = Device::flex();
        let net = Net::new(&seed_c10(), &dev).unwrap_or_else(|e| panic!("{e}"));
        let masks = net.mask_param_ids();
        let weights = net.weight_param_ids();
        assert_eq!(masks.len(), 5);
        assert_eq!(weights.len(), 12); // 6 layers x (kernel, bias)
        assert!(masks.iter().all(|m| !weights.contains(m)));
        assert_eq!(net.param_ids(Group::All).len(), 17);
        assert_eq!(net.num_params(), 118_962 + 16 + 24 + 32 + 32 + 48);
    }
}

#[cfg(test)]
mod freeze_tests {
    use super::*;
    use crate::arch::seed::seed_c10;
    use burn::tensor::{Device, Tensor};

    #[test]
    fn frozen_masks_get_no_gradient_but_weights_do() {
        let dev = Device::flex().autodiff();
        let net = Net::new(&seed_c10(), &dev)
            .unwrap_or_else(|e| panic!("{e}"))
            .set_trainable(Group::Masks, false);
        let x = Tensor::<4>::ones([2, 3, 32, 32], &dev);
        let grads = net.forward(x).sum().backward();
        for l in &net.layers {
            match l {
                Layer::Mask(m) => assert!(m.values.val().grad(&grads).is_none()),
                Layer::Conv(c) => assert!(c.weight.val().grad(&grads).is_some()),
                _ => {}
            }
        }
    }
}
