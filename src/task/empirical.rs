//! The empirical mode (docs/math.md section 4): the risk R = 1/2 mean_i (y_i - f(x_i))^2 (or,
//! with the logistic loss, mean_i log(1 + exp(-y_i f(x_i))): docs/problems.md) on a fixed
//! training set, with an optional held-out test set, the classification errors on both when
//! asked, and (for a generated Gaussian set labelled by a teacher) the exact population risk it
//! estimates.

use nalgebra::DMatrix;

use crate::error::Result;
use crate::math::Network;
use crate::task::data_risk::{DataScratch, classification_error, data_risk_with};
use crate::task::risk::ClassificationError;
use crate::task::{DataSet, Loss, PopulationRisk};

/// Empirical risk on a fixed training set, with an optional held-out test set.
#[derive(Debug)]
pub struct EmpiricalRisk {
    train: DataSet,
    test: Option<DataSet>,
    pub(crate) population: Option<Box<PopulationRisk>>,
    scratch: DataScratch,
    loss: Loss,
    classification: bool,
}

impl EmpiricalRisk {
    /// A fixed training set and an optional test set.
    pub fn new(train: DataSet, test: Option<DataSet>) -> Self {
        Self {
            train,
            test,
            population: None,
            scratch: DataScratch::default(),
            loss: Loss::Square,
            classification: false,
        }
    }

    /// Descends the risk of `loss` (default [`Loss::Square`]).
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] for the logistic loss when a training or test label is not
    /// -1 or +1 ([`DataSet::check_signs`]).
    pub fn with_loss(mut self, loss: Loss) -> Result<Self> {
        if loss == Loss::Logistic {
            self.train.check_signs()?;
            if let Some(test) = &self.test {
                test.check_signs()?;
            }
        }
        self.loss = loss;
        Ok(self)
    }

    /// Also reports the classification errors on the training and test sets at logged steps
    /// ([`crate::task::RiskMode::classification_error`]; default false).
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
    /// ([`crate::task::RiskMode::population_risk`]): only for a training set drawn from
    /// x ~ N(0, I) without bias and labelled by the teacher of `population`.
    pub fn with_population(mut self, population: PopulationRisk) -> Self {
        self.population = Some(Box::new(population));
        self
    }

    /// The training set.
    pub fn train(&self) -> &DataSet {
        &self.train
    }

    /// The held-out test set, where there is one.
    pub fn test(&self) -> Option<&DataSet> {
        self.test.as_ref()
    }

    /// The risk on the training set, and its gradient into `grad` when given.
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] when the data's input dimension is not the particles'.
    pub fn evaluate(
        &mut self,
        network: &Network,
        theta: &DMatrix<f64>,
        grad: Option<&mut DMatrix<f64>>,
    ) -> Result<f64> {
        data_risk_with(
            network,
            theta,
            &self.train,
            &mut self.scratch,
            grad,
            self.loss,
        )
    }

    /// The risk on the test set, where there is one.
    ///
    /// # Errors
    /// As [`EmpiricalRisk::evaluate`].
    pub fn test_risk(&mut self, network: &Network, theta: &DMatrix<f64>) -> Result<Option<f64>> {
        match &self.test {
            Some(test) => {
                data_risk_with(network, theta, test, &mut self.scratch, None, self.loss).map(Some)
            }
            None => Ok(None),
        }
    }

    /// The classification errors on the training set and the test set, where asked
    /// ([`EmpiricalRisk::with_classification`]).
    ///
    /// # Errors
    /// As [`EmpiricalRisk::evaluate`].
    pub fn classification_error(
        &mut self,
        network: &Network,
        theta: &DMatrix<f64>,
    ) -> Result<Option<ClassificationError>> {
        if !self.classification {
            return Ok(None);
        }
        let train = classification_error(network, theta, &self.train, &mut self.scratch)?;
        let test = self
            .test
            .as_ref()
            .map(|test| classification_error(network, theta, test, &mut self.scratch))
            .transpose()?;
        Ok(Some(ClassificationError { train, test }))
    }
}
