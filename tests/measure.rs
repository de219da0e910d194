//! Measures of the particle cloud (`diagnostics::measure`): angles, teacher alignment, the
//! Kozachenko-Leonenko entropy against closed forms, the empirical tangent kernel against
//! finite differences of f and its infinite-width limit, projection planes and subsamples.
#![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};

use meanfield::diagnostics::measure::{
    angles_to, entropy_kozachenko_leonenko, plane_of, principal_plane, probe_inputs,
    relative_change, subsample, tangent_kernel, teacher_alignment, teacher_alignments,
};
use meanfield::math::{Activation, InitLaw, Network, Parity, Particles};
use nalgebra::DMatrix;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

const EPS: f64 = f64::EPSILON;

fn dot(u: &[f64], v: &[f64]) -> f64 {
    u.iter().zip(v).map(|(a, b)| a * b).sum()
}

fn norm(u: &[f64]) -> f64 {
    dot(u, u).sqrt()
}

/// Particles (rows a, w) from a list of (a, w).
fn cloud(rows: &[(f64, &[f64])]) -> DMatrix<f64> {
    let d = rows[0].1.len();
    DMatrix::from_fn(rows.len(), 1 + d, |j, c| {
        if c == 0 { rows[j].0 } else { rows[j].1[c - 1] }
    })
}

// ---------------------------------------------------------------------------------------
// Angles and teacher alignment

#[test]
fn angles_to_a_direction_are_zero_pi_and_half_pi_where_exact() {
    let v = [1.0, -2.0, 0.5];
    let theta = cloud(&[
        (1.0, &[2.0, -4.0, 1.0]),
        (1.0, &[-1.0, 2.0, -0.5]),
        (1.0, &[2.0, 1.0, 0.0]),
        (1.0, &[0.0, 0.0, 0.0]),
    ]);
    let angles = angles_to(&theta, &v);
    // Kahan's form is exact for exactly parallel vectors up to the rounding of w / |w|:
    // a few ulps.
    assert!(angles[0].abs() < 8.0 * EPS, "{}", angles[0]);
    assert!((angles[1] - PI).abs() < 8.0 * EPS, "{}", angles[1]);
    assert!((angles[2] - FRAC_PI_2).abs() < 8.0 * EPS, "{}", angles[2]);
    assert_eq!(angles[3], 0.0);
}

/// w at angle delta = 1e-8 from v (and from -v) in a generic plane: the angle comes out with
/// an absolute error of a few ulps (of 1 and of pi), i.e. relative error ~1e-7 at worst,
/// where the form sqrt(|w|^2 |v|^2 - (w.v)^2) would be off by ~1e-8 (100%).
#[test]
fn nearly_parallel_and_antiparallel_angles_are_accurate_to_rounding() {
    let delta: f64 = 1e-8;
    let v = [1.0, 2.0, -3.0, 0.5];
    let v_hat: Vec<f64> = v.iter().map(|x| x / norm(&v)).collect();
    // A unit vector orthogonal to v: (2, -1, 0, 0) / sqrt 5.
    let u_hat = [2.0 / 5f64.sqrt(), -1.0 / 5f64.sqrt(), 0.0, 0.0];
    assert!(dot(&u_hat, &v).abs() < 4.0 * EPS);
    let near: Vec<f64> = (0..4)
        .map(|c| delta.cos() * v_hat[c] + delta.sin() * u_hat[c])
        .collect();
    let opposite: Vec<f64> = (0..4)
        .map(|c| -delta.cos() * v_hat[c] + delta.sin() * u_hat[c])
        .collect();
    let theta = cloud(&[(1.0, &near), (1.0, &opposite)]);
    let angles = angles_to(&theta, &v);
    // Constructing w rounds each coordinate (error <= eps), which moves the angle by at most
    // ~2 eps; the formula adds a few more ulps.
    assert!(
        (angles[0] - delta).abs() < 16.0 * EPS,
        "{}",
        angles[0] - delta
    );
    assert!(
        ((PI - angles[1]) - delta).abs() < 16.0 * EPS * PI,
        "{}",
        (PI - angles[1]) - delta
    );
}

#[test]
fn teacher_alignment_of_a_constructed_cloud_is_the_exact_mass_share_and_best_cosine() {
    let v = [2.0, 0.0];
    // Angles to v: atan(1/3) = 0.32, pi/4, pi/2, and a zero w (mass 0, no cosine).
    let theta = cloud(&[
        (2.0, &[3.0, 1.0]),
        (-1.0, &[1.0, 1.0]),
        (0.5, &[0.0, -4.0]),
        (5.0, &[0.0, 0.0]),
    ]);
    let masses = [2.0 * 10f64.sqrt(), 2f64.sqrt(), 2.0];
    let total: f64 = masses.iter().sum();
    let alignment = teacher_alignment(&theta, &v, 0.5, Parity::Neither);
    assert!((alignment.cone_share - masses[0] / total).abs() < 8.0 * EPS);
    assert!((alignment.best_cosine - 3.0 / 10f64.sqrt()).abs() < 4.0 * EPS);
    // A cone just past pi/4 takes in the second particle.
    let wider = teacher_alignment(&theta, &v, FRAC_PI_4 + 1e-9, Parity::Neither);
    assert!((wider.cone_share - (masses[0] + masses[1]) / total).abs() < 8.0 * EPS);
    assert_eq!(
        teacher_alignment(&theta, &v, PI, Parity::Neither).cone_share,
        1.0
    );
    assert_eq!(
        teacher_alignment(&theta, &v, 0.1, Parity::Neither).cone_share,
        0.0
    );
}

#[test]
fn teacher_alignment_without_mass_is_zero_share_and_minus_one_cosine() {
    let theta = cloud(&[(1.0, &[0.0, 0.0]), (0.0, &[0.0, 0.0])]);
    let alignment = teacher_alignment(&theta, &[1.0, 0.0], 0.3, Parity::Neither);
    assert_eq!(alignment.cone_share, 0.0);
    assert_eq!(alignment.best_cosine, -1.0);
}

#[test]
fn alignments_by_cosine_equal_the_angle_definition_also_at_the_cone_boundary() {
    // Particles at angles cone - 1e-13, cone, cone + 1e-13 from the direction (in the plane of
    // w_1, w_2), plus a random cloud: the share must equal the one from comparing the accurate
    // angles of `angles_to` with the cone.
    let cone = 15f64.to_radians();
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for offset in [
        -1e-13, 0.0, 1e-13, -1e-9, 1e-9, -3e-16, 3e-16, -1e-15, 1e-15, 2e-15,
    ] {
        let angle = cone + offset;
        rows.push(vec![1.0, 2.0 * angle.cos(), 2.0 * angle.sin(), 0.0]);
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    for _ in 0..300 {
        rows.push(
            (0..4)
                .map(|_| rng.sample::<f64, _>(StandardNormal))
                .collect(),
        );
    }
    let theta = DMatrix::from_fn(rows.len(), 4, |r, c| rows[r][c]);
    let directions = vec![vec![1.0, 0.0, 0.0], vec![0.3, -0.2, 0.9]];
    let alignments = teacher_alignments(&theta, &directions, cone, Parity::Neither);
    for (direction, alignment) in directions.iter().zip(&alignments) {
        let angles = angles_to(&theta, direction);
        let mass = |j: usize| {
            theta[(j, 0)].abs() * (1..4).map(|c| theta[(j, c)].powi(2)).sum::<f64>().sqrt()
        };
        let total: f64 = (0..theta.nrows()).map(mass).sum();
        let inside: f64 = (0..theta.nrows())
            .filter(|&j| angles[j] <= cone)
            .map(mass)
            .sum();
        // Sums in another order: a few ulps of the total.
        assert!((alignment.cone_share - inside / total).abs() < 1e3 * EPS);
        assert_eq!(
            *alignment,
            teacher_alignment(&theta, direction, cone, Parity::Neither)
        );
    }
}

// ---------------------------------------------------------------------------------------
// Kozachenko-Leonenko entropy

/// Nearest-neighbour distances by an independent (sequential) brute force.
fn nearest_distances(points: &DMatrix<f64>) -> Vec<f64> {
    let (n, dim) = points.shape();
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..dim).map(|c| points[(i, c)]).collect())
        .collect();
    rows.iter()
        .enumerate()
        .map(|(i, x)| {
            rows.iter()
                .enumerate()
                .filter(|&(k, _)| k != i)
                .map(|(_, y)| x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum::<f64>())
                .fold(f64::INFINITY, f64::min)
                .sqrt()
        })
        .collect()
}

/// The estimator is D mean_i log r_i + const, so its standard deviation is at most about
/// D std(log r_i) / sqrt(n) (an upper bound: for D <= 3 the k = 1 estimator's variance is
/// Var(log rho(X)) / n, smaller still; Berrett, Samworth & Yuan 2019).
fn standard_error(dim: usize, nearest: &[f64]) -> f64 {
    let logs: Vec<f64> = nearest.iter().map(|r| r.ln()).collect();
    let n = logs.len() as f64;
    let mean = logs.iter().sum::<f64>() / n;
    let var = logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (n - 1.0);
    dim as f64 * (var / n).sqrt()
}

fn gaussian_sample(n: usize, dim: usize, std: f64, seed: u64) -> DMatrix<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    DMatrix::from_fn(n, dim, |_, _| std * rng.sample::<f64, _>(StandardNormal))
}

/// For N(0, s^2 I_D), H = D/2 log(2 pi e s^2). Tolerance: 4 standard errors plus twice the
/// leading bias. The ball of radius r around x holds probability
/// V r^D rho(x) [1 + r^2 Laplacian rho / (2 (D + 2) rho) + O(r^4)], so the estimator's bias is
/// about -E[ r^2 (|x|^2 / s^2 - D) / (2 (D + 2) s^2) ], estimated here with the sample's own
/// r_i; the factor 2 covers the O(r^4) terms, largest in the tails where r is largest.
#[test]
fn entropy_of_a_gaussian_sample_matches_the_closed_form_in_dimensions_one_to_three() {
    let (n, s) = (4000, 1.7);
    for dim in 1..=3 {
        let points = gaussian_sample(n, dim, s, 10 + dim as u64);
        let estimate = entropy_kozachenko_leonenko(&points).unwrap();
        assert_eq!(estimate.duplicates, 0);
        let d = dim as f64;
        let exact = 0.5 * d * (2.0 * PI * std::f64::consts::E * s * s).ln();
        let r = nearest_distances(&points);
        let bias = -(0..n)
            .map(|i| {
                let x2 = points.row(i).norm_squared() / (s * s);
                r[i] * r[i] * (x2 - d) / (2.0 * (d + 2.0) * s * s)
            })
            .sum::<f64>()
            / n as f64;
        let se = standard_error(dim, &r);
        let tolerance = 4.0 * se + 2.0 * bias.abs();
        assert!(
            (estimate.entropy - exact).abs() < tolerance,
            "D = {dim}: {} vs {exact} (se {se}, bias {bias})",
            estimate.entropy
        );
    }
}

/// For the uniform law on [0, L]^D, H = D log L. A point at distance t < r from a face sees
/// at most half of its ball cut off, which adds at most log 2 to its term, so to leading order
/// the bias lies in [0, 2 D log 2 E[r] / L] (2D faces, each with a layer of relative volume
/// E[r] / L): an O(n^(-1/D)) bias, E[r] estimated by the sample mean of r_i.
#[test]
fn entropy_of_a_uniform_sample_is_d_log_l_up_to_the_boundary_bias() {
    let (n, side) = (4000, 3.0);
    for dim in 1..=3 {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(20 + dim as u64);
        let points = DMatrix::from_fn(n, dim, |_, _| side * rng.random::<f64>());
        let estimate = entropy_kozachenko_leonenko(&points).unwrap();
        let d = dim as f64;
        let exact = d * side.ln();
        let r = nearest_distances(&points);
        let mean_r = r.iter().sum::<f64>() / n as f64;
        let boundary = 2.0 * d * 2f64.ln() * mean_r / side;
        let se = standard_error(dim, &r);
        let error = estimate.entropy - exact;
        assert!(
            error > -4.0 * se && error < 4.0 * se + boundary,
            "D = {dim}: error {error} (se {se}, boundary bias bound {boundary})"
        );
    }
}

#[test]
fn entropy_skips_duplicates_and_needs_two_points() {
    // Two copies of {0, 1, 3}: every point has a duplicate.
    let points = DMatrix::from_column_slice(6, 1, &[0.0, 1.0, 3.0, 0.0, 1.0, 3.0]);
    let estimate = entropy_kozachenko_leonenko(&points).unwrap();
    assert_eq!(estimate.duplicates, 6);
    assert_eq!(estimate.entropy, f64::NEG_INFINITY);
    // {0, 0, 2, 5}: r = (0, 0, 2, 3); the mean runs over the last two points.
    let points = DMatrix::from_column_slice(4, 1, &[0.0, 0.0, 2.0, 5.0]);
    let estimate = entropy_kozachenko_leonenko(&points).unwrap();
    assert_eq!(estimate.duplicates, 2);
    let euler_gamma = 0.577_215_664_901_532_9;
    let expected = 0.5 * (2f64.ln() + 3f64.ln()) + 2f64.ln() + 3f64.ln() + euler_gamma;
    assert!((estimate.entropy - expected).abs() < 8.0 * EPS * expected);
    assert!(entropy_kozachenko_leonenko(&DMatrix::from_element(1, 3, 1.0)).is_err());
    assert!(entropy_kozachenko_leonenko(&DMatrix::from_element(3, 1, f64::NAN)).is_err());
}

#[test]
fn entropy_and_tangent_kernel_are_bit_identical_on_one_and_two_threads() {
    let points = gaussian_sample(1500, 3, 1.0, 5);
    let network = Network::new(Activation::Tanh, 0.75).unwrap();
    let theta = Particles::draw(1300, 6, &InitLaw::standard(6), 4)
        .unwrap()
        .into_matrix();
    let probes = probe_inputs(6, false, 5, 8);
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                (
                    entropy_kozachenko_leonenko(&points).unwrap().entropy,
                    tangent_kernel(&network, &theta, &probes),
                )
            })
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one.0.to_bits(), two.0.to_bits());
    assert_eq!(one.1, two.1);
}

// ---------------------------------------------------------------------------------------
// Tangent kernel

/// f(x_i) through the model's own forward pass (independent of the tangent kernel code).
fn outputs(network: &Network, theta: &DMatrix<f64>, probes: &DMatrix<f64>) -> Vec<f64> {
    let particles = Particles::new(theta.clone()).unwrap();
    (0..probes.ncols())
        .map(|i| network.output(&particles, probes.column(i).as_slice()))
        .collect()
}

/// Theta_ik = sum over parameters of df(x_i)/dp df(x_k)/dp, each derivative by central
/// differences with step h. Error of one derivative: h^2 / 6 |d^3 f / dp^3| + rounding
/// ~ 2 eps |f| / h; f is linear in a_j, and d^3 f / dw_jc^3 = m^(-alpha) a_j sigma'''(z) x_c^3
/// with |sigma'''| <= 2 for tanh and 0 for relu away from its kink. The kernel's tolerance is
/// the first-order propagation sum_p (|g_i| dg_k + |g_k| dg_i + dg_i dg_k).
fn check_against_finite_differences(activation: Activation, alpha: f64) {
    let network = Network::new(activation, alpha).unwrap();
    let (m, d, p) = (5, 3, 4);
    let theta = Particles::draw(m, d, &InitLaw::standard(d), 31)
        .unwrap()
        .into_matrix();
    let probes = probe_inputs(d, false, p, 32);
    // No pre-activation within the finite-difference reach of relu's kink.
    let z = theta.columns(1, d) * &probes;
    assert!(z.iter().all(|v| v.abs() > 1e-3), "{z}");
    let h = 1e-5;
    let scale = network.output_scale(m);
    let f_max = outputs(&network, &theta, &probes)
        .iter()
        .fold(0.0f64, |acc, v| acc.max(v.abs()))
        .max(1.0);
    let x_max = probes.abs().max();
    let mut expected = DMatrix::<f64>::zeros(p, p);
    let mut tolerance = DMatrix::<f64>::zeros(p, p);
    for j in 0..m {
        for c in 0..=d {
            let mut plus = theta.clone();
            let mut minus = theta.clone();
            plus[(j, c)] += h;
            minus[(j, c)] -= h;
            let (f_plus, f_minus) = (
                outputs(&network, &plus, &probes),
                outputs(&network, &minus, &probes),
            );
            let gradient: Vec<f64> = (0..p)
                .map(|i| (f_plus[i] - f_minus[i]) / (2.0 * h))
                .collect();
            let third = if c == 0 {
                0.0
            } else {
                scale * theta[(j, 0)].abs() * 2.0 * x_max.powi(3)
            };
            let error = h * h / 6.0 * third + 2.0 * EPS * f_max / h;
            for i in 0..p {
                for k in 0..p {
                    expected[(i, k)] += gradient[i] * gradient[k];
                    tolerance[(i, k)] +=
                        (gradient[i].abs() + gradient[k].abs()) * error + error * error;
                }
            }
        }
    }
    let kernel = tangent_kernel(&network, &theta, &probes);
    for i in 0..p {
        for k in 0..p {
            assert!(
                (kernel[(i, k)] - expected[(i, k)]).abs() < tolerance[(i, k)],
                "{activation:?} ({i}, {k}): {} vs {} (tolerance {})",
                kernel[(i, k)],
                expected[(i, k)],
                tolerance[(i, k)]
            );
        }
    }
}

#[test]
fn tangent_kernel_matches_finite_differences_of_f_for_relu() {
    check_against_finite_differences(Activation::Relu, 1.0);
    check_against_finite_differences(Activation::Relu, 0.5);
}

#[test]
fn tangent_kernel_matches_finite_differences_of_f_for_tanh() {
    check_against_finite_differences(Activation::Tanh, 1.0);
    check_against_finite_differences(Activation::Tanh, 0.7);
}

#[test]
fn tangent_kernel_is_symmetric_positive_semidefinite() {
    let network = Network::new(Activation::Erf, 1.0).unwrap();
    let theta = Particles::draw(700, 4, &InitLaw::standard(4), 2)
        .unwrap()
        .into_matrix();
    let p = 12;
    let kernel = tangent_kernel(&network, &theta, &probe_inputs(4, false, p, 3));
    assert_eq!(kernel, kernel.transpose());
    // A Gram matrix: eigenvalues >= 0 up to the eigen-solver's backward error ~ p eps |K|.
    let smallest = kernel.clone().symmetric_eigenvalues().min();
    assert!(smallest > -(p as f64) * EPS * kernel.norm(), "{smallest}");
}

/// Stacking the particles twice (m -> 2m) doubles every sum over j while m^(-2 alpha) is
/// multiplied by 2^(-2 alpha): the kernel is multiplied by 2^(1 - 2 alpha) (invariant in
/// the lazy scaling, halved in the mean-field one).
#[test]
fn duplicating_every_particle_multiplies_the_kernel_by_two_to_the_one_minus_two_alpha() {
    let theta = Particles::draw(30, 3, &InitLaw::standard(3), 6)
        .unwrap()
        .into_matrix();
    let doubled = DMatrix::from_fn(60, 4, |j, c| theta[(j % 30, c)]);
    let probes = probe_inputs(3, true, 5, 7);
    let theta = theta.insert_column(4, 0.4);
    let doubled = doubled.insert_column(4, 0.4);
    for alpha in [0.5, 0.75, 1.0] {
        let network = Network::new(Activation::Softplus, alpha).unwrap();
        let single = tangent_kernel(&network, &theta, &probes);
        let double = tangent_kernel(&network, &doubled, &probes);
        let factor = 2f64.powf(1.0 - 2.0 * alpha);
        assert!(
            relative_change(&double, &(single * factor)) < 64.0 * EPS,
            "alpha = {alpha}"
        );
    }
}

#[test]
fn relative_change_is_zero_for_equal_kernels_and_the_frobenius_ratio_otherwise() {
    let start = DMatrix::from_row_slice(2, 2, &[3.0, 0.0, 0.0, 4.0]);
    assert_eq!(relative_change(&start, &start), 0.0);
    let now = DMatrix::from_row_slice(2, 2, &[3.0, 1.0, 1.0, 4.0]);
    assert!((relative_change(&now, &start) - 2f64.sqrt() / 5.0).abs() < 2.0 * EPS);
    let zero = DMatrix::zeros(2, 2);
    assert_eq!(relative_change(&zero, &zero), 0.0);
    assert_eq!(relative_change(&start, &zero), f64::INFINITY);
}

/// Lazy scaling (alpha = 1/2), relu, a ~ N(0, 1), w ~ N(0, I/d): Theta(x, x) is a mean over j
/// of iid terms sigma(w.x)^2 + a^2 sigma'(w.x)^2 |x|^2, so across seeds its mean is the
/// infinite-width value |x|^2 / (2 d) + |x|^2 / 2 and its relative spread falls like m^(-1/2):
/// the ratio of spreads at m = 100 and 10000 is 10. With S = 20 seeds a standard deviation
/// has relative error 1 / sqrt(2 (S - 1)), so the log of the ratio has standard error
/// ~sqrt(2 / (2 (S - 1))) = 0.23, and 4 of them allow a factor e^0.92 = 2.5.
#[test]
fn lazy_tangent_kernel_at_initialisation_concentrates_like_one_over_sqrt_m() {
    let (d, seeds) = (8, 20u64);
    let network = Network::new(Activation::Relu, 0.5).unwrap();
    let probe = probe_inputs(d, false, 1, 77);
    let x2 = probe.norm_squared();
    let limit = x2 / (2.0 * d as f64) + x2 / 2.0;
    let statistics = |m: usize| {
        let values: Vec<f64> = (0..seeds)
            .map(|seed| {
                let theta = Particles::draw(m, d, &InitLaw::standard(d), 1000 + seed)
                    .unwrap()
                    .into_matrix();
                tangent_kernel(&network, &theta, &probe)[(0, 0)]
            })
            .collect();
        let mean = values.iter().sum::<f64>() / seeds as f64;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (seeds - 1) as f64;
        (mean, var.sqrt())
    };
    let (mean_narrow, std_narrow) = statistics(100);
    let (mean_wide, std_wide) = statistics(10_000);
    let ratio = (std_narrow / mean_narrow) / (std_wide / mean_wide);
    assert!(ratio > 10.0 / 2.5 && ratio < 10.0 * 2.5, "{ratio}");
    let standard_error = std_wide / (seeds as f64).sqrt();
    assert!(
        (mean_wide - limit).abs() < 4.0 * standard_error,
        "{mean_wide} vs {limit} (se {standard_error})"
    );
}

// ---------------------------------------------------------------------------------------
// Planes and subsamples

/// A rotated orthonormal basis of R^4 (Householder reflection of the axes).
fn rotated_axes() -> Vec<Vec<f64>> {
    let h = [1.0, -2.0, 0.5, 3.0];
    let hh = dot(&h, &h);
    (0..4)
        .map(|axis| {
            (0..4)
                .map(|c| f64::from(u8::from(c == axis)) - 2.0 * h[c] * h[axis] / hh)
                .collect()
        })
        .collect()
}

/// Points +-3 u1, +-1.5 u2, +-0.4 u3, +-0.1 u4 have second moment exactly diagonal in the u
/// basis (eigenvalues 18, 4.5, 0.32, 0.02): the eigen-solver recovers u1, u2 to ~eps times
/// the condition lambda_1 / (lambda_1 - lambda_2).
#[test]
fn principal_plane_recovers_the_two_stretched_axes_up_to_sign() {
    let axes = rotated_axes();
    let lengths = [3.0, 1.5, 0.4, 0.1];
    let mut rows = Vec::new();
    for (axis, length) in axes.iter().zip(lengths) {
        for sign in [1.0, -1.0] {
            rows.push(axis.iter().map(|v| sign * length * v).collect::<Vec<f64>>());
        }
    }
    let theta = DMatrix::from_fn(
        rows.len(),
        5,
        |j, c| if c == 0 { 0.7 } else { rows[j][c - 1] },
    );
    let (first, second) = principal_plane(&theta);
    assert!((dot(&first, &axes[0]).abs() - 1.0).abs() < 64.0 * EPS);
    assert!((dot(&second, &axes[1]).abs() - 1.0).abs() < 64.0 * EPS);
    assert!(dot(&first, &second).abs() < 64.0 * EPS);
    let one_dimensional = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 1.0, -3.0]);
    assert_eq!(principal_plane(&one_dimensional), (vec![1.0], vec![0.0]));
}

#[test]
fn plane_of_two_directions_is_an_orthonormal_basis_of_their_span() {
    let (first, second) = ([1.0, 2.0, 2.0], [0.0, 1.0, 5.0]);
    let (e1, e2) = plane_of(&first, &second);
    assert!((norm(&e1) - 1.0).abs() < 4.0 * EPS && (norm(&e2) - 1.0).abs() < 4.0 * EPS);
    assert!(dot(&e1, &e2).abs() < 4.0 * EPS);
    for (c, x) in first.iter().enumerate() {
        assert!((e1[c] - x / 3.0).abs() < 2.0 * EPS);
    }
    // second = (e1.second) e1 + (e2.second) e2 exactly in the span.
    let (s1, s2) = (dot(&e1, &second), dot(&e2, &second));
    assert!(s2 > 0.0);
    for c in 0..3 {
        assert!((s1 * e1[c] + s2 * e2[c] - second[c]).abs() < 16.0 * EPS * norm(&second));
    }
}

#[test]
fn plane_of_parallel_or_zero_directions_still_gives_an_orthonormal_pair() {
    for (first, second) in [
        (vec![1.0, 2.0, -1.0], vec![-2.0, -4.0, 2.0]),
        (vec![0.0, 3.0], vec![0.0, 0.0]),
        (vec![0.0, 0.0, 0.0], vec![0.0, 0.0, 0.0]),
    ] {
        let (e1, e2) = plane_of(&first, &second);
        assert!((norm(&e1) - 1.0).abs() < 4.0 * EPS, "{first:?}");
        assert!((norm(&e2) - 1.0).abs() < 4.0 * EPS, "{first:?}");
        assert!(dot(&e1, &e2).abs() < 4.0 * EPS, "{first:?}");
    }
    assert_eq!(plane_of(&[-2.0], &[1.0]), (vec![-1.0], vec![0.0]));
}

#[test]
fn subsample_is_deterministic_sorted_distinct_and_full_when_count_reaches_m() {
    let (m, count) = (1000, 37);
    let chosen = subsample(m, count, 11);
    assert_eq!(chosen.len(), count);
    assert!(chosen.windows(2).all(|pair| pair[0] < pair[1]));
    assert!(chosen.iter().all(|&j| j < m));
    assert_eq!(chosen, subsample(m, count, 11));
    assert_ne!(chosen, subsample(m, count, 12));
    assert_eq!(subsample(5, 5, 1), vec![0, 1, 2, 3, 4]);
    assert_eq!(subsample(5, 9, 1), vec![0, 1, 2, 3, 4]);
    assert!(subsample(5, 0, 1).is_empty());
}
