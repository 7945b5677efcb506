//! Moving f32 values between burn tensors and slices for whittle's kernels: the flex
//! downcasts (plain and autodiff) and contiguous host views.

use std::borrow::Cow;

use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::tensor::{DType, Tensor, TensorData};

/// The training backend whittle's kernels serve (burn's default checkpointing: none).
pub type Ad = Autodiff<Flex>;

/// A float primitive of the autodiff flex backend.
pub type AdTensor = burn::backend::tensor::FloatTensor<Ad>;

/// Where a tensor lives, as whittle's kernels see it.
pub enum On<const D: usize> {
    /// On autodiff flex, f32.
    Autodiff(AdTensor),
    /// On plain flex, f32.
    Plain(FlexTensor),
    /// Anywhere else (another backend, another dtype): burn's ops handle it.
    Other(Tensor<D>),
}

/// Which of [`On`]'s cases `t` is (cheap: tensors share their buffers).
pub fn on<const D: usize>(t: Tensor<D>) -> On<D> {
    if let Ok(p) = t.clone().try_into_primitive::<Ad>()
        && is_f32(p.primitive())
    {
        return On::Autodiff(p);
    }
    if let Ok(p) = t.clone().try_into_primitive::<Flex>()
        && is_f32(&p)
    {
        return On::Plain(p);
    }
    On::Other(t)
}

/// Whether a flex tensor holds f32.
pub fn is_f32(t: &FlexTensor) -> bool {
    t.dtype() == DType::F32
}

/// The values of an f32 flex tensor, row-major (borrowed when already contiguous).
pub fn values(t: &FlexTensor) -> Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(t.to_contiguous().as_slice::<f32>().unwrap_or(&[]).to_vec()),
    }
}

/// A flex tensor of `v` in `shape`.
pub fn tensor(v: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(v, shape))
}
