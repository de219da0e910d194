//! The [`Recorder`]: an observer that turns each logged step into a row of scalars (the
//! columns of `series.csv`) and keeps the last logged state, so that a diverging run can still
//! save its last finite particles.

use nalgebra::DMatrix;

use crate::diagnostics::scalars::{dissipation, mean_squared_drift, moments, movement};
use crate::dynamics::{Observation, Observer};
use crate::error::Result;

/// Rows of float scalars under named columns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// Column names; the first three are `step`, `time`, `risk`.
    pub columns: Vec<String>,
    /// One row per logged step.
    pub rows: Vec<Vec<f64>>,
}

/// Records the scalars of every logged step.
#[derive(Debug)]
pub struct Recorder {
    initial: DMatrix<f64>,
    has_test: bool,
    series: Series,
    last_state: Option<(u64, DMatrix<f64>)>,
}

impl Recorder {
    /// The column names of a run with or without a test set.
    pub fn columns(has_test: bool) -> Vec<String> {
        let mut columns = vec!["step", "time", "risk"];
        if has_test {
            columns.push("test_risk");
        }
        columns.extend([
            "dissipation",
            "drift_rms",
            "movement_mean",
            "movement_max",
            "a_mean",
            "a_std",
            "w_norm_mean",
        ]);
        columns.into_iter().map(String::from).collect()
    }

    /// A recorder measuring movement from `initial`, continuing `rows` already logged (resume).
    pub fn new(initial: DMatrix<f64>, has_test: bool, rows: Vec<Vec<f64>>) -> Self {
        Self {
            initial,
            has_test,
            series: Series {
                columns: Self::columns(has_test),
                rows,
            },
            last_state: None,
        }
    }

    /// The rows so far.
    pub fn series(&self) -> &Series {
        &self.series
    }

    /// The last logged step and its particles.
    pub fn last_state(&self) -> Option<(u64, &DMatrix<f64>)> {
        self.last_state.as_ref().map(|(s, t)| (*s, t))
    }
}

impl Observer for Recorder {
    fn observe(&mut self, o: &Observation<'_>) -> Result<()> {
        let mut row = vec![o.step as f64, o.time, o.risk];
        if self.has_test {
            row.push(o.test_risk.unwrap_or(f64::NAN));
        }
        let (movement_mean, movement_max) = movement(o.theta, &self.initial);
        let (a_mean, a_std, w_norm_mean) = moments(o.theta);
        row.extend([
            dissipation(o.network, o.dynamics, o.velocity),
            mean_squared_drift(o.velocity).sqrt(),
            movement_mean,
            movement_max,
            a_mean,
            a_std,
            w_norm_mean,
        ]);
        self.series.rows.push(row);
        match &mut self.last_state {
            Some((step, state)) if state.shape() == o.theta.shape() => {
                *step = o.step;
                state.copy_from(o.theta);
            }
            _ => self.last_state = Some((o.step, o.theta.clone())),
        }
        Ok(())
    }
}
