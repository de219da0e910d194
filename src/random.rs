//! Counter-based random streams: the only source of randomness in meanfield.
//!
//! Every random number is drawn from a stream that is a pure function of
//! (seed, purpose, step, index): the initial draw of particle j, the noise of particle j at
//! step k, sample i of the batch at step k. Threads never own a generator, so results are
//! bit-identical on any number of threads, and the first m particles drawn at width 4m are the
//! particles drawn at width m (STYLE.md, "Numerics"; the hoomd-rs counter pattern).

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

/// What a stream is used for; part of its key so that purposes never share numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Purpose {
    /// Initial particle j (`step` = 0, `index` = j).
    Init = 1,
    /// Teacher neuron i.
    Teacher = 2,
    /// Sample i of a fixed training set.
    Data = 3,
    /// Sample i of the fixed held-out test set.
    Test = 4,
    /// Sample i of the online batch at a step.
    Batch = 5,
    /// Langevin noise of particle j at a step.
    Noise = 6,
    /// Teacher output weights, when drawn.
    TeacherWeights = 7,
    /// Random unit direction k of sliced distances (`index` = k).
    Directions = 8,
    /// Probe input i of the tangent-kernel indicator.
    Probe = 9,
    /// Deterministic subsampling of particles for snapshots and figures.
    Subsample = 10,
    /// Bootstrap resample b of a statistic (`index` = b).
    Bootstrap = 11,
}

/// SplitMix64's finaliser: a bijection of u64 with full avalanche.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_133f_11eb);
    z ^ (z >> 31)
}

/// The generator of the stream keyed by (seed, purpose, step, index).
///
/// Each of the four state words of the xoshiro256++ generator is a hash of the whole key
/// with its own constant, so streams with nearby keys are unrelated.
pub fn stream(seed: u64, purpose: Purpose, step: u64, index: u64) -> Xoshiro256PlusPlus {
    const LANES: [u64; 4] = [
        0x9e37_79b9_7f4a_7c15,
        0xd1b5_4a32_d192_ed03,
        0xabc9_8388_fb8f_ac03,
        0x8cb9_2ba7_2f3d_8dd7,
    ];
    let mut bytes = [0u8; 32];
    for (lane, chunk) in LANES.iter().zip(bytes.chunks_exact_mut(8)) {
        let word = mix(seed
            ^ mix((purpose as u64).wrapping_mul(*lane)
                ^ mix(step.wrapping_add(*lane) ^ mix(index ^ lane.rotate_left(17)))));
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    Xoshiro256PlusPlus::from_seed(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::float_cmp, reason = "bit-identity is the property tested")]
    use super::*;
    use rand::RngExt;
    use rand_distr::StandardNormal;

    #[test]
    fn a_stream_is_a_pure_function_of_its_key() {
        let x: f64 = stream(7, Purpose::Noise, 3, 11).sample(StandardNormal);
        let y: f64 = stream(7, Purpose::Noise, 3, 11).sample(StandardNormal);
        assert_eq!(x.to_bits(), y.to_bits());
    }

    #[test]
    fn streams_differing_in_one_key_part_differ() {
        let base: u64 = stream(1, Purpose::Init, 0, 0).random();
        for other in [
            stream(2, Purpose::Init, 0, 0),
            stream(1, Purpose::Noise, 0, 0),
            stream(1, Purpose::Init, 1, 0),
            stream(1, Purpose::Init, 0, 1),
        ] {
            let mut other = other;
            assert_ne!(base, other.random::<u64>());
        }
    }

    /// Neighbouring streams must look independent: the correlation of the first normal draw
    /// over 20,000 consecutive indices is within 4 standard errors (4 / sqrt(n)) of zero.
    #[test]
    fn neighbouring_streams_are_uncorrelated() {
        let n = 20_000u64;
        let draws: Vec<(f64, f64)> = (0..n)
            .map(|i| {
                let a: f64 = stream(5, Purpose::Init, 0, i).sample(StandardNormal);
                let b: f64 = stream(5, Purpose::Init, 0, i + 1).sample(StandardNormal);
                (a, b)
            })
            .collect();
        let mean_product = draws.iter().map(|(a, b)| a * b).sum::<f64>() / n as f64;
        let mean_square = draws.iter().map(|(a, _)| a * a).sum::<f64>() / n as f64;
        assert!(
            mean_product.abs() < 4.0 / (n as f64).sqrt(),
            "{mean_product}"
        );
        assert!((mean_square - 1.0).abs() < 4.0 * 2f64.sqrt() / (n as f64).sqrt());
    }
}
