//! Gallery entry `generalisation`: the generalisation gap of a two-layer relu network against
//! the number n of samples (E, Ma and Wu 2019, "A priori estimates of the population risk for
//! two-layer neural networks", Comm. Math. Sci. 17(5)). Their estimates bound the gap between
//! population and training risk, uniformly over networks of path norm at most Q, by a multiple of
//! (Q + 1) sqrt(log(2 d) / n) (the Rademacher complexity of the path-norm ball), and the path
//! norm of their regularised estimator by a multiple of the Barron norm of f*: an upper bound of
//! order n^(-1/2) up to the logarithm.
//!
//! `scenarios/gallery/generalisation.toml` trains relu students of width 64 with weight decay
//! lambda (for 2-homogeneous relu neurons lambda mean_j |theta_j|^2 / 2 >= lambda mean_j |a_j|
//! |w_j|, with equality for balanced neurons; the flow shrinks the imbalance a_j^2 - |w_j|^2 like
//! exp(-2 lambda t): up to it, a path-norm penalty) on n
//! samples of the `barron` entry's teacher (path norm 1), at d = 4 and 32; and the same without
//! weight decay. The gap is the exact population risk (`population_risk`) minus the training
//! risk at t_end.
//!
//! Checks ([`checks`], a pure function of the measured gaps): at each d the regularised gap is
//! positive and falls at least like n^(-1/2): the least-squares slope of log gap on log n (all
//! seeds), minus 1.96 standard errors, is at most -1/2. Negative control: no weight decay and
//! label noise (standard deviation s) at the largest d, where m (1 + d) parameters exceed n: the
//! network interpolates the noise, its training risk goes to 0 while its population risk stays
//! above s^2 / 2, so the gap does not shrink and the check must fail (the entry fails if it
//! passes).

use std::path::Path;

use nalgebra::DMatrix;
use serde::Deserialize;
use serde_json::{Map, json};

use super::numbers::{listing, pooled_power_law, rounded, rounded_all, seed_means};
use crate::error::{Error, Result};
use crate::gallery::{Check, Context, Entry, Outcome};
use crate::output::write_npy;
use crate::plot::{Curve, LineFigure, Scale, render_lines};

/// The two-sided 95 % normal quantile of the slope's interval.
const Z95: f64 = 1.959_963_984_540_054;

/// The rate of the a priori estimate: gap = O(n^RATE) up to logarithms.
const RATE: f64 = -0.5;

/// Sizes of the entry (`[generalisation.quick]`, `[generalisation.full]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Sizes {
    /// Input dimensions d (model.d); the control runs at the largest.
    pub dims: Vec<usize>,
    /// Training-set sizes n (risk.n).
    pub ns: Vec<usize>,
    /// Student seeds 1 to `seeds` (each seed draws its own training set and student).
    pub seeds: u64,
    /// dynamics.t_end.
    pub t_end: f64,
    /// dynamics.lambda of the regularised runs.
    pub lambda: f64,
    /// target.noise_std of the control.
    pub noise_std: f64,
}

/// The runs of one (d, setting) at every n.
#[derive(Clone, Debug)]
pub(super) struct Gaps {
    /// Input dimension.
    pub d: usize,
    /// Population minus training risk at t_end, `gap[i][s]` at n = `ns[i]`, seed s + 1.
    pub gap: Vec<Vec<f64>>,
    /// The training risk at t_end, likewise.
    pub train: Vec<Vec<f64>>,
    /// The path norm mean_j |a_j| |w_j| of the final network, likewise.
    pub path_norm: Vec<Vec<f64>>,
}

/// What the checks are decided on.
#[derive(Clone, Debug)]
pub(super) struct Measured {
    /// Training-set sizes n.
    pub ns: Vec<f64>,
    /// With weight decay, one per d.
    pub regularised: Vec<Gaps>,
    /// Without weight decay, one per d.
    pub unregularised: Vec<Gaps>,
    /// No weight decay and label noise, at the largest d.
    pub control: Gaps,
}

/// One setting of the runs: weight decay and label noise.
struct Setting<'a> {
    /// Folder name.
    name: &'a str,
    /// dynamics.lambda.
    lambda: f64,
    /// target.noise_std.
    noise_std: f64,
}

/// Runs the entry.
pub(super) fn run(ctx: &Context<'_>, entry: &Entry) -> Result<Outcome> {
    let sizes: Sizes = ctx.sizes(entry.name)?;
    let measured = measure(ctx, entry, &sizes)?;
    draw(&measured, &ctx.out().join("generalisation"))?;
    let mut numbers = Map::new();
    numbers.insert("ns".into(), json!(sizes.ns));
    numbers.insert("seeds".into(), json!(sizes.seeds));
    numbers.insert("t_end".into(), json!(sizes.t_end));
    numbers.insert("lambda".into(), json!(sizes.lambda));
    numbers.insert("noise_std".into(), json!(sizes.noise_std));
    let named = measured
        .regularised
        .iter()
        .map(|g| (format!("regularised_d{}", g.d), g))
        .chain(
            measured
                .unregularised
                .iter()
                .map(|g| (format!("unregularised_d{}", g.d), g)),
        )
        .chain([(
            format!("control_d{}", measured.control.d),
            &measured.control,
        )]);
    for (name, gaps) in named {
        numbers.insert(
            format!("{name}_gap"),
            json!(rounded_all(&seed_means(&gaps.gap), 4)),
        );
        numbers.insert(
            format!("{name}_train"),
            json!(rounded_all(&seed_means(&gaps.train), 4)),
        );
        numbers.insert(
            format!("{name}_path_norm"),
            json!(rounded_all(&seed_means(&gaps.path_norm), 4)),
        );
        numbers.insert(
            format!("{name}_normalised_gap"),
            json!(rounded_all(&normalised(&measured.ns, gaps), 4)),
        );
        let (slope, se) = pooled_power_law(&measured.ns, &gaps.gap);
        numbers.insert(format!("{name}_slope"), json!(rounded(slope, 4)));
        numbers.insert(format!("{name}_slope_se"), json!(rounded(se, 3)));
    }
    Ok(Outcome {
        figures: ["generalisation.png", "generalisation.svg"]
            .map(String::from)
            .to_vec(),
        numbers,
        checks: checks(&measured),
    })
}

/// Runs (or reuses) every (d, n, seed) of both settings and the control.
pub(super) fn measure(ctx: &Context<'_>, entry: &Entry, sizes: &Sizes) -> Result<Measured> {
    let work = ctx.work_dir(entry.name);
    std::fs::create_dir_all(&work).map_err(|e| Error::io(&work, e))?;
    let regularised = Setting {
        name: "regularised",
        lambda: sizes.lambda,
        noise_std: 0.0,
    };
    let unregularised = Setting {
        name: "unregularised",
        lambda: 0.0,
        noise_std: 0.0,
    };
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for &d in &sizes.dims {
        let file = teacher_file(&work, d)?;
        with.push(gaps(ctx, entry, sizes, d, &regularised, &file)?);
        without.push(gaps(ctx, entry, sizes, d, &unregularised, &file)?);
    }
    let largest = sizes.dims.iter().copied().max().unwrap_or(4);
    let noisy = Setting {
        name: "noisy",
        lambda: 0.0,
        noise_std: sizes.noise_std,
    };
    let file = teacher_file(&work, largest)?;
    let control = gaps(ctx, entry, sizes, largest, &noisy, &file)?;
    Ok(Measured {
        ns: sizes.ns.iter().map(|&n| n as f64).collect(),
        regularised: with,
        unregularised: without,
        control,
    })
}

/// Writes the `barron` entry's teacher at dimension `d` into `work`; returns its path.
fn teacher_file(work: &Path, d: usize) -> Result<std::path::PathBuf> {
    let file = work.join(format!("teacher_d{d}.npy"));
    write_npy(&file, super::barron::teacher(d)?.matrix())?;
    Ok(file)
}

/// The gaps of `setting` at dimension `d`, every n and seed.
fn gaps(
    ctx: &Context<'_>,
    entry: &Entry,
    sizes: &Sizes,
    d: usize,
    setting: &Setting<'_>,
    teacher_file: &Path,
) -> Result<Gaps> {
    let mut result = Gaps {
        d,
        gap: Vec::new(),
        train: Vec::new(),
        path_norm: Vec::new(),
    };
    for &n in &sizes.ns {
        let (mut gap, mut train, mut path) = (Vec::new(), Vec::new(), Vec::new());
        for seed in 1..=sizes.seeds {
            let overrides = vec![
                format!("seed={seed}"),
                format!("model.d={d}"),
                format!("risk.n={n}"),
                format!("dynamics.lambda={:?}", setting.lambda),
                format!("dynamics.t_end={:?}", sizes.t_end),
                format!("target.noise_std={:?}", setting.noise_std),
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
                .join(format!("d{d}_n{n}_{}_seed{seed}", setting.name));
            let output = ctx.run(&scenario, &dir)?;
            let last = |column: &str| -> Result<f64> {
                Ok(output
                    .series_column(column)?
                    .last()
                    .copied()
                    .unwrap_or(f64::NAN))
            };
            let risk = last("risk")?;
            gap.push(last("population_risk")? - risk);
            train.push(risk);
            path.push(path_norm(&output.last));
        }
        result.gap.push(gap);
        result.train.push(train);
        result.path_norm.push(path);
    }
    Ok(result)
}

/// mean_j |a_j| |w_j| of the particles (rows a, w).
fn path_norm(theta: &DMatrix<f64>) -> f64 {
    let d = theta.ncols().saturating_sub(1);
    let total: f64 = theta
        .row_iter()
        .map(|row| row[0].abs() * row.columns(1, d).norm())
        .sum();
    total / theta.nrows().max(1) as f64
}

/// The seed-mean gap over P sqrt(log(2 d) / n), P the seed-mean path norm: the constant of the
/// a priori estimate's rate.
fn normalised(ns: &[f64], gaps: &Gaps) -> Vec<f64> {
    let scale = (2.0 * gaps.d as f64).ln();
    seed_means(&gaps.gap)
        .iter()
        .zip(seed_means(&gaps.path_norm))
        .zip(ns)
        .map(|((g, p), n)| g / (p * (scale / n).sqrt()))
        .collect()
}

/// The least-squares slope of log gap against log n over every (n, seed), and its standard
/// Whether the gaps of `gaps` fall at least like n^(-1/2) (every gap positive, slope - 1.96 se
/// <= -1/2), with the details.
fn rate_holds(ns: &[f64], gaps: &Gaps) -> (bool, String) {
    let (slope, se) = pooled_power_law(ns, &gaps.gap);
    let upper = slope - Z95 * se;
    let detail = format!(
        "d = {}: mean gaps {} at n = {}; slope {slope:.3} +- {se:.3} (1 se), slope - 1.96 se = \
         {upper:.3}",
        gaps.d,
        listing(&seed_means(&gaps.gap)),
        listing(ns)
    );
    (upper <= RATE, detail)
}

/// The entry's checks, from the measured gaps alone.
pub(super) fn checks(measured: &Measured) -> Vec<Check> {
    let mut checks: Vec<Check> = measured
        .regularised
        .iter()
        .map(|gaps| {
            let (holds, detail) = rate_holds(&measured.ns, gaps);
            Check::new(
                format!(
                    "d = {}, with weight decay: the generalisation gap is positive and falls at \
                     least like n^(-1/2) (slope of log gap on log n, minus 1.96 standard errors, \
                     <= -1/2)",
                    gaps.d
                ),
                holds,
                detail,
            )
        })
        .collect();
    let (holds, detail) = rate_holds(&measured.ns, &measured.control);
    checks.push(Check::new(
        format!(
            "negative control: without weight decay and with label noise at d = {}, the \
             network interpolates and the gap does not fall like n^(-1/2)",
            measured.control.d
        ),
        !holds,
        detail,
    ));
    checks
}

/// Gap against n, log-log: each d with and without weight decay, the control.
fn draw(measured: &Measured, stem: &Path) -> Result<()> {
    let mut curves = Vec::new();
    for (label, list) in [
        ("lambda > 0", &measured.regularised),
        ("lambda = 0", &measured.unregularised),
    ] {
        for gaps in list {
            curves.push(Curve {
                label: format!("{label}, d = {}", gaps.d),
                x: measured.ns.clone(),
                y: seed_means(&gaps.gap),
            });
        }
    }
    curves.push(Curve {
        label: format!("noisy, lambda = 0, d = {}", measured.control.d),
        x: measured.ns.clone(),
        y: seed_means(&measured.control.gap),
    });
    let figure = LineFigure {
        title: "Population minus training risk at t_end (seed mean) against n: relu, m = 64".into(),
        x_label: "training-set size n".into(),
        y_label: "generalisation gap".into(),
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

    fn synthetic(d: usize, exponent: f64, scale: f64) -> Gaps {
        let ns = [64.0_f64, 128.0, 256.0, 512.0];
        let row = |n: f64| vec![scale * n.powf(exponent), 1.2 * scale * n.powf(exponent)];
        Gaps {
            d,
            gap: ns.iter().map(|n| row(*n)).collect(),
            train: ns.iter().map(|_| vec![0.0, 0.0]).collect(),
            path_norm: ns.iter().map(|_| vec![1.0, 1.0]).collect(),
        }
    }

    fn measured(exponent: f64, control_exponent: f64) -> Measured {
        Measured {
            ns: vec![64.0, 128.0, 256.0, 512.0],
            regularised: vec![synthetic(4, exponent, 0.01), synthetic(32, exponent, 1.0)],
            unregularised: vec![synthetic(4, exponent, 0.01), synthetic(32, exponent, 1.0)],
            control: synthetic(32, control_exponent, 0.1),
        }
    }

    #[test]
    fn a_gap_falling_like_one_over_n_passes_and_a_flat_control_fails_the_rate() {
        let checks = checks(&measured(-1.0, -0.05));
        assert!(checks.iter().all(|c| c.passed), "{checks:#?}");
    }

    #[test]
    fn a_gap_falling_slower_than_the_rate_or_not_positive_fails() {
        let slow = checks(&measured(-0.3, -0.05));
        assert!(!slow[0].passed && !slow[1].passed, "{slow:#?}");
        let mut negative = measured(-1.0, -0.05);
        negative.regularised[0].gap[3][0] = -1e-6;
        assert!(!checks(&negative)[0].passed);
    }

    #[test]
    fn the_path_norm_is_the_mean_of_a_times_the_norm_of_w() {
        let theta = DMatrix::from_row_slice(2, 3, &[2.0, 3.0, 4.0, -1.0, 0.0, 1.0]);
        assert!((path_norm(&theta) - 5.5).abs() < 1e-15);
    }

    /// The negative control, run at small size through the entry's own run and check code: no
    /// weight decay, label noise 0.3, d = 32, n = 64, 128 and 256, one seed, t = 300 (about a
    /// second in release mode). Put in the place of a regularised curve, it must fail.
    #[test]
    fn the_noisy_interpolating_control_fails_the_check() {
        let root = tempfile::tempdir().unwrap();
        let options = crate::gallery::context::scratch_options(root.path());
        let ctx = Context::new(&options);
        let entry = crate::gallery::ENTRIES
            .iter()
            .find(|e| e.name == "generalisation")
            .unwrap();
        let sizes = Sizes {
            dims: vec![32],
            ns: vec![64, 128, 256],
            seeds: 1,
            t_end: 300.0,
            lambda: 0.001,
            noise_std: 0.3,
        };
        let work = ctx.work_dir("generalisation");
        std::fs::create_dir_all(&work).unwrap();
        let file = teacher_file(&work, 32).unwrap();
        let noisy = Setting {
            name: "noisy",
            lambda: 0.0,
            noise_std: 0.3,
        };
        let control = gaps(&ctx, entry, &sizes, 32, &noisy, &file).unwrap();
        let measured = Measured {
            ns: vec![64.0, 128.0, 256.0],
            regularised: vec![control.clone()],
            unregularised: Vec::new(),
            control,
        };
        let checks = checks(&measured);
        assert!(!checks[0].passed, "{checks:#?}");
    }
}
