//! `NodeModule`: the burn module of one graph node, built from its op and input shapes, and
//! its forward step on an [`Act`] — one exhaustive match per direction, so a new op kind
//! fails to compile here until it can train.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d,
};
use burn::tensor::activation::{relu, softmax};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor};

use super::hard_concrete::{HardConcrete, HardConcreteConfig};
use super::mask::{Mask, MaskConfig};
use crate::graph::{Op, Shape};

/// A module without parameters (ReLU, Clip, Add, pooling to 1×1, Flatten, Softmax).
#[derive(Module, Debug, Default)]
pub struct Stateless;

/// The burn module of one node; `Net::nodes[i]` implements `graph.nodes[i]`.
#[derive(Module, Debug)]
pub enum NodeModule {
    /// Conv2d.
    Conv(Conv2d),
    /// BatchNorm.
    BatchNorm(BatchNorm),
    /// Dense.
    Dense(Linear),
    /// Mask.
    Mask(Mask),
    /// Gate.
    Gate(HardConcrete),
    /// Dropout.
    Dropout(Dropout),
    /// MaxPool.
    MaxPool(MaxPool2d),
    /// AvgPool.
    AvgPool(AvgPool2d),
    /// Every op without parameters.
    Stateless(Stateless),
}

/// How hard-concrete gates act in a forward pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GateMode {
    /// Gates are the identity (plain training and evaluation).
    Off,
    /// One training sample per channel and batch at temperature β.
    Sample(f64),
    /// The deterministic test-time gate.
    Test,
}

/// A value flowing between nodes.
#[derive(Debug, Clone)]
pub enum Act {
    /// `[n, c, h, w]`.
    Spatial(Tensor<4>),
    /// `[n, features]`.
    Flat(Tensor<2>),
}

impl Act {
    /// Shape including the batch.
    pub fn dims(&self) -> Vec<usize> {
        match self {
            Act::Spatial(t) => t.dims().to_vec(),
            Act::Flat(t) => t.dims().to_vec(),
        }
    }

    /// Values on the host (row-major, NCHW).
    pub fn to_vec(&self) -> Vec<f32> {
        let data = match self {
            Act::Spatial(t) => t.clone().into_data(),
            Act::Flat(t) => t.clone().into_data(),
        };
        data.try_to_vec::<f32>().unwrap_or_default()
    }

    /// Multiply channel c by `scale[c]` (channel axis 1).
    pub fn scale_channels(self, scale: Tensor<1>) -> Act {
        let c = scale.dims()[0];
        match self {
            Act::Spatial(t) => Act::Spatial(t * scale.reshape([1, c, 1, 1])),
            Act::Flat(t) => Act::Flat(t * scale.reshape([1, c])),
        }
    }

    fn map(
        self,
        f4: impl FnOnce(Tensor<4>) -> Tensor<4>,
        f2: impl FnOnce(Tensor<2>) -> Tensor<2>,
    ) -> Act {
        match self {
            Act::Spatial(t) => Act::Spatial(f4(t)),
            Act::Flat(t) => Act::Flat(f2(t)),
        }
    }
}

/// The module for `op` reading `inputs` (freshly initialized from the device RNG).
pub fn build(op: &Op, inputs: &[Shape], device: &Device) -> NodeModule {
    let c_in = inputs[0].channels();
    match op {
        Op::Conv2d(c) => {
            let [t, l, b, r] = c.padding.0;
            NodeModule::Conv(
                Conv2dConfig::new([c_in, c.out], c.kernel)
                    .with_stride(c.stride)
                    .with_padding(PaddingConfig2d::Explicit(t, l, b, r))
                    .with_bias(c.bias)
                    .init(device),
            )
        }
        Op::BatchNorm(b) => NodeModule::BatchNorm(
            BatchNormConfig::new(c_in)
                .with_epsilon(b.epsilon)
                .with_momentum(b.momentum)
                .init(device),
        ),
        Op::Dense(d) => NodeModule::Dense(
            LinearConfig::new(inputs[0].numel(), d.out)
                .with_bias(d.bias)
                .init(device),
        ),
        Op::Mask(_) => NodeModule::Mask(MaskConfig::new(c_in).init(device)),
        Op::Gate(g) => NodeModule::Gate(
            HardConcreteConfig::new(c_in)
                .with_log_alpha_init(g.log_alpha_init)
                .init(device),
        ),
        Op::Dropout(d) => NodeModule::Dropout(DropoutConfig::new(d.p).init()),
        Op::MaxPool(p) => {
            NodeModule::MaxPool(MaxPool2dConfig::new(p.kernel).with_strides(p.stride).init())
        }
        Op::AvgPool(p) => {
            NodeModule::AvgPool(AvgPool2dConfig::new(p.kernel).with_strides(p.stride).init())
        }
        Op::Relu(_)
        | Op::Clip(_)
        | Op::Add(_)
        | Op::GlobalAvgPool(_)
        | Op::Flatten(_)
        | Op::Softmax(_) => NodeModule::Stateless(Stateless),
    }
}

/// The conv's options when it pads explicitly (as the nets built here always do).
fn conv_options(m: &Conv2d) -> Option<ConvOptions<2>> {
    let PaddingConfig2d::Explicit(t, l, b, r) = m.padding else {
        return None;
    };
    Some(ConvOptions::new_with_padding(
        m.stride,
        [(t, b), (l, r)],
        m.dilation,
        m.groups,
    ))
}

/// burn's `Conv2d::forward` through whittle's kernels ([`crate::kernels::conv2d`]); other
/// paddings take burn's own forward.
fn conv2d(m: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    match conv_options(m) {
        Some(o) => crate::kernels::conv2d(x, m.weight.val(), m.bias.as_ref().map(|b| b.val()), o),
        None => m.forward(x),
    }
}

/// `relu(conv(x)) · scale[c]`, then 2×2 max-pooled at stride 2 when `pooled`: one op
/// ([`crate::kernels::conv_relu_scale`], [`crate::kernels::conv_relu_scale_pool`]) when
/// the conv has a bias and explicit padding, else the ops one by one.
pub fn conv_relu_scale(m: &Conv2d, x: Tensor<4>, scale: Tensor<1>, pooled: bool) -> Tensor<4> {
    use crate::kernels as k;
    match (conv_options(m), &m.bias, pooled) {
        (Some(o), Some(b), false) => k::conv_relu_scale(x, m.weight.val(), b.val(), o, scale),
        (Some(o), Some(b), true) => k::conv_relu_scale_pool(x, m.weight.val(), b.val(), o, scale),
        (_, _, false) => k::relu_scale(conv2d(m, x), scale),
        (_, _, true) => k::max_pool2d(k::relu_scale(conv2d(m, x), scale), [2, 2], [2, 2]),
    }
}

/// Whether `m` is a 2×2 max pool at stride 2 that whittle's kernel runs (what
/// [`conv_relu_scale`] can fuse).
pub fn is_halving(m: &MaxPool2d) -> bool {
    m.kernel_size == [2, 2] && m.stride == [2, 2] && runs_on_whittle(m)
}

/// Whether whittle's max-pool kernel runs `m`: unpadded, undilated, rounding down.
fn runs_on_whittle(m: &MaxPool2d) -> bool {
    let unpadded = matches!(
        m.padding,
        PaddingConfig2d::Valid | PaddingConfig2d::Explicit(0, 0, 0, 0)
    );
    unpadded && m.dilation == [1, 1] && !m.ceil_mode
}

/// burn's `MaxPool2d::forward` through whittle's kernel ([`crate::kernels::max_pool2d`])
/// when it is unpadded and undilated (as the nets built here are).
fn max_pool2d(m: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    if runs_on_whittle(m) {
        crate::kernels::max_pool2d(x, m.kernel_size, m.stride)
    } else {
        m.forward(x)
    }
}

/// One node's forward step. `inputs` are the node's input activations in order.
///
/// # Panics
/// If the module was not built for `op` or the activations' ranks do not fit it; a net
/// built from a validated graph never does that.
pub fn forward(op: &Op, module: &NodeModule, mut inputs: Vec<Act>, gate: GateMode) -> Act {
    let x = inputs.swap_remove(0);
    let bad = |a: &Act| -> ! {
        panic!(
            "node op {} got module {module:?} and an activation of shape {:?}",
            op.name(),
            a.dims()
        )
    };
    match op {
        Op::Conv2d(_) => match (module, x) {
            (NodeModule::Conv(m), Act::Spatial(t)) => Act::Spatial(conv2d(m, t)),
            (_, a) => bad(&a),
        },
        Op::BatchNorm(_) => match module {
            NodeModule::BatchNorm(m) => x.map(|t| m.forward(t), |t| m.forward(t)),
            _ => bad(&x),
        },
        Op::Dense(_) => match (module, x) {
            (NodeModule::Dense(m), Act::Flat(t)) => Act::Flat(m.forward(t)),
            (_, a) => bad(&a),
        },
        Op::Mask(_) => match module {
            NodeModule::Mask(m) => x.scale_channels(m.values.val()),
            _ => bad(&x),
        },
        Op::Gate(_) => match (module, gate) {
            (NodeModule::Gate(_), GateMode::Off) => x,
            (NodeModule::Gate(g), GateMode::Sample(beta)) => x.scale_channels(g.sample(beta)),
            (NodeModule::Gate(g), GateMode::Test) => x.scale_channels(g.test_gate()),
            _ => bad(&x),
        },
        Op::Dropout(_) => match module {
            NodeModule::Dropout(m) => x.map(|t| m.forward(t), |t| m.forward(t)),
            _ => bad(&x),
        },
        Op::MaxPool(_) => match (module, x) {
            (NodeModule::MaxPool(m), Act::Spatial(t)) => Act::Spatial(max_pool2d(m, t)),
            (_, a) => bad(&a),
        },
        Op::AvgPool(_) => match (module, x) {
            (NodeModule::AvgPool(m), Act::Spatial(t)) => Act::Spatial(m.forward(t)),
            (_, a) => bad(&a),
        },
        Op::Relu(_) => x.map(relu, relu),
        Op::Clip(c) => {
            let (lo, hi) = (f64::from(c.min), f64::from(c.max));
            x.map(|t| t.clamp(lo, hi), |t| t.clamp(lo, hi))
        }
        Op::Add(_) => match (x, inputs.swap_remove(0)) {
            (Act::Spatial(a), Act::Spatial(b)) => Act::Spatial(a + b),
            (Act::Flat(a), Act::Flat(b)) => Act::Flat(a + b),
            (a, _) => bad(&a),
        },
        Op::GlobalAvgPool(_) => match x {
            Act::Spatial(t) => Act::Spatial(t.mean_dim(3).mean_dim(2)),
            a => bad(&a),
        },
        Op::Flatten(_) => match x {
            Act::Spatial(t) => Act::Flat(t.flatten(1, 3)),
            a => bad(&a),
        },
        Op::Softmax(_) => match x {
            Act::Flat(t) => Act::Flat(softmax(t, 1)),
            a => bad(&a),
        },
    }
}
