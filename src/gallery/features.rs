//! Gallery entry `features`: random features against a trained first layer. A relu student of
//! width m learns a single relu neuron f*(x) = relu(w* . x) from the exact population risk
//! (docs/math.md section 3), either with both layers trained (`both`) or with the first layer frozen
//! at its random draw (`a_only`: the random-features model, docs/math.md section 2), at input
//! dimensions d = 4 to 64 and a fixed m. Random features need ever more neurons as d grows
//! (Yehudai and Shamir 2019; Ghorbani, Mei, Misiakiewicz and Montanari 2021), the trained first
//! layer does not.
//!
//! Besides the risk reached at the end of each `a_only` run, the entry computes the least risk
//! any output weights reach on the frozen features (the random-features floor, the t -> infinity
//! limit of `a_only`): with G_jl = K(w_j, w_l), V_j = E[f* sigma(w_j . x)] and b = m^(-alpha) a,
//! R = 1/2 [ E f*^2 + s^2 - 2 b.V + b^T G b ] is least at 1/2 [ E f*^2 + s^2 - V^T G^+ V ].
//!
//! Checks: at every d the trained network's risk at the final time is below the random
//! features' risk at the same time; from d = 8 on it is also below the random-features floor (at
//! d = 4, 512 random features approximate the neuron to about 1e-4, as well as the trained
//! network does by t = 100: random features are competitive in low dimension); and the floor
//! grows with d. Each comparison is between the worst seed of one side and the best of the other.

use std::path::Path;

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::diagnostics::stats::Summary;
use crate::error::{Error, Result};
use crate::gallery::context::RunOutput;
use crate::gallery::numbers::{listing, rounded_all};
use crate::gallery::{Check, Context, Entry, Outcome};
use crate::math::PairKernel;
use crate::plot::sweep::{ScalingFigure, ScalingSeries, render_points};
use crate::plot::{Curve, LineFigure, Scale, render_lines};
use crate::scenario::Scenario;

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
}

/// The least d at which the trained network is checked against the random-features floor.
const FLOOR_FROM_D: usize = 8;

/// The two trainings compared.
const TRAININGS: [&str; 2] = ["both", "a_only"];

/// The runs of one (d, training): one per seed.
struct Runs {
    /// The final risk of each seed.
    final_risk: Vec<f64>,
    /// Logged times (the same for every seed).
    time: Vec<f64>,
    /// The risk at each logged time, averaged over seeds.
    mean_risk: Vec<f64>,
    /// The random-features floor of each seed's frozen first layer.
    floor: Vec<f64>,
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

    let figures = draw(ctx.out(), &sizes, &results)?;
    Ok(Outcome {
        figures,
        numbers: numbers_of(&sizes, &results),
        checks: checks_of(&sizes, &results),
    })
}

/// The seed mean of `pick` at each d, for training `t` (0: both, 1: a_only).
fn mean_of(results: &[[Runs; 2]], t: usize, pick: &dyn Fn(&Runs) -> &Vec<f64>) -> Vec<f64> {
    results
        .iter()
        .map(|r| Summary::of(pick(&r[t])).mean)
        .collect()
}

/// The checked facts (module documentation), on `results[i][t]`: dimension `sizes.dims[i]`,
/// training `TRAININGS[t]`.
fn checks_of(sizes: &Sizes, results: &[[Runs; 2]]) -> Vec<Check> {
    let trained_worst: Vec<f64> = results.iter().map(|r| max(&r[0].final_risk)).collect();
    let random_best: Vec<f64> = results.iter().map(|r| min(&r[1].final_risk)).collect();
    let floor_best: Vec<f64> = results.iter().map(|r| min(&r[1].floor)).collect();
    let below_at_t = trained_worst
        .iter()
        .zip(&random_best)
        .all(|(trained, random)| trained < random);
    // The floor is a property of m random features in dimension d: at d = 4, 512 of them
    // approximate a relu neuron about as well as the trained network does by t = 100, so
    // the comparison with the floor is made from d = 8 on.
    let high_d: Vec<usize> = (0..sizes.dims.len())
        .filter(|&i| sizes.dims[i] >= FLOOR_FROM_D)
        .collect();
    let below_floor = high_d.iter().all(|&i| trained_worst[i] < floor_best[i]);
    let floor_worst: Vec<f64> = results.iter().map(|r| max(&r[1].floor)).collect();
    let floor_grows = (1..sizes.dims.len()).all(|i| floor_best[i] > floor_worst[i - 1]);
    vec![
        Check::new(
            format!(
                "at every d, the trained first layer's risk at t = {} is below the random \
                 features' risk at the same time (worst seed against best seed)",
                sizes.t_end
            ),
            below_at_t,
            format!(
                "d = {:?}: trained (worst of {} seeds) {}; random features (best) {}",
                sizes.dims,
                sizes.seeds,
                listing(&trained_worst),
                listing(&random_best)
            ),
        ),
        Check::new(
            format!(
                "at every d >= {FLOOR_FROM_D}, the trained first layer's risk at t = {} is \
                 below the random-features floor (the least risk of any output weights on \
                 the frozen first layer, the t -> infinity limit of random features)",
                sizes.t_end
            ),
            below_floor,
            format!(
                "d = {:?}: trained (worst seed) {}; floor (best seed) {}",
                sizes.dims,
                listing(&trained_worst),
                listing(&floor_best)
            ),
        ),
        Check::new(
            "the random-features floor grows with d (curse of dimensionality): at each d, \
             every seed's floor is above every seed's floor at the next smaller d",
            floor_grows,
            format!(
                "d = {:?}: floor, best seed {}; worst seed {}",
                sizes.dims,
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
        curves.push(output.series_column("risk")?);
    }
    let mean_risk = (0..time.len())
        .map(|row| curves.iter().map(|c| c[row]).sum::<f64>() / curves.len() as f64)
        .collect();
    Ok(Runs {
        final_risk,
        time,
        mean_risk,
        floor,
    })
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
