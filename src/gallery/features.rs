//! Gallery entry `features`: random features against a trained first layer. A relu student of
//! width m learns a single relu neuron f*(x) = relu(w* . x), |w*| = 1, from the exact
//! population risk R = 1/2 E (f - f*)^2 (docs/math.md section 3), either with both layers
//! trained (`both`) or with the first layer frozen at its random draw (`a_only`: the
//! random-features model, docs/math.md section 2), at input dimensions d = 4 to 64 and a fixed
//! m; and, with no training, the floor of m random features against m at one d.
//!
//! The random-features floor is the least risk any output weights reach on the frozen
//! features, the t -> infinity limit of `a_only` (a convex quadratic): with
//! G_jl = K(w_j, w_l), V_j = E[f* sigma(w_j . x)] and b = m^(-alpha) a,
//! R = 1/2 [ E f*^2 + s^2 - 2 b.V + b^T G b ] is least at 1/2 [ E f*^2 + s^2 - V^T G^+ V ].
//!
//! Ghorbani, Mei, Misiakiewicz and Montanari (2021, Ann. Statist.): for
//! d^(1 + delta) <= m <= d^(2 - delta) the floor tends to half the part of f* of degree >= 2.
//! With relu(z) = sum_k c_k He_k(z) / sqrt(k!), c_0^2 = 1/(2 pi), c_1^2 = 1/4, E relu^2 = 1/2,
//! that is 1/2 (1/2 - 1/(2 pi) - 1/4) = 1/8 - 1/(4 pi) = 0.04542; at finite m the features
//! also fit part of the degree-2 part (1/(8 pi) of it in the risk), which the check's bound
//! (`dimension_count_bound`) allows for.
//!
//! Checks (a pure function of the measured numbers, `checks`): GMMM's floor, one-sided, at
//! each d with d < m < d^2; at convergence, the trained network below the floor from d = 8 on
//! (its risk at the final time bounds its limit from above, the floor is the random features'
//! limit); every random-features run above its floor; the floor growing with d. The negative
//! control (a unit test): the first layer of a network trained on both layers, labelled
//! random features, fails GMMM's check.

use std::path::Path;

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::diagnostics::stats::Summary;
use crate::error::{Error, Result};
use crate::gallery::context::RunOutput;
use crate::gallery::numbers::{listing, rounded, rounded_all};
use crate::gallery::{Check, Context, Entry, Outcome};
use crate::math::{PairKernel, Particles};
use crate::plot::sweep::{ScalingFigure, ScalingSeries, render_points};
use crate::plot::{Curve, LineFigure, Scale, render_lines};
use crate::scenario::{InitSource, Scenario};

/// The sizes of one gallery invocation (`[features.quick]` or `[features.full]` of the sizes
/// file).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sizes {
    /// Input dimensions.
    dims: Vec<usize>,
    /// Width m (the same at every d).
    m: usize,
    /// Seeds per (d, training): the student's draws; the teacher is fixed (`target.seed`).
    seeds: u64,
    /// Final time.
    t_end: f64,
    /// The dimension of the sweep of the floor over m (no training: the floor needs only the
    /// draw of the first layer).
    floor_d: usize,
    /// The widths of that sweep.
    floor_widths: Vec<usize>,
    /// Its seeds per width.
    floor_seeds: u64,
}

/// The least d at which the trained network is checked against the random-features floor.
const FLOOR_FROM_D: usize = 8;

/// The two trainings compared.
const TRAININGS: [&str; 2] = ["both", "a_only"];

/// GMMM's limit of the floor for m between d^(1 + delta) and d^(2 - delta): half the part of
/// f* = relu(w* . x) of Hermite degree 2 and more, 1/2 (E f*^2 - 1/(2 pi) - 1/4) =
/// 1/8 - 1/(4 pi) (module documentation).
const GMMM_FLOOR: f64 = 0.125 - 0.25 * std::f64::consts::FRAC_1_PI;

/// The largest Hermite degree summed in [`dimension_count_bound`] (the dropped tail only
/// lowers the bound).
const MAX_DEGREE: usize = 60;

/// The runs of one (d, training): one per seed.
struct Runs {
    /// The final risk of each seed.
    final_risk: Vec<f64>,
    /// Logged times (the same for every seed).
    time: Vec<f64>,
    /// The risk at each logged time, averaged over seeds.
    mean_risk: Vec<f64>,
    /// The random-features floor of each seed's frozen first layer (a_only runs).
    floor: Vec<f64>,
    /// Per seed: the largest relative rise of the logged risk between two logged times (0 for
    /// a risk that never rises: the flow's risk does not increase, so its final value bounds
    /// its limit from above).
    rise: Vec<f64>,
}

/// What the checks are decided on: the measured numbers alone.
struct Measured {
    /// Width of the trained and random-features runs.
    m: usize,
    /// Their input dimensions.
    dims: Vec<usize>,
    /// Their final time.
    t_end: f64,
    /// Per d: the trained network's final risk, per seed.
    trained: Vec<Vec<f64>>,
    /// Per d: the largest relative rise of the trained risk over the run, over seeds.
    trained_rise: Vec<f64>,
    /// Per d: the random-features run's final risk, per seed.
    random: Vec<Vec<f64>>,
    /// Per d: the random-features floor, per seed.
    floor: Vec<Vec<f64>>,
}

/// Runs the entry: random features against a trained first layer.
pub(super) fn run(ctx: &Context<'_>, entry: &Entry) -> Result<Outcome> {
    let sizes: Sizes = ctx.sizes(entry.name)?;
    let work = ctx.work_dir(entry.name);
    // results[i][t]: dimension sizes.dims[i], training TRAININGS[t].
    let mut results: Vec<[Runs; 2]> = Vec::new();
    for &d in &sizes.dims {
        let both = collect(ctx, entry.scenario, &sizes, d, TRAININGS[0], &work)?;
        let random = collect(ctx, entry.scenario, &sizes, d, TRAININGS[1], &work)?;
        results.push([both, random]);
    }
    let sweep = floor_sweep(ctx, entry.scenario, &sizes)?;
    let measured = Measured {
        m: sizes.m,
        dims: sizes.dims.clone(),
        t_end: sizes.t_end,
        trained: results.iter().map(|r| r[0].final_risk.clone()).collect(),
        trained_rise: results.iter().map(|r| max(&r[0].rise)).collect(),
        random: results.iter().map(|r| r[1].final_risk.clone()).collect(),
        floor: results.iter().map(|r| r[1].floor.clone()).collect(),
    };
    let mut figures = draw(ctx.out(), &sizes, &results)?;
    figures.extend(draw_floor_sweep(ctx.out(), &sizes, &sweep)?);
    let mut numbers = numbers_of(&sizes, &results);
    numbers.insert("floor_sweep".into(), floor_sweep_numbers(&sizes, &sweep));
    Ok(Outcome {
        figures,
        numbers,
        checks: checks(&measured),
    })
}

/// The seed mean of `pick` at each d, for training `t` (0: both, 1: a_only).
fn mean_of(results: &[[Runs; 2]], t: usize, pick: &dyn Fn(&Runs) -> &Vec<f64>) -> Vec<f64> {
    results
        .iter()
        .map(|r| Summary::of(pick(&r[t])).mean)
        .collect()
}

/// c_k^2 = E[relu(z) He_k(z)]^2 / k! for z ~ N(0, 1): 1/(2 pi), 1/4, then for even k >= 2
/// (1/(2 pi)) ((k - 3)!!)^2 / k! (E[relu He_k] = phi(0) He_(k-2)(0) by Gaussian integration
/// by parts, relu'' being a Dirac mass), and 0 for odd k >= 3.
fn relu_hermite_square(k: usize) -> f64 {
    let phi0_squared = 0.5 * std::f64::consts::FRAC_1_PI;
    match k {
        0 => phi0_squared,
        1 => 0.25,
        _ if k % 2 == 1 => 0.0,
        _ => {
            let double_factorial: f64 = (1..k - 1).step_by(2).map(|j| j as f64).product();
            let factorial: f64 = (1..=k).map(|j| j as f64).product();
            phi0_squared * double_factorial * double_factorial / factorial
        }
    }
}

/// The dimension of the polynomials of Hermite degree exactly k in d variables,
/// C(d + k - 1, k).
fn hermite_dimension(d: usize, k: usize) -> f64 {
    (1..=k).map(|j| (d + j - 1) as f64 / j as f64).product()
}

/// GMMM's prediction with its finite-m correction stated: a lower estimate of the floor of m
/// random relu features in dimension d against f* = relu(w* . x), |w*| = 1. The features fit
/// the parts of degree 0 and 1 (GMMM: for m >> d); of the part of degree k >= 2, of size
/// c_k^2 (in E f^2), they can fit at most what an m-dimensional span catches of one direction
/// in the D_k = C(d + k - 1, k)-dimensional space of degree k, a fraction m / D_k for a random
/// span (at k = 2 plus the 1/d of w* w*^T along the identity, which the sum of the features'
/// w_j w_j^T nearly contains): 1/2 sum_(even k >= 2) c_k^2 (1 - min(1, fraction_k)). At
/// m << d^2 this tends to [`GMMM_FLOOR`].
fn dimension_count_bound(m: usize, d: usize) -> f64 {
    (2..=MAX_DEGREE)
        .step_by(2)
        .map(|k| {
            let dimension = hermite_dimension(d, k);
            let fraction = if k == 2 {
                1.0 / d as f64 + m as f64 / (dimension - 1.0).max(1.0)
            } else {
                m as f64 / dimension
            };
            0.5 * relu_hermite_square(k) * (1.0 - fraction.min(1.0))
        })
        .sum()
}

/// Whether (m, d) lies in GMMM's window d < m < d^2 (where the floor keeps the degree-2 part).
fn in_window(m: usize, d: usize) -> bool {
    d < m && m < d * d
}

/// The checks, a pure function of the measured numbers (module documentation).
fn checks(measured: &Measured) -> Vec<Check> {
    let floor_best: Vec<f64> = measured.floor.iter().map(|f| min(f)).collect();
    let floor_worst: Vec<f64> = measured.floor.iter().map(|f| max(f)).collect();
    let trained_worst: Vec<f64> = measured.trained.iter().map(|t| max(t)).collect();
    let random_best: Vec<f64> = measured.random.iter().map(|r| min(r)).collect();
    let m = measured.m;
    let window: Vec<usize> = (0..measured.dims.len())
        .filter(|&i| in_window(m, measured.dims[i]))
        .collect();
    let bounds: Vec<f64> = measured
        .dims
        .iter()
        .map(|&d| dimension_count_bound(m, d))
        .collect();
    let gmmm = !window.is_empty() && window.iter().all(|&i| floor_best[i] >= bounds[i]);
    let high_d: Vec<usize> = (0..measured.dims.len())
        .filter(|&i| measured.dims[i] >= FLOOR_FROM_D)
        .collect();
    let below_floor = high_d.iter().all(|&i| trained_worst[i] < floor_best[i]);
    let monotone = measured.trained_rise.iter().all(|&r| r <= 1e-9);
    let above_floor = (0..measured.dims.len()).all(|i| {
        measured.random[i]
            .iter()
            .zip(&measured.floor[i])
            .all(|(r, f)| *r >= f * (1.0 - 1e-9))
    });
    let floor_grows = (1..measured.dims.len()).all(|i| floor_best[i] > floor_worst[i - 1]);
    let window_dims: Vec<usize> = window.iter().map(|&i| measured.dims[i]).collect();
    let pick = |v: &[f64]| window.iter().map(|&i| v[i]).collect::<Vec<f64>>();
    vec![
        Check::new(
            format!(
                "GMMM: where d < m < d^2 (d = {window_dims:?} at m = {m}), every seed's \
                 random-features floor is at least 1/8 - 1/(4 pi) = {GMMM_FLOOR:.5} less the \
                 dimension count of what m features can fit of the degree >= 2 part"
            ),
            gmmm,
            format!(
                "floor (best seed) {}; bound {}",
                listing(&pick(&floor_best)),
                listing(&pick(&bounds))
            ),
        ),
        Check::new(
            format!(
                "at convergence: at every d >= {FLOOR_FROM_D}, the trained network's risk at \
                 t = {} (which bounds its limit: the logged risk never rises) is below the \
                 random-features floor (the t -> infinity limit of random features), worst \
                 seed against best seed",
                measured.t_end
            ),
            below_floor && monotone,
            format!(
                "d = {:?}: trained {}; floor {}; largest relative rise of a trained risk {:.1e}",
                measured.dims,
                listing(&trained_worst),
                listing(&floor_best),
                max(&measured.trained_rise)
            ),
        ),
        Check::new(
            format!(
                "every random-features run's risk at t = {} is above its floor (the floor, \
                 1/2 (E f*^2 - V^T G^+ V), and the simulator's risk, 1/2 E (f - f*)^2, agree)",
                measured.t_end
            ),
            above_floor,
            format!(
                "d = {:?}: random features (best seed) {}; floor (worst seed) {}",
                measured.dims,
                listing(&random_best),
                listing(&floor_worst)
            ),
        ),
        Check::new(
            "the random-features floor grows with d (curse of dimensionality): at each d, \
             every seed's floor is above every seed's floor at the next smaller d",
            floor_grows,
            format!(
                "d = {:?}: floor, best seed {}; worst seed {}",
                measured.dims,
                listing(&floor_best),
                listing(&floor_worst)
            ),
        ),
    ]
}

/// The numbers of gallery.json.
fn numbers_of(sizes: &Sizes, results: &[[Runs; 2]]) -> Map<String, Value> {
    let trained = mean_of(results, 0, &|r| &r.final_risk);
    let random = mean_of(results, 1, &|r| &r.final_risk);
    let floor = mean_of(results, 1, &|r| &r.floor);
    let mut numbers = Map::new();
    numbers.insert("m".into(), json!(sizes.m));
    numbers.insert("seeds".into(), json!(sizes.seeds));
    numbers.insert("t_end".into(), json!(sizes.t_end));
    numbers.insert("d".into(), json!(sizes.dims));
    numbers.insert("risk_trained".into(), json!(rounded_all(&trained, 5)));
    numbers.insert(
        "risk_random_features".into(),
        json!(rounded_all(&random, 5)),
    );
    numbers.insert(
        "random_features_floor".into(),
        json!(rounded_all(&floor, 5)),
    );
    let bounds: Vec<f64> = sizes
        .dims
        .iter()
        .map(|&d| dimension_count_bound(sizes.m, d))
        .collect();
    numbers.insert("gmmm_limit".into(), json!(rounded(GMMM_FLOOR, 5)));
    numbers.insert("gmmm_bound".into(), json!(rounded_all(&bounds, 5)));
    let ratio: Vec<f64> = random.iter().zip(&trained).map(|(r, t)| r / t).collect();
    numbers.insert(
        "ratio_random_to_trained".into(),
        json!(rounded_all(&ratio, 5)),
    );
    let initial: Vec<f64> = results
        .iter()
        .map(|r| r[0].mean_risk.first().copied().unwrap_or(f64::NAN))
        .collect();
    numbers.insert("initial_risk".into(), json!(rounded_all(&initial, 5)));
    numbers
}

/// The floor of `floor_seeds` draws of the first layer at each width of `floor_widths`, in
/// dimension `floor_d` (no training): `sweep[k][s]`, width k, seed s.
fn floor_sweep(ctx: &Context<'_>, file: &str, sizes: &Sizes) -> Result<Vec<Vec<f64>>> {
    let d = sizes.floor_d;
    let scenario = ctx.scenario(file, &[format!("model.d={d}")])?;
    let InitSource::Law(law) = &scenario.init else {
        return Err(Error::invalid(
            format!("{file}: init"),
            "init.file",
            "the init laws (the floor sweep draws the first layer)",
        ));
    };
    let teacher = scenario.teacher()?;
    let kernel = PairKernel::new(scenario.network.activation);
    let mut sweep = Vec::new();
    for &m in &sizes.floor_widths {
        let mut floors = Vec::new();
        for seed in 1..=sizes.floor_seeds {
            let particles = Particles::draw(m, d, law, seed)?;
            floors.push(least_risk(
                &kernel,
                particles.matrix(),
                teacher.matrix(),
                scenario.noise_std,
            ));
        }
        sweep.push(floors);
    }
    Ok(sweep)
}

/// The floor sweep's numbers: widths, seed means and the dimension-count bound.
fn floor_sweep_numbers(sizes: &Sizes, sweep: &[Vec<f64>]) -> Value {
    let means: Vec<f64> = sweep.iter().map(|f| Summary::of(f).mean).collect();
    let bounds: Vec<f64> = sizes
        .floor_widths
        .iter()
        .map(|&m| dimension_count_bound(m, sizes.floor_d))
        .collect();
    json!({
        "d": sizes.floor_d,
        "widths": sizes.floor_widths,
        "seeds": sizes.floor_seeds,
        "floor": rounded_all(&means, 5),
        "bound": rounded_all(&bounds, 5),
    })
}

/// The figure of the floor sweep: the floor against m at d = `floor_d`, with GMMM's level
/// 1/8 - 1/(4 pi), the level of the degree >= 4 part and the dimension-count bound.
fn draw_floor_sweep(out: &Path, sizes: &Sizes, sweep: &[Vec<f64>]) -> Result<Vec<String>> {
    let d = sizes.floor_d;
    let widths: Vec<f64> = sizes.floor_widths.iter().map(|&m| m as f64).collect();
    let level = |value: f64| vec![value; widths.len()];
    let curves = vec![
        Curve {
            label: format!("floor, mean of {} draws", sizes.floor_seeds),
            x: widths.clone(),
            y: sweep.iter().map(|f| Summary::of(f).mean).collect(),
        },
        Curve {
            label: "dimension-count bound".into(),
            x: widths.clone(),
            y: sizes
                .floor_widths
                .iter()
                .map(|&m| dimension_count_bound(m, d))
                .collect(),
        },
        Curve {
            label: "1/8 - 1/(4 pi): degree >= 2 (GMMM, d << m << d^2)".into(),
            x: widths.clone(),
            y: level(GMMM_FLOOR),
        },
        Curve {
            label: "degree >= 4 part".into(),
            x: widths.clone(),
            y: level(GMMM_FLOOR - 0.5 * relu_hermite_square(2)),
        },
    ];
    render_lines(
        &LineFigure {
            title: format!(
                "Random-features floor against m, d = {d} (d^2 / 2 = {})",
                d * d / 2
            ),
            x_label: "number of random features m".into(),
            y_label: "least risk of the output weights".into(),
            x_scale: Scale::Log,
            y_scale: Scale::Log,
            curves,
        },
        &out.join("features_floor_by_m"),
    )?;
    Ok(vec![
        "features_floor_by_m.png".into(),
        "features_floor_by_m.svg".into(),
    ])
}

/// Runs (or reuses) the seeds of one (d, training) and reads back what the entry needs.
fn collect(
    ctx: &Context<'_>,
    file: &str,
    sizes: &Sizes,
    d: usize,
    train: &str,
    work: &Path,
) -> Result<Runs> {
    let mut final_risk = Vec::new();
    let mut floor = Vec::new();
    let mut curves: Vec<Vec<f64>> = Vec::new();
    let mut time = Vec::new();
    let mut rise = Vec::new();
    for seed in 1..=sizes.seeds {
        let overrides = vec![
            format!("seed={seed}"),
            format!("model.d={d}"),
            format!("model.m={}", sizes.m),
            format!("dynamics.train=\"{train}\""),
            format!("dynamics.t_end={:?}", sizes.t_end),
        ];
        let scenario = ctx.scenario(file, &overrides)?;
        let output = ctx.run(&scenario, &work.join(format!("d{d}_{train}_seed{seed}")))?;
        final_risk.push(output.summary.final_risk);
        if train == "a_only" {
            floor.push(random_features_floor(&scenario, &output)?);
        }
        time = output.series_column("time")?;
        let risk = output.series_column("risk")?;
        rise.push(largest_rise(&risk));
        curves.push(risk);
    }
    let mean_risk = (0..time.len())
        .map(|row| curves.iter().map(|c| c[row]).sum::<f64>() / curves.len() as f64)
        .collect();
    Ok(Runs {
        final_risk,
        time,
        mean_risk,
        floor,
        rise,
    })
}

/// The largest relative rise of a logged risk between consecutive logged times.
fn largest_rise(risk: &[f64]) -> f64 {
    risk.windows(2)
        .map(|w| (w[1] - w[0]) / w[0].abs().max(f64::MIN_POSITIVE))
        .fold(0.0, f64::max)
}

/// The random-features floor of the first layer of an `a_only` run (frozen at its draw).
fn random_features_floor(scenario: &Scenario, output: &RunOutput) -> Result<f64> {
    let teacher = output.teacher.as_ref().ok_or_else(|| {
        Error::format(
            output.dir.join("teacher.npy"),
            "the features entry needs the teacher",
        )
    })?;
    Ok(least_risk(
        &PairKernel::new(scenario.network.activation),
        &output.initial,
        teacher,
        scenario.noise_std,
    ))
}

/// The least population risk of any output weights on the first layer of `particles` (columns
/// a, w; only w is used) against the teacher `teacher` (columns a*, w*) with label noise
/// `noise_std`: 1/2 [ E f*^2 + s^2 - V^T G^+ V ] (module documentation). The pseudo-inverse
/// drops the eigenvalues of G below 1e-12 of the largest (directions that round-off cannot
/// resolve), which can only raise the floor, by a negligible amount.
fn least_risk(
    kernel: &PairKernel,
    particles: &DMatrix<f64>,
    teacher: &DMatrix<f64>,
    noise_std: f64,
) -> f64 {
    let row = |matrix: &DMatrix<f64>, j: usize| -> Vec<f64> {
        matrix.row(j).iter().skip(1).copied().collect()
    };
    let students: Vec<Vec<f64>> = (0..particles.nrows()).map(|j| row(particles, j)).collect();
    let teachers: Vec<Vec<f64>> = (0..teacher.nrows()).map(|i| row(teacher, i)).collect();
    let k = teachers.len() as f64;
    let m = students.len();
    let mut target_square = 0.0;
    for (i, u) in teachers.iter().enumerate() {
        for (l, v) in teachers.iter().enumerate() {
            target_square += teacher[(i, 0)] * teacher[(l, 0)] * kernel.kernel(u, v);
        }
    }
    target_square /= k * k;
    let overlap = DVector::from_fn(m, |j, _| {
        teachers
            .iter()
            .enumerate()
            .map(|(i, v)| teacher[(i, 0)] * kernel.kernel(&students[j], v))
            .sum::<f64>()
            / k
    });
    let gram = DMatrix::from_fn(m, m, |j, l| kernel.kernel(&students[j], &students[l]));
    let eigen = SymmetricEigen::new(gram);
    let largest = eigen.eigenvalues.iter().fold(0.0_f64, |a, &b| a.max(b));
    let mut explained = 0.0;
    for (index, &value) in eigen.eigenvalues.iter().enumerate() {
        if value > 1e-12 * largest {
            let projection = eigen.eigenvectors.column(index).dot(&overlap);
            explained += projection * projection / value;
        }
    }
    let noise = noise_std * noise_std;
    (0.5 * (target_square + noise - explained)).max(0.5 * noise)
}

/// The figures: the risk reached against d, and the risk curves at the smallest and largest d.
fn draw(out: &Path, sizes: &Sizes, results: &[[Runs; 2]]) -> Result<Vec<String>> {
    let dims: Vec<f64> = sizes.dims.iter().map(|&d| d as f64).collect();
    let series = |label: String, pick: &dyn Fn(&[Runs; 2]) -> &Vec<f64>| {
        let value = results.iter().map(|r| Summary::of(pick(r)).mean).collect();
        ScalingSeries {
            label,
            m: dims.clone(),
            value,
            lo: results.iter().map(|r| min(pick(r))).collect(),
            hi: results.iter().map(|r| max(pick(r))).collect(),
            fit: None,
        }
    };
    let t_end = sizes.t_end;
    let by_d = ScalingFigure {
        title: format!(
            "Single relu neuron, m = {}: risk reached against d",
            sizes.m
        ),
        x_label: "input dimension d".into(),
        y_label: "population risk".into(),
        series: vec![
            series(format!("random features, t = {t_end}"), &|r| {
                &r[1].final_risk
            }),
            series("random features, best a (t = inf)".into(), &|r| &r[1].floor),
            series(format!("both layers trained, t = {t_end}"), &|r| {
                &r[0].final_risk
            }),
        ],
    };
    render_points(&by_d, &[], &out.join("features_risk_by_d"))?;

    let mut curves = Vec::new();
    let ends = [0, results.len() - 1];
    for &index in &ends {
        let d = sizes.dims[index];
        for (t, label) in [(1, "random features"), (0, "both trained")] {
            let runs = &results[index][t];
            curves.push(Curve {
                label: format!("{label}, d = {d}"),
                x: runs.time.clone(),
                y: runs.mean_risk.clone(),
            });
        }
    }
    render_lines(
        &LineFigure {
            title: format!(
                "Risk against time, m = {} (mean of {} seeds)",
                sizes.m, sizes.seeds
            ),
            x_label: "time t".into(),
            y_label: "population risk".into(),
            x_scale: Scale::Log,
            y_scale: Scale::Log,
            curves,
        },
        &out.join("features_risk_curves"),
    )?;
    Ok(["features_risk_by_d", "features_risk_curves"]
        .iter()
        .flat_map(|stem| [format!("{stem}.png"), format!("{stem}.svg")])
        .collect())
}

fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use crate::math::Activation;

    #[test]
    fn the_shipped_sizes_read_and_quick_is_smaller() {
        let quick: Sizes = crate::gallery::context::shipped_sizes("features", true).unwrap();
        let full: Sizes = crate::gallery::context::shipped_sizes("features", false).unwrap();
        assert!(quick.m <= full.m && quick.dims.len() <= full.dims.len());
        assert!(quick.dims.iter().any(|&d| d >= FLOOR_FROM_D));
    }

    /// The scenario of the controls: d = 16, m = 64 (inside GMMM's window 16 < m < 256).
    fn control_scenario(train: &str) -> Scenario {
        let text = format!(
            "seed = 2\n[model]\nd = 16\nm = 64\n[target]\nk = 1\na = 1.0\nnorm = 1.0\n\
             seed = 1\n[dynamics]\ndt = 0.1\nt_end = 60.0\ntrain = \"{train}\"\n"
        );
        let config = crate::scenario::file::parse(&text, "control.toml", &[]).unwrap();
        Scenario::from_config(config, Path::new("control.toml"), &text, &[]).unwrap()
    }

    /// The first check (GMMM's floor) on the floor of `particles`' first layer.
    fn gmmm_check_on(scenario: &Scenario, particles: &DMatrix<f64>) -> (Check, f64) {
        let teacher = scenario.teacher().unwrap();
        let floor = least_risk(
            &PairKernel::new(scenario.network.activation),
            particles,
            teacher.matrix(),
            0.0,
        );
        let measured = Measured {
            m: scenario.m,
            dims: vec![scenario.d],
            t_end: 60.0,
            trained: vec![vec![0.0]],
            trained_rise: vec![0.0],
            random: vec![vec![1.0]],
            floor: vec![vec![floor]],
        };
        (checks(&measured).remove(0), floor)
    }

    /// Negative control: the first layer of a network trained on both layers, labelled random
    /// features, has turned towards w*, and its floor falls far below GMMM's band; the frozen
    /// draw of the same seed passes.
    #[test]
    fn gmmm_check_fails_on_a_trained_first_layer_labelled_random_features() {
        let scenario = control_scenario("both");
        let mut setup = scenario.setup().unwrap();
        let drawn = setup.particles.matrix().clone();
        let mut theta = drawn.clone();
        for step in 0..scenario.steps {
            setup.simulation.step(&mut theta, step).unwrap();
        }
        let (real, real_floor) = gmmm_check_on(&scenario, &drawn);
        assert!(real.passed, "{} {}", real.fact, real.detail);
        let (control, control_floor) = gmmm_check_on(&scenario, &theta);
        assert!(!control.passed, "{} {}", control.fact, control.detail);
        assert!(
            control_floor < 0.1 * real_floor,
            "{control_floor} {real_floor}"
        );
    }

    #[test]
    fn the_hermite_squares_of_relu_sum_to_its_second_moment() {
        // E relu(z)^2 = 1/2; the tail beyond MAX_DEGREE is below 1e-3 of it.
        let total: f64 = (0..=MAX_DEGREE).map(relu_hermite_square).sum();
        assert!(total < 0.5 && total > 0.5 - 5e-4, "{total}");
        assert!((relu_hermite_square(2) - 0.25 / std::f64::consts::PI).abs() < 1e-15);
        assert!((relu_hermite_square(4) - 1.0 / (48.0 * std::f64::consts::PI)).abs() < 1e-15);
        let part: f64 = (2..=MAX_DEGREE).map(relu_hermite_square).sum::<f64>() / 2.0;
        assert!(part <= GMMM_FLOOR && part > GMMM_FLOOR - 2.5e-4, "{part}");
        assert!((hermite_dimension(64, 2) - 2080.0).abs() < 1e-9);
        assert!((hermite_dimension(8, 4) - 330.0).abs() < 1e-9);
    }

    #[test]
    fn floor_vanishes_when_a_random_feature_is_the_teacher_neuron() {
        // relu: the teacher neuron relu(w* . x) is a feature, so some a fits it exactly.
        let teacher = DMatrix::from_row_slice(1, 3, &[1.0, 0.6, 0.8]);
        let particles =
            DMatrix::from_row_slice(3, 3, &[0.3, 1.0, 0.0, -1.0, 0.6, 0.8, 2.0, -0.5, 0.5]);
        let floor = least_risk(
            &PairKernel::new(Activation::Relu),
            &particles,
            &teacher,
            0.0,
        );
        assert!(floor.abs() < 1e-12, "{floor}");
    }

    #[test]
    fn floor_of_linear_features_is_the_part_of_the_teacher_they_miss() {
        // Linear features span the line of e1; the teacher 2 e1 + e2 (one neuron, k = 1) keeps
        // its e2 part: R = 1/2 E[(x_2)^2] = 1/2, plus s^2 / 2 of the label noise.
        let teacher = DMatrix::from_row_slice(1, 3, &[1.0, 2.0, 1.0]);
        let particles = DMatrix::from_row_slice(2, 3, &[1.0, 1.0, 0.0, -1.0, -3.0, 0.0]);
        let kernel = PairKernel::new(Activation::Linear);
        let floor = least_risk(&kernel, &particles, &teacher, 0.5);
        assert!((floor - (0.5 + 0.125)).abs() < 1e-12, "{floor}");
    }
}
