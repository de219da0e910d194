//! What a gallery entry needs: its scenario files and sizes (from `scenarios/gallery/` or the
//! copies compiled into the binary), single runs and sweeps in its work folder (finished ones
//! are reused when their resolved scenario is unchanged), and their outputs read back: a run's
//! files ([`read_run`], [`read_snapshots`]) and a sweep's summary in the sweep's own types
//! ([`read_sweep_summary`]).

use std::path::{Path, PathBuf};

use nalgebra::DMatrix;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::gallery::GalleryOptions;
use crate::output::{Table, read_json, read_npy};
use crate::run::{RunOptions, Status, Summary, run};
use crate::scenario::Scenario;
use crate::sweep::analysis::SweepSummary;
use crate::sweep::execute::run_state;
use crate::sweep::execute::{ExecuteOptions, execute_with};
use crate::sweep::{Plan, SweepOverrides, finish};

/// The file of every entry's sizes (`[<entry>.quick]` and `[<entry>.full]`) in the scenarios
/// folder. The sizes cannot sit in the scenario files themselves: those are read with
/// `deny_unknown_fields` (src/scenario/file.rs), and `meanfield run` must accept them as they
/// are.
pub const SIZES_FILE: &str = "sizes.toml";

/// The scenario files of the gallery, compiled in (used when `scenarios/gallery/` lacks one).
const EMBEDDED: &[(&str, &str)] = &[
    (
        "convergence.toml",
        include_str!("../../scenarios/gallery/convergence.toml"),
    ),
    (
        "overparameterised.toml",
        include_str!("../../scenarios/gallery/overparameterised.toml"),
    ),
    (
        "lazy.toml",
        include_str!("../../scenarios/gallery/lazy.toml"),
    ),
    (
        "features.toml",
        include_str!("../../scenarios/gallery/features.toml"),
    ),
    (
        "limit.toml",
        include_str!("../../scenarios/gallery/limit.toml"),
    ),
    (
        "exact_limit.toml",
        include_str!("../../scenarios/gallery/exact_limit.toml"),
    ),
    (
        "langevin.toml",
        include_str!("../../scenarios/gallery/langevin.toml"),
    ),
    (
        "separation.toml",
        include_str!("../../scenarios/gallery/separation.toml"),
    ),
    (
        "information_exponent.toml",
        include_str!("../../scenarios/gallery/information_exponent.toml"),
    ),
    (
        "mmn_mixture.toml",
        include_str!("../../scenarios/gallery/mmn_mixture.toml"),
    ),
    (
        "logistic_margin.toml",
        include_str!("../../scenarios/gallery/logistic_margin.toml"),
    ),
    (
        "barron.toml",
        include_str!("../../scenarios/gallery/barron.toml"),
    ),
    (
        "generalisation.toml",
        include_str!("../../scenarios/gallery/generalisation.toml"),
    ),
    (
        SIZES_FILE,
        include_str!("../../scenarios/gallery/sizes.toml"),
    ),
];

/// Widths and seeds of an entry's sweep; a size left out keeps the scenario's `[sweep]` value.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSizes {
    /// Widths m of the ladder (`sweep.widths`).
    pub widths: Option<Vec<usize>>,
    /// Seeds per width (`sweep.seeds`).
    pub seeds: Option<usize>,
}

impl SweepSizes {
    /// The sweep overrides of these sizes (the reference is the scenario's).
    pub fn overrides(&self) -> SweepOverrides {
        SweepOverrides {
            widths: self.widths.clone(),
            seeds: self.seeds,
            reference: None,
        }
    }
}

/// The outputs of one run, read back from its folder.
#[derive(Debug)]
pub struct RunOutput {
    /// The run folder.
    pub dir: PathBuf,
    /// summary.json.
    pub summary: Summary,
    /// series.csv (step, time, risk, movement, ... one row per logged step).
    pub series: Table,
    /// measures.csv (snapshot steps: distances, kernel change, free energy).
    pub measures: Table,
    /// The particles at step 0 (m x (1 + d): a, then w).
    pub initial: DMatrix<f64>,
    /// The particles at the end (the last checkpoint).
    pub last: DMatrix<f64>,
    /// teacher.npy (k x (1 + d)), where the target is a teacher.
    pub teacher: Option<DMatrix<f64>>,
}

impl RunOutput {
    /// A column of series.csv by name.
    pub fn series_column(&self, name: &str) -> Result<Vec<f64>> {
        column(&self.series, name, &self.dir.join("series.csv"))
    }

    /// A column of measures.csv by name.
    pub fn measures_column(&self, name: &str) -> Result<Vec<f64>> {
        column(&self.measures, name, &self.dir.join("measures.csv"))
    }
}

/// Column `name` of `table` (read from `path`, for the error).
pub fn column(table: &Table, name: &str, path: &Path) -> Result<Vec<f64>> {
    let index = table
        .columns
        .iter()
        .position(|c| c == name)
        .ok_or_else(|| Error::format(path, format!("no column {name}")))?;
    Ok(table.rows.iter().map(|row| row[index]).collect())
}

/// The gallery's environment, shared by its entries.
#[derive(Debug)]
pub struct Context<'a> {
    options: &'a GalleryOptions<'a>,
}

impl<'a> Context<'a> {
    /// The context of one gallery invocation.
    pub fn new(options: &'a GalleryOptions<'a>) -> Self {
        Self { options }
    }

    /// Whether the sizes are reduced (`--quick`).
    pub fn quick(&self) -> bool {
        self.options.quick
    }

    /// The folder of figures.
    pub fn out(&self) -> &Path {
        &self.options.out
    }

    /// The work folder of an entry (its runs and sweeps).
    pub fn work_dir(&self, entry: &str) -> PathBuf {
        self.options.work.join(entry)
    }

    /// The path of a gallery scenario file: in the scenarios folder when it is there,
    /// otherwise the compiled-in copy written into the work folder.
    pub fn scenario_path(&self, file: &str) -> Result<PathBuf> {
        let path = self.options.scenarios.join(file);
        if path.exists() {
            return Ok(path);
        }
        let text = EMBEDDED
            .iter()
            .find(|(name, _)| *name == file)
            .map(|(_, text)| *text)
            .ok_or_else(|| Error::io(&path, std::io::ErrorKind::NotFound.into()))?;
        let copy = self.options.work.join("scenarios").join(file);
        if let Some(parent) = copy.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        crate::output::write_atomic(&copy, text.as_bytes())?;
        Ok(copy)
    }

    /// The sizes of `entry` for this invocation: table `[<entry>.quick]` (under `--quick`) or
    /// `[<entry>.full]` of the sizes file, read into the entry's own type (unknown keys are an
    /// error).
    pub fn sizes<T: DeserializeOwned>(&self, entry: &str) -> Result<T> {
        let path = self.scenario_path(SIZES_FILE)?;
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        sizes_in(&text, &path, entry, self.quick())
    }

    /// Loads gallery scenario `file` with `--set`-style overrides (`key=value`).
    pub fn scenario(&self, file: &str, overrides: &[String]) -> Result<Scenario> {
        Scenario::load(&self.scenario_path(file)?, overrides)
    }

    /// Runs `scenario` into `dir` (all threads), unless a finished run of the same resolved
    /// scenario is there already; returns its outputs. A diverged run is an error.
    pub fn run(&self, scenario: &Scenario, dir: &Path) -> Result<RunOutput> {
        let resolved = scenario.resolved_toml()?;
        let state = run_state(dir, &resolved);
        if !matches!(
            state,
            crate::sweep::execute::RunState::Done(Status::Finished)
        ) {
            let options = RunOptions {
                out: dir.to_path_buf(),
                resume: matches!(state, crate::sweep::execute::RunState::Resumable),
                // The gallery's work folders are its cache: a run of other sizes there is stale.
                overwrite: true,
                checkpoint_every: std::time::Duration::from_secs(300),
                interrupt: self.options.interrupt,
                stop_at_step: None,
                threads: rayon::current_num_threads(),
            };
            run(scenario, &options, &mut |_| {})?;
            if self
                .options
                .interrupt
                .load(std::sync::atomic::Ordering::SeqCst)
            {
                return Err(Error::Diverged {
                    step: 0,
                    time: 0.0,
                    what: "interrupted".into(),
                });
            }
        }
        read_run(dir)
    }

    /// Runs the sweep of gallery scenario `file` (with overrides) into `dir`: plan, runs
    /// (finished ones skipped), merge and analysis (`sweep.csv`, `sweep_stats.csv`,
    /// `sweep_summary.json`, plots). Returns the plan.
    pub fn sweep(
        &self,
        file: &str,
        overrides: &[String],
        sweep: &SweepOverrides,
        dir: &Path,
    ) -> Result<Plan> {
        let path = self.scenario_path(file)?;
        let plan = Plan::build(&path, overrides, sweep)?;
        let selection: Vec<usize> = (0..plan.runs.len()).collect();
        // Overwriting: the gallery's work folders are its cache (see `run`).
        let options = ExecuteOptions {
            jobs: rayon::current_num_threads(),
            overwrite: true,
        };
        let report = execute_with(
            &plan,
            &selection,
            dir,
            &options,
            self.options.interrupt,
            &|_| {},
        )?;
        if report.interrupted > 0 {
            return Err(Error::Diverged {
                step: 0,
                time: 0.0,
                what: "interrupted".into(),
            });
        }
        finish(&[dir.to_path_buf()], dir)?;
        Ok(plan)
    }
}

/// The sizes of `entry` in the text of a sizes file (read from `path`, for errors): table
/// `[<entry>.quick]` or `[<entry>.full]`.
fn sizes_in<T: DeserializeOwned>(text: &str, path: &Path, entry: &str, quick: bool) -> Result<T> {
    let file: toml::Table =
        toml::from_str(text).map_err(|e| Error::format(path, format!("not TOML: {e}")))?;
    let size = if quick { "quick" } else { "full" };
    let table = file
        .get(entry)
        .and_then(|sizes| sizes.get(size))
        .ok_or_else(|| Error::format(path, format!("no table [{entry}.{size}]")))?;
    T::deserialize(table.clone()).map_err(|e| Error::format(path, format!("[{entry}.{size}]: {e}")))
}

/// The sizes of `entry` in the sizes file compiled into the binary (for the entries' tests).
/// Options of a `--quick` gallery over the scratch folder `root` (figures in `root/plots`, runs
/// in `root/work`) and the shipped scenario folder: the negative-control tests of the entries
/// run their mutated settings through these. (The interrupt flag is leaked: tests only.)
#[cfg(test)]
pub(super) fn scratch_options(root: &Path) -> GalleryOptions<'static> {
    let interrupt: &'static std::sync::atomic::AtomicBool =
        Box::leak(Box::new(std::sync::atomic::AtomicBool::new(false)));
    GalleryOptions {
        quick: true,
        out: root.join("plots"),
        work: root.join("work"),
        scenarios: Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/gallery"),
        interrupt,
    }
}

#[cfg(test)]
pub(super) fn shipped_sizes<T: DeserializeOwned>(entry: &str, quick: bool) -> Result<T> {
    let text = EMBEDDED
        .iter()
        .find(|(name, _)| *name == SIZES_FILE)
        .map_or("", |(_, text)| text);
    sizes_in(text, Path::new(SIZES_FILE), entry, quick)
}

/// The summary of the sweep in `dir` (its sweep_summary.json), read into the types the sweep
/// wrote it from.
pub fn read_sweep_summary(dir: &Path) -> Result<SweepSummary> {
    read_json(&dir.join("sweep_summary.json"))
}

pub use crate::output::run_directory::read_snapshots;

/// The outputs of the run folder `dir`.
pub fn read_run(dir: &Path) -> Result<RunOutput> {
    let summary: Summary = read_json(&dir.join("summary.json"))?;
    if summary.status == Status::Diverged {
        return Err(Error::Diverged {
            step: summary.step,
            time: summary.time,
            what: summary.message.clone().unwrap_or_default(),
        });
    }
    Ok(RunOutput {
        series: Table::read_csv(&dir.join("series.csv"))?,
        measures: Table::read_csv(&dir.join("measures.csv"))?,
        initial: read_npy(&dir.join("particles_init.npy"))?,
        last: read_npy(&dir.join("particles_final.npy"))?,
        teacher: read_npy(&dir.join("teacher.npy")).ok(),
        dir: dir.to_path_buf(),
        summary,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use crate::gallery::ENTRIES;

    #[test]
    fn every_entry_scenario_file_is_compiled_in() {
        for entry in &ENTRIES {
            assert!(
                EMBEDDED.iter().any(|(name, _)| *name == entry.scenario),
                "{}",
                entry.scenario
            );
        }
    }

    #[test]
    fn the_sizes_file_has_a_quick_and_a_full_table_for_each_entry_and_nothing_else() {
        let text = EMBEDDED.iter().find(|(n, _)| *n == SIZES_FILE).unwrap().1;
        let file: toml::Table = toml::from_str(text).unwrap();
        let names: Vec<&str> = file.keys().map(String::as_str).collect();
        let mut expected: Vec<&str> = ENTRIES.iter().map(|e| e.name).collect();
        expected.sort_unstable();
        assert_eq!(names, expected);
        for (name, sizes) in &file {
            let tables: Vec<&str> = sizes
                .as_table()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(tables, ["full", "quick"], "{name}");
        }
    }

    #[test]
    fn the_sweep_entries_sizes_read_and_quick_is_smaller() {
        for entry in ["lazy", "limit"] {
            let quick: SweepSizes = shipped_sizes(entry, true).unwrap();
            let full: SweepSizes = shipped_sizes(entry, false).unwrap();
            assert!(quick.widths.is_some() && quick.seeds.is_some(), "{entry}");
            // Full size: the scenario's own [sweep].
            assert!(full.widths.is_none() && full.seeds.is_none(), "{entry}");
        }
    }

    #[test]
    fn an_unknown_size_is_an_error_that_names_the_table_and_key() {
        let text = "[lazy.quick]\nwidth = [1]\n[lazy.full]\n";
        let error = sizes_in::<SweepSizes>(text, Path::new("sizes.toml"), "lazy", true)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("[lazy.quick]") && error.contains("width"),
            "{error}"
        );
        let missing = sizes_in::<SweepSizes>(text, Path::new("sizes.toml"), "limit", false)
            .unwrap_err()
            .to_string();
        assert!(missing.contains("[limit.full]"), "{missing}");
    }
}
