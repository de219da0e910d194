//! Where the particles live and the risk is evaluated: the [`Backend`] of a simulation. The
//! task (`crate::task`) says what is learned and computes the risk R and dR/dtheta (docs/math.md
//! sections 3-4) on the CPU; a backend runs that evaluation, on the host ([`Host`], the default)
//! or on a device (`crate::gpu::CudaBackend`, chosen by `crate::backend::for_device`), and may
//! hold the particles on the device for a whole run, where it performs the stage operations of
//! the integrators ([`HeldStages`], the device side of `dynamics::integrator::StageOps`).

use nalgebra::DMatrix;

use crate::dynamics::Train;
use crate::dynamics::drift::DriftCoefficients;
use crate::dynamics::integrator::At;
use crate::error::Result;
use crate::math::Network;
use crate::task::RiskMode;

/// A buffer of the particles a device holds: the state, or a Runge-Kutta stage (stage 0 is
/// the drift at the state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeldBuffer {
    /// theta, m x (1 + d).
    State,
    /// Stage s of the current step, m x (1 + d).
    Stage(usize),
}

/// Where a simulation's risk is evaluated and its particles live.
pub trait Backend: std::fmt::Debug + Send {
    /// The risk `risk` descends at `theta` ([`RiskMode::evaluate`]), and its gradient into
    /// `grad` when given.
    ///
    /// # Errors
    /// The task's errors; [`crate::Error::Device`] on a failed copy, product or launch.
    fn evaluate(
        &mut self,
        risk: &mut RiskMode,
        network: &Network,
        theta: &DMatrix<f64>,
        grad: Option<&mut DMatrix<f64>>,
    ) -> Result<f64>;

    /// The risk on the held-out test set, where the mode has one ([`RiskMode::test_risk`]).
    ///
    /// # Errors
    /// As [`Backend::evaluate`].
    fn test_risk(
        &mut self,
        risk: &mut RiskMode,
        network: &Network,
        theta: &DMatrix<f64>,
    ) -> Result<Option<f64>>;

    /// Moves `theta` onto the device for a run, with `stages` Runge-Kutta stage buffers, where
    /// this backend can hold the particles of `risk` there; returns whether it does. From then
    /// on [`Backend::held`] gives the operations of a step, until [`Backend::release`]. The
    /// default holds nothing.
    ///
    /// # Errors
    /// [`crate::Error::Device`] on a failed allocation or copy.
    fn hold(&mut self, risk: &RiskMode, theta: &DMatrix<f64>, stages: usize) -> Result<bool> {
        let _ = (risk, theta, stages);
        Ok(false)
    }

    /// The particles held on the device, after [`Backend::hold`] returned true.
    fn held(&mut self) -> Option<&mut dyn HeldStages> {
        None
    }

    /// Frees the particles held on the device (after a run).
    fn release(&mut self) {}

    /// Whether the risk and gradient run on a GPU.
    fn on_gpu(&self) -> bool {
        false
    }
}

/// The operations of a Runge-Kutta step on particles a device holds between steps: the state,
/// the probe of the later stages and the stages. Only logged observables and snapshots come
/// back ([`HeldStages::download`]).
pub trait HeldStages {
    /// The drift at `at` into stage `stage` (docs/math.md section 2) of the risk of `risk`: the
    /// population risk (section 3), or the risk on the training set or the step's online batch
    /// (section 4); returns the risk there. `output_scale` = m^(-alpha).
    ///
    /// # Errors
    /// [`crate::Error::Device`] on a failed copy, product or launch.
    fn drift(
        &mut self,
        risk: &RiskMode,
        output_scale: f64,
        coefficients: &DriftCoefficients,
        at: At,
        stage: usize,
    ) -> Result<f64>;

    /// probe = state.
    ///
    /// # Errors
    /// [`crate::Error::Device`] on a failed copy.
    fn probe_from_state(&mut self) -> Result<()>;

    /// target += alpha k_stage.
    ///
    /// # Errors
    /// [`crate::Error::Device`] on a failed launch.
    fn axpy(&mut self, target: At, alpha: f64, stage: usize) -> Result<()>;

    /// state += amplitude draws on the trained columns (draws row-major, m x (1 + d)).
    ///
    /// # Errors
    /// [`crate::Error::Device`] on a failed copy or launch.
    fn noise(&mut self, amplitude: f64, train: Train, draws: &[f64]) -> Result<()>;

    /// Copies `buffer` back into `out` (m x (1 + d)).
    ///
    /// # Errors
    /// [`crate::Error::Device`] on a failed copy.
    fn download(&mut self, buffer: HeldBuffer, out: &mut DMatrix<f64>) -> Result<()>;
}

/// The host: the task's own CPU evaluation; the particles stay in host matrices.
#[derive(Clone, Copy, Debug, Default)]
pub struct Host;

impl Backend for Host {
    fn evaluate(
        &mut self,
        risk: &mut RiskMode,
        network: &Network,
        theta: &DMatrix<f64>,
        grad: Option<&mut DMatrix<f64>>,
    ) -> Result<f64> {
        risk.evaluate(network, theta, grad)
    }

    fn test_risk(
        &mut self,
        risk: &mut RiskMode,
        network: &Network,
        theta: &DMatrix<f64>,
    ) -> Result<Option<f64>> {
        risk.test_risk(network, theta)
    }
}
