//! Finite m against the limit (issue "sweeps"; docs/math.md sections 5 to 7): a sweep runs one
//! scenario over a ladder of widths and seeds (and any other keys), coupled across widths,
//! resumable and shardable across a cluster; its merge gathers the runs into `sweep.csv` and
//! compares them with a reference limit.

pub mod analysis;
pub mod execute;
pub mod fits;
pub mod limit_reference;
pub mod merge;
pub mod partners;
pub mod plan;
pub mod validity;

pub use execute::{ExecuteOptions, ExecutionReport, SweepProgress, execute, execute_with};
pub use merge::{finish, gather, sweep_csv, write_sweep_csv};
pub use plan::{Plan, PlannedRun, Reference, SweepOverrides};
