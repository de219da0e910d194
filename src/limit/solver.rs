//! The limit solver: the reduced measure as weighted nodes, pushed forward by the reduced
//! velocity of `task::reduced_population` with the integrators of `dynamics::integrator`
//! (docs/limit.md section 11).
//!
//! Without noise the limit measure at time t is the push-forward of the initial law by the
//! flow map, so an integral against it is an integral over the initial law of a function of the
//! initial point. The solver draws nothing: a tensor Gauss rule of the initial law
//! (`math::init_rule`) gives nodes with weights, every node moves with the reduced velocity,
//! and the weights stay. Its errors are the rule's (nodes per direction of the initial law, and
//! the angle rule of the interaction) and the integrator's (dt).
//!
//! The logged columns (docs/math.md section 10, over the limit measure rather than m particles):
//!
//! ```text
//! risk            R(rho_t)
//! objective       E = R + (lambda/2) sum_j w_j |P (a, p, q)_j|^2          (P: trained coordinates)
//! dissipation     D = sum_j w_j (v_a,j^2 / lr_ratio + |v_p,j|^2 + v_q,j^2)  (= -dE/dt for constant lambda)
//! a_mean, a_std   sum_j w_j a_j and the square root of sum_j w_j (a_j - a_mean)^2
//! w_norm_mean     sum_j w_j sqrt(|p_j|^2 + q_j^2)
//! cone_share_<i>  the share of the mass sum_j w_j |a_j| |w_j| of the nodes whose w is within the
//!                 cone of teacher row i (|cos| for odd and even activations)
//! ```
//!
//! The cosine between a point w = (p, q e) of a node's orbit and a teacher direction p*_i in T
//! is p.p*_i / (|w| |p*_i|), the same for every point of the orbit, so the cone share of the
//! limit is exact up to the rule (no best cosine: for a law whose support covers every
//! direction it is 1). The velocity's a-, p- and q-parts are the d-dimensional velocity's
//! projections (the part of v_w orthogonal to e within the complement vanishes by symmetry),
//! hence D.

use nalgebra::DMatrix;

use crate::dynamics::Control;
use crate::dynamics::integrator::{FieldStepper, VelocityField};
use crate::error::Result;
use crate::limit::problem::LimitProblem;
use crate::math::AngleRule;
use crate::math::init_rule::{InitResolution, initial_nodes};
use crate::math::kernel::PairKernel;
use crate::math::reduce::ordered_sum;
use crate::output::Table;
use crate::task::{ReducedFlow, ReducedPopulation};

/// The resolution of a solve: nodes per direction of the initial law and angle nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// Nodes per direction of the initial law (a, each p_i, q).
    pub init: InitResolution,
    /// Nodes of the angle rule.
    pub angle: usize,
}

impl Resolution {
    /// Default angle nodes.
    pub const DEFAULT_ANGLE: usize = AngleRule::DEFAULT_NODES;

    /// The default resolution for a teacher span of dimension `k`: N nodes for a and for each
    /// p_i and [`Self::q_nodes`] for q, with N the largest that keeps the tensor within about
    /// [`Self::DEFAULT_BUDGET`] nodes (k = 0: N = 52, q = 23; k = 1: 14 and 6, 1176 nodes;
    /// k = 2: 7 and 4; k = 3: 4 and 4), and [`Self::DEFAULT_ANGLE`] angle nodes.
    pub fn default_for(k: usize) -> Self {
        let mut nodes = ((Self::DEFAULT_BUDGET as f64) / Self::Q_SHARE)
            .powf(1.0 / (k + 2) as f64)
            .round()
            .max(2.0) as usize;
        let size = |n: usize| {
            n.saturating_pow(u32::try_from(k + 1).unwrap_or(u32::MAX))
                .saturating_mul(Self::q_nodes(n))
        };
        while nodes > 2 && size(nodes) > Self::DEFAULT_BUDGET + Self::DEFAULT_BUDGET / 2 {
            nodes -= 1;
        }
        Self::with_nodes(nodes)
    }

    /// About this many initial nodes at the default resolution.
    pub const DEFAULT_BUDGET: usize = 1200;

    /// The q rule gets this share of the nodes of the other directions: it converges fastest
    /// (docs/limit.md section 11: at t = 4 of the relu study, 16 q nodes instead of 10 move the
    /// risk by 8e-8, 16 a or p nodes by 4e-6 to 6e-6).
    pub const Q_SHARE: f64 = 0.45;

    /// The q nodes that go with `nodes` for a and each p_i: round(0.45 nodes), at least 4.
    pub fn q_nodes(nodes: usize) -> usize {
        ((nodes as f64 * Self::Q_SHARE).round() as usize).max(4)
    }

    /// `nodes` for a and each p_i, [`Self::q_nodes`] for q, and the default angle rule.
    pub fn with_nodes(nodes: usize) -> Self {
        Self {
            init: InitResolution {
                a: nodes,
                p: nodes,
                q: Self::q_nodes(nodes),
            },
            angle: Self::DEFAULT_ANGLE,
        }
    }

    /// About half the resolution in each direction (the error estimate's run).
    pub fn halved(self) -> Self {
        Self {
            init: self.init.halved(),
            angle: self.angle.div_ceil(2),
        }
    }
}

/// The reduced velocity field of a limit problem.
struct LimitField {
    population: ReducedPopulation,
    flow: ReducedFlow,
}

impl VelocityField for LimitField {
    fn velocity(&mut self, state: &DMatrix<f64>, velocity: &mut DMatrix<f64>) -> Result<f64> {
        self.population.velocity(state, &self.flow, velocity)
    }
}

/// How a solve ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Ending {
    /// Every step done.
    Finished,
    /// Stopped after this many steps (`progress` returned [`Control::Stop`]).
    Interrupted(u64),
    /// A non-finite risk or node at this step; the message says which.
    Diverged {
        /// The step.
        step: u64,
        /// Its time.
        time: f64,
        /// What was not finite.
        what: String,
    },
}

/// A solved limit: the logged series and the nodes.
#[derive(Clone, Debug)]
pub struct Solution {
    /// step, time, risk, objective, dissipation, a_mean, a_std, w_norm_mean, `cone_share_<i>`.
    pub series: Table,
    /// The initial nodes (weight, a, p_1..p_k, q).
    pub initial: DMatrix<f64>,
    /// The nodes at the last step reached (the last finite ones if it diverged).
    pub last: DMatrix<f64>,
    /// The step of `last`.
    pub last_step: u64,
    /// How it ended.
    pub ending: Ending,
    /// The resolution used.
    pub resolution: Resolution,
}

/// Solves `problem` at `resolution`; `progress(step, risk)` is called after each step (its
/// [`Control::Stop`] interrupts).
pub fn solve(
    problem: &LimitProblem,
    resolution: Resolution,
    progress: &mut dyn FnMut(u64, f64) -> Control,
) -> Result<Solution> {
    let population = problem.population(
        PairKernel::new(problem.activation),
        AngleRule::new(problem.n().max(1), resolution.angle)?,
    )?;
    let initial = initial_nodes(&problem.law, problem.d, problem.k(), resolution.init)?;
    let mut field = LimitField {
        population,
        flow: problem.flow,
    };
    let mut state = initial.clone();
    let mut last = initial.clone();
    let mut last_step = 0;
    let mut stepper = FieldStepper::new(problem.integrator, state.shape());
    let schedules = &problem.schedules;
    let (mut clock_time, mut clock) = schedules.clock_at(problem.dt, 0);
    let mut dt = problem.dt;
    let mut series = Table::new(columns(problem));
    let total = problem.steps;
    let mut ending = Ending::Finished;
    for step in 0..=total {
        if let Some(schedule) = &schedules.dt {
            dt = schedule.value(clock_time);
        }
        if let Some(schedule) = &schedules.lambda {
            field.flow.lambda = schedule.value(clock_time);
        }
        let diverged = |what: String| Ending::Diverged {
            step,
            time: clock.written(step),
            what,
        };
        if state.iter().any(|v| !v.is_finite()) {
            ending = diverged("a node is not finite".into());
            break;
        }
        let risk = stepper.first_stage(&mut field, &state)?;
        if !risk.is_finite() {
            ending = diverged(format!("the risk is {risk}"));
            break;
        }
        if problem.schedule.observes(step, total) {
            series.push(row(
                problem,
                &field.flow,
                (step, clock.written(step)),
                risk,
                &state,
                stepper.velocity(),
            ));
            last.copy_from(&state);
            last_step = step;
        }
        if step == total {
            break;
        }
        stepper.finish(&mut field, &mut state, dt)?;
        clock_time = clock.next(step, clock_time, dt);
        if progress(step + 1, risk) == Control::Stop && step + 1 < total {
            last.copy_from(&state);
            last_step = step + 1;
            ending = Ending::Interrupted(step + 1);
            break;
        }
    }
    Ok(Solution {
        series,
        initial,
        last,
        last_step,
        ending,
        resolution,
    })
}

/// The series columns of `problem`.
fn columns(problem: &LimitProblem) -> Vec<String> {
    let mut columns: Vec<String> = [
        "step",
        "time",
        "risk",
        "objective",
        "dissipation",
        "a_mean",
        "a_std",
        "w_norm_mean",
    ]
    .map(String::from)
    .to_vec();
    columns.extend((0..problem.teacher.nrows()).map(|i| format!("cone_share_{i}")));
    columns
}

/// One logged row (see the module documentation).
fn row(
    problem: &LimitProblem,
    flow: &ReducedFlow,
    (step, time): (u64, f64),
    risk: f64,
    nodes: &DMatrix<f64>,
    velocity: &DMatrix<f64>,
) -> Vec<f64> {
    let count = nodes.nrows();
    let k = problem.k();
    let weight = |j: usize| nodes[(j, 0)];
    let w_norm = |j: usize| {
        let p: f64 = (0..k).map(|c| nodes[(j, 2 + c)].powi(2)).sum();
        (p + nodes[(j, 2 + k)].powi(2)).sqrt()
    };
    let squares = |j: usize, from: usize, to: usize| -> f64 {
        (from..to).map(|c| nodes[(j, c)].powi(2)).sum()
    };
    let (a_from, w_to) = (1, 3 + k);
    let decay = ordered_sum(count, |j| {
        let a = if flow.train_a { squares(j, 1, 2) } else { 0.0 };
        let w = if flow.train_w {
            squares(j, 2, w_to)
        } else {
            0.0
        };
        weight(j) * (a + w)
    });
    let dissipation = ordered_sum(count, |j| {
        let v_a = velocity[(j, a_from)];
        let v_w: f64 = (2..w_to).map(|c| velocity[(j, c)].powi(2)).sum();
        weight(j) * (v_a * v_a / flow.lr_ratio + v_w)
    });
    let a_mean = ordered_sum(count, |j| weight(j) * nodes[(j, 1)]);
    let a_var = ordered_sum(count, |j| weight(j) * (nodes[(j, 1)] - a_mean).powi(2));
    let w_norm_mean = ordered_sum(count, |j| weight(j) * w_norm(j));
    let mut row = vec![
        step as f64,
        time,
        risk,
        risk + 0.5 * flow.lambda * decay,
        dissipation,
        a_mean,
        a_var.sqrt(),
        w_norm_mean,
    ];
    let symmetric = problem.activation.parity().sign_symmetric();
    let cos_cone = problem.cone_degrees.to_radians().cos();
    let mass = |j: usize| weight(j) * nodes[(j, 1)].abs() * w_norm(j);
    let total = ordered_sum(count, mass);
    for i in 0..problem.teacher.nrows() {
        let direction: Vec<f64> = (0..k).map(|c| problem.teacher[(i, 1 + c)]).collect();
        let size = direction.iter().map(|x| x * x).sum::<f64>().sqrt();
        let inside = ordered_sum(count, |j| {
            let norm = w_norm(j);
            if norm == 0.0 {
                return 0.0;
            }
            let dot: f64 = (0..k).map(|c| nodes[(j, 2 + c)] * direction[c]).sum();
            let cosine = dot / (norm * size);
            let cosine = if symmetric { cosine.abs() } else { cosine };
            if cosine >= cos_cone { mass(j) } else { 0.0 }
        });
        row.push(if total > 0.0 { inside / total } else { 0.0 });
    }
    row
}
