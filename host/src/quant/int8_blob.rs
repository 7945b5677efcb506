//! int8 export: a lowered graph plus calibrated ranges → an int8 blob. Tensor quantization
//! follows the kernels' rules: pools, ReLU and flatten keep their input's; conv, dense and
//! add get their own from the calibrated range ([0, max] after a fused ReLU).

use whittle_shared::encode::Builder;
use whittle_shared::format::{Add, AddQuant, Conv2d, Dense};
use whittle_shared::requant::quantize_multiplier;
use whittle_shared::{Op, Precision};

use super::calibrate::Range;
use super::error::QuantError;
use super::params::{QParams, activation_qparams, quantize_layer};
use crate::export::lower::{Lowered, Node};

/// Left shift applied to both add inputs before rescaling (TFLite's choice for int8).
pub const ADD_LEFT_SHIFT: u8 = 20;

/// TFLite's int8 add parameters for inputs `a`, `b` and output `out`.
pub fn add_quant(a: QParams, b: QParams, out: QParams) -> AddQuant {
    let twice_max = 2.0 * (a.scale as f64).max(b.scale as f64);
    AddQuant {
        left_shift: ADD_LEFT_SHIFT,
        a: quantize_multiplier(a.scale as f64 / twice_max),
        b: quantize_multiplier(b.scale as f64 / twice_max),
        out: quantize_multiplier(twice_max / ((1u64 << ADD_LEFT_SHIFT) as f64 * out.scale as f64)),
    }
}

/// The quantization of every tensor of `graph`: the input gets `input`, each node's output
/// its own (from `ranges[t]`) or its input's.
pub fn tensor_qparams(
    graph: &Lowered,
    ranges: &[Range],
    input: QParams,
) -> Result<Vec<QParams>, QuantError> {
    if ranges.len() != graph.tensors.len() {
        return Err(QuantError::RangeCount {
            expected: graph.tensors.len(),
            found: ranges.len(),
        });
    }
    let mut q = vec![input];
    for (k, node) in graph.nodes.iter().enumerate() {
        let r = ranges[k + 1];
        let own = |relu: bool| {
            let min = if relu { 0.0 } else { r.min };
            activation_qparams(min, r.max)
        };
        q.push(match node {
            Node::Conv { relu, .. } | Node::Dense { relu, .. } | Node::Add { relu, .. } => {
                own(*relu)
            }
            Node::MaxPool { input, .. }
            | Node::AvgPool { input, .. }
            | Node::GlobalAvgPool { input }
            | Node::Relu { input }
            | Node::Flatten { input } => q[*input as usize],
        });
    }
    Ok(q)
}

/// Encodes `graph` as an int8 blob with tensor quantization `q` (see [`tensor_qparams`]).
pub fn graph_to_s8_blob(graph: &Lowered, q: &[QParams]) -> Result<Vec<u8>, QuantError> {
    if q.len() != graph.tensors.len() {
        return Err(QuantError::RangeCount {
            expected: graph.tensors.len(),
            found: q.len(),
        });
    }
    let mut b = Builder::new(
        Precision::Int8,
        graph.tensors[0],
        q[0].scale,
        q[0].zero_point,
    );
    b.set_input_range(graph.input_range);
    for (k, node) in graph.nodes.iter().enumerate() {
        let qo = q[k + 1];
        let output = b.tensor(graph.tensors[k + 1], qo.scale, qo.zero_point);
        let qi = q[node.input() as usize];
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
                } => {
                    let l = quantize_layer(weight, bias, qi.scale, qo.scale);
                    Op::Conv2d(Conv2d {
                        input: *input,
                        output,
                        kernel: *kernel,
                        stride: *stride,
                        padding: *padding,
                        relu: *relu,
                        weights: b.data_i8(&l.weights),
                        bias: b.data_i32(&l.bias),
                        requant: b.data_requant(&l.requant),
                    })
                }
                Node::Dense {
                    input,
                    relu,
                    weight,
                    bias,
                } => {
                    let l = quantize_layer(weight, bias, qi.scale, qo.scale);
                    Op::Dense(Dense {
                        input: *input,
                        output,
                        relu: *relu,
                        weights: b.data_i8(&l.weights),
                        bias: b.data_i32(&l.bias),
                        requant: b.data_requant(&l.requant),
                    })
                }
                Node::Add { a, b: skip, relu } => Op::Add(Add {
                    a: *a,
                    b: *skip,
                    output,
                    relu: *relu,
                    quant: add_quant(q[*a as usize], q[*skip as usize], qo),
                }),
                _ => unreachable!("structural_op covers every other node"),
            }
        };
        b.op(op);
    }
    Ok(b.finish(graph.output)?)
}
