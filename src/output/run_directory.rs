//! What a run directory holds: the files and folders a run writes, and therefore owns
//! ([`RunEntry`]), found in a directory and removed from it without touching anything else.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::output::{TEMPORARY_SUFFIX, TEMPORARY_TAG};

/// A file or folder of a run directory: what `meanfield run` writes there, and therefore what
/// it owns and removes before writing a new run (`--overwrite`). The writer (`run.rs`) names
/// its files through [`RunEntry::path`] and [`marginal_path`], so this list is the whole
/// contract; any other file in the directory belongs to the user and is never touched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunEntry {
    /// `scenario.toml`: the resolved scenario.
    Scenario,
    /// `series.csv`: one row per logged step.
    Series,
    /// `summary.json`: final figures, status, wall time.
    Summary,
    /// `particles_init.npy`.
    ParticlesInit,
    /// `particles_final.npy` (a finished run).
    ParticlesFinal,
    /// `particles_last_finite.npy` (a diverged run).
    ParticlesLastFinite,
    /// `last_finite.json`: the step of `particles_last_finite.npy`.
    LastFinite,
    /// `teacher.npy`.
    Teacher,
    /// `measures.csv`: distances to the initial measure at the snapshots.
    Measures,
    /// `marginals_<quantity>.csv` (every quantity: see [`marginal_path`]).
    Marginals,
    /// `report.html`.
    Report,
    /// `snapshots/` (whole).
    Snapshots,
    /// `plots/` (whole).
    Plots,
    /// `checkpoint/` of an interrupted run.
    Checkpoint,
    /// `checkpoint.old/`, left if a checkpoint swap was cut short.
    CheckpointOld,
    /// `checkpoint.tmp/`, a checkpoint being written.
    CheckpointTemporary,
    /// `reduced_init.npy` (`meanfield limit`): the initial weighted reduced nodes.
    ReducedInit,
    /// `reduced_final.npy` (`meanfield limit`): the nodes at the last step reached.
    ReducedFinal,
    /// `limit/` (whole): the exact mean-field limit of the run's scenario (`meanfield run
    /// --limit`, or `meanfield limit --out RUN/limit`), drawn on the run's risk figure.
    Limit,
}

impl RunEntry {
    /// Every entry a run may write.
    pub const ALL: [Self; 19] = [
        Self::Scenario,
        Self::Series,
        Self::Summary,
        Self::ParticlesInit,
        Self::ParticlesFinal,
        Self::ParticlesLastFinite,
        Self::LastFinite,
        Self::Teacher,
        Self::Measures,
        Self::Marginals,
        Self::Report,
        Self::Snapshots,
        Self::Plots,
        Self::Checkpoint,
        Self::CheckpointOld,
        Self::CheckpointTemporary,
        Self::ReducedInit,
        Self::ReducedFinal,
        Self::Limit,
    ];

    /// Its name in the run directory (`marginals_<quantity>.csv` for the marginals).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Scenario => "scenario.toml",
            Self::Series => "series.csv",
            Self::Summary => "summary.json",
            Self::ParticlesInit => "particles_init.npy",
            Self::ParticlesFinal => "particles_final.npy",
            Self::ParticlesLastFinite => "particles_last_finite.npy",
            Self::LastFinite => "last_finite.json",
            Self::Teacher => "teacher.npy",
            Self::Measures => "measures.csv",
            Self::Marginals => "marginals_<quantity>.csv",
            Self::Report => "report.html",
            Self::Snapshots => "snapshots",
            Self::Plots => "plots",
            Self::Checkpoint => "checkpoint",
            Self::CheckpointOld => "checkpoint.old",
            Self::CheckpointTemporary => "checkpoint.tmp",
            Self::ReducedInit => "reduced_init.npy",
            Self::ReducedFinal => "reduced_final.npy",
            Self::Limit => "limit",
        }
    }

    /// Its path in the run directory `dir` (for the marginals, see [`marginal_path`]).
    #[must_use]
    pub fn path(self, dir: &Path) -> PathBuf {
        dir.join(self.name())
    }

    /// Whether a directory entry named `file_name` is this entry.
    #[must_use]
    pub fn matches(self, file_name: &str) -> bool {
        match self {
            Self::Marginals => file_name
                .strip_prefix(MARGINALS_PREFIX)
                .and_then(|rest| rest.strip_suffix(MARGINALS_SUFFIX))
                .is_some_and(|quantity| !quantity.is_empty()),
            other => file_name == other.name(),
        }
    }
}

/// Marginal files are `marginals_<quantity>.csv`.
const MARGINALS_PREFIX: &str = "marginals_";
const MARGINALS_SUFFIX: &str = ".csv";

/// `dir/marginals_<quantity>.csv`: the histograms over time of one quantity.
#[must_use]
pub fn marginal_path(dir: &Path, quantity: &str) -> PathBuf {
    dir.join(format!("{MARGINALS_PREFIX}{quantity}{MARGINALS_SUFFIX}"))
}

/// The quantity of a marginal file name (`marginals_a.csv` -> `a`), if it is one.
#[must_use]
pub fn marginal_quantity(file_name: &str) -> Option<&str> {
    RunEntry::Marginals
        .matches(file_name)
        .then(|| &file_name[MARGINALS_PREFIX.len()..file_name.len() - MARGINALS_SUFFIX.len()])
}

/// Whether a run owns the directory entry `file_name`: one of [`RunEntry::ALL`], or the
/// temporary file of an atomic write of one, left by a killed run: `.{name}.{tag}.tmp` with a
/// random tag of [`TEMPORARY_TAG`] letters and digits ([`crate::output::write_atomic`]), or
/// `.{name}.{pid}.{n}.tmp` as earlier builds named it.
#[must_use]
pub fn is_run_entry(file_name: &str) -> bool {
    let owned = |name: &str| RunEntry::ALL.iter().any(|entry| entry.matches(name));
    if owned(file_name) {
        return true;
    }
    let Some((rest, tag)) = file_name
        .strip_prefix('.')
        .and_then(|rest| rest.strip_suffix(TEMPORARY_SUFFIX))
        .and_then(|rest| rest.rsplit_once('.'))
    else {
        return false;
    };
    let tagged = tag.len() == TEMPORARY_TAG && tag.bytes().all(|b| b.is_ascii_alphanumeric());
    if tagged && owned(rest) {
        return true;
    }
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    rest.rsplit_once('.')
        .is_some_and(|(name, pid)| numeric(tag) && numeric(pid) && owned(name))
}

/// The entries of `dir` that a run owns ([`is_run_entry`]), sorted; empty if `dir` does not
/// exist.
///
/// # Errors
/// [`Error::Io`] if `dir` exists but cannot be listed.
pub fn run_entries_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut owned = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        if entry.file_name().to_str().is_some_and(is_run_entry) {
            owned.push(entry.path());
        }
    }
    owned.sort();
    Ok(owned)
}

/// Removes from `dir` exactly what a run owns ([`run_entries_in`]: its files, and its folders
/// whole), leaving every other file; returns what it removed. A symbolic link is removed, never
/// followed.
///
/// # Errors
/// [`Error::Io`] naming the entry that could not be removed.
///
/// ```
/// use meanfield::output::clear_run_directory;
///
/// # let dir = std::env::temp_dir().join(format!("meanfield-doc-clear-{}", std::process::id()));
/// # std::fs::create_dir_all(dir.join("plots"))?;
/// std::fs::write(dir.join("series.csv"), "step,time\n")?;
/// std::fs::write(dir.join("marginals_a.csv"), "step,time\n")?;
/// std::fs::write(dir.join("notes.txt"), "mine")?;
/// clear_run_directory(&dir)?;
/// assert!(dir.join("notes.txt").exists());
/// assert!(!dir.join("series.csv").exists() && !dir.join("plots").exists());
/// assert!(!dir.join("marginals_a.csv").exists());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn clear_run_directory(dir: &Path) -> Result<Vec<PathBuf>> {
    clear_run_directory_except(dir, &[])
}

/// [`clear_run_directory`], keeping the entries `keep` (the limit beside a run that a new
/// run of the same problem keeps: `run::prepare_fresh`).
///
/// # Errors
/// As [`clear_run_directory`].
pub fn clear_run_directory_except(dir: &Path, keep: &[RunEntry]) -> Result<Vec<PathBuf>> {
    let mut owned = run_entries_in(dir)?;
    owned.retain(|path| {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        !keep
            .iter()
            .any(|entry| name.as_deref().is_some_and(|n| entry.matches(n)))
    });
    for path in &owned {
        let metadata = std::fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
        let removed = if metadata.is_dir() {
            std::fs::remove_dir_all(path)
        } else {
            std::fs::remove_file(path)
        };
        removed.map_err(|e| Error::io(path, e))?;
    }
    Ok(owned)
}

/// The summary.json of the run (or limit) directory `dir` as JSON, if it says the run
/// finished; `None` for a missing or unreadable summary or any other status.
#[must_use]
pub fn finished_summary(dir: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(RunEntry::Summary.path(dir)).ok()?;
    let summary: serde_json::Value = serde_json::from_str(&text).ok()?;
    (summary["status"] == "finished").then_some(summary)
}

/// The snapshots of the run directory `out` (`snapshots/step_<step>.npy`), in step order:
/// (step, particles); none when the run wrote no snapshots folder. Files of other names in
/// the folder are passed over. The one reader of snapshots, for the run's figures and the
/// gallery.
///
/// # Errors
/// [`Error::Io`] if the folder cannot be listed; those of [`crate::output::read_npy`] for a
/// snapshot that cannot be read.
pub fn read_snapshots(out: &Path) -> Result<Vec<(u64, nalgebra::DMatrix<f64>)>> {
    let dir = RunEntry::Snapshots.path(out);
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut snapshots = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
        let path = entry.map_err(|e| Error::io(&dir, e))?.path();
        let step = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("step_"))
            .and_then(|n| n.strip_suffix(".npy"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(step) = step {
            snapshots.push((step, crate::output::read_npy(&path)?));
        }
    }
    snapshots.sort_by_key(|(step, _)| *step);
    Ok(snapshots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_owns_its_entries_and_their_temporary_files_and_nothing_else() {
        for name in [
            "scenario.toml",
            "plots",
            "marginals_angle_0.csv",
            "checkpoint.tmp",
            ".series.csv.4242.7.tmp",
            ".series.csv.aB3x9Z.tmp",
        ] {
            assert!(is_run_entry(name), "{name}");
        }
        for name in [
            "notes.txt",
            "marginals_.csv",
            "series.csv.bak",
            ".notes.txt.4242.7.tmp",
            ".series.csv.tmp",
            ".notes.txt.aB3x9Z.tmp",
            ".series.csv.aB3.tmp",
            ".series.csv.aB3-9Z.tmp",
        ] {
            assert!(!is_run_entry(name), "{name}");
        }
        assert_eq!(marginal_quantity("marginals_w_norm.csv"), Some("w_norm"));
    }
}
