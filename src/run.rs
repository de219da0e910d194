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
//! measures.csv            distances to the initial measure, kernel change, entropy (snapshots)
//! snapshots/step_<k>.npy  (a subsample of) the particles at log-spaced steps; indices.npy
//! marginals_<name>.csv    histograms over time of a, |w| and the angle to each teacher neuron
//! plots/                  risk, cloud, cloud_panels, cloud.gif, marginals, movement, distance
//! report.html             the summary and every figure on one self-contained page
//! checkpoint/             particles.npy and state.json of an interrupted run (removed at the end)
//! particles_last_finite.npy, last_finite.json   a diverged run's last finite particles, step
//! ```
//!
//! Every file is written to a temporary name and renamed. Random streams are keyed by step,
//! so a checkpoint needs only the particles and the step to resume bit for bit.
//!
//! The names above are [`RunEntry`]'s, the one list of what a run writes and owns. A new run
//! first removes those entries (never other files) from its directory. It refuses a directory
//! that holds a run of another scenario, an interrupted run of the same scenario (which
//! `--resume` continues), or run files without a scenario.toml, unless
//! [`RunOptions::overwrite`] is set; a finished or diverged run of the same scenario is simply
//! run again. A resume refuses another scenario, naming the keys that differ.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

use crate::diagnostics::measure::{angles_to, histogram, w_norms};
use crate::diagnostics::recorder::RunFacts;
use crate::diagnostics::{Recorder, Series};
use crate::dynamics::{Control, Observation, Observer, Outcome, Simulation};
use crate::error::{Error, Result};
use crate::output::{
    RunEntry, Table, clear_run_directory_except, marginal_path, read_json, read_npy,
    run_entries_in, write_atomic, write_json, write_npy, write_npy_vector,
};
use crate::plot::run_figures::read_snapshots;
pub use crate::plot::run_figures::render_plots;
pub(crate) use crate::plot::run_figures::render_risk;
use crate::scenario::{Scenario, differing_keys};

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
    /// Replace whatever run `out` holds (its [`RunEntry`] files, nothing else) instead of
    /// refusing a run of another scenario or an interrupted one (default false).
    pub overwrite: bool,
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
    /// The `classification_error` column at the last logged row, where the run logs it
    /// (classification problems, docs/problems.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_classification_error: Option<f64>,
    /// The `test_classification_error` column at the last logged row, where the run logs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_test_classification_error: Option<f64>,
    /// Exact population risk at the last logged step, in data modes that have it (Gaussian
    /// inputs, no bias, a teacher).
    pub final_population_risk: Option<f64>,
    /// Risk at step 0.
    pub initial_risk: f64,
    /// Wall time of the whole run in seconds: the stepping of every invocation, summed across
    /// resumes (older summaries, which timed the last invocation only, call it `wall_seconds`).
    #[serde(alias = "wall_seconds")]
    pub wall_seconds_total: f64,
    /// Wall time of this invocation alone (the resumed part after a resume), seconds.
    #[serde(default)]
    pub wall_seconds_invocation: f64,
    /// Steps of the whole run per second of `wall_seconds_total`.
    pub steps_per_second: f64,
    /// Rayon threads.
    pub threads: usize,
    /// meanfield version.
    pub version: String,
    /// Particles kept per snapshot (all m, or a deterministic subsample: snapshots/indices.npy).
    pub snapshot_particles: usize,
    /// Whether snapshots hold a subsample of the particles.
    pub snapshot_subsampled: bool,
}

/// The checkpoint's state.json (also last_finite.json, where only the step is meaningful).
#[derive(Debug, Serialize, Deserialize)]
struct CheckpointState {
    step: u64,
    /// Wall time of the run up to this checkpoint, summed over its invocations, seconds
    /// (0 in checkpoints written before it was kept).
    #[serde(default)]
    wall_seconds: f64,
}

fn series_table(series: &Series) -> Table {
    Table {
        columns: series.columns.clone(),
        rows: series.rows.clone(),
    }
}

/// Writes `checkpoint/` atomically: into `checkpoint.tmp/`, then renamed over the old one.
fn write_checkpoint(
    out: &Path,
    state: &CheckpointState,
    theta: &DMatrix<f64>,
    series: &Series,
    measures: &Series,
) -> Result<()> {
    let tmp = RunEntry::CheckpointTemporary.path(out);
    let old = RunEntry::CheckpointOld.path(out);
    let dir = RunEntry::Checkpoint.path(out);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    write_npy(&tmp.join("particles.npy"), theta)?;
    series_table(series).write_csv(&tmp.join("series.csv"))?;
    series_table(measures).write_csv(&tmp.join("measures.csv"))?;
    write_json(&tmp.join("state.json"), state)?;
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

/// A checkpoint as read back: its state, particles, and the rows logged so far.
struct Checkpoint {
    state: CheckpointState,
    theta: DMatrix<f64>,
    rows: Vec<Vec<f64>>,
    measure_rows: Vec<Vec<f64>>,
}

/// The checkpoint folder of `out` that holds a state (`checkpoint/`, or `checkpoint.old/` if a
/// swap was cut short), if any.
fn checkpoint_folder(out: &Path) -> Option<PathBuf> {
    [RunEntry::Checkpoint, RunEntry::CheckpointOld]
        .into_iter()
        .map(|entry| entry.path(out))
        .find(|d| d.join("state.json").exists())
}

/// Reads `checkpoint/` (or `checkpoint.old/` if a swap was cut short).
fn read_checkpoint(out: &Path) -> Result<Checkpoint> {
    let dir = checkpoint_folder(out).ok_or_else(|| {
        Error::format(
            RunEntry::Checkpoint.path(out),
            "no checkpoint to resume from (the run finished, or never started)",
        )
    })?;
    Ok(Checkpoint {
        state: read_json(&dir.join("state.json"))?,
        theta: read_npy(&dir.join("particles.npy"))?,
        rows: Table::read_csv(&dir.join("series.csv"))?.rows,
        measure_rows: Table::read_csv(&dir.join("measures.csv"))?.rows,
    })
}

/// The command that resumes the run in `out`: its own resolved scenario, so that every
/// `--set` override it was started with is kept.
#[must_use]
pub fn resume_command(out: &Path) -> String {
    format!(
        "meanfield run {} --resume --out {}",
        RunEntry::Scenario.path(out).display(),
        out.display()
    )
}

/// `key: old -> new, ...` for the keys in which `previous` (a run directory's scenario.toml)
/// and `resolved` differ; `None` if they are the same scenario.
fn scenario_differences(previous: &str, resolved: &str) -> Option<String> {
    if previous == resolved {
        return None;
    }
    match differing_keys(previous, resolved) {
        Ok(differences) if differences.is_empty() => None,
        Ok(differences) => Some(
            differences
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        ),
        Err(e) => Some(format!(
            "its scenario.toml is not a resolved scenario ({e})"
        )),
    }
}

/// Makes `out` ready for a fresh run of `resolved`: refuses (unless `overwrite`) a directory
/// that holds a run of another scenario, an interrupted run, or run files without a
/// scenario.toml; then removes every [`RunEntry`] and nothing else.
pub(crate) fn prepare_fresh(out: &Path, resolved: &str, overwrite: bool) -> Result<()> {
    let owned = run_entries_in(out)?;
    if !owned.is_empty() && !overwrite {
        let refuse = |message: String| Error::RunDirectory {
            dir: out.to_path_buf(),
            message,
        };
        let written = RunEntry::Scenario.path(out);
        match std::fs::read_to_string(&written) {
            Ok(previous) => {
                if let Some(differences) = scenario_differences(&previous, resolved) {
                    return Err(refuse(format!(
                        "holds a run of a different scenario (differing keys: {differences}); \
                         pass --overwrite to replace that run, or choose another --out"
                    )));
                }
                if let Some(folder) = checkpoint_folder(out) {
                    let step = read_json::<CheckpointState>(&folder.join("state.json"))
                        .map_or_else(|_| "?".into(), |state| state.step.to_string());
                    return Err(refuse(format!(
                        "holds an interrupted run of this scenario (checkpoint at step {step}); \
                         continue it with `{}`, or pass --overwrite to start it over",
                        resume_command(out)
                    )));
                }
            }
            Err(_) => {
                let names: Vec<String> = owned
                    .iter()
                    .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .collect();
                return Err(refuse(format!(
                    "holds files of a run ({}) but no scenario.toml, so not a run of this \
                     scenario; pass --overwrite to remove them, or choose another --out",
                    names.join(", ")
                )));
            }
        }
    }
    // The limit beside the run stays where it is the limit of the new run's problem too (it
    // does not depend on m, the name or what is recorded: `limit::beside`).
    let keep: &[RunEntry] = if crate::output::limit_beside::limits_problem(out, resolved) {
        &[RunEntry::Limit]
    } else {
        &[]
    };
    clear_run_directory_except(out, keep)?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))
}

/// A scalar per particle of a snapshot (a, |w|, an angle).
type Quantity = Box<dyn Fn(&DMatrix<f64>) -> Vec<f64>>;

/// Histograms over time of a, |w| and the angle to each teacher neuron, from the snapshots:
/// `marginals_<name>.csv` with columns step, time, then one density per bin (named by the bin
/// centre). Ranges cover every snapshot, so all rows share their bins.
fn write_marginals(out: &Path, time_at: &dyn Fn(u64) -> f64) -> Result<()> {
    let snapshots = read_snapshots(out)?;
    if snapshots.is_empty() {
        return Ok(());
    }
    let times: Vec<f64> = snapshots.iter().map(|(step, _)| time_at(*step)).collect();
    // About 2 sqrt(n) bins (10 to 40): a histogram of n points resolves no more.
    let particles = snapshots[0].1.nrows() as f64;
    let bins = ((2.0 * particles.sqrt()).round() as usize).clamp(10, 40);
    let teacher = read_npy(&RunEntry::Teacher.path(out)).ok();
    let d = snapshots[0].1.ncols() - 1;
    let mut quantities: Vec<(String, Quantity)> = vec![
        (
            "a".into(),
            Box::new(|t: &DMatrix<f64>| t.column(0).iter().copied().collect()),
        ),
        ("w_norm".into(), Box::new(|t: &DMatrix<f64>| w_norms(t))),
    ];
    if let Some(teacher) = &teacher
        && teacher.ncols() == d + 1
    {
        for i in 0..teacher.nrows() {
            let direction: Vec<f64> = (0..d).map(|c| teacher[(i, 1 + c)]).collect();
            quantities.push((
                format!("angle_{i}"),
                Box::new(move |t: &DMatrix<f64>| angles_to(t, &direction)),
            ));
        }
    }
    for (name, quantity) in quantities {
        let values: Vec<Vec<f64>> = snapshots.iter().map(|(_, t)| quantity(t)).collect();
        let finite = values.iter().flatten().copied().filter(|v| v.is_finite());
        let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        if !(lo.is_finite() && hi.is_finite()) {
            continue;
        }
        let (lo, hi) = if name.starts_with("angle") {
            (0.0, std::f64::consts::PI)
        } else if hi > lo {
            let pad = 0.02 * (hi - lo);
            (lo - pad, hi + pad)
        } else {
            (lo - 0.5, hi + 0.5)
        };
        let width = (hi - lo) / bins as f64;
        let mut columns = vec!["step".to_string(), "time".to_string()];
        columns.extend((0..bins).map(|b| format!("{}", lo + (b as f64 + 0.5) * width)));
        let mut table = Table::new(columns);
        for (((step, _), v), time) in snapshots.iter().zip(&values).zip(&times) {
            let h = histogram(v, lo, hi, bins);
            let mut row = vec![*step as f64, *time];
            row.extend(h.density);
            table.push(row);
        }
        table.write_csv(&marginal_path(out, &name))?;
    }
    Ok(())
}

/// Re-renders the figures and report of the run directory `out` ([`render_plots`]), as
/// `meanfield plot` does, titled with the scenario name in its scenario.toml (as at run time;
/// the folder's name only if scenario.toml has none).
///
/// # Errors
/// [`Error::RunDirectory`] if `out` does not exist, is not a directory or holds no
/// series.csv; the errors of [`render_plots`].
pub fn replot(out: &Path) -> Result<()> {
    let refuse = |message: &str| Error::RunDirectory {
        dir: out.to_path_buf(),
        message: message.into(),
    };
    if !out.exists() {
        return Err(refuse("no such directory"));
    }
    if !out.is_dir() {
        return Err(refuse("not a directory"));
    }
    if !RunEntry::Series.path(out).is_file() {
        return Err(refuse(
            "not a run directory: it has no series.csv (meanfield run SCENARIO --out DIR makes one)",
        ));
    }
    render_plots(out, &run_name(out))
}

/// The scenario name of the run directory `out`, from its scenario.toml (else the folder's
/// name, else `run`).
fn run_name(out: &Path) -> String {
    std::fs::read_to_string(RunEntry::Scenario.path(out))
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|table| table.get("name")?.as_str().map(String::from))
        .or_else(|| {
            out.file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "run".into())
}

/// Forwards observations to the recorder and writes its snapshots as they are taken.
struct RunObserver<'a> {
    recorder: Recorder,
    out: &'a Path,
}

impl Observer for RunObserver<'_> {
    fn observe(&mut self, observation: &Observation<'_>) -> Result<()> {
        self.recorder.observe(observation)?;
        for snapshot in self.recorder.take_snapshots() {
            let path = RunEntry::Snapshots
                .path(self.out)
                .join(format!("step_{}.npy", snapshot.step));
            write_npy(&path, &snapshot.particles)?;
        }
        Ok(())
    }

    fn wants(&self, step: u64) -> bool {
        self.recorder.wants(step)
    }
}

/// Where a run starts: the step, the wall time of earlier invocations, the particles and the
/// rows logged so far (all empty for a fresh run).
struct Start {
    step: u64,
    earlier_wall: f64,
    theta: DMatrix<f64>,
    rows: Vec<Vec<f64>>,
    measure_rows: Vec<Vec<f64>>,
}

/// The start of a resumed run: its checkpoint, after checking that `out` was started with the
/// same `resolved` scenario and that the checkpoint's particles have the shape of `initial`.
fn resume_start(out: &Path, resolved: &str, initial: &DMatrix<f64>) -> Result<Start> {
    let written = RunEntry::Scenario.path(out);
    let previous = std::fs::read_to_string(&written).map_err(|e| Error::io(&written, e))?;
    if let Some(differences) = scenario_differences(&previous, resolved) {
        return Err(Error::RunDirectory {
            dir: out.to_path_buf(),
            message: format!(
                "cannot resume: the scenario (with its --set overrides) differs from the one \
                 this run was started with (differing keys, run's -> now: {differences}); \
                 resume with the same scenario, the run's own: {}",
                resume_command(out)
            ),
        });
    }
    let checkpoint = read_checkpoint(out)?;
    if checkpoint.theta.shape() != initial.shape() {
        return Err(Error::format(
            RunEntry::Checkpoint.path(out),
            "particles of another shape than the scenario's",
        ));
    }
    Ok(Start {
        step: checkpoint.state.step,
        earlier_wall: checkpoint.state.wall_seconds,
        theta: checkpoint.theta,
        rows: checkpoint.rows,
        measure_rows: checkpoint.measure_rows,
    })
}

/// The start of a fresh run: `out` made ready ([`prepare_fresh`]), with the resolved scenario,
/// the initial particles and the teacher written.
fn fresh_start(
    out: &Path,
    resolved: &str,
    overwrite: bool,
    initial: &DMatrix<f64>,
    teacher: Option<&DMatrix<f64>>,
) -> Result<Start> {
    prepare_fresh(out, resolved, overwrite)?;
    write_atomic(&RunEntry::Scenario.path(out), resolved.as_bytes())?;
    write_npy(&RunEntry::ParticlesInit.path(out), initial)?;
    if let Some(teacher) = teacher {
        write_npy(&RunEntry::Teacher.path(out), teacher)?;
    }
    Ok(Start {
        step: 0,
        earlier_wall: 0.0,
        theta: initial.clone(),
        rows: Vec::new(),
        measure_rows: Vec::new(),
    })
}

/// The observer of a run: a recorder of `scenario` holding the rows logged so far (series
/// `rows`, `measure_rows`), writing its snapshots under `out` (whose `snapshots/indices.npy`
/// it writes now).
fn run_observer<'a>(
    scenario: &Scenario,
    facts: &RunFacts<'_>,
    (rows, measure_rows): (Vec<Vec<f64>>, Vec<Vec<f64>>),
    out: &'a Path,
    classification: bool,
) -> Result<RunObserver<'a>> {
    let mut recorder = Recorder::new(facts, scenario.record);
    if classification {
        recorder = recorder.with_classification(facts.has_test);
    }
    recorder.restore(rows, measure_rows);
    let snapshots_dir = RunEntry::Snapshots.path(out);
    std::fs::create_dir_all(&snapshots_dir).map_err(|e| Error::io(&snapshots_dir, e))?;
    let indices: Vec<f64> = recorder.subsample().iter().map(|j| *j as f64).collect();
    write_npy_vector(&snapshots_dir.join("indices.npy"), &indices)?;
    Ok(RunObserver { recorder, out })
}

/// Steps `theta` from `start` to `scenario.steps`, calling `progress` after each step and
/// stopping at an interrupt. Periodic checkpoints pause the loop (Control::Stop), write, and
/// continue: the loop state is the particles and the step alone. Returns the loop's outcome
/// (an error that is not a checkpoint's) and the wall time of this invocation.
fn simulate(
    simulation: &mut Simulation,
    scenario: &Scenario,
    options: &RunOptions<'_>,
    start: (u64, f64),
    theta: &mut DMatrix<f64>,
    observer: &mut RunObserver<'_>,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Result<Outcome>, f64)> {
    let (start, earlier_wall) = start;
    let out = &options.out;
    let started = Instant::now();
    let last_checkpoint = std::cell::Cell::new(Instant::now());
    let total = scenario.steps;
    let pending_checkpoint: std::cell::Cell<Option<u64>> = std::cell::Cell::new(None);
    let mut after_step = |step: u64, risk: f64| {
        progress(Progress { step, total, risk });
        let stop = options.interrupt.load(Ordering::SeqCst) || options.stop_at_step == Some(step);
        if stop {
            return Control::Stop;
        }
        if last_checkpoint.get().elapsed() >= options.checkpoint_every {
            pending_checkpoint.set(Some(step));
            return Control::Stop;
        }
        Control::Continue
    };
    let mut from = start;
    let outcome = loop {
        let result = simulation.run(
            theta,
            from,
            total,
            scenario.schedule,
            observer,
            &mut after_step,
        );
        match result {
            Ok(Outcome::Interrupted { step }) if pending_checkpoint.get() == Some(step) => {
                pending_checkpoint.set(None);
                let recorder = &observer.recorder;
                let state = CheckpointState {
                    step,
                    wall_seconds: earlier_wall + started.elapsed().as_secs_f64(),
                };
                write_checkpoint(out, &state, theta, recorder.series(), recorder.measures())?;
                last_checkpoint.set(Instant::now());
                from = step;
            }
            other => break other,
        }
    };
    Ok((outcome, started.elapsed().as_secs_f64()))
}

/// The summary.json of a run of `scenario` that ended with `outcome` at particles `theta`,
/// after `wall` seconds of this invocation (`wall_total` in all), with `recorder`'s rows.
/// A loop error other than divergence becomes [`Error::Format`] on `out`.
#[expect(
    clippy::too_many_arguments,
    reason = "the facts summary.json records, each from a different phase of the run"
)]
fn summarise(
    scenario: &Scenario,
    options: &RunOptions<'_>,
    simulation: &Simulation,
    outcome: &Result<Outcome>,
    theta: &DMatrix<f64>,
    recorder: &Recorder,
    snapshot_particles: usize,
    (wall, wall_total): (f64, f64),
) -> Result<Summary> {
    let series = recorder.series();
    let column = |name: &str, row: &Vec<f64>| {
        series
            .columns
            .iter()
            .position(|c| c == name)
            .and_then(|i| row.get(i).copied())
    };
    let first = series.rows.first();
    let last = series.rows.last();
    let (status, message, step) = match outcome {
        Ok(Outcome::Finished) => (Status::Finished, None, scenario.steps),
        Ok(Outcome::Interrupted { step }) => (Status::Interrupted, None, *step),
        Err(e @ Error::Diverged { step, .. }) => (Status::Diverged, Some(e.to_string()), *step),
        Err(e) => return Err(Error::format(&options.out, e.to_string())),
    };
    Ok(Summary {
        name: scenario.name.clone(),
        status,
        message,
        seed: scenario.seed,
        m: theta.nrows(),
        d: theta.ncols() - 1,
        step,
        time: simulation.time_at(step),
        final_risk: last.and_then(|r| column("risk", r)).unwrap_or(f64::NAN),
        final_test_risk: last.and_then(|r| column("test_risk", r)),
        final_classification_error: last.and_then(|r| column("classification_error", r)),
        final_test_classification_error: last.and_then(|r| column("test_classification_error", r)),
        final_population_risk: last.and_then(|r| column("population_risk", r)),
        initial_risk: first.and_then(|r| column("risk", r)).unwrap_or(f64::NAN),
        wall_seconds_total: wall_total,
        wall_seconds_invocation: wall,
        steps_per_second: if wall_total > 0.0 {
            step as f64 / wall_total
        } else {
            0.0
        },
        threads: options.threads,
        version: env!("CARGO_PKG_VERSION").into(),
        snapshot_particles,
        snapshot_subsampled: snapshot_particles < theta.nrows(),
    })
}

/// The state a run leaves by how it ended: the final particles (and no checkpoint) when
/// finished, a checkpoint when interrupted, the last finite particles when diverged.
fn write_end_state(
    out: &Path,
    summary: &Summary,
    theta: &DMatrix<f64>,
    recorder: &Recorder,
) -> Result<()> {
    let wall_total = summary.wall_seconds_total;
    match summary.status {
        Status::Finished => {
            write_npy(&RunEntry::ParticlesFinal.path(out), theta)?;
            let checkpoint = RunEntry::Checkpoint.path(out);
            if checkpoint.exists() {
                std::fs::remove_dir_all(&checkpoint).map_err(|e| Error::io(&checkpoint, e))?;
            }
        }
        Status::Interrupted => {
            let state = CheckpointState {
                step: summary.step,
                wall_seconds: wall_total,
            };
            write_checkpoint(out, &state, theta, recorder.series(), recorder.measures())?;
        }
        Status::Diverged => {
            if let Some((last_step, state)) = recorder.last_state() {
                write_npy(&RunEntry::ParticlesLastFinite.path(out), state)?;
                write_json(
                    &RunEntry::LastFinite.path(out),
                    &CheckpointState {
                        step: last_step,
                        wall_seconds: wall_total,
                    },
                )?;
            }
        }
    }
    Ok(())
}

/// Runs `scenario` into `options.out`, calling `progress` after each step. Returns the summary;
/// a diverged run returns [`Error::Diverged`] after writing its rows and last finite particles.
///
/// Phases: prepare the directory (fresh) or read the checkpoint (resume); simulate with the
/// recorder as observer, checkpointing on the way; write the series, the end state, summary.json
/// and the figures.
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
    // teacher.npy: a teacher's neurons, or (1, e_i) rows for the coordinates of a Hermite or
    // parity target (docs/problems.md); none for mixture labels.
    let directions = setup.target.direction_rows();
    // Which columns the series has, asked without evaluating a risk (an O(m^2 d) pair
    // interaction for the population risk).
    let has_test = simulation.risk.test_set().is_some();
    let has_population = simulation.risk.reports_population_risk();
    let has_classification = simulation.risk.reports_classification();
    let start = if options.resume {
        resume_start(out, &resolved, &initial)?
    } else {
        fresh_start(
            out,
            &resolved,
            options.overwrite,
            &initial,
            directions.as_ref(),
        )?
    };
    let facts = RunFacts {
        initial: &initial,
        teacher: directions.as_ref(),
        has_test,
        has_population,
        total_steps: scenario.steps,
        dt: scenario.dt,
        seed: scenario.seed,
        d: scenario.d,
        bias: scenario.bias,
        network: &scenario.network,
        tau: scenario
            .schedules
            .tau
            .as_ref()
            .map_or(scenario.dynamics.tau, |tau| tau.highest()),
    };
    let Start {
        step,
        earlier_wall,
        mut theta,
        rows,
        measure_rows,
    } = start;
    let mut observer = run_observer(
        scenario,
        &facts,
        (rows, measure_rows),
        out,
        has_classification,
    )?;
    let snapshot_particles = observer.recorder.subsample().len();
    let (outcome, wall) = simulate(
        &mut simulation,
        scenario,
        options,
        (step, earlier_wall),
        &mut theta,
        &mut observer,
        progress,
    )?;
    let wall_total = earlier_wall + wall;
    let recorder = &observer.recorder;
    series_table(recorder.series()).write_csv(&RunEntry::Series.path(out))?;
    series_table(recorder.measures()).write_csv(&RunEntry::Measures.path(out))?;
    if scenario.record.marginals {
        write_marginals(out, &|step| simulation.time_at(step))?;
    }
    let summary = summarise(
        scenario,
        options,
        &simulation,
        &outcome,
        &theta,
        recorder,
        snapshot_particles,
        (wall, wall_total),
    )?;
    write_end_state(out, &summary, &theta, recorder)?;
    write_json(&RunEntry::Summary.path(out), &summary)?;
    if scenario.record.figures && !recorder.series().rows.is_empty() {
        render_plots(out, &scenario.name)?;
    }
    match outcome {
        Err(e) => Err(e),
        Ok(_) => Ok(summary),
    }
}
