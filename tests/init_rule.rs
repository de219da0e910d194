//! The tensor rule of the initial law in reduced coordinates (`math::init_rule`): weights,
//! exact moments, the sphere constraint and a Monte Carlo check against the crate's sampler.
#![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

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

/// E q = s sqrt(2) Gamma((n + 1)/2) / Gamma(n/2): q = s sqrt(2 y) is not a polynomial in y,
/// and Gauss-Laguerre(alpha) applied to y^beta (here beta = 1/2, alpha = n/2 - 1) converges
/// algebraically, as N^-(alpha + beta + 1) = N^-((n + 1)/2) (the endpoint singularity seen by
/// the smallest node, of order 1/N). The test prints the error against N and checks that order
/// from N = 32 to 64 within 1/4.
#[test]
fn normal_w_mean_norm_converges_as_n_to_minus_n_plus_one_over_two() {
    for (d, k) in [(8, 1), (6, 2)] {
        let s = 1.0 / (d as f64).sqrt();
        let n = (d - k) as f64;
        let exact = s * 2f64.sqrt() * gamma((n + 1.0) / 2.0) / gamma(n / 2.0);
        let mut line = format!("d {d} k {k}: E q relative error by N_q:");
        let mut errors = Vec::new();
        for count in [4, 8, 16, 32, 64] {
            let resolution = InitResolution {
                a: 1,
                p: 1,
                q: count,
            };
            let rule = initial_nodes(&law(0.0, 1.0, normal(d)), d, k, resolution).unwrap();
            let error = relative(expectation(&rule, |x| x[k + 1]), exact);
            line += &format!(" {count}: {error:.1e}");
            errors.push(error);
        }
        eprintln!("{line}");
        let order = (errors[3] / errors[4]).log2();
        let expected = (n + 1.0) / 2.0;
        assert!((order - expected).abs() < 0.25, "d {d}: order {order}");
    }
}

/// The sphere of radius r: every row lies on it; E p_1^2 = r^2/d, E p_1^4 = 3 r^4/(d (d + 2)),
/// E p_1^2 p_2^2 = r^4/(d (d + 2)), E q^2 = n r^2/d: polynomials in (p, q^2) of degree 4,
/// exact to rounding with 4 nodes per coordinate.
#[test]
fn sphere_rows_lie_on_the_sphere_with_exact_moments() {
    let (r, nodes_per_factor) = (1.5f64, 4);
    let mut worst: f64 = 0.0;
    for (d, k) in [
        (5, 1),
        (5, 2),
        (2, 1),
        (3, 2),
        (3, 3),
        (4, 4),
        (1, 1),
        (4, 0),
    ] {
        let rule = initial_nodes(
            &law(0.0, 1.0, VectorLaw::UniformSphere { radius: r }),
            d,
            k,
            InitResolution::uniform(nodes_per_factor),
        )
        .unwrap();
        for row in rule.row_iter() {
            let radius2: f64 = row.iter().skip(2).map(|v| v * v).sum();
            // k + 1 squares of size at most r^2, each rounded: (k + 2) eps r^2.
            assert!((radius2 - r * r).abs() < (k + 2) as f64 * f64::EPSILON * r * r);
            assert!(row[k + 2] >= 0.0);
        }
        let (df, nf) = (d as f64, (d - k) as f64);
        let q = k + 1;
        let mut checks = vec![(expectation(&rule, |x| x[q] * x[q]), nf * r * r / df)];
        if k >= 1 {
            let fourth = 3.0 * r.powi(4) / (df * (df + 2.0));
            checks.push((expectation(&rule, |x| x[1] * x[1]), r * r / df));
            checks.push((expectation(&rule, |x| x[1].powi(4)), fourth));
            checks.push((expectation(&rule, |x| x[k].powi(4)), fourth));
        }
        if k >= 2 {
            let mixed = r.powi(4) / (df * (df + 2.0));
            checks.push((expectation(&rule, |x| (x[1] * x[2]).powi(2)), mixed));
            assert!(expectation(&rule, |x| x[1] * x[2]).abs() < 1e-15);
        }
        let tolerance = moment_tolerance(k, nodes_per_factor);
        for (found, exact) in checks {
            if exact == 0.0 {
                assert!(found.abs() < tolerance * r * r, "d {d} k {k}: {found:e}");
                continue;
            }
            worst = worst.max(relative(found, exact));
            assert!(
                relative(found, exact) < tolerance,
                "d {d} k {k}: {found} {exact}"
            );
        }
    }
    eprintln!("sphere: worst relative error of the exact moments {worst:.2e}");
}

#[test]
fn circle_gives_chebyshev_nodes_and_the_line_two_atoms() {
    let sphere = law(0.0, 0.0, VectorLaw::UniformSphere { radius: 2.0 });
    let count = 5;
    let circle = initial_nodes(&sphere, 2, 1, InitResolution::uniform(count)).unwrap();
    for (i, row) in circle.row_iter().enumerate() {
        let angle = (2 * i + 1) as f64 * std::f64::consts::PI / (2 * count) as f64;
        assert!((row[2] + 2.0 * angle.cos()).abs() < 16.0 * f64::EPSILON);
        assert!((row[0] - 0.2).abs() < 16.0 * f64::EPSILON);
    }
    let line = initial_nodes(&sphere, 1, 1, InitResolution::uniform(count)).unwrap();
    assert_eq!(line.nrows(), 2);
    assert_eq!(
        line.row(0).iter().copied().collect::<Vec<_>>(),
        [0.5, 0.0, -2.0, 0.0]
    );
    assert_eq!(
        line.row(1).iter().copied().collect::<Vec<_>>(),
        [0.5, 0.0, 2.0, 0.0]
    );
}

/// The rule's E g(a, |w|^2, w_1) for g = a^2 exp(-|w|^2) cos(w_1) against the mean over
/// 200,000 particles of `Particles::draw`, within 4 standard errors (the sample standard
/// deviation over sqrt(m)). g is smooth, so 10 nodes per factor put the rule's own error far
/// below the standard error (the exact-moment tests bound it).
#[test]
fn rule_agrees_with_the_sampler_within_four_standard_errors() {
    let laws = [
        (law(0.3, 0.8, normal(6)), 6, 2),
        (law(0.3, 0.8, normal(8)), 8, 1),
        (
            law(-0.5, 1.1, VectorLaw::UniformSphere { radius: 1.3 }),
            5,
            2,
        ),
        (
            law(-0.5, 1.1, VectorLaw::UniformSphere { radius: 1.3 }),
            3,
            3,
        ),
    ];
    let g = |a: f64, w2: f64, w1: f64| a * a * (-w2).exp() * w1.cos();
    for (law, d, k) in laws {
        let rule = initial_nodes(&law, d, k, InitResolution::uniform(10)).unwrap();
        let quadrature = expectation(&rule, |x| {
            let w2: f64 = x[1..].iter().map(|v| v * v).sum();
            g(x[0], w2, if k >= 1 { x[1] } else { 0.0 })
        });
        let m = 200_000;
        let particles = Particles::draw(m, d, &law, 17).unwrap();
        let samples: Vec<f64> = particles
            .matrix()
            .row_iter()
            .map(|row| {
                let w2: f64 = row.iter().skip(1).map(|v| v * v).sum();
                g(row[0], w2, row[1])
            })
            .collect();
        let mean = samples.iter().sum::<f64>() / m as f64;
        let variance = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (m - 1) as f64;
        let standard_error = (variance / m as f64).sqrt();
        let z = (quadrature - mean) / standard_error;
        eprintln!("{law:?} d {d} k {k}: rule {quadrature:.6} sampler {mean:.6} z {z:.2}");
        assert!(
            z.abs() < 4.0,
            "rule {quadrature} sampler {mean} se {standard_error}"
        );
    }
}

#[test]
fn degenerate_factors_are_single_atoms() {
    let still = law(0.7, 0.0, VectorLaw::Normal { std: 0.0 });
    let rule = initial_nodes(&still, 4, 2, InitResolution::uniform(6)).unwrap();
    assert_eq!(rule.shape(), (1, 5));
    assert_eq!(
        rule.row(0).iter().copied().collect::<Vec<_>>(),
        [1.0, 0.7, 0.0, 0.0, 0.0]
    );
    let point = law(0.0, 1.0, VectorLaw::UniformSphere { radius: 0.0 });
    let rule = initial_nodes(&point, 4, 2, InitResolution::uniform(6)).unwrap();
    assert_eq!(rule.nrows(), 6);
    assert!(rule.columns(2, 3).iter().all(|&v| v == 0.0));
}

#[test]
fn refuses_bad_dimensions_resolutions_and_laws() {
    let standard = InitLaw::standard(4);
    let six = InitResolution::uniform(6);
    assert!(initial_nodes(&standard, 4, 5, six).is_err());
    assert!(initial_nodes(&standard, 0, 0, six).is_err());
    let no_q = InitResolution { a: 3, p: 3, q: 0 };
    let message = initial_nodes(&standard, 4, 1, no_q)
        .unwrap_err()
        .to_string();
    assert!(message.contains("nodes in q = 0"), "{message}");
    for bad in [
        law(f64::NAN, 1.0, normal(4)),
        law(0.0, f64::INFINITY, normal(4)),
        law(0.0, 1.0, VectorLaw::Normal { std: -1.0 }),
        law(0.0, 1.0, VectorLaw::UniformSphere { radius: f64::NAN }),
    ] {
        assert!(initial_nodes(&bad, 4, 1, six).is_err(), "{bad:?}");
    }
}
