//! Spec files: format version 2 (`{"format": "whittle-graph", "version": 2, nodes…}`,
//! any graph) read and written here; version-1 sequential layer lists (`{"layers": …}`)
//! are read through [`super::legacy`].

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::error::GraphError;
use super::ir::{Graph, GraphDef, InputRange, NodeDef};
use super::legacy;

/// The `format` field of a version-2 spec.
pub const FORMAT: &str = "whittle-graph";
/// The spec version written.
pub const VERSION: u32 = 2;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputFile {
    name: String,
    shape: [usize; 3],
    #[serde(default)]
    range: InputRange,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    format: String,
    version: u32,
    name: String,
    input: InputFile,
    classes: usize,
    nodes: Vec<Json>,
    output: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    frozen: Vec<String>,
}

fn parse_err(path: &str, message: impl std::fmt::Display) -> GraphError {
    GraphError::Parse {
        path: path.into(),
        message: message.to_string(),
    }
}

/// Reads a spec from JSON text (`path` names it in errors): version 2, or a version-1
/// sequential layer list.
pub fn from_json(text: &str, path: &str) -> Result<Graph, GraphError> {
    let json: Json = serde_json::from_str(text).map_err(|e| parse_err(path, e))?;
    if json.get("layers").is_some() {
        return legacy::from_json(json, path);
    }
    let file: SpecFile = serde_json::from_value(json).map_err(|e| parse_err(path, e))?;
    if file.format != FORMAT {
        return Err(parse_err(
            path,
            format!("format `{}`, expected `{FORMAT}`", file.format),
        ));
    }
    if file.version != VERSION {
        return Err(parse_err(
            path,
            format!(
                "spec version {}, this whittle reads {VERSION} (and 1)",
                file.version
            ),
        ));
    }
    let mut nodes = Vec::with_capacity(file.nodes.len());
    for (i, n) in file.nodes.into_iter().enumerate() {
        let name = n
            .get("name")
            .and_then(Json::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("#{i}"));
        let def: NodeDef = serde_json::from_value(n).map_err(|e| GraphError::Op {
            node: name,
            message: e.to_string(),
        })?;
        nodes.push(def);
    }
    Graph::new(GraphDef {
        name: file.name,
        input_name: file.input.name,
        input: file.input.shape,
        input_range: file.input.range,
        classes: file.classes,
        nodes,
        output: file.output,
        frozen: file.frozen,
    })
}

/// Reads a spec file.
pub fn load(path: &Path) -> Result<Graph, GraphError> {
    let text = std::fs::read_to_string(path).map_err(|source| GraphError::Io {
        path: path.display().to_string(),
        source,
    })?;
    from_json(&text, &path.display().to_string())
}

impl Graph {
    /// The graph as a version-2 spec (pretty JSON).
    pub fn to_json(&self) -> String {
        let d = self.to_def();
        let file = SpecFile {
            format: FORMAT.into(),
            version: VERSION,
            name: d.name,
            input: InputFile {
                name: d.input_name,
                shape: d.input,
                range: d.input_range,
            },
            classes: d.classes,
            // A NodeDef holds only strings, numbers and enums: serialization cannot fail.
            nodes: d
                .nodes
                .iter()
                .map(|n| serde_json::to_value(n).unwrap_or(Json::Null))
                .collect(),
            output: d.output,
            frozen: d.frozen,
        };
        serde_json::to_string_pretty(&file).unwrap_or_default()
    }

    /// Reads a spec file (version 2 or 1).
    pub fn load(path: &Path) -> Result<Graph, GraphError> {
        load(path)
    }
}
