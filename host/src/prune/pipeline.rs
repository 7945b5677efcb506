//! The whole `whittle prune`: load a base run, learn masks (l1/l0), fix them, choose the
//! keep plan, cut (+ check), fine-tune, and save a run directory like any other run
//! (`spec.json`, `train.json`, `model.bpk`, `history.json`) plus `keep_plan.json` and `prune.json`.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::budget::Target;
use super::error::PruneError;
use super::learn::{LearnConfig, LearnEpoch, learn};
use super::method::{Amount, MethodLog, PlanContext, PruneMethod};
use crate::data::{self, Splits};
use crate::graph::{Graph, Op};
use crate::nn::{Group, Net};
use crate::plan::KeepPlan;
use crate::surgery::{self, CheckReport};
use crate::train::checkpoint::{self, Progress};
use crate::train::history::LearnProgress;
use crate::train::run_dir::{save_net_atomic, write_atomic, write_json};
use crate::train::trainer::optimizer;
use crate::train::{
    self, Distill, EpochRecord, History, LrSchedule, RunDir, RunOptions, TrainConfig, Weights,
    evaluate,
};

/// Settings of a pruning run besides the method's own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PruneOptions {
    /// How much to prune.
    pub amount: Amount,
    /// Kept counts are multiples of this.
    pub round_to: usize,
    /// Fine-tuning epochs after surgery.
    pub finetune_epochs: usize,
    /// Training images limit (smoke runs); None: the base run's split.
    pub limit: Option<usize>,
    /// Data location (default: the base run's).
    pub data_dir: Option<PathBuf>,
    /// The learning phase's optimizer.
    pub learn: LearnConfig,
    /// Fine-tuning learning rate.
    pub finetune_lr: f64,
    /// Fine-tuning (and from-scratch) learning-rate schedule.
    #[serde(default)]
    pub finetune_schedule: LrSchedule,
    /// Fine-tuning (and from-scratch) with random crop + flip.
    #[serde(default)]
    pub finetune_augment: bool,
    /// Epochs of a from-scratch run (scratch only: learning + fine-tuning of the methods
    /// it is compared with).
    pub scratch_epochs: usize,
    /// Fine-tuning (and from-scratch) distilled from a teacher run (usually the base).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finetune_distill: Option<Distill>,
}

impl Default for PruneOptions {
    fn default() -> Self {
        Self {
            amount: Amount::Learned,
            round_to: 1,
            finetune_epochs: 2,
            limit: None,
            data_dir: None,
            learn: LearnConfig::default(),
            finetune_lr: 1e-3,
            finetune_schedule: LrSchedule::Constant,
            finetune_augment: false,
            scratch_epochs: 6,
            finetune_distill: None,
        }
    }
}

/// What a pruning run did (`prune.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PruneSummary {
    /// Method name.
    pub method: String,
    /// The base run.
    pub base: PathBuf,
    /// Settings.
    pub options: PruneOptions,
    /// Widths before and after.
    pub widths_before: Vec<usize>,
    /// Widths after.
    pub widths_after: Vec<usize>,
    /// MACs before / after.
    pub macs: (u64, u64),
    /// Weights before / after.
    pub params: (u64, u64),
    /// int8 weight bytes before / after.
    pub flash: (u64, u64),
    /// The base ended in a Softmax (an imported model) that pruning dropped: the pruned run
    /// outputs logits (same argmax; int8 deployment drops it anyway).
    #[serde(default)]
    pub softmax_dropped: bool,
    /// Validation accuracy of the base net.
    pub base_val_acc: f64,
    /// Validation accuracy right after surgery (before fine-tuning).
    pub pruned_val_acc: f64,
    /// Validation accuracy after fine-tuning (or scratch training).
    pub final_val_acc: f64,
    /// The surgery check (None for scratch).
    pub check: Option<CheckReport>,
    /// The learning phase, epoch by epoch.
    pub learn: Vec<LearnEpoch>,
    /// What learning alone decided against the final plan (learned methods only).
    #[serde(default)]
    pub learned: Option<LearnedPlan>,
}

/// The plan that learning alone gives (snapped masks, closed gates), against the final
/// keep plan: how much the final re-rank had to change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnedPlan {
    /// Live channels per group at the end of learning.
    pub widths: Vec<usize>,
    /// Their MACs.
    pub macs: u64,
    /// Their cost in the budget's currency, and the budget (when one is set).
    pub cost: Option<(u64, u64)>,
    /// (learned cost − budget) / budget (when a budget is set).
    pub off_target: Option<f64>,
    /// Channels the final plan dropped that learning left alive (the re-rank's share).
    pub reranked_dropped: usize,
    /// Channels the final plan kept that learning had removed (groups kept at their
    /// minimum, rounding up to `round_to`).
    pub reranked_restored: usize,
}

fn learned_plan(
    spec: &Graph,
    learned: &[Vec<usize>],
    plan: &KeepPlan,
    amount: &Amount,
) -> Result<LearnedPlan, PruneError> {
    let widths: Vec<usize> = learned.iter().map(Vec::len).collect();
    let macs = Target::Macs(0).cost_of(spec, &widths)?;
    let cost = match *amount {
        Amount::Target(t) => Some((t.cost_of(spec, &widths)?, t.value())),
        _ => None,
    };
    let (mut dropped, mut restored) = (0, 0);
    for (l, g) in learned.iter().zip(&plan.groups) {
        dropped += l.iter().filter(|c| !g.keep.contains(c)).count();
        restored += g.keep.iter().filter(|c| !l.contains(c)).count();
    }
    Ok(LearnedPlan {
        widths,
        macs,
        off_target: cost.map(|(c, t)| (c as f64 - t as f64) / (t as f64).max(1.0)),
        cost,
        reranked_dropped: dropped,
        reranked_restored: restored,
    })
}

fn costs(spec: &Graph) -> Result<(u64, u64, u64), PruneError> {
    Ok((
        Target::Macs(0).cost(spec)?,
        Target::Params(0).cost(spec)?,
        Target::Flash(0).cost(spec)?,
    ))
}

/// Load the base run's data: its split, `limit` overriding its limit.
pub fn load_data(base: &RunDir, opts: &PruneOptions) -> Result<(TrainConfig, Splits), PruneError> {
    let config = base.config()?;
    let dir = opts
        .data_dir
        .clone()
        .or(config.data_dir.clone())
        .ok_or(data::DataError::NoDataDir {
            subdir: config.dataset.subdir(),
        })
        .map_err(train::TrainError::from)?;
    let split = data::SplitOptions {
        limit: opts.limit.or(config.split.limit),
        ..config.split
    };
    let splits =
        data::load_splits(&dir, config.dataset, &split).map_err(train::TrainError::from)?;
    let config = TrainConfig {
        data_dir: Some(dir),
        split,
        ..config
    };
    Ok((config, splits))
}

/// Prune the base run at `base_dir` with `method` into `out_dir` (which must not hold a
/// run yet). `device` is a plain device; learning and fine-tuning use its autodiff twin.
pub fn prune_run(
    base_dir: &Path,
    out_dir: &Path,
    method: &mut dyn PruneMethod,
    opts: &PruneOptions,
    device: &Device,
    on_learn: &mut dyn FnMut(&LearnEpoch),
    on_finetune: &mut dyn FnMut(&EpochRecord),
) -> Result<PruneSummary, PruneError> {
    let base = RunDir::new(base_dir);
    let out = RunDir::new(out_dir);
    if checkpoint::find(&out).is_some() || out.weights_path(Weights::Final).exists() {
        return Err(train::TrainError::RunExists {
            dir: out_dir.to_path_buf(),
        }
        .into());
    }
    let (base_config, splits) = load_data(&base, opts)?;
    let (spec, net) = base.load_model(Weights::Final, device)?;
    let softmax_dropped = spec.nodes.iter().any(|n| matches!(n.op, Op::Softmax(_)));
    let net = net.without_softmax()?;
    let spec = net.graph.clone();
    let eval_bs = base_config.eval_batch_size;
    let base_val_acc = evaluate(&net, &splits.val, eval_bs, device).accuracy;

    // 1. Learn masks / gates.
    let mut learn_log = Vec::new();
    let net = if method.learn_epochs() > 0 {
        let ad = device.clone().autodiff();
        let (_, trainee) = base.load_model(Weights::Final, &ad)?;
        let model = method.init(trainee.without_softmax()?)?;
        let (model, log) = learn(method, model, &splits, &opts.learn, &ad, on_learn)?;
        learn_log = log;
        method.finalize(model.valid())?
    } else {
        net
    };

    // 2. Keep plan.
    let ctx = PlanContext {
        spec: &spec,
        amount: opts.amount.clone(),
        round_to: opts.round_to,
        calib: Some(&splits.train),
        device,
    };
    let plan = method.keep_plan(&net, &ctx)?;
    let learned = match method.learned_keep(&net)? {
        Some(l) if method.learn_epochs() > 0 => Some(learned_plan(&spec, &l, &plan, &opts.amount)?),
        _ => None,
    };
    out.create()?;
    plan.save(&out_dir.join("keep_plan.json"))?;

    // 3. Cut (+ check) or fresh init, then train.
    let pspec = plan.pruned_spec(&spec)?;
    let (b_macs, b_params, b_flash) = costs(&spec)?;
    let (a_macs, a_params, a_flash) = costs(&pspec)?;
    let mut config = TrainConfig {
        lr: opts.finetune_lr,
        lr_schedule: opts.finetune_schedule,
        augment: opts.finetune_augment,
        distill: opts.finetune_distill.clone(),
        batch_size: opts.learn.batch_size,
        seed: opts.learn.seed,
        ..base_config
    };
    let opts_run = RunOptions { progress: false };
    let (check, pruned_val_acc, history) = if method.trains_from_scratch() {
        config.epochs = opts.scratch_epochs;
        config.train_group = Group::All;
        let h = train::train(
            &out,
            &pspec,
            &config,
            &splits,
            device,
            opts_run,
            on_finetune,
        )?;
        (None, 0.0, h)
    } else {
        let pruned = surgery::apply(&spec, &net, &plan, device)?;
        let acc = evaluate(&pruned.net, &splits.val, eval_bs, device).accuracy;
        config.epochs = opts.finetune_epochs;
        // Masks stay at 1 while fine-tuning: they only mark what can be pruned again.
        config.train_group = Group::Weights;
        let h = finetune(
            &out,
            &pruned.spec,
            &pruned.net,
            &config,
            &splits,
            device,
            opts_run,
            progress_of(&learn_log),
            on_finetune,
        )?;
        (Some(pruned.check), acc, h)
    };
    let final_val_acc = history
        .epochs
        .last()
        .map(|e| e.val_acc)
        .unwrap_or(pruned_val_acc);
    let summary = PruneSummary {
        method: method.name().into(),
        base: base_dir.to_path_buf(),
        options: opts.clone(),
        widths_before: spec.groups()?.widths(),
        widths_after: pspec.groups()?.widths(),
        macs: (b_macs, a_macs),
        params: (b_params, a_params),
        flash: (b_flash, a_flash),
        softmax_dropped,
        base_val_acc,
        pruned_val_acc,
        final_val_acc,
        check,
        learn: learn_log,
        learned,
    };
    write_json(&out_dir.join("prune.json"), &summary)?;
    Ok(summary)
}

/// The learning phase's reports as `history.json` records (every N steps, then each epoch's end).
pub fn progress_of(log: &[LearnEpoch]) -> Vec<LearnProgress> {
    let rec = |epoch: usize, m: &MethodLog| LearnProgress {
        epoch,
        step: m.step,
        lambda: m.lambda,
        lambda_effective: m.lambda_effective,
        expected_cost: m.expected_cost,
        expected_macs: m.expected_macs,
        live: m.live.clone(),
        snapped: m.snapped,
        closed: m.closed,
    };
    log.iter()
        .flat_map(|e| {
            e.reports
                .iter()
                .chain(std::iter::once(&e.method))
                .map(move |m| rec(e.epoch, m))
        })
        .collect()
}

/// Fine-tune `net` (built from graph `spec`) in run directory `out` for `config.epochs` epochs:
/// it is stored as an epoch-0 checkpoint and resumed by the ordinary trainer, so the result
/// is a normal run directory (its `history.json` starts with `learn`, the learning phase's
/// progress). With 0 epochs the net is just saved.
#[allow(clippy::too_many_arguments)]
pub fn finetune(
    out: &RunDir,
    spec: &Graph,
    net: &Net,
    config: &TrainConfig,
    splits: &Splits,
    device: &Device,
    opts: RunOptions,
    learn: Vec<LearnProgress>,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<History, PruneError> {
    out.create()?;
    write_atomic(&out.spec_path(), spec.to_json().as_bytes())?;
    write_json(&out.config_path(), config)?;
    save_net_atomic(net, &out.weights_path(Weights::Final))?;
    let history = History {
        learn,
        ..History::default()
    };
    if config.epochs == 0 {
        write_json(&out.history_path(), &history)?;
        return Ok(history);
    }
    let progress = Progress {
        epochs_done: 0,
        steps: 0,
        seed: config.seed,
        history,
    };
    checkpoint::save(out, spec, config, net, &optimizer(config), &progress)?;
    Ok(train::resume(out, None, splits, device, opts, on_epoch)?)
}

/// Convenience for `whittle demo`: the keep plan of a pruned run.
pub fn load_plan(run_dir: &Path) -> Result<KeepPlan, PruneError> {
    Ok(KeepPlan::load(&run_dir.join("keep_plan.json"))?)
}
