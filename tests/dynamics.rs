//! Known facts of the particle dynamics (docs/math.md section 2): the discrete Ornstein-Uhlenbeck
//! variance of Euler-Maruyama, least squares of the random-features flow, the orders of Heun
//! and RK4, and the movement of particles in mean-field and lazy scaling.
#![allow(
    clippy::unwrap_used,
    clippy::float_cmp,
    reason = "tests: the symmetrised pairs are exact copies"
)]

mod common;

use nalgebra::{DMatrix, DVector};

/// With a = 0 frozen (w_only) and a zero teacher, f = 0 and w follows
/// w <- (1 - lambda dt) w + sqrt(2 tau dt) xi, whose stationary variance is
/// tau / (lambda (1 - lambda dt / 2)). 20,000 particles x 2 coordinates: the variance estimate
/// has relative standard error sqrt(2 / 40,000) = 0.7 %, and the continuous-time value tau/lambda
/// is 5 % away, so the test tells them apart.
#[test]
fn euler_maruyama_reaches_the_discrete_ornstein_uhlenbeck_variance() {
    let (lambda, tau, dt) = (1.0, 0.5, 0.1);
    let text = format!(
        "seed = 2\n[model]\nd = 2\nm = 20000\n[init]\na = {{ law = \"normal\", std = 0.0 }}\n\
         w = {{ law = \"normal\", std = 0.0 }}\n[target]\nk = 1\na = 0.0\n\
         [risk]\nmode = \"empirical\"\nn = 1\ntest_n = 0\n\
         [dynamics]\ndt = {dt}\nlambda = {lambda}\ntau = {tau}\ntrain = \"w_only\"\n"
    );
    let mut setup = common::setup(&text);
    // (1 - lambda dt)^(2k) < 1e-18 after 200 steps: the initial condition is forgotten.
    let theta = common::advance(&mut setup, 200);
    assert!(theta.column(0).iter().all(|a| *a == 0.0), "frozen a moved");
    let w: Vec<f64> = theta.columns(1, 2).iter().copied().collect();
    let n = w.len() as f64;
    let variance = w.iter().map(|x| x * x).sum::<f64>() / n;
    let expected = tau / (lambda * (1.0 - lambda * dt / 2.0));
    let se = expected * (2.0 / n).sqrt();
    assert!(
        (variance - expected).abs() < 4.0 * se,
        "variance {variance}, expected {expected} +- {se}"
    );
    assert!((variance - tau / lambda).abs() > 4.0 * se);
}

/// With `a_only` on n > m samples the flow is linear in a with Hessian
/// H = m^(2 alpha - 1) m^(-2 alpha) Phi^T Phi / n, Phi_ij = sigma(w_j . x_i), and converges to the
/// least-squares solution of the frozen features; after time t the error is at most
/// exp(-lambda_min(H) t) |a(0) - a*| (RK4 with dt inside its stability region).
#[test]
fn random_features_flow_converges_to_least_squares() {
    let (m, n, dt, steps) = (6usize, 200usize, 2.0, 6000u64);
    let text = format!(
        "seed = 5\n[model]\nd = 3\nm = {m}\nactivation = \"tanh\"\n\
         [init]\nw = {{ law = \"normal\", std = 1.5 }}\n[target]\nk = 2\nnoise_std = 0.1\n\
         [risk]\nmode = \"empirical\"\nn = {n}\ntest_n = 0\n\
         [dynamics]\nintegrator = \"rk4\"\ndt = {dt}\ntrain = \"a_only\"\n"
    );
    let mut setup = common::setup(&text);
    let initial = setup.particles.matrix().clone();
    let meanfield::task::RiskMode::Empirical(risk) = &setup.simulation.risk else {
        panic!("empirical mode expected")
    };
    let data = risk.train().clone();
    let scale = 1.0 / m as f64;
    let features = DMatrix::from_fn(n, m, |i, j| {
        let z: f64 = (0..3)
            .map(|c| initial[(j, 1 + c)] * data.inputs()[(c, i)])
            .sum();
        scale * z.tanh()
    });
    let y = DVector::from_column_slice(data.labels());
    let normal = features.transpose() * &features;
    let a_star = normal
        .clone()
        .cholesky()
        .unwrap()
        .solve(&(features.transpose() * &y));
    // Hessian of R in a, times the time scale m^(2 alpha - 1) = m.
    let hessian = normal * (m as f64 / n as f64);
    let eigen = hessian.symmetric_eigenvalues();
    let (lo, hi) = (eigen.min(), eigen.max());
    // RK4 is stable on the negative real axis down to -2.78.
    assert!(hi * dt < 2.5, "dt outside the stability region: {hi}");
    assert!(
        lo * dt * steps as f64 > 40.0,
        "too short to converge: lambda_min {lo}"
    );
    let theta = common::advance(&mut setup, steps);
    let a_final = theta.column(0).into_owned();
    let a0 = initial.column(0).into_owned();
    let bound = (-lo * dt * steps as f64).exp() * (&a0 - &a_star).norm() + 1e-12 * a_star.norm();
    let error = (&a_final - &a_star).norm();
    assert!(
        error <= bound.max(1e-10 * a_star.norm()),
        "error {error}, bound {bound}"
    );
    assert!(
        error < 1e-8 * a_star.norm(),
        "not converged: {error} (lambda_min {lo})"
    );
    // w was frozen exactly.
    assert_eq!(theta.columns(1, 3), initial.columns(1, 3));
}

fn final_state(integrator: &str, dt: f64, t_end: f64) -> DMatrix<f64> {
    let steps = (t_end / dt).round() as u64;
    let text = format!(
        "seed = 9\n[model]\nd = 3\nm = 8\nactivation = \"erf\"\n[target]\nk = 2\n\
         [dynamics]\nintegrator = \"{integrator}\"\ndt = {dt}\nlambda = 0.1\n"
    );
    let mut setup = common::setup(&text);
    common::advance(&mut setup, steps)
}

/// Heun and RK4 converge with orders 2 and 4: halving dt divides the error at t = 2 by about 4
/// and 16. The reference is RK4 at dt = 0.002, whose error (about (0.002/0.1)^4 of RK4's at
/// 0.1) is negligible. Observed ratios within 25 % of 2^p.
#[test]
fn heun_and_rk4_show_their_orders_of_convergence() {
    let t_end = 2.0;
    let reference = final_state("rk4", 0.002, t_end);
    for (integrator, order) in [("heun", 2), ("rk4", 4), ("euler", 1)] {
        let errors: Vec<f64> = [0.2, 0.1, 0.05]
            .iter()
            .map(|dt| (final_state(integrator, *dt, t_end) - &reference).norm())
            .collect();
        for pair in errors.windows(2) {
            let ratio = pair[0] / pair[1];
            let expected = 2f64.powi(order);
            assert!(
                (ratio / expected - 1.0).abs() < 0.25,
                "{integrator}: errors {errors:?}, ratio {ratio}, expected {expected}"
            );
        }
    }
}

/// Mean movement |theta_j(1) - theta_j(0)| over widths m = 50, 200, 800 (4 seeds each): the
/// log-log slope is about 0 in mean-field scaling (alpha = 1) and -1/2 in lazy scaling
/// (alpha = 1/2), docs/math.md section 2. Accepted: within 0.1 of the predicted slope.
#[test]
fn movement_is_order_one_in_mean_field_and_shrinks_like_root_m_when_lazy() {
    let widths = [50usize, 200, 800];
    for (alpha, slope_expected) in [(1.0, 0.0), (0.5, -0.5)] {
        let movement: Vec<f64> = widths
            .iter()
            .map(|m| {
                (0..4u64)
                    .map(|seed| {
                        let text = format!(
                            "seed = {seed}\n[model]\nd = 4\nm = {m}\nalpha = {alpha}\n\
                             [target]\nk = 2\n[dynamics]\ndt = 0.05\n"
                        );
                        let mut setup = common::setup(&text);
                        let initial = setup.particles.matrix().clone();
                        let theta = common::advance(&mut setup, 20);
                        (0..*m)
                            .map(|j| (theta.row(j) - initial.row(j)).norm())
                            .sum::<f64>()
                            / *m as f64
                    })
                    .sum::<f64>()
                    / 4.0
            })
            .collect();
        let slope = (movement[2] / movement[0]).ln() / (16f64).ln();
        assert!(
            (slope - slope_expected).abs() < 0.1,
            "alpha {alpha}: movement {movement:?}, slope {slope}"
        );
    }
}

/// A symmetrised start (`init.symmetric = true`) of width 8 in dimension 3, in risk mode
/// `risk` (a `[risk]` body), trained as `train`.
fn symmetric_scenario(risk: &str, train: &str) -> String {
    format!(
        "seed = 4\n[model]\nd = 3\nm = 8\n[init]\nsymmetric = true\n[target]\nk = 2\n\
         [risk]\n{risk}\n[dynamics]\ndt = 0.1\ntrain = \"{train}\"\n"
    )
}

/// The three risk modes, as `[risk]` bodies.
const RISK_MODES: [&str; 3] = [
    "mode = \"population\"",
    "mode = \"online\"\nbatch = 64\ntest_n = 0",
    "mode = \"empirical\"\nn = 50\ntest_n = 0",
];

/// The symmetrised start pairs particle 2i + 1 = (-a_2i, w_2i), so f = 0 at t = 0 in every
/// mode: the output vanishes at any input, and the risk and drift the dynamics sees are those
/// of the same particles with every a set to 0 (the zero network), to rounding.
#[test]
fn symmetric_start_gives_the_zero_network_in_every_mode() {
    for risk in RISK_MODES {
        let mut setup = common::setup(&symmetric_scenario(risk, "both"));
        let theta = setup.particles.matrix().clone();
        for pair in 0..4 {
            assert_eq!(theta[(2 * pair + 1, 0)], -theta[(2 * pair, 0)]);
            for c in 1..4 {
                assert_eq!(theta[(2 * pair + 1, c)], theta[(2 * pair, c)]);
            }
        }
        let network = &setup.simulation.network;
        for x in [[0.3, -1.2, 0.7], [2.0, 0.1, -0.4]] {
            let f = network.output(&setup.particles, &x);
            assert!(f.abs() < 1e-15, "{risk}: f = {f}");
        }
        let mut zero = theta.clone();
        zero.column_mut(0).fill(0.0);
        let (mut v, mut v_zero) = (theta.clone(), theta.clone());
        let r = setup.simulation.velocity(&theta, &mut v, 0).unwrap();
        let r_zero = setup.simulation.velocity(&zero, &mut v_zero, 0).unwrap();
        assert!(
            (r - r_zero).abs() <= 1e-14 * r_zero,
            "{risk}: {r} against {r_zero}"
        );
        // The a-drift depends on w alone: the zero network's.
        for j in 0..8 {
            assert!(
                (v[(j, 0)] - v_zero[(j, 0)]).abs() <= 1e-14,
                "{risk}: particle {j}"
            );
        }
    }
}

/// Under the random-features flow (`a_only`) a pair stays paired: the two w stay equal and
/// the a-drift, a function of w, is the same for both, so a_2i - a_2i+1 keeps its initial
/// value 2 a_2i(0) (to rounding) while the pair's sum moves away from 0 (f leaves 0). With
/// both layers trained the w-drift of a pair is a_j grad_w(...) of opposite signs: the pairing
/// holds at t = 0 only.
#[test]
fn symmetric_pairs_stay_paired_in_w_under_the_random_features_flow() {
    for risk in RISK_MODES {
        let mut setup = common::setup(&symmetric_scenario(risk, "a_only"));
        let start = setup.particles.matrix().clone();
        let theta = common::advance(&mut setup, 20);
        let mut sums = 0.0_f64;
        for pair in 0..4 {
            let (even, odd) = (2 * pair, 2 * pair + 1);
            for c in 1..4 {
                assert_eq!(theta[(odd, c)], theta[(even, c)], "{risk}");
            }
            let gap = theta[(even, 0)] - theta[(odd, 0)];
            assert!(
                (gap - 2.0 * start[(even, 0)]).abs() < 1e-12,
                "{risk}: {gap}"
            );
            sums += (theta[(even, 0)] + theta[(odd, 0)]).abs();
        }
        assert!(sums > 1e-3, "{risk}: the a of a pair did not move together");
        let mut both = common::setup(&symmetric_scenario(risk, "both"));
        let theta = common::advance(&mut both, 20);
        let moved_apart = (1..4).any(|c| theta[(1, c)] != theta[(0, c)]);
        assert!(moved_apart, "{risk}: w of a trained pair stayed equal");
    }
}
