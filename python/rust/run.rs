//! `meanfield.run` underneath: [`meanfield::run::run`] into a run directory, exactly as
//! `meanfield run` does (the same files, bit for bit), supervised so that Ctrl-C leaves a
//! resumable checkpoint and raises `KeyboardInterrupt`.

use std::path::PathBuf;
use std::time::Duration;

use meanfield::run::{RunOptions, Status, run as run_scenario};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors::{guard, to_py};
use crate::scenario::ScenarioCore;
use crate::supervise::{current_threads, supervised};

/// Runs `scenario` into `out` and returns summary.json's text. `resume` continues an
/// interrupted run from its checkpoint; `overwrite` replaces another run in `out`.
#[pyfunction]
#[pyo3(signature = (scenario, out, *, resume = false, overwrite = false, checkpoint_every = 300.0, threads = None, progress = None))]
#[expect(
    clippy::too_many_arguments,
    reason = "the keyword arguments of meanfield.run"
)]
pub(crate) fn run(
    py: Python<'_>,
    scenario: &ScenarioCore,
    out: PathBuf,
    resume: bool,
    overwrite: bool,
    checkpoint_every: f64,
    threads: Option<usize>,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<String> {
    guard(|| {
        if !(checkpoint_every.is_finite() && checkpoint_every > 0.0) {
            return Err(PyValueError::new_err(format!(
                "checkpoint_every = {checkpoint_every}: expected a number of seconds > 0"
            )));
        }
        let scenario = &scenario.scenario;
        let done = supervised(py, threads, progress.as_ref(), |control| {
            let options = RunOptions {
                out: out.clone(),
                resume,
                overwrite,
                checkpoint_every: Duration::from_secs_f64(checkpoint_every),
                interrupt: &control.interrupt,
                stop_at_step: None,
                threads: current_threads(),
            };
            run_scenario(scenario, &options, &mut |p| {
                control.report(p.step, p.total, || format!("risk {:.4e}", p.risk));
            })
        })?;
        let summary = done.result.map_err(|e| to_py(py, e))?;
        if let Some(error) = done.interrupted_by {
            return Err(error);
        }
        if summary.status == Status::Interrupted {
            // Interrupted without a Python error: a signal Python's handler did not turn into
            // one (e.g. SIGINT ignored); the checkpoint is written.
            return Err(pyo3::exceptions::PyKeyboardInterrupt::new_err(format!(
                "interrupted at step {}; resume with meanfield.run(..., resume=True)",
                summary.step
            )));
        }
        serde_json::to_string(&summary)
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))
    })
}
