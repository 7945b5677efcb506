//! Graph IR tests: spec files (v2 round trip, v1 loading), and bad specs failing with the
//! node named.

use super::*;

fn err_of(text: &str) -> String {
    match spec::from_json(text, "<t>") {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e.to_string(),
    }
}

fn spec_with(nodes: &str, output: &str) -> String {
    format!(
        r#"{{"format": "whittle-graph", "version": 2, "name": "t",
            "input": {{"name": "x", "shape": [3, 8, 8]}}, "classes": 4,
            "nodes": [{nodes}], "output": "{output}"}}"#
    )
}

const HEAD: &str = r#"{"name": "c", "op": {"type": "Conv2d", "out": 4, "kernel": [3, 3], "padding": [1, 1, 1, 1]}, "inputs": ["x"]}"#;
const TAIL: &str = r#"{"name": "g", "op": {"type": "GlobalAvgPool"}, "inputs": ["a"]},
    {"name": "f", "op": {"type": "Flatten"}, "inputs": ["g"]},
    {"name": "d", "op": {"type": "Dense", "out": 4}, "inputs": ["f"]}"#;

#[test]
fn specs_round_trip_through_version_2() {
    for g in [
        presets::seed_c10(),
        presets::seed_c100(),
        presets::resnet8(),
    ] {
        let back = spec::from_json(&g.to_json(), "<t>").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, g);
    }
}

#[test]
fn the_shipped_version_1_spec_loads_as_the_preset() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/seed-c10/spec.json");
    let g = spec::load(std::path::Path::new(path)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(g, presets::seed_c10());
}

#[test]
fn a_residual_spec_is_accepted() {
    let nodes = format!(
        r#"{HEAD}, {{"name": "r", "op": {{"type": "Relu"}}, "inputs": ["c"]}},
        {{"name": "c2", "op": {{"type": "Conv2d", "out": 4, "kernel": [3, 3], "padding": [1, 1, 1, 1]}}, "inputs": ["r"]}},
        {{"name": "a", "op": {{"type": "Add"}}, "inputs": ["c2", "c"]}}, {TAIL}"#
    );
    let g = spec::from_json(&spec_with(&nodes, "d"), "<t>").unwrap_or_else(|e| panic!("{e}"));
    let groups = g.groups().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(groups.names(), vec!["c"]);
    assert_eq!(groups.all[groups.prunable()[0]].producers, vec![0, 2]);
}

#[test]
fn bad_specs_name_the_node() {
    // Shape mismatch at an Add: a stride-2 conv added to a full-size value.
    let nodes = format!(
        r#"{HEAD}, {{"name": "c2", "op": {{"type": "Conv2d", "out": 4, "kernel": [3, 3], "stride": [2, 2], "padding": [1, 1, 1, 1]}}, "inputs": ["c"]}},
        {{"name": "a", "op": {{"type": "Add"}}, "inputs": ["c2", "c"]}}, {TAIL}"#
    );
    let e = err_of(&spec_with(&nodes, "d"));
    assert!(e.contains("`a`") && e.contains("different shapes"), "{e}");
    // A cycle.
    let nodes = format!(
        r#"{HEAD}, {{"name": "a", "op": {{"type": "Add"}}, "inputs": ["c", "b"]}},
        {{"name": "b", "op": {{"type": "Relu"}}, "inputs": ["a"]}}, {TAIL}"#
    );
    let e = err_of(&spec_with(&nodes, "d"));
    assert!(
        e.contains("cycle") && e.contains('a') && e.contains('b'),
        "{e}"
    );
    // An unknown op and an unknown field.
    let nodes =
        format!(r#"{HEAD}, {{"name": "a", "op": {{"type": "Swish"}}, "inputs": ["c"]}}, {TAIL}"#);
    let e = err_of(&spec_with(&nodes, "d"));
    assert!(e.contains("`a`") && e.contains("Swish"), "{e}");
    let nodes = format!(
        r#"{HEAD}, {{"name": "a", "op": {{"type": "Relu", "slope": 0.1}}, "inputs": ["c"]}}, {TAIL}"#
    );
    let e = err_of(&spec_with(&nodes, "d"));
    assert!(e.contains("`a`") && e.contains("slope"), "{e}");
    // Padding larger than the kernel.
    let nodes = format!(
        r#"{{"name": "c", "op": {{"type": "Conv2d", "out": 4, "kernel": [3, 3], "padding": [3, 1, 1, 1]}}, "inputs": ["x"]}},
        {{"name": "a", "op": {{"type": "Relu"}}, "inputs": ["c"]}}, {TAIL}"#
    );
    let e = err_of(&spec_with(&nodes, "d"));
    assert!(e.contains("`c`") && e.contains("padding"), "{e}");
    // A value used before it is defined.
    let nodes =
        format!(r#"{{"name": "a", "op": {{"type": "Relu"}}, "inputs": ["c"]}}, {HEAD}, {TAIL}"#);
    let e = err_of(&spec_with(&nodes, "d"));
    assert!(
        e.contains("`a`") && e.contains("before it is defined"),
        "{e}"
    );
    // An undefined value, a duplicate name, wrong logits.
    let e = err_of(&spec_with(&format!("{HEAD}, {TAIL}"), "d"));
    assert!(e.contains("`g`") && e.contains("`a`"), "{e}");
    let nodes = format!(r#"{HEAD}, {HEAD}"#);
    assert!(err_of(&spec_with(&nodes, "c")).contains("twice"));
    let nodes =
        format!(r#"{HEAD}, {{"name": "a", "op": {{"type": "Relu"}}, "inputs": ["c"]}}, {TAIL}"#);
    let e = err_of(&spec_with(&nodes, "g"));
    assert!(e.contains("logits"), "{e}");
}

#[test]
fn resize_and_expected_cost_interpolate() {
    let g = presets::seed_c10();
    let groups = g.groups().unwrap_or_else(|e| panic!("{e}"));
    let small = groups
        .resize(&g, &[8, 12, 16, 16, 24])
        .unwrap_or_else(|e| panic!("{e}"));
    let expect = (8 * 27 + 8)
        + (12 * 72 + 12)
        + (16 * 108 + 16)
        + (16 * 144 + 16)
        + (1024 * 24 + 24)
        + (24 * 10 + 10);
    assert_eq!(
        small.num_weights().unwrap_or_else(|e| panic!("{e}")),
        expect as u64
    );
    let at = |w: &[f64]| groups.cost(&g, Some(w));
    let exact = at(&[8.0, 12.0, 16.0, 16.0, 24.0]);
    assert_eq!(exact.params, expect as f64);
    assert_eq!(
        exact.macs,
        small.macs().unwrap_or_else(|e| panic!("{e}")) as f64
    );
    // int8 flash: one byte per weight plus 12 per output channel (bias + requantization).
    let flash = small.cost().unwrap_or_else(|e| panic!("{e}")).flash;
    assert_eq!(
        flash,
        (expect - (8 + 12 + 16 + 16 + 24 + 10) + 12 * (8 + 12 + 16 + 16 + 24 + 10)) as f64
    );
    let half = at(&[8.5, 12.0, 16.0, 16.0, 24.0]).macs;
    assert!(half > exact.macs && half < at(&[9.0, 12.0, 16.0, 16.0, 24.0]).macs);
    assert!(groups.resize(&g, &[1, 2]).is_err());
}
