//! The matrix-product bound of `meanfield bench`: the float64 GEMM rate of this machine, measured
//! in the same process just before a case is timed, so that each case reports the fraction of
//! the bound it reaches (issue 7: "4 n m d flops at the GEMM rate measured on the same
//! machine") instead of a rate assumed from another day or another machine.
//!
//! The product is C += A B with A, B, C square of side [`BOUND_SIZE`], through faer on the
//! rayon threads that the case itself uses: large enough for faer's packed kernels to run at
//! their full rate, small enough (2 GFLOP) to cost a fraction of a second.

use std::time::Instant;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};

/// Side of the square product that is timed.
pub const BOUND_SIZE: usize = 1024;

/// Timed products; the median is reported, like the median step of a case.
pub const BOUND_REPS: usize = 5;

/// Median GFLOP/s (2 n^3 flops per product) of [`BOUND_REPS`] float64 products of side
/// [`BOUND_SIZE`] on `threads` rayon threads (1: sequential), after one untimed product.
pub fn gemm_gflops(threads: usize) -> f64 {
    let n = BOUND_SIZE;
    // Entries of order one, not all equal: no denormals, no special cases in the kernel.
    let a = Mat::<f64>::from_fn(n, n, |i, j| ((i * 7 + j * 3) % 11) as f64 * 0.1 - 0.5);
    let b = Mat::<f64>::from_fn(n, n, |i, j| ((i * 5 + j * 2) % 13) as f64 * 0.1 - 0.6);
    let mut c = Mat::<f64>::zeros(n, n);
    let par = if threads <= 1 {
        Par::Seq
    } else {
        Par::rayon(threads)
    };
    matmul(c.as_mut(), Accum::Replace, a.as_ref(), b.as_ref(), 1.0, par);
    let mut seconds: Vec<f64> = (0..BOUND_REPS)
        .map(|_| {
            let start = Instant::now();
            matmul(c.as_mut(), Accum::Add, a.as_ref(), b.as_ref(), 1.0, par);
            start.elapsed().as_secs_f64()
        })
        .collect();
    seconds.sort_by(f64::total_cmp);
    let median = seconds[BOUND_REPS / 2];
    2.0 * (n * n * n) as f64 / median / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_positive_and_finite_on_one_and_two_threads() {
        // The rate itself is machine-dependent and never asserted.
        for threads in [1, 2] {
            let rate = gemm_gflops(threads);
            assert!(rate.is_finite() && rate > 0.0, "{threads} threads: {rate}");
        }
    }
}
