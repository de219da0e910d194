//! What a run's figures say (issue 21, item 4): moved to [`crate::plot::run_figures`], which
//! draws the run directory's figures; re-exported here under its former path.

pub use crate::plot::run_figures::{
    CloudPlane, Dissipation, RiskFigure, RunFacts, cloud_plane, has_weight_decay, risk_figure,
};
