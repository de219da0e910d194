//! The target field V(w) = E[y sigma(w.x)] and grad V of population mode beyond the
//! same-activation teacher (docs/problems.md), for x ~ N(0, I) (a component's covariance is
//! applied before: V_Sigma(w) = V(L^T w) with the teacher directions whitened the same way):
//!
//! - [`TargetField::Teacher`]: V(w) = (1/k) sum_i a*_i K_{sigma,tau}(w, w*_i) (the cross kernel
//!   `math::cross_kernel`; the pair kernel when tau = sigma);
//! - [`TargetField::Hermite`]: V(w) = sum_t c_t / sqrt(j_t!) (w.e_t)^j_t q_j_t(|w|)
//!   (`math::gaussian_field::hermite_projection`);
//! - [`TargetField::Label`]: V(w) = y_c g(|w|), g(r) = E sigma(r z)
//!   (`math::gaussian_field::mean_activation`).

use nalgebra::DMatrix;

use crate::error::{Error, Result};
use crate::math::Activation;
use crate::math::cross_kernel::CrossKernel;
use crate::math::gaussian_field::{LineRule, hermite_projection, mean_activation};
use crate::task::Teacher;
use crate::task::problem::{Covariance, HermiteTarget, HermiteTerm, hermite_norm};

/// V(w) and grad V(w) of one target under N(0, I) (module documentation).
#[derive(Clone, Debug)]
pub enum TargetField {
    /// A teacher network, directions already whitened.
    Teacher {
        /// The k x (1 + d) teacher rows (a*_i, L^T w*_i).
        star: DMatrix<f64>,
        /// |L^T w*_i|^2.
        star_sq: Vec<f64>,
        /// K_{sigma,tau}.
        kernel: CrossKernel,
    },
    /// A sum of Hermite polynomials of coordinates (identity covariance).
    Hermite {
        /// The terms.
        terms: Vec<HermiteTerm>,
        /// The student's activation.
        activation: Activation,
        /// The input dimension.
        dim: usize,
    },
    /// A constant label y_c on the component.
    Label {
        /// y_c.
        label: f64,
        /// The student's activation.
        activation: Activation,
        /// The rule of softplus's g(r).
        rule: LineRule,
    },
}

impl TargetField {
    /// The field of `teacher` for a `student` activation, under inputs of `covariance`.
    ///
    /// # Errors
    /// Those of [`CrossKernel::new`] (`target.activation`).
    pub fn teacher(
        student: Activation,
        teacher: &Teacher,
        covariance: &Covariance,
    ) -> Result<Self> {
        let star = whiten_rows(teacher.matrix(), covariance);
        let d = star.ncols() - 1;
        let star_sq = (0..star.nrows())
            .map(|i| star.row(i).columns(1, d).norm_squared())
            .collect();
        Ok(TargetField::Teacher {
            star,
            star_sq,
            kernel: CrossKernel::new(student, teacher.activation())?,
        })
    }

    /// The field of a Hermite target for a `student` activation.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `model.activation` for tanh, sigmoid and softplus (no closed
    /// q_j; the quadrature of E[sigma(r z) He_j(z)] is not bounded here).
    pub fn hermite(student: Activation, target: &HermiteTarget) -> Result<Self> {
        if hermite_projection(student, 0, 1.0, 1.0).is_none() {
            return Err(Error::invalid(
                "model.activation",
                student,
                "relu, erf, linear or quadratic for a hermite target in population mode \
                 (closed q_j = E sigma^(j)(r z)); use risk.mode = \"online\" or \"empirical\"",
            ));
        }
        Ok(TargetField::Hermite {
            terms: target.terms.clone(),
            activation: student,
            dim: target.input_dim,
        })
    }

    /// The field of a constant label on one component.
    ///
    /// # Errors
    /// Those of [`LineRule::new`] (none).
    pub fn label(student: Activation, label: f64) -> Result<Self> {
        Ok(TargetField::Label {
            label,
            activation: student,
            rule: LineRule::new()?,
        })
    }

    /// The input dimension the field fixes (None for labels).
    pub fn dim(&self) -> Option<usize> {
        match self {
            TargetField::Teacher { star, .. } => Some(star.ncols() - 1),
            TargetField::Hermite { dim, .. } => Some(*dim),
            TargetField::Label { .. } => None,
        }
    }

    /// V(w) for w with |w|^2 = `q`, and grad V(w) into `grad` (length d).
    pub fn evaluate(&self, w: &[f64], q: f64, grad: &mut [f64]) -> f64 {
        grad.iter_mut().for_each(|g| *g = 0.0);
        match self {
            TargetField::Teacher {
                star,
                star_sq,
                kernel,
            } => {
                let k = star.nrows();
                let (mut value, mut coef_u) = (0.0, 0.0);
                for i in 0..k {
                    let dot: f64 = w
                        .iter()
                        .enumerate()
                        .map(|(c, x)| x * star[(i, 1 + c)])
                        .sum();
                    let weight = star[(i, 0)] / k as f64;
                    let terms = kernel.terms(q, star_sq[i], dot);
                    value += weight * terms.value;
                    coef_u += weight * terms.coef_u;
                    for (c, g) in grad.iter_mut().enumerate() {
                        *g += weight * terms.coef_v * star[(i, 1 + c)];
                    }
                }
                grad.iter_mut().zip(w).for_each(|(g, x)| *g += coef_u * x);
                value
            }
            TargetField::Hermite {
                terms, activation, ..
            } => {
                let r = q.sqrt();
                let (mut value, mut coef_w) = (0.0, 0.0);
                for term in terms {
                    let p = w[term.direction];
                    let Some(projection) = hermite_projection(*activation, term.degree, r, p)
                    else {
                        return f64::NAN;
                    };
                    let c = term.coef / hermite_norm(term.degree);
                    value += c * projection.value;
                    coef_w += c * projection.coef_w;
                    grad[term.direction] += c * projection.coef_e;
                }
                grad.iter_mut().zip(w).for_each(|(g, x)| *g += coef_w * x);
                value
            }
            TargetField::Label {
                label,
                activation,
                rule,
            } => {
                let (g, slope) = mean_activation(*activation, q.sqrt(), rule);
                grad.iter_mut()
                    .zip(w)
                    .for_each(|(out, x)| *out = label * slope * x);
                label * g
            }
        }
    }
}

/// The rows (a*_i, L^T w*_i) of a teacher under inputs of `covariance`.
pub fn whiten_rows(rows: &DMatrix<f64>, covariance: &Covariance) -> DMatrix<f64> {
    let d = rows.ncols() - 1;
    let mut out = rows.clone();
    let (mut w, mut white) = (vec![0.0; d], vec![0.0; d]);
    for i in 0..rows.nrows() {
        for (c, x) in w.iter_mut().enumerate() {
            *x = rows[(i, 1 + c)];
        }
        covariance.whiten_direction(&w, &mut white);
        for (c, x) in white.iter().enumerate() {
            out[(i, 1 + c)] = *x;
        }
    }
    out
}
