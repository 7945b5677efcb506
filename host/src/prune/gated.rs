//! `GatedNet`: a [`Net`] plus optional hard-concrete gates (one per Mask layer, applied
//! right after it) — the model the pruning methods train; L1 uses no gates.

use burn::module::{Module, ParamId};
use burn::tensor::Tensor;

use crate::nn::hard_concrete::{HardConcrete, HardConcreteConfig};
use crate::nn::{Activation, Layer, Net};

/// How gates act in a forward pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GateMode {
    /// Gates ignored (L1, baselines, plain evaluation).
    Off,
    /// One training sample per channel and batch at temperature β.
    Sample(f64),
    /// The deterministic test-time gate.
    Test,
}

/// Which parameters an epoch trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Trainable {
    /// Conv/Dense kernels and biases.
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
}

/// A net and its gates (empty, or one per Mask layer in order).
#[derive(Module, Debug)]
pub struct GatedNet {
    /// The network.
    pub net: Net,
    /// Gates after each Mask layer (L0) or none.
    pub gates: Vec<HardConcrete>,
}

impl GatedNet {
    /// A net without gates.
    pub fn plain(net: Net) -> Self {
        Self {
            net,
            gates: Vec::new(),
        }
    }

    /// Add a gate after every Mask layer, log α = `init`.
    pub fn with_gates(net: Net, init: f32) -> Self {
        let gates = net
            .layers
            .iter()
            .filter_map(|l| match l {
                Layer::Mask(m) => {
                    let dev = m.values.val().device();
                    Some(
                        HardConcreteConfig::new(m.channels())
                            .with_log_alpha_init(init)
                            .init(&dev),
                    )
                }
                _ => None,
            })
            .collect();
        Self { net, gates }
    }

    /// Ids of the parameters `t` selects.
    pub fn param_ids(&self, t: Trainable) -> Vec<ParamId> {
        let mut ids = Vec::new();
        if t.weights {
            ids.extend(self.net.weight_param_ids());
        }
        if t.masks {
            ids.extend(self.net.mask_param_ids());
        }
        if t.gates {
            ids.extend(self.gates.iter().map(|g| g.log_alpha.id));
        }
        ids
    }

    /// Logits, with gates acting as `mode` says.
    ///
    /// # Shapes
    /// - input: `[n, c, h, w]`, output: `[n, classes]`
    ///
    /// # Panics
    /// If the net was not built from a valid spec.
    pub fn forward(&self, input: Tensor<4>, mode: GateMode) -> Tensor<2> {
        let mut x = Activation::Spatial(input);
        let mut mask_no = 0;
        for (layer, &relu) in self.net.layers.iter().zip(&self.net.relu_after) {
            x = match (layer, x) {
                (Layer::Conv(l), Activation::Spatial(t)) => Activation::Spatial(l.forward(t)),
                (Layer::Pool(l), Activation::Spatial(t)) => Activation::Spatial(l.forward(t)),
                (Layer::Dropout(l), Activation::Spatial(t)) => Activation::Spatial(l.forward(t)),
                (Layer::Dropout(l), Activation::Flat(t)) => Activation::Flat(l.forward(t)),
                (Layer::Flatten(l), Activation::Spatial(t)) => Activation::Flat(l.forward(t)),
                (Layer::Dense(l), Activation::Flat(t)) => Activation::Flat(l.forward(t)),
                (Layer::Mask(l), a) => {
                    let gate = match (mode, self.gates.get(mask_no)) {
                        (GateMode::Sample(beta), Some(g)) => Some(g.sample(beta)),
                        (GateMode::Test, Some(g)) => Some(g.test_gate()),
                        _ => None,
                    };
                    mask_no += 1;
                    let scale = match gate {
                        Some(z) => l.values.val() * z,
                        None => l.values.val(),
                    };
                    match a {
                        Activation::Spatial(t) => {
                            let c = scale.dims()[0];
                            Activation::Spatial(t * scale.reshape([1, c, 1, 1]))
                        }
                        Activation::Flat(t) => {
                            let c = scale.dims()[0];
                            Activation::Flat(t * scale.reshape([1, c]))
                        }
                    }
                }
                (l, _) => panic!("layer {l:?} got an activation of the wrong rank"),
            };
            if relu {
                x = x.relu();
            }
        }
        match x {
            Activation::Flat(t) => t,
            Activation::Spatial(_) => panic!("network does not end in a flat layer"),
        }
    }
}
