//! A flow parameter (dt, lambda, tau) written as a number or as a schedule in time
//! (docs/scenarios.md, "Schedules"): piecewise constant, or an exponential decay to a floor.

use crate::dynamics::ParameterSchedule;
use crate::error::Result;
use crate::scenario::file::{ScheduleConfig, ScheduledConfig};

use super::{Context, quoted};

/// What values a flow parameter allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Bound {
    /// > 0 (dt).
    Positive,
    /// >= 0 (lambda, tau).
    NonNegative,
}

impl Bound {
    fn admits(self, value: f64) -> bool {
        value.is_finite()
            && match self {
                Bound::Positive => value > 0.0,
                Bound::NonNegative => value >= 0.0,
            }
    }

    fn words(self) -> &'static str {
        match self {
            Bound::Positive => "a finite number > 0",
            Bound::NonNegative => "a finite number >= 0",
        }
    }
}

/// A flow parameter `key` written as a number or a schedule (docs/scenarios.md, "Schedules"):
/// its value at t = 0, its schedule (none for a number) and its resolved configuration.
pub(super) fn resolve_scheduled(
    cx: &Context<'_>,
    key: &str,
    config: Option<&ScheduledConfig>,
    default: f64,
    bound: Bound,
) -> Result<(f64, Option<ParameterSchedule>, ScheduledConfig)> {
    let config = match config {
        None => return Ok((default, None, ScheduledConfig::Value(default))),
        Some(ScheduledConfig::Value(value)) => {
            if !bound.admits(*value) {
                return Err(cx.fail(key, value, bound.words()));
            }
            return Ok((*value, None, ScheduledConfig::Value(*value)));
        }
        Some(ScheduledConfig::Schedule(config)) => config,
    };
    let schedule = match config.schedule.as_deref() {
        Some("piecewise") => piecewise(cx, key, config, bound)?,
        Some("exponential") => exponential(cx, key, config, bound)?,
        Some(other) => {
            return Err(cx.fail(
                &format!("{key}.schedule"),
                quoted(other),
                "one of piecewise, exponential",
            ));
        }
        None => {
            return Err(cx.fail(
                &format!("{key}.schedule"),
                "missing",
                "one of piecewise, exponential",
            ));
        }
    };
    let resolved = schedule_config(&schedule);
    Ok((
        schedule.value(0.0),
        Some(schedule),
        ScheduledConfig::Schedule(resolved),
    ))
}

/// `schedule = "piecewise"`: values on breakpoints [0, t_1, ...].
fn piecewise(
    cx: &Context<'_>,
    key: &str,
    config: &ScheduleConfig,
    bound: Bound,
) -> Result<ParameterSchedule> {
    let sub = |name: &str| format!("{key}.{name}");
    let list = |values: &[f64]| format!("{values:?}");
    if let Some((name, _)) = [
        ("start", config.start),
        ("rate", config.rate),
        ("floor", config.floor),
    ]
    .into_iter()
    .find(|(_, v)| v.is_some())
    {
        return Err(cx.fail(
            &sub(name),
            "given",
            "only times and values with schedule = \"piecewise\"",
        ));
    }
    let times = config.times.clone().ok_or_else(|| {
        cx.fail(
            &sub("times"),
            "missing",
            "a list of breakpoints [0, t_1, ...]",
        )
    })?;
    let values = config.values.clone().ok_or_else(|| {
        cx.fail(
            &sub("values"),
            "missing",
            "a list of values, one per breakpoint",
        )
    })?;
    let starts_at_zero =
        times.first().and_then(|t| t.partial_cmp(&0.0)) == Some(std::cmp::Ordering::Equal);
    let increasing = times.windows(2).all(|w| w[0] < w[1]);
    if !(starts_at_zero && increasing && times.iter().all(|t| t.is_finite())) {
        return Err(cx.fail(
            &sub("times"),
            list(&times),
            "finite breakpoints starting at 0 and strictly increasing",
        ));
    }
    if values.len() != times.len() {
        return Err(cx.fail(
            &sub("values"),
            list(&values),
            format!("one value per breakpoint ({} times)", times.len()),
        ));
    }
    if !values.iter().all(|v| bound.admits(*v)) {
        return Err(cx.fail(
            &sub("values"),
            list(&values),
            format!("each {}", bound.words()),
        ));
    }
    Ok(ParameterSchedule::Piecewise { times, values })
}

/// `schedule = "exponential"`: max(floor, start exp(-rate t)).
fn exponential(
    cx: &Context<'_>,
    key: &str,
    config: &ScheduleConfig,
    bound: Bound,
) -> Result<ParameterSchedule> {
    let sub = |name: &str| format!("{key}.{name}");
    if let Some(name) = [
        ("times", config.times.is_some()),
        ("values", config.values.is_some()),
    ]
    .into_iter()
    .find_map(|(name, given)| given.then_some(name))
    {
        return Err(cx.fail(
            &sub(name),
            "given",
            "only start, rate and floor with schedule = \"exponential\"",
        ));
    }
    let start = config
        .start
        .ok_or_else(|| cx.fail(&sub("start"), "missing", bound.words()))?;
    if !bound.admits(start) {
        return Err(cx.fail(&sub("start"), start, bound.words()));
    }
    let rate = config
        .rate
        .ok_or_else(|| cx.fail(&sub("rate"), "missing", "a finite number >= 0"))?;
    if !(rate.is_finite() && rate >= 0.0) {
        return Err(cx.fail(&sub("rate"), rate, "a finite number >= 0 (a decay)"));
    }
    let floor = config.floor.unwrap_or(0.0);
    let floor_ok = floor.is_finite()
        && floor >= 0.0
        && (bound == Bound::NonNegative || rate <= 0.0 || floor > 0.0);
    if !floor_ok {
        let allowed = match bound {
            Bound::Positive => {
                "a finite number > 0 (a step that decays to 0 never reaches the end)"
            }
            Bound::NonNegative => "a finite number >= 0",
        };
        return Err(cx.fail(&sub("floor"), floor, allowed));
    }
    Ok(ParameterSchedule::Exponential { start, rate, floor })
}

/// The resolved configuration of a schedule: its own keys only.
fn schedule_config(schedule: &ParameterSchedule) -> ScheduleConfig {
    match schedule {
        ParameterSchedule::Piecewise { times, values } => ScheduleConfig {
            schedule: Some("piecewise".into()),
            times: Some(times.clone()),
            values: Some(values.clone()),
            ..ScheduleConfig::default()
        },
        ParameterSchedule::Exponential { start, rate, floor } => ScheduleConfig {
            schedule: Some("exponential".into()),
            start: Some(*start),
            rate: Some(*rate),
            floor: Some(*floor),
            ..ScheduleConfig::default()
        },
    }
}
