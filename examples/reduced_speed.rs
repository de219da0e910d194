//! Timing harness of `ReducedPopulation::velocity` and `risk` (issue 22): prints the median
//! time per call and per (ordered pair x angle node) for relu, erf and tanh at k = 1 and 2.
//!
//! ```text
//! cargo run --release --example reduced_speed -- [count] [threads] [save|compare PATH]
//! ```
//!
//! `count` nodes (default 1000; tanh uses count / 10), `threads` rayon threads (default 2).
//! `save PATH` writes every velocity and risk as little-endian f64; `compare PATH` reads such a
//! file and prints the largest relative difference (to the largest entry of each velocity).

use meanfield::math::Activation;
use meanfield::task::{ReducedFlow, ReducedPopulation};
use nalgebra::DMatrix;
use std::error::Error;
use std::time::Instant;

type Outcome = Result<(), Box<dyn Error + Send + Sync>>;

/// Deterministic nodes in dimension k: weights in [0.5, 1.5] normalised, a, p, q of order 1.
fn nodes(count: usize, k: usize) -> DMatrix<f64> {
    let mut nodes = DMatrix::zeros(count, k + 3);
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    for j in 0..count {
        nodes[(j, 0)] = 0.5 + next();
        nodes[(j, 1)] = 2.0 * next() - 1.0;
        for c in 0..k {
            nodes[(j, 2 + c)] = 2.0 * next() - 1.0;
        }
        nodes[(j, 2 + k)] = 0.2 + next();
    }
    let total: f64 = nodes.column(0).sum();
    nodes.column_mut(0).iter_mut().for_each(|w| *w /= total);
    nodes
}

fn teacher(k: usize) -> DMatrix<f64> {
    let mut teacher = DMatrix::zeros(k, k + 1);
    for i in 0..k {
        teacher[(i, 0)] = 1.0;
        teacher[(i, 1 + i)] = 1.0;
    }
    teacher
}

fn median_seconds(
    repeats: usize,
    mut call: impl FnMut() -> Outcome,
) -> Result<f64, Box<dyn Error + Send + Sync>> {
    call()?;
    let mut times = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let start = Instant::now();
        call()?;
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

fn main() -> Outcome {
    let args: Vec<String> = std::env::args().collect();
    let count: usize = args.get(1).map_or(Ok(1000), |s| s.parse())?;
    let threads: usize = args.get(2).map_or(Ok(2), |s| s.parse())?;
    let mode = args.get(3).cloned().unwrap_or_default();
    let path = args.get(4).cloned().unwrap_or_default();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let mut outputs: Vec<f64> = Vec::new();
    let mut offsets = Vec::new();
    for activation in [Activation::Relu, Activation::Erf, Activation::Tanh] {
        for k in [1usize, 2] {
            let count = if activation == Activation::Tanh {
                count / 10
            } else {
                count
            };
            let nodes = nodes(count, k);
            let mut reduced = ReducedPopulation::with_defaults(activation, 20, &teacher(k), 0.1)?;
            let angle_nodes = reduced.rule().nodes().len();
            let flow = ReducedFlow::default();
            let mut velocity = DMatrix::zeros(count, k + 3);
            let repeats = if activation == Activation::Tanh { 3 } else { 9 };
            let mut risk = 0.0;
            let velocity_time = pool.install(|| {
                median_seconds(repeats, || {
                    risk = reduced.velocity(&nodes, &flow, &mut velocity)?;
                    Ok(())
                })
            })?;
            let risk_time = pool
                .install(|| median_seconds(repeats, || Ok(reduced.risk(&nodes).map(|_| ())?)))?;
            let work = (count * count * angle_nodes) as f64;
            println!(
                "{activation:?} k = {k} N = {count} threads = {threads}: velocity {:.3} ms \
                 ({:.3} ns per pair-node), risk {:.3} ms ({:.3} ns per pair-node)",
                velocity_time * 1e3,
                velocity_time * 1e9 / work,
                risk_time * 1e3,
                risk_time * 1e9 / work,
            );
            offsets.push((activation, k, outputs.len(), velocity.len()));
            outputs.push(risk);
            outputs.extend(velocity.iter());
        }
    }
    match mode.as_str() {
        "save" => {
            let bytes: Vec<u8> = outputs.iter().flat_map(|v| v.to_le_bytes()).collect();
            std::fs::write(&path, bytes)?;
        }
        "compare" => compare(&std::fs::read(&path)?, &outputs, &offsets)?,
        _ => {}
    }
    Ok(())
}

fn compare(
    bytes: &[u8],
    outputs: &[f64],
    offsets: &[(Activation, usize, usize, usize)],
) -> Outcome {
    let saved: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|c| <[u8; 8]>::try_from(c).map(f64::from_le_bytes))
        .collect::<Result<_, _>>()?;
    if saved.len() != outputs.len() {
        return Err("saved outputs have another length".into());
    }
    for &(activation, k, start, len) in offsets {
        let risk_error = (saved[start] - outputs[start]).abs() / saved[start].abs();
        let range = start + 1..start + 1 + len;
        let scale = saved[range.clone()]
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        let worst = saved[range.clone()]
            .iter()
            .zip(&outputs[range])
            .map(|(x, y)| (x - y).abs() / scale)
            .fold(0.0f64, f64::max);
        println!("{activation:?} k = {k}: risk rel diff {risk_error:.2e}, velocity {worst:.2e}");
    }
    Ok(())
}
