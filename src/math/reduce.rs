//! Deterministic reductions: fixed chunks, partial sums collected in index order, then a
//! sequential combine. The chunk size is a constant, never derived from the thread count, so
//! sums are bit-identical on any number of threads (STYLE.md, "Numerics").

use rayon::prelude::*;

/// The fixed chunk length of parallel reductions.
pub const CHUNK: usize = 4096;

/// sum_{i < n} term(i), summed in fixed chunks in parallel and combined in index order.
pub fn ordered_sum(n: usize, term: impl Fn(usize) -> f64 + Sync) -> f64 {
    let partials: Vec<f64> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            (c * CHUNK..((c + 1) * CHUNK).min(n))
                .map(&term)
                .sum::<f64>()
        })
        .collect();
    partials.iter().sum()
}

/// The maximum of term(i) over i < n (order-independent, hence deterministic); NaN if any
/// term is NaN; -inf for n = 0.
pub fn ordered_max(n: usize, term: impl Fn(usize) -> f64 + Sync) -> f64 {
    let partials: Vec<f64> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            (c * CHUNK..((c + 1) * CHUNK).min(n))
                .map(&term)
                .fold(f64::NEG_INFINITY, nan_max)
        })
        .collect();
    partials.into_iter().fold(f64::NEG_INFINITY, nan_max)
}

fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]
    use super::*;

    #[test]
    fn ordered_sum_is_bit_identical_on_one_and_four_threads() {
        let term = |i: usize| ((i as f64) * 0.37).sin() * 10f64.powi((i % 11) as i32 - 5);
        let n = 100_003;
        let sum_on = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| ordered_sum(n, term))
        };
        assert_eq!(sum_on(1).to_bits(), sum_on(4).to_bits());
        let sequential: f64 = (0..n).map(term).sum();
        assert!((sum_on(2) - sequential).abs() < 1e-9 * (n as f64));
    }

    #[test]
    fn ordered_max_propagates_nan() {
        assert_eq!(ordered_max(10, |i| i as f64), 9.0);
        assert!(ordered_max(10_000, |i| if i == 5000 { f64::NAN } else { 0.0 }).is_nan());
    }
}
