//! A plain reference for the risk and its gradient, written straight from docs/math.md sections 3
//! and 4 with no tiling, no SIMD lanes and no matrix products, and the self-check of
//! `meanfield bench` that compares the optimised gradient ([`RiskMode::evaluate`]) with it.
//!
//! - Population mode: for a row j, dR/da_j = m^-alpha [m^-alpha sum_l a_l K(w_j, w_l) - V(w_j)]
//!   and dR/dw_j = m^-alpha a_j [m^-alpha sum_l a_l grad_1 K(w_j, w_l) - grad V(w_j)], pair by
//!   pair with [`PairKernel::terms`] (the self pair with w_j . w_j := |w_j|^2 exactly), and
//!   V(w) = (1/k) sum_i a*_i K(w, w*_i).
//! - Data modes: f(x_i) for every sample (the double sum of [`Network::output`]),
//!   r_i = y_i - f(x_i), then
//!   dR/da_j = -m^-alpha mean_i[r_i sigma(w_j . x_i)] and
//!   dR/dw_j = -m^-alpha a_j mean_i[r_i sigma'(w_j . x_i) x_i], sample by sample.
//!
//! Only a few rows are checked ([`check_rows`]), so the reference costs O(rows m d) in
//! population mode and O(n m d) (the forward pass) in data mode, far less than the timed steps.
//! Every sum runs in index order; the forward pass is spread over samples with rayon, each
//! sample summed alone, so the reference does not depend on the number of threads.
//!
//! [`RiskMode::evaluate`]: crate::task::RiskMode::evaluate

use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::math::{Network, PairKernel};
use crate::task::{DataSet, Target, Teacher};

/// Rows compared by the self-check of `meanfield bench`.
pub const CHECKED_ROWS: usize = 64;

/// Tolerance of the self-check: |g - g_ref| <= 1e-12 * (max |g_ref| over the checked rows of
/// that column). Both sides sum the same terms in different orders (tiles, lanes of 8, matrix
/// products), which changes the result by a few units of rounding times the number of terms,
/// about 1e-14 of the column's scale for m or n up to 1e5.
pub const CHECK_TOLERANCE: f64 = 1e-12;

/// Up to [`CHECKED_ROWS`] distinct rows spread evenly over 0..m, the first and the last
/// included (every row when m <= 64), in increasing order.
///
/// ```
/// # use meanfield::bench::check_rows;
/// assert_eq!(check_rows(3), vec![0, 1, 2]);
/// let rows = check_rows(10_000);
/// assert_eq!((rows.len(), rows[0], rows[63]), (64, 0, 9_999));
/// ```
pub fn check_rows(m: usize) -> Vec<usize> {
    if m <= CHECKED_ROWS {
        return (0..m).collect();
    }
    let last = (m - 1) as f64;
    let steps = (CHECKED_ROWS - 1) as f64;
    let mut rows: Vec<usize> = (0..CHECKED_ROWS)
        .map(|i| (i as f64 * last / steps).round() as usize)
        .collect();
    rows.dedup();
    rows
}

/// w_j as a vector (columns 1..=d of row j).
fn row_w(theta: &DMatrix<f64>, j: usize) -> Vec<f64> {
    (1..theta.ncols()).map(|c| theta[(j, c)]).collect()
}

/// u . v in index order.
fn dot(u: &[f64], v: &[f64]) -> f64 {
    u.iter().zip(v).map(|(x, y)| x * y).sum()
}

/// The teacher's rows (a*_i / k, w*_i), with |w*_i|^2.
fn teacher_rows(teacher: &Teacher) -> Vec<(f64, Vec<f64>, f64)> {
    let star = teacher.matrix();
    let k = star.nrows() as f64;
    (0..star.nrows())
        .map(|i| {
            let w = row_w(star, i);
            let norm = dot(&w, &w);
            (star[(i, 0)] / k, w, norm)
        })
        .collect()
}

fn check_teacher(teacher: &Teacher, theta: &DMatrix<f64>) -> Result<()> {
    let (teacher_d, d) = (teacher.matrix().ncols() - 1, theta.ncols() - 1);
    if teacher_d != d {
        return Err(Error::invalid(
            "teacher d",
            teacher_d,
            format!("the student's d = {d}"),
        ));
    }
    Ok(())
}

/// The exact population risk R = 1/2 [E f*^2 + s^2 - 2 E[f f*] + E[f^2]] (docs/math.md section 3),
/// as plain double sums over pairs of particles and teacher neurons: O(m^2 d).
///
/// # Errors
/// [`Error::Invalid`] if the teacher's d differs from the particles'.
pub fn population_risk(network: &Network, teacher: &Teacher, theta: &DMatrix<f64>) -> Result<f64> {
    check_teacher(teacher, theta)?;
    let kernel = PairKernel::new(network.activation);
    let m = theta.nrows();
    let scale = network.output_scale(m);
    let ws: Vec<Vec<f64>> = (0..m).map(|j| row_w(theta, j)).collect();
    let norms: Vec<f64> = ws.iter().map(|w| dot(w, w)).collect();
    let star = teacher_rows(teacher);
    let mut target_energy = 0.0;
    for (a_i, w_i, q_i) in &star {
        for (a_l, w_l, q_l) in &star {
            target_energy += a_i * a_l * kernel.value(*q_i, *q_l, dot(w_i, w_l));
        }
    }
    let (mut network_energy, mut cross) = (0.0, 0.0);
    for j in 0..m {
        let a_j = theta[(j, 0)];
        for l in 0..m {
            let uv = if l == j {
                norms[j]
            } else {
                dot(&ws[j], &ws[l])
            };
            network_energy += a_j * theta[(l, 0)] * kernel.value(norms[j], norms[l], uv);
        }
        for (a_i, w_i, q_i) in &star {
            cross += a_j * a_i * kernel.value(norms[j], *q_i, dot(&ws[j], w_i));
        }
    }
    let noise = teacher.noise_std();
    Ok(
        0.5 * (target_energy + noise * noise - 2.0 * scale * cross
            + scale * scale * network_energy),
    )
}

/// Rows `rows` of dR/dtheta in population mode (docs/math.md section 3), one row of the returned
/// rows.len() x (1 + d) matrix per entry of `rows`: pair by pair over l with
/// [`PairKernel::terms`], then the teacher terms. O(rows m d); rows run in parallel.
///
/// # Errors
/// [`Error::Invalid`] if the teacher's d differs from the particles' or a row is out of range.
pub fn population_gradient_rows(
    network: &Network,
    teacher: &Teacher,
    theta: &DMatrix<f64>,
    rows: &[usize],
) -> Result<DMatrix<f64>> {
    check_teacher(teacher, theta)?;
    check_row_range(theta, rows)?;
    let kernel = PairKernel::new(network.activation);
    let (m, width) = theta.shape();
    let d = width - 1;
    let scale = network.output_scale(m);
    let ws: Vec<Vec<f64>> = (0..m).map(|l| row_w(theta, l)).collect();
    let norms: Vec<f64> = ws.iter().map(|w| dot(w, w)).collect();
    let star = teacher_rows(teacher);
    let gradient_rows: Vec<Vec<f64>> = rows
        .par_iter()
        .map(|&j| {
            let (w_j, q_j) = (&ws[j], norms[j]);
            // sum_l a_l K(w_j, w_l) and sum_l a_l grad_1 K(w_j, w_l).
            let mut pair_sum = 0.0;
            let mut pair_grad = vec![0.0; d];
            for l in 0..m {
                let uv = if l == j { q_j } else { dot(w_j, &ws[l]) };
                let terms = kernel.terms(q_j, norms[l], uv);
                let a_l = theta[(l, 0)];
                pair_sum += a_l * terms.value;
                for (c, g) in pair_grad.iter_mut().enumerate() {
                    *g += a_l * (terms.coef_v * ws[l][c] + terms.coef_u * w_j[c]);
                }
            }
            // V(w_j) and grad V(w_j).
            let mut field = 0.0;
            let mut field_grad = vec![0.0; d];
            for (weight, w_i, q_i) in &star {
                let terms = kernel.terms(q_j, *q_i, dot(w_j, w_i));
                field += weight * terms.value;
                for (c, g) in field_grad.iter_mut().enumerate() {
                    *g += weight * (terms.coef_v * w_i[c] + terms.coef_u * w_j[c]);
                }
            }
            let a_j = theta[(j, 0)];
            let mut row = Vec::with_capacity(width);
            row.push(scale * (scale * pair_sum - field));
            row.extend(
                pair_grad
                    .iter()
                    .zip(&field_grad)
                    .map(|(p, v)| scale * a_j * (scale * p - v)),
            );
            row
        })
        .collect();
    Ok(stack_rows(&gradient_rows, width))
}

/// Samples per parallel task of the reference forward pass.
const SAMPLES_PER_TASK: usize = 32;
/// Particles per block of the reference forward pass: a block of W (at most 512 x d) stays in
/// the core's cache while the task's samples run over it.
const PARTICLES_PER_BLOCK: usize = 512;

/// The residuals r_i = y_i - f(x_i) of every sample, with
/// f(x_i) = m^-alpha sum_j a_j sigma(z_ij) summed in order j and z_ij = sum_c w_jc x_ic summed
/// in order c: the plain double sum of [`Network::output`], in the same order, reorganised
/// only so as not to stride through memory: z is built one input coordinate (one column of W)
/// at a time, for a block of particles at a time, and each sample's running sum over j carries
/// over from one block to the next. Tasks of samples run in parallel.
fn residuals(network: &Network, data: &DataSet, theta: &DMatrix<f64>) -> Result<Vec<f64>> {
    let (m, d) = (theta.nrows(), theta.ncols() - 1);
    if data.input_dim() != d {
        return Err(Error::invalid(
            "data input dimension",
            data.input_dim(),
            format!("the student's input dimension {d}"),
        ));
    }
    let (a, w) = theta.as_slice().split_at(m); // w: column c of W at [c m, (c + 1) m)
    let scale = network.output_scale(m);
    let activation = network.activation;
    let tasks: Vec<Vec<f64>> = data
        .inputs()
        .as_slice()
        .par_chunks(d * SAMPLES_PER_TASK)
        .zip(data.labels().par_chunks(SAMPLES_PER_TASK))
        .map(|(inputs, labels)| {
            // sum_j a_j sigma(z_ij) over the particles done so far, per sample of the task.
            let mut sums = vec![0.0; labels.len()];
            let mut z = vec![0.0; PARTICLES_PER_BLOCK];
            for first in (0..m).step_by(PARTICLES_PER_BLOCK) {
                let block = first..(first + PARTICLES_PER_BLOCK).min(m);
                let z = &mut z[..block.len()];
                for (sum, x) in sums.iter_mut().zip(inputs.chunks_exact(d)) {
                    z.fill(0.0);
                    for (w_c, x_c) in w.chunks_exact(m).zip(x) {
                        for (z_j, w_jc) in z.iter_mut().zip(&w_c[block.clone()]) {
                            *z_j += w_jc * x_c;
                        }
                    }
                    *sum = a[block.clone()]
                        .iter()
                        .zip(z.iter())
                        .fold(*sum, |s, (a_j, z_j)| s + a_j * activation.value(*z_j));
                }
            }
            labels
                .iter()
                .zip(&sums)
                .map(|(y, sum)| y - scale * sum)
                .collect()
        })
        .collect();
    Ok(tasks.concat())
}

/// The empirical risk 1/2 mean_i (y_i - f(x_i))^2 (docs/math.md section 4): O(n m d).
///
/// # Errors
/// [`Error::Invalid`] if the data's input dimension differs from the particles' d or a
/// particle is not finite.
pub fn data_risk(network: &Network, data: &DataSet, theta: &DMatrix<f64>) -> Result<f64> {
    let residuals = residuals(network, data, theta)?;
    Ok(0.5 * residuals.iter().map(|r| r * r).sum::<f64>() / data.n() as f64)
}

/// Rows `rows` of dR/dtheta of the empirical risk on `data` (docs/math.md section 4), one row of the
/// returned rows.len() x (1 + d) matrix per entry of `rows`: the forward pass over every sample,
/// then for each checked row a loop over the samples. O(n m d + rows n d).
///
/// # Errors
/// As [`data_risk`], and [`Error::Invalid`] if a row is out of range.
pub fn data_gradient_rows(
    network: &Network,
    data: &DataSet,
    theta: &DMatrix<f64>,
    rows: &[usize],
) -> Result<DMatrix<f64>> {
    check_row_range(theta, rows)?;
    let residuals = residuals(network, data, theta)?;
    let (m, width) = theta.shape();
    let d = width - 1;
    let n = data.n();
    let factor = -network.output_scale(m) / n as f64;
    let activation = network.activation;
    let inputs = data.inputs().as_slice();
    let gradient_rows: Vec<Vec<f64>> = rows
        .par_iter()
        .map(|&j| {
            let w_j = row_w(theta, j);
            let mut sum_a = 0.0;
            let mut sum_w = vec![0.0; d];
            for (i, r) in residuals.iter().enumerate() {
                let x = &inputs[i * d..(i + 1) * d];
                let z = dot(&w_j, x);
                sum_a += r * activation.value(z);
                let slope = r * activation.derivative(z);
                for (s, xc) in sum_w.iter_mut().zip(x) {
                    *s += slope * xc;
                }
            }
            let a_j = theta[(j, 0)];
            let mut row = Vec::with_capacity(width);
            row.push(factor * sum_a);
            row.extend(sum_w.iter().map(|s| factor * a_j * s));
            row
        })
        .collect();
    Ok(stack_rows(&gradient_rows, width))
}

fn check_row_range(theta: &DMatrix<f64>, rows: &[usize]) -> Result<()> {
    match rows.iter().find(|&&j| j >= theta.nrows()) {
        Some(j) => Err(Error::invalid(
            "checked row",
            j,
            format!("a row below m = {}", theta.nrows()),
        )),
        None => Ok(()),
    }
}

fn stack_rows(rows: &[Vec<f64>], width: usize) -> DMatrix<f64> {
    DMatrix::from_fn(rows.len(), width, |i, c| rows[i][c])
}

/// Compares rows `rows` of the full gradient `gradient` (m x (1 + d)) with `reference`
/// (rows.len() x (1 + d), row i for particle `rows[i]`): every entry must satisfy
/// |g - g_ref| <= `tolerance` * scale_c, scale_c = max |g_ref| over the checked rows of its
/// column c. Returns the largest |g - g_ref| / scale_c (0 where a column is all zero on both
/// sides).
///
/// # Errors
/// [`Error::SelfCheck`] naming `case`, the particle row, the column and both values, for the
/// entry with the largest relative deviation when any entry exceeds the tolerance (a
/// non-finite entry always does); [`Error::Invalid`] if the shapes disagree.
///
/// ```
/// # use meanfield::bench::compare_rows;
/// # use nalgebra::DMatrix;
/// let gradient = DMatrix::from_row_slice(3, 2, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// let reference = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 5.0, 6.0 + 1e-15]);
/// let error = compare_rows("demo", &gradient, &reference, &[0, 2], 1e-12)?;
/// assert!(error < 1e-15);
/// let wrong = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 5.0, 6.1]);
/// assert!(compare_rows("demo", &gradient, &wrong, &[0, 2], 1e-12).is_err());
/// # Ok::<(), meanfield::Error>(())
/// ```
pub fn compare_rows(
    case: &str,
    gradient: &DMatrix<f64>,
    reference: &DMatrix<f64>,
    rows: &[usize],
    tolerance: f64,
) -> Result<f64> {
    if reference.nrows() != rows.len() || reference.ncols() != gradient.ncols() {
        return Err(Error::invalid(
            "reference gradient shape",
            format!("{} x {}", reference.nrows(), reference.ncols()),
            format!(
                "{} x {} (checked rows x columns)",
                rows.len(),
                gradient.ncols()
            ),
        ));
    }
    check_row_range(gradient, rows)?;
    // (relative deviation, index into rows, column, scale of the column) of the worst entry.
    let mut worst: Option<(f64, usize, usize, f64)> = None;
    for c in 0..reference.ncols() {
        let scale = (0..rows.len()).fold(0.0_f64, |s, i| s.max(reference[(i, c)].abs()));
        for (i, &j) in rows.iter().enumerate() {
            let difference = (gradient[(j, c)] - reference[(i, c)]).abs();
            let relative = if difference.is_nan() {
                f64::INFINITY // a NaN on either side fails the check
            } else if difference > 0.0 {
                difference / scale
            } else {
                0.0
            };
            if worst.is_none_or(|(largest, ..)| relative > largest) {
                worst = Some((relative, i, c, scale));
            }
        }
    }
    match worst {
        Some((relative, i, c, scale)) if relative > tolerance => Err(Error::SelfCheck {
            case: case.to_string(),
            row: rows[i],
            column: c,
            found: gradient[(rows[i], c)],
            expected: reference[(i, c)],
            relative,
            scale,
            tolerance,
        }),
        Some((relative, ..)) => Ok(relative),
        None => Ok(0.0),
    }
}
