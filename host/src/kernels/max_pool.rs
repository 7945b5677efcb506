//! [`max_pool2d`]: unpadded max pooling that keeps each window's argmax for its backward
//! (a scatter of the output gradient); plain and autodiff flex, burn's op elsewhere.

use std::mem::MaybeUninit;
use std::sync::Arc;

use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::tensor::Tensor;
use burn::tensor::module::max_pool2d as burn_max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use rayon::prelude::*;

use super::flex::{Ad, AdTensor, On, on, tensor, values};

/// One pooling's shapes (no padding, no dilation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pool {
    planes: usize,
    h: usize,
    w: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    /// Output height.
    pub(super) oh: usize,
    /// Output width.
    pub(super) ow: usize,
}

impl Pool {
    pub(super) fn new(
        [n, c, h, w]: [usize; 4],
        kernel: [usize; 2],
        stride: [usize; 2],
    ) -> Option<Pool> {
        let ok = kernel[0] > 0 && kernel[1] > 0 && stride[0] > 0 && stride[1] > 0;
        if !ok || h < kernel[0] || w < kernel[1] {
            return None;
        }
        Some(Pool {
            planes: n * c,
            h,
            w,
            kernel,
            stride,
            oh: (h - kernel[0]) / stride[0] + 1,
            ow: (w - kernel[1]) / stride[1] + 1,
        })
    }

    /// Window maxima and, for each, its input position within the plane (first maximum
    /// in row-major window order).
    fn forward(&self, x: &[f32]) -> (Vec<f32>, Vec<u32>) {
        let (ip, op) = (self.h * self.w, self.oh * self.ow);
        let mut y = vec![0f32; self.planes * op];
        let mut arg = vec![0u32; self.planes * op];
        let halving = self.halving();
        y.par_chunks_mut(op)
            .zip(arg.par_chunks_mut(op))
            .zip(x.par_chunks(ip))
            .with_min_len(super::min_planes(ip))
            .for_each(|((yp, ap), xp)| {
                if halving {
                    return self.plane_2x2(xp, yp, ap);
                }
                for oy in 0..self.oh {
                    for ox in 0..self.ow {
                        let (y0, x0) = (oy * self.stride[0], ox * self.stride[1]);
                        let mut best = y0 * self.w + x0;
                        let mut m = xp[best];
                        for ky in 0..self.kernel[0] {
                            let row = (y0 + ky) * self.w + x0;
                            for (kx, &v) in xp[row..row + self.kernel[1]].iter().enumerate() {
                                if v > m {
                                    m = v;
                                    best = row + kx;
                                }
                            }
                        }
                        yp[oy * self.ow + ox] = m;
                        ap[oy * self.ow + ox] = best as u32;
                    }
                }
            });
        (y, arg)
    }

    /// 2×2 windows at stride 2, the pools with their own forward and backward paths.
    pub(super) fn halving(&self) -> bool {
        self.kernel == [2, 2] && self.stride == [2, 2]
    }

    /// [`Pool::forward`] of one plane for 2×2 windows at stride 2 (the seed nets' pools):
    /// two input rows at a time, the window's four values compared in row-major order with
    /// selects instead of the general loop's bounds-checked slices and branches (which made
    /// the pool ≈9% of a seed-net training step in `perf`). Same maxima, same first argmax.
    pub(super) fn plane_2x2(&self, xp: &[f32], yp: &mut [f32], ap: &mut [u32]) {
        let (w, ow) = (self.w, self.ow);
        for ((oy, yr), ar) in yp
            .chunks_exact_mut(ow)
            .enumerate()
            .zip(ap.chunks_exact_mut(ow))
        {
            let r = 2 * oy * w;
            let (r0, r1) = (&xp[r..r + w], &xp[r + w..r + 2 * w]);
            let pairs = r0.chunks_exact(2).zip(r1.chunks_exact(2));
            for (ox, ((y, a), (p0, p1))) in yr.iter_mut().zip(ar.iter_mut()).zip(pairs).enumerate()
            {
                let at = (r + 2 * ox) as u32;
                let (mut m, mut best) = (p0[0], at);
                for (v, i) in [
                    (p0[1], at + 1),
                    (p1[0], at + w as u32),
                    (p1[1], at + w as u32 + 1),
                ] {
                    let more = v > m;
                    m = if more { v } else { m };
                    best = if more { i } else { best };
                }
                *y = m;
                *a = best;
            }
        }
    }

    /// [`Pool::backward`] of one plane for 2×2 windows at stride 2: the windows do not
    /// overlap, so each input value is written once — its window's gradient where it was
    /// the argmax, else 0 (the odd last row and column, in no window, 0) — instead of
    /// zeroing the plane and scattering into it.
    pub(super) fn plane_2x2_back(&self, ap: &[u32], gp: &[f32], dp: &mut [MaybeUninit<f32>]) {
        let (w, ow) = (self.w, self.ow);
        for (oy, (ar, gr)) in ap.chunks_exact(ow).zip(gp.chunks_exact(ow)).enumerate() {
            let r = 2 * oy * w;
            let (d0, d1) = dp[r..r + 2 * w].split_at_mut(w);
            let pairs = d0.chunks_exact_mut(2).zip(d1.chunks_exact_mut(2));
            for (ox, ((&a, &g), (q0, q1))) in ar.iter().zip(gr).zip(pairs).enumerate() {
                let at = (r + 2 * ox) as u32;
                let v = |i: u32| if a == i { g } else { 0.0 };
                q0[0].write(v(at));
                q0[1].write(v(at + 1));
                q1[0].write(v(at + w as u32));
                q1[1].write(v(at + w as u32 + 1));
            }
            if w % 2 == 1 {
                d0[w - 1].write(0.0);
                d1[w - 1].write(0.0);
            }
        }
        for e in &mut dp[2 * self.oh * w..] {
            e.write(0.0);
        }
    }

    /// The input gradient: each output gradient added at its window's argmax.
    fn backward(&self, arg: &[u32], dy: &[f32]) -> Vec<f32> {
        let (ip, op) = (self.h * self.w, self.oh * self.ow);
        if self.halving() && ip > 0 {
            assert!(
                arg.len() == self.planes * op && dy.len() == arg.len(),
                "max pool gradient lengths"
            );
            let fill = |dx: &mut [MaybeUninit<f32>]| {
                dx.par_chunks_mut(ip)
                    .zip(arg.par_chunks(op.max(1)))
                    .zip(dy.par_chunks(op.max(1)))
                    .with_min_len(super::min_planes(ip))
                    .for_each(|((dp, ap), gp)| self.plane_2x2_back(ap, gp, dp));
            };
            // SAFETY: `dx` has `planes` planes of `ip` values and `arg`, `dy` (asserted)
            // `planes` of `op`, so each plane of `dx` gets its own, and `plane_2x2_back`
            // writes every value of it.
            return unsafe { super::written(self.planes * ip, fill) };
        }
        let mut dx = vec![0f32; self.planes * ip];
        dx.par_chunks_mut(ip)
            .zip(arg.par_chunks(op))
            .zip(dy.par_chunks(op))
            .with_min_len(super::min_planes(ip))
            .for_each(|((dp, ap), gp)| {
                for (&i, &g) in ap.iter().zip(gp) {
                    dp[i as usize] += g;
                }
            });
        dx
    }
}

/// Max pooling with `kernel` and `stride`, no padding, as burn's [`burn_max_pool2d`].
///
/// # Shapes
/// - input `[n, c, h, w]`, output `[n, c, (h − kh) / sh + 1, (w − kw) / sw + 1]`
pub fn max_pool2d(x: Tensor<4>, kernel: [usize; 2], stride: [usize; 2]) -> Tensor<4> {
    let burn = |x| burn_max_pool2d(x, MaxPoolOptions::new(kernel).with_stride(stride));
    let dims = x.dims();
    let Some(p) = Pool::new(dims, kernel, stride).filter(|_| !super::burn_ops()) else {
        return burn(x);
    };
    match on(x) {
        On::Autodiff(xp) => Tensor::from_primitive::<Ad>(tracked(p, dims, xp)),
        On::Plain(xp) => {
            let (y, _) = p.forward(&values(&xp));
            Tensor::from_primitive::<Flex>(tensor(y, vec![dims[0], dims[1], p.oh, p.ow]))
        }
        On::Other(x) => burn(x),
    }
}

/// The input shape and the argmax positions the backward pass scatters to.
#[derive(Debug, Clone)]
struct State {
    pool: Pool,
    dims: [usize; 4],
    arg: Arc<Vec<u32>>,
}

#[derive(Debug)]
struct MaxPoolBackward;

impl Backward<Flex, 1> for MaxPoolBackward {
    type State = State;

    fn backward(self, ops: Ops<State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let [parent] = ops.parents;
        if let Some(node) = parent {
            let s = ops.state;
            let dx = s.pool.backward(&s.arg, &values(&dy));
            grads.register::<Flex>(node.id, tensor(dx, s.dims.to_vec()));
        }
    }
}

fn tracked(p: Pool, dims: [usize; 4], x: AdTensor) -> AdTensor {
    let (y, arg) = p.forward(&values(x.primitive()));
    let y = tensor(y, vec![dims[0], dims[1], p.oh, p.ow]);
    match MaxPoolBackward
        .prepare::<NoCheckpointing>([x.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(
            State {
                pool: p,
                dims,
                arg: Arc::new(arg),
            },
            y,
        ),
        OpsKind::UnTracked(prep) => prep.finish(y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::tests::vals;
    use burn::tensor::{Device, TensorData};

    /// Distinct values (no ties: the argmax is unique) in a scrambled order.
    fn distinct(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 7919 + seed * 104_729) % 1_000_003) as f32 / 1000.0 - 500.0)
            .collect()
    }

    fn case(dims: [usize; 4], kernel: [usize; 2], stride: [usize; 2]) {
        let dev = Device::flex().autodiff();
        let n: usize = dims.iter().product();
        let run = |burn: bool| {
            let x =
                Tensor::<4>::from_data(TensorData::new(distinct(n, 1), dims), &dev).require_grad();
            assert!(x.clone().try_into_primitive::<Ad>().is_ok());
            let y = if burn {
                burn_max_pool2d(x.clone(), MaxPoolOptions::new(kernel).with_stride(stride))
            } else {
                let p = Pool::new(dims, kernel, stride).unwrap_or_else(|| panic!("no pool"));
                Tensor::from_primitive::<Ad>(tracked(
                    p,
                    dims,
                    x.clone()
                        .try_into_primitive::<Ad>()
                        .unwrap_or_else(|e| panic!("{e:?}")),
                ))
            };
            let yd = y.dims();
            let r = distinct(yd.iter().product(), 2);
            let grads = (y.clone() * Tensor::<4>::from_data(TensorData::new(r, yd), &dev))
                .sum()
                .backward();
            let gx = vals(x.grad(&grads).unwrap_or_else(|| panic!("no grad")));
            (yd, vals(y), gx)
        };
        let (want, got) = (run(true), run(false));
        assert_eq!(got.0, want.0, "output shape");
        // Maxima and scattered gradients are copies: exactly equal.
        assert_eq!(got.1, want.1, "forward");
        assert_eq!(got.2, want.2, "input gradient");
    }

    #[test]
    fn two_by_two_like_the_seed_nets_and_odd_sizes() {
        case([3, 5, 8, 8], [2, 2], [2, 2]);
        case([1, 2, 7, 9], [2, 2], [2, 2]);
    }

    /// The 2×2 fast path against the definition on values with many ties (odd sizes too):
    /// the window's maximum and its first position in row-major order, as the general loop
    /// and burn pick it.
    #[test]
    fn halving_path_equals_the_general_loop_with_ties() {
        for [h, w] in [[8, 8], [7, 9], [2, 2], [5, 4]] {
            let fast = Pool::new([2, 3, h, w], [2, 2], [2, 2]).unwrap_or_else(|| panic!("pool"));
            let x: Vec<f32> = (0..2 * 3 * h * w).map(|i| ((i * 37) % 5) as f32).collect();
            let (y, arg) = fast.forward(&x);
            let (ip, op) = (h * w, fast.oh * fast.ow);
            for (pl, (yp, ap)) in y.chunks(op).zip(arg.chunks(op)).enumerate() {
                let xp = &x[pl * ip..(pl + 1) * ip];
                for oy in 0..fast.oh {
                    for ox in 0..fast.ow {
                        let cands = [
                            2 * oy * w + 2 * ox,
                            2 * oy * w + 2 * ox + 1,
                            (2 * oy + 1) * w + 2 * ox,
                            (2 * oy + 1) * w + 2 * ox + 1,
                        ];
                        let mut best = cands[0];
                        for &c in &cands[1..] {
                            if xp[c] > xp[best] {
                                best = c;
                            }
                        }
                        assert_eq!(
                            yp[oy * fast.ow + ox],
                            xp[best],
                            "max at {h}x{w} ({oy},{ox})"
                        );
                        assert_eq!(ap[oy * fast.ow + ox] as usize, best, "argmax at {h}x{w}");
                    }
                }
            }
        }
    }

    #[test]
    fn overlapping_and_rectangular_windows() {
        case([2, 3, 9, 8], [3, 3], [2, 2]);
        case([2, 2, 6, 7], [2, 3], [1, 2]);
    }

    #[test]
    fn inference_equals_burns() {
        let dev = Device::flex();
        let x =
            Tensor::<4>::from_data(TensorData::new(distinct(2 * 3 * 64, 3), [2, 3, 8, 8]), &dev);
        let want = vals(burn_max_pool2d(
            x.clone(),
            MaxPoolOptions::new([2, 2]).with_stride([2, 2]),
        ));
        assert!(x.clone().try_into_primitive::<Flex>().is_ok());
        assert_eq!(vals(max_pool2d(x, [2, 2], [2, 2])), want);
    }
}
