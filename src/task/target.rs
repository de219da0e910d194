//! Targets: the function f* the network learns. A [`Target`] trait lets other targets plug in
//! without touching the dynamics; [`Teacher`] is the two-layer teacher of docs/math.md section 3,
//! f*(x) = (1/k) sum_i a*_i sigma(w*_i . x), with label noise of standard deviation s.

use nalgebra::DMatrix;
use rand::RngExt;
use rand_distr::StandardNormal;

use crate::error::{Error, Result};
use crate::math::model::check_finite;
use crate::math::{Activation, PairKernel};
use crate::random::{Purpose, stream};

/// A regression target y = f*(x) + s * xi, xi ~ N(0, 1) independent of x.
pub trait Target: Send + Sync + std::fmt::Debug {
    /// Input dimension of x (with the bias coordinate, if any).
    fn input_dim(&self) -> usize;
    /// f*(x), noiseless.
    fn value(&self, x: &[f64]) -> f64;
    /// The label of x drawn from mixture component `component` (noiseless): f*(x) for every
    /// target but the class label of a mixture.
    fn label(&self, x: &[f64], component: usize) -> f64 {
        let _ = component;
        self.value(x)
    }
    /// Label noise standard deviation s (default 0).
    fn noise_std(&self) -> f64;
    /// The teacher network, when the target is one (population mode needs its kernel form).
    fn teacher(&self) -> Option<&Teacher> {
        None
    }
}

/// How teacher directions w*_i are generated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Directions {
    /// Orthonormal (Gram-Schmidt of Gaussian vectors; needs k <= d), scaled to `norm`.
    Orthonormal,
    /// Independent Gaussian directions, each scaled to `norm`.
    Gaussian,
}

/// How teacher output weights a*_i are chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OutputWeights {
    /// Every a*_i equal to this value (default 1).
    Constant(f64),
    /// a*_i ~ N(0, std^2).
    Gaussian {
        /// Standard deviation.
        std: f64,
    },
}

/// A generated teacher: k neurons with directions of a given norm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TeacherSpec {
    /// Number of teacher neurons k >= 1.
    pub k: usize,
    /// Direction law (default orthonormal).
    pub directions: Directions,
    /// |w*_i| (default 1).
    pub norm: f64,
    /// Output weights (default all 1).
    pub a: OutputWeights,
}

/// The teacher network f*(x) = (1/k) sum_i a*_i sigma(w*_i . x).
#[derive(Clone, Debug, PartialEq)]
pub struct Teacher {
    theta: DMatrix<f64>,
    activation: Activation,
    noise_std: f64,
}

impl Teacher {
    /// A teacher from a k x (1 + d) matrix (columns a*, w*_1..w*_d).
    pub fn new(theta: DMatrix<f64>, activation: Activation, noise_std: f64) -> Result<Self> {
        if theta.nrows() == 0 {
            return Err(Error::invalid("target.k", 0, "at least 1 teacher neuron"));
        }
        if theta.ncols() < 2 {
            return Err(Error::invalid(
                "teacher columns",
                theta.ncols(),
                "at least 2 (a*, w*_1..w*_d)",
            ));
        }
        check_finite(&theta, "teacher neuron")?;
        if !(noise_std.is_finite() && noise_std >= 0.0) {
            return Err(Error::invalid(
                "target.noise_std",
                noise_std,
                "a finite number >= 0",
            ));
        }
        Ok(Self {
            theta,
            activation,
            noise_std,
        })
    }

    /// Generates a teacher in input dimension `d_in`; the directions live in the first
    /// `d_features` coordinates (the rest, a bias coordinate, is 0). Neuron i uses the stream
    /// (seed, Teacher, 0, i) for its direction and (seed, TeacherWeights, 0, i) for a*_i.
    pub fn generate(
        spec: &TeacherSpec,
        d_features: usize,
        d_in: usize,
        activation: Activation,
        noise_std: f64,
        seed: u64,
    ) -> Result<Self> {
        if spec.k == 0 {
            return Err(Error::invalid("target.k", 0, "at least 1"));
        }
        if !(spec.norm.is_finite() && spec.norm >= 0.0) {
            return Err(Error::invalid(
                "target.norm",
                spec.norm,
                "a finite number >= 0",
            ));
        }
        if spec.directions == Directions::Orthonormal && spec.k > d_features {
            return Err(Error::invalid(
                "target.k",
                spec.k,
                format!("at most d = {d_features} for orthonormal directions"),
            ));
        }
        let mut theta = DMatrix::zeros(spec.k, 1 + d_in);
        let mut basis: Vec<Vec<f64>> = Vec::with_capacity(spec.k);
        for i in 0..spec.k {
            let mut rng = stream(seed, Purpose::Teacher, 0, i as u64);
            let mut v: Vec<f64> = (0..d_features)
                .map(|_| rng.sample(StandardNormal))
                .collect();
            if spec.directions == Directions::Orthonormal {
                // Modified Gram-Schmidt, twice for accuracy.
                for _ in 0..2 {
                    for b in &basis {
                        let dot: f64 = v.iter().zip(b).map(|(x, y)| x * y).sum();
                        v.iter_mut().zip(b).for_each(|(x, y)| *x -= dot * y);
                    }
                }
            }
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm <= 0.0 {
                return Err(Error::invalid(
                    "target.directions",
                    "degenerate draw",
                    "a new seed",
                ));
            }
            v.iter_mut().for_each(|x| *x /= norm);
            for (c, x) in v.iter().enumerate() {
                theta[(i, 1 + c)] = spec.norm * x;
            }
            basis.push(v);
            theta[(i, 0)] = match spec.a {
                OutputWeights::Constant(a) => a,
                OutputWeights::Gaussian { std } => {
                    let z: f64 =
                        stream(seed, Purpose::TeacherWeights, 0, i as u64).sample(StandardNormal);
                    std * z
                }
            };
        }
        Self::new(theta, activation, noise_std)
    }

    /// Number of neurons k.
    pub fn k(&self) -> usize {
        self.theta.nrows()
    }

    /// The k x (1 + d) matrix (columns a*, w*).
    pub fn matrix(&self) -> &DMatrix<f64> {
        &self.theta
    }

    /// The teacher's activation (the student's).
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// E[f*(x)^2] for x ~ N(0, I) = (1/k^2) sum_{i,i'} a*_i a*_i' K(w*_i, w*_i').
    pub fn second_moment(&self, kernel: &PairKernel) -> f64 {
        let k = self.k();
        let d = self.theta.ncols() - 1;
        let w = self.theta.columns(1, d);
        let mut sum = 0.0;
        for i in 0..k {
            let qi = w.row(i).norm_squared();
            for l in 0..k {
                let ql = w.row(l).norm_squared();
                let c = if i == l { qi } else { w.row(i).dot(&w.row(l)) };
                sum += self.theta[(i, 0)] * self.theta[(l, 0)] * kernel.value(qi, ql, c);
            }
        }
        sum / (k * k) as f64
    }
}

impl Target for Teacher {
    fn input_dim(&self) -> usize {
        self.theta.ncols() - 1
    }

    fn value(&self, x: &[f64]) -> f64 {
        let k = self.k();
        let mut sum = 0.0;
        for i in 0..k {
            let mut z = 0.0;
            for (c, xc) in x.iter().enumerate() {
                z += self.theta[(i, 1 + c)] * xc;
            }
            sum += self.theta[(i, 0)] * self.activation.value(z);
        }
        sum / k as f64
    }

    fn noise_std(&self) -> f64 {
        self.noise_std
    }

    fn teacher(&self) -> Option<&Teacher> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn orthonormal_teacher_has_orthogonal_directions_of_the_given_norm() {
        let spec = TeacherSpec {
            k: 3,
            directions: Directions::Orthonormal,
            norm: 2.0,
            a: OutputWeights::Constant(1.0),
        };
        let t = Teacher::generate(&spec, 5, 5, Activation::Relu, 0.0, 4).unwrap();
        let w = t.matrix().columns(1, 5);
        for i in 0..3 {
            for l in 0..3 {
                let expected = if i == l { 4.0 } else { 0.0 };
                assert!((w.row(i).dot(&w.row(l)) - expected).abs() < 1e-13);
            }
        }
    }

    #[test]
    fn too_many_orthonormal_directions_are_rejected() {
        let spec = TeacherSpec {
            k: 4,
            directions: Directions::Orthonormal,
            norm: 1.0,
            a: OutputWeights::Constant(1.0),
        };
        let err = Teacher::generate(&spec, 3, 3, Activation::Relu, 0.0, 1).unwrap_err();
        assert!(err.to_string().contains("at most d = 3"), "{err}");
    }

    /// For a linear teacher E f*^2 = |(1/k) sum_i a*_i w*_i|^2.
    #[test]
    fn linear_teacher_second_moment_is_squared_norm_of_mean_direction() {
        let theta = DMatrix::from_row_slice(2, 3, &[1.0, 1.0, 2.0, -0.5, 0.5, 1.0]);
        let t = Teacher::new(theta, Activation::Linear, 0.0).unwrap();
        // (1/2)(1*(1,2) - 0.5*(0.5,1)) = (0.375, 0.75)
        let expected = 0.375f64.powi(2) + 0.75f64.powi(2);
        let got = t.second_moment(&PairKernel::new(Activation::Linear));
        assert!((got - expected).abs() < 1e-15);
    }
}
