//! `whittle check`'s verdict: a new run's report against a baseline report of the same images
//! on the same target. Instructions, flash, RAM and stack may not grow; no class or output
//! checksum may change; the firmware must still agree with the host.

use std::fmt::Write as _;
use std::path::Path;

use super::pipeline::RunReport;

/// Why two reports cannot be compared, or a baseline not read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("reading the baseline {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a `whittle run --json` report: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("writing the baseline {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    /// The runs differ in what they ran on or with: comparing them would mean nothing.
    #[error(
        "the baseline was recorded with {what} {baseline}, this run has {now}; record a new baseline with --update"
    )]
    Incomparable {
        what: &'static str,
        baseline: String,
        now: String,
    },
}

/// One measured size or count, before and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub what: &'static str,
    pub baseline: u64,
    pub now: u64,
}

impl Change {
    /// Larger than the baseline: a regression.
    pub fn grew(&self) -> bool {
        self.now > self.baseline
    }
    /// Signed change in percent of the baseline.
    pub fn percent(&self) -> f64 {
        if self.baseline == 0 {
            return if self.now == 0 { 0.0 } else { 100.0 };
        }
        (self.now as f64 / self.baseline as f64 - 1.0) * 100.0
    }
}

/// An image whose class or output checksum is not the baseline's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutputChange {
    pub index: u64,
    pub baseline_pred: u32,
    pub pred: u32,
    pub baseline_crc: String,
    pub crc: String,
}

/// What the comparison found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Verdict {
    /// Instructions per inference, flash, static RAM, stack peak.
    pub changes: Vec<Change>,
    pub outputs_changed: Vec<OutputChange>,
    /// Images where the firmware disagrees with the host simulation in this run.
    pub host_mismatches: usize,
}

impl Verdict {
    /// Nothing grew, no output changed, firmware equals host.
    pub fn passed(&self) -> bool {
        self.regressions().next().is_none()
            && self.outputs_changed.is_empty()
            && self.host_mismatches == 0
    }

    /// The figures that grew.
    pub fn regressions(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.grew())
    }

    /// A table of the figures, then every changed output (the first 20), then the verdict.
    pub fn render(&self) -> String {
        let mut s = String::new();
        // `write!` to a String cannot fail.
        let _ = writeln!(
            s,
            "{:<24} {:>12} {:>12} {:>9}",
            "", "baseline", "now", "change"
        );
        for c in &self.changes {
            let mark = match c.now.cmp(&c.baseline) {
                std::cmp::Ordering::Greater => "  GREW",
                std::cmp::Ordering::Less => "  fell",
                std::cmp::Ordering::Equal => "",
            };
            let _ = writeln!(
                s,
                "{:<24} {:>12} {:>12} {:>+8.2}%{mark}",
                c.what,
                c.baseline,
                c.now,
                c.percent()
            );
        }
        for o in self.outputs_changed.iter().take(20) {
            let _ = writeln!(
                s,
                "image {}: class {} crc {} -> class {} crc {}",
                o.index, o.baseline_pred, o.baseline_crc, o.pred, o.crc
            );
        }
        if self.outputs_changed.len() > 20 {
            let _ = writeln!(s, "... {} more", self.outputs_changed.len() - 20);
        }
        if self.host_mismatches > 0 {
            let _ = writeln!(
                s,
                "firmware and host simulation disagree on {} images",
                self.host_mismatches
            );
        }
        let _ = if self.passed() {
            let better = self.changes.iter().any(|c| c.now < c.baseline);
            writeln!(
                s,
                "check passed{}",
                if better {
                    " (smaller or faster: --update records it)"
                } else {
                    ""
                }
            )
        } else {
            let mut why: Vec<String> = self.regressions().map(|c| c.what.to_string()).collect();
            if !self.outputs_changed.is_empty() {
                why.push(format!("{} outputs", self.outputs_changed.len()));
            }
            if self.host_mismatches > 0 {
                why.push("firmware != host".into());
            }
            writeln!(s, "check FAILED: {}", why.join(", "))
        };
        s
    }
}

/// Compares `now` with `baseline`: both must be of the same machine, chip and images.
pub fn compare(baseline: &RunReport, now: &RunReport) -> Result<Verdict, CheckError> {
    let same = |what, b: String, n: String| {
        if b == n {
            Ok(())
        } else {
            Err(CheckError::Incomparable {
                what,
                baseline: b,
                now: n,
            })
        }
    };
    same(
        "machine",
        baseline.machine.to_string(),
        now.machine.to_string(),
    )?;
    same("chip", baseline.chip.clone(), now.chip.clone())?;
    same(
        "images",
        format!("{} {}", baseline.images, baseline.images_source),
        format!("{} {}", now.images, now.images_source),
    )?;
    same(
        "images of CRC",
        baseline.images_crc.clone(),
        now.images_crc.clone(),
    )?;
    let change = |what, baseline, now| Change {
        what,
        baseline,
        now,
    };
    let changes = vec![
        change(
            "instructions/inference",
            baseline.instructions_per_inference,
            now.instructions_per_inference,
        ),
        change("flash bytes", baseline.flash_bytes, now.flash_bytes),
        change(
            "static RAM bytes",
            baseline.static_ram_bytes,
            now.static_ram_bytes,
        ),
        change(
            "stack peak bytes",
            baseline.stack_peak_bytes,
            now.stack_peak_bytes,
        ),
    ];
    let outputs_changed = baseline
        .per_image
        .iter()
        .zip(&now.per_image)
        .filter(|(b, n)| b.pred != n.pred || b.crc != n.crc)
        .map(|(b, n)| OutputChange {
            index: n.index,
            baseline_pred: b.pred,
            pred: n.pred,
            baseline_crc: b.crc.clone(),
            crc: n.crc.clone(),
        })
        .collect();
    Ok(Verdict {
        changes,
        outputs_changed,
        host_mismatches: now.mismatches,
    })
}

/// Reads a baseline (`whittle run --json` output).
pub fn read_baseline(path: &Path) -> Result<RunReport, CheckError> {
    let p = || path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|source| CheckError::Read { path: p(), source })?;
    serde_json::from_str(&text).map_err(|source| CheckError::Parse { path: p(), source })
}

/// Writes `report` as the baseline at `path`.
pub fn write_baseline(path: &Path, report: &RunReport) -> Result<(), CheckError> {
    let p = || path.display().to_string();
    let text = serde_json::to_string_pretty(report)
        .map_err(|source| CheckError::Parse { path: p(), source })?;
    std::fs::write(path, text + "\n").map_err(|source| CheckError::Write { path: p(), source })
}
