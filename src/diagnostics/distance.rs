//! Distances between two clouds of points, each point a row of a matrix (for particles,
//! m x (1 + d)), seen as uniform empirical measures (docs/math.md section 6):
//!
//! - [`wasserstein2_exact`]: W2 between clouds of equal size, an optimal assignment solved
//!   exactly (shortest augmenting paths, O(n^3) time, O(n^2) memory);
//! - [`sinkhorn_wasserstein2`]: entropic W2 by log-domain Sinkhorn, any sizes, biased upward
//!   by O(epsilon);
//! - [`sliced_wasserstein2`]: SW2 = sqrt(mean over random unit directions theta of W2^2 of the
//!   projections theta . x), each one-dimensional W2 a sort;
//! - [`coupled_distance`]: the root-mean-square distance between paired particles.
//!
//! Beware: W2 between two independent samples of m points of one law in dimension D decays only
//! like m^(-1/D), which hides the m^(-1/2) fluctuations of the dynamics when D is large. To
//! compare a finite-m run with its limit, prefer the coupled distance to reference particles
//! started from the same draws, reported beside the sliced W2.
//!
//! Every result is a pure function of the inputs (and of the seed for the sliced distance):
//! parallel work is split into fixed pieces whose partial results are combined in index order,
//! so the thread count never changes a bit.

use nalgebra::DMatrix;
use rand::RngExt;
use rand_distr::StandardNormal;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::math::reduce::ordered_sum;
use crate::random::{Purpose, stream};

/// Largest cloud for the exact assignment (O(n^3) time, O(n^2) memory): 4096.
pub const MAX_EXACT: usize = 4096;

/// Columns handled by one task of the column-wise Sinkhorn update (a fixed width, so the
/// work split never depends on the thread count).
const COLUMN_BLOCK: usize = 64;

/// Exact W2 between two clouds of equal size n with uniform weights:
/// sqrt(min over permutations sigma of mean_j |x_j - y_sigma(j)|^2).
///
/// The optimal permutation is found by shortest augmenting paths with dual potentials (the
/// Hungarian method in the Jonker-Volgenant form) on the n x n matrix of squared distances:
/// O(n^3) time in the worst case and O(n^2) memory (128 MiB at [`MAX_EXACT`] points).
///
/// # Errors
///
/// [`Error::Invalid`] if the clouds differ in size or dimension, are empty, hold a non-finite
/// coordinate or a squared distance that overflows, or have more than [`MAX_EXACT`] points.
///
/// # Example
///
/// ```
/// # use nalgebra::DMatrix;
/// # use meanfield::diagnostics::distance::wasserstein2_exact;
/// let x = DMatrix::from_row_slice(2, 1, &[0.0, 1.0]);
/// let y = DMatrix::from_row_slice(2, 1, &[3.0, 2.0]);
/// // The optimal assignment pairs 0 with 2 and 1 with 3: each moves by 2.
/// assert!((wasserstein2_exact(&x, &y)? - 2.0).abs() < 1e-15);
/// # Ok::<(), meanfield::Error>(())
/// ```
pub fn wasserstein2_exact(x: &DMatrix<f64>, y: &DMatrix<f64>) -> Result<f64> {
    check_equal_clouds(x, y, "the exact assignment")?;
    let n = x.nrows();
    if n > MAX_EXACT {
        return Err(Error::invalid(
            "number of points",
            n,
            format!("at most {MAX_EXACT} for the exact assignment"),
        ));
    }
    let cost = cost_matrix(x, y)?;
    let column_of_row = optimal_assignment(&cost, n)?;
    let total: f64 = column_of_row
        .iter()
        .enumerate()
        .map(|(row, &column)| cost[row * n + column])
        .sum();
    Ok((total / n as f64).sqrt())
}

/// Sliced W2 (docs/math.md section 6): sqrt(mean over `directions` random unit directions theta_k
/// of W2^2 between the projections theta_k . x_i and theta_k . y_j).
///
/// Direction k is a vector of standard normals drawn from
/// `stream(seed, Purpose::Directions, 0, k)`, divided by its norm, so the result depends only
/// on (x, y, directions, seed), never on the thread count. Each one-dimensional W2 is a sort:
/// for equal sizes the mean squared difference of matched order statistics; for unequal sizes
/// the exact integral over [0, 1] of the squared difference of the two step quantile
/// functions. The sliced distance never exceeds the exact W2 (projections are 1-Lipschitz).
/// Cost O(directions (n1 + n2) (D + log n)).
///
/// # Errors
///
/// [`Error::Invalid`] if a cloud is empty or holds a non-finite coordinate, the dimensions
/// differ, or `directions` is 0.
///
/// # Example
///
/// ```
/// # use nalgebra::DMatrix;
/// # use meanfield::diagnostics::distance::sliced_wasserstein2;
/// let x = DMatrix::from_row_slice(3, 2, &[0.0, 0.0, 1.0, 0.0, 0.0, 1.0]);
/// // Every direction sees the same projections: the distance to itself is 0.
/// assert_eq!(sliced_wasserstein2(&x, &x, 16, 7)?, 0.0);
/// # Ok::<(), meanfield::Error>(())
/// ```
pub fn sliced_wasserstein2(
    x: &DMatrix<f64>,
    y: &DMatrix<f64>,
    directions: usize,
    seed: u64,
) -> Result<f64> {
    check_cloud("x", x)?;
    check_cloud("y", y)?;
    check_dimensions(x, y)?;
    if directions == 0 {
        return Err(Error::invalid("directions", 0, "at least 1"));
    }
    let dimension = x.ncols();
    let squares: Vec<f64> = (0..directions)
        .into_par_iter()
        .map_init(
            || (Vec::new(), Vec::new()),
            |(x_projection, y_projection), k| {
                let theta = direction(seed, k as u64, dimension);
                project_sorted(x, &theta, x_projection);
                project_sorted(y, &theta, y_projection);
                wasserstein2_squared_sorted(x_projection, y_projection)
            },
        )
        .collect();
    let total: f64 = squares.iter().sum(); // in direction order
    Ok((total / directions as f64).sqrt())
}

/// Result of entropic optimal transport ([`sinkhorn_wasserstein2`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sinkhorn {
    /// sqrt(<P, C>): the root-mean transport cost of the entropic plan P.
    pub distance: f64,
    /// Sinkhorn iterations done (one update of both potentials each).
    pub iterations: usize,
    /// Whether the marginal error fell below the tolerance.
    pub converged: bool,
    /// L1 error of the row marginal of P, sum_i |sum_j P_ij - 1/n1| (the column marginal is
    /// exact to rounding, the last update being that of the column potential).
    pub marginal_error: f64,
}

/// Entropic W2 between uniform clouds (sizes may differ) by log-domain Sinkhorn.
///
/// The regularisation is relative: eps = `epsilon` * mean_ij C_ij with C_ij = |x_i - y_j|^2.
/// The plan P_ij = exp((f_i + g_j - C_ij) / eps) / (n1 n2) has dual potentials updated in
/// turn by log-sum-exp with max subtraction, so no exponential overflows whatever eps.
/// Iterations (f from g, then g from f) continue until the L1 marginal error is below
/// `tolerance` or `max_iterations` are done. Returns sqrt(<P, C>). (Epsilon-scaling, one
/// iteration per halving of eps from max C_ij, was tried and did not reduce the iteration
/// count on Gaussian clouds at epsilon = 0.1, 0.01, 0.001, so it is not used.)
///
/// The entropic plan is a coupling (up to the marginal error), so sqrt(<P, C>) is biased
/// upward: W2^2 <= <P, C> <= W2^2 + eps ln(min(n1, n2)) (entropy bounds), and it converges to
/// W2 as `epsilon` -> 0 (at the price of more iterations, about proportional to 1/epsilon).
/// A marginal error e moves <P, C> by at most e max C_ij.
///
/// Memory: the n1 x n2 cost matrix is stored (8 n1 n2 bytes: 800 MB at 10^4 x 10^4).
/// Time: O(n1 n2 (D + iterations)) exponentials, rows (then fixed blocks of columns) in
/// parallel with a fixed per-row order, so the result does not depend on the thread count.
///
/// # Errors
///
/// [`Error::Invalid`] if a cloud is empty or holds a non-finite coordinate, the dimensions
/// differ, a squared distance overflows, `epsilon` or `tolerance` is not finite and positive,
/// or `max_iterations` is 0.
///
/// # Example
///
/// ```
/// # use nalgebra::DMatrix;
/// # use meanfield::diagnostics::distance::sinkhorn_wasserstein2;
/// let x = DMatrix::from_row_slice(2, 1, &[0.0, 1.0]);
/// let y = DMatrix::from_row_slice(3, 1, &[0.0, 1.0, 2.0]);
/// let result = sinkhorn_wasserstein2(&x, &y, 1e-3, 1e-9, 10_000)?;
/// // W2^2 = 1/2 between the quantile functions; the bias is at most eps ln 2.
/// assert!(result.converged);
/// assert!((result.distance.powi(2) - 0.5).abs() < 1e-3 * (10.0 / 6.0) * 2f64.ln() + 1e-6);
/// # Ok::<(), meanfield::Error>(())
/// ```
pub fn sinkhorn_wasserstein2(
    x: &DMatrix<f64>,
    y: &DMatrix<f64>,
    epsilon: f64,
    tolerance: f64,
    max_iterations: usize,
) -> Result<Sinkhorn> {
    check_cloud("x", x)?;
    check_cloud("y", y)?;
    check_dimensions(x, y)?;
    if !(epsilon.is_finite() && epsilon > 0.0) {
        return Err(Error::invalid("epsilon", epsilon, "a finite number > 0"));
    }
    if !(tolerance.is_finite() && tolerance > 0.0) {
        return Err(Error::invalid(
            "tolerance",
            tolerance,
            "a finite number > 0",
        ));
    }
    if max_iterations == 0 {
        return Err(Error::invalid("max_iterations", 0, "at least 1"));
    }
    let cost = cost_matrix(x, y)?;
    let problem = EntropicProblem {
        cost: &cost,
        rows: x.nrows(),
        columns: y.nrows(),
    };
    let mean_cost = ordered_sum(cost.len(), |k| cost[k]) / cost.len() as f64;
    if mean_cost <= 0.0 {
        // Every point of both clouds coincides: the only coupling costs nothing.
        return Ok(Sinkhorn {
            distance: 0.0,
            iterations: 0,
            converged: true,
            marginal_error: 0.0,
        });
    }
    let solution = problem.solve(epsilon * mean_cost, tolerance, max_iterations);
    let transport_cost = problem.transport_cost(&solution);
    Ok(Sinkhorn {
        distance: transport_cost.max(0.0).sqrt(),
        iterations: solution.iterations,
        converged: solution.converged,
        marginal_error: solution.marginal_error,
    })
}

/// Coupled distance between paired particles: sqrt(mean_j |x_j - y_j|^2), row j of `x`
/// paired with row j of `y` (docs/math.md section 6: reference particles started from the same
/// draws). Cost O(n D), summed in fixed chunks in index order.
///
/// # Errors
///
/// [`Error::Invalid`] if the shapes differ, the clouds are empty or a coordinate is not
/// finite.
pub fn coupled_distance(x: &DMatrix<f64>, y: &DMatrix<f64>) -> Result<f64> {
    check_equal_clouds(x, y, "paired particles")?;
    let total = ordered_sum(x.nrows(), |j| {
        (0..x.ncols())
            .map(|c| (x[(j, c)] - y[(j, c)]).powi(2))
            .sum::<f64>()
    });
    Ok((total / x.nrows() as f64).sqrt())
}

/// Both clouds valid, of the same dimension and the same number of points (needed for `purpose`).
fn check_equal_clouds(x: &DMatrix<f64>, y: &DMatrix<f64>, purpose: &str) -> Result<()> {
    check_cloud("x", x)?;
    check_cloud("y", y)?;
    check_dimensions(x, y)?;
    if x.nrows() != y.nrows() {
        return Err(Error::invalid(
            "number of points of y",
            y.nrows(),
            format!("{} (that of x) for {purpose}", x.nrows()),
        ));
    }
    Ok(())
}

/// Checks that a cloud has points, coordinates, and only finite values.
fn check_cloud(name: &str, cloud: &DMatrix<f64>) -> Result<()> {
    if cloud.nrows() == 0 {
        return Err(Error::invalid(
            format!("number of points of {name}"),
            0,
            "at least 1",
        ));
    }
    if cloud.ncols() == 0 {
        return Err(Error::invalid(
            format!("dimension of {name}"),
            0,
            "at least 1",
        ));
    }
    if let Some(k) = cloud.iter().position(|value| !value.is_finite()) {
        let (row, column) = (k % cloud.nrows(), k / cloud.nrows());
        return Err(Error::invalid(
            format!("{name}[({row}, {column})]"),
            cloud[(row, column)],
            "a finite number",
        ));
    }
    Ok(())
}

fn check_dimensions(x: &DMatrix<f64>, y: &DMatrix<f64>) -> Result<()> {
    if x.ncols() == y.ncols() {
        Ok(())
    } else {
        Err(Error::invalid(
            "dimension of y",
            y.ncols(),
            format!("{} (that of x)", x.ncols()),
        ))
    }
}

/// The row-major n1 x n2 matrix C_ij = |x_i - y_j|^2, rows in parallel.
fn cost_matrix(x: &DMatrix<f64>, y: &DMatrix<f64>) -> Result<Vec<f64>> {
    let x_rows = row_major(x);
    let y_rows = row_major(y);
    let dimension = x.ncols();
    let columns = y.nrows();
    let mut cost = vec![0.0; x.nrows() * columns];
    cost.par_chunks_mut(columns)
        .zip(x_rows.par_chunks(dimension))
        .for_each(|(cost_row, point)| {
            for (entry, other) in cost_row.iter_mut().zip(y_rows.chunks_exact(dimension)) {
                *entry = point
                    .iter()
                    .zip(other)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
            }
        });
    if let Some(k) = cost.iter().position(|c| !c.is_finite()) {
        return Err(Error::invalid(
            format!("|x_{} - y_{}|^2", k / columns, k % columns),
            cost[k],
            "a finite number (coordinates below about 1e150)",
        ));
    }
    Ok(cost)
}

/// The points of a cloud one after the other (row-major copy of the column-major matrix).
fn row_major(cloud: &DMatrix<f64>) -> Vec<f64> {
    cloud.transpose().as_slice().to_vec()
}

/// Marker of a column not yet assigned to a row.
const UNASSIGNED: usize = usize::MAX;

/// Minimum-cost perfect assignment of the square row-major `cost` (n x n, finite): returns the
/// column of each row. Shortest augmenting paths from each new row, Dijkstra-like on reduced
/// costs with dual potentials u (rows) and v (columns); unscanned columns are kept in a
/// compact list, and ties prefer a free column so that paths end early. After each
/// augmentation the potentials stay dual-feasible (reduced costs >= 0 up to rounding) and tight
/// on assigned pairs, which certifies optimality at the end.
fn optimal_assignment(cost: &[f64], n: usize) -> Result<Vec<usize>> {
    let mut row_potential = vec![0.0; n];
    let mut column_potential = vec![0.0; n];
    let mut column_of_row = vec![UNASSIGNED; n];
    let mut row_of_column = vec![UNASSIGNED; n];
    let mut predecessor = vec![0usize; n];
    let mut path_cost = vec![f64::INFINITY; n];
    let mut row_scanned = vec![false; n];
    let mut column_scanned = vec![false; n];
    let mut unscanned: Vec<usize> = Vec::with_capacity(n);

    for start in 0..n {
        path_cost.fill(f64::INFINITY);
        row_scanned.fill(false);
        column_scanned.fill(false);
        unscanned.clear();
        unscanned.extend((0..n).rev());

        let mut row = start;
        let mut shortest = 0.0;
        let sink = loop {
            row_scanned[row] = true;
            let base = shortest - row_potential[row];
            let cost_row = &cost[row * n..(row + 1) * n];
            let mut lowest = f64::INFINITY;
            let mut lowest_at = UNASSIGNED;
            for (at, &column) in unscanned.iter().enumerate() {
                let reduced = base + cost_row[column] - column_potential[column];
                if reduced < path_cost[column] {
                    predecessor[column] = row;
                    path_cost[column] = reduced;
                }
                let candidate = path_cost[column];
                if candidate < lowest
                    || (candidate <= lowest && row_of_column[column] == UNASSIGNED)
                {
                    lowest = candidate;
                    lowest_at = at;
                }
            }
            if lowest_at == UNASSIGNED || !lowest.is_finite() {
                return Err(Error::invalid(
                    "squared distances",
                    "no finite assignment",
                    "finite costs",
                ));
            }
            shortest = lowest;
            let column = unscanned.swap_remove(lowest_at);
            column_scanned[column] = true;
            if row_of_column[column] == UNASSIGNED {
                break column;
            }
            row = row_of_column[column];
        };

        row_potential[start] += shortest;
        for other in 0..n {
            if row_scanned[other] && other != start {
                row_potential[other] += shortest - path_cost[column_of_row[other]];
            }
        }
        for column in 0..n {
            if column_scanned[column] {
                column_potential[column] -= shortest - path_cost[column];
            }
        }
        let mut column = sink;
        loop {
            let row = predecessor[column];
            row_of_column[column] = row;
            let previous = std::mem::replace(&mut column_of_row[row], column);
            if row == start {
                break;
            }
            column = previous;
        }
    }
    Ok(column_of_row)
}

/// Unit direction k of the sliced distance: standard normals from
/// `stream(seed, Purpose::Directions, 0, k)` divided by their norm.
fn direction(seed: u64, k: u64, dimension: usize) -> Vec<f64> {
    let mut rng = stream(seed, Purpose::Directions, 0, k);
    let mut theta: Vec<f64> = (0..dimension)
        .map(|_| rng.sample::<f64, _>(StandardNormal))
        .collect();
    let norm = theta.iter().map(|t| t * t).sum::<f64>().sqrt();
    if norm > 0.0 {
        theta.iter_mut().for_each(|t| *t /= norm);
    } else {
        // All draws exactly zero (probability 0): fall back to the first axis.
        theta.iter_mut().for_each(|t| *t = 0.0);
        theta[0] = 1.0;
    }
    theta
}

/// Writes the sorted projections theta . x_i of the rows of `cloud` into `projection`.
fn project_sorted(cloud: &DMatrix<f64>, theta: &[f64], projection: &mut Vec<f64>) {
    let n = cloud.nrows();
    projection.clear();
    projection.resize(n, 0.0);
    for (column, weight) in cloud.as_slice().chunks_exact(n).zip(theta) {
        for (value, coordinate) in projection.iter_mut().zip(column) {
            *value += coordinate * weight;
        }
    }
    projection.sort_unstable_by(f64::total_cmp);
}

/// W2^2 between the uniform measures on the sorted values `a` and `b`: the integral over
/// [0, 1] of (F_a^-1(t) - F_b^-1(t))^2 for the step quantile functions
/// F_a^-1(t) = a_i on ((i/n_a), (i + 1)/n_a]. The breakpoints i/n_a and j/n_b are merged on
/// the exact integer grid of step 1/(n_a n_b).
fn wasserstein2_squared_sorted(a: &[f64], b: &[f64]) -> f64 {
    if a.len() == b.len() {
        let total: f64 = a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum();
        return total / a.len() as f64;
    }
    let (size_a, size_b) = (a.len() as u128, b.len() as u128);
    let (mut i, mut j) = (0usize, 0usize);
    let mut position = 0u128;
    let mut total = 0.0;
    while i < a.len() && j < b.len() {
        let end_a = (i as u128 + 1) * size_b;
        let end_b = (j as u128 + 1) * size_a;
        let end = end_a.min(end_b);
        total += (end - position) as f64 * (a[i] - b[j]) * (a[i] - b[j]);
        position = end;
        if end_a == end {
            i += 1;
        }
        if end_b == end {
            j += 1;
        }
    }
    total / (size_a * size_b) as f64
}

/// The uniform entropic transport problem between n1 = `rows` and n2 = `columns` points.
struct EntropicProblem<'a> {
    /// Row-major n1 x n2 squared distances.
    cost: &'a [f64],
    rows: usize,
    columns: usize,
}

/// Dual potentials of an entropic plan and how they were reached.
struct EntropicSolution {
    /// Row potentials f.
    f: Vec<f64>,
    /// Column potentials g.
    g: Vec<f64>,
    /// The absolute regularisation eps.
    regularisation: f64,
    iterations: usize,
    converged: bool,
    marginal_error: f64,
}

impl EntropicProblem<'_> {
    /// Sinkhorn iterations at regularisation eps from zero potentials, until the row-marginal
    /// L1 error is below `tolerance` or `max_iterations` iterations are done. The last update is that of g,
    /// so the column marginal is exact to rounding.
    fn solve(
        &self,
        regularisation: f64,
        tolerance: f64,
        max_iterations: usize,
    ) -> EntropicSolution {
        let mut f = vec![0.0; self.rows];
        let mut g = vec![0.0; self.columns];
        let mut next_f = vec![0.0; self.rows];
        let mut iterations = 0;

        self.update_rows(&g, regularisation, &mut f);
        let (converged, marginal_error) = loop {
            self.update_columns(&f, regularisation, &mut g);
            iterations += 1;
            // The next row update yields the row sums of the current plan for free:
            // sum_j P_ij = exp((f_i - f_next_i) / eps) / n1.
            self.update_rows(&g, regularisation, &mut next_f);
            let error = f
                .iter()
                .zip(&next_f)
                .map(|(old, new)| ((old - new) / regularisation).exp_m1().abs())
                .sum::<f64>()
                / self.rows as f64;
            if error < tolerance {
                break (true, error);
            }
            if iterations >= max_iterations {
                break (false, error);
            }
            std::mem::swap(&mut f, &mut next_f);
        };
        EntropicSolution {
            f,
            g,
            regularisation,
            iterations,
            converged,
            marginal_error,
        }
    }

    #[cfg(test)]
    /// The plan entry P_ij = exp((f_i + g_j - C_ij) / eps) / (n1 n2).
    fn plan(&self, solution: &EntropicSolution, i: usize, j: usize) -> f64 {
        let exponent = (solution.f[i] + solution.g[j] - self.cost[i * self.columns + j])
            / solution.regularisation;
        exponent.exp() / (self.rows * self.columns) as f64
    }

    /// f_i = -eps ln( sum_j exp((g_j - C_ij) / eps) / n2 ), each row in parallel.
    fn update_rows(&self, g: &[f64], regularisation: f64, f: &mut [f64]) {
        let inverse = 1.0 / regularisation;
        let log_weight = -(self.columns as f64).ln();
        f.par_iter_mut()
            .zip(self.cost.par_chunks(self.columns))
            .for_each(|(potential, cost_row)| {
                let largest = cost_row
                    .iter()
                    .zip(g)
                    .map(|(c, g_j)| (g_j - c) * inverse)
                    .fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = cost_row
                    .iter()
                    .zip(g)
                    .map(|(c, g_j)| ((g_j - c) * inverse - largest).exp())
                    .sum();
                *potential = -regularisation * (largest + sum.ln() + log_weight);
            });
    }

    /// g_j = -eps ln( sum_i exp((f_i - C_ij) / eps) / n1 ), fixed blocks of columns in
    /// parallel, each block reading the rows in order (contiguous in the row-major costs).
    fn update_columns(&self, f: &[f64], regularisation: f64, g: &mut [f64]) {
        let inverse = 1.0 / regularisation;
        let log_weight = -(self.rows as f64).ln();
        let columns = self.columns;
        g.par_chunks_mut(COLUMN_BLOCK)
            .enumerate()
            .for_each(|(block, potentials)| {
                let first = block * COLUMN_BLOCK;
                let width = potentials.len();
                let block_of =
                    |i: usize| &self.cost[i * columns + first..i * columns + first + width];
                let mut largest = [f64::NEG_INFINITY; COLUMN_BLOCK];
                for (i, f_i) in f.iter().enumerate() {
                    for (top, c) in largest.iter_mut().zip(block_of(i)) {
                        *top = top.max((f_i - c) * inverse);
                    }
                }
                let mut sum = [0.0; COLUMN_BLOCK];
                for (i, f_i) in f.iter().enumerate() {
                    for ((total, top), c) in sum.iter_mut().zip(&largest).zip(block_of(i)) {
                        *total += ((f_i - c) * inverse - top).exp();
                    }
                }
                for ((potential, top), total) in potentials.iter_mut().zip(&largest).zip(&sum) {
                    *potential = -regularisation * (top + total.ln() + log_weight);
                }
            });
    }

    /// <P, C> = sum_ij exp((f_i + g_j - C_ij) / eps) C_ij / (n1 n2): rows in parallel, the
    /// row totals summed in order.
    fn transport_cost(&self, solution: &EntropicSolution) -> f64 {
        let inverse = 1.0 / solution.regularisation;
        let g = &solution.g;
        let row_totals: Vec<f64> = solution
            .f
            .par_iter()
            .zip(self.cost.par_chunks(self.columns))
            .map(|(f_i, cost_row)| {
                cost_row
                    .iter()
                    .zip(g)
                    .map(|(c, g_j)| ((f_i + g_j - c) * inverse).exp() * c)
                    .sum::<f64>()
            })
            .collect();
        row_totals.iter().sum::<f64>() / (self.rows * self.columns) as f64
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]
    use super::*;

    /// A cloud of n points in `dimension` dimensions with standard normal coordinates.
    fn normal_cloud(n: usize, dimension: usize, seed: u64) -> DMatrix<f64> {
        let mut rng = stream(seed, Purpose::Init, 0, 0);
        DMatrix::from_fn(n, dimension, |_, _| rng.sample::<f64, _>(StandardNormal))
    }

    /// Minimum over all n! permutations of sum_j |x_j - y_sigma(j)|^2 / n (Heap's algorithm).
    fn brute_force_w2_squared(x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
        let n = x.nrows();
        let cost = cost_matrix(x, y).unwrap();
        let mut permutation: Vec<usize> = (0..n).collect();
        let value = |p: &[usize]| {
            p.iter()
                .enumerate()
                .map(|(i, &j)| cost[i * n + j])
                .sum::<f64>()
        };
        let mut best = value(&permutation);
        let mut counters = vec![0; n];
        let mut i = 0;
        while i < n {
            if counters[i] < i {
                if i % 2 == 0 {
                    permutation.swap(0, i);
                } else {
                    permutation.swap(counters[i], i);
                }
                best = best.min(value(&permutation));
                counters[i] += 1;
                i = 0;
            } else {
                counters[i] = 0;
                i += 1;
            }
        }
        best / n as f64
    }

    /// The assignment is optimal: its cost equals the minimum over all permutations (to the
    /// rounding of summing n costs in another order, 8 n eps times the total).
    #[test]
    fn exact_assignment_matches_brute_force_over_all_permutations() {
        for n in 1..=7 {
            for seed in 0..6 {
                let dimension = 1 + (seed as usize % 3);
                let x = normal_cloud(n, dimension, 100 * n as u64 + seed);
                let y = normal_cloud(n, dimension, 100 * n as u64 + seed + 50);
                let brute = brute_force_w2_squared(&x, &y);
                let exact = wasserstein2_exact(&x, &y).unwrap().powi(2);
                assert!(
                    (exact - brute).abs() <= 8.0 * n as f64 * f64::EPSILON * brute,
                    "n = {n}, seed = {seed}: {exact} against {brute}"
                );
            }
        }
    }

    /// Random integer costs produce many ties; the assignment must still be a permutation
    /// of minimal cost.
    #[test]
    fn exact_assignment_with_ties_is_a_minimal_permutation() {
        for seed in 0..10 {
            let mut rng = stream(seed, Purpose::Init, 0, 1);
            let x = DMatrix::from_fn(7, 1, |_, _| f64::from(rng.random_range(0..3u8)));
            let y = DMatrix::from_fn(7, 1, |_, _| f64::from(rng.random_range(0..3u8)));
            let cost = cost_matrix(&x, &y).unwrap();
            let assignment = optimal_assignment(&cost, 7).unwrap();
            let mut seen = assignment.clone();
            seen.sort_unstable();
            assert_eq!(seen, (0..7).collect::<Vec<_>>());
            let total: f64 = assignment
                .iter()
                .enumerate()
                .map(|(i, &j)| cost[i * 7 + j])
                .sum();
            assert_eq!(total / 7.0, brute_force_w2_squared(&x, &y));
        }
    }

    /// Quantile functions of {0, 1} and {0, 1, 2}: they differ by 1 on (1/3, 1/2] and on
    /// (2/3, 1], so W2^2 = 1/6 + 1/3 = 1/2.
    #[test]
    fn one_dimensional_w2_of_unequal_sizes_integrates_the_quantile_functions() {
        let value = wasserstein2_squared_sorted(&[0.0, 1.0], &[0.0, 1.0, 2.0]);
        assert!((value - 0.5).abs() <= 4.0 * f64::EPSILON, "{value}");
        let swapped = wasserstein2_squared_sorted(&[0.0, 1.0, 2.0], &[0.0, 1.0]);
        assert_eq!(value.to_bits(), swapped.to_bits());
    }

    /// Repeating each point of a (size n1) n2 times and each point of b (size n2) n1 times
    /// leaves the measures unchanged and makes the sizes equal: the merged integral equals
    /// the matched order statistics of the repeated values.
    #[test]
    fn one_dimensional_w2_of_unequal_sizes_equals_that_of_repeated_points() {
        let mut a: Vec<f64> = normal_cloud(7, 1, 3).iter().copied().collect();
        let mut b: Vec<f64> = normal_cloud(5, 1, 4)
            .iter()
            .map(|v| 2.0 * v + 1.0)
            .collect();
        a.sort_unstable_by(f64::total_cmp);
        b.sort_unstable_by(f64::total_cmp);
        let repeat = |v: &[f64], times: usize| -> Vec<f64> {
            v.iter()
                .flat_map(|&p| std::iter::repeat_n(p, times))
                .collect()
        };
        let merged = wasserstein2_squared_sorted(&a, &b);
        let matched = wasserstein2_squared_sorted(&repeat(&a, 5), &repeat(&b, 7));
        assert!((merged - matched).abs() <= 64.0 * f64::EPSILON * matched);
    }

    #[test]
    fn sliced_directions_are_unit_vectors() {
        for k in 0..50 {
            let theta = direction(9, k, 5);
            let norm_squared: f64 = theta.iter().map(|t| t * t).sum();
            assert!((norm_squared - 1.0).abs() <= 8.0 * f64::EPSILON);
        }
    }

    /// The marginal error reported is that of the plan returned: the row and column sums of
    /// P recomputed entry by entry, at a loose tolerance where the error is still visible.
    /// The column sums are exact up to the rounding of n1 exponentials.
    #[test]
    fn sinkhorn_reports_the_marginal_error_of_its_plan() {
        let x = normal_cloud(40, 2, 11);
        let y = normal_cloud(30, 2, 12);
        let cost = cost_matrix(&x, &y).unwrap();
        let problem = EntropicProblem {
            cost: &cost,
            rows: 40,
            columns: 30,
        };
        let mean_cost = cost.iter().sum::<f64>() / cost.len() as f64;
        for (tolerance, max_iterations) in [(1e-3, 1000), (1e-14, 3)] {
            let solution = problem.solve(0.05 * mean_cost, tolerance, max_iterations);
            let row_error: f64 = (0..40)
                .map(|i| {
                    ((0..30).map(|j| problem.plan(&solution, i, j)).sum::<f64>() - 1.0 / 40.0).abs()
                })
                .sum();
            let column_error: f64 = (0..30)
                .map(|j| {
                    ((0..40).map(|i| problem.plan(&solution, i, j)).sum::<f64>() - 1.0 / 30.0).abs()
                })
                .sum();
            assert!(
                (row_error - solution.marginal_error).abs() <= 1e-12,
                "{row_error} against {}",
                solution.marginal_error
            );
            assert!(column_error <= 1e-12, "{column_error}");
            assert_eq!(solution.converged, solution.marginal_error < tolerance);
            assert!(solution.iterations <= max_iterations);
        }
    }

    /// At a loose tolerance the iterations stop with the error just below it; with three
    /// iterations allowed they stop unconverged.
    #[test]
    fn sinkhorn_stops_at_tolerance_or_at_the_iteration_limit() {
        let x = normal_cloud(40, 2, 11);
        let y = normal_cloud(30, 2, 12);
        let loose = sinkhorn_wasserstein2(&x, &y, 0.05, 1e-3, 1000).unwrap();
        assert!(loose.converged && loose.marginal_error < 1e-3);
        let stopped = sinkhorn_wasserstein2(&x, &y, 0.05, 1e-14, 3).unwrap();
        assert!(!stopped.converged);
        assert_eq!(stopped.iterations, 3);
        assert!(stopped.marginal_error >= 1e-14);
    }
}
