//! From a scenario to its reduced limit problem (docs/limit.md section 10): the checks that
//! the problem has the rotation symmetry of the reduction, and the teacher in reduced
//! coordinates.
//!
//! The reduction needs, besides the mean-field scaling alpha = 1 (docs/math.md section 2):
//! Gaussian inputs and the exact risk (population mode, no bias), an initial law invariant under
//! the rotations of the complement of the teacher span T with a independent of w (the
//! `init.a` and `init.w` laws: w normal or uniform on a sphere), and the deterministic flow
//! (tau = 0). A teacher enters only through T = span(w*_1..w*_k): an orthonormal basis of T
//! (Gram-Schmidt in the order of the neurons, dropping directions within 1e-12 of the span of
//! the earlier ones, and the neurons with a*_i = 0 or w*_i = 0, which contribute nothing) gives
//! the reduced teacher rows (a*_i, p*_i), p*_i the coordinates of w*_i in that basis. k = dim T
//! is then at most [`MAX_K`] (the tensor rule of the initial law grows like nodes^k).

use nalgebra::DMatrix;

use crate::dynamics::{Integrator, Schedule, Train};
use crate::dynamics::{ParameterSchedule, Schedules};
use crate::error::Result;
use crate::math::{Activation, InitLaw};
use crate::scenario::{InitSource, RiskSpec, Scenario};
use crate::task::ReducedFlow;

/// The largest teacher span the limit solver accepts.
pub const MAX_K: usize = 4;

/// Relative size below which a teacher direction counts as inside the span of the earlier ones.
const SPAN_TOLERANCE: f64 = 1e-12;

/// The limit problem of a scenario, in reduced coordinates.
#[derive(Clone, Debug)]
pub struct LimitProblem {
    /// sigma (of the network and the teacher).
    pub activation: Activation,
    /// Input dimension d.
    pub d: usize,
    /// Orthonormal basis of the teacher span T, one row per direction (k x d).
    pub basis: DMatrix<f64>,
    /// Reduced teacher rows (a*_i, p*_i) of the neurons with a*_i != 0 and w*_i != 0 (none for a
    /// zero target), each a*_i multiplied by (rows kept) / k*, so that the mean over the rows
    /// is f* = (1/k*) sum_i a*_i sigma(w*_i . x) of the scenario's k* neurons.
    pub teacher: DMatrix<f64>,
    /// Label noise s.
    pub noise_std: f64,
    /// The initial law of (a, w).
    pub law: InitLaw,
    /// The reduced flow at t = 0 (lambda from its schedule at 0).
    pub flow: ReducedFlow,
    /// dt(t) and lambda(t) where scheduled (tau is 0: a tau schedule is refused).
    pub schedules: Schedules,
    /// The integrator (deterministic: euler, heun or rk4).
    pub integrator: Integrator,
    /// dt at t = 0.
    pub dt: f64,
    /// Number of steps.
    pub steps: u64,
    /// The logged steps.
    pub schedule: Schedule,
    /// Cone half-angle of the cone shares, degrees.
    pub cone_degrees: f64,
}

impl LimitProblem {
    /// The limit problem of `scenario`, or exit-2 errors naming the first key that breaks the
    /// reduction and why.
    pub fn from_scenario(scenario: &Scenario) -> Result<Self> {
        if let Some(obstacle) = obstacle(scenario)? {
            return Err(scenario.fail(obstacle.key, obstacle.found, obstacle.instead));
        }
        let InitSource::Law(law) = scenario.init else {
            return Err(scenario.fail("init.file", "a file", "init.a and init.w laws"));
        };
        let teacher = scenario.teacher()?;
        let (basis, rows) = reduce_teacher(teacher.matrix(), scenario.d);
        let dynamics = scenario.dynamics;
        Ok(Self {
            activation: scenario.network.activation,
            d: scenario.d,
            basis,
            teacher: rows,
            noise_std: scenario.noise_std,
            law,
            flow: ReducedFlow {
                lambda: dynamics.lambda,
                lr_ratio: dynamics.lr_ratio,
                train_a: dynamics.train != Train::WOnly,
                train_w: dynamics.train != Train::AOnly,
            },
            schedules: Schedules {
                tau: None,
                ..scenario.schedules.clone()
            },
            integrator: scenario.integrator,
            dt: scenario.dt,
            steps: scenario.steps,
            schedule: scenario.schedule,
            cone_degrees: scenario.record.cone_degrees,
        })
    }

    /// k = dim T.
    pub fn k(&self) -> usize {
        self.basis.nrows()
    }

    /// n = d - k, the dimension of the complement.
    pub fn n(&self) -> usize {
        self.d - self.k()
    }
}

/// A scenario key whose value the limit solver does not describe: the scenario breaks the
/// rotation symmetry of the reduction or is not the mean-field limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Obstacle {
    /// The scenario key, dotted (`risk.mode`).
    pub key: &'static str,
    /// Its value in this scenario, as TOML.
    pub found: String,
    /// What the limit needs instead, and why.
    pub instead: String,
}

/// The first key of `scenario` that the limit solver refuses (None: it solves the scenario's
/// limit): risk.mode other than population, model.bias, model.alpha != 1, init.file,
/// dynamics.tau > 0 (at any time of a tau schedule), a teacher spanning more than [`MAX_K`]
/// dimensions. [`LimitProblem::from_scenario`] and the sweep's `limit` reference both use it.
/// Errors only where the teacher cannot be built (an unreadable `target.file`).
pub fn obstacle(scenario: &Scenario) -> Result<Option<Obstacle>> {
    if let Some(obstacle) = mode_or_model_obstacle(scenario) {
        return Ok(Some(obstacle));
    }
    let span = reduce_teacher(scenario.teacher()?.matrix(), scenario.d)
        .0
        .nrows();
    Ok((span > MAX_K).then(|| Obstacle {
        key: "target.k",
        found: format!("a teacher spanning {span} dimensions"),
        instead: format!(
            "a teacher span of at most {MAX_K} dimensions for meanfield limit (its initial rule \
             has nodes^k points)"
        ),
    }))
}

/// The checks of [`obstacle`] that need no teacher.
fn mode_or_model_obstacle(scenario: &Scenario) -> Option<Obstacle> {
    let why = "meanfield limit solves the population-mode limit (Gaussian inputs, exact risk)";
    let mode = match scenario.risk {
        RiskSpec::Population => None,
        RiskSpec::Online { .. } => Some("online"),
        RiskSpec::EmpiricalGenerated { .. } | RiskSpec::EmpiricalFiles { .. } => Some("empirical"),
    };
    if let Some(mode) = mode {
        return Some(Obstacle {
            key: "risk.mode",
            found: format!("\"{mode}\""),
            instead: format!(
                "\"population\": {why}; a batch or a data set of finite size is another problem"
            ),
        });
    }
    if scenario.bias {
        return Some(Obstacle {
            key: "model.bias",
            found: "true".into(),
            instead: "false: a constant input coordinate breaks the rotation symmetry of the \
                      reduction (docs/limit.md section 10)"
                .into(),
        });
    }
    // model.alpha is validated in [1/2, 1]: below 1 is not the mean-field scaling.
    if scenario.network.alpha < 1.0 {
        return Some(Obstacle {
            key: "model.alpha",
            found: scenario.network.alpha.to_string(),
            instead: "1 (the mean-field scaling): for 1/2 < alpha < 1 the limit is the kernel \
                      flow of the initial tangent kernel, and at alpha = 1/2 f(0) is a random \
                      Gaussian process; neither is implemented"
                .into(),
        });
    }
    if let InitSource::File(path) = &scenario.init {
        return Some(Obstacle {
            key: "init.file",
            found: format!("\"{}\"", path.display()),
            instead: "init.a and init.w laws: the limit starts from the law, and the reduction \
                      needs a law of w invariant under rotations (normal or uniform on a sphere)"
                .into(),
        });
    }
    let tau = scenario
        .schedules
        .tau
        .as_ref()
        .map_or(scenario.dynamics.tau, ParameterSchedule::highest);
    (tau > 0.0).then(|| Obstacle {
        key: "dynamics.tau",
        found: tau.to_string(),
        instead: "0: with noise the limit law is not the push-forward of the initial law, and \
                  weighted nodes under Euler-Maruyama would be a finite particle system with an \
                  error invisible to the solver's resolution estimate (docs/limit.md section 11)"
            .into(),
    })
}

/// (orthonormal basis of the span, reduced teacher rows) from a k x (1 + d) teacher matrix.
fn reduce_teacher(theta: &DMatrix<f64>, d: usize) -> (DMatrix<f64>, DMatrix<f64>) {
    let mut basis: Vec<Vec<f64>> = Vec::new();
    let mut kept: Vec<usize> = Vec::new();
    for i in 0..theta.nrows() {
        let w: Vec<f64> = (0..d).map(|c| theta[(i, 1 + c)]).collect();
        let size = norm(&w);
        if theta[(i, 0)] == 0.0 || size == 0.0 {
            continue;
        }
        kept.push(i);
        let mut v = w.clone();
        // Modified Gram-Schmidt, twice for accuracy.
        for _ in 0..2 {
            for b in &basis {
                let projection = dot(&v, b);
                v.iter_mut().zip(b).for_each(|(x, y)| *x -= projection * y);
            }
        }
        let rest = norm(&v);
        if rest > SPAN_TOLERANCE * size {
            v.iter_mut().for_each(|x| *x /= rest);
            basis.push(v);
        }
    }
    let k = basis.len();
    let scale = kept.len() as f64 / theta.nrows() as f64;
    let basis_matrix = DMatrix::from_fn(k, d, |r, c| basis[r][c]);
    let rows = DMatrix::from_fn(kept.len(), 1 + k, |r, c| {
        let i = kept[r];
        if c == 0 {
            return scale * theta[(i, 0)];
        }
        (0..d).map(|x| theta[(i, 1 + x)] * basis[c - 1][x]).sum()
    });
    (basis_matrix, rows)
}

fn dot(u: &[f64], v: &[f64]) -> f64 {
    u.iter().zip(v).map(|(a, b)| a * b).sum()
}

fn norm(u: &[f64]) -> f64 {
    dot(u, u).sqrt()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn teacher_span_drops_dependent_and_silent_neurons() {
        // Neurons: (1, e1), (2, 2 e1) (same span), (0, e2) (a* = 0), (1, e1 + e3).
        let theta = DMatrix::from_row_slice(
            4,
            4,
            &[
                1.0, 1.0, 0.0, 0.0, 2.0, 2.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0,
            ],
        );
        let (basis, rows) = reduce_teacher(&theta, 3);
        assert_eq!(basis.nrows(), 2);
        assert_eq!(rows.shape(), (3, 3));
        // Three of four neurons kept: a* scaled by 3/4 keeps the 1/k* of the teacher.
        assert!((rows[(1, 0)] - 1.5).abs() < 1e-15);
        // Each kept w* is reproduced from its coordinates.
        for (r, i) in [0, 1, 3].into_iter().enumerate() {
            for c in 0..3 {
                let back: f64 = (0..2).map(|b| rows[(r, 1 + b)] * basis[(b, c)]).sum();
                assert!((back - theta[(i, 1 + c)]).abs() < 1e-14);
            }
        }
        let gram = &basis * basis.transpose();
        assert!((gram - DMatrix::identity(2, 2)).norm() < 1e-14);
    }
}
