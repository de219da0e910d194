//! Figures drawn from recorded data with plotters (PNG and SVG, embedded DejaVu Sans font):
//! this layer draws what diagnostics recorded and never recomputes it.

pub mod figure;
pub mod font;

pub use figure::{Curve, LogLogFigure, render_loglog};
