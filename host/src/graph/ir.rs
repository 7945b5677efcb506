//! The graph IR: named values with shapes and nodes `{op, inputs, output}` in execution
//! order — the one model description every stage of the host reads.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::error::GraphError;
use super::op::Op;
use super::shape::Shape;

/// Index of a value in [`Graph::values`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(pub usize);

/// What pixel range the model was trained on; the data pipeline feeds it that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum InputRange {
    /// `pixel / 127.5 − 1` ∈ [−1, 1] (whittle's own training).
    #[default]
    Signed,
    /// `pixel / 255` ∈ [0, 1].
    Unit,
    /// Raw pixel values 0..255.
    Raw,
}

impl InputRange {
    /// The model input for a pixel byte, in f32 as training computes it: the f32 twin of
    /// the blob's [`whittle_shared::InputRange::real`] (f64, for quantization). Not one
    /// formula on purpose: the two roundings differ in the last bit for half the bytes,
    /// and training's inputs must stay bit-stable.
    pub fn scale(self, pixel: u8) -> f32 {
        let p = f32::from(pixel);
        match self {
            Self::Signed => p / 127.5 - 1.0,
            Self::Unit => p / 255.0,
            Self::Raw => p,
        }
    }
}

impl From<InputRange> for whittle_shared::InputRange {
    fn from(r: InputRange) -> Self {
        match r {
            InputRange::Signed => Self::Signed,
            InputRange::Unit => Self::Unit,
            InputRange::Raw => Self::Raw,
        }
    }
}

impl From<whittle_shared::InputRange> for InputRange {
    fn from(r: whittle_shared::InputRange) -> Self {
        match r {
            whittle_shared::InputRange::Signed => Self::Signed,
            whittle_shared::InputRange::Unit => Self::Unit,
            whittle_shared::InputRange::Raw => Self::Raw,
        }
    }
}

/// A value: the graph input or a node's output.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// Its name (the input's name, or the producing node's).
    pub name: String,
    /// Its shape (batch left out).
    pub shape: Shape,
    /// Index of the node writing it; `None` for the graph input.
    pub producer: Option<usize>,
}

/// A node: an op applied to values.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Unique name (also the name of its output value).
    pub name: String,
    /// The operation.
    pub op: Op,
    /// Values read, in the op's order.
    pub inputs: Vec<ValueId>,
    /// The value written.
    pub output: ValueId,
}

/// A node as written in a spec: inputs by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeDef {
    /// Unique name; the node's output value has this name.
    pub name: String,
    /// The operation.
    pub op: Op,
    /// Names of the values read.
    pub inputs: Vec<String>,
}

/// A graph as written in a spec (shapes are inferred, never stored).
#[derive(Debug, Clone, PartialEq)]
pub struct GraphDef {
    /// Model name.
    pub name: String,
    /// Name of the input value.
    pub input_name: String,
    /// Input `[c, h, w]`.
    pub input: [usize; 3],
    /// Pixel range the model expects.
    pub input_range: InputRange,
    /// Classes (length of the logits).
    pub classes: usize,
    /// Nodes in execution order.
    pub nodes: Vec<NodeDef>,
    /// Name of the logits value.
    pub output: String,
    /// Nodes whose output channel group must not be pruned ("buffer" layers).
    pub frozen: Vec<String>,
}

/// A validated model graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    /// Model name.
    pub name: String,
    /// Pixel range the model expects.
    pub input_range: InputRange,
    /// Classes (length of the logits).
    pub classes: usize,
    /// Every value; `values[input.0]` is the input.
    pub values: Vec<Value>,
    /// Nodes in execution order.
    pub nodes: Vec<Node>,
    /// The input value.
    pub input: ValueId,
    /// The logits value.
    pub output: ValueId,
    /// Names of nodes whose output channel group must not be pruned.
    pub frozen: Vec<String>,
}

/// Finds a cycle through the nodes' inputs (by name), as `a -> b -> a`.
fn find_cycle(def: &GraphDef) -> Option<String> {
    let index: HashMap<&str, usize> = def
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    // 0 = unseen, 1 = on the stack, 2 = done.
    let mut state = vec![0u8; def.nodes.len()];
    let mut stack: Vec<usize> = Vec::new();
    fn visit(
        i: usize,
        def: &GraphDef,
        index: &HashMap<&str, usize>,
        state: &mut [u8],
        stack: &mut Vec<usize>,
    ) -> Option<String> {
        state[i] = 1;
        stack.push(i);
        for inp in &def.nodes[i].inputs {
            let Some(&j) = index.get(inp.as_str()) else {
                continue;
            };
            if state[j] == 1 {
                let from = stack.iter().position(|&k| k == j).unwrap_or(0);
                let mut names: Vec<&str> = stack[from..]
                    .iter()
                    .map(|&k| def.nodes[k].name.as_str())
                    .collect();
                names.push(def.nodes[j].name.as_str());
                return Some(names.join(" <- "));
            }
            if state[j] == 0
                && let Some(c) = visit(j, def, index, state, stack)
            {
                return Some(c);
            }
        }
        stack.pop();
        state[i] = 2;
        None
    }
    for i in 0..def.nodes.len() {
        if state[i] == 0
            && let Some(c) = visit(i, def, &index, &mut state, &mut stack)
        {
            return Some(c);
        }
    }
    None
}

impl Graph {
    /// Validates a definition and infers every shape. Errors name the node: duplicate
    /// names, undefined values, cycles, use before definition, arity, shapes, the output.
    pub fn new(def: GraphDef) -> Result<Graph, GraphError> {
        let [c, h, w] = def.input;
        if c == 0 || h == 0 || w == 0 {
            return Err(GraphError::Shape {
                node: def.input_name.clone(),
                op: "input",
                message: format!("input {:?} has a zero dimension", def.input),
            });
        }
        let mut ids: HashMap<String, ValueId> = HashMap::new();
        let mut values = vec![Value {
            name: def.input_name.clone(),
            shape: Shape::Chw(c, h, w),
            producer: None,
        }];
        ids.insert(def.input_name.clone(), ValueId(0));
        let mut seen = std::collections::HashSet::new();
        seen.insert(def.input_name.as_str());
        for n in &def.nodes {
            if !seen.insert(n.name.as_str()) {
                return Err(GraphError::Duplicate {
                    name: n.name.clone(),
                });
            }
        }
        let defined_by: HashMap<&str, &str> = def
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), n.name.as_str()))
            .collect();
        for n in &def.nodes {
            for i in &n.inputs {
                if i != &def.input_name && !defined_by.contains_key(i.as_str()) {
                    return Err(GraphError::Undefined {
                        node: n.name.clone(),
                        value: i.clone(),
                    });
                }
            }
        }
        if let Some(path) = find_cycle(&def) {
            return Err(GraphError::Cycle { path });
        }
        let mut nodes = Vec::with_capacity(def.nodes.len());
        for n in &def.nodes {
            let kind = n.op.kind();
            let mut inputs = Vec::with_capacity(n.inputs.len());
            for i in &n.inputs {
                match ids.get(i) {
                    Some(&v) => inputs.push(v),
                    None => {
                        return Err(GraphError::UsedBeforeDefined {
                            node: n.name.clone(),
                            value: i.clone(),
                            defined_by: defined_by.get(i.as_str()).unwrap_or(&"?").to_string(),
                        });
                    }
                }
            }
            if inputs.len() != kind.arity() {
                return Err(GraphError::Arity {
                    node: n.name.clone(),
                    op: kind.name(),
                    expected: kind.arity(),
                    found: inputs.len(),
                });
            }
            let shapes: Vec<Shape> = inputs.iter().map(|v| values[v.0].shape).collect();
            let shape = kind.infer(&shapes).map_err(|message| GraphError::Shape {
                node: n.name.clone(),
                op: kind.name(),
                message,
            })?;
            let out = ValueId(values.len());
            values.push(Value {
                name: n.name.clone(),
                shape,
                producer: Some(nodes.len()),
            });
            ids.insert(n.name.clone(), out);
            nodes.push(Node {
                name: n.name.clone(),
                op: n.op.clone(),
                inputs,
                output: out,
            });
        }
        let output = *ids.get(&def.output).ok_or_else(|| GraphError::Undefined {
            node: "<output>".into(),
            value: def.output.clone(),
        })?;
        let out_shape = values[output.0].shape;
        if out_shape != Shape::Flat(def.classes) {
            return Err(GraphError::Output {
                output: def.output.clone(),
                shape: out_shape.to_string(),
                classes: def.classes,
            });
        }
        for f in &def.frozen {
            if !def.nodes.iter().any(|n| &n.name == f) {
                return Err(GraphError::Undefined {
                    node: "<frozen>".into(),
                    value: f.clone(),
                });
            }
        }
        Ok(Graph {
            name: def.name,
            input_range: def.input_range,
            classes: def.classes,
            values,
            nodes,
            input: ValueId(0),
            output,
            frozen: def.frozen,
        })
    }

    /// The definition this graph was built from (inputs by name, shapes left out).
    pub fn to_def(&self) -> GraphDef {
        let Shape::Chw(c, h, w) = self.values[self.input.0].shape else {
            unreachable!("the input is always [C, H, W]");
        };
        GraphDef {
            name: self.name.clone(),
            input_name: self.values[self.input.0].name.clone(),
            input: [c, h, w],
            input_range: self.input_range,
            classes: self.classes,
            nodes: self
                .nodes
                .iter()
                .map(|n| NodeDef {
                    name: n.name.clone(),
                    op: n.op.clone(),
                    inputs: n
                        .inputs
                        .iter()
                        .map(|v| self.values[v.0].name.clone())
                        .collect(),
                })
                .collect(),
            output: self.values[self.output.0].name.clone(),
            frozen: self.frozen.clone(),
        }
    }

    /// Input `[c, h, w]`.
    pub fn input_dims(&self) -> [usize; 3] {
        match self.values[self.input.0].shape {
            Shape::Chw(c, h, w) => [c, h, w],
            Shape::Flat(n) => [n, 1, 1],
        }
    }

    /// Shape of a value.
    pub fn shape(&self, v: ValueId) -> Shape {
        self.values[v.0].shape
    }

    /// Shapes of a node's inputs.
    pub fn input_shapes(&self, node: usize) -> Vec<Shape> {
        self.nodes[node]
            .inputs
            .iter()
            .map(|v| self.values[v.0].shape)
            .collect()
    }

    /// Parameter tensors of a node.
    pub fn params(&self, node: usize) -> Vec<super::op::ParamDecl> {
        let n = &self.nodes[node];
        n.op.kind()
            .params(&self.input_shapes(node), self.shape(n.output))
    }

    /// Index of the node called `name`.
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Nodes reading value `v`, in order.
    pub fn readers(&self, v: ValueId) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].inputs.contains(&v))
            .collect()
    }

    /// Indices of the nodes whose op passes `pred`.
    pub fn nodes_where(&self, pred: impl Fn(&Op) -> bool) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| pred(&self.nodes[i].op))
            .collect()
    }

    /// The same graph with `op` placed after the output of node `after` (named `name`):
    /// every reader of that value (and the graph output, if it was) now reads the new node.
    pub fn insert_after(&self, after: usize, name: &str, op: Op) -> Result<Graph, GraphError> {
        let mut def = self.to_def();
        let target = def.nodes[after].name.clone();
        for n in def.nodes.iter_mut().skip(after + 1) {
            for i in n.inputs.iter_mut() {
                if *i == target {
                    *i = name.to_string();
                }
            }
        }
        if def.output == target {
            def.output = name.to_string();
        }
        def.nodes.insert(
            after + 1,
            NodeDef {
                name: name.to_string(),
                op,
                inputs: vec![target],
            },
        );
        Graph::new(def)
    }

    /// The same graph without the nodes `pred` selects (each must have one input; its
    /// readers read that input instead).
    pub fn without(&self, pred: impl Fn(&Op) -> bool) -> Result<Graph, GraphError> {
        let mut def = self.to_def();
        let mut alias: HashMap<String, String> = HashMap::new();
        let mut kept = Vec::with_capacity(def.nodes.len());
        for mut n in def.nodes {
            for i in n.inputs.iter_mut() {
                if let Some(a) = alias.get(i) {
                    *i = a.clone();
                }
            }
            if pred(&n.op) && n.inputs.len() == 1 {
                alias.insert(n.name.clone(), n.inputs[0].clone());
                def.frozen.retain(|f| f != &n.name);
            } else {
                kept.push(n);
            }
        }
        if let Some(a) = alias.get(&def.output) {
            def.output = a.clone();
        }
        def.nodes = kept;
        Graph::new(def)
    }
}
