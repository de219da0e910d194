//! The symmetry reduction of issue 22 (`math::orbit`, `task::reduced_population`): the angle
//! rule's moments; the orbit kernel against a Monte Carlo average over random complement
//! directions in d dimensions; its derivatives and the reduced velocity against central finite
//! differences; for n = 1 the reduced risk and velocity against the exact population risk of
//! the mirrored finite network; bit-identical velocities on 1 and 2 threads.
#![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

use meanfield::math::orbit::{AngleRule, orbit_kernel};
use meanfield::math::{Activation, Network, PairKernel};
use meanfield::task::{PopulationRisk, ReducedFlow, ReducedPopulation, Teacher};
use nalgebra::DMatrix;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

const ACTIVATIONS: [Activation; 3] = [Activation::Relu, Activation::Erf, Activation::Tanh];

fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

fn normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    rng.sample::<f64, _>(StandardNormal)
}

/// A reduced point (p in R^k, q > 0) of norm about 1.
fn point(rng: &mut Xoshiro256PlusPlus, k: usize) -> (Vec<f64>, f64) {
    let scale = 1.0 / ((k + 1) as f64).sqrt();
    let p = (0..k).map(|_| scale * normal(rng)).collect();
    (p, 0.3 + 0.7 * normal(rng).abs() * scale)
}

/// A uniform direction on S^(n-1).
fn direction(rng: &mut Xoshiro256PlusPlus, n: usize) -> Vec<f64> {
    let e: Vec<f64> = (0..n).map(|_| normal(rng)).collect();
    let norm = e.iter().map(|x| x * x).sum::<f64>().sqrt();
    e.into_iter().map(|x| x / norm).collect()
}

#[test]
fn angle_rule_matches_the_moments_of_the_cosine_law() {
    for n in [1usize, 2, 3, 5, 30] {
        for nodes in [4, AngleRule::DEFAULT_NODES] {
            let rule = AngleRule::new(n, nodes).unwrap();
            assert!(rule.weights().iter().all(|&w| w > 0.0), "n = {n}");
            assert!((rule.weights().iter().sum::<f64>() - 1.0).abs() < 1e-14);
            assert!(rule.nodes().iter().all(|c| c.abs() <= 1.0));
            let nf = n as f64;
            let moments = [
                (1, 0.0),
                (2, 1.0 / nf),
                (3, 0.0),
                (4, 3.0 / (nf * (nf + 2.0))),
                // E c^6 = 15 / (n (n + 2) (n + 4)), exact for nodes >= 4.
                (6, 15.0 / (nf * (nf + 2.0) * (nf + 4.0))),
            ];
            for (power, exact) in moments {
                let got = rule.mean(|c| c.powi(power));
                assert!(
                    (got - exact).abs() < 1e-14,
                    "n = {n}, nodes = {nodes}: E c^{power} = {got}, exact {exact}"
                );
            }
        }
    }
}

/// Kbar against the mean of K(u, v) over u = (p, q e), v = (p', q' e'), e, e' uniform on
/// S^(n-1), d = k + n: within 4 standard errors (plus the rule's own error, 1e-9). 400 000
/// samples for the closed forms (a rule for the wrong exponent, alpha = (n - 2)/2, fails),
/// 20 000 for the tanh quadrature.
#[test]
fn orbit_kernel_matches_monte_carlo_over_rotations() {
    let mut worst: f64 = 0.0;
    for activation in ACTIVATIONS {
        let kernel = PairKernel::new(activation);
        let samples = if kernel.is_closed_form() {
            400_000
        } else {
            20_000
        };
        for k in [0usize, 1, 2] {
            for n in [1usize, 2, 6] {
                let seed = 1000 * k as u64 + n as u64;
                let mut rng = rng(seed);
                let (p, q) = point(&mut rng, k);
                let (p2, q2) = point(&mut rng, k);
                let rule = AngleRule::with_default_nodes(n).unwrap();
                let (kbar, _, _) = orbit_kernel(&kernel, &rule, (&p, q), (&p2, q2));
                let (mut sum, mut sum_sq) = (0.0, 0.0);
                for _ in 0..samples {
                    let e = direction(&mut rng, n);
                    let e2 = direction(&mut rng, n);
                    let u: Vec<f64> = p.iter().copied().chain(e.iter().map(|x| q * x)).collect();
                    let v: Vec<f64> = p2
                        .iter()
                        .copied()
                        .chain(e2.iter().map(|x| q2 * x))
                        .collect();
                    let value = kernel.kernel(&u, &v);
                    sum += value;
                    sum_sq += value * value;
                }
                let mean = sum / samples as f64;
                let variance = (sum_sq / samples as f64 - mean * mean).max(0.0);
                let standard_error = (variance / samples as f64).sqrt();
                let z = (kbar - mean).abs() / standard_error;
                worst = worst.max(z);
                assert!(
                    (kbar - mean).abs() <= 4.0 * standard_error + 1e-9,
                    "{activation:?} k = {k} n = {n}: Kbar {kbar}, Monte Carlo {mean} +- \
                     {standard_error}"
                );
            }
        }
    }
    println!("orbit kernel vs Monte Carlo: worst |difference| / standard error = {worst:.2}");
}

/// Central differences of Kbar in p_i and q with step h: truncation h^2 / 6 |Kbar'''| (third
/// derivatives are O(1) for |w| ~ 1 away from relu's kink: bounded by 10 here) and rounding
/// 2 delta / (2 h), delta the absolute error of a kernel value (1e-12 for the tanh
/// quadrature, a few ulps for the closed forms). h = 1e-4: 1.7e-8 + 1e-8.
#[test]
fn orbit_kernel_derivatives_match_finite_differences() {
    let h = 1e-4;
    let mut worst: f64 = 0.0;
    for activation in ACTIVATIONS {
        let kernel = PairKernel::new(activation);
        let delta = if activation == Activation::Tanh {
            1e-12
        } else {
            1e-15
        };
        let tolerance = 10.0 * h * h / 6.0 + delta / h;
        for k in [0usize, 1, 2] {
            for n in [1usize, 2, 6] {
                let rule = AngleRule::with_default_nodes(n).unwrap();
                let mut rng = rng(77 + 10 * k as u64 + n as u64);
                let (p, q) = point(&mut rng, k);
                let (p2, q2) = point(&mut rng, k);
                let (_, grad_p, grad_q) = orbit_kernel(&kernel, &rule, (&p, q), (&p2, q2));
                let value = |p: &[f64], q: f64| orbit_kernel(&kernel, &rule, (p, q), (&p2, q2)).0;
                for i in 0..k {
                    let (mut plus, mut minus) = (p.clone(), p.clone());
                    plus[i] += h;
                    minus[i] -= h;
                    let fd = (value(&plus, q) - value(&minus, q)) / (2.0 * h);
                    worst = worst.max((fd - grad_p[i]).abs());
                    assert!(
                        (fd - grad_p[i]).abs() < tolerance,
                        "{activation:?} k = {k} n = {n}: dKbar/dp_{i} {} vs {fd}",
                        grad_p[i]
                    );
                }
                let fd = (value(&p, q + h) - value(&p, q - h)) / (2.0 * h);
                worst = worst.max((fd - grad_q).abs());
                assert!(
                    (fd - grad_q).abs() < tolerance,
                    "{activation:?} k = {k} n = {n}: dKbar/dq {grad_q} vs {fd}"
                );
            }
        }
    }
    println!("orbit kernel derivatives vs central differences (h = {h}): worst {worst:.2e}");
}

/// Random weighted nodes (weights in [0.5, 1.5], normalised) in dimension k.
fn random_nodes(rng: &mut Xoshiro256PlusPlus, count: usize, k: usize) -> DMatrix<f64> {
    let mut nodes = DMatrix::zeros(count, k + 3);
    for j in 0..count {
        let (p, q) = point(rng, k);
        nodes[(j, 0)] = 0.5 + rng.random::<f64>();
        nodes[(j, 1)] = normal(rng);
        for (i, pi) in p.iter().enumerate() {
            nodes[(j, 2 + i)] = *pi;
        }
        nodes[(j, 2 + k)] = q;
    }
    let total: f64 = nodes.column(0).sum();
    nodes.column_mut(0).iter_mut().for_each(|w| *w /= total);
    nodes
}

/// A teacher of `count` neurons in R^k (rows a*, p*), a*_i = 1 and unit directions.
fn random_teacher(rng: &mut Xoshiro256PlusPlus, count: usize, k: usize) -> DMatrix<f64> {
    let mut teacher = DMatrix::zeros(count, k + 1);
    for i in 0..count {
        teacher[(i, 0)] = 1.0 + 0.5 * i as f64;
        let e = direction(rng, k);
        for c in 0..k {
            teacher[(i, 1 + c)] = e[c];
        }
    }
    teacher
}

/// The objective E = R + (lambda / 2) sum_j w_j |P (a, p, q)_j|^2.
fn objective(reduced: &mut ReducedPopulation, nodes: &DMatrix<f64>, flow: &ReducedFlow) -> f64 {
    let risk = reduced.risk(nodes).unwrap();
    let mut decay = 0.0;
    for j in 0..nodes.nrows() {
        let a_part = if flow.train_a {
            nodes[(j, 1)].powi(2)
        } else {
            0.0
        };
        let w_part: f64 = if flow.train_w {
            (2..nodes.ncols()).map(|c| nodes[(j, c)].powi(2)).sum()
        } else {
            0.0
        };
        decay += nodes[(j, 0)] * (a_part + w_part);
    }
    risk + 0.5 * flow.lambda * decay
}

/// The reduced velocity of every trained coordinate equals -(1/w_j) dE/d(coordinate) (times
/// lr_ratio for a) by central differences of E, h = 1e-4: truncation h^2 / 6 |E'''| / w_j and
/// rounding 1e-12 / (h w_j) for the tanh quadrature; w_j >= 1/(3 count), so within 1e-6 for
/// count = 5. Frozen coordinates have zero velocity.
#[test]
fn reduced_velocity_is_minus_the_gradient_of_the_objective_over_the_weight() {
    let h = 1e-4;
    let count = 5;
    let tolerance = 1e-6;
    let mut worst: f64 = 0.0;
    for activation in ACTIVATIONS {
        for k in [0usize, 1, 2] {
            for n in [1usize, 3] {
                let mut rng = rng(500 + 10 * k as u64 + n as u64);
                let teacher = random_teacher(&mut rng, if k == 0 { 0 } else { k }, k);
                let mut reduced =
                    ReducedPopulation::with_defaults(activation, n, &teacher, 0.2).unwrap();
                let nodes = random_nodes(&mut rng, count, k);
                for (train_a, train_w) in [(true, true), (true, false), (false, true)] {
                    let flow = ReducedFlow {
                        lambda: 0.3,
                        lr_ratio: 1.7,
                        train_a,
                        train_w,
                    };
                    let mut velocity = DMatrix::zeros(count, k + 3);
                    let risk = reduced.velocity(&nodes, &flow, &mut velocity).unwrap();
                    assert_eq!(risk, reduced.risk(&nodes).unwrap());
                    for j in 0..count {
                        assert_eq!(velocity[(j, 0)], 0.0);
                        for c in 1..k + 3 {
                            let trained = if c == 1 { train_a } else { train_w };
                            if !trained {
                                assert_eq!(velocity[(j, c)], 0.0);
                                continue;
                            }
                            let (mut plus, mut minus) = (nodes.clone(), nodes.clone());
                            plus[(j, c)] += h;
                            minus[(j, c)] -= h;
                            let gradient = (objective(&mut reduced, &plus, &flow)
                                - objective(&mut reduced, &minus, &flow))
                                / (2.0 * h);
                            let factor = if c == 1 { flow.lr_ratio } else { 1.0 };
                            let expected = -factor * gradient / nodes[(j, 0)];
                            let error = (velocity[(j, c)] - expected).abs();
                            worst = worst.max(error);
                            assert!(
                                error < tolerance,
                                "{activation:?} k = {k} n = {n} train ({train_a}, {train_w}): \
                                 node {j} column {c}: velocity {} vs {expected}",
                                velocity[(j, c)]
                            );
                        }
                    }
                }
            }
        }
    }
    println!("reduced velocity vs -(1/w) dE (h = {h}): worst {worst:.2e}");
}

/// n = 1 (d = k + 1): the orbit of (p, q) is the two points (p, +-q), so N nodes of weight
/// 1/N are the finite network of m = 2N particles (a_j, p_j, +q_j), (a_j, p_j, -q_j) with
/// alpha = 1, whose exact population risk is `PopulationRisk` (docs/math.md section 3): the
/// risks agree, and the reduced velocity of node j is the drift -m dR/dtheta of its +q copy.
#[test]
fn one_dimensional_complement_is_the_mirrored_finite_network() {
    for activation in ACTIVATIONS {
        for k in [1usize, 2] {
            let count = 6;
            let mut rng = rng(900 + k as u64);
            let teacher = random_teacher(&mut rng, k, k);
            let mut nodes = random_nodes(&mut rng, count, k);
            nodes.column_mut(0).fill(1.0 / count as f64);
            let noise = 0.3;
            let mut reduced =
                ReducedPopulation::with_defaults(activation, 1, &teacher, noise).unwrap();
            let flow = ReducedFlow::default();
            let mut velocity = DMatrix::zeros(count, k + 3);
            let risk = reduced.velocity(&nodes, &flow, &mut velocity).unwrap();

            let d = k + 1;
            let m = 2 * count;
            let theta = DMatrix::from_fn(m, 1 + d, |row, c| {
                let j = row / 2;
                let sign = if row % 2 == 0 { 1.0 } else { -1.0 };
                match c {
                    0 => nodes[(j, 1)],
                    c if c == d => sign * nodes[(j, 2 + k)],
                    c => nodes[(j, 1 + c)],
                }
            });
            let teacher_theta =
                DMatrix::from_fn(
                    k,
                    1 + d,
                    |i, c| if c < 1 + k { teacher[(i, c)] } else { 0.0 },
                );
            let mut population = PopulationRisk::new(
                activation,
                Teacher::new(teacher_theta, activation, noise).unwrap(),
            )
            .unwrap();
            assert!(
                (population.zero_network_risk() - reduced.zero_network_risk()).abs() < 1e-14,
                "{activation:?} k = {k}: zero-network risk"
            );
            let network = Network::new(activation, 1.0).unwrap();
            let mut grad = DMatrix::zeros(m, 1 + d);
            let finite = population
                .evaluate(&network, &theta, Some(&mut grad))
                .unwrap();
            assert!(
                (finite - risk).abs() < 1e-12 * finite.abs().max(1.0),
                "{activation:?} k = {k}: reduced {risk} vs finite {finite}"
            );
            for j in 0..count {
                for c in 0..=d {
                    let drift = -(m as f64) * grad[(2 * j, c)];
                    assert!(
                        (drift - velocity[(j, 1 + c)]).abs() < 1e-11 * drift.abs().max(1.0),
                        "{activation:?} k = {k} node {j} column {c}: reduced {} vs finite {drift}",
                        velocity[(j, 1 + c)]
                    );
                }
            }
        }
    }
}

#[test]
fn velocity_is_bit_identical_on_one_and_two_threads() {
    let (k, n, count) = (2, 4, 300);
    let mut rng = rng(31);
    let teacher = random_teacher(&mut rng, 2, k);
    let nodes = random_nodes(&mut rng, count, k);
    let flow = ReducedFlow {
        lambda: 0.1,
        ..ReducedFlow::default()
    };
    let on = |threads: usize| {
        let mut reduced =
            ReducedPopulation::with_defaults(Activation::Erf, n, &teacher, 0.0).unwrap();
        let mut velocity = DMatrix::zeros(count, k + 3);
        let risk = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| reduced.velocity(&nodes, &flow, &mut velocity).unwrap());
        (risk, velocity)
    };
    let (risk1, velocity1) = on(1);
    let (risk2, velocity2) = on(2);
    assert_eq!(risk1.to_bits(), risk2.to_bits());
    assert!(
        velocity1
            .iter()
            .zip(velocity2.iter())
            .all(|(x, y)| x.to_bits() == y.to_bits())
    );
}

/// The error of Kbar with N angle nodes against 256 nodes, worst over random pairs of norm
/// about 1 (printed as a table); the default rule is within the module documentation's claims.
#[test]
fn angle_rule_error_against_node_count() {
    let counts = [4usize, 8, 16, 24, 32, 48];
    for activation in [Activation::Relu, Activation::Erf] {
        let kernel = PairKernel::new(activation);
        for n in [2usize, 3, 6, 30] {
            let reference = AngleRule::new(n, 256).unwrap();
            let mut rng = rng(4242 + n as u64);
            let pairs: Vec<_> = (0..40)
                .map(|_| {
                    let k = 2;
                    (point(&mut rng, k), point(&mut rng, k))
                })
                .collect();
            let errors: Vec<f64> = counts
                .iter()
                .map(|&nodes| {
                    let rule = AngleRule::new(n, nodes).unwrap();
                    pairs
                        .iter()
                        .map(|((p, q), (p2, q2))| {
                            let exact = orbit_kernel(&kernel, &reference, (p, *q), (p2, *q2)).0;
                            (orbit_kernel(&kernel, &rule, (p, *q), (p2, *q2)).0 - exact).abs()
                        })
                        .fold(0.0, f64::max)
                })
                .collect();
            let row: Vec<String> = errors.iter().map(|e| format!("{e:.1e}")).collect();
            println!(
                "{activation:?} n = {n:>2}: nodes {counts:?} -> {}",
                row.join(" ")
            );
            let default_error = errors[3];
            let bound = match activation {
                Activation::Relu => 1e-8,
                _ => 1e-13,
            };
            assert!(
                default_error < bound,
                "{activation:?} n = {n}: {default_error}"
            );
        }
    }
}

/// The reduced risk and velocity from the module's formulas by a plain double loop over
/// `orbit_kernel` and `teacher_field`, with the scale sum_j |w_j a_j| (|G_j| / 2 + |V_j|) of
/// the risk's terms.
fn reference_velocity(
    reduced: &ReducedPopulation,
    kernel: &PairKernel,
    nodes: &DMatrix<f64>,
    flow: &ReducedFlow,
) -> (f64, f64, DMatrix<f64>) {
    let (count, k) = (nodes.nrows(), nodes.ncols() - 3);
    let point_of = |j: usize| {
        let p: Vec<f64> = (0..k).map(|c| nodes[(j, 2 + c)]).collect();
        (p, nodes[(j, 2 + k)])
    };
    let mut velocity = DMatrix::zeros(count, k + 3);
    let (mut risk, mut risk_scale) = (reduced.zero_network_risk(), reduced.zero_network_risk());
    for j in 0..count {
        let (p, q) = point_of(j);
        let (mut value, mut grad_p, mut grad_q) = (0.0, vec![0.0; k], 0.0);
        for l in 0..count {
            let mass = nodes[(l, 0)] * nodes[(l, 1)];
            let (p_other, q_other) = point_of(l);
            let (kbar, dp, dq) = orbit_kernel(kernel, reduced.rule(), (&p, q), (&p_other, q_other));
            value += mass * kbar;
            grad_p.iter_mut().zip(&dp).for_each(|(g, d)| *g += mass * d);
            grad_q += mass * dq;
        }
        let (teacher, teacher_p, teacher_q) = reduced.teacher_field(&p, q);
        let (weight, a) = (nodes[(j, 0)], nodes[(j, 1)]);
        risk += weight * a * (0.5 * value - teacher);
        risk_scale += (weight * a).abs() * (0.5 * value.abs() + teacher.abs());
        velocity[(j, 1)] = flow.lr_ratio * (-(value - teacher) - flow.lambda * a);
        for c in 0..k {
            velocity[(j, 2 + c)] = -a * (grad_p[c] - teacher_p[c]) - flow.lambda * p[c];
        }
        velocity[(j, 2 + k)] = -a * (grad_q - teacher_q) - flow.lambda * q;
    }
    (risk, risk_scale, velocity)
}

/// The tiled pass (relu, erf) and the row pass (tanh) give the risk and velocity of the plain
/// double loop to 1e-12 relative (reordered sums of about 1e2 terms of 24 nodes each), for
/// k = 0 (no teacher), 1 and 2, with node counts that leave partial tiles and lane groups;
/// and 1 and 2 threads give the same bits.
#[test]
fn velocity_matches_the_plain_double_loop_and_is_thread_independent() {
    let flow = ReducedFlow {
        lambda: 0.05,
        lr_ratio: 0.7,
        ..ReducedFlow::default()
    };
    for activation in ACTIVATIONS {
        let kernel = PairKernel::new(activation);
        let count = if activation == Activation::Tanh {
            21
        } else {
            150
        };
        for k in 0..=2 {
            let mut rng = rng(900 + k as u64);
            let teacher = if k == 0 {
                DMatrix::zeros(0, 1)
            } else {
                random_teacher(&mut rng, 2, k)
            };
            let nodes = random_nodes(&mut rng, count, k);
            let on = |threads: usize| {
                let mut reduced =
                    ReducedPopulation::with_defaults(activation, 5, &teacher, 0.1).unwrap();
                let mut velocity = DMatrix::zeros(count, k + 3);
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let risk = pool.install(|| reduced.velocity(&nodes, &flow, &mut velocity).unwrap());
                let risk_only = pool.install(|| reduced.risk(&nodes).unwrap());
                (reduced, risk, risk_only, velocity)
            };
            let (reduced, risk, risk_only, velocity) = on(1);
            let (_, risk2, risk_only2, velocity2) = on(2);
            assert_eq!(risk.to_bits(), risk2.to_bits(), "{activation:?} k = {k}");
            assert_eq!(
                risk_only.to_bits(),
                risk_only2.to_bits(),
                "{activation:?} k = {k}"
            );
            assert!(
                velocity
                    .iter()
                    .zip(velocity2.iter())
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
                "{activation:?} k = {k}: velocities differ between 1 and 2 threads"
            );
            let (expected, risk_scale, expected_velocity) =
                reference_velocity(&reduced, &kernel, &nodes, &flow);
            assert!(
                (risk - expected).abs() <= 1e-12 * risk_scale,
                "{activation:?} k = {k}"
            );
            assert!(
                (risk_only - expected).abs() <= 1e-12 * risk_scale,
                "{activation:?} k = {k}"
            );
            let scale = expected_velocity.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let worst = velocity
                .iter()
                .zip(expected_velocity.iter())
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f64, f64::max);
            assert!(
                worst <= 1e-12 * scale,
                "{activation:?} k = {k}: velocity off by {worst:e} (scale {scale:e})"
            );
            assert!(velocity.column(0).iter().all(|&v| v == 0.0));
        }
    }
}
