//! Where the risk of every mode is evaluated and the particles live (`device`, `--device`),
//! and in which floating-point precision (`precision`): the scenario keys from which
//! `crate::backend::for_device` chooses the backend (the CPU, or the CUDA backend of
//! `crate::gpu`, cargo feature `cuda`: population mode's fused kernel and the data modes'
//! cuBLAS path). float64 is the default (docs/math.md conventions as written);
//! `precision = "f32"` runs the products and elementwise passes in float32, on the GPU or on the
//! CPU (`crate::backend::HostF32`), and returns their results as float64.

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

/// The floating-point type of the risk's products and elementwise passes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
    /// float64, the default: the CPU's results to rounding.
    #[default]
    F64,
    /// float32: twice the vector width on the CPU, faster on GPUs with few float64 units; the
    /// sums that set the risk's accuracy stay float64 (tests/f32.rs bounds its error).
    F32,
}

/// Whether this binary was built with the `cuda` feature.
pub const CUDA_BUILT: bool = cfg!(feature = "cuda");

/// The rule between the two keys: every pair is valid (float32 runs on the CPU and on the
/// GPU); the refusals that depend on the risk mode and the activation are those of
/// `crate::backend::for_device`.
///
/// # Errors
/// None today; kept as the one place for a rule between the two keys.
pub fn check_precision(device: Device, precision: Precision) -> Result<()> {
    let _ = (device, precision);
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
    fn every_device_takes_both_precisions() {
        for device in [Device::Cpu, Device::Cuda] {
            for precision in [Precision::F64, Precision::F32] {
                assert!(check_precision(device, precision).is_ok());
            }
        }
    }
}
