//! The exact population risk of the problems of docs/problems.md (covariances, mixtures, a
//! teacher with another activation, Hermite targets, mixture labels) against Monte Carlo over
//! x, its gradient against central finite differences, the whitening identity, the standard
//! problem bit for bit, the Hermite projections against Gauss-Hermite quadrature, and the
//! plateau of a Hermite target's degree.
#![allow(clippy::unwrap_used, reason = "tests")]

use std::sync::Arc;

use meanfield::math::gauss;
use meanfield::math::gaussian_field::smoothing;
use meanfield::math::{Activation, Network};
use meanfield::random::{Purpose, stream};
use meanfield::task::field::TargetField;
use meanfield::task::problem::hermite;
use meanfield::task::{
    Component, Covariance, HermiteTarget, HermiteTerm, InputShape, LabelTarget, ParityTarget,
    ParityTerm, PopulationRisk, Target, TargetFunction, Teacher,
};
use nalgebra::DMatrix;
use rand::RngExt;
use rand_distr::StandardNormal;

const D: usize = 4;

/// Random particles (a, w), m x (1 + d), a ~ N(0, 1), w ~ N(0, I / 2).
fn particles(m: usize, d: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = stream(seed, Purpose::Init, 0, 0);
    DMatrix::from_fn(m, 1 + d, |_, c| {
        let z: f64 = rng.sample(StandardNormal);
        if c == 0 { z } else { z * 0.7 }
    })
}

fn teacher(activation: Activation) -> Teacher {
    let rows = DMatrix::from_row_slice(
        2,
        1 + D,
        &[1.0, 0.8, -0.3, 0.5, 0.1, -0.7, 0.2, 0.9, -0.4, 0.6],
    );
    Teacher::new(rows, activation, 0.0).unwrap()
}

fn full_covariance() -> Covariance {
    let sigma = DMatrix::from_row_slice(
        D,
        D,
        &[
            1.5, 0.3, 0.1, 0.0, 0.3, 0.8, -0.2, 0.1, 0.1, -0.2, 0.6, 0.05, 0.0, 0.1, 0.05, 1.2,
        ],
    );
    Covariance::full(sigma).unwrap()
}

fn mixture() -> InputShape {
    InputShape::Mixture(Arc::new(vec![
        Component {
            weight: 0.3,
            label: 1.0,
            covariance: Covariance::Scaled(0.6),
        },
        Component {
            weight: 0.7,
            label: -1.0,
            covariance: full_covariance(),
        },
    ]))
}

fn hermite_target(terms: &[(usize, u32, f64)]) -> TargetFunction {
    TargetFunction::Hermite(HermiteTarget {
        input_dim: D,
        terms: terms
            .iter()
            .map(|&(direction, degree, coef)| HermiteTerm {
                direction,
                degree,
                coef,
            })
            .collect(),
        noise_std: 0.0,
    })
}

fn labels() -> TargetFunction {
    TargetFunction::Label(LabelTarget {
        input_dim: D,
        labels: vec![1.0, -1.0],
        noise_std: 0.0,
    })
}

/// One problem of the checks.
struct Case {
    name: &'static str,
    activation: Activation,
    input: InputShape,
    target: TargetFunction,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for activation in [Activation::Relu, Activation::Erf] {
        let other = if activation == Activation::Relu {
            Activation::Erf
        } else {
            Activation::Relu
        };
        out.push(Case {
            name: "full covariance",
            activation,
            input: InputShape::Gaussian(full_covariance()),
            target: TargetFunction::Teacher(teacher(activation)),
        });
        out.push(Case {
            name: "mixture, teacher of another activation",
            activation,
            input: mixture(),
            target: TargetFunction::Teacher(teacher(other)),
        });
        out.push(Case {
            name: "linear teacher",
            activation,
            input: InputShape::StandardGaussian,
            target: TargetFunction::Teacher(teacher(Activation::Linear)),
        });
        out.push(Case {
            name: "hermite",
            activation,
            input: InputShape::StandardGaussian,
            target: hermite_target(&[(0, 2, 1.0), (1, 3, -0.7), (0, 4, 0.5), (2, 1, 0.3)]),
        });
        out.push(Case {
            name: "mixture labels",
            activation,
            input: mixture(),
            target: labels(),
        });
    }
    out.push(Case {
        name: "relu student, tanh teacher",
        activation: Activation::Relu,
        input: InputShape::Gaussian(full_covariance()),
        target: TargetFunction::Teacher(teacher(Activation::Tanh)),
    });
    out.push(Case {
        name: "tanh student, relu teacher",
        activation: Activation::Tanh,
        input: InputShape::Gaussian(Covariance::Scaled(1.3)),
        target: TargetFunction::Teacher(teacher(Activation::Relu)),
    });
    out
}

/// R = 1/2 E[(y - f)^2] on n fresh draws, and its standard error.
fn monte_carlo(case: &Case, network: &Network, theta: &DMatrix<f64>, noise: f64) -> (f64, f64) {
    let n = 200_000;
    let (m, d) = (theta.nrows(), theta.ncols() - 1);
    let scale = network.output_scale(m);
    let mut rng = stream(17, Purpose::Test, 0, 0);
    let mut x = vec![0.0; d];
    let losses: Vec<f64> = (0..n)
        .map(|_| {
            let (component, xi) = case.input.sample(&mut rng, &mut x);
            let y = case.target.label(&x, component) + noise * xi;
            let f: f64 = (0..m)
                .map(|j| {
                    let z: f64 = (0..d).map(|c| theta[(j, 1 + c)] * x[c]).sum();
                    theta[(j, 0)] * network.activation.value(z)
                })
                .sum::<f64>()
                * scale;
            0.5 * (y - f) * (y - f)
        })
        .collect();
    let mean = losses.iter().sum::<f64>() / n as f64;
    let var = losses.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, (var / n as f64).sqrt())
}

#[test]
fn every_new_population_risk_matches_monte_carlo() {
    let noise = 0.3;
    for case in cases() {
        for alpha in [1.0, 0.5] {
            let network = Network::new(case.activation, alpha).unwrap();
            let theta = particles(5, D, 3);
            let mut risk =
                PopulationRisk::for_problem(case.activation, &case.input, &case.target, noise)
                    .unwrap();
            assert!(!risk.is_standard(), "{}", case.name);
            let exact = risk.evaluate(&network, &theta, None).unwrap();
            let (mean, se) = monte_carlo(&case, &network, &theta, noise);
            assert!(
                (mean - exact).abs() < 4.0 * se,
                "{} ({}, alpha {alpha}): exact {exact}, Monte Carlo {mean} +- {se}",
                case.name,
                case.activation
            );
        }
    }
}

/// Central differences D(h) of R along each coordinate, against the analytic gradient. The
/// truncation error of D(h) is c h^2 + O(h^4), so |D(2h) - D(h)| = 3 |c| h^2 bounds it with a
/// factor 3; the rounding and quadrature error of R (at most 1e-11 (1 + |R|): the rule's
/// 1e-12 per kernel term over at most ten terms) adds 1e-11 (1 + |R|) / h.
#[test]
fn every_new_gradient_matches_finite_differences() {
    for case in cases() {
        for alpha in [1.0, 0.5] {
            let network = Network::new(case.activation, alpha).unwrap();
            let theta = particles(4, D, 5);
            let mut risk =
                PopulationRisk::for_problem(case.activation, &case.input, &case.target, 0.1)
                    .unwrap();
            let mut grad = DMatrix::zeros(theta.nrows(), theta.ncols());
            let r0 = risk.evaluate(&network, &theta, Some(&mut grad)).unwrap();
            let mut at = |shift: f64, j: usize, c: usize| {
                let mut moved = theta.clone();
                moved[(j, c)] += shift;
                risk.evaluate(&network, &moved, None).unwrap()
            };
            for j in 0..theta.nrows() {
                for c in 0..theta.ncols() {
                    let h = 1e-4 * (1.0 + theta[(j, c)].abs());
                    let central = |h: f64, at: &mut dyn FnMut(f64, usize, usize) -> f64| {
                        (at(h, j, c) - at(-h, j, c)) / (2.0 * h)
                    };
                    let (one, two) = (central(h, &mut at), central(2.0 * h, &mut at));
                    let tolerance = (two - one).abs() + 1e-11 * (1.0 + r0.abs()) / h;
                    assert!(
                        (grad[(j, c)] - one).abs() <= tolerance,
                        "{} ({}, alpha {alpha}) ({j}, {c}): analytic {}, differences {one} \
                         (tolerance {tolerance})",
                        case.name,
                        case.activation,
                        grad[(j, c)]
                    );
                }
            }
        }
    }
}

/// R_Sigma(a, w) = R_I(a, L^T w) with the teacher whitened, and dR/dw = L dR/dw'.
#[test]
fn anisotropic_risk_is_the_isotropic_risk_of_whitened_particles() {
    let covariance = full_covariance();
    let Covariance::Full { factor, .. } = &covariance else {
        panic!("full")
    };
    for activation in [Activation::Relu, Activation::Erf, Activation::Quadratic] {
        let network = Network::new(activation, 1.0).unwrap();
        let theta = particles(7, D, 8);
        let star = teacher(activation);
        let mut anisotropic = PopulationRisk::for_problem(
            activation,
            &InputShape::Gaussian(covariance.clone()),
            &TargetFunction::Teacher(star.clone()),
            0.2,
        )
        .unwrap();
        let white = |rows: &DMatrix<f64>| {
            let mut out = rows.clone();
            let w = rows.columns(1, D) * factor.as_ref();
            out.columns_mut(1, D).copy_from(&w);
            out
        };
        let white_teacher = Teacher::new(white(star.matrix()), activation, 0.2).unwrap();
        let mut isotropic = PopulationRisk::new(activation, white_teacher).unwrap();
        let mut grad = DMatrix::zeros(7, 1 + D);
        let mut white_grad = DMatrix::zeros(7, 1 + D);
        let r = anisotropic
            .evaluate(&network, &theta, Some(&mut grad))
            .unwrap();
        let r_white = isotropic
            .evaluate(&network, &white(&theta), Some(&mut white_grad))
            .unwrap();
        assert!(
            (r - r_white).abs() < 1e-13 * (1.0 + r.abs()),
            "{activation}: {r} vs {r_white}"
        );
        let pulled = white_grad.columns(1, D) * factor.transpose();
        assert!((grad.column(0) - white_grad.column(0)).amax() < 1e-13);
        assert!((grad.columns(1, D) - pulled).amax() < 1e-12, "{activation}");
    }
}

/// A mixture of one component of scale 1 (and an identity covariance) with a teacher of the
/// student's activation is the standard problem: the same operations, bit for bit.
#[test]
fn a_mixture_of_one_standard_component_is_the_standard_problem_bit_for_bit() {
    for activation in [Activation::Relu, Activation::Erf, Activation::Tanh] {
        let network = Network::new(activation, 0.5).unwrap();
        let theta = particles(9, D, 4);
        let star = teacher(activation);
        let one = InputShape::Mixture(Arc::new(vec![Component {
            weight: 1.0,
            label: 0.0,
            covariance: Covariance::Scaled(1.0),
        }]));
        let mut grad = DMatrix::zeros(9, 1 + D);
        let mut standard_grad = DMatrix::zeros(9, 1 + D);
        for input in [one, InputShape::Gaussian(Covariance::Identity)] {
            let mut problem = PopulationRisk::for_problem(
                activation,
                &input,
                &TargetFunction::Teacher(star.clone()),
                0.0,
            )
            .unwrap();
            assert!(problem.is_standard());
            let mut standard = PopulationRisk::new(activation, star.clone()).unwrap();
            let r = problem.evaluate(&network, &theta, Some(&mut grad)).unwrap();
            let s = standard
                .evaluate(&network, &theta, Some(&mut standard_grad))
                .unwrap();
            assert_eq!(r.to_bits(), s.to_bits());
            assert!(
                grad.iter()
                    .zip(standard_grad.iter())
                    .all(|(x, y)| x.to_bits() == y.to_bits())
            );
        }
    }
}

/// V(w) = sum_t c_t / sqrt(j!) E[sigma(w.x) He_j(x_t)] against Gauss-Hermite at 120 nodes in
/// the coordinate x_t, the orthogonal part of w.x integrated in closed form (the smoothing of
/// `math::gaussian_field`): E[sigma(p g + s g') He_j(g)] = E_g[G_sigma(p g, s) He_j(g)],
/// s = sqrt(|w|^2 - p^2) > 0, an entire integrand.
#[test]
fn hermite_projections_match_gauss_hermite() {
    let (nodes, weights) = gauss::hermite(120).unwrap();
    for activation in [
        Activation::Relu,
        Activation::Erf,
        Activation::Linear,
        Activation::Quadratic,
    ] {
        for degree in 0..=8 {
            let target = HermiteTarget {
                input_dim: D,
                terms: vec![HermiteTerm {
                    direction: 1,
                    degree,
                    coef: 1.0,
                }],
                noise_std: 0.0,
            };
            let field = TargetField::hermite(activation, &target).unwrap();
            let w = [0.3, -0.8, 0.5, 0.2];
            let q: f64 = w.iter().map(|x| x * x).sum();
            let (p, s) = (w[1], (q - w[1] * w[1]).sqrt());
            let mut grad = [0.0; D];
            let value = field.evaluate(&w, q, &mut grad);
            let norm: f64 = (1..=degree).map(f64::from).product::<f64>().sqrt();
            let reference: f64 = nodes
                .iter()
                .zip(&weights)
                .map(|(g, wt)| {
                    wt * smoothing(activation, p * g, s).unwrap().value * hermite(degree, *g)
                })
                .sum::<f64>()
                / norm;
            assert!(
                (value - reference).abs() < 1e-12,
                "{activation} He_{degree}: {value} vs {reference}"
            );
        }
    }
}

/// Time until R(t) < R(0) / 2 under the population gradient flow (plain Euler, alpha = 1) of a
/// relu student against coef He_j(x_1) / sqrt(j!), or None within `steps`.
fn escape_time(degree: u32, steps: usize, dt: f64) -> Option<f64> {
    let (m, d) = (64, 8);
    let network = Network::new(Activation::Relu, 1.0).unwrap();
    let target = TargetFunction::Hermite(HermiteTarget {
        input_dim: d,
        terms: vec![HermiteTerm {
            direction: 0,
            degree,
            coef: 1.0,
        }],
        noise_std: 0.0,
    });
    let mut risk = PopulationRisk::for_problem(
        Activation::Relu,
        &InputShape::StandardGaussian,
        &target,
        0.0,
    )
    .unwrap();
    // a = 0 and w ~ N(0, I / d): f = 0 exactly at t = 0, so both targets start from the same
    // risk 1/2, and nothing cancels the flow (dR/da_j = -V(w_j) / m moves every a first).
    let mut rng = stream(21, Purpose::Init, 0, 0);
    let mut theta = DMatrix::from_fn(m, 1 + d, |_, c| {
        let z: f64 = rng.sample(StandardNormal);
        if c == 0 { 0.0 } else { z / (d as f64).sqrt() }
    });
    let mut grad = DMatrix::zeros(m, 1 + d);
    let r0 = risk.evaluate(&network, &theta, Some(&mut grad)).unwrap();
    assert!((r0 - 0.5).abs() < 1e-15);
    for step in 1..=steps {
        // Drift -m^(2 alpha - 1) grad R = -m grad R.
        theta -= &grad * (dt * m as f64);
        let r = risk.evaluate(&network, &theta, Some(&mut grad)).unwrap();
        if r < 0.5 * r0 {
            return Some(step as f64 * dt);
        }
    }
    None
}

#[test]
fn a_degree_four_hermite_target_escapes_its_plateau_after_a_degree_two_one() {
    let (steps, dt) = (4000, 0.05);
    let two = escape_time(2, steps, dt).expect("degree 2 escapes within t = 200");
    let four = escape_time(4, steps, dt);
    assert!(
        four.is_none_or(|four| four > two),
        "degree 2 escapes at {two}, degree 4 at {four:?}"
    );
}

#[test]
fn problems_without_an_exact_population_risk_are_refused_by_key() {
    let relu = Activation::Relu;
    let refused = |activation, input: &InputShape, target: &TargetFunction| {
        PopulationRisk::for_problem(activation, input, target, 0.0)
            .unwrap_err()
            .to_string()
    };
    let teacher = TargetFunction::Teacher(teacher(relu));
    let err = refused(relu, &InputShape::Rademacher, &teacher);
    assert!(err.contains("input.law"), "{err}");
    let parity = TargetFunction::Parity(ParityTarget {
        input_dim: D,
        terms: vec![ParityTerm {
            coordinates: vec![0, 1],
            coef: 1.0,
        }],
        noise_std: 0.0,
    });
    let err = refused(relu, &InputShape::StandardGaussian, &parity);
    assert!(err.contains("target.kind"), "{err}");
    let err = refused(relu, &InputShape::StandardGaussian, &labels());
    assert!(err.contains("target.kind"), "{err}");
    let he = hermite_target(&[(0, 2, 1.0)]);
    let err = refused(relu, &InputShape::Gaussian(full_covariance()), &he);
    assert!(err.contains("target.kind"), "{err}");
    let err = refused(Activation::Tanh, &InputShape::StandardGaussian, &he);
    assert!(err.contains("model.activation"), "{err}");
    let tanh_teacher = TargetFunction::Teacher(self::teacher(Activation::Tanh));
    let err = refused(
        Activation::Sigmoid,
        &InputShape::StandardGaussian,
        &tanh_teacher,
    );
    assert!(err.contains("target.activation"), "{err}");
}
