//! The problems of docs/problems.md through scenario files: the default keys written out
//! reproduce today's trajectories bit for bit, the input laws draw what they say, and the
//! targets label what they say.
#![allow(
    clippy::unwrap_used,
    clippy::float_cmp,
    reason = "tests: labels and signs are exact"
)]

mod common;

use common::{advance, setup};
use meanfield::random::Purpose;
use meanfield::task::{DataSet, InputLaw, Target};

/// A small scenario in `mode` with `extra` sections appended.
fn text(mode: &str, extra: &str) -> String {
    let risk = match mode {
        "population" => "[risk]\nmode = \"population\"\n".to_string(),
        "online" => "[risk]\nmode = \"online\"\nbatch = 32\ntest_n = 16\n".to_string(),
        _ => "[risk]\nmode = \"empirical\"\nn = 40\ntest_n = 16\n".to_string(),
    };
    format!(
        "seed = 7\n[model]\nd = 3\nm = 9\nactivation = \"relu\"\n[target]\nk = 2\n{risk}\
         [dynamics]\ndt = 0.1\nsteps = 12\n{extra}"
    )
}

/// The `[input]` / `[target]` spellings of the default problem.
const DEFAULT_SPELLINGS: [&str; 3] = [
    "[input]\nlaw = \"gaussian\"\ncovariance = \"identity\"\n",
    "[input]\nlaw = \"mixture\"\ncomponents = [ { weight = 1.0, scale = 1.0, label = 0.0 } ]\n",
    "[input]\ncovariance = { diag = [1.0, 1.0, 1.0] }\n",
];

#[test]
fn the_default_problem_spelled_out_gives_the_same_trajectory_bit_for_bit() {
    for mode in ["population", "online", "empirical"] {
        let reference = advance(&mut setup(&text(mode, "")), 12);
        for spelling in DEFAULT_SPELLINGS {
            let theta = advance(&mut setup(&text(mode, spelling)), 12);
            assert_eq!(theta, reference, "{mode} with {spelling}");
        }
        // The teacher's activation named as the student's.
        let named = text(mode, "").replace("k = 2\n", "k = 2\nactivation = \"relu\"\n");
        assert_eq!(advance(&mut setup(&named), 12), reference, "{mode}, named");
    }
}

#[test]
fn the_resolved_scenario_of_the_default_problem_has_no_new_keys() {
    let resolved = common::scenario(&text("online", ""))
        .resolved_toml()
        .unwrap();
    for key in ["[input]", "kind", "loss", "activation = \"relu\"\n[target]"] {
        assert!(!resolved.contains(key), "{key} in\n{resolved}");
    }
}

/// The sample mean and standard error of g over the rows of a data set.
fn mean_se(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

#[test]
fn mixture_draws_have_the_component_weights_scales_and_labels() {
    let extra = "[input]\nlaw = \"mixture\"\ncomponents = [ { weight = 0.3, scale = 2.0, label = 1.0 }, \
                 { weight = 0.7, scale = 0.5, label = -1.0 } ]\n";
    let s = common::scenario(&text("online", extra).replace("k = 2\n", "kind = \"label\"\n"));
    let target = s.target_function().unwrap();
    let law = InputLaw {
        d: s.d,
        bias: false,
        shape: s.input.clone(),
    };
    let n = 40_000;
    let data = DataSet::generate(n, law, &target, 1, Purpose::Data, 0).unwrap();
    let labels = data.labels();
    // P(y = 1) = 0.3: within 4 binomial standard errors.
    let ones: Vec<f64> = labels
        .iter()
        .map(|&y| f64::from(u8::from(y == 1.0)))
        .collect();
    let (p, se) = mean_se(&ones);
    assert!((p - 0.3).abs() < 4.0 * se, "P(y = 1) = {p} +- {se}");
    assert!(labels.iter().all(|&y| y == 1.0 || y == -1.0));
    // E[x_1^2 | class] = scale^2 per component.
    for (label, scale) in [(1.0, 2.0), (-1.0, 0.5)] {
        let squares: Vec<f64> = (0..n)
            .filter(|&i| labels[i] == label)
            .map(|i| data.inputs()[(0, i)].powi(2))
            .collect();
        let (m2, se) = mean_se(&squares);
        let expected: f64 = scale * scale;
        assert!((m2 - expected).abs() < 4.0 * se, "{label}: {m2} +- {se}");
    }
}

#[test]
fn covariance_draws_have_the_covariance() {
    let extra = "[input]\ncovariance = { diag = [4.0, 1.0, 0.25] }\n";
    let s = common::scenario(&text("online", extra));
    let law = InputLaw {
        d: s.d,
        bias: false,
        shape: s.input.clone(),
    };
    let target = s.target_function().unwrap();
    let n = 40_000;
    let data = DataSet::generate(n, law, &target, 2, Purpose::Data, 0).unwrap();
    for (c, variance) in [4.0, 1.0, 0.25].into_iter().enumerate() {
        let squares: Vec<f64> = (0..n).map(|i| data.inputs()[(c, i)].powi(2)).collect();
        let (m2, se) = mean_se(&squares);
        assert!(
            (m2 - variance).abs() < 4.0 * se,
            "coordinate {c}: {m2} +- {se}"
        );
    }
    // Off-diagonal: E[x_1 x_2] = 0.
    let products: Vec<f64> = (0..n)
        .map(|i| data.inputs()[(0, i)] * data.inputs()[(1, i)])
        .collect();
    let (m, se) = mean_se(&products);
    assert!(m.abs() < 4.0 * se, "E x1 x2 = {m} +- {se}");
}

#[test]
fn rademacher_parity_and_hermite_labels_are_their_formulas() {
    let parity = "[input]\nlaw = \"rademacher\"\n";
    let s = common::scenario(
        &text("online", parity).replace("k = 2\n", "kind = \"parity\"\ncoordinates = [1, 3]\n"),
    );
    let target = s.target_function().unwrap();
    let law = InputLaw {
        d: s.d,
        bias: false,
        shape: s.input.clone(),
    };
    let data = DataSet::generate(500, law, &target, 3, Purpose::Data, 0).unwrap();
    for i in 0..500 {
        let x = data.inputs().column(i);
        assert!(x.iter().all(|&v| v == 1.0 || v == -1.0));
        assert_eq!(data.labels()[i], x[0] * x[2]);
    }
    let hermite = common::scenario(&text("online", "").replace(
        "k = 2\n",
        "kind = \"hermite\"\nterms = [ { direction = 2, degree = 3, coef = 2.0 } ]\n",
    ));
    let target = hermite.target_function().unwrap();
    // He_3(z) = z^3 - 3 z, normalised by sqrt(3!).
    let x = [0.3, 1.7, -0.2];
    let expected = 2.0 * (1.7f64.powi(3) - 3.0 * 1.7) / 6f64.sqrt();
    assert!((target.value(&x) - expected).abs() < 1e-14);
}

/// The fraction of a fresh Rademacher set (stream seed 99) that the network misclassifies,
/// sign(f(x)) != y (sign(0) counts as an error).
fn parity_error(text: &str, steps: u64) -> f64 {
    let mut s = setup(text);
    let theta = advance(&mut s, steps);
    let scenario = common::scenario(text);
    let law = InputLaw {
        d: scenario.d,
        bias: scenario.bias,
        shape: scenario.input.clone(),
    };
    let test = DataSet::generate(2000, law, &s.target, 99, Purpose::Test, 0).unwrap();
    let particles = meanfield::math::Particles::new(theta).unwrap();
    let wrong = (0..test.n())
        .filter(|&i| {
            let x: Vec<f64> = test.inputs().column(i).iter().copied().collect();
            let f = scenario.network.output(&particles, &x);
            (f * test.labels()[i]).partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
        })
        .count();
    wrong as f64 / test.n() as f64
}

/// One-pass SGD on a parity of `coordinates` over {-1, +1}^16, relu, m = 512.
fn parity_scenario(coordinates: &str, bias: bool) -> String {
    format!(
        "seed = 1\n[model]\nd = 16\nm = 512\nactivation = \"relu\"\nbias = {bias}\n\
         [input]\nlaw = \"rademacher\"\n[target]\nkind = \"parity\"\ncoordinates = {coordinates}\n\
         [risk]\nmode = \"online\"\nbatch = 256\ntest_n = 0\n[dynamics]\ndt = 0.2\nsteps = 100\n"
    )
}

#[test]
fn a_degree_two_parity_is_learned_and_a_degree_three_one_is_not_without_bias() {
    // x1 x2 = (|x1 + x2| - |x1 - x2|) / 2 and |z| = relu(z) + relu(-z): a relu network without
    // bias represents it, and one-pass SGD finds it by t = 20 (100 steps of 0.2).
    let error = parity_error(&parity_scenario("[1, 2]", false), 100);
    assert!(error < 0.05, "degree 2: classification error {error}");
    // The negative control: relu(z) = z / 2 + |z| / 2, so without bias the odd part of the
    // network is linear in x, and a degree-3 parity (odd, orthogonal to every linear function
    // on the hypercube) stays at chance: the error of a coin, 0.5 within a few binomial
    // standard errors of 2000 samples (sd 0.011), far above 0.05.
    let error = parity_error(&parity_scenario("[1, 2, 3]", false), 100);
    assert!(
        (error - 0.5).abs() < 5.0 * 0.5 / 2000f64.sqrt(),
        "degree 3 without bias: classification error {error}"
    );
}
