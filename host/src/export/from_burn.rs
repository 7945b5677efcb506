//! The export entry point: a trained burn [`Net`] → its [`Folded`] float graph (BatchNorm
//! and masks folded, Dropout and a final Softmax dropped; see [`fold`]).

use super::error::ExportError;
use super::fold::{Folded, fold};
use crate::nn::Net;

/// Reads `net`'s tensors from the device and folds its graph (see [`fold`] for what is
/// folded, dropped and refused).
pub fn from_net(net: &Net) -> Result<Folded, ExportError> {
    fold(&net.graph, &net.tensors()?)
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Tensor, TensorData};

    use super::*;
    use crate::export::tests::residual;
    use crate::export::{BlobRunner, export_f32, with_model};
    use crate::graph::Op;
    use crate::graph::presets::seed_c10;
    use crate::nn::NamedTensor;
    use crate::rng::SplitMix64;

    fn unit(rng: &mut SplitMix64) -> f32 {
        (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    fn burn_logits(net: &Net, x: &[f32]) -> Vec<f32> {
        let [c, h, w] = net.graph.input_dims();
        let input =
            Tensor::<4>::from_data(TensorData::new(x.to_vec(), [1, c, h, w]), &Device::flex());
        net.forward(input)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn assert_close(got: &[f32], want: &[f32], rel: f32, what: &str) {
        let scale = want.iter().fold(1f32, |m, v| m.max(v.abs()));
        assert_eq!(got.len(), want.len(), "{what}");
        for (a, b) in got.iter().zip(want) {
            assert!((a - b).abs() <= rel * scale, "{what}: {got:?} vs {want:?}");
        }
    }

    /// Sets every mask to values in [0, 2) (every fifth 0) and every BatchNorm to random
    /// γ, β, running mean and variance.
    fn randomize(net: &mut Net, rng: &mut SplitMix64) {
        for i in 0..net.graph.nodes.len() {
            let c = net.graph.input_shapes(i)[0].channels();
            let set = |net: &mut Net, name: &str, values: Vec<f32>| {
                let t = NamedTensor {
                    name: name.into(),
                    shape: vec![c],
                    values,
                };
                net.set_tensor(i, &t).unwrap_or_else(|e| panic!("{e}"));
            };
            match net.graph.nodes[i].op {
                Op::Mask(_) => {
                    let v = (0..c)
                        .map(|j| {
                            if j % 5 == 0 {
                                0.0
                            } else {
                                rng.below(100) as f32 / 50.0
                            }
                        })
                        .collect();
                    set(net, "values", v);
                }
                Op::BatchNorm(_) => {
                    let gamma = (0..c).map(|_| 0.5 + unit(rng)).collect();
                    let beta = (0..c).map(|_| unit(rng) - 0.5).collect();
                    let mean = (0..c).map(|_| 0.4 * (unit(rng) - 0.5)).collect();
                    let var = (0..c).map(|_| 0.5 + 1.5 * unit(rng)).collect();
                    set(net, "gamma", gamma);
                    set(net, "beta", beta);
                    set(net, "running_mean", mean);
                    set(net, "running_var", var);
                }
                _ => {}
            }
        }
    }

    fn image(net: &Net, rng: &mut SplitMix64) -> Vec<f32> {
        let n: usize = net.graph.input_dims().iter().product();
        (0..n)
            .map(|_| rng.below(256) as f32 / 127.5 - 1.0)
            .collect()
    }

    #[test]
    fn folded_seed_net_matches_burn_forward_and_its_f32_blob() {
        let dev = Device::flex();
        dev.seed(5);
        let mut net = Net::new(&seed_c10(), &dev);
        let rng = &mut SplitMix64::new(42);
        randomize(&mut net, rng);
        let folded = from_net(&net).unwrap_or_else(|e| panic!("{e}"));
        let ops: Vec<&str> = folded.graph.nodes.iter().map(|n| n.op.name()).collect();
        assert!(
            !ops.contains(&"Mask") && !ops.contains(&"Dropout"),
            "{ops:?}"
        );
        assert_eq!(folded.num_params(), 118_962);
        let blob = export_f32(&folded).unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..3 {
            let x = image(&net, rng);
            let want = burn_logits(&net, &x);
            let got = folded.forward(&x).unwrap_or_else(|e| panic!("{e}"));
            assert_close(&got, &want, 1e-4, "folded vs burn");
            let y = with_model(&blob, |m| BlobRunner::new(m)?.logits(&x))
                .unwrap_or_else(|e| panic!("{e}"));
            assert_close(&y, &want, 1e-4, "f32 blob vs burn");
        }
    }

    #[test]
    fn folded_residual_net_with_batchnorm_matches_burn_eval_forward() {
        let dev = Device::flex();
        for avg in [false, true] {
            dev.seed(11);
            let mut net = Net::new(&residual(avg), &dev);
            let rng = &mut SplitMix64::new(7);
            randomize(&mut net, rng);
            let folded = from_net(&net).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                folded
                    .graph
                    .nodes
                    .iter()
                    .all(|n| !matches!(n.op, Op::BatchNorm(_))),
                "BatchNorm left"
            );
            let blob = export_f32(&folded).unwrap_or_else(|e| panic!("{e}"));
            for _ in 0..3 {
                let x = image(&net, rng);
                let want = burn_logits(&net, &x);
                let got = folded.forward(&x).unwrap_or_else(|e| panic!("{e}"));
                assert_close(&got, &want, 1e-4, "folded vs burn");
                let y = with_model(&blob, |m| BlobRunner::new(m)?.logits(&x))
                    .unwrap_or_else(|e| panic!("{e}"));
                assert_close(&y, &want, 1e-4, "f32 blob vs burn");
            }
        }
    }

    #[test]
    fn negative_mask_and_gates_are_refused() {
        let dev = Device::flex();
        let g = seed_c10();
        let mut net = Net::new(&g, &dev);
        let idx = g.node_index("mask1").unwrap_or_else(|| panic!("mask1"));
        let mut values = vec![1.0; 16];
        values[3] = -0.5;
        let new = NamedTensor {
            name: "values".into(),
            shape: vec![16],
            values,
        };
        net.set_tensor(idx, &new).unwrap_or_else(|e| panic!("{e}"));
        let err = from_net(&net)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("mask1") && err.contains("-0.5"), "{err}");

        let conv1 = g.node_index("conv1").unwrap_or_else(|| panic!("conv1"));
        let gated = g
            .insert_after(
                conv1,
                "gate1",
                Op::Gate(crate::graph::op::Gate {
                    log_alpha_init: 2.5,
                }),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let err = from_net(&Net::new(&gated, &dev))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("gate1") && err.contains("gates cannot be exported"),
            "{err}"
        );
    }
}
