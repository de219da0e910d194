//! `meanfield check` (validate a scenario, print it resolved) and `meanfield plot` (re-render a
//! run directory's plots): the two subcommands that run nothing.

use std::process::ExitCode;

use meanfield::run::replot;

use super::args::{CheckArgs, PlotArgs};
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
