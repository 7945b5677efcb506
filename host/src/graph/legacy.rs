//! Version-1 spec files: the sequential layer lists (`Conv`/`Pool`/`Dropout`/`Flatten`/
//! `Dense`/`Mask`, ReLU as a flag) that whittle wrote before the graph IR, converted to
//! graphs; the old weight files' layer indices map to node names through [`layer_nodes`].

use serde::Deserialize;
use serde_json::Value as Json;

use super::error::GraphError;
use super::ir::{Graph, GraphDef, InputRange, NodeDef};
use super::op::{Conv2d, Dense, Dropout, Flatten, Mask, MaxPool, Op, Relu};

/// One layer of a version-1 spec.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum LayerV1 {
    /// 3-D conv, stride 1, 'same' padding (odd `k`), bias, optional ReLU.
    Conv {
        /// Output channels.
        out: usize,
        /// Kernel size.
        k: usize,
        /// ReLU after it.
        relu: bool,
    },
    /// Max pooling `size`×`size`, stride `size`.
    Pool {
        /// Window and stride.
        size: usize,
    },
    /// Dropout.
    Dropout {
        /// Drop probability.
        p: f64,
    },
    /// NCHW flatten.
    Flatten,
    /// Fully connected with bias, optional ReLU.
    Dense {
        /// Output features.
        out: usize,
        /// ReLU after it.
        relu: bool,
    },
    /// Per-channel mask after the previous Conv/Dense+ReLU.
    Mask,
}

impl LayerV1 {
    fn kind(&self) -> &'static str {
        match self {
            Self::Conv { .. } => "Conv",
            Self::Pool { .. } => "Pool",
            Self::Dropout { .. } => "Dropout",
            Self::Flatten => "Flatten",
            Self::Dense { .. } => "Dense",
            Self::Mask => "Mask",
        }
    }
}

/// A version-1 spec file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecV1 {
    /// Name.
    pub name: String,
    /// Input `[c, h, w]`.
    pub input: [usize; 3],
    /// Classes.
    pub num_classes: usize,
    /// Layers in order.
    pub layers: Vec<LayerV1>,
}

/// The graph of a version-1 spec, and for each v1 layer the node holding its parameters
/// (its weights file stored them under the layer's index).
pub fn convert(spec: &SpecV1) -> Result<(GraphDef, Vec<Option<String>>), GraphError> {
    let mut nodes: Vec<NodeDef> = Vec::new();
    let mut map = Vec::with_capacity(spec.layers.len());
    let mut last = "input".to_string();
    let mut prev_relu_producer = false;
    let (mut convs, mut denses, mut pools, mut drops, mut masks) = (0, 0, 0, 0, 0);
    let push = |nodes: &mut Vec<NodeDef>, last: &mut String, name: String, op: Op| {
        nodes.push(NodeDef {
            name: name.clone(),
            op,
            inputs: vec![last.clone()],
        });
        *last = name;
    };
    for (index, layer) in spec.layers.iter().enumerate() {
        let bad = |what: String| GraphError::Legacy {
            index,
            layer: layer.kind(),
            what,
        };
        let mut param_node = None;
        match *layer {
            LayerV1::Conv { out, k, relu } => {
                if k % 2 == 0 {
                    return Err(bad(format!("k {k}: 'same' padding needs an odd kernel")));
                }
                convs += 1;
                let name = format!("conv{convs}");
                param_node = Some(name.clone());
                push(
                    &mut nodes,
                    &mut last,
                    name,
                    Op::Conv2d(Conv2d::same(out, k)),
                );
                if relu {
                    push(
                        &mut nodes,
                        &mut last,
                        format!("relu{convs}"),
                        Op::Relu(Relu {}),
                    );
                }
            }
            LayerV1::Dense { out, relu } => {
                denses += 1;
                let name = format!("dense{denses}");
                param_node = Some(name.clone());
                push(
                    &mut nodes,
                    &mut last,
                    name,
                    Op::Dense(Dense { out, bias: true }),
                );
                if relu {
                    push(
                        &mut nodes,
                        &mut last,
                        format!("dense{denses}_relu"),
                        Op::Relu(Relu {}),
                    );
                }
            }
            LayerV1::Pool { size } => {
                pools += 1;
                push(
                    &mut nodes,
                    &mut last,
                    format!("pool{pools}"),
                    Op::MaxPool(MaxPool {
                        kernel: [size, size],
                        stride: [size, size],
                    }),
                );
            }
            LayerV1::Dropout { p } => {
                drops += 1;
                push(
                    &mut nodes,
                    &mut last,
                    format!("drop{drops}"),
                    Op::Dropout(Dropout { p }),
                );
            }
            LayerV1::Flatten => {
                push(
                    &mut nodes,
                    &mut last,
                    "flatten".into(),
                    Op::Flatten(Flatten {}),
                );
            }
            LayerV1::Mask => {
                if !prev_relu_producer {
                    return Err(bad("a mask must follow a Conv or Dense with relu".into()));
                }
                masks += 1;
                let name = format!("mask{masks}");
                param_node = Some(name.clone());
                push(&mut nodes, &mut last, name, Op::Mask(Mask {}));
            }
        }
        prev_relu_producer = matches!(
            layer,
            LayerV1::Conv { relu: true, .. } | LayerV1::Dense { relu: true, .. }
        );
        map.push(param_node);
    }
    match spec.layers.last() {
        Some(LayerV1::Dense { out, relu: false }) if *out == spec.num_classes => {}
        other => {
            return Err(GraphError::Legacy {
                index: spec.layers.len().saturating_sub(1),
                layer: other.map(LayerV1::kind).unwrap_or("none"),
                what: format!(
                    "the last layer must be Dense {{ out: {}, relu: false }}",
                    spec.num_classes
                ),
            });
        }
    }
    Ok((
        GraphDef {
            name: spec.name.clone(),
            input_name: "input".into(),
            input: spec.input,
            input_range: InputRange::Signed,
            classes: spec.num_classes,
            nodes,
            output: last,
            frozen: Vec::new(),
        },
        map,
    ))
}

/// Reads a version-1 spec (already parsed as JSON).
pub fn from_json(json: Json, path: &str) -> Result<Graph, GraphError> {
    let spec: SpecV1 = serde_json::from_value(json).map_err(|e| GraphError::Parse {
        path: path.into(),
        message: format!("version-1 spec: {e}"),
    })?;
    Graph::new(convert(&spec)?.0)
}

/// For a version-1 spec file's text: each layer's parameter node name (`None` for layers
/// without parameters); `None` when the text is not a version-1 spec.
pub fn layer_nodes(text: &str) -> Option<Vec<Option<String>>> {
    let json: Json = serde_json::from_str(text).ok()?;
    json.get("layers")?;
    let spec: SpecV1 = serde_json::from_value(json).ok()?;
    convert(&spec).ok().map(|(_, m)| m)
}

/// The graph of a sequential layer list (a version-1 spec built in code; tests use it).
pub fn sequential(
    name: &str,
    input: [usize; 3],
    num_classes: usize,
    layers: Vec<LayerV1>,
) -> Result<Graph, GraphError> {
    Graph::new(
        convert(&SpecV1 {
            name: name.into(),
            input,
            num_classes,
            layers,
        })?
        .0,
    )
}
