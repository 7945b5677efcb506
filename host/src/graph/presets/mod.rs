//! Built-in architectures as graph builders: the seed article's nets and MLPerf Tiny's
//! ResNet-8; [`Builder`] is the small helper they (and tests) describe graphs with.

mod resnet8;
mod seed;

pub use resnet8::resnet8;
pub use seed::{C100_CONV_DROPOUT, DENSE_DROPOUT, seed_c10, seed_c100};

use super::error::GraphError;
use super::ir::{Graph, GraphDef, InputRange, NodeDef};
use super::op::Op;

/// Names of the built-in architectures.
pub const PRESETS: &[&str] = &["seed-c10", "seed-c100", "resnet8"];

/// A built-in architecture by name.
pub fn preset(name: &str) -> Result<Graph, GraphError> {
    match name {
        "seed-c10" => Ok(seed_c10()),
        "seed-c100" => Ok(seed_c100()),
        "resnet8" => Ok(resnet8()),
        _ => Err(GraphError::UnknownPreset {
            name: name.into(),
            known: PRESETS.join(", "),
        }),
    }
}

/// Describes a graph node by node; each call returns the new node's output name.
#[derive(Debug, Clone)]
pub struct Builder {
    def: GraphDef,
    last: String,
}

impl Builder {
    /// A graph called `name` reading an `input` image (`[c, h, w]`, named `input`).
    pub fn new(name: &str, input: [usize; 3], classes: usize) -> Builder {
        Builder {
            def: GraphDef {
                name: name.into(),
                input_name: "input".into(),
                input,
                input_range: InputRange::Signed,
                classes,
                nodes: Vec::new(),
                output: String::new(),
                frozen: Vec::new(),
            },
            last: "input".into(),
        }
    }

    /// Adds node `name` applying `op` to `inputs`.
    pub fn node(&mut self, name: &str, op: Op, inputs: &[&str]) -> String {
        self.def.nodes.push(NodeDef {
            name: name.into(),
            op,
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
        });
        self.last = name.into();
        self.last.clone()
    }

    /// Adds node `name` applying `op` to the last node's output.
    pub fn then(&mut self, name: &str, op: Op) -> String {
        let last = self.last.clone();
        self.node(name, op, &[&last])
    }

    /// The last node's output name.
    pub fn last(&self) -> &str {
        &self.last
    }

    /// The checked graph whose logits are the last node's output.
    pub fn finish(mut self) -> Result<Graph, GraphError> {
        self.def.output = self.last.clone();
        Graph::new(self.def)
    }
}

/// A preset by name, or the spec file at that path (version 2 or 1).
pub fn resolve(arch: &str) -> Result<Graph, GraphError> {
    let path = std::path::Path::new(arch);
    if path.is_file() {
        return super::spec::load(path);
    }
    preset(arch)
}
