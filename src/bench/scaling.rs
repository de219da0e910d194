//! `meanfield bench --scaling population|data` (`--scaling activations`: [`super::activations`]):
//! the time of one step against the width m (population mode, O(m^2 d) per step: docs/math.md
//! section 3) or against the number of samples n (data mode, O(n m d): section 4), with the peak
//! resident memory of each point.
//!
//! Each point is one [`bench_size`](super::bench_size) run (self-check, warm-up, up to
//! [`POINT_REPETITIONS`] timed steps, fewer once they add up to [`POINT_BUDGET`]); the command
//! line runs each in a child process of its own, so that the peak resident memory
//! ([`peak_resident_bytes`]) belongs to that point alone. This module holds the ladder of
//! sizes, the power-law fit and the output files:
//!
//! - `scaling_<mode>.csv`: one row per point (the varied size first, then m, n, d, k, median,
//!   minimum and maximum seconds per step, reps, peak resident bytes, threads, the self-check's
//!   largest relative deviation, and whether the point entered the fit);
//! - `scaling_<mode>.png` / `.svg`: median seconds per step against the size on log-log axes
//!   (bars from the fastest to the slowest step), the fitted points ([`fitted_points`]) apart
//!   from the others, with the power law fitted to their medians and its 95 % interval in the
//!   legend, and dashed guides m^2 and m (data mode: n);
//! - `scaling_<mode>_memory.png` / `.svg`: peak resident memory against the size.
//!
//! For small sizes fixed costs (thread hand-offs, the O(m d) update) flatten the curve, so only
//! the upper points are fitted: population m >= 4000, data n >= 2048 (the three largest points
//! when fewer are there).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::bench::{BenchCase, BenchRecord};
use crate::diagnostics::stats::{fit_power_law, student_t_quantile};
use crate::error::{Error, Result};
use crate::output::Table;
use crate::plot::scaling::{
    PowerFit, ReferenceSlope, ScalingFigure, ScalingSeries, render_scaling_with_slopes,
};

/// Timed steps per point, at most (the default of `--reps` with `--scaling`).
pub const POINT_REPETITIONS: usize = 5;

/// No further timed step of a point starts once its timed steps add up to this much.
pub const POINT_BUDGET: Duration = Duration::from_secs(20);

/// Input dimension of every scaling point.
pub const SCALING_D: usize = 32;

/// Width of the data-mode points.
pub const DATA_M: usize = 4096;

/// Confidence level of the slope interval.
const LEVEL: f64 = 0.95;

/// Peak resident memory of this process so far (VmHWM of `/proc/self/status`), in bytes;
/// `None` where that file does not exist or has no such line (any system but Linux).
pub fn peak_resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let mut fields = line["VmHWM:".len()..].split_whitespace();
    let value: u64 = fields.next()?.parse().ok()?;
    match fields.next() {
        Some("kB") => Some(value * 1024),
        _ => None,
    }
}

/// What `bench --scaling` times: a ladder of sizes in one mode, or the seven activations at one
/// size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalingKind {
    /// `population` or `data`: a ladder of sizes ([`ScalingMode`]).
    Sizes(ScalingMode),
    /// `activations`: the time per pair of each activation in population mode
    /// ([`super::activations`]).
    Activations,
}

impl ScalingKind {
    /// Parses `population`, `data` or `activations`.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the three.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "activations" => Ok(Self::Activations),
            _ => ScalingMode::parse(text)
                .map(Self::Sizes)
                .map_err(|_| Error::invalid("--scaling", text, "population, data or activations")),
        }
    }
}

/// What `bench --scaling` varies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalingMode {
    /// Population mode, the width m from 1,000 to 100,000 (d = 32, k = 4).
    Population,
    /// Data mode (a fixed data set), the number of samples n from 256 to 65,536 (m = 4096,
    /// d = 32, k = 4).
    Data,
}

impl ScalingMode {
    /// Parses `population` or `data`.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "population" => Ok(Self::Population),
            "data" => Ok(Self::Data),
            _ => Err(Error::invalid("--scaling", text, "population or data")),
        }
    }

    /// `population` or `data`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Population => "population",
            Self::Data => "data",
        }
    }

    /// The symbol of the varied size: `m` or `n`.
    pub fn size_symbol(self) -> &'static str {
        match self {
            Self::Population => "m",
            Self::Data => "n",
        }
    }

    /// The varied size of a point.
    pub fn size_of(self, record: &BenchRecord) -> usize {
        match self {
            Self::Population => record.m,
            Self::Data => record.n.unwrap_or(0),
        }
    }

    /// Points from this size up are fitted: population m >= 4000, data n >= 2048.
    pub fn fit_from(self) -> usize {
        match self {
            Self::Population => 4000,
            Self::Data => 2048,
        }
    }

    /// The exponent of the size expected in the time of a step: 2 (population), 1 (data).
    pub fn expected_slope(self) -> f64 {
        match self {
            Self::Population => 2.0,
            Self::Data => 1.0,
        }
    }

    /// The sizes to time, increasing: population m = 1000 10^(i/5) to two significant digits
    /// (1000, 1600, 2500, 4000, ..., 63000, 100000), data n = 256 2^i up to 65536. `quick`
    /// stops at 4000 (population) or 4096 (data); `max_size` drops larger sizes.
    ///
    /// # Errors
    /// [`Error::Invalid`] if `max_size` leaves no size (it is below the smallest).
    ///
    /// ```
    /// # use meanfield::bench::ScalingMode;
    /// let ladder = ScalingMode::Population.ladder(true, Some(2000))?;
    /// let widths: Vec<usize> = ladder.iter().map(|case| case.m).collect();
    /// assert_eq!(widths, vec![1000, 1600]);
    /// # Ok::<(), meanfield::Error>(())
    /// ```
    pub fn ladder(self, quick: bool, max_size: Option<usize>) -> Result<Vec<BenchCase>> {
        let (sizes, quick_limit): (Vec<usize>, usize) = match self {
            Self::Population => (
                (0..=10)
                    .map(|i| two_significant_digits(1000.0 * 10_f64.powf(f64::from(i) / 5.0)))
                    .collect(),
                4000,
            ),
            Self::Data => ((0..=8).map(|i| 256 << i).collect(), 4096),
        };
        let limit =
            max_size
                .unwrap_or(usize::MAX)
                .min(if quick { quick_limit } else { usize::MAX });
        let ladder: Vec<BenchCase> = sizes
            .into_iter()
            .filter(|&size| size <= limit)
            .map(|size| match self {
                Self::Population => BenchCase::custom(None, SCALING_D, size),
                Self::Data => BenchCase::custom(Some(size), SCALING_D, DATA_M),
            })
            .collect();
        if ladder.is_empty() {
            let smallest = match self {
                Self::Population => 1000,
                Self::Data => 256,
            };
            return Err(Error::invalid(
                format!("--max-{}", self.size_symbol()),
                max_size.unwrap_or(0),
                format!("at least {smallest}, the smallest size of the ladder"),
            ));
        }
        Ok(ladder)
    }
}

/// `value` rounded to two significant digits.
fn two_significant_digits(value: f64) -> usize {
    let unit = 10_f64.powf(value.log10().floor() - 1.0);
    ((value / unit).round() * unit).round() as usize
}

/// The power law fitted to the median times of a scaling run.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalingFit {
    /// The fitted exponent of the size.
    pub slope: f64,
    /// Natural logarithm of the prefactor.
    pub intercept_log: f64,
    /// The 95 % Student-t interval of the slope (NaN ends with two points: no residual
    /// degree of freedom).
    pub interval: (f64, f64),
    /// The sizes fitted.
    pub fitted: Vec<usize>,
}

/// Which points of `records` (in order of size) enter the fit: those of size >=
/// [`ScalingMode::fit_from`], or the three largest when fewer are there.
pub fn fitted_points(mode: ScalingMode, records: &[BenchRecord]) -> Vec<bool> {
    let upper = records
        .iter()
        .filter(|r| mode.size_of(r) >= mode.fit_from())
        .count();
    let first = if upper >= 3 {
        records.len() - upper
    } else {
        records.len().saturating_sub(3)
    };
    (0..records.len()).map(|i| i >= first).collect()
}

/// The power law C size^slope fitted (least squares on logarithms) to the median seconds per
/// step of the points [`fitted_points`] picks; `None` with fewer than two of them.
pub fn fit_scaling(mode: ScalingMode, records: &[BenchRecord]) -> Option<ScalingFit> {
    let chosen: Vec<&BenchRecord> = records
        .iter()
        .zip(fitted_points(mode, records))
        .filter_map(|(record, fitted)| fitted.then_some(record))
        .collect();
    let sizes: Vec<f64> = chosen.iter().map(|r| mode.size_of(r) as f64).collect();
    let times: Vec<f64> = chosen.iter().map(|r| r.s_per_step_median).collect();
    let fit = fit_power_law(&sizes, &times).ok()?;
    let half = student_t_quantile(0.5 * (1.0 + LEVEL), (fit.n as f64) - 2.0) * fit.slope_se;
    Some(ScalingFit {
        slope: fit.slope,
        intercept_log: fit.intercept,
        interval: (fit.slope - half, fit.slope + half),
        fitted: chosen.iter().map(|r| mode.size_of(r)).collect(),
    })
}

/// What [`write_scaling`] wrote.
#[derive(Clone, Debug)]
pub struct ScalingReport {
    /// The fit of the time per step, when there were at least two points to fit.
    pub fit: Option<ScalingFit>,
    /// The files written, in order.
    pub files: Vec<PathBuf>,
}

/// Writes the CSV table and the figures of a scaling run into `out` (created if missing),
/// every file atomically (see the module documentation for the files).
///
/// # Errors
/// [`Error::Invalid`] if `records` is empty or not increasing in size; [`Error::Io`] for a
/// file or directory that could not be written.
pub fn write_scaling(
    mode: ScalingMode,
    records: &[BenchRecord],
    out: &Path,
) -> Result<ScalingReport> {
    check_increasing(mode, records)?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let stem = out.join(format!("scaling_{}", mode.name()));
    let mut files = Vec::new();

    let fitted = fitted_points(mode, records);
    let csv = with_extension(&stem, "csv");
    scaling_table(mode, records, &fitted).write_csv(&csv)?;
    files.push(csv);

    let fit = fit_scaling(mode, records);
    let guides = match mode {
        ScalingMode::Population => reference_slopes(mode, &[2.0, 1.0]),
        ScalingMode::Data => reference_slopes(mode, &[1.0]),
    };
    render_scaling_with_slopes(
        &time_figure(mode, records, &fitted, fit.as_ref()),
        &guides,
        &stem,
    )?;
    files.push(with_extension(&stem, "png"));
    files.push(with_extension(&stem, "svg"));

    if let Some(memory_figure) = memory_figure(mode, records) {
        let memory_stem = out.join(format!("scaling_{}_memory", mode.name()));
        render_scaling_with_slopes(
            &memory_figure,
            &reference_slopes(mode, &[2.0, 1.0]),
            &memory_stem,
        )?;
        files.push(with_extension(&memory_stem, "png"));
        files.push(with_extension(&memory_stem, "svg"));
    }
    Ok(ScalingReport { fit, files })
}

/// Refuses no records, or records not increasing in size.
fn check_increasing(mode: ScalingMode, records: &[BenchRecord]) -> Result<()> {
    if records.is_empty() {
        return Err(Error::invalid(
            "scaling points",
            0,
            "at least one timed point",
        ));
    }
    if records
        .windows(2)
        .any(|pair| mode.size_of(&pair[0]) >= mode.size_of(&pair[1]))
    {
        return Err(Error::invalid(
            "scaling points",
            "sizes not increasing",
            "one point per size, in increasing order",
        ));
    }
    Ok(())
}

/// The CSV table of a scaling run: the size first, then the other sizes, the timings, memory,
/// threads, the check's error and whether the point is in the fit (`fitted`).
fn scaling_table(mode: ScalingMode, records: &[BenchRecord], fitted: &[bool]) -> Table {
    let symbol = mode.size_symbol();
    let mut columns = vec![symbol.to_string()];
    columns.extend(
        [
            "m",
            "n",
            "d",
            "k",
            "s_per_step_median",
            "s_per_step_min",
            "s_per_step_max",
            "reps",
            "peak_rss_bytes",
            "threads",
            "check_max_rel_error",
            "fitted",
        ]
        .iter()
        .filter(|name| **name != symbol)
        .map(|name| name.to_string()),
    );
    let mut table = Table::new(columns);
    for (record, &in_fit) in records.iter().zip(fitted) {
        let mut row = vec![mode.size_of(record) as f64];
        if mode == ScalingMode::Data {
            row.push(record.m as f64);
        } else {
            row.push(record.n.map_or(f64::NAN, |n| n as f64));
        }
        row.extend([
            record.d as f64,
            record.k as f64,
            record.s_per_step_median,
            record.s_per_step_min,
            record.s_per_step_max,
            record.reps as f64,
            record.peak_rss_bytes.map_or(f64::NAN, |b| b as f64),
            record.threads as f64,
            record.check_max_rel_error,
            f64::from(u8::from(in_fit)),
        ]);
        table.push(row);
    }
    table
}

/// The start of a figure title, naming the mode and its fixed sizes (the caller closes the
/// parenthesis). Titles stay under about 50 characters, so that they fit the 1200 px figure.
fn setting(mode: ScalingMode) -> String {
    match mode {
        ScalingMode::Population => format!("Population mode (d = {SCALING_D}"),
        ScalingMode::Data => format!("Data mode (m = {DATA_M}, d = {SCALING_D}"),
    }
}

/// The horizontal axis label: the size that grows.
fn x_label(mode: ScalingMode) -> &'static str {
    match mode {
        ScalingMode::Population => "width m",
        ScalingMode::Data => "samples n",
    }
}

/// Guide lines of the given slopes, labelled as powers of the size (`m^2`, `m`).
fn reference_slopes(mode: ScalingMode, exponents: &[f64]) -> Vec<ReferenceSlope> {
    let symbol = mode.size_symbol();
    let power = |exponent: f64| {
        if (exponent - 1.0).abs() < f64::EPSILON {
            symbol.to_string()
        } else {
            format!("{symbol}^{exponent}")
        }
    };
    exponents
        .iter()
        .map(|&slope| ReferenceSlope {
            slope,
            label: power(slope),
        })
        .collect()
}

/// The time-per-step figure: the fitted points carry the fit (drawn over their range only);
/// the smaller ones, left out of the fit, are a series of their own.
fn time_figure(
    mode: ScalingMode,
    records: &[BenchRecord],
    fitted: &[bool],
    fit: Option<&ScalingFit>,
) -> ScalingFigure {
    let symbol = mode.size_symbol();
    let threads = records[0].threads;
    let part = |in_fit: bool, label: String, fit: Option<PowerFit>| {
        let chosen: Vec<&BenchRecord> = records
            .iter()
            .zip(fitted)
            .filter_map(|(record, &f)| (f == in_fit).then_some(record))
            .collect();
        ScalingSeries {
            label,
            m: chosen.iter().map(|r| mode.size_of(r) as f64).collect(),
            value: chosen.iter().map(|r| r.s_per_step_median).collect(),
            lo: chosen.iter().map(|r| r.s_per_step_min).collect(),
            hi: chosen.iter().map(|r| r.s_per_step_max).collect(),
            fit,
        }
    };
    let mut series = Vec::new();
    if fitted.iter().any(|f| !f) {
        series.push(part(false, "not fitted".into(), None));
    }
    series.push(part(
        true,
        match fit {
            Some(fit) => format!(
                "fitted ({symbol} >= {})",
                fit.fitted.first().copied().unwrap_or(0)
            ),
            None => "too few points to fit".into(),
        },
        fit.map(|fit| PowerFit {
            slope: fit.slope,
            intercept_log: fit.intercept_log,
            lo: fit.interval.0,
            hi: fit.interval.1,
        }),
    ));
    ScalingFigure {
        title: format!("{}, {threads} threads): time per step", setting(mode)),
        x_label: x_label(mode).into(),
        y_label: "median s per step (bars: min-max)".into(),
        series,
    }
}

/// The peak-memory figure, when some point measured its memory.
fn memory_figure(mode: ScalingMode, records: &[BenchRecord]) -> Option<ScalingFigure> {
    let sizes: Vec<f64> = records.iter().map(|r| mode.size_of(r) as f64).collect();
    let memory: Vec<f64> = records
        .iter()
        .map(|r| {
            r.peak_rss_bytes
                .map_or(f64::NAN, |b| b as f64 / 1_048_576.0)
        })
        .collect();
    if !memory.iter().any(|v| v.is_finite() && *v > 0.0) {
        return None;
    }
    Some(ScalingFigure {
        title: format!("{}): peak memory", setting(mode)),
        x_label: x_label(mode).into(),
        y_label: "peak resident memory (MiB)".into(),
        series: vec![ScalingSeries {
            label: "peak resident memory (VmHWM)".into(),
            m: sizes,
            lo: vec![f64::NAN; memory.len()],
            hi: vec![f64::NAN; memory.len()],
            value: memory,
            fit: None,
        }],
    })
}

/// `stem.extension`, keeping any dots of the stem.
fn with_extension(stem: &Path, extension: &str) -> PathBuf {
    let mut name = stem.as_os_str().to_owned();
    name.push(".");
    name.push(extension);
    PathBuf::from(name)
}
