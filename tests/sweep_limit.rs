//! `meanfield sweep --reference limit` (issue 22, item 4): B of E R_m(0) - R_inf(0) = B/(2m)
//! (`limit::bias`) against Monte Carlo over seeds, and a small erf sweep against the exact
//! limit: reference values, the reused limit directory, the control variate, the refusals.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::float_cmp,
    reason = "tests"
)]

mod common;

use std::path::Path;

use common::{meanfield, scenario, scratch_directory, stderr};
use meanfield::dynamics::Control;
use meanfield::limit::bias::initial_bias;
use meanfield::limit::{LimitProblem, Resolution, solve};
use meanfield::math::Particles;
use meanfield::scenario::InitSource;
use meanfield::task::PopulationRisk;

/// Population mode, d = 6, one teacher neuron, w ~ N(0, I/d), a ~ N(`a_mean`, `a_std`^2).
fn population(activation: &str, (a_mean, a_std): (f64, f64), m: usize) -> String {
    format!(
        "name = \"bias\"\nseed = 1\n[model]\nd = 6\nm = {m}\nactivation = \"{activation}\"\n\
         [init]\na = {{ law = \"normal\", mean = {a_mean:?}, std = {a_std:?} }}\n\
         w = {{ law = \"normal\", std = {} }}\n[target]\nk = 1\n[risk]\nmode = \"population\"\n\
         [dynamics]\nintegrator = \"rk4\"\ndt = 0.05\nsteps = 1\n",
        1.0 / 6f64.sqrt()
    )
}

/// relu with a independent of w and E a = 0: B = E[a^2] E[K(w, w)] = E|w|^2 / 2 = 1/2
/// (docs/math.md section 7). K(w, w) = |w|^2 / 2 and a^2 are polynomials the rule integrates
/// exactly, so B is 1/2 to rounding.
#[test]
fn relu_bias_with_centred_a_is_half_the_mean_square_norm() {
    let scenario = scenario(&population("relu", (0.0, 1.0), 16));
    let problem = LimitProblem::from_scenario(&scenario).unwrap();
    let b = initial_bias(&problem, Resolution::default_for(problem.k())).unwrap();
    assert!((b - 0.5).abs() < 1e-13, "B = {b}");
}

/// (mean, standard error) over `seeds` draws at width m of R_m(0) - R_inf(0), and B/(2m).
fn excess_risk_at_zero(text: &str, m: usize, seeds: u64) -> ((f64, f64), f64) {
    let scenario = scenario(text);
    let problem = LimitProblem::from_scenario(&scenario).unwrap();
    let resolution = Resolution::default_for(problem.k());
    let b = initial_bias(&problem, resolution).unwrap();
    let limit = solve(&problem, resolution, &mut |_, _| Control::Continue).unwrap();
    let limit_risk = limit.series.column("risk").unwrap()[0];
    let InitSource::Law(law) = &scenario.init else {
        panic!("a law")
    };
    let mut risk =
        PopulationRisk::new(scenario.network.activation, scenario.teacher().unwrap()).unwrap();
    let excess: Vec<f64> = (0..seeds)
        .map(|seed| {
            let particles = Particles::draw(m, scenario.d, law, seed).unwrap();
            risk.evaluate(&scenario.network, particles.matrix(), None)
                .unwrap()
                - limit_risk
        })
        .collect();
    let n = excess.len() as f64;
    let mean = excess.iter().sum::<f64>() / n;
    let variance = excess.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    ((mean, (variance / n).sqrt()), b / (2.0 * m as f64))
}

/// The general form B = E[a^2 K(w, w)] - E_x[(E a sigma(w.x))^2] against the mean over 4000
/// seeds of R_16(0) - R_inf(0), within 4 standard errors: erf with centred a (the second term
/// vanishes), relu with E a = 1 (the second term is about a quarter of B, many standard errors:
/// the first term alone would fail).
#[test]
fn initial_bias_over_2m_is_the_mean_excess_risk_over_seeds() {
    for (activation, a) in [("erf", (0.0, 1.0)), ("relu", (1.0, 0.5))] {
        let m = 16;
        let ((mean, se), expected) = excess_risk_at_zero(&population(activation, a, m), m, 4000);
        eprintln!("{activation}: mean {mean:.6} +- {se:.6}, B/(2m) = {expected:.6}");
        assert!(
            (mean - expected).abs() < 4.0 * se,
            "{activation}: {mean} +- {se} vs B/(2m) = {expected}"
        );
    }
}

/// An erf sweep against the exact limit: d = 6, k = 1, widths 16, 64, 256, 8 seeds, RK4 to
/// t = 0.5, logged every 5 steps; the limit at 5 nodes per direction (125 nodes).
const SWEEP: &str = r#"
name = "erf-limit"
seed = 1
[model]
d = 6
activation = "erf"
[init]
a = { law = "normal", mean = 0.0, std = 1.0 }
w = { law = "normal", std = 0.408248290463863 }
[target]
k = 1
[risk]
mode = "population"
[dynamics]
integrator = "rk4"
dt = 0.05
steps = 10
[record]
every = 5
snapshots = 0
marginals = false
[sweep]
widths = [16, 64, 256]
seeds = 8
reference = "limit"
limit_nodes = 5
bootstrap = 100
"#;

fn sweep(dir: &Path, text: &str, extra: &[&str]) -> std::process::Output {
    let file = dir.join("scenario.toml");
    std::fs::write(&file, text).unwrap();
    meanfield(dir)
        .arg("sweep")
        .arg(&file)
        .arg("--out")
        .arg(dir.join("out"))
        .args(extra)
        .output()
        .unwrap()
}

/// Rows of a CSV file as maps from column name to text.
fn rows(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    lines
        .map(|line| {
            header
                .iter()
                .cloned()
                .zip(line.split(',').map(String::from))
                .collect()
        })
        .collect()
}

fn number(row: &std::collections::BTreeMap<String, String>, column: &str) -> f64 {
    row[column].parse().unwrap()
}

#[test]
fn sweep_compares_with_the_exact_limit_and_reuses_it() {
    let dir = scratch_directory("sweep_limit", "erf");
    let output = sweep(&dir, SWEEP, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = dir.join("out");
    let limit_dir = out.join("limit");
    let summary_text = |dir: &Path| std::fs::read_to_string(dir.join("summary.json")).unwrap();
    let limit_summary = summary_text(&limit_dir);
    let modified = || {
        std::fs::metadata(limit_dir.join("summary.json"))
            .unwrap()
            .modified()
            .unwrap()
    };
    let first_solve = modified();

    // The reference of every risk row is the limit's risk at that step.
    let limit_rows = rows(&limit_dir.join("series.csv"));
    let limit_risk = |step: &str| {
        let row = limit_rows.iter().find(|r| r["step"] == step).unwrap();
        number(row, "risk")
    };
    let stats = rows(&out.join("sweep_stats.csv"));
    let risk_rows: Vec<_> = stats.iter().filter(|r| r["observable"] == "risk").collect();
    assert_eq!(risk_rows.len(), 3 * 3);
    // (`reference` is the seed mean of the per-seed reference values, 8 copies of the limit's:
    // equal up to the rounding of that mean.)
    for row in &risk_rows {
        let (reference, exact) = (number(row, "reference"), limit_risk(&row["step"]));
        assert!(
            (reference - exact).abs() <= 8.0 * f64::EPSILON * exact,
            "{reference} vs {exact}"
        );
    }

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep_summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["reference"]["kind"], "limit");
    assert_eq!(summary["reference_label"], "exact limit (meanfield limit)");
    assert!(
        summary["bias_estimator"]
            .as_str()
            .unwrap()
            .contains("B/(2m)")
    );
    let limit = &summary["points"][0]["limit"];
    assert_eq!(limit["directory"], "limit");
    assert_eq!(limit["reused"], false);
    assert!(limit["risk_error_estimate"].as_f64().unwrap() >= 0.0);
    let b = limit["initial_bias"].as_f64().unwrap();

    // At t = 0 the control-variate estimate is the known mean B/(2m), with no error.
    for row in risk_rows.iter().filter(|r| r["step"] == "0") {
        let m = number(row, "m");
        let expected = b / (2.0 * m);
        assert!((number(row, "deviation_cv_mean") - expected).abs() < 1e-14 * expected.max(1.0));
        assert!(number(row, "deviation_cv_se").abs() < 1e-15);
    }
    // At the first logged t > 0 the deviation is the t = 0 deviation plus O(t), so the two are
    // strongly correlated across seeds and the control variate's standard error is smaller.
    let first = risk_rows
        .iter()
        .find(|r| r["m"] == "256" && r["step"] == "5")
        .unwrap();
    let (plain, cv) = (
        number(first, "deviation_se"),
        number(first, "deviation_cv_se"),
    );
    eprintln!("m = 256, t = 0.25: plain SE {plain:e}, control variate SE {cv:e}");
    assert!(cv < plain, "control variate SE {cv} vs plain {plain}");

    // A rerun reuses the limit: summary.json is neither rewritten nor changed.
    let output = sweep(&dir, SWEEP, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(summary_text(&limit_dir), limit_summary);
    assert_eq!(modified(), first_solve);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep_summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["points"][0]["limit"]["reused"], true);
}

#[test]
fn vary_sweep_solves_one_limit_per_point_in_its_point_directory() {
    let dir = scratch_directory("sweep_limit", "vary");
    let text = SWEEP
        .replace("widths = [16, 64, 256]", "widths = [8, 16]")
        .replace(
            "seeds = 8",
            "seeds = 3\nvary = { \"dynamics.lambda\" = [0.0, 0.5] }",
        );
    let output = sweep(&dir, &text, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let risk = |point: &str| {
        let rows = rows(&dir.join("out/limit").join(point).join("series.csv"));
        number(rows.last().unwrap(), "objective")
    };
    // Weight decay adds (lambda/2) E|theta|^2 to the objective.
    assert!(risk("lambda=0.5") > risk("lambda=0.0"));
}

#[test]
fn limit_reference_refuses_online_mode_and_alpha_below_one() {
    for (set, key) in [
        ("risk.mode=\"online\"", "risk.mode"),
        ("model.alpha=0.5", "model.alpha"),
    ] {
        let dir = scratch_directory("sweep_limit", &format!("refuse-{key}"));
        let output = sweep(&dir, SWEEP, &["--reference", "limit", "--set", set]);
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        let message = stderr(&output);
        assert!(message.contains("--reference limit"), "{message}");
        assert!(message.contains(&format!("{key} = ")), "{message}");
        assert!(!dir.join("out/limit").exists());
    }
}
