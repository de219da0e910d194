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
//!
//! [`LimitProblem::from_parts`] takes the inputs and the target explicitly (docs/limit.md
//! section 13): isotropic Gaussian inputs or mixtures with a teacher or the label target
//! (k = 0), and Hermite targets on coordinate directions under N(0, I) (T = the span of the
//! coordinates).

use nalgebra::DMatrix;

use crate::dynamics::{Integrator, Schedule, Train};
use crate::dynamics::{ParameterSchedule, Schedules};
use crate::error::Result;
use crate::math::kernel::PairKernel;
use crate::math::{Activation, AngleRule, InitLaw};
use crate::scenario::{InitSource, RiskSpec, Scenario};
use crate::task::problem::{Covariance, InputShape, TargetFunction};
use crate::task::reduced_population::{ReducedHermiteTerm, ReducedTarget, ScaledComponent};
use crate::task::{ReducedFlow, ReducedPopulation, Target};

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
    /// The isotropic components of the input law; `[ScaledComponent::STANDARD]` for N(0, I).
    pub inputs: Vec<ScaledComponent>,
    /// What the target is: a teacher (its rows are `teacher`), labels or Hermite terms.
    pub target: LimitTarget,
}

/// The target of a limit problem in reduced coordinates (docs/limit.md section 13).
#[derive(Clone, Debug, PartialEq)]
pub enum LimitTarget {
    /// The teacher rows of [`LimitProblem::teacher`].
    Teacher,
    /// The label y_c of each input component (k = 0).
    Label(Vec<f64>),
    /// Hermite terms on the coordinate directions of [`LimitProblem::basis`] (slot = row).
    Hermite(Vec<ReducedHermiteTerm>),
}

impl LimitProblem {
    /// The limit problem of `scenario` (its teacher under N(0, I)), or exit-2 errors naming
    /// the first key that breaks the reduction and why.
    pub fn from_scenario(scenario: &Scenario) -> Result<Self> {
        let target = scenario.target_function()?;
        if scenario.input.is_standard() && target.as_teacher().is_some() {
            if let Some(obstacle) = obstacle(scenario)? {
                return Err(scenario.fail(obstacle.key, obstacle.found, obstacle.instead));
            }
            return Self::from_parts(scenario, &InputShape::StandardGaussian, &target);
        }
        Self::from_parts(scenario, &scenario.input, &target)
    }

    /// The limit problem of `scenario`'s network, initial law and dynamics with the inputs
    /// `input` and the target `target` given explicitly (docs/limit.md section 13): a teacher
    /// with the student's activation under N(0, I) (exactly [`Self::from_scenario`]'s problem)
    /// or under isotropic Gaussian inputs or mixtures; labels under isotropic inputs (k = 0);
    /// Hermite targets under N(0, I) (k = the distinct directions). Errors name the key that
    /// breaks the reduction: Rademacher inputs, a full covariance, parity targets, a teacher
    /// of another activation, a span above [`MAX_K`], and the checks of [`obstacle`] that need
    /// no teacher.
    pub fn from_parts(
        scenario: &Scenario,
        input: &InputShape,
        target: &TargetFunction,
    ) -> Result<Self> {
        if let Some(o) = mode_or_model_obstacle(scenario) {
            return Err(scenario.fail(o.key, o.found, o.instead));
        }
        let InitSource::Law(law) = scenario.init else {
            return Err(scenario.fail("init.file", "a file", "init.a and init.w laws"));
        };
        let inputs =
            input_components(input).map_err(|o| scenario.fail(o.key, o.found, o.instead))?;
        let reduced = reduce_target(scenario, &inputs, target)
            .map_err(|o| scenario.fail(o.key, o.found, o.instead))?;
        let dynamics = scenario.dynamics;
        Ok(Self {
            activation: scenario.network.activation,
            d: scenario.d,
            basis: reduced.basis,
            teacher: reduced.rows,
            noise_std: reduced.noise_std,
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
            inputs,
            target: reduced.target,
        })
    }

    /// Whether this is the teacher under N(0, I) (the solver's original path).
    pub fn is_standard(&self) -> bool {
        self.inputs == [ScaledComponent::STANDARD] && self.target == LimitTarget::Teacher
    }

    /// The reduced population of this problem with `kernel` and the angle rule `rule`.
    pub fn population(&self, kernel: PairKernel, rule: AngleRule) -> Result<ReducedPopulation> {
        if self.is_standard() {
            return ReducedPopulation::new(kernel, rule, &self.teacher, self.noise_std);
        }
        let target = match &self.target {
            LimitTarget::Teacher => ReducedTarget::Teacher(self.teacher.clone()),
            LimitTarget::Label(labels) => ReducedTarget::Label(labels.clone()),
            LimitTarget::Hermite(terms) => ReducedTarget::Hermite(terms.clone()),
        };
        ReducedPopulation::with_inputs(
            kernel,
            rule,
            self.k(),
            self.inputs.clone(),
            target,
            self.noise_std,
        )
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
    if let InitSource::Law(law) = &scenario.init
        && scenario.symmetric_init
    {
        let crate::math::ScalarLaw::Normal { mean, .. } = law.a;
        if mean != 0.0 {
            return Some(Obstacle {
                key: "init.symmetric",
                found: format!("true with init.a.mean = {mean}"),
                instead: "false, or init.a.mean = 0: the symmetrised start draws a from the \
                          law of +-a, which is the law of a only when that is centred"
                    .into(),
            });
        }
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

/// The reduced target of [`LimitProblem::from_parts`].
struct Reduced {
    basis: DMatrix<f64>,
    rows: DMatrix<f64>,
    noise_std: f64,
    target: LimitTarget,
}

/// The isotropic components of `input`, or the obstacle.
fn input_components(input: &InputShape) -> std::result::Result<Vec<ScaledComponent>, Obstacle> {
    let scale = |covariance: &Covariance| match covariance {
        Covariance::Identity => Ok(1.0),
        Covariance::Scaled(s) => Ok(*s),
        Covariance::Full { .. } => Err(Obstacle {
            key: "input.covariance",
            found: "a full covariance".into(),
            instead: "an isotropic covariance (identity or a scale): the limit's symmetry \
                      reduction needs inputs invariant under rotations (docs/limit.md section 13)"
                .into(),
        }),
    };
    match input {
        _ if input.is_standard() => Ok(vec![ScaledComponent::STANDARD]),
        InputShape::StandardGaussian => Ok(vec![ScaledComponent::STANDARD]),
        InputShape::Gaussian(c) => Ok(vec![ScaledComponent {
            weight: 1.0,
            scale: scale(c)?,
        }]),
        InputShape::Mixture(components) => components
            .iter()
            .map(|c| {
                Ok(ScaledComponent {
                    weight: c.weight,
                    scale: scale(&c.covariance)?,
                })
            })
            .collect(),
        InputShape::Rademacher => Err(Obstacle {
            key: "input.law",
            found: "\"rademacher\"".into(),
            instead: "\"gaussian\" or \"mixture\" with isotropic components: the hypercube is \
                      not rotation invariant, so the limit has no symmetry reduction"
                .into(),
        }),
    }
}

/// The basis, cone rows, noise and [`LimitTarget`] of `target` under `inputs`, or the obstacle.
fn reduce_target(
    scenario: &Scenario,
    inputs: &[ScaledComponent],
    target: &TargetFunction,
) -> std::result::Result<Reduced, Obstacle> {
    let d = scenario.d;
    let activation = scenario.network.activation;
    let reduced = match target {
        TargetFunction::Teacher(teacher) => {
            if teacher.activation() != activation {
                return Err(Obstacle {
                    key: "target.activation",
                    found: format!("\"{}\"", teacher.activation().name()),
                    instead: format!(
                        "\"{}\", the network's: the limit's teacher field is the kernel of one \
                         activation",
                        activation.name()
                    ),
                });
            }
            let (basis, rows) = reduce_teacher(teacher.matrix(), d);
            Reduced {
                basis,
                rows,
                noise_std: scenario.noise_std,
                target: LimitTarget::Teacher,
            }
        }
        TargetFunction::Label(labels) => Reduced {
            basis: DMatrix::zeros(0, d),
            rows: DMatrix::zeros(0, 1),
            noise_std: labels.noise_std(),
            target: LimitTarget::Label(labels.labels.clone()),
        },
        TargetFunction::Hermite(hermite) => {
            let directions = hermite.directions();
            if let Some(&far) = directions.iter().find(|&&c| c >= d) {
                return Err(Obstacle {
                    key: "target.terms",
                    found: format!("coordinate {}", far + 1),
                    instead: format!("coordinates 1..{d}"),
                });
            }
            let k = directions.len();
            let slot = |c: usize| directions.iter().position(|&x| x == c).unwrap_or(0);
            Reduced {
                basis: DMatrix::from_fn(k, d, |r, c| f64::from(u8::from(directions[r] == c))),
                rows: DMatrix::from_fn(k, 1 + k, |r, c| f64::from(u8::from(c == 0 || c == 1 + r))),
                noise_std: hermite.noise_std,
                target: LimitTarget::Hermite(
                    hermite
                        .terms
                        .iter()
                        .map(|t| ReducedHermiteTerm {
                            slot: slot(t.direction),
                            degree: t.degree,
                            coef: t.coef,
                        })
                        .collect(),
                ),
            }
        }
        TargetFunction::Parity(_) => {
            return Err(Obstacle {
                key: "target.kind",
                found: "\"parity\"".into(),
                instead: "\"teacher\", \"hermite\" or \"label\": meanfield limit has no reduction \
                          for products of coordinates"
                    .into(),
            });
        }
    };
    check_reduced(scenario, inputs, &reduced)?;
    Ok(reduced)
}

/// The span limit, and the inputs and activations each target's field accepts.
fn check_reduced(
    scenario: &Scenario,
    inputs: &[ScaledComponent],
    reduced: &Reduced,
) -> std::result::Result<(), Obstacle> {
    let span = reduced.basis.nrows();
    if span > MAX_K {
        return Err(Obstacle {
            key: "target.k",
            found: format!("a target spanning {span} dimensions"),
            instead: format!(
                "a target span of at most {MAX_K} dimensions for meanfield limit (its initial \
                 rule has nodes^k points)"
            ),
        });
    }
    let activation = scenario.network.activation;
    let why = match &reduced.target {
        LimitTarget::Hermite(_) if inputs != [ScaledComponent::STANDARD] => Some((
            "input.law",
            "non-standard inputs".to_string(),
            "standard Gaussian inputs: the Hermite target's field is closed-form under N(0, I) \
             only",
        )),
        LimitTarget::Hermite(_)
            if !matches!(
                activation,
                Activation::Relu | Activation::Erf | Activation::Linear | Activation::Quadratic
            ) =>
        {
            Some((
                "model.activation",
                format!("\"{}\"", activation.name()),
                "relu, erf, linear or quadratic: the limit's Hermite field uses the closed forms \
                 of E sigma^(j)(r z)",
            ))
        }
        LimitTarget::Label(labels) if labels.len() != inputs.len() => Some((
            "target.labels",
            format!("{} labels", labels.len()),
            "one label per mixture component",
        )),
        LimitTarget::Label(_) if activation == Activation::Softplus => Some((
            "model.activation",
            "\"softplus\"".to_string(),
            "relu, erf, tanh, sigmoid, linear or quadratic: the limit's label field needs \
             E sigma(r z) in closed form",
        )),
        _ => None,
    };
    match why {
        Some((key, found, instead)) => Err(Obstacle {
            key,
            found,
            instead: instead.into(),
        }),
        None => Ok(()),
    }
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
