//! The experiment config (JSON): base run, data, budget currency, fractions of weights
//! removed, methods, seeds, epochs; validated before any training, each error naming its
//! field; and the numbered list of points it expands to.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::ExperimentError;
use crate::data::{self, DatasetKind};
use crate::prune::{MaskOptimizer, Target};
use crate::train::RunDir;

/// Methods an experiment can run.
pub const METHODS: [&str; 6] = ["l1", "l0", "l1-rank", "first-k", "apoz", "scratch"];

/// The budget's currency (the chart's x axis is always % of weights removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Currency {
    /// Weights and biases.
    #[default]
    Params,
    /// MACs per image.
    Macs,
    /// int8 weight bytes.
    Flash,
}

impl Currency {
    /// A target keeping `keep` of `full`.
    pub fn target(self, full: u64, keep: f64) -> Target {
        let v = (full as f64 * keep).floor() as u64;
        match self {
            Self::Params => Target::Params(v),
            Self::Macs => Target::Macs(v),
            Self::Flash => Target::Flash(v),
        }
    }
}

fn one() -> usize {
    1
}
fn default_test_images() -> usize {
    10_000
}
fn default_firmware_images() -> usize {
    4
}

/// An experiment (`whittle experiment CONFIG`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The trained base run (relative paths are relative to the config file).
    pub base: PathBuf,
    /// Directory holding `cifar-10-batches-bin/` (default: `WHITTLE_DATA`).
    #[serde(default)]
    pub data: Option<PathBuf>,
    /// Where the points and results go (default: beside the config, its file stem).
    #[serde(default)]
    pub out: Option<PathBuf>,
    /// What the budget limits.
    #[serde(default)]
    pub budget: Currency,
    /// Fractions of the base's cost (in `budget`'s currency) to remove, one point each.
    pub removed: Vec<f64>,
    /// Methods: l1, l0, l1-rank (l1's ranking of the base masks, no learning), first-k,
    /// apoz, scratch (first-k's widths from a fresh init, base + learn + fine-tune epochs).
    pub methods: Vec<String>,
    /// Seeds of every point.
    pub seeds: Vec<u64>,
    /// Extra seeds at one budget (mean and spread there): `[removed, [seeds…]]`.
    #[serde(default)]
    pub repeat: Option<(f64, Vec<u64>)>,
    /// Training images used (None: the base run's split).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Mask/gate learning epochs of l1 and l0.
    pub learn_epochs: usize,
    /// Fine-tuning epochs of every pruned point.
    pub finetune_epochs: usize,
    /// Kept counts are multiples of this.
    #[serde(default = "one")]
    pub round_to: usize,
    /// Test images scored per point (int8, the firmware's kernels).
    #[serde(default = "default_test_images")]
    pub test_images: usize,
    /// Images run in QEMU per point.
    #[serde(default = "default_firmware_images")]
    pub firmware_images: usize,
    /// How l1's masks step (default: l1's own, the penalty's proximal step after Adam).
    #[serde(default)]
    pub l1_optimizer: Option<MaskOptimizer>,
}

/// One point of the sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointSpec {
    /// Index (`--point K`); 0 is the unpruned base.
    pub index: usize,
    /// `base`, or one of [`METHODS`].
    pub method: String,
    /// Fraction of the budget's currency removed (0 for the base).
    pub removed: f64,
    /// Seed.
    pub seed: u64,
}

impl PointSpec {
    /// Directory name: `007-l1-r50-s1`.
    pub fn name(&self) -> String {
        format!(
            "{:03}-{}-r{}-s{}",
            self.index,
            self.method,
            (self.removed * 100.0).round(),
            self.seed
        )
    }
}

/// A loaded, validated config with its paths resolved.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The config.
    pub config: Config,
    /// The config file.
    pub path: PathBuf,
    /// Base run directory.
    pub base: PathBuf,
    /// Data directory.
    pub data: PathBuf,
    /// Output directory.
    pub out: PathBuf,
}

impl Config {
    /// The points: the base (0), then per method, per fraction, per seed (plus the
    /// repeat seeds at their fraction).
    pub fn points(&self) -> Vec<PointSpec> {
        let mut v = vec![PointSpec {
            index: 0,
            method: "base".into(),
            removed: 0.0,
            seed: self.seeds.first().copied().unwrap_or(1),
        }];
        for m in &self.methods {
            for &r in &self.removed {
                let mut seeds = self.seeds.clone();
                if let Some((at, extra)) = &self.repeat
                    && (at - r).abs() < 1e-9
                {
                    seeds.extend(extra.iter().filter(|s| !self.seeds.contains(s)));
                }
                for s in seeds {
                    v.push(PointSpec {
                        index: v.len(),
                        method: m.clone(),
                        removed: r,
                        seed: s,
                    });
                }
            }
        }
        v
    }
}

/// Reads and validates `path` (before any training): unknown fields and methods, an
/// impossible budget, a missing base run or data set fail here, naming the field.
/// `data` and `out` override the file's.
pub fn load(
    path: &Path,
    data: Option<PathBuf>,
    out: Option<PathBuf>,
) -> Result<Loaded, ExperimentError> {
    let bad = |field: &str, what: String| ExperimentError::Config {
        path: path.display().to_string(),
        field: field.into(),
        what,
    };
    let bytes = std::fs::read(path).map_err(|source| ExperimentError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let config: Config = serde_json::from_slice(&bytes).map_err(|e| {
        // serde names unknown and missing fields itself; say which line.
        bad("(file)", e.to_string())
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let resolve = |p: &Path| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            dir.join(p)
        }
    };
    for (i, m) in config.methods.iter().enumerate() {
        if !METHODS.contains(&m.as_str()) {
            return Err(bad(
                &format!("methods[{i}]"),
                format!("unknown method `{m}` (known: {})", METHODS.join(", ")),
            ));
        }
    }
    if config.methods.is_empty() {
        return Err(bad("methods", "no methods".into()));
    }
    if config.seeds.is_empty() {
        return Err(bad("seeds", "no seeds".into()));
    }
    if config.removed.is_empty() {
        return Err(bad("removed", "no budgets".into()));
    }
    let base = resolve(&config.base);
    let spec = RunDir::new(&base).spec().map_err(|e| {
        bad(
            "base",
            format!("{} is not a trained run: {e}", base.display()),
        )
    })?;
    if !RunDir::new(&base)
        .weights_path(crate::train::Weights::Final)
        .exists()
    {
        return Err(bad("base", format!("{} has no model.bpk", base.display())));
    }
    let full = Currency::target(config.budget, 0, 1.0);
    let cost = full.cost(&spec).map_err(|e| bad("base", e.to_string()))?;
    let widths = spec
        .groups()
        .map_err(|e| bad("base", e.to_string()))?
        .widths();
    let r = config.round_to.max(1);
    let min_w: Vec<usize> = widths.iter().map(|&w| r.min(w)).collect();
    let min = full
        .cost_of(&spec, &min_w)
        .map_err(|e| bad("base", e.to_string()))?;
    let check_r = |field: String, v: f64| -> Result<(), ExperimentError> {
        if v.is_nan() || v <= 0.0 || v >= 1.0 {
            return Err(bad(&field, format!("{v} is not a fraction in (0, 1)")));
        }
        let t = config.budget.target(cost, 1.0 - v).value();
        if t < min {
            return Err(bad(
                &field,
                format!(
                    "removing {:.0}% leaves {t} {}, but the smallest net allowed (round_to {r}) costs {min}",
                    100.0 * v,
                    full.unit()
                ),
            ));
        }
        Ok(())
    };
    for (i, &v) in config.removed.iter().enumerate() {
        check_r(format!("removed[{i}]"), v)?;
    }
    if let Some((at, _)) = &config.repeat {
        check_r("repeat[0]".into(), *at)?;
        if !config.removed.iter().any(|r| (r - at).abs() < 1e-9) {
            return Err(bad("repeat[0]", format!("{at} is not one of `removed`")));
        }
    }
    let data = match data
        .or(config.data.as_ref().map(|d| resolve(d)))
        .or_else(|| std::env::var_os("WHITTLE_DATA").map(PathBuf::from))
    {
        Some(d) => d,
        None => return Err(bad("data", "not set (nor WHITTLE_DATA)".into())),
    };
    if !data::locate(&data, DatasetKind::Cifar10).exists() {
        return Err(bad("data", format!("no CIFAR-10 under {}", data.display())));
    }
    let out = out
        .or(config.out.as_ref().map(|o| resolve(o)))
        .unwrap_or_else(|| {
            dir.join(
                path.file_stem()
                    .map(|s| s.to_os_string())
                    .unwrap_or_else(|| "experiment".into()),
            )
        });
    Ok(Loaded {
        config,
        path: path.to_path_buf(),
        base,
        data,
        out,
    })
}
