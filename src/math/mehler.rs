//! The Mehler (Hermite) expansion of the pair kernels of docs/math.md section 3, for pairs
//! whose angle is not near 0 or pi: a per-particle feature vector, then O(N) work per pair.
//!
//! With z1 = r1 g1 and z2 = r2 g2', (g1, g2') standard Gaussians of correlation rho = cos phi,
//! Mehler's formula gives, for any f, g of finite Gaussian variance,
//!
//! ```text
//! E[f(z1) g(z2)] = sum_n A_n[f](r1) A_n[g](r2) rho^n,   A_n[f](r) = E[f(r g) h_n(g)],
//! ```
//!
//! h_n the normalised Hermite polynomials (E h_n h_k = delta_nk). So, with Price's theorem,
//! K = sum a_n(r1) a_n(r2) rho^n, coef_v = E[s'(z1) s'(z2)] = sum b_n(r1) b_n(r2) rho^n and
//! coef_u = E[s''(z1) s(z2)] = sum c_n(r1) a_n(r2) rho^n, with a, b, c the coefficients of
//! sigma, sigma' and sigma''. They are features of one particle: computed once per norm.
//!
//! Truncation bound. By Cauchy-Schwarz and Parseval (the sum over n of the squared
//! coefficients of f at r is E f(r g)^2 =: S_f(r)^2),
//! the terms n >= N are at most S_f(r1) S_g(r2) |rho|^N / (1 - |rho|): the normalised error
//! |Delta K| <= eps sqrt(K(u, u) K(v, v)) of docs/math.md holds with eps = |rho|^N / (1 - |rho|)
//! ([`mehler_reach`] inverts it), and likewise for the gradient coefficients, normalised by
//! sqrt(E s'(u.x)^2 E s'(v.x)^2) and sqrt(E s''(u.x)^2 E s(v.x)^2). The expansion is useless
//! near rho = +-1 at large norms: the coefficients of tanh(6 g) have not decayed by n = 400.
//!
//! The features are one-dimensional integrals, by the trapezoid rule with spacing
//! h = 0.1 / max(r, 1) on [-L, L], L = 2 sqrt(N) + 8. The integrand is analytic in the strip
//! |Im g| < c / r (tanh c = pi/2, sigmoid and softplus pi), so the discretisation error is of
//! order exp(-2 pi c / (r h)) <= exp(-98) times the growth of h_n in the strip; beyond L the
//! Hermite functions h_n(g) exp(-g^2 / 4) have decayed (their turning point is 2 sqrt(n)).

use crate::math::activation::Activation;
use std::f64::consts::PI;

/// Hermite coefficients a_n, b_n, c_n (n < N) of sigma(r g), sigma'(r g), sigma''(r g) for one
/// norm r = |w| (see the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct HermiteFeatures {
    value: Vec<f64>,
    derivative: Vec<f64>,
    second: Vec<f64>,
}

impl HermiteFeatures {
    /// The first `count` coefficients of `activation` at norm `norm` (>= 0).
    ///
    /// ```
    /// # use meanfield::math::{Activation, PairKernel};
    /// # use meanfield::math::mehler::{HermiteFeatures, mehler_terms};
    /// let (u, v) = (HermiteFeatures::new(Activation::Tanh, 1.0, 64), HermiteFeatures::new(Activation::Tanh, 2.0, 64));
    /// let rho: f64 = 0.3;
    /// let fast = mehler_terms(&u, &v, rho);
    /// let exact = PairKernel::new(Activation::Tanh).terms(1.0, 4.0, 2.0 * rho);
    /// assert!((fast.value - exact.value).abs() < 1e-10);
    /// ```
    pub fn new(activation: Activation, norm: f64, count: usize) -> Self {
        let norm = norm.max(0.0);
        let spacing = 0.1 / norm.max(1.0);
        let half_width = 2.0 * (count as f64).sqrt() + 8.0;
        let nodes = (half_width / spacing).ceil() as i64;
        let scale = spacing / (2.0 * PI).sqrt();
        let mut features = Self {
            value: vec![0.0; count],
            derivative: vec![0.0; count],
            second: vec![0.0; count],
        };
        // sqrt(n) and 1 / sqrt(n + 1) of the recursion, once per call rather than per node.
        let roots: Vec<f64> = (0..count).map(|n| (n as f64).sqrt()).collect();
        let inverse_roots: Vec<f64> = (0..count).map(|n| 1.0 / ((n + 1) as f64).sqrt()).collect();
        for k in -nodes..=nodes {
            let g = k as f64 * spacing;
            let weight = (-0.5 * g * g).exp() * scale;
            let z = norm * g;
            let (s0, s1, s2) = (
                weight * activation.value(z),
                weight * activation.derivative(z),
                weight * activation.second_derivative(z),
            );
            // h_{n+1} = (g h_n - sqrt(n) h_{n-1}) / sqrt(n + 1), h_0 = 1.
            let (mut previous, mut current) = (0.0, 1.0);
            for n in 0..count {
                features.value[n] += s0 * current;
                features.derivative[n] += s1 * current;
                features.second[n] += s2 * current;
                let next = (g * current - roots[n] * previous) * inverse_roots[n];
                previous = current;
                current = next;
            }
        }
        features
    }

    /// (a_n, b_n, c_n), 0 beyond the count.
    pub fn coefficients(&self, n: usize) -> (f64, f64, f64) {
        let at = |v: &[f64]| v.get(n).copied().unwrap_or(0.0);
        (at(&self.value), at(&self.derivative), at(&self.second))
    }

    /// The number N of coefficients.
    pub fn count(&self) -> usize {
        self.value.len()
    }
}

/// Terms of one pair by the expansion: K(u, v), coef_v, coef_u of grad_1 K(u, v) and the
/// coef_u of grad_1 K(v, u), all in one pass over the N terms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MehlerTerms {
    /// K(u, v).
    pub value: f64,
    /// Coefficient of v in grad_1 K(u, v) (symmetric in u and v).
    pub coef_v: f64,
    /// Coefficient of u in grad_1 K(u, v).
    pub coef_u: f64,
    /// coef_u(v, u): the coefficient of v in grad_1 K(v, u).
    pub coef_u_backward: f64,
}

/// The terms of the pair (u, v) with features `u`, `v` (equal counts) and cosine `rho` of
/// their angle, by Horner's scheme in rho over the N terms (docs/math.md section 3).
#[inline]
pub fn mehler_terms(u: &HermiteFeatures, v: &HermiteFeatures, rho: f64) -> MehlerTerms {
    let count = u.count().min(v.count());
    let mut out = MehlerTerms {
        value: 0.0,
        coef_v: 0.0,
        coef_u: 0.0,
        coef_u_backward: 0.0,
    };
    for n in (0..count).rev() {
        out.value = out.value * rho + u.value[n] * v.value[n];
        out.coef_v = out.coef_v * rho + u.derivative[n] * v.derivative[n];
        out.coef_u = out.coef_u * rho + u.second[n] * v.value[n];
        out.coef_u_backward = out.coef_u_backward * rho + u.value[n] * v.second[n];
    }
    out
}

/// The largest |rho| at which `count` terms meet the normalised tolerance `tolerance`:
/// the root of |rho|^N / (1 - |rho|) = tolerance (bisection; 0 if even rho -> 0 fails).
pub fn mehler_reach(count: usize, tolerance: f64) -> f64 {
    let bound = |rho: f64| rho.powi(count as i32) / (1.0 - rho);
    if count == 0 || bound(0.0) > tolerance {
        return 0.0;
    }
    let (mut low, mut high) = (0.0, 1.0);
    for _ in 0..60 {
        let mid = 0.5 * (low + high);
        if bound(mid) <= tolerance {
            low = mid;
        } else {
            high = mid;
        }
    }
    low
}

#[cfg(test)]
mod tests {
    #![allow(clippy::float_cmp, reason = "tests")]
    use super::*;

    /// sigma(z) = z: sigma(r g) = r h_1(g), so a_1 = r and every other a_n = 0; sigma' = 1 =
    /// h_0, so b_0 = 1. The trapezoid rule integrates these polynomials times the Gaussian
    /// to rounding.
    #[test]
    fn linear_features_are_the_norm_in_the_first_coefficient() {
        let f = HermiteFeatures::new(Activation::Linear, 2.5, 8);
        for (n, &a) in f.value.iter().enumerate() {
            let expected = if n == 1 { 2.5 } else { 0.0 };
            assert!((a - expected).abs() < 1e-14, "n {n}: {a}");
        }
        assert!((f.derivative[0] - 1.0).abs() < 1e-14);
    }

    #[test]
    fn reach_meets_the_tolerance_and_grows_with_the_count() {
        let (short, long) = (mehler_reach(32, 1e-8), mehler_reach(64, 1e-8));
        assert!(short < long && long < 1.0);
        assert!(long.powi(64) / (1.0 - long) <= 1e-8);
        assert_eq!(mehler_reach(0, 1e-8), 0.0);
    }
}
