//! A run directory (the contract documented in README.md): run a scenario, write its data and
//! figures, checkpoint it, and resume it bit-identically.
//!
//! ```text
//! scenario.toml           resolved scenario (every default written out, paths absolute)
//! series.csv              step,time,risk,... one row per logged step, round-trip floats
//! summary.json            final figures, status, wall time, steps per second, threads, seed
//! particles_init.npy      (m, 1 + d) float64, columns a, w_1..w_d
//! particles_final.npy     the same at the last step
//! teacher.npy             (k, 1 + d)
//! plots/risk.{png,svg}    risk against time, log-log
//! checkpoint/             particles.npy and state.json of an interrupted run (removed at the end)
//! ```
//!
//! Every file is written to a temporary name and renamed. Random streams are keyed by step,
//! so a checkpoint needs only the particles and the step to resume bit for bit.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

use crate::diagnostics::{Recorder, Series};
use crate::dynamics::{Control, Outcome};
use crate::error::{Error, Result};
use crate::output::{Table, read_npy, write_atomic, write_json, write_npy};
use crate::plot::{Curve, LogLogFigure, render_loglog};
use crate::scenario::Scenario;

/// Progress of a run, reported after each step.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Completed steps.
    pub step: u64,
    /// Total steps.
    pub total: u64,
    /// The risk at the last evaluated state.
    pub risk: f64,
}

/// How to run.
#[derive(Debug)]
pub struct RunOptions<'a> {
    /// The run directory.
    pub out: PathBuf,
    /// Continue an interrupted run in `out` from its checkpoint.
    pub resume: bool,
    /// Wall time between checkpoints (default 300 s).
    pub checkpoint_every: Duration,
    /// Set (e.g. by a SIGINT handler) to stop after the current step.
    pub interrupt: &'a AtomicBool,
    /// For tests: behave as if interrupted once this step is completed.
    pub stop_at_step: Option<u64>,
    /// Number of rayon threads in use (recorded in summary.json).
    pub threads: usize,
}

/// How a run ended, as recorded in summary.json.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// All steps done.
    Finished,
    /// Stopped by an interrupt; resumable.
    Interrupted,
    /// Stopped at a non-finite value.
    Diverged,
}

/// summary.json.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    /// Run name.
    pub name: String,
    /// How the run ended.
    pub status: Status,
    /// The divergence message, if any.
    pub message: Option<String>,
    /// Seed.
    pub seed: u64,
    /// Width m.
    pub m: usize,
    /// Input dimension d.
    pub d: usize,
    /// Last step reached.
    pub step: u64,
    /// Its time.
    pub time: f64,
    /// Risk at the last logged step.
    pub final_risk: f64,
    /// Test risk at the last logged step, in data modes with a test set.
    pub final_test_risk: Option<f64>,
    /// Risk at step 0.
    pub initial_risk: f64,
    /// Wall time of this invocation, seconds.
    pub wall_seconds: f64,
    /// Steps per second of this invocation.
    pub steps_per_second: f64,
    /// Rayon threads.
    pub threads: usize,
    /// meanfield version.
    pub version: String,
}

/// The checkpoint's state.json.
#[derive(Debug, Serialize, Deserialize)]
struct CheckpointState {
    step: u64,
}

fn series_table(series: &Series) -> Table {
    Table {
        columns: series.columns.clone(),
        rows: series.rows.clone(),
    }
}

/// Writes `checkpoint/` atomically: into `checkpoint.tmp/`, then renamed over the old one.
fn write_checkpoint(out: &Path, step: u64, theta: &DMatrix<f64>, series: &Series) -> Result<()> {
    let tmp = out.join("checkpoint.tmp");
    let old = out.join("checkpoint.old");
    let dir = out.join("checkpoint");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    write_npy(&tmp.join("particles.npy"), theta)?;
    series_table(series).write_csv(&tmp.join("series.csv"))?;
    write_json(&tmp.join("state.json"), &CheckpointState { step })?;
    if dir.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
        }
        std::fs::rename(&dir, &old).map_err(|e| Error::io(&dir, e))?;
    }
    std::fs::rename(&tmp, &dir).map_err(|e| Error::io(&tmp, e))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    }
    Ok(())
}

/// Reads `checkpoint/` (or `checkpoint.old/` if a swap was cut short).
fn read_checkpoint(out: &Path) -> Result<(u64, DMatrix<f64>, Vec<Vec<f64>>)> {
    let dir = [out.join("checkpoint"), out.join("checkpoint.old")]
        .into_iter()
        .find(|d| d.join("state.json").exists())
        .ok_or_else(|| {
            Error::format(
                out.join("checkpoint"),
                "no checkpoint to resume from (the run finished, or never started)",
            )
        })?;
    let state_path = dir.join("state.json");
    let text = std::fs::read_to_string(&state_path).map_err(|e| Error::io(&state_path, e))?;
    let state: CheckpointState =
        serde_json::from_str(&text).map_err(|e| Error::format(&state_path, e.to_string()))?;
    let theta = read_npy(&dir.join("particles.npy"))?;
    let rows = Table::read_csv(&dir.join("series.csv"))?.rows;
    Ok((state.step, theta, rows))
}

/// Re-renders `plots/risk.{png,svg}` of a run directory from its `series.csv`.
pub fn render_plots(out: &Path, name: &str) -> Result<()> {
    let table = Table::read_csv(&out.join("series.csv"))?;
    let time = table
        .column("time")
        .ok_or_else(|| Error::format(out.join("series.csv"), "no column `time`"))?;
    let mut curves = Vec::new();
    for (column, label) in [("risk", "risk R"), ("test_risk", "test risk")] {
        if let Some(y) = table.column(column) {
            curves.push(Curve {
                label: label.into(),
                x: time.clone(),
                y,
            });
        }
    }
    let plots = out.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| Error::io(&plots, e))?;
    render_loglog(
        &LogLogFigure {
            title: format!("{name}: risk against time"),
            x_label: "time t".into(),
            y_label: "risk".into(),
            curves,
        },
        &plots.join("risk"),
    )
}

/// Runs `scenario` into `options.out`, calling `progress` after each step. Returns the summary;
/// a diverged run returns [`Error::Diverged`] after writing its rows and last finite particles.
pub fn run(
    scenario: &Scenario,
    options: &RunOptions<'_>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Summary> {
    let out = &options.out;
    let resolved = scenario.resolved_toml()?;
    let setup = scenario.setup()?;
    let mut simulation = setup.simulation;
    let initial = setup.particles.into_matrix();
    let has_test = simulation
        .risk
        .test_risk(&simulation.network, &initial)?
        .is_some();

    let (start, mut theta, rows) = if options.resume {
        let written = out.join("scenario.toml");
        let previous = std::fs::read_to_string(&written).map_err(|e| Error::io(&written, e))?;
        if previous != resolved {
            return Err(Error::format(
                &written,
                "the scenario (with its --set overrides) differs from the one this run was started with; resume with the same scenario",
            ));
        }
        let (step, theta, rows) = read_checkpoint(out)?;
        if theta.shape() != initial.shape() {
            return Err(Error::format(
                out.join("checkpoint"),
                "particles of another shape than the scenario's",
            ));
        }
        (step, theta, rows)
    } else {
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        for stale in ["checkpoint", "checkpoint.old", "checkpoint.tmp"] {
            let p = out.join(stale);
            if p.exists() {
                std::fs::remove_dir_all(&p).map_err(|e| Error::io(&p, e))?;
            }
        }
        write_atomic(&out.join("scenario.toml"), resolved.as_bytes())?;
        write_npy(&out.join("particles_init.npy"), &initial)?;
        write_npy(&out.join("teacher.npy"), setup.teacher.matrix())?;
        (0, initial.clone(), Vec::new())
    };

    let mut recorder = Recorder::new(initial.clone(), has_test, rows);
    let started = Instant::now();
    let last_checkpoint = std::cell::Cell::new(Instant::now());
    let total = scenario.steps;
    let mut checkpoint_error: Option<Error> = None;
    let pending_checkpoint: std::cell::Cell<Option<u64>> = std::cell::Cell::new(None);
    let outcome = {
        let mut after_step = |step: u64, _theta: &DMatrix<f64>, risk: f64| {
            progress(Progress { step, total, risk });
            let stop =
                options.interrupt.load(Ordering::SeqCst) || options.stop_at_step == Some(step);
            if stop {
                return Control::Stop;
            }
            if last_checkpoint.get().elapsed() >= options.checkpoint_every {
                pending_checkpoint.set(Some(step));
                return Control::Stop;
            }
            Control::Continue
        };
        // Periodic checkpoints pause the loop (Control::Stop), write, and continue: the loop
        // state is the particles and the step alone.
        let mut from = start;
        loop {
            let result = simulation.run(
                &mut theta,
                from,
                total,
                scenario.schedule,
                &mut recorder,
                &mut after_step,
            );
            match result {
                Ok(Outcome::Interrupted { step }) if pending_checkpoint.get() == Some(step) => {
                    pending_checkpoint.set(None);
                    if let Err(e) = write_checkpoint(out, step, &theta, recorder.series()) {
                        checkpoint_error = Some(e);
                        break Ok(Outcome::Interrupted { step });
                    }
                    last_checkpoint.set(Instant::now());
                    from = step;
                }
                other => break other,
            }
        }
    };
    if let Some(e) = checkpoint_error {
        return Err(e);
    }
    let wall = started.elapsed().as_secs_f64();
    let series = recorder.series();
    series_table(series).write_csv(&out.join("series.csv"))?;
    let column = |name: &str, row: &Vec<f64>| {
        series
            .columns
            .iter()
            .position(|c| c == name)
            .and_then(|i| row.get(i).copied())
    };
    let first = series.rows.first();
    let last = series.rows.last();
    let (status, message, step) = match &outcome {
        Ok(Outcome::Finished) => (Status::Finished, None, total),
        Ok(Outcome::Interrupted { step }) => (Status::Interrupted, None, *step),
        Err(e @ Error::Diverged { step, .. }) => (Status::Diverged, Some(e.to_string()), *step),
        Err(e) => return Err(Error::format(out, e.to_string())),
    };
    let done = step.saturating_sub(start);
    let summary = Summary {
        name: scenario.name.clone(),
        status,
        message,
        seed: scenario.seed,
        m: theta.nrows(),
        d: theta.ncols() - 1,
        step,
        time: step as f64 * scenario.dt,
        final_risk: last.and_then(|r| column("risk", r)).unwrap_or(f64::NAN),
        final_test_risk: last.and_then(|r| column("test_risk", r)),
        initial_risk: first.and_then(|r| column("risk", r)).unwrap_or(f64::NAN),
        wall_seconds: wall,
        steps_per_second: if wall > 0.0 { done as f64 / wall } else { 0.0 },
        threads: options.threads,
        version: env!("CARGO_PKG_VERSION").into(),
    };
    match status {
        Status::Finished => {
            write_npy(&out.join("particles_final.npy"), &theta)?;
            let checkpoint = out.join("checkpoint");
            if checkpoint.exists() {
                std::fs::remove_dir_all(&checkpoint).map_err(|e| Error::io(&checkpoint, e))?;
            }
        }
        Status::Interrupted => write_checkpoint(out, step, &theta, series)?,
        Status::Diverged => {
            if let Some((last_step, state)) = recorder.last_state() {
                write_npy(&out.join("particles_last_finite.npy"), state)?;
                write_json(
                    &out.join("last_finite.json"),
                    &CheckpointState { step: last_step },
                )?;
            }
        }
    }
    write_json(&out.join("summary.json"), &summary)?;
    if !series.rows.is_empty() {
        render_plots(out, &scenario.name)?;
    }
    match outcome {
        Err(e) => Err(e),
        Ok(_) => Ok(summary),
    }
}
