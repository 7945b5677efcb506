//! `whittle import MODEL.onnx --out runs/NAME`: an ONNX classifier trained elsewhere → a run
//! directory that `eval`, `prune`, `export` and the rest read like one whittle trained.

use std::path::PathBuf;

use clap::Args;

use whittle::graph::InputRange;

/// Arguments of `whittle import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The ONNX file.
    model: PathBuf,
    /// The run directory to create (new or empty).
    #[arg(long)]
    out: PathBuf,
    /// Pixel range the model was trained on: raw 0..255, unit 0..1, or signed −1..1
    /// (x/127.5 − 1, whittle's own).
    #[arg(long, value_enum, default_value = "raw")]
    input_range: InputRange,
    /// Data directory stored in train.json (default: none; eval takes --data / WHITTLE_DATA).
    #[arg(long, env = "WHITTLE_DATA")]
    data: Option<PathBuf>,
    /// Print import.json (the provenance) instead of the summary.
    #[arg(long)]
    json: bool,
}

/// Run `whittle import`. An import error is printed as one line (no cause chain, no
/// backtrace whatever `RUST_BACKTRACE` says) and exits with status 1.
pub fn run(a: ImportArgs) -> anyhow::Result<()> {
    let device = whittle::device::device("flex")?;
    let imp = match whittle::import::import_run(
        &a.model,
        &a.out,
        a.input_range,
        a.data.as_deref(),
        &device,
    ) {
        Ok(imp) => imp,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let p = &imp.provenance;
    if a.json {
        println!("{}", serde_json::to_string_pretty(p)?);
        return Ok(());
    }
    let ops: Vec<String> = p
        .op_counts
        .iter()
        .map(|(k, v)| format!("{k} ×{v}"))
        .collect();
    println!(
        "{} → {}: {} ONNX nodes (opset {}, {}) → {} whittle nodes, {} parameters; input {} {:?} {}, range {:?}",
        a.model.display(),
        a.out.display(),
        p.onnx_nodes,
        p.opset,
        if p.producer.is_empty() {
            "no producer"
        } else {
            &p.producer
        },
        p.whittle_nodes,
        p.parameters,
        p.input,
        p.input_shape,
        p.input_layout,
        p.input_range
    );
    println!("  ops: {}", ops.join(", "));
    for r in &p.removed {
        println!("  removed: {r}");
    }
    for f in &p.folded {
        println!("  folded: {f}");
    }
    if imp
        .graph
        .nodes
        .iter()
        .any(|n| matches!(n.op, whittle::graph::Op::Softmax(_)))
    {
        println!(
            "  Softmax kept: eval scores its probabilities; int8 export drops it (the blob returns logits, same argmax)"
        );
    }
    Ok(())
}
