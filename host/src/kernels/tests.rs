//! Whole nets on whittle's kernels against burn's ops: logits and every conv and BatchNorm
//! gradient of one training-mode step (ResNet-8 with its BatchNorms, the seed net without
//! its Dropout).

use burn::tensor::{Device, Tensor, TensorData};

use super::with_burn_ops;
use crate::graph::{Graph, Op, presets};
use crate::nn::{Net, NodeModule};

/// `len` values uniform in [-1, 1) from `seed` (no device RNG: tests run in parallel);
/// shared by the kernels' tests.
pub(super) fn uniform(len: usize, seed: u64) -> Vec<f32> {
    let mut r = crate::rng::SplitMix64::new(seed);
    (0..len)
        .map(|_| (r.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0)
        .collect()
}

/// A tensor's values, row-major.
pub(super) fn vals<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .try_to_vec::<f32>()
        .unwrap_or_else(|e| panic!("{e:?}"))
}

/// `max |a − b| ≤ tol · max(max |b|, 1e-3)`. The floor is for the conv biases right
/// before a BatchNorm: their gradient is exactly zero in exact arithmetic (the batch mean
/// is subtracted), and rounding leaves values near 1e-7 in both.
fn close(what: &str, a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-3);
    let err = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    assert!(
        err <= tol * scale,
        "{what}: max error {err} at scale {scale}"
    );
}

/// One step of `graph` on a batch of 4: logits, then the gradient of `sum(logits · r)`
/// for every conv weight and bias and BatchNorm γ and β, in node order.
fn step(net: &Net, burn: bool) -> (Vec<f32>, Vec<(String, Vec<f32>)>) {
    with_burn_ops(burn, || {
        let dev = Device::flex().autodiff();
        let x = TensorData::new(uniform(4 * 3 * 32 * 32, 1), [4, 3, 32, 32]);
        let y = net.forward(Tensor::<4>::from_data(x, &dev));
        let [n, k] = y.dims();
        let r = Tensor::<2>::from_data(TensorData::new(uniform(n * k, 2), [n, k]), &dev);
        let logits = vals(y.clone());
        let grads = (y * r).sum().backward();
        let mut out = Vec::new();
        let mut put = |name: String, g: Option<Vec<f32>>| {
            out.push((
                name.clone(),
                g.unwrap_or_else(|| panic!("no gradient for {name}")),
            ));
        };
        for (i, m) in net.nodes.iter().enumerate() {
            match m {
                NodeModule::Conv(c) => {
                    put(format!("{i} weight"), c.weight.val().grad(&grads).map(vals));
                    if let Some(b) = &c.bias {
                        put(format!("{i} bias"), b.val().grad(&grads).map(vals));
                    }
                }
                NodeModule::BatchNorm(b) => {
                    put(format!("{i} gamma"), b.gamma.val().grad(&grads).map(vals));
                    put(format!("{i} beta"), b.beta.val().grad(&grads).map(vals));
                }
                _ => {}
            }
        }
        (logits, out)
    })
}

fn same_step(graph: &Graph, convs: usize) {
    let dev = Device::flex().autodiff();
    // Which weights the device RNG draws does not matter: both runs share this net.
    let net = Net::new(graph, &dev);
    net.init_now();
    let (want, got) = (step(&net, true), step(&net, false));
    close("logits", &got.0, &want.0, 1e-4);
    let n_conv = got.1.iter().filter(|(n, _)| n.ends_with("weight")).count();
    assert_eq!(n_conv, convs, "conv layers with a gradient");
    for ((name, a), (_, b)) in got.1.iter().zip(&want.1) {
        close(name, a, b, 1e-3);
    }
}

#[test]
fn resnet8_training_step_equals_burns_ops() {
    // Stride-2 3×3 with TF 'SAME' (asymmetric) padding, stride-2 1×1 shortcuts, residual
    // adds and BatchNorm in training mode.
    same_step(&presets::resnet8(), 9);
}

#[test]
fn seed_net_training_step_equals_burns_ops() {
    let g = presets::seed_c10()
        .without(|op| matches!(op, Op::Dropout(_)))
        .unwrap_or_else(|e| panic!("{e}"));
    same_step(&g, 4);
}
