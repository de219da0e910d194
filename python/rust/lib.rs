//! `meanfield._meanfield`: the extension module under the Python package `meanfield`
//! (python/meanfield), PyO3 on the stable ABI (abi3, CPython >= 3.9).
//!
//! A front door, not a second engine: every function calls the same library functions as the
//! CLI (`src/cli`), so a run from Python writes the same run directory, bit for bit. Rust work
//! runs with the GIL released ([`supervise`]); library errors become the typed exceptions of
//! `meanfield.errors` and a panic a `RuntimeError` ([`errors`]); particle matrices cross as
//! row-major float64 bytes ([`arrays`]).

use pyo3::prelude::*;

mod arrays;
mod commands;
mod errors;
mod run;
mod scenario;
mod simulation;
mod supervise;

/// A panic, on purpose: the test that a panic reaches Python as `RuntimeError`.
#[pyfunction]
fn _panic_for_test() -> PyResult<()> {
    errors::guard(|| panic!("a panic raised on purpose by _panic_for_test"))
}

/// The same panic on the supervised worker thread, with the GIL released.
#[pyfunction]
fn _panic_in_worker_for_test(py: Python<'_>) -> PyResult<()> {
    errors::guard(|| {
        supervise::supervised(py, None, None, |_| -> () {
            panic!("a panic raised on purpose on the worker thread")
        })
        .map(|_| ())
    })
}

/// The meanfield crate's version.
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The extension module.
#[pymodule]
mod _meanfield {
    #[pymodule_export]
    use super::commands::{bench, gallery, limit, sweep};
    #[pymodule_export]
    use super::run::run;
    #[pymodule_export]
    use super::scenario::ScenarioCore;
    #[pymodule_export]
    use super::simulation::SimulationCore;
    #[pymodule_export]
    use super::{_panic_for_test, _panic_in_worker_for_test, version};
}
