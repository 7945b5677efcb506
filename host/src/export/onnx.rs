//! Writing a (pruned) float model as ONNX (opset 13): masks folded into the layer before
//! them, Dropout removed, BatchNorm folded into its conv or kept, a final Softmax kept.

use std::collections::HashMap;

use onnx_ir::{AttributeProto, AttributeType, Message, ModelProto, NodeProto, TensorProto};

use super::error::ExportError;
use super::fold::{checked, fold};
use crate::graph::{Graph, Op, Shape};
use crate::nn::NamedTensor;

/// The opset written.
pub const OPSET: i64 = 13;
/// ONNX IR version written (IR 8 goes with opsets up to 18).
pub const IR_VERSION: i64 = 8;

/// How to write the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OnnxOptions {
    /// Keep BatchNorm nodes (with their running statistics) instead of folding them into
    /// the conv or dense before them.
    pub keep_batch_norm: bool,
}

/// What was written.
#[derive(Debug, Clone, PartialEq)]
pub struct OnnxModel {
    /// The serialized `ModelProto`.
    pub bytes: Vec<u8>,
    /// The graph the file encodes (after folding).
    pub graph: Graph,
    /// Nodes of the file.
    pub nodes: usize,
}

fn node_err(g: &Graph, i: usize, what: impl Into<String>) -> ExportError {
    ExportError::node(g, i, what)
}

/// Folds masks into the BatchNorm or producer before them (through ReLU and pools) and
/// drops Dropout, keeping BatchNorm: the graph and its tensors by node name.
fn fold_masks(
    g: &Graph,
    tensors: &[Vec<NamedTensor>],
) -> Result<(Graph, HashMap<String, Vec<NamedTensor>>), ExportError> {
    let mut by_name: HashMap<String, Vec<NamedTensor>> = HashMap::new();
    for (i, n) in g.nodes.iter().enumerate() {
        checked(g, i, &tensors[i])?;
        by_name.insert(n.name.clone(), tensors[i].clone());
    }
    for (i, n) in g.nodes.iter().enumerate() {
        match &n.op {
            Op::Gate(_) => {
                return Err(node_err(
                    g,
                    i,
                    "hard-concrete gates cannot be exported: finish the L0 method first",
                ));
            }
            Op::Mask(_) => {}
            _ => continue,
        }
        let m = by_name
            .get(&n.name)
            .and_then(|ts| ts.iter().find(|t| t.name == "values"))
            .map(|t| t.values.clone())
            .unwrap_or_default();
        if m.iter().any(|v| v.is_nan() || *v < 0.0) {
            return Err(node_err(g, i, "only mask values ≥ 0 fold through a ReLU"));
        }
        let mut cur = i;
        let target = loop {
            let v = g.nodes[cur].inputs[0];
            if v == g.output || g.readers(v) != [cur] {
                return Err(node_err(
                    g,
                    i,
                    format!(
                        "`{}` is read elsewhere too: the mask cannot fold",
                        g.values[v.0].name
                    ),
                ));
            }
            let Some(p) = g.values[v.0].producer else {
                return Err(node_err(g, i, "a mask on the model input cannot fold"));
            };
            match &g.nodes[p].op {
                Op::Conv2d(_) | Op::Dense(_) | Op::BatchNorm(_) => break p,
                Op::Relu(_)
                | Op::MaxPool(_)
                | Op::AvgPool(_)
                | Op::GlobalAvgPool(_)
                | Op::Dropout(_) => cur = p,
                other => {
                    return Err(node_err(
                        g,
                        i,
                        format!(
                            "a mask folds through ReLU and pools, not through {}",
                            other.name()
                        ),
                    ));
                }
            }
        };
        let name = &g.nodes[target].name;
        let conv = matches!(g.nodes[target].op, Op::Conv2d(_));
        let dense = matches!(g.nodes[target].op, Op::Dense(_));
        let ts = by_name.entry(name.clone()).or_default();
        for t in ts.iter_mut() {
            let c = m.len();
            match t.name.as_str() {
                "weight" if conv => {
                    let per = t.values.len() / c.max(1);
                    for (k, w) in t.values.iter_mut().enumerate() {
                        *w *= m[k / per.max(1)];
                    }
                }
                "weight" if dense => {
                    for (k, w) in t.values.iter_mut().enumerate() {
                        *w *= m[k % c];
                    }
                }
                "bias" | "gamma" | "beta" => {
                    t.values.iter_mut().zip(&m).for_each(|(v, s)| *v *= s);
                }
                _ => {}
            }
        }
    }
    let graph = g.without(|op| matches!(op, Op::Mask(_) | Op::Dropout(_)))?;
    Ok((graph, by_name))
}

fn attr_ints(name: &str, v: &[usize]) -> AttributeProto {
    let mut a = AttributeProto::new();
    a.name = name.into();
    a.type_ = AttributeType::INTS.into();
    a.ints = v.iter().map(|&x| x as i64).collect();
    a
}

fn attr_int(name: &str, v: i64) -> AttributeProto {
    let mut a = AttributeProto::new();
    a.name = name.into();
    a.type_ = AttributeType::INT.into();
    a.i = v;
    a
}

fn attr_float(name: &str, v: f32) -> AttributeProto {
    let mut a = AttributeProto::new();
    a.name = name.into();
    a.type_ = AttributeType::FLOAT.into();
    a.f = v;
    a
}

fn float_tensor(name: &str, dims: &[usize], values: &[f32]) -> TensorProto {
    let mut t = TensorProto::new();
    t.name = name.into();
    t.data_type = 1;
    t.dims = dims.iter().map(|&d| d as i64).collect();
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    t.raw_data = raw.into();
    t
}

fn node(op: &str, name: &str, inputs: Vec<String>, attrs: Vec<AttributeProto>) -> NodeProto {
    let mut n = NodeProto::new();
    n.op_type = op.into();
    n.name = name.into();
    n.input = inputs;
    n.output = vec![name.into()];
    n.attribute = attrs;
    n
}

/// Writes `graph` with its tensors (`tensors[i]` = node `i`'s, burn layouts) as an ONNX
/// model: input `[N, C, H, W]` float (N symbolic), output `[N, classes]`.
pub fn to_onnx(
    graph: &Graph,
    tensors: &[Vec<NamedTensor>],
    opts: OnnxOptions,
) -> Result<OnnxModel, ExportError> {
    if tensors.len() != graph.nodes.len() {
        return Err(ExportError::NodeCount {
            expected: graph.nodes.len(),
            found: tensors.len(),
        });
    }
    let (g, weights) = if opts.keep_batch_norm {
        fold_masks(graph, tensors)?
    } else {
        let f = fold(graph, tensors)?;
        let mut g = f.graph;
        let by_name: HashMap<String, Vec<NamedTensor>> = g
            .nodes
            .iter()
            .map(|n| n.name.clone())
            .zip(f.weights)
            .collect();
        // fold drops a final Softmax (deployment returns logits); ONNX keeps the model's.
        if let Some(p) = graph.values[graph.output.0].producer
            && matches!(graph.nodes[p].op, Op::Softmax(_))
        {
            let last = g
                .node_index(&g.values[g.output.0].name)
                .unwrap_or(g.nodes.len() - 1);
            g = g.insert_after(last, &graph.nodes[p].name, graph.nodes[p].op.clone())?;
        }
        (g, by_name)
    };
    let mut gp = onnx_ir::GraphProto::new();
    gp.name = g.name.clone();
    let vname = |v: crate::graph::ValueId| g.values[v.0].name.clone();
    for (i, n) in g.nodes.iter().enumerate() {
        let ins: Vec<String> = n.inputs.iter().map(|&v| vname(v)).collect();
        let ts = weights.get(&n.name).cloned().unwrap_or_default();
        let get = |k: &str| ts.iter().find(|t| t.name == k);
        let mut add_init = |suffix: &str, dims: &[usize], values: &[f32]| -> String {
            let name = format!("{}.{suffix}", n.name);
            gp.initializer.push(float_tensor(&name, dims, values));
            name
        };
        let missing = |k: &str| ExportError::Tensor {
            node: n.name.clone(),
            tensor: k.into(),
            what: "missing".into(),
        };
        let proto = match &n.op {
            Op::Conv2d(c) => {
                let w = get("weight").ok_or_else(|| missing("weight"))?;
                let mut inputs = vec![ins[0].clone(), add_init("weight", &w.shape, &w.values)];
                if let Some(b) = get("bias") {
                    inputs.push(add_init("bias", &b.shape, &b.values));
                }
                node(
                    "Conv",
                    &n.name,
                    inputs,
                    vec![
                        attr_ints("kernel_shape", &c.kernel),
                        attr_ints("strides", &c.stride),
                        attr_ints("pads", &c.padding.0),
                    ],
                )
            }
            Op::Dense(_) => {
                // burn's [in, out] is Gemm's B with transB = 0.
                let w = get("weight").ok_or_else(|| missing("weight"))?;
                let mut inputs = vec![ins[0].clone(), add_init("weight", &w.shape, &w.values)];
                if let Some(b) = get("bias") {
                    inputs.push(add_init("bias", &b.shape, &b.values));
                }
                node("Gemm", &n.name, inputs, Vec::new())
            }
            Op::BatchNorm(b) => {
                let mut inputs = vec![ins[0].clone()];
                for k in ["gamma", "beta", "running_mean", "running_var"] {
                    let t = get(k).ok_or_else(|| missing(k))?;
                    inputs.push(add_init(k, &t.shape, &t.values));
                }
                if !matches!(g.shape(n.inputs[0]), Shape::Chw(..)) {
                    return Err(node_err(
                        &g,
                        i,
                        "ONNX export writes BatchNorm on [C, H, W] values only",
                    ));
                }
                node(
                    "BatchNormalization",
                    &n.name,
                    inputs,
                    vec![
                        attr_float("epsilon", b.epsilon as f32),
                        attr_float("momentum", (1.0 - b.momentum) as f32),
                    ],
                )
            }
            Op::Relu(_) => node("Relu", &n.name, ins, Vec::new()),
            Op::Clip(c) => {
                let lo = add_init("min", &[], &[c.min]);
                let hi = add_init("max", &[], &[c.max]);
                node("Clip", &n.name, vec![ins[0].clone(), lo, hi], Vec::new())
            }
            Op::Add(_) => node("Add", &n.name, ins, Vec::new()),
            Op::MaxPool(p) => node(
                "MaxPool",
                &n.name,
                ins,
                vec![
                    attr_ints("kernel_shape", &p.kernel),
                    attr_ints("strides", &p.stride),
                ],
            ),
            Op::AvgPool(p) => node(
                "AveragePool",
                &n.name,
                ins,
                vec![
                    attr_ints("kernel_shape", &p.kernel),
                    attr_ints("strides", &p.stride),
                ],
            ),
            Op::GlobalAvgPool(_) => node("GlobalAveragePool", &n.name, ins, Vec::new()),
            Op::Flatten(_) => node("Flatten", &n.name, ins, vec![attr_int("axis", 1)]),
            Op::Softmax(_) => node("Softmax", &n.name, ins, vec![attr_int("axis", -1)]),
            Op::Mask(_) | Op::Gate(_) | Op::Dropout(_) => {
                return Err(node_err(&g, i, "left after folding (a bug)"));
            }
        };
        gp.node.push(proto);
    }
    let [c, h, w] = g.input_dims();
    let mut input = onnx_ir::ValueInfoProto::new();
    input.name = vname(g.input);
    {
        let tt = input.type_.mut_or_insert_default().mut_tensor_type();
        tt.elem_type = 1;
        let shape = tt.shape.mut_or_insert_default();
        shape.dim.resize_with(4, Default::default);
        shape.dim[0].set_dim_param("N".into());
        for (d, v) in shape.dim[1..].iter_mut().zip([c, h, w]) {
            d.set_dim_value(v as i64);
        }
    }
    let mut output = onnx_ir::ValueInfoProto::new();
    output.name = vname(g.output);
    {
        let tt = output.type_.mut_or_insert_default().mut_tensor_type();
        tt.elem_type = 1;
        let shape = tt.shape.mut_or_insert_default();
        shape.dim.resize_with(2, Default::default);
        shape.dim[0].set_dim_param("N".into());
        shape.dim[1].set_dim_value(g.classes as i64);
    }
    gp.input.push(input);
    gp.output.push(output);
    let nodes = gp.node.len();
    let mut m = ModelProto::new();
    m.ir_version = IR_VERSION;
    m.producer_name = "whittle".into();
    m.producer_version = env!("CARGO_PKG_VERSION").into();
    m.opset_import.resize_with(1, Default::default);
    m.opset_import[0].version = OPSET;
    m.graph = Some(gp).into();
    let bytes = m.write_to_bytes().map_err(|e| ExportError::Node {
        node: g.name.clone(),
        op: "model",
        what: format!("protobuf encoding failed: {e}"),
    })?;
    Ok(OnnxModel {
        bytes,
        graph: g,
        nodes,
    })
}
