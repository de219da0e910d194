//! The CLI's other commands as Python functions, through the same library calls as
//! `src/cli`: `sweep` ([`meanfield::sweep`]), `limit` ([`meanfield::limit::solve_limit`]),
//! `gallery` ([`meanfield::gallery::run_gallery`]) and `bench`
//! ([`meanfield::bench::bench_case_on`]). Each writes the same files as its command; the
//! Python layer reads them back.

use std::path::PathBuf;

use meanfield::Error;
use meanfield::bench::{Backend, BenchCase, CASES, bench_case_on, parse_activation};
use meanfield::device::{Device, Precision, check_precision};
use meanfield::gallery::{GalleryOptions, GalleryProgress, run_gallery};
use meanfield::limit::{LimitOptions, Resolution, solve_limit};
use meanfield::sweep::{
    ExecuteOptions, Plan, SweepOverrides, SweepProgress, execute_with, finish as finish_sweep,
};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::errors::{guard, to_py};
use crate::scenario::ScenarioCore;
use crate::supervise::{Supervised, current_threads, supervised};

/// The result of supervised work, or the error that interrupted it (raised after the work
/// kept what it had: finished runs, rows).
fn finish<T>(py: Python<'_>, done: Supervised<meanfield::Result<T>>) -> PyResult<T> {
    let result = done.result.map_err(|e| to_py(py, e));
    match done.interrupted_by {
        Some(error) => Err(error),
        None => result,
    }
}

/// JSON text of a serialisable value.
fn json<T: serde::Serialize + ?Sized>(value: &T) -> PyResult<String> {
    serde_json::to_string(value).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// Runs the sweep of the scenario file `path` (with its overrides) into `out`, then analyses
/// it (`meanfield sweep`); returns the execution counts as JSON. Finished runs in `out` are
/// reused.
#[pyfunction]
#[pyo3(signature = (path, out, *, overrides = Vec::new(), widths = None, seeds = None, reference = None, jobs = None, overwrite = false, threads = None, progress = None))]
#[expect(
    clippy::too_many_arguments,
    reason = "the keyword arguments of meanfield.sweep"
)]
pub(crate) fn sweep(
    py: Python<'_>,
    path: PathBuf,
    out: PathBuf,
    overrides: Vec<String>,
    widths: Option<Vec<usize>>,
    seeds: Option<usize>,
    reference: Option<String>,
    jobs: Option<usize>,
    overwrite: bool,
    threads: Option<usize>,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<String> {
    guard(|| {
        let cli = SweepOverrides {
            widths,
            seeds,
            reference,
        };
        let plan = Plan::build(&path, &overrides, &cli).map_err(|e| to_py(py, e))?;
        if jobs == Some(0) {
            return Err(PyValueError::new_err(
                "jobs = 0: expected None or an integer >= 1",
            ));
        }
        let selection: Vec<usize> = (0..plan.runs.len()).collect();
        let done = supervised(py, threads, progress.as_ref(), |control| {
            let options = ExecuteOptions {
                jobs: jobs.unwrap_or_else(current_threads),
                overwrite,
            };
            let report = |p: SweepProgress| {
                control.report(p.done as u64, selection.len() as u64, || p.id.clone());
            };
            let report = execute_with(
                &plan,
                &selection,
                &out,
                &options,
                &control.interrupt,
                &report,
            )?;
            if report.interrupted == 0 && !control.interrupted() {
                finish_sweep(std::slice::from_ref(&out), &out)?;
            }
            Ok(serde_json::json!({
                "planned": report.planned,
                "skipped": report.skipped,
                "finished": report.finished,
                "diverged": report.diverged,
                "interrupted": report.interrupted,
            }))
        })?;
        json(&finish(py, done)?)
    })
}

/// Solves the exact mean-field limit of `scenario` into `out` (`meanfield limit`); returns
/// its summary.json text.
#[pyfunction]
#[pyo3(signature = (scenario, out, *, nodes = None, angle_nodes = None, overwrite = false, threads = None, progress = None))]
#[expect(
    clippy::too_many_arguments,
    reason = "the keyword arguments of meanfield.limit"
)]
pub(crate) fn limit(
    py: Python<'_>,
    scenario: &ScenarioCore,
    out: PathBuf,
    nodes: Option<usize>,
    angle_nodes: Option<usize>,
    overwrite: bool,
    threads: Option<usize>,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<String> {
    guard(|| {
        for (name, value) in [("nodes", nodes), ("angle_nodes", angle_nodes)] {
            if value == Some(0) {
                return Err(PyValueError::new_err(format!(
                    "{name} = 0: expected at least 1"
                )));
            }
        }
        let resolution = nodes.map(|n| {
            let default = Resolution::with_nodes(n);
            Resolution {
                angle: angle_nodes.unwrap_or(default.angle),
                ..default
            }
        });
        let scenario = &scenario.scenario;
        let done = supervised(py, threads, progress.as_ref(), |control| {
            let options = LimitOptions {
                out: out.clone(),
                overwrite,
                resolution,
                interrupt: &control.interrupt,
                threads: current_threads(),
            };
            solve_limit(scenario, &options, &mut |step, total, risk| {
                control.report(step, total, || format!("risk {risk:.4e}"));
            })
        })?;
        json(&finish(py, done)?)
    })
}

/// Runs the gallery (every entry, or those named in `only`) with figures into `out` and runs
/// under `work` (`meanfield gallery`); returns gallery.json's entries as JSON.
#[pyfunction]
#[pyo3(signature = (out, work, scenarios, *, only = None, quick = false, threads = None, progress = None))]
#[expect(
    clippy::too_many_arguments,
    reason = "the keyword arguments of meanfield.gallery"
)]
pub(crate) fn gallery(
    py: Python<'_>,
    out: PathBuf,
    work: PathBuf,
    scenarios: PathBuf,
    only: Option<String>,
    quick: bool,
    threads: Option<usize>,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<String> {
    guard(|| {
        let done = supervised(py, threads, progress.as_ref(), |control| {
            let options = GalleryOptions {
                quick,
                out: out.clone(),
                work: work.clone(),
                scenarios: scenarios.clone(),
                interrupt: &control.interrupt,
            };
            let report = |p: GalleryProgress| {
                let done = p.index + usize::from(p.done);
                control.report(done as u64, p.count as u64, || p.name.clone());
            };
            run_gallery(&options, only.as_deref(), &report)
        })?;
        json(&finish(py, done)?)
    })
}

/// Times the named benchmark cases (`meanfield bench --case ... --activation ...`; `all`:
/// every case) and
/// returns their records (the JSON lines of `bench --json`) as a JSON array.
#[pyfunction]
#[pyo3(signature = (cases, *, reps = 5, quick = false, activation = "relu", device = "cpu", precision = "f64", threads = None))]
#[expect(
    clippy::too_many_arguments,
    reason = "the keyword arguments of meanfield.bench"
)]
pub(crate) fn bench(
    py: Python<'_>,
    cases: Vec<String>,
    reps: usize,
    quick: bool,
    activation: &str,
    device: &str,
    precision: &str,
    threads: Option<usize>,
) -> PyResult<String> {
    guard(|| {
        let backend = (|| -> meanfield::Result<Backend> {
            let backend = Backend {
                device: Device::parse(device)?,
                precision: Precision::parse(precision)?,
            };
            check_precision(backend.device, backend.precision)?;
            Ok(backend)
        })()
        .map_err(|e| to_py(py, e))?;
        let activation = parse_activation(activation).map_err(|e| to_py(py, e))?;
        let selected: Vec<BenchCase> = if cases.iter().any(|c| c == "all") {
            CASES.to_vec()
        } else {
            cases
                .iter()
                .map(|c| BenchCase::named(c))
                .collect::<Result<_, Error>>()
                .map_err(|e| to_py(py, e))?
        };
        let selected: Vec<BenchCase> = selected
            .into_iter()
            .map(|case| case.with_activation(activation))
            .collect();
        let done = supervised(py, threads, None, |control| {
            let mut records = Vec::new();
            for case in selected {
                if control.interrupted() {
                    break;
                }
                records.push(bench_case_on(case, reps, quick, backend)?);
            }
            Ok(records)
        })?;
        json(&finish(py, done)?)
    })
}
