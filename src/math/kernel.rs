//! Pair kernels K(u, v) = E[sigma(u.x) sigma(v.x)] and grad_1 K for x ~ N(0, I_d)
//! (docs/math.md section 3): closed forms for linear, quadratic, relu, erf; a two-dimensional
//! trapezoid rule with a stated error bound for tanh, sigmoid and softplus.
//!
//! K depends on u and v only through uu = |u|^2, vv = |v|^2 and uv = u.v, and its gradient in
//! the first argument is a combination of the two vectors:
//! grad_1 K(u, v) = coef_v v + coef_u u ([`PairTerms`]). The engine computes the Gram matrix
//! once and calls [`PairKernel::terms`] on its entries.
//!
//! # Quadrature
//!
//! With (z1, z2) Gaussian of covariance [[uu, uv], [uv, vv]], Price's theorem gives
//! grad_1 K = E[sigma'(z1) sigma'(z2)] v + E[sigma''(z1) sigma(z2)] u, so the three numbers are
//! the expectations E[s(z1) s(z2)], E[s'(z1) s'(z2)] and E[s''(z1) s(z2)]. In standard variables
//! z1 = r1 g1, z2 = r2 (rho g1 + sqrt(1 - rho^2) g2) they are computed by the trapezoid rule
//! with spacing h in each of g1 and g2, on the disk g1^2 + g2^2 <= L^2.
//!
//! Error bound (per expectation, absolute). Write omega = 2 pi / h. The activations are
//! analytic in a strip |Im z| < c (tanh: c = pi/2, its poles; sigmoid and softplus: c = pi),
//! so a factor sigma(r g) is analytic for |Im g| < a = c / r. Moving the Poisson-summation
//! contour of the trapezoid rule to Im g = y, y = min(a, omega), gives for the discretisation
//! error of each one-dimensional rule the estimate
//!
//! ```text
//! E(h, r) = A (1 + (omega + y) / r')^3 / r' * G(r) * exp(y^2 / 2 - y omega),  r' = max(r, c / omega)
//! ```
//!
//! the residue at distance a of a pole of order four (sigma'' sigma, or sigma' sigma', when
//! the two factors are nearly parallel and their poles coincide) times the Gaussian weight
//! there; A = 4 sqrt(2 pi) counts the two poles at +-a with a safety factor 2, and G bounds the
//! other factor: 1 for tanh and sigmoid, 1 + r (L + 1) for softplus. A unit test checks on a
//! grid of rates, angles and spacings that E bounds the observed error (it does with a margin
//! of about 7 at worst, for parallel pairs). The outer rule (g1) sees the rate
//! r_outer = max(r1, r2 |rho|), the inner rule (g2) r_inner = r2 sqrt(1 - rho^2). Truncation
//! to the disk drops Gaussian mass exp(-L^2 / 2), times G^2. So each expectation is within
//!
//! ```text
//! E(h_outer, r_outer) + E(h_inner, r_inner) + G^2 exp(-L^2 / 2)
//! ```
//!
//! Each spacing is the coarsest of a geometric ladder (ratio 2^(1/8), from 0.75 down to the
//! spacing that serves rate 32; larger norms use the finest and [`PairKernel::error_bound`]
//! reports the larger error) with E <= tolerance / 3, and L = sqrt(2 ln(3 / tolerance)) for
//! bounded activations (7.58 at the default 1e-12), sqrt(2 ln(3e4 / tolerance)) for softplus
//! (8.71), so the total is within the tolerance. Fixed Gauss-Hermite rules are not used: their
//! error grows quickly with |w| (docs/math.md).
//!
//! At the default tolerance, nodes on [-L, L] per direction at rate 1, 3 and 5: tanh 67, 193,
//! 323; sigmoid 37, 97, 149; softplus 43, 121, 185. The 2-D rule keeps the disk (pi/4 of the
//! square), and the point symmetry (g1, g2) -> (-g1, -g2) (sigma(-z) is an affine function of
//! sigma(z) and z for every activation here) halves the activation evaluations.

use crate::error::Error;
use crate::math::activation::Activation;
use crate::math::expansion::Expansion;
use crate::math::fastmath;
use std::f64::consts::PI;

/// K(u, v) and the two coefficients of grad_1 K(u, v) = coef_v * v + coef_u * u.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairTerms {
    /// K(u, v).
    pub value: f64,
    /// Coefficient of v in grad_1 K(u, v).
    pub coef_v: f64,
    /// Coefficient of u in grad_1 K(u, v).
    pub coef_u: f64,
}

/// Pair kernel K(u, v) = E_x[sigma(u.x) sigma(v.x)], x ~ N(0, I_d), for one activation.
///
/// Closed forms for linear, quadratic, relu and erf; a trapezoid rule with precomputed node
/// tables for tanh, sigmoid and softplus (see the module documentation for its error bound).
/// `Send + Sync` and cheap to share by reference across threads: [`PairKernel::terms`]
/// allocates nothing.
///
/// ```
/// # use meanfield::math::{Activation, PairKernel};
/// let relu = PairKernel::new(Activation::Relu);
/// let u = [3.0, 4.0];
/// assert!((relu.kernel(&u, &u) - 12.5).abs() < 1e-12); // K(u, u) = |u|^2 / 2
/// ```
#[derive(Clone, Debug)]
pub struct PairKernel {
    activation: Activation,
    method: Method,
    /// The Mehler expansion the population pass uses for tanh, sigmoid and softplus
    /// (`math::expansion`); [`PairKernel::terms`] itself is always the quadrature.
    expansion: Option<Expansion>,
}

#[derive(Clone, Debug)]
enum Method {
    Closed,
    Quadrature(Quadrature),
}

impl PairKernel {
    /// Default quadrature tolerance for tanh/sigmoid/softplus (absolute, per expectation): 1e-12.
    pub const DEFAULT_TOLERANCE: f64 = 1e-12;

    /// The kernel of `activation`: closed form, or quadrature with [`Self::DEFAULT_TOLERANCE`].
    pub fn new(activation: Activation) -> Self {
        let method = if activation.has_closed_form_kernel() {
            Method::Closed
        } else {
            Method::Quadrature(Quadrature::new(activation, Self::DEFAULT_TOLERANCE))
        };
        Self {
            activation,
            method,
            expansion: Expansion::new(activation),
        }
    }

    /// The same kernel without the Mehler expansion: the population pass then computes every
    /// pair of the smooth activations by the quadrature (the path before issue 27, kept for the
    /// tests that compare trajectories).
    #[doc(hidden)]
    #[must_use]
    pub fn without_expansion(mut self) -> Self {
        self.expansion = None;
        self
    }

    /// The Mehler expansion of the population pass (tanh, sigmoid, softplus), if any.
    pub fn expansion(&self) -> Option<&Expansion> {
        self.expansion.as_ref()
    }

    /// The kernel of `activation`, with quadrature tolerance `tolerance` (absolute, per
    /// expectation; finite, in [1e-15, 1e-2]). Closed forms ignore it.
    pub fn with_tolerance(activation: Activation, tolerance: f64) -> crate::Result<Self> {
        if !(tolerance.is_finite() && (1e-15..=1e-2).contains(&tolerance)) {
            return Err(Error::invalid(
                "kernel tolerance",
                tolerance,
                "a finite number in [1e-15, 1e-2]",
            ));
        }
        let method = if activation.has_closed_form_kernel() {
            Method::Closed
        } else {
            Method::Quadrature(Quadrature::new(activation, tolerance))
        };
        Ok(Self {
            activation,
            method,
            expansion: None,
        })
    }

    /// A quadrature kernel even where a closed form exists (to test the quadrature against it).
    /// The error model of erf, linear and quadratic treats them as entire functions; relu is
    /// accepted but its kink makes the trapezoid rule converge only like h^2, so its
    /// [`Self::error_bound`] does not hold.
    #[doc(hidden)]
    pub fn quadrature_for_tests(activation: Activation, tolerance: f64) -> Self {
        Self {
            activation,
            method: Method::Quadrature(Quadrature::new(activation, tolerance)),
            expansion: None,
        }
    }

    /// The activation sigma.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// K(u, v) and the coefficients of grad_1 K(u, v), from the squared norms uu = |u|^2,
    /// vv = |v|^2 and the dot product uv = u.v.
    ///
    /// Self pairs are passed with uv = uu = vv exactly and give phi = 0 exactly (relu:
    /// K = uu / 2, coef_v = 1 / 2, coef_u = 0). For relu at u = 0, phi = 0 and coef_u = 0, so
    /// grad_1 K(0, v) = v / 2 (docs/math.md's subgradient).
    #[inline]
    pub fn terms(&self, uu: f64, vv: f64, uv: f64) -> PairTerms {
        match &self.method {
            Method::Closed => closed_form_terms(self.activation, uu, vv, uv),
            Method::Quadrature(quadrature) => quadrature.terms(self.activation, uu, vv, uv, true),
        }
    }

    /// K(u, v) only (cheaper where only the risk is needed).
    #[inline]
    pub fn value(&self, uu: f64, vv: f64, uv: f64) -> f64 {
        match &self.method {
            Method::Closed => closed_form_value(self.activation, uu, vv, uv),
            Method::Quadrature(quadrature) => {
                quadrature.terms(self.activation, uu, vv, uv, false).value
            }
        }
    }

    /// Whether K has a closed form (linear, quadratic, relu, erf) rather than a quadrature.
    pub fn is_closed_form(&self) -> bool {
        matches!(self.method, Method::Closed)
    }

    /// K(u, v) for vectors u and v of equal length.
    pub fn kernel(&self, u: &[f64], v: &[f64]) -> f64 {
        self.value(dot(u, u), dot(v, v), dot(u, v))
    }

    /// grad_1 K(u, v), the gradient in the first argument, as a vector.
    pub fn grad1(&self, u: &[f64], v: &[f64]) -> Vec<f64> {
        let terms = self.terms(dot(u, u), dot(v, v), dot(u, v));
        u.iter()
            .zip(v)
            .map(|(&ui, &vi)| terms.coef_v * vi + terms.coef_u * ui)
            .collect()
    }

    /// For quadrature kernels: a bound on the absolute error of each of the three expectations
    /// when |u|, |v| <= `max_norm` (the model of the module documentation, at the spacings the
    /// rule picks); `None` for closed forms.
    pub fn error_bound(&self, max_norm: f64) -> Option<f64> {
        match &self.method {
            Method::Closed => None,
            Method::Quadrature(quadrature) => Some(quadrature.error_bound(max_norm)),
        }
    }
}

#[inline]
fn dot(u: &[f64], v: &[f64]) -> f64 {
    u.iter().zip(v).map(|(a, b)| a * b).sum()
}

/// |u|^2 |v|^2 sin^2 phi, clamped at 0 against rounding (0 exactly for self pairs).
#[inline]
fn cross_squared(uu: f64, vv: f64, uv: f64) -> f64 {
    (uu * vv - uv * uv).max(0.0)
}

const INV_TWO_PI: f64 = 1.0 / (2.0 * PI);

/// relu (value, coef_v, cross) without branches, cross = |u||v| sin(phi) / (2 pi), so that
/// coef_u = cross / |u|^2 (0 for u = 0, where phi := 0: grad_1 K(0, v) = v / 2).
#[inline(always)]
pub(crate) fn relu_lane(uu: f64, vv: f64, uv: f64) -> (f64, f64, f64) {
    let cross = cross_squared(uu, vv, uv).sqrt();
    let phi = fastmath::atan2(cross, uv);
    let phi = if (uu > 0.0) & (vv > 0.0) { phi } else { 0.0 };
    let coef_v = 0.5 - phi * INV_TWO_PI;
    let cross = cross * INV_TWO_PI;
    (cross + coef_v * uv, coef_v, cross)
}

/// erf (value, coef_v) without branches, coef_u = -coef_v u.v / (1 + |u|^2). The determinant
/// (1 + uu)(1 + vv) - uv^2 is written without cancellation.
#[inline(always)]
pub(crate) fn erf_lane(uu: f64, vv: f64, uv: f64) -> (f64, f64) {
    let det = 1.0 + uu + vv + cross_squared(uu, vv, uv);
    let root = det.sqrt();
    let coef_v = (2.0 / PI) / root;
    ((2.0 / PI) * fastmath::atan2(uv, root), coef_v)
}

#[inline]
fn closed_form_terms(activation: Activation, uu: f64, vv: f64, uv: f64) -> PairTerms {
    match activation {
        Activation::Quadratic => PairTerms {
            value: uu * vv + 2.0 * uv * uv,
            coef_v: 4.0 * uv,
            coef_u: 2.0 * vv,
        },
        Activation::Relu => {
            // K = |u||v| (sin phi + (pi - phi) cos phi) / (2 pi), with |u||v| sin phi = cross
            // and |u||v| cos phi = uv; (1/2 - phi/(2 pi)) is exactly 1/2 at phi = 0.
            let inv_uu = if uu > 0.0 { 1.0 / uu } else { 0.0 };
            let (value, coef_v, cross) = relu_lane(uu, vv, uv);
            PairTerms {
                value,
                coef_v,
                coef_u: cross * inv_uu,
            }
        }
        Activation::Erf => {
            // asin(uv / sqrt((1+uu)(1+vv))) = atan2(uv, sqrt(det)), accurate near +-1.
            let (value, coef_v) = erf_lane(uu, vv, uv);
            PairTerms {
                value,
                coef_v,
                coef_u: -coef_v * uv * (1.0 / (1.0 + uu)),
            }
        }
        // Linear, and the quadrature activations if ever routed here (they are not).
        _ => PairTerms {
            value: uv,
            coef_v: 1.0,
            coef_u: 0.0,
        },
    }
}

#[inline]
fn closed_form_value(activation: Activation, uu: f64, vv: f64, uv: f64) -> f64 {
    closed_form_terms(activation, uu, vv, uv).value
}

/// Ratio between successive spacings of the ladder.
const LADDER_RATIO: f64 = 1.090_507_732_665_257_7; // 2^(1/8)
/// Coarsest spacing; the Gaussian alone then has trapezoid error exp(-2 pi^2 / h^2) ~ 6e-16.
const COARSEST_SPACING: f64 = 0.75;
/// The ladder stops at the first spacing whose rate limit reaches this norm; larger norms use
/// the finest spacing and [`PairKernel::error_bound`] reports the larger error.
const MAX_TABULATED_RATE: f64 = 32.0;
/// Safety on the residue estimate (2 for the poles at +-a, times 2).
const RESIDUE_FACTOR: f64 = 4.0 * 2.506_628_274_631_000_7; // 4 sqrt(2 pi)

/// One spacing h of the ladder: Gaussian weights exp(-t^2/2) h / sqrt(2 pi) at t = k h.
#[derive(Clone, Debug)]
struct Level {
    spacing: f64,
    /// Weights at k = 0, 1, ..., floor(L / h).
    weights: Vec<f64>,
    /// The largest rate r for which the one-dimensional error model is within tolerance / 3.
    max_rate: f64,
}

/// How an activation continues into the complex plane (it drives the error model).
#[derive(Clone, Copy, Debug)]
enum Analyticity {
    /// Singularities (poles, branch points) at Im z = +-reach.
    Strip { reach: f64 },
    /// Entire, with |sigma(r (x + i y))| growing like exp(growth r^2 y^2 / 2).
    Entire { growth: f64 },
}

/// sigma(-z) = alpha sigma(z) + beta + gamma z, and the same for sigma': lets the rule
/// evaluate the activation once for the two points g and -g.
#[derive(Clone, Copy, Debug)]
struct Reflection {
    alpha: f64,
    beta: f64,
    gamma: f64,
}

#[derive(Clone, Debug)]
struct Quadrature {
    activation: Activation,
    tolerance: f64,
    half_width: f64,
    analyticity: Analyticity,
    value_reflection: Reflection,
    derivative_reflection: Reflection,
    levels: Vec<Level>,
}

impl Quadrature {
    fn new(activation: Activation, tolerance: f64) -> Self {
        // The disk g1^2 + g2^2 <= L^2 leaves out Gaussian mass exp(-L^2 / 2); activations that
        // grow (softplus, and the test-only linear, quadratic, relu) get a margin of 1e4 for
        // their growth G^2 (G <= 100: softplus up to rate ~10).
        let margin = match activation {
            Activation::Tanh | Activation::Sigmoid | Activation::Erf => 1.0,
            _ => 1e4,
        };
        let half_width = (2.0 * (3.0 * margin / tolerance).ln()).sqrt();
        let analyticity = analyticity(activation);
        let (value_reflection, derivative_reflection) = reflections(activation);
        let mut quadrature = Self {
            activation,
            tolerance,
            half_width,
            analyticity,
            value_reflection,
            derivative_reflection,
            levels: Vec::new(),
        };
        let norm = 1.0 / (2.0 * PI).sqrt();
        let mut spacing = COARSEST_SPACING;
        loop {
            let count = (half_width / spacing).floor() as usize;
            let weights = (0..=count)
                .map(|k| {
                    let t = k as f64 * spacing;
                    (-0.5 * t * t).exp() * spacing * norm
                })
                .collect();
            let max_rate = quadrature.max_rate(spacing);
            // A spacing too coarse even as r -> 0 covers no rate; the next one serves r = 0.
            if max_rate > 0.0 {
                quadrature.levels.push(Level {
                    spacing,
                    weights,
                    max_rate,
                });
            }
            if max_rate >= MAX_TABULATED_RATE || quadrature.levels.len() >= 400 {
                break;
            }
            spacing /= LADDER_RATIO;
        }
        quadrature
    }

    /// The largest rate with discretisation model <= tolerance / 3 (bisection; the model grows
    /// with r at fixed h).
    fn max_rate(&self, spacing: f64) -> f64 {
        let target = self.tolerance / 3.0;
        let model = |rate: f64| self.discretisation_error(spacing, rate);
        if model(1e-6) > target {
            return 0.0;
        }
        let (mut low, mut high) = (1e-6, 1e-6);
        while model(high) <= target {
            low = high;
            high *= 2.0;
            if high > 1e6 {
                return high;
            }
        }
        for _ in 0..60 {
            let mid = 0.5 * (low + high);
            if model(mid) <= target {
                low = mid;
            } else {
                high = mid;
            }
        }
        low
    }

    /// The level for a rate: the coarsest whose rate limit covers it, else the finest.
    #[inline]
    fn level(&self, rate: f64) -> &Level {
        let index = self.levels.partition_point(|level| level.max_rate < rate);
        &self.levels[index.min(self.levels.len() - 1)]
    }

    fn error_bound(&self, max_norm: f64) -> f64 {
        let activation_growth = self.growth(max_norm);
        let truncation =
            activation_growth * activation_growth * (-0.5 * self.half_width.powi(2)).exp();
        // Within a level the model grows with the rate, so its supremum over rates <= max_norm
        // is at the right end of each level's range.
        let mut lower = 0.0;
        let mut worst: f64 = 0.0;
        for (index, level) in self.levels.iter().enumerate() {
            if lower >= max_norm {
                break;
            }
            let last = index + 1 == self.levels.len();
            let upper = if last {
                max_norm
            } else {
                level.max_rate.min(max_norm)
            };
            if upper > lower {
                worst = worst.max(self.discretisation_error(level.spacing, upper));
                lower = upper;
            }
        }
        2.0 * worst + truncation
    }

    /// The three expectations by the two-dimensional trapezoid rule; `gradient = false` skips
    /// the derivative sums.
    #[inline]
    fn terms(
        &self,
        activation: Activation,
        uu: f64,
        vv: f64,
        uv: f64,
        gradient: bool,
    ) -> PairTerms {
        let r1 = uu.max(0.0).sqrt();
        let r2 = vv.max(0.0).sqrt();
        let norm_product = (uu * vv).max(0.0).sqrt();
        // rho = uv / (r1 r2) is exactly 1 for self pairs (sqrt(x^2) = x), and
        // sqrt(1 - rho^2) is computed from the cross term, exactly 0 for self pairs.
        let (rho, sine) = if norm_product > 0.0 {
            (
                (uv / norm_product).clamp(-1.0, 1.0),
                (cross_squared(uu, vv, uv).sqrt() / norm_product).min(1.0),
            )
        } else {
            (0.0, 1.0)
        };
        let outer = self.level(r1.max(r2 * rho.abs()));
        let inner = self.level(r2 * sine);
        self.rule(activation, outer, inner, r1, r2, rho, sine, gradient)
    }

    /// The trapezoid rule with the given outer (g1) and inner (g2) spacings.
    #[expect(clippy::too_many_arguments, reason = "internal hot path, all scalars")]
    #[inline]
    fn rule(
        &self,
        activation: Activation,
        outer: &Level,
        inner: &Level,
        r1: f64,
        r2: f64,
        rho: f64,
        sine: f64,
        gradient: bool,
    ) -> PairTerms {
        let radius_squared = self.half_width * self.half_width;
        let inner_step = r2 * sine * inner.spacing;
        let value_reflection = self.value_reflection;
        let derivative_reflection = self.derivative_reflection;

        let mut value = 0.0;
        let mut coef_v = 0.0;
        let mut coef_u = 0.0;
        for (i, &outer_weight) in outer.weights.iter().enumerate() {
            let g1 = i as f64 * outer.spacing;
            let remaining = radius_squared - g1 * g1;
            let last =
                ((remaining.max(0.0).sqrt() / inner.spacing) as usize).min(inner.weights.len() - 1);
            let center = r2 * rho * g1;
            // Inner sums over g2 of w sigma(z2) and w sigma'(z2), z2 = center + k inner_step.
            let (mut sum_value, mut sum_derivative) = if gradient {
                let (s, d) = activation.value_and_derivative(center);
                (inner.weights[0] * s, inner.weights[0] * d)
            } else {
                (inner.weights[0] * activation.value(center), 0.0)
            };
            let mut sum_weight = inner.weights[0];
            for (k, &weight) in inner.weights.iter().enumerate().take(last + 1).skip(1) {
                let offset = k as f64 * inner_step;
                if gradient {
                    let (s_plus, d_plus) = activation.value_and_derivative(center + offset);
                    let (s_minus, d_minus) = activation.value_and_derivative(center - offset);
                    sum_value += weight * (s_plus + s_minus);
                    sum_derivative += weight * (d_plus + d_minus);
                } else {
                    sum_value += weight
                        * (activation.value(center + offset) + activation.value(center - offset));
                }
                sum_weight += 2.0 * weight;
            }
            let z1 = r1 * g1;
            let mut add = |z: f64, weight: f64, s2: f64, d2: f64| {
                value += weight * activation.value(z) * s2;
                if gradient {
                    coef_v += weight * activation.derivative(z) * d2;
                    coef_u += weight * activation.second_derivative(z) * s2;
                }
            };
            if i == 0 {
                add(z1, outer_weight, sum_value, sum_derivative);
            } else {
                // The row at -g1 is the reflection of this one: z2 -> -z2 term by term, and
                // sum_k w_k z2_k = center * sum_weight by symmetry of the inner nodes.
                let reflected_value =
                    value_reflection.apply(sum_value, sum_weight, center * sum_weight);
                let reflected_derivative =
                    derivative_reflection.apply(sum_derivative, sum_weight, center * sum_weight);
                add(z1, outer_weight, sum_value, sum_derivative);
                add(-z1, outer_weight, reflected_value, reflected_derivative);
            }
        }
        PairTerms {
            value,
            coef_v,
            coef_u,
        }
    }
}

impl Reflection {
    /// sum_k w_k f(-z_k) from S = sum_k w_k f(z_k), W = sum_k w_k and Z = sum_k w_k z_k.
    #[inline]
    fn apply(self, sum: f64, sum_weight: f64, sum_z: f64) -> f64 {
        self.alpha * sum + self.beta * sum_weight + self.gamma * sum_z
    }
}

fn analyticity(activation: Activation) -> Analyticity {
    match activation {
        Activation::Tanh => Analyticity::Strip { reach: PI / 2.0 },
        Activation::Sigmoid | Activation::Softplus => Analyticity::Strip { reach: PI },
        // relu has no strip at all; it is only reachable through quadrature_for_tests.
        Activation::Erf | Activation::Relu => Analyticity::Entire { growth: 2.0 },
        Activation::Linear | Activation::Quadratic => Analyticity::Entire { growth: 0.0 },
    }
}

/// (value reflection, derivative reflection) of each activation.
fn reflections(activation: Activation) -> (Reflection, Reflection) {
    let odd = Reflection {
        alpha: -1.0,
        beta: 0.0,
        gamma: 0.0,
    };
    let even = Reflection {
        alpha: 1.0,
        beta: 0.0,
        gamma: 0.0,
    };
    let complement = Reflection {
        alpha: -1.0,
        beta: 1.0,
        gamma: 0.0,
    };
    let minus_identity = Reflection {
        alpha: 1.0,
        beta: 0.0,
        gamma: -1.0,
    };
    match activation {
        Activation::Tanh | Activation::Erf | Activation::Linear => (odd, even),
        // sigmoid(-z) = 1 - sigmoid(z); its derivative is even.
        Activation::Sigmoid => (complement, even),
        // softplus(-z) = softplus(z) - z, softplus'(-z) = 1 - softplus'(z); relu likewise.
        Activation::Softplus | Activation::Relu => (minus_identity, complement),
        Activation::Quadratic => (even, odd),
    }
}

impl Quadrature {
    /// Bound on |sigma|, |sigma'| and |sigma''| at z = r g for |g| <= L + 1 (and on the strip).
    fn growth(&self, rate: f64) -> f64 {
        let reach = rate * (self.half_width + 1.0);
        match self.activation {
            Activation::Tanh | Activation::Sigmoid | Activation::Erf => 1.0,
            Activation::Softplus | Activation::Relu | Activation::Linear => 1.0 + reach,
            Activation::Quadratic => (1.0 + reach) * (1.0 + reach),
        }
    }

    /// The one-dimensional discretisation error model E(h, r) of the module documentation.
    fn discretisation_error(&self, spacing: f64, rate: f64) -> f64 {
        let omega = 2.0 * PI / spacing;
        let other = self.growth(rate);
        match self.analyticity {
            Analyticity::Strip { reach } => {
                let distance = reach / rate;
                let y = distance.min(omega);
                let effective_rate = rate.max(reach / omega);
                let ratio = 1.0 + (omega + y) / effective_rate;
                RESIDUE_FACTOR * ratio.powi(3) / effective_rate
                    * other
                    * (0.5 * y * y - y * omega).exp()
            }
            Analyticity::Entire { growth } => {
                let spread = 1.0 + growth * rate * rate;
                RESIDUE_FACTOR
                    * other
                    * other
                    * (1.0 + omega).powi(4)
                    * (-0.5 * omega * omega / spread).exp()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]
    use super::*;

    fn level(spacing: f64, half_width: f64) -> Level {
        let count = (half_width / spacing).floor() as usize;
        let norm = 1.0 / (2.0 * PI).sqrt();
        Level {
            spacing,
            weights: (0..=count)
                .map(|k| {
                    let t = k as f64 * spacing;
                    (-0.5 * t * t).exp() * spacing * norm
                })
                .collect(),
            max_rate: 0.0,
        }
    }

    fn max_difference(a: PairTerms, b: PairTerms) -> f64 {
        (a.value - b.value)
            .abs()
            .max((a.coef_v - b.coef_v).abs())
            .max((a.coef_u - b.coef_u).abs())
    }

    /// The model E(h, r_outer) + E(h, r_inner) must bound the observed error of the rule at
    /// every spacing of a ladder, not only at the spacing it picks, against a rule 2.5 times
    /// finer on a wider disk (whose own error is far below). Nearly parallel pairs are the
    /// hard case: the singularities of both factors coincide. Differences below rounding
    /// (1e-13 relative, the sum of ~1e4 terms) are not discretisation errors.
    #[test]
    fn error_model_bounds_observed_discretisation_error() {
        for activation in [Activation::Tanh, Activation::Sigmoid, Activation::Softplus] {
            let quadrature = Quadrature::new(activation, 1e-12);
            for &rate in &[0.3f64, 1.0, 2.5] {
                for &(ratio, rho) in &[(1.0f64, 0.0f64), (0.5, 0.9), (1.0, 1.0), (0.7, -0.999)] {
                    let (r1, r2) = (rate, rate * ratio);
                    let sine = (1.0 - rho * rho).max(0.0).sqrt();
                    let mut spacing = 1.0;
                    loop {
                        let model = quadrature
                            .discretisation_error(spacing, r1.max(r2 * rho.abs()))
                            + quadrature.discretisation_error(spacing, r2 * sine);
                        let coarse = level(spacing, quadrature.half_width);
                        let fine = level(spacing / 2.5, 10.5);
                        let a =
                            quadrature.rule(activation, &coarse, &coarse, r1, r2, rho, sine, true);
                        let b = quadrature.rule(activation, &fine, &fine, r1, r2, rho, sine, true);
                        let rounding =
                            1e-13 * (1.0 + b.value.abs() + b.coef_v.abs() + b.coef_u.abs());
                        let observed = max_difference(a, b);
                        assert!(
                            observed <= model + rounding,
                            "{activation} r1 {r1} r2 {r2} rho {rho} h {spacing}: {observed:e} > {model:e}"
                        );
                        if model < 1e-13 {
                            break;
                        }
                        spacing /= 1.25;
                    }
                }
            }
        }
    }

    #[test]
    fn level_ladder_is_ordered_and_reaches_the_tabulated_rate() {
        for activation in [Activation::Tanh, Activation::Sigmoid, Activation::Softplus] {
            let quadrature = Quadrature::new(activation, PairKernel::DEFAULT_TOLERANCE);
            let levels = &quadrature.levels;
            assert!(
                levels
                    .windows(2)
                    .all(|pair| pair[0].spacing > pair[1].spacing
                        && pair[0].max_rate <= pair[1].max_rate)
            );
            assert!(levels.last().unwrap().max_rate >= MAX_TABULATED_RATE);
            for level in levels {
                assert!(
                    quadrature.discretisation_error(level.spacing, level.max_rate)
                        <= quadrature.tolerance / 3.0 * (1.0 + 1e-9)
                );
            }
        }
    }
}
