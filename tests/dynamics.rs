//! Known facts of the particle dynamics (docs/math.md section 2): the discrete Ornstein-Uhlenbeck
//! variance of Euler-Maruyama, least squares of the random-features flow, the orders of Heun
//! and RK4, and the movement of particles in mean-field and lazy scaling.
#![allow(clippy::unwrap_used, reason = "tests")]

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
