//! `meanfield gallery`: classic results of the mean-field theory of two-layer networks,
//! reproduced by one command (docs/math.md sections 2 to 6). Each entry runs scenarios or sweeps
//! from `scenarios/gallery/` (the copy compiled into the binary when the folder is absent),
//! draws its figure (PNG and SVG) into `plots/gallery/`, measures the numbers its paragraph in
//! docs/gallery.md quotes, and checks the qualitative fact the literature reports (a check
//! that can fail: tests/gallery.rs asserts every check of a `--quick` gallery).
//!
//! `--quick` runs every entry at reduced size (minutes in total on 2 cores); the full size
//! gives the figures at publication quality. Both sizes are data: `scenarios/gallery/sizes.toml`
//! ([`Context::sizes`]). The entries themselves are a table, [`ENTRIES`].

mod barron;
mod context;
mod convergence;
mod exact_limit;
mod features;
mod generalisation;
mod information_exponent;
mod langevin;
mod lazy;
mod limit;
mod logistic_margin;
mod mmn_mixture;
mod numbers;
mod overparameterised;
mod separation;
mod sweep_output;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use serde::Serialize;
use serde_json::{Map, Value};

pub use context::Context;

use crate::error::{Error, Result};
use crate::output::{read_json, write_atomic, write_json};

/// How to run the gallery.
#[derive(Debug)]
pub struct GalleryOptions<'a> {
    /// Reduced sizes (CI: minutes in total on 2 cores).
    pub quick: bool,
    /// Where figures, `gallery.json` and `summary.md` go (default `plots/gallery`).
    pub out: PathBuf,
    /// Where the entries' runs and sweeps go (default `gallery_runs`, or `gallery_runs/quick`).
    pub work: PathBuf,
    /// Folder of the entries' scenario files (default `scenarios/gallery`); a file missing
    /// there is taken from the copy compiled into the binary.
    pub scenarios: PathBuf,
    /// Set (by a SIGINT handler) to stop: runs in flight stop after their step.
    pub interrupt: &'a AtomicBool,
}

/// One checked fact of an entry.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// The fact, in words (e.g. "risk falls by at least 100x").
    pub fact: String,
    /// Whether the measured numbers satisfy it.
    pub passed: bool,
    /// The numbers it was decided on.
    pub detail: String,
}

impl Check {
    /// A check of `fact`, decided by `passed`, with the numbers in `detail`.
    pub fn new(fact: impl Into<String>, passed: bool, detail: impl Into<String>) -> Self {
        Self {
            fact: fact.into(),
            passed,
            detail: detail.into(),
        }
    }
}

/// What an entry produced.
#[derive(Clone, Debug, Serialize)]
pub struct EntryResult {
    /// Short name (`--only`).
    pub name: String,
    /// Title.
    pub title: String,
    /// Figure files written (PNG and SVG, relative to the output folder).
    pub figures: Vec<String>,
    /// The measured numbers (fitted slopes, risks, fractions, ...), by name.
    pub numbers: Map<String, Value>,
    /// The checked facts.
    pub checks: Vec<Check>,
    /// Wall seconds.
    pub seconds: f64,
}

/// What an entry's run returns (its name, title and time are added by [`run_gallery`]).
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Figure files written (PNG and SVG, relative to the output folder).
    pub figures: Vec<String>,
    /// The measured numbers, by name.
    pub numbers: Map<String, Value>,
    /// The checked facts.
    pub checks: Vec<Check>,
}

/// One gallery entry, as data: its names, its scenario file and the function that runs it.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// Short name, used by `--only`, in file names, as the entry's work folder and as its table
    /// in the sizes file.
    pub name: &'static str,
    /// Title of the figure and of its paragraph.
    pub title: &'static str,
    /// Its scenario (or sweep) file in `scenarios/gallery/`.
    pub scenario: &'static str,
    /// Runs the entry: its runs or sweeps under `ctx.work_dir(entry.name)`, its figures into
    /// `ctx.out()`; returns the figures, numbers and checks.
    run: fn(&Context<'_>, &Entry) -> Result<Outcome>,
}

/// Every entry, in the order of the gallery.
pub const ENTRIES: [Entry; 13] = [
    Entry {
        name: "convergence",
        title: "Global convergence in the mean-field regime",
        scenario: "convergence.toml",
        run: convergence::run,
    },
    Entry {
        name: "overparameterised",
        title: "Over-parameterisation helps",
        scenario: "overparameterised.toml",
        run: overparameterised::run,
    },
    Entry {
        name: "lazy",
        title: "Lazy against mean-field training",
        scenario: "lazy.toml",
        run: lazy::run,
    },
    Entry {
        name: "features",
        title: "Random features against a trained first layer",
        scenario: "features.toml",
        run: features::run,
    },
    Entry {
        name: "limit",
        title: "Finite-m convergence to the limit",
        scenario: "limit.toml",
        run: limit::run,
    },
    Entry {
        name: "exact_limit",
        title: "Finite m against the exact limit, non-linear",
        scenario: "exact_limit.toml",
        run: exact_limit::run,
    },
    Entry {
        name: "langevin",
        title: "Mean-field Langevin dynamics",
        scenario: "langevin.toml",
        run: langevin::run,
    },
    Entry {
        name: "separation",
        title: "Closeness to random features when m >> n (E-Ma-Wu)",
        scenario: "separation.toml",
        run: separation::run,
    },
    Entry {
        name: "information_exponent",
        title: "Hermite targets: the information exponent",
        scenario: "information_exponent.toml",
        run: information_exponent::run,
    },
    Entry {
        name: "mmn_mixture",
        title: "Two isotropic Gaussians against the exact limit",
        scenario: "mmn_mixture.toml",
        run: mmn_mixture::run,
    },
    Entry {
        name: "logistic_margin",
        title: "The logistic loss and the growing margin",
        scenario: "logistic_margin.toml",
        run: logistic_margin::run,
    },
    Entry {
        name: "barron",
        title: "The Barron-space approximation rate",
        scenario: "barron.toml",
        run: barron::run,
    },
    Entry {
        name: "generalisation",
        title: "The generalisation gap against n",
        scenario: "generalisation.toml",
        run: generalisation::run,
    },
];

/// The names of the entries, for error messages and `--help`.
pub fn entry_names() -> Vec<&'static str> {
    ENTRIES.iter().map(|e| e.name).collect()
}

/// Progress of the gallery: entry `index` of `count` starts (`done` = false) or ends.
#[derive(Clone, Debug)]
pub struct GalleryProgress {
    /// The entry.
    pub name: String,
    /// Its position, from 0.
    pub index: usize,
    /// Entries to run.
    pub count: usize,
    /// Whether it just finished.
    pub done: bool,
}

/// Runs the entries (all, or the one named `only`), writing figures, `gallery.json` (every
/// entry's numbers and checks) and `summary.md` into `options.out`. Entries run one after the
/// other, each using every thread; an entry that fails stops the gallery with its error.
pub fn run_gallery(
    options: &GalleryOptions<'_>,
    only: Option<&str>,
    progress: &dyn Fn(GalleryProgress),
) -> Result<Vec<EntryResult>> {
    let selected: Vec<&Entry> = match only {
        Some(name) => {
            let entry = ENTRIES.iter().find(|e| e.name == name).ok_or_else(|| {
                Error::invalid(
                    "--only",
                    name,
                    format!("one of {}", entry_names().join(", ")),
                )
            })?;
            vec![entry]
        }
        None => ENTRIES.iter().collect(),
    };
    std::fs::create_dir_all(&options.out).map_err(|e| Error::io(&options.out, e))?;
    let ctx = Context::new(options);
    let mut results = Vec::new();
    for (index, entry) in selected.iter().enumerate() {
        let report = |done| {
            progress(GalleryProgress {
                name: entry.name.into(),
                index,
                count: selected.len(),
                done,
            })
        };
        report(false);
        let start = Instant::now();
        let outcome = (entry.run)(&ctx, entry)?;
        let seconds = start.elapsed().as_secs_f64();
        report(true);
        results.push(EntryResult {
            name: entry.name.into(),
            title: entry.title.into(),
            figures: outcome.figures,
            numbers: outcome.numbers,
            checks: outcome.checks,
            seconds,
        });
    }
    write_results(options, &results)?;
    Ok(results)
}

/// `gallery.json` (merged with the entries of an earlier run that were not rerun) and
/// `summary.md`.
fn write_results(options: &GalleryOptions<'_>, results: &[EntryResult]) -> Result<()> {
    let path = options.out.join("gallery.json");
    // A missing or unreadable earlier file starts afresh.
    let mut all: Map<String, Value> = read_json(&path).unwrap_or_default();
    for result in results {
        let value = serde_json::to_value(result)
            .map_err(|e| Error::format(&path, format!("cannot serialise: {e}")))?;
        all.insert(result.name.clone(), value);
    }
    all.insert("quick".into(), Value::Bool(options.quick));
    write_json(&path, &all)?;
    let mut summary = format!(
        "# Gallery results{}\n\nWritten by `meanfield gallery{}`; docs/gallery.md explains each \
         entry.\n",
        if options.quick { " (quick sizes)" } else { "" },
        if options.quick { " --quick" } else { "" }
    );
    for name in entry_names() {
        let Some(entry) = all.get(name) else { continue };
        summary.push_str(&format!(
            "\n## {}\n\n",
            entry["title"].as_str().unwrap_or(name)
        ));
        if let Some(numbers) = entry["numbers"].as_object() {
            for (key, value) in numbers {
                summary.push_str(&format!("- {key}: {value}\n"));
            }
        }
        if let Some(checks) = entry["checks"].as_array() {
            for check in checks {
                summary.push_str(&format!(
                    "- check {}: {} ({})\n",
                    if check["passed"].as_bool() == Some(true) {
                        "passed"
                    } else {
                        "FAILED"
                    },
                    check["fact"].as_str().unwrap_or(""),
                    check["detail"].as_str().unwrap_or("")
                ));
            }
        }
    }
    write_atomic(&options.out.join("summary.md"), summary.as_bytes())
}
