//! The cross kernel K_{sigma,tau}(u, v) = E[sigma(u.x) tau(v.x)], x ~ N(0, I), between a
//! student activation sigma and a teacher activation tau, with its gradient in u
//! (docs/problems.md, "Teacher with another activation").
//!
//! By Price's theorem grad_u K = E[sigma''(u.x) tau(v.x)] u + E[sigma'(u.x) tau'(v.x)] v: the
//! [`PairTerms`] convention of `math::kernel` (coef_u, coef_v). For tau = sigma this is the pair
//! kernel [`PairKernel`] itself. Otherwise, with u.x = r1 g1 and
//! v.x = (u.v / r1) g1 + s g2, s = sqrt(|v|^2 - (u.v)^2 / |u|^2), the g2 integral is the
//! closed Gaussian smoothing G_tau(mu, s) = E tau(mu + s g2) of `math::gaussian_field`
//! (relu, erf, linear, quadratic), and the g1 integral a [`LineRule`] split at g1 = 0 (the
//! kink of a relu student) and graded towards 0 at the width s / |u.v / r1| of the smoothed
//! step of a relu teacher:
//!
//! ```text
//! K      = E[ sigma(r1 g1)   G_tau (mu(g1), s) ]
//! coef_v = E[ sigma'(r1 g1)  G_tau'(mu(g1), s) ]
//! coef_u = E[ sigma''(r1 g1) G_tau (mu(g1), s) ]    (relu: phi(0) G_tau(0, s) / r1, its Dirac)
//! ```
//!
//! with mu(g1) = (u.v / r1) g1. A teacher with tanh, sigmoid or softplus (no closed smoothing)
//! against a student with one (relu, erf, linear, quadratic) swaps the roles: the outer
//! variable is v.x = r2 g2, the student's smoothing G_sigma, G_sigma', G_sigma'' is closed
//! (relu's G_sigma'' = phi(mu/s) / s, a Dirac phi(0) tau(0) / |u.v / r2| at s = 0), graded
//! towards 0 at the width s / |u.v / r2| of a relu student's smoothed step.
//!
//! Accuracy: that of [`LineRule`], 1e-12 absolute per term at |u|, |v| <= 8 (the tests compare
//! with the closed forms relu x relu, erf x erf, relu x erf, erf x relu, relu x tanh,
//! relu x sigmoid and with Monte Carlo). At u = 0 the direction of u is taken as that of v (as
//! the relu pair kernel takes phi = 0 there) and relu's coef_u is 0. Pairs of two different
//! activations among tanh, sigmoid, softplus are refused: neither smoothing is closed, and the
//! nested quadrature is not bounded here.

use crate::error::{Error, Result};
use crate::math::gaussian_field::{
    INV_SQRT_TWO_PI, LineRule, Smoothed, smoothing, smoothing_curvature,
};
use crate::math::{Activation, PairKernel, PairTerms};

/// K_{sigma,tau} for one pair of activations (module documentation).
#[derive(Clone, Debug)]
pub struct CrossKernel {
    student: Activation,
    teacher: Activation,
    method: Method,
}

#[derive(Clone, Debug)]
enum Method {
    /// tau = sigma: the pair kernel.
    Same(PairKernel),
    /// The one-dimensional rule in the student's variable, the teacher smoothed.
    Smoothed(LineRule),
    /// The one-dimensional rule in the teacher's variable, the student smoothed.
    Swapped(LineRule),
}

impl CrossKernel {
    /// The cross kernel of a `student` activation against a `teacher` activation.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `target.activation` for two different activations among tanh,
    /// sigmoid and softplus (neither has a closed Gaussian smoothing).
    pub fn new(student: Activation, teacher: Activation) -> Result<Self> {
        let method = if student == teacher {
            Method::Same(PairKernel::new(student))
        } else if smoothing(teacher, 0.0, 1.0).is_some() {
            Method::Smoothed(LineRule::new()?)
        } else if smoothing(student, 0.0, 1.0).is_some() {
            Method::Swapped(LineRule::new()?)
        } else {
            return Err(Error::invalid(
                "target.activation",
                teacher,
                format!(
                    "the student's activation ({student}) or one of relu, erf, linear, quadratic \
                     (the exact population risk needs a closed Gaussian smoothing of one of the \
                     two activations)"
                ),
            ));
        };
        Ok(Self {
            student,
            teacher,
            method,
        })
    }

    /// The student activation sigma.
    pub fn student(&self) -> Activation {
        self.student
    }

    /// The teacher activation tau.
    pub fn teacher(&self) -> Activation {
        self.teacher
    }

    /// Whether tau = sigma (the pair kernel, exactly).
    pub fn is_same(&self) -> bool {
        matches!(self.method, Method::Same(_))
    }

    /// K_{sigma,tau}(u, v) and grad_u as coef_u u + coef_v v, from uu = |u|^2, vv = |v|^2 and
    /// uv = u.v.
    pub fn terms(&self, uu: f64, vv: f64, uv: f64) -> PairTerms {
        match &self.method {
            Method::Same(kernel) => kernel.terms(uu, vv, uv),
            Method::Smoothed(rule) => self.smoothed_terms(rule, uu, vv, uv),
            Method::Swapped(rule) => self.swapped_terms(rule, uu, vv, uv),
        }
    }

    /// K_{sigma,tau}(u, v) for vectors of equal length.
    pub fn kernel(&self, u: &[f64], v: &[f64]) -> f64 {
        let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
        self.terms(dot(u, u), dot(v, v), dot(u, v)).value
    }

    fn smoothed_terms(&self, rule: &LineRule, uu: f64, vv: f64, uv: f64) -> PairTerms {
        let (student, teacher) = (self.student, self.teacher);
        let r1 = uu.sqrt();
        // v.x = slope g1 + s g2; at u = 0, u's direction is v's.
        let (slope, s) = if r1 > 0.0 {
            (uv / r1, (uu * vv - uv * uv).max(0.0).sqrt() / r1)
        } else {
            (vv.sqrt(), 0.0)
        };
        let smooth = |mu: f64| {
            smoothing(teacher, mu, s).unwrap_or(Smoothed {
                value: f64::NAN,
                slope: f64::NAN,
            })
        };
        let relu = student == Activation::Relu;
        let fine =
            (teacher == Activation::Relu && s > 0.0 && slope != 0.0).then(|| s / slope.abs());
        let rate = r1.max(slope.abs());
        let [value, coef_v, curvature] = rule.expectation(rate, fine, |g| {
            let z = r1 * g;
            let t = smooth(slope * g);
            let (first, second) = if relu {
                (f64::from(g > 0.0), 0.0)
            } else {
                (student.derivative(z), student.second_derivative(z))
            };
            [
                student.value(z) * t.value,
                first * t.slope,
                second * t.value,
            ]
        });
        let coef_u = match (relu, r1 > 0.0) {
            (true, true) => INV_SQRT_TWO_PI * smooth(0.0).value / r1,
            (true, false) => 0.0,
            (false, _) => curvature,
        };
        PairTerms {
            value,
            coef_v,
            coef_u,
        }
    }

    /// The rule in the teacher's variable: v.x = r2 g2, u.x = slope g2 + s g3 with
    /// slope = u.v / r2, s = sqrt(|u|^2 - (u.v)^2 / |v|^2); at v = 0, slope = 0 and s = |u|.
    fn swapped_terms(&self, rule: &LineRule, uu: f64, vv: f64, uv: f64) -> PairTerms {
        let (student, teacher) = (self.student, self.teacher);
        let r2 = vv.sqrt();
        let (slope, s) = if r2 > 0.0 {
            (uv / r2, (uu * vv - uv * uv).max(0.0).sqrt() / r2)
        } else {
            (0.0, uu.sqrt())
        };
        let relu = student == Activation::Relu;
        let fine = (relu && s > 0.0 && slope != 0.0).then(|| s / slope.abs());
        let rate = r2.max(slope.abs());
        let dirac = relu && s == 0.0;
        let [value, coef_v, curvature] = rule.expectation(rate, fine, |g| {
            let mu = slope * g;
            let smooth = smoothing(student, mu, s).unwrap_or(Smoothed {
                value: f64::NAN,
                slope: f64::NAN,
            });
            let curvature = if dirac {
                0.0
            } else {
                smoothing_curvature(student, mu, s).unwrap_or(f64::NAN)
            };
            let z = r2 * g;
            let (t, t_slope) = (teacher.value(z), teacher.derivative(z));
            [smooth.value * t, smooth.slope * t_slope, curvature * t]
        });
        // relu at s = 0: E[delta(slope g2) tau(r2 g2)] = phi(0) tau(0) / |slope| (0 at u = 0).
        let coef_u = match (dirac, slope != 0.0) {
            (true, true) => INV_SQRT_TWO_PI * teacher.value(0.0) / slope.abs(),
            (true, false) => 0.0,
            (false, _) => curvature,
        };
        PairTerms {
            value,
            coef_v,
            coef_u,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use std::f64::consts::PI;

    /// (uu, vv, uv) on a grid of norms and angles, parallel and antiparallel included.
    fn pairs() -> Vec<(f64, f64, f64)> {
        let mut out = Vec::new();
        for r1 in [0.3, 1.0, 2.5, 8.0] {
            for r2 in [0.5, 1.0, 4.0] {
                for cosine in [-1.0, -0.6, 0.0, 0.2, 0.999_999, 1.0] {
                    out.push((r1 * r1, r2 * r2, r1 * r2 * cosine));
                }
            }
        }
        out
    }

    fn close(a: PairTerms, b: PairTerms, what: &str) {
        for (x, y, name) in [
            (a.value, b.value, "value"),
            (a.coef_v, b.coef_v, "coef_v"),
            (a.coef_u, b.coef_u, "coef_u"),
        ] {
            assert!((x - y).abs() < 1e-12, "{what} {name}: {x} vs {y}");
        }
    }

    #[test]
    fn same_activation_through_the_rule_matches_the_pair_kernel() {
        for activation in [Activation::Relu, Activation::Erf] {
            let closed = PairKernel::new(activation);
            let cross = CrossKernel {
                student: activation,
                teacher: activation,
                method: Method::Smoothed(LineRule::new().unwrap()),
            };
            for (uu, vv, uv) in pairs() {
                let what = format!("{activation} ({uu}, {vv}, {uv})");
                close(cross.terms(uu, vv, uv), closed.terms(uu, vv, uv), &what);
            }
        }
    }

    #[test]
    fn same_activation_through_the_swapped_rule_matches_the_pair_kernel() {
        for activation in [Activation::Relu, Activation::Erf] {
            let closed = PairKernel::new(activation);
            let cross = CrossKernel {
                student: activation,
                teacher: activation,
                method: Method::Swapped(LineRule::new().unwrap()),
            };
            for (uu, vv, uv) in pairs() {
                let what = format!("swapped {activation} ({uu}, {vv}, {uv})");
                close(cross.terms(uu, vv, uv), closed.terms(uu, vv, uv), &what);
            }
        }
    }

    #[test]
    fn relu_against_tanh_and_sigmoid_matches_stein() {
        // Stein on u.x: E relu(u.x) tau(v.x) = |u|^2 E[delta(u.x) tau(v.x)]
        // + (u.v) E[1{u.x > 0} tau'(v.x)]; tau' is even, so the second expectation is
        // E tau'(|v| z) / 2; the first is 0 for tanh (odd) and |u| phi(0) / 2 for sigmoid
        // (1/2 + odd). So coef_v = E tau'(|v| z) / 2, coef_u = 0 (tanh), phi(0) / (2 |u|)
        // (sigmoid).
        let rule = LineRule::new().unwrap();
        for teacher in [Activation::Tanh, Activation::Sigmoid] {
            let kernel = CrossKernel::new(Activation::Relu, teacher).unwrap();
            for (uu, vv, uv) in pairs() {
                let r2 = vv.sqrt();
                let [slope] = rule.expectation(r2, None, |z| [teacher.derivative(r2 * z)]);
                let offset = if teacher == Activation::Sigmoid {
                    0.5
                } else {
                    0.0
                };
                let r1 = uu.sqrt();
                let expected = PairTerms {
                    value: offset * r1 * INV_SQRT_TWO_PI + 0.5 * uv * slope,
                    coef_v: 0.5 * slope,
                    coef_u: offset * INV_SQRT_TWO_PI / r1,
                };
                let what = format!("relu x {teacher} ({uu}, {vv}, {uv})");
                close(kernel.terms(uu, vv, uv), expected, &what);
            }
        }
    }

    #[test]
    fn relu_against_erf_matches_its_closed_form() {
        // E relu(u.x) erf(v.x / sqrt 2) = (u.v) sqrt(2/pi) / (2 sqrt(1 + |v|^2)), and the
        // reverse pair by symmetry.
        let c = (2.0 / PI).sqrt() / 2.0;
        let relu_erf = CrossKernel::new(Activation::Relu, Activation::Erf).unwrap();
        let erf_relu = CrossKernel::new(Activation::Erf, Activation::Relu).unwrap();
        for (uu, vv, uv) in pairs() {
            let what = format!("({uu}, {vv}, {uv})");
            let expected = PairTerms {
                value: c * uv / (1.0 + vv).sqrt(),
                coef_v: c / (1.0 + vv).sqrt(),
                coef_u: 0.0,
            };
            close(
                relu_erf.terms(uu, vv, uv),
                expected,
                &format!("relu x erf {what}"),
            );
            let expected = PairTerms {
                value: c * uv / (1.0 + uu).sqrt(),
                coef_v: c / (1.0 + uu).sqrt(),
                coef_u: -c * uv / (1.0 + uu).powf(1.5),
            };
            close(
                erf_relu.terms(uu, vv, uv),
                expected,
                &format!("erf x relu {what}"),
            );
        }
    }

    #[test]
    fn any_student_against_linear_is_the_mean_slope() {
        // E sigma(u.x) (v.x) = (u.v) E sigma'(|u| z): relu 1/2, erf sqrt(2/pi) / sqrt(1 + |u|^2).
        let relu = CrossKernel::new(Activation::Relu, Activation::Linear).unwrap();
        let erf = CrossKernel::new(Activation::Erf, Activation::Linear).unwrap();
        for (uu, vv, uv) in pairs() {
            let r = relu.terms(uu, vv, uv);
            assert!((r.value - 0.5 * uv).abs() < 1e-12 && (r.coef_v - 0.5).abs() < 1e-12);
            let slope = (2.0 / PI).sqrt() / (1.0 + uu).sqrt();
            let e = erf.terms(uu, vv, uv);
            assert!((e.value - slope * uv).abs() < 1e-12, "{uu} {vv} {uv}");
        }
    }

    #[test]
    fn a_teacher_without_closed_smoothing_is_refused_by_name() {
        let err = CrossKernel::new(Activation::Sigmoid, Activation::Tanh)
            .unwrap_err()
            .to_string();
        assert!(err.contains("target.activation"), "{err}");
        assert!(CrossKernel::new(Activation::Tanh, Activation::Tanh).is_ok());
        assert!(CrossKernel::new(Activation::Tanh, Activation::Relu).is_ok());
        assert!(CrossKernel::new(Activation::Relu, Activation::Tanh).is_ok());
    }
}
