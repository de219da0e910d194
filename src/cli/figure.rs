//! `meanfield figure SPEC`: the runs a SPEC names (`[[run]]`, made on demand and reused once
//! finished), then the figure (`plot::spec`, docs/figures.md).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use meanfield::plot::spec::{RunRequest, requested_runs};

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
/// same resolved scenario is there; a diverged or interrupted run is an error.
fn ensure_run(request: &RunRequest, dir: &Path, interrupt: &AtomicBool) -> anyhow::Result<()> {
    use meanfield::run::{RunOptions, run};
    let scenario = meanfield::scenario::Scenario::load(&request.scenario, &request.overrides)?;
    if finished_run_of(dir, &scenario.resolved_toml()?) {
        eprintln!("{}: finished run reused", dir.display());
        return Ok(());
    }
    let what = if request.limit {
        "solving the limit of"
    } else {
        "running"
    };
    eprintln!("{}: {what} {}", dir.display(), request.scenario.display());
    let threads = rayon::current_num_threads();
    if request.limit {
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

/// Whether `dir` holds a finished run (or limit solve) of the scenario resolved as `resolved`.
fn finished_run_of(dir: &Path, resolved: &str) -> bool {
    let same = std::fs::read_to_string(dir.join("scenario.toml")).is_ok_and(|t| t == resolved);
    let finished = std::fs::read_to_string(dir.join("summary.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v["status"] == "finished");
    same && finished
}
