//! Reusing a finished limit solve instead of solving again: in a sweep's `limit/` directory
//! (the same resolved scenario) and beside a run (`RUN/limit/`, the same problem:
//! `output::limit_beside`, which also draws it).

use std::path::Path;

use crate::limit::{LimitSummary, Resolution};
use crate::output::limit_beside::limits_problem;
use crate::output::{RunEntry, read_json};
use crate::run::Status;

/// Whether `RUN/limit` holds a finished limit of the problem of `resolved` solved at
/// `resolution`, to reuse (`meanfield run --limit`).
#[must_use]
pub fn reusable_beside(run: &Path, resolved: &str, resolution: Resolution) -> bool {
    let dir = RunEntry::Limit.path(run);
    limits_problem(run, resolved)
        && read_json::<LimitSummary>(&RunEntry::Summary.path(&dir))
            .is_ok_and(|summary| solved_at(&summary, resolution, &dir))
}

/// Whether the solve of `summary` in `dir` used `resolution` and left its series.
fn solved_at(summary: &LimitSummary, resolution: Resolution, dir: &Path) -> bool {
    let init = resolution.init;
    summary.nodes_per_direction == [init.a, init.p, init.q]
        && summary.angle_nodes == resolution.angle
        && RunEntry::Series.path(dir).is_file()
}

/// The summary of a finished solve of the resolved scenario `resolved` at `resolution` in
/// `dir`, if there is one (to reuse instead of solving again).
#[must_use]
pub fn finished_solve(dir: &Path, resolved: &str, resolution: Resolution) -> Option<LimitSummary> {
    let written = std::fs::read_to_string(RunEntry::Scenario.path(dir)).ok()?;
    let summary: LimitSummary = read_json(&RunEntry::Summary.path(dir)).ok()?;
    let same = written == resolved
        && summary.status == Status::Finished
        && solved_at(&summary, resolution, dir);
    same.then_some(summary)
}
