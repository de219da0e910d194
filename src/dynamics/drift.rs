//! The particle drift of docs/math.md section 2:
//! v_j = -m^(2 alpha - 1) grad_{theta_j} R - lambda theta_j on the trained coordinates, with
//! the whole deterministic a-drift (gradient and decay) multiplied by `lr_ratio`; frozen
//! coordinates get no drift, decay or noise.

use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::dynamics::Backend;
use crate::error::{Error, Result};
use crate::math::Network;
use crate::task::RiskMode;

/// Which coordinates move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Train {
    /// a and w (default).
    Both,
    /// Only a: the random-features model, w frozen.
    AOnly,
    /// Only w: a frozen.
    WOnly,
}

impl Train {
    /// Whether column `col` of the particle matrix (0 = a, 1.. = w) is trained.
    pub fn trains_column(self, col: usize) -> bool {
        match self {
            Train::Both => true,
            Train::AOnly => col == 0,
            Train::WOnly => col > 0,
        }
    }

    /// Scenario name.
    pub fn name(self) -> &'static str {
        match self {
            Train::Both => "both",
            Train::AOnly => "a_only",
            Train::WOnly => "w_only",
        }
    }
}

/// Parameters of the flow besides the risk.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dynamics {
    /// Weight decay lambda >= 0 (default 0).
    pub lambda: f64,
    /// Temperature tau >= 0 (default 0: plain gradient flow).
    pub tau: f64,
    /// Trained coordinates (default both).
    pub train: Train,
    /// Multiplier of the deterministic a-drift (default 1).
    pub lr_ratio: f64,
}

impl Default for Dynamics {
    fn default() -> Self {
        Self {
            lambda: 0.0,
            tau: 0.0,
            train: Train::Both,
            lr_ratio: 1.0,
        }
    }
}

impl Dynamics {
    /// Checks lambda >= 0, tau >= 0 and lr_ratio > 0, all finite.
    pub fn validate(&self) -> Result<()> {
        if !(self.lambda.is_finite() && self.lambda >= 0.0) {
            return Err(Error::invalid(
                "dynamics.lambda",
                self.lambda,
                "a finite number >= 0",
            ));
        }
        if !(self.tau.is_finite() && self.tau >= 0.0) {
            return Err(Error::invalid(
                "dynamics.tau",
                self.tau,
                "a finite number >= 0",
            ));
        }
        if !(self.lr_ratio.is_finite() && self.lr_ratio > 0.0) {
            return Err(Error::invalid(
                "dynamics.lr_ratio",
                self.lr_ratio,
                "a finite number > 0",
            ));
        }
        Ok(())
    }

    /// The coefficients of the drift for m particles of `network`.
    pub fn coefficients(&self, network: &Network, m: usize) -> DriftCoefficients {
        DriftCoefficients {
            time_scale: network.time_scale(m),
            lambda: self.lambda,
            lr_ratio: self.lr_ratio,
            train: self.train,
        }
    }

    /// Turns dR/dtheta (in `field`) into the drift in place.
    pub fn gradient_to_drift(
        &self,
        network: &Network,
        theta: &DMatrix<f64>,
        field: &mut DMatrix<f64>,
    ) {
        let m = theta.nrows();
        let DriftCoefficients {
            time_scale,
            lambda,
            lr_ratio,
            train,
        } = self.coefficients(network, m);
        field
            .as_mut_slice()
            .par_chunks_mut(m)
            .zip(theta.as_slice().par_chunks(m))
            .enumerate()
            .for_each(|(col, (v, th))| {
                if !train.trains_column(col) {
                    v.iter_mut().for_each(|x| *x = 0.0);
                    return;
                }
                let factor = if col == 0 { lr_ratio } else { 1.0 };
                for (x, t) in v.iter_mut().zip(th) {
                    *x = factor * (-time_scale * *x - lambda * t);
                }
            });
    }
}

/// v = factor_c (-time_scale dR/dtheta - lambda theta) on the trained columns c (factor_0 =
/// lr_ratio, factor_c = 1 for the w columns), 0 on the frozen ones: what a backend that holds
/// the particles (a GPU) needs to form the drift of docs/math.md section 2 itself.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DriftCoefficients {
    /// m^(2 alpha - 1).
    pub time_scale: f64,
    /// Weight decay lambda.
    pub lambda: f64,
    /// Multiplier of the a-drift.
    pub lr_ratio: f64,
    /// Trained coordinates.
    pub train: Train,
}

/// A velocity field: the risk mode with the network and the dynamics parameters, and the
/// backend that evaluates the risk where the particles live.
#[derive(Debug)]
pub struct Flow<'a> {
    /// The network architecture.
    pub network: &'a Network,
    /// lambda, tau, training subset and lr_ratio.
    pub dynamics: &'a Dynamics,
    /// The risk and its gradient.
    pub risk: &'a mut RiskMode,
    /// Where the risk is evaluated ([`crate::dynamics::Host`] for the CPU).
    pub backend: &'a mut dyn Backend,
}

impl Flow<'_> {
    /// Writes the drift at `theta` into `velocity` and returns the risk there.
    pub fn velocity(&mut self, theta: &DMatrix<f64>, velocity: &mut DMatrix<f64>) -> Result<f64> {
        let risk = self
            .backend
            .evaluate(self.risk, self.network, theta, Some(velocity))?;
        self.dynamics
            .gradient_to_drift(self.network, theta, velocity);
        Ok(risk)
    }
}
