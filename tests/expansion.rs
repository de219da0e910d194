//! The Mehler expansion of the population pass (`math::expansion`, docs/math.md section 3)
//! against the adaptive quadrature of `PairKernel`: on a grid of norms (0 to 10) and angles
//! (within 1e-6 of 0 and pi), every pair the truncation test certifies is within
//! eps = 1e-8 of its Cauchy-Schwarz scale; the test refuses exactly where its bound says so;
//! dropping the last term breaks the bound; the gradient matches central differences; and whole
//! trajectories of the three smooth activations match the quadrature path to 1e-7 in the risk.
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use common::gaussian_scales as scales;
use meanfield::math::expansion::{
    Expansion, MAX_NORM, ParticleFeatures, TERMS, TOLERANCE, pair_terms,
};
use meanfield::math::{Activation, InitLaw, Network, PairKernel, Particles};
use meanfield::task::{PopulationRisk, Teacher};
use nalgebra::DMatrix;

const SMOOTH: [Activation; 3] = [Activation::Tanh, Activation::Sigmoid, Activation::Softplus];

fn features(expansion: &Expansion, norm: f64) -> ParticleFeatures {
    let mut f = ParticleFeatures::default();
    f.compute(expansion, &[norm * norm]);
    f
}

const NORMS: [f64; 8] = [0.0, 1e-3, 0.5, 1.0, 2.0, 4.0, 6.0, 10.0];

fn angles() -> Vec<f64> {
    let pi = std::f64::consts::PI;
    vec![0.0, 1e-6, 0.3, 1.0, pi / 2.0, 2.2, pi - 1e-6, pi]
}

/// Every certified pair of the grid against the quadrature (both directions of coef_u): within
/// eps times its scale, plus the quadrature's own bound and the rounding of the feature sums.
/// Which pairs are certified: every pair with both norms <= 0.5 (their tails are below 1e-14),
/// every pair with |rho| <= 0.7 and norms <= MAX_NORM (tau <= 1 and 0.7^64 < 1e-8), no pair
/// with a norm above MAX_NORM.
#[test]
fn certified_pairs_are_within_the_normalised_bound_on_the_grid() {
    for activation in SMOOTH {
        let expansion = Expansion::new(activation).unwrap();
        let kernel = PairKernel::new(activation);
        let quadrature = kernel.error_bound(10.0).unwrap();
        for &r1 in &NORMS {
            for &r2 in &NORMS {
                let (fu, fv) = (features(&expansion, r1), features(&expansion, r2));
                let (su, sv) = (scales(activation, r1), scales(activation, r2));
                for phi in angles() {
                    let rho = phi.cos();
                    let what = format!("{activation} |u| {r1} |v| {r2} phi {phi}");
                    let got = pair_terms(&expansion, &fu, 0, &fv, 0, rho);
                    let small = r1 <= 0.5 && r2 <= 0.5;
                    let wide = rho.abs() <= 0.7 && r1.max(r2) <= MAX_NORM;
                    if small || wide {
                        assert!(got.is_some(), "{what}: refused");
                    }
                    if r1.max(r2) > MAX_NORM {
                        assert!(got.is_none(), "{what}: certified");
                    }
                    let Some(got) = got else { continue };
                    let uv = r1 * r2 * rho;
                    let exact = kernel.terms(r1 * r1, r2 * r2, uv);
                    let backward = kernel.terms(r2 * r2, r1 * r1, uv).coef_u;
                    for (name, a, b, scale) in [
                        ("value", got.value, exact.value, su[0] * sv[0]),
                        ("coef_v", got.coef_v, exact.coef_v, su[1] * sv[1]),
                        ("coef_u", got.coef_u, exact.coef_u, su[2] * sv[0]),
                        ("backward", got.coef_u_backward, backward, su[0] * sv[2]),
                    ] {
                        let bound = TOLERANCE * scale + quadrature + 1e4 * f64::EPSILON * scale;
                        assert!((a - b).abs() <= bound, "{what} {name}: {a} vs {b}");
                    }
                }
            }
        }
    }
}

/// Certification follows the bound: a pair of two particles of norm r at cosine rho is
/// certified iff |rho|^N tau(r) <= eps (checked away from the edge, a factor 1.01).
#[test]
fn certification_follows_the_tail_bound() {
    for activation in SMOOTH {
        let expansion = Expansion::new(activation).unwrap();
        for r in [0.5, 1.0, 2.0, 6.0] {
            let f = features(&expansion, r);
            let tau = f.tail(0);
            for rho in [1.0, 0.95, 0.9, 0.8, 0.7] {
                let certified = pair_terms(&expansion, &f, 0, &f, 0, rho).is_some();
                let ratio = rho.powi(TERMS as i32) * tau / TOLERANCE;
                if ratio.ln().abs() > 0.01 {
                    assert_eq!(certified, ratio <= 1.0, "{activation} r {r} rho {rho}");
                }
            }
        }
    }
}

/// The bound of each pair, |rho|^N sqrt(tau(|u|) tau(|v|)) times its scale, holds pair by pair
/// (not only at the certification threshold eps). Pairs of equal norm r (0.75 to 6), cosines
/// 0.5 to 1; returns the worst ratio of error to bound.
fn worst_against_own_bound(sum: &Expansion, activation: Activation) -> f64 {
    let full = Expansion::new(activation).unwrap();
    let kernel = PairKernel::new(activation);
    let quadrature = kernel.error_bound(6.0).unwrap();
    let mut worst = 0.0f64;
    for r in [0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0] {
        let f = features(&full, r);
        let s = scales(activation, r);
        let tau = f.tail(0);
        for step in 0..=50 {
            let rho = 0.5 + f64::from(step) / 100.0;
            if pair_terms(&full, &f, 0, &f, 0, rho).is_none() {
                continue;
            }
            let got = pair_terms(sum, &f, 0, &f, 0, rho).unwrap();
            let exact = kernel.terms(r * r, r * r, r * r * rho);
            let own = rho.powi(TERMS as i32) * tau;
            for (a, b, scale) in [
                (got.value, exact.value, s[0] * s[0]),
                (got.coef_v, exact.coef_v, s[1] * s[1]),
                (got.coef_u, exact.coef_u, s[2] * s[0]),
            ] {
                let bound = (own + 1e4 * f64::EPSILON) * scale + quadrature;
                worst = worst.max((a - b).abs() / bound);
            }
        }
    }
    worst
}

/// Each certified pair is within its own bound; the negative control sums 20 terms fewer than
/// the features certify (N = 44 for 64), and some pair misses its bound. Measured worst ratios
/// (tanh, sigmoid, softplus): all 64 terms 0.14, 0.12, 0.012; 2 short, the same (the
/// Cauchy-Schwarz bound is conservative at least 7-fold, and the terms near n = N of a
/// certified pair are tiny); 16 short 7.8, 4.3, 1.08; 20 short all above 1.
#[test]
fn each_pair_meets_its_own_bound_and_a_shortened_sum_does_not() {
    for activation in SMOOTH {
        let full = Expansion::new(activation).unwrap();
        let short = Expansion::with_terms(activation, TERMS - 20).unwrap();
        let within = worst_against_own_bound(&full, activation);
        let short_worst = worst_against_own_bound(&short, activation);
        assert!(
            within <= 1.0,
            "{activation}: full expansion at {within} of its bound"
        );
        assert!(
            short_worst > 1.0,
            "{activation}: 20 terms short at {short_worst}"
        );
    }
}

/// grad_1 K = coef_v v + coef_u u against central differences of the expanded K in u
/// (step 1e-4; the features are recomputed at each shifted norm): the difference error is
/// delta^2 / 6 times the third derivative, at most (1 + |v|)^3 sup|sigma'''| (<= 2), plus the
/// expansion's own error eps S S / delta.
#[test]
fn gradient_matches_central_differences_of_the_expanded_value() {
    let delta = 1e-4;
    for activation in SMOOTH {
        let expansion = Expansion::new(activation).unwrap();
        let value = |u: [f64; 2], v: [f64; 2]| {
            let (ru, rv) = (u[0].hypot(u[1]), v[0].hypot(v[1]));
            let rho = (u[0] * v[0] + u[1] * v[1]) / (ru * rv);
            let (fu, fv) = (features(&expansion, ru), features(&expansion, rv));
            pair_terms(&expansion, &fu, 0, &fv, 0, rho).unwrap()
        };
        for (u, v) in [([0.8, 0.3], [0.2, 1.1]), ([1.5, -0.5], [-0.7, 1.9])] {
            let terms = value(u, v);
            let rv = v[0].hypot(v[1]);
            let bound =
                delta * delta / 6.0 * (1.0 + rv).powi(3) * 2.0 + 2.0 * TOLERANCE * 10.0 / delta;
            for i in 0..2 {
                let (mut plus, mut minus) = (u, u);
                plus[i] += delta;
                minus[i] -= delta;
                let difference = (value(plus, v).value - value(minus, v).value) / (2.0 * delta);
                let gradient = terms.coef_v * v[i] + terms.coef_u * u[i];
                assert!(
                    (gradient - difference).abs() <= bound,
                    "{activation} u {u:?} v {v:?} component {i}: {gradient} vs {difference}"
                );
            }
        }
    }
}

/// Gradient descent on the population risk, with the expansion and with the quadrature for
/// every pair (the path before issue 27): the risks agree to 1e-7 relative at every step.
/// m = 12, d = 6, k = 2, 60 steps (the quadrature path costs ~0.5 ms a pair).
#[test]
fn trajectories_match_the_quadrature_path_to_1e_7() {
    let (m, d, k, steps) = (12, 6, 2, 60);
    for activation in SMOOTH {
        let star = Particles::draw(k, d, &InitLaw::standard(d), 11)
            .unwrap()
            .into_matrix();
        let teacher = Teacher::new(star, activation, 0.0).unwrap();
        let network = Network::new(activation, 1.0).unwrap();
        let mut fast = PopulationRisk::new(activation, teacher.clone()).unwrap();
        let mut slow = PopulationRisk::new(activation, teacher)
            .unwrap()
            .without_expansion();
        let mut theta = Particles::draw(m, d, &InitLaw::standard(d), 5)
            .unwrap()
            .into_matrix();
        let mut other = theta.clone();
        let (mut g_fast, mut g_slow) = (DMatrix::zeros(m, d + 1), DMatrix::zeros(m, d + 1));
        let rate = 0.5 * m as f64;
        let (first, mut last) = (fast.evaluate(&network, &theta, None).unwrap(), 0.0);
        for step in 0..steps {
            let r_fast = fast.evaluate(&network, &theta, Some(&mut g_fast)).unwrap();
            let r_slow = slow.evaluate(&network, &other, Some(&mut g_slow)).unwrap();
            assert!(
                (r_fast - r_slow).abs() <= 1e-7 * r_slow.abs(),
                "{activation} step {step}: {r_fast} vs {r_slow}"
            );
            theta -= rate * &g_fast;
            other -= rate * &g_slow;
            last = r_fast;
        }
        // The run learns: the control that the trajectory moved at all.
        assert!(last < 0.9 * first, "{activation}: risk {first} -> {last}");
    }
}

/// The tiled pass (diagonal and off-diagonal tiles: m = 130 is three tiles of 64 rows, with a
/// short last tile) with the expansion against the quadrature for every pair: the risk to 1e-9
/// relative and every gradient entry to 1e-8 of its column's largest entry. Norms spread from
/// 0.2 to 2 so that some pairs are refused and go to the quadrature inside the pass.
#[test]
fn tiled_pass_matches_the_quadrature_path() {
    let (m, d, k) = (130, 5, 2);
    let activation = Activation::Tanh;
    let star = Particles::draw(k, d, &InitLaw::standard(d), 3)
        .unwrap()
        .into_matrix();
    let teacher = Teacher::new(star, activation, 0.0).unwrap();
    let network = Network::new(activation, 1.0).unwrap();
    let mut theta = Particles::draw(m, d, &InitLaw::standard(d), 8)
        .unwrap()
        .into_matrix();
    for j in 0..m {
        let stretch = 0.2 + 1.8 * (j as f64) / (m as f64);
        for c in 1..=d {
            theta[(j, c)] *= stretch;
        }
    }
    // Two nearly parallel particles of norm 2: refused by the expansion.
    for c in 1..=d {
        theta[(m - 1, c)] = theta[(m - 2, c)] * 1.001;
    }
    let mut fast = PopulationRisk::new(activation, teacher.clone()).unwrap();
    let mut slow = PopulationRisk::new(activation, teacher)
        .unwrap()
        .without_expansion();
    let (mut g_fast, mut g_slow) = (DMatrix::zeros(m, d + 1), DMatrix::zeros(m, d + 1));
    let r_fast = fast.evaluate(&network, &theta, Some(&mut g_fast)).unwrap();
    let r_slow = slow.evaluate(&network, &theta, Some(&mut g_slow)).unwrap();
    assert!(
        (r_fast - r_slow).abs() <= 1e-9 * r_slow.abs(),
        "{r_fast} vs {r_slow}"
    );
    for c in 0..=d {
        let largest = g_slow.column(c).amax();
        for j in 0..m {
            let (a, b) = (g_fast[(j, c)], g_slow[(j, c)]);
            assert!(
                (a - b).abs() <= 1e-8 * largest,
                "row {j} column {c}: {a} vs {b}"
            );
        }
    }
}
