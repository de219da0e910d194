//! `meanfield gallery`: validates [`GalleryArgs`] into a [`GalleryRequest`] (its folders) and runs the classic
//! mean-field results of docs/gallery.md, printing each entry's checks.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use meanfield::gallery::{EntryResult, GalleryOptions, GalleryProgress, run_gallery};

use super::EXIT_INTERRUPTED;
use super::args::GalleryArgs;
use super::common::{interrupt_flag, set_threads};

/// A checked `meanfield gallery`: its folders with their defaults.
struct GalleryRequest {
    quick: bool,
    /// Run only this entry.
    only: Option<String>,
    /// Figures and results (default plots/gallery).
    out: PathBuf,
    /// Runs and sweeps (default gallery_runs, or gallery_runs/quick).
    work: PathBuf,
    /// The entries' scenarios (default scenarios/gallery).
    scenarios: PathBuf,
    quiet: bool,
}

/// `meanfield gallery`.
pub(super) fn command(args: GalleryArgs) -> anyhow::Result<ExitCode> {
    set_threads(args.threads)?;
    execute(validate(args))
}

/// Fills in the default folders (whose names depend on --quick).
fn validate(args: GalleryArgs) -> GalleryRequest {
    let quick = args.quick;
    GalleryRequest {
        quick,
        only: args.only,
        out: args.out.unwrap_or_else(|| PathBuf::from("plots/gallery")),
        work: args.work.unwrap_or_else(|| {
            if quick {
                PathBuf::from("gallery_runs/quick")
            } else {
                PathBuf::from("gallery_runs")
            }
        }),
        scenarios: args
            .scenarios
            .unwrap_or_else(|| PathBuf::from("scenarios/gallery")),
        quiet: args.quiet,
    }
}

/// Runs the entries and prints their checks; interrupted is exit 130, a failed check is
/// reported, not an error.
fn execute(request: GalleryRequest) -> anyhow::Result<ExitCode> {
    let interrupt = interrupt_flag();
    let options = GalleryOptions {
        quick: request.quick,
        out: request.out,
        work: request.work,
        scenarios: request.scenarios,
        interrupt: &interrupt,
    };
    let quiet = request.quiet;
    let progress = |p: GalleryProgress| {
        if quiet {
            return;
        }
        if p.done {
            eprintln!("gallery: [{}/{}] {} done", p.index + 1, p.count, p.name);
        } else {
            eprintln!("gallery: [{}/{}] {} ...", p.index + 1, p.count, p.name);
        }
    };
    let results = match run_gallery(&options, request.only.as_deref(), &progress) {
        Err(_) if interrupt.load(Ordering::SeqCst) => {
            eprintln!("gallery interrupted: rerun the same command (finished runs are reused)");
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        }
        other => other?,
    };
    let failed = print_results(&results);
    println!(
        "figures and numbers in {} (gallery.json, summary.md){}",
        options.out.display(),
        if failed > 0 {
            format!("; {failed} check(s) failed")
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// Prints every entry and its checks; returns the number of failed checks.
fn print_results(results: &[EntryResult]) -> usize {
    let mut failed = 0;
    for result in results {
        println!(
            "{} ({:.0} s): {}",
            result.name, result.seconds, result.title
        );
        for check in &result.checks {
            if !check.passed {
                failed += 1;
            }
            println!(
                "  [{}] {}: {}",
                if check.passed { "ok" } else { "FAILED" },
                check.fact,
                check.detail
            );
        }
    }
    failed
}
