//! `FloatNet`: the neutral hand-over format of a trained network (PyTorch/burn layouts,
//! NCHW), its shape check, and a naive NCHW reference forward pass written apart from `shared`.

use serde::{Deserialize, Serialize};

use super::error::ExportError;

/// One layer in PyTorch/burn conventions. Activations are NCHW (batch 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum FloatLayer {
    /// 2-D convolution with bias; zero padding `padding = [ph, pw]` on both sides.
    Conv2d {
        /// Output channels.
        out: usize,
        /// `[out][in][kh][kw]` (OIHW), row-major.
        weight: Vec<f32>,
        /// `[out]`.
        bias: Vec<f32>,
        /// `[kh, kw]`.
        kernel: [usize; 2],
        /// `[sh, sw]`.
        stride: [usize; 2],
        /// `[ph, pw]`, added on both sides.
        padding: [usize; 2],
        /// ReLU after the convolution.
        relu: bool,
    },
    /// Max pooling, no padding, floor mode.
    MaxPool2d {
        /// `[kh, kw]`.
        kernel: [usize; 2],
        /// `[sh, sw]`.
        stride: [usize; 2],
    },
    /// Average pooling, no padding, floor mode.
    AvgPool2d {
        /// `[kh, kw]`.
        kernel: [usize; 2],
        /// `[sh, sw]`.
        stride: [usize; 2],
    },
    /// Mean over H and W: `[c, h, w]` → `[c, 1, 1]` (still spatial: flatten it).
    GlobalAvgPool,
    /// `[c, h, w]` → `[c·h·w]`, index `c·H·W + y·W + x` (PyTorch/burn flatten).
    Flatten,
    /// Fully connected layer with bias on a flat input.
    Dense {
        /// Output features.
        out: usize,
        /// `[in][out]` (burn's `Linear` layout, PyTorch's transpose), row-major.
        weight: Vec<f32>,
        /// `[out]`.
        bias: Vec<f32>,
        /// ReLU after the layer.
        relu: bool,
    },
    /// Elementwise ReLU.
    Relu,
    /// Residual add: the current value plus the value at point `skip` (0 = the network
    /// input, `i + 1` = the output of `layers[i]`), of the same shape.
    Add {
        /// Point whose value is added.
        skip: usize,
    },
}

impl FloatLayer {
    /// Short name for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Conv2d { .. } => "Conv2d",
            Self::MaxPool2d { .. } => "MaxPool2d",
            Self::AvgPool2d { .. } => "AvgPool2d",
            Self::GlobalAvgPool => "GlobalAvgPool",
            Self::Flatten => "Flatten",
            Self::Dense { .. } => "Dense",
            Self::Relu => "Relu",
            Self::Add { .. } => "Add",
        }
    }
}

/// Shape of a value between layers (batch 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FloatShape {
    /// `[c, h, w]`.
    Spatial {
        /// Channels.
        c: usize,
        /// Height.
        h: usize,
        /// Width.
        w: usize,
    },
    /// `[n]`.
    Flat(usize),
}

impl FloatShape {
    /// Number of values.
    pub fn len(self) -> usize {
        match self {
            Self::Spatial { c, h, w } => c * h * w,
            Self::Flat(n) => n,
        }
    }
    /// True when the shape holds no values.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// A trained network as handed over for export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FloatNet {
    /// Input `[c, h, w]`.
    pub input: [usize; 3],
    /// The layers in execution order.
    pub layers: Vec<FloatLayer>,
}

/// Output size of a window of `k` moved by `s` over `n + 2p` values, if the window fits.
fn window(n: usize, k: usize, s: usize, p: usize) -> Option<usize> {
    (k > 0 && s > 0 && n + 2 * p >= k).then(|| (n + 2 * p - k) / s + 1)
}

impl FloatNet {
    /// Checks every layer against its input and returns the shape at every point:
    /// `[input, after layers[0], after layers[1], ...]`.
    pub fn shapes(&self) -> Result<Vec<FloatShape>, ExportError> {
        let [c, h, w] = self.input;
        if c * h * w == 0 {
            return Err(ExportError::Shape {
                layer: usize::MAX,
                kind: "input",
                what: format!("input {c}x{h}x{w} is empty"),
            });
        }
        let mut points = vec![FloatShape::Spatial { c, h, w }];
        for (i, layer) in self.layers.iter().enumerate() {
            let kind = layer.kind();
            let bad = |what: String| ExportError::Shape {
                layer: i,
                kind,
                what,
            };
            let count = |tensor: &'static str, expected: usize, found: usize| {
                if expected == found {
                    Ok(())
                } else {
                    Err(ExportError::WeightCount {
                        layer: i,
                        kind,
                        tensor,
                        expected,
                        found,
                    })
                }
            };
            let finite = |tensor: &'static str, v: &[f32]| {
                if v.iter().all(|x| x.is_finite()) {
                    Ok(())
                } else {
                    Err(ExportError::NonFinite {
                        layer: i,
                        kind,
                        tensor,
                    })
                }
            };
            let cur = points[i];
            let next = match (layer, cur) {
                (
                    FloatLayer::Conv2d {
                        out,
                        weight,
                        bias,
                        kernel,
                        stride,
                        padding,
                        ..
                    },
                    FloatShape::Spatial { c, h, w },
                ) => {
                    let (oh, ow) = match (
                        window(h, kernel[0], stride[0], padding[0]),
                        window(w, kernel[1], stride[1], padding[1]),
                    ) {
                        (Some(oh), Some(ow)) if *out > 0 => (oh, ow),
                        _ => {
                            return Err(bad(format!(
                                "out {out}, kernel {kernel:?}, stride {stride:?}, padding \
                                 {padding:?} on {c}x{h}x{w}"
                            )));
                        }
                    };
                    count("weight", out * c * kernel[0] * kernel[1], weight.len())?;
                    count("bias", *out, bias.len())?;
                    finite("weight", weight)?;
                    finite("bias", bias)?;
                    FloatShape::Spatial {
                        c: *out,
                        h: oh,
                        w: ow,
                    }
                }
                (
                    FloatLayer::MaxPool2d { kernel, stride }
                    | FloatLayer::AvgPool2d { kernel, stride },
                    FloatShape::Spatial { c, h, w },
                ) => match (
                    window(h, kernel[0], stride[0], 0),
                    window(w, kernel[1], stride[1], 0),
                ) {
                    (Some(oh), Some(ow)) => FloatShape::Spatial { c, h: oh, w: ow },
                    _ => {
                        return Err(bad(format!(
                            "kernel {kernel:?}, stride {stride:?} on {c}x{h}x{w}"
                        )));
                    }
                },
                (FloatLayer::GlobalAvgPool, FloatShape::Spatial { c, .. }) => {
                    FloatShape::Spatial { c, h: 1, w: 1 }
                }
                (FloatLayer::Flatten, FloatShape::Spatial { c, h, w }) => {
                    FloatShape::Flat(c * h * w)
                }
                (
                    FloatLayer::Dense {
                        out, weight, bias, ..
                    },
                    FloatShape::Flat(n),
                ) => {
                    if *out == 0 {
                        return Err(bad("out 0".into()));
                    }
                    count("weight", n * out, weight.len())?;
                    count("bias", *out, bias.len())?;
                    finite("weight", weight)?;
                    finite("bias", bias)?;
                    FloatShape::Flat(*out)
                }
                (FloatLayer::Relu, s) => s,
                (FloatLayer::Add { skip }, s) => match points.get(*skip) {
                    Some(&other) if other == s => s,
                    Some(other) => {
                        return Err(bad(format!(
                            "adds point {skip} of shape {other:?} to {s:?}"
                        )));
                    }
                    None => return Err(bad(format!("skip point {skip} is not computed yet"))),
                },
                (l, s) => {
                    let want = match l {
                        FloatLayer::Dense { .. } => "a flat input (add Flatten)",
                        _ => "a spatial [c, h, w] input",
                    };
                    return Err(bad(format!("needs {want}, got {s:?}")));
                }
            };
            points.push(next);
        }
        if self.layers.is_empty() {
            return Err(ExportError::Empty);
        }
        Ok(points)
    }

    /// Output shape (checks the whole network).
    pub fn output_shape(&self) -> Result<FloatShape, ExportError> {
        self.shapes()?.last().copied().ok_or(ExportError::Empty)
    }

    /// Reference forward pass on one CHW image; returns the output in NCHW order
    /// (logits for a classifier). Naive loops, independent of `whittle_shared`.
    pub fn forward(&self, input: &[f32]) -> Result<Vec<f32>, ExportError> {
        let shapes = self.shapes()?;
        if input.len() != shapes[0].len() {
            return Err(ExportError::InputSize {
                what: "input image",
                expected: shapes[0].len(),
                found: input.len(),
            });
        }
        let mut points: Vec<Vec<f32>> = vec![input.to_vec()];
        for (i, layer) in self.layers.iter().enumerate() {
            let x = &points[i];
            let y = match (layer, shapes[i], shapes[i + 1]) {
                (
                    FloatLayer::Conv2d {
                        weight,
                        bias,
                        kernel,
                        stride,
                        padding,
                        relu,
                        ..
                    },
                    FloatShape::Spatial { c, h, w },
                    FloatShape::Spatial {
                        c: oc,
                        h: oh,
                        w: ow,
                    },
                ) => {
                    let mut y = vec![0f32; oc * oh * ow];
                    for o in 0..oc {
                        for oy in 0..oh {
                            for ox in 0..ow {
                                let mut acc = bias[o];
                                for ci in 0..c {
                                    for ky in 0..kernel[0] {
                                        for kx in 0..kernel[1] {
                                            let iy = (oy * stride[0] + ky) as isize
                                                - padding[0] as isize;
                                            let ix = (ox * stride[1] + kx) as isize
                                                - padding[1] as isize;
                                            if iy < 0
                                                || ix < 0
                                                || iy >= h as isize
                                                || ix >= w as isize
                                            {
                                                continue;
                                            }
                                            let xv = x[(ci * h + iy as usize) * w + ix as usize];
                                            let wv = weight
                                                [((o * c + ci) * kernel[0] + ky) * kernel[1] + kx];
                                            acc += xv * wv;
                                        }
                                    }
                                }
                                y[(o * oh + oy) * ow + ox] = relu_if(*relu, acc);
                            }
                        }
                    }
                    y
                }
                (
                    FloatLayer::MaxPool2d { kernel, stride }
                    | FloatLayer::AvgPool2d { kernel, stride },
                    FloatShape::Spatial { c, h, w },
                    FloatShape::Spatial { h: oh, w: ow, .. },
                ) => {
                    let max = matches!(layer, FloatLayer::MaxPool2d { .. });
                    let mut y = vec![0f32; c * oh * ow];
                    for ch in 0..c {
                        for oy in 0..oh {
                            for ox in 0..ow {
                                let taps = (0..kernel[0])
                                    .flat_map(|ky| (0..kernel[1]).map(move |kx| (ky, kx)));
                                let vals = taps.map(|(ky, kx)| {
                                    x[(ch * h + oy * stride[0] + ky) * w + ox * stride[1] + kx]
                                });
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
                (FloatLayer::GlobalAvgPool, FloatShape::Spatial { c, h, w }, _) => (0..c)
                    .map(|ch| x[ch * h * w..(ch + 1) * h * w].iter().sum::<f32>() / (h * w) as f32)
                    .collect(),
                (FloatLayer::Flatten, _, _) => x.clone(),
                (
                    FloatLayer::Dense {
                        out,
                        weight,
                        bias,
                        relu,
                    },
                    FloatShape::Flat(n),
                    _,
                ) => (0..*out)
                    .map(|o| {
                        let acc = (0..n).fold(bias[o], |a, j| a + x[j] * weight[j * out + o]);
                        relu_if(*relu, acc)
                    })
                    .collect(),
                (FloatLayer::Relu, _, _) => x.iter().map(|&v| relu_if(true, v)).collect(),
                (FloatLayer::Add { skip }, _, _) => {
                    x.iter().zip(&points[*skip]).map(|(a, b)| a + b).collect()
                }
                // shapes() has rejected every other combination.
                (l, s, _) => {
                    return Err(ExportError::Shape {
                        layer: i,
                        kind: l.kind(),
                        what: format!("unexpected input {s:?}"),
                    });
                }
            };
            points.push(y);
        }
        Ok(points.pop().unwrap_or_default())
    }

    /// Parameters (weights + biases) of all layers.
    pub fn num_params(&self) -> usize {
        self.layers
            .iter()
            .map(|l| match l {
                FloatLayer::Conv2d { weight, bias, .. }
                | FloatLayer::Dense { weight, bias, .. } => weight.len() + bias.len(),
                _ => 0,
            })
            .sum()
    }
}

#[inline]
fn relu_if(relu: bool, x: f32) -> f32 {
    if relu && x < 0.0 { 0.0 } else { x }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_conv_flatten_dense() {
        // 1x2x2 input, conv 2 out 1x1 kernel, flatten (2x2x2 = 8), dense 8 -> 1.
        let net = FloatNet {
            input: [1, 2, 2],
            layers: vec![
                FloatLayer::Conv2d {
                    out: 2,
                    weight: vec![1.0, -1.0],
                    bias: vec![0.5, 0.0],
                    kernel: [1, 1],
                    stride: [1, 1],
                    padding: [0, 0],
                    relu: true,
                },
                FloatLayer::Flatten,
                FloatLayer::Dense {
                    out: 1,
                    weight: (0..8).map(|i| i as f32).collect(),
                    bias: vec![0.0],
                    relu: false,
                },
            ],
        };
        let x = [1.0, -2.0, 3.0, 0.0];
        // channel 0: relu(x + 0.5) = [1.5, 0, 3.5, 0.5]; channel 1: relu(-x) = [0, 2, 0, 0]
        // dense: Σ i·v = 0·1.5 + 2·3.5 + 3·0.5 + 5·2 = 18.5
        let y = net.forward(&x).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(y, vec![18.5]);
    }

    #[test]
    fn shape_errors_name_the_layer() {
        let net = FloatNet {
            input: [3, 4, 4],
            layers: vec![FloatLayer::Dense {
                out: 2,
                weight: vec![0.0; 96],
                bias: vec![0.0; 2],
                relu: false,
            }],
        };
        assert!(matches!(
            net.shapes(),
            Err(ExportError::Shape {
                layer: 0,
                kind: "Dense",
                ..
            })
        ));
        let net = FloatNet {
            input: [3, 4, 4],
            layers: vec![FloatLayer::MaxPool2d {
                kernel: [5, 5],
                stride: [1, 1],
            }],
        };
        assert!(net.shapes().is_err());
    }
}
