//! The fixed point of mean-field Langevin dynamics, tested through two Stein identities in the
//! output weights a (docs/gallery.md section 7 states the derivation).
//!
//! With alpha = 1 and lr_ratio = 1 the m particles follow
//! d theta_j = -grad_{theta_j} U dt + sqrt(2 tau) dB_j with U(Theta) = m R(Theta) +
//! (lambda / 2) sum_j |theta_j|^2 (docs/math.md section 2: the drift -m grad R - lambda theta_j
//! is minus the gradient of U), so their stationary law is the Gibbs measure
//! exp(-U / tau) = exp(-m E / tau) on R^(m (1 + d)), at every m. Integrating d/da_j of
//! phi exp(-U / tau) over it gives tau E[d phi / da_j] = E[phi dU/da_j], with
//! dU/da_j = g_j + lambda a_j and g_j = m dR/da_j = E_x[(f - f*)(x) sigma(w_j . x)]. Averaged
//! over j:
//!
//! - phi = 1 (the force balance): E[ mean_j (g_j + lambda a_j) ] = 0;
//! - phi = a_j (the virial): E[ mean_j (a_j g_j + lambda a_j^2) ] = tau, where
//!   mean_j a_j g_j = E_x[f (f - f*)] because f is linear in the a_j.
//!
//! For the Euler-Maruyama chain with step dt, stationarity of E[a_j] and E[a_j^2] gives these
//! exactly with the a-drift v_a,j = -(g_j + lambda a_j): the force balance as it is, the virial
//! with tau replaced by tau + (dt / 2) E[mean_j v_a,j^2] (a relative correction of order
//! lambda dt / 2).
//!
//! The two sums are computed here from the particles with the pair kernel's values K (not with
//! the simulator's gradients): g_j = (1/m) sum_l a_l K(w_j, w_l) - (1/k) sum_i a*_i K(w_j, w*_i).
//! They test that the drift the simulator integrates is minus the gradient of the risk the
//! kernel defines, with the noise of the stated temperature, at stationarity: the virial fails
//! for a wrong temperature (or a wrong time unit of a), the force balance for a drift without
//! the teacher's pull, and both before stationarity.

use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::dynamics::{Control, Observation, Observer, Schedule};
use crate::error::Result;
use crate::math::kernel::PairKernel;
use crate::scenario::Scenario;

/// The two sums of the identities at one state of the particles.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sums {
    /// mean_j (a_j g_j + lambda a_j^2) = E_x[f (f - f*)] + lambda mean_j a_j^2.
    pub virial: f64,
    /// mean_j (g_j + lambda a_j).
    pub force: f64,
}

/// The sums of the identities for the particles `theta` (m x (1 + d): a, then w; alpha = 1)
/// against the teacher `teacher` (k x (1 + d): a*, then w*; f* = (1/k) sum_i a*_i
/// sigma(w*_i . x)) with weight decay `lambda`, under x ~ N(0, I): O(m^2 d).
pub(crate) fn sums(
    kernel: &PairKernel,
    teacher: &DMatrix<f64>,
    theta: &DMatrix<f64>,
    lambda: f64,
) -> Sums {
    let m = theta.nrows();
    let d = theta.ncols() - 1;
    let w = theta.columns(1, d).into_owned();
    let gram = &w * w.transpose();
    let teacher_w = teacher.columns(1, d).into_owned();
    let cross = &w * teacher_w.transpose();
    let teacher_norms: Vec<f64> = (0..teacher.nrows())
        .map(|i| teacher_w.row(i).norm_squared())
        .collect();
    let k = teacher.nrows() as f64;
    let per_particle: Vec<(f64, f64)> = (0..m)
        .into_par_iter()
        .map(|j| {
            let qj = gram[(j, j)];
            let interaction: f64 = (0..m)
                .map(|l| {
                    // Self pairs with u . v = |u|^2 exactly (docs/math.md section 3).
                    let uv = if l == j { qj } else { gram[(j, l)] };
                    theta[(l, 0)] * kernel.value(qj, gram[(l, l)], uv)
                })
                .sum::<f64>()
                / m as f64;
            let pull: f64 = (0..teacher.nrows())
                .map(|i| teacher[(i, 0)] * kernel.value(qj, teacher_norms[i], cross[(j, i)]))
                .sum::<f64>()
                / k;
            let g = interaction - pull;
            let a = theta[(j, 0)];
            (a * g + lambda * a * a, g + lambda * a)
        })
        .collect();
    let (virial, force) = per_particle
        .iter()
        .fold((0.0, 0.0), |(v, f), (pv, pf)| (v + pv, f + pf));
    Sums {
        virial: virial / m as f64,
        force: force / m as f64,
    }
}

/// One observed state of a run: its time, the two sums, and the discretisation term
/// (dt / 2) mean_j v_a,j^2 from the simulator's drift.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sample {
    /// t_k.
    pub time: f64,
    /// The sums at t_k.
    pub sums: Sums,
    /// (dt / 2) mean_j v_a,j^2.
    pub discretisation: f64,
    /// mean_j a_j^2.
    pub a_square: f64,
}

/// The observer that evaluates the sums at every observed step.
struct Identities<'a> {
    kernel: PairKernel,
    teacher: &'a DMatrix<f64>,
    dt: f64,
    samples: Vec<Sample>,
}

impl Observer for Identities<'_> {
    fn observe(&mut self, observation: &Observation<'_>) -> Result<()> {
        let theta = observation.theta;
        let m = theta.nrows() as f64;
        let sums = sums(
            &self.kernel,
            self.teacher,
            theta,
            observation.dynamics.lambda,
        );
        let velocity_a = observation.velocity.column(0);
        self.samples.push(Sample {
            time: observation.time,
            sums,
            discretisation: 0.5 * self.dt * velocity_a.norm_squared() / m,
            a_square: theta.column(0).norm_squared() / m,
        });
        Ok(())
    }
}

/// Runs `scenario` in memory (population mode, alpha = 1) and evaluates the sums against
/// `teacher` every `every` steps, from step 0 to the last.
pub(crate) fn observe(
    scenario: &Scenario,
    teacher: &DMatrix<f64>,
    every: u64,
) -> Result<Vec<Sample>> {
    let setup = scenario.setup()?;
    let mut simulation = setup.simulation;
    let mut theta = setup.particles.into_matrix();
    let mut identities = Identities {
        kernel: PairKernel::new(scenario.network.activation),
        teacher,
        dt: scenario.dt,
        samples: Vec::new(),
    };
    simulation.run(
        &mut theta,
        0,
        scenario.steps,
        Schedule::Every(every.max(1)),
        &mut identities,
        &mut |_, _| Control::Continue,
    )?;
    Ok(identities.samples)
}

/// The time averages of one run over a window [start, end] of its samples.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Replica {
    /// Mean of the virial sum.
    pub virial: f64,
    /// Mean of the force sum.
    pub force: f64,
    /// Mean of the discretisation term (dt / 2) mean_j v_a,j^2.
    pub discretisation: f64,
    /// mean_j a_j^2 at the last sample minus at the first, over twice the window's length:
    /// what the virial's time average differs from tau by when E[a^2] drifts (Ito's formula).
    pub drift: f64,
}

/// The averages of `samples` over the times in [start, end].
pub(crate) fn replica(samples: &[Sample], start: f64, end: f64) -> Replica {
    let window: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.time >= start && s.time <= end)
        .collect();
    let count = window.len().max(1) as f64;
    let mean = |pick: &dyn Fn(&Sample) -> f64| window.iter().map(|s| pick(s)).sum::<f64>() / count;
    let drift = match (window.first(), window.last()) {
        (Some(first), Some(last)) if last.time > first.time => {
            (last.a_square - first.a_square) / (2.0 * (last.time - first.time))
        }
        _ => 0.0,
    };
    Replica {
        virial: mean(&|s| s.sums.virial),
        force: mean(&|s| s.sums.force),
        discretisation: mean(&|s| s.discretisation),
        drift,
    }
}

/// The identities over independent replicas (seeds): means and standard errors across them.
#[derive(Clone, Debug)]
pub(crate) struct Measured {
    /// The temperature the virial is compared with.
    pub tau: f64,
    /// The replicas' window averages.
    pub replicas: Vec<Replica>,
}

/// Mean and standard error (sample standard deviation over sqrt(n)) of `values`.
fn mean_and_error(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, (variance / n).sqrt())
}

impl Measured {
    /// Mean and standard error over the replicas of the virial, minus the discretisation term
    /// (so that it estimates tau).
    pub fn virial(&self) -> (f64, f64) {
        let values: Vec<f64> = self
            .replicas
            .iter()
            .map(|r| r.virial - r.discretisation)
            .collect();
        mean_and_error(&values)
    }

    /// Mean and standard error over the replicas of the force balance.
    pub fn force(&self) -> (f64, f64) {
        let values: Vec<f64> = self.replicas.iter().map(|r| r.force).collect();
        mean_and_error(&values)
    }

    /// Mean over the replicas of the discretisation term and of the a^2 drift.
    pub fn corrections(&self) -> (f64, f64) {
        let n = self.replicas.len().max(1) as f64;
        let sum = |pick: &dyn Fn(&Replica) -> f64| self.replicas.iter().map(pick).sum::<f64>() / n;
        (sum(&|r| r.discretisation), sum(&|r| r.drift))
    }
}

/// Replicas of one setting: the window averages and each replica's samples.
#[derive(Clone, Debug)]
pub(crate) struct Replicas {
    /// The averages over the window and the temperature of the identity.
    pub measured: Measured,
    /// Each replica's samples (the same times in each).
    pub samples: Vec<Vec<Sample>>,
}

/// Runs `seeds` replicas (seed = 1..=seeds, one teacher: `target.seed = 1`) of the scenario
/// that `load` builds from `overrides`, and measures the identities against the teacher of
/// the scenario built from `teacher_overrides` (the run's own teacher when they are the same),
/// every `interval` time units, averaged over the times from `window.0` t_end to `window.1`
/// t_end. The virial is compared with the runs' temperature.
pub(crate) fn run_replicas(
    load: &dyn Fn(&[String]) -> Result<Scenario>,
    overrides: &[String],
    teacher_overrides: &[String],
    seeds: u64,
    interval: f64,
    window: (f64, f64),
) -> Result<Replicas> {
    let teacher = load(teacher_overrides)?.teacher()?.matrix().clone();
    let mut replicas = Vec::new();
    let mut samples = Vec::new();
    let mut tau = 0.0;
    for seed in 1..=seeds {
        let mut with_seed = overrides.to_vec();
        with_seed.extend([format!("seed={seed}"), "target.seed=1".into()]);
        let scenario = load(&with_seed)?;
        tau = scenario.dynamics.tau;
        let every = (interval / scenario.dt).round().max(1.0) as u64;
        let observed = observe(&scenario, &teacher, every)?;
        let t_end = observed.last().map_or(0.0, |s| s.time);
        replicas.push(replica(&observed, window.0 * t_end, window.1 * t_end));
        samples.push(observed);
    }
    Ok(Replicas {
        measured: Measured { tau, replicas },
        samples,
    })
}

/// How many standard errors the identities allow: with 16 replicas (the `--quick` size) the
/// standard error has 15 degrees of freedom, and Student's t with 15 exceeds 4 in absolute
/// value with probability 0.001 (the controls use 16 replicas too).
pub(crate) const Z: f64 = 4.0;

/// The checks of the two identities: pure functions of the measured averages.
pub(crate) fn checks(measured: &Measured) -> Vec<crate::gallery::Check> {
    let tau = measured.tau;
    let (virial, virial_error) = measured.virial();
    let (force, force_error) = measured.force();
    let (discretisation, drift) = measured.corrections();
    let replicas = measured.replicas.len();
    vec![
        crate::gallery::Check::new(
            format!(
                "the virial identity E_x[f (f - f*)] + lambda mean_j a_j^2 = tau holds at \
                 stationarity within {Z} standard errors (time average over the window, \
                 standard error across {replicas} independent replicas)"
            ),
            (virial - tau).abs() <= Z * virial_error,
            format!(
                "{virial:.6} +- {virial_error:.1e} (after the Euler-Maruyama term \
                 {discretisation:.1e}) against tau = {tau}: {:+.2} standard errors, \
                 {:+.2}%; drift of mean a^2 over the window {drift:.1e}",
                (virial - tau) / virial_error,
                100.0 * (virial / tau - 1.0)
            ),
        ),
        crate::gallery::Check::new(
            format!(
                "the force balance mean_j (E_x[(f - f*) sigma(w_j . x)] + lambda a_j) = 0 \
                 holds at stationarity within {Z} standard errors"
            ),
            force.abs() <= Z * force_error,
            format!(
                "{force:.3e} +- {force_error:.1e}: {:+.2} standard errors",
                force / force_error
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use rand::RngExt;
    use rand_distr::StandardNormal;

    use super::*;
    use crate::math::Activation;

    fn load(overrides: &[String]) -> Result<Scenario> {
        let file = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/gallery/langevin.toml");
        Scenario::load(&file, overrides)
    }

    /// The control setting: width 50, 16 replicas, t_end = 100, averaged over `window` (the
    /// second half for the stationary law); prints the checks' details.
    fn control(extra: &[&str], window: (f64, f64)) -> Replicas {
        let tiny = ["model.m=50".to_string(), "dynamics.t_end=100.0".to_string()];
        let mut overrides = tiny.to_vec();
        overrides.extend(extra.iter().map(|s| (*s).to_string()));
        run_replicas(&load, &overrides, &tiny, 16, 0.5, window).unwrap()
    }

    /// The checks of `measured`, printed (`--nocapture` shows the controls' numbers).
    fn checks_shown(name: &str, measured: &Measured) -> Vec<crate::gallery::Check> {
        let checks = checks(measured);
        for check in &checks {
            eprintln!("{name}: passed {}: {}", check.passed, check.detail);
        }
        checks
    }

    /// The real setting passes both identities at the control's size; a run at half the
    /// temperature (the noise sqrt(tau dt) instead of sqrt(2 tau dt)) fails the virial against
    /// the stated tau.
    #[test]
    fn the_virial_fails_at_half_the_temperature() {
        let real = checks_shown("real", &control(&[], (0.5, 1.0)).measured);
        assert!(real.iter().all(|c| c.passed), "{real:?}");
        let mut half = control(&["dynamics.tau=0.005"], (0.5, 1.0));
        half.measured.tau = 0.01;
        let failed = checks_shown("half tau", &half.measured);
        assert!(!failed[0].passed, "{failed:?}");
    }

    /// A drift without the teacher's pull (the zero target's run, measured against the
    /// teacher's identities) fails the force balance; its virial passes, which is why the force
    /// balance is checked.
    #[test]
    fn the_force_balance_fails_without_the_teachers_pull() {
        let zero = checks_shown(
            "zero target",
            &control(&["target.a=0.0"], (0.5, 1.0)).measured,
        );
        assert!(!zero[1].passed, "{zero:?}");
    }

    /// Before stationarity (the first twentieth of the run) both identities fail.
    #[test]
    fn both_identities_fail_before_stationarity() {
        let early = checks_shown("early window", &control(&[], (0.0, 0.05)).measured);
        assert!(!early[0].passed && !early[1].passed, "{early:?}");
    }

    #[test]
    fn the_sums_match_a_monte_carlo_evaluation_of_f_and_f_star() {
        // Three relu particles and one teacher neuron in d = 2; E_x by 400 000 Gaussian draws.
        let theta =
            DMatrix::from_row_slice(3, 3, &[0.7, 0.3, -0.8, -1.2, 1.1, 0.4, 0.5, -0.2, -0.6]);
        let teacher = DMatrix::from_row_slice(1, 3, &[1.5, 0.6, 0.8]);
        let lambda = 0.3;
        let exact = sums(&PairKernel::new(Activation::Relu), &teacher, &theta, lambda);
        let relu = |z: f64| z.max(0.0);
        let (mut virial, mut force) = (0.0, 0.0);
        let draws = 400_000;
        let mut rng = crate::random::stream(7, crate::random::Purpose::Noise, 0, 0);
        for _ in 0..draws {
            let x: [f64; 2] = [rng.sample(StandardNormal), rng.sample(StandardNormal)];
            let feature = |j: usize| relu(theta[(j, 1)] * x[0] + theta[(j, 2)] * x[1]);
            let f = (0..3).map(|j| theta[(j, 0)] * feature(j)).sum::<f64>() / 3.0;
            let target = 1.5 * relu(0.6 * x[0] + 0.8 * x[1]);
            virial += f * (f - target);
            force += (f - target) * (0..3).map(feature).sum::<f64>() / 3.0;
        }
        let a = theta.column(0);
        virial = virial / f64::from(draws) + lambda * a.norm_squared() / 3.0;
        force = force / f64::from(draws) + lambda * a.sum() / 3.0;
        assert!((exact.virial - virial).abs() < 5e-3, "{exact:?} {virial}");
        assert!((exact.force - force).abs() < 5e-3, "{exact:?} {force}");
    }
}
