//! What is learned: targets, data sets and the three risk modes (docs/math.md sections 2-4),
//! each mode in its own file (`population`, `online`, `empirical`, sharing `data_risk`), behind
//! [`RiskMode`]. The maths only, on the CPU: where the particles live is a backend's business
//! (`crate::dynamics::Backend`).

pub mod data;
pub mod data_risk;
pub mod data_risk32;
pub mod empirical;
pub mod field;
pub mod online;
pub mod population;
pub mod population32;
pub mod problem;
pub mod reduced_population;
pub mod risk;
pub mod target;

pub use data::{DataSet, InputLaw};
pub use data_risk::{
    DataScratch, classification_error, data_outputs, data_risk, data_risk_with,
    logistic_derivative, softplus,
};
pub use data_risk32::{DataRisk32, Inputs32};
pub use empirical::EmpiricalRisk;
pub use online::OnlineRisk;
pub use population::{PairSums, PairSumsOut, PopulationRisk};
pub use population32::PairSums32;
pub use problem::{
    Component, Covariance, HermiteTarget, HermiteTerm, InputShape, LabelTarget, Loss, ParityTarget,
    ParityTerm, TargetFunction,
};
pub use reduced_population::{ReducedFlow, ReducedPopulation};
pub use risk::{ClassificationError, RiskMode};
pub use target::{Directions, OutputWeights, Target, Teacher, TeacherSpec};
