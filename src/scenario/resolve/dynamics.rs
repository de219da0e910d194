//! `[dynamics]`: the integrator, the time step, the flow parameters lambda and tau (numbers or
//! schedules), the number of steps and which layers train (docs/math.md sections 4 and 5).

use crate::dynamics::{Dynamics, Integrator, Schedules, Train};
use crate::error::Result;
use crate::scenario::file::DynamicsConfig;

use super::schedule::{Bound, resolve_scheduled};
use super::{Context, quoted};

/// The most steps a `t_end` may need under a dt schedule (it is replayed to count them).
const MAX_STEPS: u64 = 1_000_000_000;

/// `[dynamics]` validated.
pub(super) struct DynamicsSection {
    /// Flow parameters (lambda and tau at t = 0 under their schedules).
    pub dynamics: Dynamics,
    /// Integrator.
    pub integrator: Integrator,
    /// Time step (at t = 0 under a dt schedule).
    pub dt: f64,
    /// dt, lambda and tau as functions of time.
    pub schedules: Schedules,
    /// Number of steps.
    pub steps: u64,
    /// The resolved section (`t_end` turned into `steps`).
    pub resolved: DynamicsConfig,
}

/// Validates `[dynamics]`.
pub(super) fn resolve_dynamics(cx: &Context<'_>, dc: &DynamicsConfig) -> Result<DynamicsSection> {
    let integrator_name = dc.integrator.clone().unwrap_or_else(|| "euler".into());
    let integrator = match integrator_name.as_str() {
        "euler" => Integrator::Euler,
        "heun" => Integrator::Heun,
        "rk4" => Integrator::Rk4,
        other => {
            return Err(cx.fail(
                "dynamics.integrator",
                quoted(other),
                "one of euler, heun, rk4",
            ));
        }
    };
    let (dt, dt_schedule, dt_config) =
        resolve_scheduled(cx, "dynamics.dt", dc.dt.as_ref(), 0.05, Bound::Positive)?;
    let (lambda, lambda_schedule, lambda_config) = resolve_scheduled(
        cx,
        "dynamics.lambda",
        dc.lambda.as_ref(),
        0.0,
        Bound::NonNegative,
    )?;
    let (tau, tau_schedule, tau_config) =
        resolve_scheduled(cx, "dynamics.tau", dc.tau.as_ref(), 0.0, Bound::NonNegative)?;
    let schedules = Schedules {
        dt: dt_schedule,
        lambda: lambda_schedule,
        tau: tau_schedule,
    };
    let steps = resolve_steps(cx, dc, &schedules, dt)?;
    let highest_tau = schedules.tau.as_ref().map_or(tau, |s| s.highest());
    if highest_tau > 0.0 && integrator != Integrator::Euler {
        return Err(cx.fail("dynamics.integrator", quoted(&integrator_name), format!("\"euler\" when dynamics.tau > 0 (tau = {highest_tau}): heun and rk4 are for the deterministic flow")));
    }
    let train_name = dc.train.clone().unwrap_or_else(|| "both".into());
    let train = match train_name.as_str() {
        "both" => Train::Both,
        "a_only" => Train::AOnly,
        "w_only" => Train::WOnly,
        other => {
            return Err(cx.fail(
                "dynamics.train",
                quoted(other),
                "one of both, a_only, w_only",
            ));
        }
    };
    let lr_ratio = dc.lr_ratio.unwrap_or(1.0);
    if !(lr_ratio.is_finite() && lr_ratio > 0.0) {
        return Err(cx.fail("dynamics.lr_ratio", lr_ratio, "a finite number > 0"));
    }
    let resolved = DynamicsConfig {
        integrator: Some(integrator_name),
        dt: Some(dt_config),
        steps: Some(steps),
        t_end: None,
        lambda: Some(lambda_config),
        tau: Some(tau_config),
        train: Some(train_name),
        lr_ratio: Some(lr_ratio),
    };
    Ok(DynamicsSection {
        dynamics: Dynamics {
            lambda,
            tau,
            train,
            lr_ratio,
        },
        integrator,
        dt,
        schedules,
        steps,
        resolved,
    })
}

/// `dynamics.steps`, or the steps that reach `dynamics.t_end` from step `dt` under the
/// schedules (default 1000 steps).
fn resolve_steps(
    cx: &Context<'_>,
    dc: &DynamicsConfig,
    schedules: &Schedules,
    dt: f64,
) -> Result<u64> {
    match (dc.steps, dc.t_end) {
        (Some(_), Some(_)) => Err(cx.fail(
            "dynamics.t_end",
            dc.t_end.unwrap_or(0.0),
            "either dynamics.steps or dynamics.t_end, not both",
        )),
        (Some(steps), None) => Ok(steps),
        (None, Some(t_end)) => {
            if !(t_end.is_finite() && t_end > 0.0) {
                return Err(cx.fail("dynamics.t_end", t_end, "a finite number > 0"));
            }
            schedules.steps_to(dt, t_end, MAX_STEPS).ok_or_else(|| {
                cx.fail(
                    "dynamics.t_end",
                    t_end,
                    format!("a time that dynamics.dt reaches within {MAX_STEPS} steps"),
                )
            })
        }
        (None, None) => Ok(1000),
    }
}
