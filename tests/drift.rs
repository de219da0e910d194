//! Every drift against central finite differences of the risk (docs/math.md section 2):
//! v_j = lr(c) * (-m^(2 alpha - 1) dR/dtheta_jc - lambda theta_jc) on trained coordinates, 0
//! on frozen ones, in every risk mode, for every activation, both scalings and each subset.
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use meanfield::math::Activation;
use nalgebra::DMatrix;

/// Central-difference step. The error of (R(x + h) - R(x - h)) / 2h is h^2 R''' / 6 (about
/// 1e-11 for O(1) third derivatives) plus the rounding of R, eps |R| / h (about 2e-11), plus
/// for quadrature kernels their error bound 1e-12 / h = 1e-7 (terms may switch rules between
/// x - h and x + h). Tolerances below are 10x these.
const H: f64 = 1e-5;

fn tolerance(activation: Activation) -> f64 {
    if activation.has_closed_form_kernel() {
        1e-8
    } else {
        1e-6
    }
}

fn scenario_text(mode: &str, activation: Activation, alpha: f64, train: &str) -> String {
    let risk = match mode {
        "population" => "mode = \"population\"".to_string(),
        "online" => "mode = \"online\"\nbatch = 64\ntest_n = 0".to_string(),
        _ => "mode = \"empirical\"\nn = 64\ntest_n = 0".to_string(),
    };
    format!(
        "seed = 7\n[model]\nd = 3\nm = 6\nalpha = {alpha}\nactivation = \"{activation}\"\n\
         [target]\nk = 2\nnoise_std = 0.1\n[risk]\n{risk}\n\
         [dynamics]\nlambda = 0.3\nlr_ratio = 1.7\ntrain = \"{train}\"\n"
    )
}

fn check(mode: &str, activation: Activation, alpha: f64, train: &str) {
    let mut setup = common::setup(&scenario_text(mode, activation, alpha, train));
    let theta = setup.particles.matrix().clone();
    let (m, width) = theta.shape();
    let step = 3; // online mode: the batch of step 3, shared by every evaluation below
    let mut velocity = DMatrix::zeros(m, width);
    setup
        .simulation
        .velocity(&theta, &mut velocity, step)
        .unwrap();
    let mut scratch = DMatrix::zeros(m, width);
    let time_scale = (m as f64).powf(2.0 * alpha - 1.0);
    let lambda = 0.3;
    for j in 0..m {
        for c in 0..width {
            let mut plus = theta.clone();
            plus[(j, c)] += H;
            let mut minus = theta.clone();
            minus[(j, c)] -= H;
            let r_plus = setup
                .simulation
                .velocity(&plus, &mut scratch, step)
                .unwrap();
            let r_minus = setup
                .simulation
                .velocity(&minus, &mut scratch, step)
                .unwrap();
            let gradient = (r_plus - r_minus) / (2.0 * H);
            let trained = match train {
                "a_only" => c == 0,
                "w_only" => c > 0,
                _ => true,
            };
            let factor = if c == 0 { 1.7 } else { 1.0 };
            let expected = if trained {
                factor * (-time_scale * gradient - lambda * theta[(j, c)])
            } else {
                0.0
            };
            let got = velocity[(j, c)];
            if trained {
                assert!(
                    (got - expected).abs() <= tolerance(activation) * (1.0 + expected.abs()),
                    "{mode} {activation} alpha {alpha} {train}: particle {j} column {c}: \
                     drift {got}, finite differences {expected}"
                );
            } else {
                assert!(
                    got.abs() < f64::MIN_POSITIVE,
                    "frozen coordinate moved: {got}"
                );
            }
        }
    }
}

#[test]
fn population_drift_matches_finite_differences_for_every_activation() {
    for activation in Activation::ALL {
        for alpha in [1.0, 0.5] {
            check("population", activation, alpha, "both");
        }
    }
}

#[test]
fn empirical_drift_matches_finite_differences_for_every_activation() {
    for activation in Activation::ALL {
        for alpha in [1.0, 0.5] {
            check("empirical", activation, alpha, "both");
        }
    }
}

#[test]
fn online_drift_matches_finite_differences_on_its_batch() {
    for activation in Activation::ALL {
        for alpha in [1.0, 0.75] {
            check("online", activation, alpha, "both");
        }
    }
}

#[test]
fn training_subsets_freeze_their_coordinates_in_every_mode() {
    for mode in ["population", "online", "empirical"] {
        for train in ["a_only", "w_only"] {
            for activation in [Activation::Relu, Activation::Tanh] {
                check(mode, activation, 1.0, train);
            }
        }
    }
}
