//! Particles held on the GPU between steps (docs/math.md section 2), shared by the data modes
//! (`gpu::data`) and population mode (`gpu`): the state, the probe of the later Runge-Kutta
//! stages and the stages, m x (1 + d) column-major each, with the kernels of `particles.cu`
//! (the drift from a gradient, the stage combinations, the noise) and the copy helpers both
//! backends use.

#![allow(unsafe_code, reason = "kernel launches are unsafe fns in cudarc")]

use std::sync::Arc;

use cudarc::driver::{
    CudaFunction, CudaModule, CudaSlice, CudaStream, LaunchConfig, PushKernelArg,
};
use nalgebra::DMatrix;

use super::{Real, device_error};
use crate::dynamics::HeldBuffer;
use crate::dynamics::Train;
use crate::dynamics::drift::DriftCoefficients;
use crate::dynamics::integrator::At;
use crate::error::{Error, Result};

/// The source of the particle kernels, appended to `data.cu` and `population.cu`.
pub const PARTICLES_SOURCE: &str = include_str!("particles.cu");

/// Threads per block of the particle kernels.
pub const THREADS: usize = 256;

/// The kernels of `particles.cu` in a loaded module.
pub(crate) struct ParticleKernels {
    drift: CudaFunction,
    axpy: CudaFunction,
    noise: CudaFunction,
}

impl ParticleKernels {
    /// The three entry points of `module` (a module compiled with `particles.cu` appended).
    pub(crate) fn load(module: &Arc<CudaModule>, device: &str) -> Result<Self> {
        let function = |entry: &str| {
            module
                .load_function(entry)
                .map_err(|e| device_error(format!("{device}: kernel {entry}: {e:?}")))
        };
        Ok(Self {
            drift: function("particle_drift")?,
            axpy: function("particle_axpy")?,
            noise: function("particle_noise")?,
        })
    }
}

/// The particles held between steps: m x (1 + d) column-major each.
pub(crate) struct HeldParticles<T> {
    pub(crate) m: usize,
    pub(crate) d: usize,
    pub(crate) state: CudaSlice<T>,
    /// theta + dt sum a_sr k_r, for integrators of more than one stage.
    pub(crate) probe: Option<CudaSlice<T>>,
    pub(crate) stages: Vec<CudaSlice<T>>,
    /// The noise draws of a step, uploaded when tau > 0.
    draws: Option<CudaSlice<T>>,
}

/// What went wrong in an evaluation.
pub(crate) enum Failure {
    Invalid(Error),
    Driver(String),
}

impl Failure {
    pub(crate) fn into_error(self, device: &str) -> Error {
        match self {
            Failure::Invalid(e) => e,
            Failure::Driver(e) => device_error(format!("{device}: {e}")),
        }
    }
}

impl From<cudarc::driver::DriverError> for Failure {
    fn from(e: cudarc::driver::DriverError) -> Self {
        Failure::Driver(format!("{e:?}"))
    }
}

impl From<cudarc::cublas::result::CublasError> for Failure {
    fn from(e: cudarc::cublas::result::CublasError) -> Self {
        Failure::Driver(format!("cuBLAS: {e:?}"))
    }
}

pub(crate) type Outcome<T> = std::result::Result<T, Failure>;

pub(crate) fn to_i32(value: usize, what: &str) -> Outcome<i32> {
    i32::try_from(value).map_err(|_| {
        Failure::Invalid(Error::invalid(
            format!("{what} on device cuda"),
            value,
            "at most 2^31 - 1",
        ))
    })
}

pub(crate) fn launch_config(threads: usize, blocks: usize) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (blocks as u32, 1, 1),
        block_dim: (threads as u32, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// `buffer` resized (reallocated) to `len` values.
pub(crate) fn sized<'b, T: Real>(
    stream: &Arc<CudaStream>,
    buffer: &'b mut Option<CudaSlice<T>>,
    len: usize,
) -> Outcome<&'b mut CudaSlice<T>> {
    if buffer.as_ref().is_none_or(|b| b.len() != len) {
        *buffer = Some(stream.alloc_zeros(len)?);
    }
    buffer
        .as_mut()
        .ok_or_else(|| Failure::Driver("a buffer was not allocated".into()))
}

/// `host` refilled with `src` in the kernels' type, copied into `dst`.
pub(crate) fn upload<T: Real>(
    stream: &Arc<CudaStream>,
    host: &mut Vec<T>,
    src: &[f64],
    dst: &mut CudaSlice<T>,
) -> Outcome<()> {
    host.clear();
    host.extend(src.iter().map(|&v| T::from_f64(v)));
    stream.memcpy_htod(host.as_slice(), dst)?;
    // The staging buffer is refilled for the next copy: wait for this one first.
    stream.synchronize()?;
    Ok(())
}

/// `src` copied back into `out` through `host`.
pub(crate) fn download<T: Real>(
    stream: &Arc<CudaStream>,
    host: &mut Vec<T>,
    src: &CudaSlice<T>,
    out: &mut [f64],
) -> Outcome<()> {
    host.resize(src.len(), T::default());
    stream.memcpy_dtoh(src, host.as_mut_slice())?;
    stream.synchronize()?;
    for (o, v) in out.iter_mut().zip(host.iter()) {
        *o = v.to_f64();
    }
    Ok(())
}

/// `theta` (m x (1 + d)) uploaded to be held, with `stages` stage buffers (and a probe when
/// there is more than one).
pub(crate) fn hold<T: Real>(
    stream: &Arc<CudaStream>,
    host: &mut Vec<T>,
    theta: &DMatrix<f64>,
    stages: usize,
) -> Outcome<HeldParticles<T>> {
    let (m, d) = (theta.nrows(), theta.ncols() - 1);
    let len = m * (1 + d);
    let mut state = stream.alloc_zeros(len)?;
    upload(stream, host, theta.as_slice(), &mut state)?;
    let stages = (0..stages.max(1))
        .map(|_| stream.alloc_zeros(len))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    // A one-stage step (Euler) never evaluates at a probe.
    let probe = if stages.len() > 1 {
        Some(stream.alloc_zeros(len)?)
    } else {
        None
    };
    Ok(HeldParticles {
        m,
        d,
        state,
        probe,
        stages,
        draws: None,
    })
}

/// The held particles, or the error of a step asked for without them.
pub(crate) fn held_mut<T>(held: &mut Option<HeldParticles<T>>) -> Outcome<&mut HeldParticles<T>> {
    held.as_mut().ok_or_else(|| {
        Failure::Invalid(Error::invalid(
            "particles on the GPU",
            "none",
            "particles held (Backend::hold) before a step",
        ))
    })
}

pub(crate) fn no_probe() -> Failure {
    Failure::Invalid(Error::invalid(
        "Runge-Kutta probe",
        "absent",
        "a probe, allocated for integrators of more than one stage",
    ))
}

pub(crate) fn stage_out_of_range(stage: usize, count: usize) -> Failure {
    Failure::Invalid(Error::invalid(
        "Runge-Kutta stage",
        stage,
        format!("a stage below {count}"),
    ))
}

impl<T: Real> HeldParticles<T> {
    /// The point `at` and stage `stage`, borrowed together (the gradient is written into the
    /// stage while the point is read).
    pub(crate) fn point_and_stage(
        &mut self,
        at: At,
        stage: usize,
    ) -> Outcome<(&CudaSlice<T>, &mut CudaSlice<T>)> {
        let count = self.stages.len();
        let point = match at {
            At::State => &self.state,
            At::Probe => self.probe.as_ref().ok_or_else(no_probe)?,
        };
        let out = self
            .stages
            .get_mut(stage)
            .ok_or_else(|| stage_out_of_range(stage, count))?;
        Ok((point, out))
    }

    /// Stage `stage`, which holds dR/dtheta at `at`, turned into the drift in place
    /// (`particle_drift`).
    pub(crate) fn drift(
        &mut self,
        stream: &Arc<CudaStream>,
        kernels: &ParticleKernels,
        coefficients: &DriftCoefficients,
        at: At,
        stage: usize,
    ) -> Outcome<()> {
        let (m, d) = (self.m, self.d);
        let (m_i, d_i) = (to_i32(m, "m")?, to_i32(d, "d")?);
        let (theta, out) = self.point_and_stage(at, stage)?;
        let DriftCoefficients {
            time_scale,
            lambda,
            lr_ratio,
            train,
        } = *coefficients;
        let (train_a, train_w) = train_flags(train);
        let (time_scale, lambda, lr_ratio) = (
            T::from_f64(time_scale),
            T::from_f64(lambda),
            T::from_f64(lr_ratio),
        );
        let mut builder = stream.launch_builder(&kernels.drift);
        builder
            .arg(&m_i)
            .arg(&d_i)
            .arg(&time_scale)
            .arg(&lambda)
            .arg(&lr_ratio)
            .arg(&train_a)
            .arg(&train_w)
            .arg(theta)
            .arg(out);
        // SAFETY: the arguments of `particle_drift`: m, d as int, time_scale, lambda, lr_ratio
        // as REAL, train_a, train_w as int, theta and v (both m x (1 + d), allocated by
        // `hold`); the grid covers the m (1 + d) entries, the kernel returns past them.
        unsafe { builder.launch(launch_config(THREADS, (m * (1 + d)).div_ceil(THREADS))) }?;
        Ok(())
    }

    /// probe = state.
    pub(crate) fn probe_from_state(&mut self, stream: &Arc<CudaStream>) -> Outcome<()> {
        let probe = self.probe.as_mut().ok_or_else(no_probe)?;
        stream.memcpy_dtod(&self.state, probe)?;
        Ok(())
    }

    /// target += alpha k_stage (`particle_axpy`).
    pub(crate) fn axpy(
        &mut self,
        stream: &Arc<CudaStream>,
        kernels: &ParticleKernels,
        target: At,
        alpha: f64,
        stage: usize,
    ) -> Outcome<()> {
        let count = self.stages.len();
        let len = self.m * (1 + self.d);
        let x = self
            .stages
            .get(stage)
            .ok_or_else(|| stage_out_of_range(stage, count))?;
        let y = match target {
            At::State => &mut self.state,
            At::Probe => self.probe.as_mut().ok_or_else(no_probe)?,
        };
        let len_i =
            i64::try_from(len).map_err(|_| Failure::Driver(format!("{len} values: too many")))?;
        let alpha = T::from_f64(alpha);
        let mut builder = stream.launch_builder(&kernels.axpy);
        builder.arg(&len_i).arg(&alpha).arg(x).arg(y);
        // SAFETY: the arguments of `particle_axpy`: len as long long, alpha as REAL, x and y of
        // len values each (the held buffers); the grid covers the len entries.
        unsafe { builder.launch(launch_config(THREADS, len.div_ceil(THREADS))) }?;
        Ok(())
    }

    /// state += amplitude draws on the trained columns; `draws` row-major m x (1 + d), as
    /// `dynamics::noise::draw_noise` makes it (uploaded: O(m d) per noisy step).
    pub(crate) fn noise(
        &mut self,
        stream: &Arc<CudaStream>,
        kernels: &ParticleKernels,
        host: &mut Vec<T>,
        amplitude: f64,
        train: Train,
        draws: &[f64],
    ) -> Outcome<()> {
        let (m, d) = (self.m, self.d);
        let len = m * (1 + d);
        if draws.len() != len {
            return Err(Failure::Invalid(Error::invalid(
                "noise draws",
                draws.len(),
                format!("m (1 + d) = {len} values"),
            )));
        }
        let buffer = sized(stream, &mut self.draws, len)?;
        upload(stream, host, draws, buffer)?;
        let (m_i, d_i) = (to_i32(m, "m")?, to_i32(d, "d")?);
        let (train_a, train_w) = train_flags(train);
        let amplitude = T::from_f64(amplitude);
        let mut builder = stream.launch_builder(&kernels.noise);
        builder
            .arg(&m_i)
            .arg(&d_i)
            .arg(&amplitude)
            .arg(&train_a)
            .arg(&train_w)
            .arg(&*buffer)
            .arg(&mut self.state);
        // SAFETY: the arguments of `particle_noise`: m, d as int, amplitude as REAL, train_a,
        // train_w as int, draws and theta of m (1 + d) values each; the grid covers them.
        unsafe { builder.launch(launch_config(THREADS, len.div_ceil(THREADS))) }?;
        Ok(())
    }

    /// A held buffer copied back into `out` (m x (1 + d)).
    pub(crate) fn download(
        &self,
        stream: &Arc<CudaStream>,
        host: &mut Vec<T>,
        buffer: HeldBuffer,
        out: &mut DMatrix<f64>,
    ) -> Outcome<()> {
        if out.shape() != (self.m, 1 + self.d) {
            return Err(Failure::Invalid(Error::invalid(
                "download of the held particles",
                format!("{} x {}", out.nrows(), out.ncols()),
                format!("{} x {}", self.m, 1 + self.d),
            )));
        }
        let src = match buffer {
            HeldBuffer::State => &self.state,
            HeldBuffer::Stage(s) => self
                .stages
                .get(s)
                .ok_or_else(|| stage_out_of_range(s, self.stages.len()))?,
        };
        download(stream, host, src, out.as_mut_slice())
    }
}

/// (train_a, train_w) as the kernels' int flags.
fn train_flags(train: Train) -> (i32, i32) {
    (
        i32::from(train.trains_column(0)),
        i32::from(train.trains_column(1)),
    )
}
