//! Running a whole sweep (every unfinished point in order) and collecting the finished
//! points into `results.json`, `results.csv` (one row per point) and `chart.svg`, with
//! mean and spread per method and budget.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::chart::{self, Series};
use super::config::Loaded;
use super::error::ExperimentError;
use super::point::{PointResult, finished, run_point};

/// Mean and spread of one method at one budget over its seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Method.
    pub method: String,
    /// Fraction removed (the config's).
    pub removed: f64,
    /// Seeds finished.
    pub seeds: usize,
    /// Mean % of weights removed.
    pub weights_removed_pct: f64,
    /// Mean, min, max int8 test accuracy.
    pub test_acc_int8: (f64, f64, f64),
    /// Mean, min, max validation accuracy.
    pub val_acc: (f64, f64, f64),
    /// Mean instructions per inference.
    pub instructions: f64,
}

/// What `results.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Points in the config.
    pub points: usize,
    /// Finished points, by index.
    pub results: Vec<PointResult>,
    /// Per method and budget.
    pub summary: Vec<Summary>,
}

fn stats(v: &[f64]) -> (f64, f64, f64) {
    let n = v.len().max(1) as f64;
    (
        v.iter().sum::<f64>() / n,
        v.iter().copied().fold(f64::INFINITY, f64::min),
        v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    )
}

/// Runs every unfinished point in index order (finished ones are skipped, interrupted
/// ones redone), then writes the report. `on_point` sees each point as it ends.
pub fn run_all(
    l: &Loaded,
    on_point: &mut dyn FnMut(&PointResult, bool),
) -> Result<Report, ExperimentError> {
    for p in l.config.points() {
        let done = finished(l, &p).is_some();
        let r = run_point(l, p.index)?;
        on_point(&r, done);
    }
    report(l)
}

/// Collects the finished points into `results.json`, `results.csv` and `chart.svg`
/// under the output directory.
pub fn report(l: &Loaded) -> Result<Report, ExperimentError> {
    let points = l.config.points();
    let results: Vec<PointResult> = points.iter().filter_map(|p| finished(l, p)).collect();
    let mut summary: Vec<Summary> = Vec::new();
    for r in &results {
        if summary
            .iter()
            .any(|s| s.method == r.point.method && (s.removed - r.point.removed).abs() < 1e-9)
        {
            continue;
        }
        let same: Vec<&PointResult> = results
            .iter()
            .filter(|x| {
                x.point.method == r.point.method && (x.point.removed - r.point.removed).abs() < 1e-9
            })
            .collect();
        let f = |g: &dyn Fn(&PointResult) -> f64| same.iter().map(|x| g(x)).collect::<Vec<f64>>();
        summary.push(Summary {
            method: r.point.method.clone(),
            removed: r.point.removed,
            seeds: same.len(),
            weights_removed_pct: stats(&f(&|x| x.weights_removed_pct)).0,
            test_acc_int8: stats(&f(&|x| x.test_acc_int8)),
            val_acc: stats(&f(&|x| x.val_acc)),
            instructions: stats(&f(&|x| x.instructions as f64)).0,
        });
    }
    let rep = Report {
        points: points.len(),
        results,
        summary,
    };
    std::fs::create_dir_all(&l.out).map_err(|source| ExperimentError::Io {
        path: l.out.clone(),
        source,
    })?;
    let write = |name: &str, bytes: &[u8]| -> Result<(), ExperimentError> {
        let path = l.out.join(name);
        std::fs::write(&path, bytes).map_err(|source| ExperimentError::Io { path, source })
    };
    let json = serde_json::to_vec_pretty(&rep).map_err(|source| ExperimentError::Json {
        path: l.out.join("results.json"),
        source,
    })?;
    write("results.json", &json)?;
    write("results.csv", csv(&rep).as_bytes())?;
    write("chart.svg", svg(&rep).as_bytes())?;
    Ok(rep)
}

/// One CSV row per finished point.
pub fn csv(r: &Report) -> String {
    let mut s = String::from(
        "index,method,removed,seed,widths,params,macs,weights_removed_pct,val_acc,cut_val_acc,test_acc_int8,test_acc_f32,test_images,instructions,flash_bytes,ram_bytes,learned_off_target,seconds\n",
    );
    for x in &r.results {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{:.2},{:.4},{},{:.4},{:.4},{},{},{},{},{},{:.0}",
            x.point.index,
            x.point.method,
            x.point.removed,
            x.point.seed,
            x.widths
                .iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            x.params,
            x.macs,
            x.weights_removed_pct,
            x.val_acc,
            x.cut_val_acc.map(|v| format!("{v:.4}")).unwrap_or_default(),
            x.test_acc_int8,
            x.test_acc_f32,
            x.test_images,
            x.instructions,
            x.flash_bytes,
            x.ram_bytes,
            x.learned
                .as_ref()
                .and_then(|l| l.off_target)
                .map(|o| format!("{o:.4}"))
                .unwrap_or_default(),
            x.seconds
        );
    }
    s
}

/// The chart: the base as a band, a line per method (mean over seeds, a bar for the
/// spread), scratch as points; instructions in a second panel.
pub fn svg(r: &Report) -> String {
    let mut series: Vec<Series> = Vec::new();
    for s in &r.summary {
        let i = match series.iter().position(|x| x.method == s.method) {
            Some(i) => i,
            None => {
                series.push(Series {
                    method: s.method.clone(),
                    points: Vec::new(),
                });
                series.len() - 1
            }
        };
        series[i].points.push(chart::Pt {
            x: s.weights_removed_pct,
            acc: 100.0 * s.test_acc_int8.0,
            lo: 100.0 * s.test_acc_int8.1,
            hi: 100.0 * s.test_acc_int8.2,
            instructions: s.instructions,
        });
    }
    for s in &mut series {
        s.points.sort_by(|a, b| a.x.total_cmp(&b.x));
    }
    chart::svg(&series)
}
