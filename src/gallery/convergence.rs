//! Gallery entry `convergence`: global convergence in the mean-field regime (Chizat and Bach
//! 2018). A relu student with a bias in d = 2, f(x) = (1/m) sum_j a_j relu(w_j . x + b_j),
//! learns a teacher of k = 3 relu neurons from n fixed samples (empirical risk, docs/math.md
//! section 4; population mode has no bias). The particles start spread over all directions of
//! (w, b) and, with m much larger than k, the mass |a_j| |(w_j, b_j)| gathers on the teacher's
//! neurons while the risk goes to zero.
//!
//! Each particle is drawn at its effective weights |a_j| w_j: since a relu(w . x + b) =
//! sign(a) relu(|a| (w . x + b)), the student is (1/m) sum_j sign(a_j) relu(|a_j| (w_j . x + b_j))
//! and m/k particles at the teacher's a*_i (w*_i, b*_i) (its star) reproduce neuron i exactly;
//! n particles on the ray of a teacher neuron reproduce it when their mean |a_j| (w_j, b_j) is
//! m / (k n) times a*_i (w*_i, b*_i). So the particles, which start near the origin (small a_j)
//! in every direction, end on rays through the stars. Marker size |a_j| |(w_j, b_j)|, colour a_j.

use std::path::Path;

use nalgebra::DMatrix;
use serde::Deserialize;
use serde_json::{Map, json};

use crate::error::{Error, Result};
// `snapshots` is the name the drawing code below calls the one snapshot reader by.
use crate::gallery::context::{RunOutput, read_snapshots as snapshots};
use crate::gallery::{Check, Context, Entry, Outcome};
use crate::output::write_npy;
use crate::plot::{
    CloudFigure, CloudFrame, Curve, LogLogFigure, render_cloud, render_cloud_gif,
    render_cloud_panels, render_loglog,
};
use crate::scenario::{RiskSpec, Scenario};

/// Least factor by which the held-out risk must fall.
const REDUCTION: f64 = 100.0;

/// Least share of the mass sum_j |a_j| |(w_j, b_j)| that must end within the cone
/// (`record.cone_degrees`, 15 degrees in the scenario) of some teacher neuron.
const CONCENTRATED: f64 = 0.5;

/// Least share of that mass each teacher neuron must end with (every neuron is found).
const PER_NEURON: f64 = 0.1;

/// Number of particles whose paths are drawn (more hide each other).
const TRACKED: usize = 80;

/// The teacher: rows (a*, w*_1, w*_2, b*), unit vectors w* at 90, 210 and 330 degrees and
/// b* = -0.5, so that its kinks are the sides of a triangle around the origin. The same
/// numbers as `scenarios/gallery/convergence_teacher.npy`.
fn teacher() -> DMatrix<f64> {
    let half_root3 = 3.0_f64.sqrt() / 2.0;
    let rows = [
        [1.0, 0.0, 1.0, -0.5],
        [1.0, -half_root3, -0.5, -0.5],
        [1.0, half_root3, -0.5, -0.5],
    ];
    DMatrix::from_fn(3, 4, |i, j| rows[i][j])
}

/// The sizes of one gallery invocation (`[convergence.quick]` or `[convergence.full]` of the
/// sizes file); a size left out keeps the scenario file's.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sizes {
    /// Width (`model.m`).
    m: Option<usize>,
    /// Training-set size (`risk.n`).
    risk_n: Option<usize>,
    /// Final time (`dynamics.t_end`).
    t_end: Option<f64>,
}

/// The `--set` overrides of one invocation: the teacher file and the sizes.
fn overrides(sizes: &Sizes, teacher_file: &Path) -> Vec<String> {
    let mut overrides = vec![
        format!("target.file={:?}", teacher_file.display().to_string()),
        // The entry draws its own figures.
        "record.figures=false".to_string(),
        "record.marginals=false".to_string(),
    ];
    overrides.extend(sizes.m.map(|m| format!("model.m={m}")));
    overrides.extend(sizes.risk_n.map(|n| format!("risk.n={n}")));
    overrides.extend(sizes.t_end.map(|t| format!("dynamics.t_end={t:?}")));
    overrides
}

/// Runs the entry: global convergence in the mean-field regime.
pub(super) fn run(ctx: &Context<'_>, entry: &Entry) -> Result<Outcome> {
    let work = ctx.work_dir(entry.name);
    std::fs::create_dir_all(&work).map_err(|e| Error::io(&work, e))?;
    let teacher_file = work.join("teacher.npy");
    write_npy(&teacher_file, &teacher())?;
    // Paths in a scenario are relative to the scenario file: this one must be absolute.
    let teacher_file =
        std::path::absolute(&teacher_file).map_err(|e| Error::io(&teacher_file, e))?;
    let sizes: Sizes = ctx.sizes(entry.name)?;
    let scenario = ctx.scenario(entry.scenario, &overrides(&sizes, &teacher_file))?;
    let run = ctx.run(&scenario, &work.join("run"))?;

    let time = run.series_column("time")?;
    let risk = run.series_column("risk")?;
    let test_risk = run.series_column("test_risk")?;
    let k = teacher().nrows();
    let shares: Vec<Vec<f64>> = (0..k)
        .map(|i| run.series_column(&format!("cone_share_{i}")))
        .collect::<Result<_>>()?;
    let total_share = |row: usize| shares.iter().map(|s| s[row]).sum::<f64>();
    let last = time.len() - 1;
    let (initial_test, final_test) = (test_risk[0], test_risk[last]);
    let reduction = initial_test / final_test;
    let final_shares: Vec<f64> = shares.iter().map(|s| s[last]).collect();
    let least_share = final_shares.iter().copied().fold(f64::INFINITY, f64::min);

    let mut figures = draw_particles(ctx.out(), &run, scenario.dt)?;
    figures.extend(draw_risk(ctx.out(), scenario.m, &time, &risk, &test_risk)?);

    let mut numbers = Map::new();
    numbers.insert("m".into(), json!(scenario.m));
    numbers.insert("k".into(), json!(k));
    numbers.insert("n".into(), json!(training_size(&scenario)));
    numbers.insert("t_end".into(), json!(time[last]));
    numbers.insert("initial_risk".into(), json!(risk[0]));
    numbers.insert("final_risk".into(), json!(risk[last]));
    numbers.insert("initial_test_risk".into(), json!(initial_test));
    numbers.insert("final_test_risk".into(), json!(final_test));
    numbers.insert("test_risk_reduction".into(), json!(reduction));
    numbers.insert("mass_near_teacher_initial".into(), json!(total_share(0)));
    numbers.insert("mass_near_teacher_final".into(), json!(total_share(last)));
    numbers.insert("mass_near_each_teacher_final".into(), json!(final_shares));

    let cone = scenario.record.cone_degrees;
    let checks = vec![
        Check::new(
            format!("the held-out risk falls by at least {REDUCTION}x"),
            final_test.is_finite() && final_test * REDUCTION <= initial_test,
            format!(
                "test risk {initial_test:.3e} at t = 0, {final_test:.3e} at t = {}: {reduction:.3e}x",
                time[last]
            ),
        ),
        Check::new(
            format!(
                "the particles concentrate on the teacher's neurons: at least {CONCENTRATED} \
                 of the mass |a_j||(w_j, b_j)| ends within {cone} degrees of one, at least \
                 {PER_NEURON} near each"
            ),
            total_share(last) >= CONCENTRATED && least_share >= PER_NEURON,
            format!(
                "share within {cone} degrees {:.3} at t = 0, {:.3} at the end; per neuron {}",
                total_share(0),
                total_share(last),
                final_shares
                    .iter()
                    .map(|s| format!("{s:.3}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    ];
    Ok(Outcome {
        figures,
        numbers,
        checks,
    })
}

/// The training-set size n of a scenario (0 outside the generated empirical mode).
fn training_size(scenario: &Scenario) -> usize {
    match scenario.risk {
        RiskSpec::EmpiricalGenerated { n, .. } => n,
        _ => 0,
    }
}

/// A neuron (a, w_1, w_2, b) as drawn: its effective weights |a| (w_1, w_2), and |(w, b)|.
fn effective(a: f64, row: &[f64]) -> ((f64, f64), f64) {
    let norm = row.iter().map(|x| x * x).sum::<f64>().sqrt();
    ((a.abs() * row[0], a.abs() * row[1]), norm)
}

/// The cloud of directions over the snapshots (all particles, with their paths), as a single
/// frame with trajectories, six panels and an animated GIF.
fn draw_particles(out: &Path, run: &RunOutput, dt: f64) -> Result<Vec<String>> {
    let frames: Vec<CloudFrame> = snapshots(&run.dir)?
        .iter()
        .map(|(step, particles)| {
            let mut frame = CloudFrame {
                time: *step as f64 * dt,
                x: Vec::new(),
                y: Vec::new(),
                color: Vec::new(),
                size: Vec::new(),
            };
            for j in 0..particles.nrows() {
                let row: Vec<f64> = particles.row(j).iter().skip(1).copied().collect();
                let ((x, y), norm) = effective(particles[(j, 0)], &row);
                let a = particles[(j, 0)];
                frame.x.push(x);
                frame.y.push(y);
                frame.color.push(a);
                frame.size.push(a.abs() * norm);
            }
            frame
        })
        .collect();
    let tracked = frames.first().map_or(0, |frame| frame.x.len().min(TRACKED));
    let trajectories = (0..tracked)
        .map(|j| {
            frames
                .iter()
                .map(|frame| (frame.x[j], frame.y[j]))
                .collect()
        })
        .collect();
    let teacher = teacher();
    let stars = (0..teacher.nrows())
        .map(|i| {
            let row: Vec<f64> = teacher.row(i).iter().skip(1).copied().collect();
            effective(teacher[(i, 0)], &row).0
        })
        .collect();
    let cloud = CloudFigure {
        title: "Effective neurons |a| w".into(),
        x_label: "|a| w_1".into(),
        y_label: "|a| w_2".into(),
        color_label: "output weight a".into(),
        frames,
        teacher: stars,
        projected_teacher: Vec::new(),
        trajectories,
    };
    render_cloud(&cloud, &out.join("convergence_particles"))?;
    render_cloud_panels(&cloud, 6, &out.join("convergence_panels"))?;
    render_cloud_gif(&cloud, &out.join("convergence.gif"))?;
    Ok([
        "convergence_particles.png",
        "convergence_particles.svg",
        "convergence_panels.png",
        "convergence_panels.svg",
        "convergence.gif",
    ]
    .iter()
    .map(|name| (*name).to_string())
    .collect())
}

/// The training and held-out risks against time, log-log.
fn draw_risk(
    out: &Path,
    m: usize,
    time: &[f64],
    risk: &[f64],
    test_risk: &[f64],
) -> Result<Vec<String>> {
    let figure = LogLogFigure {
        title: format!("Risk of the relu student of width m = {m}"),
        x_label: "time t".into(),
        y_label: "risk".into(),
        curves: vec![
            Curve {
                label: "training risk".into(),
                x: time.to_vec(),
                y: risk.to_vec(),
            },
            Curve {
                label: "held-out risk".into(),
                x: time.to_vec(),
                y: test_risk.to_vec(),
            },
        ],
    };
    render_loglog(&figure, &out.join("convergence_risk"))?;
    Ok(vec![
        "convergence_risk.png".to_string(),
        "convergence_risk.svg".to_string(),
    ])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

    use super::*;
    use crate::output::read_npy;

    #[test]
    fn the_shipped_sizes_read_and_full_size_is_the_scenario_file() {
        let quick: Sizes = crate::gallery::context::shipped_sizes("convergence", true).unwrap();
        let full: Sizes = crate::gallery::context::shipped_sizes("convergence", false).unwrap();
        assert!(quick.m.is_some() && quick.risk_n.is_some() && quick.t_end.is_some());
        assert!(full.m.is_none() && full.risk_n.is_none() && full.t_end.is_none());
        let teacher = Path::new("teacher.npy");
        assert_eq!(overrides(&full, teacher).len(), 3);
        assert_eq!(
            overrides(&quick, teacher)[3..],
            ["model.m=100", "risk.n=1024", "dynamics.t_end=1000.0"]
        );
    }

    #[test]
    fn the_shipped_teacher_file_is_the_entry_teacher() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/gallery/convergence_teacher.npy");
        let shipped = read_npy(&path).unwrap();
        assert_eq!(shipped, teacher());
    }

    #[test]
    fn a_neuron_is_drawn_at_its_effective_weights() {
        let ((x, y), norm) = effective(-2.0, &[3.0, 1.0, 4.0]);
        assert_eq!((x, y), (6.0, 2.0));
        assert!((norm - 26.0_f64.sqrt()).abs() < 1e-15);
    }
}
