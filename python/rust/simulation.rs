//! `meanfield.Simulation` underneath: a scenario's simulation stepped from Python through
//! [`meanfield::dynamics::Simulation::run`], the loop `meanfield run` uses, so the particles
//! after k steps are bit for bit those of the CLI's run at step k (random streams are keyed by
//! step, and a call that stops and continues is how the CLI's checkpoints resume).

use std::sync::{Mutex, MutexGuard, TryLockError};

use meanfield::Error;
use meanfield::dynamics::{
    Control as LoopControl, Observation, Observer, Outcome, Schedule, Simulation,
};
use meanfield::scenario::Scenario;
use nalgebra::DMatrix;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::arrays::{from_bytes, to_bytes};
use crate::errors::{guard, to_py};
use crate::scenario::ScenarioCore;
use crate::supervise::supervised;

/// Keeps the risks of the last observed step (the end of each stepping call).
#[derive(Default)]
struct LastRisk {
    step: u64,
    risk: Option<f64>,
    test_risk: Option<f64>,
}

impl Observer for LastRisk {
    fn observe(&mut self, observation: &Observation<'_>) -> meanfield::Result<()> {
        self.step = observation.step;
        self.risk = Some(observation.risk);
        self.test_risk = observation.test_risk;
        Ok(())
    }

    fn wants(&self, _step: u64) -> bool {
        false
    }
}

/// The state a Python `Simulation` holds.
struct State {
    simulation: Simulation,
    /// theta at `step`, m x (1 + d).
    theta: DMatrix<f64>,
    /// The step the particles are at.
    step: u64,
    /// The risk (and test risk) at `step`, once evaluated.
    risk: Option<(f64, Option<f64>)>,
}

impl State {
    /// Steps from `self.step` to `to` (stopping early on an interrupt); returns the risk at
    /// the step reached.
    fn advance(&mut self, to: u64, control: &crate::supervise::Control) -> meanfield::Result<()> {
        let from = self.step;
        let total = to - from;
        let mut observer = LastRisk::default();
        let mut after_step = |step: u64, risk: f64| {
            control.report(step - from, total, || format!("risk {risk:.4e}"));
            if control.interrupted() {
                LoopControl::Stop
            } else {
                LoopControl::Continue
            }
        };
        // Every(0) observes only the first and the last step of the call.
        let outcome = self.simulation.run(
            &mut self.theta,
            from,
            to,
            Schedule::Every(0),
            &mut observer,
            &mut after_step,
        );
        self.risk = None;
        match outcome {
            Ok(Outcome::Finished) => {
                self.step = to;
                if observer.step == to {
                    self.risk = observer.risk.map(|r| (r, observer.test_risk));
                }
                Ok(())
            }
            Ok(Outcome::Interrupted { step }) => {
                self.step = step;
                Ok(())
            }
            Err(e @ Error::Diverged { step, .. }) => {
                self.step = step;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// The drift v(theta) at the current step, and the risk there.
    fn drift(&mut self) -> meanfield::Result<(DMatrix<f64>, f64)> {
        let mut velocity = DMatrix::zeros(self.theta.nrows(), self.theta.ncols());
        let risk = self
            .simulation
            .velocity(&self.theta, &mut velocity, self.step)?;
        Ok((velocity, risk))
    }
}

/// A simulation stepped from Python.
#[pyclass(module = "meanfield._meanfield")]
pub(crate) struct SimulationCore {
    /// Locked while Rust works on it; a second thread's call is refused, not queued.
    state: Mutex<State>,
    /// The teacher's rows (or the target's directions), if any.
    teacher: Option<DMatrix<f64>>,
    threads: Option<usize>,
    /// t_k of each step, as the simulation writes it.
    scenario: Scenario,
}

impl SimulationCore {
    fn lock(&self) -> PyResult<MutexGuard<'_, State>> {
        match self.state.try_lock() {
            Ok(state) => Ok(state),
            Err(TryLockError::WouldBlock) => Err(PyRuntimeError::new_err(
                "this Simulation is busy in another thread; give each thread its own Simulation",
            )),
            Err(TryLockError::Poisoned(_)) => Err(PyRuntimeError::new_err(
                "this Simulation was left inconsistent by an earlier panic; make a new one",
            )),
        }
    }

    /// Steps to step `to` under supervision (progress, Ctrl-C); returns the risk there.
    fn advance_to(
        &self,
        py: Python<'_>,
        to: u64,
        progress: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let mut guard_ = self.lock()?;
        let state: &mut State = &mut guard_;
        if to < state.step {
            return Err(PyValueError::new_err(format!(
                "step {to} is before the current step {}: a simulation only goes forward",
                state.step
            )));
        }
        let done = supervised(py, self.threads, progress, |control| {
            state.advance(to, control)
        })?;
        done.result.map_err(|e| to_py(py, e))?;
        match done.interrupted_by {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

#[pymethods]
impl SimulationCore {
    /// The simulation of `scenario` at step 0 (its initial particles).
    #[new]
    #[pyo3(signature = (scenario, threads = None))]
    fn new(py: Python<'_>, scenario: &ScenarioCore, threads: Option<usize>) -> PyResult<Self> {
        guard(|| {
            let scenario = scenario.scenario.clone();
            let setup = scenario.setup().map_err(|e| to_py(py, e))?;
            Ok(Self {
                teacher: setup.target.direction_rows(),
                state: Mutex::new(State {
                    simulation: setup.simulation,
                    theta: setup.particles.into_matrix(),
                    step: 0,
                    risk: None,
                }),
                threads,
                scenario,
            })
        })
    }

    /// Takes `n` steps.
    #[pyo3(signature = (n, progress = None))]
    fn step(&self, py: Python<'_>, n: u64, progress: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        guard(|| {
            let from = self.lock()?.step;
            let to = from
                .checked_add(n)
                .ok_or_else(|| PyValueError::new_err("too many steps"))?;
            self.advance_to(py, to, progress.as_ref())
        })
    }

    /// Steps to step `to` (>= the current step).
    #[pyo3(signature = (to, progress = None))]
    fn step_to(&self, py: Python<'_>, to: u64, progress: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        guard(|| self.advance_to(py, to, progress.as_ref()))
    }

    /// The first step k >= the current one whose time t_k is >= `t`.
    fn step_at_time(&self, t: f64) -> PyResult<u64> {
        guard(|| {
            if !t.is_finite() {
                return Err(PyValueError::new_err(format!(
                    "t = {t}: expected a finite time"
                )));
            }
            let state = self.lock()?;
            let time = |k: u64| state.simulation.time_at(k);
            let (mut low, mut high) = (state.step, state.step);
            let mut stride = 1u64;
            while time(high) < t {
                low = high;
                high = high.saturating_add(stride);
                stride = stride.saturating_mul(2);
                if high == u64::MAX {
                    return Err(PyValueError::new_err(format!("t = {t}: beyond any step")));
                }
            }
            // time(low) < t <= time(high), or high == the current step.
            while high - low > 1 {
                let mid = low + (high - low) / 2;
                if time(mid) < t { low = mid } else { high = mid }
            }
            Ok(high)
        })
    }

    /// The step the particles are at.
    #[getter]
    fn step_index(&self) -> PyResult<u64> {
        guard(|| Ok(self.lock()?.step))
    }

    /// t_k of step k.
    fn time_at(&self, step: u64) -> PyResult<f64> {
        guard(|| Ok(self.lock()?.simulation.time_at(step)))
    }

    /// The risk at the current particles (evaluated once per state), and the held-out risk
    /// where the mode has a test set and the state is the end of a stepping call.
    fn risk(&self, py: Python<'_>) -> PyResult<(f64, Option<f64>)> {
        guard(|| {
            let mut state = self.lock()?;
            if let Some(risk) = state.risk {
                return Ok(risk);
            }
            let (_, risk) = state.drift().map_err(|e| to_py(py, e))?;
            state.risk = Some((risk, None));
            Ok((risk, None))
        })
    }

    /// The particles as (row-major float64 bytes, m, columns).
    fn particles<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyBytes>, usize, usize)> {
        guard(|| Ok(to_bytes(py, &self.lock()?.theta)))
    }

    /// Replaces the particles (row-major float64 bytes of the current shape, all finite).
    fn set_particles(&self, bytes: &[u8], rows: usize, columns: usize) -> PyResult<()> {
        guard(|| {
            let mut state = self.lock()?;
            let (m, c) = state.theta.shape();
            if (rows, columns) != (m, c) {
                return Err(PyValueError::new_err(format!(
                    "particles: shape ({rows}, {columns}): expected ({m}, {c}) (m rows of a, w_1..w_d{})",
                    if c > self.scenario.d + 1 { ", b" } else { "" }
                )));
            }
            let theta = from_bytes(bytes, rows, columns).ok_or_else(|| {
                PyValueError::new_err("particles: byte length does not match the shape")
            })?;
            if let Some(index) = theta.iter().position(|v| !v.is_finite()) {
                let (row, column) = (index % rows, index / rows);
                return Err(PyValueError::new_err(format!(
                    "particles: row {row}, column {column} is {}: expected finite values",
                    theta[(row, column)]
                )));
            }
            state.theta = theta;
            state.risk = None;
            Ok(())
        })
    }

    /// The drift v(theta) at the current particles, as (bytes, m, columns).
    fn drift<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyBytes>, usize, usize)> {
        guard(|| {
            let mut state = self.lock()?;
            let (velocity, risk) = state.drift().map_err(|e| to_py(py, e))?;
            if state.risk.is_none() {
                state.risk = Some((risk, None));
            }
            Ok(to_bytes(py, &velocity))
        })
    }

    /// The teacher's rows (or the target's directions) as (bytes, rows, columns), if any.
    fn teacher<'py>(&self, py: Python<'py>) -> Option<(Bound<'py, PyBytes>, usize, usize)> {
        self.teacher.as_ref().map(|t| to_bytes(py, t))
    }
}
