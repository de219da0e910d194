//! What the subcommands share: the thread pool, loading a scenario, the Ctrl-C flag and
//! progress bars.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use meanfield::Error;
use meanfield::scenario::Scenario;

/// Bad input (exit 2) whose library type does not say so, e.g. an unreadable scenario file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct BadInput(pub String);

/// Starts the global thread pool with `threads` threads (default: rayon's, all cores).
pub(super) fn set_threads(threads: Option<usize>) -> anyhow::Result<()> {
    if let Some(n) = threads {
        if n == 0 {
            return Err(anyhow::Error::new(Error::invalid(
                "--threads",
                0,
                "at least 1",
            )));
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("could not start the thread pool")?;
    }
    Ok(())
}

/// Loads a scenario; an unreadable file is bad input.
pub(super) fn load(scenario: &Path, overrides: &[String]) -> anyhow::Result<Scenario> {
    Scenario::load(scenario, overrides).map_err(unreadable_scenario_is_bad_input)
}

/// A library error as an anyhow error, an I/O error on the scenario file as [`BadInput`].
pub(super) fn unreadable_scenario_is_bad_input(error: Error) -> anyhow::Error {
    match error {
        Error::Io { path, source } => anyhow::Error::new(BadInput(format!(
            "cannot read the scenario file {}: {source}",
            path.display()
        ))),
        other => anyhow::Error::new(other),
    }
}

/// A flag that Ctrl-C sets. A second Ctrl-C while stopping is ignored; the first stops the
/// command after its current step.
pub(super) fn interrupt_flag() -> Arc<AtomicBool> {
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    interrupt
}

/// Whether to draw progress: not when quiet, on CI or without a terminal.
pub(super) fn show_progress(quiet: bool) -> bool {
    !quiet && std::env::var_os("CI").is_none() && std::io::stderr().is_terminal()
}

/// A progress bar over `total` items drawn with `template`, or none when quiet or without a
/// terminal.
pub(super) fn progress_bar(total: u64, quiet: bool, template: &str) -> Option<ProgressBar> {
    if !show_progress(quiet) {
        return None;
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    Some(bar)
}

/// A progress bar over `total` steps, or none when quiet or without a terminal.
pub(super) fn step_bar(total: u64, quiet: bool) -> Option<ProgressBar> {
    progress_bar(
        total,
        quiet,
        "{elapsed_precise} [{bar:30}] {pos}/{len} steps  {per_sec}  ETA {eta}  {msg}",
    )
}
