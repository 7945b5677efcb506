//! `whittle export RUN_DIR --out model.whittle`: a trained run → folded float graph
//! (BatchNorm and masks folded, Dropout and a final Softmax dropped) → calibrated int8 blob
//! (or `--f32`), optionally scored on test images on the host; `--onnx FILE` writes the
//! float model as ONNX instead.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::{Args, ValueEnum};

use whittle::data::{self, Images};
use whittle::export::{self, compare_blobs, evaluate_blob, summarize, with_model};
use whittle::graph::InputRange;
use whittle::quant::{self, Calibration, QuantConfig};
use whittle::train::{RunDir, Weights};
use whittle_shared::Model;
use whittle_shared::encode::AlignedBytes;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum WeightsArg {
    Final,
    Best,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CalibrationArg {
    Minmax,
    Percentile,
}

/// Arguments of `whittle export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The run directory (spec.json, train.json, weights).
    run: PathBuf,
    /// Where to write the blob.
    #[arg(long, required_unless_present = "onnx")]
    out: Option<PathBuf>,
    /// Write the float model as ONNX (opset 13) here instead of a blob: masks folded,
    /// Dropout removed, BatchNorm folded (or kept with --keep-bn), a final Softmax kept.
    #[arg(long, conflicts_with_all = ["out", "f32", "eval"])]
    onnx: Option<PathBuf>,
    /// With --onnx: keep BatchNorm nodes instead of folding them into their convs.
    #[arg(long, requires = "onnx")]
    keep_bn: bool,
    /// Write the f32 blob instead of the int8 one (no calibration).
    #[arg(long)]
    f32: bool,
    /// Which weights: after the last epoch or at the best validation accuracy.
    #[arg(long, value_enum, default_value = "final")]
    weights: WeightsArg,
    /// How activation ranges are estimated.
    #[arg(long, value_enum, default_value = "minmax")]
    calibration: CalibrationArg,
    /// Percentile kept by `--calibration percentile`.
    #[arg(long, default_value_t = 99.99)]
    percentile: f64,
    /// Calibration images: the first N of the run's training split.
    #[arg(long, default_value_t = 256)]
    calibration_images: usize,
    /// Score the f32 and the written blob on the first N test images (host, exact kernels).
    #[arg(long, default_value_t = 0)]
    eval: usize,
    /// Data directory (default: WHITTLE_DATA, the one stored in train.json, the cache).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Print the written blob's summary as JSON.
    #[arg(long)]
    json: bool,
}

/// The first `n` images as model inputs in `range`, and their labels.
fn to_f32(images: &Images, n: usize, range: InputRange) -> (Vec<f32>, Vec<u8>) {
    let n = n.min(images.len());
    let px = &images.pixels[..n * data::images::IMAGE_BYTES];
    (data::to_inputs(px, range), images.labels[..n].to_vec())
}

fn data_base(run: &RunDir, arg: Option<&Path>) -> anyhow::Result<PathBuf> {
    let config = run.config()?;
    super::data::data_dir(arg, config.data_dir.as_deref(), config.dataset)
}

/// Run `whittle export`.
pub fn run(a: ExportArgs) -> anyhow::Result<()> {
    let device = whittle::device::device("flex")?;
    let run = RunDir::new(&a.run);
    let which = match a.weights {
        WeightsArg::Final => Weights::Final,
        WeightsArg::Best => Weights::Best,
    };
    let (graph, net) = run.load_model(which, &device)?;
    if let Some(path) = &a.onnx {
        let opts = export::onnx::OnnxOptions {
            keep_batch_norm: a.keep_bn,
        };
        let m = export::onnx::to_onnx(&graph, &net.tensors()?, opts)?;
        std::fs::write(path, &m.bytes).with_context(|| format!("writing {}", path.display()))?;
        println!(
            "{}: ONNX opset {}, {} nodes, {} B (BatchNorm {}, masks folded, Dropout removed)",
            path.display(),
            export::onnx::OPSET,
            m.nodes,
            m.bytes.len(),
            if a.keep_bn { "kept" } else { "folded" }
        );
        return Ok(());
    }
    let Some(out) = a.out.clone() else {
        anyhow::bail!("pass --out FILE (a blob) or --onnx FILE");
    };
    let range = graph.input_range;
    let float = export::from_net(&net)?;
    let removed: Vec<String> = graph
        .nodes
        .iter()
        .filter(|n| float.graph.node_index(&n.name).is_none())
        .map(|n| format!("{} ({})", n.name, n.op.name()))
        .collect();
    if !removed.is_empty() {
        eprintln!(
            "folded for deployment: {} (BatchNorm and masks into their convs, Dropout \
             removed, a final Softmax dropped: the blob returns the logits)",
            removed.join(", ")
        );
    }
    let f32_blob = export::export_f32(&float)?;
    let blob = if a.f32 {
        f32_blob.clone()
    } else {
        let config = run.config()?;
        let base = data_base(&run, a.data.as_deref())?;
        let opts = data::SplitOptions {
            limit: None,
            ..config.split
        };
        let splits = data::load_splits(&base, config.dataset, &opts)?;
        let (images, _) = to_f32(&splits.train, a.calibration_images, range);
        let cfg = QuantConfig {
            calibration: match a.calibration {
                CalibrationArg::Minmax => Calibration::MinMax,
                CalibrationArg::Percentile => Calibration::Percentile(a.percentile),
            },
            images: a.calibration_images,
            input: quant::input_qparams(range),
        };
        let t = Instant::now();
        let q = quant::quantize(&float, &images, &cfg)?;
        eprintln!(
            "calibrated on {} images ({:?}) in {:.1} s",
            images.len() / q.graph.tensors[0].len(),
            cfg.calibration,
            t.elapsed().as_secs_f64()
        );
        q.blob
    };
    std::fs::write(&out, &blob).with_context(|| format!("writing {}", out.display()))?;
    let s = with_model(&blob, summarize)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        println!(
            "{}: {} blob, {} B, {} params, {:.2} M MACs, peak RAM {} B",
            out.display(),
            s.precision,
            s.flash_bytes,
            s.params,
            s.macs as f64 / 1e6,
            s.peak_ram_bytes
        );
    }
    if a.eval > 0 {
        let config = run.config()?;
        let test = data::load_test(&data_base(&run, a.data.as_deref())?, config.dataset)?;
        let (images, labels) = to_f32(&test, a.eval, range);
        let t = Instant::now();
        let acc_f32 = with_model(&f32_blob, |m| evaluate_blob(m, &images, &labels))?;
        let t_f32 = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let acc = with_model(&blob, |m| evaluate_blob(m, &images, &labels))?;
        eprintln!(
            "test accuracy on {} images: f32 blob {:.2}% ({:.1} s), written {} blob {:.2}% ({:.1} s)",
            labels.len(),
            100.0 * acc_f32,
            t_f32,
            s.precision,
            100.0 * acc,
            t.elapsed().as_secs_f64()
        );
        let fa = AlignedBytes::new(&f32_blob);
        let ba = AlignedBytes::new(&blob);
        let agree = compare_blobs(&Model::from_bytes(&ba)?, &Model::from_bytes(&fa)?, &images)?;
        eprintln!(
            "{} vs f32 blob: same top-1 on {:.2}% of {} images, output |diff| max {:.4}, mean {:.4}",
            s.precision,
            100.0 * agree.top1,
            agree.images,
            agree.max_abs_diff,
            agree.mean_abs_diff
        );
    }
    Ok(())
}
