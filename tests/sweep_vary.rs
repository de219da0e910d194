//! Comparing across a parameter with `meanfield sweep` (issue 21, item 10): a single-width sweep
//! is a normal case (one line instead of fit errors), a `vary` sweep draws overlay figures (one
//! curve per value, seed band) with their data beside them, and run directories are named by the
//! varied values.
#![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use meanfield::sweep::{Plan, SweepOverrides};

/// A population scenario small enough for a sweep in a second: one width, two seeds, no
/// reference.
const ONE_WIDTH: &str = r#"
name = "one_width"
seed = 3
[model]
d = 4
[target]
k = 2
[dynamics]
dt = 0.1
steps = 8
[record]
every = 2
snapshots = 2
marginals = false
[sweep]
widths = [8]
seeds = 2
reference = "wide"
reference_width = 16
bootstrap = 20
"#;

fn workspace(test: &str, text: &str) -> (PathBuf, PathBuf) {
    let dir = common::scratch_directory("sweep-vary-tests", test);
    let scenario = dir.join("scenario.toml");
    std::fs::write(&scenario, text).unwrap();
    (dir, scenario)
}

/// Runs `meanfield sweep` and returns its exit code and stderr.
fn sweep(scenario: &Path, out: &Path) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_meanfield"))
        .arg("sweep")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The columns of a CSV file of plain fields (no quotes, no commas inside a field), by name.
fn csv_columns(path: &Path) -> std::collections::BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    header
        .iter()
        .enumerate()
        .map(|(c, name)| {
            (
                name.to_string(),
                rows.iter().map(|r| r[c].to_string()).collect(),
            )
        })
        .collect()
}

fn floats(column: &[String]) -> Vec<f64> {
    column.iter().map(|v| v.parse().unwrap()).collect()
}

fn with_vary(vary: &str) -> String {
    format!("{ONE_WIDTH}vary = {{ {vary} }}\n")
}

#[test]
fn a_single_width_sweep_exits_0_with_one_line_about_fits_and_its_figures() {
    let (dir, scenario) = workspace("single", ONE_WIDTH);
    let out = dir.join("out");
    let (code, stderr) = sweep(&scenario, &out);
    assert_eq!(code, 0, "{stderr}");
    let about_fits: Vec<&str> = stderr.lines().filter(|l| l.contains("fit")).collect();
    assert_eq!(about_fits.len(), 1, "{stderr}");
    assert!(about_fits[0].contains("one width (m = 8)"), "{stderr}");
    assert!(!stderr.to_lowercase().contains("error"), "{stderr}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep_summary.json")).unwrap())
            .unwrap();
    assert!(summary["note"].as_str().unwrap().contains("no fits in m"));
    assert_eq!(summary["points"][0]["fits"].as_array().unwrap().len(), 0);
    for file in ["sweep.csv", "sweep_stats.csv", "plots/risk_by_width.png"] {
        assert!(out.join(file).exists(), "{file} missing");
    }
}

#[test]
fn a_vary_sweep_draws_one_overlay_curve_per_value_with_its_data() {
    let (dir, scenario) = workspace(
        "overlay",
        &with_vary(r#""dynamics.lambda" = [0.0, 0.01, 0.1]"#),
    );
    let out = dir.join("out");
    let (code, stderr) = sweep(&scenario, &out);
    assert_eq!(code, 0, "{stderr}");
    for stem in ["vary_risk", "vary_objective", "vary_movement"] {
        for extension in ["png", "svg", "csv"] {
            let file = out.join(format!("plots/{stem}.{extension}"));
            assert!(file.exists(), "{} missing", file.display());
        }
        let table = csv_columns(&out.join(format!("plots/{stem}.csv")));
        // One curve per value, each labelled with it and holding its value's rows only.
        let curves: BTreeSet<&String> = table["curve"].iter().collect();
        assert_eq!(curves.len(), 3, "{stem}: {curves:?}");
        for (curve, lambda) in table["curve"].iter().zip(&table["dynamics.lambda"]) {
            assert_eq!(curve, &format!("lambda = {lambda}"));
        }
        assert!(table["seeds"].iter().all(|s| s == "2"));
    }
    // E = R at lambda = 0 and E > R under weight decay, in the overlays' own data.
    let risk = csv_columns(&out.join("plots/vary_risk.csv"));
    let objective = csv_columns(&out.join("plots/vary_objective.csv"));
    let lambda = floats(&risk["dynamics.lambda"]);
    let (r, e) = (floats(&risk["mean"]), floats(&objective["mean"]));
    assert_eq!(r.len(), e.len());
    for row in 0..r.len() {
        if lambda[row] == 0.0 {
            assert_eq!(e[row], r[row]);
        } else {
            assert!(e[row] > r[row], "row {row}");
        }
    }
    let svg = std::fs::read_to_string(out.join("plots/vary_risk.svg")).unwrap();
    // Written `lambda = ...`, drawn with the letter (plot::typeset).
    for label in ["\u{3bb} = 0.0", "\u{3bb} = 0.01", "\u{3bb} = 0.1"] {
        assert!(svg.contains(label), "legend lacks {label}");
    }
    // One figure across the values instead of one per point.
    assert!(!out.join("plots/risk_by_width_0.png").exists());
}

#[test]
fn run_directories_are_named_by_the_varied_values() {
    let (dir, scenario) = workspace(
        "names",
        &with_vary(r#""dynamics.lambda" = [0.01, 1e-3], "model.activation" = ["relu", "erf"]"#),
    );
    let plan = Plan::build(&scenario, &[], &SweepOverrides::default()).unwrap();
    let ids: BTreeSet<&str> = plan.runs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), plan.runs.len(), "ids are unique");
    for run in &plan.runs {
        let (point, leaf) = run.id.rsplit_once('/').unwrap();
        let activation = run.point[1].trim_matches('"');
        assert_eq!(
            point,
            format!("lambda={}/activation={activation}", run.point[0])
        );
        assert!(
            leaf.starts_with(&format!("m{}-seed{}-", run.m, run.seed)),
            "{leaf}"
        );
    }
    assert!(
        ids.iter()
            .any(|id| id.starts_with("lambda=0.001/activation=erf/m8-seed3-"))
    );
    let out = dir.join("out");
    let (code, stderr) = sweep(&scenario, &out);
    assert_eq!(code, 0, "{stderr}");
    assert!(out.join("runs/lambda=0.01/activation=relu").is_dir());
}

#[test]
fn a_value_listed_twice_is_refused() {
    let (_dir, scenario) = workspace("twice", &with_vary(r#""dynamics.lambda" = [0.1, 0.1]"#));
    let error = Plan::build(&scenario, &[], &SweepOverrides::default()).unwrap_err();
    assert!(error.to_string().contains("sweep.vary"), "{error}");
}
