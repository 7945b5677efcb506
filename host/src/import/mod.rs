//! Importing models trained elsewhere: an ONNX file → whittle's graph IR and burn weights →
//! a run directory (`spec.json`, `model.bpk`, `train.json`, `import.json`) that every other
//! command reads like one whittle trained.

pub mod error;
pub mod onnx;

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use error::ImportError;

use crate::data::DatasetKind;
use crate::graph::{Graph, GraphDef, InputRange};
use crate::nn::{NamedTensor, Net};
use crate::train::run_dir::{save_net_atomic, write_atomic, write_json};
use crate::train::{RunDir, TrainConfig};

/// Where an imported model came from and what the import changed (`import.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The ONNX file as given.
    pub source: String,
    /// Its sha256 (hex).
    pub sha256: String,
    /// Its size.
    pub bytes: usize,
    /// ONNX IR version.
    pub ir_version: i64,
    /// Default-domain opset.
    pub opset: i64,
    /// Producer name and version.
    pub producer: String,
    /// The ONNX graph's name.
    pub graph: String,
    /// Name of the image input.
    pub input: String,
    /// Its ONNX dimensions (the batch may be symbolic).
    pub input_shape: Vec<String>,
    /// `NCHW`, or `NHWC` (a leading Transpose made it NCHW).
    pub input_layout: String,
    /// The pixel range the model is fed (`--input-range`).
    pub input_range: InputRange,
    /// Name of the ONNX output.
    pub output: String,
    /// ONNX nodes read.
    pub onnx_nodes: usize,
    /// ONNX op types and how many nodes of each.
    pub op_counts: BTreeMap<String, usize>,
    /// Nodes dropped, with why (`name (Op): reason`).
    pub removed: Vec<String>,
    /// Nodes folded into others (Pad into a Conv, a bias Add into its MatMul, …).
    pub folded: Vec<String>,
    /// Nodes of the whittle graph.
    pub whittle_nodes: usize,
    /// Weights and biases (BatchNorm γ, β and statistics included).
    pub parameters: usize,
}

/// An ONNX model converted to whittle's IR: the definition and each node's tensors (burn
/// layouts; `weights[i]` belongs to `def.nodes[i]`).
#[derive(Debug, Clone)]
pub struct Converted {
    /// The graph definition.
    pub def: GraphDef,
    /// Per node: its parameter tensors.
    pub weights: Vec<Vec<NamedTensor>>,
    /// What the file was and what changed.
    pub provenance: Provenance,
}

/// An imported model: validated graph, burn net with the file's weights, provenance.
#[derive(Debug)]
pub struct Imported {
    /// The graph.
    pub graph: Graph,
    /// The net with the imported weights.
    pub net: Net,
    /// `import.json`'s content.
    pub provenance: Provenance,
}

/// Reads an ONNX file into a graph and a net on `device`.
pub fn read_onnx(path: &Path, range: InputRange, device: &Device) -> Result<Imported, ImportError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| ImportError::Io {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    from_bytes(&bytes, &shown, range, device)
}

/// [`read_onnx`] on bytes already read (`path` names them in errors).
pub fn from_bytes(
    bytes: &[u8],
    path: &str,
    range: InputRange,
    device: &Device,
) -> Result<Imported, ImportError> {
    let c = onnx::convert(bytes, path, range)?;
    let graph = Graph::new(c.def).map_err(|source| ImportError::Graph {
        path: path.into(),
        source,
    })?;
    let mut net = Net::new(&graph, device);
    for (i, ts) in c.weights.iter().enumerate() {
        for t in ts {
            net.set_tensor(i, t)
                .map_err(|source| ImportError::Weights {
                    path: path.into(),
                    source,
                })?;
        }
    }
    let mut provenance = c.provenance;
    provenance.sha256 = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Imported {
        graph,
        net,
        provenance,
    })
}

/// The dataset a classifier with `classes` outputs and input `[c, h, w]` is evaluated on.
fn dataset(graph: &Graph, path: &str) -> Result<DatasetKind, ImportError> {
    let kind = match graph.classes {
        10 => DatasetKind::Cifar10,
        100 => DatasetKind::Cifar100,
        n => {
            return Err(ImportError::Signature {
                path: path.into(),
                message: format!(
                    "{n} classes: a run needs a CIFAR-10 (10) or CIFAR-100 (100) classifier \
                     (use `read_onnx` for other models)"
                ),
            });
        }
    };
    if graph.input_dims() != [3, 32, 32] {
        return Err(ImportError::Signature {
            path: path.into(),
            message: format!(
                "input {:?}: a run needs CIFAR's [3, 32, 32] images",
                graph.input_dims()
            ),
        });
    }
    Ok(kind)
}

/// Imports `model` into the run directory `out` (created; must be new or empty):
/// `spec.json`, `model.bpk`, `train.json` (the dataset, `data_dir` if given, default
/// split) and `import.json`.
pub fn import_run(
    model: &Path,
    out: &Path,
    range: InputRange,
    data_dir: Option<&Path>,
    device: &Device,
) -> Result<Imported, ImportError> {
    let imp = read_onnx(model, range, device)?;
    let kind = dataset(&imp.graph, &model.display().to_string())?;
    if out.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        return Err(ImportError::Exists {
            path: out.display().to_string(),
        });
    }
    let run = RunDir::new(out);
    run.create()?;
    write_atomic(&run.spec_path(), imp.graph.to_json().as_bytes())?;
    let config = TrainConfig {
        dataset: kind,
        data_dir: data_dir.map(Path::to_path_buf),
        ..TrainConfig::default()
    };
    write_json(&run.config_path(), &config)?;
    save_net_atomic(&imp.net, &run.weights_path(crate::train::Weights::Final))?;
    write_json(&out.join("import.json"), &imp.provenance)?;
    Ok(imp)
}

#[cfg(test)]
mod tests;
