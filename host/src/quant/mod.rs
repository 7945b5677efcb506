//! Post-training int8 quantization: calibrate activation ranges on the f32 blob, quantize
//! weights per output channel, and encode the int8 blob the firmware runs.

pub mod calibrate;
pub mod error;
pub mod int8_blob;
pub mod params;

pub use calibrate::{Calibration, Range, calibrate};
pub use error::QuantError;

pub use int8_blob::{add_quant, graph_to_s8_blob, tensor_qparams};
pub use params::{INPUT_QPARAMS, QParams, activation_qparams, input_qparams, quantize_layer};

use whittle_shared::Model;
use whittle_shared::encode::AlignedBytes;

use crate::export::{Folded, Lowered, graph_to_f32_blob, lower};

/// Settings of [`quantize`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantConfig {
    /// How activation ranges are estimated.
    pub calibration: Calibration,
    /// Calibration images used (the first N given).
    pub images: usize,
    /// Quantization of the model input.
    pub input: QParams,
}

impl Default for QuantConfig {
    fn default() -> Self {
        QuantConfig {
            calibration: Calibration::MinMax,
            images: 256,
            input: INPUT_QPARAMS,
        }
    }
}

/// An int8 model and what it was made from.
#[derive(Debug, Clone)]
pub struct Quantized {
    /// The int8 blob.
    pub blob: Vec<u8>,
    /// The f32 blob it was calibrated on (same ops and tensor ids).
    pub f32_blob: Vec<u8>,
    /// The lowered ops both blobs encode.
    pub graph: Lowered,
    /// Calibrated range of every tensor.
    pub ranges: Vec<Range>,
    /// Quantization of every tensor.
    pub qparams: Vec<QParams>,
}

/// Lowers the folded graph `net`, calibrates on the first `cfg.images` CHW images of
/// `images` (concatenated, normalized like training inputs), and encodes the int8 blob.
pub fn quantize(net: &Folded, images: &[f32], cfg: &QuantConfig) -> Result<Quantized, QuantError> {
    let graph = lower(net)?;
    let f32_blob = graph_to_f32_blob(&graph)?;
    let n_in = graph.tensors[0].len();
    let take = images.len().min(cfg.images.saturating_mul(n_in));
    let aligned = AlignedBytes::new(&f32_blob);
    let model = Model::from_bytes(&aligned)?;
    let ranges = calibrate(&model, &images[..take], cfg.calibration)?;
    let qparams = tensor_qparams(&graph, &ranges, cfg.input)?;
    let blob = graph_to_s8_blob(&graph, &qparams)?;
    Ok(Quantized {
        blob,
        f32_blob,
        graph,
        ranges,
        qparams,
    })
}
