//! One Euler step of the online mode is one plain SGD step (docs/math.md section 8): with the
//! batch loss L_k = 1/(2B) sum_i (y_i - f(x_i))^2 of f = m^(-alpha) sum_j a_j sigma(w_j . x),
//!
//! theta <- theta - eta grad (L_k + (wd / 2) sum_j |theta_j|^2),
//! eta = dt m^(2 alpha - 1), wd = lambda m^(1 - 2 alpha),
//!
//! with the learning rate lr_ratio eta for the a's. The SGD step is written here from that
//! formula alone, sample by sample, and compared with the simulator's step on the same batch.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use meanfield::math::Activation;
use meanfield::random::Purpose;
use meanfield::task::{DataSet, InputLaw};
use nalgebra::DMatrix;

const SEED: u64 = 11;
const D: usize = 3;
const M: usize = 7;
const BATCH: usize = 5;
const DT: f64 = 0.01;
const LAMBDA: f64 = 0.3;

fn scenario_text(alpha: f64, lr_ratio: f64) -> String {
    format!(
        "seed = {SEED}\n[model]\nd = {D}\nm = {M}\nalpha = {alpha}\nactivation = \"tanh\"\n\
         [init]\nw = {{ law = \"normal\", std = 0.8 }}\n\
         [target]\nk = 2\nnoise_std = 0.1\n\
         [risk]\nmode = \"online\"\nbatch = {BATCH}\ntest_n = 0\n\
         [dynamics]\ndt = {DT}\nsteps = 1\nlambda = {LAMBDA}\nlr_ratio = {lr_ratio}\n"
    )
}

/// One SGD step on the batch loss with an L2 penalty, from the formula of the module doc.
fn sgd_step(theta: &DMatrix<f64>, batch: &DataSet, alpha: f64, lr_ratio: f64) -> DMatrix<f64> {
    let sigma = Activation::Tanh;
    let m = M as f64;
    let eta = DT * m.powf(2.0 * alpha - 1.0);
    let decay = LAMBDA * m.powf(1.0 - 2.0 * alpha);
    let scale = m.powf(-alpha);
    let inputs = batch.inputs();
    let labels = batch.labels();
    let pre_activation = |j: usize, i: usize| {
        (0..D)
            .map(|c| theta[(j, 1 + c)] * inputs[(c, i)])
            .sum::<f64>()
    };
    // dL/dtheta_j = -(1/B) sum_i r_i df(x_i)/dtheta_j, r_i = y_i - f(x_i).
    let mut gradient = DMatrix::<f64>::zeros(M, 1 + D);
    for i in 0..BATCH {
        let output: f64 = (0..M)
            .map(|j| scale * theta[(j, 0)] * sigma.value(pre_activation(j, i)))
            .sum();
        let residual = labels[i] - output;
        for j in 0..M {
            let z = pre_activation(j, i);
            gradient[(j, 0)] -= residual * scale * sigma.value(z) / BATCH as f64;
            for c in 0..D {
                gradient[(j, 1 + c)] -=
                    residual * scale * theta[(j, 0)] * sigma.derivative(z) * inputs[(c, i)]
                        / BATCH as f64;
            }
        }
    }
    DMatrix::from_fn(M, 1 + D, |j, c| {
        let rate = if c == 0 { lr_ratio * eta } else { eta };
        theta[(j, c)] - rate * (gradient[(j, c)] + decay * theta[(j, c)])
    })
}

fn check(alpha: f64, lr_ratio: f64) {
    let mut setup = common::setup(&scenario_text(alpha, lr_ratio));
    let theta = setup.particles.matrix().clone();
    let law = InputLaw::standard(D, false);
    // The batch of step 0, drawn as the online mode draws it (stream (seed, Batch, 0, i)).
    let batch = DataSet::generate(BATCH, law, &setup.target, SEED, Purpose::Batch, 0).unwrap();
    let expected = sgd_step(&theta, &batch, alpha, lr_ratio);
    let stepped = common::advance(&mut setup, 1);
    let moved = (&expected - &theta).amax();
    assert!(moved > 1e-4, "the step must move the particles: {moved}");
    // Both sides sum O(B m) terms of size O(1) differently: a few hundred ulps.
    let error = (&stepped - &expected).amax();
    assert!(
        error < 1e-13,
        "alpha = {alpha}, lr_ratio = {lr_ratio}: simulator step differs from SGD with \
         eta = dt m^(2 alpha - 1) by {error:e} (the step moved {moved:e})"
    );
}

#[test]
fn online_euler_step_is_sgd_with_eta_dt_m_to_two_alpha_minus_one_in_mean_field_scaling() {
    check(1.0, 1.0);
}

#[test]
fn online_euler_step_is_sgd_with_eta_dt_m_to_two_alpha_minus_one_in_lazy_scaling() {
    check(0.5, 1.0);
}

#[test]
fn online_euler_step_is_sgd_with_lr_ratio_times_eta_for_the_output_weights() {
    check(0.75, 1.7);
}
