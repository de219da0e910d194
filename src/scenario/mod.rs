//! Experiments as data: the TOML scenario file (a serde mirror that rejects unknown keys), its
//! `--set` overrides, and its validation into a typed [`Scenario`] with every default resolved.

pub mod build;
pub mod file;
pub mod resolve;

pub use build::Setup;
pub use file::{ScenarioConfig, SweepConfig};
pub use resolve::{InitSource, RiskSpec, Scenario, TargetSource};
