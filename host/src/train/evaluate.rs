//! Evaluation: accuracy and mean cross-entropy of a net on a set of images, and the same
//! for a run directory on its validation or test split.

use std::path::Path;

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::tensor::{Device, Int, Tensor};
use serde::{Deserialize, Serialize};

use super::error::TrainError;
use super::run_dir::{RunDir, Weights};
use crate::data::{self, Batch, Images, make_batch_in};
use crate::nn::Net;

/// Result of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Fraction of images classified correctly.
    pub accuracy: f64,
    /// Mean cross-entropy.
    pub loss: f64,
    /// Images evaluated.
    pub images: usize,
}

/// Which images of a run's dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum EvalSplit {
    /// The run's validation hold-out (for model selection).
    #[default]
    Val,
    /// The official test set (report only).
    Test,
}

/// Evaluate `net` (any mode: it is switched to inference with `valid()`) on `images`, fed
/// in the graph's input range.
pub fn evaluate(net: &Net, images: &Images, batch_size: usize, device: &Device) -> Evaluation {
    let device = device.clone().inner();
    let net = net.valid();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let (mut correct, mut loss_sum) = (0u64, 0f64);
    let indices: Vec<usize> = (0..images.len()).collect();
    let range = net.graph.input_range;
    for chunk in indices.chunks(batch_size.max(1)) {
        let batch = make_batch_in(images, chunk, None, range, &device);
        let (loss, hits) = score_batch(&net, batch, &loss_fn);
        loss_sum += f64::from(loss) * chunk.len() as f64;
        correct += hits as u64;
    }
    let n = images.len().max(1) as f64;
    Evaluation {
        accuracy: correct as f64 / n,
        loss: loss_sum / n,
        images: images.len(),
    }
}

/// How many rows of `logits` have their largest value at `labels`' class (read back).
pub(crate) fn hits(logits: Tensor<2>, labels: Tensor<1, Int>) -> i64 {
    logits
        .argmax(1)
        .squeeze_dim::<1>(1)
        .equal(labels)
        .int()
        .sum()
        .into_scalar()
}

/// Mean cross-entropy and correct predictions of an inference net (`valid()`) on one
/// batch, both read back from the device: what [`evaluate`] does per batch.
/// A graph ending in Softmax (an imported model) returns probabilities: its loss is their
/// negative log at the label instead.
pub fn score_batch(net: &Net, batch: Batch, loss_fn: &CrossEntropyLoss) -> (f32, i64) {
    let logits = net.forward(batch.images);
    let g = &net.graph;
    let probabilities = g.values[g.output.0]
        .producer
        .is_some_and(|p| matches!(g.nodes[p].op, crate::graph::Op::Softmax(_)));
    let loss: f32 = if probabilities {
        let n = batch.labels.dims()[0];
        logits
            .clone()
            .clamp_min(1e-30)
            .log()
            .gather(1, batch.labels.clone().reshape([n, 1]))
            .mean()
            .neg()
            .into_scalar()
    } else {
        loss_fn
            .forward(logits.clone(), batch.labels.clone())
            .into_scalar()
    };
    (loss, hits(logits, batch.labels))
}

/// Evaluate a run's weights on its validation split or the test set. `data_base`
/// overrides the data location stored in `train.json`.
pub fn evaluate_run(
    run_dir: &Path,
    which: Weights,
    split: EvalSplit,
    data_base: Option<&Path>,
    device: &Device,
) -> Result<Evaluation, TrainError> {
    let run = RunDir::new(run_dir);
    let config = run.config()?;
    let (_, net) = run.load_model(which, device)?;
    let base = data_base
        .map(Path::to_path_buf)
        .or(config.data_dir.clone())
        .ok_or(data::DataError::NoDataDir {
            subdir: config.dataset.subdir(),
        })?;
    let images = match split {
        EvalSplit::Val => {
            // Same hold-out as training; --limit never shrinks the validation set.
            let opts = data::SplitOptions {
                limit: None,
                ..config.split
            };
            data::load_splits(&base, config.dataset, &opts)?.val
        }
        EvalSplit::Test => data::load_test(&base, config.dataset)?,
    };
    Ok(evaluate(&net, &images, config.eval_batch_size, device))
}
