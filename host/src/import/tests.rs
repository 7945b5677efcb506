//! Importer unit tests: bad bytes never panic and name the file; ops and shapes whittle
//! cannot express fail before any work, naming the node, op and opset.

use std::path::PathBuf;

use burn::tensor::Device;

use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn import(bytes: &[u8]) -> Result<Imported, ImportError> {
    from_bytes(bytes, "m.onnx", InputRange::Raw, &Device::flex())
}

#[test]
fn every_truncation_is_an_error_naming_the_file() {
    let bytes = fixture("sequential.onnx");
    assert!(import(&bytes).is_ok());
    for cut in (0..bytes.len()).step_by(7) {
        match import(&bytes[..cut]) {
            Ok(_) => panic!("a file cut at {cut} of {} bytes imported", bytes.len()),
            Err(e) => {
                let m = e.to_string();
                assert!(m.contains("m.onnx") && !m.contains('\n'), "cut {cut}: {m}");
            }
        }
    }
}

#[test]
fn other_files_are_not_onnx() {
    for bytes in [
        &b""[..],
        b"hello, this is text\n",
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
    ] {
        match import(bytes) {
            Err(ImportError::Parse { path, .. }) => assert_eq!(path, "m.onnx"),
            other => panic!("{:?}: {:?}", bytes, other.map(|i| i.graph.name)),
        }
    }
}

#[test]
fn an_unsupported_op_names_node_op_and_opset() {
    let e = import(&fixture("unsupported.onnx"))
        .err()
        .map(|e| e.to_string());
    let m = e.unwrap_or_default();
    assert!(
        m.starts_with("m.onnx: node `squash` is Sigmoid (opset 13), which whittle does not import; supported: Conv,"),
        "{m}"
    );
}

#[test]
fn only_the_batch_may_be_dynamic() {
    let m = import(&fixture("dynamic.onnx"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(
        m,
        "m.onnx: input `input` has a dynamic dimension `H` at axis 2; only the batch dimension \
         (axis 0) may be dynamic"
    );
}

#[test]
fn same_padding_puts_the_odd_pixel_where_onnx_says() {
    // 32 → 16 with a 3×3 stride-2 window: one pixel of padding, after (UPPER) or before.
    assert_eq!(onnx::same_pad(32, 3, 2, true), [0, 1]);
    assert_eq!(onnx::same_pad(32, 3, 2, false), [1, 0]);
    assert_eq!(onnx::same_pad(5, 3, 1, true), [1, 1]);
    assert_eq!(onnx::same_pad(3, 2, 1, true), [0, 1]);
    assert_eq!(onnx::same_pad(3, 2, 1, false), [1, 0]);
    assert_eq!(onnx::same_pad(4, 1, 2, true), [0, 0]);
}

#[test]
fn provenance_counts_ops_and_says_what_was_removed_and_folded() {
    let imp = import(&fixture("sequential.onnx")).unwrap_or_else(|e| panic!("{e}"));
    let p = &imp.provenance;
    assert_eq!(
        (p.opset, p.onnx_nodes, p.input_layout.as_str()),
        (13, 12, "NCHW")
    );
    assert_eq!(p.op_counts.get("Conv"), Some(&2));
    assert_eq!(p.removed.len(), 2, "{:?}", p.removed);
    assert!(
        p.removed[0].starts_with("dropout5 (Dropout)"),
        "{:?}",
        p.removed
    );
    assert_eq!(p.sha256.len(), 64);
    let g = &imp.graph;
    assert_eq!(g.input_dims(), [3, 8, 8]);
    assert_eq!(g.nodes.len(), 10);
    assert!(matches!(g.nodes[5].op, crate::graph::Op::Clip(_)));
    let pad = import(&fixture("pad_conv.onnx")).unwrap_or_else(|e| panic!("{e}"));
    let crate::graph::Op::Conv2d(c) = &pad.graph.nodes[0].op else {
        panic!("{:?}", pad.graph.nodes[0].op)
    };
    assert_eq!(c.padding.0, [1, 2, 1, 0]);
    assert_eq!(
        pad.provenance.folded,
        vec!["Pad `pad` into Conv `conv2`".to_string()]
    );
}
