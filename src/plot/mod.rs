//! Figures drawn from recorded data with plotters (PNG, SVG and animated GIF, embedded DejaVu
//! Sans font) and the self-contained HTML report: this layer draws what diagnostics recorded
//! and never recomputes it. Every chart on two axes (the line charts of [`figure`], the width
//! curves and scaling figures of [`sweep`], the gallery's point charts of [`points`]) is built as
//! a `model::Figure` (frame and layers, as data) and drawn by the one renderer of `model`;
//! the particle clouds and heat maps are pictures of their own.

pub mod axis;
pub mod canvas;
pub mod chart;
pub mod cloud;
pub mod colormap;
pub(crate) mod compose;
pub mod figure;
pub mod font;
pub mod heatmap;
pub(crate) mod model;
pub mod points;
pub mod report;
pub mod run_figures;
pub mod scaling;
pub mod spec;
pub mod style;
pub mod sweep;
pub mod typeset;

pub use cloud::{CloudFigure, CloudFrame, render_cloud, render_cloud_gif, render_cloud_panels};
pub use figure::{Curve, LineFigure, LogLogFigure, Scale, render_lines, render_loglog};
pub use heatmap::{HeatMap, render_heatmap};
pub use report::{Report, ReportFigure, ReportLink, ReportTable, significant, write_report};
pub use spec::render_spec;
