//! The empirical mode (docs/math.md section 4): the risk R = 1/2 mean_i (y_i - f(x_i))^2 on a
//! fixed training set, with an optional held-out test set, and (for a generated Gaussian set
//! labelled by a teacher) the exact population risk it estimates.

use nalgebra::DMatrix;

use crate::error::Result;
use crate::math::Network;
use crate::task::data_risk::{DataScratch, data_risk};
use crate::task::{DataSet, PopulationRisk};

/// Empirical risk on a fixed training set, with an optional held-out test set.
#[derive(Debug)]
pub struct EmpiricalRisk {
    train: DataSet,
    test: Option<DataSet>,
    pub(crate) population: Option<Box<PopulationRisk>>,
    scratch: DataScratch,
}

impl EmpiricalRisk {
    /// A fixed training set and an optional test set.
    pub fn new(train: DataSet, test: Option<DataSet>) -> Self {
        Self {
            train,
            test,
            population: None,
            scratch: DataScratch::default(),
        }
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
        data_risk(network, theta, &self.train, &mut self.scratch, grad)
    }

    /// The risk on the test set, where there is one.
    ///
    /// # Errors
    /// As [`EmpiricalRisk::evaluate`].
    pub fn test_risk(&mut self, network: &Network, theta: &DMatrix<f64>) -> Result<Option<f64>> {
        match &self.test {
            Some(test) => data_risk(network, theta, test, &mut self.scratch, None).map(Some),
            None => Ok(None),
        }
    }
}
