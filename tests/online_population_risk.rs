//! The exact population risk of a data-mode run (`RiskMode::population_risk`, the
//! `population_risk` column): at every logged step it is `PopulationRisk::evaluate` of the same
//! particles, it agrees with a Monte Carlo estimate of 1/2 E[(y - f(x))^2] within 4 standard
//! errors, it is computed on logged steps only, and it exists exactly where the data are
//! Gaussian inputs without bias labelled by the teacher. The held-out set (`risk.test_n`) has
//! 4096 samples by default, and `test_risk` is the risk on exactly those samples.
#![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

mod common;

use meanfield::dynamics::{Control, Observation, Observer};
use meanfield::error::Result;
use meanfield::math::Network;
use meanfield::random::Purpose;
use meanfield::scenario::{RiskSpec, Scenario};
use meanfield::task::{DataScratch, data_risk};
use meanfield::task::{DataSet, InputLaw, PopulationRisk};
use nalgebra::DMatrix;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

const EPS: f64 = f64::EPSILON;

/// An online run: batch 16, d = 3, m = 12, logged every 5 steps.
fn online(activation: &str) -> String {
    format!(
        r#"
name = "online"
seed = 2
[model]
d = 3
m = 12
activation = "{activation}"
[target]
k = 2
noise_std = 0.2
[risk]
mode = "online"
batch = 16
[dynamics]
dt = 0.1
steps = 30
[record]
every = 5
"#
    )
}

/// What an observer saw at one step.
struct Seen {
    step: u64,
    scheduled: bool,
    theta: DMatrix<f64>,
    population_risk: Option<f64>,
    test_risk: Option<f64>,
}

/// Keeps every observation; asks to see every step (not only the logged ones).
#[derive(Default)]
struct Capture(Vec<Seen>);

impl Observer for Capture {
    fn observe(&mut self, o: &Observation<'_>) -> Result<()> {
        self.0.push(Seen {
            step: o.step,
            scheduled: o.scheduled,
            theta: o.theta.clone(),
            population_risk: o.population_risk,
            test_risk: o.test_risk,
        });
        Ok(())
    }

    fn wants(&self, _step: u64) -> bool {
        true
    }
}

/// Runs the scenario `text` and returns it with every observation.
fn observe(text: &str) -> (Scenario, meanfield::scenario::Setup, Vec<Seen>) {
    let scenario = common::scenario(text);
    let mut setup = scenario.setup().unwrap();
    let mut theta = setup.particles.matrix().clone();
    let mut capture = Capture::default();
    setup
        .simulation
        .run(
            &mut theta,
            0,
            scenario.steps,
            scenario.schedule,
            &mut capture,
            &mut |_, _| Control::Continue,
        )
        .unwrap();
    (scenario, setup, capture.0)
}

#[test]
fn population_risk_at_each_logged_step_is_population_risk_evaluate_of_the_same_particles() {
    let empirical = online("tanh").replace(
        "mode = \"online\"\nbatch = 16",
        "mode = \"empirical\"\nn = 40",
    );
    for text in [online("relu"), online("erf"), empirical] {
        let (scenario, setup, seen) = observe(&text);
        let network = scenario.network;
        let mut exact = PopulationRisk::new(
            network.activation,
            setup.target.as_teacher().unwrap().clone(),
        )
        .unwrap();
        let logged: Vec<&Seen> = seen.iter().filter(|s| s.scheduled).collect();
        assert_eq!(logged.len(), 7, "steps 0, 5, ..., 30");
        for s in logged {
            let expected = exact.evaluate(&network, &s.theta, None).unwrap();
            let found = s.population_risk.unwrap();
            // The same deterministic evaluation: equal up to a few ulps at most.
            assert!(
                (found - expected).abs() <= 4.0 * EPS * expected,
                "{}: step {}: {found} against {expected}",
                network.activation,
                s.step
            );
        }
    }
}

#[test]
fn population_risk_is_computed_on_logged_steps_only() {
    let (_, _, seen) = observe(&online("relu"));
    assert_eq!(seen.len(), 31, "the observer asked for every step");
    for s in &seen {
        assert_eq!(s.population_risk.is_some(), s.scheduled, "step {}", s.step);
        assert_eq!(s.scheduled, s.step % 5 == 0, "step {}", s.step);
    }
}

/// 1/2 (y - f(x))^2 for `n` fresh samples x ~ N(0, I_d), y = f*(x) + s xi, computed directly
/// from the particle and teacher matrices: (mean, standard error of the mean).
fn monte_carlo_risk(
    network: &Network,
    theta: &DMatrix<f64>,
    teacher: &DMatrix<f64>,
    noise_std: f64,
    n: usize,
    seed: u64,
) -> (f64, f64) {
    let sigma = |z: f64| network.activation.value(z);
    let (m, d, k) = (theta.nrows(), theta.ncols() - 1, teacher.nrows());
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut x = vec![0.0; d];
    let (mut sum, mut sum_sq) = (0.0, 0.0);
    for _ in 0..n {
        x.iter_mut()
            .for_each(|v| *v = rng.sample::<f64, _>(StandardNormal));
        let neuron = |matrix: &DMatrix<f64>, j: usize| {
            let z: f64 = (0..d).map(|c| matrix[(j, 1 + c)] * x[c]).sum();
            matrix[(j, 0)] * sigma(z)
        };
        let f: f64 =
            (0..m).map(|j| neuron(theta, j)).sum::<f64>() * (m as f64).powf(-network.alpha);
        let f_star: f64 = (0..k).map(|i| neuron(teacher, i)).sum::<f64>() / k as f64;
        let y = f_star + noise_std * rng.sample::<f64, _>(StandardNormal);
        let loss = 0.5 * (y - f) * (y - f);
        sum += loss;
        sum_sq += loss * loss;
    }
    let mean = sum / n as f64;
    let variance = (sum_sq / n as f64 - mean * mean) * n as f64 / (n - 1) as f64;
    (mean, (variance / n as f64).sqrt())
}

#[test]
fn population_risk_agrees_with_monte_carlo_within_four_standard_errors() {
    for (index, activation) in ["relu", "erf", "tanh"].iter().enumerate() {
        let (scenario, setup, seen) = observe(&online(activation));
        for s in seen
            .iter()
            .filter(|s| s.step == 0 || s.step == scenario.steps)
        {
            let exact = s.population_risk.unwrap();
            let (estimate, se) = monte_carlo_risk(
                &scenario.network,
                &s.theta,
                setup.target.as_teacher().unwrap().matrix(),
                scenario.noise_std,
                200_000,
                17 + index as u64,
            );
            assert!(
                (estimate - exact).abs() < 4.0 * se,
                "{activation}, step {}: exact {exact}, Monte Carlo {estimate} +- {se}",
                s.step
            );
        }
    }
}

#[test]
fn the_default_held_out_set_has_4096_samples_and_test_risk_is_the_risk_on_them() {
    let text = online("relu");
    let (scenario, setup, seen) = observe(&text);
    assert_eq!(
        scenario.risk,
        RiskSpec::Online {
            batch: 16,
            test_n: 4096
        }
    );
    assert!(scenario.resolved_toml().unwrap().contains("test_n = 4096"));
    // The held-out set: 4096 samples from the stream (seed, Test, 0, i).
    let law = InputLaw::standard(scenario.d, false);
    let held_out =
        DataSet::generate(4096, law, &setup.target, scenario.seed, Purpose::Test, 0).unwrap();
    let mut scratch = DataScratch::default();
    for s in seen.iter().filter(|s| s.scheduled) {
        let expected =
            data_risk(&scenario.network, &s.theta, &held_out, &mut scratch, None).unwrap();
        assert_eq!(s.test_risk.unwrap(), expected, "step {}", s.step);
    }
    // The same default in empirical mode, whatever n.
    let empirical = common::scenario(&text.replace(
        "mode = \"online\"\nbatch = 16",
        "mode = \"empirical\"\nn = 40",
    ));
    assert_eq!(
        empirical.risk,
        RiskSpec::EmpiricalGenerated {
            n: 40,
            test_n: 4096
        }
    );
    // An explicit size is kept.
    let explicit = common::scenario(&text.replace("batch = 16", "batch = 16\ntest_n = 100"));
    assert_eq!(
        explicit.risk,
        RiskSpec::Online {
            batch: 16,
            test_n: 100
        }
    );
}

#[test]
fn population_risk_exists_only_for_gaussian_inputs_without_bias_and_a_teacher() {
    // With a bias coordinate the kernel formulas do not apply; population mode's own risk is
    // already exact; a data set from files has no input law.
    let bias = online("relu").replace("m = 12", "m = 12\nbias = true");
    let population =
        online("relu").replace("mode = \"online\"\nbatch = 16", "mode = \"population\"");
    let x = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/good/x.npy");
    let y = x.with_file_name("y.npy");
    let files = online("relu").replace("d = 3", "d = 2").replace(
        "mode = \"online\"\nbatch = 16",
        &format!("mode = \"empirical\"\nx_file = {x:?}\ny_file = {y:?}"),
    );
    for (name, text, has) in [
        ("online", online("relu"), true),
        ("bias", bias, false),
        ("population", population, false),
        ("files", files, false),
    ] {
        let text = text.replace("steps = 30", "steps = 2");
        let scenario = common::scenario(&text);
        let mut setup = scenario.setup().unwrap();
        let theta = setup.particles.matrix().clone();
        let risk = setup
            .simulation
            .risk
            .population_risk(&scenario.network, &theta)
            .unwrap();
        assert_eq!(risk.is_some(), has, "{name}");
    }
}

#[test]
fn population_risk_can_be_switched_off_and_is_refused_where_it_does_not_exist() {
    let off = online("relu").replace("batch = 16", "batch = 16\npopulation_risk = false");
    let scenario = common::scenario(&off);
    assert!(!scenario.population_risk);
    assert!(
        scenario
            .resolved_toml()
            .unwrap()
            .contains("population_risk = false")
    );
    let mut setup = scenario.setup().unwrap();
    let theta = setup.particles.matrix().clone();
    let risk = setup
        .simulation
        .risk
        .population_risk(&scenario.network, &theta);
    assert_eq!(risk.unwrap(), None);
    // Written out where it exists, so that the resolved scenario says what was logged.
    let on = common::scenario(&online("relu"));
    assert!(on.population_risk);
    assert!(
        on.resolved_toml()
            .unwrap()
            .contains("population_risk = true")
    );
    // Refused in population mode and where the exact risk does not exist.
    let refused = [
        online("relu").replace(
            "mode = \"online\"\nbatch = 16",
            "mode = \"population\"\npopulation_risk = true",
        ),
        online("relu")
            .replace("m = 12", "m = 12\nbias = true")
            .replace("batch = 16", "batch = 16\npopulation_risk = true"),
    ];
    for text in refused {
        let config = meanfield::scenario::file::parse(&text, "test.toml", &[]).unwrap();
        let error = Scenario::from_config(config, std::path::Path::new("test.toml"), &text, &[])
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("risk.population_risk"), "{error}");
    }
}
