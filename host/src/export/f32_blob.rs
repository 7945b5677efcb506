//! f32 export: [`Lowered`] ops (or a [`Folded`] graph) → an f32 blob, the float reference
//! the int8 model is calibrated on and compared with.

use whittle_shared::encode::Builder;
use whittle_shared::format::{Conv2d, DataRef, Dense};
use whittle_shared::{Op, Precision};

use super::error::ExportError;
use super::fold::Folded;
use super::lower::{Lowered, Node, lower};

/// Appends `graph`'s nodes to `b` as f32 ops (tensor `k + 1` for node `k`).
fn emit(b: &mut Builder, graph: &Lowered) {
    let none = DataRef::default();
    for (k, node) in graph.nodes.iter().enumerate() {
        let output = b.tensor(graph.tensors[k + 1], 1.0, 0);
        let op = if let Some(op) = node.structural_op(output) {
            op
        } else {
            match node {
                Node::Conv {
                    input,
                    kernel,
                    stride,
                    padding,
                    relu,
                    weight,
                    bias,
                } => Op::Conv2d(Conv2d {
                    input: *input,
                    output,
                    kernel: *kernel,
                    stride: *stride,
                    padding: *padding,
                    relu: *relu,
                    weights: b.data_f32(weight),
                    bias: b.data_f32(bias),
                    requant: none,
                }),
                Node::Dense {
                    input,
                    relu,
                    weight,
                    bias,
                } => Op::Dense(Dense {
                    input: *input,
                    output,
                    relu: *relu,
                    weights: b.data_f32(weight),
                    bias: b.data_f32(bias),
                    requant: none,
                }),
                Node::Add { a, b: skip, relu } => Op::Add(whittle_shared::format::Add {
                    a: *a,
                    b: *skip,
                    output,
                    relu: *relu,
                    quant: Default::default(),
                }),
                _ => unreachable!("structural_op covers every other node"),
            }
        };
        b.op(op);
    }
}

/// Encodes a lowered graph as an f32 blob (validated by the same code the firmware runs).
pub fn graph_to_f32_blob(graph: &Lowered) -> Result<Vec<u8>, ExportError> {
    let mut b = Builder::new(Precision::F32, graph.tensors[0], 1.0, 0);
    b.set_input_range(graph.input_range);
    emit(&mut b, graph);
    Ok(b.finish(graph.output)?)
}

/// Lowers and encodes a folded graph as an f32 blob.
pub fn export_f32(net: &Folded) -> Result<Vec<u8>, ExportError> {
    graph_to_f32_blob(&lower(net)?)
}
