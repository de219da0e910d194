//! `meanfield limit`: validates [`LimitArgs`] into a [`LimitRequest`] (the scenario, the run
//! directory, the quadrature resolution of docs/limit.md) and solves the mean-field limit.

use std::path::PathBuf;
use std::process::ExitCode;

use meanfield::Error;
use meanfield::limit::{LimitOptions, LimitSummary, Resolution, solve_limit};
use meanfield::run::Status;
use meanfield::scenario::Scenario;

use super::EXIT_INTERRUPTED;
use super::args::LimitArgs;
use super::common::{interrupt_flag, load, set_threads, step_bar};

/// A checked `meanfield limit` (or the limit of `meanfield run --limit`).
pub(super) struct LimitRequest {
    pub(super) scenario: Scenario,
    /// The run directory (default runs/NAME-limit).
    pub(super) out: PathBuf,
    /// The rule's nodes (none: the solver's default).
    pub(super) resolution: Option<Resolution>,
    pub(super) overwrite: bool,
    pub(super) quiet: bool,
}

/// `meanfield limit`.
pub(super) fn command(args: LimitArgs) -> anyhow::Result<ExitCode> {
    set_threads(args.threads)?;
    execute(validate(args)?)
}

/// Loads the scenario, then checks the node counts.
fn validate(args: LimitArgs) -> anyhow::Result<LimitRequest> {
    let scenario = load(&args.scenario, &args.overrides)?;
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from("runs").join(format!("{}-limit", scenario.name)));
    for (flag, value) in [
        ("--nodes", args.nodes.unwrap_or(1)),
        ("--angle-nodes", args.angle_nodes),
    ] {
        if value == 0 {
            return Err(anyhow::Error::new(Error::invalid(flag, 0, "at least 1")));
        }
    }
    let resolution = args.nodes.map(|n| Resolution {
        angle: args.angle_nodes,
        ..Resolution::with_nodes(n)
    });
    Ok(LimitRequest {
        scenario,
        out,
        resolution,
        overwrite: args.overwrite,
        quiet: args.quiet,
    })
}

/// Solves the limit with a progress bar; interrupted is exit 130.
pub(super) fn execute(request: LimitRequest) -> anyhow::Result<ExitCode> {
    let LimitRequest {
        scenario,
        out,
        resolution,
        overwrite,
        quiet,
    } = request;
    let interrupt = interrupt_flag();
    let options = LimitOptions {
        out: out.clone(),
        overwrite,
        resolution,
        interrupt: &interrupt,
        threads: rayon::current_num_threads(),
    };
    let bar = step_bar(scenario.steps, quiet);
    let mut progress = |step: u64, _total: u64, risk: f64| {
        if let Some(bar) = &bar {
            bar.set_position(step);
            bar.set_message(format!("risk {risk:.4e}"));
        }
    };
    let result = solve_limit(&scenario, &options, &mut progress);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(summary) => {
            if !quiet || summary.status == Status::Interrupted {
                eprintln!("{}", note(&scenario, &out, &summary));
            }
            Ok(match summary.status {
                Status::Interrupted => ExitCode::from(EXIT_INTERRUPTED),
                _ => ExitCode::SUCCESS,
            })
        }
        Err(e @ Error::Diverged { .. }) => Err(anyhow::Error::new(e).context(format!(
            "{} (limit): logged rows kept in {}",
            scenario.name,
            out.join("series.csv").display()
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The line printed after a solve.
fn note(scenario: &Scenario, out: &std::path::Path, summary: &LimitSummary) -> String {
    let estimate = summary
        .risk_error_estimate_relative
        .map_or_else(|| "none".to_owned(), |e| format!("{e:.1e}"));
    format!(
        "{} (limit, {} nodes): risk {:.6e} -> {:.6e} at t = {}, relative error \
         estimate {estimate}, {:.1} s; results in {}",
        scenario.name,
        summary.nodes,
        summary.initial_risk,
        summary.final_risk,
        summary.time,
        summary.wall_seconds + summary.estimate_wall_seconds,
        out.display()
    )
}
