//! The op vocabulary of the graph IR: one file per op kind, each implementing [`OpKind`]
//! (shape inference, cost, channel role, parameter tensors); [`Op`] dispatches to them with
//! one exhaustive match, so a new op kind fails to compile until every fact about it exists.

mod activation;
mod add;
mod batch_norm;
mod conv;
mod dense;
mod dropout;
mod flatten;
mod gate;
mod mask;
mod pool;
mod softmax;

pub use activation::{Clip, Relu};
pub use add::Add;
pub use batch_norm::BatchNorm;
pub use conv::Conv2d;
pub use dense::Dense;
pub use dropout::Dropout;
pub use flatten::Flatten;
pub use gate::Gate;
pub use mask::Mask;
pub use pool::{AvgPool, GlobalAvgPool, MaxPool};
pub use softmax::Softmax;

use serde::{Deserialize, Serialize};

use super::shape::Shape;

/// How an op relates its output channels to its inputs' (Torch-Pruning's dependency kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Reads its input along an input axis and makes new output channels (Conv, Dense).
    Producer,
    /// Same channels as its input, with a parameter per channel (BatchNorm, Mask, Gate).
    ChannelWise,
    /// Same channels as its input, nothing to cut (ReLU, pools, Dropout).
    PassThrough,
    /// Same channels, each now a block of `h·w` consecutive features (NCHW flatten).
    Flatten,
    /// Several inputs whose channels are the same channels (residual Add).
    Join,
    /// Mixes its input's channels without weights (Softmax): that group can't be cut.
    Barrier,
}

/// What a parameter tensor is, for penalties, parameter groups and export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// A conv or dense kernel (L1/L2-penalized weights).
    Kernel,
    /// A bias.
    Bias,
    /// Mask values.
    Mask,
    /// Hard-concrete gate log α.
    Gate,
    /// BatchNorm γ.
    BnScale,
    /// BatchNorm β.
    BnShift,
    /// BatchNorm running mean (state, not trained).
    BnMean,
    /// BatchNorm running variance (state, not trained).
    BnVar,
}

/// One parameter tensor of a node, in burn's layout, with the axes surgery cuts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamDecl {
    /// `weight`, `bias`, `values`, `log_alpha`, `gamma`, `beta`, `running_mean`, `running_var`.
    pub name: &'static str,
    /// Dimensions (burn layout: Conv `[out, in, kh, kw]`, Dense `[in, out]`).
    pub shape: Vec<usize>,
    /// Axis of the node's output channels, if any.
    pub out_axis: Option<usize>,
    /// Axis of the node's input channels (features), if any.
    pub in_axis: Option<usize>,
    /// What it is.
    pub kind: ParamKind,
}

/// Cost of one node: multiply-accumulates, trainable parameters, int8 flash bytes. Real
/// numbers so that fractional (expected) channel counts interpolate the integer cost.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Cost {
    /// Multiply-accumulates per image.
    pub macs: f64,
    /// Trainable weights and biases (BatchNorm γ/β included, masks and gates excluded).
    pub params: f64,
    /// int8 constant bytes of the deployed op, from `shared`'s format (weights, bias,
    /// requantization); BatchNorm folds into its conv and costs nothing.
    pub flash: f64,
}

impl std::ops::AddAssign for Cost {
    fn add_assign(&mut self, o: Cost) {
        self.macs += o.macs;
        self.params += o.params;
        self.flash += o.flash;
    }
}

/// Input to [`OpKind::cost`]: the shapes, and the (possibly fractional) channel counts
/// `cin` (features, for a flat input) and `cout` that the widths being priced give.
#[derive(Debug, Clone, Copy)]
pub struct CostArgs {
    /// Shape of the first input (unpruned).
    pub input: Shape,
    /// Shape of the output (unpruned).
    pub output: Shape,
    /// Channels (features) of the first input under the priced widths.
    pub cin: f64,
    /// Channels (features) of the output under the priced widths.
    pub cout: f64,
}

/// The facts every op kind provides.
pub trait OpKind {
    /// The op's name as spec files and messages spell it.
    fn name(&self) -> &'static str;
    /// Number of inputs.
    fn arity(&self) -> usize {
        1
    }
    /// Output shape from the input shapes (already counted to [`arity`](Self::arity)), or
    /// what is wrong with them.
    fn infer(&self, inputs: &[Shape]) -> Result<Shape, String>;
    /// How output channels relate to input channels.
    fn role(&self) -> Role;
    /// Parameter tensors for these shapes (none by default).
    fn params(&self, _inputs: &[Shape], _output: Shape) -> Vec<ParamDecl> {
        Vec::new()
    }
    /// Cost (zero by default).
    fn cost(&self, _args: &CostArgs) -> Cost {
        Cost::default()
    }
}

/// One node's operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Op {
    /// 2-D convolution.
    Conv2d(Conv2d),
    /// Batch normalization over channels.
    BatchNorm(BatchNorm),
    /// max(x, 0).
    Relu(Relu),
    /// min(max(x, lo), hi) (ReLU6 is 0..6).
    Clip(Clip),
    /// Learnable per-channel scale (the L1 method's mask).
    Mask(Mask),
    /// Hard-concrete L0 gate per channel.
    Gate(Gate),
    /// Elementwise sum of two same-shaped values.
    Add(Add),
    /// Max pooling.
    MaxPool(MaxPool),
    /// Average pooling.
    AvgPool(AvgPool),
    /// Mean over height and width.
    GlobalAvgPool(GlobalAvgPool),
    /// `[c, h, w]` → `[c·h·w]`, channel-major.
    Flatten(Flatten),
    /// Fully connected layer.
    Dense(Dense),
    /// Dropout (training only).
    Dropout(Dropout),
    /// Softmax over features (evaluation only; dropped for int8 deployment).
    Softmax(Softmax),
}

impl Op {
    /// The op's facts.
    pub fn kind(&self) -> &dyn OpKind {
        match self {
            Op::Conv2d(o) => o,
            Op::BatchNorm(o) => o,
            Op::Relu(o) => o,
            Op::Clip(o) => o,
            Op::Mask(o) => o,
            Op::Gate(o) => o,
            Op::Add(o) => o,
            Op::MaxPool(o) => o,
            Op::AvgPool(o) => o,
            Op::GlobalAvgPool(o) => o,
            Op::Flatten(o) => o,
            Op::Dense(o) => o,
            Op::Dropout(o) => o,
            Op::Softmax(o) => o,
        }
    }

    /// Short name.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// Output channels of a producer (Conv2d, Dense), the prunable width.
    pub fn width(&self) -> Option<usize> {
        match self {
            Op::Conv2d(c) => Some(c.out),
            Op::Dense(d) => Some(d.out),
            _ => None,
        }
    }

    /// The same producer with `out` output channels (other ops unchanged).
    pub fn with_width(&self, out: usize) -> Op {
        match self {
            Op::Conv2d(c) => Op::Conv2d(Conv2d { out, ..c.clone() }),
            Op::Dense(d) => Op::Dense(Dense { out, ..d.clone() }),
            other => other.clone(),
        }
    }
}

/// The bias tensor of a producer with `out` output channels.
pub(crate) fn bias_decl(out: usize) -> ParamDecl {
    ParamDecl {
        name: "bias",
        shape: vec![out],
        out_axis: Some(0),
        in_axis: None,
        kind: ParamKind::Bias,
    }
}

/// int8 flash bytes of a conv or dense op with `cout` output channels and `taps` weights per
/// output channel: one byte per weight plus the per-channel bias and requantization that
/// `shared`'s format stores.
pub(crate) fn int8_flash(cout: f64, taps: f64) -> f64 {
    cout * taps * whittle_shared::cost::INT8_BYTES_PER_WEIGHT as f64
        + cout * whittle_shared::cost::INT8_BYTES_PER_OUTPUT_CHANNEL as f64
}
