//! `meanfield figure SPEC`: the runs a SPEC names (`[[run]]`, made on demand and reused once
//! finished), then the figure (`plot::spec`, docs/figures.md).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use meanfield::plot::spec::{RunCommand, RunRequest, requested_runs};
use meanfield::sweep::{self, ExecuteOptions, Plan, SweepOverrides};

use super::args::FigureArgs;
use super::common::interrupt_flag;

/// `meanfield figure`.
pub(super) fn command(args: FigureArgs) -> anyhow::Result<ExitCode> {
    let out = args.out.unwrap_or_else(|| {
        args.spec
            .parent()
            .map_or_else(PathBuf::new, Path::to_path_buf)
    });
    std::fs::create_dir_all(&out).map_err(|e| meanfield::Error::io(&out, e))?;
    let name = args
        .spec
        .file_stem()
        .map_or_else(|| "figure".into(), |s| s.to_string_lossy().into_owned());
    let stem = out.join(name);
    let interrupt = interrupt_flag();
    for request in requested_runs(&args.spec)? {
        ensure_run(&request, &out.join("runs").join(&request.name), &interrupt)?;
    }
    meanfield::plot::render_spec(&args.spec, &stem)?;
    eprintln!("figure written to {}.{{png,svg,pdf}}", stem.display());
    Ok(ExitCode::SUCCESS)
}

/// Runs `request` into `dir` (the particles, or the exact limit) unless a finished run of the
/// same resolved scenario is there; a diverged or interrupted run is an error. A sweep skips
/// its finished runs by itself.
fn ensure_run(request: &RunRequest, dir: &Path, interrupt: &AtomicBool) -> anyhow::Result<()> {
    use meanfield::run::{RunOptions, run};
    if let RunCommand::Sweep {
        widths,
        seeds,
        reference,
    } = &request.command
    {
        return ensure_sweep(request, (widths, seeds, reference), dir, interrupt);
    }
    let scenario = meanfield::scenario::Scenario::load(&request.scenario, &request.overrides)?;
    if finished_run_of(dir, &scenario.resolved_toml()?) {
        eprintln!("{}: finished run reused", dir.display());
        return Ok(());
    }
    let limit = request.command == RunCommand::Limit;
    let what = if limit {
        "solving the limit of"
    } else {
        "running"
    };
    eprintln!("{}: {what} {}", dir.display(), request.scenario.display());
    let threads = rayon::current_num_threads();
    if limit {
        let options = meanfield::limit::LimitOptions {
            out: dir.to_path_buf(),
            overwrite: true,
            resolution: None,
            interrupt,
            threads,
        };
        meanfield::limit::solve_limit(&scenario, &options, &mut |_, _, _| {})?;
    } else {
        let options = RunOptions {
            out: dir.to_path_buf(),
            resume: false,
            // The runs of a SPEC are its cache: a run of another scenario there is stale.
            overwrite: true,
            checkpoint_every: std::time::Duration::from_secs(300),
            interrupt,
            stop_at_step: None,
            threads,
        };
        run(&scenario, &options, &mut |_| {})?;
    }
    if interrupt.load(Ordering::SeqCst) {
        anyhow::bail!("interrupted while running {}", dir.display());
    }
    Ok(())
}

/// The sweep of `request` in `dir`: its runs not yet finished there, then its analysis
/// (sweep_stats.csv, figures), as `meanfield sweep --out dir` makes them.
fn ensure_sweep(
    request: &RunRequest,
    (widths, seeds, reference): (&Option<Vec<usize>>, &Option<usize>, &Option<String>),
    dir: &Path,
    interrupt: &AtomicBool,
) -> anyhow::Result<()> {
    let plan = Plan::build(
        &request.scenario,
        &request.overrides,
        &SweepOverrides {
            widths: widths.clone(),
            seeds: *seeds,
            reference: reference.clone(),
        },
    )?;
    let selection: Vec<usize> = (0..plan.runs.len()).collect();
    eprintln!(
        "{}: sweep of {} ({} runs; finished ones are reused)",
        dir.display(),
        request.scenario.display(),
        selection.len()
    );
    let options = ExecuteOptions {
        jobs: rayon::current_num_threads(),
        // The sweeps of a SPEC are its cache: a run of another scenario there is stale.
        overwrite: true,
    };
    let report = sweep::execute_with(&plan, &selection, dir, &options, interrupt, &|_| {})?;
    if interrupt.load(Ordering::SeqCst) || report.interrupted > 0 {
        anyhow::bail!("interrupted while running the sweep {}", dir.display());
    }
    sweep::finish(&[dir.to_path_buf()], dir)?;
    Ok(())
}

/// Whether `dir` holds a finished run (or limit solve) of the scenario resolved as `resolved`.
fn finished_run_of(dir: &Path, resolved: &str) -> bool {
    let same = std::fs::read_to_string(dir.join("scenario.toml")).is_ok_and(|t| t == resolved);
    same && meanfield::output::run_directory::finished_summary(dir).is_some()
}
