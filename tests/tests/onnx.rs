//! ONNX import and export end to end: the fixtures of tests/fixtures/ (written by
//! scripts/onnx_fixtures.py with onnxruntime's outputs) import and match; export → import
//! gives the same outputs for imported, masked and pruned models; bad files exit 1 with one
//! line; MLPerf Tiny's ResNet-8 matches onnxruntime's logits (when the model and CIFAR-10
//! are at hand).

use std::path::{Path, PathBuf};
use std::process::Command;

use burn::tensor::{Device, Tensor, TensorData};
use whittle::Net;
use whittle::export::onnx::{OnnxOptions, to_onnx};
use whittle::graph::{Graph, InputRange, Op};
use whittle::import::{self, Imported};
use whittle::nn::{Capture, GateMode, NamedTensor};
use whittle::plan::KeepPlan;

const FIXTURES: [&str; 6] = [
    "sequential",
    "residual",
    "nhwc",
    "pad_conv",
    "asymmetric",
    "gemm_transb",
];

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

struct Reference {
    input_shape: Vec<usize>,
    input: Vec<f32>,
    output: Vec<f32>,
}

fn floats(v: &serde_json::Value, key: &str) -> Vec<f32> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key}"))
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN) as f32)
        .collect()
}

fn reference(name: &str) -> Reference {
    let p = fixtures().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    Reference {
        input_shape: v["input_shape"]
            .as_array()
            .map(|a| a.iter().map(|x| x.as_u64().unwrap_or(0) as usize).collect())
            .unwrap_or_default(),
        input: floats(&v, "input"),
        output: floats(&v, "output"),
    }
}

fn import_file(path: &Path) -> Imported {
    import::read_onnx(path, InputRange::Raw, &Device::flex())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn forward(net: &Net, shape: &[usize], x: &[f32]) -> Vec<f32> {
    let [n, c, h, w] = shape[..] else {
        panic!("input shape {shape:?}")
    };
    let t = Tensor::<4>::from_data(TensorData::new(x.to_vec(), [n, c, h, w]), &Device::flex());
    net.forward(t)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap_or_else(|e| panic!("{e:?}"))
}

/// Largest |got − want| relative to max(1, |want|).
fn max_rel(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
        .fold(0.0, f32::max)
}

/// Export `g` + `tensors` with `opts`, import the bytes again.
fn round_trip(g: &Graph, tensors: &[Vec<NamedTensor>], opts: OnnxOptions) -> (Vec<u8>, Imported) {
    let m = to_onnx(g, tensors, opts).unwrap_or_else(|e| panic!("{}: {e}", g.name));
    let back = import::from_bytes(&m.bytes, "exported.onnx", g.input_range, &Device::flex())
        .unwrap_or_else(|e| panic!("{}: {e}", g.name));
    (m.bytes, back)
}

/// Where round trips also leave their files for `scripts/onnx_fixtures.py --check`.
fn export_dir() -> Option<PathBuf> {
    let d = PathBuf::from(std::env::var_os("WHITTLE_ONNX_EXPORT_DIR")?);
    std::fs::create_dir_all(&d).ok()?;
    Some(d)
}

#[test]
fn fixtures_import_and_match_onnxruntime() {
    for name in FIXTURES {
        let imp = import_file(&fixtures().join(format!("{name}.onnx")));
        let r = reference(name);
        let got = forward(&imp.net, &r.input_shape, &r.input);
        let d = max_rel(&got, &r.output);
        assert!(d <= 1e-5, "{name}: max relative difference {d:e}");
    }
}

#[test]
fn export_then_import_gives_the_same_outputs() {
    for name in FIXTURES {
        let imp = import_file(&fixtures().join(format!("{name}.onnx")));
        let r = reference(name);
        let want = forward(&imp.net, &r.input_shape, &r.input);
        let tensors = imp.net.tensors().unwrap_or_else(|e| panic!("{e}"));
        for keep in [false, true] {
            let opts = OnnxOptions {
                keep_batch_norm: keep,
            };
            let (bytes, back) = round_trip(&imp.graph, &tensors, opts);
            let got = forward(&back.net, &r.input_shape, &r.input);
            let d = max_rel(&got, &want);
            assert!(d <= 1e-5, "{name} (keep BN {keep}): {d:e}");
            let bn = |g: &Graph| {
                g.nodes
                    .iter()
                    .filter(|n| matches!(n.op, Op::BatchNorm(_)))
                    .count()
            };
            let had = bn(&imp.graph);
            assert_eq!(bn(&back.graph), if keep { had } else { 0 }, "{name}");
            if let Some(dir) = export_dir() {
                let suffix = if keep { ".bn" } else { "" };
                let path = dir.join(format!("{name}{suffix}.onnx"));
                std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }
}

#[test]
fn masked_and_pruned_models_round_trip() {
    let dev = Device::flex();
    // whittle's own seed net with masks (some zero): masks fold into the convs.
    let g = whittle::graph::preset("seed-c10").unwrap_or_else(|e| panic!("{e}"));
    let mut net = Net::new(&g, &dev);
    for i in 0..g.nodes.len() {
        if matches!(g.nodes[i].op, Op::Mask(_)) {
            let mut t = net.tensor(i, "values").unwrap_or_else(|e| panic!("{e}"));
            for (k, v) in t.values.iter_mut().enumerate() {
                *v = [0.0, 0.5, 1.5, 1.0][k % 4];
            }
            net.set_tensor(i, &t).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let x: Vec<f32> = (0..2 * 3 * 32 * 32)
        .map(|k| ((k * 37 % 255) as f32) / 127.5 - 1.0)
        .collect();
    let want = forward(&net, &[2, 3, 32, 32], &x);
    let tensors = net.tensors().unwrap_or_else(|e| panic!("{e}"));
    for keep in [false, true] {
        let (_, back) = round_trip(
            &g,
            &tensors,
            OnnxOptions {
                keep_batch_norm: keep,
            },
        );
        assert!(
            back.graph
                .nodes
                .iter()
                .all(|n| !matches!(n.op, Op::Mask(_)))
        );
        let d = max_rel(&forward(&back.net, &[2, 3, 32, 32], &x), &want);
        assert!(d <= 1e-5, "seed-c10 masked (keep BN {keep}): {d:e}");
    }

    // The residual fixture cut to every other channel of each prunable group.
    let imp = import_file(&fixtures().join("residual.onnx"));
    let groups = imp.graph.groups().unwrap_or_else(|e| panic!("{e}"));
    let keeps: Vec<Vec<usize>> = groups
        .widths()
        .iter()
        .map(|&w| (0..w).step_by(2).collect())
        .collect();
    assert!(!keeps.is_empty());
    let plan = KeepPlan::new(&imp.graph, "test", keeps).unwrap_or_else(|e| panic!("{e}"));
    let (spec, pruned) =
        whittle::surgery::cut(&imp.graph, &imp.net, &plan, &dev).unwrap_or_else(|e| panic!("{e}"));
    assert!(spec.nodes.iter().any(|n| n.op.width() == Some(4)));
    let r = reference("residual");
    let want = forward(&pruned, &r.input_shape, &r.input);
    let tensors = pruned.tensors().unwrap_or_else(|e| panic!("{e}"));
    let (bytes, back) = round_trip(&spec, &tensors, OnnxOptions::default());
    let d = max_rel(&forward(&back.net, &r.input_shape, &r.input), &want);
    assert!(d <= 1e-5, "pruned residual: {d:e}");
    if let Some(dir) = export_dir() {
        std::fs::write(dir.join("residual.pruned.onnx"), &bytes).unwrap_or_else(|e| panic!("{e}"));
        let json = serde_json::json!({
            "input_shape": r.input_shape,
            "input": r.input,
            "output_shape": [r.input_shape[0], 10],
            "output": want,
        });
        std::fs::write(dir.join("residual.pruned.json"), json.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

/// The `whittle` binary beside this test's target directory (built if missing).
fn whittle_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("{}", exe.display()));
    let bin = dir.join("whittle");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args(["build", "--release", "-p", "whittle", "--bin", "whittle"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok && bin.exists(), "could not build {}", bin.display());
    }
    bin
}

#[test]
fn bad_files_exit_1_with_one_line() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let seq = std::fs::read(fixtures().join("sequential.onnx")).unwrap_or_else(|e| panic!("{e}"));
    let truncated = tmp.path().join("truncated.onnx");
    std::fs::write(&truncated, &seq[..seq.len() / 2]).unwrap_or_else(|e| panic!("{e}"));
    let text = tmp.path().join("notes.onnx");
    std::fs::write(&text, "this is not a model\n").unwrap_or_else(|e| panic!("{e}"));
    let cases = [
        (
            fixtures().join("unsupported.onnx"),
            "node `squash` is Sigmoid (opset 13), which whittle does not import",
        ),
        (truncated.clone(), "truncated.onnx is not an ONNX model"),
        (text.clone(), "notes.onnx is not an ONNX model"),
        (
            fixtures().join("dynamic.onnx"),
            "dynamic dimension `H` at axis 2",
        ),
    ];
    for (k, (file, want)) in cases.iter().enumerate() {
        let out = tmp.path().join(format!("run{k}"));
        let o = Command::new(whittle_bin())
            .arg("import")
            .arg(file)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{}: {err}", file.display());
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{}: {err}",
            file.display()
        );
        assert!(err.contains(want), "{}: {err}", file.display());
        assert!(
            !out.exists(),
            "{}: a run directory was created",
            file.display()
        );
    }
}

/// ResNet-8 and CIFAR-10: `WHITTLE_ONNX_RESNET8` / `WHITTLE_DATA`, or the project's copies
/// beside the repository; `None` (the test says so) when either is missing.
fn resnet8_inputs() -> Option<(PathBuf, PathBuf)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let model = std::env::var_os("WHITTLE_ONNX_RESNET8")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("shared/models/mlperf-tiny-resnet8/resnet8_fp32_nchw.onnx"));
    let data = std::env::var_os("WHITTLE_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("shared/data"));
    let have_data = whittle::data::locate(&data, whittle::data::DatasetKind::Cifar10).exists();
    (model.exists() && have_data).then_some((model, data))
}

#[test]
fn resnet8_matches_onnxruntime_on_the_first_100_test_images() {
    let Some((model, data)) = resnet8_inputs() else {
        eprintln!(
            "ResNet-8 ONNX or CIFAR-10 not found (WHITTLE_ONNX_RESNET8, WHITTLE_DATA): not checked"
        );
        return;
    };
    let p = fixtures().join("resnet8_reference.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let r: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let n = r["images"].as_u64().unwrap_or(0) as usize;
    let imp = import::read_onnx(&model, InputRange::Raw, &Device::flex())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        imp.provenance.sha256,
        r["model_sha256"].as_str().unwrap_or_default()
    );
    assert_eq!(imp.graph.input_range, InputRange::Raw);
    let test = whittle::data::load_test(&data, whittle::data::DatasetKind::Cifar10)
        .unwrap_or_else(|e| panic!("{e}"));
    let idx: Vec<usize> = (0..n).collect();
    let batch =
        whittle::data::make_batch_in(&test, &idx, None, imp.graph.input_range, &Device::flex());
    let labels = r["labels"].as_array().cloned().unwrap_or_default();
    for (k, l) in labels.iter().enumerate() {
        assert_eq!(
            u64::from(test.labels[k]),
            l.as_u64().unwrap_or(99),
            "label {k}"
        );
    }
    let mut cap = Capture::default();
    let probs = imp
        .net
        .run(batch.images, GateMode::Off, &mut cap)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap_or_else(|e| panic!("{e:?}"));
    let g = &imp.graph;
    let softmax = g.nodes.last().unwrap_or_else(|| panic!("no nodes"));
    assert!(matches!(softmax.op, Op::Softmax(_)));
    let logits_id = softmax.inputs[0];
    let logits = cap.values[logits_id.0]
        .as_ref()
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let want_logits = floats(&r, "logits");
    let want_probs = floats(&r, "probabilities");
    let dl = logits
        .iter()
        .zip(&want_logits)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    let dp = probs
        .iter()
        .zip(&want_probs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert_eq!(logits.len(), n * 10);
    assert!(dl <= 1e-4, "logits differ by up to {dl:e}");
    assert!(dp <= 1e-5, "probabilities differ by up to {dp:e}");
}
