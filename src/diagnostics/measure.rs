//! The particle measure rho_m = (1/m) sum_j delta_(a_j, w_j) seen as data (docs/math.md sections
//! 1-2): histograms of marginals, norms |w_j| and angles to a direction, teacher alignment,
//! a Kozachenko-Leonenko entropy estimate (the entropy term of the mean-field Langevin free
//! energy F = E + tau int rho log rho), the empirical tangent kernel of
//! f(x) = m^(-alpha) sum_j a_j sigma(w_j . x), 2-D projection planes and deterministic
//! subsamples.
//!
//! Everything here is a pure function of its arguments. Parallel work is split into chunks of
//! a constant size and combined in index order (`math::reduce`), so results are bit-identical
//! on any number of threads.
//!
//! Vectors of different lengths (a direction against the d columns of w, a probe input
//! against d) are compared as if the shorter one were padded with zeros.

use nalgebra::{DMatrix, SymmetricEigen};
use rand::RngExt;
use rand_distr::StandardNormal;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::math::reduce::{CHUNK, ordered_max, ordered_sum};
use crate::math::{Network, Parity};
use crate::random::{Purpose, stream};

/// Euler's constant gamma (the mean of -log of a standard exponential variable).
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// Rows of particles per block of the tangent kernel and second-moment products: a constant,
/// so that the block partial sums, and hence the results, do not depend on the thread count.
const BLOCK_ROWS: usize = 512;

/// A histogram with `bins` equal bins on [lo, hi].
///
/// Values outside [lo, hi] (and NaN) are counted in no bin, only in `outside`; `hi` itself
/// falls in the last bin.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    /// Left end of the first bin.
    pub lo: f64,
    /// Right end of the last bin.
    pub hi: f64,
    /// count / (n * width) per bin, n the number of values including those outside: the
    /// densities integrate (sum times width) to the fraction of values inside [lo, hi].
    pub density: Vec<f64>,
    /// Number of values outside [lo, hi], NaN included.
    pub outside: usize,
}

impl Histogram {
    /// The width (hi - lo) / bins of one bin (0 without bins).
    pub fn width(&self) -> f64 {
        if self.density.is_empty() {
            0.0
        } else {
            (self.hi - self.lo) / self.density.len() as f64
        }
    }
}

/// The histogram of `values` on `bins` equal bins of [lo, hi].
///
/// Degenerate cases count every value as outside: `bins = 0`, or not `lo < hi` with both
/// finite. An empty `values` gives zero densities.
pub fn histogram(values: &[f64], lo: f64, hi: f64, bins: usize) -> Histogram {
    let mut counts = vec![0usize; bins];
    let mut outside = 0;
    let usable = bins > 0 && lo.is_finite() && hi.is_finite() && lo < hi;
    let span = hi - lo;
    for &v in values {
        // `contains` is false for NaN.
        if usable && (lo..=hi).contains(&v) {
            // (v - lo) / span is in [0, 1]; rounding can give bins for v just below hi.
            let index = (((v - lo) / span) * bins as f64) as usize;
            counts[index.min(bins - 1)] += 1;
        } else {
            outside += 1;
        }
    }
    let n = values.len();
    // count / (n * width), divided once so that exact ratios come out exactly.
    let denominator = n as f64 * (span / bins as f64);
    let density = counts
        .iter()
        .map(|&c| {
            if usable && n > 0 {
                c as f64 / denominator
            } else {
                0.0
            }
        })
        .collect();
    Histogram {
        lo,
        hi,
        density,
        outside,
    }
}

/// sum_c x_c y_c over the common coordinates (the shorter vector padded with zeros).
fn dot(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

/// |x|.
fn norm(x: &[f64]) -> f64 {
    dot(x, x).sqrt()
}

/// Row j of columns 1..=d (w_j), copied into `w`.
fn copy_w(theta: &DMatrix<f64>, j: usize, w: &mut [f64]) {
    for (c, v) in w.iter_mut().enumerate() {
        *v = theta[(j, 1 + c)];
    }
}

/// |w_j| for row j.
fn w_norm(theta: &DMatrix<f64>, j: usize) -> f64 {
    (1..theta.ncols())
        .map(|c| theta[(j, c)] * theta[(j, c)])
        .sum::<f64>()
        .sqrt()
}

/// |w_j| (Euclidean norm of columns 1..=d) for every particle j, in particle order.
pub fn w_norms(theta: &DMatrix<f64>) -> Vec<f64> {
    (0..theta.nrows())
        .into_par_iter()
        .map(|j| w_norm(theta, j))
        .collect()
}

/// The angle in [0, pi] between `u` and `v`: 0 if either is 0, NaN if either is not finite.
///
/// Computed as 2 atan2(|u_hat - v_hat|, |u_hat + v_hat|) (Kahan), whose error is a few
/// ulps of pi for every angle: the form atan2(sqrt(max(0, |u|^2 |v|^2 - (u.v)^2)), u.v) is
/// exact at 0 and pi but loses half the digits next to them (|u|^2 |v|^2 - (u.v)^2 cancels:
/// for u = (1, 1e-8), v = (1, 0) it rounds to 0 instead of 1e-16).
fn angle_between(u: &[f64], v: &[f64]) -> f64 {
    let (nu, nv) = (norm(u), norm(v));
    if !(nu.is_finite() && nv.is_finite()) {
        return f64::NAN;
    }
    if nu == 0.0 || nv == 0.0 {
        return 0.0;
    }
    let len = u.len().max(v.len());
    let coordinate = |x: &[f64], c: usize| x.get(c).copied().unwrap_or(0.0);
    let (mut difference, mut sum) = (0.0, 0.0);
    for c in 0..len {
        let (uc, vc) = (coordinate(u, c) / nu, coordinate(v, c) / nv);
        difference += (uc - vc) * (uc - vc);
        sum += (uc + vc) * (uc + vc);
    }
    2.0 * difference.sqrt().atan2(sum.sqrt())
}

/// The angle in [0, pi] between each w_j and `direction`; 0 where w_j = 0 (or the direction
/// is 0), NaN where w_j is not finite.
///
/// Accurate to a few ulps of pi at every angle, including next to 0 and pi (an angle of 1e-8
/// comes out with relative error ~1e-8 or better); see the private `angle_between`.
pub fn angles_to(theta: &DMatrix<f64>, direction: &[f64]) -> Vec<f64> {
    let d = theta.ncols().saturating_sub(1);
    (0..theta.nrows())
        .into_par_iter()
        .map_init(
            || vec![0.0; d],
            |w, j| {
                copy_w(theta, j, w);
                angle_between(w, direction)
            },
        )
        .collect()
}

/// How much of the network lies along one teacher direction v.
///
/// For an odd or even activation ([`Parity::sign_symmetric`]: erf, tanh, linear, quadratic)
/// the neuron (a, w) is the same function as (-a, -w) (odd) or (a, -w) (even), so w and -w
/// point along the same neuron: the cosine is then |cos(w_j, v)| and the cone is the double
/// cone around +v and -v. For relu, sigmoid and softplus the signed cosine is used.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Alignment {
    /// Share, in [0, 1], of the mass sum_j |a_j| |w_j| carried by particles with
    /// angle(w_j, v) <= cone (or angle(w_j, -v) <= cone for a sign-symmetric activation); 0
    /// when the total mass is 0.
    pub cone_share: f64,
    /// max_j cos(w_j, v) in [-1, 1] (max_j |cos(w_j, v)| in [0, 1] for a sign-symmetric
    /// activation) over the particles with w_j != 0; -1 when there is none (or v = 0).
    pub best_cosine: f64,
}

/// The alignment of the particles with the teacher direction `direction` (any length > 0):
/// see [`Alignment`]. `cone` is an angle in radians; `parity` is the activation's
/// ([`crate::math::Activation::parity`]): for an odd or even sigma, w_j and -w_j count alike.
///
/// ```
/// # use nalgebra::DMatrix;
/// # use meanfield::diagnostics::measure::teacher_alignment;
/// # use meanfield::math::Parity;
/// // Rows (a, w): mass |a| |w| = 2 along the teacher, 2 orthogonal to it.
/// let theta = DMatrix::from_row_slice(2, 3, &[2.0, 1.0, 0.0, -1.0, 0.0, 2.0]);
/// let alignment = teacher_alignment(&theta, &[1.0, 0.0], 0.1, Parity::Neither);
/// assert_eq!((alignment.cone_share, alignment.best_cosine), (0.5, 1.0));
/// // Against -v: for relu the first particle points away; for erf (odd) it is the same neuron.
/// let relu = teacher_alignment(&theta, &[-1.0, 0.0], 0.1, Parity::Neither);
/// let erf = teacher_alignment(&theta, &[-1.0, 0.0], 0.1, Parity::Odd);
/// assert_eq!((relu.cone_share, relu.best_cosine), (0.0, 0.0));
/// assert_eq!((erf.cone_share, erf.best_cosine), (0.5, 1.0));
/// ```
pub fn teacher_alignment(
    theta: &DMatrix<f64>,
    direction: &[f64],
    cone: f64,
    parity: Parity,
) -> Alignment {
    teacher_alignments(theta, &[direction.to_vec()], cone, parity)[0]
}

/// [`teacher_alignment`] for several directions at once: |w_j| once, and each w_j . v as a
/// column-by-column pass over the column-major particles (one multiply-add per coordinate).
///
/// A particle is inside the cone when cos(w_j, v) >= cos(cone) (|cos| for a sign-symmetric
/// `parity`); where the two are within 1e-9 of each other the cosine is too coarse to decide,
/// and the accurate angle of [`angles_to`] decides (min(angle, pi - angle) for a
/// sign-symmetric `parity`), so the result is that of comparing the angle with `cone`.
pub fn teacher_alignments(
    theta: &DMatrix<f64>,
    directions: &[Vec<f64>],
    cone: f64,
    parity: Parity,
) -> Vec<Alignment> {
    let symmetric = parity.sign_symmetric();
    let m = theta.nrows();
    let d = theta.ncols().saturating_sub(1);
    let norms: Vec<f64> = crate::diagnostics::scalars::row_squares(theta, None, 1, |_| 1.0)
        .into_iter()
        .map(f64::sqrt)
        .collect();
    let mass = |j: usize| theta[(j, 0)].abs() * norms[j];
    let total = ordered_sum(m, mass);
    let cos_cone = cone.cos();
    let data = theta.as_slice();
    directions
        .iter()
        .map(|direction| {
            let direction_norm = norm(direction);
            let mut dots = vec![0.0; m];
            dots.par_chunks_mut(CHUNK)
                .enumerate()
                .for_each(|(chunk, sums)| {
                    let start = chunk * CHUNK;
                    for (c, v) in direction.iter().enumerate().take(d) {
                        let column = &data[(1 + c) * m + start..(1 + c) * m + start + sums.len()];
                        for (s, w) in sums.iter_mut().zip(column) {
                            *s += w * v;
                        }
                    }
                });
            let cosine = |j: usize| {
                if norms[j] == 0.0 || direction_norm == 0.0 {
                    return f64::NEG_INFINITY;
                }
                let signed = (dots[j] / (norms[j] * direction_norm)).clamp(-1.0, 1.0);
                if symmetric { signed.abs() } else { signed }
            };
            let inside = |j: usize| {
                let c = cosine(j);
                if (c - cos_cone).abs() > 1e-9 || !c.is_finite() {
                    return c > cos_cone || (norms[j] == 0.0 && cone >= 0.0);
                }
                let mut w = vec![0.0; d];
                copy_w(theta, j, &mut w);
                let angle = angle_between(&w, direction);
                let angle = if symmetric {
                    angle.min(std::f64::consts::PI - angle)
                } else {
                    angle
                };
                angle <= cone
            };
            let share = ordered_sum(m, |j| if inside(j) { mass(j) } else { 0.0 });
            let best = ordered_max(m, cosine);
            Alignment {
                cone_share: if total > 0.0 {
                    (share / total).clamp(0.0, 1.0)
                } else {
                    0.0
                },
                best_cosine: if best.is_nan() {
                    f64::NAN
                } else {
                    best.max(-1.0)
                },
            }
        })
        .collect()
}

/// A Kozachenko-Leonenko entropy estimate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EntropyEstimate {
    /// The estimate of the differential entropy -int rho log rho (nats); -inf when every point
    /// has a duplicate.
    pub entropy: f64,
    /// Number of points whose nearest neighbour is at distance 0 (left out of the average).
    pub duplicates: usize,
}

/// The Kozachenko-Leonenko (k = 1) estimate of the differential entropy -int rho log rho of
/// the law sampled by the n rows of `points` (n x D):
///
/// ```text
/// H = D mean_i log r_i + log V_D + log(n - 1) + gamma
/// ```
///
/// with r_i the distance from point i to its nearest other point, V_D = pi^(D/2) / Gamma(D/2 + 1)
/// the volume of the unit D-ball and gamma Euler's constant. Points with r_i = 0 (exact
/// duplicates) are left out of the mean and counted in `duplicates`.
///
/// The estimator is consistent; its bias is O(n^(-2/D)) for smooth densities and O(n^(-1/D))
/// for densities that jump at a boundary (e.g. a uniform law on a cube), and its standard
/// deviation is at most about D std(log r_i) / sqrt(n).
///
/// Cost: brute-force nearest neighbours, O(n^2 D) operations, parallel over points: fine up to
/// ~10^4 points (a fraction of a second at n = 10^4, D = 5); subsample larger clouds.
///
/// Errors: fewer than 2 points, no column, or a non-finite entry.
///
/// ```
/// # use nalgebra::DMatrix;
/// # use meanfield::diagnostics::measure::entropy_kozachenko_leonenko;
/// // An evenly spaced grid of [0, 1): every r_i = 1/n, so H = log(1/n) + log 2 + log(n - 1)
/// // + gamma (not log 1 = 0: a grid is not a random sample, whose r_i would vary).
/// let n = 1000;
/// let grid = DMatrix::from_fn(n, 1, |i, _| i as f64 / n as f64);
/// let estimate = entropy_kozachenko_leonenko(&grid)?;
/// let expected = (0.999f64).ln() + 2f64.ln() + 0.577_215_664_901_532_9;
/// assert!((estimate.entropy - expected).abs() < 1e-12);
/// # Ok::<(), meanfield::Error>(())
/// ```
pub fn entropy_kozachenko_leonenko(points: &DMatrix<f64>) -> Result<EntropyEstimate> {
    let (n, dim) = points.shape();
    if n < 2 {
        return Err(Error::invalid(
            "number of points of the entropy estimate",
            n,
            "at least 2",
        ));
    }
    if dim == 0 {
        return Err(Error::invalid(
            "dimension of the entropy estimate",
            0,
            "at least 1",
        ));
    }
    if let Some(index) = points.iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid(
            format!("point {} of the entropy estimate", index % n),
            points[index],
            "finite coordinates",
        ));
    }
    // Row-major copy: point i is the contiguous slice rows[i * dim..(i + 1) * dim].
    let rows: Vec<f64> = points.transpose().as_slice().to_vec();
    let nearest_squared: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| {
            let point = &rows[i * dim..(i + 1) * dim];
            let mut best = f64::INFINITY;
            for (k, other) in rows.chunks_exact(dim).enumerate() {
                if k == i {
                    continue;
                }
                let distance: f64 = point
                    .iter()
                    .zip(other)
                    .map(|(p, q)| (p - q) * (p - q))
                    .sum();
                best = best.min(distance);
            }
            best
        })
        .collect();
    let duplicates = nearest_squared.iter().filter(|&&r2| r2 <= 0.0).count();
    let counted = n - duplicates;
    if counted == 0 {
        return Ok(EntropyEstimate {
            entropy: f64::NEG_INFINITY,
            duplicates,
        });
    }
    // log r = log(r^2) / 2.
    let log_sum = ordered_sum(n, |i| {
        let r2 = nearest_squared[i];
        if r2 > 0.0 { 0.5 * r2.ln() } else { 0.0 }
    });
    let d = dim as f64;
    let log_ball_volume = 0.5 * d * std::f64::consts::PI.ln() - libm::lgamma(0.5 * d + 1.0);
    let entropy =
        d * log_sum / counted as f64 + log_ball_volume + ((n - 1) as f64).ln() + EULER_GAMMA;
    Ok(EntropyEstimate {
        entropy,
        duplicates,
    })
}

/// The empirical tangent kernel on p probe inputs (the columns of `probes`, d x p):
///
/// ```text
/// Theta_ik = sum_j grad_theta_j f(x_i) . grad_theta_j f(x_k)
///          = m^(-2 alpha) sum_j [ sigma(w_j.x_i) sigma(w_j.x_k)
///                                 + a_j^2 sigma'(w_j.x_i) sigma'(w_j.x_k) x_i.x_k ]
/// ```
///
/// for f(x) = m^(-alpha) sum_j a_j sigma(w_j . x) (grad_a = m^(-alpha) sigma(w.x),
/// grad_w = m^(-alpha) a sigma'(w.x) x). Returns the p x p matrix, exactly symmetric.
///
/// Probes with a bias coordinate must carry it (d rows, as from [`probe_inputs`]); the network
/// reads the first d coordinates of each probe (missing ones count as 0).
///
/// Cost: 2 m p d + 4 m p^2 flops as matrix products over blocks of particles, summed in
/// block order.
pub fn tangent_kernel(
    network: &Network,
    theta: &DMatrix<f64>,
    probes: &DMatrix<f64>,
) -> DMatrix<f64> {
    let (m, d) = (theta.nrows(), theta.ncols().saturating_sub(1));
    let p = probes.ncols();
    if m == 0 || p == 0 {
        return DMatrix::zeros(p, p);
    }
    // The probes as the network reads them: d x p, truncated or padded with zeros.
    let inputs = DMatrix::from_fn(d, p, |c, i| {
        if c < probes.nrows() {
            probes[(c, i)]
        } else {
            0.0
        }
    });
    let activation = network.activation;
    // Per block of particles: (S^T S, T^T T) with S = sigma(Z), T = a sigma'(Z), Z = W X.
    let partials: Vec<(DMatrix<f64>, DMatrix<f64>)> = (0..m.div_ceil(BLOCK_ROWS))
        .into_par_iter()
        .map(|block| {
            let start = block * BLOCK_ROWS;
            let rows = BLOCK_ROWS.min(m - start);
            let weights = theta.view((start, 1), (rows, d));
            let mut values = weights * &inputs;
            let mut slopes = values.clone();
            for i in 0..p {
                for r in 0..rows {
                    let (value, slope) = activation.value_and_derivative(values[(r, i)]);
                    values[(r, i)] = value;
                    slopes[(r, i)] = theta[(start + r, 0)] * slope;
                }
            }
            (values.tr_mul(&values), slopes.tr_mul(&slopes))
        })
        .collect();
    let mut value_part = DMatrix::zeros(p, p);
    let mut slope_part = DMatrix::zeros(p, p);
    for (values, slopes) in &partials {
        value_part += values;
        slope_part += slopes;
    }
    let gram = inputs.tr_mul(&inputs);
    let scale = network.output_scale(m).powi(2);
    let kernel = (value_part + slope_part.component_mul(&gram)) * scale;
    // Average with the transpose so that symmetry holds bit for bit whatever the product
    // kernels' summation order.
    DMatrix::from_fn(p, p, |i, k| 0.5 * (kernel[(i, k)] + kernel[(k, i)]))
}

/// The relative Frobenius change |now - start|_F / |start|_F: 0 when both are 0, +inf when
/// only `start` is 0, NaN when the shapes differ.
pub fn relative_change(now: &DMatrix<f64>, start: &DMatrix<f64>) -> f64 {
    if now.shape() != start.shape() {
        return f64::NAN;
    }
    let change = (now - start).norm();
    let reference = start.norm();
    if reference > 0.0 {
        change / reference
    } else if change > 0.0 {
        f64::INFINITY
    } else {
        0.0
    }
}

/// p probe inputs x ~ N(0, I_d) as the columns of a d_in x p matrix, d_in = d + 1 with `bias`
/// (a last coordinate 1 appended). Input i draws its d coordinates from the stream
/// (seed, Probe, 0, i), so the first p probes of a larger set are these.
pub fn probe_inputs(d: usize, bias: bool, p: usize, seed: u64) -> DMatrix<f64> {
    let d_in = d + usize::from(bias);
    let mut probes = DMatrix::zeros(d_in, p);
    if d_in == 0 {
        return probes;
    }
    probes
        .as_mut_slice()
        .par_chunks_mut(d_in)
        .enumerate()
        .for_each(|(i, x)| {
            let mut rng = stream(seed, Purpose::Probe, 0, i as u64);
            for v in x[..d].iter_mut() {
                *v = rng.sample(StandardNormal);
            }
            if bias {
                x[d] = 1.0;
            }
        });
    probes
}

/// Gives a unit vector the sign that makes its largest-magnitude coordinate (the first such)
/// positive, so that eigenvectors come out the same on every platform.
fn canonical_sign(v: &mut [f64]) {
    let mut pivot = 0.0f64;
    for &x in v.iter() {
        if x.abs() > pivot.abs() {
            pivot = x;
        }
    }
    if pivot < 0.0 {
        v.iter_mut().for_each(|x| *x = -*x);
    }
}

/// The top two principal directions (unit vectors in R^d) of the w_j's: the eigenvectors of
/// the two largest eigenvalues of the uncentred second-moment matrix sum_j w_j w_j^T
/// (nalgebra's symmetric eigen-decomposition), each with its largest coordinate positive.
/// For the 2-D view of the particles when there is no teacher.
///
/// For d = 1 returns (e_1, 0); for d = 0, two empty vectors. When the w_j's span fewer than two
/// dimensions the second direction is any unit vector orthogonal to the first.
pub fn principal_plane(theta: &DMatrix<f64>) -> (Vec<f64>, Vec<f64>) {
    let (m, d) = (theta.nrows(), theta.ncols().saturating_sub(1));
    match d {
        0 => return (Vec::new(), Vec::new()),
        1 => return (vec![1.0], vec![0.0]),
        _ => {}
    }
    let partials: Vec<DMatrix<f64>> = (0..m.div_ceil(BLOCK_ROWS))
        .into_par_iter()
        .map(|block| {
            let start = block * BLOCK_ROWS;
            let weights = theta.view((start, 1), (BLOCK_ROWS.min(m - start), d));
            weights.tr_mul(&weights)
        })
        .collect();
    let mut moment = DMatrix::zeros(d, d);
    for partial in &partials {
        moment += partial;
    }
    let eigen = SymmetricEigen::new(moment);
    let mut order: Vec<usize> = (0..d).collect();
    // Descending eigenvalues; a stable sort keeps ties in eigen-solver order.
    order.sort_by(|&i, &k| eigen.eigenvalues[k].total_cmp(&eigen.eigenvalues[i]));
    let column = |i: usize| -> Vec<f64> { eigen.eigenvectors.column(i).iter().copied().collect() };
    let mut first = column(order[0]);
    let mut second = column(order[1]);
    canonical_sign(&mut first);
    canonical_sign(&mut second);
    if first.iter().chain(&second).all(|v| v.is_finite()) {
        (first, second)
    } else {
        // A non-finite particle: fall back to the first two coordinate axes of R^d.
        let axis = |c: usize| (0..d).map(|k| f64::from(u8::from(k == c))).collect();
        (axis(0), axis(1))
    }
}

/// u - (u.e) e for a unit vector e, in place.
fn remove_component(u: &mut [f64], e: &[f64]) {
    let projection = dot(u, e);
    u.iter_mut().zip(e).for_each(|(x, y)| *x -= projection * y);
}

/// An orthonormal basis (e_1, e_2) of the plane of two directions, by Gram-Schmidt: e_1 is
/// `first` normalised, e_2 the normalised part of `second` orthogonal to e_1 (orthogonalised
/// twice, so that e_1 . e_2 is at rounding level).
///
/// Vectors of different lengths are padded with zeros to the longer, n. Degenerate cases: a
/// zero `first` is replaced by the first coordinate axis; when `second` is (numerically)
/// parallel to e_1 or zero, e_2 is the coordinate axis least aligned with e_1, orthogonalised;
/// for n = 1, e_2 = 0.
pub fn plane_of(first: &[f64], second: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let n = first.len().max(second.len());
    if n == 0 {
        return (Vec::new(), Vec::new());
    }
    let padded =
        |x: &[f64]| -> Vec<f64> { (0..n).map(|c| x.get(c).copied().unwrap_or(0.0)).collect() };
    let mut e1 = padded(first);
    let first_norm = norm(&e1);
    if first_norm > 0.0 && first_norm.is_finite() {
        e1.iter_mut().for_each(|x| *x /= first_norm);
    } else {
        e1 = vec![0.0; n];
        e1[0] = 1.0;
    }
    if n == 1 {
        return (e1, vec![0.0]);
    }
    let mut e2 = padded(second);
    let second_norm = norm(&e2);
    remove_component(&mut e2, &e1);
    remove_component(&mut e2, &e1);
    let mut remaining = norm(&e2);
    let parallel =
        !(second_norm.is_finite() && remaining > 8.0 * n as f64 * f64::EPSILON * second_norm);
    if parallel {
        // The axis with the smallest |e1_c| keeps at least sqrt(1 - 1/n) of its length.
        let mut axis = 0;
        for c in 1..n {
            if e1[c].abs() < e1[axis].abs() {
                axis = c;
            }
        }
        e2 = vec![0.0; n];
        e2[axis] = 1.0;
        remove_component(&mut e2, &e1);
        remove_component(&mut e2, &e1);
        remaining = norm(&e2);
    }
    e2.iter_mut().for_each(|x| *x /= remaining);
    (e1, e2)
}

/// A deterministic subsample of `count` particle indices out of 0..m, sorted: the indices j
/// with the `count` smallest hashes h_j (the first u64 of the stream (seed, Subsample, 0, j),
/// ties broken by j). All of 0..m when count >= m.
pub fn subsample(m: usize, count: usize, seed: u64) -> Vec<usize> {
    if count >= m {
        return (0..m).collect();
    }
    let mut keyed: Vec<(u64, usize)> = (0..m)
        .into_par_iter()
        .map(|j| {
            let hash: u64 = stream(seed, Purpose::Subsample, 0, j as u64).random();
            (hash, j)
        })
        .collect();
    if count == 0 {
        return Vec::new();
    }
    // Keys are distinct (j breaks ties), so the selection is unique.
    keyed.select_nth_unstable(count - 1);
    let mut chosen: Vec<usize> = keyed[..count].iter().map(|&(_, j)| j).collect();
    chosen.sort_unstable();
    chosen
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]
    use super::*;
    use crate::math::Activation;

    #[test]
    fn histogram_of_known_values_has_exact_densities_and_outside_count() {
        // Bins of width 0.5 on [0, 2]: [0, .5) [.5, 1) [1, 1.5) [1.5, 2].
        let values = [0.0, 0.1, 0.6, 1.2, 1.4, 2.0, -0.1, 2.5, f64::NAN, 0.49];
        let h = histogram(&values, 0.0, 2.0, 4);
        assert_eq!(h.outside, 3);
        let n = values.len() as f64;
        let expected = [3.0, 1.0, 2.0, 1.0].map(|c| c / (n * 0.5));
        assert_eq!(h.density, expected.to_vec());
        let integral: f64 = h.density.iter().sum::<f64>() * h.width();
        assert!((integral - 7.0 / n).abs() < 4.0 * f64::EPSILON);
    }

    #[test]
    fn histogram_without_bins_counts_everything_outside() {
        let h = histogram(&[1.0, 2.0], 0.0, 3.0, 0);
        assert_eq!((h.density.len(), h.outside), (0, 2));
        let h = histogram(&[1.0, 2.0], 3.0, 3.0, 2);
        assert_eq!((h.density, h.outside), (vec![0.0, 0.0], 2));
    }

    #[test]
    fn angle_next_to_zero_keeps_its_digits_where_the_subtraction_form_gives_zero() {
        // |w|^2 |v|^2 - (w.v)^2 = (1 + 1e-16) - 1 rounds to 0 here.
        let theta = DMatrix::from_row_slice(1, 3, &[1.0, 1.0, 1e-8]);
        let angle = angles_to(&theta, &[1.0, 0.0])[0];
        assert!((angle - 1e-8).abs() < 1e-8 * 1e-8, "{angle}");
    }

    #[test]
    fn principal_plane_of_a_non_finite_cloud_falls_back_to_the_first_axes() {
        let theta = DMatrix::from_row_slice(1, 4, &[1.0, f64::NAN, 0.0, 1.0]);
        let (first, second) = principal_plane(&theta);
        assert_eq!((first, second), (vec![1.0, 0.0, 0.0], vec![0.0, 1.0, 0.0]));
    }

    #[test]
    fn subsample_selects_the_smallest_hashes() {
        let (m, count, seed) = (50, 7, 3);
        let chosen = subsample(m, count, seed);
        let hash = |j: usize| -> u64 { stream(seed, Purpose::Subsample, 0, j as u64).random() };
        let threshold = chosen.iter().map(|&j| hash(j)).max().unwrap();
        let below = (0..m).filter(|&j| hash(j) <= threshold).count();
        assert_eq!(below, count);
    }

    #[test]
    fn tangent_kernel_of_a_linear_network_is_the_closed_form() {
        // linear: Theta_ik = m^(-2 alpha) [ sum_j (w_j.x_i)(w_j.x_k) + sum_j a_j^2 x_i.x_k ].
        let theta = DMatrix::from_row_slice(2, 3, &[2.0, 1.0, 0.0, -1.0, 0.0, 3.0]);
        let probes = DMatrix::from_column_slice(2, 2, &[1.0, 1.0, 2.0, -1.0]);
        let network = Network::new(Activation::Linear, 1.0).unwrap();
        let kernel = tangent_kernel(&network, &theta, &probes);
        // w.x: particle 0: (1, 2); particle 1: (3, -3). sum a^2 = 5. x.x: [[2, 1], [1, 5]].
        let expected = DMatrix::from_row_slice(
            2,
            2,
            &[
                1.0 + 9.0 + 10.0,
                2.0 - 9.0 + 5.0,
                2.0 - 9.0 + 5.0,
                4.0 + 9.0 + 25.0,
            ],
        ) / 4.0;
        assert!((kernel - expected).abs().max() < 1e-14);
    }

    #[test]
    fn probe_inputs_with_bias_end_in_one_and_share_their_gaussian_part() {
        let with = probe_inputs(3, true, 4, 9);
        let without = probe_inputs(3, false, 4, 9);
        assert_eq!(with.shape(), (4, 4));
        assert!(with.row(3).iter().all(|&v| v == 1.0));
        assert_eq!(with.rows(0, 3), without);
        assert_eq!(probe_inputs(3, false, 2, 9), without.columns(0, 2));
    }
}
