//! `precision = "f32"` on the CPU (`meanfield::backend::HostF32`): the risk of the quickstart
//! stays within the stated relative error of the float64 run over 1000 steps; a single
//! evaluation of every mode is within float32 rounding of float64 (and is not float64); runs
//! are bit-identical on 1, 2 and 3 threads; population mode refuses the quadrature kernels.
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use nalgebra::DMatrix;

/// float32's unit roundoff.
const EPS32: f64 = f32::EPSILON as f64;

/// The scenario `text` with `precision = precision` (a top-level key, first).
fn with_precision(text: &str, precision: &str) -> String {
    format!("precision = \"{precision}\"\n{text}")
}

/// The risks returned by `steps` steps of `text`.
fn risks(text: &str, steps: u64) -> Vec<f64> {
    let mut setup = common::setup(text);
    let mut theta = setup.particles.matrix().clone();
    (0..steps)
        .map(|k| setup.simulation.step(&mut theta, k).unwrap())
        .collect()
}

/// The largest relative deviation of `float32` from `float64`, step by step.
fn max_relative(float32: &[f64], float64: &[f64]) -> f64 {
    float32
        .iter()
        .zip(float64)
        .map(|(a, b)| (a - b).abs() / b.abs())
        .fold(0.0, f64::max)
}

/// The bound: over 1000 steps of the quickstart (population mode, relu, m = 50) the
/// float32 risk is within 1e-5 relative of the float64 risk at every step. The pair sums are
/// float32 over at most 50 terms per particle (a relative rounding of about sqrt(50) eps_32 ~
/// 1e-6 on sums whose difference is the risk); the bound leaves the margin the issue states.
/// The float32 run must also differ from the float64 one by more than float64 rounding (it is
/// single precision).
#[test]
fn quickstart_risk_in_float32_is_within_1e_5_of_float64_over_1000_steps() {
    let text = std::fs::read_to_string("scenarios/quickstart.toml").unwrap();
    let float64 = risks(&text, 1000);
    let float32 = risks(&with_precision(&text, "f32"), 1000);
    let deviation = max_relative(&float32, &float64);
    eprintln!(
        "quickstart, 1000 steps: max relative risk deviation f32 vs f64 = {deviation:.2e} \
         (risk {:.3e} -> {:.3e})",
        float64[0], float64[999]
    );
    assert!(deviation <= 1e-5, "{deviation:e}");
    assert!(
        deviation >= 100.0 * f64::EPSILON,
        "float32 run equals float64: {deviation:e}"
    );
}

/// An online run (relu, a fresh batch of 256 per step, m = 64, d = 8) over 200 steps: the
/// float32 risk follows the float64 risk within 1e-4 relative. Each output is a float64 total
/// of float32 sums over 64 particles (about sqrt(64) eps_32 ~ 1e-6 relative on f), the products
/// round w.x over 8 terms; the risk, a mean of squared residuals, carries the same relative
/// rounding, amplified where the residuals are small against f; 1e-4 leaves that margin.
#[test]
fn online_risk_in_float32_follows_float64() {
    let text = "seed = 2\n[model]\nd = 8\nm = 64\n[target]\nk = 2\n\
                [risk]\nmode = \"online\"\nbatch = 256\n[dynamics]\ndt = 0.05\n";
    let float64 = risks(text, 200);
    let float32 = risks(&with_precision(text, "f32"), 200);
    let deviation = max_relative(&float32, &float64);
    eprintln!("online, 200 steps: max relative risk deviation f32 vs f64 = {deviation:.2e}");
    assert!(deviation <= 1e-4, "{deviation:e}");
    assert!(
        deviation >= 100.0 * f64::EPSILON,
        "float32 run equals float64: {deviation:e}"
    );
}

/// One evaluation of `text` in both precisions: (relative risk deviation, max |g32 - g64| /
/// max |g64|).
fn evaluation_deviation(text: &str) -> (f64, f64) {
    let evaluate = |text: &str| {
        let mut setup = common::setup(text);
        let theta = setup.particles.matrix().clone();
        let mut grad = DMatrix::zeros(theta.nrows(), theta.ncols());
        let risk = setup.simulation.evaluate(&theta, Some(&mut grad)).unwrap();
        (risk, grad)
    };
    let (risk64, grad64) = evaluate(text);
    let (risk32, grad32) = evaluate(&with_precision(text, "f32"));
    let risk = (risk32 - risk64).abs() / risk64.abs();
    let grad = (&grad32 - &grad64).amax() / grad64.amax();
    (risk, grad)
}

/// Every mode and activation with a float32 path, at a random initialisation (m = 300, d = 6:
/// five population tiles, two particle chunks, three sample blocks): the risk and the gradient
/// within 256 eps_32 (3e-5, the worst-case rounding of a float32 sum over a block of at most 256
/// terms, relative to the largest gradient entry) of float64, and not equal to float64 (the
/// float32 path really runs; population mode's linear and quadratic keep their low-rank float64
/// path, but at the particles rounded to float32).
#[test]
fn one_evaluation_is_within_float32_rounding_of_float64_in_every_mode() {
    let bound = 256.0 * EPS32;
    let population = ["relu", "erf", "linear", "quadratic"];
    let all = [
        "relu",
        "erf",
        "tanh",
        "sigmoid",
        "softplus",
        "linear",
        "quadratic",
    ];
    let mut cases = Vec::new();
    for activation in population {
        cases.push((activation, "mode = \"population\""));
    }
    for activation in all {
        cases.push((activation, "mode = \"empirical\"\nn = 300"));
        cases.push((activation, "mode = \"online\"\nbatch = 300"));
    }
    for (activation, risk) in cases {
        let text = format!(
            "seed = 3\n[model]\nd = 6\nm = 300\nactivation = \"{activation}\"\n\
             [target]\nk = 3\n[risk]\n{risk}\n"
        );
        let (risk_deviation, grad_deviation) = evaluation_deviation(&text);
        eprintln!(
            "{activation} {risk:?}: risk {risk_deviation:.1e}, gradient {grad_deviation:.1e}"
        );
        assert!(
            risk_deviation <= bound && grad_deviation <= bound,
            "{activation} {risk}: risk {risk_deviation:e}, gradient {grad_deviation:e}"
        );
        let exact = risk.contains("population") && matches!(activation, "linear" | "quadratic");
        if !exact {
            assert!(
                grad_deviation > 0.0,
                "{activation} {risk}: float32 equals float64"
            );
        }
    }
}

/// Runs `steps` steps of the scenario in a local pool of `threads` threads: the particles and
/// the risks, as bits.
fn trajectory(text: &str, threads: usize, steps: u64) -> (Vec<u64>, Vec<u64>) {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| {
            let mut setup = common::setup(text);
            let mut theta = setup.particles.matrix().clone();
            let risks = (0..steps)
                .map(|k| setup.simulation.step(&mut theta, k).unwrap().to_bits())
                .collect();
            (theta.iter().map(|v| v.to_bits()).collect(), risks)
        })
}

fn assert_thread_independent(text: &str, steps: u64) {
    let text = with_precision(text, "f32");
    let one = trajectory(&text, 1, steps);
    for threads in [2, 3] {
        let many = trajectory(&text, threads, steps);
        assert!(one.1 == many.1, "risks differ on {threads} threads");
        assert!(one.0 == many.0, "particles differ on {threads} threads");
    }
}

/// m = 300: five population tiles (a round-robin with a bye), erf.
#[test]
fn float32_population_runs_are_bit_identical_on_one_two_and_three_threads() {
    assert_thread_independent(
        "seed = 4\n[model]\nd = 5\nm = 300\nactivation = \"erf\"\n[target]\nk = 3\n\
         [dynamics]\ndt = 0.05\ntau = 0.001\n",
        4,
    );
}

/// m = 600: three particle chunks; n = 300: three sample blocks; tanh with a test set.
#[test]
fn float32_empirical_runs_are_bit_identical_on_one_two_and_three_threads() {
    assert_thread_independent(
        "seed = 4\n[model]\nd = 5\nm = 600\nactivation = \"tanh\"\n[target]\nk = 3\n\
         [risk]\nmode = \"empirical\"\nn = 300\ntest_n = 200\n[dynamics]\ndt = 0.05\n",
        4,
    );
}

/// relu online, rk4 (four evaluations on one batch per step).
#[test]
fn float32_online_runs_are_bit_identical_on_one_two_and_three_threads() {
    assert_thread_independent(
        "seed = 4\n[model]\nd = 5\nm = 600\n[target]\nk = 3\nnoise_std = 0.1\n\
         [risk]\nmode = \"online\"\nbatch = 300\n[dynamics]\nintegrator = \"rk4\"\ndt = 0.05\n",
        3,
    );
}

/// Population mode with a quadrature kernel has no float32 form: a scenario error naming
/// `precision` and the activation.
#[test]
fn float32_population_with_a_quadrature_kernel_is_refused_by_name() {
    let text = "precision = \"f32\"\n[model]\nd = 3\nm = 10\nactivation = \"tanh\"\n";
    let config = meanfield::scenario::file::parse(text, "test.toml", &[]).unwrap();
    let error = meanfield::scenario::Scenario::from_config(
        config,
        std::path::Path::new("test.toml"),
        text,
        &[],
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(
        error.contains("precision") && error.contains("tanh"),
        "{error}"
    );
}
