//! [`conv_relu_scale`]: a conv with its bias, the ReLU and the Mask after it as one op on
//! flex: the ReLU·mask runs image by image right after the conv's product (forward) and
//! right before its gradients (backward), while the image is in cache.

use std::cell::RefCell;
use std::mem::MaybeUninit;

use burn::backend::Flex;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::tensor::Tensor;
use burn::tensor::ops::ConvOptions;
use rayon::prelude::*;

use super::conv2d::{self as k, Geometry};
use super::flex::{Ad, AdTensor, On, on, tensor, values};
use super::relu_scale::{plane_backward, plane_forward, scale_grad};

/// `y = relu(conv2d(x, w) + b) · scale[c]`: [`super::conv2d`] then [`super::relu_scale`],
/// the same values bit for bit (and gradients: the same sums in the same order), in one
/// pass over the output instead of three.
///
/// # Shapes
/// - x: `[n, c, h, w]`, weight: `[co, c, kh, kw]`, bias and scale: `[co]`, output
///   `[n, co, oh, ow]`
///
/// # Panics
/// If `scale` does not have `co` values.
pub fn conv_relu_scale(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Tensor<1>,
    options: ConvOptions<2>,
    scale: Tensor<1>,
) -> Tensor<4> {
    let co = weight.dims()[0];
    assert_eq!(
        scale.dims()[0],
        co,
        "a scale of {} channels for a conv of {co}",
        scale.dims()[0]
    );
    let geometry = super::conv_op::geometry(&x, &weight, &options)
        .filter(|g| g.p() > 0 && g.c * g.h * g.w > 0 && !super::burn_ops());
    let Some(g) = geometry else {
        return super::relu_scale(super::conv2d(x, weight, Some(bias), options), scale);
    };
    match (
        on(x.clone()),
        on(weight.clone()),
        on(bias.clone()),
        on(scale.clone()),
    ) {
        (On::Autodiff(xp), On::Autodiff(wp), On::Autodiff(bp), On::Autodiff(sp)) => {
            Tensor::from_primitive::<Ad>(tracked(g, [xp, wp, bp, sp]))
        }
        (On::Plain(xp), On::Plain(wp), On::Plain(bp), On::Plain(sp)) => {
            let (y, _) = forward(&g, [&xp, &wp, &bp, &sp], false);
            Tensor::from_primitive::<Flex>(y)
        }
        _ => super::relu_scale(super::conv2d(x, weight, Some(bias), options), scale),
    }
}

/// The output shape `[n, co, oh, ow]`.
fn out_shape(g: &Geometry) -> Vec<usize> {
    let [oh, ow] = g.output().unwrap_or([0, 0]);
    vec![g.n, g.co, oh, ow]
}

/// `y` and, with `keep` (for the backward pass), the conv's output `z` before the ReLU.
fn forward(
    g: &Geometry,
    [x, w, b, s]: [&FlexTensor; 4],
    keep: bool,
) -> (FlexTensor, Option<FlexTensor>) {
    let (x, w, b, s) = (values(x), values(w), values(b), values(s));
    let (y, z) = slices_forward(g, &x, &w, &b, &s, keep);
    (tensor(y, out_shape(g)), z.map(|z| tensor(z, out_shape(g))))
}

/// [`forward`] on slices. The geometry has an output and input channels.
fn slices_forward(
    g: &Geometry,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    s: &[f32],
    keep: bool,
) -> (Vec<f32>, Option<Vec<f32>>) {
    let (p, img) = (g.p(), g.c * g.h * g.w);
    let out = g.co * p;
    assert_eq!(x.len(), g.n * img, "conv input length");
    assert_eq!(w.len(), g.co * g.k(), "conv weight length");
    assert!(b.len() == g.co && s.len() == g.co, "bias and scale lengths");
    if !keep {
        // The ReLU·scale in place over each image's conv output.
        let fill = |y: &mut [MaybeUninit<f32>]| {
            y.par_chunks_mut(out)
                .zip(x.par_chunks(img))
                .for_each(|(yn, xn)| {
                    let zn = k::image_forward(g, xn, w, Some(b), yn);
                    for (row, &m) in zn.chunks_mut(p).zip(s) {
                        row.iter_mut().for_each(|v| *v = v.max(0.0) * m);
                    }
                });
        };
        // SAFETY: `x` holds `n` images (asserted): the `n` chunks of `co · p` pair up with
        // them, and `image_forward` writes each in full.
        return (unsafe { super::written(g.n * out, fill) }, None);
    }
    let mut y = Vec::new();
    let fill_z = |z: &mut [MaybeUninit<f32>]| {
        let fill_y = |yb: &mut [MaybeUninit<f32>]| {
            z.par_chunks_mut(out)
                .zip(yb.par_chunks_mut(out))
                .zip(x.par_chunks(img))
                .for_each(|((zn, yn), xn)| {
                    let zn = k::image_forward(g, xn, w, Some(b), zn);
                    for ((yr, zr), &m) in yn.chunks_mut(p).zip(zn.chunks(p)).zip(s) {
                        plane_forward(yr, zr, m);
                    }
                });
        };
        // SAFETY: as above, with `y`'s chunks paired with `z`'s, each written in full by
        // `plane_forward` (`co` planes of `p`).
        y = unsafe { super::written(g.n * out, fill_y) };
    };
    // SAFETY: each chunk of `z` is written in full by `image_forward`.
    let z = unsafe { super::written(g.n * out, fill_z) };
    (y, Some(z))
}

thread_local! {
    /// Each thread's buffer for one image's conv-output gradient (the ReLU·scale's input
    /// gradient), overwritten in full before every use.
    static GRAD: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Which gradients the backward pass must produce.
#[derive(Debug, Clone, Copy)]
struct Need {
    x: bool,
    /// Weight and bias.
    wb: bool,
    s: bool,
}

/// The gradients [`Need`] asks for: input, (weight, bias), scale.
type Grads = (
    Option<Vec<f32>>,
    Option<(Vec<f32>, Vec<f32>)>,
    Option<Vec<f32>>,
);

/// The backward pass on slices, per share of the batch as [`k::weight_grad`] splits it:
/// each image's `dz = dy · s · (z > 0)` into this thread's buffer, then its input and
/// weight gradients from it.
#[allow(clippy::too_many_arguments)]
fn slices_backward(
    g: &Geometry,
    x: &[f32],
    w: &[f32],
    z: &[f32],
    s: &[f32],
    dy: &[f32],
    need: Need,
) -> Grads {
    let (p, img) = (g.p(), g.c * g.h * g.w);
    let out = g.co * p;
    assert!(
        dy.len() == g.n * out && z.len() == g.n * out,
        "conv·relu·scale: output gradient and kept output lengths"
    );
    let per = g.share();
    let shares = g.n.div_ceil(per);
    let mut dx = need.x.then(|| vec![0f32; g.n * img]);
    let dx_shares: Vec<Option<&mut [f32]>> = match &mut dx {
        Some(d) => d.chunks_mut(img * per).map(Some).collect(),
        None => (0..shares).map(|_| None).collect(),
    };
    let mut planes = vec![0f32; g.n * g.co];
    let partial: Vec<(Vec<f32>, Vec<f32>)> = dx_shares
        .into_par_iter()
        .zip(planes.par_chunks_mut(g.co * per))
        .zip(x.par_chunks(img * per))
        .zip(dy.par_chunks(out * per).zip(z.par_chunks(out * per)))
        .map(|(((mut dxs, pl), xs), (dys, zs))| {
            let mut acc = need
                .wb
                .then(|| (vec![0f32; g.co * g.k()], vec![0f32; g.co]));
            let images = xs.chunks(img).zip(dys.chunks(out)).zip(zs.chunks(out));
            for (i, ((xn, dyn_), zn)) in images.enumerate() {
                GRAD.with_borrow_mut(|buf| {
                    if buf.len() < out {
                        buf.resize(out, 0.0);
                    }
                    let gn = &mut buf[..out];
                    // SAFETY: viewing initialized f32s as `MaybeUninit<f32>` to be
                    // overwritten; `plane_backward` writes only initialized values.
                    let gu = unsafe { &mut *(gn as *mut [f32] as *mut [MaybeUninit<f32>]) };
                    let rows = gu.chunks_mut(p).zip(zn.chunks(p)).zip(dyn_.chunks(p));
                    for (c, ((gr, zr), dr)) in rows.enumerate() {
                        pl[i * g.co + c] = plane_backward(gr, zr, dr, s[c]);
                    }
                    let gn = &*gn;
                    if let Some(d) = dxs.as_deref_mut() {
                        k::image_input_grad(g, w, gn, &mut d[i * img..(i + 1) * img]);
                    }
                    if let Some((dw, db)) = &mut acc {
                        k::image_weight_grad(g, xn, gn, i == 0, (dw, db));
                    }
                });
            }
            acc.unwrap_or_default()
        })
        .collect();
    let wb = need.wb.then(|| g.weight_grad_total(partial));
    let ds = need.s.then(|| scale_grad(&planes, g.co));
    (dx, wb, ds)
}

/// What the backward pass needs: the input, weight, kept conv output, scale, shapes.
#[derive(Debug, Clone)]
struct State {
    x: FlexTensor,
    w: FlexTensor,
    z: FlexTensor,
    s: FlexTensor,
    g: Geometry,
}

#[derive(Debug)]
struct ConvReluScale;

impl Backward<Flex, 4> for ConvReluScale {
    type State = State;

    fn backward(self, ops: Ops<State, 4>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let [nx, nw, nb, ns]: [Option<NodeId>; 4] = ops.parents.map(|p| p.map(|n| n.id));
        let st = ops.state;
        let g = st.g;
        let need = Need {
            x: nx.is_some(),
            wb: nw.is_some() || nb.is_some(),
            s: ns.is_some(),
        };
        let (x, w, z, s) = (values(&st.x), values(&st.w), values(&st.z), values(&st.s));
        let (dx, wb, ds) = slices_backward(&g, &x, &w, &z, &s, &values(&dy), need);
        if let (Some(id), Some(dx)) = (nx, dx) {
            grads.register::<Flex>(id, tensor(dx, vec![g.n, g.c, g.h, g.w]));
        }
        if let Some((dw, db)) = wb {
            if let Some(id) = nw {
                let shape = vec![g.co, g.c, g.kernel[0], g.kernel[1]];
                grads.register::<Flex>(id, tensor(dw, shape));
            }
            if let Some(id) = nb {
                grads.register::<Flex>(id, tensor(db, vec![g.co]));
            }
        }
        if let (Some(id), Some(ds)) = (ns, ds) {
            grads.register::<Flex>(id, tensor(ds, vec![g.co]));
        }
    }
}

/// The forward on the autodiff backend, registering the hand-written backward.
fn tracked(g: Geometry, [x, w, b, s]: [AdTensor; 4]) -> AdTensor {
    let prims = [x.primitive(), w.primitive(), b.primitive(), s.primitive()];
    match ConvReluScale
        .prepare::<NoCheckpointing>([x.node(), w.node(), b.node(), s.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (y, z) = forward(&g, prims, true);
            let state = State {
                x: x.primitive().clone(),
                w: w.primitive().clone(),
                z: z.unwrap_or_else(|| unreachable!("kept when asked")),
                s: s.primitive().clone(),
                g,
            };
            prep.finish(state, y)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(&g, prims, false).0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn vals<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data()
            .try_to_vec::<f32>()
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn uniform(len: usize, seed: u64) -> Vec<f32> {
        let mut r = crate::rng::SplitMix64::new(seed);
        (0..len)
            .map(|_| (r.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0)
            .collect()
    }

    /// Forward and the four gradients of the fused op, against whittle's conv followed by
    /// its relu·scale: equal bit for bit (the same sums in the same order), for an input
    /// that needs no gradient too (a net's first conv), on 'same' 3×3, stride 2 with
    /// asymmetric padding, and 1×1.
    #[test]
    fn equals_the_conv_then_the_relu_scale_bit_for_bit() {
        let cases = [
            (5, 4, [9, 11], 6, [3, 3], [1, 1], [(1, 1), (1, 1)], true),
            (3, 3, [8, 7], 5, [3, 3], [2, 2], [(0, 1), (1, 0)], true),
            (4, 7, [5, 6], 3, [1, 1], [1, 1], [(0, 0), (0, 0)], false),
        ];
        let dev = Device::flex().autodiff();
        for (n, c, [h, wd], co, kernel, stride, pad, x_grad) in cases {
            let seed = (n * 31 + c) as u64;
            let opts = ConvOptions::new_with_padding(stride, pad, [1, 1], 1);
            let xd = TensorData::new(uniform(n * c * h * wd, seed), [n, c, h, wd]);
            let ks = co * c * kernel[0] * kernel[1];
            let wd_ = TensorData::new(uniform(ks, seed + 1), [co, c, kernel[0], kernel[1]]);
            let bd = TensorData::new(uniform(co, seed + 2), [co]);
            // One channel's scale is 0 (a snapped mask): its gradient must still flow.
            let mut sv = uniform(co, seed + 3);
            sv[1] = 0.0;
            let sd = TensorData::new(sv, [co]);
            let run = |fused: bool| {
                let mut xt = Tensor::<4>::from_data(xd.clone(), &dev);
                if x_grad {
                    xt = xt.require_grad();
                }
                let wt = Tensor::<4>::from_data(wd_.clone(), &dev).require_grad();
                let bt = Tensor::<1>::from_data(bd.clone(), &dev).require_grad();
                let st = Tensor::<1>::from_data(sd.clone(), &dev).require_grad();
                // The fused path's conditions hold (else it would fall back to the unfused
                // ops and the comparison would prove nothing).
                let ad = |t: On<1>| matches!(t, On::Autodiff(_));
                assert!(ad(on(bt.clone())) && ad(on(st.clone())));
                assert!(matches!(on(wt.clone()), On::Autodiff(_)));
                assert!(super::super::conv_op::geometry(&xt, &wt, &opts).is_some());
                let y = if fused {
                    conv_relu_scale(xt.clone(), wt.clone(), bt.clone(), opts.clone(), st.clone())
                } else {
                    let z = super::super::conv2d(
                        xt.clone(),
                        wt.clone(),
                        Some(bt.clone()),
                        opts.clone(),
                    );
                    super::super::relu_scale(z, st.clone())
                };
                let dims = y.dims();
                let r = TensorData::new(uniform(dims.iter().product(), seed + 4), dims);
                let yv = vals(y.clone());
                let grads = (y * Tensor::<4>::from_data(r, &dev)).sum().backward();
                let gx = xt.grad(&grads).map(vals);
                let g4 = |t: &Tensor<4>| vals(t.grad(&grads).unwrap_or_else(|| panic!("no grad")));
                let g1 = |t: &Tensor<1>| vals(t.grad(&grads).unwrap_or_else(|| panic!("no grad")));
                (yv, gx, g4(&wt), g1(&bt), g1(&st))
            };
            let (want, got) = (run(false), run(true));
            assert!(want.0.iter().any(|v| *v > 0.0) && want.0.contains(&0.0));
            assert_eq!(got.0, want.0, "forward {kernel:?} {stride:?}");
            assert_eq!(got.1.is_some(), x_grad, "input gradient present");
            assert_eq!(got.1, want.1, "input gradient {kernel:?} {stride:?}");
            assert_eq!(got.2, want.2, "weight gradient {kernel:?} {stride:?}");
            assert_eq!(got.3, want.3, "bias gradient {kernel:?} {stride:?}");
            assert_eq!(got.4, want.4, "scale gradient {kernel:?} {stride:?}");
        }
    }

    #[test]
    fn inference_on_the_plain_device_equals_the_unfused_ops() {
        let dev = Device::flex();
        let x = Tensor::<4>::from_data(TensorData::new(uniform(1080, 5), [3, 4, 10, 9]), &dev);
        let w = Tensor::<4>::from_data(TensorData::new(uniform(216, 6), [6, 4, 3, 3]), &dev);
        let b = Tensor::<1>::from_data(TensorData::new(uniform(6, 7), [6]), &dev);
        let s = Tensor::<1>::from_data(TensorData::new(uniform(6, 8), [6]), &dev);
        let o = ConvOptions::new_with_padding([1, 1], [(1, 1), (1, 1)], [1, 1], 1);
        let z = super::super::conv2d(x.clone(), w.clone(), Some(b.clone()), o.clone());
        let want = vals(super::super::relu_scale(z, s.clone()));
        assert_eq!(vals(conv_relu_scale(x, w, b, o, s)), want);
    }
}
