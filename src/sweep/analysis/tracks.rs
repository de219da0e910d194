//! The logged series of a sweep's runs, grouped by point (values of the varied keys), width and
//! seed: what every stage of the analysis reads.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::sweep::merge::RunSeries;

/// Observables compared with the limit, when the runs logged them (`population_risk`: the exact
/// risk of a data-mode run, where it exists).
pub(super) const OBSERVABLES: [&str; 5] = [
    "risk",
    "population_risk",
    "movement_mean",
    "movement_relative",
    "cone_share_0",
];

/// Observables drawn against time with one curve per point of a `vary` sweep: (column, what it
/// is, vertical axis label, file stem under `plots/`).
pub(super) const OVERLAID: [(&str, &str, &str, &str); 3] = [
    ("risk", "risk", "risk R", "vary_risk"),
    ("objective", "objective E", "objective E", "vary_objective"),
    (
        "movement_mean",
        "movement",
        "mean |theta_j(t) - theta_j(0)|",
        "vary_movement",
    ),
];

/// A run's observable by step.
pub(crate) struct Track {
    pub(crate) steps: Vec<u64>,
    pub(crate) times: Vec<f64>,
    pub(super) values: BTreeMap<String, Vec<f64>>,
}

impl Track {
    /// The track of `run`: its steps, times and the observables it logged.
    pub(super) fn of(run: &RunSeries) -> Result<Self> {
        let column = |name: &str| run.series.column(name);
        let steps: Vec<u64> = column("step")
            .ok_or_else(|| Error::format(run.dir.join("series.csv"), "no step column"))?
            .iter()
            .map(|s| *s as u64)
            .collect();
        let times = column("time")
            .ok_or_else(|| Error::format(run.dir.join("series.csv"), "no time column"))?;
        let values = OBSERVABLES
            .iter()
            .chain(OVERLAID.iter().map(|(name, ..)| name))
            .filter_map(|name| column(name).map(|v| (name.to_string(), v)))
            .collect();
        Ok(Self {
            steps,
            times,
            values,
        })
    }

    /// The value of `observable` at `step` (NaN if not logged: a diverged run).
    pub(super) fn at(&self, observable: &str, step: u64) -> f64 {
        match (self.steps.binary_search(&step), self.values.get(observable)) {
            (Ok(row), Some(values)) => values[row],
            _ => f64::NAN,
        }
    }
}

/// The runs of one point, by width and seed.
pub(crate) struct PointRuns<'a> {
    pub(crate) point: Vec<String>,
    pub(crate) ladder: BTreeMap<(usize, u64), (&'a RunSeries, Track)>,
    pub(crate) wide: BTreeMap<u64, (&'a RunSeries, Track)>,
}
