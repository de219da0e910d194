//! `meanfield sweep`: validates [`SweepArgs`] into a [`SweepRequest`] (a merge of shard
//! directories, or a planned ladder of widths and seeds with its shard) and executes it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use meanfield::Error;
use meanfield::sweep::{
    self, ExecuteOptions, ExecutionReport, Plan, SweepOverrides, SweepProgress,
};

use super::EXIT_INTERRUPTED;
use super::args::SweepArgs;
use super::common::{
    BadInput, interrupt_flag, progress_bar, set_threads, unreadable_scenario_is_bad_input,
};

/// A checked `meanfield sweep`.
enum SweepRequest {
    /// Merge and analyse the runs of these directories into `out`.
    Merge {
        dirs: Vec<PathBuf>,
        out: PathBuf,
        quiet: bool,
    },
    /// Run the selected runs of a plan into `out`.
    Execute(Box<Execution>),
}

/// The runs of a sweep (or of one shard) to execute.
struct Execution {
    plan: Plan,
    /// Shard (index, count), if only a part runs.
    shard: Option<(usize, usize)>,
    /// Indices into `plan.runs` of the runs to execute.
    selection: Vec<usize>,
    /// Output directory (default sweeps/NAME).
    out: PathBuf,
    /// Runs at once.
    jobs: usize,
    overwrite: bool,
    quiet: bool,
}

/// `meanfield sweep`.
pub(super) fn command(args: SweepArgs) -> anyhow::Result<ExitCode> {
    set_threads(args.threads)?;
    match validate(args)? {
        SweepRequest::Merge { dirs, out, quiet } => {
            let summary = sweep::finish(&dirs, &out)?;
            if !quiet {
                eprintln!("{summary}");
            }
            Ok(ExitCode::SUCCESS)
        }
        SweepRequest::Execute(execution) => execute(*execution),
    }
}

/// A merge, or the shard and the plan (its scenario loaded with the overrides), in this order.
fn validate(args: SweepArgs) -> anyhow::Result<SweepRequest> {
    if let Some(dirs) = args.merge {
        let out = args.out.unwrap_or_else(|| dirs[0].clone());
        return Ok(SweepRequest::Merge {
            dirs,
            out,
            quiet: args.quiet,
        });
    }
    let Some(scenario) = args.scenario else {
        return Err(anyhow::Error::new(BadInput(
            "sweep needs a scenario file or --merge DIR...".into(),
        )));
    };
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    let plan = Plan::build(
        &scenario,
        &args.overrides,
        &SweepOverrides {
            widths: args.widths,
            seeds: args.seeds,
            reference: args.reference,
        },
    )
    .map_err(unreadable_scenario_is_bad_input)?;
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from("sweeps").join(&plan.name));
    let selection = match shard {
        Some((index, count)) => plan.shard(index, count),
        None => (0..plan.runs.len()).collect(),
    };
    Ok(SweepRequest::Execute(Box::new(Execution {
        plan,
        shard,
        selection,
        out,
        jobs: args.jobs.unwrap_or_else(rayon::current_num_threads),
        overwrite: args.overwrite,
        quiet: args.quiet,
    })))
}

/// `I/N` with I < N.
fn parse_shard(text: &str) -> anyhow::Result<(usize, usize)> {
    let parsed = text
        .split_once('/')
        .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)))
        .filter(|&(i, n): &(usize, usize)| n >= 1 && i < n);
    parsed.ok_or_else(|| {
        anyhow::Error::new(Error::invalid(
            "--shard",
            text,
            "I/N with 0 <= I < N, e.g. 0/4 (shards are numbered from 0)",
        ))
    })
}

/// Runs the selection with a progress bar, then analyses the sweep (a shard only says how to
/// merge); interrupted is exit 130.
fn execute(execution: Execution) -> anyhow::Result<ExitCode> {
    let Execution {
        plan,
        shard,
        selection,
        out,
        jobs,
        overwrite,
        quiet,
    } = execution;
    let interrupt = interrupt_flag();
    let bar = progress_bar(
        selection.len() as u64,
        quiet,
        "{elapsed_precise} [{bar:30}] {pos}/{len} runs  ETA {eta}  {msg}",
    );
    let progress = |p: SweepProgress| {
        if let Some(bar) = &bar {
            bar.set_position(p.done as u64);
            bar.set_message(p.id);
        }
    };
    let report = sweep::execute_with(
        &plan,
        &selection,
        &out,
        &ExecuteOptions { jobs, overwrite },
        &interrupt,
        &progress,
    )?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let counts = counts(&report);
    if interrupt.load(Ordering::SeqCst) || report.interrupted > 0 {
        eprintln!(
            "{counts}; interrupted: rerun the same command to continue (finished runs are skipped)"
        );
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    match shard {
        Some((index, count)) => {
            if !quiet {
                eprintln!(
                    "shard {index}/{count}: {counts}; when every shard is done: meanfield sweep --merge {}",
                    out.display()
                );
            }
        }
        None => {
            let summary = sweep::finish(std::slice::from_ref(&out), &out)?;
            if !quiet {
                eprintln!("{counts}\n{summary}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What a sweep did, counted.
fn counts(report: &ExecutionReport) -> String {
    format!(
        "{} runs: {} done now, {} already done, {} diverged, {} interrupted",
        report.planned, report.finished, report.skipped, report.diverged, report.interrupted
    )
}
