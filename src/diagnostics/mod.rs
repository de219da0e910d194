//! What is measured along a run: scalars per logged step, kept as data (no files, no drawing).

pub mod recorder;
pub mod scalars;

pub use recorder::{Recorder, Series};
