//! Experiments as data: the TOML scenario file (a serde mirror that rejects unknown keys), its
//! `--set` overrides, and its validation into a typed [`Scenario`] with every default resolved.

pub mod build;
/// The keys in which two resolved scenarios differ (`output::difference`, kept here under
/// its first path).
pub use crate::output::difference;
pub mod file;
pub mod resolve;

pub use build::Setup;
pub use difference::{KeyDifference, differing_keys};
pub use file::{ScenarioConfig, SweepConfig};
pub use resolve::{InitSource, RiskSpec, Scenario, TargetSource};
