//! Gathering the runs of a sweep into one table: `sweep.csv` has the varied keys, m, the seed,
//! whether the run is a reference, then every column of the run's series.csv (step, time,
//! risk, ...), one row per run and logged step, runs in plan order. Shards written to one
//! directory or to several merge to the same file as an unsharded sweep.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::output::{Table, format_float, quote_csv_field, read_json, write_atomic};
use crate::sweep::execute::run_dir;
use crate::sweep::plan::{Plan, PlannedRun};

/// A run's logged series, read from its directory.
#[derive(Clone, Debug)]
pub struct RunSeries {
    /// Index into the plan's runs.
    pub index: usize,
    /// The run directory it was read from.
    pub dir: PathBuf,
    /// Its series.csv.
    pub series: Table,
}

/// Reads the plan written by a sweep into `dir`.
pub fn read_plan(dir: &Path) -> Result<Plan> {
    read_json(&dir.join("sweep_plan.json"))
}

/// The plan shared by `dirs` (an error if two differ) and every run's series, each found in the
/// first of `dirs` that holds it. Errors name the first missing run and the shard to rerun.
pub fn gather(dirs: &[PathBuf]) -> Result<(Plan, Vec<RunSeries>)> {
    let first = dirs
        .first()
        .ok_or_else(|| Error::invalid("--merge", "no directory", "at least one directory"))?;
    let plan = read_plan(first)?;
    for dir in &dirs[1..] {
        if read_plan(dir)? != plan {
            return Err(Error::format(
                dir.join("sweep_plan.json"),
                format!(
                    "another sweep than {}'s (scenario, overrides, widths or seeds differ)",
                    first.display()
                ),
            ));
        }
    }
    let mut runs = Vec::with_capacity(plan.runs.len());
    for (index, planned) in plan.runs.iter().enumerate() {
        let dir = dirs
            .iter()
            .map(|d| run_dir(d, planned))
            .find(|d| d.join("summary.json").exists() && d.join("series.csv").exists())
            .ok_or_else(|| missing(&plan, index, planned, dirs))?;
        let series = Table::read_csv(&dir.join("series.csv"))?;
        runs.push(RunSeries { index, dir, series });
    }
    Ok((plan, runs))
}

fn missing(plan: &Plan, index: usize, planned: &PlannedRun, dirs: &[PathBuf]) -> Error {
    let places: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    Error::invalid(
        "--merge",
        format!(
            "run {} (m = {}, seed {}{}) not found under {}",
            planned.id,
            planned.m,
            planned.seed,
            if planned.reference { ", reference" } else { "" },
            places.join(", ")
        ),
        format!(
            "every run of the plan ({} runs; this is run {index}: rerun `meanfield sweep {} --shard i/N` for the shard holding it, or without --shard)",
            plan.runs.len(),
            plan.scenario_file
        ),
    )
}

/// The text of sweep.csv.
pub fn sweep_csv(plan: &Plan, runs: &[RunSeries]) -> String {
    let mut series_columns: Vec<String> = Vec::new();
    for run in runs {
        for column in &run.series.columns {
            if !series_columns.contains(column) {
                series_columns.push(column.clone());
            }
        }
    }
    let mut header: Vec<String> = plan.keys.iter().map(|k| quote_csv_field(k)).collect();
    header.extend(["m", "seed", "reference"].map(String::from));
    header.extend(series_columns.iter().map(|c| quote_csv_field(c)));
    let mut text = header.join(",");
    text.push('\n');
    for run in runs {
        let planned = &plan.runs[run.index];
        let positions: Vec<Option<usize>> = series_columns
            .iter()
            .map(|c| run.series.columns.iter().position(|x| x == c))
            .collect();
        for row in &run.series.rows {
            let mut fields: Vec<String> =
                planned.point.iter().map(|v| quote_csv_field(v)).collect();
            fields.push(planned.m.to_string());
            fields.push(planned.seed.to_string());
            fields.push(u8::from(planned.reference).to_string());
            fields.extend(
                positions
                    .iter()
                    .map(|p| format_float(p.map_or(f64::NAN, |p| row[p]))),
            );
            text.push_str(&fields.join(","));
            text.push('\n');
        }
    }
    text
}

/// Writes sweep.csv into `out`.
pub fn write_sweep_csv(out: &Path, plan: &Plan, runs: &[RunSeries]) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    write_atomic(&out.join("sweep.csv"), sweep_csv(plan, runs).as_bytes())
}

/// Merges the runs found in `dirs` into `out`: sweep.csv, then the comparison with the limit
/// (see `analysis`). Returns a short report for the terminal.
pub fn finish(dirs: &[PathBuf], out: &Path) -> Result<String> {
    let (plan, runs) = gather(dirs)?;
    write_sweep_csv(out, &plan, &runs)?;
    if out != dirs[0].as_path() {
        crate::output::write_json(&out.join("sweep_plan.json"), &plan)?;
    }
    crate::sweep::analysis::analyse(&plan, &runs, out)
}
