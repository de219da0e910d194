//! Gallery entry `barron`: the approximation rate of the Barron space (Barron 1993; E, Ma and Wu
//! 2022, "The Barron space and the flow-induced function spaces for neural network models",
//! Constructive Approximation). For f* = E_rho[a sigma(w . x)], sampling m neurons i.i.d. from
//! rho gives a width-m network f_m with E ||f_m - f*||^2 = (E_rho[a^2 sigma(w . x)^2] - ||f*||^2)
//! / m (Maurey's argument), whatever d; so the best width-m risk is at most
//! U(m) = (E_rho[a^2 K(w, w)] - E f*^2) / (2 m), with K the relu kernel (K(w, w) = |w|^2 / 2, so
//! U(m) <= P^2 / (4 m) for the path norm P = E_rho |a| |w|).
//!
//! `scenarios/gallery/barron.toml` trains relu students of width m on the population risk of a
//! teacher of k = 256 neurons (a* = 1, |w*| = 1: P = 1) whose directions are Gaussian in a
//! 4-dimensional subspace, at d = 4, 16, 64 and widths m << k. The teacher (written by the
//! entry: [`teacher`]) is the same function at every d, so the best width-m risk does not grow
//! with d and any growth is the optimiser's.
//!
//! Checks ([`checks`], a pure function of the measured risks): at each d, (1) every seed's risk
//! at every m lies below U(m) (the rate, with its exact constant: no fit, no tolerance; the
//! trained risk is an upper bound on the best width-m risk, so this shows gradient flow attains
//! the Barron rate) and (2) the least-squares slope of log R against log m (all seeds) is not
//! flatter than -1: slope - 1.96 se <= -1. Negative control: the same network with the first
//! layer frozen (random features) at the largest d: its features are isotropic in R^d, almost
//! orthogonal to the teacher's subspace, and its risk stalls at the non-linear part of f*; both
//! checks must fail there (the entry fails if they pass).

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, json};

use super::numbers::{listing, pooled_power_law, rounded, rounded_all, seed_means};
use crate::error::Result;
use crate::gallery::{Check, Context, Entry, Outcome};
use crate::math::{Activation, PairKernel};
use crate::output::write_npy;
use crate::plot::{Curve, LineFigure, Scale, render_lines};
use crate::task::{Directions, OutputWeights, Teacher, TeacherSpec};

/// Teacher neurons k (the widths stay well below it).
const TEACHER_K: usize = 256;

/// Dimension of the teacher's subspace (the first coordinates).
const SUBSPACE: usize = 4;

/// Seed of the teacher's directions (streams (seed, Teacher, 0, i)).
const TEACHER_SEED: u64 = 7;

/// The two-sided 95 % normal quantile of the slope's interval.
const Z95: f64 = 1.959_963_984_540_054;

/// Sizes of the entry (`[barron.quick]`, `[barron.full]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Sizes {
    /// Input dimensions d (model.d); the control runs at the largest.
    pub dims: Vec<usize>,
    /// Widths m (model.m).
    pub widths: Vec<usize>,
    /// Student seeds 1 to `seeds`.
    pub seeds: u64,
    /// dynamics.t_end.
    pub t_end: f64,
}

/// The final risks of one curve: one (d, training) at every width.
#[derive(Clone, Debug)]
pub(super) struct Curves {
    /// Input dimension.
    pub d: usize,
    /// Final risk, `risk[w][s]` at width `widths[w]`, seed s + 1.
    pub risk: Vec<Vec<f64>>,
    /// -d ln R / d ln t over the last factor 2 of time, the largest over widths and seeds (the
    /// stopping statistic: 0 at convergence).
    pub end_rate: f64,
}

/// What the checks are decided on.
#[derive(Clone, Debug)]
pub(super) struct Measured {
    /// Widths m.
    pub widths: Vec<f64>,
    /// The Maurey bound U(m) at each width (the same function at every d).
    pub bound: Vec<f64>,
    /// The trained curves, one per d.
    pub trained: Vec<Curves>,
    /// The frozen-first-layer curve at the largest d.
    pub control: Curves,
}

/// The teacher in input dimension `d`: k neurons, a* = 1, unit directions Gaussian in the first
/// [`SUBSPACE`] coordinates (the same numbers at every d).
pub(super) fn teacher(d: usize) -> Result<Teacher> {
    let spec = TeacherSpec {
        k: TEACHER_K,
        directions: Directions::Gaussian,
        norm: 1.0,
        a: OutputWeights::Constant(1.0),
    };
    Teacher::generate(
        &spec,
        SUBSPACE.min(d),
        d,
        Activation::Relu,
        0.0,
        TEACHER_SEED,
    )
}

/// U(m) = (E_rho[a^2 K(w, w)] - E f*^2) / (2 m), and the path norm P = E_rho |a| |w|, of
/// `teacher` (rho uniform on its neurons).
pub(super) fn maurey_constant(teacher: &Teacher) -> (f64, f64) {
    let kernel = PairKernel::new(teacher.activation());
    let theta = teacher.matrix();
    let k = theta.nrows() as f64;
    let d = theta.ncols() - 1;
    let (mut second, mut path) = (0.0, 0.0);
    for row in theta.row_iter() {
        let w: Vec<f64> = row.iter().skip(1).copied().collect();
        second += row[0] * row[0] * kernel.kernel(&w, &w);
        path += row[0].abs() * w.iter().map(|x| x * x).sum::<f64>().sqrt();
    }
    debug_assert_eq!(d + 1, theta.ncols());
    (
        (second / k - teacher.second_moment(&kernel)) / 2.0,
        path / k,
    )
}

/// Runs the entry.
pub(super) fn run(ctx: &Context<'_>, entry: &Entry) -> Result<Outcome> {
    let sizes: Sizes = ctx.sizes(entry.name)?;
    let measured = measure(ctx, entry, &sizes)?;
    draw(&measured, &ctx.out().join("barron"))?;
    let mut numbers = Map::new();
    numbers.insert("k".into(), json!(TEACHER_K));
    numbers.insert("t_end".into(), json!(sizes.t_end));
    numbers.insert("seeds".into(), json!(sizes.seeds));
    numbers.insert("widths".into(), json!(sizes.widths));
    numbers.insert("bound".into(), json!(rounded_all(&measured.bound, 4)));
    for curve in measured.trained.iter().chain([&measured.control]) {
        let name = if std::ptr::eq(curve, &measured.control) {
            format!("random_features_d{}", curve.d)
        } else {
            format!("trained_d{}", curve.d)
        };
        numbers.insert(
            format!("{name}_mean_risk"),
            json!(rounded_all(&seed_means(&curve.risk), 4)),
        );
        let (slope, se) = pooled_power_law(&measured.widths, &curve.risk);
        numbers.insert(format!("{name}_slope"), json!(rounded(slope, 4)));
        numbers.insert(format!("{name}_slope_se"), json!(rounded(se, 3)));
        numbers.insert(
            format!("{name}_constant"),
            json!(rounded(constant(&measured, curve), 4)),
        );
        numbers.insert(
            format!("{name}_end_rate"),
            json!(rounded(curve.end_rate, 3)),
        );
    }
    numbers.insert("d_spread".into(), json!(rounded(d_spread(&measured), 4)));
    Ok(Outcome {
        figures: ["barron.png", "barron.svg"].map(String::from).to_vec(),
        numbers,
        checks: checks(&measured),
    })
}

/// Runs (or reuses) every (d, m, seed) and the control, and reads their final risks.
pub(super) fn measure(ctx: &Context<'_>, entry: &Entry, sizes: &Sizes) -> Result<Measured> {
    let work = ctx.work_dir(entry.name);
    std::fs::create_dir_all(&work).map_err(|e| crate::error::Error::io(&work, e))?;
    let mut bound = Vec::new();
    let mut trained = Vec::new();
    for &d in &sizes.dims {
        let teacher = teacher(d)?;
        let file = work.join(format!("barron_teacher_d{d}.npy"));
        write_npy(&file, teacher.matrix())?;
        let (constant, _) = maurey_constant(&teacher);
        bound = sizes.widths.iter().map(|&m| constant / m as f64).collect();
        trained.push(curves(ctx, entry, sizes, d, "both", &file)?);
    }
    let largest = sizes.dims.iter().copied().max().unwrap_or(SUBSPACE);
    let file = work.join(format!("barron_teacher_d{largest}.npy"));
    let control = curves(ctx, entry, sizes, largest, "a_only", &file)?;
    Ok(Measured {
        widths: sizes.widths.iter().map(|&m| m as f64).collect(),
        bound,
        trained,
        control,
    })
}

/// The final risks of training `train` at dimension `d`, every width and seed.
fn curves(
    ctx: &Context<'_>,
    entry: &Entry,
    sizes: &Sizes,
    d: usize,
    train: &str,
    teacher_file: &Path,
) -> Result<Curves> {
    let mut risk = Vec::new();
    let mut end_rate: f64 = 0.0;
    for &m in &sizes.widths {
        let mut row = Vec::new();
        for seed in 1..=sizes.seeds {
            let overrides = vec![
                format!("seed={seed}"),
                format!("model.d={d}"),
                format!("model.m={m}"),
                format!("dynamics.train=\"{train}\""),
                format!("dynamics.t_end={:?}", sizes.t_end),
                "target.k=none".into(),
                "target.directions=none".into(),
                "target.a=none".into(),
                "target.norm=none".into(),
                "target.seed=none".into(),
                format!("target.file={:?}", teacher_file.display().to_string()),
            ];
            let scenario = ctx.scenario(entry.scenario, &overrides)?;
            let dir = ctx
                .work_dir(entry.name)
                .join(format!("d{d}_m{m}_{train}_seed{seed}"));
            let output = ctx.run(&scenario, &dir)?;
            let time = output.series_column("time")?;
            let series = output.series_column("risk")?;
            end_rate = end_rate.max(last_doubling_rate(&time, &series));
            row.push(output.summary.final_risk);
        }
        risk.push(row);
    }
    Ok(Curves { d, risk, end_rate })
}

/// -d ln R / d ln t between the logged time nearest to half the last and the last (0 where the
/// risk no longer falls; NaN without two positive times).
fn last_doubling_rate(time: &[f64], risk: &[f64]) -> f64 {
    let (Some(&t_last), Some(&r_last)) = (time.last(), risk.last()) else {
        return f64::NAN;
    };
    let half = (t_last / 2.0).ln();
    let earlier = time
        .iter()
        .zip(risk)
        .filter(|(t, _)| **t > 0.0 && **t < t_last)
        .min_by(|a, b| (a.0.ln() - half).abs().total_cmp(&(b.0.ln() - half).abs()));
    match earlier {
        Some((t, r)) => (r / r_last).ln() / (t_last / t).ln(),
        None => f64::NAN,
    }
}

/// The largest ratio of a seed's risk to the bound U(m), over widths and seeds: the constant C
/// in R <= C U(m) (the theorem: C <= 1).
fn constant(measured: &Measured, curve: &Curves) -> f64 {
    curve
        .risk
        .iter()
        .zip(&measured.bound)
        .flat_map(|(row, u)| row.iter().map(move |r| r / u))
        .fold(f64::NEG_INFINITY, f64::max)
}

/// The largest ratio, over widths, of the largest to the smallest seed-mean trained risk across
/// d (reported: 1 if the curves coincide).
fn d_spread(measured: &Measured) -> f64 {
    let all: Vec<Vec<f64>> = measured
        .trained
        .iter()
        .map(|c| seed_means(&c.risk))
        .collect();
    (0..measured.widths.len())
        .map(|w| {
            let column = all.iter().map(|c| c[w]);
            let high = column.clone().fold(f64::NEG_INFINITY, f64::max);
            let low = column.fold(f64::INFINITY, f64::min);
            high / low
        })
        .fold(f64::NEG_INFINITY, f64::max)
}

/// Whether `curve` lies under the bound at every width and seed, and whether its slope is not
/// flatter than -1; with the details.
fn rate_holds(measured: &Measured, curve: &Curves) -> (bool, bool, String) {
    let c = constant(measured, curve);
    let (slope, se) = pooled_power_law(&measured.widths, &curve.risk);
    let detail = format!(
        "d = {}: largest R / U(m) = {c:.3} (mean risks {}, bound {}); slope {slope:.3} +- \
         {se:.3} (1 se), slope - 1.96 se = {:.3}",
        curve.d,
        listing(&seed_means(&curve.risk)),
        listing(&measured.bound),
        slope - Z95 * se
    );
    (c <= 1.0, slope - Z95 * se <= -1.0, detail)
}

/// The entry's checks, from the measured risks alone.
pub(super) fn checks(measured: &Measured) -> Vec<Check> {
    let mut checks = Vec::new();
    for curve in &measured.trained {
        let (under, steep, detail) = rate_holds(measured, curve);
        checks.push(Check::new(
            format!(
                "d = {}: every seed's risk at every width lies below the Maurey bound \
                 U(m) = (E_rho[a^2 K(w, w)] - E f*^2) / (2 m)",
                curve.d
            ),
            under,
            detail.clone(),
        ));
        checks.push(Check::new(
            format!(
                "d = {}: the risk falls at least like 1/m (slope of log R on log m, minus 1.96 \
                 standard errors, <= -1)",
                curve.d
            ),
            steep,
            detail,
        ));
    }
    let (under, steep, detail) = rate_holds(measured, &measured.control);
    checks.push(Check::new(
        format!(
            "negative control: with the first layer frozen (random features) at d = {}, the \
             risk breaks the bound or falls slower than 1/m",
            measured.control.d
        ),
        !(under && steep),
        detail,
    ));
    checks
}

/// Risk against width, log-log: each trained d, the control, and the bound.
fn draw(measured: &Measured, stem: &Path) -> Result<()> {
    let mut curves: Vec<Curve> = measured
        .trained
        .iter()
        .map(|c| Curve {
            label: format!("trained, d = {}", c.d),
            x: measured.widths.clone(),
            y: seed_means(&c.risk),
        })
        .collect();
    curves.push(Curve {
        label: format!("random features, d = {}", measured.control.d),
        x: measured.widths.clone(),
        y: seed_means(&measured.control.risk),
    });
    curves.push(Curve {
        label: "Maurey bound U(m)".into(),
        x: measured.widths.clone(),
        y: measured.bound.clone(),
    });
    let figure = LineFigure {
        title: format!(
            "Risk at t_end (seed mean) against width m: relu teacher, k = {TEACHER_K}, path norm \
             1"
        ),
        x_label: "width m".into(),
        y_label: "population risk".into(),
        x_scale: Scale::Log,
        y_scale: Scale::Log,
        curves,
    };
    render_lines(&figure, stem)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn synthetic(exponent: f64, scale: f64) -> Measured {
        let widths = vec![4.0, 8.0, 16.0, 32.0];
        let bound: Vec<f64> = widths.iter().map(|m| 0.16 / m).collect();
        let curve = |d, p: f64, s: f64| Curves {
            d,
            risk: widths
                .iter()
                .map(|m: &f64| vec![s * m.powf(p), 1.1 * s * m.powf(p)])
                .collect(),
            end_rate: 0.0,
        };
        Measured {
            widths: widths.clone(),
            bound,
            trained: vec![curve(4, exponent, scale), curve(64, exponent, scale)],
            control: curve(64, -0.45, 0.07),
        }
    }

    #[test]
    fn a_rate_faster_than_one_over_m_under_the_bound_passes_and_the_control_fails() {
        let checks = checks(&synthetic(-1.9, 0.05));
        assert!(checks.iter().all(|c| c.passed), "{checks:#?}");
    }

    #[test]
    fn a_flat_or_too_high_curve_fails() {
        let flat = checks(&synthetic(-0.5, 0.01));
        assert!(!flat[1].passed && !flat[3].passed, "{flat:#?}");
        let high = checks(&synthetic(-1.0, 0.2));
        assert!(!high[0].passed, "{high:#?}");
    }

    #[test]
    fn the_teacher_has_path_norm_one_and_is_the_same_function_at_every_d() {
        let (c4, p4) = maurey_constant(&teacher(4).unwrap());
        let (c64, p64) = maurey_constant(&teacher(64).unwrap());
        assert!((p4 - 1.0).abs() < 1e-12 && (p64 - 1.0).abs() < 1e-12);
        assert!((c4 - c64).abs() < 1e-12 * c4, "{c4} {c64}");
        // U(m) <= P^2 / (4 m).
        assert!(c4 > 0.0 && c4 <= 0.25);
        let t64 = teacher(64).unwrap();
        assert!(
            t64.matrix()
                .columns(1 + SUBSPACE, 60)
                .iter()
                .all(|x| *x == 0.0)
        );
    }

    /// The negative control, run at tiny size through the entry's own measuring code: random
    /// features (first layer frozen) at d = 64, widths 8 and 32, one seed, t = 300 (seconds in
    /// release mode). Put in the place of a trained curve, it must fail both checks.
    #[test]
    fn the_random_features_control_fails_the_checks() {
        let root = tempfile::tempdir().unwrap();
        let options = crate::gallery::context::scratch_options(root.path());
        let ctx = Context::new(&options);
        let entry = crate::gallery::ENTRIES
            .iter()
            .find(|e| e.name == "barron")
            .unwrap();
        let sizes = Sizes {
            dims: vec![64],
            widths: vec![8, 32],
            seeds: 1,
            t_end: 300.0,
        };
        let teacher = teacher(64).unwrap();
        let file = ctx.work_dir("barron").join("teacher.npy");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        write_npy(&file, teacher.matrix()).unwrap();
        let control = curves(&ctx, entry, &sizes, 64, "a_only", &file).unwrap();
        let (c, _) = maurey_constant(&teacher);
        let measured = Measured {
            widths: vec![8.0, 32.0],
            bound: vec![c / 8.0, c / 32.0],
            trained: vec![control.clone()],
            control,
        };
        let checks = checks(&measured);
        assert!(!checks[0].passed && !checks[1].passed, "{checks:#?}");
    }

    #[test]
    fn the_doubling_rate_of_a_power_law_is_its_exponent() {
        let time: Vec<f64> = (1..=64).map(f64::from).collect();
        let risk: Vec<f64> = time.iter().map(|t| t.powf(-0.7)).collect();
        assert!((last_doubling_rate(&time, &risk) - 0.7).abs() < 1e-12);
    }
}
