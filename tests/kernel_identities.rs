//! The two identities that reduce the smooth activations' pair kernels to two functions
//! (docs/math.md section 3, "Reductions between the smooth kernels"), checked against the
//! quadrature of [`PairKernel`] and against an independent tensor trapezoid rule:
//!
//! ```text
//! sigmoid(z) = 1/2 + tanh(z/2)/2:        K_sigmoid(u, v) = 1/4 + K_tanh(u/2, v/2) / 4,
//!                                        grad_1 K_sigmoid(u, v) = grad_1 K_tanh(u/2, v/2) / 8
//! softplus(z) = z/2 + e(z),
//! e(z) = log(2 cosh(z/2)) (even):        K_softplus(u, v) = u.v / 4 + K_e(u, v),
//!                                        coef_v += 1/4, coef_u unchanged
//! ```
//!
//! The cross terms vanish by parity: E[tanh(u.x/2)] = 0 (tanh odd), E[(u.x) e(v.x)] = 0
//! (e even, x -> -x).
#![allow(clippy::unwrap_used, reason = "tests")]

use meanfield::math::{Activation, PairKernel, PairTerms};

/// (|u|, |v|, angle) cases: small, unit, large norms; orthogonal, generic, nearly parallel
/// and nearly antiparallel angles; one zero vector.
const CASES: [(f64, f64, f64); 9] = [
    (0.3, 0.5, 1.0),
    (1.0, 1.0, std::f64::consts::FRAC_PI_2),
    (1.0, 2.0, 0.4),
    (2.5, 0.7, 2.2),
    (3.0, 3.0, 1e-3),
    (3.0, 2.0, std::f64::consts::PI - 1e-3),
    (5.0, 4.0, 0.9),
    (0.0, 2.0, 0.3),
    (4.0, 4.0, 0.0),
];

fn gram(r1: f64, r2: f64, angle: f64) -> (f64, f64, f64) {
    (r1 * r1, r2 * r2, r1 * r2 * angle.cos())
}

/// The sigmoid kernel and its gradient coefficients are those of tanh at (u/2, v/2), mapped by
/// the identity. Both sides are quadratures, each within its error bound of the exact value.
#[test]
fn sigmoid_kernel_is_a_quarter_plus_a_quarter_of_tanh_at_half_the_weights() {
    let sigmoid = PairKernel::new(Activation::Sigmoid);
    let tanh = PairKernel::new(Activation::Tanh);
    let bound_sigmoid = sigmoid.error_bound(5.0).unwrap();
    let bound_tanh = tanh.error_bound(2.5).unwrap();
    for (r1, r2, angle) in CASES {
        let (uu, vv, uv) = gram(r1, r2, angle);
        let s = sigmoid.terms(uu, vv, uv);
        let t = tanh.terms(uu / 4.0, vv / 4.0, uv / 4.0);
        let what = format!("|u| {r1} |v| {r2} angle {angle}");
        let value_bound = bound_sigmoid + bound_tanh / 4.0;
        let gradient_bound = bound_sigmoid + bound_tanh / 16.0;
        assert!(
            (s.value - (0.25 + 0.25 * t.value)).abs() <= value_bound,
            "value {what}: {} vs {}",
            s.value,
            0.25 + 0.25 * t.value
        );
        assert!(
            (s.coef_v - t.coef_v / 16.0).abs() <= gradient_bound,
            "coef_v {what}: {} vs {}",
            s.coef_v,
            t.coef_v / 16.0
        );
        assert!(
            (s.coef_u - t.coef_u / 16.0).abs() <= gradient_bound,
            "coef_u {what}: {} vs {}",
            s.coef_u,
            t.coef_u / 16.0
        );
    }
}

/// e(z) = log(2 cosh(z/2)) and its first two derivatives, without overflow.
fn even_part(z: f64) -> (f64, f64, f64) {
    let a = 0.5 * z.abs();
    // log(2 cosh a) = a + log(1 + exp(-2a)).
    let value = a + (-2.0 * a).exp().ln_1p();
    let t = (0.5 * z).tanh();
    (value, 0.5 * t, 0.25 * (1.0 - t * t))
}

/// E[e(z1) e(z2)], E[e'(z1) e'(z2)], E[e''(z1) e(z2)] for (z1, z2) = (r1 g1,
/// r2 (cos g1 + sin g2)) by a tensor trapezoid rule with spacing 0.05 on [-8.5, 8.5]^2,
/// independent of the quadrature under test. e is analytic in |Im z| < pi, so the rule's
/// discretisation error is of order exp(-2 pi (pi / r) / h) <= exp(-130) for r <= 3, and the
/// truncation drops Gaussian mass exp(-8.5^2 / 2) ~ 2e-16 times e's growth (< 1e-13).
fn even_part_terms(r1: f64, r2: f64, angle: f64) -> (PairTerms, f64) {
    let h = 0.05;
    let count = 170i32;
    let weight = |k: i32| {
        let t = f64::from(k) * h;
        (-0.5 * t * t).exp() * h / (2.0 * std::f64::consts::PI).sqrt()
    };
    let (cosine, sine) = (angle.cos(), angle.sin());
    let (mut value, mut coef_v, mut coef_u, mut size) = (0.0, 0.0, 0.0, 0.0);
    for i in -count..=count {
        let g1 = f64::from(i) * h;
        let (e1, d1, s1) = even_part(r1 * g1);
        let w1 = weight(i);
        for k in -count..=count {
            let g2 = f64::from(k) * h;
            let (e2, d2, _) = even_part(r2 * (cosine * g1 + sine * g2));
            let w = w1 * weight(k);
            value += w * e1 * e2;
            coef_v += w * d1 * d2;
            coef_u += w * s1 * e2;
            size += w * (e1 * e2).abs();
        }
    }
    (
        PairTerms {
            value,
            coef_v,
            coef_u,
        },
        size,
    )
}

/// softplus = z/2 + e(z) with e even: the softplus kernel minus u.v/4 is the kernel of e,
/// computed independently. The bound is the quadrature's error bound plus the rounding of
/// the reference's 116k-term sums (n eps sum |terms|).
#[test]
fn softplus_kernel_is_a_quarter_dot_product_plus_the_kernel_of_its_even_part() {
    let softplus = PairKernel::new(Activation::Softplus);
    let bound = softplus.error_bound(3.0).unwrap();
    for (r1, r2, angle) in CASES.into_iter().filter(|&(r1, r2, _)| r1.max(r2) <= 3.0) {
        let (uu, vv, uv) = gram(r1, r2, angle);
        let s = softplus.terms(uu, vv, uv);
        let (e, size) = even_part_terms(r1, r2, angle);
        let rounding = 341.0 * 341.0 * f64::EPSILON * (1.0 + size);
        let what = format!("|u| {r1} |v| {r2} angle {angle}");
        let check = |got: f64, expected: f64, name: &str| {
            assert!(
                (got - expected).abs() <= bound + rounding,
                "{name} {what}: {got} vs {expected} (bound {:e})",
                bound + rounding
            );
        };
        check(s.value - 0.25 * uv, e.value, "value");
        check(s.coef_v - 0.25, e.coef_v, "coef_v");
        check(s.coef_u, e.coef_u, "coef_u");
    }
}
