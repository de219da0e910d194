//! The analysis of a merged sweep (docs/math.md sections 5 to 7): groups the runs by point,
//! analyses each point (`point`), draws the overlays of a `vary` sweep, and writes
//! `sweep_stats.csv`, `sweep_summary.json` and the terminal report.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::output::{quote_csv_field, write_atomic, write_json};
use crate::sweep::analysis::overlay::draw_overlays;
use crate::sweep::analysis::point::analyse_point;
use crate::sweep::analysis::records::SweepSummary;
use crate::sweep::analysis::tracks::{PointRuns, Track};
use crate::sweep::fits::short_time;
use crate::sweep::merge::RunSeries;
use crate::sweep::plan::{Plan, Reference};

/// The runs of `runs` grouped by point, in the order of first appearance, and the ids of the
/// runs whose series ends before the others' (diverged).
fn group_by_point<'a>(
    plan: &Plan,
    runs: &'a [RunSeries],
) -> Result<(Vec<PointRuns<'a>>, Vec<String>)> {
    let mut points: Vec<PointRuns<'_>> = Vec::new();
    // (id, last logged step) of every run: a run that ends before the others diverged.
    let mut ends: Vec<(String, u64)> = Vec::with_capacity(runs.len());
    for run in runs {
        let planned = &plan.runs[run.index];
        let track = Track::of(run)?;
        ends.push((planned.id.clone(), track.steps.last().copied().unwrap_or(0)));
        let position = match points.iter().position(|p| p.point == planned.point) {
            Some(position) => position,
            None => {
                points.push(PointRuns {
                    point: planned.point.clone(),
                    ladder: BTreeMap::new(),
                    wide: BTreeMap::new(),
                });
                points.len() - 1
            }
        };
        let entry = &mut points[position];
        if planned.reference {
            entry.wide.insert(planned.seed, (run, track));
        } else {
            entry.ladder.insert((planned.m, planned.seed), (run, track));
        }
    }
    let last_step = ends.iter().map(|(_, end)| *end).max().unwrap_or(0);
    let incomplete: Vec<String> = ends
        .into_iter()
        .filter(|(_, end)| *end < last_step)
        .map(|(id, _)| id)
        .collect();
    Ok((points, incomplete))
}

/// The header of sweep_stats.csv: the varied keys, then the statistics' columns.
fn stats_header(plan: &Plan) -> String {
    let mut header: Vec<String> = plan.keys.iter().map(|k| quote_csv_field(k)).collect();
    header.extend(
        [
            "observable",
            "m",
            "step",
            "time",
            "seeds",
            "mean",
            "sd",
            "se",
            "reference",
            "deviation_mean",
            "deviation_se",
            "deviation_sd",
            "deviation_cv_mean",
            "deviation_cv_se",
        ]
        .map(String::from),
    );
    header.join(",")
}

/// Writes sweep_stats.csv, sweep_summary.json and the figures of a merged sweep into `out`;
/// returns a short report.
pub fn analyse(plan: &Plan, runs: &[RunSeries], out: &Path) -> Result<String> {
    let (points, incomplete) = group_by_point(plan, runs)?;
    let plots = out.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| Error::io(&plots, e))?;
    let mut csv = stats_header(plan);
    csv.push('\n');
    let mut records = Vec::new();
    for (index, point) in points.iter().enumerate() {
        let suffix = if points.len() > 1 {
            format!("_{index}")
        } else {
            String::new()
        };
        records.push(analyse_point(plan, point, &suffix, out, &mut csv)?);
    }
    write_atomic(&out.join("sweep_stats.csv"), csv.as_bytes())?;
    let overlays = if plan.keys.is_empty() {
        Vec::new()
    } else {
        draw_overlays(plan, &points, out)?
    };
    let note = (plan.widths.len() < 2).then(|| {
        format!(
            "one width (m = {}): no fits in m (exponents need at least 2 widths); statistics \
             over seeds and figures only",
            plan.widths.first().copied().unwrap_or(0)
        )
    });
    let summary = SweepSummary {
        name: plan.name.clone(),
        reference: plan.reference.clone(),
        reference_label: reference_label(&plan.reference),
        bias_estimator: (plan.reference == Reference::Limit).then(|| {
            "control variate: the t = 0 deviation with its exact mean B/(2m) (risk at t > 0; \
             at t = 0 the plain deviations, whose mean B/(2m) is known)"
                .to_string()
        }),
        widths: plan.widths.clone(),
        seeds: plan.seeds.clone(),
        runs: runs.len(),
        incomplete_runs: incomplete,
        note,
        points: records,
        overlays,
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    write_json(&out.join("sweep_summary.json"), &summary)?;
    Ok(report(&summary, out))
}

/// The reference in words, for figures and sweep_summary.json.
pub(super) fn reference_label(reference: &Reference) -> String {
    match reference {
        Reference::Wide { width } => format!("reference (m = {width})"),
        Reference::Richardson => "Richardson limit".into(),
        Reference::Linear => "limit ODE".into(),
        Reference::Limit => "exact limit (meanfield limit)".into(),
        Reference::None => "none".into(),
    }
}

/// Lines for the terminal: the risk exponents of each point.
fn report(summary: &SweepSummary, out: &Path) -> String {
    let mut lines = vec![format!(
        "{}: {} runs merged; sweep.csv, sweep_stats.csv, sweep_summary.json and plots/ in {}",
        summary.name,
        summary.runs,
        out.display()
    )];
    if !summary.incomplete_runs.is_empty() {
        lines.push(format!(
            "diverged (rows end early): {}",
            summary.incomplete_runs.join(", ")
        ));
    }
    if let Some(note) = &summary.note {
        lines.push(note.clone());
    }
    if !summary.overlays.is_empty() {
        lines.push(format!(
            "one curve per varied value: {}",
            summary.overlays.join(", ")
        ));
    }
    for point in &summary.points {
        let label: Vec<String> = point
            .point
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        for fit in point.fits.iter().filter(|f| {
            f.observable == "risk"
                || f.observable == "coupled_distance"
                || (f.observable == "movement_mean" && f.statistic == "mean")
        }) {
            let text = match (fit.slope, fit.lo, fit.hi) {
                (Some(slope), Some(lo), Some(hi)) => format!(
                    "{slope:+.3} [{lo:+.3}, {hi:+.3}] ({:.0}% interval)",
                    100.0 * fit.level
                ),
                _ => fit.note.clone().unwrap_or_else(|| "no fit".into()),
            };
            lines.push(format!(
                "{}{} {} at t = {}: exponent {text}",
                if label.is_empty() {
                    String::new()
                } else {
                    format!("[{}] ", label.join(", "))
                },
                fit.observable,
                fit.statistic,
                short_time(fit.time)
            ));
        }
    }
    lines.join("\n")
}
