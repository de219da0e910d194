//! The risk R(Theta) = 1/2 E[(y - f(x))^2] (in the data modes also the logistic risk
//! E log(1 + exp(-y f(x))), docs/problems.md) and its gradient dR/dtheta_j in the three modes,
//! behind one interface ([`RiskMode`]), each in its own file:
//!
//! - [`PopulationRisk`] (`task::population`): Gaussian inputs, exact through the pair kernels
//!   (docs/math.md section 3).
//! - [`EmpiricalRisk`] (`task::empirical`): a fixed data set (docs/math.md section 4).
//! - [`OnlineRisk`] (`task::online`): a fresh Gaussian batch per step, shared by every stage
//!   of the step.
//!
//! The data modes share `task::data_risk`. With Gaussian inputs, no bias and labels from the
//! teacher (online mode, and the empirical mode with a generated data set), a data mode also
//! carries the exact population risk of the same network ([`RiskMode::population_risk`], the
//! `population_risk` column): what its batch, training-set and held-out risks estimate. It is
//! evaluated only at logged steps, as are the classification errors
//! ([`RiskMode::classification_error`], the `classification_error` and
//! `test_classification_error` columns) where a data mode was asked for them.
//!
//! The modes differ only in dR/dtheta: drift, noise and integrators are shared
//! (`crate::dynamics`). This is the CPU computation; where the particles live and which device
//! evaluates the risk is the business of a backend (`crate::dynamics::Backend`).

use nalgebra::DMatrix;

use crate::error::Result;
use crate::math::Network;
use crate::task::{DataSet, EmpiricalRisk, Loss, OnlineRisk, PopulationRisk};

/// The classification errors at one state: the fraction of samples with sign f(x_i) !=
/// sign y_i (f(x_i) = 0 counts as an error).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassificationError {
    /// On the data set the risk is descended on: the training set (empirical) or the current
    /// batch (online).
    pub train: f64,
    /// On the held-out test set, where there is one.
    pub test: Option<f64>,
}

/// The three risk modes behind one interface.
#[derive(Debug)]
pub enum RiskMode {
    /// Exact Gaussian-input risk.
    Population(Box<PopulationRisk>),
    /// Fresh batch per step.
    Online(Box<OnlineRisk>),
    /// Fixed data set.
    Empirical(Box<EmpiricalRisk>),
}

impl RiskMode {
    /// Prepares step `step`: the online mode draws its batch (once per step, shared by all
    /// stages of a Runge-Kutta step).
    pub fn begin_step(&mut self, step: u64) {
        if let RiskMode::Online(online) = self {
            online.begin_step(step);
        }
    }

    /// The data set the risk of [`RiskMode::evaluate`] is taken on: the current online batch
    /// or the training set; None in population mode.
    pub fn training_set(&self) -> Option<&DataSet> {
        match self {
            RiskMode::Population(_) => None,
            RiskMode::Online(o) => Some(o.batch()),
            RiskMode::Empirical(e) => Some(e.train()),
        }
    }

    /// The held-out test set, where the mode has one.
    pub fn test_set(&self) -> Option<&DataSet> {
        match self {
            RiskMode::Population(_) => None,
            RiskMode::Online(o) => o.test(),
            RiskMode::Empirical(e) => e.test(),
        }
    }

    /// The step whose batch [`RiskMode::training_set`] is in online mode; None in the other
    /// modes, whose training set never changes. A device holding a copy of the training set
    /// reloads it when this changes.
    pub fn batch_step(&self) -> Option<u64> {
        match self {
            RiskMode::Online(o) => Some(o.batch_step()),
            RiskMode::Population(_) | RiskMode::Empirical(_) => None,
        }
    }

    /// The risk the dynamics descends (population: exact; online: on the current batch;
    /// empirical: on the training set), and its gradient into `grad` when given, on the CPU.
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] when the teacher's or the data's input dimension is not the
    /// particles'.
    pub fn evaluate(
        &mut self,
        network: &Network,
        theta: &DMatrix<f64>,
        grad: Option<&mut DMatrix<f64>>,
    ) -> Result<f64> {
        match self {
            RiskMode::Population(p) => p.evaluate(network, theta, grad),
            RiskMode::Online(o) => o.evaluate(network, theta, grad),
            RiskMode::Empirical(e) => e.evaluate(network, theta, grad),
        }
    }

    /// Risk on the held-out test set, where the mode has one, on the CPU.
    ///
    /// # Errors
    /// As [`RiskMode::evaluate`].
    pub fn test_risk(&mut self, network: &Network, theta: &DMatrix<f64>) -> Result<Option<f64>> {
        match self {
            RiskMode::Population(_) => Ok(None),
            RiskMode::Online(o) => o.test_risk(network, theta),
            RiskMode::Empirical(e) => e.test_risk(network, theta),
        }
    }

    /// The exact population risk R = 1/2 E[(y - f(x))^2] over x ~ N(0, I_d) and the label
    /// noise (docs/math.md section 3), in a data mode that was given it (`with_population`: Gaussian
    /// inputs without bias, a teacher target): the quantity its batch, training-set and
    /// held-out risks estimate. None in population mode, whose [`RiskMode::evaluate`] is that
    /// risk already, and in data modes without it. Costs O(m^2 d) (one pair interaction,
    /// without gradient): call it on logged steps only.
    ///
    /// # Errors
    /// As [`RiskMode::evaluate`].
    pub fn population_risk(
        &mut self,
        network: &Network,
        theta: &DMatrix<f64>,
    ) -> Result<Option<f64>> {
        let population = match self {
            RiskMode::Population(_) => None,
            RiskMode::Online(o) => o.population.as_deref_mut(),
            RiskMode::Empirical(e) => e.population.as_deref_mut(),
        };
        population
            .map(|p| p.evaluate(network, theta, None))
            .transpose()
    }

    /// Whether [`RiskMode::population_risk`] gives a value (a data mode given the exact
    /// population risk), without computing it.
    pub fn reports_population_risk(&self) -> bool {
        match self {
            RiskMode::Population(_) => false,
            RiskMode::Online(o) => o.population.is_some(),
            RiskMode::Empirical(e) => e.population.is_some(),
        }
    }

    /// The loss the risk is taken with (population mode: always [`Loss::Square`]).
    pub fn loss(&self) -> Loss {
        match self {
            RiskMode::Population(_) => Loss::Square,
            RiskMode::Online(o) => o.loss(),
            RiskMode::Empirical(e) => e.loss(),
        }
    }

    /// The classification errors on the training set (or current batch) and the test set, in
    /// a data mode asked for them (`with_classification(true)`); None otherwise. One forward
    /// pass per set, O(n m d): call it on logged steps only.
    ///
    /// # Errors
    /// As [`RiskMode::evaluate`].
    pub fn classification_error(
        &mut self,
        network: &Network,
        theta: &DMatrix<f64>,
    ) -> Result<Option<ClassificationError>> {
        match self {
            RiskMode::Population(_) => Ok(None),
            RiskMode::Online(o) => o.classification_error(network, theta),
            RiskMode::Empirical(e) => e.classification_error(network, theta),
        }
    }

    /// Whether [`RiskMode::classification_error`] gives a value, without computing it.
    pub fn reports_classification(&self) -> bool {
        match self {
            RiskMode::Population(_) => false,
            RiskMode::Online(o) => o.reports_classification(),
            RiskMode::Empirical(e) => e.reports_classification(),
        }
    }

    /// Whether the risk of [`RiskMode::evaluate`] is the exact population risk.
    pub fn is_population(&self) -> bool {
        matches!(self, RiskMode::Population(_))
    }
}
