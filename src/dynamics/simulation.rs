//! The simulation loop (the argmin `Executor` pattern): one loop owns stepping, the schedule of
//! observations, divergence checks and stopping; observers see the state on a schedule and
//! never change the trajectory.
//!
//! Step k goes from theta(t_k) to theta(t_{k+1}), t_k = k dt (with schedules, t_{k+1} = t_k +
//! dt(t_k) and lambda(t_k), tau(t_k) for the whole step: [`crate::dynamics::scheduled`]). The drift at theta(t_k) (the first
//! Runge-Kutta stage) is also what a logged step reports, so observing costs no extra drift
//! evaluation, except once at the final state.

use nalgebra::DMatrix;

pub use crate::dynamics::scheduled::step_time;
use crate::dynamics::{Backend, Dynamics, Flow, HeldBuffer, Host, Integrator, Schedules, Stepper};
use crate::error::{Error, Result};
use crate::math::Network;
use crate::task::{ClassificationError, RiskMode};

/// When observers are called: step 0, the last step, and these.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    /// Every n steps (default n = 10).
    Every(u64),
    /// About `points` steps spaced evenly in log(1 + step).
    Log {
        /// Number of points (default 200).
        points: u64,
    },
}

impl Schedule {
    /// Whether `step` is observed in a run of `total` steps.
    pub fn observes(&self, step: u64, total: u64) -> bool {
        if step == 0 || step == total {
            return true;
        }
        match *self {
            Schedule::Every(n) => n > 0 && step.is_multiple_of(n),
            Schedule::Log { points } => {
                // step is logged when it is the first step at or after a log-spaced point.
                let span = ((1 + total) as f64).ln();
                let position = |s: u64| ((1 + s) as f64).ln() / span * points.max(1) as f64;
                position(step).floor() > position(step - 1).floor()
            }
        }
    }
}

/// What an observer sees at a logged step.
#[derive(Debug)]
pub struct Observation<'a> {
    /// Step index k.
    pub step: u64,
    /// Time t_k (k dt, or the sum of the scheduled steps).
    pub time: f64,
    /// The risk the dynamics descends, at theta(t_k).
    pub risk: f64,
    /// The held-out test risk, where the mode has a test set (on scheduled steps).
    pub test_risk: Option<f64>,
    /// The exact population risk of the network, in a data mode that has it
    /// (`RiskMode::population_risk`; on scheduled steps).
    pub population_risk: Option<f64>,
    /// The classification errors on the training set (or batch) and the test set, in a data
    /// mode asked for them (`RiskMode::classification_error`; on scheduled steps).
    pub classification: Option<ClassificationError>,
    /// theta(t_k), m x (1 + d).
    pub theta: &'a DMatrix<f64>,
    /// The drift v at theta(t_k).
    pub velocity: &'a DMatrix<f64>,
    /// The network.
    pub network: &'a Network,
    /// lambda, tau, training subset and lr_ratio (lambda and tau at t_k).
    pub dynamics: &'a Dynamics,
    /// Whether the step is on the schedule (and not only one the observer asked for).
    pub scheduled: bool,
}

/// Receives observations on the schedule.
pub trait Observer {
    /// Called at step 0, every scheduled step, every step the observer asks for and the last.
    fn observe(&mut self, observation: &Observation<'_>) -> Result<()>;

    /// Steps the observer needs to see besides the schedule (e.g. snapshot times).
    fn wants(&self, _step: u64) -> bool {
        false
    }
}

/// What the caller decides after each completed step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop here (an interrupt): the state is consistent at the completed step.
    Stop,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Reached the last step.
    Finished,
    /// Stopped by the caller; the state is at this step.
    Interrupted {
        /// The step the state is at.
        step: u64,
    },
}

/// A simulation: network, dynamics, risk mode and integrator, with their buffers.
#[derive(Debug)]
pub struct Simulation {
    /// Architecture.
    pub network: Network,
    /// lambda, tau, training subset, lr_ratio.
    pub dynamics: Dynamics,
    /// Risk mode.
    pub risk: RiskMode,
    /// Time step dt > 0 (the step in progress, dt(t_k), under a dt schedule).
    pub dt: f64,
    /// Seed of the noise streams.
    pub seed: u64,
    /// dt, lambda and tau as functions of time, applied by [`Simulation::run`] at the start of
    /// each step (none by default: the constants above).
    schedules: Schedules,
    stepper: Stepper,
    /// Where the risk is evaluated and the particles live ([`Host`] by default).
    backend: Box<dyn Backend>,
}

impl Simulation {
    /// Validates the parameters; buffers are allocated at the first step.
    pub fn new(
        network: Network,
        dynamics: Dynamics,
        risk: RiskMode,
        integrator: Integrator,
        dt: f64,
        seed: u64,
    ) -> Result<Self> {
        dynamics.validate()?;
        integrator.check_temperature(dynamics.tau)?;
        if !(dt.is_finite() && dt > 0.0) {
            return Err(Error::invalid("dynamics.dt", dt, "a finite number > 0"));
        }
        Ok(Self {
            network,
            dynamics,
            risk,
            dt,
            seed,
            schedules: Schedules::default(),
            stepper: Stepper::new(integrator),
            backend: Box::new(Host),
        })
    }

    /// The simulation with its risk evaluated, and its particles held during a run, by
    /// `backend` (`crate::backend::for_device`) instead of the host.
    #[must_use]
    pub fn with_backend(mut self, backend: Box<dyn Backend>) -> Self {
        self.backend = backend;
        self
    }

    /// Where the risk is evaluated.
    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    /// The risk the dynamics descends at `theta`, and its gradient into `grad` when given, as a
    /// step evaluates it (on the backend's device).
    ///
    /// # Errors
    /// As [`Backend::evaluate`].
    pub fn evaluate(
        &mut self,
        theta: &DMatrix<f64>,
        grad: Option<&mut DMatrix<f64>>,
    ) -> Result<f64> {
        self.backend
            .evaluate(&mut self.risk, &self.network, theta, grad)
    }

    /// The risk on the held-out test set, where the mode has one (on the backend's device).
    ///
    /// # Errors
    /// As [`Backend::test_risk`].
    pub fn test_risk(&mut self, theta: &DMatrix<f64>) -> Result<Option<f64>> {
        self.backend.test_risk(&mut self.risk, &self.network, theta)
    }

    /// The simulation with dt, lambda and tau following `schedules` in [`Simulation::run`];
    /// checks that every scheduled value is allowed (dt > 0, lambda >= 0, tau >= 0 and tau = 0
    /// for heun and rk4).
    pub fn with_schedules(mut self, schedules: Schedules) -> Result<Self> {
        for (key, schedule, positive) in [
            ("dynamics.dt", &schedules.dt, true),
            ("dynamics.lambda", &schedules.lambda, false),
            ("dynamics.tau", &schedules.tau, false),
        ] {
            let Some(schedule) = schedule else { continue };
            let (low, high) = (schedule.lowest(), schedule.highest());
            let allowed = if positive { low > 0.0 } else { low >= 0.0 };
            if !(allowed && high.is_finite()) {
                return Err(Error::invalid(
                    key,
                    format!("{schedule:?}"),
                    "finite values, > 0 for dt and >= 0 for lambda and tau",
                ));
            }
        }
        if let Some(tau) = &schedules.tau {
            self.stepper.integrator().check_temperature(tau.highest())?;
        }
        self.schedules = schedules;
        Ok(self)
    }

    /// The schedules [`Simulation::run`] follows.
    pub fn schedules(&self) -> &Schedules {
        &self.schedules
    }

    /// t_k of step `step` as [`Simulation::run`] writes it ([`crate::dynamics::scheduled::Clock::written`]): k dt as its
    /// decimal ([`step_time`]), or under a dt schedule the clock of the steps before it.
    pub fn time_at(&self, step: u64) -> f64 {
        self.schedules.clock_at(self.dt, step).1.written(step)
    }

    /// Sets dt, lambda and tau to their scheduled values at `time`.
    fn follow_schedules(&mut self, time: f64) {
        if let Some(dt) = &self.schedules.dt {
            self.dt = dt.value(time);
        }
        if let Some(lambda) = &self.schedules.lambda {
            self.dynamics.lambda = lambda.value(time);
        }
        if let Some(tau) = &self.schedules.tau {
            self.dynamics.tau = tau.value(time);
        }
    }

    /// The velocity field and the stepper, borrowed together.
    fn parts(&mut self) -> (Flow<'_>, &mut Stepper) {
        let flow = Flow {
            network: &self.network,
            dynamics: &self.dynamics,
            risk: &mut self.risk,
            backend: self.backend.as_mut(),
        };
        (flow, &mut self.stepper)
    }

    /// Prepares step `step` and evaluates the drift at `theta` (the first stage); returns the
    /// risk there.
    fn first_stage(&mut self, theta: &DMatrix<f64>, step: u64) -> Result<f64> {
        self.risk.begin_step(step);
        let (mut flow, stepper) = self.parts();
        stepper.first_stage(&mut flow, theta)
    }

    /// Completes step `step` after [`Self::first_stage`].
    fn finish_step(&mut self, theta: &mut DMatrix<f64>, step: u64) -> Result<()> {
        let (dt, seed) = (self.dt, self.seed);
        let (mut flow, stepper) = self.parts();
        stepper.finish(&mut flow, theta, dt, seed, step)
    }

    /// Advances `theta` by one step (step index `step`) and returns the risk before it, with the
    /// current dt and dynamics: [`Simulation::run`] alone follows the schedules.
    pub fn step(&mut self, theta: &mut DMatrix<f64>, step: u64) -> Result<f64> {
        let risk = self.first_stage(theta, step)?;
        self.finish_step(theta, step)?;
        Ok(risk)
    }

    /// The drift at `theta` into `velocity` (for tests and diagnostics), returning the risk.
    pub fn velocity(
        &mut self,
        theta: &DMatrix<f64>,
        velocity: &mut DMatrix<f64>,
        step: u64,
    ) -> Result<f64> {
        self.risk.begin_step(step);
        self.parts().0.velocity(theta, velocity)
    }

    /// Runs from step `from` (theta is theta(t_from)) to step `to`, observing on `schedule`;
    /// `after_step(k, risk)` is called after each completed step k with the risk at its start
    /// (to report progress and to stop: `theta` holds the state when `run` returns).
    ///
    /// Where the backend can hold the particles on its device (device = "cuda": the data
    /// modes, and population mode where its fused kernel runs, [`Backend::hold`]), they stay
    /// there for the whole run: the state and its drift come back only on observed steps, and
    /// `theta` is the final (or interrupted, or diverged) state when the run returns.
    ///
    /// Errors with [`Error::Diverged`] at the first non-finite risk or logged state; observers
    /// have then seen every logged step before it.
    pub fn run(
        &mut self,
        theta: &mut DMatrix<f64>,
        from: u64,
        to: u64,
        schedule: Schedule,
        observer: &mut dyn Observer,
        after_step: &mut dyn FnMut(u64, f64) -> Control,
    ) -> Result<Outcome> {
        let held = self
            .backend
            .hold(&self.risk, theta, self.stepper.stage_count())?;
        let outcome = self.steps(theta, from, to, schedule, observer, after_step, held);
        if !held {
            return outcome;
        }
        // The state comes back whatever the outcome; the run's own error comes first.
        let fetched = match self.backend.held() {
            Some(device) => device.download(HeldBuffer::State, theta),
            None => Ok(()),
        };
        self.backend.release();
        let outcome = outcome?;
        fetched?;
        Ok(outcome)
    }

    /// The loop of [`Simulation::run`], on host matrices or (`held`) on the particles the
    /// backend holds.
    #[allow(
        clippy::too_many_arguments,
        reason = "run's arguments and where the particles are"
    )]
    fn steps(
        &mut self,
        theta: &mut DMatrix<f64>,
        from: u64,
        to: u64,
        schedule: Schedule,
        observer: &mut dyn Observer,
        after_step: &mut dyn FnMut(u64, f64) -> Control,
        held: bool,
    ) -> Result<Outcome> {
        let shape = theta.shape();
        let (mut clock_time, mut clock) = self.schedules.clock_at(self.dt, from);
        for step in from..=to {
            self.follow_schedules(clock_time);
            // Only logged steps and a divergence need the written time (a decimal costs a format).
            let time = || clock.written(step);
            let risk = if held {
                self.risk.begin_step(step);
                let (mut flow, stepper) = self.parts();
                stepper.first_stage_held(&mut flow, shape.0, shape.1)?
            } else {
                self.first_stage(theta, step)?
            };
            if !risk.is_finite() {
                return Err(Error::Diverged {
                    step,
                    time: time(),
                    what: format!("the risk is {risk}"),
                });
            }
            let scheduled = schedule.observes(step, to);
            if scheduled || observer.wants(step) {
                if held {
                    let (mut flow, stepper) = self.parts();
                    stepper.fetch_velocity(&mut flow)?;
                    if let Some(device) = flow.backend.held() {
                        device.download(HeldBuffer::State, theta)?;
                    }
                }
                // 0 * v is NaN exactly when v is not finite; no early exit, so no branch per value.
                if !theta.iter().fold(0.0, |sum, v| sum + 0.0 * v).is_finite() {
                    return Err(Error::Diverged {
                        step,
                        time: time(),
                        what: "a particle is not finite".into(),
                    });
                }
                // The held-out risk is a row of the schedule, not of the observer's extra steps.
                let (test_risk, population_risk, classification) = if scheduled {
                    (
                        self.backend
                            .test_risk(&mut self.risk, &self.network, theta)?,
                        self.risk.population_risk(&self.network, theta)?,
                        self.risk.classification_error(&self.network, theta)?,
                    )
                } else {
                    (None, None, None)
                };
                observer.observe(&Observation {
                    step,
                    time: time(),
                    risk,
                    test_risk,
                    population_risk,
                    classification,
                    theta,
                    velocity: self.stepper.velocity(),
                    network: &self.network,
                    dynamics: &self.dynamics,
                    scheduled,
                })?;
            }
            if step == to {
                break;
            }
            if held {
                let (dt, seed) = (self.dt, self.seed);
                let (mut flow, stepper) = self.parts();
                stepper.finish_held(&mut flow, shape, dt, seed, step)?;
            } else {
                self.finish_step(theta, step)?;
            }
            clock_time = clock.next(step, clock_time, self.dt);
            if after_step(step + 1, risk) == Control::Stop && step + 1 < to {
                return Ok(Outcome::Interrupted { step: step + 1 });
            }
        }
        Ok(Outcome::Finished)
    }
}
