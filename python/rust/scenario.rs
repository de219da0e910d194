//! `meanfield.Scenario` underneath: a scenario validated by the library exactly as
//! `meanfield run` validates a file (same schema, same errors), from a file, from TOML text or
//! from the JSON of a Python dict, with `--set`-style overrides.

use std::path::{Path, PathBuf};

use meanfield::Error;
use meanfield::scenario::Scenario;
use meanfield::scenario::file::parse;
use pyo3::prelude::*;

use crate::errors::{guard, to_py};

/// The origin of a scenario built from a Python dict, as messages name it.
const DICT: &str = "<dict>";

/// A validated scenario and what it was made from.
#[pyclass(frozen, module = "meanfield._meanfield")]
pub(crate) struct ScenarioCore {
    /// The validated scenario.
    pub(crate) scenario: Scenario,
    /// The source text: the file's, or the TOML written from a dict.
    text: String,
    /// The scenario file, if it came from one.
    file: Option<PathBuf>,
    /// The name messages use: the file's path, `<dict>` or `<text>`.
    origin: String,
    /// The `--set`-style overrides applied to the text, in order.
    overrides: Vec<String>,
}

/// Parses and validates `text` (named `origin`, its relative paths taken against `path`'s
/// folder) with `overrides`.
fn validate(
    text: &str,
    origin: &str,
    path: &Path,
    overrides: &[String],
) -> meanfield::Result<Scenario> {
    let config = parse(text, origin, overrides)?;
    Scenario::from_config(config, path, text, overrides)
}

/// An error of a scenario written from a dict, without the line and column of the TOML the
/// bindings wrote (no user's lines).
fn without_lines(error: Error) -> Error {
    let strip = |key: String| match key.split_once(" (line ") {
        Some((path, _)) => path.to_string(),
        None => key,
    };
    match error {
        Error::Config {
            file,
            key,
            found,
            allowed,
        } => Error::Config {
            file,
            key: strip(key),
            found,
            allowed,
        },
        Error::Parse { file, key, message } => Error::Parse {
            file,
            key: strip(key),
            message,
        },
        other => other,
    }
}

impl ScenarioCore {
    /// Builds from text, mapping errors to Python (without TOML lines for a dict).
    fn build(
        py: Python<'_>,
        text: String,
        file: Option<PathBuf>,
        origin: String,
        overrides: Vec<String>,
    ) -> PyResult<Self> {
        let path = file.clone().unwrap_or_else(|| PathBuf::from(&origin));
        match validate(&text, &origin, &path, &overrides) {
            Ok(scenario) => Ok(Self {
                scenario,
                text,
                file,
                origin,
                overrides,
            }),
            Err(e) if origin == DICT => Err(to_py(py, without_lines(e))),
            Err(e) => Err(to_py(py, e)),
        }
    }
}

#[pymethods]
impl ScenarioCore {
    /// Loads and validates a scenario file with `--set`-style overrides (`key.path=value`).
    #[staticmethod]
    #[pyo3(signature = (path, overrides = Vec::new()))]
    fn load(py: Python<'_>, path: PathBuf, overrides: Vec<String>) -> PyResult<Self> {
        guard(|| {
            let text =
                std::fs::read_to_string(&path).map_err(|e| to_py(py, Error::io(&path, e)))?;
            let origin = path.display().to_string();
            Self::build(py, text, Some(path), origin, overrides)
        })
    }

    /// Validates scenario TOML text (`origin` names it in messages; relative paths in it are
    /// taken against the working directory).
    #[staticmethod]
    #[pyo3(signature = (text, overrides = Vec::new()))]
    fn from_toml(py: Python<'_>, text: String, overrides: Vec<String>) -> PyResult<Self> {
        guard(|| Self::build(py, text, None, "<text>".into(), overrides))
    }

    /// Validates the JSON of a scenario dict (the TOML schema; relative paths against the
    /// working directory; `name` defaults to `scenario`).
    #[staticmethod]
    #[pyo3(signature = (json, overrides = Vec::new()))]
    fn from_json(py: Python<'_>, json: &str, overrides: Vec<String>) -> PyResult<Self> {
        guard(|| {
            let bad = |message: String| {
                crate::errors::scenario_value_error(py, DICT, "(document)", message)
            };
            let value: serde_json::Value =
                serde_json::from_str(json).map_err(|e| bad(format!("not JSON-like data: {e}")))?;
            let mut table = match toml::Value::try_from(&value) {
                Ok(toml::Value::Table(table)) => table,
                Ok(_) => return Err(bad("expected a dict of sections and keys".into())),
                Err(e) => return Err(bad(format!("no TOML value holds it: {e}"))),
            };
            table
                .entry("name")
                .or_insert_with(|| toml::Value::String("scenario".into()));
            let text = toml::to_string(&table).map_err(|e| bad(e.to_string()))?;
            Self::build(py, text, None, DICT.into(), overrides)
        })
    }

    /// The same scenario with more overrides applied after its own (validated anew).
    fn with_overrides(&self, py: Python<'_>, more: Vec<String>) -> PyResult<Self> {
        guard(|| {
            let mut overrides = self.overrides.clone();
            overrides.extend(more);
            Self::build(
                py,
                self.text.clone(),
                self.file.clone(),
                self.origin.clone(),
                overrides,
            )
        })
    }

    /// The resolved scenario as TOML: every default written out, paths absolute (what a run
    /// directory's scenario.toml holds).
    fn resolved_toml(&self, py: Python<'_>) -> PyResult<String> {
        guard(|| self.scenario.resolved_toml().map_err(|e| to_py(py, e)))
    }

    /// The resolved scenario as JSON (the same keys and values as [`Self::resolved_toml`]).
    fn resolved_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.scenario.resolved)
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))
    }

    /// The source text (the file's, or the TOML written from a dict), without the overrides.
    #[getter]
    fn source_toml(&self) -> String {
        self.text.clone()
    }

    /// The scenario file, if the scenario came from one.
    #[getter]
    fn file(&self) -> Option<PathBuf> {
        self.file.clone()
    }

    /// The name messages use for the source.
    #[getter]
    fn origin(&self) -> String {
        self.origin.clone()
    }

    /// The overrides, in order.
    #[getter]
    fn overrides(&self) -> Vec<String> {
        self.overrides.clone()
    }

    /// The scenario's name.
    #[getter]
    fn name(&self) -> String {
        self.scenario.name.clone()
    }

    /// Width m.
    #[getter]
    fn m(&self) -> usize {
        self.scenario.m
    }

    /// Input dimension d (without the bias).
    #[getter]
    fn d(&self) -> usize {
        self.scenario.d
    }

    /// Columns of a particle: 1 + d, plus 1 with a bias.
    #[getter]
    fn columns(&self) -> usize {
        1 + self.scenario.input_dim()
    }

    /// Steps of a run.
    #[getter]
    fn steps(&self) -> u64 {
        self.scenario.steps
    }

    /// The time step dt (the first, under a dt schedule).
    #[getter]
    fn dt(&self) -> f64 {
        self.scenario.dt
    }

    /// The seed.
    #[getter]
    fn seed(&self) -> u64 {
        self.scenario.seed
    }
}
