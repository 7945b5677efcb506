//! `whittle prune`: prune a trained run with a method and an amount (λ, a budget, a ratio
//! or k), cut, check, fine-tune, and save a new run directory.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

use whittle::nn::hard_concrete::Temperature;
use whittle::prune::apoz::Apoz;
use whittle::prune::budget::{ChipBudget, ChipCost, narrowest_chip_cost};
use whittle::prune::control::Control;
use whittle::prune::first_k::FirstK;
use whittle::prune::l0::{L0, L0Config};
use whittle::prune::l1::{L1, L1Config, PushPull, Score};
use whittle::prune::l1_norm::L1Norm;
use whittle::prune::learn::LearnConfig;
use whittle::prune::scratch::Scratch;
use whittle::prune::slimming::{Slimming, SlimmingConfig};
use whittle::prune::{
    Amount, KeepPlan, MaskOptimizer, PruneMethod, PruneOptions, Target, prune_run,
};
use whittle::train::{Distill, LrSchedule, RunDir};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MethodArg {
    L1,
    L0,
    FirstK,
    Apoz,
    L1Norm,
    /// Network Slimming: L1 on BatchNorm γ, channels ranked by |γ|.
    Slimming,
    Scratch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ScoreArg {
    /// |m|.
    Mask,
    /// |m|·‖W_c‖₂ (invariant to scale moving between mask and filter).
    MaskNorm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MaskStepArg {
    /// Adam on the task loss, then the penalty's proximal step.
    ProxAdam,
    /// Plain SGD on the task loss, then the penalty's proximal step.
    ProxSgd,
    /// Adam on loss + penalty (the subgradient; all masks shrink alike).
    Adam,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TempArg {
    /// Louizos et al.: β = 2/3 fixed.
    Paper,
    /// The seed: β = 0.05 decayed linearly to 0.01.
    Seed,
}

/// Arguments of `whittle prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Pruning method.
    #[arg(long, value_enum)]
    method: MethodArg,
    /// The trained base run directory.
    #[arg(long)]
    from: PathBuf,
    /// Output run directory.
    #[arg(long)]
    out: PathBuf,
    /// Penalty weight (l1: λ·Σ|m|; l0: λ·Σ P(gate ≠ 0)); the start value under a budget.
    #[arg(long)]
    lambda: Option<f64>,
    /// Budget: MACs per image.
    #[arg(long, group = "budget")]
    target_macs: Option<u64>,
    /// Budget: weights + biases.
    #[arg(long, group = "budget")]
    target_params: Option<u64>,
    /// Budget: int8 weight bytes (i8 kernels, i32 bias, 8-byte requant per channel); with
    /// --chip: the firmware's flash (blob + code estimate). Bytes, or 256k, 1M.
    #[arg(long, group = "budget", value_parser = parse_size)]
    target_flash: Option<u64>,
    /// Budget in a chip's terms (`--chip STM32F405`, table in docs/FIRMWARE.md): the limits
    /// below, and its own RAM and flash where none is given. Scoring methods only.
    #[arg(long)]
    chip: Option<String>,
    /// With --chip: latency per inference in ms = predicted instructions × the core's
    /// assumed cycles per instruction ÷ the chip's clock.
    #[arg(long, requires = "chip")]
    target_latency_ms: Option<f64>,
    /// With --chip: RAM (model arena + scratch + firmware statics and stack estimate).
    /// Bytes, or 64k, 1M.
    #[arg(long, requires = "chip", value_parser = parse_size)]
    target_ram: Option<u64>,
    /// Baselines: drop this fraction of every layer.
    #[arg(long, group = "budget")]
    ratio: Option<f64>,
    /// first-k: drop exactly k channels of every layer.
    #[arg(long, group = "budget")]
    k: Option<usize>,
    /// Keep exactly these many channels per prunable group, comma-separated in the order
    /// keep_plan.json lists the groups (e.g. 12,12,20,20,44,44); the method picks which.
    #[arg(long, group = "budget", value_delimiter = ',')]
    widths: Option<Vec<usize>>,
    /// Kept channel counts are multiples of this.
    #[arg(long, default_value_t = 1)]
    round_to: usize,
    /// Mask/gate learning epochs (l1, l0); scratch: added to --finetune-epochs.
    #[arg(long, default_value_t = 4)]
    epochs: usize,
    /// Fine-tuning epochs after surgery.
    #[arg(long, default_value_t = 2)]
    finetune_epochs: usize,
    /// Train on the first N training images only.
    #[arg(long)]
    limit: Option<usize>,
    /// Data directory (default: WHITTLE_DATA, the base run's, the cache).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Learning rate of the weights (learning phase and fine-tuning).
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Fine-tuning learning rate (default: --lr).
    #[arg(long)]
    finetune_lr: Option<f64>,
    /// Fine-tuning learning-rate schedule (cosine: decays to 0 over the fine-tuning epochs).
    #[arg(long, value_enum, default_value_t = LrSchedule::Constant)]
    schedule: LrSchedule,
    /// Fine-tune with random crop (4 px padding) + horizontal flip.
    #[arg(long)]
    augment: bool,
    /// Fine-tune distilled from the unpruned base (--from): the loss blends the labels'
    /// cross-entropy with the base's softened predictions.
    #[arg(long)]
    distill: bool,
    /// Distill from this run directory instead of the base (implies --distill).
    #[arg(long)]
    teacher: Option<PathBuf>,
    /// Distillation temperature T.
    #[arg(long, default_value_t = 4.0)]
    distill_temperature: f64,
    /// Distillation weight α: loss = (1 − α)·CE + α·T²·KL(teacher ‖ student).
    #[arg(long, default_value_t = 0.9)]
    distill_alpha: f64,
    /// l1/l0: learning rate of the masks / gates (their own optimizer) [default: 0.3 for
    /// l1's prox-sgd, 1e-2 for Adam].
    #[arg(long)]
    mask_lr: Option<f64>,
    /// l1: how the masks step: the penalty as a proximal step (soft threshold
    /// mask-lr·λ·w after each step) after SGD or Adam on the task loss, or in Adam's loss.
    #[arg(long, value_enum, default_value = "prox-sgd")]
    mask_step: MaskStepArg,
    /// Learning phase: L1 on the conv/dense kernels.
    #[arg(long, default_value_t = 1.25e-6)]
    learn_l1: f64,
    /// Learning phase: L2 on the conv/dense kernels.
    #[arg(long, default_value_t = 2.5e-6)]
    learn_l2: f64,
    /// l1/l0 under a budget: adapt λ every this many mask/gate steps.
    #[arg(long, default_value_t = 10)]
    control_every: usize,
    /// l1/l0 under a budget: λ ×/÷ this per control step.
    #[arg(long, default_value_t = 1.5)]
    lambda_factor: f64,
    /// l1/l0: the penalty ramps from 0 to λ over this many mask/gate steps.
    #[arg(long, default_value_t = 50)]
    ramp_steps: usize,
    /// Batch size.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// l1: keep masks with |m| above this.
    #[arg(long, default_value_t = 0.075)]
    threshold: f32,
    /// l1: snap |m| below this to 0 and freeze it (0: off).
    #[arg(long, default_value_t = 0.075)]
    snap: f32,
    /// l1 push-pull: epochs training only masks per cycle (0: masks and weights together).
    #[arg(long, default_value_t = 1)]
    mask_epochs: usize,
    /// l1 push-pull: epochs training only weights per cycle.
    #[arg(long, default_value_t = 1)]
    weight_epochs: usize,
    /// l1: cross-layer score of a budget's final re-rank.
    #[arg(long, value_enum, default_value = "mask-norm")]
    score: ScoreArg,
    /// l1: unit-norm filters (scale moved into the mask).
    #[arg(long)]
    spherical: bool,
    /// l1: per-layer λ multipliers, comma-separated.
    #[arg(long, value_delimiter = ',')]
    layer_lambda: Vec<f64>,
    /// l0: temperature schedule.
    #[arg(long, value_enum, default_value = "paper")]
    temperature: TempArg,
    /// l0: initial log α.
    #[arg(long, default_value_t = 2.5)]
    log_alpha_init: f32,
    /// l0: log α is clamped to [−C, C] on the parameter after every step.
    #[arg(long, default_value_t = 4.0)]
    clamp: f32,
    /// scratch: widths from this keep plan (default: a uniform cut).
    #[arg(long)]
    plan: Option<PathBuf>,
    /// Compute backend.
    #[arg(long, default_value = "flex")]
    backend: String,
}

/// `65536`, `64k`/`64K` (KiB) or `1M` (MiB).
fn parse_size(s: &str) -> Result<u64, String> {
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'k' | 'K')) => (&s[..i], 1024),
        Some((i, 'm' | 'M')) => (&s[..i], 1024 * 1024),
        _ => (s, 1),
    };
    num.trim()
        .parse::<u64>()
        .map(|n| n * mult)
        .map_err(|e| format!("{s}: {e} (bytes, or e.g. 64k, 1M)"))
}

/// The chip budget of `--chip` and its limits, checked against the narrowest plan before
/// any training: an error names the chip and every shortfall.
fn chip_budget(a: &PruneArgs, spec: &whittle::graph::Graph) -> anyhow::Result<Option<Target>> {
    let Some(name) = &a.chip else {
        return Ok(None);
    };
    if a.target_macs.is_some()
        || a.target_params.is_some()
        || a.ratio.is_some()
        || a.k.is_some()
        || a.widths.is_some()
    {
        bail!(
            "--chip budgets (--target-latency-ms/--target-ram/--target-flash) replace --target-macs, --target-params, --ratio, --k and --widths"
        );
    }
    if matches!(
        a.method,
        MethodArg::L1 | MethodArg::L0 | MethodArg::Slimming
    ) {
        bail!(
            "--chip budgets need a scoring method (l1-norm, first-k, apoz): the learned methods' λ control works on MACs, params or weight bytes"
        );
    }
    let chip = whittle::firmware::chips::find(name)?;
    let b = ChipBudget {
        instructions: a
            .target_latency_ms
            .map_or(u64::MAX, |ms| chip.instructions_in(ms)),
        ram_bytes: a.target_ram.unwrap_or(chip.ram_bytes),
        flash_bytes: a.target_flash.unwrap_or(chip.flash_bytes),
    };
    let min = narrowest_chip_cost(spec, a.round_to)?;
    let short = min.shortfalls(&b);
    if !short.is_empty() {
        bail!(
            "{} cannot meet the budget on {} even at its narrowest plan ({} channels per group): {}{}",
            spec.name,
            chip.describe(),
            a.round_to,
            short.join(", "),
            if min.budgeted_instructions() > b.instructions {
                format!(
                    "; {:.2} ms > {:.2} ms at {} MHz",
                    chip.ms(min.budgeted_instructions()),
                    chip.ms(b.instructions),
                    chip.clock_hz / 1_000_000
                )
            } else {
                String::new()
            }
        );
    }
    let full = ChipCost::of(spec)?;
    eprintln!(
        "budget on {}: {} instructions ({} ms at {:.1} cycles per instruction, assumed), {} B RAM, {} B flash; the base net needs {} instructions ({:.2} ms), {} B RAM, {} B flash",
        chip.name,
        b.instructions,
        a.target_latency_ms
            .map_or("-".to_string(), |m| m.to_string()),
        chip.core.cycles_per_instruction(),
        b.ram_bytes,
        b.flash_bytes,
        full.instructions,
        chip.ms(full.instructions),
        full.ram_bytes,
        full.flash_bytes
    );
    Ok(Some(Target::Chip(b)))
}

fn amount(a: &PruneArgs) -> Amount {
    if let Some(v) = a.target_macs {
        Amount::Target(Target::Macs(v))
    } else if let Some(v) = a.target_params {
        Amount::Target(Target::Params(v))
    } else if let Some(v) = a.target_flash {
        Amount::Target(Target::Flash(v))
    } else if let Some(r) = a.ratio {
        Amount::Ratio(r)
    } else if let Some(k) = a.k {
        Amount::PerLayer(k)
    } else if let Some(w) = &a.widths {
        Amount::Widths(w.clone())
    } else {
        Amount::Learned
    }
}

/// Run `whittle prune`.
pub fn run(a: PruneArgs) -> anyhow::Result<()> {
    let device = whittle::device::device(&a.backend)?;
    let spec = RunDir::new(&a.from)
        .spec()
        .with_context(|| format!("reading the base run {}", a.from.display()))?;
    let amount = match chip_budget(&a, &spec)? {
        Some(t) => Amount::Target(t),
        None => amount(&a),
    };
    let target = match &amount {
        &Amount::Target(t) => Some(t),
        _ => None,
    };
    let learned = matches!(
        a.method,
        MethodArg::L1 | MethodArg::L0 | MethodArg::Slimming
    );
    if learned && a.lambda.is_none() && target.is_none() {
        bail!("--method {:?} needs --lambda or a --target-*", a.method);
    }
    if !learned && amount == Amount::Learned && a.plan.is_none() {
        bail!(
            "--method {:?} needs --target-*, --ratio, --k or --widths",
            a.method
        );
    }
    let control = Control {
        every: a.control_every,
        factor: a.lambda_factor,
        ramp_steps: a.ramp_steps,
        ..Control::default()
    };
    let adam_lr = a.mask_lr.unwrap_or(LearnConfig::default().mask_lr);
    let mut method: Box<dyn PruneMethod> = match a.method {
        MethodArg::L1 => Box::new(L1::new(
            &spec,
            L1Config {
                lambda: a.lambda.unwrap_or(1e-3),
                layer_lambda: a.layer_lambda.clone(),
                threshold: a.threshold,
                snap: (a.snap > 0.0).then_some(a.snap),
                push_pull: (a.mask_epochs > 0).then_some(PushPull {
                    mask_epochs: a.mask_epochs,
                    weight_epochs: a.weight_epochs,
                }),
                spherical: a.spherical,
                epochs: a.epochs,
                target,
                control,
                score: match a.score {
                    ScoreArg::Mask => Score::Mask,
                    ScoreArg::MaskNorm => Score::MaskNorm,
                },
                optimizer: match a.mask_step {
                    MaskStepArg::ProxAdam => MaskOptimizer::ProximalAdam { lr: adam_lr },
                    MaskStepArg::ProxSgd => MaskOptimizer::ProximalSgd {
                        lr: a.mask_lr.unwrap_or(0.3),
                    },
                    MaskStepArg::Adam => MaskOptimizer::Adam,
                },
            },
        )),
        MethodArg::L0 => Box::new(L0::new(
            &spec,
            L0Config {
                lambda: a.lambda.unwrap_or(1e-3),
                log_alpha_init: a.log_alpha_init,
                temperature: match a.temperature {
                    TempArg::Paper => Temperature::paper(),
                    TempArg::Seed => Temperature::seed(a.epochs),
                },
                epochs: a.epochs,
                target,
                control,
                clamp: a.clamp,
            },
        )),
        MethodArg::FirstK => Box::new(FirstK),
        MethodArg::Apoz => Box::new(Apoz::default()),
        MethodArg::L1Norm => Box::new(L1Norm),
        MethodArg::Slimming => Box::new(Slimming::new(
            &spec,
            SlimmingConfig {
                lambda: a.lambda.unwrap_or(1e-4),
                epochs: a.epochs,
                ..SlimmingConfig::default()
            },
        )),
        MethodArg::Scratch => Box::new(Scratch {
            plan: match &a.plan {
                Some(p) => Some(KeepPlan::load(p)?),
                None => None,
            },
        }),
    };
    let opts = PruneOptions {
        amount,
        round_to: a.round_to,
        finetune_epochs: a.finetune_epochs,
        limit: a.limit,
        data_dir: Some(super::data::run_data_dir(a.data.as_deref(), &a.from)?),
        learn: LearnConfig {
            batch_size: a.batch,
            lr: a.lr,
            mask_lr: adam_lr,
            l1: a.learn_l1,
            l2: a.learn_l2,
            seed: a.seed,
            ..LearnConfig::default()
        },
        finetune_lr: a.finetune_lr.unwrap_or(a.lr),
        finetune_schedule: a.schedule,
        finetune_augment: a.augment,
        scratch_epochs: a.epochs + a.finetune_epochs,
        finetune_distill: (a.distill || a.teacher.is_some()).then(|| Distill {
            teacher: a.teacher.clone().unwrap_or_else(|| a.from.clone()),
            temperature: a.distill_temperature,
            alpha: a.distill_alpha,
        }),
    };
    eprintln!(
        "pruning {} ({}) with {} into {}",
        a.from.display(),
        spec.name,
        method.name(),
        a.out.display()
    );
    let summary = prune_run(
        &a.from,
        &a.out,
        method.as_mut(),
        &opts,
        &device,
        &mut |e| {
            for r in &e.reports {
                eprintln!("  {}", report_line(r));
            }
            eprintln!(
                "learn {} ({}{}{}): loss {:.4} penalty {:.4} val {:.2}% | λ {:.3e} live {:?} MACs {:.0}{} | {:.0} s",
                e.epoch,
                if e.trained.weights { "W" } else { "" },
                if e.trained.masks { "M" } else { "" },
                if e.trained.gates { "G" } else { "" },
                e.train_loss,
                e.penalty,
                100.0 * e.val_acc,
                e.method.lambda,
                e.method.live,
                e.method.expected_macs,
                e.method
                    .expected_cost
                    .map(|c| format!(" cost {c:.0}"))
                    .unwrap_or_default(),
                e.seconds
            );
        },
        &mut |r| {
            eprintln!(
                "finetune {}: train loss {:.4} acc {:.2}% | val {:.2}% | {:.0} s",
                r.epoch,
                r.train_loss,
                100.0 * r.train_acc,
                100.0 * r.val_acc,
                r.train_seconds
            );
        },
    )?;
    if summary.softmax_dropped {
        eprintln!(
            "the base's output Softmax was dropped: the pruned run outputs logits (same argmax)"
        );
    }
    if let Some(l) = &summary.learned {
        eprintln!(
            "learned plan alone: widths {:?}, {} MACs{}; the final plan dropped {} more live channels and restored {}",
            l.widths,
            l.macs,
            match (l.cost, l.off_target) {
                (Some((c, t)), Some(off)) =>
                    format!(", cost {c} for a budget of {t} ({:+.1}%)", 100.0 * off),
                _ => String::new(),
            },
            l.reranked_dropped,
            l.reranked_restored
        );
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&SummaryLine::from(&summary))?
    );
    Ok(())
}

/// One line of a learning report: step, λ, live cost and channels, snapped/closed.
fn report_line(r: &whittle::prune::MethodLog) -> String {
    format!(
        "step {}: λ {:.3e} (applied {:.3e}) live {:?} MACs {:.0}{} snapped {} closed {}",
        r.step,
        r.lambda,
        r.lambda_effective,
        r.live,
        r.expected_macs,
        r.expected_cost
            .map(|c| format!(" cost {c:.0}"))
            .unwrap_or_default(),
        r.snapped,
        r.closed
    )
}

#[derive(serde::Serialize)]
struct SummaryLine {
    method: String,
    widths_before: Vec<usize>,
    widths_after: Vec<usize>,
    macs: (u64, u64),
    params: (u64, u64),
    flash: (u64, u64),
    base_val_acc: f64,
    pruned_val_acc: f64,
    final_val_acc: f64,
    check_max_abs_diff: Option<f32>,
    learned: Option<whittle::prune::LearnedPlan>,
}

impl From<&whittle::prune::PruneSummary> for SummaryLine {
    fn from(s: &whittle::prune::PruneSummary) -> Self {
        Self {
            method: s.method.clone(),
            widths_before: s.widths_before.clone(),
            widths_after: s.widths_after.clone(),
            macs: s.macs,
            params: s.params,
            flash: s.flash,
            base_val_acc: s.base_val_acc,
            pruned_val_acc: s.pruned_val_acc,
            final_val_acc: s.final_val_acc,
            check_max_abs_diff: s.check.map(|c| c.max_abs_diff),
            learned: s.learned.clone(),
        }
    }
}
