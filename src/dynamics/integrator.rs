//! Time steppers (docs/math.md section 2): Euler / Euler-Maruyama, Heun (RK2) and classical RK4, as
//! Butcher tableaux driving one explicit Runge-Kutta step (the diffsol pattern). Heun and RK4
//! are for the deterministic flow (tau = 0) only.

use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::dynamics::drift::DriftCoefficients;
use crate::dynamics::noise::{apply_noise, draw_noise};
use crate::dynamics::{Dynamics, Flow, HeldBuffer, Train};
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

/// Where a stage of a Runge-Kutta step is evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// The state theta(t_k).
    State,
    /// The probe theta(t_k) + dt sum_r a_sr k_r of a later stage.
    Probe,
}

/// The operations of one explicit Runge-Kutta step on the particles, wherever they are held:
/// in host matrices ([`Stepper::first_stage`], [`Stepper::finish`]) or on a device that keeps
/// them between steps ([`Stepper::first_stage_held`], [`Stepper::finish_held`], through
/// [`crate::dynamics::Backend::held`]). The step itself (`rk_finish`) is written once over these.
pub trait StageOps {
    /// The drift at `at` into stage `stage`; returns the risk there.
    fn drift(&mut self, at: At, stage: usize) -> Result<f64>;
    /// probe = state.
    fn probe_from_state(&mut self) -> Result<()>;
    /// target += alpha k_stage.
    fn axpy(&mut self, target: At, alpha: f64, stage: usize) -> Result<()>;
    /// state += amplitude draws on the trained columns (`noise::apply_noise`).
    fn noise(&mut self, amplitude: f64, train: Train, draws: &[f64]) -> Result<()>;
}

/// The stages after the first, the update and the noise of step `step`, over `ops` (the first
/// stage is evaluated); `noise` is the reused buffer of the draws, of m (1 + d) = m `width`.
#[allow(
    clippy::too_many_arguments,
    reason = "the step's parameters, as the host and the device steppers share them"
)]
fn rk_finish(
    tableau: &Tableau,
    ops: &mut impl StageOps,
    dt: f64,
    tau: f64,
    train: Train,
    (m, width): (usize, usize),
    (seed, step): (u64, u64),
    noise: &mut Vec<f64>,
) -> Result<()> {
    for s in 1..tableau.b.len() {
        ops.probe_from_state()?;
        for (r, coefficient) in tableau.a[s].iter().enumerate() {
            if *coefficient != 0.0 {
                ops.axpy(At::Probe, dt * coefficient, r)?;
            }
        }
        ops.drift(At::Probe, s)?;
    }
    for (s, weight) in tableau.b.iter().enumerate() {
        ops.axpy(At::State, dt * weight, s)?;
    }
    if tau > 0.0 {
        draw_noise(m, width, seed, step, noise);
        ops.noise((2.0 * tau * dt).sqrt(), train, noise)?;
    }
    Ok(())
}

/// Buffers of one integrator for one (m, d); reused every step.
#[derive(Debug)]
pub struct Stepper {
    integrator: Integrator,
    stages: Vec<DMatrix<f64>>,
    probe: DMatrix<f64>,
    noise: Vec<f64>,
}

/// The particle flow is a velocity field whose states take the noise of docs/math.md section 2.
impl VelocityField for Flow<'_> {
    fn velocity(&mut self, state: &DMatrix<f64>, velocity: &mut DMatrix<f64>) -> Result<f64> {
        Flow::velocity(self, state, velocity)
    }

    fn noise(
        &mut self,
        state: &mut DMatrix<f64>,
        amplitude: f64,
        train: Train,
        draws: &[f64],
    ) -> Result<()> {
        apply_noise(state, amplitude, train, draws);
        Ok(())
    }
}

/// The stage operations on particles held by the flow's backend
/// ([`crate::dynamics::Backend::held`]).
struct HeldOps<'s, 'f> {
    flow: &'s mut Flow<'f>,
    /// m^(-alpha).
    output_scale: f64,
    coefficients: DriftCoefficients,
}

impl<'s, 'f> HeldOps<'s, 'f> {
    fn new(flow: &'s mut Flow<'f>, m: usize) -> Self {
        let output_scale = flow.network.output_scale(m);
        let coefficients = flow.dynamics.coefficients(flow.network, m);
        Self {
            flow,
            output_scale,
            coefficients,
        }
    }
}

/// The error of a held step on a backend that holds no particles.
fn nothing_held() -> Error {
    Error::invalid(
        "particles held on the device",
        "none",
        "a backend on device = \"cuda\" that holds the particles",
    )
}

impl StageOps for HeldOps<'_, '_> {
    fn drift(&mut self, at: At, stage: usize) -> Result<f64> {
        let (output_scale, coefficients) = (self.output_scale, self.coefficients);
        let Flow { risk, backend, .. } = &mut *self.flow;
        let held = backend.held().ok_or_else(nothing_held)?;
        held.drift(risk, output_scale, &coefficients, at, stage)
    }

    fn probe_from_state(&mut self) -> Result<()> {
        let held = self.flow.backend.held().ok_or_else(nothing_held)?;
        held.probe_from_state()
    }

    fn axpy(&mut self, target: At, alpha: f64, stage: usize) -> Result<()> {
        let held = self.flow.backend.held().ok_or_else(nothing_held)?;
        held.axpy(target, alpha, stage)
    }

    fn noise(&mut self, amplitude: f64, train: Train, draws: &[f64]) -> Result<()> {
        let held = self.flow.backend.held().ok_or_else(nothing_held)?;
        held.noise(amplitude, train, draws)
    }
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

    /// Number of stages of a step (the buffers a device holding the particles allocates).
    pub fn stage_count(&self) -> usize {
        self.stages.len()
    }

    fn size_stages(&mut self, rows: usize, cols: usize) {
        for stage in &mut self.stages {
            if stage.shape() != (rows, cols) {
                *stage = DMatrix::zeros(rows, cols);
            }
        }
    }

    /// Evaluates the first stage at `theta` (the drift at the current state) and returns the
    /// risk there. Call once per step, before [`Stepper::finish`].
    pub fn first_stage(&mut self, flow: &mut Flow<'_>, theta: &DMatrix<f64>) -> Result<f64> {
        self.size_stages(theta.nrows(), theta.ncols());
        flow.velocity(theta, &mut self.stages[0])
    }

    /// The drift at the current state, valid after [`Stepper::first_stage`] (after
    /// [`Stepper::first_stage_held`], once [`Stepper::fetch_velocity`] has copied it back).
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
        let (tau, train) = (flow.dynamics.tau, flow.dynamics.train);
        let shape = theta.shape();
        let mut ops = FieldOps {
            field: flow,
            state: theta,
            stages: &mut self.stages,
            probe: &mut self.probe,
        };
        rk_finish(
            tableau,
            &mut ops,
            dt,
            tau,
            train,
            shape,
            (seed, step),
            &mut self.noise,
        )
    }

    /// [`Stepper::first_stage`] on the particles the flow's backend holds on its device (m
    /// particles of 1 + d = `width` coordinates).
    pub fn first_stage_held(&mut self, flow: &mut Flow<'_>, m: usize, width: usize) -> Result<f64> {
        self.size_stages(m, width);
        HeldOps::new(flow, m).drift(At::State, 0)
    }

    /// [`Stepper::finish`] on the particles the flow's backend holds on its device.
    pub fn finish_held(
        &mut self,
        flow: &mut Flow<'_>,
        shape: (usize, usize),
        dt: f64,
        seed: u64,
        step: u64,
    ) -> Result<()> {
        let dynamics = *flow.dynamics;
        let mut ops = HeldOps::new(flow, shape.0);
        self.finish_with(&mut ops, &dynamics, shape, dt, (seed, step))
    }

    /// [`Stepper::finish`] over any [`StageOps`] holding m x `width` particles `shape` (whose
    /// first stage, `ops.drift(At::State, 0)`, is evaluated): the stages after the first, the
    /// update and, for `dynamics.tau` > 0, the noise of step `step` of the stream `seed`.
    pub fn finish_with(
        &mut self,
        ops: &mut impl StageOps,
        dynamics: &Dynamics,
        shape: (usize, usize),
        dt: f64,
        (seed, step): (u64, u64),
    ) -> Result<()> {
        rk_finish(
            self.integrator.tableau(),
            ops,
            dt,
            dynamics.tau,
            dynamics.train,
            shape,
            (seed, step),
            &mut self.noise,
        )
    }

    /// Copies the drift at the held state (the first stage) into [`Stepper::velocity`].
    pub fn fetch_velocity(&mut self, flow: &mut Flow<'_>) -> Result<()> {
        let Some(held) = flow.backend.held() else {
            return Ok(());
        };
        held.download(HeldBuffer::Stage(0), &mut self.stages[0])
    }
}

/// y += alpha x, elementwise in parallel (each element written by one task: deterministic).
/// A velocity field over a state matrix, stepped by the integrators of this module on host
/// matrices: the particle flow ([`Flow`], through [`Stepper`]) and the reduced limit of
/// `crate::limit` (through [`FieldStepper`]).
pub trait VelocityField {
    /// The velocity at `state` into `velocity` (same shape); returns the risk at `state`.
    fn velocity(&mut self, state: &DMatrix<f64>, velocity: &mut DMatrix<f64>) -> Result<f64>;

    /// state += amplitude draws on the trained columns, for tau > 0; a deterministic field
    /// refuses (the default).
    fn noise(
        &mut self,
        _state: &mut DMatrix<f64>,
        _amplitude: f64,
        _train: Train,
        _draws: &[f64],
    ) -> Result<()> {
        Err(Error::invalid(
            "tau",
            "> 0",
            "0: this velocity field is stepped deterministically",
        ))
    }
}

/// The stage operations of a [`VelocityField`] on host matrices.
struct FieldOps<'s, F> {
    field: &'s mut F,
    state: &'s mut DMatrix<f64>,
    stages: &'s mut [DMatrix<f64>],
    probe: &'s mut DMatrix<f64>,
}

impl<F: VelocityField> StageOps for FieldOps<'_, F> {
    fn drift(&mut self, at: At, stage: usize) -> Result<f64> {
        let point = match at {
            At::State => &*self.state,
            At::Probe => &*self.probe,
        };
        self.field.velocity(point, &mut self.stages[stage])
    }

    fn probe_from_state(&mut self) -> Result<()> {
        self.probe.copy_from(self.state);
        Ok(())
    }

    fn axpy(&mut self, target: At, alpha: f64, stage: usize) -> Result<()> {
        let target = match target {
            At::State => &mut *self.state,
            At::Probe => &mut *self.probe,
        };
        axpy(target, alpha, &self.stages[stage]);
        Ok(())
    }

    fn noise(&mut self, amplitude: f64, train: Train, draws: &[f64]) -> Result<()> {
        self.field.noise(self.state, amplitude, train, draws)
    }
}

/// Buffers of one integrator stepping a [`VelocityField`] deterministically (tau = 0) with
/// the same Butcher tableaux as the particle flow; reused every step.
#[derive(Debug)]
pub struct FieldStepper {
    integrator: Integrator,
    stages: Vec<DMatrix<f64>>,
    probe: DMatrix<f64>,
}

impl FieldStepper {
    /// Buffers for states of shape `shape`.
    pub fn new(integrator: Integrator, shape: (usize, usize)) -> Self {
        let stages = integrator.tableau().b.len();
        Self {
            integrator,
            stages: vec![DMatrix::zeros(shape.0, shape.1); stages],
            probe: DMatrix::zeros(shape.0, shape.1),
        }
    }

    /// Evaluates the first stage, the velocity at `state`; returns the risk there.
    pub fn first_stage(
        &mut self,
        field: &mut impl VelocityField,
        state: &DMatrix<f64>,
    ) -> Result<f64> {
        field.velocity(state, &mut self.stages[0])
    }

    /// The velocity of the last [`Self::first_stage`].
    pub fn velocity(&self) -> &DMatrix<f64> {
        &self.stages[0]
    }

    /// Completes the step of size `dt` from `state` after [`Self::first_stage`].
    pub fn finish(
        &mut self,
        field: &mut impl VelocityField,
        state: &mut DMatrix<f64>,
        dt: f64,
    ) -> Result<()> {
        let mut ops = FieldOps {
            field,
            state,
            stages: &mut self.stages,
            probe: &mut self.probe,
        };
        rk_finish(
            self.integrator.tableau(),
            &mut ops,
            dt,
            0.0,
            Train::Both,
            (0, 0),
            (0, 0),
            &mut Vec::new(),
        )
    }
}

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
