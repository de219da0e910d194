//! A tensor quadrature of the initial law in reduced coordinates (issue 22's symmetry
//! reduction; the rules of `math::gauss`).
//!
//! With k orthonormal teacher directions spanning T (the first k coordinates) and n = d - k,
//! a particle (a, w) of [`InitLaw`] is described by (a, p, q): p in R^k the first k
//! coordinates of w, q = |w_perp| >= 0 the norm of the other n. a is independent of w, so the
//! rule is a tensor product of a rule in a and a rule in (p, q); its weights are the products
//! of the one-dimensional weights (nothing is merged).
//!
//! ```text
//! a ~ N(mean, std^2):   a = mean + std x,  x over Hermite(N_a)        (std = 0: the atom mean)
//! w ~ N(0, s^2 I_d):    p_i = s x_i,       x_i over Hermite(N_p), i = 1..k, independent
//!                       q = s sqrt(2 y),   y over Laguerre(n/2 - 1, N_q)  (y = q^2/(2s^2)
//!                                          ~ Gamma(n/2); n = 0: the atom q = 0)
//! w uniform on the sphere of radius r, by its coordinates one after the other:
//!                       R_1 = r,  p_i = R_i t_i,  R_(i+1) = R_i sqrt(1 - t_i^2),  q = R_(k+1)
//!                       t_i over Jacobi((d - i - 2)/2, N_p) for i < d (density proportional
//!                       to (1 - t^2)^((d-i-2)/2)), t_d = +-1 with weight 1/2 each (k = d)
//! ```
//!
//! The sphere rule is exact in law: w_1/r has the density proportional to
//! (1 - t^2)^((d-3)/2), and given w_1 the other d - 1 coordinates are uniform on the sphere of
//! radius r sqrt(1 - t_1^2) in R^(d-1), independent of t_1; so the t_i are independent with
//! the stated laws (the circle, i = d - 1, gives Chebyshev; the sphere in R^1, i = d, the two
//! atoms). k = 0 is the atom q = r; k = 1 is t = p/r over Jacobi((n-2)/2) with
//! q = r sqrt(1 - t^2); k = d = 1 the two atoms p = +-r. Every row has |p|^2 + q^2 = r^2 to
//! rounding.
//!
//! Exactness. With N nodes per factor, the Normal rule integrates exactly every polynomial in
//! (a, p, q^2) of degree at most 2N - 1 in each of a, p_i and q^2. The sphere rule integrates
//! exactly every polynomial in (p, q^2) of degree at most 2N - 1 (a monomial prod p_i^(e_i)
//! (q^2)^f is a polynomial in each t_i of degree at most the total degree once the monomials
//! odd in some p_l are set aside; those vanish under both the law and the symmetric rule). Odd
//! powers of q are not polynomials in the factors' variables (sqrt(y), sqrt(1 - t^2)), so E q
//! converges only algebraically in N: for the Normal law as N_q^-((n+1)/2), measured relative
//! error 2.0e-8 (n = 7) and 3.4e-6 (n = 4) at N_q = 64 (tests/init_rule.rs). A Gauss rule in q
//! itself (weight q^(n-1) e^(-q^2/2) on (0, inf)) would make E q exact, at the price of a
//! recurrence without closed form.
//!
//! Rows are (weight, a, p_1..p_k, q): a slowest, then p_1, .., p_k, q fastest. A degenerate
//! factor (std = 0, s = 0, r = 0) is a single atom.
//!
//! This sphere rule replaces the map of a Gaussian rule (p, q) = r (g_T, |g_perp|) / |g| that
//! issue 22 first proposed: that map is exact in law too, but its moments E p_1^4, .. are
//! integrals of functions that are not smooth at g = 0, so no moment is exact.

use crate::error::Error;
use crate::math::gauss::{self, Rule};
use crate::math::model::{InitLaw, ScalarLaw, VectorLaw};
use nalgebra::DMatrix;

/// Nodes per direction of the tensor rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitResolution {
    /// Nodes of the rule in a (Hermite).
    pub a: usize,
    /// Nodes per coordinate p_i (Hermite for a Normal w, Jacobi for a sphere).
    pub p: usize,
    /// Nodes of the rule in q (Laguerre, Normal w only; the sphere's q follows from p).
    pub q: usize,
}

impl InitResolution {
    /// The same number of nodes in every direction.
    pub fn uniform(nodes: usize) -> Self {
        Self {
            a: nodes,
            p: nodes,
            q: nodes,
        }
    }

    /// About half the nodes in each direction: (x + 1)/2, at least 1 (for a convergence check
    /// against the rule at this resolution).
    pub fn halved(self) -> Self {
        let half = |x: usize| x.div_ceil(2).max(1);
        Self {
            a: half(self.a),
            p: half(self.p),
            q: half(self.q),
        }
    }

    /// The number of rows [`initial_nodes`] returns for this law, d and k (saturating at
    /// `usize::MAX`; meaningless where [`initial_nodes`] refuses the arguments).
    pub fn count(&self, law: &InitLaw, d: usize, k: usize) -> usize {
        plan(law, d, k, *self)
            .factors
            .iter()
            .fold(1usize, |rows, factor| rows.saturating_mul(factor.len()))
    }
}

/// The tensor rule of `law` in reduced coordinates: rows (weight, a, p_1..p_k, q) with
/// positive weights summing to 1 (see the module documentation for the rules and their order).
///
/// Errors: d = 0, k > d, a resolution with zero nodes, a non-finite or negative law
/// parameter, or more rows than `usize` counts.
///
/// ```
/// use meanfield::math::{InitLaw, InitResolution, initial_nodes};
/// let (d, k) = (8, 1);
/// let nodes = initial_nodes(&InitLaw::standard(d), d, k, InitResolution::uniform(6))?;
/// assert_eq!(nodes.shape(), (6 * 6 * 6, k + 3));
/// // E |w|^2 = E p_1^2 + E q^2 = 1 for w ~ N(0, I/d).
/// let second: f64 = nodes
///     .row_iter()
///     .map(|row| row[0] * (row[2] * row[2] + row[3] * row[3]))
///     .sum();
/// assert!((second - 1.0).abs() < 1e-14);
/// # Ok::<(), meanfield::Error>(())
/// ```
pub fn initial_nodes(
    law: &InitLaw,
    d: usize,
    k: usize,
    resolution: InitResolution,
) -> crate::Result<DMatrix<f64>> {
    validate(law, d, k, resolution)?;
    let plan = plan(law, d, k, resolution);
    let rules = plan
        .factors
        .iter()
        .map(Factor::rule)
        .collect::<crate::Result<Vec<Rule>>>()?;
    let rows = rules.iter().try_fold(1usize, |rows, rule| {
        rows.checked_mul(rule.0.len())
            .ok_or_else(|| Error::invalid("initial rule rows", "more than usize", "fewer nodes"))
    })?;
    let mut out = DMatrix::zeros(rows, k + 3);
    let mut row = vec![0.0; k + 3];
    let mut index = 0;
    for_each_node(&rules, |weight, x| {
        row[0] = weight;
        row[1] = x[0];
        plan.w_map.fill(&x[1..], &mut row[2..]);
        for (column, value) in row.iter().enumerate() {
            out[(index, column)] = *value;
        }
        index += 1;
    });
    Ok(out)
}

/// One factor of the tensor, before its nodes are computed.
#[derive(Clone, Copy, Debug)]
enum Factor {
    /// A single node with weight 1.
    Atom(f64),
    /// mean + std x, x over Hermite(count).
    Normal { mean: f64, std: f64, count: usize },
    /// scale sqrt(2 y), y over Laguerre(alpha, count): the norm of s g, g ~ N(0, I_n).
    Chi {
        alpha: f64,
        scale: f64,
        count: usize,
    },
    /// t over symmetric Jacobi(a, count).
    Jacobi { a: f64, count: usize },
    /// The two atoms +-1, weight 1/2 each.
    Signs,
}

impl Factor {
    fn len(&self) -> usize {
        match *self {
            Self::Atom(_) => 1,
            Self::Signs => 2,
            Self::Normal { count, .. } | Self::Chi { count, .. } | Self::Jacobi { count, .. } => {
                count
            }
        }
    }

    fn rule(&self) -> crate::Result<Rule> {
        Ok(match *self {
            Self::Atom(value) => (vec![value], vec![1.0]),
            Self::Signs => (vec![-1.0, 1.0], vec![0.5, 0.5]),
            Self::Normal { mean, std, count } => {
                let (nodes, weights) = gauss::hermite(count)?;
                (nodes.iter().map(|x| mean + std * x).collect(), weights)
            }
            Self::Chi {
                alpha,
                scale,
                count,
            } => {
                let (nodes, weights) = gauss::laguerre(alpha, count)?;
                (
                    nodes.iter().map(|y| scale * (2.0 * y).sqrt()).collect(),
                    weights,
                )
            }
            Self::Jacobi { a, count } => gauss::jacobi_symmetric(a, count)?,
        })
    }
}

/// From the w-factors' nodes to (p_1..p_k, q).
#[derive(Clone, Copy, Debug)]
enum WMap {
    /// The nodes are p_1..p_k, then q if there is a q-factor (else q = 0).
    Direct { has_q: bool },
    /// The nodes are t_1..t_k of the sphere of this radius.
    Sphere { radius: f64 },
}

impl WMap {
    fn fill(&self, x: &[f64], out: &mut [f64]) {
        let k = out.len() - 1;
        match *self {
            Self::Direct { has_q } => {
                out[..k].copy_from_slice(&x[..k]);
                out[k] = if has_q { x[k] } else { 0.0 };
            }
            Self::Sphere { radius } => {
                let mut remaining = radius;
                for (p, &t) in out[..k].iter_mut().zip(x) {
                    *p = remaining * t;
                    // (1 - t)(1 + t) keeps its relative accuracy near t = +-1.
                    remaining *= ((1.0 - t) * (1.0 + t)).max(0.0).sqrt();
                }
                out[k] = remaining;
            }
        }
    }
}

/// The factors (a first) and the map of the w-nodes.
struct Plan {
    factors: Vec<Factor>,
    w_map: WMap,
}

fn plan(law: &InitLaw, d: usize, k: usize, resolution: InitResolution) -> Plan {
    let ScalarLaw::Normal { mean, std } = law.a;
    let a_factor = if std > 0.0 {
        Factor::Normal {
            mean,
            std,
            count: resolution.a,
        }
    } else {
        Factor::Atom(mean)
    };
    let n = d.saturating_sub(k);
    let (w_factors, w_map) = match law.w {
        VectorLaw::Normal { std } => normal_w_factors(std, k, n, resolution),
        VectorLaw::UniformSphere { radius } => sphere_w_factors(radius, d, k, resolution),
    };
    let mut factors = vec![a_factor];
    factors.extend(w_factors);
    Plan { factors, w_map }
}

fn normal_w_factors(
    std: f64,
    k: usize,
    n: usize,
    resolution: InitResolution,
) -> (Vec<Factor>, WMap) {
    if std <= 0.0 {
        return (vec![Factor::Atom(0.0); k], WMap::Direct { has_q: false });
    }
    let p = Factor::Normal {
        mean: 0.0,
        std,
        count: resolution.p,
    };
    let mut factors = vec![p; k];
    if n > 0 {
        factors.push(Factor::Chi {
            alpha: n as f64 / 2.0 - 1.0,
            scale: std,
            count: resolution.q,
        });
    }
    (factors, WMap::Direct { has_q: n > 0 })
}

fn sphere_w_factors(
    radius: f64,
    d: usize,
    k: usize,
    resolution: InitResolution,
) -> (Vec<Factor>, WMap) {
    let factors = (1..=k)
        .map(|i| {
            if radius <= 0.0 {
                Factor::Atom(0.0)
            } else if i < d {
                Factor::Jacobi {
                    a: (d - i) as f64 / 2.0 - 1.0,
                    count: resolution.p,
                }
            } else {
                Factor::Signs
            }
        })
        .collect();
    (factors, WMap::Sphere { radius })
}

/// Calls `visit(weight, nodes)` for every node of the tensor product of `rules`, the first
/// rule slowest; weight is the product of the factors' weights in rule order.
fn for_each_node(rules: &[Rule], mut visit: impl FnMut(f64, &[f64])) {
    let mut index = vec![0usize; rules.len()];
    let mut x = vec![0.0; rules.len()];
    loop {
        let mut weight = 1.0;
        for (f, rule) in rules.iter().enumerate() {
            weight *= rule.1[index[f]];
            x[f] = rule.0[index[f]];
        }
        visit(weight, &x);
        // Advance the last index fastest; stop after the last node.
        let mut f = rules.len();
        loop {
            if f == 0 {
                return;
            }
            f -= 1;
            index[f] += 1;
            if index[f] < rules[f].0.len() {
                break;
            }
            index[f] = 0;
        }
    }
}

fn validate(law: &InitLaw, d: usize, k: usize, resolution: InitResolution) -> crate::Result<()> {
    if d == 0 {
        return Err(Error::invalid("d", d, "at least 1"));
    }
    if k > d {
        return Err(Error::invalid("k", k, format!("at most d = {d}")));
    }
    for (what, nodes) in [
        ("initial rule nodes in a", resolution.a),
        ("initial rule nodes in p", resolution.p),
        ("initial rule nodes in q", resolution.q),
    ] {
        if nodes == 0 {
            return Err(Error::invalid(what, nodes, "at least 1"));
        }
    }
    let ScalarLaw::Normal { mean, std } = law.a;
    let (w_what, w_value) = match law.w {
        VectorLaw::Normal { std } => ("init.w.std", std),
        VectorLaw::UniformSphere { radius } => ("init.w.radius", radius),
    };
    if !mean.is_finite() {
        return Err(Error::invalid("init.a.mean", mean, "a finite number"));
    }
    for (what, value) in [("init.a.std", std), (w_what, w_value)] {
        if !(value.is_finite() && value >= 0.0) {
            return Err(Error::invalid(what, value, "a finite number >= 0"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn halved_rounds_up_and_keeps_one_node() {
        let half = InitResolution { a: 1, p: 8, q: 7 }.halved();
        assert_eq!(half, InitResolution { a: 1, p: 4, q: 4 });
    }

    #[test]
    fn tensor_visits_every_node_first_rule_slowest() {
        let rules = [
            (vec![1.0, 2.0], vec![0.25, 0.75]),
            (vec![10.0, 20.0, 30.0], vec![0.5, 0.25, 0.25]),
        ];
        let mut seen = Vec::new();
        for_each_node(&rules, |w, x| seen.push((w, x[0], x[1])));
        assert_eq!(seen.len(), 6);
        assert_eq!(seen[0], (0.125, 1.0, 10.0));
        assert_eq!(seen[1], (0.0625, 1.0, 20.0));
        assert_eq!(seen[3], (0.375, 2.0, 10.0));
    }
}
