//! The figures of a run directory, drawn from its stored data (series.csv, measures.csv,
//! snapshots/, marginals_*.csv, teacher.npy, summary.json) into `plots/` and `report.html`:
//! one function per figure (risk, distance and movement, particle cloud, marginals), chained by
//! [`render_plots`]; the diagnostics of docs/math.md section 2 (risk, dissipation, movement)
//! are only drawn here, never recomputed.
//!
//! What each figure may claim is decided from the run directory, so that no figure states a
//! falsehood (issue 21, item 4):
//!
//! - the risk figure draws the objective E = R + (lambda/2) m^(2 - 2 alpha) mean_j |theta_j|^2
//!   beside R whenever lambda > 0 (R may rise while E, the quantity the flow decreases, falls);
//! - the dissipation D = m^(2 - 2 alpha) mean_j |v_j|^2 is labelled -dE/dt only where the energy
//!   identity of docs/math.md section 2 holds: a deterministic gradient flow of the logged risk
//!   (population or empirical mode, tau = 0; exact as dt -> 0). With SGD batches (online mode)
//!   v_j is a stochastic drift, and with tau > 0 the noise is left out of v_j: there D is only
//!   the mean squared drift;
//! - the particle cloud is drawn on the plane of teacher neurons 1 and 2, said in its title and
//!   axis labels; further teacher neurons are marked at their projection, as hollow stars.

use std::path::{Path, PathBuf};

use nalgebra::DMatrix;

use crate::diagnostics::measure::{plane_of, principal_plane, w_norms};
use crate::error::{Error, Result};
use crate::output::limit_beside::{LimitFacts, limit_of_run};
use crate::output::{RunEntry, Table, marginal_quantity, read_npy};
use crate::plot::figure::render_styled;
use crate::plot::report::{
    Report, ReportFigure, ReportLink, ReportTable, significant, write_report,
};
use crate::plot::style::{PALETTE, REFERENCE, dash_of};
use crate::plot::{
    CloudFigure, CloudFrame, Curve, HeatMap, LineFigure, Scale, render_cloud, render_cloud_gif,
    render_cloud_panels, render_heatmap, render_lines,
};

/// What the dissipation column D of a run means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dissipation {
    /// A deterministic gradient flow of the logged risk: D = -dE/dt (population or empirical
    /// mode with tau = 0).
    EnergyIdentity,
    /// Online SGD: v_j is the drift of one batch, D its mean square; D != -dE/dt.
    StochasticDrift,
    /// tau > 0: v_j leaves out the noise sqrt(2 tau) dB_j, so D != -dE/dt.
    NoiseLeftOut,
    /// A lambda schedule: E follows lambda(t), so dE/dt = -D + (lambda'(t)/2) m^(2 - 2 alpha)
    /// mean_j |theta_j|^2 (docs/scenarios.md, "Schedules"), not -D.
    DecayScheduled,
}

impl Dissipation {
    /// The legend of the D curve.
    pub fn label(self) -> &'static str {
        match self {
            Self::EnergyIdentity => "dissipation D = -dE/dt",
            Self::StochasticDrift => "D = mean |v|^2 (stochastic drift)",
            Self::NoiseLeftOut => "D = mean |v|^2 (drift, noise left out)",
            Self::DecayScheduled => "D = mean |v|^2 (lambda scheduled)",
        }
    }
}

/// The facts of a run that decide what its figures may claim, read from its `scenario.toml`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunFacts {
    /// What D means in this run.
    pub dissipation: Dissipation,
    /// Online mode: the logged risk is that of the step's batch.
    pub online: bool,
}

impl RunFacts {
    /// The facts of the resolved scenario text `scenario` (a run directory's scenario.toml):
    /// `risk.mode` (default population) and `dynamics.tau` (default 0; a value that is not a
    /// number, such as a schedule, counts as tau > 0); a `dynamics.lambda` schedule breaks
    /// D = -dE/dt too. Unreadable text gives the cautious
    /// reading (D is not claimed to be -dE/dt).
    pub fn of_scenario(scenario: &str) -> Self {
        let Ok(value) = scenario.parse::<toml::Table>() else {
            return Self {
                dissipation: Dissipation::StochasticDrift,
                online: false,
            };
        };
        let lookup = |section: &str, key: &str| value.get(section).and_then(|s| s.get(key));
        let mode = lookup("risk", "mode")
            .and_then(toml::Value::as_str)
            .unwrap_or("population");
        let tau_positive = match lookup("dynamics", "tau") {
            None => false,
            Some(tau) => tau
                .as_float()
                .or_else(|| tau.as_integer().map(|t| t as f64))
                .is_none_or(|tau| tau > 0.0),
        };
        let lambda_scheduled = lookup("dynamics", "lambda").is_some_and(toml::Value::is_table);
        let dissipation = if tau_positive {
            Dissipation::NoiseLeftOut
        } else if mode == "online" {
            Dissipation::StochasticDrift
        } else if lambda_scheduled {
            Dissipation::DecayScheduled
        } else {
            Dissipation::EnergyIdentity
        };
        Self {
            dissipation,
            online: mode == "online",
        }
    }
}

/// The curves of the risk figure: (series.csv column, legend) in drawing order, its title and
/// vertical axis label, and the report's caption.
#[derive(Clone, Debug, PartialEq)]
pub struct RiskFigure {
    /// Title (after the run name).
    pub title: String,
    /// Vertical axis label.
    pub y_label: String,
    /// (column, legend) of each curve.
    pub curves: Vec<(String, String)>,
    /// Caption in report.html.
    pub caption: String,
}

/// Whether weight decay was on: the objective column differs from the risk in some row (the
/// recorder writes E = R exactly when lambda <= 0, and E > R when lambda > 0 and theta != 0).
pub fn has_weight_decay(series: &Table) -> bool {
    match (series.column("risk"), series.column("objective")) {
        (Some(risk), Some(objective)) => risk
            .iter()
            .zip(&objective)
            .any(|(r, e)| r.to_bits() != e.to_bits() && r.is_finite() && e.is_finite()),
        _ => false,
    }
}

/// The risk figure of a run with logged `series` and `facts`: R, the test risk if logged, the
/// objective E when lambda > 0, and D labelled by what it means.
pub fn risk_figure(series: &Table, facts: &RunFacts) -> RiskFigure {
    let decay = has_weight_decay(series);
    let risk = if facts.online {
        "risk R (of the step's batch)"
    } else {
        "risk R"
    };
    let mut curves = vec![("risk".to_owned(), risk.to_owned())];
    for extra in ["population_risk", "test_risk"] {
        if series.columns.iter().any(|c| c == extra) {
            let label = if extra == "test_risk" {
                "test risk"
            } else {
                "population risk (exact)"
            };
            curves.push((extra.to_owned(), label.to_owned()));
        }
    }
    if decay {
        curves.push((
            "objective".to_owned(),
            "objective E = R + (lambda/2) mean |theta|^2".to_owned(),
        ));
    }
    curves.push((
        "dissipation".to_owned(),
        facts.dissipation.label().to_owned(),
    ));
    let (title, y_label) = if decay {
        (
            "risk, objective and dissipation",
            "risk R, objective E, dissipation D",
        )
    } else {
        ("risk and dissipation", "risk R, dissipation D")
    };
    let mut caption = String::from(if facts.online {
        "Risk R of each step's batch"
    } else {
        "Risk R"
    });
    if decay {
        caption.push_str(
            ", the objective E = R + (lambda/2) m^(2 - 2 alpha) mean_j |theta_j|^2 that the \
             flow decreases (R alone may rise)",
        );
    }
    caption.push_str(match facts.dissipation {
        Dissipation::EnergyIdentity => " and the dissipation D = -dE/dt against time.",
        Dissipation::StochasticDrift => {
            " and D = m^(2 - 2 alpha) mean_j |v_j|^2 of the stochastic (SGD batch) drift against \
             time; with batches D is not -dE/dt."
        }
        Dissipation::NoiseLeftOut => {
            " and D = m^(2 - 2 alpha) mean_j |v_j|^2 of the drift without the noise against \
             time; with tau > 0 D is not -dE/dt."
        }
        Dissipation::DecayScheduled => {
            " and D = m^(2 - 2 alpha) mean_j |v_j|^2 against time; under the lambda schedule \
             dE/dt = -D + (lambda'(t)/2) m^(2 - 2 alpha) mean_j |theta_j|^2."
        }
    });
    RiskFigure {
        title: title.to_owned(),
        y_label: y_label.to_owned(),
        curves,
        caption,
    }
}

/// The plane a particle cloud is drawn on.
#[derive(Clone, Debug, PartialEq)]
pub struct CloudPlane {
    /// Orthonormal basis of the plane.
    pub e1: Vec<f64>,
    /// Second basis vector.
    pub e2: Vec<f64>,
    /// What the plane is, for the title ("plane of teacher neurons 1 and 2").
    pub name: String,
    /// Horizontal axis label.
    pub x_label: String,
    /// Vertical axis label.
    pub y_label: String,
    /// Teacher neurons in the plane (marked as stars); the others are marked at their
    /// projection, as hollow stars.
    pub teachers_in_plane: usize,
}

/// The plane of the cloud of a run with teacher directions `teacher_w` and last particles
/// `last`: the plane of teacher neurons 1 and 2 (k >= 2; neurons 3..k are projected onto it);
/// teacher neuron 1 and the principal direction of the w_j (k = 1); the principal plane of the
/// w_j (no teacher).
pub fn cloud_plane(teacher_w: &[Vec<f64>], last: &DMatrix<f64>) -> CloudPlane {
    match teacher_w {
        [first, second, rest @ ..] => {
            let (e1, e2) = plane_of(first, second);
            let name = match rest.len() {
                0 => "plane of teacher neurons 1 and 2".to_owned(),
                1 => "plane of teacher neurons 1 and 2 (neuron 3 projected)".to_owned(),
                more => format!(
                    "plane of teacher neurons 1 and 2 (neurons 3-{} projected)",
                    more + 2
                ),
            };
            CloudPlane {
                e1,
                e2,
                name,
                x_label: "w . e1 (along teacher 1)".into(),
                y_label: "w . e2 (plane of teachers 1, 2)".into(),
                teachers_in_plane: 2,
            }
        }
        [first] => {
            let (principal, _) = principal_plane(last);
            let (e1, e2) = plane_of(first, &principal);
            CloudPlane {
                e1,
                e2,
                name: "plane of the teacher neuron and the principal direction".into(),
                x_label: "w . e1 (along the teacher)".into(),
                y_label: "w . e2 (principal direction)".into(),
                teachers_in_plane: 1,
            }
        }
        [] => {
            let (e1, e2) = principal_plane(last);
            CloudPlane {
                e1,
                e2,
                name: "principal plane of w".into(),
                x_label: "w . e1".into(),
                y_label: "w . e2".into(),
                teachers_in_plane: 0,
            }
        }
    }
}

pub use crate::output::run_directory::read_snapshots;

/// The report entry of the figure `plots/<stem>.png` of a run: its caption, with links to its
/// SVG (and `extra`, such as the animation) and to the data files it was drawn from.
fn run_figure(
    out: &Path,
    stem: &str,
    caption: impl Into<String>,
    extra: &[(&str, &str)],
    data: &[&str],
) -> ReportFigure {
    let mut links = vec![ReportLink {
        href: format!("plots/{stem}.svg"),
        description: "SVG".into(),
    }];
    links.extend(extra.iter().map(|(href, description)| ReportLink {
        href: (*href).into(),
        description: (*description).into(),
    }));
    links.extend(data.iter().map(|file| ReportLink {
        href: (*file).into(),
        description: format!("data: {file}"),
    }));
    ReportFigure {
        caption: caption.into(),
        png: RunEntry::Plots.path(out).join(format!("{stem}.png")),
        links,
    }
}

/// The curves of `table` named in `wanted` (column, legend) against `time`, in that order;
/// columns the table lacks are left out.
fn curves_of(table: &Table, time: &[f64], wanted: &[(&str, &str)]) -> Vec<Curve> {
    wanted
        .iter()
        .filter_map(|(column, label)| {
            table.column(column).map(|y| Curve {
                label: (*label).into(),
                x: time.to_vec(),
                y,
            })
        })
        .collect()
}

/// plots/risk.png and .svg of the run directory `out` from its series `table` (times `time`):
/// the risk figure of [`risk_figure`], and beside it, first and in black, the exact limit
/// R_inf(t) kept in `out/limit/` ([`limit_of_run`]) where there is one; returns its caption
/// and PNG path.
///
/// # Errors
/// [`Error::RunDirectory`] when `out/limit/` holds the limit of another problem; read and
/// drawing errors.
pub fn render_risk(out: &Path, name: &str, table: &Table, time: &[f64]) -> Result<ReportFigure> {
    let plots = RunEntry::Plots.path(out);
    std::fs::create_dir_all(&plots).map_err(|e| Error::io(&plots, e))?;
    // What the risk figure may claim (E beside R under weight decay; D = -dE/dt or not).
    let facts = RunFacts::of_scenario(
        &std::fs::read_to_string(out.join("scenario.toml")).unwrap_or_default(),
    );
    let risk_figure = risk_figure(table, &facts);
    let limit = limit_of_run(out)?;
    let mut curves = Vec::new();
    let mut styles = Vec::new();
    if let Some((x, y)) = limit
        .as_ref()
        .and_then(|l| l.series.column("time").zip(l.series.column("risk")))
    {
        curves.push(Curve {
            label: LIMIT_LABEL.into(),
            x,
            y,
        });
        styles.push(Some((REFERENCE, None)));
    }
    for (index, (column, label)) in risk_figure.curves.iter().enumerate() {
        if let Some(y) = table.column(column) {
            curves.push(Curve {
                label: label.clone(),
                x: time.to_vec(),
                y,
            });
            // The colour and dash the curve has without the limit.
            styles.push(Some((PALETTE[index % PALETTE.len()], dash_of(index))));
        }
    }
    render_styled(
        &LineFigure {
            title: format!("{name}: {}", risk_figure.title),
            x_label: "time t".into(),
            y_label: risk_figure.y_label.clone(),
            x_scale: Scale::Log,
            y_scale: Scale::Log,
            curves,
        },
        &styles,
        &plots.join("risk"),
    )?;
    let mut caption = risk_figure.caption;
    let mut data = vec!["series.csv".to_owned()];
    if let Some(limit) = &limit {
        caption.push_str(&limit_caption(&limit.facts));
        data.push("limit/series.csv".into());
        data.push("limit/summary.json".into());
    }
    let data: Vec<&str> = data.iter().map(String::as_str).collect();
    Ok(run_figure(out, "risk", caption, &[], &data))
}

/// The legend of the limit curve on a run's risk figure.
const LIMIT_LABEL: &str = "risk R, exact limit m \u{2192} \u{221e}";

/// What the caption of a run's risk figure says of the limit drawn on it.
fn limit_caption(summary: &LimitFacts) -> String {
    let estimate = summary.relative_error.map_or_else(String::new, |e| {
        format!(", its relative error estimate {}", significant(e, 2))
    });
    format!(
        " The black curve is the exact mean-field limit (m \u{2192} \u{221e}) of the same \
         scenario, R(0) = {} \u{2192} R({}) = {}, solved by the symmetry reduction of \
         docs/limit.md into limit/ ({} nodes{estimate}).",
        significant(summary.initial_risk, 4),
        significant(summary.time, 4),
        significant(summary.final_risk, 4),
        summary.nodes,
    )
}

/// Re-renders every figure of a run directory (`plots/`) and `report.html` from its stored
/// data: series.csv, measures.csv, snapshots/, marginals_*.csv, teacher.npy, summary.json.
pub fn render_plots(out: &Path, name: &str) -> Result<()> {
    let series_path = RunEntry::Series.path(out);
    let table = Table::read_csv(&series_path)?;
    let time = table
        .column("time")
        .ok_or_else(|| Error::format(&series_path, "no column `time`"))?;
    let plots = RunEntry::Plots.path(out);
    std::fs::create_dir_all(&plots).map_err(|e| Error::io(&plots, e))?;
    let mut figures: Vec<ReportFigure> = vec![render_risk(out, name, &table, &time)?];
    figures.extend(render_movement(out, name, &table, &time)?);
    figures.extend(render_clouds(out, name, &table)?);
    figures.extend(render_marginals(out, name)?);
    write_run_report(out, name, &figures)
}

/// plots/distance (from measures.csv, when there is one) and plots/movement: the distance of
/// the measure at t to that at 0, and the movement of the particles with the tangent-kernel
/// change (lazy-regime indicators). Returns their captions and PNG paths, distance first.
fn render_movement(
    out: &Path,
    name: &str,
    table: &Table,
    time: &[f64],
) -> Result<Vec<ReportFigure>> {
    let plots = RunEntry::Plots.path(out);
    let mut figures = Vec::new();
    let measures = Table::read_csv(&RunEntry::Measures.path(out)).ok();
    let mut movement_curves = curves_of(
        table,
        time,
        &[
            ("movement_mean", "mean |theta_j(t) - theta_j(0)|"),
            ("movement_relative", "|Theta(t) - Theta(0)| / |Theta(0)|"),
        ],
    );
    if let Some(measures) = &measures
        && let Some(measure_time) = measures.column("time")
    {
        movement_curves.extend(curves_of(
            measures,
            &measure_time,
            &[("kernel_change", "tangent kernel change (rel. Frobenius)")],
        ));
        render_lines(
            &LineFigure {
                title: format!("{name}: distance to the initial measure"),
                x_label: "time t".into(),
                y_label: "distance".into(),
                x_scale: Scale::Log,
                y_scale: Scale::Log,
                curves: curves_of(
                    measures,
                    &measure_time,
                    &[
                        ("coupled_to_init", "coupled (paired particles)"),
                        ("sliced_w2_to_init", "sliced W2"),
                        ("exact_w2_to_init", "exact W2"),
                    ],
                ),
            },
            &plots.join("distance"),
        )?;
        figures.push(run_figure(
            out,
            "distance",
            "Distance between the empirical measure at time t and at time 0: the coupled \
             distance (each particle paired with its own initial position, an upper bound on \
             W2), the sliced W2 and the exact W2. While the optimal assignment is the identity \
             the coupled and exact curves coincide: the exact W2 is then also marked with \
             circles.",
            &[],
            &["measures.csv"],
        ));
    }
    render_lines(
        &LineFigure {
            title: format!("{name}: movement and tangent kernel"),
            x_label: "time t".into(),
            y_label: "relative change".into(),
            x_scale: Scale::Log,
            y_scale: Scale::Log,
            curves: movement_curves,
        },
        &plots.join("movement"),
    )?;
    figures.push(run_figure(
        out,
        "movement",
        "Particle movement and tangent-kernel change, the lazy-regime indicators: both stay \
         small when the network trains near its initialisation (alpha = 1/2, large m).",
        &[],
        &["series.csv", "measures.csv"],
    ));
    Ok(figures)
}

/// plots/cloud, cloud_panels and cloud.gif from the snapshots (none without snapshots): the
/// particles w_j projected on the plane of [`cloud_plane`], coloured by a, sized by |a||w|,
/// with the trajectories of the first 40. Returns the captions and PNG paths.
fn render_clouds(out: &Path, name: &str, table: &Table) -> Result<Vec<ReportFigure>> {
    let snapshots = read_snapshots(out)?;
    let Some((_, last)) = snapshots.last() else {
        return Ok(Vec::new());
    };
    let plots = RunEntry::Plots.path(out);
    let teacher = read_npy(&RunEntry::Teacher.path(out)).ok();
    let d = last.ncols() - 1;
    let teacher_w: Vec<Vec<f64>> = teacher
        .as_ref()
        .filter(|t| t.ncols() == d + 1)
        .map(|t| {
            (0..t.nrows())
                .map(|i| (0..d).map(|c| t[(i, 1 + c)]).collect())
                .collect()
        })
        .unwrap_or_default();
    let plane = cloud_plane(&teacher_w, last);
    let frames = cloud_frames(&snapshots, d, table, &plane);
    let tracked = frames.first().map_or(0, |f| f.x.len().min(40));
    let trajectories = (0..tracked)
        .map(|j| frames.iter().map(|f| (f.x[j], f.y[j])).collect())
        .collect();
    let (e1, e2) = (plane.e1.clone(), plane.e2.clone());
    let projected = |w: &Vec<f64>| (project(w, &e1), project(w, &e2));
    let cloud = CloudFigure {
        title: format!("{name}: particles w_j, {}", plane.name),
        x_label: plane.x_label.clone(),
        y_label: plane.y_label.clone(),
        color_label: "a".into(),
        teacher: teacher_w
            .iter()
            .take(plane.teachers_in_plane)
            .map(projected)
            .collect(),
        projected_teacher: teacher_w
            .iter()
            .skip(plane.teachers_in_plane)
            .map(projected)
            .collect(),
        frames,
        trajectories,
    };
    render_cloud(&cloud, &plots.join("cloud"))?;
    render_cloud_panels(&cloud, 6, &plots.join("cloud_panels"))?;
    render_cloud_gif(&cloud, &plots.join("cloud.gif"))?;
    Ok(vec![
        run_figure(
            out,
            "cloud",
            format!(
                "Particles at the last snapshot on the {}, coloured by a, sized by |a| |w|, with \
                 trajectories; teacher neurons marked (hollow: projected from outside the plane).",
                plane.name
            ),
            &[("plots/cloud.gif", "animation (GIF)")],
            &["snapshots/"],
        ),
        run_figure(
            out,
            "cloud_panels",
            "The particle cloud at six snapshots, in the same plane and colours.",
            &[],
            &["snapshots/"],
        ),
    ])
}

/// w . e, summed in index order.
fn project(w: &[f64], e: &[f64]) -> f64 {
    w.iter().zip(e).map(|(x, y)| x * y).sum::<f64>()
}

/// One frame of the cloud per snapshot (`d` inputs): the w_j projected on `plane`, a_j as colour and
/// |a_j||w_j| as size, at the snapshot's time in the series `table`.
fn cloud_frames(
    snapshots: &[(u64, DMatrix<f64>)],
    d: usize,
    table: &Table,
    plane: &CloudPlane,
) -> Vec<CloudFrame> {
    snapshots
        .iter()
        .map(|(step, t)| {
            let rows: Vec<Vec<f64>> = (0..t.nrows())
                .map(|j| (0..d).map(|c| t[(j, 1 + c)]).collect())
                .collect();
            let norms = w_norms(t);
            CloudFrame {
                time: time_at_step(table, *step),
                x: rows.iter().map(|w| project(w, &plane.e1)).collect(),
                y: rows.iter().map(|w| project(w, &plane.e2)).collect(),
                color: t.column(0).iter().copied().collect(),
                size: t
                    .column(0)
                    .iter()
                    .zip(&norms)
                    .map(|(a, n)| a.abs() * n)
                    .collect(),
            }
        })
        .collect()
}

/// plots/marginal_<quantity> from each `marginals_<quantity>.csv` of `out`, in file-name order:
/// the density of the quantity over time as a heat map. Returns the captions and PNG paths.
fn render_marginals(out: &Path, name: &str) -> Result<Vec<ReportFigure>> {
    let plots = RunEntry::Plots.path(out);
    let mut marginal_files: Vec<PathBuf> = std::fs::read_dir(out)
        .map_err(|e| Error::io(out, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| RunEntry::Marginals.matches(n))
        })
        .collect();
    marginal_files.sort();
    let mut figures = Vec::new();
    for path in marginal_files {
        let marginal = Table::read_csv(&path)?;
        let quantity = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(marginal_quantity)
            .unwrap_or("value")
            .to_string();
        let centres: Vec<f64> = marginal.columns[2..]
            .iter()
            .filter_map(|c| c.parse().ok())
            .collect();
        if centres.len() < 2 {
            continue;
        }
        let width = centres[1] - centres[0];
        let mut edges: Vec<f64> = centres.iter().map(|c| c - 0.5 * width).collect();
        edges.push(centres[centres.len() - 1] + 0.5 * width);
        let label = marginal_label(&quantity);
        render_heatmap(
            &HeatMap {
                title: format!("{name}: marginal of {label}"),
                value_label: label.clone(),
                times: marginal.rows.iter().map(|r| r[1]).collect(),
                edges,
                density: marginal.rows.iter().map(|r| r[2..].to_vec()).collect(),
            },
            &plots.join(format!("marginal_{quantity}")),
        )?;
        figures.push(run_figure(
            out,
            &format!("marginal_{quantity}"),
            format!("Density of {label} over the particles, at each snapshot time."),
            &[],
            &[&format!("marginals_{quantity}.csv")],
        ));
    }
    Ok(figures)
}

/// The axis label of a marginal's quantity (`a`, `w_norm`, `angle_<i>`).
fn marginal_label(quantity: &str) -> String {
    match quantity {
        "a" => "output weight a".to_string(),
        "w_norm" => "|w|".to_string(),
        other => other
            .strip_prefix("angle_")
            .and_then(|i| i.parse::<usize>().ok())
            .map_or(other.to_string(), |i| {
                format!("angle to teacher neuron {} (rad)", i + 1)
            }),
    }
}

/// report.html of `out`: the run in one sentence, the scenario's parameters section by
/// section (scenario.toml), the summary rounded ([`summary_rows`]), `figures`, and the files of
/// the run directory with what each holds.
fn write_run_report(out: &Path, name: &str, figures: &[ReportFigure]) -> Result<()> {
    let summary: serde_json::Map<String, serde_json::Value> =
        std::fs::read_to_string(RunEntry::Summary.path(out))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default();
    let scenario = std::fs::read_to_string(RunEntry::Scenario.path(out))
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .unwrap_or_default();
    let mut tables = vec![ReportTable {
        heading: "Summary".into(),
        rows: summary_rows(&summary),
    }];
    tables.extend(parameter_tables(&scenario));
    let report = Report {
        title: format!("meanfield run: {name}"),
        lead: lead_of(&summary, &scenario),
        tables,
        figures: figures.to_vec(),
        files: run_files(out),
    };
    write_report(&RunEntry::Report.path(out), &report)
}

/// One sentence: what was trained on what, and how it ended.
fn lead_of(summary: &serde_json::Map<String, serde_json::Value>, scenario: &toml::Table) -> String {
    let get = |section: &str, key: &str| {
        scenario
            .get(section)
            .and_then(|s| s.get(key))
            .map(|v| match v {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
    };
    let mut lead = String::new();
    if let (Some(m), Some(d)) = (get("model", "m"), get("model", "d")) {
        lead.push_str(&format!(
            "A {} network of width m = {m} in d = {d}",
            get("model", "activation").unwrap_or_else(|| "relu".into())
        ));
        if let Some(alpha) = get("model", "alpha") {
            lead.push_str(&format!(", scaling alpha = {alpha}"));
        }
        lead.push_str(&format!(
            ", trained on the {} risk",
            get("risk", "mode").unwrap_or_else(|| "population".into())
        ));
        lead.push_str(". ");
    }
    let number = |key: &str| summary.get(key).and_then(serde_json::Value::as_f64);
    if let Some(status) = summary.get("status").and_then(|s| s.as_str()) {
        lead.push_str(&format!("Status: {status}"));
        if let (Some(step), Some(time)) = (number("step"), number("time")) {
            lead.push_str(&format!(
                " at step {} (time {})",
                significant(step, 15),
                significant(time, 6)
            ));
        }
        if let (Some(initial), Some(last)) = (number("initial_risk"), number("final_risk")) {
            lead.push_str(&format!(
                "; risk {} -> {}",
                significant(initial, 4),
                significant(last, 4)
            ));
        }
        lead.push('.');
    }
    lead
}

/// The rows of summary.json, rounded to meaningful digits: risks and times to 6 significant
/// digits (the engine is exact to about 1e-9, the last digits of a float64 are noise to a
/// reader), wall times and rates to 3; integers in full; `null` fields (what does not apply to
/// this run) left out; known keys first, in a reading order, then any others alphabetically.
pub fn summary_rows(summary: &serde_json::Map<String, serde_json::Value>) -> Vec<(String, String)> {
    const ORDER: [&str; 20] = [
        "name",
        "status",
        "message",
        "step",
        "time",
        "initial_risk",
        "final_risk",
        "final_test_risk",
        "final_population_risk",
        "final_classification_error",
        "final_test_classification_error",
        "m",
        "d",
        "seed",
        "snapshot_particles",
        "snapshot_subsampled",
        "wall_seconds_total",
        "wall_seconds_invocation",
        "steps_per_second",
        "threads",
    ];
    let rank = |key: &str| ORDER.iter().position(|k| *k == key).unwrap_or(ORDER.len());
    let mut keys: Vec<&String> = summary.keys().collect();
    keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    keys.into_iter()
        .filter_map(|key| {
            let digits = if key.contains("second") { 3 } else { 6 };
            value_text(&summary[key.as_str()], digits).map(|text| (key.clone(), text))
        })
        .collect()
}

/// A JSON value as table text (numbers to `digits` significant digits), `None` for `null`.
fn value_text(value: &serde_json::Value, digits: usize) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::Bool(b) => Some(if *b { "yes" } else { "no" }.into()),
        serde_json::Value::Number(n) => Some(match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => u.to_string(),
            (_, Some(i), _) => i.to_string(),
            (_, _, Some(x)) => significant(x, digits),
            _ => n.to_string(),
        }),
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The scenario's parameters: the top-level values (name, seed) as "Run", then one table per
/// section (model, init, target, input, risk, data, dynamics, record, then any other), each value
/// as TOML writes it (inline tables such as `{ law = "normal", std = 0.5 }` on one row).
pub fn parameter_tables(scenario: &toml::Table) -> Vec<ReportTable> {
    let text = |value: &toml::Value| match value {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut run = ReportTable {
        heading: "Parameters: run".into(),
        rows: Vec::new(),
    };
    let mut sections = Vec::new();
    for (key, value) in scenario {
        match value {
            toml::Value::Table(table) => sections.push(ReportTable {
                heading: format!("Parameters: [{key}]"),
                rows: table.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
            }),
            other => run.rows.push((key.clone(), text(other))),
        }
    }
    // A reading order: what the network is, where it starts, what it learns, how.
    const ORDER: [&str; 8] = [
        "model", "init", "target", "input", "risk", "data", "dynamics", "record",
    ];
    let rank = |heading: &str| {
        ORDER
            .iter()
            .position(|k| heading == format!("Parameters: [{k}]"))
            .unwrap_or(ORDER.len())
    };
    sections.sort_by_key(|t| rank(&t.heading));
    std::iter::once(run).chain(sections).collect()
}

/// The files of the run directory `out` that exist, each with what it holds.
fn run_files(out: &Path) -> Vec<ReportLink> {
    let mut names: Vec<(String, String)> = [
        (
            "scenario.toml",
            "the resolved scenario: every parameter of this run",
        ),
        (
            "series.csv",
            "one row per logged step (risk, dissipation, movement, ...)",
        ),
        ("summary.json", "how the run ended, final values, wall time"),
        (
            "measures.csv",
            "distances to the initial measure and kernel change at the snapshots",
        ),
        (
            "particles_init.npy",
            "the particles at step 0 (rows (a_j, w_j))",
        ),
        ("particles_final.npy", "the particles at the last step"),
        (
            "particles_last_finite.npy",
            "the last finite particles of a diverged run",
        ),
        ("teacher.npy", "the teacher neurons"),
        (
            "snapshots/",
            "the particles at the snapshot steps (step_<k>.npy)",
        ),
        ("plots/", "every figure as PNG and SVG"),
    ]
    .into_iter()
    .map(|(name, description)| (name.to_owned(), description.to_owned()))
    .collect();
    let mut marginals: Vec<String> = std::fs::read_dir(out)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|name| marginal_quantity(name).is_some())
                .collect()
        })
        .unwrap_or_default();
    marginals.sort();
    names.extend(marginals.into_iter().map(|name| {
        let quantity = marginal_quantity(&name).unwrap_or_default().to_owned();
        (
            name,
            format!("histograms of {} over time", marginal_label(&quantity)),
        )
    }));
    names
        .into_iter()
        .filter(|(name, _)| out.join(name.trim_end_matches('/')).exists())
        .map(|(href, description)| ReportLink { href, description })
        .collect()
}

/// The time of `step`, from a run's series: its row's time, else linear between the logged
/// steps around it (exact for a constant dt; a dt schedule is piecewise linear in the step
/// between its logged rows only where dt does not change), else time / step of the last row.
fn time_at_step(table: &Table, step: u64) -> f64 {
    let steps = table.column("step").unwrap_or_default();
    let times = table.column("time").unwrap_or_default();
    let target = step as f64;
    let rows: Vec<(f64, f64)> = steps.into_iter().zip(times).collect();
    let after = rows.partition_point(|(s, _)| *s < target);
    match (
        after.checked_sub(1).and_then(|i| rows.get(i)),
        rows.get(after),
    ) {
        (_, Some((s, t))) if *s <= target => *t,
        (Some((s0, t0)), Some((s1, t1))) => t0 + (t1 - t0) * (target - s0) / (s1 - s0),
        _ => rows
            .iter()
            .rev()
            .find(|(s, _)| *s > 0.0)
            .map_or(target, |(s, t)| target * t / s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dissipation_is_minus_de_dt_only_for_a_deterministic_flow() {
        let facts = |text: &str| RunFacts::of_scenario(text).dissipation;
        assert_eq!(
            facts("[risk]\nmode = \"population\"\n[dynamics]\ntau = 0.0\n"),
            Dissipation::EnergyIdentity
        );
        assert_eq!(
            facts("[risk]\nmode = \"empirical\"\n"),
            Dissipation::EnergyIdentity
        );
        assert_eq!(
            facts("[risk]\nmode = \"online\"\n"),
            Dissipation::StochasticDrift
        );
        assert_eq!(facts("[dynamics]\ntau = 0.01\n"), Dissipation::NoiseLeftOut);
        assert_eq!(facts("not toml ["), Dissipation::StochasticDrift);
    }
}
