//! Lowering: a [`Folded`] graph (a DAG) → blob-ready [`Lowered`] ops in the arena's
//! conventions (HWC activations, OHWI conv weights, dense rows in HWC order, ReLU fused into
//! producers). The f32 and int8 emitters both start here, so their ops and tensor ids line up.

use whittle_shared::Op;
use whittle_shared::Shape;
use whittle_shared::format::{MAX_DIM, Padding, Pool2d, Unary};

use super::error::ExportError;
use super::fold::Folded;
use crate::graph::{Graph, Op as GraphOp, Shape as GraphShape, ValueId};
use crate::sim::layout::{dense_to_out_in_hwc, oihw_to_ohwi};

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
pub struct Lowered {
    /// Shape of every tensor; `tensors[0]` is the input, `tensors[k + 1]` node k's output.
    pub tensors: Vec<Shape>,
    /// For every tensor, the CHW dims whose HWC memory order it holds: `[c, h, w]` for a
    /// spatial tensor and for a flattened one, `[n, 1, 1]` for a plain vector. The
    /// network's NCHW values are `hwc_to_chw(values, layout[t])`.
    pub layout: Vec<[usize; 3]>,
    /// The ops in execution order.
    pub nodes: Vec<Node>,
    /// `names[k]`: the folded graph's node that blob op `k` comes from.
    pub names: Vec<String>,
    /// The output tensor.
    pub output: u16,
    /// The pixel range the model was trained on (recorded in the blob).
    pub input_range: whittle_shared::InputRange,
}

/// Where a lowering error is: a node's name and op.
#[derive(Clone, Copy)]
struct At<'a> {
    node: &'a str,
    op: &'static str,
}

impl At<'_> {
    fn limit(self, what: &'static str, value: usize, max: usize) -> ExportError {
        ExportError::FormatLimit {
            node: self.node.into(),
            op: self.op,
            what,
            value,
            max,
        }
    }
    fn u8(self, what: &'static str, v: usize) -> Result<u8, ExportError> {
        u8::try_from(v).map_err(|_| self.limit(what, v, u8::MAX as usize))
    }
    fn pair(self, what: &'static str, v: [usize; 2]) -> Result<[u8; 2], ExportError> {
        Ok([self.u8(what, v[0])?, self.u8(what, v[1])?])
    }
    fn dim(self, v: usize) -> Result<u16, ExportError> {
        if (1..=MAX_DIM as usize).contains(&v) {
            Ok(v as u16)
        } else {
            Err(self.limit("dimension", v, MAX_DIM as usize))
        }
    }
    fn shape(self, s: GraphShape) -> Result<Shape, ExportError> {
        Ok(match s {
            GraphShape::Chw(c, h, w) => Shape::new(self.dim(c)?, self.dim(h)?, self.dim(w)?),
            GraphShape::Flat(n) => Shape::vector(self.dim(n)?),
        })
    }
}

fn dims(s: Shape) -> [usize; 3] {
    [s.c as usize, s.h as usize, s.w as usize]
}

/// Lowers `f`: every value gets a tensor id in node order (the input is 0); layouts are
/// converted; a ReLU is fused into the conv, dense or add producing its input when that
/// output is read by the ReLU only (and is not the model output); a ReLU of a value that is
/// already ≥ 0 from a fused ReLU is dropped.
pub fn lower(f: &Folded) -> Result<Lowered, ExportError> {
    let g: &Graph = &f.graph;
    if f.weights.len() != g.nodes.len() {
        return Err(ExportError::NodeCount {
            expected: g.nodes.len(),
            found: f.weights.len(),
        });
    }
    let input_at = At {
        node: &g.values[g.input.0].name,
        op: "input",
    };
    let input = input_at.shape(g.shape(g.input))?;
    let mut out = Lowered {
        tensors: vec![input],
        layout: vec![dims(input)],
        nodes: Vec::new(),
        names: Vec::new(),
        output: 0,
        input_range: g.input_range.into(),
    };
    let mut tensor_of: Vec<Option<u16>> = vec![None; g.values.len()];
    tensor_of[g.input.0] = Some(0);
    let tensor = |tensor_of: &[Option<u16>], v: ValueId, i: usize| {
        tensor_of[v.0].ok_or_else(|| ExportError::node(g, i, "reads a value not computed yet"))
    };
    for (i, node) in g.nodes.iter().enumerate() {
        let at = At {
            node: &node.name,
            op: node.op.name(),
        };
        let x = tensor(&tensor_of, node.inputs[0], i)?;
        let xl = out.layout[x as usize];
        let out_shape = at.shape(g.shape(node.output))?;
        let weight = |name: &str| f.tensor(i, name).map(|t| t.values.as_slice());
        let lowered = match &node.op {
            GraphOp::Relu(_) => {
                let v = node.inputs[0];
                let fusable = v != g.output && g.readers(v) == [i];
                match (x as usize).checked_sub(1).map(|k| &mut out.nodes[k]) {
                    Some(
                        Node::Conv { relu, .. } | Node::Dense { relu, .. } | Node::Add { relu, .. },
                    ) if fusable && !*relu => {
                        *relu = true;
                        tensor_of[node.output.0] = Some(x);
                        continue;
                    }
                    Some(n) if n.relu() => {
                        tensor_of[node.output.0] = Some(x);
                        continue;
                    }
                    _ => Node::Relu { input: x },
                }
            }
            GraphOp::Conv2d(c) => {
                let p = c.padding;
                let cin = g.shape(node.inputs[0]).channels();
                Node::Conv {
                    input: x,
                    kernel: at.pair("kernel", c.kernel)?,
                    stride: at.pair("stride", c.stride)?,
                    padding: Padding {
                        top: at.u8("padding", p.top())?,
                        left: at.u8("padding", p.left())?,
                        bottom: at.u8("padding", p.bottom())?,
                        right: at.u8("padding", p.right())?,
                    },
                    relu: false,
                    weight: oihw_to_ohwi(weight("weight")?, [c.out, cin, c.kernel[0], c.kernel[1]]),
                    bias: weight("bias")?.to_vec(),
                }
            }
            GraphOp::Dense(d) => Node::Dense {
                input: x,
                relu: false,
                weight: dense_to_out_in_hwc(weight("weight")?, d.out, xl),
                bias: weight("bias")?.to_vec(),
            },
            GraphOp::MaxPool(p) => Node::MaxPool {
                input: x,
                kernel: at.pair("kernel", p.kernel)?,
                stride: at.pair("stride", p.stride)?,
            },
            GraphOp::AvgPool(p) => Node::AvgPool {
                input: x,
                kernel: at.pair("kernel", p.kernel)?,
                stride: at.pair("stride", p.stride)?,
            },
            GraphOp::GlobalAvgPool(_) => Node::GlobalAvgPool { input: x },
            GraphOp::Flatten(_) => Node::Flatten { input: x },
            GraphOp::Add(_) => {
                let b = tensor(&tensor_of, node.inputs[1], i)?;
                if out.layout[b as usize] != xl {
                    return Err(ExportError::node(
                        g,
                        i,
                        format!(
                            "adds values in different memory orders ({xl:?} vs {:?})",
                            out.layout[b as usize]
                        ),
                    ));
                }
                Node::Add {
                    a: x,
                    b,
                    relu: false,
                }
            }
            GraphOp::Clip(_) => {
                return Err(ExportError::node(
                    g,
                    i,
                    "the blob format has no Clip kernel (only ReLU)",
                ));
            }
            GraphOp::BatchNorm(_)
            | GraphOp::Mask(_)
            | GraphOp::Gate(_)
            | GraphOp::Dropout(_)
            | GraphOp::Softmax(_) => {
                return Err(ExportError::node(
                    g,
                    i,
                    "not folded: lower a graph made by export::fold",
                ));
            }
        };
        let layout = match lowered {
            Node::Flatten { .. } | Node::Relu { .. } | Node::Add { .. } => xl,
            _ => dims(out_shape),
        };
        out.nodes.push(lowered);
        out.names.push(node.name.clone());
        out.tensors.push(out_shape);
        out.layout.push(layout);
        let t = u16::try_from(out.tensors.len() - 1)
            .map_err(|_| at.limit("tensors", out.tensors.len(), u16::MAX as usize))?;
        tensor_of[node.output.0] = Some(t);
    }
    out.output = tensor(&tensor_of, g.output, g.nodes.len().saturating_sub(1))?;
    Ok(out)
}
