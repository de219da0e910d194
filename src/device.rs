//! Where the risk of every mode is evaluated and the particles live (`device`, `--device`),
//! and in which floating-point precision (`precision`): the scenario keys from which
//! `crate::backend::for_device` chooses the backend (the CPU, or the CUDA backend of
//! `crate::gpu`, cargo feature `cuda`: population mode's fused kernel and the data modes'
//! cuBLAS path). The CPU path is float64 throughout (docs/math.md conventions as written);
//! `precision = "f32"` runs the GPU kernels in float32 and returns their results as float64.

use std::fmt;

use crate::error::{Error, Result};

/// The device of the risk's evaluation (and, during a run, of the particles).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Device {
    /// The CPU (rayon), the default.
    #[default]
    Cpu,
    /// GPU 0 through CUDA (needs a binary built with `--features cuda`).
    Cuda,
}

/// The floating-point type of the GPU kernels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
    /// float64, the default: the CPU's results to rounding.
    #[default]
    F64,
    /// float32: faster on GPUs with few float64 units; its error is reported by the GPU tests.
    F32,
}

/// Whether this binary was built with the `cuda` feature.
pub const CUDA_BUILT: bool = cfg!(feature = "cuda");

/// The one rule between the two keys: float32 is an option of the GPU kernel, so the CPU runs
/// float64 only.
///
/// # Errors
/// [`Error::Invalid`] for `precision = f32` on the CPU.
pub fn check_precision(device: Device, precision: Precision) -> Result<()> {
    if device == Device::Cpu && precision == Precision::F32 {
        return Err(Error::invalid(
            "precision",
            precision,
            "f64 on the CPU (float32 is an option of the GPU kernel)",
        ));
    }
    Ok(())
}

/// The error of `device = "cuda"` in a binary built without the `cuda` feature.
pub fn not_built() -> Error {
    Error::Device {
        message: "this meanfield was built without the cuda feature: rebuild with \
                  `cargo build --release --features cuda`"
            .into(),
    }
}

impl Device {
    /// Parses `cpu` or `cuda`.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the values allowed.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda),
            other => Err(Error::invalid("device", other, "\"cpu\" or \"cuda\"")),
        }
    }
}

impl Precision {
    /// Parses `f64` or `f32`.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the values allowed.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "f64" => Ok(Self::F64),
            "f32" => Ok(Self::F32),
            other => Err(Error::invalid("precision", other, "\"f64\" or \"f32\"")),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
        })
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::F64 => "f64",
            Self::F32 => "f32",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip_and_other_names_are_rejected() {
        for device in [Device::Cpu, Device::Cuda] {
            assert_eq!(Device::parse(&device.to_string()).ok(), Some(device));
        }
        for precision in [Precision::F64, Precision::F32] {
            assert_eq!(
                Precision::parse(&precision.to_string()).ok(),
                Some(precision)
            );
        }
        let error = Device::parse("gpu").err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("device = gpu: expected \"cpu\" or \"cuda\"")
        );
        assert!(Precision::parse("f16").is_err());
    }

    #[test]
    fn float32_is_refused_on_the_cpu_only() {
        assert!(check_precision(Device::Cpu, Precision::F64).is_ok());
        assert!(check_precision(Device::Cuda, Precision::F64).is_ok());
        assert!(check_precision(Device::Cuda, Precision::F32).is_ok());
        let error = check_precision(Device::Cpu, Precision::F32)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(
                "precision = f32: expected f64 on the CPU (float32 is an option of the GPU kernel)"
            )
        );
    }
}
