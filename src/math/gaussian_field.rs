//! One-dimensional Gaussian integrals of the activations (docs/problems.md, sections "Teacher
//! with another activation", "Hermite targets" and "Mixture labels"):
//!
//! - the Gaussian smoothing G_f(mu, s) = E f(mu + s z), z ~ N(0, 1), of an activation f and of
//!   its derivative ([`smoothing`]: closed forms for relu, erf, linear, quadratic);
//! - the Hermite projections E[sigma(w.x) He_j(e.x)] = (w.e)^j q_j(|w|),
//!   q_j(r) = E sigma^(j)(r z) ([`hermite_projection`]: closed forms for relu, erf, linear,
//!   quadratic);
//! - the mean activation g(r) = E sigma(r z) ([`mean_activation`]);
//! - [`LineRule`]: E h(z) for z ~ N(0, 1) by a composite Gauss-Legendre rule on [-L, L],
//!   split at z = 0 (where relu kinks sit) and optionally graded geometrically towards 0 (where
//!   a smoothed step of width `fine` sits).
//!
//! # Accuracy of [`LineRule`]
//!
//! Panels of width h = min(0.5, 2 / rate) carry 16 Gauss-Legendre nodes each. An integrand
//! analytic in a strip |Im z| < b around a panel of half-width h / 2 is integrated with error
//! at most (64 / 15) M rho^-32 / (rho^2 - 1), rho = 2b/h + sqrt(1 + (2b/h)^2) (the Bernstein
//! ellipse bound of Gauss rules), M the bound of |integrand| on the ellipse. For the
//! activations here b >= 0.8 / rate (tanh's poles at pi / (2 rate) are the nearest), so
//! rho >= 2.9 and rho^-32 <= 2e-15 per panel relative to M; truncation to [-L, L], L = 10,
//! drops Gaussian mass 1.5e-23 times the integrand's growth (at most polynomial here). A
//! smoothed step Phi(z / eps) is resolved by the graded panels [h 2^-k-1, h 2^-k] down to
//! eps / 4. The test `line_rule_matches_closed_forms` checks the rule against closed forms
//! (relu and erf kernels, Hermite moments) to 1e-13 at rates up to 8; docs/problems.md states
//! the bound 1e-12 (absolute, per expectation, for rates up to 8 and integrands of size O(1)).

use std::f64::consts::{FRAC_1_SQRT_2, PI};

use crate::error::Result;
use crate::math::Activation;
use crate::math::gauss;
use crate::math::hermite::hermite;

/// Nodes per panel.
const NODES: usize = 16;
/// The rule covers [-HALF_WIDTH, HALF_WIDTH].
const HALF_WIDTH: f64 = 10.0;
/// The widest panel.
const WIDEST_PANEL: f64 = 0.5;
/// At most this many graded panels towards 0 (down to 2^-60 of a panel).
const MAX_GRADING: u32 = 60;
/// 1 / sqrt(2 pi), the standard normal density at 0.
pub const INV_SQRT_TWO_PI: f64 = 0.398_942_280_401_432_7;

/// The standard normal density phi(t).
#[inline]
pub fn density(t: f64) -> f64 {
    INV_SQRT_TWO_PI * (-0.5 * t * t).exp()
}

/// The standard normal distribution function Phi(t), accurate in both tails.
#[inline]
pub fn distribution(t: f64) -> f64 {
    0.5 * libm::erfc(-t * FRAC_1_SQRT_2)
}

/// A composite Gauss-Legendre rule for E h(z), z ~ N(0, 1) (module documentation).
#[derive(Clone, Debug)]
pub struct LineRule {
    /// Gauss-Legendre nodes on [-1, 1].
    nodes: Vec<f64>,
    /// Their weights, summing to 1 (a probability rule on [-1, 1]).
    weights: Vec<f64>,
}

impl LineRule {
    /// The 16-node rule.
    ///
    /// # Errors
    /// Those of [`gauss::jacobi_symmetric`] (none for 16 nodes).
    pub fn new() -> Result<Self> {
        let (nodes, weights) = gauss::jacobi_symmetric(0.0, NODES)?;
        Ok(Self { nodes, weights })
    }

    /// E h(z) for z ~ N(0, 1), each of the N outputs of `h` at once. `rate` is the largest
    /// scale factor of z inside h (h varies on the scale 1 / rate); `fine`, when given, the
    /// width of a smoothed step at z = 0 (panels graded down to fine / 4).
    pub fn expectation<const N: usize>(
        &self,
        rate: f64,
        fine: Option<f64>,
        h: impl Fn(f64) -> [f64; N],
    ) -> [f64; N] {
        let width = WIDEST_PANEL.min(2.0 / rate.max(f64::MIN_POSITIVE));
        let panels = (HALF_WIDTH / width).ceil() as usize;
        let grading = fine.map_or(0, |eps| {
            let levels = (4.0 * width / eps.max(f64::MIN_POSITIVE)).log2().ceil();
            levels.clamp(0.0, f64::from(MAX_GRADING)) as u32
        });
        let mut sum = [0.0; N];
        let mut panel = |lo: f64, hi: f64| {
            let (mid, half) = (0.5 * (lo + hi), 0.5 * (hi - lo));
            for (x, w) in self.nodes.iter().zip(&self.weights) {
                for sign in [1.0, -1.0] {
                    let z = sign * (mid + half * x);
                    let weight = 2.0 * half * w * density(z);
                    for (s, v) in sum.iter_mut().zip(h(z)) {
                        *s += weight * v;
                    }
                }
            }
        };
        // The first panel [0, width], graded towards 0.
        let mut hi = width;
        for _ in 0..grading {
            panel(0.5 * hi, hi);
            hi *= 0.5;
        }
        panel(0.0, hi);
        for p in 1..panels {
            panel(p as f64 * width, (p + 1) as f64 * width);
        }
        sum
    }
}

/// E f(mu + s z) and E f'(mu + s z), z ~ N(0, 1): the Gaussian smoothing of an activation f and
/// of its derivative.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Smoothed {
    /// E f(mu + s z).
    pub value: f64,
    /// E f'(mu + s z).
    pub slope: f64,
}

/// The Gaussian smoothing of `activation` at (mu, s), s >= 0, in closed form (docs/problems.md):
///
/// ```text
/// relu:      mu Phi(mu/s) + s phi(mu/s),            Phi(mu/s)
/// erf:       erf(mu / sqrt(2 (1 + s^2))),           sqrt(2/pi) exp(-mu^2 / (2 (1 + s^2))) / sqrt(1 + s^2)
/// linear:    mu,                                    1
/// quadratic: mu^2 + s^2,                            2 mu
/// ```
///
/// None for tanh, sigmoid and softplus (no closed form).
pub fn smoothing(activation: Activation, mu: f64, s: f64) -> Option<Smoothed> {
    let smoothed = match activation {
        Activation::Relu if s > 0.0 => {
            let t = mu / s;
            Smoothed {
                value: mu * distribution(t) + s * density(t),
                slope: distribution(t),
            }
        }
        Activation::Relu => Smoothed {
            value: mu.max(0.0),
            slope: if mu > 0.0 { 1.0 } else { 0.0 },
        },
        Activation::Erf => {
            let spread = 1.0 + s * s;
            Smoothed {
                value: libm::erf(mu / (2.0 * spread).sqrt()),
                slope: (2.0 / PI).sqrt() * (-0.5 * mu * mu / spread).exp() / spread.sqrt(),
            }
        }
        Activation::Linear => Smoothed {
            value: mu,
            slope: 1.0,
        },
        Activation::Quadratic => Smoothed {
            value: mu * mu + s * s,
            slope: 2.0 * mu,
        },
        Activation::Tanh | Activation::Sigmoid | Activation::Softplus => return None,
    };
    Some(smoothed)
}

/// E f''(mu + s z), z ~ N(0, 1), s > 0, in closed form: relu phi(mu/s) / s, erf
/// -mu / (1 + s^2) times its smoothed slope, linear 0, quadratic 2. None for tanh, sigmoid,
/// softplus, and for relu at s = 0 (a Dirac mass, which the caller integrates itself).
pub fn smoothing_curvature(activation: Activation, mu: f64, s: f64) -> Option<f64> {
    match activation {
        Activation::Relu if s > 0.0 => Some(density(mu / s) / s),
        Activation::Erf => smoothing(activation, mu, s).map(|g| -mu / (1.0 + s * s) * g.slope),
        Activation::Linear => Some(0.0),
        Activation::Quadratic => Some(2.0),
        _ => None,
    }
}

/// E[sigma(w.x) He_j(e.x)] for x ~ N(0, I), |e| = 1, and its gradient in w:
/// value = p^j q_j(r) with p = w.e, r = |w|, q_j(r) = E sigma^(j)(r z), and
/// grad = coef_e e + coef_w w (coef_e = j p^(j-1) q_j, coef_w = p^j q_j'(r) / r).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Projection {
    /// p^j q_j(r).
    pub value: f64,
    /// Coefficient of e in the gradient.
    pub coef_e: f64,
    /// Coefficient of w in the gradient.
    pub coef_w: f64,
}

/// The Hermite projection of `activation` at degree `j`, for r = |w| and p = w.e (|p| <= r),
/// in closed form (docs/problems.md):
///
/// ```text
/// relu:      q_0 = r / sqrt(2 pi), q_1 = 1/2, q_j = He_(j-2)(0) / (sqrt(2 pi) r^(j-1)) (j >= 2)
/// erf:       q_j = sqrt(2/pi) (-1)^(j-1) He_(j-1)(0) (1 + r^2)^(-j/2) (j odd; 0 for j even)
/// linear:    q_1 = 1
/// quadratic: q_0 = r^2, q_2 = 2
/// ```
///
/// relu's q_j, j >= 2, is singular at r = 0 but p^j q_j = r (p/r)^j He_(j-2)(0) / sqrt(2 pi) is
/// bounded: it is written so, and at w = 0 the value and gradient are 0 (as for q_0's
/// gradient w / (sqrt(2 pi) r)). None for tanh, sigmoid and softplus.
pub fn hermite_projection(activation: Activation, j: u32, r: f64, p: f64) -> Option<Projection> {
    let zero = Projection {
        value: 0.0,
        coef_e: 0.0,
        coef_w: 0.0,
    };
    let jf = f64::from(j);
    let projection = match (activation, j) {
        (Activation::Relu, 0) => Projection {
            value: r * INV_SQRT_TWO_PI,
            coef_e: 0.0,
            coef_w: if r > 0.0 { INV_SQRT_TWO_PI / r } else { 0.0 },
        },
        (Activation::Relu, 1) => Projection {
            value: 0.5 * p,
            coef_e: 0.5,
            coef_w: 0.0,
        },
        (Activation::Relu, _) if r > 0.0 => {
            let constant = hermite(j - 2, 0.0) * INV_SQRT_TWO_PI;
            let cosine = p / r;
            let power = cosine.powi(j as i32 - 1);
            Projection {
                value: constant * r * power * cosine,
                coef_e: jf * constant * power,
                coef_w: -(jf - 1.0) * constant * power * cosine / r,
            }
        }
        (Activation::Relu, _) => zero,
        (Activation::Erf, _) if j % 2 == 1 => {
            let spread = 1.0 + r * r;
            // (-1)^(j-1) = 1 for odd j.
            let q = (2.0 / PI).sqrt() * hermite(j - 1, 0.0) * spread.powf(-0.5 * jf);
            let power = p.powi(j as i32 - 1);
            Projection {
                value: power * p * q,
                coef_e: jf * power * q,
                coef_w: -jf * power * p * q / spread,
            }
        }
        (Activation::Erf, _) => zero,
        (Activation::Linear, 1) => Projection {
            value: p,
            coef_e: 1.0,
            coef_w: 0.0,
        },
        (Activation::Linear, _) => zero,
        (Activation::Quadratic, 0) => Projection {
            value: r * r,
            coef_e: 0.0,
            coef_w: 2.0,
        },
        (Activation::Quadratic, 2) => Projection {
            value: 2.0 * p * p,
            coef_e: 4.0 * p,
            coef_w: 0.0,
        },
        (Activation::Quadratic, _) => zero,
        (Activation::Tanh | Activation::Sigmoid | Activation::Softplus, _) => return None,
    };
    Some(projection)
}

/// g(r) = E sigma(r z), z ~ N(0, 1), and g'(r) / r = E sigma''(r z) (Stein's lemma; the
/// gradient of g(|w|) is (g'(r) / r) w): relu (r / sqrt(2 pi), 1 / (sqrt(2 pi) r), 0 at r = 0),
/// erf, tanh and linear (0, 0: odd), quadratic (r^2, 2), sigmoid (1/2, 0: sigmoid - 1/2 is
/// odd), softplus by `rule` (E softplus(r z), E sigmoid'(r z)).
pub fn mean_activation(activation: Activation, r: f64, rule: &LineRule) -> (f64, f64) {
    match activation {
        Activation::Relu => (
            r * INV_SQRT_TWO_PI,
            if r > 0.0 { INV_SQRT_TWO_PI / r } else { 0.0 },
        ),
        Activation::Erf | Activation::Tanh | Activation::Linear => (0.0, 0.0),
        Activation::Quadratic => (r * r, 2.0),
        Activation::Sigmoid => (0.5, 0.0),
        Activation::Softplus => {
            let [g, curvature] = rule.expectation(r, None, |z| {
                [activation.value(r * z), activation.second_derivative(r * z)]
            });
            (g, curvature)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::math::PairKernel;
    use crate::math::hermite::hermite_norm;

    /// Gauss-Hermite at high order for polynomial-times-Gaussian and smooth integrands.
    fn reference(h: impl Fn(f64) -> f64) -> f64 {
        let (nodes, weights) = gauss::hermite(160).unwrap();
        nodes.iter().zip(&weights).map(|(z, w)| w * h(*z)).sum()
    }

    #[test]
    fn line_rule_matches_closed_forms() {
        let rule = LineRule::new().unwrap();
        for r in [0.1, 0.7, 1.0, 3.0, 8.0] {
            // E relu(r z)^2 = r^2 / 2, E erf(r z / sqrt 2)^2 = (2/pi) asin(r^2 / (1 + r^2)).
            let [relu] = rule.expectation(r, None, |z| [Activation::Relu.value(r * z).powi(2)]);
            assert!(
                (relu - 0.5 * r * r).abs() < 1e-13 * r * r,
                "relu {r}: {relu}"
            );
            let [erf] = rule.expectation(r, None, |z| [Activation::Erf.value(r * z).powi(2)]);
            let exact = PairKernel::new(Activation::Erf).value(r * r, r * r, r * r);
            assert!((erf - exact).abs() < 1e-13, "erf {r}: {erf} vs {exact}");
            // A smoothed step: E[1{z > 0} Phi(z / eps)] = 1/4 + atan(1 / eps) / (2 pi).
            for eps in [1e-9, 1e-4, 0.3] {
                let [step] = rule.expectation(r, Some(eps), |z| {
                    [f64::from(z > 0.0) * distribution(z / eps)]
                });
                let exact = 0.25 + (1.0 / eps).atan() / (2.0 * PI);
                assert!(
                    (step - exact).abs() < 1e-13,
                    "step {eps}: {step} vs {exact}"
                );
            }
        }
    }

    #[test]
    fn smoothing_matches_gauss_hermite() {
        for activation in [
            Activation::Relu,
            Activation::Erf,
            Activation::Linear,
            Activation::Quadratic,
        ] {
            for (mu, s) in [(0.3, 0.5), (-1.2, 0.9), (0.6, 0.25)] {
                let got = smoothing(activation, mu, s).unwrap();
                // z = t - c, c = mu / s: E f(s t) exp(c t - c^2 / 2) over t ~ N(0, 1), so that
                // relu's kink sits at t = 0, where the rule splits.
                let rule = LineRule::new().unwrap();
                let c = mu / s;
                let [value, slope] = rule.expectation(s.max(c.abs()), None, |t| {
                    let tilt = (c * t - 0.5 * c * c).exp();
                    [
                        activation.value(s * t) * tilt,
                        activation.derivative(s * t) * tilt,
                    ]
                });
                assert!((got.value - value).abs() < 1e-12, "{activation} {mu} {s}");
                assert!((got.slope - slope).abs() < 1e-12, "{activation}' {mu} {s}");
            }
        }
    }

    #[test]
    fn hermite_projection_matches_gauss_hermite() {
        // p^j q_j(r) = r^j (p/r)^j q_j = (p/r)^j E[sigma(r z) He_j(z)]: check the latter.
        for activation in [Activation::Erf, Activation::Linear, Activation::Quadratic] {
            for j in 0..=7 {
                for r in [0.4, 1.3] {
                    let got = hermite_projection(activation, j, r, r).unwrap().value;
                    let direct = reference(|z| activation.value(r * z) * hermite(j, z));
                    assert!((got - direct).abs() < 1e-12, "{activation} He_{j} r={r}");
                }
            }
        }
        let rule = LineRule::new().unwrap();
        for j in 0..=7 {
            for r in [0.4, 1.3] {
                let got = hermite_projection(Activation::Relu, j, r, r).unwrap().value;
                let [direct] = rule.expectation(r, None, |z| {
                    [Activation::Relu.value(r * z) * hermite(j, z) / hermite_norm(0)]
                });
                assert!(
                    (got - direct).abs() < 1e-12,
                    "relu He_{j} r={r}: {got} {direct}"
                );
            }
        }
    }
}
