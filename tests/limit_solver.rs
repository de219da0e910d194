//! `meanfield limit` and the limit solver (issue 22; docs/limit.md sections 10 and 11): the
//! solver against the exact linear limit, R(0) against the exact infinite-width value, the
//! integrator's order in dt, its own error estimate against a finer solve, thread
//! independence, and the refusals of scenarios without the symmetry.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::path::Path;

use common::{meanfield, scenario, scratch_directory, stderr};
use meanfield::dynamics::Control;
use meanfield::dynamics::reduced::{LinearLimit, initial_second_moment};
use meanfield::limit::{LimitProblem, Resolution, solve};
use meanfield::scenario::InitSource;

/// A population-mode scenario: `activation`, d, k orthonormal teacher neurons (a* = 1,
/// |w*| = 1), a ~ N(0, 1), w ~ N(0, I/d), RK4 with dt and t_end, `dynamics` lines added to
/// [dynamics] and `record` lines to [record].
fn text(
    activation: &str,
    d: usize,
    k: usize,
    (dt, t_end): (f64, f64),
    dynamics: &str,
    record: &str,
) -> String {
    format!(
        "name = \"limit\"\nseed = 3\n[model]\nd = {d}\nm = 64\nactivation = \"{activation}\"\n\
         [init]\na = {{ law = \"normal\", mean = 0.0, std = 1.0 }}\n\
         w = {{ law = \"normal\", std = {} }}\n[target]\nk = {k}\n[risk]\nmode = \"population\"\n\
         [dynamics]\nintegrator = \"rk4\"\ndt = {dt}\nt_end = {t_end}\n{dynamics}[record]\nevery = 5\n{record}",
        1.0 / (d as f64).sqrt()
    )
}

fn risks(problem: &LimitProblem, resolution: Resolution) -> (Vec<f64>, Vec<f64>) {
    let solution = solve(problem, resolution, &mut |_, _| Control::Continue).unwrap();
    (
        solution.series.column("time").unwrap(),
        solution.series.column("risk").unwrap(),
    )
}

fn resolution(nodes: usize, angle: usize) -> Resolution {
    Resolution {
        angle,
        ..Resolution::with_nodes(nodes)
    }
}

/// The linear network: the reduced solver against the exact reduced equation of the second
/// moment (dynamics::reduced, an independent derivation). The risk is a polynomial of degree
/// 2 in the initial point (the flow map is linear in theta given Sigma(t)), so a Gauss rule
/// with 3 nodes per direction integrates it exactly and the error is RK4's: measured 1.3e-8
/// relative at dt = 0.01 and 6.7e-10 at dt = 0.005 (19x smaller: order 4), plus the
/// reference's own 1e-10 (`dynamics::reduced::TOLERANCE`); hence dt = 0.005 and 2e-9. Cases:
/// plain, weight decay with lr_ratio, a_only, w_only with decay.
#[test]
fn linear_network_matches_the_exact_second_moment_limit() {
    for (k, extra) in [
        (1, ""),
        (2, "lambda = 0.05\nlr_ratio = 0.5\n"),
        (1, "train = \"a_only\"\n"),
        (2, "train = \"w_only\"\nlambda = 0.1\n"),
    ] {
        let text = text("linear", 5, k, (0.005, 2.0), extra, "");
        let scenario = scenario(&text);
        let problem = LimitProblem::from_scenario(&scenario).unwrap();
        let (times, reduced) = risks(&problem, resolution(3, 4));
        let teacher = scenario.teacher().unwrap();
        let exact = LinearLimit::new(&scenario.network, &scenario.dynamics, &teacher, 1).unwrap();
        let InitSource::Law(law) = scenario.init else {
            panic!("a law")
        };
        let sigma0 = initial_second_moment(&law, scenario.d).unwrap();
        let points = exact.solve(&sigma0, &times).unwrap();
        for ((t, r), point) in times.iter().zip(&reduced).zip(&points) {
            let error = (r - point.risk).abs() / point.risk;
            assert!(
                error < 2e-9,
                "k = {k}, t = {t}: {r} vs {} ({error:e})",
                point.risk
            );
        }
    }
}

/// R(0) is the exact infinite-width risk 1/2 E f*^2 + s^2/2 when E[a | w] = 0: relu with one
/// teacher neuron of norm 1 has E f*^2 = |w*|^2 / 2, so R(0) = 1/4; with s = 0.5, 1/4 + 1/8.
/// The symmetric Hermite rule in a makes sum_j w_j a_j V_j vanish up to rounding.
#[test]
fn initial_risk_is_the_exact_infinite_width_value() {
    for (noise, expected) in [(0.0, 0.25), (0.5, 0.375)] {
        let text = text("relu", 8, 1, (0.05, 0.05), "", "")
            .replace("[risk]", &format!("noise_std = {noise}\n[risk]"));
        let problem = LimitProblem::from_scenario(&scenario(&text)).unwrap();
        let (_, risk) = risks(&problem, resolution(4, 8));
        assert!(
            (risk[0] - expected).abs() < 1e-15,
            "{} vs {expected}",
            risk[0]
        );
    }
}

/// RK4 is of order 4 in dt through the shared integrator: the changes of R(1) between dt = 0.2,
/// 0.1 and 0.05 shrink by 2^4 = 16 (accepted between 12 and 20: the next term of the error
/// expansion is dt^5, 10-20 % of the leading one at these steps). erf, a smooth kernel.
#[test]
fn rk4_is_fourth_order_in_dt() {
    let at = |dt: f64| {
        let problem =
            LimitProblem::from_scenario(&scenario(&text("erf", 6, 1, (dt, 1.0), "", ""))).unwrap();
        let (_, risk) = risks(&problem, resolution(3, 6));
        *risk.last().unwrap()
    };
    let (r1, r2, r3) = (at(0.2), at(0.1), at(0.05));
    let ratio = (r1 - r2) / (r2 - r3);
    assert!(
        (12.0..20.0).contains(&ratio),
        "ratio {ratio}: {r1} {r2} {r3}"
    );
}

/// The solver's error estimate is honest: the risk at a finer resolution differs from the
/// default-resolution risk by less than `risk_error_estimate` (the difference from a solve at
/// half the resolution). erf, d = 6, k = 1, nodes 6 (estimate from nodes 3) against nodes 9.
#[test]
fn error_estimate_bounds_the_change_at_a_finer_resolution() {
    let dir = scratch_directory("limit_solver", "estimate");
    let file = dir.join("erf.toml");
    std::fs::write(
        &file,
        text("erf", 6, 1, (0.1, 1.0), "", "figures = false\n"),
    )
    .unwrap();
    let out = dir.join("run");
    let status = meanfield(&dir)
        .args([
            "limit",
            "erf.toml",
            "--quiet",
            "--nodes",
            "6",
            "--angle-nodes",
            "8",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", stderr(&status));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let estimate = summary["risk_error_estimate"].as_f64().unwrap();
    let problem =
        LimitProblem::from_scenario(&meanfield::scenario::Scenario::load(&file, &[]).unwrap())
            .unwrap();
    let (_, fine) = risks(&problem, resolution(9, 8));
    let table = meanfield::output::Table::read_csv(&out.join("series.csv")).unwrap();
    let default = table.column("risk").unwrap();
    let change = fine
        .iter()
        .zip(&default)
        .fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        change <= estimate,
        "change {change:e} > estimate {estimate:e}"
    );
    assert!(estimate > 0.0 && estimate < 1e-3, "estimate {estimate:e}");
}

/// Bit-identical series and nodes on 1 and 2 threads (fixed chunks, sums in order).
#[test]
fn one_and_two_threads_give_identical_files() {
    let dir = scratch_directory("limit_solver", "threads");
    std::fs::write(
        dir.join("relu.toml"),
        text("relu", 8, 2, (0.1, 0.5), "", "figures = false\n"),
    )
    .unwrap();
    let mut files = Vec::new();
    for threads in ["1", "2"] {
        let out = dir.join(format!("t{threads}"));
        let output = meanfield(&dir)
            .args([
                "limit",
                "relu.toml",
                "--quiet",
                "--nodes",
                "3",
                "--threads",
                threads,
                "--out",
            ])
            .arg(&out)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        files.push(
            ["series.csv", "reduced_final.npy"].map(|name| std::fs::read(out.join(name)).unwrap()),
        );
    }
    assert_eq!(files[0], files[1]);
}

/// The run directory: the files of the module documentation, the columns, nodes counted in
/// the summary and reduced_init.npy with weights summing to 1.
#[test]
fn writes_the_run_directory() {
    let dir = scratch_directory("limit_solver", "directory");
    std::fs::write(dir.join("s.toml"), text("relu", 4, 2, (0.1, 0.3), "", "")).unwrap();
    let out = dir.join("out");
    let output = meanfield(&dir)
        .args(["limit", "s.toml", "--quiet", "--nodes", "3", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    for name in [
        "scenario.toml",
        "series.csv",
        "summary.json",
        "reduced_init.npy",
        "reduced_final.npy",
        "plots/risk.png",
    ] {
        assert!(out.join(name).exists(), "{name}");
    }
    let table = meanfield::output::Table::read_csv(&out.join("series.csv")).unwrap();
    assert_eq!(
        table.columns,
        [
            "step",
            "time",
            "risk",
            "objective",
            "dissipation",
            "a_mean",
            "a_std",
            "w_norm_mean",
            "cone_share_0",
            "cone_share_1"
        ]
    );
    let nodes = meanfield::output::read_npy(&out.join("reduced_init.npy")).unwrap();
    assert_eq!(nodes.shape(), (108, 5)); // 3 (a) x 3^2 (p) x 4 (q)
    let total: f64 = nodes.column(0).iter().sum();
    assert!((total - 1.0).abs() < 1e-14);
}

/// Scenarios without the symmetry, or not the mean-field limit, are refused with exit 2,
/// naming the key.
#[test]
fn refuses_what_the_reduction_does_not_describe() {
    let dir = scratch_directory("limit_solver", "refusals");
    std::fs::write(dir.join("s.toml"), text("relu", 4, 1, (0.1, 0.3), "", "")).unwrap();
    std::fs::write(dir.join("init.npy"), b"not read").unwrap();
    for (set, key) in [
        ("risk.mode=\"online\"", "risk.mode"),
        ("model.bias=true", "model.bias"),
        ("model.alpha=0.5", "model.alpha"),
        ("dynamics.tau=0.01", "dynamics.tau"),
        ("init.file=\"init.npy\"", "init.file"),
    ] {
        let output = meanfield(&dir)
            .args(["limit", "s.toml", "--quiet", "--set", set, "--out"])
            .arg(dir.join("never"))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{set}: {}", stderr(&output));
        assert!(stderr(&output).contains(key), "{set}: {}", stderr(&output));
        assert!(!Path::new(&dir.join("never").join("series.csv")).exists());
    }
}

/// `meanfield run --limit`: the limit is solved into RUN/limit and drawn on the run's risk
/// figure, with the caption and data links of report.html; a second run reuses it; a limit
/// of another dt in RUN/limit is an exit-2 error of `meanfield plot` naming the key, never a
/// curve drawn beside the wrong run; a scenario without an exact limit is refused before the
/// run starts (no run directory).
#[test]
fn run_with_limit_draws_the_limit_of_its_own_scenario_only() {
    let dir = scratch_directory("limit_solver", "beside");
    std::fs::write(dir.join("s.toml"), text("relu", 4, 2, (0.1, 0.6), "", "")).unwrap();
    let run = |extra: &[&str]| {
        meanfield(&dir)
            .args(["run", "s.toml", "--quiet", "--limit", "--limit-nodes", "3"])
            .args(extra)
            .args(["--out", "r"])
            .output()
            .unwrap()
    };
    let output = run(&[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let limit_series = dir.join("r/limit/series.csv");
    assert!(limit_series.is_file());
    let svg = std::fs::read_to_string(dir.join("r/plots/risk.svg")).unwrap();
    assert!(
        svg.contains("exact limit m \u{2192} \u{221e}"),
        "no limit legend"
    );
    let report = std::fs::read_to_string(dir.join("r/report.html")).unwrap();
    for part in [
        "href=\"limit/series.csv\"",
        "exact mean-field limit (m \u{2192} \u{221e}) of the same scenario",
    ] {
        assert!(report.contains(part), "{part} not in report.html");
    }
    // The same problem again at another width, over the run: the limit stays and is reused
    // (it does not depend on m), and is drawn on the new run's figure.
    let modified = std::fs::metadata(&limit_series)
        .unwrap()
        .modified()
        .unwrap();
    let output = run(&["--overwrite", "--set", "model.m=32"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let again = std::fs::metadata(&limit_series)
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(modified, again, "the limit was solved again");
    let svg = std::fs::read_to_string(dir.join("r/plots/risk.svg")).unwrap();
    assert!(
        svg.contains("exact limit m \u{2192} \u{221e}"),
        "no limit legend"
    );
    // Another dt over the run (--overwrite): its limit is removed with it and solved again.
    let output = run(&["--overwrite", "--set", "dynamics.dt=0.2"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let scenario = std::fs::read_to_string(dir.join("r/limit/scenario.toml")).unwrap();
    assert!(scenario.contains("dt = 0.2"), "{scenario}");

    // A limit of another dt beside the run: refused, naming the key.
    let scenario = dir.join("r/limit/scenario.toml");
    let text = std::fs::read_to_string(&scenario).unwrap();
    std::fs::write(&scenario, text.replace("dt = 0.2", "dt = 0.05")).unwrap();
    let output = meanfield(&dir).args(["plot", "r"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("dynamics.dt: 0.2 -> 0.05") && message.contains("limit"),
        "{message}"
    );

    // No exact limit (lazy scaling): refused before anything is written.
    let output = meanfield(&dir)
        .args([
            "run",
            "s.toml",
            "--quiet",
            "--limit",
            "--set",
            "model.alpha=0.5",
        ])
        .args(["--out", "lazy"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("model.alpha"),
        "{}",
        stderr(&output)
    );
    assert!(!dir.join("lazy").exists());
}
