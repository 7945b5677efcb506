//! `whittle inspect MODEL.whittle [--json]`: validate a blob and print its layers (shapes,
//! params, MACs, weight bytes, predicted instructions) and totals (flash, arena, RAM).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;

use whittle::export::{ExportError, ModelSummary, summarize, with_model};
use whittle_shared::cost::instructions;
use whittle_shared::encode::AlignedBytes;
use whittle_shared::{Model, Precision};

/// Arguments of `whittle inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The blob (`.whittle`).
    model: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// Validates the blob `bytes` (read from `path`) and summarizes it.
fn summary(path: &Path, bytes: &[u8]) -> anyhow::Result<ModelSummary> {
    match with_model(bytes, summarize) {
        Ok(s) => Ok(s),
        Err(ExportError::Format(e)) => bail!("{}: invalid blob: {e}", path.display()),
        Err(e) => bail!("{}: {e}", path.display()),
    }
}

/// What `--json` writes: the summary plus the instruction model's prediction.
#[derive(serde::Serialize)]
struct Report<'a> {
    #[serde(flatten)]
    summary: &'a ModelSummary,
    /// Predicted instructions per op on a DSP Cortex-M (int8 blobs; empty for f32).
    predicted_instructions: Vec<u64>,
    /// Their sum: one inference.
    predicted_instructions_total: Option<u64>,
    /// The kernel path each op's prediction is for.
    kernel_paths: Vec<&'static str>,
}

/// The instruction model's per-op predictions for an int8 blob and its total per inference
/// (the ops plus the executor's output lookup after the last op); none for f32.
fn predicted(bytes: &[u8]) -> anyhow::Result<Option<(Vec<instructions::OpInstructions>, u64)>> {
    let aligned = AlignedBytes::new(bytes);
    let model = Model::from_bytes(&aligned).map_err(|e| anyhow::anyhow!("invalid blob: {e}"))?;
    if model.precision() != Precision::Int8 {
        return Ok(None);
    }
    let (ops, tail) =
        instructions::per_op_and_tail(&model).map_err(|e| anyhow::anyhow!("invalid blob: {e}"))?;
    let total = ops.iter().map(|p| p.instructions).sum::<u64>() + tail.instructions;
    Ok(Some((ops, total)))
}

fn shape(s: [u16; 3]) -> String {
    format!("{}x{}x{}", s[0], s[1], s[2])
}

/// Run `whittle inspect`.
pub fn run(a: InspectArgs) -> anyhow::Result<()> {
    let bytes = read(&a.model)?;
    let s = summary(&a.model, &bytes)?;
    let (pred, total) = match predicted(&bytes)? {
        Some((ops, total)) => (ops, Some(total)),
        None => (Vec::new(), None),
    };
    if a.json {
        let r = Report {
            summary: &s,
            predicted_instructions: pred.iter().map(|p| p.instructions).collect(),
            predicted_instructions_total: total,
            kernel_paths: pred.iter().map(|p| p.kernel.name()).collect(),
        };
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    println!(
        "{}: {} model, input {}, output {}",
        a.model.display(),
        s.precision,
        shape(s.input),
        shape(s.output)
    );
    println!(
        "{:>3}  {:<20} {:<22} {:<12} {:>9} {:>12} {:>10} {:>12}  kernel path",
        "#", "op", "input", "output", "params", "MACs", "weight B", "instr (pred)"
    );
    for l in &s.layers {
        let op = if l.relu && l.op != "relu" {
            format!("{}+relu", l.op)
        } else {
            l.op.to_string()
        };
        let inputs: Vec<String> = l.inputs.iter().map(|&i| shape(i)).collect();
        let (instr, path) = match pred.get(l.index) {
            Some(p) => (p.instructions.to_string(), p.kernel.name()),
            None => ("-".to_string(), "-"),
        };
        println!(
            "{:>3}  {:<20} {:<22} {:<12} {:>9} {:>12} {:>10} {:>12}  {}",
            l.index,
            op,
            inputs.join(" + "),
            shape(l.output),
            l.params,
            l.macs,
            l.weight_bytes,
            instr,
            path
        );
    }
    println!(
        "total: {} params, {} MACs ({:.2} M), flash (blob) {} B, weights {} B",
        s.params,
        s.macs,
        s.macs as f64 / 1e6,
        s.flash_bytes,
        s.weight_bytes
    );
    println!(
        "ram: arena {} B + scratch {} B = peak {} B",
        s.arena_bytes, s.scratch_bytes, s.peak_ram_bytes
    );
    if let Some(n) = total {
        println!(
            "instructions: {n} per inference predicted ({:.2} M, {:.3} per MAC) on a DSP Cortex-M (M4F, M7, M33)",
            n as f64 / 1e6,
            n as f64 / s.macs.max(1) as f64
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use whittle::export::{export_f32, fold};
    use whittle::graph::Op;
    use whittle::graph::legacy::{LayerV1, sequential};

    /// Reads and validates the blob at `path` and summarizes it, as `run` does.
    fn inspect(path: &Path) -> anyhow::Result<ModelSummary> {
        summary(path, &read(path)?)
    }

    fn blob() -> Vec<u8> {
        let g = sequential(
            "tiny",
            [1, 4, 4],
            3,
            vec![
                LayerV1::Conv {
                    out: 2,
                    k: 3,
                    relu: true,
                },
                LayerV1::Flatten,
                LayerV1::Dense {
                    out: 3,
                    relu: false,
                },
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut t = whittle::export::placeholder_tensors(&g);
        for (i, ts) in t.iter_mut().enumerate() {
            for x in ts.iter_mut() {
                let v = match (&g.nodes[i].op, x.name.as_str()) {
                    (Op::Conv2d(_), "weight") => 0.5,
                    (Op::Dense(_), "weight") => 0.1,
                    _ => 0.0,
                };
                x.values.iter_mut().for_each(|y| *y = v);
            }
        }
        if let Some(b) = t[0].iter_mut().find(|x| x.name == "bias") {
            b.values = vec![0.0, 1.0];
        }
        let f = fold(&g, &t).unwrap_or_else(|e| panic!("{e}"));
        export_f32(&f).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn inspect_reports_and_rejects_corrupt_files() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let good = dir.path().join("good.whittle");
        let mut bytes = blob();
        std::fs::write(&good, &bytes).unwrap_or_else(|e| panic!("{e}"));
        let s = inspect(&good).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.params, 20 + 99);
        assert_eq!(s.macs, 16 * 2 * 9 + 96);
        assert_eq!(s.flash_bytes, bytes.len() as u64);
        assert_eq!(s.layers.len(), 3);
        let json = serde_json::to_value(&s).unwrap_or_else(|e| panic!("{e}"));
        for key in ["params", "macs", "weight_bytes", "arena_bytes", "layers"] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert_eq!(json["layers"][0]["op"], "conv2d");
        assert_eq!(json["layers"][0]["input"], serde_json::json!([1, 4, 4]));
        assert_eq!(json["layers"][2]["output"], serde_json::json!([3, 1, 1]));

        let bad = dir.path().join("bad.whittle");
        bytes[40] ^= 1;
        std::fs::write(&bad, &bytes).unwrap_or_else(|e| panic!("{e}"));
        let err = inspect(&bad)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("invalid blob") && err.contains("CRC"), "{err}");
        std::fs::write(&bad, b"not a blob at all, definitely not")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(inspect(&bad).is_err());
        assert!(inspect(&dir.path().join("missing.whittle")).is_err());
    }
}
