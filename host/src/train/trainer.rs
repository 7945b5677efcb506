//! The training loop: Adam on cross-entropy + L1/L2 on kernels, seeded shuffles and dropout
//! per epoch (so resuming at an epoch boundary is exact), a checkpoint after every epoch.

use std::time::Instant;

use burn::module::{Module, ParamId};
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use indicatif::{ProgressBar, ProgressStyle};

use super::checkpoint::{self, Progress};
use super::config::TrainConfig;
use super::distill::Teacher;
use super::error::TrainError;
use super::evaluate::{evaluate, hits};
use super::history::{EpochRecord, History};
use super::run_dir::{RunDir, Weights, save_net_atomic, write_atomic, write_json};
use crate::data::{Batch, Splits, make_batch_in};
use crate::graph::Graph;
use crate::nn::Net;
use crate::rng::SplitMix64;

/// RNG streams derived from the run's seed (plus the epoch where it applies).
mod stream {
    pub const INIT: u64 = 1;
    pub const SHUFFLE: u64 = 2;
    pub const DROPOUT: u64 = 3;
    pub const AUGMENT: u64 = 4;
}

/// How a run reports while it trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunOptions {
    /// Show an indicatif progress bar (hidden anyway when stderr is not a terminal).
    pub progress: bool,
}

/// Adam as configured.
pub fn optimizer(config: &TrainConfig) -> ModuleOptimizer {
    AdamConfig::new()
        .with_beta_1(config.beta1)
        .with_beta_2(config.beta2)
        .with_epsilon(config.epsilon)
        .init()
}

/// Start a fresh run in `run` (which must not hold a checkpoint yet) and train it for
/// `config.epochs` epochs on `device` (made autodiff here). `on_epoch` sees each record.
pub fn train(
    run: &RunDir,
    spec: &Graph,
    config: &TrainConfig,
    data: &Splits,
    device: &Device,
    opts: RunOptions,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<History, TrainError> {
    config.check()?;
    if checkpoint::find(run).is_some() {
        return Err(TrainError::RunExists {
            dir: run.root().to_path_buf(),
        });
    }
    run.create()?;
    write_atomic(&run.spec_path(), spec.to_json().as_bytes())?;
    write_json(&run.config_path(), config)?;
    let device = device.clone().autodiff();
    device.seed(SplitMix64::derive(config.seed, &[stream::INIT]).next_u64());
    let net = Net::new(spec, &device);
    net.init_now();
    let progress = Progress {
        epochs_done: 0,
        steps: 0,
        seed: config.seed,
        history: History::default(),
    };
    let optim = optimizer(config);
    run_epochs(
        run, spec, config, net, optim, progress, data, &device, opts, on_epoch,
    )
}

/// Continue `run` from its checkpoint up to `epochs` (default: the stored total).
/// `data` must be the same split the run started with (see [`TrainConfig::split`]).
pub fn resume(
    run: &RunDir,
    epochs: Option<usize>,
    data: &Splits,
    device: &Device,
    opts: RunOptions,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<History, TrainError> {
    let device = device.clone().autodiff();
    let stored = run.config()?;
    let ckpt = checkpoint::load(run, &device, optimizer(&stored))?;
    let mut config = ckpt.config;
    if let Some(e) = epochs {
        config.epochs = e;
        write_json(&run.config_path(), &config)?;
    }
    run_epochs(
        run,
        &ckpt.spec,
        &config,
        ckpt.net,
        ckpt.optim,
        ckpt.progress,
        data,
        &device,
        opts,
        on_epoch,
    )
}

/// What one training step saw, both read back from the device (as the progress bar needs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepOutcome {
    /// The batch's mean cross-entropy before the update (penalties excluded).
    pub loss: f32,
    /// Images of the batch the net classified correctly before the update.
    pub hits: i64,
}

/// `ce` plus the L1 and L2 penalties on the kernels that `config` asks for: the loss a
/// training step differentiates.
pub(crate) fn penalized(net: &Net, ce: Tensor<1>, config: &TrainConfig) -> Tensor<1> {
    if (config.l1 > 0.0 || config.l2 > 0.0)
        && let Some((l1, l2)) = net.kernel_norms()
    {
        return ce + l1.mul_scalar(config.l1) + l2.mul_scalar(config.l2);
    }
    ce
}

/// One optimizer step exactly as [`train`] runs it: forward, cross-entropy (blended with
/// `teacher`'s distillation term when there is one) plus the L1/L2 kernel penalties,
/// backward, Adam at rate `lr` on the parameters in `ids`. `net` must live on an
/// autodiff device. When the loss is not finite the step stops before the backward pass and
/// returns the net unchanged (the caller decides what to do; `train` stops the run).
#[allow(clippy::too_many_arguments)]
pub fn train_step(
    net: Net,
    optim: &mut ModuleOptimizer,
    batch: Batch,
    loss_fn: &CrossEntropyLoss,
    ids: &[ParamId],
    config: &TrainConfig,
    teacher: Option<&Teacher>,
    lr: f64,
) -> (Net, StepOutcome) {
    let logits = net.forward(batch.images.clone());
    let ce = loss_fn.forward(logits.clone(), batch.labels.clone());
    let target = match teacher {
        Some(t) => t.loss(batch.images, logits.clone(), ce.clone()),
        None => ce.clone(),
    };
    let loss = penalized(&net, target, config);
    let ce_value: f32 = ce.into_scalar();
    if !ce_value.is_finite() {
        return (
            net,
            StepOutcome {
                loss: ce_value,
                hits: 0,
            },
        );
    }
    let hits = hits(logits, batch.labels);
    let mut grads = loss.backward();
    let grads = GradientsParams::from_params(&mut grads, &net, ids);
    let net = optim.step(lr, net, grads);
    (
        net,
        StepOutcome {
            loss: ce_value,
            hits,
        },
    )
}

fn bar(steps: usize, epoch: usize, epochs: usize, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(steps as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, ETA {eta}) {msg}",
    ) {
        pb.set_style(style);
    }
    pb.set_prefix(format!("epoch {epoch}/{epochs}"));
    pb
}

#[allow(clippy::too_many_arguments)]
fn run_epochs(
    run: &RunDir,
    spec: &Graph,
    config: &TrainConfig,
    mut net: Net,
    mut optim: ModuleOptimizer,
    mut progress: Progress,
    data: &Splits,
    device: &Device,
    opts: RunOptions,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<History, TrainError> {
    let ids = net.param_ids(config.train_group);
    let teacher = match &config.distill {
        Some(d) => Some(Teacher::load(d, &net, device)?),
        None => None,
    };
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let n = data.train.len();
    let bs = config.batch_size;
    let steps_per_epoch = n.div_ceil(bs);
    for epoch in progress.epochs_done + 1..=config.epochs {
        let last_good = progress.epochs_done;
        let non_finite = |what, value, step| TrainError::NonFinite {
            what,
            value,
            epoch,
            step,
            last_good,
        };
        device.seed(SplitMix64::derive(config.seed, &[stream::DROPOUT, epoch as u64]).next_u64());
        let mut order: Vec<usize> = (0..n).collect();
        SplitMix64::derive(config.seed, &[stream::SHUFFLE, epoch as u64]).shuffle(&mut order);
        let mut aug = config
            .augment
            .then(|| SplitMix64::derive(config.seed, &[stream::AUGMENT, epoch as u64]));
        let pb = bar(steps_per_epoch, epoch, config.epochs, opts.progress);
        let start = Instant::now();
        let (mut loss_sum, mut hits, mut seen) = (0f64, 0i64, 0usize);
        for (step, chunk) in order.chunks(bs).enumerate() {
            let range = net.graph.input_range;
            let b = make_batch_in(&data.train, chunk, aug.as_mut(), range, device);
            let lr = config.lr_at(progress.steps as usize, steps_per_epoch);
            let (next, out) = train_step(
                net,
                &mut optim,
                b,
                &loss_fn,
                &ids,
                config,
                teacher.as_ref(),
                lr,
            );
            net = next;
            if !out.loss.is_finite() {
                pb.abandon();
                return Err(non_finite("loss", out.loss, step + 1));
            }
            progress.steps += 1;
            loss_sum += f64::from(out.loss) * chunk.len() as f64;
            hits += out.hits;
            seen += chunk.len();
            pb.inc(1);
            pb.set_message(format!(
                "loss {:.4} acc {:.1}%",
                loss_sum / seen as f64,
                100.0 * hits as f64 / seen as f64
            ));
        }
        pb.finish_and_clear();
        let train_seconds = start.elapsed().as_secs_f64();

        // Never checkpoint bad weights.
        let eval_net = net.valid();
        let weights = eval_net.tensors()?;
        if let Some(bad) = weights
            .iter()
            .flatten()
            .flat_map(|t| &t.values)
            .find(|v| !v.is_finite())
        {
            return Err(non_finite("weights", *bad, steps_per_epoch));
        }
        let penalty = eval_net
            .kernel_norms()
            .map(|(a, b)| {
                let (a, b): (f32, f32) = (a.into_scalar(), b.into_scalar());
                config.l1 * f64::from(a) + config.l2 * f64::from(b)
            })
            .unwrap_or(0.0);
        let val = evaluate(&eval_net, &data.val, config.eval_batch_size, device);
        if !val.loss.is_finite() {
            return Err(non_finite(
                "validation loss",
                val.loss as f32,
                steps_per_epoch,
            ));
        }
        let rec = EpochRecord {
            epoch,
            train_loss: loss_sum / seen.max(1) as f64,
            penalty,
            train_acc: hits as f64 / seen.max(1) as f64,
            val_loss: val.loss,
            val_acc: val.accuracy,
            train_seconds,
            images_per_sec: seen as f64 / train_seconds.max(1e-9),
        };
        progress.epochs_done = epoch;
        let best = progress.history.push(rec.clone());
        checkpoint::save(run, spec, config, &net, &optim, &progress)?;
        save_net_atomic(&eval_net, &run.weights_path(Weights::Final))?;
        if best {
            save_net_atomic(&eval_net, &run.weights_path(Weights::Best))?;
        }
        write_json(&run.history_path(), &progress.history)?;
        on_epoch(&rec);
    }
    Ok(progress.history)
}
