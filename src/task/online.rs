//! The online mode, one-pass SGD (docs/math.md section 4): a fresh Gaussian batch of B inputs
//! per step, drawn once per step and shared by every Runge-Kutta stage of the step; the risk
//! R = 1/2 mean_i (y_i - f(x_i))^2 (or, with the logistic loss, mean_i log(1 + exp(-y_i f(x_i))):
//! docs/problems.md) on that batch, an optional held-out test set, the classification errors
//! on the batch and the test set when asked, and (inputs without bias, a teacher target) the
//! exact population risk the batch risk estimates.

use std::sync::Arc;

use nalgebra::DMatrix;

use crate::error::{Error, Result};
use crate::math::Network;
use crate::random::Purpose;
use crate::task::data::check_dims;
use crate::task::data_risk::{DataScratch, classification_error, data_risk_with};
use crate::task::risk::ClassificationError;
use crate::task::{DataSet, InputLaw, Loss, PopulationRisk, Target};

/// One-pass SGD: a fresh batch of B inputs per step (docs/math.md section 4).
#[derive(Debug)]
pub struct OnlineRisk {
    law: InputLaw,
    target: Arc<dyn Target>,
    seed: u64,
    batch: DataSet,
    /// The step whose batch `batch` is.
    batch_step: u64,
    test: Option<DataSet>,
    pub(crate) population: Option<Box<PopulationRisk>>,
    scratch: DataScratch,
    loss: Loss,
    classification: bool,
}

impl OnlineRisk {
    /// Batches of `batch` samples from `law` and `target`; sample i of the batch at step k uses
    /// the stream (seed, Batch, k, i).
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty batch or a target of another input dimension.
    pub fn new(
        batch: usize,
        law: InputLaw,
        target: Arc<dyn Target>,
        seed: u64,
        test: Option<DataSet>,
    ) -> Result<Self> {
        if batch == 0 {
            return Err(Error::invalid("risk.batch", 0, "at least 1"));
        }
        check_dims(&law, target.as_ref())?;
        let data = DataSet::generate(batch, law.clone(), target.as_ref(), seed, Purpose::Batch, 0)?;
        Ok(Self {
            law,
            target,
            seed,
            batch: data,
            batch_step: 0,
            test,
            population: None,
            scratch: DataScratch::default(),
            loss: Loss::Square,
            classification: false,
        })
    }

    /// Descends the risk of `loss` (default [`Loss::Square`]).
    ///
    /// # Errors
    /// [`Error::Invalid`] for the logistic loss when a label of the current batch or of the
    /// test set is not -1 or +1 ([`DataSet::check_signs`]; a target whose labels are signs
    /// gives signs in every batch).
    pub fn with_loss(mut self, loss: Loss) -> Result<Self> {
        if loss == Loss::Logistic {
            self.batch.check_signs()?;
            if let Some(test) = &self.test {
                test.check_signs()?;
            }
        }
        self.loss = loss;
        Ok(self)
    }

    /// Also reports the classification errors on the current batch and the test set at logged
    /// steps ([`crate::task::RiskMode::classification_error`]; default false).
    pub fn with_classification(mut self, classification: bool) -> Self {
        self.classification = classification;
        self
    }

    /// The loss the risk is taken with.
    pub fn loss(&self) -> Loss {
        self.loss
    }

    /// Whether the classification errors are reported.
    pub fn reports_classification(&self) -> bool {
        self.classification
    }

    /// Also reports the exact population risk of the network
    /// ([`crate::task::RiskMode::population_risk`]): only for an input law without bias and the
    /// teacher of `population` as the target.
    pub fn with_population(mut self, population: PopulationRisk) -> Self {
        self.population = Some(Box::new(population));
        self
    }

    /// Draws the batch of step `step`, unless it is the current one: once per step, shared by
    /// all stages of a Runge-Kutta step.
    pub fn begin_step(&mut self, step: u64) {
        if self.batch_step != step {
            self.batch.redraw(
                &self.law,
                self.target.as_ref(),
                self.seed,
                Purpose::Batch,
                step,
            );
            self.batch_step = step;
        }
    }

    /// The current batch.
    pub fn batch(&self) -> &DataSet {
        &self.batch
    }

    /// The step whose batch [`OnlineRisk::batch`] is (a device holding a copy of the batch
    /// compares it to know whether its copy is stale).
    pub fn batch_step(&self) -> u64 {
        self.batch_step
    }

    /// The held-out test set, where there is one.
    pub fn test(&self) -> Option<&DataSet> {
        self.test.as_ref()
    }

    /// The risk on the current batch, and its gradient into `grad` when given.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the batch's input dimension is not the particles'.
    pub fn evaluate(
        &mut self,
        network: &Network,
        theta: &DMatrix<f64>,
        grad: Option<&mut DMatrix<f64>>,
    ) -> Result<f64> {
        data_risk_with(
            network,
            theta,
            &self.batch,
            &mut self.scratch,
            grad,
            self.loss,
        )
    }

    /// The risk on the test set, where there is one.
    ///
    /// # Errors
    /// As [`OnlineRisk::evaluate`].
    pub fn test_risk(&mut self, network: &Network, theta: &DMatrix<f64>) -> Result<Option<f64>> {
        match &self.test {
            Some(test) => {
                data_risk_with(network, theta, test, &mut self.scratch, None, self.loss).map(Some)
            }
            None => Ok(None),
        }
    }

    /// The classification errors on the current batch and the test set, where asked
    /// ([`OnlineRisk::with_classification`]).
    ///
    /// # Errors
    /// As [`OnlineRisk::evaluate`].
    pub fn classification_error(
        &mut self,
        network: &Network,
        theta: &DMatrix<f64>,
    ) -> Result<Option<ClassificationError>> {
        if !self.classification {
            return Ok(None);
        }
        let train = classification_error(network, theta, &self.batch, &mut self.scratch)?;
        let test = self
            .test
            .as_ref()
            .map(|test| classification_error(network, theta, test, &mut self.scratch))
            .transpose()?;
        Ok(Some(ClassificationError { train, test }))
    }
}
