//! The [`Recorder`]: the observer of a run. At every logged step it appends a row of scalars
//! (the columns of `series.csv`: risk, the classification errors where asked
//! ([`Recorder::with_classification`]), the objective E and dissipation D of docs/math.md section 2,
//! movement, moments, teacher alignment, counted up to the sign of w for an odd or even
//! activation); at log-spaced snapshot steps it keeps a (deterministically subsampled) copy of
//! the particles and measures the distance to the initial measure (docs/math.md section 6), the change of the tangent kernel and, with tau > 0, an
//! entropy estimate and the free energy. It keeps the last logged state, so that a diverging
//! run can still save its last finite particles. It never changes the trajectory.

use nalgebra::DMatrix;

use crate::diagnostics::distance::{coupled_distance, sliced_wasserstein2, wasserstein2_exact};
use crate::diagnostics::measure::{
    entropy_kozachenko_leonenko, probe_inputs, relative_change, subsample, tangent_kernel,
    teacher_alignments,
};
use crate::diagnostics::scalars::{
    dissipation, mean_squared_drift, moments, movement_summary, objective, size_squared,
};
use crate::dynamics::{Observation, Observer};
use crate::error::Result;
use crate::math::Network;

/// Rows of float scalars under named columns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// Column names; the first two are `step`, `time`.
    pub columns: Vec<String>,
    /// One row per recorded step.
    pub rows: Vec<Vec<f64>>,
}

/// What the recorder measures besides the per-step scalars (scenario section `[record]`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecordOptions {
    /// Number of log-spaced snapshot steps, step 0 and the last included (default 12; 0: none).
    pub snapshots: usize,
    /// Particles kept per snapshot: a deterministic subsample beyond this (default 2000).
    pub snapshot_particles: usize,
    /// Keep the first `snapshot_particles` particles rather than a spread subsample (default
    /// false; a sweep sets it, so that snapshots of different widths hold paired particles).
    pub snapshot_first: bool,
    /// Half-angle of the cone around a teacher direction, in degrees (default 15).
    pub cone_degrees: f64,
    /// Probe inputs of the tangent-kernel indicator (default 16; 0: off).
    pub probes: usize,
    /// Largest snapshot for the exact W2 to the initial measure (default 256).
    pub exact_w2_max: usize,
    /// Random directions of the sliced W2 (default 16).
    pub sliced_directions: usize,
    /// Sliced and exact W2 to the initial measure at snapshots (default true).
    pub distances: bool,
    /// Per-teacher cone share and best cosine per logged step (default true).
    pub alignment: bool,
    /// Histograms over time from the snapshots (default true; used by the run directory).
    pub marginals: bool,
    /// Figures and report.html at the end of a run (default true; `meanfield plot` renders
    /// them later).
    pub figures: bool,
}

impl Default for RecordOptions {
    fn default() -> Self {
        Self {
            snapshots: 12,
            snapshot_particles: 2000,
            snapshot_first: false,
            cone_degrees: 15.0,
            probes: 16,
            exact_w2_max: 256,
            sliced_directions: 16,
            distances: true,
            alignment: true,
            marginals: true,
            figures: true,
        }
    }
}

/// Log-spaced steps in [0, total]: `count` points of log(1 + step) evenly spaced, rounded,
/// deduplicated; 0 and `total` always included (empty for count = 0).
pub fn log_spaced_steps(total: u64, count: usize) -> Vec<u64> {
    if count == 0 {
        return Vec::new();
    }
    let mut steps = vec![0, total];
    let span = ((1 + total) as f64).ln();
    for i in 1..count.saturating_sub(1) {
        let x = span * i as f64 / (count - 1) as f64;
        steps.push((x.exp() - 1.0).round() as u64);
    }
    steps.sort_unstable();
    steps.dedup();
    steps
}

/// A kept copy of (a subsample of) the particles.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// Step.
    pub step: u64,
    /// Time.
    pub time: f64,
    /// The subsampled particles (rows in the order of [`Recorder::subsample`]).
    pub particles: DMatrix<f64>,
}

/// What the recorder needs to know about the run.
#[derive(Clone, Debug)]
pub struct RunFacts<'a> {
    /// theta(0).
    pub initial: &'a DMatrix<f64>,
    /// The teacher (k x (1 + d)), if the target is one.
    pub teacher: Option<&'a DMatrix<f64>>,
    /// Whether the risk mode has a test set.
    pub has_test: bool,
    /// Whether the risk mode reports the exact population risk (a data mode with Gaussian
    /// inputs, no bias and a teacher: the `population_risk` column).
    pub has_population: bool,
    /// Total steps of the run.
    pub total_steps: u64,
    /// The time step.
    pub dt: f64,
    /// Seed (probe inputs, subsample, directions).
    pub seed: u64,
    /// Gaussian input dimension d and bias.
    pub d: usize,
    /// Whether a bias coordinate is appended.
    pub bias: bool,
    /// The network.
    pub network: &'a Network,
    /// Temperature tau (free energy when > 0).
    pub tau: f64,
}

/// Records scalars at every logged step and measures at snapshot steps.
#[derive(Debug)]
pub struct Recorder {
    initial: DMatrix<f64>,
    initial_size_squared: f64,
    has_test: bool,
    has_population: bool,
    /// The classification error columns: None, or whether the test one is there too.
    classification: Option<bool>,
    options: RecordOptions,
    seed: u64,
    tau: f64,
    directions: Vec<Vec<f64>>,
    snapshot_steps: Vec<u64>,
    subsample: Vec<usize>,
    initial_subsample: DMatrix<f64>,
    probes: Option<(DMatrix<f64>, DMatrix<f64>)>,
    series: Series,
    measures: Series,
    pending: Vec<Snapshot>,
    last_state: Option<(u64, DMatrix<f64>)>,
}

fn rows_of(theta: &DMatrix<f64>, rows: &[usize]) -> DMatrix<f64> {
    DMatrix::from_fn(rows.len(), theta.ncols(), |r, c| theta[(rows[r], c)])
}

impl Recorder {
    /// A recorder for a run (fresh; see [`Recorder::restore`] for a resumed run).
    pub fn new(facts: &RunFacts<'_>, options: RecordOptions) -> Self {
        let m = facts.initial.nrows();
        let d_in = facts.initial.ncols() - 1;
        let directions: Vec<Vec<f64>> = facts
            .teacher
            .filter(|_| options.alignment)
            .map(|t| {
                (0..t.nrows())
                    .map(|i| (0..d_in).map(|c| t[(i, 1 + c)]).collect())
                    .collect()
            })
            .unwrap_or_default();
        let mut columns: Vec<String> = ["step", "time", "risk"].map(String::from).to_vec();
        if facts.has_test {
            columns.push("test_risk".into());
        }
        if facts.has_population {
            columns.push("population_risk".into());
        }
        columns.extend(
            [
                "objective",
                "dissipation",
                "drift_rms",
                "movement_mean",
                "movement_max",
                "movement_relative",
                "a_mean",
                "a_std",
                "w_norm_mean",
            ]
            .map(String::from),
        );
        for i in 0..directions.len() {
            columns.push(format!("cone_share_{i}"));
            columns.push(format!("best_cosine_{i}"));
        }
        let subsample = if options.snapshot_first {
            (0..m.min(options.snapshot_particles)).collect()
        } else {
            subsample(m, options.snapshot_particles, facts.seed)
        };
        let initial_subsample = rows_of(facts.initial, &subsample);
        let probes = (options.probes > 0).then(|| {
            let x = probe_inputs(facts.d, facts.bias, options.probes, facts.seed);
            let kernel = tangent_kernel(facts.network, facts.initial, &x);
            (x, kernel)
        });
        let mut measure_columns: Vec<String> = ["step", "time", "coupled_to_init"]
            .map(String::from)
            .to_vec();
        if options.distances {
            measure_columns.push("sliced_w2_to_init".into());
            measure_columns.push("exact_w2_to_init".into());
        }
        if probes.is_some() {
            measure_columns.push("kernel_change".into());
        }
        if facts.tau > 0.0 {
            measure_columns.push("entropy".into());
            measure_columns.push("free_energy".into());
        }
        Self {
            initial: facts.initial.clone(),
            initial_size_squared: size_squared(facts.initial),
            has_test: facts.has_test,
            has_population: facts.has_population,
            classification: None,
            options,
            seed: facts.seed,
            tau: facts.tau,
            directions,
            snapshot_steps: log_spaced_steps(facts.total_steps, options.snapshots),
            subsample,
            initial_subsample,
            probes,
            series: Series {
                columns,
                rows: Vec::new(),
            },
            measures: Series {
                columns: measure_columns,
                rows: Vec::new(),
            },
            pending: Vec::new(),
            last_state: None,
        }
    }

    /// Adds the columns `classification_error` (on the training set or the current batch) and,
    /// when `test` (the risk mode has a test set), `test_classification_error`, after the risk
    /// columns, filled from [`Observation::classification`] (NaN where a row has none). For a
    /// risk mode whose `reports_classification()` is true (docs/problems.md); call it before
    /// the first observation or [`Recorder::restore`]. Without it the columns are those of
    /// [`Recorder::new`].
    pub fn with_classification(mut self, test: bool) -> Self {
        if self.classification.is_none() {
            let at = 3 + usize::from(self.has_test) + usize::from(self.has_population);
            let mut names = vec!["classification_error".to_string()];
            if test {
                names.push("test_classification_error".into());
            }
            self.series.columns.splice(at..at, names);
            self.classification = Some(test);
        }
        self
    }

    /// Continues the rows of an interrupted run.
    pub fn restore(&mut self, series_rows: Vec<Vec<f64>>, measure_rows: Vec<Vec<f64>>) {
        self.series.rows = series_rows;
        self.measures.rows = measure_rows;
    }

    /// The per-step scalars so far.
    pub fn series(&self) -> &Series {
        &self.series
    }

    /// The snapshot-step measures so far.
    pub fn measures(&self) -> &Series {
        &self.measures
    }

    /// The particle indices kept in snapshots (all when m is at most the cap).
    pub fn subsample(&self) -> &[usize] {
        &self.subsample
    }

    /// The snapshot steps.
    pub fn snapshot_steps(&self) -> &[u64] {
        &self.snapshot_steps
    }

    /// Snapshots taken since the last call (the caller writes them).
    pub fn take_snapshots(&mut self) -> Vec<Snapshot> {
        std::mem::take(&mut self.pending)
    }

    /// The last logged step and its particles.
    pub fn last_state(&self) -> Option<(u64, &DMatrix<f64>)> {
        self.last_state.as_ref().map(|(s, t)| (*s, t))
    }

    /// The series.csv row of a scheduled step.
    fn row(&self, o: &Observation<'_>, objective_value: f64) -> Vec<f64> {
        let mut row = vec![o.step as f64, o.time, o.risk];
        if self.has_test {
            row.push(o.test_risk.unwrap_or(f64::NAN));
        }
        if self.has_population {
            row.push(o.population_risk.unwrap_or(f64::NAN));
        }
        if let Some(test) = self.classification {
            let errors = o.classification;
            row.push(errors.map_or(f64::NAN, |e| e.train));
            if test {
                row.push(errors.and_then(|e| e.test).unwrap_or(f64::NAN));
            }
        }
        let moved = movement_summary(o.theta, &self.initial, self.initial_size_squared);
        let (a_mean, a_std, w_norm_mean) = moments(o.theta);
        row.extend([
            objective_value,
            dissipation(o.network, o.dynamics, o.velocity),
            mean_squared_drift(o.velocity).sqrt(),
            moved.mean,
            moved.max,
            moved.relative,
            a_mean,
            a_std,
            w_norm_mean,
        ]);
        let cone = self.options.cone_degrees.to_radians();
        // For an odd or even activation w_j and -w_j are the same neuron: |cos| counts.
        let parity = o.network.activation.parity();
        for alignment in teacher_alignments(o.theta, &self.directions, cone, parity) {
            row.push(alignment.cone_share);
            row.push(alignment.best_cosine);
        }
        row
    }

    fn measure(&mut self, o: &Observation<'_>, objective_value: f64) -> Result<()> {
        let particles = rows_of(o.theta, &self.subsample);
        let coupled = coupled_distance(o.theta, &self.initial)?;
        let mut row = vec![o.step as f64, o.time, coupled];
        if self.options.distances {
            row.push(sliced_wasserstein2(
                &particles,
                &self.initial_subsample,
                self.options.sliced_directions,
                self.seed,
            )?);
            row.push(if particles.nrows() <= self.options.exact_w2_max {
                wasserstein2_exact(&particles, &self.initial_subsample)?
            } else {
                f64::NAN
            });
        }
        if let Some((x, kernel0)) = &self.probes {
            row.push(relative_change(
                &tangent_kernel(o.network, o.theta, x),
                kernel0,
            ));
        }
        if self.tau > 0.0 {
            // Entropy of the law of the trained coordinates (KL nearest-neighbour estimate).
            let train = o.dynamics.train;
            let columns: Vec<usize> = (0..particles.ncols())
                .filter(|c| train.trains_column(*c))
                .collect();
            let trained = DMatrix::from_fn(particles.nrows(), columns.len(), |r, c| {
                particles[(r, columns[c])]
            });
            let entropy = entropy_kozachenko_leonenko(&trained)
                .map(|e| e.entropy)
                .unwrap_or(f64::NAN);
            row.push(entropy);
            // tau at this step: a tau schedule changes it.
            row.push(objective_value - o.dynamics.tau * entropy);
        }
        self.measures.rows.push(row);
        self.pending.push(Snapshot {
            step: o.step,
            time: o.time,
            particles,
        });
        Ok(())
    }
}

impl Observer for Recorder {
    fn observe(&mut self, o: &Observation<'_>) -> Result<()> {
        let objective_value = objective(o.network, o.dynamics, o.risk, o.theta);
        if o.scheduled {
            self.series.rows.push(self.row(o, objective_value));
        }
        if self.snapshot_steps.binary_search(&o.step).is_ok() {
            self.measure(o, objective_value)?;
        }
        match &mut self.last_state {
            Some((step, state)) if state.shape() == o.theta.shape() => {
                *step = o.step;
                state.copy_from(o.theta);
            }
            _ => self.last_state = Some((o.step, o.theta.clone())),
        }
        Ok(())
    }

    fn wants(&self, step: u64) -> bool {
        self.snapshot_steps.binary_search(&step).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_spaced_steps_include_the_ends_and_are_increasing() {
        let steps = log_spaced_steps(1000, 12);
        assert_eq!(steps.first(), Some(&0));
        assert_eq!(steps.last(), Some(&1000));
        assert!(steps.windows(2).all(|w| w[0] < w[1]));
        assert!(steps.len() >= 10);
        assert!(log_spaced_steps(1000, 0).is_empty());
        assert_eq!(log_spaced_steps(3, 12), vec![0, 1, 2, 3]);
    }
}
