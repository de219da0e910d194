//! `meanfield bench`: validates [`BenchArgs`] into a [`BenchRequest`] (the backend, the
//! activation, and the standard cases, one point of a scaling ladder, the ladder itself, or the
//! seven activations of `--scaling activations`) and times it. A ladder runs each point in a
//! child process of this binary so that its peak memory is its own.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use meanfield::bench::activations::{activation_points, per_pair, write_activation_scaling};
use meanfield::bench::scaling::{POINT_BUDGET, ScalingFit};
use meanfield::bench::{
    Backend, BenchCase, BenchRecord, CASES, Repetitions, ScalingKind, ScalingMode, bench_case_on,
    bench_size_on, parse_activation, write_scaling,
};
use meanfield::device::{Device, Precision, check_precision};
use meanfield::math::Activation;

use super::args::BenchArgs;
use super::common::{progress_bar, set_threads};

/// A checked `meanfield bench`.
enum BenchRequest {
    /// `--scaling`: the ladder of one mode, timed point by point in child processes.
    Scaling(Scaling),
    /// `--size`: one point of a ladder (what a child process runs).
    Point {
        case: BenchCase,
        reps: usize,
        backend: Backend,
        json: bool,
    },
    /// The standard cases.
    Cases {
        cases: Vec<BenchCase>,
        reps: usize,
        quick: bool,
        backend: Backend,
        json: bool,
    },
}

/// `bench --scaling` as requested.
struct Scaling {
    kind: ScalingKind,
    /// Output directory (default plots/performance).
    out: PathBuf,
    quick: bool,
    /// `--max-m` or `--max-n`, whichever the mode's size is (`--max-m` for the activations).
    max_size: Option<usize>,
    reps: usize,
    /// Passed on to each child process.
    threads: Option<usize>,
    quiet: bool,
}

/// `meanfield bench`.
pub(super) fn command(args: BenchArgs) -> anyhow::Result<ExitCode> {
    set_threads(args.threads)?;
    match validate(args)? {
        BenchRequest::Scaling(scaling) => match scaling.kind {
            ScalingKind::Sizes(mode) => bench_scaling(mode, &scaling),
            ScalingKind::Activations => bench_activations(&scaling),
        },
        BenchRequest::Point {
            case,
            reps,
            backend,
            json,
        } => {
            let record = bench_size_on(case, Repetitions::adaptive(reps, POINT_BUDGET), backend)?;
            print_record(&record, json)?;
            Ok(ExitCode::SUCCESS)
        }
        BenchRequest::Cases {
            cases,
            reps,
            quick,
            backend,
            json,
        } => {
            for case in cases {
                let record = bench_case_on(case, reps, quick, backend)?;
                print_record(&record, json)?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The backend first, then the scaling mode, the point or the cases.
fn validate(args: BenchArgs) -> anyhow::Result<BenchRequest> {
    let backend = Backend {
        device: Device::parse(&args.device)?,
        precision: Precision::parse(&args.precision)?,
    };
    check_precision(backend.device, backend.precision)?;
    let activation = parse_activation(args.activation.as_deref().unwrap_or("relu"))?;
    if let Some(kind) = args.scaling {
        let kind = ScalingKind::parse(&kind)?;
        let max_size = match kind {
            ScalingKind::Sizes(ScalingMode::Population) | ScalingKind::Activations => args.max_m,
            ScalingKind::Sizes(ScalingMode::Data) => args.max_n,
        };
        return Ok(BenchRequest::Scaling(Scaling {
            kind,
            out: args
                .out
                .unwrap_or_else(|| PathBuf::from("plots/performance")),
            quick: args.quick,
            max_size,
            reps: args.reps,
            threads: args.threads,
            quiet: args.quiet,
        }));
    }
    if let Some(size) = args.size {
        return Ok(BenchRequest::Point {
            case: BenchCase::parse_size(&size)?.with_activation(activation),
            reps: args.reps,
            backend,
            json: args.json,
        });
    }
    let cases: Vec<BenchCase> = if args.case == "all" {
        CASES.to_vec()
    } else {
        args.case
            .split(',')
            .map(BenchCase::named)
            .collect::<Result<_, _>>()?
    };
    let cases = cases
        .into_iter()
        .map(|case| case.with_activation(activation))
        .collect();
    Ok(BenchRequest::Cases {
        cases,
        reps: args.reps,
        quick: args.quick,
        backend,
        json: args.json,
    })
}

/// One record: a JSON line with --json, else a line for people.
fn print_record(record: &BenchRecord, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(record)?);
    } else {
        print_bench_line(record);
    }
    Ok(())
}

/// One line of `bench` without --json.
fn print_bench_line(record: &BenchRecord) {
    println!(
        "{:6} m = {:6} d = {:3} n = {:>6}: {:.4e} s/step (min {:.4e}), {:.1} GFLOP/s{}, {} threads; \
         gradient within {:.1e} of the reference",
        match record.activation {
            Activation::Relu => record.case.clone(),
            other => format!("{} {other}", record.case),
        },
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
fn bench_scaling(mode: ScalingMode, scaling: &Scaling) -> anyhow::Result<ExitCode> {
    let ladder = mode.ladder(scaling.quick, scaling.max_size)?;
    let program = std::env::current_exe()
        .context("cannot locate the meanfield binary to run each point in a child process")?;
    let symbol = mode.size_symbol();
    let bar = progress_bar(
        ladder.len() as u64,
        scaling.quiet,
        "{elapsed_precise} [{bar:30}] {pos}/{len} points  {msg}",
    );
    let mut records = Vec::with_capacity(ladder.len());
    for case in &ladder {
        let size = match mode {
            ScalingMode::Population => case.m,
            ScalingMode::Data => case.n.unwrap_or(0),
        };
        if let Some(bar) = &bar {
            bar.set_message(format!("timing {symbol} = {size}"));
        }
        let record = time_in_child(&program, case, scaling.reps, scaling.threads)?;
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
    let report = write_scaling(mode, &records, &scaling.out)?;
    if !scaling.quiet {
        eprintln!(
            "{} points of {} mode: {}; written to {}",
            records.len(),
            mode.name(),
            fit_words(mode, report.fit.as_ref()),
            scaling.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `bench --scaling activations`: each activation timed in a child process of this binary
/// (population mode at the width of [`activation_width`]), then the CSV table and the figure.
fn bench_activations(scaling: &Scaling) -> anyhow::Result<ExitCode> {
    let points = activation_points(scaling.quick, scaling.max_size)?;
    let program = std::env::current_exe()
        .context("cannot locate the meanfield binary to run each point in a child process")?;
    let bar = progress_bar(
        points.len() as u64,
        scaling.quiet,
        "{elapsed_precise} [{bar:30}] {pos}/{len} activations  {msg}",
    );
    let mut records = Vec::with_capacity(points.len());
    for case in &points {
        let name = case.activation.name();
        if let Some(bar) = &bar {
            bar.set_message(format!("timing {name} at m = {}", case.m));
        }
        let mut record = time_in_child(&program, case, scaling.reps, scaling.threads)?;
        record.quick = scaling.quick;
        if let Some(bar) = &bar {
            bar.println(format!(
                "{name:9} m = {:5}: {:.4e} s/step, {:.3e} ns per pair (min {:.3e}, {} reps), \
                 gradient within {:.1e} of the reference",
                record.m,
                record.s_per_step_median,
                1e9 * per_pair(&record, record.s_per_step_median),
                1e9 * per_pair(&record, record.s_per_step_min),
                record.reps,
                record.check_max_rel_error
            ));
            bar.inc(1);
        }
        records.push(record);
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    write_activation_scaling(&records, &scaling.out)?;
    if !scaling.quiet {
        eprintln!(
            "{} activations timed in population mode; written to {}",
            records.len(),
            scaling.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The fitted power law in words.
fn fit_words(mode: ScalingMode, fit: Option<&ScalingFit>) -> String {
    let symbol = mode.size_symbol();
    match fit {
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
    }
}

/// Runs `program bench --size ... --activation NAME --json --reps N` and reads its JSON line.
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
    command.args(["--activation", case.activation.name()]);
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
