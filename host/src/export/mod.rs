//! Export: the neutral float network a trained model is handed over as, its lowering to
//! blob conventions, the f32 blob, host evaluation of blobs, and blob summaries.

pub mod error;
pub mod evaluate;
pub mod f32_blob;
pub mod float_net;
pub mod from_burn;
pub mod layout;
pub mod lower;
pub mod summary;

#[cfg(test)]
mod tests;

pub use error::ExportError;
pub use evaluate::{Agreement, BlobRunner, argmax, compare_blobs, evaluate_blob, with_model};
pub use f32_blob::{export_f32, graph_to_f32_blob};
pub use float_net::{FloatLayer, FloatNet, FloatShape};
pub use from_burn::{from_layer_weights, from_net};
pub use lower::{Graph, Node, lower};
pub use summary::{LayerSummary, ModelSummary, summarize};
