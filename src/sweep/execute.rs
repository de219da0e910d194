//! Running the runs of a sweep plan (or of one shard of it): each in its own run directory
//! `OUT/runs/<id>/` (the run contract of `run.rs`), biggest first, several at once on one
//! rayon pool. Runs nest their own parallel loops in the same pool, so the cores are never
//! oversubscribed: small runs fill the cores side by side, a big run spreads over them.
//!
//! Resumable: a run whose directory holds a finished (or diverged) summary for the same
//! resolved scenario is skipped; an interrupted one resumes from its checkpoint. A run whose
//! directory holds a run of another scenario is refused (the run's error names the differing
//! keys) unless [`ExecuteOptions::overwrite`] is set, as for `meanfield run`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::output::write_json;
use crate::run::{RunOptions, Status, Summary, run};
use crate::scenario::Scenario;
use crate::sweep::plan::{Plan, PlannedRun};

/// How a run of the plan stands in a directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    /// Finished (or diverged, which is a result too): nothing to do.
    Done(Status),
    /// Interrupted with a checkpoint: resume it.
    Resumable,
    /// Not started (or started with another scenario): run it afresh.
    Missing,
}

/// What happened to the runs of one invocation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecutionReport {
    /// Runs of this shard.
    pub planned: usize,
    /// Runs found done and skipped.
    pub skipped: usize,
    /// Runs completed now.
    pub finished: usize,
    /// Runs that diverged (kept; their rows end at the divergence).
    pub diverged: usize,
    /// Runs left interrupted.
    pub interrupted: usize,
}

/// Progress over the runs of a sweep, reported as each run ends.
#[derive(Clone, Debug)]
pub struct SweepProgress {
    /// Runs ended (done now or skipped).
    pub done: usize,
    /// Runs of this invocation.
    pub total: usize,
    /// The run that just ended.
    pub id: String,
}

/// How [`execute_with`] runs the runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecuteOptions {
    /// Runs at once (at least 1).
    pub jobs: usize,
    /// Replace a run directory that holds a run of another scenario (default false: refuse).
    pub overwrite: bool,
}

/// The directory of run `run` under `out`.
pub fn run_dir(out: &Path, run: &PlannedRun) -> PathBuf {
    out.join("runs").join(&run.id)
}

/// How the run stands in `dir`: done only if summary.json says finished or diverged and the
/// directory's scenario.toml is this run's resolved scenario.
pub fn run_state(dir: &Path, resolved: &str) -> RunState {
    let same_scenario = std::fs::read_to_string(dir.join("scenario.toml"))
        .map(|text| text == resolved)
        .unwrap_or(false);
    if !same_scenario {
        return RunState::Missing;
    }
    let summary: Option<Summary> = std::fs::read_to_string(dir.join("summary.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    match summary.map(|s| s.status) {
        Some(status @ (Status::Finished | Status::Diverged)) => RunState::Done(status),
        _ if dir.join("checkpoint").join("state.json").exists() => RunState::Resumable,
        _ => RunState::Missing,
    }
}

/// The scenario of a planned run.
pub fn scenario_of(plan: &Plan, run: &PlannedRun) -> Result<Scenario> {
    Scenario::load(Path::new(&plan.scenario_file), &run.overrides)
}

/// Runs the runs `selection` (indices into `plan.runs`) into `out`, at most `jobs` at once,
/// skipping those already done and refusing run directories of another scenario: the same as
/// [`execute_with`] without `overwrite`.
pub fn execute(
    plan: &Plan,
    selection: &[usize],
    out: &Path,
    jobs: usize,
    interrupt: &AtomicBool,
    progress: &(dyn Fn(SweepProgress) + Sync),
) -> Result<ExecutionReport> {
    let options = ExecuteOptions {
        jobs,
        overwrite: false,
    };
    execute_with(plan, selection, out, &options, interrupt, progress)
}

/// Runs the runs `selection` (indices into `plan.runs`) into `out`, at most `options.jobs` at
/// once, skipping those already done. Writes `out/sweep_plan.json` first. Stops starting runs
/// once `interrupt` is set (runs in flight stop after their step and keep a checkpoint).
///
/// # Errors
/// The first error of a run ([`Error::RunDirectory`] for a directory that holds a run of
/// another scenario, without `options.overwrite`); runs already started finish first.
pub fn execute_with(
    plan: &Plan,
    selection: &[usize],
    out: &Path,
    options: &ExecuteOptions,
    interrupt: &AtomicBool,
    progress: &(dyn Fn(SweepProgress) + Sync),
) -> Result<ExecutionReport> {
    let (jobs, overwrite) = (options.jobs, options.overwrite);
    std::fs::create_dir_all(out.join("runs")).map_err(|e| Error::io(out, e))?;
    write_json(&out.join("sweep_plan.json"), plan)?;
    let mut order: Vec<usize> = selection.to_vec();
    // Biggest first (longest-processing-time order); ties in plan order.
    order.sort_by(|a, b| {
        plan.runs[*b]
            .cost
            .total_cmp(&plan.runs[*a].cost)
            .then(a.cmp(b))
    });
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let report = Mutex::new(ExecutionReport {
        planned: order.len(),
        ..ExecutionReport::default()
    });
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let workers = jobs.max(1).min(order.len().max(1));
    rayon::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|_| {
                loop {
                    if interrupt.load(Ordering::SeqCst) || lock(&failure).is_some() {
                        return;
                    }
                    let slot = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&index) = order.get(slot) else {
                        return;
                    };
                    let planned = &plan.runs[index];
                    match run_one(plan, planned, out, overwrite, interrupt) {
                        Ok(outcome) => {
                            let mut r = lock(&report);
                            match outcome {
                                Outcome::Skipped => r.skipped += 1,
                                Outcome::Ran(Status::Finished) => r.finished += 1,
                                Outcome::Ran(Status::Diverged) => r.diverged += 1,
                                Outcome::Ran(Status::Interrupted) => r.interrupted += 1,
                            }
                        }
                        Err(error) => {
                            let mut f = lock(&failure);
                            if f.is_none() {
                                *f = Some(error);
                            }
                            return;
                        }
                    }
                    progress(SweepProgress {
                        done: done.fetch_add(1, Ordering::SeqCst) + 1,
                        total: order.len(),
                        id: planned.id.clone(),
                    });
                }
            });
        }
    });
    if let Some(error) = lock(&failure).take() {
        return Err(error);
    }
    let report = lock(&report).clone();
    Ok(report)
}

/// A mutex's guard, also after a panic elsewhere (the data are counters and an error slot).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

enum Outcome {
    Skipped,
    Ran(Status),
}

fn run_one(
    plan: &Plan,
    planned: &PlannedRun,
    out: &Path,
    overwrite: bool,
    interrupt: &AtomicBool,
) -> Result<Outcome> {
    let scenario = scenario_of(plan, planned)?;
    let dir = run_dir(out, planned);
    let state = run_state(&dir, &scenario.resolved_toml()?);
    if let RunState::Done(_) = state {
        return Ok(Outcome::Skipped);
    }
    let options = RunOptions {
        out: dir,
        resume: state == RunState::Resumable,
        overwrite,
        checkpoint_every: Duration::from_secs(300),
        interrupt,
        stop_at_step: None,
        threads: rayon::current_num_threads(),
    };
    match run(&scenario, &options, &mut |_| {}) {
        Ok(summary) => Ok(Outcome::Ran(summary.status)),
        // A diverged run wrote its rows and summary: a result of the sweep, not a failure.
        Err(Error::Diverged { .. }) => Ok(Outcome::Ran(Status::Diverged)),
        Err(error) => Err(error),
    }
}
