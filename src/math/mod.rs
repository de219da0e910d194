//! Pure numbers: activations, pair kernels, particles and deterministic reductions.

pub mod activation;
pub mod fastmath;
pub mod kernel;
pub mod lanes;
pub mod model;
pub mod orbit;
pub mod pair_block;
pub mod reduce;
pub(crate) mod simd;

pub use activation::{Activation, Parity};
pub use kernel::{PairKernel, PairTerms};
pub use model::{InitLaw, Network, Particles, ScalarLaw, VectorLaw};
pub use orbit::{AngleRule, OrbitTerms};
