//! The cost model: parameters, multiply-accumulates, weight bytes and activation bytes per
//! layer and in total, read off a validated model so the numbers describe what runs.

use crate::error::Result;
use crate::format::Op;
use crate::model::Model;

/// Bytes of one int8 conv/dense weight in a blob.
pub const INT8_BYTES_PER_WEIGHT: u64 = core::mem::size_of::<i8>() as u64;
/// Bytes an int8 conv/dense op stores per output channel besides its weights: the i32
/// bias and the [`Requant`](crate::format::Requant) multiplier and shift.
pub const INT8_BYTES_PER_OUTPUT_CHANNEL: u64 =
    (core::mem::size_of::<i32>() + core::mem::size_of::<crate::format::Requant>()) as u64;

/// Cost of one op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LayerCost {
    /// Weights plus biases (what a framework counts as parameters).
    pub params: u64,
    /// Multiply-accumulates of one inference (conv and dense only).
    pub macs: u64,
    /// Bytes of constant data in the blob: weights, bias, requantization multipliers.
    pub weight_bytes: u64,
    /// Bytes of the op's output tensor.
    pub output_bytes: u64,
}

/// Whole-model totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub params: u64,
    pub macs: u64,
    pub weight_bytes: u64,
    /// Activation arena of the plan stored in the blob.
    pub arena_bytes: u64,
    /// Scratch (im2col) bytes.
    pub scratch_bytes: u64,
    /// Peak RAM for activations: arena plus scratch.
    pub peak_ram_bytes: u64,
    /// Bytes of the blob (what goes to flash besides code).
    pub blob_bytes: u64,
}

/// Cost of one op of `model`.
pub fn layer_cost(model: &Model, op: &Op) -> Result<LayerCost> {
    let out = model.tensor(op.output())?;
    let output_bytes = out.bytes(model.precision()) as u64;
    let wb = |refs: &[crate::format::DataRef]| refs.iter().map(|r| r.len as u64).sum::<u64>();
    Ok(match *op {
        Op::Conv2d(c) => {
            let i = model.tensor(c.input)?;
            let taps = c.kernel[0] as u64 * c.kernel[1] as u64 * i.shape.c as u64;
            let oc = out.shape.c as u64;
            LayerCost {
                params: oc * taps + oc,
                macs: out.shape.len() as u64 * taps,
                weight_bytes: wb(&[c.weights, c.bias, c.requant]),
                output_bytes,
            }
        }
        Op::Dense(d) => {
            let n = model.tensor(d.input)?.shape.len() as u64;
            let oc = out.shape.c as u64;
            LayerCost {
                params: oc * n + oc,
                macs: oc * n,
                weight_bytes: wb(&[d.weights, d.bias, d.requant]),
                output_bytes,
            }
        }
        _ => LayerCost {
            output_bytes,
            ..LayerCost::default()
        },
    })
}

/// Totals over all ops, plus the arena and blob sizes.
pub fn totals(model: &Model) -> Result<Totals> {
    let mut t = Totals {
        arena_bytes: model.arena_bytes() as u64,
        scratch_bytes: model.scratch_bytes() as u64,
        peak_ram_bytes: model.ram_bytes() as u64,
        blob_bytes: model.blob_len() as u64,
        ..Totals::default()
    };
    for op in model.ops() {
        let c = layer_cost(model, &op?)?;
        t.params += c.params;
        t.macs += c.macs;
        t.weight_bytes += c.weight_bytes;
    }
    Ok(t)
}

pub mod calibration;
pub mod instructions;
