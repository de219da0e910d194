//! # meanfield
//!
//! Mean-field dynamics of two-layer neural networks
//! f(x) = m^(-alpha) sum_j a_j sigma(w_j . x), simulated as m interacting particles
//! theta_j = (a_j, w_j) (every convention is in `docs/math.md`).
//!
//! Layers, each using only those to its left:
//! `error -> random -> math -> device -> task -> dynamics -> gpu -> backend -> diagnostics -> {plot, output} -> scenario`,
//! and above them the commands: `run -> limit -> sweep -> gallery` (and `bench`).
//!
//! - [`math`]: activations, pair kernels K and grad_1 K, particles, deterministic reductions.
//! - [`device`]: the scenario keys `device` (`cpu`, `cuda`) and `precision`.
//! - [`task`]: targets (teachers), data sets and the three risk modes: the risk and its
//!   gradient, on the CPU.
//! - [`dynamics`]: drift, noise, integrators, the simulation loop, and the `Backend` trait
//!   (where the risk is evaluated and the particles live; the host by default).
//! - `gpu` (cargo feature `cuda`): the CUDA backend (cuBLAS and kernels of the data modes, the
//!   fused kernel of population mode, particles held on the GPU for a run).
//! - [`backend`]: the backend a scenario's `device` and `precision` choose.
//! - [`diagnostics`]: scalars observed along a run.
//! - [`plot`] and [`output`]: figures and the files of a run directory.
//! - [`scenario`]: experiments as TOML data, validated into typed configuration.
//! - [`run`]: a run directory (`meanfield run`); [`limit`]: the exact mean-field limit of a
//!   scenario with rotation symmetry (`meanfield limit`, `docs/limit.md` sections 10-12);
//!   [`sweep`]: widths and seeds against a limit; [`gallery`]: classic results reproduced.

pub mod backend;
pub mod bench;
pub mod device;
pub mod diagnostics;
pub mod dynamics;
pub mod error;
pub mod gallery;
#[cfg(feature = "cuda")]
pub mod gpu;
pub mod limit;
pub mod math;
pub mod output;
pub mod plot;
pub mod random;
pub mod run;
pub mod scenario;
pub mod sweep;
pub mod task;

pub use error::{Error, Result};
