//! The graph IR every stage of the host reads: values with shapes, nodes with ops, channel
//! groups, costs, spec files (version 2, and version 1 read), and the built-in presets.

pub mod error;
pub mod groups;
pub mod ir;
pub mod legacy;
pub mod op;
pub mod presets;
pub mod shape;
pub mod spec;

#[cfg(test)]
mod tests;

pub use error::GraphError;
pub use groups::{ChannelGroup, Consumer, Groups, group_masks};
pub use ir::{Graph, GraphDef, InputRange, Node, NodeDef, Value, ValueId};
pub use op::{Cost, Op, OpKind, ParamDecl, ParamKind, Role};
pub use presets::{Builder, PRESETS, preset, resolve};
pub use shape::{Pad, Shape};
