//! The logistic loss of the data modes (docs/problems.md, "The logistic loss"):
//! R = mean_i log(1 + exp(-y_i f(x_i))) and its gradient against central finite differences
//! (relu and erf, alpha 1 and 1/2), R = log 2 at f = 0, no overflow at |f| = 800, the
//! classification error on a hand-built set and in the series columns, the energy identity
//! dE/dt = -D on a fixed data set, thread-count independence, and the square loss running
//! exactly the operations of the function that preceded the logistic loss (kept below).
#![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

use meanfield::diagnostics::recorder::{RecordOptions, Recorder, RunFacts};
use meanfield::diagnostics::scalars::{dissipation, objective};
use meanfield::dynamics::{Control, Dynamics, Integrator, Observation, Observer, Schedule};
use meanfield::math::{Activation, Network};
use meanfield::task::{
    ClassificationError, DataScratch, DataSet, EmpiricalRisk, Loss, RiskMode, data_risk,
    data_risk_with, softplus,
};
use meanfield::{Error, dynamics::Simulation};
use nalgebra::DMatrix;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

const EPS: f64 = f64::EPSILON;

/// A d x n Gaussian input matrix and m x (1 + d) Gaussian particles, from `seed`.
fn gaussian(rows: usize, cols: usize, rng: &mut Xoshiro256PlusPlus) -> DMatrix<f64> {
    DMatrix::from_fn(rows, cols, |_, _| rng.sample(StandardNormal))
}

/// n Gaussian inputs in R^d labelled by the sign of a fixed linear teacher, flipped with
/// probability 1/5 (so the classes overlap and the risk stays away from 0).
fn sign_data(n: usize, d: usize, seed: u64) -> DataSet {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let inputs = gaussian(d, n, &mut rng);
    let labels = (0..n)
        .map(|i| {
            let margin: f64 = inputs
                .column(i)
                .iter()
                .enumerate()
                .map(|(c, x)| x / (1.0 + c as f64))
                .sum();
            let sign = if margin > 0.0 { 1.0 } else { -1.0 };
            if rng.random::<f64>() < 0.2 {
                -sign
            } else {
                sign
            }
        })
        .collect();
    DataSet::new(inputs, labels).unwrap()
}

/// The logistic risk on `data`, and its gradient into `grad` when given.
fn logistic(
    network: &Network,
    theta: &DMatrix<f64>,
    data: &DataSet,
    grad: Option<&mut DMatrix<f64>>,
) -> f64 {
    let mut scratch = DataScratch::default();
    data_risk_with(network, theta, data, &mut scratch, grad, Loss::Logistic).unwrap()
}

/// The central difference (R(x + h) - R(x - h)) / 2h has error h^2 R''' / 6 plus the rounding
/// of R, about eps |R| / h per evaluation. R''' along the coordinate is estimated from the
/// five-point stencil at step 1e-2; the tolerance is 10 times the sum (and 10 eps times the
/// gradient's own size for its rounding).
#[test]
fn gradient_matches_central_differences_for_relu_and_erf_at_both_scalings() {
    const H: f64 = 1e-5;
    const WIDE: f64 = 1e-2;
    // n = 200: two sample blocks; m = 6, d = 3.
    let data = sign_data(200, 3, 11);
    for activation in [Activation::Relu, Activation::Erf] {
        for alpha in [1.0, 0.5] {
            let network = Network::new(activation, alpha).unwrap();
            let theta = gaussian(6, 4, &mut Xoshiro256PlusPlus::seed_from_u64(5));
            let mut grad = DMatrix::zeros(6, 4);
            let risk = logistic(&network, &theta, &data, Some(&mut grad));
            // The drift of a simulation is -m^(2 alpha - 1) times this gradient.
            let mut simulation =
                empirical_simulation(network, data.clone(), 0.0, Integrator::Euler, 0.1);
            let mut velocity = DMatrix::zeros(6, 4);
            simulation.velocity(&theta, &mut velocity, 0).unwrap();
            let time_scale = network.time_scale(6);
            for j in 0..6 {
                for c in 0..4 {
                    let at = |h: f64| {
                        let mut moved = theta.clone();
                        moved[(j, c)] += h;
                        logistic(&network, &moved, &data, None)
                    };
                    let difference = (at(H) - at(-H)) / (2.0 * H);
                    let third = (at(2.0 * WIDE) - 2.0 * at(WIDE) + 2.0 * at(-WIDE)
                        - at(-2.0 * WIDE))
                        / (2.0 * WIDE.powi(3));
                    let g = grad[(j, c)];
                    let tolerance =
                        10.0 * (H * H / 6.0 * third.abs() + EPS * risk / H + EPS * g.abs());
                    let label = format!("{activation} alpha {alpha} particle {j} column {c}");
                    assert!(
                        (g - difference).abs() <= tolerance,
                        "{label}: gradient {g}, finite differences {difference}, tolerance {tolerance}"
                    );
                    assert_eq!(velocity[(j, c)], -time_scale * g, "{label}: drift");
                }
            }
        }
    }
}

/// A simulation of the logistic risk on `train` (empirical mode, tau = 0).
fn empirical_simulation(
    network: Network,
    train: DataSet,
    lambda: f64,
    integrator: Integrator,
    dt: f64,
) -> Simulation {
    let risk = EmpiricalRisk::new(train, None)
        .with_loss(Loss::Logistic)
        .unwrap();
    let dynamics = Dynamics {
        lambda,
        ..Dynamics::default()
    };
    Simulation::new(
        network,
        dynamics,
        RiskMode::Empirical(Box::new(risk)),
        integrator,
        dt,
        3,
    )
    .unwrap()
}

/// f = 0 (all a_j = 0): every term is softplus(0) = log 2, so R = log 2 up to the rounding of
/// the mean (n eps log 2); l'(0, y) = -y / 2, so dR/da_j = -m^(-alpha) mean_i y_i sigma(w_j . x_i) / 2,
/// computed here directly, and dR/dw_j = 0.
#[test]
fn risk_at_zero_output_is_log_two() {
    let data = sign_data(150, 3, 2);
    let network = Network::new(Activation::Erf, 1.0).unwrap();
    let mut theta = gaussian(5, 4, &mut Xoshiro256PlusPlus::seed_from_u64(9));
    theta.column_mut(0).fill(0.0);
    let mut grad = DMatrix::zeros(5, 4);
    let risk = logistic(&network, &theta, &data, Some(&mut grad));
    let n = data.n() as f64;
    assert!(
        (risk - std::f64::consts::LN_2).abs() <= n * EPS * std::f64::consts::LN_2,
        "R = {risk}"
    );
    for j in 0..5 {
        let mut sum = 0.0;
        for i in 0..data.n() {
            let z: f64 = (0..3)
                .map(|c| theta[(j, 1 + c)] * data.inputs()[(c, i)])
                .sum();
            sum += data.labels()[i] * Activation::Erf.value(z);
        }
        let expected = -network.output_scale(5) * sum / (2.0 * n);
        assert!(
            (grad[(j, 0)] - expected).abs() <= 10.0 * n * EPS * (1.0 + expected.abs()),
            "a {j}"
        );
        for c in 1..4 {
            assert_eq!(grad[(j, c)], 0.0, "w {j}, {c}");
        }
    }
}

/// One linear neuron a = 800, w = e_1 and inputs x = +-e_1: f = +-800. The terms are
/// softplus(-800) = 0 (exp(-800) underflows) and softplus(800) = 800, never log(inf); the
/// gradient uses l'(f, y) = -y / (1 + exp(y f)), which is 0 or -y there.
#[test]
fn the_loss_and_its_gradient_stay_finite_at_output_800() {
    let network = Network::new(Activation::Linear, 1.0).unwrap();
    let theta = DMatrix::from_row_slice(1, 3, &[800.0, 1.0, 0.0]);
    // f = 800, 800, -800, -800 with labels +1, -1, +1, -1.
    let inputs = DMatrix::from_column_slice(2, 4, &[1.0, 0.0, 1.0, 0.0, -1.0, 0.0, -1.0, 0.0]);
    let data = DataSet::new(inputs, vec![1.0, -1.0, 1.0, -1.0]).unwrap();
    let mut grad = DMatrix::zeros(1, 3);
    let risk = logistic(&network, &theta, &data, Some(&mut grad));
    // Terms 0, 800, 800, 0.
    assert_eq!(risk, 400.0);
    // dR/da = mean_i l'_i x_i1 = (0 + 1 * 1 + (-1) * (-1) + 0) / 4; dR/dw_1 = a dR/da.
    assert_eq!(grad[(0, 0)], 0.5);
    assert_eq!(grad[(0, 1)], 400.0);
    assert_eq!(grad[(0, 2)], 0.0);
    assert_eq!(softplus(-800.0), 0.0);
    assert_eq!(softplus(800.0), 800.0);
    // Small arguments keep their digits: softplus(-40) = exp(-40) to rounding.
    assert!((softplus(-40.0) / (-40.0f64).exp() - 1.0).abs() <= 2.0 * EPS);
}

/// f(x) = x_1 (one linear neuron a = 1, w = e_1, m = 1): the errors are counted by hand.
#[test]
fn classification_error_counts_sign_mismatches_and_zero_outputs() {
    let network = Network::new(Activation::Linear, 1.0).unwrap();
    let theta = DMatrix::from_row_slice(1, 3, &[1.0, 1.0, 0.0]);
    let train = DataSet::new(
        DMatrix::from_column_slice(2, 5, &[2.0, 7.0, -1.0, 0.0, 0.0, 3.0, 0.5, -2.0, -3.0, 1.0]),
        // f = 2, -1, 0, 0.5, -3: right, wrong, zero (wrong), wrong, right.
        vec![1.0, 1.0, 1.0, -1.0, -1.0],
    )
    .unwrap();
    let test = DataSet::new(
        DMatrix::from_column_slice(2, 4, &[1.0, 0.0, -1.0, 0.0, 1.0, 0.0, -1.0, 0.0]),
        // f = 1, -1, 1, -1: right, right, wrong, right.
        vec![1.0, -1.0, -1.0, -1.0],
    )
    .unwrap();
    let mut risk = RiskMode::Empirical(Box::new(
        EmpiricalRisk::new(train.clone(), Some(test.clone())).with_classification(true),
    ));
    assert!(risk.reports_classification());
    assert_eq!(
        risk.classification_error(&network, &theta).unwrap(),
        Some(ClassificationError {
            train: 3.0 / 5.0,
            test: Some(1.0 / 4.0)
        })
    );
    let mut quiet = RiskMode::Empirical(Box::new(EmpiricalRisk::new(train, Some(test))));
    assert!(!quiet.reports_classification());
    assert_eq!(quiet.classification_error(&network, &theta).unwrap(), None);
    assert_eq!(quiet.loss(), Loss::Square);
}

#[test]
fn the_logistic_loss_rejects_labels_other_than_signs() {
    let inputs = DMatrix::from_element(2, 4, 1.0);
    let data = DataSet::new(inputs, vec![1.0, -1.0, 0.5, 1.0]).unwrap();
    let err = data.check_signs().unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("label 2"), "{err}");
    let err = EmpiricalRisk::new(data.clone(), None)
        .with_loss(Loss::Logistic)
        .unwrap_err();
    assert!(err.to_string().contains("label 2"), "{err}");
    // The square loss takes any label.
    assert!(
        EmpiricalRisk::new(data, None)
            .with_loss(Loss::Square)
            .is_ok()
    );
}

/// m = 300 (two particle chunks), n = 300 (three sample blocks), d = 4: the square loss gives
/// the same bits as the function that preceded the logistic loss, risk and gradient, for relu
/// (its own backward path), erf and tanh, at both scalings.
#[test]
fn square_loss_runs_the_operations_it_ran_before() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(21);
    let inputs = gaussian(4, 300, &mut rng);
    let labels = (0..300).map(|_| rng.sample(StandardNormal)).collect();
    let data = DataSet::new(inputs, labels).unwrap();
    let theta = gaussian(300, 5, &mut rng);
    for activation in [Activation::Relu, Activation::Erf, Activation::Tanh] {
        for alpha in [1.0, 0.5] {
            let network = Network::new(activation, alpha).unwrap();
            let mut grad = DMatrix::zeros(300, 5);
            let mut old_grad = DMatrix::zeros(300, 5);
            let mut scratch = DataScratch::default();
            let mut old_scratch = old::OldScratch::default();
            let risk = data_risk(&network, &theta, &data, &mut scratch, Some(&mut grad)).unwrap();
            let old_risk = old::old_data_risk(
                &network,
                &theta,
                &data,
                &mut old_scratch,
                Some(&mut old_grad),
            );
            assert_eq!(
                risk.to_bits(),
                old_risk.to_bits(),
                "{activation} alpha {alpha}"
            );
            assert!(
                grad.iter()
                    .zip(old_grad.iter())
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{activation} alpha {alpha}: gradient bits differ"
            );
            let value = data_risk(&network, &theta, &data, &mut scratch, None).unwrap();
            let old_value = old::old_data_risk(&network, &theta, &data, &mut old_scratch, None);
            assert_eq!(
                value.to_bits(),
                old_value.to_bits(),
                "{activation} alpha {alpha}: no gradient"
            );
            let with =
                data_risk_with(&network, &theta, &data, &mut scratch, None, Loss::Square).unwrap();
            assert_eq!(with.to_bits(), old_value.to_bits());
        }
    }
}

/// The logistic risk, its gradient and the classification error are the same bits on 1 and 4
/// threads (m = 300, n = 300: several chunks and blocks).
#[test]
fn logistic_results_do_not_depend_on_the_thread_count() {
    let data = sign_data(300, 4, 8);
    let theta = gaussian(300, 5, &mut Xoshiro256PlusPlus::seed_from_u64(4));
    let network = Network::new(Activation::Tanh, 1.0).unwrap();
    let compute = || {
        let mut grad = DMatrix::zeros(300, 5);
        let risk = logistic(&network, &theta, &data, Some(&mut grad));
        let mut scratch = DataScratch::default();
        let error =
            meanfield::task::classification_error(&network, &theta, &data, &mut scratch).unwrap();
        (
            risk.to_bits(),
            grad.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            error.to_bits(),
        )
    };
    let on = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(compute)
    };
    assert_eq!(on(1), on(4));
}

/// (time, E, D) at every step.
#[derive(Default)]
struct Energy(Vec<(f64, f64, f64)>);

impl Observer for Energy {
    fn observe(&mut self, o: &Observation<'_>) -> meanfield::Result<()> {
        self.0.push((
            o.time,
            objective(o.network, o.dynamics, o.risk, o.theta),
            dissipation(o.network, o.dynamics, o.velocity),
        ));
        Ok(())
    }
}

/// E(t_k) and D(t_k) along an RK4 run of the logistic risk on a fixed data set up to t = 1.
fn energy_path(lambda: f64, alpha: f64, dt: f64) -> Vec<(f64, f64, f64)> {
    let network = Network::new(Activation::Erf, alpha).unwrap();
    let mut simulation =
        empirical_simulation(network, sign_data(64, 3, 31), lambda, Integrator::Rk4, dt);
    let mut theta = gaussian(20, 4, &mut Xoshiro256PlusPlus::seed_from_u64(17));
    let steps = (1.0 / dt).round() as u64;
    let mut energy = Energy::default();
    simulation
        .run(
            &mut theta,
            0,
            steps,
            Schedule::Every(1),
            &mut energy,
            &mut |_, _| Control::Continue,
        )
        .unwrap();
    energy.0
}

/// The largest gap |-(E(t + dt) - E(t - dt)) / 2 dt - D(t)| along the path, and the bound on
/// the central difference's error dt^2 max|E'''| / 6, E''' from the five-point stencil of the
/// logged E (the RK4 error, O(dt^4), is far below).
fn identity_gap(path: &[(f64, f64, f64)], dt: f64) -> (f64, f64) {
    let gap = path
        .windows(3)
        .map(|w| (-(w[2].1 - w[0].1) / (w[2].0 - w[0].0) - w[1].2).abs())
        .fold(0.0, f64::max);
    let third = path
        .windows(5)
        .map(|w| ((w[4].1 - 2.0 * w[3].1 + 2.0 * w[1].1 - w[0].1) / (2.0 * dt.powi(3))).abs())
        .fold(0.0, f64::max);
    (gap, dt * dt / 6.0 * third)
}

/// The energy identity with the logistic loss (docs/problems.md): E = R + (lambda/2)
/// m^(2 - 2 alpha) mean_j |theta_j|^2 never increases along the flow, and D = -dE/dt: the gap
/// between D and the central difference of E is within twice the difference's error bound
/// (plus the rounding of E over 2 dt), and it falls by about 4 (3 to 5) when dt halves.
#[test]
fn the_energy_identity_holds_with_the_logistic_loss() {
    for (lambda, alpha) in [(0.0, 1.0), (0.2, 1.0), (0.1, 0.5)] {
        let label = format!("lambda {lambda} alpha {alpha}");
        let coarse_dt = 0.04;
        let coarse = energy_path(lambda, alpha, coarse_dt);
        let fine = energy_path(lambda, alpha, coarse_dt / 2.0);
        for path in [&coarse, &fine] {
            for w in path.windows(2) {
                assert!(
                    w[1].1 <= w[0].1 + 4.0 * EPS * w[0].1.abs(),
                    "{label}: E rose {} -> {}",
                    w[0].1,
                    w[1].1
                );
            }
        }
        let (coarse_gap, coarse_bound) = identity_gap(&coarse, coarse_dt);
        let (fine_gap, fine_bound) = identity_gap(&fine, coarse_dt / 2.0);
        let rounding = 4.0 * EPS * coarse[0].1.abs() / coarse_dt;
        assert!(
            coarse_gap <= 2.0 * coarse_bound + rounding,
            "{label}: gap {coarse_gap}, bound {coarse_bound}"
        );
        assert!(
            fine_gap <= 2.0 * fine_bound + 2.0 * rounding,
            "{label}: gap {fine_gap}, bound {fine_bound}"
        );
        let ratio = coarse_gap / fine_gap;
        assert!(
            (3.0..5.0).contains(&ratio),
            "{label}: gaps {coarse_gap}, {fine_gap}, ratio {ratio}"
        );
    }
}

/// The recorder's classification columns: only with `with_classification`, placed after the
/// risk columns, holding the errors of the logged states on the training and test sets.
#[test]
fn series_columns_hold_the_classification_errors_of_logged_steps() {
    let network = Network::new(Activation::Relu, 1.0).unwrap();
    let train = sign_data(100, 3, 41);
    let test = sign_data(50, 3, 42);
    let risk = EmpiricalRisk::new(train.clone(), Some(test.clone()))
        .with_loss(Loss::Logistic)
        .unwrap()
        .with_classification(true);
    let mut simulation = Simulation::new(
        network,
        Dynamics::default(),
        RiskMode::Empirical(Box::new(risk)),
        Integrator::Euler,
        0.2,
        1,
    )
    .unwrap();
    let initial = gaussian(16, 4, &mut Xoshiro256PlusPlus::seed_from_u64(43));
    let facts = RunFacts {
        initial: &initial,
        teacher: None,
        has_test: true,
        has_population: false,
        total_steps: 20,
        dt: 0.2,
        seed: 1,
        d: 3,
        bias: false,
        network: &network,
        tau: 0.0,
    };
    let options = RecordOptions {
        snapshots: 0,
        probes: 0,
        ..RecordOptions::default()
    };
    let plain = Recorder::new(&facts, options);
    assert!(
        !plain
            .series()
            .columns
            .iter()
            .any(|c| c.contains("classification"))
    );
    let mut recorder = Recorder::new(&facts, options).with_classification(true);
    let columns = &recorder.series().columns;
    assert_eq!(
        &columns[2..5],
        ["risk", "test_risk", "classification_error"]
    );
    assert_eq!(columns[5], "test_classification_error");
    assert_eq!(columns.len(), plain.series().columns.len() + 2);
    let mut theta = initial.clone();
    simulation
        .run(
            &mut theta,
            0,
            20,
            Schedule::Every(10),
            &mut recorder,
            &mut |_, _| Control::Continue,
        )
        .unwrap();
    let rows = &recorder.series().rows;
    assert_eq!(rows.len(), 3);
    // The last row is the final state: its errors recomputed directly.
    let mut scratch = DataScratch::default();
    let last = rows.last().unwrap();
    let train_error =
        meanfield::task::classification_error(&network, &theta, &train, &mut scratch).unwrap();
    let test_error =
        meanfield::task::classification_error(&network, &theta, &test, &mut scratch).unwrap();
    assert_eq!((last[4], last[5]), (train_error, test_error));
    // Descending the logistic risk lowers the training error of these overlapping classes.
    assert!(last[4] < rows[0][4], "errors {} -> {}", rows[0][4], last[4]);
}

// ---------------------------------------------------------------------------------------------
// The square-loss data risk as it was before the logistic loss (src/task/data_risk.rs at the
// commit "task/problem.rs: input laws ..."), kept verbatim but for its error return: the
// reference of `square_loss_runs_the_operations_it_ran_before`.

mod old {
    #![allow(clippy::too_many_lines, reason = "the function as it was")]
    use faer::linalg::matmul::matmul;
    use faer::{Accum, MatMut, MatRef, Par};
    use meanfield::math::{Activation, Network, lanes};
    use meanfield::task::DataSet;
    use nalgebra::DMatrix;
    use rayon::prelude::*;

    /// Particles per chunk in the data modes.
    const PARTICLE_CHUNK: usize = 256;
    /// Samples per block in the data modes: a chunk's block slab is 256 x 128 floats (256 KiB).
    const SAMPLE_BLOCK: usize = 128;

    /// A column-major view of W = columns 1..=d of the m x (1 + d) particle matrix.
    fn w_view(theta: &DMatrix<f64>) -> MatRef<'_, f64> {
        let m = theta.nrows();
        let d = theta.ncols() - 1;
        MatRef::from_column_major_slice_with_stride(&theta.as_slice()[m..], m, d, m)
    }

    /// Per-chunk buffers of the data modes: one chunk of particles against one block of samples.
    #[derive(Default)]
    struct ParticleChunk {
        first: usize,
        len: usize,
        /// sigma(w_j . x_i), chunk x block, column-major.
        activation: Vec<f64>,
        /// sigma'(w_j . x_i), then r_i sigma'(w_j . x_i).
        slope: Vec<f64>,
        /// sum_{j in chunk} a_j sigma(w_j . x_i) for the block's samples.
        partial_output: Vec<f64>,
        /// sum_i r_i sigma(w_j . x_i), then the chunk's rows of the gradient.
        grad_a: Vec<f64>,
        /// sum_i r_i sigma'(w_j . x_i) x_i, chunk x d column-major.
        grad_w: Vec<f64>,
    }

    /// Scratch of the data-mode evaluation; sized once for (m, d), reused every step.
    #[derive(Default)]
    pub struct OldScratch {
        chunks: Vec<ParticleChunk>,
        residual: Vec<f64>,
    }

    impl OldScratch {
        fn prepare(&mut self, m: usize, d: usize) {
            let count = m.div_ceil(PARTICLE_CHUNK);
            if self.chunks.len() == count
                && self.chunks.iter().map(|c| c.len).sum::<usize>() == m
                && let Some(first) = self.chunks.first()
                && first.grad_w.len() == first.len * d
            {
                return;
            }
            self.chunks = (0..count)
                .map(|c| {
                    let first = c * PARTICLE_CHUNK;
                    let len = PARTICLE_CHUNK.min(m - first);
                    ParticleChunk {
                        first,
                        len,
                        activation: vec![0.0; len * SAMPLE_BLOCK],
                        slope: vec![0.0; len * SAMPLE_BLOCK],
                        partial_output: vec![0.0; SAMPLE_BLOCK],
                        grad_a: vec![0.0; len],
                        grad_w: vec![0.0; len * d],
                    }
                })
                .collect();
            self.residual = vec![0.0; SAMPLE_BLOCK];
        }
    }

    /// Risk 1/2 mean_i (y_i - f(x_i))^2 on a data set, and dR/dtheta into `grad` when given
    /// (docs/math.md section 4). Samples are processed in blocks; per block two products per particle
    /// chunk (W_c X_b^T, then (r sigma'(Z))_c X_b) with fused elementwise passes.
    // Over 100 lines: the forward pass, the residuals, the backward pass and the gradient assembly
    // share the chunk buffers block by block, in the fixed order that makes the sums deterministic.
    pub fn old_data_risk(
        network: &Network,
        theta: &DMatrix<f64>,
        data: &DataSet,
        scratch: &mut OldScratch,
        grad: Option<&mut DMatrix<f64>>,
    ) -> f64 {
        let m = theta.nrows();
        let d = theta.ncols() - 1;
        assert_eq!(data.input_dim(), d);
        scratch.prepare(m, d);
        let n = data.n();
        let want_grad = grad.is_some();
        let a = &theta.as_slice()[..m];
        let w = w_view(theta);
        let activation = network.activation;
        // relu is positively homogeneous: sum_i r_i relu(w_j . x_i) = w_j . sum_i r_i 1[w_j . x_i > 0]
        // x_i, so dR/da_j comes from the w-gradient sums after the last block (no elementwise pass).
        let relu = activation == Activation::Relu;
        let scale = network.output_scale(m);
        let inputs = data.inputs().as_slice();
        let labels = data.labels();
        for chunk in &mut scratch.chunks {
            chunk.grad_a.iter_mut().for_each(|v| *v = 0.0);
            chunk.grad_w.iter_mut().for_each(|v| *v = 0.0);
        }
        let mut sum_sq = 0.0;
        for start in (0..n).step_by(SAMPLE_BLOCK) {
            let block = SAMPLE_BLOCK.min(n - start);
            let x_block_t =
                MatRef::from_column_major_slice(&inputs[start * d..(start + block) * d], d, block);
            scratch.chunks.par_iter_mut().for_each(|chunk| {
                let len = chunk.len;
                let z = &mut chunk.activation[..len * block];
                matmul(
                    MatMut::from_column_major_slice_mut(z, len, block),
                    Accum::Replace,
                    w.subrows(chunk.first, len),
                    x_block_t,
                    1.0,
                    Par::Seq,
                );
                let a_chunk = &a[chunk.first..chunk.first + len];
                for i in 0..block {
                    let zs = &mut chunk.activation[i * len..(i + 1) * len];
                    let slopes = &mut chunk.slope[i * len..(i + 1) * len];
                    // relu keeps the pre-activations: the backward pass needs only their signs.
                    chunk.partial_output[i] = if want_grad && !relu {
                        lanes::forward(activation, zs, slopes, a_chunk)
                    } else {
                        lanes::forward_value(activation, zs, a_chunk)
                    };
                }
            });
            let residual = &mut scratch.residual[..block];
            for (i, r) in residual.iter_mut().enumerate() {
                let output: f64 = scratch.chunks.iter().map(|c| c.partial_output[i]).sum();
                *r = labels[start + i] - scale * output;
                sum_sq += *r * *r;
            }
            if !want_grad {
                continue;
            }
            let residual = &scratch.residual[..block];
            scratch.chunks.par_iter_mut().for_each(|chunk| {
                let len = chunk.len;
                for (i, r) in residual.iter().enumerate() {
                    let column = i * len..(i + 1) * len;
                    if relu {
                        lanes::relu_residual_slope(
                            *r,
                            &chunk.activation[column.clone()],
                            &mut chunk.slope[column],
                        );
                    } else {
                        lanes::accumulate_residual(
                            *r,
                            &chunk.activation[column.clone()],
                            &mut chunk.slope[column],
                            &mut chunk.grad_a,
                        );
                    }
                }
                matmul(
                    MatMut::from_column_major_slice_mut(&mut chunk.grad_w, len, d),
                    Accum::Add,
                    MatRef::from_column_major_slice(&chunk.slope[..len * block], len, block),
                    x_block_t.transpose(),
                    1.0,
                    Par::Seq,
                );
            });
        }
        if let Some(grad) = grad {
            let factor = -scale / n as f64;
            let chunks = &scratch.chunks;
            grad.as_mut_slice()
                .par_chunks_mut(m)
                .enumerate()
                .for_each(|(col, out)| {
                    for chunk in chunks {
                        let rows = &mut out[chunk.first..chunk.first + chunk.len];
                        if col == 0 && relu {
                            for (jj, g) in rows.iter_mut().enumerate() {
                                let j = chunk.first + jj;
                                let sum: f64 = (0..d)
                                    .map(|c| w[(j, c)] * chunk.grad_w[c * chunk.len + jj])
                                    .sum();
                                *g = factor * sum;
                            }
                        } else if col == 0 {
                            for (g, s) in rows.iter_mut().zip(&chunk.grad_a) {
                                *g = factor * s;
                            }
                        } else {
                            let sums = &chunk.grad_w[(col - 1) * chunk.len..col * chunk.len];
                            let a_chunk = &a[chunk.first..chunk.first + chunk.len];
                            for ((g, s), aj) in rows.iter_mut().zip(sums).zip(a_chunk) {
                                *g = factor * aj * s;
                            }
                        }
                    }
                });
        }
        0.5 * sum_sq / n as f64
    }
}

/// Online mode: a parity target on Rademacher inputs gives sign labels in every batch, so the
/// logistic loss takes it; the batch's classification error is that of the batch of the step;
/// a teacher's real-valued labels are refused.
#[test]
fn online_mode_takes_the_logistic_loss_with_sign_labels_only() {
    use meanfield::random::Purpose;
    use meanfield::task::{InputLaw, InputShape, OnlineRisk, ParityTarget, ParityTerm, Teacher};
    use std::sync::Arc;
    let law = InputLaw {
        d: 3,
        bias: false,
        shape: InputShape::Rademacher,
    };
    let parity = ParityTarget {
        input_dim: 3,
        terms: vec![ParityTerm {
            coordinates: vec![0, 1],
            coef: 1.0,
        }],
        noise_std: 0.0,
    };
    let target: Arc<dyn meanfield::task::Target> = Arc::new(parity);
    let online = OnlineRisk::new(32, law.clone(), target.clone(), 5, None)
        .unwrap()
        .with_loss(Loss::Logistic)
        .unwrap()
        .with_classification(true);
    let mut risk = RiskMode::Online(Box::new(online));
    assert_eq!(risk.loss(), Loss::Logistic);
    let network = Network::new(Activation::Relu, 1.0).unwrap();
    let theta = gaussian(8, 4, &mut Xoshiro256PlusPlus::seed_from_u64(6));
    risk.begin_step(3);
    let batch = DataSet::generate(32, law.clone(), target.as_ref(), 5, Purpose::Batch, 3).unwrap();
    batch.check_signs().unwrap();
    let mut scratch = DataScratch::default();
    let expected =
        meanfield::task::classification_error(&network, &theta, &batch, &mut scratch).unwrap();
    assert_eq!(
        risk.classification_error(&network, &theta).unwrap(),
        Some(ClassificationError {
            train: expected,
            test: None
        })
    );
    let value = risk.evaluate(&network, &theta, None).unwrap();
    assert_eq!(
        value,
        data_risk_with(&network, &theta, &batch, &mut scratch, None, Loss::Logistic).unwrap()
    );
    let teacher = Teacher::new(
        DMatrix::from_row_slice(1, 4, &[1.0, 1.0, 0.0, 0.0]),
        Activation::Erf,
        0.0,
    )
    .unwrap();
    let err = OnlineRisk::new(32, InputLaw::standard(3, false), Arc::new(teacher), 5, None)
        .unwrap()
        .with_loss(Loss::Logistic)
        .unwrap_err();
    assert!(err.to_string().contains("label 0"), "{err}");
}

/// The CUDA backend computes the square loss only: it refuses a data mode with the logistic
/// loss before it opens the device (so this runs on machines without a GPU).
#[cfg(feature = "cuda")]
#[test]
fn the_cuda_backend_refuses_the_logistic_loss() {
    use meanfield::device::Precision;
    use meanfield::gpu::CudaBackend;
    let risk = EmpiricalRisk::new(sign_data(16, 3, 1), None)
        .with_loss(Loss::Logistic)
        .unwrap();
    let err = CudaBackend::new(
        &RiskMode::Empirical(Box::new(risk)),
        Activation::Relu,
        Precision::F64,
        3,
    )
    .unwrap_err();
    assert!(err.to_string().contains("logistic"), "{err}");
}
