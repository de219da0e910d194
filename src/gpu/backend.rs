//! The CUDA backend of a simulation (`crate::dynamics::Backend`): the risk of the data modes
//! (docs/math.md section 4) through cuBLAS and the kernels of `gpu::data`, the pair interaction
//! of population mode (section 3) through the fused kernel of `population.cu`, and, for a run,
//! the particles held on the GPU with the stage operations of the integrators
//! (`crate::dynamics::HeldStages`) performed there.

use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::device::Precision;
use crate::dynamics::Train;
use crate::dynamics::drift::DriftCoefficients;
use crate::dynamics::integrator::At;
use crate::dynamics::{Backend, HeldBuffer, HeldStages};
use crate::error::{Error, Result};
use crate::gpu::CudaInteraction;
use crate::gpu::data::{CudaData, Slot};
use crate::math::{Activation, Network, PairKernel};
use crate::task::{Loss, PairSums, PairSumsOut, PopulationRisk, RiskMode};

/// A risk mode's evaluation on GPU 0.
#[derive(Debug)]
pub struct CudaBackend {
    on: On,
}

/// What runs on the GPU, by risk mode.
#[derive(Debug)]
enum On {
    /// A data mode: its device, and which of its data sets the device holds.
    Data {
        cuda: Box<CudaData>,
        /// The [`RiskMode::batch_step`] of the training set (or online batch) the device holds,
        /// None before the first load.
        train_loaded: Option<Option<u64>>,
        /// Whether the device holds the test set.
        test_loaded: bool,
    },
    /// Population mode: the fused kernel (None for linear and quadratic, whose exact low-rank
    /// path stays on the CPU), and its buffers.
    Population {
        interaction: Option<Box<CudaInteraction>>,
        sums: DeviceSumsBuffers,
    },
}

/// The GPU's cross sums and directions (column-major m x d), before they are scaled and
/// transposed into the sums [`PopulationRisk`] assembles from.
#[derive(Debug, Default)]
struct DeviceSumsBuffers {
    cross: Vec<f64>,
    direction: Vec<f64>,
}

/// The pair sums of population mode from the fused kernel ([`PairSums`]).
struct DeviceSums<'a> {
    interaction: &'a mut CudaInteraction,
    buffers: &'a mut DeviceSumsBuffers,
}

impl PairSums for DeviceSums<'_> {
    /// The kernel's three sums, then the cross sums scaled into coef_u sums and the directions
    /// transposed to row-major, as the CPU's tiles leave them.
    fn pair_sums(
        &mut self,
        kernel: &PairKernel,
        theta: &DMatrix<f64>,
        sq_norms: &[f64],
        out: PairSumsOut<'_>,
    ) -> Result<()> {
        let m = theta.nrows();
        let d = theta.ncols() - 1;
        let buffers = &mut *self.buffers;
        buffers.cross.resize(m, 0.0);
        buffers.direction.resize(m * d, 0.0);
        let (a, w) = theta.as_slice().split_at(m);
        self.interaction.interaction(
            a,
            w,
            sq_norms,
            out.value,
            &mut buffers.cross,
            &mut buffers.direction,
        )?;
        let (q, cross, columns) = (sq_norms, &buffers.cross, &buffers.direction);
        out.coef_u
            .par_iter_mut()
            .zip(out.direction.par_chunks_mut(d))
            .enumerate()
            .for_each(|(j, (coef_u, direction))| {
                *coef_u = cross[j] * kernel.cross_scale(q[j]);
                for (c, out) in direction.iter_mut().enumerate() {
                    *out = columns[c * m + j];
                }
            });
        Ok(())
    }
}

/// The error of a backend given a risk mode other than the one it was opened for.
fn other_mode(risk: &RiskMode) -> Error {
    let mode = match risk {
        RiskMode::Population(_) => "population",
        RiskMode::Online(_) => "online",
        RiskMode::Empirical(_) => "empirical",
    };
    Error::invalid(
        "risk mode of the CUDA backend",
        mode,
        "the mode the backend was opened for",
    )
}

/// The training set (or the step's online batch) of `risk` loaded into `cuda` unless it holds
/// it already (`train_loaded`: the batch step of the set it holds).
fn load_training_set(
    cuda: &mut CudaData,
    train_loaded: &mut Option<Option<u64>>,
    risk: &RiskMode,
) -> Result<()> {
    let key = risk.batch_step();
    if *train_loaded != Some(key) {
        let data = risk.training_set().ok_or_else(|| other_mode(risk))?;
        cuda.load(Slot::Train, data)?;
        *train_loaded = Some(key);
    }
    Ok(())
}

impl CudaBackend {
    /// Opens GPU 0 for `risk`: the data modes through cuBLAS and the kernels of `gpu::data`
    /// (every activation), population mode through the fused kernel compiled for `d`, its
    /// activation and `precision` (relu and erf; linear and quadratic keep their exact low-rank
    /// path on the CPU: O(m d^2), nothing to gain on a GPU). `activation` is the network's.
    ///
    /// # Errors
    /// [`Error::Device`] when no GPU or CUDA library is found; [`Error::Invalid`] (population
    /// mode) for an activation without a closed-form kernel on the GPU, (data modes) for a
    /// loss other than the square loss.
    pub fn new(
        risk: &RiskMode,
        activation: Activation,
        precision: Precision,
        d: usize,
    ) -> Result<Self> {
        let on = match risk {
            RiskMode::Population(p) => {
                let activation = p.kernel().activation();
                let interaction =
                    if matches!(activation, Activation::Linear | Activation::Quadratic) {
                        None
                    } else {
                        Some(Box::new(CudaInteraction::new(d, activation, precision)?))
                    };
                On::Population {
                    interaction,
                    sums: DeviceSumsBuffers::default(),
                }
            }
            RiskMode::Online(_) | RiskMode::Empirical(_) if risk.loss() != Loss::Square => {
                return Err(Error::invalid(
                    "risk.loss on the CUDA backend",
                    risk.loss().name(),
                    "square (the device computes the square loss only; run the logistic loss on \
                     the CPU)",
                ));
            }
            RiskMode::Online(_) | RiskMode::Empirical(_) => On::Data {
                cuda: Box::new(CudaData::new(activation, precision)?),
                train_loaded: None,
                test_loaded: false,
            },
        };
        Ok(Self { on })
    }

    /// The population risk of `population` with the pair sums from the fused kernel, where
    /// it runs.
    fn population(
        interaction: Option<&mut CudaInteraction>,
        buffers: &mut DeviceSumsBuffers,
        population: &mut PopulationRisk,
        network: &Network,
        theta: &DMatrix<f64>,
        grad: Option<&mut DMatrix<f64>>,
    ) -> Result<f64> {
        match interaction {
            Some(interaction) => {
                let mut sums = DeviceSums {
                    interaction,
                    buffers,
                };
                population.evaluate_with(network, theta, grad, Some(&mut sums))
            }
            None => population.evaluate(network, theta, grad),
        }
    }
}

impl Backend for CudaBackend {
    fn evaluate(
        &mut self,
        risk: &mut RiskMode,
        network: &Network,
        theta: &DMatrix<f64>,
        grad: Option<&mut DMatrix<f64>>,
    ) -> Result<f64> {
        match (&mut self.on, risk) {
            (On::Population { interaction, sums }, RiskMode::Population(p)) => {
                Self::population(interaction.as_deref_mut(), sums, p, network, theta, grad)
            }
            (
                On::Data {
                    cuda, train_loaded, ..
                },
                risk,
            ) => {
                load_training_set(cuda, train_loaded, risk)?;
                cuda.risk(
                    Slot::Train,
                    network.output_scale(theta.nrows()),
                    theta,
                    grad,
                )
            }
            (On::Population { .. }, risk) => Err(other_mode(risk)),
        }
    }

    fn test_risk(
        &mut self,
        risk: &mut RiskMode,
        network: &Network,
        theta: &DMatrix<f64>,
    ) -> Result<Option<f64>> {
        let On::Data {
            cuda, test_loaded, ..
        } = &mut self.on
        else {
            return Ok(None);
        };
        let Some(test) = risk.test_set() else {
            return Ok(None);
        };
        if !*test_loaded {
            cuda.load(Slot::Test, test)?;
            *test_loaded = true;
        }
        cuda.risk(Slot::Test, network.output_scale(theta.nrows()), theta, None)
            .map(Some)
    }

    fn hold(&mut self, risk: &RiskMode, theta: &DMatrix<f64>, stages: usize) -> Result<bool> {
        match (&mut self.on, risk) {
            (On::Population { interaction, .. }, RiskMode::Population(p)) => {
                let Some(interaction) = interaction.as_mut() else {
                    return Ok(false);
                };
                let teacher = p.teacher().filter(|_| p.is_standard()).ok_or_else(|| {
                    Error::invalid(
                        "device",
                        "a population problem beyond the standard Gaussian teacher",
                        "device = \"cpu\" (the device computes the standard problem only)",
                    )
                })?;
                interaction.hold(theta, stages, teacher.matrix(), p.target_energy())?;
                Ok(true)
            }
            (On::Data { cuda, .. }, _) => {
                cuda.hold(theta, stages)?;
                Ok(true)
            }
            (On::Population { .. }, risk) => Err(other_mode(risk)),
        }
    }

    fn held(&mut self) -> Option<&mut dyn HeldStages> {
        let holds = match &self.on {
            On::Data { cuda, .. } => cuda.holds(),
            On::Population { interaction, .. } => interaction.as_ref().is_some_and(|i| i.holds()),
        };
        if holds { Some(self) } else { None }
    }

    fn release(&mut self) {
        match &mut self.on {
            On::Data { cuda, .. } => cuda.release(),
            On::Population { interaction, .. } => {
                if let Some(interaction) = interaction.as_mut() {
                    interaction.release();
                }
            }
        }
    }

    fn on_gpu(&self) -> bool {
        match &self.on {
            On::Data { .. } => true,
            On::Population { interaction, .. } => interaction.is_some(),
        }
    }
}

impl CudaBackend {
    /// The kernel that holds the particles in population mode (after a successful `hold`).
    fn held_interaction(
        interaction: &mut Option<Box<CudaInteraction>>,
    ) -> Result<&mut CudaInteraction> {
        interaction.as_deref_mut().ok_or_else(|| {
            Error::invalid(
                "particles held on the GPU",
                "none",
                "population mode with a fused kernel (relu or erf)",
            )
        })
    }
}

impl HeldStages for CudaBackend {
    fn drift(
        &mut self,
        risk: &RiskMode,
        output_scale: f64,
        coefficients: &DriftCoefficients,
        at: At,
        stage: usize,
    ) -> Result<f64> {
        match &mut self.on {
            On::Data {
                cuda, train_loaded, ..
            } => {
                load_training_set(cuda, train_loaded, risk)?;
                cuda.held_drift(Slot::Train, output_scale, coefficients, at, stage)
            }
            On::Population { interaction, .. } => Self::held_interaction(interaction)?.held_drift(
                output_scale,
                coefficients,
                at,
                stage,
            ),
        }
    }

    fn probe_from_state(&mut self) -> Result<()> {
        match &mut self.on {
            On::Data { cuda, .. } => cuda.held_probe_from_state(),
            On::Population { interaction, .. } => {
                Self::held_interaction(interaction)?.held_probe_from_state()
            }
        }
    }

    fn axpy(&mut self, target: At, alpha: f64, stage: usize) -> Result<()> {
        match &mut self.on {
            On::Data { cuda, .. } => cuda.held_axpy(target, alpha, stage),
            On::Population { interaction, .. } => {
                Self::held_interaction(interaction)?.held_axpy(target, alpha, stage)
            }
        }
    }

    fn noise(&mut self, amplitude: f64, train: Train, draws: &[f64]) -> Result<()> {
        match &mut self.on {
            On::Data { cuda, .. } => cuda.held_noise(amplitude, train, draws),
            On::Population { interaction, .. } => {
                Self::held_interaction(interaction)?.held_noise(amplitude, train, draws)
            }
        }
    }

    fn download(&mut self, buffer: HeldBuffer, out: &mut DMatrix<f64>) -> Result<()> {
        match &mut self.on {
            On::Data { cuda, .. } => cuda.held_download(buffer, out),
            On::Population { interaction, .. } => {
                Self::held_interaction(interaction)?.held_download(buffer, out)
            }
        }
    }
}
