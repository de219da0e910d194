//! The context of one point's analysis (docs/math.md sections 5 to 7): what every stage reads,
//! from the point's first ladder run (its logged steps and times, the steps nearest the fit
//! times, the observables logged, the snapshot steps, dt) and the plan (the bootstrap
//! settings); and the per-seed values of an observable at a width and step.

use std::collections::BTreeMap;

use crate::diagnostics::stats::BootstrapSettings;
use crate::error::{Error, Result};
use crate::sweep::analysis::tracks::{OBSERVABLES, PointRuns};
use crate::sweep::fits::fit_steps;
use crate::sweep::merge::RunSeries;
use crate::sweep::partners::snapshot_steps;
use crate::sweep::plan::Plan;

/// The reference value of `observable` at each step of `steps`, per seed (None: no
/// reference for this observable).
pub(super) type ReferenceValues = Option<BTreeMap<u64, Vec<f64>>>;

/// What every stage of a point's analysis reads.
pub(super) struct PointContext<'a, 'r> {
    pub(super) plan: &'a Plan,
    pub(super) point: &'a PointRuns<'r>,
    /// The first ladder run, whose scenario and logged steps the point's runs share.
    pub(super) first_run: &'r RunSeries,
    /// Figure titles name the scenario and, in a sweep over other keys, the point.
    pub(super) name: String,
    /// The logged steps and their times.
    pub(super) steps: Vec<u64>,
    pub(super) times: Vec<f64>,
    /// The logged steps nearest to the fit times.
    pub(super) fit_steps: Vec<u64>,
    /// The observables the runs logged, in the order of [`OBSERVABLES`].
    pub(super) observables: Vec<&'static str>,
    /// The snapshot steps of the first run.
    pub(super) snapshot_steps: Vec<u64>,
    /// t_k = k dt, as the simulation computes it (snapshot steps need not be logged rows).
    pub(super) dt: f64,
    pub(super) settings: BootstrapSettings,
}

impl<'a, 'r> PointContext<'a, 'r> {
    /// The context of `point`, from its first ladder run.
    pub(super) fn of(plan: &'a Plan, point: &'a PointRuns<'r>) -> Result<Self> {
        let name = if point.point.is_empty() {
            plan.name.clone()
        } else {
            let values: Vec<String> = plan
                .keys
                .iter()
                .zip(&point.point)
                .map(|(k, v)| format!("{k} = {v}"))
                .collect();
            format!("{} ({})", plan.name, values.join(", "))
        };
        let Some((first_run, first)) = point.ladder.values().next() else {
            return Err(Error::invalid("sweep", "no run", "at least one ladder run"));
        };
        let steps = first.steps.clone();
        let times = first.times.clone();
        let fit_steps = fit_steps(plan, &steps, &times);
        let observables: Vec<&'static str> = OBSERVABLES
            .iter()
            .copied()
            .filter(|o| first.values.contains_key(*o))
            .collect();
        let snapshot_steps = snapshot_steps(&first_run.dir);
        let dt = crate::scenario::Scenario::load(&first_run.dir.join("scenario.toml"), &[])
            .map_or(f64::NAN, |s| s.dt);
        let settings = BootstrapSettings {
            resamples: plan.bootstrap,
            level: plan.level,
            seed: plan.seeds[0],
            // Seeds are coupled across widths (the same seed shares its first particles).
            paired: true,
        };
        Ok(Self {
            plan,
            point,
            first_run,
            name,
            steps,
            times,
            fit_steps,
            observables,
            snapshot_steps,
            dt,
            settings,
        })
    }

    /// The logged time of `step` (NaN if it is not logged).
    pub(super) fn time_of(&self, step: u64) -> f64 {
        self.steps
            .binary_search(&step)
            .map(|row| self.times[row])
            .unwrap_or(f64::NAN)
    }

    /// The value of `observable` at `step` per seed at width `m` (NaN for a missing run).
    pub(super) fn values(&self, observable: &str, m: usize, step: u64) -> Vec<f64> {
        self.plan
            .seeds
            .iter()
            .map(|s| {
                self.point
                    .ladder
                    .get(&(m, *s))
                    .map_or(f64::NAN, |(_, t)| t.at(observable, step))
            })
            .collect()
    }

    /// The widths as numbers, for the fits in m.
    pub(super) fn ms(&self) -> Vec<f64> {
        self.plan.widths.iter().map(|m| *m as f64).collect()
    }

    /// The steps to fit exponents at: none with a single width (a line in log m needs two).
    pub(super) fn fitted_steps(&self) -> &[u64] {
        if self.plan.widths.len() > 1 {
            &self.fit_steps
        } else {
            &[]
        }
    }
}
