//! Time steppers (MATH.md section 2): Euler / Euler-Maruyama, Heun (RK2) and classical RK4, as
//! Butcher tableaux driving one explicit Runge-Kutta step (the diffsol pattern). Heun and RK4
//! are for the deterministic flow (tau = 0) only.

use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::dynamics::Flow;
use crate::dynamics::noise::add_noise;
use crate::error::{Error, Result};

/// An integrator of the particle flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Integrator {
    /// theta += dt v(theta) + sqrt(2 tau dt) xi (default).
    Euler,
    /// Heun's method (explicit trapezoid, order 2); tau must be 0.
    Heun,
    /// Classical Runge-Kutta, order 4; tau must be 0.
    Rk4,
}

/// An explicit Butcher tableau: stage s evaluates at theta + dt sum_{r<s} a[s][r] k_r.
struct Tableau {
    a: &'static [&'static [f64]],
    b: &'static [f64],
}

const EULER: Tableau = Tableau {
    a: &[&[]],
    b: &[1.0],
};
const HEUN: Tableau = Tableau {
    a: &[&[], &[1.0]],
    b: &[0.5, 0.5],
};
const RK4: Tableau = Tableau {
    a: &[&[], &[0.5], &[0.0, 0.5], &[0.0, 0.0, 1.0]],
    b: &[1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0],
};

impl Integrator {
    /// Scenario name.
    pub fn name(self) -> &'static str {
        match self {
            Integrator::Euler => "euler",
            Integrator::Heun => "heun",
            Integrator::Rk4 => "rk4",
        }
    }

    /// Order of convergence in dt for the deterministic flow.
    pub fn order(self) -> u32 {
        match self {
            Integrator::Euler => 1,
            Integrator::Heun => 2,
            Integrator::Rk4 => 4,
        }
    }

    fn tableau(self) -> &'static Tableau {
        match self {
            Integrator::Euler => &EULER,
            Integrator::Heun => &HEUN,
            Integrator::Rk4 => &RK4,
        }
    }

    /// Checks that the integrator can run at temperature `tau`.
    pub fn check_temperature(self, tau: f64) -> Result<()> {
        if tau > 0.0 && self != Integrator::Euler {
            return Err(Error::invalid(
                "dynamics.integrator",
                self.name(),
                format!(
                    "euler when tau > 0 (tau = {tau}); heun and rk4 integrate the deterministic flow only"
                ),
            ));
        }
        Ok(())
    }
}

/// Buffers of one integrator for one (m, d); reused every step.
#[derive(Debug)]
pub struct Stepper {
    integrator: Integrator,
    stages: Vec<DMatrix<f64>>,
    probe: DMatrix<f64>,
    noise: Vec<f64>,
}

impl Stepper {
    /// A stepper; its stage buffers are sized at the first step and reused after.
    pub fn new(integrator: Integrator) -> Self {
        let count = integrator.tableau().b.len();
        Self {
            integrator,
            stages: (0..count).map(|_| DMatrix::zeros(0, 0)).collect(),
            probe: DMatrix::zeros(0, 0),
            noise: Vec::new(),
        }
    }

    /// The integrator.
    pub fn integrator(&self) -> Integrator {
        self.integrator
    }

    /// Evaluates the first stage at `theta` (the drift at the current state) and returns the
    /// risk there. Call once per step, before [`Stepper::finish`].
    pub fn first_stage(&mut self, flow: &mut Flow<'_>, theta: &DMatrix<f64>) -> Result<f64> {
        for stage in &mut self.stages {
            if stage.shape() != theta.shape() {
                *stage = DMatrix::zeros(theta.nrows(), theta.ncols());
            }
        }
        flow.velocity(theta, &mut self.stages[0])
    }

    /// The drift at the current state, valid after [`Stepper::first_stage`].
    pub fn velocity(&self) -> &DMatrix<f64> {
        &self.stages[0]
    }

    /// Completes the step from `theta` (whose first stage is evaluated): the remaining stages,
    /// the update and, for tau > 0, the noise of step `step`.
    pub fn finish(
        &mut self,
        flow: &mut Flow<'_>,
        theta: &mut DMatrix<f64>,
        dt: f64,
        seed: u64,
        step: u64,
    ) -> Result<()> {
        let tableau = self.integrator.tableau();
        if self.probe.shape() != theta.shape() && tableau.b.len() > 1 {
            self.probe = DMatrix::zeros(theta.nrows(), theta.ncols());
        }
        for s in 1..tableau.b.len() {
            self.probe.copy_from(theta);
            for (r, coefficient) in tableau.a[s].iter().enumerate() {
                if *coefficient != 0.0 {
                    axpy(&mut self.probe, dt * coefficient, &self.stages[r]);
                }
            }
            flow.velocity(&self.probe, &mut self.stages[s])?;
        }
        for (s, weight) in tableau.b.iter().enumerate() {
            axpy(theta, dt * weight, &self.stages[s]);
        }
        let tau = flow.dynamics.tau;
        if tau > 0.0 {
            add_noise(
                theta,
                (2.0 * tau * dt).sqrt(),
                flow.dynamics.train,
                seed,
                step,
                &mut self.noise,
            );
        }
        Ok(())
    }
}

/// y += alpha x, elementwise in parallel (each element written by one task: deterministic).
fn axpy(y: &mut DMatrix<f64>, alpha: f64, x: &DMatrix<f64>) {
    y.as_mut_slice()
        .par_chunks_mut(4096)
        .zip(x.as_slice().par_chunks(4096))
        .for_each(|(ys, xs)| {
            for (y, x) in ys.iter_mut().zip(xs) {
                *y += alpha * x;
            }
        });
}
