//! Where a training step's time goes: its phases, and each conv layer's forward and backward ops timed alone.

use std::time::Instant;

use burn::optim::GradientsParams;
use burn::tensor::module::{conv_transpose2d, conv2d, conv2d_weight_backward};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Distribution, Tensor};
use serde::{Deserialize, Serialize};

use super::{BenchError, BenchOptions, Training, batch_indices};
use crate::data::{Images, make_batch};
use crate::graph::{Graph, Op, Shape};
use crate::kernels::conv2d::{self as kernels, Geometry};
use crate::train::evaluate::hits;
use crate::train::trainer;

/// Mean milliseconds per training step in each phase of [`crate::train::train_step`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PhaseTimes {
    /// Building the batch tensors from the images.
    pub batch_ms: f64,
    /// Forward pass, cross-entropy, penalties, loss and hits read back.
    pub forward_ms: f64,
    /// `loss.backward()`.
    pub backward_ms: f64,
    /// Gradient split by parameter and the Adam update.
    pub optimizer_ms: f64,
}

impl PhaseTimes {
    /// The whole step.
    pub fn total_ms(&self) -> f64 {
        self.batch_ms + self.forward_ms + self.backward_ms + self.optimizer_ms
    }
}

/// Median milliseconds of one conv layer's ops at a batch size, each run alone on the
/// plain (non-autodiff) device: whittle's kernels, or with `WHITTLE_BURN_OPS=1` the calls
/// burn's autodiff makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConvOpTimes {
    /// Index of the conv node in the graph.
    pub layer: usize,
    /// `[batch, channels in, height, width]`.
    pub input: [usize; 4],
    /// Output channels.
    pub out: usize,
    /// Forward convolution (with bias).
    pub forward_ms: f64,
    /// Input gradient (whittle: gemm + col2im; burn: `conv_transpose2d` of the output
    /// gradient). The first layer never needs it (the image has no gradient).
    pub x_grad_ms: f64,
    /// Weight and bias gradient (whittle: im2col + gemm per image; burn:
    /// `conv2d_weight_backward`, a convolution of the input by the output gradient, batch
    /// as channels).
    pub w_grad_ms: f64,
}

/// Time each phase of `opts.steps` training steps (after `opts.warmup`) on `images`.
pub fn phases(
    spec: &Graph,
    images: &Images,
    opts: &BenchOptions,
    device: &Device,
) -> Result<PhaseTimes, BenchError> {
    opts.check()?;
    if images.is_empty() {
        return Err(BenchError::NoImages);
    }
    let Training {
        config,
        ad,
        mut net,
        mut optim,
        ids,
        loss_fn,
    } = Training::new(spec, opts, device)?;
    let order: Vec<usize> = (0..images.len()).collect();
    let mut sums = [0f64; 4];
    for step in 0..opts.warmup + opts.steps {
        // The same calls as train_step, with a clock between the phases.
        let t0 = Instant::now();
        let b = make_batch(images, &batch_indices(&order, step, opts.batch), None, &ad);
        let t1 = Instant::now();
        let logits = net.forward(b.images);
        let ce = loss_fn.forward(logits.clone(), b.labels.clone());
        let loss = trainer::penalized(&net, ce.clone(), &config);
        let value: f32 = ce.into_scalar();
        let _hits = hits(logits, b.labels);
        if !value.is_finite() {
            return Err(BenchError::NonFinite {
                value,
                step: step + 1,
            });
        }
        let t2 = Instant::now();
        let mut grads = loss.backward();
        let t3 = Instant::now();
        let grads = GradientsParams::from_params(&mut grads, &net, &ids);
        net = optim.step(config.lr, net, grads);
        let t4 = Instant::now();
        if step >= opts.warmup {
            for (s, (a, b)) in sums
                .iter_mut()
                .zip([(t0, t1), (t1, t2), (t2, t3), (t3, t4)])
            {
                *s += (b - a).as_secs_f64() * 1e3;
            }
        }
    }
    let n = opts.steps as f64;
    Ok(PhaseTimes {
        batch_ms: sums[0] / n,
        forward_ms: sums[1] / n,
        backward_ms: sums[2] / n,
        optimizer_ms: sums[3] / n,
    })
}

fn median_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..reps.max(1))
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

/// Time every conv layer's forward, input-gradient and weight-gradient ops at `batch`
/// (median of `reps` runs each, random values).
pub fn conv_ops(
    spec: &Graph,
    batch: usize,
    reps: usize,
    device: &Device,
) -> Result<Vec<ConvOpTimes>, BenchError> {
    if batch == 0 {
        return Err(BenchError::Zero { what: "batch" });
    }
    let dev = device.clone().inner();
    let rand = |shape: [usize; 4]| Tensor::<4>::random(shape, Distribution::Default, &dev);
    let mut out = Vec::new();
    for (layer, n) in spec.nodes.iter().enumerate() {
        let (Op::Conv2d(conv), Shape::Chw(c, h, w)) = (&n.op, spec.shape(n.inputs[0])) else {
            continue;
        };
        // Timed as a stride-1 'same' conv of its kernel (the seed nets' convs).
        let (co, k) = (conv.out, conv.kernel[0]);
        let p = k / 2;
        let x = rand([batch, c, h, w]);
        let wt = rand([co, c, k, k]);
        let bias = Tensor::<1>::random([co], Distribution::Default, &dev);
        let g = rand([batch, co, h, w]);
        let opts = ConvOptions::new([1, 1], [p, p], [1, 1], 1);
        let (forward_ms, x_grad_ms, w_grad_ms) = if crate::kernels::burn_ops() {
            let forward_ms = median_ms(reps, || {
                let _ = conv2d(x.clone(), wt.clone(), Some(bias.clone()), opts.clone());
            });
            let x_grad_ms = median_ms(reps, || {
                let _ = conv_transpose2d(
                    g.clone(),
                    wt.clone(),
                    None,
                    ConvTransposeOptions::new([1, 1], [p, p], [0, 0], [1, 1], 1),
                );
            });
            let w_grad_ms = median_ms(reps, || {
                let _ = conv2d_weight_backward(x.clone(), wt.clone(), g.clone(), opts.clone());
            });
            (forward_ms, x_grad_ms, w_grad_ms)
        } else {
            let geo = Geometry {
                n: batch,
                c,
                h,
                w,
                co,
                kernel: [k, k],
                stride: [1, 1],
                dilation: [1, 1],
                padding: [p; 4],
            };
            let host = |t: &Tensor<4>| t.to_data().try_to_vec::<f32>().unwrap_or_default();
            let (xv, wv, gv) = (host(&x), host(&wt), host(&g));
            let bv = bias.to_data().try_to_vec::<f32>().unwrap_or_default();
            (
                median_ms(reps, || {
                    let _ = kernels::forward(&geo, &xv, &wv, Some(&bv));
                }),
                median_ms(reps, || {
                    let _ = kernels::input_grad(&geo, &wv, &gv);
                }),
                median_ms(reps, || {
                    let _ = kernels::weight_grad(&geo, &xv, &gv);
                }),
            )
        };
        out.push(ConvOpTimes {
            layer,
            input: [batch, c, h, w],
            out: co,
            forward_ms,
            x_grad_ms,
            w_grad_ms,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::presets::seed_c10;

    #[test]
    fn conv_ops_cover_every_conv_layer_and_phases_add_up() {
        let dev = Device::flex();
        let t = conv_ops(&seed_c10(), 2, 1, &dev).unwrap_or_else(|e| panic!("{e}"));
        let layers: Vec<usize> = t.iter().map(|o| o.layer).collect();
        assert_eq!(layers, vec![0, 3, 7, 10]); // conv nodes (ReLU and mask nodes between)
        assert_eq!(t[1].input, [2, 16, 32, 32]);
        assert_eq!(t[3].out, 32);
        assert!(conv_ops(&seed_c10(), 0, 1, &dev).is_err());

        let _guard = crate::train::tests::serial();
        let im = super::super::synthetic_images(4, 10, 1);
        let opts = BenchOptions {
            warmup: 0,
            steps: 2,
            batch: 2,
            infer_batch: 2,
            seed: 1,
        };
        let p = phases(&seed_c10(), &im, &opts, &dev).unwrap_or_else(|e| panic!("{e}"));
        assert!(p.forward_ms > 0.0 && p.backward_ms > 0.0 && p.optimizer_ms > 0.0);
        assert!(p.total_ms() >= p.forward_ms + p.backward_ms);
    }
}
