//! Pair kernels K(u, v) = E[sigma(u.x) sigma(v.x)] and grad_1 K (docs/math.md section 3) against
//! Monte Carlo over x, finite differences of K, the closed forms, and the exact facts of
//! docs/math.md (relu and linear on the diagonal, the relu subgradient at 0, self pairs).
#![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

use meanfield::math::{Activation, PairKernel, PairTerms};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

const D: usize = 4;

fn dot(u: &[f64], v: &[f64]) -> f64 {
    u.iter().zip(v).map(|(a, b)| a * b).sum()
}

fn norm(u: &[f64]) -> f64 {
    dot(u, u).sqrt()
}

fn scaled(u: &[f64], factor: f64) -> Vec<f64> {
    u.iter().map(|x| x * factor).collect()
}

/// (u, v) pairs in R^4: generic, mid-size, |u| = 5, nearly parallel, nearly antiparallel.
fn pairs() -> Vec<(Vec<f64>, Vec<f64>)> {
    let base = vec![1.0, 0.5, -0.3, 0.2];
    // Orthogonal to base: base . perp = 0.2 - 0.2 = 0.
    let perp = vec![0.2, -0.4, 0.0, 0.0];
    assert!(dot(&base, &perp).abs() < 1e-15);
    let nearly = |factor: f64, tilt: f64| -> Vec<f64> {
        base.iter()
            .zip(&perp)
            .map(|(b, p)| factor * b + tilt * p)
            .collect()
    };
    vec![
        (vec![0.6, -0.3, 0.8, 0.1], vec![-0.2, 0.9, 0.4, -0.5]),
        (vec![1.5, -1.0, 1.2, 0.5], vec![0.3, 1.2, -0.8, 0.7]),
        (vec![3.0, 0.0, 4.0, 0.0], vec![0.5, -1.0, 0.3, 1.1]),
        (base.clone(), nearly(1.3, 1e-3)),
        (base.clone(), nearly(-0.8, 1e-3)),
    ]
}

/// Sample mean and standard error of the mean.
fn mean_and_error(samples: &[f64]) -> (f64, f64) {
    let n = samples.len() as f64;
    let mean = samples.iter().sum::<f64>() / n;
    let variance = samples.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (variance / n).sqrt())
}

/// 4.5 standard errors: with ~200 comparisons the chance that a correct kernel fails one of
/// them is about 200 * 7e-6 ~ 1e-3 (and the seed is fixed).
const STANDARD_ERRORS: f64 = 4.5;

/// K and grad_1 K = E[sigma'(u.x) sigma(v.x) x] (the definition, not Price's theorem) by Monte
/// Carlo over 200k inputs x ~ N(0, I_4), each within 4.5 standard errors plus the quadrature
/// error bound.
#[test]
fn kernel_and_gradient_agree_with_monte_carlo_for_every_activation() {
    let samples = 200_000;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(20_240_601);
    let inputs: Vec<[f64; D]> = (0..samples)
        .map(|_| std::array::from_fn(|_| rng.sample(StandardNormal)))
        .collect();
    for activation in Activation::ALL {
        let kernel = PairKernel::new(activation);
        for (u, v) in pairs() {
            let quadrature_error = kernel.error_bound(norm(&u).max(norm(&v))).unwrap_or(0.0);
            let mut values = Vec::with_capacity(samples);
            let mut gradients: [Vec<f64>; D] = std::array::from_fn(|_| Vec::with_capacity(samples));
            for x in &inputs {
                let (zu, zv) = (dot(&u, x), dot(&v, x));
                let sigma_v = activation.value(zv);
                values.push(activation.value(zu) * sigma_v);
                let factor = activation.derivative(zu) * sigma_v;
                for (gradient, xi) in gradients.iter_mut().zip(x) {
                    gradient.push(factor * xi);
                }
            }
            let (mean, error) = mean_and_error(&values);
            let value = kernel.kernel(&u, &v);
            assert!(
                (value - mean).abs() <= STANDARD_ERRORS * error + quadrature_error,
                "{activation} K({u:?}, {v:?}) = {value}, Monte Carlo {mean} +- {error}"
            );
            let grad = kernel.grad1(&u, &v);
            for (i, samples_i) in gradients.iter().enumerate() {
                let (mean, error) = mean_and_error(samples_i);
                // grad_1 K = coef_v v + coef_u u: two expectations, each within the bound.
                let bound = quadrature_error * (norm(&u) + norm(&v));
                assert!(
                    (grad[i] - mean).abs() <= STANDARD_ERRORS * error + bound,
                    "{activation} grad_1 K({u:?}, {v:?})[{i}] = {}, Monte Carlo {mean} +- {error}",
                    grad[i]
                );
            }
        }
    }
}

/// Central differences D(h) = (K(u + h e_i, v) - K(u - h e_i, v)) / 2h against grad_1 K. The
/// truncation error h^2 K''' / 6 is estimated by Richardson, |D(2h) - D(h)| = h^2 |K'''| / 2
/// (so it is counted with a margin of 3), and each evaluation of K carries an error eps_K
/// (rounding, or the quadrature bound), which D(h) amplifies by 1/h.
#[test]
fn gradient_agrees_with_central_differences_of_the_kernel_for_every_activation() {
    let step = 1e-4;
    for activation in Activation::ALL {
        let kernel = PairKernel::new(activation);
        for (u, v) in pairs() {
            let value = kernel.kernel(&u, &v);
            let evaluation_error = kernel
                .error_bound(norm(&u).max(norm(&v)) + 2.0 * step)
                .unwrap_or(0.0)
                + 16.0 * f64::EPSILON * (value.abs() + norm(&u).powi(2) * norm(&v).powi(2));
            let grad = kernel.grad1(&u, &v);
            for i in 0..D {
                let difference = |h: f64| {
                    let mut plus = u.clone();
                    let mut minus = u.clone();
                    plus[i] += h;
                    minus[i] -= h;
                    (kernel.kernel(&plus, &v) - kernel.kernel(&minus, &v)) / (2.0 * h)
                };
                let (fine, coarse) = (difference(step), difference(2.0 * step));
                let tolerance = (coarse - fine).abs() + 2.0 * evaluation_error / step;
                assert!(
                    (grad[i] - fine).abs() <= tolerance,
                    "{activation} d K / d u_{i} at ({u:?}, {v:?}): {} vs {fine} (tolerance {tolerance:e})",
                    grad[i]
                );
            }
        }
    }
}

/// The quadrature, run for activations that also have a closed form, reproduces K, coef_v and
/// coef_u within its stated bound for norms up to 5. This also checks Price's theorem
/// grad_1 K = E[s'(z1) s'(z2)] v + E[s''(z1) s(z2)] u, on which the tanh, sigmoid and softplus
/// gradients rest. relu is left out: its kink makes the trapezoid rule converge only like h^2,
/// so the exponential error model does not apply to it.
#[test]
fn price_identity_quadrature_matches_closed_forms_for_erf_linear_quadratic() {
    for activation in [Activation::Erf, Activation::Linear, Activation::Quadratic] {
        let closed = PairKernel::new(activation);
        let quadrature = PairKernel::quadrature_for_tests(activation, 1e-12);
        let mut pairs = pairs();
        pairs.push((vec![0.0, 5.0, 0.0, 0.0], vec![2.0, 2.0, -2.0, 3.5]));
        pairs.push((vec![0.2, 0.0, 0.0, 0.0], vec![0.0, 0.0, 0.1, 0.0]));
        for (u, v) in pairs {
            let (uu, vv, uv) = (dot(&u, &u), dot(&v, &v), dot(&u, &v));
            let bound = quadrature.error_bound(norm(&u).max(norm(&v))).unwrap();
            let exact = closed.terms(uu, vv, uv);
            let numeric = quadrature.terms(uu, vv, uv);
            // The ~1e4 terms of the rule round to about 1e-14 of the largest term.
            let rounding = 1e-14 * (1.0 + uu) * (1.0 + vv);
            for (name, a, b) in [
                ("K", exact.value, numeric.value),
                ("coef_v", exact.coef_v, numeric.coef_v),
                ("coef_u", exact.coef_u, numeric.coef_u),
            ] {
                assert!(
                    (a - b).abs() <= bound + rounding,
                    "{activation} {name} at ({u:?}, {v:?}): closed {a}, quadrature {b}, bound {bound:e}"
                );
            }
        }
    }
}

#[test]
fn relu_kernel_on_diagonal_is_half_squared_norm() {
    let relu = PairKernel::new(Activation::Relu);
    for u in [
        vec![3.0, 4.0, 0.0],
        vec![0.1, -0.7, 2.3],
        vec![1e-3, 1e-4, -1e-3],
    ] {
        let uu = dot(&u, &u);
        // A self pair is passed with uv = uu = vv, so phi = 0 exactly.
        let terms = relu.terms(uu, uu, uu);
        assert_eq!(
            terms,
            PairTerms {
                value: uu / 2.0,
                coef_v: 0.5,
                coef_u: 0.0
            }
        );
        assert_eq!(relu.grad1(&u, &u), scaled(&u, 0.5));
    }
}

#[test]
fn linear_kernel_on_diagonal_is_squared_norm() {
    let linear = PairKernel::new(Activation::Linear);
    let u = [0.3, -1.2, 2.5];
    assert_eq!(linear.kernel(&u, &u), dot(&u, &u));
    assert_eq!(linear.grad1(&u, &u), u.to_vec());
}

/// grad_1 K(0, v) = v / 2 (docs/math.md's subgradient), also when the dot product is -0.0.
#[test]
fn relu_gradient_at_zero_is_half_of_v() {
    let relu = PairKernel::new(Activation::Relu);
    let v = [-0.4, -2.0, 1.5];
    let zero = [0.0; 3];
    assert_eq!(relu.grad1(&zero, &v), scaled(&v, 0.5));
    assert_eq!(relu.terms(0.0, dot(&v, &v), -0.0).coef_v, 0.5);
    assert_eq!(relu.kernel(&zero, &v), 0.0);
}

/// Closed forms are symmetric bit for bit; the quadrature (whose outer and inner variables
/// play different roles) within twice its error bound.
#[test]
fn kernel_is_symmetric_in_its_arguments() {
    for activation in Activation::ALL {
        let kernel = PairKernel::new(activation);
        for (u, v) in pairs() {
            let (a, b) = (kernel.kernel(&u, &v), kernel.kernel(&v, &u));
            match kernel.error_bound(norm(&u).max(norm(&v))) {
                None => assert_eq!(a, b, "{activation}"),
                Some(bound) => assert!((a - b).abs() <= 2.0 * bound, "{activation}: {a} vs {b}"),
            }
        }
    }
}

/// |u|^2 |v|^2 sin^2 phi = uu vv - uv^2 for the given floating-point entries, computed exactly
/// up to one final rounding (products split into value + error by fused multiply-add).
fn exact_cross_squared(uu: f64, vv: f64, uv: f64) -> f64 {
    let (p, q) = (uv * uv, uu * vv);
    let (p_error, q_error) = (uv.mul_add(uv, -p), uu.mul_add(vv, -q));
    (q - p) + (q_error - p_error)
}

/// Near phi = 0 and phi = pi the Gram entries (uu, vv, uv) determine phi only to about
/// eps / sin(phi) (a rounding of uv moves it that much); relu's angle-dependent coefficients
/// must stay within that conditioning of the exact values for the given entries, at
/// delta = 1e-3, 1e-5, 1e-7 from parallel and antiparallel.
#[test]
fn relu_terms_near_parallel_and_antiparallel_are_within_the_conditioning_of_the_gram_entries() {
    let relu = PairKernel::new(Activation::Relu);
    let pi = std::f64::consts::PI;
    let eps = f64::EPSILON;
    let (nu, nv) = (2.0, 3.0);
    let u = [nu, 0.0];
    for delta in [1e-3f64, 1e-5, 1e-7] {
        for v in [
            [nv * delta.cos(), nv * delta.sin()],
            [-nv * delta.cos(), nv * delta.sin()],
        ] {
            let (uu, vv, uv) = (dot(&u, &u), dot(&v, &v), dot(&u, &v));
            let cross = exact_cross_squared(uu, vv, uv).sqrt();
            let phi = cross.atan2(uv);
            let sine = cross / (uu * vv).sqrt();
            let terms = relu.terms(uu, vv, uv);
            // Each product rounds by eps/2 of uu vv: cross^2 is off by eps uu vv at most, so
            // cross by eps / (2 sin^2 phi) relatively and phi by eps / (2 sin phi).
            let phi_error = eps / sine + 4.0 * eps * phi;
            let coef_v = 0.5 - phi / (2.0 * pi);
            assert!((terms.coef_v - coef_v).abs() <= phi_error / (2.0 * pi) + eps);
            let coef_u = cross / (2.0 * pi * uu);
            assert!(
                (terms.coef_u - coef_u).abs() <= (eps / sine.powi(2) + 4.0 * eps) * coef_u,
                "delta {delta}: {} vs {coef_u}",
                terms.coef_u
            );
            let value = nu * nv / (2.0 * pi) * (phi.sin() + (pi - phi) * phi.cos());
            // K is a difference of O(|u||v|) terms near antiparallel: absolute accuracy.
            assert!((terms.value - value).abs() <= (phi_error + 8.0 * eps) * nu * nv);
        }
    }
}

/// Rounding can make uv exceed |u||v| by an ulp; the angle is then 0 (atan2 of a clamped 0),
/// where arccos of the cosine would be NaN.
#[test]
fn relu_terms_are_finite_when_rounding_makes_the_cosine_exceed_one() {
    let relu = PairKernel::new(Activation::Relu);
    let (uu, vv): (f64, f64) = (2.0, 3.0);
    for uv in [
        (uu * vv).sqrt() * (1.0 + 2.0 * f64::EPSILON),
        -(uu * vv).sqrt() * (1.0 + 2.0 * f64::EPSILON),
    ] {
        let terms = relu.terms(uu, vv, uv);
        assert!(terms.value.is_finite() && terms.coef_v.is_finite());
        assert_eq!(terms.coef_u, 0.0);
        let expected_coef_v = if uv > 0.0 { 0.5 } else { 0.0 };
        assert_eq!(terms.coef_v, expected_coef_v);
    }
}

/// erf far out along the diagonal: K(u, u) = (2 / pi) asin(|u|^2 / (1 + |u|^2)), whose
/// distance to 1 (the part that matters) is (2 / pi) acos(1 - 1/(1 + |u|^2)) ~
/// (2/pi) sqrt(2 / |u|^2); the atan2 form keeps it to relative 1e-12, asin of a rounded
/// argument would not.
#[test]
fn erf_kernel_is_accurate_on_the_diagonal_at_large_norm() {
    let erf = PairKernel::new(Activation::Erf);
    let uu: f64 = 1e8;
    let terms = erf.terms(uu, uu, uu);
    // 1 - (2/pi) asin(x) = (2/pi) acos(x) = (2/pi) atan(sqrt(1 - x^2) / x), 1 - x = 1/(1+uu).
    let gap = 1.0 / (1.0 + uu);
    let exact_distance =
        (2.0 / std::f64::consts::PI) * ((gap * (2.0 - gap)).sqrt() / (1.0 - gap)).atan();
    assert!(((1.0 - terms.value) - exact_distance).abs() <= 1e-12 * exact_distance + f64::EPSILON);
    assert!(terms.coef_v > 0.0 && terms.coef_u < 0.0);
}

#[test]
fn value_is_the_value_of_terms_bit_for_bit() {
    for activation in Activation::ALL {
        let kernel = PairKernel::new(activation);
        for (u, v) in pairs() {
            let (uu, vv, uv) = (dot(&u, &u), dot(&v, &v), dot(&u, &v));
            assert_eq!(
                kernel.value(uu, vv, uv),
                kernel.terms(uu, vv, uv).value,
                "{activation}"
            );
        }
    }
}

/// The bound error_bound(|w|) covers the observed error against a rule 1000 times finer in
/// tolerance, for tanh at |w| = 1, 3, 5 (equal norms, several angles).
#[test]
fn tanh_error_bound_covers_observed_error_at_norms_one_three_five() {
    let reference = PairKernel::with_tolerance(Activation::Tanh, 1e-15).unwrap();
    for tolerance in [1e-6, 1e-9, 1e-12] {
        let kernel = PairKernel::with_tolerance(Activation::Tanh, tolerance).unwrap();
        for radius in [1.0, 3.0, 5.0] {
            let bound = kernel.error_bound(radius).unwrap();
            // Two discretisation terms and the truncation, each at most tolerance / 3.
            assert!(
                bound <= tolerance * (1.0 + 1e-12),
                "bound {bound:e} above tolerance {tolerance:e}"
            );
            let reference_bound = reference.error_bound(radius).unwrap();
            let uu: f64 = radius * radius;
            for cosine in [1.0, 0.999, 0.5, 0.0, -0.9] {
                let uv = cosine * uu;
                let (a, b) = (kernel.terms(uu, uu, uv), reference.terms(uu, uu, uv));
                let observed = (a.value - b.value)
                    .abs()
                    .max((a.coef_v - b.coef_v).abs())
                    .max((a.coef_u - b.coef_u).abs());
                assert!(
                    observed <= bound + reference_bound,
                    "tolerance {tolerance:e}, |w| = {radius}, cos = {cosine}: {observed:e} > {bound:e}"
                );
            }
        }
    }
}

#[test]
fn tolerance_outside_its_range_is_rejected() {
    for bad in [f64::NAN, f64::INFINITY, 0.0, -1e-6, 1e-16, 0.1] {
        assert!(
            PairKernel::with_tolerance(Activation::Tanh, bad).is_err(),
            "{bad}"
        );
    }
    for good in [1e-15, 1e-9, 1e-2] {
        assert!(PairKernel::with_tolerance(Activation::Softplus, good).is_ok());
    }
    assert!(PairKernel::new(Activation::Relu).error_bound(3.0).is_none());
}
