//! `meanfield run`: validates [`RunArgs`] into a [`RunRequest`] (the scenario loaded with its
//! overrides, the run directory, the checkpoint interval) and runs it with a progress bar.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use meanfield::Error;
use meanfield::limit::{LimitProblem, Resolution, reusable_beside};
use meanfield::output::RunEntry;
use meanfield::run::{Progress, RunOptions, Status, Summary, render_plots, resume_command, run};
use meanfield::scenario::Scenario;

use super::EXIT_INTERRUPTED;
use super::args::RunArgs;
use super::common::{interrupt_flag, load, set_threads, step_bar};
use super::limit::LimitRequest;

/// A checked `meanfield run`.
struct RunRequest {
    /// The scenario with its `--set` and `--device` overrides.
    scenario: Scenario,
    /// The run directory (default runs/NAME).
    out: PathBuf,
    resume: bool,
    overwrite: bool,
    /// Wall time between checkpoints (> 0).
    checkpoint_every: Duration,
    stop_at_step: Option<u64>,
    quiet: bool,
    /// `--limit`: the limit's resolution.
    limit: Option<Resolution>,
}

/// `meanfield run`.
pub(super) fn command(args: RunArgs) -> anyhow::Result<ExitCode> {
    set_threads(args.threads)?;
    execute(validate(args)?)
}

/// Loads the scenario (`--device` is the override `device=...`, after the `--set` ones) and
/// checks the flags, in this order.
fn validate(args: RunArgs) -> anyhow::Result<RunRequest> {
    let mut overrides = args.overrides;
    overrides.extend(args.device.map(|d| format!("device={d}")));
    let scenario = load(&args.scenario, &overrides)?;
    let limit = args
        .limit
        .then(|| limit_resolution(&scenario, args.limit_nodes))
        .transpose()?;
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from("runs").join(&scenario.name));
    let checkpoint_every = args.checkpoint_every;
    if !(checkpoint_every.is_finite() && checkpoint_every > 0.0) {
        return Err(anyhow::Error::new(Error::invalid(
            "--checkpoint-every",
            checkpoint_every,
            "a number of seconds > 0",
        )));
    }
    Ok(RunRequest {
        scenario,
        out,
        resume: args.resume,
        overwrite: args.overwrite,
        checkpoint_every: Duration::from_secs_f64(checkpoint_every),
        stop_at_step: args.stop_at_step,
        quiet: args.quiet,
        limit,
    })
}

/// The resolution of `--limit` (`--limit-nodes`, else the solver's default for the teacher
/// span), after checking that the scenario has an exact limit: the error names the key that
/// breaks the reduction.
fn limit_resolution(scenario: &Scenario, nodes: Option<usize>) -> anyhow::Result<Resolution> {
    let problem = LimitProblem::from_scenario(scenario).map_err(|e| {
        anyhow::Error::new(e).context(format!(
            "--limit: {} has no exact mean-field limit (docs/limit.md)",
            scenario.name
        ))
    })?;
    if nodes == Some(0) {
        return Err(anyhow::Error::new(Error::invalid(
            "--limit-nodes",
            0,
            "at least 1",
        )));
    }
    Ok(nodes.map_or_else(
        || Resolution::default_for(problem.k()),
        Resolution::with_nodes,
    ))
}

/// `--limit`, after a finished run: the limit solved into (or reused from) `out/limit`, then
/// the run's figures and report drawn again with it.
fn solve_beside(request: &RunRequest, resolution: Resolution) -> anyhow::Result<ExitCode> {
    let RunRequest {
        scenario,
        out,
        quiet,
        ..
    } = request;
    let dir = RunEntry::Limit.path(out);
    let resolved = scenario.resolved_toml()?;
    let code = if reusable_beside(out, &resolved, resolution) {
        if !quiet {
            eprintln!(
                "{}: the limit in {} is reused",
                scenario.name,
                dir.display()
            );
        }
        ExitCode::SUCCESS
    } else {
        super::limit::execute(LimitRequest {
            scenario: scenario.clone(),
            out: dir,
            resolution: Some(resolution),
            overwrite: true,
            quiet: *quiet,
        })?
    };
    if scenario.record.figures {
        render_plots(out, &scenario.name)?;
    }
    Ok(code)
}

/// Runs the scenario into its run directory; interrupted is exit 130, diverged an error that
/// says where the logged rows are.
fn execute(request: RunRequest) -> anyhow::Result<ExitCode> {
    let RunRequest {
        scenario,
        out,
        quiet,
        ..
    } = &request;
    let interrupt = interrupt_flag();
    let options = RunOptions {
        out: out.clone(),
        resume: request.resume,
        overwrite: request.overwrite,
        checkpoint_every: request.checkpoint_every,
        interrupt: &interrupt,
        stop_at_step: request.stop_at_step,
        threads: rayon::current_num_threads(),
    };
    let bar = step_bar(scenario.steps, *quiet);
    let mut last_message = Instant::now();
    let mut progress = |p: Progress| {
        if let Some(bar) = &bar {
            bar.set_position(p.step);
            if last_message.elapsed() > Duration::from_millis(200) {
                bar.set_message(format!("risk {:.4e}", p.risk));
                last_message = Instant::now();
            }
        }
    };
    let result = run(scenario, &options, &mut progress);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(summary) => {
            if !quiet || summary.status == Status::Interrupted {
                eprintln!("{}", note(scenario, out, &summary));
            }
            match (summary.status, request.limit) {
                (Status::Interrupted, _) => Ok(ExitCode::from(EXIT_INTERRUPTED)),
                (Status::Finished, Some(resolution)) => solve_beside(&request, resolution),
                _ => Ok(ExitCode::SUCCESS),
            }
        }
        Err(e @ Error::Diverged { .. }) => Err(anyhow::Error::new(e).context(format!(
            "{}: logged rows kept in {}; last finite particles in particles_last_finite.npy",
            scenario.name,
            out.join("series.csv").display()
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The line printed after a run: how to resume it, or what it did.
fn note(scenario: &Scenario, out: &std::path::Path, summary: &Summary) -> String {
    match summary.status {
        Status::Interrupted => format!(
            "interrupted at step {} of {}; resume with: {}",
            summary.step,
            scenario.steps,
            resume_command(out)
        ),
        _ => format!(
            "{}: {} steps, risk {:.4e} -> {:.4e}, {:.1} s ({:.1} steps/s); results in {}",
            scenario.name,
            summary.step,
            summary.initial_risk,
            summary.final_risk,
            summary.wall_seconds_total,
            summary.steps_per_second,
            out.display()
        ),
    }
}
