//! The reference of each observable at one point (docs/math.md sections 5 to 7): the limits
//! solved once per point (the linear ODE of docs/limit.md, the exact limit of `meanfield
//! limit`), then per observable the reference value per seed at each logged step (the wide
//! run of the same seed, the Richardson extrapolation a + b/m of the seed means, or a limit),
//! and the control variate of the risk against the exact limit (docs/sweeps.md, "The control
//! variate").

use std::collections::BTreeMap;
use std::path::Path;

use crate::diagnostics::stats::richardson;
use crate::error::Result;
use crate::sweep::analysis::context::{PointContext, ReferenceValues};
use crate::sweep::analysis::records::LimitRecord;
use crate::sweep::fits::seed_means;
use crate::sweep::limit_reference::{Control, LimitReference, limit_reference};
use crate::sweep::partners::{LinearReference, linear_reference};
use crate::sweep::plan::Reference;

/// The limits of a point that are solved once for all its observables.
pub(super) struct PointLimits {
    /// The exact reduced limit of a linear network (reference `linear`).
    pub(super) linear: Option<LinearReference>,
    /// The exact limit of `meanfield limit` (reference `limit`).
    pub(super) limit: Option<LimitReference>,
}

/// The [`PointLimits`] of the plan's reference (the exact limit solved into `out`).
pub(super) fn point_limits(context: &PointContext<'_, '_>, out: &Path) -> Result<PointLimits> {
    let plan = context.plan;
    let linear = match plan.reference {
        Reference::Linear => Some(linear_reference(
            plan,
            context.first_run,
            &context.times,
            &context.snapshot_steps,
        )?),
        _ => None,
    };
    let limit = match plan.reference {
        Reference::Limit => Some(limit_reference(plan, context.point, out)?),
        _ => None,
    };
    Ok(PointLimits { linear, limit })
}

/// The reference of one observable at a point.
pub(super) struct ObservableReference {
    /// Per logged step, the reference value per seed.
    pub(super) values: ReferenceValues,
    /// The Richardson extrapolations at the fit steps (reference `richardson`).
    pub(super) limits: Vec<LimitRecord>,
}

/// The reference of `observable`: the wide run of each seed, the Richardson extrapolation of
/// the seed means, the linear ODE or the exact limit (the same value for every seed).
pub(super) fn observable_reference(
    context: &PointContext<'_, '_>,
    limits: &PointLimits,
    observable: &str,
) -> ObservableReference {
    let (steps, seeds) = (&context.steps, &context.plan.seeds);
    let mut richardson_limits = Vec::new();
    let values = match &context.plan.reference {
        Reference::Wide { .. } => Some(
            steps
                .iter()
                .map(|&step| {
                    let per_seed = seeds
                        .iter()
                        .map(|s| {
                            context
                                .point
                                .wide
                                .get(s)
                                .map_or(f64::NAN, |(_, t)| t.at(observable, step))
                        })
                        .collect();
                    (step, per_seed)
                })
                .collect(),
        ),
        Reference::Richardson => Some(richardson_reference(
            context,
            observable,
            &mut richardson_limits,
        )),
        Reference::Linear => limits.linear.as_ref().and_then(|l| {
            l.values.get(observable).map(|v| {
                steps
                    .iter()
                    .zip(v)
                    .map(|(&step, value)| (step, vec![*value; seeds.len()]))
                    .collect()
            })
        }),
        Reference::Limit => limits.limit.as_ref().and_then(|l| {
            l.values.get(observable).map(|by_step| {
                steps
                    .iter()
                    .map(|&step| {
                        let value = by_step.get(&step).copied().unwrap_or(f64::NAN);
                        (step, vec![value; seeds.len()])
                    })
                    .collect()
            })
        }),
        Reference::None => None,
    };
    ObservableReference {
        values,
        limits: richardson_limits,
    }
}

/// The Richardson limit a + b/m of the seed means of `observable` at each step (NaN where it
/// cannot be fitted), for every seed; the fits at the fit steps are pushed to `limits`.
fn richardson_reference(
    context: &PointContext<'_, '_>,
    observable: &str,
    limits: &mut Vec<LimitRecord>,
) -> BTreeMap<u64, Vec<f64>> {
    let mut by_step = BTreeMap::new();
    for (row, &step) in context.steps.iter().enumerate() {
        let (ms, means, ses) = seed_means(&context.plan.widths, |m| {
            context.values(observable, m, step)
        });
        let value = richardson(&ms, &means, &ses, 1).ok();
        if let (Some(fit), true) = (&value, context.fit_steps.contains(&step)) {
            limits.push(LimitRecord {
                observable: observable.to_string(),
                time: context.times[row],
                limit: fit.limit,
                limit_se: fit.limit_se,
                b: fit.coefficients.first().copied().unwrap_or(f64::NAN),
                reduced_chi_square: fit.reduced_chi_square(),
            });
        }
        let limit = value.map_or(f64::NAN, |f| f.limit);
        by_step.insert(step, vec![limit; context.plan.seeds.len()]);
    }
    by_step
}

/// The control variate of the risk (limit reference): the t = 0 deviation per seed. Needs the
/// t = 0 row (whose mean B/(2m) is known) and 3 seeds (n - 2 degrees of freedom).
pub(super) fn risk_control<'c>(
    context: &'c PointContext<'_, '_>,
    limits: &PointLimits,
    observable: &'c str,
    reference: &'c ReferenceValues,
) -> Option<Control<impl Fn(usize, u64) -> Vec<f64> + 'c>> {
    match (&limits.limit, reference, context.steps.first()) {
        (Some(l), Some(r), Some(&0)) if observable == "risk" && context.plan.seeds.len() >= 3 => {
            Some(Control {
                initial_bias: l.initial_bias,
                deviation: move |m: usize, step: u64| {
                    deviation_at(&context.values(observable, m, step), &r[&step])
                },
                first: 0,
            })
        }
        _ => None,
    }
}

/// Per-seed deviations sample - reference.
pub(super) fn deviation_at(sample: &[f64], reference: &[f64]) -> Vec<f64> {
    sample.iter().zip(reference).map(|(x, r)| x - r).collect()
}
