//! The top-level `device` and `precision` keys: where the risk and its gradient run (CPU, or
//! the GPU kernels of docs/math.md section 3 when built with the `cuda` feature) and in which
//! floating-point precision.

use crate::device::{CUDA_BUILT, Device, Precision, check_precision};
use crate::error::Result;
use crate::math::Activation;

use super::{Context, quoted};

/// Validates `device` and `precision` (defaults "cpu" and "f64") for the risk `mode` and the
/// `activation` (population mode on the GPU needs a closed-form kernel).
pub(super) fn resolve_device(
    cx: &Context<'_>,
    device: Option<&str>,
    precision: Option<&str>,
    mode: &str,
    activation: Activation,
) -> Result<(Device, Precision)> {
    let device_name = device.unwrap_or("cpu");
    let device = Device::parse(device_name)
        .map_err(|_| cx.fail("device", quoted(device_name), "\"cpu\" or \"cuda\""))?;
    let precision_name = precision.unwrap_or("f64");
    let precision = Precision::parse(precision_name)
        .map_err(|_| cx.fail("precision", quoted(precision_name), "\"f64\" or \"f32\""))?;
    if device == Device::Cuda {
        if !CUDA_BUILT {
            return Err(cx.fail(
                "device",
                "\"cuda\"",
                "\"cpu\": this meanfield was built without the cuda feature (rebuild with \
                 `cargo build --release --features cuda`; it needs an NVIDIA driver only at \
                 run time)",
            ));
        }
        // The data modes run every activation on the GPU (its elementwise form); population
        // mode needs a closed-form kernel.
        if mode == "population" && !activation.has_closed_form_kernel() {
            return Err(cx.fail(
                "device",
                "\"cuda\"",
                format!(
                    "\"cpu\" with model.activation = \"{activation}\" in population mode (the \
                     GPU kernel has the closed-form kernels of relu and erf; linear and \
                     quadratic take their exact low-rank path on the CPU; risk.mode = \"online\" \
                     or \"empirical\" run every activation on the GPU)"
                ),
            ));
        }
    }
    check_precision(device, precision)
        .map_err(|_| cx.fail("precision", quoted(precision_name), "\"f64\" or \"f32\""))?;
    // float32 population mode needs a closed-form kernel (relu and erf in float32; linear and
    // quadratic take their exact low-rank path); the quadrature kernels are float64 only.
    if device == Device::Cpu
        && precision == Precision::F32
        && mode == "population"
        && !activation.has_closed_form_kernel()
    {
        return Err(cx.fail(
            "precision",
            quoted(precision_name),
            format!(
                "\"f64\" with model.activation = \"{activation}\" in population mode (float32 has \
                 the closed-form kernels of relu, erf, linear and quadratic; risk.mode = \
                 \"online\" or \"empirical\" run every activation in float32)"
            ),
        ));
    }
    Ok((device, precision))
}
