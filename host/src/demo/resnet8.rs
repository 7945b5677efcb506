//! `whittle demo --model resnet8`: MLPerf Tiny's ResNet-8 from its ONNX file — imported,
//! exported to int8, scored on the test set and run on the Cortex-M in QEMU — with any
//! pruned runs of it beside, and the upstream TensorFlow Lite Micro figures to compare.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::table::{self, DemoRow};
use super::{DemoError, DemoOptions, io, measure, test_set};
use crate::graph::InputRange;
use crate::train::RunDir;

/// TFLM + CMSIS-NN on the upstream int8 ResNet-8, measured in the same QEMU setup
/// (`mps2-an386`, `-icount shift=0`): instructions per inference.
pub const TFLM_INSTRUCTIONS: u64 = 29_870_000;
/// Its tensor arena, KB as reported upstream.
pub const TFLM_ARENA_KB: f64 = 55.0;
/// The upstream int8 TFLite model's accuracy on the full CIFAR-10 test set.
pub const TFLM_INT8_ACCURACY: f64 = 0.8697;

/// Imports `onnx` into `<out>/resnet8` (once: an existing import is reused), measures it
/// and every run in `pruned` (e.g. made by `whittle prune --from <out>/resnet8`), and
/// writes `<out>/resnet8.json`. Rows: the import first.
pub fn run(opts: &DemoOptions, onnx: &Path, pruned: &[PathBuf]) -> Result<Vec<DemoRow>, DemoError> {
    let started = Instant::now();
    std::fs::create_dir_all(&opts.out).map_err(io(&opts.out))?;
    let base = opts.out.join("resnet8");
    if !base.join("model.bpk").exists() {
        let device = crate::device::device("flex")?;
        eprintln!("importing {} into {}", onnx.display(), base.display());
        crate::import::import_run(onnx, &base, InputRange::Raw, Some(&opts.data), &device)?;
    }
    let range = RunDir::new(&base).spec()?.input_range;
    let test = test_set(opts, range)?;
    eprintln!("[1/{}] ResNet-8 as imported", pruned.len() + 1);
    let mut rows = vec![measure(
        "resnet8",
        &base,
        "import",
        "-".into(),
        &test,
        opts,
    )?];
    for (i, run) in pruned.iter().enumerate() {
        let name = run.file_name().map_or_else(
            || format!("pruned{i}"),
            |n| n.to_string_lossy().into_owned(),
        );
        eprintln!("[{}/{}] {name}", i + 2, pruned.len() + 1);
        let method = method_of(run).unwrap_or_else(|| "pruned".into());
        let macs = RunDir::new(run).spec()?.macs()?;
        rows.push(measure(
            &name,
            run,
            &method,
            format!("{:.2}M MACs", macs as f64 / 1e6),
            &test,
            opts,
        )?);
    }
    table::compare_all(&mut rows);
    let json = opts.out.join("resnet8.json");
    std::fs::write(&json, serde_json::to_string_pretty(&rows)?).map_err(io(&json))?;
    eprintln!(
        "resnet8 demo finished in {:.1} min: {}",
        started.elapsed().as_secs_f64() / 60.0,
        json.display()
    );
    Ok(rows)
}

/// The method a pruned run was made with (its `prune.json`), if it says.
fn method_of(run: &Path) -> Option<String> {
    let text = std::fs::read_to_string(run.join("prune.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("method")?.as_str().map(str::to_string)
}

/// The comparison lines printed under the table: each row's instructions and RAM against
/// TFLM + CMSIS-NN's on the same model.
pub fn versus_tflm(rows: &[DemoRow]) -> String {
    let mut s = format!(
        "TFLM + CMSIS-NN, upstream int8 ResNet-8 (same QEMU setup): {:.2} M instructions, arena {:.1} KB, int8 test accuracy {:.2}%\n",
        TFLM_INSTRUCTIONS as f64 / 1e6,
        TFLM_ARENA_KB,
        100.0 * TFLM_INT8_ACCURACY
    );
    for r in rows {
        let i = r.run.instructions_per_inference;
        s += &format!(
            "{} {}: {:.2} M instructions ({:.2}x fewer than TFLM), RAM {} B (arena + scratch + stack), int8 {:.2}%\n",
            r.method,
            r.target,
            i as f64 / 1e6,
            TFLM_INSTRUCTIONS as f64 / i.max(1) as f64,
            r.ram_bytes,
            100.0 * r.test_accuracy_int8
        );
    }
    s
}
