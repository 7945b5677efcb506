//! `Layer`: the runtime-built layer enum (one burn module per spec layer) and `Activation`,
//! the value flowing between layers (rank 4 before Flatten, rank 2 after).

use burn::module::Module;
use burn::nn::pool::MaxPool2d;
use burn::nn::{Dropout, Linear, conv::Conv2d};
use burn::tensor::Tensor;

use super::flatten::Flatten;
use super::mask::Mask;

/// One layer of a [`Net`](super::net::Net); index `i` matches `spec.layers[i]`.
#[derive(Module, Debug)]
pub enum Layer {
    /// Convolution (ReLU, if any, is applied by the net from the spec).
    Conv(Conv2d),
    /// Max pooling.
    Pool(MaxPool2d),
    /// Dropout.
    Dropout(Dropout),
    /// NCHW → flat.
    Flatten(Flatten),
    /// Fully connected (ReLU, if any, applied by the net).
    Dense(Linear),
    /// Per-channel mask.
    Mask(Mask),
}

/// An activation between layers.
#[derive(Debug, Clone)]
pub enum Activation {
    /// `[n, c, h, w]`.
    Spatial(Tensor<4>),
    /// `[n, features]`.
    Flat(Tensor<2>),
}

impl Activation {
    /// ReLU of either rank.
    pub fn relu(self) -> Self {
        match self {
            Self::Spatial(t) => Self::Spatial(burn::tensor::activation::relu(t)),
            Self::Flat(t) => Self::Flat(burn::tensor::activation::relu(t)),
        }
    }
}
