//! The library's [`meanfield::Error`] as the typed exceptions of `meanfield.errors` (defined in
//! Python, so that they carry documented attributes), and the guard that turns a Rust panic
//! into a `RuntimeError` instead of letting it cross into Python.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use meanfield::Error;
use pyo3::IntoPyObjectExt;
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// A key as the library's errors write it, `model.m (line 3, column 5)` or
/// `model.m (from --set)`, split into the dotted path, the line and the column.
pub(crate) fn split_key(located: &str) -> (String, Option<usize>, Option<usize>) {
    let Some((path, rest)) = located.split_once(" (") else {
        return (located.to_string(), None, None);
    };
    let numbers: Vec<usize> = rest
        .trim_end_matches(')')
        .split(',')
        .filter_map(|part| part.split_whitespace().nth(1)?.parse().ok())
        .collect();
    match (rest.starts_with("line"), numbers.as_slice()) {
        (true, [line, column]) => (path.to_string(), Some(*line), Some(*column)),
        _ => (path.to_string(), None, None),
    }
}

/// An instance of the exception class `name` of `meanfield.errors`, built with `message` and
/// the keyword arguments `fields`.
fn typed(py: Python<'_>, name: &str, message: String, fields: &[(&str, Py<PyAny>)]) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let class = py.import("meanfield.errors")?.getattr(name)?;
        let kwargs = PyDict::new(py);
        for (key, value) in fields {
            kwargs.set_item(key, value)?;
        }
        let instance = class.call((message.clone(),), Some(&kwargs))?;
        Ok(PyErr::from_value(instance))
    };
    build().unwrap_or_else(|e| e)
}

/// A Python object of `value`.
fn object<'py, T: IntoPyObject<'py>>(py: Python<'py>, value: T) -> Py<PyAny> {
    value.into_py_any(py).unwrap_or_else(|_| py.None())
}

/// The Python exception of a library error: `ScenarioError` (with file, key, line, column),
/// `DivergenceError` (step, time), `DeviceError`, `RunDirectoryError`, `FormatError`,
/// `SelfCheckError`, `FileNotFoundError`/`OSError`, `ValueError`.
pub(crate) fn to_py(py: Python<'_>, error: Error) -> PyErr {
    let message = error.to_string();
    match error {
        Error::Config { file, key, .. } | Error::Parse { file, key, .. } => {
            scenario_error(py, message, &file, &key)
        }
        Error::Reference(mismatch) => scenario_error(py, message, &mismatch.file, &mismatch.key),
        Error::Diverged { step, time, what } => typed(
            py,
            "DivergenceError",
            message,
            &[
                ("step", object(py, step)),
                ("time", object(py, time)),
                ("what", object(py, what)),
            ],
        ),
        Error::Device { .. } => typed(py, "DeviceError", message, &[]),
        Error::RunDirectory { dir, .. } => typed(
            py,
            "RunDirectoryError",
            message,
            &[("dir", object(py, dir.display().to_string()))],
        ),
        Error::Format { path, .. } => typed(
            py,
            "FormatError",
            message,
            &[("path", object(py, path.display().to_string()))],
        ),
        Error::SelfCheck { .. } => typed(py, "SelfCheckError", message, &[]),
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            PyFileNotFoundError::new_err(message)
        }
        Error::Io { .. } => PyOSError::new_err(message),
        Error::Invalid { .. } => PyValueError::new_err(message),
        _ => typed(py, "MeanfieldError", message, &[]),
    }
}

/// `ScenarioError` with the key split into its path, line and column.
fn scenario_error(py: Python<'_>, message: String, file: &str, located: &str) -> PyErr {
    let (key, line, column) = split_key(located);
    typed(
        py,
        "ScenarioError",
        message,
        &[
            ("file", object(py, file)),
            ("key", object(py, key)),
            ("line", object(py, line)),
            ("column", object(py, column)),
        ],
    )
}

/// A `ScenarioError` raised by the bindings themselves (a Python value that no TOML holds).
pub(crate) fn scenario_value_error(
    py: Python<'_>,
    file: &str,
    key: &str,
    message: String,
) -> PyErr {
    scenario_error(py, format!("{file}: {key}: {message}"), file, key)
}

/// The text of a panic payload.
fn panic_text(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// A panic as a `RuntimeError`: a panic is a bug of meanfield, never the user's.
pub(crate) fn panic_error(payload: &(dyn Any + Send)) -> PyErr {
    PyRuntimeError::new_err(format!(
        "meanfield panicked (a bug in meanfield; please report it with the scenario): {}",
        panic_text(payload)
    ))
}

/// Runs `body`, turning a panic into a `RuntimeError` (every function the module exports
/// goes through here).
pub(crate) fn guard<R>(body: impl FnOnce() -> PyResult<R>) -> PyResult<R> {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| Err(panic_error(&*payload)))
}
