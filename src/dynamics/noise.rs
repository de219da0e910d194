//! Langevin noise sqrt(2 tau dt) xi_j (docs/math.md section 2, Euler-Maruyama). Particle j's normals
//! at step k come from the stream (seed, Noise, k, j): one draw per column of the particle, in
//! column order, so the noise does not depend on threads (nor on where the particles are held:
//! a GPU run adds the same draws).

use nalgebra::DMatrix;
use rand::RngExt;
use rand_distr::StandardNormal;
use rayon::prelude::*;

use crate::dynamics::Train;
use crate::random::{Purpose, stream};

/// Adds sqrt(2 tau dt) xi to the trained coordinates of `theta`, using `buffer` (resized to
/// m (1 + d), reused across steps) for the row-major draws.
pub fn add_noise(
    theta: &mut DMatrix<f64>,
    amplitude: f64,
    train: Train,
    seed: u64,
    step: u64,
    buffer: &mut Vec<f64>,
) {
    draw_noise(theta.nrows(), theta.ncols(), seed, step, buffer);
    apply_noise(theta, amplitude, train, buffer);
}

/// The standard normals of step `step` for m particles of `width` = 1 + d coordinates, into
/// `buffer` (resized to m width), row-major: particle j's draws are `buffer[j width..]`.
pub fn draw_noise(m: usize, width: usize, seed: u64, step: u64, buffer: &mut Vec<f64>) {
    buffer.resize(m * width, 0.0);
    buffer
        .par_chunks_mut(width.max(1))
        .enumerate()
        .for_each(|(j, row)| {
            let mut rng = stream(seed, Purpose::Noise, step, j as u64);
            for x in row.iter_mut() {
                *x = rng.sample(StandardNormal);
            }
        });
}

/// theta[j, c] += amplitude draws[j width + c] on the trained columns c (the draws of
/// [`draw_noise`]).
pub fn apply_noise(theta: &mut DMatrix<f64>, amplitude: f64, train: Train, draws: &[f64]) {
    let m = theta.nrows();
    let width = theta.ncols();
    theta
        .as_mut_slice()
        .par_chunks_mut(m.max(1))
        .enumerate()
        .filter(|(col, _)| train.trains_column(*col))
        .for_each(|(col, column)| {
            for (j, x) in column.iter_mut().enumerate() {
                *x += amplitude * draws[j * width + col];
            }
        });
}
