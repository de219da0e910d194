//! The comparison of a sweep's widths with the limit (docs/math.md sections 5 to 7).
//!
//! For every point of the sweep (values of the varied keys), observable (risk, movement,
//! alignment) and logged step: the seed mean, standard deviation and standard error of the
//! observable at each width; its reference value (the coupled wide run of the same seed, the
//! Richardson extrapolation a + b/m of the seed means, the exact reduced equation, or the exact
//! limit of `meanfield limit`); and the per-seed deviations from it, whose mean is the bias
//! E R_m(t) - R_inf(t) and whose standard deviation is the fluctuation of one run; with the
//! exact limit, also the control-variate bias of the risk (`sweep::limit_reference`). Written
//! to `sweep_stats.csv`.
//!
//! At the fit times, power laws of the bias (|mean deviation|) and of the fluctuation
//! (standard deviation of the deviations) against m are fitted on log-log axes, with
//! paired percentile bootstrap intervals over seeds (whole seeds resampled, the same at every
//! width: `diagnostics::stats`, docs/sweeps.md "Statistics"); with a wide or linear
//! reference, so is the coupled distance (docs/math.md section 6) between the width-m particles and
//! their partners at the snapshot steps: the first m particles of the reference run, or Phi(t)
//! theta_j(0) for the linear limit. Written to `sweep_summary.json` and drawn in `plots/`.
//!
//! The stages live in their own files: `tracks` reads the runs of each point; `point` chains
//! the analysis of one point (its context, the reference of each observable, the statistics
//! rows, the exponent fits, the figures, the coupled distances); `overlay` draws the overlays
//! of a `vary` sweep; `summary` gathers the points into `sweep_summary.json`; `records` holds
//! the records it serializes.

mod context;
mod exponents;
mod figures;
mod overlay;
mod point;
mod records;
mod reference;
mod summary;
mod tracks;

pub use overlay::OverlayCurve;
pub use records::{
    CoupledRecord, FitRecord, LimitRecord, PointRecord, SweepSummary, nan_from_null,
};
pub use summary::analyse;
pub(crate) use tracks::PointRuns;
