//! Distances between empirical measures (docs/math.md section 6) against closed forms (Gaussians in
//! one dimension, translates), invariances, the metric axioms, each other (sliced <= exact <=
//! entropic), their errors, and thread-count independence.
#![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

use meanfield::Error;
use meanfield::diagnostics::distance::{
    MAX_EXACT, coupled_distance, sinkhorn_wasserstein2, sliced_wasserstein2, wasserstein2_exact,
};
use meanfield::diagnostics::stats::normal_quantile;
use meanfield::random::{Purpose, stream};
use nalgebra::DMatrix;
use rand::RngExt;
use rand_distr::StandardNormal;

const EPS: f64 = f64::EPSILON;

/// n points in `dimension` dimensions with independent N(0, scale^2) coordinates.
fn normal_cloud(n: usize, dimension: usize, scale: f64, seed: u64) -> DMatrix<f64> {
    let mut rng = stream(seed, Purpose::Init, 0, 0);
    DMatrix::from_fn(n, dimension, |_, _| {
        scale * rng.sample::<f64, _>(StandardNormal)
    })
}

fn normal_density(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// The standard normal quantiles z_i = Phi^-1((i + 0.5) / n).
fn normal_quantiles(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| normal_quantile((i as f64 + 0.5) / n as f64))
        .collect()
}

/// Discretisation bound B_n >= 1 - mean_i z_i^2 >= 0 for the quantile sample.
///
/// mean_i z_i^2 is the midpoint rule for 1 = int_0^1 q(u) du with q = (Phi^-1)^2, which is
/// convex; so each cell's midpoint value is below its integral (hence 1 - mean >= 0) and the
/// trapezoid value is above it. B_n is the trapezoid rule on the interior cells plus the exact
/// integral over the two end cells, int_t^inf z^2 phi(z) dz = t phi(t) + 1 - Phi(t) with
/// t = Phi^-1(1 - 1/n), minus the midpoint sum.
fn quantile_discretisation_bound(n: usize) -> f64 {
    let nodes: Vec<f64> = (1..n)
        .map(|i| normal_quantile(i as f64 / n as f64).powi(2))
        .collect();
    let trapezoid: f64 = nodes.windows(2).map(|w| 0.5 * (w[0] + w[1])).sum::<f64>() / n as f64;
    let t = normal_quantile(1.0 - 1.0 / n as f64);
    let tails = 2.0 * (t * normal_density(t) + 1.0 / n as f64);
    let midpoint = normal_quantiles(n).iter().map(|z| z * z).sum::<f64>() / n as f64;
    trapezoid + tails - midpoint
}

/// The quantile sample x_i = mu + s z_i as an n x 1 cloud.
fn gaussian_quantile_cloud(n: usize, mean: f64, deviation: f64) -> DMatrix<f64> {
    DMatrix::from_iterator(
        n,
        1,
        normal_quantiles(n).iter().map(|z| mean + deviation * z),
    )
}

/// mean and max over (i, j) of |x_i - y_j|^2.
fn mean_and_max_cost(x: &DMatrix<f64>, y: &DMatrix<f64>) -> (f64, f64) {
    let (mut sum, mut max) = (0.0, 0.0f64);
    for i in 0..x.nrows() {
        for j in 0..y.nrows() {
            let c = (x.row(i) - y.row(j)).norm_squared();
            sum += c;
            max = max.max(c);
        }
    }
    (sum / (x.nrows() * y.nrows()) as f64, max)
}

/// Each row of `cloud` repeated `times` times.
fn repeat_rows(cloud: &DMatrix<f64>, times: usize) -> DMatrix<f64> {
    DMatrix::from_fn(cloud.nrows() * times, cloud.ncols(), |r, c| {
        cloud[(r / times, c)]
    })
}

/// Checks the Sinkhorn bounds W2^2 - e max C <= <P, C> <= W2^2 + eps ln(min(n1, n2)) + e max C
/// (the plan is a coupling up to the marginal error e; its entropy exceeds that of the
/// optimal plan by at most ln(min(n1, n2))).
fn assert_within_entropic_bounds(
    x: &DMatrix<f64>,
    y: &DMatrix<f64>,
    w2_squared: f64,
    epsilon: f64,
    result: &meanfield::diagnostics::distance::Sinkhorn,
) {
    assert!(result.converged, "{result:?}");
    let (mean_cost, max_cost) = mean_and_max_cost(x, y);
    let marginal_slack = result.marginal_error * max_cost + 1e-12 * max_cost;
    let bias_bound = epsilon * mean_cost * (x.nrows().min(y.nrows()) as f64).ln();
    let entropic = result.distance.powi(2);
    assert!(
        entropic >= w2_squared - marginal_slack,
        "{entropic} below W2^2 = {w2_squared}"
    );
    assert!(
        entropic <= w2_squared + bias_bound + marginal_slack,
        "{entropic} above W2^2 = {w2_squared} + bias bound {bias_bound}"
    );
}

/// Bounds [lower, upper] on W2_emp^2 between the quantile samples of N(mu1, s1^2) and
/// N(mu2, s2^2) of size n. By matched order statistics, W2_emp^2 is
/// (mu1 - mu2)^2 + 2 (mu1 - mu2)(s1 - s2) mean z + (s1 - s2)^2 mean z^2, with mean z = 0 up
/// to the rounding of the quantiles and 0 <= 1 - mean z^2 <= B_n: the closed form
/// (mu1 - mu2)^2 + (s1 - s2)^2 less at most (s1 - s2)^2 B_n, where B_n < 4 / n is checked.
fn gaussian_w2_squared_bounds(n: usize, mean: [f64; 2], deviation: [f64; 2]) -> (f64, f64) {
    let closed_form = (mean[0] - mean[1]).powi(2) + (deviation[0] - deviation[1]).powi(2);
    let bound = quantile_discretisation_bound(n);
    assert!(bound > 0.0 && bound < 4.0 / n as f64, "B_n = {bound}");
    let mean_z = normal_quantiles(n).iter().sum::<f64>() / n as f64;
    assert!(mean_z.abs() < 1e-14, "{mean_z}");
    let centre_term = 2.0 * (mean[0] - mean[1]).abs() * (deviation[0] - deviation[1]).abs();
    let rounding = 1e-12;
    (
        closed_form
            - (deviation[0] - deviation[1]).powi(2) * bound
            - centre_term * mean_z.abs()
            - rounding,
        closed_form + centre_term * mean_z.abs() + rounding,
    )
}

/// N(0, 1) against N(1, 4): W2^2 = 2. Sliced at n = 2000 (in one dimension every direction
/// is +-1, so it is the exact 1-D W2), the O(n^3) assignment at n = 500, where it also equals
/// the sliced value to rounding.
#[test]
fn exact_and_sliced_w2_of_gaussian_quantile_samples_match_the_closed_form() {
    let (mean, deviation) = ([0.0, 1.0], [1.0, 2.0]);
    for n in [2000, 500] {
        let (lower, upper) = gaussian_w2_squared_bounds(n, mean, deviation);
        let x = gaussian_quantile_cloud(n, mean[0], deviation[0]);
        let y = gaussian_quantile_cloud(n, mean[1], deviation[1]);
        let sliced = sliced_wasserstein2(&x, &y, 8, 3).unwrap().powi(2);
        assert!(
            (lower..=upper).contains(&sliced),
            "n = {n}: {sliced} outside [{lower}, {upper}]"
        );
        if n <= 500 {
            let exact = wasserstein2_exact(&x, &y).unwrap().powi(2);
            assert!(
                (lower..=upper).contains(&exact),
                "n = {n}: {exact} outside [{lower}, {upper}]"
            );
            assert!(
                (sliced - exact).abs() <= 4.0 * n as f64 * EPS * exact,
                "{sliced} against {exact}"
            );
        }
    }
}

/// Sinkhorn on n = 200 quantile samples at epsilon = 0.005: within its bias bound of the
/// empirical W2^2, itself within the discretisation bound of the closed form.
#[test]
fn sinkhorn_w2_of_gaussian_quantile_samples_is_within_its_bias_of_the_closed_form() {
    let n = 200;
    let x = gaussian_quantile_cloud(n, 0.0, 1.0);
    let y = gaussian_quantile_cloud(n, 1.0, 2.0);
    let epsilon = 0.005;
    let result = sinkhorn_wasserstein2(&x, &y, epsilon, 1e-4, 100_000).unwrap();
    let exact = wasserstein2_exact(&x, &y).unwrap().powi(2);
    let (lower, upper) = gaussian_w2_squared_bounds(n, [0.0, 1.0], [1.0, 2.0]);
    assert!((lower..=upper).contains(&exact), "{exact}");
    assert_within_entropic_bounds(&x, &y, exact, epsilon, &result);
}

/// y = x + b: the identity coupling costs |b|^2 and is optimal, every projection shifts by
/// theta . b, and every pair moves by b. Rounding: each coordinate difference (x + b) - x
/// is within eps (|x| + |b|) of b.
#[test]
fn translate_by_b_is_at_exact_and_coupled_distance_b_and_sliced_mean_of_theta_dot_b() {
    let (n, dimension, directions, seed) = (200, 5, 500, 17);
    let x = normal_cloud(n, dimension, 1.0, 1);
    let b = [0.7, -1.3, 0.2, 2.1, -0.4];
    let y = DMatrix::from_fn(n, dimension, |i, c| x[(i, c)] + b[c]);
    let b_squared: f64 = b.iter().map(|v| v * v).sum();
    let scale = x.amax() + b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let tolerance = 8.0 * dimension as f64 * EPS * scale * b_squared.sqrt();

    let exact = wasserstein2_exact(&x, &y).unwrap().powi(2);
    assert!(
        (exact - b_squared).abs() <= tolerance,
        "{exact} against {b_squared}"
    );
    let coupled = coupled_distance(&x, &y).unwrap().powi(2);
    assert!(
        (coupled - b_squared).abs() <= tolerance,
        "{coupled} against {b_squared}"
    );

    // The directions as documented: normals from stream(seed, Directions, 0, k), normalised.
    let squares: Vec<f64> = (0..directions)
        .map(|k| {
            let mut rng = stream(seed, Purpose::Directions, 0, k);
            let theta: Vec<f64> = (0..dimension)
                .map(|_| rng.sample::<f64, _>(StandardNormal))
                .collect();
            let norm = theta.iter().map(|t| t * t).sum::<f64>().sqrt();
            let dot: f64 = theta.iter().zip(&b).map(|(t, v)| t * v).sum();
            (dot / norm).powi(2)
        })
        .collect();
    let expected = squares.iter().sum::<f64>() / directions as f64;
    let sliced = sliced_wasserstein2(&x, &y, directions as usize, seed)
        .unwrap()
        .powi(2);
    assert!(
        (sliced - expected).abs() <= 2.0 * tolerance,
        "{sliced} against {expected}"
    );
    // Uniform directions: (theta . b_hat)^2 ~ Beta(1/2, (d - 1)/2), mean 1/d and variance
    // 2 (d - 1) / (d^2 (d + 2)); the mean over the draws is within 4 standard errors.
    let d = dimension as f64;
    let standard_error = (2.0 * (d - 1.0) / (d * d * (d + 2.0)) / directions as f64).sqrt();
    let mean_fraction = expected / b_squared;
    assert!(
        (mean_fraction - 1.0 / d).abs() <= 4.0 * standard_error,
        "{mean_fraction} against {}",
        1.0 / d
    );
}

/// Permuting the points of one cloud leaves both measures unchanged, so exact (to rounding:
/// n costs summed in another order) and sliced (the sorted projections are the same numbers:
/// bit for bit) do not move; the coupled distance pairs other particles and does.
#[test]
fn exact_and_sliced_are_invariant_under_permuting_points_and_coupled_is_not() {
    let n = 150;
    let x = normal_cloud(n, 3, 1.0, 5);
    let y = normal_cloud(n, 3, 1.5, 6);
    let permuted = DMatrix::from_fn(n, 3, |i, c| y[((7 * i + 3) % n, c)]);
    let exact = wasserstein2_exact(&x, &y).unwrap();
    let exact_permuted = wasserstein2_exact(&x, &permuted).unwrap();
    assert!((exact - exact_permuted).abs() <= 4.0 * n as f64 * EPS * exact);
    let sliced = sliced_wasserstein2(&x, &y, 64, 2).unwrap();
    assert_eq!(
        sliced.to_bits(),
        sliced_wasserstein2(&x, &permuted, 64, 2).unwrap().to_bits()
    );
    assert_ne!(
        coupled_distance(&x, &y).unwrap(),
        coupled_distance(&x, &permuted).unwrap()
    );
}

/// On two 2-D clouds of 300 points: sliced <= exact (projections are 1-Lipschitz), and the
/// entropic cost lies between W2^2 and W2^2 + eps ln n (up to its marginal error).
#[test]
fn sliced_is_below_exact_which_is_below_sinkhorn_within_its_bias() {
    let n = 300;
    let x = normal_cloud(n, 2, 1.0, 21);
    let y = DMatrix::from_fn(n, 2, |i, c| {
        normal_cloud(n, 2, 1.0, 22)[(i, c)] * [2.0, 0.5][c] + [0.5, 0.0][c]
    });
    let exact = wasserstein2_exact(&x, &y).unwrap();
    let sliced = sliced_wasserstein2(&x, &y, 200, 9).unwrap();
    assert!(sliced <= exact * (1.0 + 1e-12), "{sliced} > {exact}");
    assert!(sliced > 0.0);
    let epsilon = 0.01;
    let result = sinkhorn_wasserstein2(&x, &y, epsilon, 1e-4, 100_000).unwrap();
    assert_within_entropic_bounds(&x, &y, exact.powi(2), epsilon, &result);
}

/// Unequal sizes: x with 20 points and y with 30 are the uniform measures of x repeated 3
/// times and y repeated 2 times (60 points each), where the exact assignment applies.
#[test]
fn unequal_sizes_agree_with_the_exact_w2_of_repeated_points() {
    let x = normal_cloud(20, 2, 1.0, 31);
    let y = normal_cloud(30, 2, 1.3, 32);
    let (x_repeated, y_repeated) = (repeat_rows(&x, 3), repeat_rows(&y, 2));
    let exact = wasserstein2_exact(&x_repeated, &y_repeated).unwrap();
    let sliced = sliced_wasserstein2(&x, &y, 100, 4).unwrap();
    let sliced_repeated = sliced_wasserstein2(&x_repeated, &y_repeated, 100, 4).unwrap();
    assert!((sliced - sliced_repeated).abs() <= 64.0 * EPS * sliced);
    assert!(sliced <= exact * (1.0 + 1e-12));
    let epsilon = 0.01;
    let result = sinkhorn_wasserstein2(&x, &y, epsilon, 1e-4, 100_000).unwrap();
    assert_within_entropic_bounds(&x, &y, exact.powi(2), epsilon, &result);
}

/// W2 (exact and sliced) is a metric: zero on the diagonal, symmetric, and the triangle
/// inequality holds on three random clouds (to rounding).
#[test]
fn exact_and_sliced_are_zero_on_the_diagonal_symmetric_and_satisfy_the_triangle_inequality() {
    let n = 60;
    let x = normal_cloud(n, 3, 1.0, 41);
    let y = normal_cloud(n, 3, 2.0, 42);
    let z = normal_cloud(n, 3, 0.5, 43);
    assert_eq!(wasserstein2_exact(&x, &x).unwrap(), 0.0);
    assert_eq!(sliced_wasserstein2(&x, &x, 32, 1).unwrap(), 0.0);
    assert_eq!(coupled_distance(&x, &x).unwrap(), 0.0);
    let exact = |a: &DMatrix<f64>, b: &DMatrix<f64>| wasserstein2_exact(a, b).unwrap();
    let sliced = |a: &DMatrix<f64>, b: &DMatrix<f64>| sliced_wasserstein2(a, b, 32, 1).unwrap();
    let (xy, yx) = (exact(&x, &y), exact(&y, &x));
    assert!((xy - yx).abs() <= 4.0 * n as f64 * EPS * xy);
    assert_eq!(sliced(&x, &y).to_bits(), sliced(&y, &x).to_bits());
    for distance in [&exact as &dyn Fn(&_, &_) -> f64, &sliced] {
        for (a, b, c) in [(&x, &y, &z), (&y, &z, &x), (&z, &x, &y)] {
            let (direct, via) = (distance(a, c), distance(a, b) + distance(b, c));
            assert!(direct <= via * (1.0 + 1e-12), "{direct} > {via}");
        }
    }
}

fn assert_invalid<T: std::fmt::Debug>(result: meanfield::Result<T>, mentions: &str) {
    match result {
        Err(error @ Error::Invalid { .. }) => {
            assert!(error.to_string().contains(mentions), "{error}");
        }
        other => panic!("expected an invalid-parameter error, got {other:?}"),
    }
}

#[test]
fn mismatched_sizes_dimensions_empty_clouds_too_many_points_and_nan_are_errors() {
    let x = normal_cloud(5, 2, 1.0, 1);
    let fewer = normal_cloud(4, 2, 1.0, 2);
    let wider = normal_cloud(5, 3, 1.0, 3);
    let empty = DMatrix::<f64>::zeros(0, 2);
    let pointless = DMatrix::<f64>::zeros(5, 0);
    let mut nan = x.clone();
    nan[(3, 1)] = f64::NAN;
    let mut infinite = x.clone();
    infinite[(0, 0)] = f64::INFINITY;

    assert_invalid(wasserstein2_exact(&x, &fewer), "number of points of y");
    assert_invalid(coupled_distance(&x, &fewer), "number of points of y");
    assert_invalid(wasserstein2_exact(&x, &wider), "dimension of y");
    assert_invalid(coupled_distance(&x, &wider), "dimension of y");
    assert_invalid(sliced_wasserstein2(&x, &wider, 4, 0), "dimension of y");
    assert_invalid(
        sinkhorn_wasserstein2(&x, &wider, 0.1, 1e-6, 10),
        "dimension of y",
    );
    let big = DMatrix::<f64>::zeros(MAX_EXACT + 1, 1);
    assert_invalid(wasserstein2_exact(&big, &big), "at most 4096");
    assert_invalid(wasserstein2_exact(&empty, &empty), "number of points of x");
    assert_invalid(coupled_distance(&x, &pointless), "dimension of y");
    assert_invalid(
        sliced_wasserstein2(&x, &empty, 4, 0),
        "number of points of y",
    );
    assert_invalid(
        sinkhorn_wasserstein2(&empty, &x, 0.1, 1e-6, 10),
        "number of points of x",
    );
    assert_invalid(wasserstein2_exact(&x, &nan), "y[(3, 1)] = NaN");
    assert_invalid(coupled_distance(&nan, &x), "x[(3, 1)] = NaN");
    assert_invalid(sliced_wasserstein2(&x, &nan, 4, 0), "y[(3, 1)] = NaN");
    assert_invalid(
        sinkhorn_wasserstein2(&infinite, &x, 0.1, 1e-6, 10),
        "x[(0, 0)] = inf",
    );
    assert_invalid(sliced_wasserstein2(&x, &x, 0, 0), "directions");
    assert_invalid(sinkhorn_wasserstein2(&x, &x, 0.0, 1e-6, 10), "epsilon");
    assert_invalid(sinkhorn_wasserstein2(&x, &x, f64::NAN, 1e-6, 10), "epsilon");
    assert_invalid(sinkhorn_wasserstein2(&x, &x, 0.1, -1.0, 10), "tolerance");
    assert_invalid(
        sinkhorn_wasserstein2(&x, &x, 0.1, 1e-6, 0),
        "max_iterations",
    );
    // Finite coordinates whose squared distance overflows.
    let huge = DMatrix::from_row_slice(2, 1, &[1e200, -1e200]);
    assert_invalid(
        wasserstein2_exact(&huge, &x.columns(0, 1).rows(0, 2).into_owned()),
        "|x_",
    );
}

#[test]
fn sliced_sinkhorn_and_exact_are_bit_identical_on_one_and_two_threads() {
    let x = normal_cloud(400, 4, 1.0, 51);
    let y = normal_cloud(300, 4, 1.2, 52);
    let on = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                (
                    sliced_wasserstein2(&x, &y, 97, 5).unwrap(),
                    sinkhorn_wasserstein2(&x, &y, 0.1, 1e-6, 10_000).unwrap(),
                    wasserstein2_exact(&x.rows(0, 300).into_owned(), &y).unwrap(),
                )
            })
    };
    let (one, two) = (on(1), on(2));
    assert_eq!(one.0.to_bits(), two.0.to_bits());
    assert_eq!(one.1.distance.to_bits(), two.1.distance.to_bits());
    assert_eq!(one.1.iterations, two.1.iterations);
    assert_eq!(one.2.to_bits(), two.2.to_bits());
}
