//! What is learned: targets, data sets and the three risk modes (docs/math.md sections 2-4).

pub mod data;
pub mod population;
pub mod reduced_population;
pub mod risk;
pub mod target;

pub use data::{DataSet, InputLaw};
pub use population::PopulationRisk;
pub use reduced_population::{ReducedFlow, ReducedPopulation};
pub use risk::{EmpiricalRisk, Held, HeldBuffer, OnlineRisk, RiskMode};
pub use target::{Directions, OutputWeights, Target, Teacher, TeacherSpec};
