//! `Flatten`: NCHW → `[N, C*H*W]`, channel-major, so channel c of the last conv is the
//! contiguous block `c*H*W..(c+1)*H*W` of the next dense layer's inputs.

use burn::module::Module;
use burn::tensor::Tensor;

/// Flatten all but the batch dimension (no parameters).
#[derive(Module, Debug, Default)]
pub struct Flatten;

impl Flatten {
    /// # Shapes
    /// - input: `[n, c, h, w]`
    /// - output: `[n, c*h*w]`
    pub fn forward(&self, input: Tensor<4>) -> Tensor<2> {
        input.flatten(1, 3)
    }
}
