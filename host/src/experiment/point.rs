//! One point of a sweep in its own run directory: prune (or measure the base), export int8,
//! score on the test set once, run in QEMU, and write `result.json` last — a point with a
//! `result.json` is done; one without is redone from scratch.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::config::{Loaded, PointSpec};
use super::error::ExperimentError;
use crate::demo::{self, DemoOptions};
use crate::prune::apoz::Apoz;
use crate::prune::first_k::FirstK;
use crate::prune::l0::{L0, L0Config};
use crate::prune::l1::{L1, L1Config};
use crate::prune::learn::LearnConfig;
use crate::prune::pipeline::load_data;
use crate::prune::scratch::Scratch;
use crate::prune::{Amount, LearnedPlan, PruneMethod, PruneOptions, Target, prune_run};
use crate::train::{RunDir, Weights, evaluate};

/// What one point measured (`result.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointResult {
    /// The point.
    pub point: PointSpec,
    /// Its directory name.
    pub name: String,
    /// The budget (None for the base).
    pub target: Option<Target>,
    /// Widths of the prunable groups.
    pub widths: Vec<usize>,
    /// Weights and biases.
    pub params: u64,
    /// MACs per image.
    pub macs: u64,
    /// % of the base's weights removed.
    pub weights_removed_pct: f64,
    /// Validation accuracy of the final model (model selection uses this only).
    pub val_acc: f64,
    /// Validation accuracy right after the cut (before fine-tuning).
    pub cut_val_acc: Option<f64>,
    /// int8 test accuracy (the firmware's kernels on the host), measured once.
    pub test_acc_int8: f64,
    /// f32 test accuracy (on a prefix of the test set).
    pub test_acc_f32: f64,
    /// Test images scored.
    pub test_images: usize,
    /// Instructions per inference on the Cortex-M in QEMU.
    pub instructions: u64,
    /// Firmware flash bytes.
    pub flash_bytes: u64,
    /// Model RAM + stack peak bytes.
    pub ram_bytes: u64,
    /// What learning alone decided (l1, l0).
    pub learned: Option<LearnedPlan>,
    /// Wall time of the point, seconds.
    pub seconds: f64,
}

fn point_err(
    p: &PointSpec,
) -> impl Fn(Box<dyn std::error::Error + Send + Sync>) -> ExperimentError + '_ {
    move |source| ExperimentError::Point {
        index: p.index,
        name: p.name(),
        source,
    }
}

/// The directory of point `p`.
pub fn point_dir(l: &Loaded, p: &PointSpec) -> PathBuf {
    l.out.join("points").join(p.name())
}

/// The result of a finished point, if any.
pub fn finished(l: &Loaded, p: &PointSpec) -> Option<PointResult> {
    let bytes = std::fs::read(point_dir(l, p).join("result.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn method_for(
    l: &Loaded,
    p: &PointSpec,
    target: Target,
) -> Result<Box<dyn PruneMethod>, ExperimentError> {
    let spec = RunDir::new(&l.base)
        .spec()
        .map_err(|e| point_err(p)(Box::new(e)))?;
    let c = &l.config;
    Ok(match p.method.as_str() {
        "l1" => Box::new(L1::new(
            &spec,
            L1Config {
                epochs: c.learn_epochs,
                target: Some(target),
                optimizer: c.l1_optimizer.unwrap_or(L1Config::default().optimizer),
                ..L1Config::default()
            },
        )),
        "l1-rank" => Box::new(L1::new(
            &spec,
            L1Config {
                epochs: 0,
                target: Some(target),
                ..L1Config::default()
            },
        )),
        "l0" => Box::new(L0::new(
            &spec,
            L0Config {
                epochs: c.learn_epochs,
                target: Some(target),
                ..L0Config::default()
            },
        )),
        "first-k" => Box::new(FirstK),
        "apoz" => Box::new(Apoz::default()),
        "scratch" => Box::new(Scratch { plan: None }),
        other => {
            return Err(ExperimentError::Config {
                path: l.path.display().to_string(),
                field: "methods".into(),
                what: format!("unknown method `{other}`"),
            });
        }
    })
}

/// Runs point `index` of `l` unless it is finished; returns its result.
pub fn run_point(l: &Loaded, index: usize) -> Result<PointResult, ExperimentError> {
    let points = l.config.points();
    let p = points.get(index).ok_or(ExperimentError::NoPoint {
        index,
        count: points.len(),
    })?;
    if let Some(r) = finished(l, p) {
        return Ok(r);
    }
    let started = Instant::now();
    let dir = point_dir(l, p);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExperimentError::Io { path, source }
    };
    if dir.exists() {
        // An interrupted point: start it again.
        std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
    }
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let write = |name: &str, v: &dyn erased::Json| -> Result<(), ExperimentError> {
        let path = dir.join(name);
        std::fs::write(&path, v.json()).map_err(io(&path))
    };
    write("point.json", p)?;
    let perr = point_err(p);
    let c = &l.config;
    let spec = RunDir::new(&l.base).spec().map_err(|e| perr(Box::new(e)))?;
    let full = super::config::Currency::target(c.budget, 0, 1.0)
        .cost(&spec)
        .map_err(|e| perr(Box::new(e)))?;
    let base_weights = spec.num_weights().map_err(|e| perr(Box::new(e)))?;
    let mut dopts = DemoOptions::new(l.data.clone(), l.base.clone(), dir.clone(), false);
    dopts.firmware_images = c.firmware_images;
    dopts.test_images = c.test_images;
    dopts.limit = c.limit;
    let test = demo::test_set(&dopts, spec.input_range).map_err(|e| perr(Box::new(e)))?;
    let device = crate::device::device("flex").map_err(|e| perr(Box::new(e)))?;
    let (run, target, val_acc, cut_val_acc, learned) = if p.method == "base" {
        let popts = PruneOptions {
            limit: c.limit,
            data_dir: Some(l.data.clone()),
            ..PruneOptions::default()
        };
        let base = RunDir::new(&l.base);
        let (bconf, splits) = load_data(&base, &popts).map_err(|e| perr(Box::new(e)))?;
        let (_, net) = base
            .load_model(Weights::Final, &device)
            .map_err(|e| perr(Box::new(e)))?;
        let acc = evaluate(&net, &splits.val, bconf.eval_batch_size, &device).accuracy;
        (l.base.clone(), None, acc, None, None)
    } else {
        let target = c.budget.target(full, 1.0 - p.removed);
        let mut method = method_for(l, p, target)?;
        let base_epochs = RunDir::new(&l.base)
            .config()
            .map_err(|e| perr(Box::new(e)))?
            .epochs;
        let popts = PruneOptions {
            amount: Amount::Target(target),
            round_to: c.round_to,
            finetune_epochs: c.finetune_epochs,
            limit: c.limit,
            data_dir: Some(l.data.clone()),
            learn: LearnConfig {
                seed: p.seed,
                ..LearnConfig::default()
            },
            // Scratch gets what the pruned nets had in all: base + learning + fine-tuning.
            scratch_epochs: base_epochs + c.learn_epochs + c.finetune_epochs,
            ..PruneOptions::default()
        };
        let run = dir.join("run");
        let s = prune_run(
            &l.base,
            &run,
            method.as_mut(),
            &popts,
            &device,
            &mut |_| {},
            &mut |_| {},
        )
        .map_err(|e| perr(Box::new(e)))?;
        let cut = (!method.trains_from_scratch()).then_some(s.pruned_val_acc);
        (run, Some(target), s.final_val_acc, cut, s.learned)
    };
    let row = demo::measure("model", &run, &p.method, String::new(), &test, &dopts)
        .map_err(|e| perr(Box::new(e)))?;
    let pspec = RunDir::new(&run).spec().map_err(|e| perr(Box::new(e)))?;
    let params = pspec.num_weights().map_err(|e| perr(Box::new(e)))?;
    let result = PointResult {
        point: p.clone(),
        name: p.name(),
        target,
        widths: pspec.groups().map_err(|e| perr(Box::new(e)))?.widths(),
        params,
        macs: pspec.macs().map_err(|e| perr(Box::new(e)))?,
        weights_removed_pct: 100.0 * (1.0 - params as f64 / base_weights.max(1) as f64),
        val_acc,
        cut_val_acc,
        test_acc_int8: row.test_accuracy_int8,
        test_acc_f32: row.test_accuracy_f32,
        test_images: row.test_images,
        instructions: row.run.instructions_per_inference,
        flash_bytes: row.run.flash_bytes,
        ram_bytes: row.ram_bytes,
        learned,
        seconds: started.elapsed().as_secs_f64(),
    };
    // Written last, atomically: its presence marks the point done.
    let tmp = dir.join("result.json.tmp");
    std::fs::write(&tmp, result.json()).map_err(io(&tmp))?;
    let fin = dir.join("result.json");
    std::fs::rename(&tmp, &fin).map_err(io(&fin))?;
    Ok(result)
}

mod erased {
    /// Pretty JSON of anything serializable (serialization of these plain types cannot fail).
    pub trait Json {
        fn json(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> Vec<u8> {
            serde_json::to_vec_pretty(self).unwrap_or_default()
        }
    }
}
use erased::Json as _;
