//! Pure numbers: activations, pair kernels, particles, deterministic reductions, Gauss rules
//! and the tensor rule of the initial law in reduced coordinates.

pub mod activation;
pub mod cross_kernel;
pub mod expansion;
pub mod fastmath;
pub mod gauss;
pub mod gaussian_field;
pub mod hermite;
pub mod init_rule;
pub mod kernel;
pub mod lanes;
pub mod lanes32;
pub mod mehler;
pub mod model;
pub mod orbit;
pub mod pair_block;
pub mod reduce;
pub(crate) mod simd;

pub use activation::{Activation, Parity};
pub use init_rule::{InitResolution, initial_nodes};
pub use kernel::{PairKernel, PairTerms};
pub use model::{InitLaw, Network, Particles, ScalarLaw, VectorLaw};
pub use orbit::{AngleRule, OrbitTerms};
