//! Gallery entry `information_exponent`: Hermite targets of growing degree (docs/problems.md,
//! "Hermite targets"; docs/gallery.md). A student of width m learns the single-index target
//! f*(x) = He_j(x_1) / sqrt(j!) from the exact population risk in the mean-field scaling, at
//! several input dimensions d. A neuron starts with an overlap p = w . e_1 / |w| of order
//! d^(-1/2); the population gradient along e_1 is of order p^(j - 1) (j is the information
//! exponent of the target: Ben Arous, Gheissari and Jagannath 2021), so the time to weak
//! recovery of the gradient flow is of order 1 for j = 1, log d for j = 2 and d^((j - 2) / 2)
//! for j >= 3 (dp/dt ~ p^(j - 1) from p ~ d^(-1/2)).
//!
//! A degree is learned only by a student whose activation has a non-zero Hermite coefficient
//! there: relu for j = 1, 2, 4 and erf for j = 1, 3, 5; relu against j = 3 is the negative
//! control (its coefficient q_3 is zero: no population gradient along e_1 at all).
//!
//! The start is symmetrised: particles in pairs (a, w) and (-a, w) ([`symmetric_start`]), so
//! that f = 0 at t = 0 for every activation and an O(m^(-1/2)) initial output does not compete
//! with the weak signal of a high degree; the pair has the marginals of the usual start
//! (a ~ N(0, 1), w ~ N(0, I / d)), so the mean-field limit is the same. (Pairs (a, w), (a, -w)
//! cancel f only for odd activations; a = 0 cancels f but starts the first layer at rest.)
//!
//! Recovery is measured on the snapshots by the mass-weighted upper quantile of the overlaps
//! |w_j . e_1| / |w_j| (weights |a_j| |w_j|: the level exceeded by a quarter of the mass,
//! [`upper_quantile`]); the time to weak recovery is the first time it reaches 1/2 (interpolated
//! in log t between snapshots). The exponent of that time against d is fitted freely per
//! seed (log-log least squares); the interval is that of the seeds.
//!
//! Checks: at the largest d a higher degree recovers later, within each activation (the worst
//! seed of the lower degree against the best of the higher); the fitted exponent of relu,
//! degree 4 lies in (1/2, 3/2) for every seed (between the exponents of degrees 3 and 5; theory
//! 1), while that of relu, degree 2 (log d) lies outside it; the control (relu, degree 3) does
//! not recover by the horizon of degree 4. In online mode at one d, the small batch's quantile
//! is noisier (its downward moves, summed, exceed the large batch's for every seed); the times
//! to weak recovery of both batches are reported.

use std::path::Path;

use nalgebra::DMatrix;
use rand::RngExt;
use rand_distr::StandardNormal;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::diagnostics::stats::fit_power_law;
use crate::error::Result;
use crate::gallery::context::read_snapshots;
use crate::gallery::numbers::{listing, rounded, rounded_all};
use crate::gallery::{Check, Context, Entry, Outcome};
use crate::output::write_npy;
use crate::plot::figure::{CurveStyle, render_styled};
use crate::plot::style::{GUIDE_GREY, PALETTE, dash_of, guide_dash};
use crate::plot::sweep::{GuideCurve, ScalingFigure, ScalingSeries, render_scaling_with_guides};
use crate::plot::{Curve, LineFigure, Scale};
use crate::random::{Purpose, stream};

/// The sizes of one gallery invocation (`[information_exponent.quick]` or `.full`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sizes {
    /// Input dimensions of the population runs.
    dims: Vec<usize>,
    /// Width m (even: pairs).
    m: usize,
    /// Seeds per (activation, degree, d).
    seeds: u64,
    /// Time step of the population runs.
    dt: f64,
    /// Horizon t_end for degrees 1 to 5 (the control uses that of degree 4).
    horizon: [f64; 5],
    /// Input dimension of the online runs.
    online_d: usize,
    /// Degree of the online runs (relu student).
    online_degree: usize,
    /// The two batch sizes of the online runs, small first.
    online_batches: [usize; 2],
    /// Horizon of the online runs.
    online_t_end: f64,
}

/// The learnable (activation, degree) pairs, relu first.
const CASES: [(&str, usize); 6] = [
    ("relu", 1),
    ("relu", 2),
    ("relu", 4),
    ("erf", 1),
    ("erf", 3),
    ("erf", 5),
];

/// The negative control: a degree relu cannot learn.
const CONTROL: (&str, usize) = ("relu", 3);

/// Weak recovery: the quantile of the overlap reaches this level.
const THRESHOLD: f64 = 0.5;

/// The share of the mass |a| |w| whose overlap the quantile bounds from below.
const MASS: f64 = 0.25;

/// The interval stated for the exponent of degree 4: between the exponents of degrees 3 and 5.
const DEGREE4_INTERVAL: (f64, f64) = (0.5, 1.5);

/// The quantile of the overlap at each snapshot of one run.
#[derive(Clone, Debug)]
struct Trajectory {
    time: Vec<f64>,
    level: Vec<f64>,
}

impl Trajectory {
    /// The first time the level reaches [`THRESHOLD`] (linear in the level, in log t between
    /// the two snapshots around it), or `None`.
    fn recovery_time(&self) -> Option<f64> {
        let k = self.level.iter().position(|&q| q >= THRESHOLD)?;
        if k == 0 {
            return Some(0.0);
        }
        let (t0, t1) = (self.time[k - 1], self.time[k]);
        let (q0, q1) = (self.level[k - 1], self.level[k]);
        let s = (THRESHOLD - q0) / (q1 - q0);
        if t0 <= 0.0 {
            return Some(t0 + s * (t1 - t0));
        }
        Some((t0.ln() + s * (t1.ln() - t0.ln())).exp())
    }
}

/// The runs of one (activation, degree): `runs[i][s]` at dims[i], seed s + 1.
struct Case {
    activation: &'static str,
    degree: usize,
    runs: Vec<Vec<Trajectory>>,
}

impl Case {
    fn label(&self) -> String {
        format!("{}, j = {}", self.activation, self.degree)
    }

    /// Recovery times at dims[i], one per seed (NaN when not recovered).
    fn times(&self, i: usize) -> Vec<f64> {
        self.runs[i]
            .iter()
            .map(|t| t.recovery_time().unwrap_or(f64::NAN))
            .collect()
    }

    /// The fitted exponent of each seed (NaN where a seed did not recover at some d).
    fn seed_slopes(&self, dims: &[usize]) -> Vec<f64> {
        let x: Vec<f64> = dims.iter().map(|&d| d as f64).collect();
        let seeds = self.runs.first().map_or(0, Vec::len);
        (0..seeds)
            .map(|s| {
                let y: Vec<f64> = (0..dims.len()).map(|i| self.times(i)[s]).collect();
                fit_power_law(&x, &y).map_or(f64::NAN, |fit| fit.slope)
            })
            .collect()
    }
}

/// Particles in pairs (a, w), (-a, w) with a ~ N(0, 1), w ~ N(0, I / d): pair i from the
/// stream (seed, init, 0, i); m must be even. f = 0 at t = 0 for any activation.
pub(crate) fn symmetric_start(m: usize, d: usize, seed: u64) -> DMatrix<f64> {
    let mut particles = DMatrix::zeros(m, 1 + d);
    let scale = 1.0 / (d as f64).sqrt();
    for pair in 0..m / 2 {
        let mut rng = stream(seed, Purpose::Init, 0, pair as u64);
        let a: f64 = rng.sample(StandardNormal);
        particles[(2 * pair, 0)] = a;
        particles[(2 * pair + 1, 0)] = -a;
        for k in 0..d {
            let w: f64 = rng.sample::<f64, _>(StandardNormal) * scale;
            particles[(2 * pair, 1 + k)] = w;
            particles[(2 * pair + 1, 1 + k)] = w;
        }
    }
    particles
}

/// The level exceeded by a share `mass` of the weight |a_j| |w_j| of the overlaps
/// |w_j . e_1| / |w_j| of `particles` (columns a, w): sorted from the largest overlap down,
/// the overlap at which the accumulated weight first reaches `mass` of the total.
pub(crate) fn upper_quantile(particles: &DMatrix<f64>, mass: f64) -> f64 {
    let mut pairs: Vec<(f64, f64)> = (0..particles.nrows())
        .map(|j| {
            let row = particles.row(j);
            let norm = row.columns(1, row.len() - 1).norm();
            let overlap = if norm > 0.0 { row[1].abs() / norm } else { 0.0 };
            (overlap, row[0].abs() * norm)
        })
        .collect();
    pairs.sort_by(|x, y| y.0.total_cmp(&x.0));
    let total: f64 = pairs.iter().map(|p| p.1).sum();
    let mut accumulated = 0.0;
    for &(overlap, weight) in &pairs {
        accumulated += weight;
        if accumulated >= mass * total {
            return overlap;
        }
    }
    0.0
}

/// Runs the entry.
pub(super) fn run(ctx: &Context<'_>, entry: &Entry) -> Result<Outcome> {
    let sizes: Sizes = ctx.sizes(entry.name)?;
    let work = ctx.work_dir(entry.name);
    let mut cases = Vec::new();
    for (activation, degree) in CASES {
        cases.push(population_case(
            ctx,
            entry.scenario,
            &sizes,
            (activation, degree),
            &sizes.dims,
            &work,
        )?);
    }
    let largest = sizes.dims[sizes.dims.len() - 1];
    let control = population_case(ctx, entry.scenario, &sizes, CONTROL, &[largest], &work)?;
    let mut online = Vec::new();
    for batch in sizes.online_batches {
        online.push(online_runs(ctx, entry.scenario, &sizes, batch, &work)?);
    }
    let figures = draw(ctx.out(), &sizes, &cases, &control, &online)?;
    Ok(Outcome {
        figures,
        numbers: numbers_of(&sizes, &cases, &control, &online),
        checks: checks_of(&sizes, &cases, &control, &online),
    })
}

/// The overrides shared by every run: seed, d, m, activation, degree, start file.
fn overrides(
    work: &Path,
    sizes: &Sizes,
    (activation, degree): (&str, usize),
    d: usize,
    seed: u64,
) -> Result<Vec<String>> {
    let init = work
        .join("starts")
        .join(format!("m{}_d{d}_seed{seed}.npy", sizes.m));
    if let Some(parent) = init.parent() {
        std::fs::create_dir_all(parent).map_err(|e| crate::error::Error::io(parent, e))?;
    }
    write_npy(&init, &symmetric_start(sizes.m, d, seed))?;
    let init = std::path::absolute(&init).map_err(|e| crate::error::Error::io(&init, e))?;
    Ok(vec![
        format!("seed={seed}"),
        format!("model.d={d}"),
        format!("model.m={}", sizes.m),
        format!("model.activation=\"{activation}\""),
        format!("target.terms=[{{direction=1,degree={degree},coef=1.0}}]"),
        format!("init.file={:?}", init.display().to_string()),
    ])
}

/// The overlap quantile of each snapshot of the run in `dir` (time = step dt).
fn trajectory(dir: &Path, dt: f64) -> Result<Trajectory> {
    let snapshots = read_snapshots(dir)?;
    Ok(Trajectory {
        time: snapshots
            .iter()
            .map(|(step, _)| *step as f64 * dt)
            .collect(),
        level: snapshots
            .iter()
            .map(|(_, p)| upper_quantile(p, MASS))
            .collect(),
    })
}

/// Runs (or reuses) the population runs of one (activation, degree) at `dims`, every seed.
fn population_case(
    ctx: &Context<'_>,
    file: &str,
    sizes: &Sizes,
    case: (&'static str, usize),
    dims: &[usize],
    work: &Path,
) -> Result<Case> {
    let t_end = sizes.horizon[case.1.clamp(1, 5) - 1].max(if case == CONTROL {
        sizes.horizon[3]
    } else {
        0.0
    });
    let mut runs = Vec::new();
    for &d in dims {
        let mut seeds = Vec::new();
        for seed in 1..=sizes.seeds {
            let mut set = overrides(work, sizes, case, d, seed)?;
            set.push(format!("dynamics.dt={:?}", sizes.dt));
            set.push(format!("dynamics.t_end={t_end:?}"));
            let scenario = ctx.scenario(file, &set)?;
            let dir = work.join(format!("{}_j{}_d{d}_seed{seed}", case.0, case.1));
            ctx.run(&scenario, &dir)?;
            seeds.push(trajectory(&dir, sizes.dt)?);
        }
        runs.push(seeds);
    }
    Ok(Case {
        activation: case.0,
        degree: case.1,
        runs,
    })
}

/// The online runs (relu, `online_degree`, d = `online_d`) with batch size `batch`, every seed.
fn online_runs(
    ctx: &Context<'_>,
    file: &str,
    sizes: &Sizes,
    batch: usize,
    work: &Path,
) -> Result<Vec<Trajectory>> {
    let (d, degree) = (sizes.online_d, sizes.online_degree);
    let mut seeds = Vec::new();
    for seed in 1..=sizes.seeds {
        let mut set = overrides(work, sizes, ("relu", degree), d, seed)?;
        set.extend([
            "risk.mode=\"online\"".to_string(),
            format!("risk.batch={batch}"),
            "risk.population_risk=false".to_string(),
            format!("dynamics.dt={:?}", sizes.dt),
            format!("dynamics.t_end={:?}", sizes.online_t_end),
        ]);
        let scenario = ctx.scenario(file, &set)?;
        let dir = work.join(format!("online_relu_j{degree}_d{d}_b{batch}_seed{seed}"));
        ctx.run(&scenario, &dir)?;
        seeds.push(trajectory(&dir, sizes.dt)?);
    }
    Ok(seeds)
}

fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// The geometric mean of positive values (NaN if one is not).
fn geometric_mean(values: &[f64]) -> f64 {
    (values.iter().map(|v| v.ln()).sum::<f64>() / values.len() as f64).exp()
}

/// Recovery times of the online runs with batch `online[b]`.
fn online_times(online: &[Trajectory]) -> Vec<f64> {
    online
        .iter()
        .map(|t| t.recovery_time().unwrap_or(f64::NAN))
        .collect()
}

/// The checked facts (module documentation).
fn checks_of(
    sizes: &Sizes,
    cases: &[Case],
    control: &Case,
    online: &[Vec<Trajectory>],
) -> Vec<Check> {
    let last = sizes.dims.len() - 1;
    let mut checks = Vec::new();
    for group in cases.chunks(3) {
        let times: Vec<Vec<f64>> = group.iter().map(|c| c.times(last)).collect();
        // NaN (not recovered) fails every comparison below but the last degree's upper end.
        let ordered = (1..group.len()).all(|k| max(&times[k - 1]) < min(&times[k]))
            && times.iter().all(|t| t.iter().all(|v| v.is_finite()));
        let degrees: Vec<usize> = group.iter().map(|c| c.degree).collect();
        let detail = times
            .iter()
            .zip(&degrees)
            .map(|(t, j)| format!("j = {j}: {}", listing(t)))
            .collect::<Vec<_>>()
            .join("; ");
        checks.push(Check::new(
            format!(
                "{}: at d = {}, each degree recovers later than the one before ({degrees:?}; \
                 the worst seed of the lower degree before the best of the higher)",
                group[0].activation, sizes.dims[last]
            ),
            ordered,
            format!("times to weak recovery per seed, {detail}"),
        ));
    }
    checks.push(slope_check(sizes, cases));
    let control_level = control.runs[0]
        .iter()
        .map(|t| max(&t.level))
        .collect::<Vec<_>>();
    checks.push(Check::new(
        format!(
            "negative control: relu against degree 3 (zero Hermite coefficient) does not reach \
             the overlap {THRESHOLD} by t = {} at d = {}",
            sizes.horizon[3], sizes.dims[last]
        ),
        control_level.iter().all(|&q| q < THRESHOLD),
        format!("largest quantile per seed {}", listing(&control_level)),
    ));
    checks.push(online_check(sizes, online));
    checks
}

/// The exponent check: every seed's exponent of relu, degree 4 in [`DEGREE4_INTERVAL`] (between
/// the exponents 1/2 and 3/2 of degrees 3 and 5), and every seed's exponent of relu, degree 2
/// outside it (its negative control: a fit that cannot tell log d from d^1 fails it).
fn slope_check(sizes: &Sizes, cases: &[Case]) -> Check {
    let (lo, hi) = DEGREE4_INTERVAL;
    let inside = |s: &f64| *s > lo && *s < hi;
    let four = cases[2].seed_slopes(&sizes.dims);
    let two = cases[1].seed_slopes(&sizes.dims);
    let passed = four.iter().all(inside) && two.iter().all(|s| s.is_finite() && !inside(s));
    Check::new(
        format!(
            "relu, j = 4: the exponent of the time to weak recovery against d, fitted per seed, \
             lies in ({lo}, {hi}) (between those of degrees 3 and 5; theory 1) for every seed; \
             relu, j = 2 (theory: log d) lies outside it for every seed"
        ),
        passed,
        format!(
            "d = {:?}: exponents j = 4: {}; j = 2: {}",
            sizes.dims,
            listing(&four),
            listing(&two)
        ),
    )
}

/// The downward moves of the quantile over a run, summed: zero for a monotone rise, the
/// stochastic gradient's noise adds to it.
fn roughness(trajectory: &Trajectory) -> f64 {
    trajectory
        .level
        .windows(2)
        .map(|w| (w[0] - w[1]).max(0.0))
        .sum()
}

/// The online check: the small batch's quantile is rougher than the large batch's (every seed
/// of the small batch against every seed of the large); the times are reported beside it.
fn online_check(sizes: &Sizes, online: &[Vec<Trajectory>]) -> Check {
    let rough: Vec<Vec<f64>> = online
        .iter()
        .map(|runs| runs.iter().map(roughness).collect())
        .collect();
    let [small, large] = sizes.online_batches;
    Check::new(
        format!(
            "online, relu, j = {}, d = {}: with batch {small} the overlap quantile is noisier \
             than with batch {large} (its summed downward moves, every seed against every seed)",
            sizes.online_degree, sizes.online_d
        ),
        min(&rough[0]) > max(&rough[1]),
        format!(
            "downward moves, batch {small}: {}; batch {large}: {}; times to weak recovery, \
             batch {small}: {}; batch {large}: {}",
            listing(&rough[0]),
            listing(&rough[1]),
            listing(&online_times(&online[0])),
            listing(&online_times(&online[1]))
        ),
    )
}

/// The numbers of gallery.json.
fn numbers_of(
    sizes: &Sizes,
    cases: &[Case],
    control: &Case,
    online: &[Vec<Trajectory>],
) -> Map<String, Value> {
    let mut numbers = Map::new();
    numbers.insert("d".into(), json!(sizes.dims));
    numbers.insert("m".into(), json!(sizes.m));
    numbers.insert("seeds".into(), json!(sizes.seeds));
    for case in cases {
        let key = format!("{}_j{}", case.activation, case.degree);
        let times: Vec<f64> = (0..sizes.dims.len())
            .map(|i| geometric_mean(&case.times(i)))
            .collect();
        let slopes = case.seed_slopes(&sizes.dims);
        numbers.insert(format!("{key}_time"), json!(rounded_all(&times, 4)));
        numbers.insert(format!("{key}_slope_seeds"), json!(rounded_all(&slopes, 3)));
        let x: Vec<f64> = sizes.dims.iter().map(|&d| d as f64).collect();
        let fit = fit_power_law(&x, &times).map_or(f64::NAN, |f| f.slope);
        numbers.insert(format!("{key}_slope_of_mean"), json!(rounded(fit, 3)));
    }
    let level: Vec<f64> = control.runs[0].iter().map(|t| max(&t.level)).collect();
    numbers.insert(
        "control_relu_j3_largest_quantile".into(),
        json!(rounded_all(&level, 3)),
    );
    for (b, runs) in sizes.online_batches.iter().zip(online) {
        numbers.insert(
            format!("online_batch{b}_time"),
            json!(rounded_all(&online_times(runs), 4)),
        );
        let rough: Vec<f64> = runs.iter().map(roughness).collect();
        numbers.insert(
            format!("online_batch{b}_downward_moves"),
            json!(rounded_all(&rough, 3)),
        );
    }
    numbers
}

/// The figures: time to weak recovery against d (one per activation, with the guides), the
/// quantile against time at the largest d, and the online runs.
fn draw(
    out: &Path,
    sizes: &Sizes,
    cases: &[Case],
    control: &Case,
    online: &[Vec<Trajectory>],
) -> Result<Vec<String>> {
    let mut stems = Vec::new();
    for group in cases.chunks(3) {
        let stem = format!("information_exponent_{}", group[0].activation);
        let (figure, guides) = by_d(sizes, group);
        render_scaling_with_guides(&figure, &[], &guides, &out.join(&stem))?;
        stems.push(stem);
    }
    // The overlap against time, one figure per activation (the control with relu): eight
    // curves in one chart leave no corner for the legend.
    for group in cases.chunks(3) {
        let with_control = group[0].activation == control.activation;
        let shown: Vec<&Case> = group
            .iter()
            .chain(with_control.then_some(control))
            .collect();
        stems.push(draw_overlap(out, sizes, &shown, control)?);
    }
    stems.push(draw_online(out, sizes, online)?);
    Ok(stems
        .iter()
        .flat_map(|stem| [format!("{stem}.png"), format!("{stem}.svg")])
        .collect())
}

/// The seed-mean overlap quantile against time at the largest d of `shown` (one activation),
/// with the threshold of weak recovery; returns the figure's stem.
fn draw_overlap(out: &Path, sizes: &Sizes, shown: &[&Case], control: &Case) -> Result<String> {
    let last = sizes.dims.len() - 1;
    let mut curves: Vec<Curve> = shown
        .iter()
        .map(|c| {
            let runs = if c.runs.len() > last {
                &c.runs[last]
            } else {
                &c.runs[0]
            };
            let role = if std::ptr::eq(*c, control) {
                " (control)"
            } else {
                ""
            };
            mean_curve(format!("{}, j = {}{role}", c.activation, c.degree), runs)
        })
        .collect();
    let mut styles: Vec<Option<CurveStyle>> = vec![None; curves.len()];
    curves.push(threshold_curve(&curves));
    styles.push(Some(THRESHOLD_STYLE));
    let activation = shown[0].activation;
    let stem = format!("information_exponent_overlap_{activation}");
    render_styled(
        &LineFigure {
            title: format!(
                "{activation}: overlap quantile (top {}% of |a| |w|), d = {}, m = {}",
                MASS * 100.0,
                sizes.dims[last],
                sizes.m
            ),
            x_label: "time t".into(),
            y_label: "overlap |w . e1| / |w| (seed mean)".into(),
            x_scale: Scale::Log,
            y_scale: Scale::Linear,
            curves,
        },
        &styles,
        &out.join(&stem),
    )?;
    Ok(stem)
}

/// The threshold's line: a guide (grey, dashed), not a series.
const THRESHOLD_STYLE: CurveStyle = (GUIDE_GREY, Some(guide_dash(0)));

/// The figure of the online runs: every seed's quantile against time, one colour per batch
/// and one dash per seed, so that the two batches read as two groups.
fn draw_online(out: &Path, sizes: &Sizes, online: &[Vec<Trajectory>]) -> Result<String> {
    let mut curves = Vec::new();
    let mut styles: Vec<Option<CurveStyle>> = Vec::new();
    for (b, (batch, runs)) in sizes.online_batches.iter().zip(online).enumerate() {
        for (s, run) in runs.iter().enumerate() {
            curves.push(Curve {
                label: format!("batch {batch}, seed {}", s + 1),
                x: run.time[1..].to_vec(),
                y: run.level[1..].to_vec(),
            });
            styles.push(Some((PALETTE[b % PALETTE.len()], dash_of(s))));
        }
    }
    curves.push(threshold_curve(&curves));
    styles.push(Some(THRESHOLD_STYLE));
    let stem = "information_exponent_online".to_string();
    render_styled(
        &LineFigure {
            title: format!(
                "Online SGD, relu, j = {}, d = {}, m = {}: overlap quantile",
                sizes.online_degree, sizes.online_d, sizes.m
            ),
            x_label: "time t".into(),
            y_label: "overlap |w . e1| / |w|".into(),
            x_scale: Scale::Log,
            y_scale: Scale::Linear,
            curves,
        },
        &styles,
        &out.join(&stem),
    )?;
    Ok(stem)
}

/// The horizontal line at [`THRESHOLD`] across the times of `curves`.
fn threshold_curve(curves: &[Curve]) -> Curve {
    let times: Vec<f64> = curves.iter().flat_map(|c| c.x.iter().copied()).collect();
    Curve {
        label: format!("threshold {THRESHOLD}"),
        x: vec![min(&times), max(&times)],
        y: vec![THRESHOLD; 2],
    }
}

/// The seed mean of the quantile at each snapshot (t > 0: the log axis).
fn mean_curve(label: String, runs: &[Trajectory]) -> Curve {
    let first = &runs[0];
    let y = (1..first.time.len())
        .map(|k| runs.iter().map(|r| r.level[k]).sum::<f64>() / runs.len() as f64)
        .collect();
    Curve {
        label,
        x: first.time[1..].to_vec(),
        y,
    }
}

/// Time to weak recovery against d for one activation's degrees (geometric seed mean, bars
/// from the fastest to the slowest seed, the free fit), with the guide of each degree through
/// its smallest-d point: 1 (j = 1), log d (j = 2), d^((j - 2) / 2) (j >= 3), drawn dashed in
/// the degree's colour (a guide, not data).
fn by_d(sizes: &Sizes, group: &[Case]) -> (ScalingFigure, Vec<GuideCurve>) {
    let x: Vec<f64> = sizes.dims.iter().map(|&d| d as f64).collect();
    let mut series = Vec::new();
    let mut guides = Vec::new();
    for case in group {
        let times: Vec<Vec<f64>> = (0..x.len()).map(|i| case.times(i)).collect();
        let value: Vec<f64> = times.iter().map(|t| geometric_mean(t)).collect();
        let fit = fit_power_law(&x, &value)
            .ok()
            .map(|f| crate::plot::sweep::PowerFit {
                slope: f.slope,
                intercept_log: f.intercept,
                lo: f64::NAN,
                hi: f64::NAN,
            });
        let guide: Vec<f64> = x
            .iter()
            .map(|&d| value[0] * guide(case.degree, d) / guide(case.degree, x[0]))
            .collect();
        guides.push(GuideCurve {
            label: format!("theory j = {}: {}", case.degree, guide_name(case.degree)),
            x: x.clone(),
            y: guide,
            series: series.len(),
        });
        series.push(ScalingSeries {
            label: case.label(),
            m: x.clone(),
            lo: times.iter().map(|t| min(t)).collect(),
            hi: times.iter().map(|t| max(t)).collect(),
            value,
            fit,
        });
    }
    let figure = ScalingFigure {
        title: format!(
            "Time to weak recovery against d, {}, m = {} ({} seeds)",
            group[0].activation, sizes.m, sizes.seeds
        ),
        x_label: "input dimension d".into(),
        y_label: "time to overlap 1/2 (bars: seed range)".into(),
        series,
    };
    (figure, guides)
}

/// The scaling of the time to weak recovery of degree j in d (up to a constant).
fn guide(degree: usize, d: f64) -> f64 {
    match degree {
        0 | 1 => 1.0,
        2 => d.ln(),
        j => d.powf((j as f64 - 2.0) / 2.0),
    }
}

fn guide_name(degree: usize) -> String {
    match degree {
        0 | 1 => "order 1".into(),
        2 => "log d".into(),
        j => format!("d^{}", (j as f64 - 2.0) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    #![allow(
        clippy::float_cmp,
        reason = "the pairs are copies and negations, exactly"
    )]

    use super::*;

    #[test]
    fn the_shipped_sizes_read() {
        let quick: Sizes =
            crate::gallery::context::shipped_sizes("information_exponent", true).unwrap();
        let full: Sizes =
            crate::gallery::context::shipped_sizes("information_exponent", false).unwrap();
        assert!(
            quick.dims.len() <= full.dims.len()
                && quick.m.is_multiple_of(2)
                && full.m.is_multiple_of(2)
        );
    }

    #[test]
    fn the_symmetric_start_has_zero_output_weight_sum_and_paired_first_layers() {
        let p = symmetric_start(6, 3, 7);
        for pair in 0..3 {
            assert_eq!(p[(2 * pair, 0)], -p[(2 * pair + 1, 0)]);
            for k in 1..4 {
                assert_eq!(p[(2 * pair, k)], p[(2 * pair + 1, k)]);
            }
        }
    }

    #[test]
    fn the_quantile_weighs_by_a_times_the_norm() {
        // Overlaps 1 (weight 1), 0 (weight 3): a quarter of the mass has overlap 1; half
        // of it needs the second particle.
        let p = DMatrix::from_row_slice(2, 3, &[1.0, 1.0, 0.0, -3.0, 0.0, 1.0]);
        assert_eq!(upper_quantile(&p, 0.25), 1.0);
        assert_eq!(upper_quantile(&p, 0.5), 0.0);
    }

    #[test]
    fn the_recovery_time_interpolates_in_log_time() {
        let t = Trajectory {
            time: vec![0.0, 1.0, 100.0],
            level: vec![0.1, 0.3, 0.7],
        };
        assert!((t.recovery_time().unwrap() - 10.0).abs() < 1e-12);
        let never = Trajectory {
            time: vec![0.0, 1.0],
            level: vec![0.1, 0.2],
        };
        assert!(never.recovery_time().is_none());
    }
}
