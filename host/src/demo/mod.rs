//! `whittle demo`: the whole promise in one command — start from the shipped seed-c10
//! checkpoint, prune it with l1 and l0 at two budgets each, fine-tune, export int8 blobs,
//! score them on the test set with the firmware's kernels, run each on a Cortex-M in QEMU,
//! and print one table (plus JSON and an SVG chart).

pub mod chart;
pub mod resnet8;
pub mod table;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::data::{self, DatasetKind, Images};
use crate::export::{self, evaluate_blob, with_model};
use crate::firmware::{LabeledImage, Machine, RunOptions, pipeline};
use crate::graph::InputRange;
use crate::prune::l0::{L0, L0Config};
use crate::prune::l1::{L1, L1Config};
use crate::prune::learn::LearnConfig;
use crate::prune::{Amount, PruneMethod, PruneOptions, Target, prune_run};
use crate::quant::{self, QuantConfig};
use crate::sim::quantize_chw;
use crate::train::{RunDir, Weights};
use chart::Point;
use table::DemoRow;

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the base checkpoint {0} is missing (expected spec.json and model.bpk there)")]
    NoBase(PathBuf),
    #[error(transparent)]
    Train(#[from] crate::train::TrainError),
    #[error(transparent)]
    Graph(#[from] crate::graph::GraphError),
    #[error(transparent)]
    Backend(#[from] crate::device::BackendError),
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Prune(#[from] crate::prune::PruneError),
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
    #[error(transparent)]
    Quant(#[from] crate::quant::QuantError),
    #[error("{model}: {source}")]
    Firmware {
        model: String,
        source: crate::firmware::RunError,
    },
    #[error("{model}: firmware and host simulation disagree on {mismatches} of {images} images")]
    Mismatch {
        model: String,
        mismatches: usize,
        images: usize,
    },
    #[error("{model}: the blob's input tensor cannot take CIFAR images")]
    Input { model: String },
    #[error(transparent)]
    Import(#[from] crate::import::ImportError),
    #[error("writing {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Shared(#[from] whittle_shared::Error),
    #[error("encoding JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Test images the f32 blob is scored on (its direct-loop kernels are slow).
const F32_TEST_IMAGES: usize = 2000;

/// What to run.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Directory holding `cifar-10-batches-bin/`.
    pub data: PathBuf,
    /// The trained base run (a run directory written by `whittle train`).
    pub base: PathBuf,
    /// Where the pruned runs, blobs, table, JSON and chart go.
    pub out: PathBuf,
    /// The smoke version: small slices, one epoch, few images.
    pub quick: bool,
    /// Images run on the target per model.
    pub firmware_images: usize,
    /// Test images scored on the host per model (10,000 = the whole test set).
    pub test_images: usize,
    /// Training images used while pruning and fine-tuning (None: the base run's split).
    pub limit: Option<usize>,
    /// Mask-learning epochs per pruned model.
    pub learn_epochs: usize,
    /// Fine-tuning epochs per pruned model.
    pub finetune_epochs: usize,
    /// The QEMU machine.
    pub machine: Machine,
}

impl DemoOptions {
    /// The defaults: full run, or `--quick`.
    pub fn new(data: PathBuf, base: PathBuf, out: PathBuf, quick: bool) -> Self {
        DemoOptions {
            data,
            base,
            out,
            quick,
            firmware_images: if quick { 4 } else { 20 },
            test_images: if quick { 500 } else { 10_000 },
            limit: Some(if quick { 800 } else { 10_000 }),
            learn_epochs: 1,
            finetune_epochs: if quick { 1 } else { 2 },
            machine: Machine::Mps2An386,
        }
    }
}

/// What a budget limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Budget {
    Params,
    Macs,
}

/// One pruning job of the demo.
struct Job {
    method: &'static str,
    budget: Budget,
    /// Fraction of the base's parameters or MACs to keep.
    keep: f64,
}

impl Job {
    fn name(&self) -> String {
        let what = match self.budget {
            Budget::Params => "params",
            Budget::Macs => "macs",
        };
        format!(
            "{}-{what}{:02}",
            self.method,
            (self.keep * 100.0).round() as u32
        )
    }
    fn label(&self) -> String {
        let what = match self.budget {
            Budget::Params => "params",
            Budget::Macs => "MACs",
        };
        format!("{:.0}% {what}", 100.0 * self.keep)
    }
}

/// Two budgets per learned method: half the weights (most sit in the first dense layer),
/// and half the MACs (most sit in the convolutions).
const JOBS: [Job; 4] = [
    Job {
        method: "l1",
        budget: Budget::Params,
        keep: 0.45,
    },
    Job {
        method: "l1",
        budget: Budget::Macs,
        keep: 0.5,
    },
    Job {
        method: "l0",
        budget: Budget::Params,
        keep: 0.45,
    },
    Job {
        method: "l0",
        budget: Budget::Macs,
        keep: 0.5,
    },
];

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The test images scored on the host (normalized CHW floats and labels) and the raw
/// images the firmware runs.
pub struct TestSet {
    images: Vec<f32>,
    labels: Vec<u8>,
    raw: Images,
}

/// Loads `opts.test_images` test images as inputs in `range` (and `opts.firmware_images`
/// raw ones).
pub fn test_set(opts: &DemoOptions, range: InputRange) -> Result<TestSet, DemoError> {
    let test = data::load_test(&opts.data, DatasetKind::Cifar10)?;
    let n = opts.test_images.min(test.len());
    let px = &test.pixels[..n * data::images::IMAGE_BYTES];
    Ok(TestSet {
        images: data::to_inputs(px, range),
        labels: test.labels[..n].to_vec(),
        raw: test.take_first(opts.firmware_images.max(1)),
    })
}

/// Accuracy of `blob` on `images` (CHW f32, one after another) using every core: the
/// test set is split into one slice per thread, each scored with the firmware's kernels.
fn accuracy(blob: &[u8], images: &[f32], labels: &[u8]) -> Result<f64, DemoError> {
    let n = labels.len();
    if n == 0 {
        return Ok(0.0);
    }
    let per = images.len() / n;
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(n);
    let chunk = n.div_ceil(threads);
    let correct = std::thread::scope(|s| {
        let jobs: Vec<_> = labels
            .chunks(chunk)
            .zip(images.chunks(chunk * per))
            .map(|(l, x)| {
                s.spawn(move || {
                    with_model(blob, |m| evaluate_blob(m, x, l)).map(|a| a * l.len() as f64)
                })
            })
            .collect();
        jobs.into_iter()
            .map(|j| j.join().unwrap_or(Ok(f64::NAN)))
            .sum::<Result<f64, _>>()
    })?;
    Ok(correct / n as f64)
}

/// Exports a run as (f32 blob, calibrated int8 blob).
fn export_run(run: &Path, opts: &DemoOptions) -> Result<(Vec<u8>, Vec<u8>), DemoError> {
    let device = crate::device::device("flex")?;
    let dir = RunDir::new(run);
    let (_, net) = dir.load_model(Weights::Final, &device)?;
    let float = export::from_net(&net)?;
    let cfg = QuantConfig::default();
    let config = dir.config()?;
    let split = data::SplitOptions {
        limit: None,
        ..config.split
    };
    let splits = data::load_splits(&opts.data, config.dataset, &split)?;
    let n = cfg.images.min(splits.train.len());
    let range = net.graph.input_range;
    let calib = data::to_inputs(&splits.train.pixels[..n * data::images::IMAGE_BYTES], range);
    let cfg = QuantConfig {
        input: quant::input_qparams(range),
        ..cfg
    };
    let q = quant::quantize(&float, &calib, &cfg)?;
    Ok((q.f32_blob, q.blob))
}

/// Exports the run at `run` to `<out>/<name>.whittle`, scores it on the test set with the
/// firmware's kernels, runs it on the target and checks the firmware against the host.
/// The ratios against the base are filled later by [`DemoRow::compare_with`].
pub fn measure(
    name: &str,
    run: &Path,
    method: &str,
    target: String,
    test: &TestSet,
    opts: &DemoOptions,
) -> Result<DemoRow, DemoError> {
    let t = Instant::now();
    let (f32_blob, blob) = export_run(run, opts)?;
    let blob_path = opts.out.join(format!("{name}.whittle"));
    std::fs::write(&blob_path, &blob).map_err(io(&blob_path))?;
    eprintln!(
        "  {name}: exported {} ({} bytes)",
        blob_path.display(),
        blob.len()
    );
    let acc_int8 = accuracy(&blob, &test.images, &test.labels)?;
    // The f32 reference kernels are direct loops (~4x slower): score f32 on a prefix.
    let nf = test.labels.len().min(F32_TEST_IMAGES);
    let per = test.images.len() / test.labels.len().max(1);
    let acc_f32 = accuracy(&f32_blob, &test.images[..nf * per], &test.labels[..nf])?;
    eprintln!(
        "  {name}: test accuracy (host): int8 {:.2}% on {} images, f32 {:.2}% on the first {nf} ({:.0} s)",
        100.0 * acc_int8,
        test.labels.len(),
        100.0 * acc_f32,
        t.elapsed().as_secs_f64()
    );
    let (input, range) = with_model(&blob, |m| {
        Ok::<_, crate::export::ExportError>((m.input()?, m.meta().input_range))
    })?;
    let images = (0..opts.firmware_images.min(test.raw.len()))
        .map(|i| {
            quantize_chw(test.raw.image(i), &input, range)
                .map(|pixels| LabeledImage {
                    label: test.raw.labels[i],
                    pixels,
                })
                .ok_or(DemoError::Input { model: name.into() })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let t = Instant::now();
    let report =
        pipeline::run(&blob, &images, &RunOptions::new(opts.machine)).map_err(|source| {
            DemoError::Firmware {
                model: name.into(),
                source,
            }
        })?;
    if !report.host_matches {
        return Err(DemoError::Mismatch {
            model: name.into(),
            mismatches: report.mismatches,
            images: report.images,
        });
    }
    eprintln!(
        "  {name}: {} on {}: {:.2} M instructions/inference, {}/{} correct, bit-exact with the host ({:.0} s)",
        report.chip,
        report.machine,
        report.instructions_per_inference as f64 / 1e6,
        report.correct,
        report.images,
        t.elapsed().as_secs_f64()
    );
    let spec = RunDir::new(run).spec()?;
    Ok(DemoRow {
        method: method.into(),
        target,
        channels: spec.groups()?.widths(),
        weights_removed_pct: 0.0,
        macs_removed_pct: 0.0,
        test_accuracy_int8: acc_int8,
        test_accuracy_f32: acc_f32,
        test_images: test.labels.len(),
        test_images_f32: nf,
        speedup: 1.0,
        speedup_over_mac_ratio: 1.0,
        ram_bytes: report.model_ram_bytes + report.stack_peak_bytes,
        train_seconds: 0.0,
        run: report,
    })
}

/// Prunes `opts.base` with `method` ("l1" or "l0") to `target` into `<out>/<name>`, with
/// the demo's learning and fine-tuning budget; returns the pruned run directory.
pub fn prune(
    method: &str,
    target: Target,
    name: &str,
    opts: &DemoOptions,
) -> Result<PathBuf, DemoError> {
    let out = opts.out.join(name);
    if out.exists() {
        // The demo owns its output folder: a previous demo's pruned run is replaced.
        std::fs::remove_dir_all(&out).map_err(io(&out))?;
    }
    let spec = RunDir::new(&opts.base).spec()?;
    let mut method: Box<dyn PruneMethod> = match method {
        "l1" => Box::new(L1::new(
            &spec,
            L1Config {
                epochs: opts.learn_epochs,
                target: Some(target),
                ..L1Config::default()
            },
        )),
        _ => Box::new(L0::new(
            &spec,
            L0Config {
                epochs: opts.learn_epochs,
                target: Some(target),
                ..L0Config::default()
            },
        )),
    };
    let popts = PruneOptions {
        amount: Amount::Target(target),
        round_to: 4,
        finetune_epochs: opts.finetune_epochs,
        limit: opts.limit,
        data_dir: Some(opts.data.clone()),
        learn: LearnConfig::default(),
        ..PruneOptions::default()
    };
    let device = crate::device::device("flex")?;
    let summary = prune_run(
        &opts.base,
        &out,
        method.as_mut(),
        &popts,
        &device,
        &mut |e| {
            eprintln!(
                "  {name}: learn epoch {} loss {:.3} val {:.2}% λ {:.2e} channels {:?} ({:.0} s)",
                e.epoch,
                e.train_loss,
                100.0 * e.val_acc,
                e.method.lambda,
                e.method
                    .channels
                    .iter()
                    .map(|c| c.round() as usize)
                    .collect::<Vec<_>>(),
                e.seconds
            )
        },
        &mut |e| {
            eprintln!(
                "  {name}: fine-tune epoch {} val {:.2}%",
                e.epoch,
                100.0 * e.val_acc
            )
        },
    )?;
    eprintln!(
        "  {name}: widths {:?} -> {:?}, params {} -> {}",
        summary.widths_before, summary.widths_after, summary.params.0, summary.params.1
    );
    Ok(out)
}

/// Runs the demo; returns the rows (base first) after writing `demo.json` and `demo.svg`.
pub fn run(opts: &DemoOptions) -> Result<Vec<DemoRow>, DemoError> {
    let started = Instant::now();
    if !opts.base.join("spec.json").exists() || !opts.base.join("model.bpk").exists() {
        return Err(DemoError::NoBase(opts.base.clone()));
    }
    std::fs::create_dir_all(&opts.out).map_err(io(&opts.out))?;
    let base_spec = RunDir::new(&opts.base).spec()?;
    let test = test_set(opts, base_spec.input_range)?;
    let base_cost = (base_spec.num_weights()?, base_spec.macs()?);

    eprintln!("[1/{}] base model {}", JOBS.len() + 1, opts.base.display());
    let mut rows = vec![measure(
        "base",
        &opts.base,
        "base",
        "-".into(),
        &test,
        opts,
    )?];
    for (i, job) in JOBS.iter().enumerate() {
        let name = job.name();
        eprintln!(
            "[{}/{}] {name}: prune {} to {}",
            i + 2,
            JOBS.len() + 1,
            job.method,
            job.label()
        );
        let t = Instant::now();
        let target = match job.budget {
            Budget::Params => Target::Params((base_cost.0 as f64 * job.keep) as u64),
            Budget::Macs => Target::Macs((base_cost.1 as f64 * job.keep) as u64),
        };
        let run = prune(job.method, target, &name, opts)?;
        let seconds = t.elapsed().as_secs_f64();
        let mut row = measure(&name, &run, job.method, job.label(), &test, opts)?;
        row.train_seconds = seconds;
        rows.push(row);
    }
    table::compare_all(&mut rows);
    let json = opts.out.join("demo.json");
    std::fs::write(&json, serde_json::to_string_pretty(&rows)?).map_err(io(&json))?;
    let points: Vec<Point> = rows
        .iter()
        .map(|r| Point {
            method: r.method.clone(),
            label: if r.method == "base" {
                "base".into()
            } else {
                format!("{} {}", r.method, r.target)
            },
            weights_removed_pct: r.weights_removed_pct,
            accuracy_pct: 100.0 * r.test_accuracy_int8,
            instructions: r.run.instructions_per_inference as f64,
        })
        .collect();
    let svg = opts.out.join("demo.svg");
    std::fs::write(&svg, chart::svg(&points)).map_err(io(&svg))?;
    eprintln!(
        "demo finished in {:.1} min: {}, {}",
        started.elapsed().as_secs_f64() / 60.0,
        json.display(),
        svg.display()
    );
    Ok(rows)
}
