//! The exact mean of the finite-width risk at t = 0 (docs/math.md section 7, general form):
//! with m particles drawn i.i.d. from the initial law and alpha = 1,
//!
//! ```text
//! E R_m(0) - R_inf(0) = B / (2m),
//! B = E[a^2 K(w, w)] - E_x[(E_theta a sigma(w.x))^2]
//!   = E[a^2 K(w, w)] - E_(theta, theta') [a a' K(w, w')]     (theta, theta' independent)
//! ```
//!
//! Why: f_m(x) = (1/m) sum_j g(theta_j, x) with g = a sigma(w.x) is the mean of m i.i.d.
//! terms of mean h(x) = E_theta g = f_inf(x) at t = 0, so
//! E (f_m - f*)^2 = (h - f*)^2 + Var_theta(g) / m pointwise in x, and half its E_x is the risk
//! (the label noise cancels in the difference). E_x Var_theta g = E_theta E_x g^2 - E_x h^2,
//! E_x g^2 = a^2 K(w, w). With E[a | w] = 0 the second term vanishes and B = E[a^2 K(w, w)].
//!
//! In reduced coordinates (`math::init_rule`: weighted nodes (weight, a, p, q), each the orbit
//! of w = (p, q e), e uniform on the sphere of the complement), K(w, w) of one point is
//! K(|u|^2, |u|^2, |u|^2) with |u|^2 = |p|^2 + q^2 (a point with itself), while the second term
//! pairs two independent points, also of one orbit: the orbit kernel Kbar of `math::orbit`.
//! The nodes of one (p, q) differ only in a (a tensor rule), so the second term is a sum over
//! the distinct (p, q) of their a-moments sum w a: N_pq^2 orbit kernels, not N^2.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::limit::problem::LimitProblem;
use crate::limit::solver::Resolution;
use crate::math::init_rule::initial_nodes;
use crate::math::kernel::PairKernel;
use crate::math::orbit::{AngleRule, orbit_terms};
use crate::math::reduce::ordered_sum;

/// B of E R_m(0) - R_inf(0) = B / (2m) (module documentation) for the initial law of
/// `problem`, by its tensor rule at `resolution` (the rule the limit solver starts from); a
/// teacher under N(0, I) only (an error otherwise).
pub fn initial_bias(problem: &LimitProblem, resolution: Resolution) -> Result<f64> {
    if !problem.is_standard() {
        return Err(crate::error::Error::invalid(
            "limit problem",
            "other inputs or target than a teacher under N(0, I)",
            "a teacher under standard Gaussian inputs (B is derived for that kernel only)",
        ));
    }
    let k = problem.k();
    let nodes = initial_nodes(&problem.law, problem.d, k, resolution.init)?;
    let kernel = PairKernel::new(problem.activation);
    let rule = AngleRule::new(problem.n().max(1), resolution.angle)?;
    let square_norm = |j: usize| -> f64 { (2..3 + k).map(|c| nodes[(j, c)].powi(2)).sum() };
    let diagonal = ordered_sum(nodes.nrows(), |j| {
        let uu = square_norm(j);
        nodes[(j, 0)] * nodes[(j, 1)].powi(2) * kernel.value(uu, uu, uu)
    });
    let orbits = orbit_moments(&nodes, k);
    let interaction = ordered_sum(orbits.len(), |i| {
        let (point, mass) = &orbits[i];
        let (p, q) = (&point[..k], point[k]);
        let uu = dot(p, p) + q * q;
        let inner: f64 = orbits
            .iter()
            .map(|(other, other_mass)| {
                let (p_other, q_other) = (&other[..k], other[k]);
                let vv = dot(p_other, p_other) + q_other * q_other;
                let terms = orbit_terms(&kernel, &rule, uu, vv, dot(p, p_other), q * q_other);
                other_mass * terms.value
            })
            .sum();
        mass * inner
    });
    Ok(diagonal - interaction)
}

/// The distinct reduced points (p, q) of `nodes` with their a-moments sum_j w_j a_j, in the
/// order of their bit patterns (deterministic).
fn orbit_moments(nodes: &nalgebra::DMatrix<f64>, k: usize) -> Vec<(Vec<f64>, f64)> {
    let mut moments: BTreeMap<Vec<u64>, (Vec<f64>, f64)> = BTreeMap::new();
    for j in 0..nodes.nrows() {
        let point: Vec<f64> = (2..3 + k).map(|c| nodes[(j, c)]).collect();
        let key = point.iter().map(|v| v.to_bits()).collect();
        moments.entry(key).or_insert((point, 0.0)).1 += nodes[(j, 0)] * nodes[(j, 1)];
    }
    moments.into_values().collect()
}

fn dot(u: &[f64], v: &[f64]) -> f64 {
    u.iter().zip(v).map(|(a, b)| a * b).sum()
}
