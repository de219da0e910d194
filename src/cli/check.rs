//! `meanfield check` (validate a scenario, print it resolved), `meanfield plot` (re-render a
//! run directory's plots) and `meanfield figure` (a paper figure from run directories): the
//! subcommands that run nothing.

use std::process::ExitCode;

use meanfield::run::replot;

use super::args::{CheckArgs, FigureArgs, PlotArgs};
use super::common::load;

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
    meanfield::plot::render_spec(&args.spec, &stem)?;
    eprintln!("figure written to {}.{{png,svg,pdf}}", stem.display());
    Ok(ExitCode::SUCCESS)
}
