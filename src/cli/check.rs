//! `meanfield check` (validate a scenario, print it resolved), `meanfield plot` (re-render a
//! run directory's plots) and `meanfield figure` (a paper figure from run directories): the
//! subcommands that run nothing.

use std::process::ExitCode;

use meanfield::run::replot;

use super::args::{CheckArgs, FigureArgs, PlotArgs};
use super::common::{interrupt_flag, load};

/// `meanfield check`: the resolved scenario on stdout, its step count and end time on stderr.
pub(super) fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let scenario = load(&args.scenario, &args.overrides)?;
    scenario.setup()?;
    print!("{}", scenario.resolved_toml()?);
    let scheduled = if scenario.schedules.dt.is_some() {
        " at t = 0, scheduled"
    } else {
        ""
    };
    eprintln!(
        "{}: valid; {} steps of dt = {}{scheduled} (t_end = {})",
        scenario.file.display(),
        scenario.steps,
        scenario.dt,
        scenario.schedules.time_at(scenario.dt, scenario.steps)
    );
    Ok(ExitCode::SUCCESS)
}

/// `meanfield plot`.
pub(super) fn plot(args: PlotArgs) -> anyhow::Result<ExitCode> {
    replot(&args.run_dir)?;
    eprintln!("plots written to {}", args.run_dir.join("plots").display());
    Ok(ExitCode::SUCCESS)
}

/// `meanfield figure`.
pub(super) fn figure(args: FigureArgs) -> anyhow::Result<ExitCode> {
    let out = args.out.unwrap_or_else(|| {
        args.spec
            .parent()
            .map_or_else(std::path::PathBuf::new, std::path::Path::to_path_buf)
    });
    std::fs::create_dir_all(&out).map_err(|e| meanfield::Error::io(&out, e))?;
    let name = args
        .spec
        .file_stem()
        .map_or_else(|| "figure".into(), |s| s.to_string_lossy().into_owned());
    let stem = out.join(name);
    let interrupt = interrupt_flag();
    for request in meanfield::plot::spec::requested_runs(&args.spec)? {
        ensure_run(&request, &out.join("runs").join(&request.name), &interrupt)?;
    }
    meanfield::plot::render_spec(&args.spec, &stem)?;
    eprintln!("figure written to {}.{{png,svg,pdf}}", stem.display());
    Ok(ExitCode::SUCCESS)
}

/// Runs `request` into `dir` (the particles, or the exact limit) unless a finished run of the
/// same resolved scenario is there; a diverged or interrupted run is an error.
fn ensure_run(
    request: &meanfield::plot::spec::RunRequest,
    dir: &std::path::Path,
    interrupt: &std::sync::atomic::AtomicBool,
) -> anyhow::Result<()> {
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
    if interrupt.load(std::sync::atomic::Ordering::SeqCst) {
        anyhow::bail!("interrupted while running {}", dir.display());
    }
    Ok(())
}

/// Whether `dir` holds a finished run (or limit solve) of the scenario resolved as `resolved`.
fn finished_run_of(dir: &std::path::Path, resolved: &str) -> bool {
    let same = std::fs::read_to_string(dir.join("scenario.toml")).is_ok_and(|t| t == resolved);
    let finished = std::fs::read_to_string(dir.join("summary.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v["status"] == "finished");
    same && finished
}
