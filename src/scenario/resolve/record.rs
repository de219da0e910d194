//! `[record]`: when the run is observed (every n steps, or log-spaced points) and what is
//! measured besides the per-step scalars (snapshots, cones, probes, distances of
//! docs/math.md section 6).

use crate::diagnostics::distance::MAX_EXACT;
use crate::diagnostics::recorder::RecordOptions;
use crate::dynamics::Schedule;
use crate::error::Result;
use crate::scenario::file::RecordConfig;

use super::{Context, quoted};

/// Validates `[record]`: the observation schedule, the record options and the resolved
/// section.
pub(super) fn resolve_record(
    cx: &Context<'_>,
    rec: &RecordConfig,
) -> Result<(Schedule, RecordOptions, RecordConfig)> {
    let schedule = resolve_schedule(cx, rec)?;
    let record = resolve_options(cx, rec)?;
    let resolved = record_config(schedule, &record);
    Ok((schedule, record, resolved))
}

/// `record.schedule` with its `every` or `points` (default every 10 steps, or 200 log-spaced
/// points when `points` is given).
fn resolve_schedule(cx: &Context<'_>, rec: &RecordConfig) -> Result<Schedule> {
    let schedule_name = rec.schedule.clone().unwrap_or_else(|| {
        if rec.points.is_some() {
            "log".into()
        } else {
            "every".into()
        }
    });
    match schedule_name.as_str() {
        "every" => {
            if rec.points.is_some() {
                return Err(cx.fail(
                    "record.points",
                    rec.points.unwrap_or(0),
                    "record.points only with schedule = \"log\"",
                ));
            }
            let every = rec.every.unwrap_or(10);
            if every == 0 {
                return Err(cx.fail("record.every", 0, "an integer >= 1"));
            }
            Ok(Schedule::Every(every))
        }
        "log" => {
            if rec.every.is_some() {
                return Err(cx.fail(
                    "record.every",
                    rec.every.unwrap_or(0),
                    "record.every only with schedule = \"every\"",
                ));
            }
            let points = rec.points.unwrap_or(200);
            if points == 0 {
                return Err(cx.fail("record.points", 0, "an integer >= 1"));
            }
            Ok(Schedule::Log { points })
        }
        other => Err(cx.fail("record.schedule", quoted(other), "one of every, log")),
    }
}

/// The measurements, each defaulting to [`RecordOptions::default`].
fn resolve_options(cx: &Context<'_>, rec: &RecordConfig) -> Result<RecordOptions> {
    let defaults = RecordOptions::default();
    let record = RecordOptions {
        snapshots: rec.snapshots.unwrap_or(defaults.snapshots),
        snapshot_particles: rec
            .snapshot_particles
            .unwrap_or(defaults.snapshot_particles),
        snapshot_first: match rec.snapshot_sample.as_deref() {
            None | Some("spread") => false,
            Some("first") => true,
            Some(other) => {
                return Err(cx.fail(
                    "record.snapshot_sample",
                    quoted(other),
                    "one of spread, first",
                ));
            }
        },
        cone_degrees: rec.cone_degrees.unwrap_or(defaults.cone_degrees),
        probes: rec.probes.unwrap_or(defaults.probes),
        exact_w2_max: rec.exact_w2_max.unwrap_or(defaults.exact_w2_max),
        sliced_directions: rec.sliced_directions.unwrap_or(defaults.sliced_directions),
        distances: rec.distances.unwrap_or(defaults.distances),
        alignment: rec.alignment.unwrap_or(defaults.alignment),
        marginals: rec.marginals.unwrap_or(defaults.marginals),
        figures: rec.figures.unwrap_or(defaults.figures),
    };
    if record.snapshots == 1 {
        return Err(cx.fail(
            "record.snapshots",
            1,
            "0 (none) or an integer >= 2 (the first and last steps are always included)",
        ));
    }
    if record.snapshot_particles == 0 {
        return Err(cx.fail("record.snapshot_particles", 0, "an integer >= 1"));
    }
    if !(record.cone_degrees.is_finite()
        && record.cone_degrees > 0.0
        && record.cone_degrees <= 180.0)
    {
        return Err(cx.fail(
            "record.cone_degrees",
            record.cone_degrees,
            "a number of degrees in (0, 180]",
        ));
    }
    if record.sliced_directions == 0 {
        return Err(cx.fail("record.sliced_directions", 0, "an integer >= 1"));
    }
    if record.exact_w2_max > MAX_EXACT {
        return Err(cx.fail(
            "record.exact_w2_max",
            record.exact_w2_max,
            format!("at most {MAX_EXACT}"),
        ));
    }
    Ok(record)
}

/// The resolved `[record]`: the schedule's own key and every measurement written out.
fn record_config(schedule: Schedule, record: &RecordOptions) -> RecordConfig {
    let mut resolved = match schedule {
        Schedule::Every(every) => RecordConfig {
            schedule: Some("every".into()),
            every: Some(every),
            ..Default::default()
        },
        Schedule::Log { points } => RecordConfig {
            schedule: Some("log".into()),
            points: Some(points),
            ..Default::default()
        },
    };
    resolved.snapshots = Some(record.snapshots);
    resolved.snapshot_particles = Some(record.snapshot_particles);
    resolved.snapshot_sample = Some(
        if record.snapshot_first {
            "first"
        } else {
            "spread"
        }
        .into(),
    );
    resolved.cone_degrees = Some(record.cone_degrees);
    resolved.probes = Some(record.probes);
    resolved.exact_w2_max = Some(record.exact_w2_max);
    resolved.sliced_directions = Some(record.sliced_directions);
    resolved.distances = Some(record.distances);
    resolved.alignment = Some(record.alignment);
    resolved.marginals = Some(record.marginals);
    resolved.figures = Some(record.figures);
    resolved
}
