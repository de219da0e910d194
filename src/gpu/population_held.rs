//! Population mode (docs/math.md section 3) with the particles held on the GPU between steps: each
//! Runge-Kutta stage computes |w_j|^2 (`population_norms`), the fused interaction of the
//! particles with themselves and with the teacher (`population_interaction`, the teacher as
//! its n = k columns with weights a*_i / k and no self pairs), the gradient
//! (`population_gradient`) straight into the stage buffer and the drift in place
//! (`particles.cu`). What comes back per stage is the 2 m terms of the risk's two sums, summed
//! in order on the host ([`super::population_risk`]).

#![allow(unsafe_code, reason = "kernel launches are unsafe fns in cudarc")]

use std::sync::Arc;

use cudarc::driver::{CudaFunction, CudaSlice, CudaStream, LaunchConfig, PushKernelArg};
use nalgebra::DMatrix;

use super::held::{
    self, Failure, HeldParticles, Outcome, THREADS, download, launch_config, to_i32, upload,
};
use super::{CudaInteraction, Real, TILE, population_risk};
use crate::device::Precision;
use crate::dynamics::HeldBuffer;
use crate::dynamics::Train;
use crate::dynamics::drift::DriftCoefficients;
use crate::dynamics::integrator::At;
use crate::error::{Error, Result};

/// The held particles of population mode with the teacher and the per-stage sums.
pub(crate) struct HeldPopulation<T> {
    particles: HeldParticles<T>,
    /// E f*^2 (+ s^2), the constant of the risk.
    target_energy: f64,
    /// The teacher as interaction columns: a*_i / k, w*_i (k x d column-major), |w*_i|^2.
    k: usize,
    teacher_a: CudaSlice<T>,
    teacher_w: CudaSlice<T>,
    teacher_q: CudaSlice<T>,
    q: CudaSlice<T>,
    value: CudaSlice<T>,
    cross: CudaSlice<T>,
    direction: CudaSlice<T>,
    t_value: CudaSlice<T>,
    t_cross: CudaSlice<T>,
    t_direction: CudaSlice<T>,
    /// a_j P_j, then a_j V(w_j).
    energy: CudaSlice<T>,
    energy_host: Vec<f64>,
    host: Vec<T>,
}

pub(crate) enum AnyHeld {
    F64(Box<HeldPopulation<f64>>),
    F32(Box<HeldPopulation<f32>>),
}

/// The kernels a held stage launches.
struct Launch<'a> {
    stream: &'a Arc<CudaStream>,
    interaction: &'a CudaFunction,
    norms: &'a CudaFunction,
    gradient: &'a CudaFunction,
}

fn nothing_held() -> Error {
    Error::invalid(
        "particles on the GPU",
        "none",
        "particles held (Backend::hold) before a step",
    )
}

/// Dispatches `$body` on the held buffers of `$self` (binding `$h`).
macro_rules! held {
    ($self:ident, $h:ident => $body:expr) => {{
        let name = $self.device_name.clone();
        let result = match $self.held.as_mut() {
            Some(AnyHeld::F64($h)) => $body,
            Some(AnyHeld::F32($h)) => $body,
            None => return Err(nothing_held()),
        };
        result.map_err(|e: Failure| e.into_error(&name))
    }};
}

impl CudaInteraction {
    /// Uploads `theta` (m x (1 + d)) to be held for a run, with `stages` stage buffers, and
    /// the teacher (`teacher`: k x (1 + d), a* in column 0) with the risk's constant
    /// `target_energy`.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the teacher's or the particles' d is not the kernel's;
    /// [`Error::Device`] on a failed allocation or copy.
    pub fn hold(
        &mut self,
        theta: &DMatrix<f64>,
        stages: usize,
        teacher: &DMatrix<f64>,
        target_energy: f64,
    ) -> Result<()> {
        let d = self.d;
        for (what, cols) in [("student", theta.ncols()), ("teacher", teacher.ncols())] {
            if cols != d + 1 {
                return Err(Error::invalid(
                    format!("{what} d on device cuda"),
                    cols.saturating_sub(1),
                    format!("the kernel's d = {d}"),
                ));
            }
        }
        let stream = self.stream.clone();
        let name = self.device_name.clone();
        let held = match self.precision {
            Precision::F64 => AnyHeld::F64(Box::new(
                allocate(&stream, theta, stages, teacher, target_energy)
                    .map_err(|e| e.into_error(&name))?,
            )),
            Precision::F32 => AnyHeld::F32(Box::new(
                allocate(&stream, theta, stages, teacher, target_energy)
                    .map_err(|e| e.into_error(&name))?,
            )),
        };
        self.held = Some(held);
        Ok(())
    }

    /// Whether particles are held ([`CudaInteraction::hold`], until
    /// [`CudaInteraction::release`]).
    pub fn holds(&self) -> bool {
        self.held.is_some()
    }

    /// Frees the held particles.
    pub fn release(&mut self) {
        self.held = None;
    }

    /// The drift (docs/math.md sections 2 and 3) of the held particles at `at` into stage
    /// `stage`; returns the risk there. `scale` = m^(-alpha).
    ///
    /// # Errors
    /// [`Error::Invalid`] when nothing is held or `stage` is out of range; [`Error::Device`]
    /// on a failed copy or launch.
    pub fn held_drift(
        &mut self,
        scale: f64,
        coefficients: &DriftCoefficients,
        at: At,
        stage: usize,
    ) -> Result<f64> {
        let launch = Launch {
            stream: &self.stream,
            interaction: &self.function,
            norms: &self.norms,
            gradient: &self.gradient,
        };
        let (particles, d) = (&self.particles, self.d);
        held!(self, h => {
            stage_drift(&launch, h, d, scale, at, stage).and_then(|risk| {
                h.particles
                    .drift(launch.stream, particles, coefficients, at, stage)
                    .map(|()| risk)
            })
        })
    }

    /// probe = state.
    ///
    /// # Errors
    /// [`Error::Invalid`] when nothing is held or there is no probe; [`Error::Device`] on a
    /// failed copy.
    pub fn held_probe_from_state(&mut self) -> Result<()> {
        let stream = self.stream.clone();
        held!(self, h => h.particles.probe_from_state(&stream))
    }

    /// target += alpha k_stage.
    ///
    /// # Errors
    /// [`Error::Invalid`] when nothing is held or `stage` is out of range; [`Error::Device`]
    /// on a failed launch.
    pub fn held_axpy(&mut self, target: At, alpha: f64, stage: usize) -> Result<()> {
        let (stream, kernels) = (&self.stream, &self.particles);
        held!(self, h => h.particles.axpy(stream, kernels, target, alpha, stage))
    }

    /// state += amplitude draws on the trained columns (draws row-major m x (1 + d)).
    ///
    /// # Errors
    /// [`Error::Invalid`] when nothing is held or the draws do not fit; [`Error::Device`] on a
    /// failed copy or launch.
    pub fn held_noise(&mut self, amplitude: f64, train: Train, draws: &[f64]) -> Result<()> {
        let (stream, kernels) = (&self.stream, &self.particles);
        held!(self, h => {
            let HeldPopulation {
                particles, host, ..
            } = &mut **h;
            particles.noise(stream, kernels, host, amplitude, train, draws)
        })
    }

    /// Copies a held buffer back into `out` (m x (1 + d)).
    ///
    /// # Errors
    /// [`Error::Invalid`] when nothing is held, the buffer does not exist or `out` has another
    /// shape; [`Error::Device`] on a failed copy.
    pub fn held_download(&mut self, buffer: HeldBuffer, out: &mut DMatrix<f64>) -> Result<()> {
        let stream = self.stream.clone();
        held!(self, h => {
            let HeldPopulation {
                particles, host, ..
            } = &mut **h;
            particles.download(&stream, host, buffer, out)
        })
    }
}

fn allocate<T: Real>(
    stream: &Arc<CudaStream>,
    theta: &DMatrix<f64>,
    stages: usize,
    teacher: &DMatrix<f64>,
    target_energy: f64,
) -> Outcome<HeldPopulation<T>> {
    let (m, d) = (theta.nrows(), theta.ncols() - 1);
    let k = teacher.nrows();
    let mut host = Vec::new();
    let particles = held::hold(stream, &mut host, theta, stages)?;
    let weights: Vec<f64> = teacher.column(0).iter().map(|a| a / k as f64).collect();
    let norms: Vec<f64> = (0..k)
        .map(|i| teacher.row(i).columns(1, d).norm_squared())
        .collect();
    let mut upload_new = |values: &[f64]| -> Outcome<CudaSlice<T>> {
        let mut buffer = stream.alloc_zeros(values.len().max(1))?;
        upload(stream, &mut host, values, &mut buffer)?;
        Ok(buffer)
    };
    let teacher_a = upload_new(&weights)?;
    let teacher_w = upload_new(&teacher.as_slice()[k..])?;
    let teacher_q = upload_new(&norms)?;
    let zeros = |len: usize| stream.alloc_zeros::<T>(len);
    Ok(HeldPopulation {
        particles,
        target_energy,
        k,
        teacher_a,
        teacher_w,
        teacher_q,
        q: zeros(m)?,
        value: zeros(m)?,
        cross: zeros(m)?,
        direction: zeros(m * d)?,
        t_value: zeros(m)?,
        t_cross: zeros(m)?,
        t_direction: zeros(m * d)?,
        energy: zeros(2 * m)?,
        energy_host: vec![0.0; 2 * m],
        host,
    })
}

/// dR/dtheta at `at` into stage `stage`, and the risk there.
// Over 100 lines: the four launches of a stage in their order (norms, the interaction with the
// particles, with the teacher, the gradient), each with its untyped argument list and the
// SAFETY note that checks it against the kernel; split, the notes would lose their context.
fn stage_drift<T: Real>(
    launch: &Launch<'_>,
    h: &mut HeldPopulation<T>,
    d: usize,
    scale: f64,
    at: At,
    stage: usize,
) -> Outcome<f64> {
    let stream = launch.stream;
    let m = h.particles.m;
    let (m_i, k_i) = (to_i32(m, "m")?, to_i32(h.k, "teacher k")?);
    let HeldPopulation {
        particles,
        target_energy,
        teacher_a,
        teacher_w,
        teacher_q,
        q,
        value,
        cross,
        direction,
        t_value,
        t_cross,
        t_direction,
        energy,
        energy_host,
        host,
        ..
    } = h;
    let (theta, out) = particles.point_and_stage(at, stage)?;
    let a = theta.slice(0..m);
    let w = theta.slice(m..m * (1 + d));
    let per_particle = launch_config(THREADS, m.div_ceil(THREADS));

    let mut builder = stream.launch_builder(launch.norms);
    builder.arg(&m_i).arg(theta).arg(&mut *q);
    // SAFETY: `population_norms`: m as int, theta (m x (1 + d)) and q (m) of the compiled
    // REAL type; the grid covers the m particles, the kernel returns past them.
    unsafe { builder.launch(per_particle) }?;

    let rows = LaunchConfig {
        grid_dim: (m.div_ceil(TILE) as u32, 1, 1),
        block_dim: (TILE as u32, 1, 1),
        shared_mem_bytes: 0,
    };
    let (one, zero) = (1i32, 0i32);
    let mut builder = stream.launch_builder(launch.interaction);
    builder
        .arg(&m_i)
        .arg(&m_i)
        .arg(&one)
        .arg(&w)
        .arg(&*q)
        .arg(&a)
        .arg(&w)
        .arg(&*q)
        .arg(&mut *value)
        .arg(&mut *cross)
        .arg(&mut *direction);
    // SAFETY: `population_interaction`: m, n = m, same = 1 as int, the rows w (m d), q (m),
    // the columns a (m), w (m d), q (m) (the particles with themselves), the outputs value,
    // cross (m) and direction (m d); TILE threads per block over the m rows.
    unsafe { builder.launch(rows) }?;

    let mut builder = stream.launch_builder(launch.interaction);
    builder
        .arg(&m_i)
        .arg(&k_i)
        .arg(&zero)
        .arg(&w)
        .arg(&*q)
        .arg(&*teacher_a)
        .arg(&*teacher_w)
        .arg(&*teacher_q)
        .arg(&mut *t_value)
        .arg(&mut *t_cross)
        .arg(&mut *t_direction);
    // SAFETY: as above with the k teacher columns (a*_i / k, w*_i: k x d, |w*_i|^2) and
    // same = 0; the outputs t_value, t_cross (m) and t_direction (m d).
    unsafe { builder.launch(rows) }?;

    let scale_t = T::from_f64(scale);
    let mut builder = stream.launch_builder(launch.gradient);
    builder
        .arg(&m_i)
        .arg(&scale_t)
        .arg(theta)
        .arg(&*q)
        .arg(&*value)
        .arg(&*cross)
        .arg(&*direction)
        .arg(&*t_value)
        .arg(&*t_cross)
        .arg(&*t_direction)
        .arg(&mut *out)
        .arg(&mut *energy);
    // SAFETY: `population_gradient`: m as int, scale as REAL, theta (m x (1 + d)), q, value,
    // cross (m), direction (m d), t_value, t_cross (m), t_direction (m d), grad (the stage,
    // m x (1 + d)) and energy (2 m); the grid covers the m particles.
    unsafe { builder.launch(per_particle) }?;

    download(stream, host, energy, energy_host)?;
    let (pair_terms, teacher_terms) = energy_host.split_at(m);
    Ok(population_risk(
        *target_energy,
        scale,
        pair_terms,
        teacher_terms,
    ))
}
