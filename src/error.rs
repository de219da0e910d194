//! The library's error type: every failure names what was wrong, the value found
//! and what is allowed (STYLE.md, "Errors").

use std::path::PathBuf;

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A scenario key has a value that is not allowed.
    #[error("{file}: {key} = {found}: expected {allowed}")]
    Config {
        /// The scenario file (or `<cli>` for a command-line override).
        file: String,
        /// The dotted key, with line and column where known.
        key: String,
        /// The value found, as written.
        found: String,
        /// What is allowed.
        allowed: String,
    },
    /// A sweep's reference does not describe the scenario it would be compared with
    /// (`sweep::validity`): e.g. the population limit of a linear network for an online run.
    #[error("{0}")]
    Reference(Box<ReferenceMismatch>),
    /// A scenario file is not valid TOML for the schema (wrong type, unknown key, syntax).
    #[error("{file}: {key}: {message}")]
    Parse {
        /// The scenario file.
        file: String,
        /// The dotted key with line and column, where known.
        key: String,
        /// What is wrong, in the user's terms.
        message: String,
    },
    /// A parameter handed to the library is out of its domain.
    #[error("{what} = {found}: expected {allowed}")]
    Invalid {
        /// Which parameter (e.g. `dt`, `teacher.d`).
        what: String,
        /// The value found.
        found: String,
        /// What is allowed.
        allowed: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },
    /// A file was read but its content is malformed (bad `.npy` header, wrong shape, NaN...).
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A run directory cannot take the run as asked: it holds a run of another scenario, an
    /// interrupted run that `--resume` would continue, or files of a run without its
    /// scenario.toml; or `--resume` was asked with another scenario.
    #[error("run directory {dir}: {message}")]
    RunDirectory {
        /// The run directory.
        dir: PathBuf,
        /// What it holds, and what to do (`--overwrite`, `--resume`, another `--out`).
        message: String,
    },
    /// The dynamics produced a non-finite risk or particle.
    #[error("run diverged at step {step} (t = {time}): {what}")]
    Diverged {
        /// The step at which a non-finite value was first seen.
        step: u64,
        /// Its time, `step * dt`.
        time: f64,
        /// What was non-finite.
        what: String,
    },
    /// The GPU backend is not available or failed (`device = "cuda"`): what is missing or
    /// what the CUDA driver reported.
    #[error("device cuda: {message}")]
    Device {
        /// What went wrong, and what to do about it.
        message: String,
    },
    /// The self-check of `meanfield bench` failed: the optimised gradient differs from the
    /// plain reference of `bench::reference` by more than the tolerance at this entry.
    #[error(
        "{case}: self-check failed: particle row {row}, column {column} ({}): optimised gradient \
         {found:e}, reference {expected:e}: |difference| = {relative:.3e} x {scale:e} (the largest \
         |reference| of the checked rows in that column), allowed {tolerance:e}",
        column_name(.column)
    )]
    SelfCheck {
        /// The benchmark case.
        case: String,
        /// The particle (row of the particle matrix, counting from 0).
        row: usize,
        /// The column: 0 for a, c for w_c.
        column: usize,
        /// dR/dtheta from the optimised evaluation.
        found: f64,
        /// dR/dtheta from the reference.
        expected: f64,
        /// |found - expected| / scale.
        relative: f64,
        /// The largest |reference| over the checked rows of the column.
        scale: f64,
        /// The largest relative deviation allowed.
        tolerance: f64,
    },
}

/// What [`Error::Reference`] says: which reference, set where, does not describe which key of
/// which scenario file, and what to use instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceMismatch {
    /// The scenario file.
    pub file: String,
    /// The reference as the user set it: `--reference linear`, or `sweep.reference =
    /// "linear"` with line and column.
    pub setting: String,
    /// What the reference describes.
    pub describes: String,
    /// The scenario key the reference does not describe.
    pub key: String,
    /// Its value.
    pub found: String,
    /// What to use instead.
    pub instead: String,
}

impl std::fmt::Display for ReferenceMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} describes {}; this scenario has {} = {}: use {}",
            self.file, self.setting, self.describes, self.key, self.found, self.instead
        )
    }
}

/// `a` for column 0 of a particle matrix, `w_c` for column c.
fn column_name(column: &usize) -> String {
    if *column == 0 {
        "a".into()
    } else {
        format!("w_{column}")
    }
}

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(
        what: impl Into<String>,
        found: impl ToString,
        allowed: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            what: what.into(),
            found: found.to_string(),
            allowed: allowed.into(),
        }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// Shorthand for [`Error::Format`].
    pub fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Format {
            path: path.into(),
            message: message.into(),
        }
    }
}
