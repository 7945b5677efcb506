//! [`conv_relu_scale`] and [`conv_relu_scale_pool`]: a conv with its bias, the ReLU and
//! the Mask after it (and a 2×2 max pool after those) as one op on flex: the rest runs image
//! by image right after the conv's product (forward) and right before its gradients
//! (backward), while the image is in cache.

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::sync::Arc;

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
use super::max_pool::Pool;
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
    block(x, weight, bias, options, scale, false)
}

/// [`conv_relu_scale`] then a 2×2 max pool at stride 2 ([`super::max_pool2d`]), bit for
/// bit; the full-size activation and its gradient never leave the image's buffer.
///
/// # Shapes
/// - as [`conv_relu_scale`], output `[n, co, oh / 2, ow / 2]` (rounded down)
///
/// # Panics
/// If `scale` does not have `co` values.
pub fn conv_relu_scale_pool(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Tensor<1>,
    options: ConvOptions<2>,
    scale: Tensor<1>,
) -> Tensor<4> {
    block(x, weight, bias, options, scale, true)
}

/// Both ops: whittle's fused kernels where they apply, else the ops one by one.
fn block(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Tensor<1>,
    options: ConvOptions<2>,
    scale: Tensor<1>,
    pooled: bool,
) -> Tensor<4> {
    let co = weight.dims()[0];
    assert_eq!(
        scale.dims()[0],
        co,
        "a scale of {} channels for a conv of {co}",
        scale.dims()[0]
    );
    let unfused = |x, w, b, o, s| {
        let y = super::relu_scale(super::conv2d(x, w, Some(b), o), s);
        if pooled {
            super::max_pool2d(y, [2, 2], [2, 2])
        } else {
            y
        }
    };
    let geometry = super::conv_op::geometry(&x, &weight, &options)
        .filter(|g| g.p() > 0 && g.c * g.h * g.w > 0 && !super::burn_ops());
    let Some(g) = geometry else {
        return unfused(x, weight, bias, options, scale);
    };
    let [oh, ow] = g.output().unwrap_or([0, 0]);
    let pool = match pooled {
        true => match Pool::new([g.n, g.co, oh, ow], [2, 2], [2, 2]) {
            Some(p) => Some(p),
            None => return unfused(x, weight, bias, options, scale),
        },
        false => None,
    };
    match (
        on(x.clone()),
        on(weight.clone()),
        on(bias.clone()),
        on(scale.clone()),
    ) {
        (On::Autodiff(xp), On::Autodiff(wp), On::Autodiff(bp), On::Autodiff(sp)) => {
            Tensor::from_primitive::<Ad>(tracked(g, pool, [xp, wp, bp, sp]))
        }
        (On::Plain(xp), On::Plain(wp), On::Plain(bp), On::Plain(sp)) => {
            let out = forward(&g, pool.as_ref(), [&xp, &wp, &bp, &sp], false);
            Tensor::from_primitive::<Flex>(out.y)
        }
        _ => unfused(x, weight, bias, options, scale),
    }
}

/// What the forward pass gives: the output, and when kept for the backward pass the conv's
/// output before the ReLU and the pool's argmax positions.
struct Forward {
    y: FlexTensor,
    z: Option<FlexTensor>,
    arg: Option<Vec<u32>>,
}

/// The output shape `[n, co, oh, ow]` (after the pool when there is one).
fn out_shape(g: &Geometry, pool: Option<&Pool>) -> Vec<usize> {
    let [oh, ow] = g.output().unwrap_or([0, 0]);
    match pool {
        Some(p) => vec![g.n, g.co, p.oh, p.ow],
        None => vec![g.n, g.co, oh, ow],
    }
}

fn forward(
    g: &Geometry,
    pool: Option<&Pool>,
    [x, w, b, s]: [&FlexTensor; 4],
    keep: bool,
) -> Forward {
    let (x, w, b, s) = (values(x), values(w), values(b), values(s));
    let (y, z, arg) = slices_forward(g, pool, [&x, &w, &b, &s], keep);
    let full = out_shape(g, None);
    Forward {
        y: tensor(y, out_shape(g, pool)),
        z: z.map(|z| tensor(z, full)),
        arg,
    }
}

thread_local! {
    /// Each thread's buffer for one image's full-size activation (before the pool) or
    /// gradient (the ReLU·scale's input gradient; the pool's, before it), overwritten in
    /// full before every use.
    static FULL: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    /// The second such buffer the pooled backward needs.
    static FULL2: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on `n` values of a thread's `buf` (contents left over: `f` writes first).
fn with_buf<R>(
    buf: &'static std::thread::LocalKey<RefCell<Vec<f32>>>,
    n: usize,
    f: impl FnOnce(&mut [f32]) -> R,
) -> R {
    buf.with_borrow_mut(|v| {
        if v.len() < n {
            v.resize(n, 0.0);
        }
        f(&mut v[..n])
    })
}

/// `s` viewed as values to be overwritten.
fn as_uninit(s: &mut [f32]) -> &mut [MaybeUninit<f32>] {
    // SAFETY: `MaybeUninit<f32>` has `f32`'s layout; every writer through this view
    // (`plane_forward`, `plane_backward`, `plane_2x2_back`) writes initialized values only.
    unsafe { &mut *(s as *mut [f32] as *mut [MaybeUninit<f32>]) }
}

/// The output (pooled when `pool` is given), and with `keep` the conv's output `z` and the
/// pool's argmax. The geometry has an output and input channels.
fn slices_forward(
    g: &Geometry,
    pool: Option<&Pool>,
    [x, w, b, s]: [&[f32]; 4],
    keep: bool,
) -> (Vec<f32>, Option<Vec<f32>>, Option<Vec<u32>>) {
    let (p, img) = (g.p(), g.c * g.h * g.w);
    let out = g.co * p;
    assert_eq!(x.len(), g.n * img, "conv input length");
    assert_eq!(w.len(), g.co * g.k(), "conv weight length");
    assert!(b.len() == g.co && s.len() == g.co, "bias and scale lengths");
    let relu_in_place = |zn: &mut [f32]| {
        for (row, &m) in zn.chunks_mut(p).zip(s) {
            row.iter_mut().for_each(|v| *v = v.max(0.0) * m);
        }
    };
    if let Some(pool) = pool {
        let op = pool.oh * pool.ow;
        let mut y = vec![0f32; g.n * g.co * op];
        let mut arg = vec![0u32; g.n * g.co * op];
        // Pools each image's activation `a` (`co` planes of `p`) into its output.
        let pool_image = |a: &[f32], yn: &mut [f32], an: &mut [u32]| {
            let planes = a.chunks(p).zip(yn.chunks_mut(op)).zip(an.chunks_mut(op));
            for ((ap, yp), argp) in planes {
                pool.plane_2x2(ap, yp, argp);
            }
        };
        let images = y
            .par_chunks_mut(g.co * op)
            .zip(arg.par_chunks_mut(g.co * op))
            .zip(x.par_chunks(img));
        if !keep {
            images.for_each(|((yn, an), xn)| {
                with_buf(&FULL, out, |zn| {
                    let zn = k::image_forward(g, xn, w, Some(b), as_uninit(zn));
                    relu_in_place(zn);
                    pool_image(zn, yn, an);
                });
            });
            return (y, None, None);
        }
        let fill = |z: &mut [MaybeUninit<f32>]| {
            images
                .zip(z.par_chunks_mut(out))
                .for_each(|(((yn, an), xn), zn)| {
                    let zn = k::image_forward(g, xn, w, Some(b), zn);
                    with_buf(&FULL, out, |a| {
                        for ((ar, zr), &m) in as_uninit(a).chunks_mut(p).zip(zn.chunks(p)).zip(s) {
                            plane_forward(ar, zr, m);
                        }
                        pool_image(a, yn, an);
                    });
                });
        };
        // SAFETY: `x` holds `n` images (asserted): `z`'s `n` chunks of `co · p` pair up
        // with them, each written in full by `image_forward`.
        let z = unsafe { super::written(g.n * out, fill) };
        return (y, Some(z), Some(arg));
    }
    if !keep {
        let fill = |y: &mut [MaybeUninit<f32>]| {
            y.par_chunks_mut(out)
                .zip(x.par_chunks(img))
                .for_each(|(yn, xn)| relu_in_place(k::image_forward(g, xn, w, Some(b), yn)));
        };
        // SAFETY: `x` holds `n` images (asserted): the `n` chunks of `co · p` pair up with
        // them, and `image_forward` writes each in full.
        return (unsafe { super::written(g.n * out, fill) }, None, None);
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
    (y, Some(z), None)
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
/// each image's output gradient (through the pool's argmax when pooled) and then
/// `dz = dy · s · (z > 0)` into this thread's buffers, then its input and weight gradients
/// from them. `dy` is the op's output gradient (pooled size when pooled).
fn slices_backward(
    g: &Geometry,
    pool: Option<(&Pool, &[u32])>,
    [x, w, z, s]: [&[f32]; 4],
    dy: &[f32],
    need: Need,
) -> Grads {
    let (p, img) = (g.p(), g.c * g.h * g.w);
    let out = g.co * p;
    // The output gradient per image: pooled planes of `op` or full planes of `p`.
    let op = pool.map_or(p, |(pl, _)| pl.oh * pl.ow);
    assert!(
        dy.len() == g.n * g.co * op && z.len() == g.n * out && x.len() == g.n * img,
        "conv·relu·scale: output gradient, kept output and input lengths"
    );
    assert!(
        w.len() == g.co * g.k() && s.len() == g.co,
        "weight and scale lengths"
    );
    if let Some((_, arg)) = pool {
        assert_eq!(arg.len(), dy.len(), "max pool argmax length");
    }
    let per = g.share();
    let shares = g.n.div_ceil(per);
    // The input gradient's buffer is zeroed image by image on the workers (a `vec![0; ..]`
    // here was a serial memset of the whole batch).
    let mut dx: Vec<f32> = Vec::with_capacity(if need.x { g.n * img } else { 0 });
    let dx_shares: Vec<Option<&mut [MaybeUninit<f32>]>> = if need.x {
        dx.spare_capacity_mut()[..g.n * img]
            .chunks_mut(img * per)
            .map(Some)
            .collect()
    } else {
        (0..shares).map(|_| None).collect()
    };
    let mut planes = vec![0f32; g.n * g.co];
    // Image `n`'s argmax positions, when pooled.
    let arg_of = |n: usize| pool.map(|(pl, arg)| (pl, &arg[n * g.co * op..(n + 1) * g.co * op]));
    let partial: Vec<(Vec<f32>, Vec<f32>)> = dx_shares
        .into_par_iter()
        .zip(planes.par_chunks_mut(g.co * per))
        .zip(x.par_chunks(img * per))
        .zip(dy.par_chunks(g.co * op * per).zip(z.par_chunks(out * per)))
        .enumerate()
        .map(|(share, (((mut dxs, pl), xs), (dys, zs)))| {
            let mut acc = need
                .wb
                .then(|| (vec![0f32; g.co * g.k()], vec![0f32; g.co]));
            let images = xs
                .chunks(img)
                .zip(dys.chunks(g.co * op))
                .zip(zs.chunks(out));
            for (i, ((xn, dyn_), zn)) in images.enumerate() {
                let mut image = |dyn_: &[f32], gn: &mut [f32]| {
                    let rows = as_uninit(gn)
                        .chunks_mut(p)
                        .zip(zn.chunks(p))
                        .zip(dyn_.chunks(p));
                    for (c, ((gr, zr), dr)) in rows.enumerate() {
                        pl[i * g.co + c] = plane_backward(gr, zr, dr, s[c]);
                    }
                    let gn = &*gn;
                    if let Some(d) = dxs.as_deref_mut() {
                        let dxn = &mut d[i * img..(i + 1) * img];
                        dxn.iter_mut().for_each(|e| {
                            e.write(0.0);
                        });
                        // SAFETY: every value of this image was just written.
                        let dxn = unsafe { super::assume_init(dxn) };
                        k::image_input_grad(g, w, gn, dxn);
                    }
                    if let Some((dw, db)) = &mut acc {
                        k::image_weight_grad(g, xn, gn, i == 0, (dw, db));
                    }
                };
                with_buf(&FULL, out, |gn| match arg_of(share * per + i) {
                    Some((pl, an)) => with_buf(&FULL2, out, |full| {
                        let planes = an.chunks(op).zip(dyn_.chunks(op));
                        for ((ap, gp), fp) in planes.zip(as_uninit(full).chunks_mut(p)) {
                            pl.plane_2x2_back(ap, gp, fp);
                        }
                        image(full, gn);
                    }),
                    None => image(dyn_, gn),
                });
            }
            acc.unwrap_or_default()
        })
        .collect();
    let dx = need.x.then(|| {
        // SAFETY: the shares cover all `n` images (`x` holds `n`, asserted), and each
        // image's `img` values were written above.
        unsafe { dx.set_len(g.n * img) };
        dx
    });
    let wb = need.wb.then(|| g.weight_grad_total(partial));
    let ds = need.s.then(|| scale_grad(&planes, g.co));
    (dx, wb, ds)
}

/// What the backward pass needs: the input, weight, kept conv output, scale, shapes and
/// the pool with its argmax positions.
#[derive(Debug, Clone)]
struct State {
    x: FlexTensor,
    w: FlexTensor,
    z: FlexTensor,
    s: FlexTensor,
    g: Geometry,
    pool: Option<(Pool, Arc<Vec<u32>>)>,
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
        let pool = st.pool.as_ref().map(|(p, a)| (p, a.as_slice()));
        let (dx, wb, ds) = slices_backward(&g, pool, [&x, &w, &z, &s], &values(&dy), need);
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
fn tracked(g: Geometry, pool: Option<Pool>, [x, w, b, s]: [AdTensor; 4]) -> AdTensor {
    let prims = [x.primitive(), w.primitive(), b.primitive(), s.primitive()];
    match ConvReluScale
        .prepare::<NoCheckpointing>([x.node(), w.node(), b.node(), s.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let out = forward(&g, pool.as_ref(), prims, true);
            let state = State {
                x: x.primitive().clone(),
                w: w.primitive().clone(),
                z: out.z.unwrap_or_else(|| unreachable!("kept when asked")),
                s: s.primitive().clone(),
                g,
                pool: pool.map(|p| (p, Arc::new(out.arg.unwrap_or_default()))),
            };
            prep.finish(state, out.y)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(&g, pool.as_ref(), prims, false).y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::tests::{uniform, vals};
    use burn::tensor::{Device, TensorData};

    /// Forward and the four gradients of the fused ops, against whittle's conv followed by
    /// its relu·scale (and 2×2 max pool): equal bit for bit (the same sums in the same
    /// order), for an input that needs no gradient too (a net's first conv), on 'same' 3×3
    /// (odd sizes: the pool drops a row and a column), stride 2 with asymmetric padding,
    /// and 1×1.
    #[test]
    fn equals_the_conv_then_the_relu_scale_bit_for_bit() {
        let cases = [
            (
                5,
                4,
                [9, 11],
                6,
                [3, 3],
                [1, 1],
                [(1, 1), (1, 1)],
                true,
                false,
            ),
            (
                5,
                4,
                [9, 11],
                6,
                [3, 3],
                [1, 1],
                [(1, 1), (1, 1)],
                true,
                true,
            ),
            (
                3,
                3,
                [8, 7],
                5,
                [3, 3],
                [2, 2],
                [(0, 1), (1, 0)],
                true,
                false,
            ),
            (
                3,
                3,
                [8, 7],
                5,
                [3, 3],
                [1, 1],
                [(0, 1), (1, 0)],
                false,
                true,
            ),
            (
                4,
                7,
                [5, 6],
                3,
                [1, 1],
                [1, 1],
                [(0, 0), (0, 0)],
                false,
                false,
            ),
        ];
        let dev = Device::flex().autodiff();
        for (n, c, [h, wd], co, kernel, stride, pad, x_grad, pooled) in cases {
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
                let (xc, wc, bc, sc) = (xt.clone(), wt.clone(), bt.clone(), st.clone());
                let y = match (fused, pooled) {
                    (true, false) => conv_relu_scale(xc, wc, bc, opts.clone(), sc),
                    (true, true) => conv_relu_scale_pool(xc, wc, bc, opts.clone(), sc),
                    (false, _) => {
                        let z = super::super::conv2d(xc, wc, Some(bc), opts.clone());
                        let y = super::super::relu_scale(z, sc);
                        match pooled {
                            true => super::super::max_pool2d(y, [2, 2], [2, 2]),
                            false => y,
                        }
                    }
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
            assert_eq!(
                got.0, want.0,
                "forward {kernel:?} {stride:?} pooled {pooled}"
            );
            assert_eq!(got.1.is_some(), x_grad, "input gradient present");
            assert_eq!(got.1, want.1, "input gradient {kernel:?} {stride:?}");
            assert_eq!(got.2, want.2, "weight gradient {kernel:?} {stride:?}");
            assert_eq!(got.3, want.3, "bias gradient {kernel:?} {stride:?}");
            assert_eq!(got.4, want.4, "scale gradient {kernel:?} {stride:?}");
        }
    }

    #[test]
    fn inference_on_the_plain_device_equals_the_unfused_ops_pooled_or_not() {
        let dev = Device::flex();
        let x = Tensor::<4>::from_data(TensorData::new(uniform(1080, 5), [3, 4, 10, 9]), &dev);
        let w = Tensor::<4>::from_data(TensorData::new(uniform(216, 6), [6, 4, 3, 3]), &dev);
        let b = Tensor::<1>::from_data(TensorData::new(uniform(6, 7), [6]), &dev);
        let s = Tensor::<1>::from_data(TensorData::new(uniform(6, 8), [6]), &dev);
        let o = ConvOptions::new_with_padding([1, 1], [(1, 1), (1, 1)], [1, 1], 1);
        let z = super::super::conv2d(x.clone(), w.clone(), Some(b.clone()), o.clone());
        let y = super::super::relu_scale(z, s.clone());
        let pooled = vals(super::super::max_pool2d(y.clone(), [2, 2], [2, 2]));
        let fused = conv_relu_scale(x.clone(), w.clone(), b.clone(), o.clone(), s.clone());
        assert_eq!(vals(fused), vals(y));
        assert_eq!(vals(conv_relu_scale_pool(x, w, b, o, s)), pooled);
    }
}
