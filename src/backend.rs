//! The choice of a simulation's backend (`crate::dynamics::Backend`) from the scenario keys
//! `device` and `precision` (`crate::device`): the host's CPU evaluation of the task
//! (docs/math.md sections 3-4) in float64 ([`Host`]) or float32 ([`HostF32`]), or GPU 0 through
//! `crate::gpu` (cargo feature `cuda`). The one place outside `gpu` where the feature is tested.

mod host32;

pub use host32::HostF32;

use crate::device::{Device, Precision, check_precision};
use crate::dynamics::{Backend, Host};
use crate::error::Result;
use crate::math::Activation;
use crate::task::RiskMode;

/// The backend of `risk` on `device` in `precision`: [`Host`] on the CPU in float64,
/// [`HostF32`] in float32; on CUDA the fused
/// kernel of population mode (relu and erf; linear and quadratic keep their exact low-rank path
/// on the CPU) or cuBLAS and the kernels of the data modes (every activation). `activation` is
/// the network's, `d` the particles' input dimension.
///
/// # Errors
/// [`crate::Error::Invalid`] (population mode) for an activation without a closed-form kernel
/// on the GPU or in float32; [`crate::Error::Device`] when the binary lacks the `cuda`
/// feature, or no GPU or CUDA library is found.
pub fn for_device(
    device: Device,
    precision: Precision,
    risk: &RiskMode,
    activation: Activation,
    d: usize,
) -> Result<Box<dyn Backend>> {
    check_precision(device, precision)?;
    match device {
        Device::Cpu => match precision {
            Precision::F64 => Ok(Box::new(Host)),
            Precision::F32 => Ok(Box::new(HostF32::new(risk, activation)?)),
        },
        Device::Cuda => cuda(precision, risk, activation, d),
    }
}

#[cfg(feature = "cuda")]
fn cuda(
    precision: Precision,
    risk: &RiskMode,
    activation: Activation,
    d: usize,
) -> Result<Box<dyn Backend>> {
    Ok(Box::new(crate::gpu::CudaBackend::new(
        risk, activation, precision, d,
    )?))
}

#[cfg(not(feature = "cuda"))]
fn cuda(
    _precision: Precision,
    _risk: &RiskMode,
    _activation: Activation,
    _d: usize,
) -> Result<Box<dyn Backend>> {
    Err(crate::device::not_built())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{PopulationRisk, Teacher};

    fn population() -> Result<RiskMode> {
        let teacher = Teacher::new(
            nalgebra::DMatrix::from_row_slice(1, 3, &[1.0, 1.0, 0.0]),
            Activation::Relu,
            0.0,
        )?;
        let risk = PopulationRisk::new(Activation::Relu, teacher)?;
        Ok(RiskMode::Population(Box::new(risk)))
    }

    #[test]
    fn the_cpu_gets_the_host_in_both_precisions() -> Result<()> {
        let risk = population()?;
        let host = for_device(Device::Cpu, Precision::F64, &risk, Activation::Relu, 2)?;
        assert!(!host.on_gpu());
        let f32 = for_device(Device::Cpu, Precision::F32, &risk, Activation::Relu, 2)?;
        assert!(!f32.on_gpu());
        Ok(())
    }

    #[test]
    fn cuda_without_the_feature_says_so() -> Result<()> {
        let risk = population()?;
        let result = for_device(Device::Cuda, Precision::F64, &risk, Activation::Relu, 2);
        if !crate::device::CUDA_BUILT {
            let message = result.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains("without the cuda feature"), "{message}");
        }
        Ok(())
    }
}
