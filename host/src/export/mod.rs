//! Export: folding a trained net into a float graph (BatchNorm, masks, Dropout, a final
//! Softmax), its lowering to blob conventions, the f32 blob, host evaluation and summaries.

pub mod error;
pub mod evaluate;
pub mod f32_blob;
pub mod fold;
pub mod from_burn;
pub mod lower;
pub mod onnx;
pub mod reference;
pub mod summary;

#[cfg(test)]
mod tests;

pub use error::ExportError;
pub use evaluate::{Agreement, BlobRunner, argmax, compare_blobs, evaluate_blob, with_model};
pub use f32_blob::{export_f32, graph_to_f32_blob};
pub use fold::{Folded, fold, placeholder_tensors};
pub use from_burn::from_net;
pub use lower::{Lowered, Node, lower};
pub use summary::{LayerSummary, ModelSummary, summarize};
