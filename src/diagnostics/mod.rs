//! What is measured along a run: scalars per logged step, measures and distances, kept as data
//! (no files, no drawing).

pub mod distance;
pub mod distributions;
pub mod measure;
pub mod recorder;
pub mod scalars;
pub mod stats;

pub use recorder::{Recorder, Series};
