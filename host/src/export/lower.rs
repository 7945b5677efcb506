//! Lowering: a checked [`FloatNet`] → a blob-ready [`Graph`] in the arena's conventions
//! (HWC activations, OHWI conv weights, dense rows in HWC order, ReLU fused into producers).
//! The f32 and int8 emitters both start here, so their ops and tensor ids line up.

use whittle_shared::Op;
use whittle_shared::Shape;
use whittle_shared::format::{MAX_DIM, Padding, Pool2d, Unary};

use super::error::ExportError;
use super::float_net::{FloatLayer, FloatNet, FloatShape};
use super::layout::{dense_to_out_in_hwc, oihw_to_ohwi};

/// One blob op with float parameters; node `k` writes tensor `k + 1` (tensor 0 is the input).
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Convolution, weights OHWI.
    Conv {
        input: u16,
        kernel: [u8; 2],
        stride: [u8; 2],
        padding: Padding,
        relu: bool,
        /// `[out][kh][kw][in]`.
        weight: Vec<f32>,
        /// `[out]`.
        bias: Vec<f32>,
    },
    /// Fully connected, weights `[out][in]` with `in` in the input's HWC memory order.
    Dense {
        input: u16,
        relu: bool,
        weight: Vec<f32>,
        bias: Vec<f32>,
    },
    /// Max pooling.
    MaxPool {
        input: u16,
        kernel: [u8; 2],
        stride: [u8; 2],
    },
    /// Average pooling.
    AvgPool {
        input: u16,
        kernel: [u8; 2],
        stride: [u8; 2],
    },
    /// Global average pooling to `c × 1 × 1`.
    GlobalAvgPool { input: u16 },
    /// Standalone ReLU (one that could not be fused).
    Relu { input: u16 },
    /// `c × h × w` → `(c·h·w) × 1 × 1`, a view.
    Flatten { input: u16 },
    /// Residual add.
    Add { a: u16, b: u16, relu: bool },
}

impl Node {
    /// The blob op of a node without constant data (pools, ReLU, flatten), writing tensor
    /// `output`; `None` for conv, dense and add, whose encoding depends on the precision.
    pub fn structural_op(&self, output: u16) -> Option<Op> {
        let pool = |input: u16, kernel: [u8; 2], stride: [u8; 2]| Pool2d {
            input,
            output,
            kernel,
            stride,
        };
        Some(match *self {
            Node::MaxPool {
                input,
                kernel,
                stride,
            } => Op::MaxPool2d(pool(input, kernel, stride)),
            Node::AvgPool {
                input,
                kernel,
                stride,
            } => Op::AvgPool2d(pool(input, kernel, stride)),
            Node::GlobalAvgPool { input } => Op::GlobalAvgPool(Unary { input, output }),
            Node::Relu { input } => Op::Relu(Unary { input, output }),
            Node::Flatten { input } => Op::Flatten(Unary { input, output }),
            Node::Conv { .. } | Node::Dense { .. } | Node::Add { .. } => return None,
        })
    }

    /// Short lowercase name (the blob op's).
    pub fn name(&self) -> &'static str {
        match self {
            Node::Conv { .. } => "conv2d",
            Node::Dense { .. } => "dense",
            Node::MaxPool { .. } => "maxpool2d",
            Node::AvgPool { .. } => "avgpool2d",
            Node::GlobalAvgPool { .. } => "global_avgpool",
            Node::Relu { .. } => "relu",
            Node::Flatten { .. } => "flatten",
            Node::Add { .. } => "add",
        }
    }
    /// The first input tensor.
    pub fn input(&self) -> u16 {
        match *self {
            Node::Conv { input, .. }
            | Node::Dense { input, .. }
            | Node::MaxPool { input, .. }
            | Node::AvgPool { input, .. }
            | Node::GlobalAvgPool { input }
            | Node::Relu { input }
            | Node::Flatten { input } => input,
            Node::Add { a, .. } => a,
        }
    }
    /// Whether the op ends in a fused ReLU (its output is ≥ 0).
    pub fn relu(&self) -> bool {
        match *self {
            Node::Conv { relu, .. } | Node::Dense { relu, .. } | Node::Add { relu, .. } => relu,
            Node::Relu { .. } => true,
            _ => false,
        }
    }
}

/// A network in blob conventions, before precision is chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    /// Shape of every tensor; `tensors[0]` is the input, `tensors[k + 1]` node k's output.
    pub tensors: Vec<Shape>,
    /// For every tensor, the CHW dims whose HWC memory order it holds: `[c, h, w]` for a
    /// spatial tensor and for a flattened one, `[n, 1, 1]` for a plain vector. The
    /// network's NCHW values are `hwc_to_chw(values, layout[t])`.
    pub layout: Vec<[usize; 3]>,
    /// The ops in execution order.
    pub nodes: Vec<Node>,
    /// The output tensor.
    pub output: u16,
}

fn fit_u8(
    layer: usize,
    kind: &'static str,
    what: &'static str,
    v: usize,
) -> Result<u8, ExportError> {
    u8::try_from(v).map_err(|_| ExportError::FormatLimit {
        layer,
        kind,
        what,
        value: v,
        max: u8::MAX as usize,
    })
}

fn fit_dim(layer: usize, kind: &'static str, v: usize) -> Result<u16, ExportError> {
    if (1..=MAX_DIM as usize).contains(&v) {
        Ok(v as u16)
    } else {
        Err(ExportError::FormatLimit {
            layer,
            kind,
            what: "dimension",
            value: v,
            max: MAX_DIM as usize,
        })
    }
}

fn blob_shape(layer: usize, kind: &'static str, s: FloatShape) -> Result<Shape, ExportError> {
    Ok(match s {
        FloatShape::Spatial { c, h, w } => Shape::new(
            fit_dim(layer, kind, c)?,
            fit_dim(layer, kind, h)?,
            fit_dim(layer, kind, w)?,
        ),
        FloatShape::Flat(n) => Shape::vector(fit_dim(layer, kind, n)?),
    })
}

fn pair(
    layer: usize,
    kind: &'static str,
    what: &'static str,
    v: [usize; 2],
) -> Result<[u8; 2], ExportError> {
    Ok([
        fit_u8(layer, kind, what, v[0])?,
        fit_u8(layer, kind, what, v[1])?,
    ])
}

/// Lowers `net`: checks it, converts layouts, fuses each ReLU that directly follows a conv,
/// dense or add into it (unless a later residual add reads the value before the ReLU), and
/// drops ReLUs that follow a ReLU.
pub fn lower(net: &FloatNet) -> Result<Graph, ExportError> {
    let shapes = net.shapes()?;
    // Points read by a residual add must exist as tensors of their own.
    let mut skip_read = vec![false; shapes.len()];
    for l in &net.layers {
        if let FloatLayer::Add { skip } = l {
            skip_read[*skip] = true;
        }
    }
    let input = blob_shape(usize::MAX, "input", shapes[0])?;
    let mut g = Graph {
        tensors: vec![input],
        layout: vec![[input.c as usize, input.h as usize, input.w as usize]],
        nodes: Vec::new(),
        output: 0,
    };
    // Tensor holding each point's value.
    let mut point_tensor: Vec<u16> = vec![0];
    for (i, layer) in net.layers.iter().enumerate() {
        let kind = layer.kind();
        let x = point_tensor[i];
        let xs = g.tensors[x as usize];
        let xl = g.layout[x as usize];
        let out_shape = blob_shape(i, kind, shapes[i + 1])?;
        // A ReLU right after a node that produced point i: fuse or drop it. Fusing changes
        // the tensor every point aliasing it sees, so no residual add may read one of those.
        if let (FloatLayer::Relu, Some(k)) = (layer, (x as usize).checked_sub(1)) {
            let node = &mut g.nodes[k];
            let already = node.relu();
            let visible = (0..=i).any(|j| point_tensor[j] == x && skip_read[j]);
            if let Node::Conv { relu, .. } | Node::Dense { relu, .. } | Node::Add { relu, .. } =
                node
                && !visible
            {
                *relu = true;
                point_tensor.push(x);
                continue;
            }
            if already {
                point_tensor.push(x);
                continue;
            }
        }
        let node = match layer {
            FloatLayer::Conv2d {
                out,
                weight,
                bias,
                kernel,
                stride,
                padding,
                relu,
            } => Node::Conv {
                input: x,
                kernel: pair(i, kind, "kernel", *kernel)?,
                stride: pair(i, kind, "stride", *stride)?,
                padding: Padding {
                    top: fit_u8(i, kind, "padding", padding[0])?,
                    left: fit_u8(i, kind, "padding", padding[1])?,
                    bottom: fit_u8(i, kind, "padding", padding[0])?,
                    right: fit_u8(i, kind, "padding", padding[1])?,
                },
                relu: *relu,
                weight: oihw_to_ohwi(weight, [*out, xs.c as usize, kernel[0], kernel[1]]),
                bias: bias.clone(),
            },
            FloatLayer::MaxPool2d { kernel, stride } => Node::MaxPool {
                input: x,
                kernel: pair(i, kind, "kernel", *kernel)?,
                stride: pair(i, kind, "stride", *stride)?,
            },
            FloatLayer::AvgPool2d { kernel, stride } => Node::AvgPool {
                input: x,
                kernel: pair(i, kind, "kernel", *kernel)?,
                stride: pair(i, kind, "stride", *stride)?,
            },
            FloatLayer::GlobalAvgPool => Node::GlobalAvgPool { input: x },
            FloatLayer::Flatten => Node::Flatten { input: x },
            FloatLayer::Dense {
                out,
                weight,
                bias,
                relu,
            } => Node::Dense {
                input: x,
                relu: *relu,
                weight: dense_to_out_in_hwc(weight, *out, xl),
                bias: bias.clone(),
            },
            FloatLayer::Relu => Node::Relu { input: x },
            FloatLayer::Add { skip } => {
                let b = point_tensor[*skip];
                if g.layout[b as usize] != xl {
                    return Err(ExportError::Shape {
                        layer: i,
                        kind,
                        what: format!(
                            "adds values in different memory orders ({:?} vs {xl:?})",
                            g.layout[b as usize]
                        ),
                    });
                }
                Node::Add {
                    a: x,
                    b,
                    relu: false,
                }
            }
        };
        let layout = match node {
            Node::Flatten { .. } | Node::Relu { .. } | Node::Add { .. } => xl,
            _ => [
                out_shape.c as usize,
                out_shape.h as usize,
                out_shape.w as usize,
            ],
        };
        g.nodes.push(node);
        g.tensors.push(out_shape);
        g.layout.push(layout);
        let t = u16::try_from(g.tensors.len() - 1).map_err(|_| ExportError::FormatLimit {
            layer: i,
            kind,
            what: "tensors",
            value: g.tensors.len(),
            max: u16::MAX as usize,
        })?;
        point_tensor.push(t);
    }
    g.output = *point_tensor.last().ok_or(ExportError::Empty)?;
    Ok(g)
}
