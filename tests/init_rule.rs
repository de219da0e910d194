//! The tensor rule of the initial law in reduced coordinates (`math::init_rule`): weights,
//! exact moments, the sphere constraint and a Monte Carlo check against the crate's sampler.
#![allow(clippy::unwrap_used, reason = "tests")]

use meanfield::math::{InitLaw, InitResolution, Particles, ScalarLaw, VectorLaw, initial_nodes};
use nalgebra::DMatrix;

fn law(mean: f64, std: f64, w: VectorLaw) -> InitLaw {
    InitLaw {
        a: ScalarLaw::Normal { mean, std },
        w,
    }
}

fn normal(d: usize) -> VectorLaw {
    VectorLaw::Normal {
        std: 1.0 / (d as f64).sqrt(),
    }
}

/// Sum_rows weight g(row without the weight).
fn expectation(nodes: &DMatrix<f64>, g: impl Fn(&[f64]) -> f64) -> f64 {
    nodes
        .row_iter()
        .map(|row| {
            let row: Vec<f64> = row.iter().copied().collect();
            row[0] * g(&row[1..])
        })
        .sum()
}

/// The relative rounding of an exact moment: each row's weight is a product of at most k + 2
/// Golub-Welsch weights, each with a relative error of about N eps on the weights that carry
/// the mass (absolute error N eps per eigenvector component), and the sum adds a few eps. So
/// (k + 2) N eps, times 8 for the constants of the eigensolver and the powers of the nodes.
fn moment_tolerance(k: usize, nodes: usize) -> f64 {
    8.0 * (k + 2) as f64 * nodes as f64 * f64::EPSILON
}

fn relative(found: f64, exact: f64) -> f64 {
    (found - exact).abs() / exact.abs()
}

fn gamma(x: f64) -> f64 {
    libm::tgamma(x)
}

#[test]
fn weights_are_positive_and_sum_to_one() {
    let laws = [
        law(0.3, 1.2, normal(8)),
        law(0.0, 0.0, normal(8)),
        law(0.0, 1.0, VectorLaw::UniformSphere { radius: 2.0 }),
    ];
    for law in laws {
        for (d, k) in [(1, 0), (1, 1), (2, 1), (5, 0), (6, 2), (8, 1), (3, 3)] {
            let resolution = InitResolution { a: 5, p: 6, q: 7 };
            let nodes = initial_nodes(&law, d, k, resolution).unwrap();
            assert_eq!(nodes.nrows(), resolution.count(&law, d, k));
            assert_eq!(nodes.ncols(), k + 3);
            assert!(nodes.column(0).iter().all(|&w| w > 0.0));
            // A sum of a few hundred positive numbers summing to 1: a few hundred eps at most.
            let total = nodes.column(0).sum();
            assert!((total - 1.0).abs() < 1e-14, "{law:?} d {d} k {k}: {total}");
        }
    }
}

#[test]
fn rows_go_a_slowest_then_p_then_q_fastest() {
    let resolution = InitResolution { a: 3, p: 4, q: 5 };
    let nodes = initial_nodes(&law(0.0, 1.0, normal(6)), 6, 2, resolution).unwrap();
    assert_eq!(nodes.nrows(), 3 * 4 * 4 * 5);
    // The first q-block: the same a, p_1, p_2; q increasing.
    for row in 1..5 {
        for column in 1..4 {
            assert_eq!(nodes[(row, column)], nodes[(0, column)]);
        }
        assert!(nodes[(row, 4)] > nodes[(row - 1, 4)]);
    }
    // p_2 changes every 5 rows, p_1 every 20, a every 80.
    assert!(nodes[(5, 3)] > nodes[(0, 3)] && nodes[(5, 2)] == nodes[(0, 2)]);
    assert!(nodes[(20, 2)] > nodes[(0, 2)] && nodes[(20, 1)] == nodes[(0, 1)]);
    assert!(nodes[(80, 1)] > nodes[(0, 1)]);
}

/// w ~ N(0, s^2 I_d), s = 1/sqrt(d): E p_i^2 = s^2, E p_i^4 = 3 s^4, E p_1 p_2 = 0,
/// E q^2 = n s^2, E q^4 = n (n + 2) s^4; all are polynomials of low degree in the factors'
/// variables (q^2 = 2 s^2 y), so exact to rounding.
#[test]
fn normal_w_has_exact_polynomial_moments() {
    let nodes_per_factor = 8;
    let mut worst: f64 = 0.0;
    for (d, k) in [(8, 1), (6, 2)] {
        let s = 1.0 / (d as f64).sqrt();
        let n = (d - k) as f64;
        let rule = initial_nodes(
            &law(0.5, 2.0, normal(d)),
            d,
            k,
            InitResolution::uniform(nodes_per_factor),
        )
        .unwrap();
        let q = k + 1;
        let mut checks = vec![
            (expectation(&rule, |x| x[q].powi(2)), n * s * s),
            (
                expectation(&rule, |x| x[q].powi(4)),
                n * (n + 2.0) * s.powi(4),
            ),
            // a ~ N(1/2, 4): E a^2 = mean^2 + std^2.
            (expectation(&rule, |x| x[0] * x[0]), 0.25 + 4.0),
        ];
        for i in 1..=k {
            checks.push((expectation(&rule, |x| x[i].powi(2)), s * s));
            checks.push((expectation(&rule, |x| x[i].powi(4)), 3.0 * s.powi(4)));
        }
        let tolerance = moment_tolerance(k, nodes_per_factor);
        for (found, exact) in checks {
            worst = worst.max(relative(found, exact));
            assert!(relative(found, exact) < tolerance, "d {d}: {found} {exact}");
        }
        if k == 2 {
            // Odd in p_1: zero to rounding of terms of size s^2.
            let cross = expectation(&rule, |x| x[1] * x[2]);
            assert!(cross.abs() < tolerance * s * s, "{cross:e}");
        }
    }
    eprintln!("normal w: worst relative error of the exact moments {worst:.2e}");
}

/// E q = s sqrt(2) Gamma((n + 1)/2) / Gamma(n/2): q = s sqrt(2 y) is not a polynomial in y, so
/// the Laguerre rule converges algebraically; the test prints the error against the node count
/// and checks the stated order at the finest one.
#[test]
fn normal_w_mean_norm_converges() {
    for (d, k) in [(8, 1), (6, 2)] {
        let s = 1.0 / (d as f64).sqrt();
        let n = (d - k) as f64;
        let exact = s * 2f64.sqrt() * gamma((n + 1.0) / 2.0) / gamma(n / 2.0);
        let mut line = format!("d {d} k {k}: E q relative error by N_q:");
        for count in [4, 8, 16, 32, 64] {
            let resolution = InitResolution {
                a: 1,
                p: 1,
                q: count,
            };
            let rule = initial_nodes(&law(0.0, 1.0, normal(d)), d, k, resolution).unwrap();
            let error = relative(expectation(&rule, |x| x[k + 1]), exact);
            line += &format!(" {count}: {error:.1e}");
        }
        eprintln!("{line}");
    }
}
