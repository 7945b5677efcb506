//! A blob described for people and reports: per-op shapes and costs, and totals (params,
//! MACs, flash, RAM), read off the validated model with `whittle_shared::cost`.

use serde::Serialize;
use whittle_shared::cost::{layer_cost, totals};
use whittle_shared::{Model, Precision, Shape};

use super::error::ExportError;

/// One op of a blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerSummary {
    /// Position in execution order.
    pub index: usize,
    /// Op name (`conv2d`, `dense`, ...).
    pub op: &'static str,
    /// Shapes `[c, h, w]` of the inputs (two for an add).
    pub inputs: Vec<[u16; 3]>,
    /// Shape of the first input (what most ops have).
    pub input: [u16; 3],
    /// Output shape `[c, h, w]`.
    pub output: [u16; 3],
    /// Fused ReLU.
    pub relu: bool,
    /// Weights + biases.
    pub params: u64,
    /// Multiply-accumulates per inference.
    pub macs: u64,
    /// Bytes of weights, biases and multipliers in the blob.
    pub weight_bytes: u64,
    /// Bytes of the output tensor.
    pub output_bytes: u64,
}

/// A whole blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelSummary {
    /// `int8` or `f32`.
    pub precision: &'static str,
    /// Input shape `[c, h, w]`.
    pub input: [u16; 3],
    /// Output shape `[c, h, w]`.
    pub output: [u16; 3],
    /// Weights + biases.
    pub params: u64,
    /// Multiply-accumulates per inference.
    pub macs: u64,
    /// Bytes of constant data (weights, biases, multipliers).
    pub weight_bytes: u64,
    /// Bytes of the blob (flash besides code).
    pub flash_bytes: u64,
    /// Activation arena of the stored memory plan.
    pub arena_bytes: u64,
    /// Scratch (im2col) bytes after the arena.
    pub scratch_bytes: u64,
    /// Peak RAM for a run: arena + scratch.
    pub peak_ram_bytes: u64,
    /// The ops in order.
    pub layers: Vec<LayerSummary>,
}

fn dims(s: Shape) -> [u16; 3] {
    [s.c, s.h, s.w]
}

/// Describes a validated model.
pub fn summarize(model: &Model) -> Result<ModelSummary, ExportError> {
    let t = totals(model)?;
    let mut layers = Vec::new();
    for (index, op) in model.ops().enumerate() {
        let op = op?;
        let c = layer_cost(model, &op)?;
        let mut inputs = Vec::new();
        for id in op.inputs().into_iter().flatten() {
            inputs.push(dims(model.tensor(id)?.shape));
        }
        let relu = match op {
            whittle_shared::Op::Conv2d(c) => c.relu,
            whittle_shared::Op::Dense(d) => d.relu,
            whittle_shared::Op::Add(a) => a.relu,
            whittle_shared::Op::Relu(_) => true,
            _ => false,
        };
        layers.push(LayerSummary {
            index,
            op: op.name(),
            input: inputs.first().copied().unwrap_or_default(),
            inputs,
            output: dims(model.tensor(op.output())?.shape),
            relu,
            params: c.params,
            macs: c.macs,
            weight_bytes: c.weight_bytes,
            output_bytes: c.output_bytes,
        });
    }
    Ok(ModelSummary {
        precision: match model.precision() {
            Precision::Int8 => "int8",
            Precision::F32 => "f32",
        },
        input: dims(model.input()?.shape),
        output: dims(model.output()?.shape),
        params: t.params,
        macs: t.macs,
        weight_bytes: t.weight_bytes,
        flash_bytes: t.blob_bytes,
        arena_bytes: t.arena_bytes,
        scratch_bytes: t.scratch_bytes,
        peak_ram_bytes: t.peak_ram_bytes,
        layers,
    })
}
