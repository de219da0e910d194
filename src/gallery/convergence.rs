//! Gallery entry `convergence`: global convergence in the mean-field regime (Chizat and Bach
//! 2018). A relu student with a bias in d = 2, f(x) = (1/m) sum_j a_j relu(w_j . x + b_j),
//! learns a teacher of k = 3 relu neurons from n fixed samples (empirical risk, docs/math.md
//! section 4; population mode has no bias). The particles start uniform on the sphere of radius
//! [`RADIUS`] in (a, w, b)-space (the support condition of the 2-homogeneous theorem: that
//! sphere separates the spheres of radii RADIUS / 2 and 2 RADIUS).
//!
//! What the particles must approach is the set of exact minimisers, which is not one measure.
//! Write particle j as the kink weight c_j = a_j |(w_j, b_j)| / m on the direction
//! u_j = (w_j, b_j) / |(w_j, b_j)|; with relu(z) = (z + |z|) / 2 the student is
//! f(x) = L . (x, 1) / 2 + sum_j c_j |u_j . (x, 1)| / 2 with L = sum_j c_j u_j. The function fixes
//! the signed kink weight on every line {+u, -u} (the jump of the gradient across the kink
//! line u . (x, 1) = 0; relu(z) and relu(-z) have the same jump) and the linear part of L, and
//! nothing else: a pair (a, u), (-a, -u) adds only an affine function. So at every exact
//! minimiser the signed kink weight within any cone around a teacher line (narrower than half
//! the lines' separation, 32.8 degrees) is the teacher's, a*_i |(w*_i, b*_i)| / k, and it is 0
//! around every other line (the pure-bias direction w = 0 excepted: a constant trades with the
//! last component of L). The entry measures the ratio of the two, [`kink_ratios`], which is 1 on
//! the whole set of minimisers and 0 for a line the student misses.
//!
//! Each particle is drawn at its effective weights |a_j| w_j (a relu(z) = sign(a) relu(|a| z)).
//! Marker size |a_j| |(w_j, b_j)|, colour a_j.

use std::path::Path;

use nalgebra::DMatrix;
use serde::Deserialize;
use serde_json::{Map, json};

use crate::error::{Error, Result};
// `snapshots` is the name the drawing code below calls the one snapshot reader by.
use crate::gallery::context::{RunOutput, read_snapshots as snapshots};
use crate::gallery::{Check, Context, Entry, Outcome};
use crate::math::Particles;
use crate::math::model::{InitLaw, ScalarLaw, VectorLaw};
use crate::output::write_npy;
use crate::plot::{
    CloudFigure, CloudFrame, Curve, LogLogFigure, render_cloud, render_cloud_gif,
    render_cloud_panels, render_loglog,
};
use crate::scenario::{RiskSpec, Scenario};

/// Least factor by which the held-out risk must fall.
const REDUCTION: f64 = 100.0;

/// Radius of the initial sphere in (a, w, b)-space.
const RADIUS: f64 = 0.5;

/// Half-angles (degrees) of the cones around the teacher's lines in which the kink weight is
/// summed: all below half the smallest angle between two teacher lines (65.6 degrees), so that
/// at an exact minimiser the ratio is 1 in each of them.
const CONES: [f64; 3] = [5.0, 15.0, 30.0];

/// The ratio of the kink weight on a teacher line to the teacher's is 1 at every exact minimiser
/// and 0 on a student that misses the line; a line counts as found when its ratio is nearer to
/// 1 than to 0 or 2: within 1/2 of 1.
const FOUND: f64 = 0.5;

/// Number of particles whose paths are drawn (more hide each other).
const TRACKED: usize = 80;

/// The teacher: rows (a*, w*_1, w*_2, b*), a* = 1, b* = -0.5 and unit vectors w* at 90, 200 and
/// 340 degrees: no subset of them sums to zero (the three sum to (0, 0.316)), so flipping a
/// neuron, relu(z) = z + relu(-z), leaves a non-constant affine residue that only an extra pair
/// of opposite neurons can supply. The same numbers as `scenarios/gallery/convergence_teacher.npy`.
fn teacher() -> DMatrix<f64> {
    let rows: Vec<[f64; 4]> = [90.0_f64, 200.0, 340.0]
        .iter()
        .map(|degrees| {
            let (sin, cos) = degrees.to_radians().sin_cos();
            [1.0, cos, sin, -0.5]
        })
        .collect();
    DMatrix::from_fn(3, 4, |i, j| rows[i][j])
}

/// The initial particles: m rows (a, w_1, w_2, b) uniform on the sphere of radius [`RADIUS`] in
/// R^4 (a standard Gaussian draw of stream `seed`, each row scaled to the radius).
fn initial_particles(m: usize, seed: u64) -> Result<DMatrix<f64>> {
    let law = InitLaw {
        a: ScalarLaw::Normal {
            mean: 0.0,
            std: 1.0,
        },
        w: VectorLaw::Normal { std: 1.0 },
    };
    let mut particles = Particles::draw(m, 3, &law, seed)?.into_matrix();
    for mut row in particles.row_iter_mut() {
        let norm = row.norm();
        if norm > 0.0 {
            row *= RADIUS / norm;
        }
    }
    Ok(particles)
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

/// The setting a run is made in: the entry's, or one of its negative controls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setting {
    /// The sphere start, both layers trained.
    Shipped,
    /// Every particle at the first particle of the sphere start (a Dirac initial law): the flow
    /// keeps them equal, a single neuron.
    Dirac,
    /// The sphere start with the first layer frozen (`dynamics.train = "a_only"`).
    Frozen,
}

/// The `--set` overrides of one invocation: the teacher and initial files and the sizes.
fn overrides(sizes: &Sizes, teacher_file: &Path, init_file: &Path) -> Vec<String> {
    let mut overrides = vec![
        format!("target.file={:?}", teacher_file.display().to_string()),
        format!("init.file={:?}", init_file.display().to_string()),
        // The entry draws its own figures.
        "record.figures=false".to_string(),
        "record.marginals=false".to_string(),
    ];
    overrides.extend(sizes.m.map(|m| format!("model.m={m}")));
    overrides.extend(sizes.risk_n.map(|n| format!("risk.n={n}")));
    overrides.extend(sizes.t_end.map(|t| format!("dynamics.t_end={t:?}")));
    overrides
}

/// Writes `matrix` into `dir/name` and returns its absolute path (paths in a scenario are
/// relative to the scenario file, which may be the compiled-in copy elsewhere).
fn write_absolute(dir: &Path, name: &str, matrix: &DMatrix<f64>) -> Result<std::path::PathBuf> {
    let path = dir.join(name);
    write_npy(&path, matrix)?;
    std::path::absolute(&path).map_err(|e| Error::io(&path, e))
}

/// Runs the entry's scenario in `setting` into `work` (teacher and initial files written there).
fn simulate(
    ctx: &Context<'_>,
    file: &str,
    work: &Path,
    sizes: &Sizes,
    setting: Setting,
) -> Result<(Scenario, RunOutput)> {
    std::fs::create_dir_all(work).map_err(|e| Error::io(work, e))?;
    let teacher_file = write_absolute(work, "teacher.npy", &teacher())?;
    // The width and seed of the initial draw (the initial file is not read before `setup`).
    let plain = ctx.scenario(file, &overrides(sizes, &teacher_file, &teacher_file))?;
    let mut init = initial_particles(plain.m, plain.seed)?;
    if setting == Setting::Dirac {
        let first = init.row(0).into_owned();
        for mut row in init.row_iter_mut() {
            row.copy_from(&first);
        }
    }
    let init_file = write_absolute(work, "init.npy", &init)?;
    let mut overrides = overrides(sizes, &teacher_file, &init_file);
    if setting == Setting::Frozen {
        overrides.push("dynamics.train=\"a_only\"".to_string());
    }
    let scenario = ctx.scenario(file, &overrides)?;
    let run = ctx.run(&scenario, &work.join("run"))?;
    Ok((scenario, run))
}

/// What the checks are decided on.
#[derive(Clone, Debug)]
struct Measured {
    /// Held-out risk at t = 0 and at the end.
    test_risk: (f64, f64),
    /// Training risk at t = 0 and at the end.
    risk: (f64, f64),
    /// The end's kink-weight ratio of each teacher line (columns) in each cone of [`CONES`]
    /// (rows).
    kink_ratio: Vec<Vec<f64>>,
    /// The same at t = 0.
    kink_ratio_initial: Vec<Vec<f64>>,
    /// Share of sum_j |c_j| outside every 15-degree cone, at t = 0 and at the end.
    off_share: (f64, f64),
}

/// Kink weights of the rows (a, w, b) of `particles`: c_j = a_j |(w_j, b_j)| / m and the unit
/// direction u_j (None where (w_j, b_j) = 0).
fn kinks(particles: &DMatrix<f64>) -> Vec<(f64, Option<Vec<f64>>)> {
    let m = particles.nrows() as f64;
    particles
        .row_iter()
        .map(|row| {
            let u: Vec<f64> = row.iter().skip(1).copied().collect();
            let norm = u.iter().map(|x| x * x).sum::<f64>().sqrt();
            let direction = (norm > 0.0).then(|| u.iter().map(|x| x / norm).collect());
            (row[0] * norm / m, direction)
        })
        .collect()
}

/// For each teacher line, the signed kink weight sum_j c_j of the particles within
/// `cone_degrees` of the line (either orientation) over the teacher's, a*_i |(w*_i, b*_i)| / k;
/// and the share of sum_j |c_j| within none of the cones.
fn kink_ratios(
    particles: &DMatrix<f64>,
    teacher: &DMatrix<f64>,
    cone_degrees: f64,
) -> (Vec<f64>, f64) {
    let lines = kinks(teacher);
    let cosine = cone_degrees.to_radians().cos();
    let mut on_line = vec![0.0; lines.len()];
    let (mut off, mut total) = (0.0, 0.0);
    for (c, direction) in kinks(particles) {
        total += c.abs();
        let mut found = false;
        if let Some(u) = direction {
            for (i, (_, line)) in lines.iter().enumerate() {
                let line = line.as_deref().unwrap_or(&[]);
                let dot: f64 = u.iter().zip(line).map(|(x, y)| x * y).sum();
                if dot.abs() >= cosine {
                    on_line[i] += c;
                    found = true;
                }
            }
        }
        if !found {
            off += c.abs();
        }
    }
    // `kinks` divides the teacher's rows by k as a student's by m: f* = (1/k) sum_i.
    let ratios = on_line
        .iter()
        .zip(&lines)
        .map(|(weight, (teacher_weight, _))| weight / teacher_weight)
        .collect();
    (ratios, if total > 0.0 { off / total } else { 0.0 })
}

/// The measured numbers of a finished run.
fn measure(run: &RunOutput) -> Result<Measured> {
    let risk = run.series_column("risk")?;
    let test_risk = run.series_column("test_risk")?;
    let last = risk.len() - 1;
    let teacher = teacher();
    let ratios = |particles: &DMatrix<f64>| -> Vec<Vec<f64>> {
        CONES
            .iter()
            .map(|&cone| kink_ratios(particles, &teacher, cone).0)
            .collect()
    };
    Ok(Measured {
        test_risk: (test_risk[0], test_risk[last]),
        risk: (risk[0], risk[last]),
        kink_ratio: ratios(&run.last),
        kink_ratio_initial: ratios(&run.initial),
        off_share: (
            kink_ratios(&run.initial, &teacher, CONES[1]).1,
            kink_ratios(&run.last, &teacher, CONES[1]).1,
        ),
    })
}

/// `0.98 / 0.99 / 1.00`: one ratio per teacher line.
fn per_line(ratios: &[f64]) -> String {
    ratios
        .iter()
        .map(|r| format!("{r:.3}"))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// The checks, a pure function of the measured numbers.
fn checks(measured: &Measured) -> Vec<Check> {
    let (initial, last) = measured.test_risk;
    let reduction = initial / last;
    let found = measured
        .kink_ratio
        .iter()
        .flatten()
        .all(|r| (r - 1.0).abs() <= FOUND);
    let cones = CONES
        .iter()
        .zip(&measured.kink_ratio)
        .map(|(cone, ratios)| format!("{cone} degrees: {}", per_line(ratios)))
        .collect::<Vec<_>>()
        .join("; ");
    vec![
        Check::new(
            format!("the held-out risk falls by at least {REDUCTION}x"),
            last.is_finite() && last * REDUCTION <= initial,
            format!("test risk {initial:.3e} at t = 0, {last:.3e} at the end: {reduction:.3e}x"),
        ),
        Check::new(
            format!(
                "every teacher line is found: the signed kink weight within each cone of {CONES:?} \
                 degrees of it is the teacher's (ratio 1 at every exact minimiser) within {FOUND}"
            ),
            found,
            format!("kink-weight ratio per line, {cones}"),
        ),
    ]
}

/// Runs the entry: global convergence in the mean-field regime.
pub(super) fn run(ctx: &Context<'_>, entry: &Entry) -> Result<Outcome> {
    let sizes: Sizes = ctx.sizes(entry.name)?;
    let work = ctx.work_dir(entry.name);
    let (scenario, run) = simulate(ctx, entry.scenario, &work, &sizes, Setting::Shipped)?;
    let measured = measure(&run)?;
    let time = run.series_column("time")?;
    let risk = run.series_column("risk")?;
    let test_risk = run.series_column("test_risk")?;

    let mut figures = draw_particles(ctx.out(), &run, scenario.dt)?;
    figures.extend(draw_risk(ctx.out(), scenario.m, &time, &risk, &test_risk)?);

    let mut numbers = Map::new();
    numbers.insert("m".into(), json!(scenario.m));
    numbers.insert("k".into(), json!(teacher().nrows()));
    numbers.insert("n".into(), json!(training_size(&scenario)));
    numbers.insert("t_end".into(), json!(time.last()));
    numbers.insert("initial_risk".into(), json!(measured.risk.0));
    numbers.insert("final_risk".into(), json!(measured.risk.1));
    numbers.insert("initial_test_risk".into(), json!(measured.test_risk.0));
    numbers.insert("final_test_risk".into(), json!(measured.test_risk.1));
    numbers.insert(
        "test_risk_reduction".into(),
        json!(measured.test_risk.0 / measured.test_risk.1),
    );
    numbers.insert("cone_degrees".into(), json!(CONES));
    numbers.insert(
        "kink_ratio_initial".into(),
        json!(measured.kink_ratio_initial),
    );
    numbers.insert("kink_ratio_final".into(), json!(measured.kink_ratio));
    numbers.insert("off_line_share_initial".into(), json!(measured.off_share.0));
    numbers.insert("off_line_share_final".into(), json!(measured.off_share.1));
    Ok(Outcome {
        figures,
        numbers,
        checks: checks(&measured),
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

    fn shipped(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/gallery")
            .join(name)
    }

    #[test]
    fn the_shipped_sizes_read_and_full_size_is_the_scenario_file() {
        let quick: Sizes = crate::gallery::context::shipped_sizes("convergence", true).unwrap();
        let full: Sizes = crate::gallery::context::shipped_sizes("convergence", false).unwrap();
        assert!(quick.m.is_some() && quick.risk_n.is_some() && quick.t_end.is_some());
        assert!(full.m.is_none() && full.risk_n.is_none() && full.t_end.is_none());
        let file = Path::new("file.npy");
        assert_eq!(overrides(&full, file, file).len(), 4);
        assert_eq!(
            overrides(&quick, file, file)[4..],
            ["model.m=100", "risk.n=1024", "dynamics.t_end=1000.0"]
        );
    }

    #[test]
    fn the_shipped_teacher_and_initial_files_are_the_entry_draws() {
        assert_eq!(
            read_npy(&shipped("convergence_teacher.npy")).unwrap(),
            teacher()
        );
        let scenario = Scenario::load(&shipped("convergence.toml"), &[]).unwrap();
        let init = read_npy(&shipped("convergence_init.npy")).unwrap();
        assert_eq!(init, initial_particles(scenario.m, scenario.seed).unwrap());
        for row in init.row_iter() {
            assert!((row.norm() - RADIUS).abs() < 1e-12);
        }
    }

    #[test]
    fn a_neuron_is_drawn_at_its_effective_weights() {
        let ((x, y), norm) = effective(-2.0, &[3.0, 1.0, 4.0]);
        assert_eq!((x, y), (6.0, 2.0));
        assert!((norm - 26.0_f64.sqrt()).abs() < 1e-15);
    }

    #[test]
    fn every_exact_representation_has_kink_ratio_one() {
        let t = teacher();
        // The teacher itself, at width 6 (each neuron twice).
        let twice = DMatrix::from_fn(6, 4, |j, c| t[(j % 3, c)]);
        // Neuron 0 flipped, relu(z) = z + relu(-z), with its affine residue z supplied by the
        // opposite pair (1, u), (-1, -u) (rows scaled by 3 for the widths 3 -> 5).
        let mut flipped = DMatrix::zeros(5, 4);
        for c in 1..4 {
            flipped[(0, c)] = -t[(0, c)];
            flipped[(1, c)] = t[(1, c)];
            flipped[(2, c)] = t[(2, c)];
            flipped[(3, c)] = t[(0, c)];
            flipped[(4, c)] = -t[(0, c)];
        }
        for (j, a) in [1.0, 1.0, 1.0, 1.0, -1.0].iter().enumerate() {
            flipped[(j, 0)] = a * 5.0 / 3.0;
        }
        for student in [twice, flipped] {
            let (ratios, _) = kink_ratios(&student, &t, 15.0);
            for r in ratios {
                assert!((r - 1.0).abs() < 1e-12, "{r}");
            }
        }
    }

    /// Runs `setting` at a small size (m = 60, n = 256, t = 300) and returns its checks.
    fn control(setting: Setting) -> Vec<Check> {
        let dir = tempfile::tempdir().unwrap();
        let options = crate::gallery::context::scratch_options(dir.path());
        let ctx = Context::new(&options);
        let sizes = Sizes {
            m: Some(60),
            risk_n: Some(256),
            t_end: Some(300.0),
        };
        let work = dir.path().join("work");
        let (_, run) = simulate(&ctx, "convergence.toml", &work, &sizes, setting).unwrap();
        checks(&measure(&run).unwrap())
    }

    #[test]
    fn the_dirac_start_fails_both_checks() {
        let checks = control(Setting::Dirac);
        assert!(checks.iter().all(|c| !c.passed), "{checks:#?}");
    }

    #[test]
    fn the_frozen_first_layer_fails_the_kink_check() {
        let checks = control(Setting::Frozen);
        assert!(!checks[1].passed, "{checks:#?}");
    }
}
