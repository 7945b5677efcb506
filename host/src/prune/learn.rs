//! The mask/gate learning loop: cross-entropy + kernel L1/L2 + the method's penalty, one
//! Adam for the weights and another optimizer (its own learning rate; Adam or SGD, the
//! penalty in the loss or applied by the method as a proximal step) for masks and gates;
//! the method chooses per epoch which parameters train and hooks every step.

use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams, SgdConfig};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::error::PruneError;
use super::method::{MaskOptimizer, MethodLog, PruneMethod};
use crate::data::{Images, Splits, make_batch_in};
use crate::graph::Op;
use crate::nn::{GateMode, Net, NoObserver, Trainable};
use crate::rng::SplitMix64;

/// Optimizer settings of the learning phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnConfig {
    /// Images per step.
    pub batch_size: usize,
    /// Adam learning rate of the weights.
    pub lr: f64,
    /// Adam learning rate of masks and gates for methods whose [`MaskOptimizer`] is
    /// `Adam` (l0's gates; at the weights' 1e-3 a gate needs ≥ 2,500 steps to close); a
    /// proximal optimizer carries its own.
    #[serde(default = "default_mask_lr")]
    pub mask_lr: f64,
    /// L1 on conv/dense kernels (the seed's subtlety 1: keeps weights from compensating).
    pub l1: f64,
    /// L2 on conv/dense kernels.
    pub l2: f64,
    /// Seed of shuffles, dropout and gate noise.
    pub seed: u64,
    /// Validation batch size.
    pub eval_batch_size: usize,
}

fn default_mask_lr() -> f64 {
    1e-2
}

impl Default for LearnConfig {
    fn default() -> Self {
        Self {
            batch_size: 32,
            lr: 1e-3,
            mask_lr: default_mask_lr(),
            l1: 1.25e-6,
            l2: 2.5e-6,
            seed: 1,
            eval_batch_size: 256,
        }
    }
}

/// What one learning epoch did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnEpoch {
    /// 1-based epoch.
    pub epoch: usize,
    /// Parameters trained.
    pub trained: Trainable,
    /// Mean cross-entropy on training batches.
    pub train_loss: f64,
    /// Mean method penalty on training batches.
    pub penalty: f64,
    /// Validation accuracy (gates at their test value).
    pub val_acc: f64,
    /// The method's report at the epoch's end (λ, live channels, cost).
    pub method: MethodLog,
    /// The method's reports during the epoch (every N penalty steps).
    #[serde(default)]
    pub reports: Vec<MethodLog>,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// Accuracy of `model` (any mode; evaluated through `valid()`) on `images`.
pub fn accuracy(
    model: &Net,
    images: &Images,
    batch: usize,
    mode: GateMode,
    device: &Device,
) -> f64 {
    let device = device.clone().inner();
    let model = model.valid();
    let idx: Vec<usize> = (0..images.len()).collect();
    let mut hits = 0i64;
    for chunk in idx.chunks(batch.max(1)) {
        let b = make_batch_in(images, chunk, None, model.graph.input_range, &device);
        hits += crate::train::evaluate::hits(model.run(b.images, mode, &mut NoObserver), b.labels);
    }
    hits as f64 / images.len().max(1) as f64
}

/// Train `model` (on an autodiff `device`) for `method.learn_epochs()` epochs.
pub fn learn(
    method: &mut dyn PruneMethod,
    mut model: Net,
    data: &Splits,
    config: &LearnConfig,
    device: &Device,
    on_epoch: &mut dyn FnMut(&LearnEpoch),
) -> Result<(Net, Vec<LearnEpoch>), PruneError> {
    let bad = |v: f64| v.is_nan() || v <= 0.0;
    let optimizer = method.mask_optimizer();
    let proximal = optimizer.proximal_lr().is_some();
    let mask_lr = optimizer.proximal_lr().unwrap_or(config.mask_lr);
    if config.batch_size == 0 || bad(config.lr) || bad(mask_lr) {
        return Err(PruneError::Config(
            "batch size, lr and mask lr must be > 0".into(),
        ));
    }
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let mut optim_w = AdamConfig::new().with_epsilon(1e-7).init();
    let mut optim_m = match optimizer {
        MaskOptimizer::ProximalSgd { .. } => SgdConfig::new().init(),
        MaskOptimizer::Adam | MaskOptimizer::ProximalAdam { .. } => {
            AdamConfig::new().with_epsilon(1e-7).init()
        }
    };
    let mut log = Vec::new();
    let eval_mode = if model
        .graph
        .nodes
        .iter()
        .any(|n| matches!(n.op, Op::Gate(_)))
    {
        GateMode::Test
    } else {
        GateMode::Off
    };
    for epoch in 0..method.learn_epochs() {
        let start = Instant::now();
        let trained = method.trainable(epoch);
        let w_ids = model.param_ids(Trainable {
            masks: false,
            gates: false,
            ..trained
        });
        let m_ids = model.param_ids(Trainable {
            weights: false,
            ..trained
        });
        let mut reports = Vec::new();
        let mode = method.gate_mode(epoch);
        device.seed(SplitMix64::derive(config.seed, &[0x1ea2, epoch as u64]).next_u64());
        let mut order: Vec<usize> = (0..data.train.len()).collect();
        SplitMix64::derive(config.seed, &[0x5fff, epoch as u64]).shuffle(&mut order);
        let (mut ce_sum, mut pen_sum, mut seen) = (0f64, 0f64, 0usize);
        for (step, chunk) in order.chunks(config.batch_size).enumerate() {
            let b = make_batch_in(&data.train, chunk, None, model.graph.input_range, device);
            let logits = model.run(b.images, mode, &mut NoObserver);
            let ce = loss_fn.forward(logits, b.labels);
            let mut loss = ce.clone();
            if trained.weights
                && (config.l1 > 0.0 || config.l2 > 0.0)
                && let Some((l1, l2)) = model.kernel_norms()
            {
                loss = loss + l1.mul_scalar(config.l1) + l2.mul_scalar(config.l2);
            }
            let mut pen_value = 0f32;
            if let Some(p) = method.penalty(&model, epoch) {
                pen_value = p.clone().into_scalar();
                if !proximal {
                    loss = loss + p;
                }
            }
            let ce_value: f32 = ce.into_scalar();
            if !ce_value.is_finite() || !pen_value.is_finite() {
                return Err(PruneError::NonFinite {
                    what: if ce_value.is_finite() {
                        "penalty".into()
                    } else {
                        "loss".into()
                    },
                    value: if ce_value.is_finite() {
                        pen_value
                    } else {
                        ce_value
                    },
                    epoch: epoch + 1,
                    step: step + 1,
                });
            }
            let mut grads = loss.backward();
            let g_w = GradientsParams::from_params(&mut grads, &model, &w_ids);
            let g_m = GradientsParams::from_params(&mut grads, &model, &m_ids);
            if !w_ids.is_empty() {
                model = optim_w.step(config.lr, model, g_w);
            }
            if !m_ids.is_empty() {
                model = optim_m.step(mask_lr, model, g_m);
            }
            model = method.after_step(model, epoch)?;
            reports.extend(method.take_report());
            ce_sum += f64::from(ce_value) * chunk.len() as f64;
            pen_sum += f64::from(pen_value) * chunk.len() as f64;
            seen += chunk.len();
        }
        let mlog = method.on_epoch_end(&model, epoch)?;
        let val_acc = accuracy(&model, &data.val, config.eval_batch_size, eval_mode, device);
        let rec = LearnEpoch {
            epoch: epoch + 1,
            trained,
            train_loss: ce_sum / seen.max(1) as f64,
            penalty: pen_sum / seen.max(1) as f64,
            val_acc,
            method: mlog,
            reports,
            seconds: start.elapsed().as_secs_f64(),
        };
        on_epoch(&rec);
        log.push(rec);
    }
    Ok((model, log))
}
