//! `meanfield bench`: one step of the standard cases of `benches/peers/README.md`, checked
//! against a plain reference gradient before it is timed, and the scaling of a step with the
//! width (population mode) or the number of samples (data mode).
//!
//! - [`activations`]: the time per pair of each activation (`bench --scaling activations`).
//! - [`bound`]: the GEMM rate of this machine, the bound each case is measured against.
//! - [`cases`]: the four cases, the self-check and the timing loop.
//! - [`mod@reference`]: the risk and its gradient written straight from docs/math.md sections 3-4.
//! - [`scaling`]: the ladder of sizes of `bench --scaling`, the power-law fit and its files.

pub mod activations;
pub mod bound;
pub mod cases;
pub mod reference;
pub mod scaling;

pub use cases::{
    Backend, BenchCase, BenchRecord, CASES, CHECK_TOLERANCE_F32, Repetitions, TEACHER_K,
    bench_case, bench_case_on, bench_size, bench_size_on, parse_activation, self_check,
    self_check_within,
};
pub use reference::{CHECK_TOLERANCE, CHECKED_ROWS, check_rows, compare_rows};
pub use scaling::{
    ScalingFit, ScalingKind, ScalingMode, ScalingReport, fit_scaling, peak_resident_bytes,
    write_scaling,
};
