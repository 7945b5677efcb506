//! `whittle experiment`: a bad config fails before any training, naming the field; a tiny
//! sweep runs point by point (`--point K` is `run_point`), resumes without redoing finished
//! points, redoes an interrupted one, and writes results JSON, CSV and the chart.

use std::path::Path;

use whittle::experiment::{self, config};
use whittle::graph;
use whittle_tests::{data_dir, require_tools, train_tiny};

fn train_base(dir: &Path, data: &Path) {
    train_tiny(
        dir,
        &graph::preset("seed-c10").expect("preset"),
        data,
        160,
        80,
    );
}

fn write(path: &Path, json: &serde_json::Value) {
    std::fs::write(path, serde_json::to_vec_pretty(json).expect("json")).expect("write config");
}

fn config_json(data: &Path) -> serde_json::Value {
    serde_json::json!({
        "base": "base",
        "data": data,
        "out": "out",
        "budget": "params",
        "removed": [0.5],
        "methods": ["first-k"],
        "seeds": [1],
        "limit": 160,
        "learn_epochs": 0,
        "finetune_epochs": 0,
        "test_images": 40,
        "firmware_images": 1
    })
}

#[test]
fn bad_configs_fail_before_training_naming_the_field() {
    let data = data_dir();
    let tmp = tempfile::tempdir().expect("tmp");
    train_base(&tmp.path().join("base"), &data);
    let cfg = tmp.path().join("x.json");
    let err = |edit: &dyn Fn(&mut serde_json::Value)| -> String {
        let mut j = config_json(&data);
        edit(&mut j);
        write(&cfg, &j);
        match config::load(&cfg, None, None) {
            Ok(_) => panic!("config accepted"),
            Err(e) => e.to_string(),
        }
    };
    let e = err(&|j| j["methods"] = serde_json::json!(["first-k", "l2"]));
    assert!(
        e.contains("`methods[1]`") && e.contains("unknown method `l2`"),
        "{e}"
    );
    let e = err(&|j| j["removed"] = serde_json::json!([0.5, 0.9999]));
    assert!(
        e.contains("`removed[1]`") && e.contains("smallest net"),
        "{e}"
    );
    let e = err(&|j| j["data"] = serde_json::json!(tmp.path().join("nowhere")));
    assert!(e.contains("`data`") && e.contains("no CIFAR-10"), "{e}");
    let e = err(&|j| j["l1_optimizer"] = serde_json::json!({"kind": "sgd", "lr": 0.3}));
    assert!(e.contains("unknown variant `sgd`"), "{e}");
    let e = err(&|j| j["epochs"] = serde_json::json!(3));
    assert!(e.contains("unknown field `epochs`"), "{e}");
    let e = err(&|j| j["base"] = serde_json::json!("missing"));
    assert!(e.contains("`base`"), "{e}");
    assert!(!tmp.path().join("out").exists(), "nothing ran");
}

#[test]
fn a_tiny_sweep_runs_point_by_point_and_resumes() {
    require_tools();
    let data = data_dir();
    let tmp = tempfile::tempdir().expect("tmp");
    train_base(&tmp.path().join("base"), &data);
    let cfg = tmp.path().join("tiny.json");
    write(&cfg, &config_json(&data));
    let l = config::load(&cfg, None, None).expect("valid config");
    let points = l.config.points();
    assert_eq!(
        points.iter().map(|p| p.name()).collect::<Vec<_>>(),
        vec!["000-base-r0-s1", "001-first-k-r50-s1"]
    );
    // `--point 1` on its own (as a scheduler would run it).
    let r1 = experiment::run_point(&l, 1).expect("point 1");
    assert_eq!(r1.point.method, "first-k");
    assert!(r1.weights_removed_pct >= 49.0, "{}", r1.weights_removed_pct);
    assert!(r1.instructions > 0 && r1.flash_bytes > 0 && r1.ram_bytes > 0);
    let done1 = tmp.path().join("out/points/001-first-k-r50-s1/result.json");
    let before = std::fs::read(&done1).expect("result.json");
    // Point 0 was killed halfway: its directory exists without result.json.
    let p0 = tmp.path().join("out/points/000-base-r0-s1");
    std::fs::create_dir_all(&p0).expect("dir");
    std::fs::write(p0.join("junk"), b"partial").expect("junk");
    let mut seen = Vec::new();
    let rep =
        experiment::run_all(&l, &mut |r, done| seen.push((r.point.index, done))).expect("sweep");
    assert_eq!(seen, vec![(0, false), (1, true)], "point 1 is not redone");
    assert_eq!(std::fs::read(&done1).expect("result.json"), before);
    assert!(
        !p0.join("junk").exists(),
        "the interrupted point restarted clean"
    );
    assert_eq!(rep.results.len(), 2);
    assert!(rep.results[1].instructions < rep.results[0].instructions);
    let csv = std::fs::read_to_string(tmp.path().join("out/results.csv")).expect("csv");
    assert_eq!(csv.lines().count(), 3);
    assert!(
        csv.lines()
            .nth(2)
            .is_some_and(|l| l.starts_with("1,first-k,0.5,1,"))
    );
    let svg = std::fs::read_to_string(tmp.path().join("out/chart.svg")).expect("svg");
    assert_eq!(svg.matches("<circle").count(), 2, "first-k in both panels");
    // The same config and seed give the same numbers: a report from the files alone.
    let again = experiment::report(&l).expect("report");
    assert_eq!(again, rep);
}
