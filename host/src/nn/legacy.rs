//! Weight files written before the graph IR (version-1 run directories, the shipped
//! `models/seed-c10`): their tensors sit under `layers.<index>.<Kind>.<name>`; this reads
//! them through a module of that old shape and moves each layer's tensors to its node.

use std::path::Path;

use burn::module::Module;
use burn::nn::Linear;
use burn::nn::conv::Conv2d;
use burn::tensor::Device;

use super::error::NnError;
use super::mask::Mask;
use super::module::Stateless;
use super::net::Net;
use crate::graph::Graph;

/// One layer of the old sequential module, named as the old files name it.
#[derive(Module, Debug)]
enum Layer {
    Conv(Conv2d),
    Dense(Linear),
    Mask(Mask),
    Pool(Stateless),
}

#[derive(Module, Debug)]
struct OldNet {
    layers: Vec<Layer>,
}

/// Loads a version-1 weights file into a net for `graph`; `layer_nodes[i]` names the node
/// holding v1 layer i's tensors (see `graph::legacy::layer_nodes`).
pub fn load(
    graph: &Graph,
    layer_nodes: &[Option<String>],
    path: &Path,
    device: &Device,
) -> Result<Net, NnError> {
    let mut net = Net::new(graph, device);
    let err = |what: String| NnError::Read {
        index: usize::MAX,
        name: path.display().to_string(),
        message: what,
    };
    let mut layers = Vec::with_capacity(layer_nodes.len());
    let mut targets = Vec::with_capacity(layer_nodes.len());
    for (i, name) in layer_nodes.iter().enumerate() {
        let Some(name) = name else {
            layers.push(Layer::Pool(Stateless));
            targets.push(None);
            continue;
        };
        let node = graph
            .node_index(name)
            .ok_or_else(|| err(format!("layer {i}: no node `{name}` in the graph")))?;
        // The fresh node module has the right shapes; reuse it as the old layer.
        layers.push(match &net.nodes[node] {
            super::module::NodeModule::Conv(c) => Layer::Conv(c.clone()),
            super::module::NodeModule::Dense(d) => Layer::Dense(d.clone()),
            super::module::NodeModule::Mask(m) => Layer::Mask(m.clone()),
            other => return Err(err(format!("layer {i}: node `{name}` is {other:?}"))),
        });
        targets.push(Some(node));
    }
    let old = OldNet { layers }
        .try_load_file(path)
        .map_err(|source| NnError::Load {
            path: path.display().to_string(),
            source,
        })?;
    for (layer, target) in old.layers.into_iter().zip(targets) {
        let (Some(node), module) = (target, layer) else {
            continue;
        };
        net.nodes[node] = match module {
            Layer::Conv(c) => super::module::NodeModule::Conv(c),
            Layer::Dense(d) => super::module::NodeModule::Dense(d),
            Layer::Mask(m) => super::module::NodeModule::Mask(m),
            Layer::Pool(_) => continue,
        };
    }
    Ok(net)
}
