//! The Mehler expansion of the smooth pair kernels (`math::mehler`, docs/math.md section 3)
//! against the adaptive quadrature of `PairKernel`, within its normalised bound
//! |Delta| <= |rho|^N / (1 - |rho|) times the Cauchy-Schwarz scale of each expectation, and its
//! gradient against central differences of its own value.
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use common::gaussian_scales as scales;
use meanfield::math::mehler::{HermiteFeatures, mehler_reach, mehler_terms};
use meanfield::math::{Activation, PairKernel};

const COUNT: usize = 64;
const TOLERANCE: f64 = 1e-8;

/// Every smooth activation, norms 0 to 6, cosines up to the reach of 64 terms at 1e-8: each
/// of the four numbers within 1e-8 of its scale, plus the quadrature's own bound and the
/// rounding of the feature sums (~1e4 terms: 1e4 eps relative to the scale).
#[test]
fn expansion_matches_the_quadrature_within_its_normalised_bound() {
    let reach = mehler_reach(COUNT, TOLERANCE);
    for activation in [Activation::Tanh, Activation::Sigmoid, Activation::Softplus] {
        let kernel = PairKernel::new(activation);
        let quadrature = kernel.error_bound(6.0).unwrap();
        for (r1, r2) in [(0.0, 1.0), (0.5, 0.5), (1.0, 3.0), (3.0, 6.0), (6.0, 6.0)] {
            let (fu, fv) = (
                HermiteFeatures::new(activation, r1, COUNT),
                HermiteFeatures::new(activation, r2, COUNT),
            );
            let (su, sv) = (scales(activation, r1), scales(activation, r2));
            for rho in [-reach, -0.5, 0.0, 0.3, reach] {
                let got = mehler_terms(&fu, &fv, rho);
                let exact = kernel.terms(r1 * r1, r2 * r2, r1 * r2 * rho);
                let backward = kernel.terms(r2 * r2, r1 * r1, r1 * r2 * rho).coef_u;
                let what = format!("{activation} |u| {r1} |v| {r2} rho {rho}");
                let slack = TOLERANCE + 1e4 * f64::EPSILON;
                for (name, a, b, scale) in [
                    ("value", got.value, exact.value, su[0] * sv[0]),
                    ("coef_v", got.coef_v, exact.coef_v, su[1] * sv[1]),
                    ("coef_u", got.coef_u, exact.coef_u, su[2] * sv[0]),
                    ("backward", got.coef_u_backward, backward, su[0] * sv[2]),
                ] {
                    let bound = slack * scale + quadrature;
                    assert!(
                        (a - b).abs() <= bound,
                        "{name} {what}: {a} vs {b} ({:e} > {bound:e})",
                        (a - b).abs()
                    );
                }
            }
        }
    }
}

/// The bound is not slack: at |u| = |v| = 6 the coefficients of tanh have not decayed, so 32
/// terms at the reach of 64 miss it.
#[test]
fn half_the_terms_at_the_reach_of_the_full_count_miss_the_bound() {
    let reach = mehler_reach(COUNT, TOLERANCE);
    let kernel = PairKernel::new(Activation::Tanh);
    let short = HermiteFeatures::new(Activation::Tanh, 6.0, COUNT / 2);
    let got = mehler_terms(&short, &short, reach);
    let exact = kernel.terms(36.0, 36.0, 36.0 * reach);
    let scale = scales(Activation::Tanh, 6.0)[0].powi(2);
    assert!((got.value - exact.value).abs() > TOLERANCE * scale);
}

/// K(u, v) of u, v in the plane through the expansion (features at |u|, cosine of the angle).
fn expansion_value(activation: Activation, u: [f64; 2], v: [f64; 2]) -> f64 {
    let (ru, rv) = (u[0].hypot(u[1]), v[0].hypot(v[1]));
    let rho = (u[0] * v[0] + u[1] * v[1]) / (ru * rv);
    let fu = HermiteFeatures::new(activation, ru, COUNT);
    let fv = HermiteFeatures::new(activation, rv, COUNT);
    mehler_terms(&fu, &fv, rho).value
}

/// grad_1 K = coef_v v + coef_u u against central differences of K in u (step 1e-4): the
/// difference error is delta^2 / 6 times the third derivative, at most (1 + |v|)^3 sup|sigma'''|
/// (sup|sigma'''| <= 2 for the three activations), plus rounding 1e-12 / delta.
#[test]
fn gradient_coefficients_match_central_differences_of_the_value() {
    let delta = 1e-4;
    for activation in [Activation::Tanh, Activation::Sigmoid, Activation::Softplus] {
        for (u, v) in [([0.8, 0.3], [0.2, 1.1]), ([1.5, -0.5], [-0.7, 1.9])] {
            let (ru, rv) = (f64::hypot(u[0], u[1]), f64::hypot(v[0], v[1]));
            let rho = (u[0] * v[0] + u[1] * v[1]) / (ru * rv);
            let terms = mehler_terms(
                &HermiteFeatures::new(activation, ru, COUNT),
                &HermiteFeatures::new(activation, rv, COUNT),
                rho,
            );
            let bound = delta * delta / 6.0 * (1.0 + rv).powi(3) * 2.0 + 1e-12 / delta;
            for i in 0..2 {
                let (mut plus, mut minus) = (u, u);
                plus[i] += delta;
                minus[i] -= delta;
                let difference = (expansion_value(activation, plus, v)
                    - expansion_value(activation, minus, v))
                    / (2.0 * delta);
                let gradient = terms.coef_v * v[i] + terms.coef_u * u[i];
                assert!(
                    (gradient - difference).abs() <= bound,
                    "{activation} u {u:?} v {v:?} component {i}: {gradient} vs {difference}"
                );
            }
        }
    }
}
