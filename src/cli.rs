//! Command line: clap commands mapped to library calls, progress bars, exit codes.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use meanfield::Error;
use meanfield::bench::scaling::POINT_BUDGET;
use meanfield::bench::{
    Backend, BenchCase, BenchRecord, CASES, Repetitions, ScalingMode, bench_case_on, bench_size_on,
    write_scaling,
};
use meanfield::device::{Device, Precision, check_precision};
use meanfield::gallery::{GalleryOptions, GalleryProgress, run_gallery};
use meanfield::run::{RunOptions, Status, replot, resume_command, run};
use meanfield::scenario::Scenario;
use meanfield::sweep::{self, Plan, SweepOverrides};

/// Exit code of bad input (scenario, files, arguments).
const EXIT_BAD_INPUT: u8 = 2;
/// Exit code of a diverged run.
const EXIT_DIVERGED: u8 = 3;
/// Exit code of an interrupted run (128 + SIGINT).
const EXIT_INTERRUPTED: u8 = 130;

/// Mean-field dynamics of two-layer neural networks, simulated as interacting particles.
///
/// A scenario (TOML) describes the network f(x) = m^(-alpha) sum_j a_j sigma(w_j . x), the
/// target, the risk mode and the dynamics; `run` integrates the particle flow and writes a run
/// directory with series.csv, summary.json, particles (.npy) and plots.
#[derive(Debug, Parser)]
#[command(name = "meanfield", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario and write its run directory (default runs/<name>/).
    ///
    /// A run directory holds one run. Running again into a directory with a finished or
    /// diverged run of the same resolved scenario (file and --set overrides) runs it again
    /// from the start; a run of another scenario (the error lists the differing keys), an
    /// interrupted run (continue it with --resume) or run files without scenario.toml are
    /// refused (exit 2) unless --overwrite is given. Before writing, a run removes the files
    /// and folders a run writes (README.md, "The run directory"), never other files.
    ///
    /// Exit codes: 0 finished, 2 bad scenario or run directory, 3 diverged (rows and the last
    /// finite particles are kept), 130 interrupted (Ctrl-C; resume with
    /// meanfield run DIR/scenario.toml --resume --out DIR).
    Run {
        /// The scenario file (TOML), e.g. scenarios/quickstart.toml.
        scenario: PathBuf,
        /// Run directory (default runs/<name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override a scenario key, e.g. --set dynamics.dt=0.01 --set model.m=200 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Number of threads (default: all cores). Results are bit-identical for any count.
        #[arg(long)]
        threads: Option<usize>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        /// Continue the interrupted run in --out from its checkpoint (bit-identical result).
        /// Give the run's own resolved scenario, DIR/scenario.toml, to keep its --set overrides;
        /// another scenario is refused, naming the keys that differ.
        #[arg(long)]
        resume: bool,
        /// Replace the run that --out holds, whatever its scenario or state: first remove the
        /// files and folders a run writes there (other files are kept).
        #[arg(long, conflicts_with = "resume")]
        overwrite: bool,
        /// Seconds of wall time between checkpoints.
        #[arg(long, default_value_t = 300.0, value_name = "SECONDS")]
        checkpoint_every: f64,
        /// Testing aid: stop as if interrupted once this step is completed.
        #[arg(long, hide = true)]
        stop_at_step: Option<u64>,
        /// Where the risk and gradient run: cpu, or cuda (a binary built with --features cuda,
        /// an NVIDIA GPU and its driver; every risk mode); the same as --set device=...
        #[arg(long, value_parser = ["cpu", "cuda"])]
        device: Option<String>,
    },
    /// Solve the exact mean-field limit (m -> infinity) of a scenario and write its run
    /// directory (default runs/<name>-limit/): scenario.toml, series.csv (step, time, risk,
    /// objective, dissipation, a_mean, a_std, w_norm_mean, cone_share_<i>), summary.json,
    /// reduced_init.npy, reduced_final.npy and plots/risk.png.
    ///
    /// The limit is computed by the symmetry reduction of docs/limit.md: each neuron is reduced
    /// to (a, p, q), p its projection on the teacher span and q the norm of the rest, and the
    /// limit measure is a tensor Gauss rule of the initial law pushed forward by the reduced
    /// flow, with the scenario's integrator, dt and steps. It needs population mode, no bias,
    /// model.alpha = 1, dynamics.tau = 0 and init laws (normal or sphere w); anything else is
    /// refused (exit 2) naming the key. summary.json reports the solver's own error estimates
    /// (a solve at half the resolution; the half-resolution solve at dt/2).
    ///
    /// Exit codes: 0 solved, 2 bad scenario or run directory, 3 diverged (rows kept), 130
    /// interrupted (rows kept; a limit is rerun, not resumed).
    Limit {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// Run directory (default runs/<name>-limit).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override a scenario key (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Nodes of the initial-law rule for a and for each teacher coordinate p_i (q gets
        /// round(0.45 N), at least 4: its rule converges fastest). Default: about 1200 nodes in
        /// all (N = 14 for one teacher direction, 7 for two).
        #[arg(long, value_name = "N")]
        nodes: Option<usize>,
        /// Nodes of the rule in the cosine between complement directions.
        #[arg(long, default_value_t = meanfield::limit::Resolution::DEFAULT_ANGLE, value_name = "N")]
        angle_nodes: usize,
        /// Replace the run that --out holds (its run files only).
        #[arg(long)]
        overwrite: bool,
        /// Number of threads (default: all cores). Results are bit-identical for any count.
        #[arg(long)]
        threads: Option<usize>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Run a scenario over a ladder of widths and seeds, and compare them with the limit.
    ///
    /// Every run gets its own run directory OUT/runs/<id>/ (id = width, seed and a hash of its
    /// resolved scenario); then sweep.csv (varied keys, m, seed, every logged scalar),
    /// sweep_stats.csv (seed means, standard errors, deviations from the reference),
    /// sweep_summary.json (fitted exponents with bootstrap intervals) and plots/ are written.
    /// The scenario's [sweep] section may set widths, seeds, other keys to vary
    /// (vary = { "model.alpha" = [0.5, 1.0] }) and the reference; the flags override it.
    /// Particle j of every width is the same draw (coupled seeds). Rerunning skips finished
    /// runs and resumes interrupted ones. On a cluster, run each --shard i/N (e.g. a Slurm job
    /// array, examples/slurm/) and then --merge the output directories.
    ///
    /// Exit codes: 0 done (diverged runs are results, listed), 2 bad input, 130 interrupted.
    Sweep {
        /// The scenario file (not with --merge).
        #[arg(required_unless_present = "merge")]
        scenario: Option<PathBuf>,
        /// Widths m, comma-separated (default: sweep.widths, else 16,64,256,1024).
        #[arg(long, value_delimiter = ',', value_name = "M,M,...")]
        widths: Option<Vec<usize>>,
        /// Number of seeds per width (default: sweep.seeds, else 8).
        #[arg(long)]
        seeds: Option<usize>,
        /// wide | richardson | linear | limit | none (default: sweep.reference, else wide).
        #[arg(long)]
        reference: Option<String>,
        /// Output directory (default sweeps/<name>; with --merge, the first directory).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Runs at once (default: the number of threads); runs share one thread pool.
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only part I of N (zero-based), e.g. --shard 0/8; merge afterwards.
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// Merge and analyse the runs found in these sweep directories (shards).
        #[arg(long, num_args = 1.., value_name = "DIR", conflicts_with_all = ["scenario", "shard", "widths", "seeds", "reference"])]
        merge: Option<Vec<PathBuf>>,
        /// Override a scenario key for every run (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Replace runs whose directory holds a run of another scenario (otherwise refused,
        /// exit 2): remove the files and folders a run writes there first.
        #[arg(long, conflicts_with = "merge")]
        overwrite: bool,
        /// Number of threads (default: all cores). Results are bit-identical for any count.
        #[arg(long)]
        threads: Option<usize>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Reproduce the classic mean-field results (docs/gallery.md): every entry's runs or
    /// sweeps, its figure (PNG and SVG) in plots/gallery/, its measured numbers and checked
    /// facts in plots/gallery/gallery.json and summary.md.
    ///
    /// Entries: convergence (global convergence, Chizat-Bach), overparameterised (success
    /// against width), lazy (lazy against mean-field scaling), features (random features
    /// against a trained first layer), limit (finite-m convergence to the limit), langevin
    /// (mean-field Langevin dynamics), separation (scale separation of the two layers).
    /// Finished runs are reused when rerun with the same sizes. Exit codes: 0 done (a failed
    /// check is reported, not an error), 2 bad input, 3 a run diverged, 130 interrupted.
    Gallery {
        /// Reduced sizes: every entry in about a minute on 2 cores (27 s of CPU time;
        /// docs/gallery.md gives each entry's time). What CI runs.
        #[arg(long)]
        quick: bool,
        /// Run only this entry.
        #[arg(long, value_name = "NAME")]
        only: Option<String>,
        /// Figures and results (default plots/gallery).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Runs and sweeps of the entries (default gallery_runs, or gallery_runs/quick).
        #[arg(long)]
        work: Option<PathBuf>,
        /// Folder of the entries' scenarios (default scenarios/gallery; a file missing there
        /// is taken from the copy compiled into the binary).
        #[arg(long)]
        scenarios: Option<PathBuf>,
        /// Number of threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// No progress output.
        #[arg(long)]
        quiet: bool,
    },
    /// Validate a scenario and print it with every default resolved; runs nothing.
    Check {
        /// The scenario file.
        scenario: PathBuf,
        /// Override a scenario key (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// Re-render the plots and report.html of a run directory from its stored data, titled
    /// with the scenario name of its scenario.toml.
    ///
    /// Exit codes: 0 done, 2 no such run directory (or no series.csv in it).
    Plot {
        /// The run directory.
        run_dir: PathBuf,
    },
    /// Time one step of the standard cases (see benches/peers/README.md), or its scaling.
    ///
    /// Before timing, the gradient of each case is checked against a plain reference
    /// implementation on 64 rows spread over m: every entry must agree to 1e-12 of the largest
    /// reference value of its column, or the command fails naming the row and column. With
    /// --json, prints one JSON line per case (case, s_per_step_median, s_per_step_min, gflops,
    /// threads, check_max_rel_error, ...) for benches/peers/compare.sh.
    ///
    /// With --scaling population, times one step against the width m (d = 32, k = 4; m from
    /// 1,000 to 100,000); with --scaling data, against the number of samples n (m = 4096,
    /// d = 32; n from 256 to 65,536). Each point runs in a child process, self-checked, with up
    /// to --reps timed steps (fewer once they add up to 20 s), and its peak resident memory is
    /// recorded. Writes scaling_<mode>.csv, scaling_<mode>.png/.svg (seconds per step, log-log,
    /// with the power law fitted on m >= 4000 or n >= 2048 and its 95% interval) and
    /// scaling_<mode>_memory.png/.svg into --out (default plots/performance). A full ladder
    /// takes a few minutes on 2 cores; --quick stops at m = 4000 or n = 4096.
    Bench {
        /// data1 | data2 | pop1 | pop2 | all (comma-separated list allowed).
        #[arg(long, default_value = "all")]
        case: String,
        /// Timed steps per case (after one warm-up step); with --scaling, at most this many per
        /// point.
        #[arg(long, default_value_t = 5)]
        reps: usize,
        /// One JSON line per case on stdout.
        #[arg(long)]
        json: bool,
        /// Divide m and n by 4 (a smoke run, not a comparison); with --scaling, only the
        /// smallest sizes.
        #[arg(long)]
        quick: bool,
        /// Number of threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Where the risk and gradient run: cpu, or cuda (a binary built with --features cuda
        /// and an NVIDIA GPU: the fused population kernel, cuBLAS for the data cases).
        #[arg(long, default_value = "cpu", value_parser = ["cpu", "cuda"])]
        device: String,
        /// Precision of the GPU kernels: f64, or f32 (with --device cuda; the self-check then
        /// allows 1e-3 instead of 1e-12).
        #[arg(long, default_value = "f64", value_parser = ["f64", "f32"])]
        precision: String,
        /// population | data: time one step against m (population) or n (data).
        #[arg(long, value_name = "MODE", conflicts_with_all = ["json", "size"])]
        scaling: Option<String>,
        /// Output directory of --scaling (default plots/performance).
        #[arg(long, requires = "scaling")]
        out: Option<PathBuf>,
        /// With --scaling population: leave out widths above M.
        #[arg(long, value_name = "M", requires = "scaling")]
        max_m: Option<usize>,
        /// With --scaling data: leave out sample counts above N.
        #[arg(long, value_name = "N", requires = "scaling")]
        max_n: Option<usize>,
        /// No progress and no summary on stderr.
        #[arg(long)]
        quiet: bool,
        /// One point of --scaling, run in a child process: m=M[,n=N][,d=D].
        #[arg(long, hide = true, value_name = "m=M,n=N,d=D")]
        size: Option<String>,
    },
}

/// Entry point: runs the command and maps errors to exit codes.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            let code = match error.downcast_ref::<Error>() {
                Some(Error::Diverged { .. }) => EXIT_DIVERGED,
                Some(
                    Error::Config { .. }
                    | Error::Reference(..)
                    | Error::Parse { .. }
                    | Error::Invalid { .. }
                    | Error::Format { .. }
                    | Error::RunDirectory { .. },
                ) => EXIT_BAD_INPUT,
                _ if error
                    .chain()
                    .any(|e| e.downcast_ref::<BadInput>().is_some()) =>
                {
                    EXIT_BAD_INPUT
                }
                _ => 1,
            };
            ExitCode::from(code)
        }
    }
}

/// Bad input (exit 2) whose library type does not say so, e.g. an unreadable scenario file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct BadInput(String);

/// `meanfield limit` after its scenario is loaded.
fn limit_command(
    scenario: &Scenario,
    out: PathBuf,
    nodes: Option<usize>,
    angle_nodes: usize,
    overwrite: bool,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    use meanfield::limit::{LimitOptions, Resolution, solve_limit};
    for (flag, value) in [
        ("--nodes", nodes.unwrap_or(1)),
        ("--angle-nodes", angle_nodes),
    ] {
        if value == 0 {
            return Err(anyhow::Error::new(Error::invalid(flag, 0, "at least 1")));
        }
    }
    let interrupt = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupt.clone();
        let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    }
    let resolution = nodes.map(|n| Resolution {
        angle: angle_nodes,
        ..Resolution::with_nodes(n)
    });
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
    let result = solve_limit(scenario, &options, &mut progress);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(summary) => {
            let estimate = summary
                .risk_error_estimate_relative
                .map_or_else(|| "none".to_owned(), |e| format!("{e:.1e}"));
            if !quiet || summary.status == Status::Interrupted {
                eprintln!(
                    "{} (limit, {} nodes): risk {:.6e} -> {:.6e} at t = {}, relative error \
                     estimate {estimate}, {:.1} s; results in {}",
                    scenario.name,
                    summary.nodes,
                    summary.initial_risk,
                    summary.final_risk,
                    summary.time,
                    summary.wall_seconds + summary.estimate_wall_seconds,
                    out.display()
                );
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

/// A progress bar over `total` steps, or none when quiet or without a terminal.
fn step_bar(total: u64, quiet: bool) -> Option<ProgressBar> {
    if !show_progress(quiet) {
        return None;
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} steps  {per_sec}  ETA {eta}  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    Some(bar)
}

fn set_threads(threads: Option<usize>) -> anyhow::Result<()> {
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

fn load(scenario: &Path, overrides: &[String]) -> anyhow::Result<Scenario> {
    Scenario::load(scenario, overrides).map_err(|e| match e {
        Error::Io { path, source } => anyhow::Error::new(BadInput(format!(
            "cannot read the scenario file {}: {source}",
            path.display()
        ))),
        other => anyhow::Error::new(other),
    })
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

fn show_progress(quiet: bool) -> bool {
    !quiet && std::env::var_os("CI").is_none() && std::io::stderr().is_terminal()
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Gallery {
            quick,
            only,
            out,
            work,
            scenarios,
            threads,
            quiet,
        } => {
            set_threads(threads)?;
            let interrupt = Arc::new(AtomicBool::new(false));
            {
                let flag = interrupt.clone();
                let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
            }
            let options = GalleryOptions {
                quick,
                out: out.unwrap_or_else(|| PathBuf::from("plots/gallery")),
                work: work.unwrap_or_else(|| {
                    if quick {
                        PathBuf::from("gallery_runs/quick")
                    } else {
                        PathBuf::from("gallery_runs")
                    }
                }),
                scenarios: scenarios.unwrap_or_else(|| PathBuf::from("scenarios/gallery")),
                interrupt: &interrupt,
            };
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
            let results = match run_gallery(&options, only.as_deref(), &progress) {
                Err(_) if interrupt.load(Ordering::SeqCst) => {
                    eprintln!(
                        "gallery interrupted: rerun the same command (finished runs are reused)"
                    );
                    return Ok(ExitCode::from(EXIT_INTERRUPTED));
                }
                other => other?,
            };
            let mut failed = 0;
            for result in &results {
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
        Command::Run {
            scenario,
            out,
            overrides,
            threads,
            quiet,
            resume,
            overwrite,
            checkpoint_every,
            stop_at_step,
            device,
        } => {
            set_threads(threads)?;
            let mut overrides = overrides;
            overrides.extend(device.map(|d| format!("device={d}")));
            let scenario = load(&scenario, &overrides)?;
            let out = out.unwrap_or_else(|| PathBuf::from("runs").join(&scenario.name));
            if !(checkpoint_every.is_finite() && checkpoint_every > 0.0) {
                return Err(anyhow::Error::new(Error::invalid(
                    "--checkpoint-every",
                    checkpoint_every,
                    "a number of seconds > 0",
                )));
            }
            let interrupt = Arc::new(AtomicBool::new(false));
            {
                let flag = interrupt.clone();
                // A second Ctrl-C while stopping is ignored; the first stops after the step.
                let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
            }
            let options = RunOptions {
                out: out.clone(),
                resume,
                overwrite,
                checkpoint_every: Duration::from_secs_f64(checkpoint_every),
                interrupt: &interrupt,
                stop_at_step,
                threads: rayon::current_num_threads(),
            };
            let bar = step_bar(scenario.steps, quiet);
            let mut last_message = std::time::Instant::now();
            let mut progress = |p: meanfield::run::Progress| {
                if let Some(bar) = &bar {
                    bar.set_position(p.step);
                    if last_message.elapsed() > Duration::from_millis(200) {
                        bar.set_message(format!("risk {:.4e}", p.risk));
                        last_message = std::time::Instant::now();
                    }
                }
            };
            let result = run(&scenario, &options, &mut progress);
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            match result {
                Ok(summary) => {
                    let note = match summary.status {
                        Status::Interrupted => format!(
                            "interrupted at step {} of {}; resume with: {}",
                            summary.step,
                            scenario.steps,
                            resume_command(&out)
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
                    };
                    if !quiet || summary.status == Status::Interrupted {
                        eprintln!("{note}");
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
        Command::Limit {
            scenario,
            out,
            overrides,
            nodes,
            angle_nodes,
            overwrite,
            threads,
            quiet,
        } => {
            set_threads(threads)?;
            let scenario = load(&scenario, &overrides)?;
            let out = out
                .unwrap_or_else(|| PathBuf::from("runs").join(format!("{}-limit", scenario.name)));
            limit_command(&scenario, out, nodes, angle_nodes, overwrite, quiet)
        }
        Command::Sweep {
            scenario,
            widths,
            seeds,
            reference,
            out,
            jobs,
            shard,
            merge,
            overrides,
            overwrite,
            threads,
            quiet,
        } => {
            set_threads(threads)?;
            if let Some(dirs) = merge {
                let out = out.unwrap_or_else(|| dirs[0].clone());
                let summary = sweep::finish(&dirs, &out)?;
                if !quiet {
                    eprintln!("{summary}");
                }
                return Ok(ExitCode::SUCCESS);
            }
            let Some(scenario) = scenario else {
                return Err(anyhow::Error::new(BadInput(
                    "sweep needs a scenario file or --merge DIR...".into(),
                )));
            };
            let shard = shard.as_deref().map(parse_shard).transpose()?;
            let plan = Plan::build(
                &scenario,
                &overrides,
                &SweepOverrides {
                    widths,
                    seeds,
                    reference,
                },
            )
            .map_err(|e| match e {
                Error::Io { path, source } => anyhow::Error::new(BadInput(format!(
                    "cannot read the scenario file {}: {source}",
                    path.display()
                ))),
                other => anyhow::Error::new(other),
            })?;
            let out = out.unwrap_or_else(|| PathBuf::from("sweeps").join(&plan.name));
            let selection = match shard {
                Some((index, count)) => plan.shard(index, count),
                None => (0..plan.runs.len()).collect(),
            };
            let interrupt = Arc::new(AtomicBool::new(false));
            {
                let flag = interrupt.clone();
                let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
            }
            let bar = show_progress(quiet).then(|| {
                let bar = ProgressBar::new(selection.len() as u64);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{elapsed_precise} [{bar:30}] {pos}/{len} runs  ETA {eta}  {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar
            });
            let progress = |p: meanfield::sweep::SweepProgress| {
                if let Some(bar) = &bar {
                    bar.set_position(p.done as u64);
                    bar.set_message(p.id);
                }
            };
            let jobs = jobs.unwrap_or_else(rayon::current_num_threads);
            let report = sweep::execute_with(
                &plan,
                &selection,
                &out,
                &sweep::ExecuteOptions { jobs, overwrite },
                &interrupt,
                &progress,
            )?;
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            let counts = format!(
                "{} runs: {} done now, {} already done, {} diverged, {} interrupted",
                report.planned,
                report.finished,
                report.skipped,
                report.diverged,
                report.interrupted
            );
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
        Command::Check {
            scenario,
            overrides,
        } => {
            let scenario = load(&scenario, &overrides)?;
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
        Command::Plot { run_dir } => {
            replot(&run_dir)?;
            eprintln!("plots written to {}", run_dir.join("plots").display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            case,
            reps,
            json,
            quick,
            threads,
            scaling,
            out,
            max_m,
            max_n,
            quiet,
            size,
            device,
            precision,
        } => {
            set_threads(threads)?;
            let backend = Backend {
                device: Device::parse(&device)?,
                precision: Precision::parse(&precision)?,
            };
            check_precision(backend.device, backend.precision)?;
            if let Some(mode) = scaling {
                let mode = ScalingMode::parse(&mode)?;
                let max_size = match mode {
                    ScalingMode::Population => max_m,
                    ScalingMode::Data => max_n,
                };
                let out = out.unwrap_or_else(|| PathBuf::from("plots/performance"));
                return bench_scaling(mode, &out, quick, max_size, reps, threads, quiet);
            }
            if let Some(size) = size {
                let case = BenchCase::parse_size(&size)?;
                let record =
                    bench_size_on(case, Repetitions::adaptive(reps, POINT_BUDGET), backend)?;
                if json {
                    println!("{}", serde_json::to_string(&record)?);
                } else {
                    print_bench_line(&record);
                }
                return Ok(ExitCode::SUCCESS);
            }
            let cases: Vec<BenchCase> = if case == "all" {
                CASES.to_vec()
            } else {
                case.split(',')
                    .map(BenchCase::named)
                    .collect::<Result<_, _>>()?
            };
            for c in cases {
                let record = bench_case_on(c, reps, quick, backend)?;
                if json {
                    println!("{}", serde_json::to_string(&record)?);
                } else {
                    print_bench_line(&record);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// One line of `bench` without --json.
fn print_bench_line(record: &BenchRecord) {
    println!(
        "{:6} m = {:6} d = {:3} n = {:>6}: {:.4e} s/step (min {:.4e}), {:.1} GFLOP/s{}, {} threads; \
         gradient within {:.1e} of the reference",
        record.case,
        record.m,
        record.d,
        record.n.map_or("-".to_string(), |n| n.to_string()),
        record.s_per_step_median,
        record.s_per_step_min,
        record.gflops,
        match (record.bound_fraction, record.bound_gflops) {
            (Some(fraction), Some(bound)) => format!(
                " ({:.0} % of the GEMM rate, {bound:.1} GFLOP/s)",
                100.0 * fraction
            ),
            _ => String::new(),
        },
        record.threads,
        record.check_max_rel_error
    );
}

/// Mebibytes of a byte count, for messages.
fn mebibytes(bytes: Option<u64>) -> String {
    bytes.map_or_else(
        || "unknown".into(),
        |b| format!("{:.0} MiB", b as f64 / 1_048_576.0),
    )
}

/// `bench --scaling`: every size of the ladder timed in a child process of this binary
/// (`bench --size ... --json`), so that each point's peak resident memory is its own; then the
/// CSV table and the figures.
fn bench_scaling(
    mode: ScalingMode,
    out: &Path,
    quick: bool,
    max_size: Option<usize>,
    reps: usize,
    threads: Option<usize>,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let ladder = mode.ladder(quick, max_size)?;
    let program = std::env::current_exe()
        .context("cannot locate the meanfield binary to run each point in a child process")?;
    let symbol = mode.size_symbol();
    let bar = show_progress(quiet).then(|| {
        let bar = ProgressBar::new(ladder.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} points  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar
    });
    let mut records = Vec::with_capacity(ladder.len());
    for case in &ladder {
        let size = match mode {
            ScalingMode::Population => case.m,
            ScalingMode::Data => case.n.unwrap_or(0),
        };
        if let Some(bar) = &bar {
            bar.set_message(format!("timing {symbol} = {size}"));
        }
        let record = time_in_child(&program, case, reps, threads)?;
        if let Some(bar) = &bar {
            bar.println(format!(
                "{symbol} = {size:6}: {:.4e} s/step (min {:.4e}, {} reps), peak {}, \
                 gradient within {:.1e} of the reference",
                record.s_per_step_median,
                record.s_per_step_min,
                record.reps,
                mebibytes(record.peak_rss_bytes),
                record.check_max_rel_error
            ));
            bar.inc(1);
        }
        records.push(record);
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = write_scaling(mode, &records, out)?;
    if !quiet {
        let fit = match &report.fit {
            Some(fit) => format!(
                "time per step ~ {symbol}^{:.2} (95% interval [{:.2}, {:.2}], fitted on {symbol} = {}; expected {})",
                fit.slope,
                fit.interval.0,
                fit.interval.1,
                fit.fitted
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                mode.expected_slope()
            ),
            None => "too few points for a fit".into(),
        };
        eprintln!(
            "{} points of {} mode: {fit}; written to {}",
            records.len(),
            mode.name(),
            out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `program bench --size ... --json --reps N` and reads its JSON line.
fn time_in_child(
    program: &Path,
    case: &BenchCase,
    reps: usize,
    threads: Option<usize>,
) -> anyhow::Result<BenchRecord> {
    let spec = case.size_spec();
    let mut command = std::process::Command::new(program);
    command.args(["bench", "--size", &spec, "--json", "--quiet", "--reps"]);
    command.arg(reps.to_string());
    if let Some(threads) = threads {
        command.args(["--threads", &threads.to_string()]);
    }
    let output = command
        .output()
        .with_context(|| format!("could not start {} for the point {spec}", program.display()))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        anyhow::bail!(
            "the point {spec} failed ({}): {}",
            output.status,
            stderr.trim()
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|line| line.trim_start().starts_with('{'))
        .with_context(|| format!("the point {spec} printed no JSON line: {}", stdout.trim()))?;
    serde_json::from_str(line)
        .with_context(|| format!("the point {spec} printed an unreadable record: {line}"))
}
