//! A naive NCHW reference forward pass over a graph and its float tensors, written apart
//! from `whittle_shared` and burn, that blobs and folds are checked against in tests.

use super::error::ExportError;
use super::fold::{Folded, checked};
use crate::graph::{Graph, Op, Shape};
use crate::nn::NamedTensor;

fn chw(s: Shape) -> (usize, usize, usize) {
    match s {
        Shape::Chw(c, h, w) => (c, h, w),
        Shape::Flat(n) => (n, 1, 1),
    }
}

/// Logits of `graph` (weights `tensors[i]` per node, burn layouts) for one CHW image, as
/// [`Net::forward`](crate::nn::Net::forward) computes them: BatchNorm with its running
/// statistics, Dropout and Gate nodes the identity, Softmax applied. Naive f32 loops.
pub fn forward(
    graph: &Graph,
    tensors: &[Vec<NamedTensor>],
    input: &[f32],
) -> Result<Vec<f32>, ExportError> {
    let g = graph;
    if tensors.len() != g.nodes.len() {
        return Err(ExportError::NodeCount {
            expected: g.nodes.len(),
            found: tensors.len(),
        });
    }
    let n_in = g.shape(g.input).numel();
    if input.len() != n_in {
        return Err(ExportError::InputSize {
            what: "input image",
            expected: n_in,
            found: input.len(),
        });
    }
    let mut vals: Vec<Vec<f32>> = vec![Vec::new(); g.values.len()];
    vals[g.input.0] = input.to_vec();
    for (i, node) in g.nodes.iter().enumerate() {
        let t = checked(g, i, &tensors[i])?;
        let get = |name: &str| t.get(name).copied().unwrap_or(&[]);
        let x = &vals[node.inputs[0].0];
        let (c, h, w) = chw(g.shape(node.inputs[0]));
        let (oc, oh, ow) = chw(g.shape(node.output));
        let per_channel = |f: &dyn Fn(usize, f32) -> f32| -> Vec<f32> {
            let hw = h * w;
            x.iter().enumerate().map(|(k, &v)| f(k / hw, v)).collect()
        };
        let y: Vec<f32> = match &node.op {
            Op::Conv2d(cv) => {
                let (weight, bias) = (get("weight"), get("bias"));
                let [kh, kw] = cv.kernel;
                let [sh, sw] = cv.stride;
                let (pt, pl) = (cv.padding.top() as isize, cv.padding.left() as isize);
                let mut y = vec![0f32; oc * oh * ow];
                for o in 0..oc {
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let mut acc = bias.get(o).copied().unwrap_or(0.0);
                            for ci in 0..c {
                                for ky in 0..kh {
                                    for kx in 0..kw {
                                        let iy = (oy * sh + ky) as isize - pt;
                                        let ix = (ox * sw + kx) as isize - pl;
                                        if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize
                                        {
                                            continue;
                                        }
                                        let xv = x[(ci * h + iy as usize) * w + ix as usize];
                                        let wv = weight[((o * c + ci) * kh + ky) * kw + kx];
                                        acc += xv * wv;
                                    }
                                }
                            }
                            y[(o * oh + oy) * ow + ox] = acc;
                        }
                    }
                }
                y
            }
            Op::Dense(d) => {
                let (weight, bias) = (get("weight"), get("bias"));
                let n = x.len();
                (0..d.out)
                    .map(|o| {
                        let b = bias.get(o).copied().unwrap_or(0.0);
                        (0..n).fold(b, |a, j| a + x[j] * weight[j * d.out + o])
                    })
                    .collect()
            }
            Op::BatchNorm(bn) => {
                let (gamma, beta, mean, var) = (
                    get("gamma"),
                    get("beta"),
                    get("running_mean"),
                    get("running_var"),
                );
                let eps = bn.epsilon as f32;
                per_channel(&|ch, v| (v - mean[ch]) / (var[ch] + eps).sqrt() * gamma[ch] + beta[ch])
            }
            Op::Mask(_) => {
                let m = get("values");
                per_channel(&|ch, v| v * m[ch])
            }
            Op::Relu(_) => x.iter().map(|&v| v.max(0.0)).collect(),
            Op::Clip(cl) => x.iter().map(|&v| v.clamp(cl.min, cl.max)).collect(),
            Op::Gate(_) | Op::Dropout(_) | Op::Flatten(_) => x.clone(),
            Op::Add(_) => x
                .iter()
                .zip(&vals[node.inputs[1].0])
                .map(|(a, b)| a + b)
                .collect(),
            Op::MaxPool(p) => pool(x, (c, h, w), (oh, ow), p.kernel, p.stride, true),
            Op::AvgPool(p) => pool(x, (c, h, w), (oh, ow), p.kernel, p.stride, false),
            Op::GlobalAvgPool(_) => (0..c)
                .map(|ch| x[ch * h * w..(ch + 1) * h * w].iter().sum::<f32>() / (h * w) as f32)
                .collect(),
            Op::Softmax(_) => {
                let max = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                let e: Vec<f32> = x.iter().map(|&v| (v - max).exp()).collect();
                let s: f32 = e.iter().sum();
                e.into_iter().map(|v| v / s).collect()
            }
        };
        vals[node.output.0] = y;
    }
    Ok(std::mem::take(&mut vals[g.output.0]))
}

fn pool(
    x: &[f32],
    (c, h, w): (usize, usize, usize),
    (oh, ow): (usize, usize),
    kernel: [usize; 2],
    stride: [usize; 2],
    max: bool,
) -> Vec<f32> {
    let mut y = vec![0f32; c * oh * ow];
    for ch in 0..c {
        for oy in 0..oh {
            for ox in 0..ow {
                let taps = (0..kernel[0]).flat_map(|ky| (0..kernel[1]).map(move |kx| (ky, kx)));
                let vals = taps
                    .map(|(ky, kx)| x[(ch * h + oy * stride[0] + ky) * w + ox * stride[1] + kx]);
                y[(ch * oh + oy) * ow + ox] = if max {
                    vals.fold(f32::NEG_INFINITY, f32::max)
                } else {
                    vals.sum::<f32>() / (kernel[0] * kernel[1]) as f32
                };
            }
        }
    }
    y
}

impl Folded {
    /// The reference logits of the folded graph for one CHW image (see [`forward`]).
    pub fn forward(&self, input: &[f32]) -> Result<Vec<f32>, ExportError> {
        forward(&self.graph, &self.weights, input)
    }
}
