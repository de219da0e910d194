//! Schedules of dt, lambda and tau (docs/scenarios.md, "Schedules"): a schedule of one value
//! is the number bit for bit, tau(t) sets the noise variance 2 tau(t_k) dt of each step, the
//! logged energy follows dE/dt = -D + (lambda'(t)/2) m^(2 - 2 alpha) mean |theta|^2, a resumed
//! run is bit-identical to an uninterrupted one on 1 and 2 threads, and bad schedules are
//! refused naming the key.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::float_cmp,
    reason = "tests; exact times are the property tested"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{meanfield, run};
use meanfield::dynamics::scheduled::step_time;
use meanfield::dynamics::{Control, Observation, Observer, Schedule};

const EXIT_INTERRUPTED: i32 = 130;

/// A small population scenario: relu, d = 3, `m` particles, then `dynamics` lines.
fn scenario_text(m: usize, dynamics: &str, record: &str) -> String {
    format!(
        "seed = 3\n[model]\nd = 3\nm = {m}\n[target]\nk = 2\n[dynamics]\n{dynamics}\n\
         [record]\nsnapshots = 0\nprobes = 0\nfigures = false\nmarginals = false\n{record}\n"
    )
}

fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs `text` into `directory/name` and returns the run directory.
fn run_text(directory: &Path, name: &str, text: &str, extra: &[&str]) -> PathBuf {
    let scenario = directory.join(format!("{name}.toml"));
    std::fs::write(&scenario, text).unwrap();
    let out = directory.join(name);
    assert_exit(&run(Path::new("."), &scenario, &out, extra), 0);
    out
}

fn assert_same_file(a: &Path, b: &Path, name: &str) {
    let (x, y) = (
        std::fs::read(a.join(name)).unwrap(),
        std::fs::read(b.join(name)).unwrap(),
    );
    assert!(
        x == y,
        "{name} differs between {} and {}",
        a.display(),
        b.display()
    );
}

/// The columns of a csv file by name.
fn columns(path: &Path) -> Vec<(String, Vec<f64>)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let names: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let mut values = vec![Vec::new(); names.len()];
    for line in lines {
        for (column, cell) in values.iter_mut().zip(line.split(',')) {
            column.push(cell.parse::<f64>().unwrap_or(f64::NAN));
        }
    }
    names.into_iter().zip(values).collect()
}

fn column(table: &[(String, Vec<f64>)], name: &str) -> Vec<f64> {
    table
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .1
        .clone()
}

#[test]
fn schedules_of_one_value_are_bit_identical_to_the_numbers() {
    let directory = common::scratch_directory("schedules", "one-value");
    let plain = "dt = 0.05\nsteps = 80\nlambda = 0.01\ntau = 0.002";
    let scheduled = "dt = { schedule = \"piecewise\", times = [0, 1.5], values = [0.05, 0.05] }\n\
                     steps = 80\n\
                     lambda = { schedule = \"exponential\", start = 0.01, rate = 0.0 }\n\
                     tau = { schedule = \"piecewise\", times = [0, 2], values = [0.002, 0.002] }";
    let a = run_text(
        &directory,
        "plain",
        &scenario_text(40, plain, "every = 1"),
        &[],
    );
    let b = run_text(
        &directory,
        "scheduled",
        &scenario_text(40, scheduled, "every = 1"),
        &[],
    );
    for name in ["series.csv", "measures.csv", "particles_final.npy"] {
        assert_same_file(&a, &b, name);
    }
}

#[test]
fn a_dt_schedule_accumulates_the_time_in_step_order() {
    let directory = common::scratch_directory("schedules", "time");
    let text = "seed = 3\n[model]\nd = 3\nm = 10\n[dynamics]\n\
                dt = { schedule = \"piecewise\", times = [0, 1], values = [0.25, 0.1] }\n\
                t_end = 2.0\n[record]\nevery = 1\nsnapshots = 5\nprobes = 0\nfigures = false\n";
    let out = run_text(&directory, "run", text, &[]);
    let series = columns(&out.join("series.csv"));
    let time = column(&series, "time");
    // 4 steps of 0.25 reach t = 1, then 10 steps of 0.1 reach 2: t = 1 + (k - 4) 0.1, the
    // steps since the change written as their decimal (0.3, not 0.30000000000000004).
    assert_eq!(time.len(), 15, "{time:?}");
    for (k, t) in time.iter().enumerate() {
        let expected = if k <= 4 {
            k as f64 * 0.25
        } else {
            1.0 + step_time(k as u64 - 4, 0.1)
        };
        assert_eq!(*t, expected, "step {k}");
    }
    // The marginals and the summary take their times from the same clock, not step x dt.
    let marginals = columns(&out.join("marginals_a.csv"));
    let (steps, times) = (column(&marginals, "step"), column(&marginals, "time"));
    assert!(steps.iter().any(|s| *s > 4.0), "{steps:?}");
    for (step, t) in steps.iter().zip(&times) {
        assert_eq!(*t, time[*step as usize], "marginals at step {step}");
    }
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    assert!(summary.contains("\"time\": 2.0"), "{summary}");
}

#[test]
fn a_sweep_refuses_schedules() {
    let directory = common::scratch_directory("schedules", "sweep");
    let scenario = directory.join("sweep.toml");
    let text = scenario_text(
        10,
        "steps = 10\ntau = { schedule = \"exponential\", start = 0.1, rate = 1.0 }",
        "",
    );
    std::fs::write(&scenario, text).unwrap();
    let output = meanfield(&directory)
        .arg("sweep")
        .arg(&scenario)
        .arg("--out")
        .arg(directory.join("out"))
        .args(["--widths", "4,8", "--seeds", "1"])
        .output()
        .unwrap();
    assert_exit(&output, 2);
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("dynamics.tau = a schedule: expected a number in a sweep"),
        "{message}"
    );
}

/// Keeps theta and the drift at the observed steps `wanted`.
struct Increments {
    wanted: Vec<u64>,
    kept: Vec<(u64, f64, nalgebra::DMatrix<f64>, nalgebra::DMatrix<f64>)>,
}

impl Observer for Increments {
    fn observe(&mut self, o: &Observation<'_>) -> meanfield::Result<()> {
        if self.wanted.contains(&o.step) {
            self.kept
                .push((o.step, o.time, o.theta.clone(), o.velocity.clone()));
        }
        Ok(())
    }
}

#[test]
fn an_exponential_tau_sets_the_variance_of_each_steps_noise() {
    // Euler-Maruyama: theta_{k+1} - theta_k - dt v(theta_k) = sqrt(2 tau(t_k) dt) xi, so the
    // variance of that residual over the n = m (1 + d) coordinates is 2 tau(t_k) dt, within
    // about 4 standard errors 4 sqrt(2 / n) (relative) of a variance estimate.
    let (m, d, dt, start, rate) = (1500_usize, 3_usize, 0.05, 0.1, 0.5);
    let text = format!(
        "seed = 5\n[model]\nd = {d}\nm = {m}\n[dynamics]\ndt = {dt}\nsteps = 101\n\
         tau = {{ schedule = \"exponential\", start = {start}, rate = {rate} }}\n"
    );
    let mut setup = common::setup(&text);
    let mut theta = setup.particles.matrix().clone();
    let steps = [0_u64, 40, 100];
    let mut observer = Increments {
        wanted: steps.iter().flat_map(|k| [*k, k + 1]).collect(),
        kept: Vec::new(),
    };
    setup
        .simulation
        .run(
            &mut theta,
            0,
            101,
            Schedule::Every(1),
            &mut observer,
            &mut |_, _| Control::Continue,
        )
        .unwrap();
    let n = (m * (d + 1)) as f64;
    let tolerance = 4.0 * (2.0 / n).sqrt();
    for k in steps {
        let (_, time, before, drift) = observer.kept.iter().find(|e| e.0 == k).unwrap();
        let (_, _, after, _) = observer.kept.iter().find(|e| e.0 == k + 1).unwrap();
        let residual = after - before - drift * dt;
        let mean = residual.mean();
        let variance = residual.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let tau = start * (-rate * time).exp();
        let expected = 2.0 * tau * dt;
        eprintln!(
            "step {k}: variance {variance:.5e}, 2 tau(t) dt {expected:.5e}, tolerance {tolerance:.3}"
        );
        assert!(
            (variance / expected - 1.0).abs() < tolerance,
            "step {k}, t = {time}: variance {variance}, 2 tau(t) dt = {expected}"
        );
    }
    // tau(t) falls by e^(-2.5) over the run: far outside the tolerance of a constant tau.
    assert!(1.0 - (-rate * 100.0 * dt).exp() > 10.0 * tolerance);
}

/// max_k |(E_{k+1} - E_k) / dt + D_k - correction_k| over the logged steps with t_k < t_max,
/// with correction_k = (lambda'(t_k) / lambda(t_k)) (E_k - R_k) = -rate (E_k - R_k) for
/// lambda = start exp(-rate t) (alpha = 1: E - R = (lambda / 2) mean |theta|^2), or 0.
fn energy_residual(directory: &Path, dt: f64, rate: f64, with_correction: bool) -> f64 {
    let t_end = 2.0;
    let text = scenario_text(
        50,
        &format!(
            "dt = {dt}\nt_end = {t_end}\n\
             lambda = {{ schedule = \"exponential\", start = 0.8, rate = {rate} }}"
        ),
        "every = 1",
    );
    let out = run_text(directory, &format!("dt{dt}"), &text, &[]);
    let series = columns(&out.join("series.csv"));
    let (time, risk, energy, dissipation) = (
        column(&series, "time"),
        column(&series, "risk"),
        column(&series, "objective"),
        column(&series, "dissipation"),
    );
    (0..time.len() - 1)
        .map(|k| {
            let derivative = (energy[k + 1] - energy[k]) / (time[k + 1] - time[k]);
            let correction = if with_correction {
                -rate * (energy[k] - risk[k])
            } else {
                0.0
            };
            (derivative + dissipation[k] - correction).abs()
        })
        .fold(0.0, f64::max)
}

#[test]
fn the_logged_energy_follows_the_identity_with_the_lambda_prime_term() {
    // Euler and lambda frozen on each step: the forward difference of the logged E_lambda(t)
    // differs from -D + (lambda'/2) mean |theta|^2 by O(dt), so halving dt halves the
    // residual (a ratio of 2 + O(dt); 1.7 to 2.3 leaves room for the O(dt) of dt = 0.02).
    let directory = common::scratch_directory("schedules", "energy");
    let rate = 1.5;
    let coarse = energy_residual(&directory, 0.02, rate, true);
    let fine = energy_residual(&directory, 0.01, rate, true);
    let ratio = coarse / fine;
    eprintln!(
        "residual with the lambda' term: dt 0.02 {coarse:.3e}, dt 0.01 {fine:.3e}, ratio {ratio:.3}"
    );
    assert!(
        (1.7..2.3).contains(&ratio),
        "residuals {coarse}, {fine}: ratio {ratio}"
    );
    // Without the lambda' term the identity fails by O(1), not O(dt): halving dt does not
    // help, and the residual is far above the one with the term.
    let plain_coarse = energy_residual(&directory, 0.02, rate, false);
    let plain_fine = energy_residual(&directory, 0.01, rate, false);
    eprintln!("residual without it: dt 0.02 {plain_coarse:.3e}, dt 0.01 {plain_fine:.3e}");
    assert!(
        plain_coarse / plain_fine < 1.2,
        "{plain_coarse} {plain_fine}"
    );
    assert!(plain_fine > 10.0 * fine, "{plain_fine} vs {fine}");
}

#[test]
fn a_run_resumed_inside_its_schedules_equals_the_uninterrupted_one() {
    // m = 600: more than two particle chunks, so that two threads split the work.
    let directory = common::scratch_directory("schedules", "resume");
    let text = scenario_text(
        600,
        "dt = { schedule = \"piecewise\", times = [0, 1], values = [0.05, 0.02] }\nsteps = 62\n\
         lambda = { schedule = \"exponential\", start = 0.05, rate = 0.3, floor = 0.01 }\n\
         tau = { schedule = \"exponential\", start = 0.004, rate = 1.0 }",
        "every = 5",
    );
    let whole = run_text(&directory, "whole", &text, &["--threads", "1"]);
    let scenario = directory.join("whole.toml");
    for threads in ["1", "2"] {
        let parts = directory.join(format!("parts-{threads}"));
        // Stop before the breakpoint of dt (t = 1 at step 20) and after it.
        for (i, stop) in ["13", "31"].iter().enumerate() {
            let mut extra = vec!["--threads", threads, "--stop-at-step", stop];
            if i > 0 {
                extra.push("--resume");
            }
            assert_exit(
                &run(Path::new("."), &scenario, &parts, &extra),
                EXIT_INTERRUPTED,
            );
        }
        assert_exit(
            &run(
                Path::new("."),
                &scenario,
                &parts,
                &["--threads", threads, "--resume"],
            ),
            0,
        );
        for name in ["series.csv", "measures.csv", "particles_final.npy"] {
            assert_same_file(&whole, &parts, name);
        }
    }
}

/// The error of validating `dynamics` lines.
fn refused(dynamics: &str) -> String {
    let text = format!("[model]\nd = 3\nm = 10\n[dynamics]\n{dynamics}\n");
    let config = match meanfield::scenario::file::parse(&text, "s.toml", &[]) {
        Ok(config) => config,
        Err(e) => return e.to_string(),
    };
    match meanfield::scenario::Scenario::from_config(config, Path::new("s.toml"), &text, &[]) {
        Ok(_) => panic!("accepted: {dynamics}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_schedules_are_refused_naming_the_key_and_what_is_allowed() {
    for (dynamics, expected) in [
        (
            "dt = { schedule = \"linear\", start = 1.0 }",
            "= \"linear\": expected one of piecewise, exponential",
        ),
        (
            "dt = { times = [0], values = [0.1] }",
            "dynamics.dt.schedule = missing: expected one of piecewise, exponential",
        ),
        (
            "tau = { schedule = \"exponential\", start = 0.1, rate = 1.0, slope = 2 }",
            "unknown field `slope`",
        ),
        (
            "dt = { schedule = \"piecewise\", times = [1, 2], values = [0.1, 0.2] }",
            "dynamics.dt.times",
        ),
        (
            "dt = { schedule = \"piecewise\", times = [0, 2, 1], values = [0.1, 0.2, 0.3] }",
            "starting at 0 and strictly increasing",
        ),
        (
            "lambda = { schedule = \"piecewise\", times = [0, 2], values = [0.1] }",
            "one value per breakpoint (2 times)",
        ),
        (
            "dt = { schedule = \"piecewise\", times = [0, 2], values = [0.1, 0.0] }",
            "= [0.1, 0.0]: expected each a finite number > 0",
        ),
        (
            "tau = { schedule = \"exponential\", start = -0.1, rate = 1.0 }",
            "= -0.1: expected a finite number >= 0",
        ),
        (
            "tau = { schedule = \"exponential\", start = 0.1, rate = -1.0 }",
            "dynamics.tau.rate",
        ),
        (
            "dt = { schedule = \"exponential\", start = 0.1, rate = 1.0 }",
            "dynamics.dt.floor = 0: expected a finite number > 0",
        ),
        (
            "tau = { schedule = \"exponential\", start = 0.1, rate = 1.0, times = [0] }",
            "dynamics.tau.times",
        ),
        (
            "integrator = \"heun\"\ntau = { schedule = \"piecewise\", times = [0, 5], values = [0, 0.1] }",
            "\"euler\" when dynamics.tau > 0 (tau = 0.1)",
        ),
        ("dt = \"fast\"", "expected a number or a schedule"),
    ] {
        let message = refused(dynamics);
        assert!(message.contains(expected), "{dynamics}\n{message}");
    }
}

#[test]
fn check_reports_the_end_time_of_a_dt_schedule() {
    let directory = common::scratch_directory("schedules", "check");
    let scenario = directory.join("check.toml");
    let text = "[model]\nd = 3\nm = 10\n[dynamics]\n\
                dt = { schedule = \"piecewise\", times = [0, 10], values = [0.05, 0.01] }\n\
                t_end = 20\n";
    std::fs::write(&scenario, text).unwrap();
    let output = meanfield(&directory)
        .arg("check")
        .arg(&scenario)
        .output()
        .unwrap();
    assert_exit(&output, 0);
    // 200 steps of 0.05 reach t = 10, 1000 steps of 0.01 reach 20.
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("1200 steps of dt = 0.05 at t = 0, scheduled (t_end = 20)"),
        "{message}"
    );
}
