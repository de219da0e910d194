//! `meanfield limit`: the exact mean-field limit of a scenario with the rotation symmetry of
//! docs/limit.md section 10, solved by the symmetry reduction (sections 10 and 11) and written
//! as a run directory:
//!
//! ```text
//! scenario.toml        the resolved scenario
//! series.csv           step,time,risk,objective,dissipation,a_mean,a_std,w_norm_mean,cone_share_<i>
//! summary.json         status, risks, the resolution and the solver's own error estimates
//! reduced_init.npy     (N, 3 + k) weighted reduced nodes: weight, a, p_1..p_k, q
//! reduced_final.npy    the same at the last step reached
//! plots/risk.png/.svg  the risk figure
//! ```
//!
//! The solver reports its accuracy: `risk_error_estimate` is the largest difference of the
//! logged risk from a solve at about half the resolution in each direction (initial-law nodes
//! and angle nodes; the rules converge fast, so this over-estimates the error of the full
//! resolution), and `risk_dt_error_estimate` the largest difference between the half-resolution
//! solve at dt and at dt/2 (the integrator's error at dt, up to the factor
//! 2^p / (2^p - 1) of an order-p method; not computed under a dt schedule).

pub mod beside;
pub mod bias;
pub mod problem;
pub mod solver;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::dynamics::{Control, Schedule};
use crate::error::{Error, Result};
use crate::output::{RunEntry, write_atomic, write_json, write_npy};
use crate::run::{Status, prepare_fresh, render_risk};
use crate::scenario::Scenario;

pub use beside::{finished_solve, reusable_beside};
pub use problem::LimitProblem;
pub use solver::{Ending, Resolution, Solution, solve};

/// How to solve.
#[derive(Debug)]
pub struct LimitOptions<'a> {
    /// The run directory.
    pub out: PathBuf,
    /// Replace whatever run `out` holds (as `meanfield run --overwrite`).
    pub overwrite: bool,
    /// The resolution (default: [`Resolution::default_for`] the teacher span).
    pub resolution: Option<Resolution>,
    /// Set (e.g. by a SIGINT handler) to stop after the current step.
    pub interrupt: &'a AtomicBool,
    /// Rayon threads in use (recorded in summary.json).
    pub threads: usize,
}

/// summary.json of a limit run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LimitSummary {
    /// Run name.
    pub name: String,
    /// How the solve ended.
    pub status: Status,
    /// The divergence message, if any.
    pub message: Option<String>,
    /// Input dimension d.
    pub d: usize,
    /// Dimension k of the teacher span.
    pub k: usize,
    /// Number of weighted nodes N.
    pub nodes: usize,
    /// Nodes per direction of the initial law: a, each p_i, q.
    pub nodes_per_direction: [usize; 3],
    /// Nodes of the angle rule.
    pub angle_nodes: usize,
    /// Last step reached.
    pub step: u64,
    /// Its time.
    pub time: f64,
    /// Risk at step 0: the exact infinite-width R(0), up to the rule.
    pub initial_risk: f64,
    /// Risk at the last logged step.
    pub final_risk: f64,
    /// Largest |R - R_half| over the logged times, R_half solved at about half the resolution
    /// (module documentation); absent unless the solve finished.
    pub risk_error_estimate: Option<f64>,
    /// `risk_error_estimate` over the largest |R| at the logged times.
    pub risk_error_estimate_relative: Option<f64>,
    /// Largest difference of the half-resolution risk between dt and dt/2 (absent under a dt
    /// schedule or unless the solve finished).
    pub risk_dt_error_estimate: Option<f64>,
    /// Wall time of the solve at full resolution, seconds.
    pub wall_seconds: f64,
    /// Wall time of the error-estimate solves, seconds.
    pub estimate_wall_seconds: f64,
    /// Rayon threads.
    pub threads: usize,
    /// meanfield version.
    pub version: String,
}

/// Solves the limit of `scenario` into `options.out`, calling `progress(step, total, risk)`
/// after each step of the main solve. A diverged solve writes its rows and returns
/// [`Error::Diverged`]; an interrupted one writes its rows and returns its summary (status
/// interrupted; a limit solve is not resumed, it is rerun).
pub fn solve_limit(
    scenario: &Scenario,
    options: &LimitOptions<'_>,
    progress: &mut dyn FnMut(u64, u64, f64),
) -> Result<LimitSummary> {
    let problem = LimitProblem::from_scenario(scenario)?;
    let resolution = options
        .resolution
        .unwrap_or_else(|| Resolution::default_for(problem.k()));
    let out = &options.out;
    let resolved = scenario.resolved_toml()?;
    prepare_fresh(out, &resolved, options.overwrite)?;
    write_atomic(&RunEntry::Scenario.path(out), resolved.as_bytes())?;
    let started = Instant::now();
    let total = problem.steps;
    let solution = solve(&problem, resolution, &mut |step, risk| {
        progress(step, total, risk);
        if options.interrupt.load(Ordering::SeqCst) {
            Control::Stop
        } else {
            Control::Continue
        }
    })?;
    let wall_seconds = started.elapsed().as_secs_f64();
    let estimates_started = Instant::now();
    let estimates = match solution.ending {
        Ending::Finished => Some(error_estimates(&problem, &solution)?),
        _ => None,
    };
    let estimate_wall_seconds = estimates_started.elapsed().as_secs_f64();
    solution.series.write_csv(&RunEntry::Series.path(out))?;
    write_npy(&RunEntry::ReducedInit.path(out), &solution.initial)?;
    write_npy(&RunEntry::ReducedFinal.path(out), &solution.last)?;
    let risks = solution.series.column("risk").unwrap_or_default();
    let (status, message) = match &solution.ending {
        Ending::Finished => (Status::Finished, None),
        Ending::Interrupted(_) => (Status::Interrupted, None),
        Ending::Diverged { .. } => (Status::Diverged, Some(diverged(&solution).to_string())),
    };
    let largest = risks.iter().fold(0.0_f64, |m, r| m.max(r.abs()));
    let summary = LimitSummary {
        name: scenario.name.clone(),
        status,
        message,
        d: problem.d,
        k: problem.k(),
        nodes: solution.initial.nrows(),
        nodes_per_direction: [resolution.init.a, resolution.init.p, resolution.init.q],
        angle_nodes: resolution.angle,
        step: solution.last_step,
        time: solution
            .series
            .column("time")
            .and_then(|t| t.last().copied())
            .unwrap_or(0.0),
        initial_risk: risks.first().copied().unwrap_or(f64::NAN),
        final_risk: risks.last().copied().unwrap_or(f64::NAN),
        risk_error_estimate: estimates.map(|e| e.0),
        risk_error_estimate_relative: estimates.filter(|_| largest > 0.0).map(|e| e.0 / largest),
        risk_dt_error_estimate: estimates.and_then(|e| e.1),
        wall_seconds,
        estimate_wall_seconds,
        threads: options.threads,
        version: env!("CARGO_PKG_VERSION").into(),
    };
    write_json(&RunEntry::Summary.path(out), &summary)?;
    if scenario.record.figures && !solution.series.rows.is_empty() {
        let time = solution.series.column("time").unwrap_or_default();
        render_risk(
            out,
            &format!("{} (limit)", scenario.name),
            &solution.series,
            &time,
        )?;
    }
    match solution.ending {
        Ending::Diverged { .. } => Err(diverged(&solution)),
        _ => Ok(summary),
    }
}

/// The [`Error::Diverged`] of a diverged solution.
fn diverged(solution: &Solution) -> Error {
    match &solution.ending {
        Ending::Diverged { step, time, what } => Error::Diverged {
            step: *step,
            time: *time,
            what: what.clone(),
        },
        _ => Error::invalid("solution", "not diverged", "a diverged solution"),
    }
}

/// (resolution estimate, dt estimate) of a finished `solution` (module documentation).
fn error_estimates(problem: &LimitProblem, solution: &Solution) -> Result<(f64, Option<f64>)> {
    let half = solution.resolution.halved();
    let coarse = solve(problem, half, &mut |_, _| Control::Continue)?;
    let resolution_error = largest_difference(&solution.series, &coarse.series)?;
    if problem.schedules.dt.is_some() {
        return Ok((resolution_error, None));
    }
    let fine_dt = refined_in_time(problem);
    let fine = solve(&fine_dt, half, &mut |_, _| Control::Continue)?;
    let dt_error = largest_difference(&coarse.series, &fine.series)?;
    Ok((resolution_error, Some(dt_error)))
}

/// `problem` at dt/2 with twice the steps, logging the same times.
fn refined_in_time(problem: &LimitProblem) -> LimitProblem {
    let mut fine = problem.clone();
    fine.dt = problem.dt / 2.0;
    fine.steps = 2 * problem.steps;
    fine.schedule = Schedule::Every(1);
    fine
}

/// The largest |risk_a - risk_b| over the times logged in both tables (matched by time to
/// 1e-9 of the time; every time of `a` must be in `b` unless `b` is logged on every step).
fn largest_difference(a: &crate::output::Table, b: &crate::output::Table) -> Result<f64> {
    let column = |t: &crate::output::Table, name: &str| {
        t.column(name)
            .ok_or_else(|| Error::invalid("limit series", "no column", name.to_string()))
    };
    let (time_a, risk_a) = (column(a, "time")?, column(a, "risk")?);
    let (time_b, risk_b) = (column(b, "time")?, column(b, "risk")?);
    let mut largest = 0.0_f64;
    for (t, r) in time_a.iter().zip(&risk_a) {
        let matched = time_b
            .iter()
            .position(|s| (s - t).abs() <= 1e-9 * t.abs().max(1.0))
            .ok_or_else(|| Error::invalid("limit series time", t, "a time of both solves"))?;
        largest = largest.max((r - risk_b[matched]).abs());
    }
    Ok(largest)
}
