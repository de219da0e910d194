//! The limit solver beyond a teacher under N(0, I) (issue 24 item 5; docs/limit.md section
//! 13): isotropic Gaussian mixtures with the label target (k = 0) or a teacher, and Hermite
//! targets on coordinate directions. Each reduced quantity is checked against an independent
//! computation: the label risk against a radial quadrature of E (y - f)^2 / 2 (f of a
//! rotation-invariant measure depends on |x| only), the Hermite field against a Gauss-Hermite
//! computation of E[sigma(w.x) He_j(x_s)] with the other directions integrated in closed form,
//! the velocity against finite differences of the reduced risk, the teacher-under-mixture and
//! Hermite risks against Monte Carlo over 200k inputs. Tolerances are derived: quadratures from
//! the difference to a rule of half the size, finite differences from Richardson's estimate
//! plus rounding, Monte Carlo from 4 standard errors.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::f64::consts::PI;
use std::sync::Arc;

use common::scenario;
use meanfield::dynamics::Control;
use meanfield::limit::problem::LimitTarget;
use meanfield::limit::{LimitProblem, Resolution, solve};
use meanfield::math::init_rule::{InitResolution, initial_nodes};
use meanfield::math::kernel::PairKernel;
use meanfield::math::{Activation, AngleRule};
use meanfield::task::ReducedPopulation;
use meanfield::task::problem::{
    Component, Covariance, HermiteTarget, HermiteTerm, InputShape, LabelTarget, ParityTarget,
    ParityTerm, TargetFunction, hermite, hermite_norm,
};
use meanfield::task::reduced_population::{ReducedHermiteTerm, ReducedTarget, ScaledComponent};
use nalgebra::DMatrix;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

/// A population scenario: `activation`, d, a k-neuron teacher, a ~ N(0, 1), w ~ N(0, I/d).
fn text(activation: &str, d: usize, k: usize) -> String {
    format!(
        "name = \"limit\"\nseed = 3\n[model]\nd = {d}\nm = 64\nactivation = \"{activation}\"\n\
         [init]\na = {{ law = \"normal\", mean = 0.0, std = 1.0 }}\n\
         w = {{ law = \"normal\", std = {} }}\n[target]\nk = {k}\n[risk]\nmode = \"population\"\n\
         [dynamics]\nintegrator = \"rk4\"\ndt = 0.05\nt_end = 0.5\n[record]\nevery = 1\n",
        1.0 / (d as f64).sqrt()
    )
}

/// Composite Simpson on [a, b] with `panels` (even) panels.
fn simpson(a: f64, b: f64, panels: usize, f: impl Fn(f64) -> f64) -> f64 {
    let h = (b - a) / panels as f64;
    let mut sum = f(a) + f(b);
    for i in 1..panels {
        let weight = if i % 2 == 1 { 4.0 } else { 2.0 };
        sum += weight * f(a + h * i as f64);
    }
    sum * h / 3.0
}

fn mixture(parts: &[(f64, f64)]) -> Vec<ScaledComponent> {
    parts
        .iter()
        .map(|&(weight, scale)| ScaledComponent { weight, scale })
        .collect()
}

/// R of k = 0 nodes (weight, a, q) for labels under an isotropic mixture, by quadrature:
/// f(x) = sum_j w_j a_j h(q_j |x|), h(t) = E_c sigma(t c) with c the first coordinate of a
/// uniform point of S^(d-1) (density proportional to (1 - c^2)^((d-3)/2)), and |x| = s_c R,
/// R ~ chi_d. `panels` Simpson panels in R on [0, 12] and panels / 2 in c (a multiple of 4, so
/// that c = 0, relu's kink, is a panel-pair boundary).
fn radial_label_risk(
    activation: Activation,
    d: usize,
    nodes: &DMatrix<f64>,
    parts: &[(f64, f64, f64)],
    noise: f64,
    panels: usize,
) -> f64 {
    let exponent = (d as f64 - 3.0) / 2.0;
    let angle_weight = |c: f64| (1.0 - c * c).max(0.0).powf(exponent);
    let c_panels = panels / 2;
    let angle_norm = simpson(-1.0, 1.0, c_panels, angle_weight);
    let h = |t: f64| {
        simpson(-1.0, 1.0, c_panels, |c| {
            activation.value(t * c) * angle_weight(c)
        }) / angle_norm
    };
    let f = |t: f64| -> f64 {
        (0..nodes.nrows())
            .map(|j| nodes[(j, 0)] * nodes[(j, 1)] * h(nodes[(j, 2)] * t))
            .sum()
    };
    let chi = |r: f64| r.powi(d as i32 - 1) * (-0.5 * r * r).exp();
    let chi_norm = simpson(0.0, 12.0, panels, chi);
    let mut risk = 0.5 * noise * noise;
    for &(weight, scale, label) in parts {
        let loss = simpson(0.0, 12.0, panels, |r| {
            0.5 * (label - f(scale * r)).powi(2) * chi(r)
        });
        risk += weight * loss / chi_norm;
    }
    risk
}

fn label_population(
    activation: Activation,
    d: usize,
    parts: &[(f64, f64, f64)],
    noise: f64,
    angle_nodes: usize,
) -> ReducedPopulation {
    ReducedPopulation::with_inputs(
        PairKernel::new(activation),
        AngleRule::new(d, angle_nodes).unwrap(),
        0,
        mixture(&parts.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>()),
        ReducedTarget::Label(parts.iter().map(|p| p.2).collect()),
        noise,
    )
    .unwrap()
}

/// A bound on the kernel quadrature's contribution to R: its per-expectation error at the
/// largest scaled norm times (sum_j w_j |a_j|)^2 (0 for closed forms).
fn kernel_error(activation: Activation, nodes: &DMatrix<f64>, largest_scale: f64) -> f64 {
    let largest_norm = (0..nodes.nrows())
        .map(|j| {
            (2..nodes.ncols())
                .map(|c| nodes[(j, c)].powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .fold(0.0_f64, f64::max);
    let mass: f64 = (0..nodes.nrows())
        .map(|j| nodes[(j, 0)] * nodes[(j, 1)].abs())
        .sum();
    PairKernel::new(activation)
        .error_bound(largest_norm * largest_scale)
        .unwrap_or(0.0)
        * (mass * mass + 2.0 * mass)
}

/// Six k = 0 nodes (weight, a, q).
fn radial_nodes() -> DMatrix<f64> {
    DMatrix::from_row_slice(
        6,
        3,
        &[
            0.1, 0.8, 0.6, 0.2, -1.1, 1.3, 0.15, 0.5, 0.9, 0.25, 1.4, 0.4, 0.1, -0.3, 2.0, 0.2,
            0.9, 1.1,
        ],
    )
}

/// The label target under a two-component isotropic mixture: the reduced risk against the
/// radial quadrature, for homogeneous (relu, quadratic: one pass, scaled) and other (erf,
/// sigmoid: one pass per component) activations, n = d = 3 and 5. Tolerance: the quadrature's
/// change from half the panels, the reduced risk's change from half the angle nodes, the
/// kernel quadrature's bound, and 1e-12 of rounding.
#[test]
fn label_risk_under_a_mixture_matches_a_radial_quadrature() {
    let parts = [(0.35, 0.7, 1.0), (0.65, 1.6, -1.0)];
    let nodes = radial_nodes();
    for activation in [
        Activation::Relu,
        Activation::Quadratic,
        Activation::Erf,
        Activation::Sigmoid,
    ] {
        for d in [3, 5] {
            let reduced = label_population(activation, d, &parts, 0.2, 24)
                .risk(&nodes)
                .unwrap();
            let coarse = label_population(activation, d, &parts, 0.2, 12)
                .risk(&nodes)
                .unwrap();
            let reference = radial_label_risk(activation, d, &nodes, &parts, 0.2, 1600);
            let half = radial_label_risk(activation, d, &nodes, &parts, 0.2, 800);
            let tolerance = (reference - half).abs()
                + (reduced - coarse).abs()
                + kernel_error(activation, &nodes, 1.6)
                + 1e-12;
            assert!(
                (reduced - reference).abs() <= tolerance,
                "{activation:?} d = {d}: reduced {reduced} reference {reference} tolerance \
                 {tolerance:e}"
            );
        }
    }
}

/// The reduced velocity is -(1/w_j) times the gradient of the reduced risk in the node's (a,
/// p, q) (lambda = 0, lr_ratio = 1): checked by central differences at h and h/2; tolerance
/// the Richardson difference plus rounding 16 eps max(1, |R|) / h plus the kernel quadrature's
/// bound over h (its rule changes with the norms).
fn check_velocity(population: &mut ReducedPopulation, nodes: &DMatrix<f64>, what: &str) {
    let mut velocity = DMatrix::zeros(nodes.nrows(), nodes.ncols());
    let flow = meanfield::task::ReducedFlow::default();
    let risk = population.velocity(nodes, &flow, &mut velocity).unwrap();
    assert_eq!(
        risk.to_bits(),
        population.risk(nodes).unwrap().to_bits(),
        "{what}: risk"
    );
    let h = 1e-3;
    let activation = population_activation(what);
    let quadrature = kernel_error(activation, nodes, 1.6);
    for j in 0..nodes.nrows() {
        for c in 1..nodes.ncols() {
            let mut difference = |step: f64| {
                let mut moved = nodes.clone();
                moved[(j, c)] += step;
                let up = population.risk(&moved).unwrap();
                moved[(j, c)] -= 2.0 * step;
                let down = population.risk(&moved).unwrap();
                (up - down) / (2.0 * step)
            };
            let (coarse, fine) = (difference(h), difference(h / 2.0));
            let gradient = -nodes[(j, 0)] * velocity[(j, c)];
            let tolerance = (coarse - fine).abs()
                + 16.0 * f64::EPSILON * risk.abs().max(1.0) / h
                + 4.0 * quadrature / h;
            assert!(
                (gradient - fine).abs() <= tolerance,
                "{what}: node {j} column {c}: velocity gives {gradient}, differences {fine} \
                 (tolerance {tolerance:e})"
            );
        }
    }
}

/// The activation named first in a check's label.
fn population_activation(what: &str) -> Activation {
    Activation::ALL
        .into_iter()
        .find(|a| what.starts_with(a.name()))
        .unwrap()
}

#[test]
fn label_velocity_under_a_mixture_is_the_gradient_of_the_risk() {
    let parts = [(0.35, 0.7, 1.0), (0.65, 1.6, -1.0)];
    let nodes = radial_nodes();
    for activation in [Activation::Relu, Activation::Erf, Activation::Sigmoid] {
        let mut population = label_population(activation, 4, &parts, 0.0, 24);
        check_velocity(
            &mut population,
            &nodes,
            &format!("{} label", activation.name()),
        );
    }
}

/// E[sigma(w.x) He_j(x_s)] / sqrt(j!) for w = (p, q e): w.x = p_s x_s + rho z with
/// rho^2 = |w|^2 - p_s^2, z independent; E_z in closed form, x_s over Gauss-Hermite(count).
fn hermite_reference(
    activation: Activation,
    degree: u32,
    p: &[f64],
    q: f64,
    slot: usize,
    count: usize,
) -> f64 {
    let rho = (p.iter().map(|x| x * x).sum::<f64>() + q * q - p[slot] * p[slot])
        .max(0.0)
        .sqrt();
    let normal_cdf = |x: f64| 0.5 * libm::erfc(-x / 2.0_f64.sqrt());
    let smoothed = |m: f64| match activation {
        Activation::Relu => {
            m * normal_cdf(m / rho) + rho * (-0.5 * (m / rho).powi(2)).exp() / (2.0 * PI).sqrt()
        }
        Activation::Erf => libm::erf(m / (2.0 * (1.0 + rho * rho)).sqrt()),
        Activation::Linear => m,
        Activation::Quadratic => m * m + rho * rho,
        _ => unreachable!(),
    };
    let (nodes, weights) = meanfield::math::gauss::hermite(count).unwrap();
    nodes
        .iter()
        .zip(&weights)
        .map(|(&x, &w)| w * smoothed(p[slot] * x) * hermite(degree, x))
        .sum::<f64>()
        / hermite_norm(degree)
}

fn hermite_population(
    activation: Activation,
    terms: Vec<ReducedHermiteTerm>,
    k: usize,
) -> ReducedPopulation {
    ReducedPopulation::with_inputs(
        PairKernel::new(activation),
        AngleRule::new(3, 24).unwrap(),
        k,
        vec![ScaledComponent::STANDARD],
        ReducedTarget::Hermite(terms),
        0.0,
    )
    .unwrap()
}

/// The Stein closed forms of the Hermite field against Gauss-Hermite (tolerance: twice the
/// change from 80 to 160 nodes plus 1e-13 of rounding), and its gradient against central
/// differences (as in `check_velocity`), for degrees 0..=6 on both slots of k = 2.
#[test]
fn hermite_field_matches_gauss_hermite_and_its_gradient_differences() {
    let points = [([0.7, -0.4], 0.9), ([-1.2, 0.3], 0.5), ([0.2, 0.8], 1.4)];
    for activation in [
        Activation::Relu,
        Activation::Erf,
        Activation::Linear,
        Activation::Quadratic,
    ] {
        for degree in 0..=6 {
            for slot in 0..2 {
                let term = ReducedHermiteTerm {
                    slot,
                    degree,
                    coef: 1.0,
                };
                let population = hermite_population(activation, vec![term], 2);
                for (p, q) in points {
                    let (value, grad_p, grad_q) = population.teacher_field(&p, q);
                    let fine = hermite_reference(activation, degree, &p, q, slot, 160);
                    let coarse = hermite_reference(activation, degree, &p, q, slot, 80);
                    let tolerance = 2.0 * (fine - coarse).abs() + 1e-13 * fine.abs().max(1.0);
                    assert!(
                        (value - fine).abs() <= tolerance,
                        "{activation:?} He_{degree} slot {slot} at {p:?}, {q}: {value} vs {fine}"
                    );
                    let field = |p: [f64; 2], q: f64| population.teacher_field(&p, q).0;
                    let analytic = [grad_p[0], grad_p[1], grad_q];
                    for (c, &g) in analytic.iter().enumerate() {
                        let difference = |h: f64| {
                            let (mut up, mut down) = ((p, q), (p, q));
                            if c < 2 {
                                up.0[c] += h;
                                down.0[c] -= h;
                            } else {
                                up.1 += h;
                                down.1 -= h;
                            }
                            (field(up.0, up.1) - field(down.0, down.1)) / (2.0 * h)
                        };
                        let h = 1e-3;
                        let (coarse, fine) = (difference(h), difference(h / 2.0));
                        let tolerance =
                            (coarse - fine).abs() + 16.0 * f64::EPSILON * value.abs().max(1.0) / h;
                        assert!(
                            (g - fine).abs() <= tolerance,
                            "{activation:?} He_{degree} slot {slot} derivative {c}: {g} vs {fine}"
                        );
                    }
                }
            }
        }
    }
}

/// E_c erf((m + t c) / sqrt 2) for c uniform on [-1, 1] (n = 3), by the antiderivative
/// of erf: u erf(u) + exp(-u^2) / sqrt(pi).
fn erf_uniform_mean(m: f64, t: f64) -> f64 {
    if t < 1e-6 {
        return libm::erf(m / 2.0_f64.sqrt());
    }
    let antiderivative = |u: f64| u * libm::erf(u) + (-u * u).exp() / PI.sqrt();
    let s = 2.0_f64.sqrt();
    s / (2.0 * t) * (antiderivative((m + t) / s) - antiderivative((m - t) / s))
}

/// Monte Carlo of the risk of weighted reduced nodes for an erf network in d = k + 3 (n = 3):
/// x = s_c z drawn from `parts`, f of the measure E_c erf((p.x_T + q |x_perp| c) / sqrt 2) in
/// closed form, `target(x)` the label; returns (mean loss, standard error).
fn monte_carlo_risk(
    problem: &LimitProblem,
    nodes: &DMatrix<f64>,
    parts: &[(f64, f64)],
    target: &dyn Fn(&[f64]) -> f64,
    samples: usize,
) -> (f64, f64) {
    let (d, k) = (problem.d, problem.k());
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(24);
    let (mut sum, mut squares) = (0.0, 0.0);
    let mut x = vec![0.0; d];
    for _ in 0..samples {
        let u: f64 = rng.random();
        let scale = if u < parts[0].0 {
            parts[0].1
        } else {
            parts[parts.len() - 1].1
        };
        x.iter_mut()
            .for_each(|v| *v = scale * rng.sample::<f64, _>(StandardNormal));
        let x_t: Vec<f64> = (0..k)
            .map(|r| (0..d).map(|c| problem.basis[(r, c)] * x[c]).sum())
            .collect();
        let perp = (x.iter().map(|v| v * v).sum::<f64>() - x_t.iter().map(|v| v * v).sum::<f64>())
            .max(0.0)
            .sqrt();
        let f: f64 = (0..nodes.nrows())
            .map(|j| {
                let m: f64 = (0..k).map(|c| nodes[(j, 2 + c)] * x_t[c]).sum();
                nodes[(j, 0)] * nodes[(j, 1)] * erf_uniform_mean(m, nodes[(j, 2 + k)] * perp)
            })
            .sum();
        let loss = 0.5 * (target(&x) - f).powi(2);
        sum += loss;
        squares += loss * loss;
    }
    let n = samples as f64;
    let mean = sum / n;
    (mean, ((squares / n - mean * mean) / n).sqrt())
}

fn initial(problem: &LimitProblem) -> DMatrix<f64> {
    initial_nodes(
        &problem.law,
        problem.d,
        problem.k(),
        InitResolution::uniform(2),
    )
    .unwrap()
}

/// A teacher under an isotropic two-component mixture (built by `LimitProblem::from_parts`,
/// erf: one pass per component): the reduced risk of the initial rule against the mixture of
/// the N(0, I) risks at scaled nodes (to 1e-13 relative, rounding), against Monte Carlo over
/// 200k inputs (4 standard errors), and its velocity against differences of the risk.
#[test]
fn teacher_risk_under_a_mixture_matches_monte_carlo() {
    let scenario = scenario(&text("erf", 4, 1));
    let parts = [(0.4, 0.8), (0.6, 1.3)];
    let input = InputShape::Mixture(Arc::new(
        parts
            .iter()
            .map(|&(weight, scale)| Component {
                weight,
                label: 0.0,
                covariance: Covariance::Scaled(scale),
            })
            .collect(),
    ));
    let teacher = scenario.teacher().unwrap();
    let problem =
        LimitProblem::from_parts(&scenario, &input, &TargetFunction::Teacher(teacher.clone()))
            .unwrap();
    assert!(!problem.is_standard());
    let nodes = initial(&problem);
    let kernel = PairKernel::new(Activation::Erf);
    let rule = AngleRule::new(problem.n(), 24).unwrap();
    let mut population = problem.population(kernel.clone(), rule.clone()).unwrap();
    let reduced = population.risk(&nodes).unwrap();
    // R = sum_c pi_c R_c, R_c the N(0, I) risk of the nodes and teacher scaled by s_c (the
    // teacher path of section 10).
    let mut by_components = 0.0;
    for &(weight, scale) in &parts {
        let mut scaled = nodes.clone();
        scaled
            .columns_mut(2, 2)
            .iter_mut()
            .for_each(|v| *v *= scale);
        let mut rows = problem.teacher.clone();
        rows.column_mut(1).iter_mut().for_each(|v| *v *= scale);
        let mut standard =
            ReducedPopulation::new(kernel.clone(), rule.clone(), &rows, problem.noise_std).unwrap();
        by_components += weight * standard.risk(&scaled).unwrap();
    }
    assert!(
        (reduced - by_components).abs() <= 1e-13 * reduced.abs(),
        "{reduced} vs {by_components}"
    );
    check_velocity(&mut population, &nodes, "erf teacher under a mixture");
    let theta = teacher.matrix().clone();
    let target = move |x: &[f64]| {
        (0..theta.nrows())
            .map(|i| {
                let z: f64 = (0..x.len()).map(|c| theta[(i, 1 + c)] * x[c]).sum();
                theta[(i, 0)] * Activation::Erf.value(z)
            })
            .sum::<f64>()
            / theta.nrows() as f64
    };
    let (mean, error) = monte_carlo_risk(&problem, &nodes, &parts, &target, 200_000);
    assert!(
        (reduced - mean).abs() <= 4.0 * error,
        "reduced {reduced}, Monte Carlo {mean} +- {error}"
    );
}

/// A Hermite target of two directions (k = 2, d = 5, erf) built by `from_parts`: the reduced
/// risk of the initial rule against Monte Carlo over 200k standard Gaussian inputs (4
/// standard errors), and the velocity against differences of the risk.
#[test]
fn hermite_risk_matches_monte_carlo_and_its_velocity_the_differences() {
    let scenario = scenario(&text("erf", 5, 1));
    let hermite_target = HermiteTarget {
        input_dim: 5,
        terms: vec![
            HermiteTerm {
                direction: 3,
                degree: 1,
                coef: 0.8,
            },
            HermiteTerm {
                direction: 1,
                degree: 3,
                coef: 0.6,
            },
            HermiteTerm {
                direction: 3,
                degree: 2,
                coef: 0.5,
            },
        ],
        noise_std: 0.0,
    };
    let target = TargetFunction::Hermite(hermite_target.clone());
    let problem =
        LimitProblem::from_parts(&scenario, &InputShape::StandardGaussian, &target).unwrap();
    assert_eq!(problem.k(), 2);
    assert!(matches!(problem.target, LimitTarget::Hermite(_)));
    let nodes = initial(&problem);
    let mut population = problem
        .population(
            PairKernel::new(Activation::Erf),
            AngleRule::new(problem.n(), 24).unwrap(),
        )
        .unwrap();
    let reduced = population.risk(&nodes).unwrap();
    use meanfield::task::Target;
    let (mean, error) = monte_carlo_risk(
        &problem,
        &nodes,
        &[(1.0, 1.0)],
        &|x| hermite_target.value(x),
        200_000,
    );
    assert!(
        (reduced - mean).abs() <= 4.0 * error,
        "reduced {reduced}, Monte Carlo {mean} +- {error}"
    );
    check_velocity(&mut population, &nodes, "erf hermite");
}

/// `from_parts` with N(0, I) and the scenario's teacher is `from_scenario`'s problem: the
/// solves agree bit for bit. A label problem solves to the end with a falling risk.
#[test]
fn from_parts_keeps_the_teacher_path_and_solves_a_label_problem() {
    let scenario = scenario(&text("relu", 4, 1));
    let old = LimitProblem::from_scenario(&scenario).unwrap();
    let teacher = TargetFunction::Teacher(scenario.teacher().unwrap());
    let one = InputShape::Gaussian(Covariance::Scaled(1.0));
    let new = LimitProblem::from_parts(&scenario, &one, &teacher).unwrap();
    assert!(new.is_standard());
    let resolution = Resolution::with_nodes(4);
    let run = |problem: &LimitProblem| {
        solve(problem, resolution, &mut |_, _| Control::Continue)
            .unwrap()
            .series
            .column("risk")
            .unwrap()
    };
    let (a, b) = (run(&old), run(&new));
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    let input = InputShape::Mixture(Arc::new(vec![
        Component {
            weight: 0.5,
            label: 1.0,
            covariance: Covariance::Scaled(0.6),
        },
        Component {
            weight: 0.5,
            label: -1.0,
            covariance: Covariance::Scaled(1.5),
        },
    ]));
    let labels = TargetFunction::Label(LabelTarget {
        input_dim: 4,
        labels: vec![1.0, -1.0],
        noise_std: 0.0,
    });
    let problem = LimitProblem::from_parts(&scenario, &input, &labels).unwrap();
    assert_eq!(problem.k(), 0);
    let risks = run(&problem);
    assert_eq!(risks.len() as u64, problem.steps + 1);
    assert!(risks.last().unwrap() < risks.first().unwrap(), "{risks:?}");
}

/// The refusals name their key: Rademacher inputs, a full covariance, parity targets, a
/// Hermite target with tanh or under scaled inputs, labels with softplus.
#[test]
fn problems_without_the_reduction_are_refused_by_key() {
    let relu = scenario(&text("relu", 4, 1));
    let tanh = scenario(&text("tanh", 4, 1));
    let softplus = scenario(&text("softplus", 4, 1));
    let teacher = TargetFunction::Teacher(relu.teacher().unwrap());
    let hermite = TargetFunction::Hermite(HermiteTarget {
        input_dim: 4,
        terms: vec![HermiteTerm {
            direction: 0,
            degree: 2,
            coef: 1.0,
        }],
        noise_std: 0.0,
    });
    let labels = TargetFunction::Label(LabelTarget {
        input_dim: 4,
        labels: vec![1.0],
        noise_std: 0.0,
    });
    let parity = TargetFunction::Parity(ParityTarget {
        input_dim: 4,
        terms: vec![ParityTerm {
            coordinates: vec![0, 1],
            coef: 1.0,
        }],
        noise_std: 0.0,
    });
    let full = InputShape::Gaussian(Covariance::diag(&[1.0, 2.0, 1.0, 1.0]).unwrap());
    let scaled = InputShape::Gaussian(Covariance::Scaled(2.0));
    let standard = InputShape::StandardGaussian;
    for (scenario, input, target, key) in [
        (&relu, &InputShape::Rademacher, &teacher, "input.law"),
        (&relu, &full, &teacher, "input.covariance"),
        (&relu, &standard, &parity, "target.kind"),
        (&tanh, &standard, &hermite, "model.activation"),
        (&relu, &scaled, &hermite, "input.law"),
        (&softplus, &standard, &labels, "model.activation"),
    ] {
        let error = LimitProblem::from_parts(scenario, input, target)
            .unwrap_err()
            .to_string();
        assert!(error.contains(key), "{key}: {error}");
    }
}
