//! [`conv2d`]: burn's `conv2d` with whittle's kernels on flex (plain and autodiff, backward
//! written by hand); other backends, groups > 1, non-f32 or `WHITTLE_BURN_OPS=1` use burn's.

use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, module};

use super::conv2d::{self as k, Geometry};
use super::flex::{Ad, AdTensor, On, on, tensor as flex, values};

/// `y = conv2d(x, w) + b` as burn's [`module::conv2d`] computes it, NCHW.
///
/// # Shapes
/// - x: `[n, c, h, w]`, weight: `[co, c, kh, kw]`, bias: `[co]`, output `[n, co, oh, ow]`
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    match geometry(&x, &weight, &options) {
        Some(g) if !super::burn_ops() => own(g, x, weight, bias, options),
        _ => module::conv2d(x, weight, bias, options),
    }
}

/// The geometry when whittle's kernels can run this conv (groups 1, shapes that fit).
pub(super) fn geometry(x: &Tensor<4>, w: &Tensor<4>, o: &ConvOptions<2>) -> Option<Geometry> {
    let [n, c, h, wd] = x.dims();
    let [co, ci, kh, kw] = w.dims();
    if o.groups != 1 || ci != c {
        return None;
    }
    let [(t, b), (l, r)] = o.padding;
    let g = Geometry {
        n,
        c,
        h,
        w: wd,
        co,
        kernel: [kh, kw],
        stride: o.stride,
        dilation: o.dilation,
        padding: [t, l, b, r],
    };
    g.output().map(|_| g)
}

/// Runs the conv on whittle's kernels when every tensor is f32 on flex (autodiff or plain),
/// else on burn's.
fn own(
    g: Geometry,
    x: Tensor<4>,
    w: Tensor<4>,
    b: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    let bias = b.clone().map(on);
    match (on(x.clone()), on(w.clone()), bias) {
        (On::Autodiff(xp), On::Autodiff(wp), None) => {
            Tensor::from_primitive::<Ad>(tracked(g, xp, wp, None))
        }
        (On::Autodiff(xp), On::Autodiff(wp), Some(On::Autodiff(bp))) => {
            Tensor::from_primitive::<Ad>(tracked(g, xp, wp, Some(bp)))
        }
        (On::Plain(xp), On::Plain(wp), None) => {
            Tensor::from_primitive::<Flex>(forward(&g, &xp, &wp, None))
        }
        (On::Plain(xp), On::Plain(wp), Some(On::Plain(bp))) => {
            Tensor::from_primitive::<Flex>(forward(&g, &xp, &wp, Some(&bp)))
        }
        _ => module::conv2d(x, w, b, options),
    }
}

fn forward(g: &Geometry, x: &FlexTensor, w: &FlexTensor, b: Option<&FlexTensor>) -> FlexTensor {
    let bias = b.map(values);
    let y = k::forward(g, &values(x), &values(w), bias.as_deref());
    let [oh, ow] = g.output().unwrap_or([0, 0]);
    flex(y, vec![g.n, g.co, oh, ow])
}

/// What the backward pass needs: the input, the weight and the shapes.
#[derive(Debug, Clone)]
struct State {
    x: FlexTensor,
    w: FlexTensor,
    g: Geometry,
}

/// The gradients of one conv for the parents that need them (`x`, `w`, optionally `b`).
fn backward(
    s: State,
    [nx, nw, nb]: [Option<burn::backend::autodiff::NodeId>; 3],
    dy: FlexTensor,
    grads: &mut Gradients,
) {
    let g = s.g;
    let dy = values(&dy);
    if let Some(id) = nx {
        let dx = k::input_grad(&g, &values(&s.w), &dy);
        grads.register::<Flex>(id, flex(dx, vec![g.n, g.c, g.h, g.w]));
    }
    if nw.is_some() || nb.is_some() {
        let (dw, db) = k::weight_grad(&g, &values(&s.x), &dy);
        if let Some(id) = nw {
            let shape = vec![g.co, g.c, g.kernel[0], g.kernel[1]];
            grads.register::<Flex>(id, flex(dw, shape));
        }
        if let Some(id) = nb {
            grads.register::<Flex>(id, flex(db, vec![g.co]));
        }
    }
}

#[derive(Debug)]
struct ConvBias;

impl Backward<Flex, 3> for ConvBias {
    type State = State;

    fn backward(self, ops: Ops<State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let ids = ops.parents.map(|p| p.map(|n| n.id));
        backward(ops.state, ids, dy, grads);
    }
}

#[derive(Debug)]
struct ConvNoBias;

impl Backward<Flex, 2> for ConvNoBias {
    type State = State;

    fn backward(self, ops: Ops<State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let [nx, nw] = ops.parents.map(|p| p.map(|n| n.id));
        backward(ops.state, [nx, nw, None], dy, grads);
    }
}

/// The forward on the autodiff backend, registering the hand-written backward.
fn tracked(g: Geometry, x: AdTensor, w: AdTensor, b: Option<AdTensor>) -> AdTensor {
    let y = forward(
        &g,
        x.primitive(),
        w.primitive(),
        b.as_ref().map(|b| b.primitive()),
    );
    let state = || State {
        x: x.primitive().clone(),
        w: w.primitive().clone(),
        g,
    };
    match b {
        Some(b) => match ConvBias
            .prepare::<NoCheckpointing>([x.node(), w.node(), b.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(state(), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        },
        None => match ConvNoBias
            .prepare::<NoCheckpointing>([x.node(), w.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(state(), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::tests::{uniform, vals};
    use burn::tensor::{Device, TensorData};

    /// `max |a − b| ≤ 1e-4 · max |b|` (relative to the tensor's scale: single elements
    /// near zero come from cancelling sums).
    fn close(what: &str, a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
        let (i, err) = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .enumerate()
            .fold((0, 0f32), |m, (i, e)| if e > m.1 { (i, e) } else { m });
        assert!(
            err <= 1e-4 * scale,
            "{what}: element {i}: {} vs {} (scale {scale})",
            a[i],
            b[i]
        );
    }

    /// One case: forward and every gradient of whittle's conv equal burn's.
    #[allow(clippy::too_many_arguments)]
    fn case(
        n: usize,
        c: usize,
        hw: [usize; 2],
        co: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        dilation: [usize; 2],
        pad: [(usize, usize); 2],
        bias: bool,
    ) {
        let dev = Device::flex().autodiff();
        let seed = (n * 131 + c * 7 + co) as u64;
        let x = TensorData::new(uniform(n * c * hw[0] * hw[1], seed), [n, c, hw[0], hw[1]]);
        let ks = co * c * kernel[0] * kernel[1];
        let w = TensorData::new(uniform(ks, seed + 1), [co, c, kernel[0], kernel[1]]);
        let b = TensorData::new(uniform(co, seed + 2), [co]);
        let opts = ConvOptions::new_with_padding(stride, pad, dilation, 1);
        let run = |burn: bool| {
            let xt = Tensor::<4>::from_data(x.clone(), &dev).require_grad();
            let wt = Tensor::<4>::from_data(w.clone(), &dev).require_grad();
            let bt = bias.then(|| Tensor::<1>::from_data(b.clone(), &dev).require_grad());
            // The downcast whittle's path needs works here (else `own` would fall back to
            // burn's op and the comparison would prove nothing).
            assert!(xt.clone().try_into_primitive::<Ad>().is_ok());
            let y = if burn {
                module::conv2d(xt.clone(), wt.clone(), bt.clone(), opts.clone())
            } else {
                let g = geometry(&xt, &wt, &opts).unwrap_or_else(|| panic!("no geometry"));
                own(g, xt.clone(), wt.clone(), bt.clone(), opts.clone())
            };
            // A fixed random upstream gradient: the loss is sum(y · r).
            let dims = y.dims();
            let r = TensorData::new(uniform(dims.iter().product(), seed + 3), dims);
            let yv = vals(y.clone());
            let grads = (y * Tensor::<4>::from_data(r, &dev)).sum().backward();
            let g = |t: &Tensor<4>| vals(t.grad(&grads).unwrap_or_else(|| panic!("no grad")));
            let gb = bt.map(|t| vals(t.grad(&grads).unwrap_or_else(|| panic!("no bias grad"))));
            (yv, g(&xt), g(&wt), gb)
        };
        let want = run(true);
        let got = run(false);
        close("forward", &got.0, &want.0);
        close("input gradient", &got.1, &want.1);
        close("weight gradient", &got.2, &want.2);
        assert_eq!(got.3.is_some(), bias);
        if let (Some(a), Some(b)) = (got.3, want.3) {
            close("bias gradient", &a, &b);
        }
    }

    #[test]
    fn three_by_three_same_like_the_seed_nets() {
        case(
            4,
            5,
            [9, 11],
            6,
            [3, 3],
            [1, 1],
            [1, 1],
            [(1, 1), (1, 1)],
            true,
        );
    }

    #[test]
    fn stride_two_with_asymmetric_padding() {
        // TF 'SAME' at stride 2 pads (0, 1); the other side too, both axes.
        case(
            3,
            4,
            [8, 7],
            5,
            [3, 3],
            [2, 2],
            [1, 1],
            [(0, 1), (1, 0)],
            true,
        );
    }

    #[test]
    fn pointwise_one_by_one_and_strided_one_by_one() {
        case(
            2,
            7,
            [5, 6],
            3,
            [1, 1],
            [1, 1],
            [1, 1],
            [(0, 0), (0, 0)],
            false,
        );
        case(
            2,
            7,
            [5, 6],
            3,
            [1, 1],
            [2, 2],
            [1, 1],
            [(0, 0), (0, 0)],
            true,
        );
    }

    #[test]
    fn five_by_five_batch_one_odd_sizes_and_dilation() {
        case(
            1,
            3,
            [13, 9],
            4,
            [5, 5],
            [1, 1],
            [1, 1],
            [(2, 2), (2, 2)],
            true,
        );
        case(
            1,
            2,
            [11, 10],
            3,
            [3, 2],
            [1, 2],
            [2, 1],
            [(3, 0), (1, 2)],
            false,
        );
    }

    #[test]
    fn inference_on_the_plain_device_equals_burns() {
        let dev = Device::flex();
        let x = Tensor::<4>::from_data(TensorData::new(uniform(1080, 5), [3, 4, 10, 9]), &dev);
        let w = Tensor::<4>::from_data(TensorData::new(uniform(216, 6), [6, 4, 3, 3]), &dev);
        let b = Tensor::<1>::from_data(TensorData::new(uniform(6, 7), [6]), &dev);
        let o = ConvOptions::new_with_padding([2, 1], [(1, 1), (0, 2)], [1, 1], 1);
        let want = vals(module::conv2d(
            x.clone(),
            w.clone(),
            Some(b.clone()),
            o.clone(),
        ));
        assert!(x.clone().try_into_primitive::<Flex>().is_ok());
        let g = geometry(&x, &w, &o).unwrap_or_else(|| panic!("no geometry"));
        let got = vals(own(g, x, w, Some(b), o));
        close("plain forward", &got, &want);
    }
}
