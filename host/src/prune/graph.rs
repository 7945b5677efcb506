//! Dependency groups (Torch-Pruning style): which producer outputs, masks and consumer
//! inputs are cut together when one channel index goes. Kept apart from criteria and surgery.
//!
//! In today's sequential spec language every group has one producer (a prunable Conv/Dense),
//! at most one Mask, and one consumer (the next Conv/Dense), with Pool/Dropout/Flatten in
//! between. A residual add would join two producers' outputs into one group (`producers`
//! and `masks` hold several entries, one shared keep list cuts them all); the surgery code
//! already loops over every member, so adding residuals means teaching [`groups`] to merge.

use serde::{Deserialize, Serialize};

use super::error::PruneError;
use crate::arch::{ArchSpec, LayerSpec, Shape};

/// How one consumer sees the group's channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consumer {
    /// Index of the consuming Conv/Dense layer.
    pub layer: usize,
    /// Consecutive inputs per channel: 1 for conv→conv and dense→dense, `H*W` for a
    /// conv→(pool)→flatten→dense edge (NCHW: channel c is inputs `c*H*W..(c+1)*H*W`).
    pub block: usize,
}

/// Tensors cut together by one keep list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepGroup {
    /// Channels in the group (the producers' common width).
    pub channels: usize,
    /// Producer layers whose output rows (weights, bias) are cut.
    pub producers: Vec<usize>,
    /// Mask layers scaling the group's channels (folded into the producers).
    pub masks: Vec<usize>,
    /// Layers between producer and consumer that carry the channels unchanged
    /// (Pool, Dropout, Flatten) — nothing to cut, listed for the checker.
    pub passthrough: Vec<usize>,
    /// Consumers whose input columns are cut.
    pub consumers: Vec<Consumer>,
}

/// The dependency groups of `spec`, one per prunable layer, in layer order.
pub fn groups(spec: &ArchSpec) -> Result<Vec<DepGroup>, PruneError> {
    let info = spec.layer_info()?;
    let mut out = Vec::new();
    for p in spec.prunable_layers() {
        let channels = spec.layers[p].width().unwrap_or(0);
        let mut g = DepGroup {
            channels,
            producers: vec![p],
            masks: Vec::new(),
            passthrough: Vec::new(),
            consumers: Vec::new(),
        };
        for (i, layer) in spec.layers.iter().enumerate().skip(p + 1) {
            match layer {
                LayerSpec::Mask => g.masks.push(i),
                LayerSpec::Pool { .. } | LayerSpec::Dropout { .. } | LayerSpec::Flatten => {
                    g.passthrough.push(i)
                }
                LayerSpec::Conv { .. } | LayerSpec::Dense { .. } => {
                    let block = match info[i].input {
                        Shape::Flat(n) if channels > 0 && n % channels == 0 => Some(n / channels),
                        Shape::Chw(c, _, _) if c == channels => Some(1),
                        _ => None,
                    };
                    let Some(block) = block else {
                        return Err(PruneError::Graph {
                            layer: i,
                            what: format!(
                                "input {:?} is not {channels} channel blocks",
                                info[i].input
                            ),
                        });
                    };
                    g.consumers.push(Consumer { layer: i, block });
                    break;
                }
            }
        }
        if g.consumers.is_empty() {
            return Err(PruneError::Graph {
                layer: p,
                what: "prunable layer without a consumer".into(),
            });
        }
        out.push(g);
    }
    Ok(out)
}
