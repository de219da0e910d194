//! The honesty of `meanfield bench`: the plain reference gradient of `bench::reference` against
//! finite differences of the plain reference risk (docs/math.md sections 3 and 4), the optimised
//! gradient against the reference to 1e-12, a self-check that fails on a wrong gradient, the
//! power-law fit of `bench --scaling`, and the files `bench --scaling` writes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::float_cmp,
    reason = "tests: sizes are exact integers"
)]

mod common;

use std::path::Path;
use std::process::Command;

use meanfield::Error;
use meanfield::bench::activations::activation_width;
use meanfield::bench::reference::{
    data_gradient_rows, data_risk, population_gradient_rows, population_risk,
};
use meanfield::bench::scaling::{fit_scaling, fitted_points};
use meanfield::bench::{
    BenchRecord, CHECK_TOLERANCE, ScalingMode, check_rows, compare_rows, self_check,
};
use meanfield::math::Activation;
use meanfield::math::expansion::{Expansion, TOLERANCE as EXPANSION_TOLERANCE};
use meanfield::output::Table;
use meanfield::scenario::Setup;
use meanfield::task::RiskMode;
use nalgebra::DMatrix;

const BIN: &str = env!("CARGO_BIN_EXE_meanfield");

/// A scenario of `m` particles in d = 3 (population mode, or empirical with n = `n`).
fn setup(activation: Activation, m: usize, n: Option<usize>) -> Setup {
    let risk = match n {
        Some(n) => format!("mode = \"empirical\"\nn = {n}\ntest_n = 0"),
        None => "mode = \"population\"".to_string(),
    };
    common::setup(&format!(
        "seed = 5\n[model]\nd = 3\nm = {m}\nactivation = \"{activation}\"\n\
         [target]\nk = 2\nnoise_std = 0.1\n[risk]\n{risk}\n[dynamics]\n"
    ))
}

/// The reference risk and the reference gradient rows of a setup, in its mode.
fn reference(setup: &Setup, theta: &DMatrix<f64>, rows: &[usize]) -> (f64, DMatrix<f64>) {
    let network = setup.simulation.network;
    match &setup.simulation.risk {
        RiskMode::Population(_) => (
            population_risk(&network, setup.target.as_teacher().unwrap(), theta).unwrap(),
            population_gradient_rows(&network, setup.target.as_teacher().unwrap(), theta, rows)
                .unwrap(),
        ),
        RiskMode::Empirical(empirical) => (
            data_risk(&network, empirical.train(), theta).unwrap(),
            data_gradient_rows(&network, empirical.train(), theta, rows).unwrap(),
        ),
        RiskMode::Online(_) => unreachable!("no online setup here"),
    }
}

/// Central-difference step: the error of (R(x + h) - R(x - h)) / 2h is h^2 R''' / 6 (about
/// 1e-11) plus the rounding eps |R| / h (about 2e-11); the tolerance is 10x that, relative to
/// 1 + |g| (as in tests/drift.rs).
const H: f64 = 1e-5;
const FD_TOLERANCE: f64 = 1e-8;

fn reference_matches_finite_differences(activation: Activation, n: Option<usize>) {
    reference_matches_finite_differences_within(activation, n, FD_TOLERANCE);
}

/// The quadrature kernels (tanh, sigmoid, softplus) are within delta = 1e-12 of K per pair
/// (`PairKernel`'s default tolerance), and the rule's spacing may switch between the two
/// evaluations of a difference; the risk
/// R = 1/2 [sum_ii' a*a* K / k^2 - 2 sum_ji a a* K / (m k) + sum_jl a a K / m^2] (+ noise)
/// then carries an error of at most about 1/2 (1 + 2 mean|a| + mean|a|^2) delta <= 3 delta for
/// a ~ N(0, 1), so a central difference can be off by 2 * 3 delta / (2 H) = 3e-7: the
/// tolerance is 3x that.
const FD_TOLERANCE_QUADRATURE: f64 = 1e-6;

fn reference_matches_finite_differences_within(
    activation: Activation,
    n: Option<usize>,
    tolerance: f64,
) {
    let setup = setup(activation, 6, n);
    let theta = setup.particles.matrix().clone();
    let (m, width) = theta.shape();
    let rows: Vec<usize> = (0..m).collect();
    let (_, gradient) = reference(&setup, &theta, &rows);
    for j in 0..m {
        for c in 0..width {
            let mut plus = theta.clone();
            plus[(j, c)] += H;
            let mut minus = theta.clone();
            minus[(j, c)] -= H;
            let difference =
                (reference(&setup, &plus, &[]).0 - reference(&setup, &minus, &[]).0) / (2.0 * H);
            let got = gradient[(j, c)];
            assert!(
                (got - difference).abs() <= tolerance * (1.0 + difference.abs()),
                "{activation} {n:?}: row {j} column {c}: reference {got}, finite differences \
                 {difference}"
            );
        }
    }
}

#[test]
fn population_reference_gradient_matches_finite_differences_relu() {
    reference_matches_finite_differences(Activation::Relu, None);
}

#[test]
fn population_reference_gradient_matches_finite_differences_erf() {
    reference_matches_finite_differences(Activation::Erf, None);
}

#[test]
fn data_reference_gradient_matches_finite_differences_relu() {
    reference_matches_finite_differences(Activation::Relu, Some(40));
}

#[test]
fn population_reference_gradient_matches_finite_differences_linear_and_quadratic() {
    for activation in [Activation::Linear, Activation::Quadratic] {
        reference_matches_finite_differences(activation, None);
    }
}

#[test]
fn population_reference_gradient_matches_finite_differences_tanh() {
    // The reference of `bench --activation tanh`: pair by pair with the quadrature kernel.
    reference_matches_finite_differences_within(Activation::Tanh, None, FD_TOLERANCE_QUADRATURE);
}

#[test]
fn data_reference_gradient_matches_finite_differences_for_the_smooth_activations() {
    // Data mode evaluates sigma and sigma' exactly: the default tolerance.
    for activation in [
        Activation::Erf,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Softplus,
        Activation::Linear,
        Activation::Quadratic,
    ] {
        reference_matches_finite_differences(activation, Some(40));
    }
}

/// The optimised risk and gradient ([`RiskMode::evaluate`]) against the reference: the risk to
/// 1e-12 relative, the gradient through the self-check of `bench` (1e-12 of each column's
/// scale). m = 300 is no multiple of the tile heights, lanes or chunks, so remainders run too.
fn optimised_matches_reference(activation: Activation, m: usize, n: Option<usize>) {
    let mut setup = setup(activation, m, n);
    let theta = setup.particles.matrix().clone();
    let network = setup.simulation.network;
    // The population pass of tanh, sigmoid and softplus is the Mehler expansion, certified to
    // 1e-8 of each pair's scale (`math::expansion`); the reference is the quadrature.
    let allowed = match (n, Expansion::new(activation)) {
        (None, Some(_)) => EXPANSION_TOLERANCE,
        _ => CHECK_TOLERANCE,
    };
    let risk = setup
        .simulation
        .risk
        .evaluate(&network, &theta, None)
        .unwrap();
    let (reference_risk, _) = reference(&setup, &theta, &[]);
    assert!(
        (risk - reference_risk).abs() <= allowed * reference_risk.abs(),
        "{activation} {n:?}: optimised risk {risk}, reference {reference_risk}"
    );
    let deviation = self_check(
        "test",
        &mut setup.simulation,
        setup.target.as_teacher().unwrap(),
        &theta,
    )
    .unwrap();
    assert!(deviation <= allowed, "{activation}: {deviation}");
}

#[test]
fn optimised_population_gradient_agrees_with_reference_to_1e_12() {
    // m = 300: five tiles (an odd count, a round-robin with a bye); m = 256: four.
    for activation in [Activation::Relu, Activation::Erf] {
        optimised_matches_reference(activation, 300, None);
    }
    optimised_matches_reference(Activation::Relu, 256, None);
    // Linear and quadratic take the low-rank path (no pair loop).
    for activation in [Activation::Linear, Activation::Quadratic] {
        optimised_matches_reference(activation, 300, None);
    }
    // The quadrature kernels cost microseconds per pair: fewer particles (still more than the
    // 64 checked rows).
    optimised_matches_reference(Activation::Tanh, 70, None);
}

#[test]
fn optimised_data_gradient_agrees_with_reference_to_1e_12() {
    for activation in [Activation::Relu, Activation::Erf] {
        optimised_matches_reference(activation, 300, Some(700));
    }
}

#[test]
fn comparison_fails_on_a_perturbed_gradient_and_names_the_entry() {
    let mut setup = setup(Activation::Relu, 300, None);
    let theta = setup.particles.matrix().clone();
    let network = setup.simulation.network;
    let rows = check_rows(theta.nrows());
    let (_, reference) = reference(&setup, &theta, &rows);
    let mut gradient = DMatrix::zeros(theta.nrows(), theta.ncols());
    setup
        .simulation
        .risk
        .evaluate(&network, &theta, Some(&mut gradient))
        .unwrap();
    let column = 2;
    let scale = reference.column(column).amax();
    let row = rows[17];
    // Well inside the tolerance: passes.
    let mut close = gradient.clone();
    close[(row, column)] += 1e-14 * scale;
    assert!(compare_rows("pop-test", &close, &reference, &rows, CHECK_TOLERANCE).is_ok());
    // Ten times the tolerance: fails, naming the case, row, column and values.
    let mut wrong = gradient.clone();
    wrong[(row, column)] += 1e-11 * scale;
    let error = compare_rows("pop-test", &wrong, &reference, &rows, CHECK_TOLERANCE).unwrap_err();
    match &error {
        Error::SelfCheck {
            case,
            row: r,
            column: c,
            relative,
            ..
        } => {
            assert_eq!((case.as_str(), *r, *c), ("pop-test", row, column));
            assert!(*relative > 5.0 * CHECK_TOLERANCE, "{relative}");
        }
        other => panic!("expected a self-check error, got {other}"),
    }
    let message = error.to_string();
    for part in ["pop-test", &format!("row {row}"), "column 2 (w_2)"] {
        assert!(message.contains(part), "{message}");
    }
    // A NaN always fails.
    let mut broken = gradient;
    broken[(rows[0], 0)] = f64::NAN;
    assert!(compare_rows("pop-test", &broken, &reference, &rows, CHECK_TOLERANCE).is_err());
}

#[test]
fn checked_rows_spread_over_m_and_include_both_ends() {
    assert_eq!(check_rows(5), vec![0, 1, 2, 3, 4]);
    for m in [65, 300, 4096, 100_000] {
        let rows = check_rows(m);
        assert_eq!(rows.len(), 64, "m = {m}");
        assert_eq!((rows[0], rows[63]), (0, m - 1), "m = {m}");
        assert!(rows.windows(2).all(|pair| pair[0] < pair[1]), "m = {m}");
    }
}

/// A synthetic scaling record of width m and `seconds` per step.
fn record(m: usize, seconds: f64) -> BenchRecord {
    BenchRecord {
        case: format!("m={m},d=32"),
        mode: "population".into(),
        n: None,
        d: 32,
        m,
        k: 4,
        activation: Activation::Relu,
        s_per_step_median: seconds,
        s_per_step_min: seconds,
        s_per_step_max: seconds,
        reps: 1,
        gflops: 1.0,
        threads: 2,
        quick: false,
        check_max_rel_error: 0.0,
        peak_rss_bytes: None,
        bound_gflops: None,
        bound_fraction: None,
        device: None,
    }
}

#[test]
fn scaling_fit_recovers_the_exponent_of_the_upper_points_only() {
    // A fixed cost that dominates below m = 4000, then exactly 1e-9 m^2.
    let widths = [1000, 1600, 2500, 4000, 6300, 10_000];
    let records: Vec<BenchRecord> = widths
        .iter()
        .map(|&m| {
            let m_f = m as f64;
            record(m, if m < 4000 { 0.1 } else { 1e-9 * m_f * m_f })
        })
        .collect();
    let fit = fit_scaling(ScalingMode::Population, &records).unwrap();
    assert_eq!(fit.fitted, vec![4000, 6300, 10_000]);
    assert!((fit.slope - 2.0).abs() < 1e-12, "{}", fit.slope);
    assert!(fit.interval.0 <= fit.slope && fit.slope <= fit.interval.1);
    // Fewer than three upper points: the three largest are fitted.
    let few = fitted_points(ScalingMode::Population, &records[..4]);
    assert_eq!(few, vec![false, true, true, true]);
}

#[test]
fn scaling_ladders_increase_and_respect_the_limits() {
    let population = ScalingMode::Population.ladder(false, None).unwrap();
    let widths: Vec<usize> = population.iter().map(|case| case.m).collect();
    assert_eq!(
        widths,
        vec![
            1000, 1600, 2500, 4000, 6300, 10_000, 16_000, 25_000, 40_000, 63_000, 100_000
        ]
    );
    assert!(
        population
            .iter()
            .all(|case| case.n.is_none() && case.d == 32)
    );
    let data = ScalingMode::Data.ladder(true, None).unwrap();
    let samples: Vec<Option<usize>> = data.iter().map(|case| case.n).collect();
    assert_eq!(
        samples,
        vec![Some(256), Some(512), Some(1024), Some(2048), Some(4096)]
    );
    assert!(data.iter().all(|case| case.m == 4096));
    assert!(ScalingMode::Population.ladder(false, Some(999)).is_err());
}

/// Runs `meanfield bench --scaling MODE --quick --quiet EXTRA --out OUT` and reads the CSV.
fn scaling_run(mode: &str, extra: &[&str], out: &Path) -> Table {
    let output = Command::new(BIN)
        .env("CI", "1")
        .args(["bench", "--scaling", mode, "--quick", "--reps", "2"])
        .args(extra)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Table::read_csv(&out.join(format!("scaling_{mode}.csv"))).unwrap()
}

/// The table of a scaling run: sizes increasing, times positive and ordered, the self-check
/// within its tolerance, and on Linux a peak resident memory per point.
fn check_table(table: &Table, size: &str, expected_sizes: &[f64]) {
    assert_eq!(table.columns[0], size);
    for column in [
        "s_per_step_median",
        "s_per_step_min",
        "s_per_step_max",
        "reps",
        "peak_rss_bytes",
        "threads",
        "check_max_rel_error",
        "fitted",
    ] {
        assert!(table.columns.iter().any(|c| c == column), "no {column}");
    }
    assert_eq!(table.column(size).unwrap(), expected_sizes);
    let median = table.column("s_per_step_median").unwrap();
    let min = table.column("s_per_step_min").unwrap();
    let max = table.column("s_per_step_max").unwrap();
    for i in 0..median.len() {
        assert!(
            0.0 < min[i] && min[i] <= median[i] && median[i] <= max[i] && max[i].is_finite(),
            "row {i}: {} {} {}",
            min[i],
            median[i],
            max[i]
        );
    }
    assert!(
        table
            .column("reps")
            .unwrap()
            .iter()
            .all(|&r| (1.0..=2.0).contains(&r))
    );
    assert!(
        table
            .column("check_max_rel_error")
            .unwrap()
            .iter()
            .all(|&e| (0.0..=CHECK_TOLERANCE).contains(&e))
    );
    if cfg!(target_os = "linux") {
        assert!(
            table
                .column("peak_rss_bytes")
                .unwrap()
                .iter()
                .all(|&b| b > 1e6)
        );
    }
}

fn check_figure(out: &Path, stem: &str) {
    let png = out.join(format!("{stem}.png"));
    assert_eq!(common::png_size(&png), (1200, 800), "{}", png.display());
    let svg = std::fs::read_to_string(out.join(format!("{stem}.svg"))).unwrap();
    assert!(svg.contains("<svg"), "{stem}.svg");
}

#[test]
fn population_scaling_writes_its_table_and_figures() {
    let out = common::scratch_directory("bench", "scaling-population");
    let table = scaling_run("population", &["--max-m", "2000"], &out);
    check_table(&table, "m", &[1000.0, 1600.0]);
    check_figure(&out, "scaling_population");
    let svg = std::fs::read_to_string(out.join("scaling_population.svg")).unwrap();
    assert!(svg.contains("slope"), "no fitted slope in the legend");
    if cfg!(target_os = "linux") {
        check_figure(&out, "scaling_population_memory");
    }
    // Nothing else, and no temporary file left behind.
    let expected: &[&str] = if cfg!(target_os = "linux") {
        &[
            "scaling_population.csv",
            "scaling_population.png",
            "scaling_population.svg",
            "scaling_population_memory.png",
            "scaling_population_memory.svg",
        ]
    } else {
        &[
            "scaling_population.csv",
            "scaling_population.png",
            "scaling_population.svg",
        ]
    };
    assert_eq!(common::file_names(&out), expected);
}

#[test]
fn data_scaling_writes_its_table_and_figures() {
    let out = common::scratch_directory("bench", "scaling-data");
    let table = scaling_run("data", &["--max-n", "512"], &out);
    check_table(&table, "n", &[256.0, 512.0]);
    assert!(table.column("m").unwrap().iter().all(|&m| m == 4096.0));
    check_figure(&out, "scaling_data");
}

#[test]
fn scaling_rejects_an_unknown_mode() {
    let output = Command::new(BIN)
        .args(["bench", "--scaling", "online"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("population, data or activations"),
        "{stderr}"
    );
}

/// Runs `meanfield bench ARGS --json --reps 1` and returns its one JSON record, after checking
/// that the self-check passed within its tolerance.
fn bench_record(args: &[&str]) -> serde_json::Value {
    let output = Command::new(BIN)
        .args(["bench", "--json", "--reps", "1"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{args:?}: {stdout}");
    let record: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    let error = record["check_max_rel_error"].as_f64().unwrap();
    // Population mode of tanh, sigmoid and softplus: the expansion, certified to 1e-8.
    let expanded = record["mode"] == "population"
        && Activation::parse(record["activation"].as_str().unwrap_or("relu"))
            .and_then(Expansion::new)
            .is_some();
    let allowed = if expanded {
        EXPANSION_TOLERANCE
    } else {
        CHECK_TOLERANCE
    };
    assert!((0.0..=allowed).contains(&error), "{record}");
    record
}

#[test]
fn the_json_line_names_relu_by_default() {
    let record = bench_record(&["--size", "m=64,d=8"]);
    assert_eq!(record["activation"], "relu", "{record}");
    assert_eq!(record["mode"], "population", "{record}");
}

#[test]
fn a_tanh_population_point_passes_its_self_check_and_names_tanh() {
    // The self-check's reference is the quadrature, tens of microseconds per pair: a small
    // width, still above the 64 checked rows so that the checked rows are a subset.
    let record = bench_record(&["--size", "m=70,d=8", "--activation", "tanh"]);
    assert_eq!(record["activation"], "tanh", "{record}");
    assert_eq!(record["m"], 70, "{record}");
}

#[test]
fn every_activation_passes_the_data_mode_self_check() {
    // Data mode evaluates sigma and sigma' elementwise: the optimised passes against the
    // reference's `Activation::value` and `derivative` for each of the seven.
    for activation in Activation::ALL {
        let record = bench_record(&[
            "--size",
            "m=100,n=300,d=8",
            "--activation",
            activation.name(),
        ]);
        assert_eq!(record["activation"], activation.name(), "{record}");
        assert_eq!(record["mode"], "data", "{record}");
    }
}

#[test]
fn an_unknown_activation_is_bad_input_naming_the_allowed_ones() {
    let output = Command::new(BIN)
        .args(["bench", "--case", "pop1", "--activation", "gelu"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for part in [
        "gelu",
        "relu, erf, tanh, sigmoid, softplus, linear, quadratic",
    ] {
        assert!(stderr.contains(part), "{stderr}");
    }
}

#[test]
fn a_record_without_an_activation_reads_as_relu() {
    let mut value = serde_json::to_value(record(1000, 0.5)).unwrap();
    value.as_object_mut().unwrap().remove("activation");
    let read: BenchRecord = serde_json::from_value(value).unwrap();
    assert_eq!(read.activation, Activation::Relu);
}

#[test]
fn activation_scaling_writes_seven_rows_and_its_figure() {
    let out = common::scratch_directory("bench", "scaling-activations");
    let output = Command::new(BIN)
        .env("CI", "1")
        .args([
            "bench",
            "--scaling",
            "activations",
            "--quick",
            "--reps",
            "2",
        ])
        .args(["--max-m", "32", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(out.join("scaling_activations.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|c| *c == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|line| line.split(',').collect()).collect();
    let names: Vec<&str> = rows.iter().map(|row| row[column("activation")]).collect();
    let expected: Vec<&str> = Activation::ALL.iter().map(|a| a.name()).collect();
    assert_eq!(names, expected);
    let number = |row: &[&str], name: &str| -> f64 { row[column(name)].parse().unwrap() };
    for (row, activation) in rows.iter().zip(Activation::ALL) {
        let m = number(row, "m");
        // --quick: 256 for every activation, at most --max-m 32.
        let width = activation_width(activation, true, Some(32));
        assert_eq!(width, 32, "{activation}");
        assert_eq!((m, number(row, "d")), (width as f64, 32.0), "{row:?}");
        for (seconds, nanoseconds) in [
            ("s_per_step_median", "ns_per_pair_median"),
            ("s_per_step_min", "ns_per_pair_min"),
            ("s_per_step_max", "ns_per_pair_max"),
        ] {
            let (s, ns) = (number(row, seconds), number(row, nanoseconds));
            assert!(s > 0.0 && s.is_finite(), "{row:?}");
            // ns per pair = 1e9 s / m^2, to the rounding of two operations.
            assert!(
                (ns - 1e9 * s / (m * m)).abs() <= 4.0 * f64::EPSILON * ns,
                "{row:?}"
            );
        }
        let (min, median, max) = (
            number(row, "s_per_step_min"),
            number(row, "s_per_step_median"),
            number(row, "s_per_step_max"),
        );
        assert!(min <= median && median <= max, "{row:?}");
        assert!((1.0..=2.0).contains(&number(row, "reps")), "{row:?}");
        let error = number(row, "check_max_rel_error");
        // The expansion's pass is certified to 1e-8 against the reference's quadrature.
        let allowed = if Expansion::new(activation).is_some() {
            EXPANSION_TOLERANCE
        } else {
            CHECK_TOLERANCE
        };
        assert!((0.0..=allowed).contains(&error), "{row:?}");
    }
    check_figure(&out, "scaling_activations");
    assert_eq!(
        common::file_names(&out),
        [
            "scaling_activations.csv",
            "scaling_activations.png",
            "scaling_activations.svg"
        ]
    );
}

#[test]
fn activation_is_refused_beside_scaling() {
    let output = Command::new(BIN)
        .args(["bench", "--scaling", "population", "--activation", "tanh"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}
