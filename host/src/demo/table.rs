//! One row per model of the demo — what it is, what it costs on the chip, how accurate it
//! is — printed as a table and written as JSON (the keys of `whittle run` plus the demo's).

use serde::Serialize;

use crate::firmware::builder::human;
use crate::firmware::pipeline::RunReport;

/// One model of the demo.
#[derive(Debug, Clone, Serialize)]
pub struct DemoRow {
    /// "base", "l1", "l0".
    pub method: String,
    /// The budget it was pruned to ("-" for the base).
    pub target: String,
    /// Kept width of every prunable layer.
    pub channels: Vec<usize>,
    /// % of the base model's weights removed.
    pub weights_removed_pct: f64,
    /// % of the base model's MACs removed.
    pub macs_removed_pct: f64,
    /// int8 accuracy on the test images, host simulation with the firmware's kernels.
    pub test_accuracy_int8: f64,
    /// f32 accuracy of the exported float model on the first `test_images_f32` images.
    pub test_accuracy_f32: f64,
    /// Test images scored on the host (int8).
    pub test_images: usize,
    /// Test images the f32 accuracy is measured on.
    pub test_images_f32: usize,
    /// Base instructions ÷ this model's instructions.
    pub speedup: f64,
    /// `speedup` ÷ (base MACs ÷ this model's MACs): 1.0 = every MAC saved is time saved.
    pub speedup_over_mac_ratio: f64,
    /// arena + scratch + peak stack: the RAM inference needs.
    pub ram_bytes: u64,
    /// Wall seconds of pruning + fine-tuning (0 for the base).
    pub train_seconds: f64,
    /// Everything `whittle run` reports for this model.
    #[serde(flatten)]
    pub run: RunReport,
}

impl DemoRow {
    /// Fills the ratios against `base` (the unpruned model's row).
    pub fn compare_with(&mut self, base_params: u64, base_macs: u64, base_instructions: u64) {
        let pct = |now: u64, was: u64| 100.0 * (1.0 - now as f64 / was.max(1) as f64);
        self.weights_removed_pct = pct(self.run.params, base_params);
        self.macs_removed_pct = pct(self.run.macs, base_macs);
        self.speedup = base_instructions as f64 / self.run.instructions_per_inference.max(1) as f64;
        let mac_ratio = base_macs as f64 / self.run.macs.max(1) as f64;
        self.speedup_over_mac_ratio = self.speedup / mac_ratio;
    }
}

/// Fills every row's ratios against the first row (the unpruned model).
pub fn compare_all(rows: &mut [DemoRow]) {
    let Some(base) = rows.first() else {
        return;
    };
    let (bp, bm, bi) = (
        base.run.params,
        base.run.macs,
        base.run.instructions_per_inference,
    );
    for r in rows {
        r.compare_with(bp, bm, bi);
    }
}

/// The demo's table as text.
pub fn render(rows: &[DemoRow]) -> String {
    let header = [
        "method",
        "target",
        "channels",
        "params",
        "MACs",
        "flash",
        "RAM",
        "instr/inf",
        "speedup",
        "spd/MACr",
        "int8 test",
        "f32 test",
        "firmware",
    ];
    let mut cells: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for r in rows {
        cells.push(vec![
            r.method.clone(),
            r.target.clone(),
            r.channels
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join("-"),
            format!("{} (-{:.0}%)", r.run.params, r.weights_removed_pct),
            format!(
                "{:.2}M (-{:.0}%)",
                r.run.macs as f64 / 1e6,
                r.macs_removed_pct
            ),
            human(r.run.flash_bytes),
            human(r.ram_bytes),
            format!("{:.2}M", r.run.instructions_per_inference as f64 / 1e6),
            format!("{:.2}x", r.speedup),
            format!("{:.2}", r.speedup_over_mac_ratio),
            format!("{:.2}%", 100.0 * r.test_accuracy_int8),
            format!("{:.2}%", 100.0 * r.test_accuracy_f32),
            format!("{}/{}", r.run.correct, r.run.images),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            cells
                .iter()
                .map(|row| row[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (i, row) in cells.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (s, w))| {
                if c < 3 {
                    format!("{s:<w$}")
                } else {
                    format!("{s:>w$}")
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
            out.push('\n');
        }
    }
    out
}
