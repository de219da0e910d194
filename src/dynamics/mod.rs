//! How particles move: the drift of docs/math.md section 2, Langevin noise, Runge-Kutta integrators,
//! the simulation loop with its observers, schedules of dt, lambda and tau, and the backend
//! that evaluates the risk where the particles live (host or device).

pub mod backend;
pub mod drift;
pub mod integrator;
pub mod noise;
pub mod reduced;
pub mod scheduled;
pub mod simulation;

pub use backend::{Backend, HeldBuffer, HeldStages, Host};
pub use drift::{Dynamics, Flow, Train};
pub use integrator::{FieldStepper, Integrator, Stepper, VelocityField};
pub use scheduled::{ParameterSchedule, Schedules};
pub use simulation::{Control, Observation, Observer, Outcome, Schedule, Simulation};
