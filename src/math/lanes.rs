//! Elementwise passes of the data modes (docs/math.md section 4), written over lanes of 8 with a
//! fixed summation order and compiled for the widest vector unit of the CPU (AVX-512F or
//! AVX2, detected at run time). Every path performs the same IEEE operations in the same
//! order (no fused multiply-add), so results are bit-identical on every CPU path and thread
//! count.

use crate::math::Activation;
use crate::math::simd::{dispatch, simd_variants};

/// Elements per lane group.
const LANES: usize = 8;

/// z <- sigma(z), slope <- sigma'(z); returns sum_j a_j sigma(z_j) (lane j mod 8 sums in order,
/// then lanes in order).
#[inline(always)]
fn forward_lanes(
    z: &mut [f64],
    slope: &mut [f64],
    a: &[f64],
    sigma: impl Fn(f64) -> (f64, f64),
) -> f64 {
    let mut sums = [0.0; LANES];
    let (z_main, z_tail) = z.as_chunks_mut::<LANES>();
    let (s_main, s_tail) = slope.as_chunks_mut::<LANES>();
    let (a_main, a_tail) = a.as_chunks::<LANES>();
    for ((zs, ss), aa) in z_main.iter_mut().zip(s_main).zip(a_main) {
        for i in 0..LANES {
            let (value, derivative) = sigma(zs[i]);
            zs[i] = value;
            ss[i] = derivative;
            sums[i] += aa[i] * value;
        }
    }
    for (i, ((zv, s), aj)) in z_tail.iter_mut().zip(s_tail).zip(a_tail).enumerate() {
        let (value, derivative) = sigma(*zv);
        *zv = value;
        *s = derivative;
        sums[i] += aj * value;
    }
    sums.iter().sum()
}

/// sum_j a_j sigma(z_j) in the order of [`forward_lanes`].
#[inline(always)]
fn value_lanes(z: &[f64], a: &[f64], sigma: impl Fn(f64) -> f64) -> f64 {
    let mut sums = [0.0; LANES];
    let (z_main, z_tail) = z.as_chunks::<LANES>();
    let (a_main, a_tail) = a.as_chunks::<LANES>();
    for (zs, aa) in z_main.iter().zip(a_main) {
        for i in 0..LANES {
            sums[i] += aa[i] * sigma(zs[i]);
        }
    }
    for (i, (zv, aj)) in z_tail.iter().zip(a_tail).enumerate() {
        sums[i] += aj * sigma(*zv);
    }
    sums.iter().sum()
}

/// grad += r * values; slope *= r.
#[inline(always)]
fn backward_lanes(r: f64, values: &[f64], slope: &mut [f64], grad: &mut [f64]) {
    for ((g, v), s) in grad.iter_mut().zip(values).zip(slope.iter_mut()) {
        *g += r * v;
        *s *= r;
    }
}

/// relu, pre-activations kept: slope <- r where z > 0, 0 elsewhere.
#[inline(always)]
fn relu_slope(r: f64, z: &[f64], slope: &mut [f64]) {
    for (s, v) in slope.iter_mut().zip(z) {
        *s = if *v > 0.0 { r } else { 0.0 };
    }
}
simd_variants!(relu_slope, relu_slope_avx512, relu_slope_avx2, (r: f64, z: &[f64], slope: &mut [f64]) -> ());

/// For one sample of residual r, relu, from the pre-activations `z`: slope_j <- r if z_j > 0,
/// else 0.
pub fn relu_residual_slope(r: f64, z: &[f64], slope: &mut [f64]) {
    dispatch!(
        relu_slope,
        relu_slope_avx512,
        relu_slope_avx2,
        (r, z, slope)
    )
}

#[inline(always)]
fn value_relu(z: &[f64], a: &[f64]) -> f64 {
    value_lanes(z, a, |x| x.max(0.0))
}
simd_variants!(value_relu, value_relu_avx512, value_relu_avx2, (z: &[f64], a: &[f64]) -> f64);

#[inline(always)]
fn backward(r: f64, values: &[f64], slope: &mut [f64], grad: &mut [f64]) {
    backward_lanes(r, values, slope, grad)
}
simd_variants!(backward, backward_avx512, backward_avx2, (r: f64, values: &[f64], slope: &mut [f64], grad: &mut [f64]) -> ());

/// For one sample: z_j <- sigma(z_j), slope_j <- sigma'(z_j), returning sum_j a_j sigma(z_j).
/// (The data modes call it for activations other than relu, whose backward pass works from the
/// pre-activations: [`relu_residual_slope`].)
pub fn forward(activation: Activation, z: &mut [f64], slope: &mut [f64], a: &[f64]) -> f64 {
    forward_lanes(z, slope, a, |x| activation.value_and_derivative(x))
}

/// sum_j a_j sigma(z_j) in the order of [`forward`].
pub fn forward_value(activation: Activation, z: &[f64], a: &[f64]) -> f64 {
    if activation == Activation::Relu {
        dispatch!(value_relu, value_relu_avx512, value_relu_avx2, (z, a))
    } else {
        value_lanes(z, a, |x| activation.value(x))
    }
}

/// grad_j += r sigma(z_j) (from `values`) and slope_j *= r, for one sample of residual r.
pub fn accumulate_residual(r: f64, values: &[f64], slope: &mut [f64], grad: &mut [f64]) {
    dispatch!(
        backward,
        backward_avx512,
        backward_avx2,
        (r, values, slope, grad)
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::float_cmp, reason = "bit-identity is the property tested")]
    use super::*;

    /// The forward pass equals the generic lanes bit for bit (and the dispatched relu value pass
    /// equals it too), and both equal the plain sum up to reordering.
    #[test]
    fn forward_matches_the_scalar_definition() {
        let n = 203;
        let z0: Vec<f64> = (0..n).map(|i| ((i as f64) * 0.731).sin()).collect();
        let a: Vec<f64> = (0..n).map(|i| ((i as f64) * 1.37).cos()).collect();
        for activation in Activation::ALL {
            let mut z = z0.clone();
            let mut slope = vec![0.0; n];
            let sum = forward(activation, &mut z, &mut slope, &a);
            let mut z_generic = z0.clone();
            let mut slope_generic = vec![0.0; n];
            let sum_generic = forward_lanes(&mut z_generic, &mut slope_generic, &a, |x| {
                activation.value_and_derivative(x)
            });
            assert_eq!(sum.to_bits(), sum_generic.to_bits(), "{activation}");
            assert_eq!(z, z_generic);
            // The backward pass gives r sigma'(z) either way.
            let r = 0.37;
            let mut grad = vec![0.0; n];
            let mut grad_generic = vec![0.0; n];
            accumulate_residual(r, &z, &mut slope, &mut grad);
            backward_lanes(r, &z_generic, &mut slope_generic, &mut grad_generic);
            assert_eq!(grad, grad_generic);
            for (s, x) in slope.iter().zip(&z0) {
                assert_eq!(*s, r * activation.derivative(*x), "{activation} at {x}");
            }
            if activation == Activation::Relu {
                // relu's data-mode backward pass, from the pre-activations: the same slopes.
                let mut from_z = vec![0.0; n];
                relu_residual_slope(r, &z0, &mut from_z);
                assert_eq!(from_z, slope);
            }
            assert_eq!(forward_value(activation, &z0, &a).to_bits(), sum.to_bits());
            let plain: f64 = z0
                .iter()
                .zip(&a)
                .map(|(x, w)| w * activation.value(*x))
                .sum();
            assert!((sum - plain).abs() < 1e-13 * n as f64);
        }
    }
}
