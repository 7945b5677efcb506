//! [`relu_scale`]: `relu(x) · s[c]` (a ReLU and the Mask after it) in one pass forward and
//! one backward, instead of burn's four to six; plain and autodiff flex, burn's ops elsewhere.

use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use rayon::prelude::*;
use std::mem::MaybeUninit;

use super::conv2d::sum;
use super::flex::{Ad, AdTensor, On, on, tensor, values};

/// `y[n, c, ..] = max(x[n, c, ..], 0) · scale[c]`, as burn's `relu(x) * scale.reshape(..)`.
///
/// # Shapes
/// - x: `[n, c, h, w]`, scale: `[c]`, output: as x
///
/// # Panics
/// If `scale` does not have `c` values.
pub fn relu_scale(x: Tensor<4>, scale: Tensor<1>) -> Tensor<4> {
    let dims = x.dims();
    let c = scale.dims()[0];
    assert_eq!(
        c, dims[1],
        "a scale of {c} channels for an input of {}",
        dims[1]
    );
    let burn = |x, s: Tensor<1>| relu(x) * s.reshape([1, c, 1, 1]);
    if super::burn_ops() {
        return burn(x, scale);
    }
    let plane = dims[2] * dims[3];
    match (on(x.clone()), on(scale.clone())) {
        (On::Autodiff(xp), On::Autodiff(sp)) => {
            Tensor::from_primitive::<Ad>(tracked(dims, plane, xp, sp))
        }
        (On::Plain(xp), On::Plain(sp)) => {
            let y = forward(plane, &values(&xp), &values(&sp));
            Tensor::from_primitive::<Flex>(tensor(y, dims.to_vec()))
        }
        _ => burn(x, scale),
    }
}

/// Planes of `plane` values, plane `i` of channel `i mod c`.
fn forward(plane: usize, x: &[f32], s: &[f32]) -> Vec<f32> {
    if plane == 0 {
        return Vec::new();
    }
    let fill = |y: &mut [MaybeUninit<f32>]| {
        y.par_chunks_mut(plane)
            .zip(x.par_chunks(plane))
            .enumerate()
            .with_min_len(super::min_planes(plane))
            .for_each(|(i, (yp, xp))| {
                plane_forward(yp, xp, s[i % s.len()]);
            });
    };
    // SAFETY: `y` and `x` have the same length, so their chunks of `plane` pair up one to
    // one (the last possibly short in both) and each of `y`'s is written in full.
    unsafe { super::written(x.len(), fill) }
}

/// `dx = dy · s[c] · (x > 0)` and `ds[c] = Σ dy · relu(x)` over batch and plane.
fn backward(plane: usize, x: &[f32], s: &[f32], dy: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let c = s.len();
    assert_eq!(
        dy.len(),
        x.len(),
        "relu·scale: output gradient and input lengths"
    );
    if plane == 0 {
        return (Vec::new(), vec![0f32; c]);
    }
    let mut per_plane = Vec::new();
    let fill = |dx: &mut [MaybeUninit<f32>]| {
        per_plane = dx
            .par_chunks_mut(plane)
            .zip(x.par_chunks(plane).zip(dy.par_chunks(plane)))
            .enumerate()
            .with_min_len(super::min_planes(plane))
            .map(|(i, (dxp, (xp, gp)))| plane_backward(dxp, xp, gp, s[i % c]))
            .collect();
    };
    // SAFETY: as in `forward`: `dx`, `x` and `dy` (asserted) have one length, so the chunks
    // pair up one to one and every element of `dx` is written.
    let dx = unsafe { super::written(x.len(), fill) };
    (dx, scale_grad(&per_plane, c))
}

/// One plane of the forward: `y = max(x, 0) · m`, every element of `y` written.
pub(super) fn plane_forward(y: &mut [MaybeUninit<f32>], x: &[f32], m: f32) {
    for (a, &b) in y.iter_mut().zip(x) {
        a.write(b.max(0.0) * m);
    }
}

/// One plane of the backward: `dx = dy · m · (x > 0)` (every element written) and the
/// plane's `Σ dy · relu(x)`, the scale's gradient share.
pub(super) fn plane_backward(dx: &mut [MaybeUninit<f32>], x: &[f32], dy: &[f32], m: f32) -> f32 {
    // Lane j sums elements j, j + 8, j + 16, … in order, so the sums are the same whether
    // a plane is walked in chunks of 8 (which vectorize) or one by one (an index `k & 7`
    // into the lanes kept it scalar: this backward was ≈12% of a seed-net step in `perf`).
    let mut lanes = [0f32; 8];
    // Both products are formed whatever the sign, then kept or turned into +0.0 by a bit
    // mask: branch-free, so it vectorizes (LLVM made an `if` a branch on `x > 0`, which
    // mispredicts on about half of a ReLU's inputs). The same values as the `if` would give.
    let step = |d: &mut MaybeUninit<f32>, xv: f32, g: f32, lane: &mut f32| {
        let keep = u32::from(xv > 0.0).wrapping_neg();
        let on = |v: f32| f32::from_bits(v.to_bits() & keep);
        d.write(on(g * m));
        *lane += on(g * xv);
    };
    let mut dc = dx.chunks_exact_mut(8);
    let (mut xc, mut gc) = (x.chunks_exact(8), dy.chunks_exact(8));
    for ((d8, x8), g8) in (&mut dc).zip(&mut xc).zip(&mut gc) {
        for j in 0..8 {
            step(&mut d8[j], x8[j], g8[j], &mut lanes[j]);
        }
    }
    let rest = dc
        .into_remainder()
        .iter_mut()
        .zip(xc.remainder())
        .zip(gc.remainder());
    for (((d, &xv), &g), lane) in rest.zip(lanes.iter_mut()) {
        step(d, xv, g, lane);
    }
    sum(&lanes)
}

/// The scale's gradient from per-plane sums (plane `i` of channel `i mod c`), added in
/// plane order.
pub(super) fn scale_grad(per_plane: &[f32], c: usize) -> Vec<f32> {
    let mut ds = vec![0f32; c];
    for (i, v) in per_plane.iter().enumerate() {
        ds[i % c] += v;
    }
    ds
}

/// What the backward pass needs: the input, the scale and the plane size.
#[derive(Debug, Clone)]
struct State {
    x: FlexTensor,
    s: FlexTensor,
    plane: usize,
    dims: [usize; 4],
}

#[derive(Debug)]
struct ReluScaleBackward;

impl Backward<Flex, 2> for ReluScaleBackward {
    type State = State;

    fn backward(self, ops: Ops<State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let [nx, ns] = ops.parents;
        let st = ops.state;
        let (dx, ds) = backward(st.plane, &values(&st.x), &values(&st.s), &values(&dy));
        if let Some(node) = nx {
            grads.register::<Flex>(node.id, tensor(dx, st.dims.to_vec()));
        }
        if let Some(node) = ns {
            grads.register::<Flex>(node.id, tensor(ds, vec![st.dims[1]]));
        }
    }
}

fn tracked(dims: [usize; 4], plane: usize, x: AdTensor, s: AdTensor) -> AdTensor {
    let y = forward(plane, &values(x.primitive()), &values(s.primitive()));
    let y = tensor(y, dims.to_vec());
    match ReluScaleBackward
        .prepare::<NoCheckpointing>([x.node(), s.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(
            State {
                x: x.primitive().clone(),
                s: s.primitive().clone(),
                plane,
                dims,
            },
            y,
        ),
        OpsKind::UnTracked(prep) => prep.finish(y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::tests::{uniform, vals};
    use burn::tensor::{Device, TensorData};

    #[test]
    fn forward_and_both_gradients_equal_burns_relu_then_mask() {
        let dev = Device::flex().autodiff();
        let dims = [3, 5, 7, 6];
        let n: usize = dims.iter().product();
        let run = |burn: bool| {
            let x =
                Tensor::<4>::from_data(TensorData::new(uniform(n, 1), dims), &dev).require_grad();
            // One channel's scale is 0 (a pruned mask): its gradient must still flow.
            let mut sv = uniform(5, 2);
            sv[3] = 0.0;
            let s = Tensor::<1>::from_data(TensorData::new(sv, [5]), &dev).require_grad();
            assert!(x.clone().try_into_primitive::<Ad>().is_ok());
            let y = if burn {
                relu(x.clone()) * s.clone().reshape([1, 5, 1, 1])
            } else {
                relu_scale(x.clone(), s.clone())
            };
            let r = Tensor::<4>::from_data(TensorData::new(uniform(n, 3), dims), &dev);
            let grads = (y.clone() * r).sum().backward();
            let gx = vals(x.grad(&grads).unwrap_or_else(|| panic!("no x grad")));
            let gs = vals(s.grad(&grads).unwrap_or_else(|| panic!("no scale grad")));
            (vals(y), gx, gs)
        };
        let (want, got) = (run(true), run(false));
        // One product per element: exactly burn's forward and input gradient.
        assert_eq!(got.0, want.0, "forward");
        assert_eq!(got.1, want.1, "input gradient");
        // The scale gradient is a sum over 3·42 terms in another order.
        for (a, b) in got.2.iter().zip(&want.2) {
            assert!(
                (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                "scale gradient {a} vs {b}"
            );
        }
    }

    #[test]
    fn inference_equals_burns() {
        let dev = Device::flex();
        let x = Tensor::<4>::from_data(TensorData::new(uniform(120, 4), [2, 3, 4, 5]), &dev);
        let s = Tensor::<1>::from_data(TensorData::new(vec![0.5, -2.0, 0.0], [3]), &dev);
        let want = vals(relu(x.clone()) * s.clone().reshape([1, 3, 1, 1]));
        assert_eq!(vals(relu_scale(x, s)), want);
    }
}
