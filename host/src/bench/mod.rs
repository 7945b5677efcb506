//! Training and inference throughput (images/s): `whittle train`'s and `whittle eval`'s per-batch work, timed.

pub mod breakdown;

use std::time::Instant;

use burn::module::{Module, ParamId};
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::data::images::IMAGE_BYTES;
use crate::data::{Images, make_batch};
use crate::graph::Graph;
use crate::nn::{Group, Net};
use crate::rng::SplitMix64;
use crate::train::{TrainConfig, score_batch, train_step, trainer};

/// The keys of a [`BenchReport`] as JSON, in order; `bench/pytorch_seed_c10.py` writes the same.
pub const JSON_KEYS: &[&str] = &[
    "tool",
    "arch",
    "backend",
    "threads",
    "data",
    "batch",
    "infer_batch",
    "warmup",
    "steps",
    "train_seconds",
    "train_images_per_sec",
    "train_loss",
    "infer_seconds",
    "infer_images_per_sec",
];

/// What can stop a benchmark.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A count that must be positive is zero.
    #[error("{what} must be at least 1")]
    Zero {
        /// Which setting.
        what: &'static str,
    },
    /// No images to draw batches from.
    #[error("no images to benchmark on")]
    NoImages,
    /// The images' class count differs from the spec's.
    #[error("the images have {found} classes, the spec {expected}")]
    Classes {
        /// The spec's class count.
        expected: usize,
        /// The images'.
        found: usize,
    },
    /// The graph is invalid.
    #[error(transparent)]
    Graph(#[from] crate::graph::GraphError),
    /// Building the net failed.
    #[error(transparent)]
    Nn(#[from] crate::nn::NnError),
    /// The training loss became NaN or infinite.
    #[error("training loss became {value} at step {step} (warm-up included)")]
    NonFinite {
        /// The loss.
        value: f32,
        /// Step, 1-based, counting the warm-up.
        step: usize,
    },
}

/// How much to run. Training uses `whittle train`'s recipe ([`TrainConfig::default`]: Adam
/// 1e-3, L1/L2 on kernels, all parameters masks included) at batch `batch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchOptions {
    /// Untimed training steps (and inference batches) first.
    pub warmup: usize,
    /// Timed training steps, and timed inference batches.
    pub steps: usize,
    /// Training batch size.
    pub batch: usize,
    /// Inference batch size (`whittle eval` and validation use 256).
    pub infer_batch: usize,
    /// Seed of initialization, dropout and the image order.
    pub seed: u64,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            warmup: 20,
            steps: 200,
            batch: TrainConfig::default().batch_size,
            infer_batch: TrainConfig::default().eval_batch_size,
            seed: 1,
        }
    }
}

impl BenchOptions {
    /// Reject counts that cannot run.
    pub fn check(&self) -> Result<(), BenchError> {
        let zero = |what| Err(BenchError::Zero { what });
        if self.steps == 0 {
            return zero("steps");
        }
        if self.batch == 0 {
            return zero("batch");
        }
        if self.infer_batch == 0 {
            return zero("infer batch");
        }
        Ok(())
    }
}

/// What the report says about the setup (not measured here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Labels<'a> {
    /// The compute backend's name.
    pub backend: &'a str,
    /// CPU threads of the compute pool.
    pub threads: usize,
    /// `synthetic` or the dataset read.
    pub data: &'a str,
}

/// The measured figures; serialized with exactly the keys of [`JSON_KEYS`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    /// `whittle` (the PyTorch script writes `pytorch`).
    pub tool: String,
    /// The architecture's name.
    pub arch: String,
    /// The compute backend.
    pub backend: String,
    /// CPU threads of the compute pool (rayon's global pool for flex).
    pub threads: usize,
    /// `synthetic` or the dataset read (`cifar-10`).
    pub data: String,
    /// Training batch size.
    pub batch: usize,
    /// Inference batch size.
    pub infer_batch: usize,
    /// Untimed steps before each timed part.
    pub warmup: usize,
    /// Timed training steps (and inference batches).
    pub steps: usize,
    /// Wall time of the timed training steps.
    pub train_seconds: f64,
    /// Training images per second.
    pub train_images_per_sec: f64,
    /// Mean cross-entropy over the timed steps (a sanity check that it learns).
    pub train_loss: f64,
    /// Wall time of the timed inference batches.
    pub infer_seconds: f64,
    /// Inference images per second.
    pub infer_images_per_sec: f64,
}

/// `n` random images (uniform bytes) with random labels below `num_classes`.
pub fn synthetic_images(n: usize, num_classes: usize, seed: u64) -> Images {
    let mut rng = SplitMix64::new(seed);
    let mut im = Images::new(num_classes);
    im.pixels = (0..n * IMAGE_BYTES).map(|_| rng.next_u64() as u8).collect();
    im.labels = (0..n)
        .map(|_| rng.below(num_classes.max(1) as u64) as u8)
        .collect();
    im
}

/// Indices of batch `step`: the next `size` positions of `order`, wrapping around.
fn batch_indices(order: &[usize], step: usize, size: usize) -> Vec<usize> {
    (0..size)
        .map(|j| order[(step * size + j) % order.len()])
        .collect()
}

/// What a timed training loop starts from: `whittle train`'s config at the bench's batch
/// size, a freshly initialized net on the autodiff `ad` (seeded with `opts.seed`), Adam over
/// every parameter, and the loss.
pub(crate) struct Training {
    pub config: TrainConfig,
    pub ad: Device,
    pub net: Net,
    pub optim: ModuleOptimizer,
    pub ids: Vec<ParamId>,
    pub loss_fn: CrossEntropyLoss,
}

impl Training {
    pub(crate) fn new(
        spec: &Graph,
        opts: &BenchOptions,
        device: &Device,
    ) -> Result<Self, BenchError> {
        let config = TrainConfig {
            batch_size: opts.batch,
            ..TrainConfig::default()
        };
        let ad = device.clone().autodiff();
        ad.seed(opts.seed);
        let net = Net::new(spec, &ad);
        net.init_now();
        let optim = trainer::optimizer(&config);
        let ids = net.param_ids(Group::All);
        let loss_fn = CrossEntropyLossConfig::new().init(&ad);
        Ok(Training {
            config,
            ad,
            net,
            optim,
            ids,
            loss_fn,
        })
    }
}

/// Time `opts.steps` training steps on `train` (after `opts.warmup` untimed ones) and
/// `opts.steps` inference batches on `infer`, on `device` (made autodiff for training).
/// Every batch is built from the images inside the timed loop, as the trainer does. The
/// report's `backend`, `threads` and `data` come from `labels`.
pub fn run(
    spec: &Graph,
    train: &Images,
    infer: &Images,
    opts: &BenchOptions,
    device: &Device,
    labels: Labels<'_>,
) -> Result<BenchReport, BenchError> {
    opts.check()?;
    for im in [train, infer] {
        if im.is_empty() {
            return Err(BenchError::NoImages);
        }
        if im.num_classes != spec.classes {
            return Err(BenchError::Classes {
                expected: spec.classes,
                found: im.num_classes,
            });
        }
    }
    let Training {
        config,
        ad,
        mut net,
        mut optim,
        ids,
        loss_fn,
    } = Training::new(spec, opts, device)?;
    let mut order: Vec<usize> = (0..train.len()).collect();
    SplitMix64::new(opts.seed).shuffle(&mut order);

    let mut loss_sum = 0f64;
    let mut start = Instant::now();
    for step in 0..opts.warmup + opts.steps {
        if step == opts.warmup {
            start = Instant::now();
        }
        let b = make_batch(train, &batch_indices(&order, step, opts.batch), None, &ad);
        let (next, out) = train_step(net, &mut optim, b, &loss_fn, &ids, &config, None, config.lr);
        net = next;
        if !out.loss.is_finite() {
            return Err(BenchError::NonFinite {
                value: out.loss,
                step: step + 1,
            });
        }
        if step >= opts.warmup {
            loss_sum += f64::from(out.loss);
        }
    }
    let train_seconds = start.elapsed().as_secs_f64();

    let inner = device.clone().inner();
    let valid = net.valid();
    let loss_fn = CrossEntropyLossConfig::new().init(&inner);
    let all: Vec<usize> = (0..infer.len()).collect();
    let mut start = Instant::now();
    for step in 0..opts.warmup + opts.steps {
        if step == opts.warmup {
            start = Instant::now();
        }
        let b = make_batch(
            infer,
            &batch_indices(&all, step, opts.infer_batch),
            None,
            &inner,
        );
        let _ = score_batch(&valid, b, &loss_fn);
    }
    let infer_seconds = start.elapsed().as_secs_f64();

    Ok(BenchReport {
        tool: "whittle".into(),
        arch: spec.name.clone(),
        backend: labels.backend.into(),
        threads: labels.threads,
        data: labels.data.into(),
        batch: opts.batch,
        infer_batch: opts.infer_batch,
        warmup: opts.warmup,
        steps: opts.steps,
        train_seconds,
        train_images_per_sec: (opts.steps * opts.batch) as f64 / train_seconds.max(1e-9),
        train_loss: loss_sum / opts.steps as f64,
        infer_seconds,
        infer_images_per_sec: (opts.steps * opts.infer_batch) as f64 / infer_seconds.max(1e-9),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::legacy::{LayerV1, sequential};

    const LABELS: Labels<'static> = Labels {
        backend: "flex",
        threads: 1,
        data: "synthetic",
    };

    fn tiny() -> Graph {
        sequential(
            "tiny",
            [3, 32, 32],
            10,
            vec![
                LayerV1::Conv {
                    out: 4,
                    k: 3,
                    relu: true,
                },
                LayerV1::Mask,
                LayerV1::Pool { size: 4 },
                LayerV1::Flatten,
                LayerV1::Dense {
                    out: 10,
                    relu: false,
                },
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn zero_counts_are_rejected_and_defaults_pass() {
        assert!(BenchOptions::default().check().is_ok());
        for (opts, what) in [
            (
                BenchOptions {
                    steps: 0,
                    ..BenchOptions::default()
                },
                "steps",
            ),
            (
                BenchOptions {
                    batch: 0,
                    ..BenchOptions::default()
                },
                "batch",
            ),
            (
                BenchOptions {
                    infer_batch: 0,
                    ..BenchOptions::default()
                },
                "infer batch",
            ),
        ] {
            assert!(
                matches!(opts.check(), Err(BenchError::Zero { what: w }) if w == what),
                "{what}"
            );
        }
        // No warm-up is fine.
        let none = BenchOptions {
            warmup: 0,
            ..BenchOptions::default()
        };
        assert!(none.check().is_ok());
    }

    #[test]
    fn batches_wrap_around_the_order() {
        let order = [4, 2, 0, 1, 3];
        assert_eq!(batch_indices(&order, 0, 3), vec![4, 2, 0]);
        assert_eq!(batch_indices(&order, 1, 3), vec![1, 3, 4]);
        assert_eq!(batch_indices(&order, 2, 3), vec![2, 0, 1]);
        assert_eq!(batch_indices(&[7], 5, 2), vec![7, 7]);
    }

    #[test]
    fn synthetic_images_have_valid_labels_and_full_pixels() {
        let im = synthetic_images(30, 10, 3);
        assert_eq!(im.len(), 30);
        assert_eq!(im.pixels.len(), 30 * IMAGE_BYTES);
        assert!(im.labels.iter().all(|&l| l < 10));
        assert_eq!(im, synthetic_images(30, 10, 3));
    }

    #[test]
    fn tiny_run_reports_every_key_with_positive_rates() {
        let _guard = crate::train::tests::serial();
        let im = synthetic_images(12, 10, 1);
        let opts = BenchOptions {
            warmup: 1,
            steps: 2,
            batch: 5,
            infer_batch: 7,
            seed: 1,
        };
        let r = run(&tiny(), &im, &im, &opts, &Device::flex(), LABELS)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(r.train_images_per_sec > 0.0 && r.train_images_per_sec.is_finite());
        assert!(r.infer_images_per_sec > 0.0 && r.infer_images_per_sec.is_finite());
        assert!(r.train_loss.is_finite());
        assert_eq!((r.tool.as_str(), r.arch.as_str()), ("whittle", "tiny"));
        let json = serde_json::to_value(&r).unwrap_or_else(|e| panic!("{e}"));
        let keys: Vec<&str> = json
            .as_object()
            .unwrap_or_else(|| panic!("not an object"))
            .keys()
            .map(String::as_str)
            .collect();
        let mut want = JSON_KEYS.to_vec();
        want.sort_unstable();
        let mut got = keys.clone();
        got.sort_unstable();
        assert_eq!(got, want);
    }

    #[test]
    fn empty_or_mismatched_images_are_rejected() {
        let opts = BenchOptions::default();
        let dev = Device::flex();
        let none = Images::new(10);
        let some = synthetic_images(2, 10, 1);
        let c100 = synthetic_images(2, 100, 1);
        assert!(matches!(
            run(&tiny(), &none, &some, &opts, &dev, LABELS),
            Err(BenchError::NoImages)
        ));
        assert!(matches!(
            run(&tiny(), &some, &c100, &opts, &dev, LABELS),
            Err(BenchError::Classes {
                expected: 10,
                found: 100
            })
        ));
    }
}
