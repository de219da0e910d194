//! The problem beyond the Gaussian teacher (docs/problems.md): the law of the inputs
//! ([`InputShape`]: Gaussian with any covariance, a centred Gaussian mixture with class labels,
//! Rademacher), the targets that are not a teacher network ([`HermiteTarget`], [`ParityTarget`],
//! [`LabelTarget`]), [`TargetFunction`] that holds any of them, and the [`Loss`].

use std::sync::Arc;

use nalgebra::{DMatrix, SymmetricEigen};
use rand::RngExt;
use rand_distr::StandardNormal;

use crate::error::{Error, Result};
pub use crate::math::hermite::{hermite, hermite_norm};
use crate::task::{Target, Teacher};

/// The largest Hermite degree accepted (He_12 / sqrt(12!) has coefficients near 1e3: beyond,
/// cancellation in the monomial sum costs digits).
pub const MAX_HERMITE_DEGREE: u32 = 12;

/// A covariance Sigma = L L^T of Gaussian inputs x = L z, z ~ N(0, I).
#[derive(Clone, Debug, PartialEq)]
pub enum Covariance {
    /// Sigma = I.
    Identity,
    /// Sigma = s^2 I (L = s I), s > 0.
    Scaled(f64),
    /// A general symmetric positive definite Sigma with its lower Cholesky factor L.
    Full {
        /// Sigma, d x d.
        sigma: Arc<DMatrix<f64>>,
        /// L, lower triangular, Sigma = L L^T.
        factor: Arc<DMatrix<f64>>,
    },
}

impl Covariance {
    /// A general covariance: symmetric (to 1e-12 relative) and positive definite.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the asymmetry or the smallest eigenvalue.
    pub fn full(sigma: DMatrix<f64>) -> Result<Self> {
        let d = sigma.nrows();
        if d == 0 || sigma.ncols() != d {
            return Err(Error::invalid(
                "covariance shape",
                format!("({}, {})", sigma.nrows(), sigma.ncols()),
                "a square d x d matrix",
            ));
        }
        if let Some(i) = sigma.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid(
                "covariance entry",
                sigma[i],
                "finite numbers",
            ));
        }
        let scale = sigma.amax().max(f64::MIN_POSITIVE);
        for i in 0..d {
            for j in 0..i {
                if (sigma[(i, j)] - sigma[(j, i)]).abs() > 1e-12 * scale {
                    return Err(Error::invalid(
                        "covariance",
                        format!(
                            "entries ({}, {}) = {} and ({}, {}) = {}",
                            i + 1,
                            j + 1,
                            sigma[(i, j)],
                            j + 1,
                            i + 1,
                            sigma[(j, i)]
                        ),
                        "a symmetric matrix",
                    ));
                }
            }
        }
        let symmetric = (&sigma + sigma.transpose()) * 0.5;
        let smallest = SymmetricEigen::new(symmetric.clone()).eigenvalues.min();
        let factor = symmetric.clone().cholesky().filter(|_| smallest > 0.0);
        match factor {
            Some(chol) => Ok(Self::Full {
                sigma: Arc::new(symmetric),
                factor: Arc::new(chol.l()),
            }),
            None => Err(Error::invalid(
                "covariance",
                format!("smallest eigenvalue {smallest:.6e}"),
                "a symmetric positive definite matrix (every eigenvalue > 0)",
            )),
        }
    }

    /// A diagonal covariance from its d variances (each > 0).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a variance that is not positive and finite.
    pub fn diag(variances: &[f64]) -> Result<Self> {
        if let Some(v) = variances.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
            return Err(Error::invalid("covariance.diag", v, "finite variances > 0"));
        }
        Self::full(DMatrix::from_diagonal(
            &nalgebra::DVector::from_column_slice(variances),
        ))
    }

    /// Whether Sigma = I exactly (the identity variant, a scale of exactly 1, or a matrix
    /// equal to the identity).
    #[expect(clippy::float_cmp, reason = "exactly the identity, or not")]
    pub fn is_identity(&self) -> bool {
        match self {
            Covariance::Identity => true,
            Covariance::Scaled(s) => *s == 1.0,
            Covariance::Full { sigma, .. } => {
                let d = sigma.nrows();
                sigma.as_ref() == &DMatrix::identity(d, d)
            }
        }
    }

    /// Whether Sigma is a multiple of the identity.
    pub fn is_isotropic(&self) -> bool {
        !matches!(self, Covariance::Full { .. })
    }

    /// Sigma as a d x d matrix.
    pub fn matrix(&self, d: usize) -> DMatrix<f64> {
        match self {
            Covariance::Identity => DMatrix::identity(d, d),
            Covariance::Scaled(s) => DMatrix::identity(d, d) * (s * s),
            Covariance::Full { sigma, .. } => sigma.as_ref().clone(),
        }
    }

    /// The dimension a full covariance fixes (None for the isotropic ones).
    pub fn dim(&self) -> Option<usize> {
        match self {
            Covariance::Full { sigma, .. } => Some(sigma.nrows()),
            _ => None,
        }
    }

    /// x = L z in place of z (the first `z.len()` coordinates).
    pub fn color(&self, z: &mut [f64]) {
        match self {
            Covariance::Identity => {}
            Covariance::Scaled(s) => z.iter_mut().for_each(|v| *v *= s),
            Covariance::Full { factor, .. } => {
                // Lower triangular: row i uses z_0..z_i, so run i downwards.
                let d = z.len();
                for i in (0..d).rev() {
                    z[i] = (0..=i).map(|c| factor[(i, c)] * z[c]).sum();
                }
            }
        }
    }

    /// out = L^T w: the direction whose kernel under N(0, I) is the kernel of w under N(0, Sigma)
    /// (w . x = (L^T w) . z).
    pub fn whiten_direction(&self, w: &[f64], out: &mut [f64]) {
        match self {
            Covariance::Identity => out.copy_from_slice(w),
            Covariance::Scaled(s) => out.iter_mut().zip(w).for_each(|(o, v)| *o = s * v),
            Covariance::Full { factor, .. } => {
                let d = w.len();
                for (c, o) in out.iter_mut().enumerate() {
                    *o = (c..d).map(|i| factor[(i, c)] * w[i]).sum();
                }
            }
        }
    }

    /// out = L g: the chain rule back from a gradient in whitened directions.
    pub fn pull_back_gradient(&self, g: &[f64], out: &mut [f64]) {
        match self {
            Covariance::Identity => out.copy_from_slice(g),
            Covariance::Scaled(s) => out.iter_mut().zip(g).for_each(|(o, v)| *o = s * v),
            Covariance::Full { factor, .. } => {
                for (i, o) in out.iter_mut().enumerate() {
                    *o = (0..=i).map(|c| factor[(i, c)] * g[c]).sum();
                }
            }
        }
    }
}

/// One centred Gaussian component of a mixture: x ~ N(0, Sigma) with probability `weight`,
/// and class label `label`.
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    /// Mixture weight pi_c > 0 (the weights sum to 1).
    pub weight: f64,
    /// Class label y_c (the `label` target).
    pub label: f64,
    /// Sigma_c.
    pub covariance: Covariance,
}

/// The law of the d feature coordinates of x (a bias coordinate, when set, is appended after).
#[derive(Clone, Debug, PartialEq, Default)]
pub enum InputShape {
    /// x ~ N(0, Sigma); [`Covariance::Identity`] is the default of every mode.
    #[default]
    StandardGaussian,
    /// x ~ N(0, Sigma) with Sigma != I.
    Gaussian(Covariance),
    /// A centred Gaussian mixture.
    Mixture(Arc<Vec<Component>>),
    /// x uniform on {-1, +1}^d.
    Rademacher,
}

impl InputShape {
    /// Draws the d coordinates of x into `x` from `rng`, after the label noise `xi` has been
    /// drawn (the component of a mixture is drawn last, and only with two or more components,
    /// so that one component of scale 1 draws exactly what the standard Gaussian draws).
    /// Returns the component (0 outside mixtures) and the label noise xi.
    pub fn sample(&self, rng: &mut impl rand::Rng, x: &mut [f64]) -> (usize, f64) {
        match self {
            InputShape::StandardGaussian => {
                for v in x.iter_mut() {
                    *v = rng.sample(StandardNormal);
                }
                (0, rng.sample(StandardNormal))
            }
            InputShape::Gaussian(covariance) => {
                for v in x.iter_mut() {
                    *v = rng.sample(StandardNormal);
                }
                let xi = rng.sample(StandardNormal);
                covariance.color(x);
                (0, xi)
            }
            InputShape::Mixture(components) => {
                for v in x.iter_mut() {
                    *v = rng.sample(StandardNormal);
                }
                let xi = rng.sample(StandardNormal);
                let component = if components.len() > 1 {
                    let u: f64 = rng.random();
                    let mut cumulative = 0.0;
                    let last = components.len() - 1;
                    components
                        .iter()
                        .position(|c| {
                            cumulative += c.weight;
                            u < cumulative
                        })
                        .unwrap_or(last)
                } else {
                    0
                };
                components[component].covariance.color(x);
                (component, xi)
            }
            InputShape::Rademacher => {
                for v in x.iter_mut() {
                    *v = if rng.random::<bool>() { 1.0 } else { -1.0 };
                }
                (0, rng.sample(StandardNormal))
            }
        }
    }

    /// The mixture components, or one standard (or covariance) component for a Gaussian law;
    /// None for Rademacher inputs (no exact population risk).
    pub fn gaussian_components(&self) -> Option<Vec<Component>> {
        let one = |covariance| {
            Some(vec![Component {
                weight: 1.0,
                label: 0.0,
                covariance,
            }])
        };
        match self {
            InputShape::StandardGaussian => one(Covariance::Identity),
            InputShape::Gaussian(c) => one(c.clone()),
            InputShape::Mixture(components) => Some(components.as_ref().clone()),
            InputShape::Rademacher => None,
        }
    }

    /// Whether this is the standard Gaussian N(0, I) (also as a one-component mixture of
    /// scale 1 or an identity covariance).
    pub fn is_standard(&self) -> bool {
        match self {
            InputShape::StandardGaussian => true,
            InputShape::Gaussian(c) => c.is_identity(),
            InputShape::Mixture(components) => {
                components.len() == 1 && components[0].covariance.is_identity()
            }
            InputShape::Rademacher => false,
        }
    }
}

/// One term coef He_degree(x . e_direction) / sqrt(degree!) of a Hermite target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HermiteTerm {
    /// The coordinate e_direction, 0-based (the scenario writes it 1-based).
    pub direction: usize,
    /// The degree (0..=[`MAX_HERMITE_DEGREE`]).
    pub degree: u32,
    /// The coefficient.
    pub coef: f64,
}

/// f*(x) = sum_t coef_t He_{degree_t}(x_{direction_t}) / sqrt(degree_t!): a single- or
/// multi-index target with information exponent the smallest degree.
#[derive(Clone, Debug, PartialEq)]
pub struct HermiteTarget {
    /// Input dimension of x (with a bias coordinate, if any).
    pub input_dim: usize,
    /// The terms.
    pub terms: Vec<HermiteTerm>,
    /// Label noise s.
    pub noise_std: f64,
}

impl HermiteTarget {
    /// E f*^2 under N(0, I): sum over term pairs of c c' [same degree] (e . e')^degree, with
    /// coordinate directions (e . e' = [same direction]).
    pub fn second_moment(&self) -> f64 {
        let mut sum = 0.0;
        for s in &self.terms {
            for t in &self.terms {
                if s.degree == t.degree && s.direction == t.direction {
                    sum += s.coef * t.coef;
                }
            }
        }
        sum
    }

    /// The distinct directions, in order of first appearance.
    pub fn directions(&self) -> Vec<usize> {
        let mut seen = Vec::new();
        for t in &self.terms {
            if !seen.contains(&t.direction) {
                seen.push(t.direction);
            }
        }
        seen
    }
}

impl Target for HermiteTarget {
    fn input_dim(&self) -> usize {
        self.input_dim
    }

    fn value(&self, x: &[f64]) -> f64 {
        self.terms
            .iter()
            .map(|t| t.coef * hermite(t.degree, x[t.direction]) / hermite_norm(t.degree))
            .sum()
    }

    fn noise_std(&self) -> f64 {
        self.noise_std
    }
}

/// One term coef prod_{i in coordinates} x_i of a parity (or staircase) target.
#[derive(Clone, Debug, PartialEq)]
pub struct ParityTerm {
    /// The coordinates, 0-based and distinct.
    pub coordinates: Vec<usize>,
    /// The coefficient.
    pub coef: f64,
}

/// f*(x) = sum_t coef_t prod_{i in S_t} x_i: a parity (one term) or a staircase (nested sets).
#[derive(Clone, Debug, PartialEq)]
pub struct ParityTarget {
    /// Input dimension of x (with a bias coordinate, if any).
    pub input_dim: usize,
    /// The terms.
    pub terms: Vec<ParityTerm>,
    /// Label noise s.
    pub noise_std: f64,
}

impl ParityTarget {
    /// The distinct coordinates of all terms, in order of first appearance.
    pub fn directions(&self) -> Vec<usize> {
        let mut seen = Vec::new();
        for t in &self.terms {
            for &c in &t.coordinates {
                if !seen.contains(&c) {
                    seen.push(c);
                }
            }
        }
        seen
    }
}

impl Target for ParityTarget {
    fn input_dim(&self) -> usize {
        self.input_dim
    }

    fn value(&self, x: &[f64]) -> f64 {
        self.terms
            .iter()
            .map(|t| t.coef * t.coordinates.iter().map(|&i| x[i]).product::<f64>())
            .sum()
    }

    fn noise_std(&self) -> f64 {
        self.noise_std
    }
}

/// y = the label of the mixture component x was drawn from (plus noise s).
#[derive(Clone, Debug, PartialEq)]
pub struct LabelTarget {
    /// Input dimension of x (with a bias coordinate, if any).
    pub input_dim: usize,
    /// The label of each component.
    pub labels: Vec<f64>,
    /// Label noise s.
    pub noise_std: f64,
}

impl Target for LabelTarget {
    fn input_dim(&self) -> usize {
        self.input_dim
    }

    /// The label is not a function of x alone: the mean label (see [`Target::label`]).
    fn value(&self, _x: &[f64]) -> f64 {
        self.labels.iter().sum::<f64>() / self.labels.len().max(1) as f64
    }

    fn label(&self, _x: &[f64], component: usize) -> f64 {
        self.labels[component]
    }

    fn noise_std(&self) -> f64 {
        self.noise_std
    }
}

/// Any target of a scenario.
#[derive(Clone, Debug, PartialEq)]
pub enum TargetFunction {
    /// The two-layer teacher (its activation may differ from the student's).
    Teacher(Teacher),
    /// A sum of Hermite polynomials of coordinates.
    Hermite(HermiteTarget),
    /// A sum of parities of coordinates.
    Parity(ParityTarget),
    /// The class label of a mixture component.
    Label(LabelTarget),
}

impl TargetFunction {
    /// The rows (weight, direction) the diagnostics align particles with (`teacher.npy`,
    /// the cone shares, the angle marginals): a teacher's neurons (a*_i, w*_i); for Hermite and
    /// parity targets one row (1, e_i) per distinct coordinate; none for labels.
    pub fn direction_rows(&self) -> Option<DMatrix<f64>> {
        let unit_rows = |input_dim: usize, coordinates: &[usize]| {
            let mut rows = DMatrix::zeros(coordinates.len(), 1 + input_dim);
            for (r, &c) in coordinates.iter().enumerate() {
                rows[(r, 0)] = 1.0;
                rows[(r, 1 + c)] = 1.0;
            }
            rows
        };
        match self {
            TargetFunction::Teacher(t) => Some(t.matrix().clone()),
            TargetFunction::Hermite(h) => Some(unit_rows(h.input_dim, &h.directions())),
            TargetFunction::Parity(p) => Some(unit_rows(p.input_dim, &p.directions())),
            TargetFunction::Label(_) => None,
        }
    }

    /// The teacher, when the target is one.
    pub fn as_teacher(&self) -> Option<&Teacher> {
        match self {
            TargetFunction::Teacher(t) => Some(t),
            _ => None,
        }
    }

    fn inner(&self) -> &dyn Target {
        match self {
            TargetFunction::Teacher(t) => t,
            TargetFunction::Hermite(h) => h,
            TargetFunction::Parity(p) => p,
            TargetFunction::Label(l) => l,
        }
    }
}

impl Target for TargetFunction {
    fn input_dim(&self) -> usize {
        self.inner().input_dim()
    }

    fn value(&self, x: &[f64]) -> f64 {
        self.inner().value(x)
    }

    fn label(&self, x: &[f64], component: usize) -> f64 {
        self.inner().label(x, component)
    }

    fn noise_std(&self) -> f64 {
        self.inner().noise_std()
    }

    fn teacher(&self) -> Option<&Teacher> {
        self.as_teacher()
    }
}

/// The loss of the data modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Loss {
    /// 1/2 (y - f)^2 (every mode).
    #[default]
    Square,
    /// log(1 + exp(-y f)), natural logarithm, labels in {-1, +1} (online and empirical).
    Logistic,
}

impl Loss {
    /// The scenario's name of the loss.
    pub fn name(self) -> &'static str {
        match self {
            Loss::Square => "square",
            Loss::Logistic => "logistic",
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn hermite_polynomials_are_orthonormal_under_gauss_hermite() {
        // E[He_m He_n] / sqrt(m! n!) = [m = n], checked with a 40-point Gauss-Hermite rule
        // built from the recurrence's Jacobi matrix is heavy; a fine trapezoid rule on [-12, 12]
        // is exact to rounding for these polynomial-times-Gaussian integrands.
        let h = 0.01;
        let points: Vec<f64> = (-1200..=1200).map(|i| f64::from(i) * h).collect();
        for m in 0..=6 {
            for n in 0..=6 {
                let sum: f64 = points
                    .iter()
                    .map(|&z| {
                        hermite(m, z) * hermite(n, z) * (-0.5 * z * z).exp() * h
                            / (2.0 * std::f64::consts::PI).sqrt()
                    })
                    .sum();
                let expected = if m == n { 1.0 } else { 0.0 };
                assert!(
                    (sum / (hermite_norm(m) * hermite_norm(n)) - expected).abs() < 1e-10,
                    "He_{m} He_{n}: {sum}"
                );
            }
        }
    }

    #[test]
    fn covariance_factor_colors_and_whitens_consistently() {
        let sigma = DMatrix::from_row_slice(3, 3, &[2.0, 0.3, 0.1, 0.3, 1.0, -0.2, 0.1, -0.2, 0.5]);
        let c = Covariance::full(sigma.clone()).unwrap();
        let Covariance::Full { factor, .. } = &c else {
            panic!("full")
        };
        assert!((factor.as_ref() * factor.transpose() - &sigma).amax() < 1e-14);
        // w . (L z) = (L^T w) . z
        let w = [0.4, -1.0, 2.0];
        let mut z = [0.7, 0.2, -1.3];
        let mut white = [0.0; 3];
        c.whiten_direction(&w, &mut white);
        let direct: f64 = white.iter().zip(&z).map(|(a, b)| a * b).sum();
        c.color(&mut z);
        let colored: f64 = w.iter().zip(&z).map(|(a, b)| a * b).sum();
        assert!((direct - colored).abs() < 1e-14);
    }

    #[test]
    fn a_covariance_that_is_not_positive_definite_names_its_smallest_eigenvalue() {
        let sigma = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 1.0]);
        let err = Covariance::full(sigma).unwrap_err().to_string();
        assert!(err.contains("smallest eigenvalue -1.000000e0"), "{err}");
        let asym = DMatrix::from_row_slice(2, 2, &[1.0, 0.5, 0.4, 1.0]);
        let err = Covariance::full(asym).unwrap_err().to_string();
        assert!(err.contains("symmetric"), "{err}");
    }

    #[test]
    fn hermite_target_second_moment_counts_equal_terms() {
        let target = HermiteTarget {
            input_dim: 4,
            terms: vec![
                HermiteTerm {
                    direction: 0,
                    degree: 3,
                    coef: 1.0,
                },
                HermiteTerm {
                    direction: 0,
                    degree: 3,
                    coef: 0.5,
                },
                HermiteTerm {
                    direction: 1,
                    degree: 2,
                    coef: 2.0,
                },
            ],
            noise_std: 0.0,
        };
        // (1 + 0.5)^2 + 2^2
        assert!((target.second_moment() - 6.25).abs() < 1e-15);
    }
}
