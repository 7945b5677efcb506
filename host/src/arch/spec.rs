//! Architecture as data: a serde-serializable layer list that is validated, measured
//! (shapes, parameters, MACs) and built into burn modules at run time; a pruned network
//! is the same spec with smaller widths.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::ArchError;

/// One layer of a sequential CNN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum LayerSpec {
    /// 2-D convolution, stride 1, 'same' padding (odd `k`), with bias, optional ReLU.
    Conv {
        /// Output channels.
        out: usize,
        /// Kernel size (k x k, odd).
        k: usize,
        /// Apply ReLU after the convolution.
        relu: bool,
    },
    /// Max pooling `size` x `size`, stride `size`.
    Pool {
        /// Window and stride.
        size: usize,
    },
    /// Dropout with drop probability `p` (training only).
    Dropout {
        /// Probability of zeroing an activation.
        p: f64,
    },
    /// NCHW → `[N, C*H*W]` (channel-major).
    Flatten,
    /// Fully connected layer with bias, optional ReLU.
    Dense {
        /// Output features.
        out: usize,
        /// Apply ReLU after the layer.
        relu: bool,
    },
    /// Learnable per-channel scale after the previous Conv/Dense+ReLU (width inferred).
    Mask,
}

impl LayerSpec {
    /// Short name for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Conv { .. } => "Conv",
            Self::Pool { .. } => "Pool",
            Self::Dropout { .. } => "Dropout",
            Self::Flatten => "Flatten",
            Self::Dense { .. } => "Dense",
            Self::Mask => "Mask",
        }
    }

    /// Output width of a Conv or Dense layer (the prunable dimension).
    pub fn width(&self) -> Option<usize> {
        match self {
            Self::Conv { out, .. } | Self::Dense { out, .. } => Some(*out),
            _ => None,
        }
    }
}

/// Shape of an activation (without the batch dimension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Shape {
    /// Channels, height, width.
    Chw(usize, usize, usize),
    /// Features.
    Flat(usize),
}

impl Shape {
    /// Number of values.
    pub fn numel(self) -> usize {
        match self {
            Self::Chw(c, h, w) => c * h * w,
            Self::Flat(n) => n,
        }
    }

    /// Channels (features for a flat shape).
    pub fn channels(self) -> usize {
        match self {
            Self::Chw(c, _, _) => c,
            Self::Flat(n) => n,
        }
    }
}

/// Per-layer facts computed from a spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerInfo {
    /// Input shape.
    pub input: Shape,
    /// Output shape.
    pub output: Shape,
    /// Trainable weights + biases (masks excluded).
    pub weights: usize,
    /// Mask values.
    pub mask_values: usize,
    /// Multiply-accumulates per image.
    pub macs: usize,
}

/// A sequential classifier: input shape, layers, classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchSpec {
    /// Name (a preset's name, or a derived name after pruning).
    pub name: String,
    /// Input `[channels, height, width]`.
    pub input: [usize; 3],
    /// Number of classes (logits).
    pub num_classes: usize,
    /// The layers in order.
    pub layers: Vec<LayerSpec>,
}

impl ArchSpec {
    /// Check the spec and compute every layer's shapes, parameter count and MACs.
    pub fn layer_info(&self) -> Result<Vec<LayerInfo>, ArchError> {
        let [c, h, w] = self.input;
        let mut shape = Shape::Chw(c, h, w);
        let mut infos = Vec::with_capacity(self.layers.len());
        let mut prev_relu_producer = false;
        for (index, layer) in self.layers.iter().enumerate() {
            let bad = |what: String| ArchError::BadParameter {
                index,
                layer: layer.kind(),
                what,
            };
            let rank = |expected: &'static str| ArchError::Rank {
                index,
                layer: layer.kind(),
                expected,
                found: format!("{shape:?}"),
            };
            let (output, weights, masks, macs) = match (layer, shape) {
                (LayerSpec::Conv { out, k, .. }, Shape::Chw(c, h, w)) => {
                    if *out == 0 || *k == 0 || k % 2 == 0 {
                        return Err(bad(format!("out {out}, k {k}: need out > 0 and odd k")));
                    }
                    let wts = out * c * k * k + out;
                    (Shape::Chw(*out, h, w), wts, 0, out * c * k * k * h * w)
                }
                (LayerSpec::Conv { .. }, _) => return Err(rank("[C, H, W]")),
                (LayerSpec::Pool { size }, Shape::Chw(c, h, w)) => {
                    if *size == 0 || *size > h || *size > w {
                        return Err(bad(format!("pool {size} on {h}x{w}")));
                    }
                    (Shape::Chw(c, h / size, w / size), 0, 0, 0)
                }
                (LayerSpec::Pool { .. }, _) => return Err(rank("[C, H, W]")),
                (LayerSpec::Dropout { p }, s) => {
                    if !(0.0..1.0).contains(p) {
                        return Err(bad(format!("p = {p} not in [0, 1)")));
                    }
                    (s, 0, 0, 0)
                }
                (LayerSpec::Flatten, Shape::Chw(c, h, w)) => (Shape::Flat(c * h * w), 0, 0, 0),
                (LayerSpec::Flatten, _) => return Err(rank("[C, H, W]")),
                (LayerSpec::Dense { out, .. }, Shape::Flat(n)) => {
                    if *out == 0 {
                        return Err(bad("out 0".into()));
                    }
                    (Shape::Flat(*out), n * out + out, 0, n * out)
                }
                (LayerSpec::Dense { .. }, _) => return Err(rank("[features] (add Flatten)")),
                (LayerSpec::Mask, s) => {
                    if !prev_relu_producer {
                        return Err(ArchError::MaskPlacement { index });
                    }
                    (s, 0, s.channels(), 0)
                }
            };
            prev_relu_producer = matches!(
                layer,
                LayerSpec::Conv { relu: true, .. } | LayerSpec::Dense { relu: true, .. }
            );
            infos.push(LayerInfo {
                input: shape,
                output,
                weights,
                mask_values: masks,
                macs,
            });
            shape = output;
        }
        match self.layers.last() {
            Some(LayerSpec::Dense { out, relu: false }) if *out == self.num_classes => Ok(infos),
            other => Err(ArchError::Output {
                classes: self.num_classes,
                found: format!("{other:?}"),
            }),
        }
    }

    /// Trainable weights and biases (masks excluded).
    pub fn num_weights(&self) -> Result<usize, ArchError> {
        Ok(self.layer_info()?.iter().map(|l| l.weights).sum())
    }

    /// Multiply-accumulates per image.
    pub fn macs(&self) -> Result<usize, ArchError> {
        Ok(self.layer_info()?.iter().map(|l| l.macs).sum())
    }

    /// Indices of the Mask layers.
    pub fn mask_layers(&self) -> Vec<usize> {
        (0..self.layers.len())
            .filter(|&i| self.layers[i] == LayerSpec::Mask)
            .collect()
    }

    /// Indices of the prunable layers: every Conv/Dense except the output layer.
    pub fn prunable_layers(&self) -> Vec<usize> {
        let last = self.layers.len().saturating_sub(1);
        (0..last)
            .filter(|&i| self.layers[i].width().is_some())
            .collect()
    }

    /// Widths of the prunable layers, in order.
    pub fn widths(&self) -> Vec<usize> {
        self.prunable_layers()
            .into_iter()
            .filter_map(|i| self.layers[i].width())
            .collect()
    }

    /// The same architecture with the prunable layers' widths replaced (validated).
    pub fn with_widths(&self, widths: &[usize]) -> Result<ArchSpec, ArchError> {
        let idx = self.prunable_layers();
        if idx.len() != widths.len() {
            return Err(ArchError::WidthCount {
                expected: idx.len(),
                found: widths.len(),
            });
        }
        let mut spec = self.clone();
        for (&i, &wd) in idx.iter().zip(widths) {
            if let LayerSpec::Conv { out, .. } | LayerSpec::Dense { out, .. } = &mut spec.layers[i]
            {
                *out = wd;
            }
        }
        spec.layer_info()?;
        Ok(spec)
    }

    /// Read a spec from JSON.
    pub fn load(path: &Path) -> Result<ArchSpec, ArchError> {
        let bytes = std::fs::read(path).map_err(|source| ArchError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let spec: ArchSpec = serde_json::from_slice(&bytes).map_err(|source| ArchError::Json {
            path: path.display().to_string(),
            source,
        })?;
        spec.layer_info()?;
        Ok(spec)
    }

    /// The spec as pretty JSON.
    pub fn to_json(&self) -> String {
        // An ArchSpec holds only strings, numbers and enums: serialization cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
