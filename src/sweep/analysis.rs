//! The comparison of a sweep's widths with the limit (placeholder; being written).

use std::path::Path;

use crate::error::Result;
use crate::sweep::merge::RunSeries;
use crate::sweep::plan::Plan;

/// Writes the statistics, exponent fits and figures of a merged sweep into `out`.
pub fn analyse(plan: &Plan, runs: &[RunSeries], out: &Path) -> Result<String> {
    Ok(format!(
        "{}: {} runs merged into {}",
        plan.name,
        runs.len(),
        out.join("sweep.csv").display()
    ))
}
