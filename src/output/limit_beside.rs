//! The exact limit kept beside a run: `RUN/limit/`, a `meanfield limit` run directory of the
//! run's own scenario (`meanfield run --limit`, or `meanfield limit SCENARIO --out RUN/limit`),
//! which the run's risk figure and report.html draw as the m -> infinity curve R_inf(t).
//!
//! A limit is drawn only where it is the limit of that run: its scenario.toml must agree with
//! the run's on every key the limit depends on. The keys it does not depend on are the width
//! `model.m` (docs/limit.md section 10: the limit is the m -> infinity law), the run's `name`,
//! its `device` and what `[record]` logs (it changes the logged times, not the curve). Any other
//! difference is an error that names the keys, never a curve silently drawn beside the wrong
//! run. This layer reads the limit's files as data (summary.json as JSON), below the
//! `limit` command that writes them.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::output::difference::differing_keys;
use crate::output::run_directory::finished_summary;
use crate::output::{RunEntry, Table};

/// The keys whose values may differ between a run's scenario and that of its limit.
fn limit_ignores(key: &str) -> bool {
    matches!(key, "name" | "model.m" | "device") || key == "record" || key.starts_with("record.")
}

/// What a run's figures say of the finished limit beside it (from its summary.json).
#[derive(Clone, Debug, PartialEq)]
pub struct LimitFacts {
    /// Weighted nodes of the solve.
    pub nodes: u64,
    /// R_inf(0).
    pub initial_risk: f64,
    /// R_inf at the last step.
    pub final_risk: f64,
    /// The time of the last step.
    pub time: f64,
    /// The solver's relative risk error estimate, if it made one.
    pub relative_error: Option<f64>,
}

/// A finished limit beside a run.
#[derive(Clone, Debug)]
pub struct RunLimit {
    /// `RUN/limit`.
    pub dir: PathBuf,
    /// Its summary.
    pub facts: LimitFacts,
    /// Its series.csv (time, risk, ...).
    pub series: Table,
}

/// The limit kept in `RUN/limit/` of the run directory `run`: `None` when there is none, or
/// when its solve did not finish (an interrupted or diverged solve is not a limit curve).
///
/// # Errors
/// [`Error::RunDirectory`] naming `RUN/limit` and the differing keys when its scenario is not
/// the run's (module documentation); [`Error::Format`] for a summary without its numbers; read
/// errors of its files.
pub fn limit_of_run(run: &Path) -> Result<Option<RunLimit>> {
    let dir = RunEntry::Limit.path(run);
    if !RunEntry::Summary.path(&dir).is_file() {
        return Ok(None);
    }
    let read = |path: &Path| std::fs::read_to_string(path).map_err(|e| Error::io(path, e));
    let run_scenario = read(&RunEntry::Scenario.path(run))?;
    let limit_scenario = read(&RunEntry::Scenario.path(&dir))?;
    check_same_problem(&run_scenario, &limit_scenario, &dir)?;
    let Some(summary) = finished_summary(&dir) else {
        return Ok(None);
    };
    let number = |key: &str| {
        summary[key].as_f64().ok_or_else(|| {
            Error::format(
                RunEntry::Summary.path(&dir),
                format!("no number `{key}` in the summary of a finished limit"),
            )
        })
    };
    let facts = LimitFacts {
        nodes: summary["nodes"].as_u64().unwrap_or(0),
        initial_risk: number("initial_risk")?,
        final_risk: number("final_risk")?,
        time: number("time")?,
        relative_error: summary["risk_error_estimate_relative"].as_f64(),
    };
    let series = Table::read_csv(&RunEntry::Series.path(&dir))?;
    Ok(Some(RunLimit { dir, facts, series }))
}

/// Refuses a limit (scenario text `limit`, in `dir`) of another problem than the run's
/// scenario `run`: every differing key outside `limit_ignores` is named.
///
/// # Errors
/// [`Error::RunDirectory`] naming `dir`, the keys and what to do.
pub fn check_same_problem(run: &str, limit: &str, dir: &Path) -> Result<()> {
    let refuse = |message: String| Error::RunDirectory {
        dir: dir.to_path_buf(),
        message,
    };
    let differences = differing_keys(run, limit)
        .map_err(|e| refuse(format!("its scenario.toml or the run's is not TOML ({e})")))?;
    let relevant: Vec<String> = differences
        .iter()
        .filter(|d| !limit_ignores(&d.key))
        .map(ToString::to_string)
        .collect();
    if relevant.is_empty() {
        return Ok(());
    }
    Err(refuse(format!(
        "holds the limit of another problem than the run beside it (differing keys, run -> \
         limit: {}); solve it again with `meanfield run SCENARIO --limit` or `meanfield limit \
         RUN/scenario.toml --out RUN/limit --overwrite`, or remove it",
        relevant.join(", ")
    )))
}

/// Whether `RUN/limit` of the run directory `run` holds a finished limit of the problem of the
/// resolved scenario `resolved` (its keys but the ignored ones: module documentation).
#[must_use]
pub fn limits_problem(run: &Path, resolved: &str) -> bool {
    let dir = RunEntry::Limit.path(run);
    finished_summary(&dir).is_some()
        && std::fs::read_to_string(RunEntry::Scenario.path(&dir))
            .is_ok_and(|limit| check_same_problem(resolved, &limit, &dir).is_ok())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    const RUN: &str = "name = \"a\"\nseed = 1\n[model]\nm = 50\nd = 4\n[dynamics]\ndt = 0.05\n\
                       [record]\npoints = 200\n";

    #[test]
    fn the_width_name_and_record_keys_may_differ() {
        let limit = "name = \"b\"\nseed = 1\n[model]\nm = 4096\nd = 4\n[dynamics]\ndt = 0.05\n\
                     [record]\nevery = 5\n";
        assert!(check_same_problem(RUN, limit, Path::new("run/limit")).is_ok());
    }

    #[test]
    fn another_dt_or_seed_is_refused_with_the_keys() {
        let limit = "name = \"a\"\nseed = 2\n[model]\nm = 50\nd = 4\n[dynamics]\ndt = 0.1\n";
        let message = check_same_problem(RUN, limit, Path::new("run/limit"))
            .unwrap_err()
            .to_string();
        for part in ["run/limit", "dynamics.dt: 0.05 -> 0.1", "seed: 1 -> 2"] {
            assert!(message.contains(part), "{part} not in {message}");
        }
        assert!(!message.contains("record"), "{message}");
    }
}
