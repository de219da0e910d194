//! `meanfield run`: validates [`RunArgs`] into a [`RunRequest`] (the scenario loaded with its
//! overrides, the run directory, the checkpoint interval) and runs it with a progress bar.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use meanfield::Error;
use meanfield::run::{Progress, RunOptions, Status, Summary, resume_command, run};
use meanfield::scenario::Scenario;

use super::EXIT_INTERRUPTED;
use super::args::RunArgs;
use super::common::{interrupt_flag, load, set_threads, step_bar};

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
    })
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
            Ok(match summary.status {
                Status::Interrupted => ExitCode::from(EXIT_INTERRUPTED),
                _ => ExitCode::SUCCESS,
            })
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
