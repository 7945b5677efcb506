//! `Mask`: a learnable per-channel scale (init 1) multiplied after a ReLU; the L1 method
//! pushes weak channels' scales to zero. Works on NCHW (channel dim 1) and `[batch, features]`.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};

/// Configuration of a [`Mask`].
#[derive(Config, Debug)]
pub struct MaskConfig {
    /// Number of channels (features) masked.
    pub channels: usize,
    /// Initial value of every scale.
    #[config(default = 1.0)]
    pub init: f32,
}

impl MaskConfig {
    /// A mask with every scale at `init`.
    ///
    /// # Panics
    /// If `channels` is 0.
    pub fn init(&self, device: &Device) -> Mask {
        assert!(self.channels > 0, "a mask needs at least one channel");
        Mask {
            values: Param::from_data(
                TensorData::new(vec![self.init; self.channels], [self.channels]),
                device,
            ),
        }
    }
}

/// Per-channel learnable scale: `y[n, c, ...] = x[n, c, ...] * m[c]`.
#[derive(Module, Debug)]
pub struct Mask {
    /// The scales, one per channel: `[channels]`.
    pub values: Param<Tensor<1>>,
}

impl Mask {
    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.values.dims()[0]
    }

    /// Scale each channel of `input`.
    ///
    /// # Shapes
    /// - input: `[batch, channels, ...]` (rank 2 to 4; channel dim 1)
    /// - output: same as input
    ///
    /// # Panics
    /// If `D < 2` or the channel count differs from the mask's.
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        assert!(D >= 2, "mask input needs a batch and a channel dimension");
        let channels = self.channels();
        let found = input.dims()[1];
        assert_eq!(
            found, channels,
            "mask of {channels} channels got input with {found}"
        );
        let mut shape = [1usize; D];
        shape[1] = channels;
        input * self.values.val().reshape(shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vec(t: Tensor<1>) -> Vec<f32> {
        t.into_data()
            .try_to_vec::<f32>()
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn mask(values: &[f32], dev: &Device) -> Mask {
        Mask {
            values: Param::from_data(TensorData::new(values.to_vec(), [values.len()]), dev),
        }
    }

    #[test]
    fn init_is_ones_and_forward_rank2_scales_columns() {
        let dev = Device::flex();
        let m = MaskConfig::new(3).init(&dev);
        assert_eq!(vec(m.values.val()), vec![1.0; 3]);
        let m = mask(&[1.0, 0.5, 2.0], &dev);
        let x = Tensor::<2>::from_data([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], &dev);
        let y = m
            .forward(x)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(y, vec![1.0, 1.0, 6.0, 4.0, 2.5, 12.0]);
    }

    #[test]
    fn backward_rank2_by_hand() {
        // loss = sum(x * m): d/dm_c = sum_n x[n, c]; d/dx[n, c] = m_c.
        let dev = Device::flex().autodiff();
        let m = mask(&[1.0, 0.5, 2.0], &dev);
        let x = Tensor::<2>::from_data([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], &dev).require_grad();
        let grads = m.forward(x.clone()).sum().backward();
        let gm = m
            .values
            .val()
            .grad(&grads)
            .unwrap_or_else(|| panic!("no mask grad"));
        assert_eq!(vec(gm), vec![5.0, 7.0, 9.0]);
        let gx = x.grad(&grads).unwrap_or_else(|| panic!("no input grad"));
        assert_eq!(
            gx.into_data()
                .try_to_vec::<f32>()
                .unwrap_or_else(|e| panic!("{e:?}")),
            vec![1.0, 0.5, 2.0, 1.0, 0.5, 2.0]
        );
    }

    #[test]
    fn backward_rank4_channel_dim_1_by_hand() {
        // x: [1, 2, 2, 2]; channel 0 = [1, 2, 3, 4], channel 1 = [-1, 0, 1, 2].
        // loss = sum((x * m)^2): d/dm_c = 2 * m_c * sum(x_c^2) = 2*3*30 = 180 and 2*(-1)*6 = -12.
        let dev = Device::flex().autodiff();
        let m = mask(&[3.0, -1.0], &dev);
        let x = Tensor::<4>::from_data(
            [[[[1.0, 2.0], [3.0, 4.0]], [[-1.0, 0.0], [1.0, 2.0]]]],
            &dev,
        );
        let y = m.forward(x);
        assert_eq!(
            y.clone()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap_or_else(|e| panic!("{e:?}")),
            vec![3.0, 6.0, 9.0, 12.0, 1.0, 0.0, -1.0, -2.0]
        );
        let grads = (y.clone() * y).sum().backward();
        let gm = m
            .values
            .val()
            .grad(&grads)
            .unwrap_or_else(|| panic!("no mask grad"));
        assert_eq!(vec(gm), vec![180.0, -12.0]);
    }
}
