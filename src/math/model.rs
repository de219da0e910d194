//! Particles theta_j = (a_j, w_j) and the network they define (docs/math.md section 1):
//! f(x; Theta) = m^(-alpha) sum_j a_j sigma(w_j . x).
//!
//! Particles are stored as one column-major m x (1 + d) matrix with columns a, w_1..w_d,
//! so that W (columns 1..=d) is a strided m x d view for the matrix products.

use nalgebra::DMatrix;
use rand::RngExt;
use rand_distr::StandardNormal;

use crate::error::{Error, Result};
use crate::math::Activation;
use crate::random::{Purpose, stream};

/// The network's architecture: activation and scaling exponent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Network {
    /// sigma.
    pub activation: Activation,
    /// Scaling exponent alpha in [1/2, 1] (default 1, mean-field; 1/2 is the lazy / NTK scaling).
    pub alpha: f64,
}

impl Network {
    /// Checks alpha in [1/2, 1].
    pub fn new(activation: Activation, alpha: f64) -> Result<Self> {
        if !(0.5..=1.0).contains(&alpha) {
            return Err(Error::invalid(
                "model.alpha",
                alpha,
                "a number in [0.5, 1] (1 mean-field, 0.5 lazy)",
            ));
        }
        Ok(Self { activation, alpha })
    }

    /// The output scale m^(-alpha).
    pub fn output_scale(&self, m: usize) -> f64 {
        (m as f64).powf(-self.alpha)
    }

    /// The time-unit factor m^(2 alpha - 1) of the drift (docs/math.md section 2).
    pub fn time_scale(&self, m: usize) -> f64 {
        (m as f64).powf(2.0 * self.alpha - 1.0)
    }

    /// f(x) for one input (x of length d), summed in particle order.
    pub fn output(&self, particles: &Particles, x: &[f64]) -> f64 {
        let m = particles.m();
        let theta = particles.matrix();
        let mut sum = 0.0;
        for j in 0..m {
            let mut z = 0.0;
            for (c, xc) in x.iter().enumerate() {
                z += theta[(j, 1 + c)] * xc;
            }
            sum += theta[(j, 0)] * self.activation.value(z);
        }
        self.output_scale(m) * sum
    }
}

/// Errors on the first non-finite entry of a particle-like matrix (columns a, w_1..w_d),
/// naming its row (`what` i, counting from 0) and column.
pub fn check_finite(theta: &DMatrix<f64>, what: &str) -> Result<()> {
    if let Some(index) = theta.iter().position(|v| !v.is_finite()) {
        let (row, col) = (index % theta.nrows(), index / theta.nrows());
        let name = if col == 0 {
            "a".to_string()
        } else {
            format!("w_{col}")
        };
        return Err(Error::invalid(
            format!("{what} {row} (row {row} counting from 0), column {col} ({name})"),
            theta[(row, col)],
            "a finite number",
        ));
    }
    Ok(())
}

/// A system of m particles in input dimension d: an m x (1 + d) matrix, columns a, w_1..w_d.
#[derive(Clone, Debug, PartialEq)]
pub struct Particles {
    theta: DMatrix<f64>,
}

impl Particles {
    /// Wraps a matrix of shape (m, 1 + d) with m >= 1, d >= 1 and finite entries.
    pub fn new(theta: DMatrix<f64>) -> Result<Self> {
        if theta.nrows() == 0 {
            return Err(Error::invalid("m", 0, "at least 1 particle"));
        }
        if theta.ncols() < 2 {
            return Err(Error::invalid(
                "particle columns",
                theta.ncols(),
                "at least 2 (a, w_1..w_d with d >= 1)",
            ));
        }
        check_finite(&theta, "particle")?;
        Ok(Self { theta })
    }

    /// Width m.
    pub fn m(&self) -> usize {
        self.theta.nrows()
    }

    /// Input dimension d (including a bias coordinate if there is one).
    pub fn d(&self) -> usize {
        self.theta.ncols() - 1
    }

    /// The m x (1 + d) matrix.
    pub fn matrix(&self) -> &DMatrix<f64> {
        &self.theta
    }

    /// Mutable access for integrators.
    pub fn matrix_mut(&mut self) -> &mut DMatrix<f64> {
        &mut self.theta
    }

    /// Consumes the system into its matrix.
    pub fn into_matrix(self) -> DMatrix<f64> {
        self.theta
    }

    /// Draws m particles from `law`: particle j uses only the stream (seed, Init, 0, j), so the
    /// first m particles at width 4m are the particles at width m.
    pub fn draw(m: usize, d: usize, law: &InitLaw, seed: u64) -> Result<Self> {
        law.validate()?;
        if m == 0 {
            return Err(Error::invalid("model.m", 0, "at least 1"));
        }
        if d == 0 {
            return Err(Error::invalid("model.d", 0, "at least 1"));
        }
        let mut theta = DMatrix::zeros(m, 1 + d);
        let mut row = vec![0.0; 1 + d];
        for j in 0..m {
            law.draw_into(&mut stream(seed, Purpose::Init, 0, j as u64), &mut row);
            for (c, v) in row.iter().enumerate() {
                theta[(j, c)] = *v;
            }
        }
        Self::new(theta)
    }

    /// Draws m particles in pairs (the symmetrised start of Chizat, Oyallon and Bach 2019):
    /// particle 2i is particle 2i of [`Particles::draw`] and particle 2i + 1 is (-a_2i, w_2i),
    /// drawing nothing, so f = m^-alpha sum_j a_j sigma(w_j . x) vanishes at every x. m must be
    /// even; the first m particles at width 4m are again the particles at width m.
    pub fn draw_symmetric(m: usize, d: usize, law: &InitLaw, seed: u64) -> Result<Self> {
        if !m.is_multiple_of(2) {
            return Err(Error::invalid(
                "init.symmetric",
                format!("true with model.m = {m}"),
                "an even model.m (the particles come in pairs)",
            ));
        }
        let drawn = Self::draw(m, d, law, seed)?;
        let mut theta = drawn.into_matrix();
        for pair in 0..m / 2 {
            let (even, odd) = (2 * pair, 2 * pair + 1);
            for c in 0..=d {
                theta[(odd, c)] = theta[(even, c)];
            }
            theta[(odd, 0)] = -theta[(even, 0)];
        }
        Self::new(theta)
    }
}

/// Law of an output weight a.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ScalarLaw {
    /// N(mean, std^2) (std = 0 gives a constant).
    Normal {
        /// Mean (default 0).
        mean: f64,
        /// Standard deviation (default 1).
        std: f64,
    },
}

/// Law of an input weight vector w in R^d.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum VectorLaw {
    /// N(0, std^2 I_d) (default std 1/sqrt(d)).
    Normal {
        /// Standard deviation per coordinate.
        std: f64,
    },
    /// Uniform on the sphere of the given radius.
    UniformSphere {
        /// Radius (default 1).
        radius: f64,
    },
}

/// Initial law of a particle: a and w independent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InitLaw {
    /// Law of a.
    pub a: ScalarLaw,
    /// Law of w.
    pub w: VectorLaw,
}

impl InitLaw {
    /// a ~ N(0, 1), w ~ N(0, I/d): the default.
    pub fn standard(d: usize) -> Self {
        Self {
            a: ScalarLaw::Normal {
                mean: 0.0,
                std: 1.0,
            },
            w: VectorLaw::Normal {
                std: 1.0 / (d.max(1) as f64).sqrt(),
            },
        }
    }

    fn validate(&self) -> Result<()> {
        let ScalarLaw::Normal { mean, std } = self.a;
        if !mean.is_finite() {
            return Err(Error::invalid("init.a.mean", mean, "a finite number"));
        }
        if !(std.is_finite() && std >= 0.0) {
            return Err(Error::invalid("init.a.std", std, "a finite number >= 0"));
        }
        match self.w {
            VectorLaw::Normal { std } if !(std.is_finite() && std >= 0.0) => {
                Err(Error::invalid("init.w.std", std, "a finite number >= 0"))
            }
            VectorLaw::UniformSphere { radius } if !(radius.is_finite() && radius >= 0.0) => Err(
                Error::invalid("init.w.radius", radius, "a finite number >= 0"),
            ),
            _ => Ok(()),
        }
    }

    /// Fills `row` = (a, w_1..w_d) from one stream: a first, then the d coordinates of w.
    pub fn draw_into(&self, rng: &mut impl rand::Rng, row: &mut [f64]) {
        let ScalarLaw::Normal { mean, std } = self.a;
        let z: f64 = rng.sample(StandardNormal);
        row[0] = mean + std * z;
        let w = &mut row[1..];
        for v in w.iter_mut() {
            *v = rng.sample(StandardNormal);
        }
        match self.w {
            VectorLaw::Normal { std } => w.iter_mut().for_each(|v| *v *= std),
            VectorLaw::UniformSphere { radius } => {
                let norm = w.iter().map(|v| v * v).sum::<f64>().sqrt();
                let scale = if norm > 0.0 { radius / norm } else { 0.0 };
                w.iter_mut().for_each(|v| *v *= scale);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn the_first_m_particles_at_width_4m_are_the_particles_at_width_m() {
        let law = InitLaw::standard(5);
        let small = Particles::draw(16, 5, &law, 3).unwrap();
        let large = Particles::draw(64, 5, &law, 3).unwrap();
        assert_eq!(small.matrix(), &large.matrix().rows(0, 16).into_owned());
    }

    /// Sample moments of a ~ N(0,1) and |w|^2 with w ~ N(0, I/d) (mean 1, variance 2/d) over
    /// 20,000 particles, within 4 standard errors.
    #[test]
    fn standard_law_has_the_stated_moments() {
        let (m, d) = (20_000, 8);
        let p = Particles::draw(m, d, &InitLaw::standard(d), 1).unwrap();
        let t = p.matrix();
        let mean_a = t.column(0).sum() / m as f64;
        let mean_sq_norm = (0..m)
            .map(|j| t.row(j).columns(1, d).norm_squared())
            .sum::<f64>()
            / m as f64;
        let se = 1.0 / (m as f64).sqrt();
        assert!(mean_a.abs() < 4.0 * se);
        assert!((mean_sq_norm - 1.0).abs() < 4.0 * (2.0 / d as f64).sqrt() * se);
    }

    #[test]
    fn sphere_law_puts_w_on_the_sphere() {
        let law = InitLaw {
            a: ScalarLaw::Normal {
                mean: 0.0,
                std: 1.0,
            },
            w: VectorLaw::UniformSphere { radius: 2.0 },
        };
        let p = Particles::draw(50, 3, &law, 2).unwrap();
        for j in 0..50 {
            let r = p.matrix().row(j).columns(1, 3).norm();
            assert!((r - 2.0).abs() < 1e-14);
        }
    }

    #[test]
    fn non_finite_particles_are_rejected_with_their_position() {
        let mut t = DMatrix::zeros(3, 2);
        t[(2, 1)] = f64::NAN;
        let err = Particles::new(t).unwrap_err().to_string();
        assert!(
            err.contains("particle 2 (row 2 counting from 0), column 1 (w_1)"),
            "{err}"
        );
    }

    #[test]
    fn alpha_outside_half_to_one_is_rejected() {
        assert!(Network::new(Activation::Relu, 0.4).is_err());
        assert!(Network::new(Activation::Relu, 1.01).is_err());
        assert!(Network::new(Activation::Relu, 0.5).is_ok());
    }
}
