//! Partners of the width-m particles in the limit, for the coupled distance of MATH.md
//! section 6 and the exact linear reference (docs/limit.md): the first m particles of the wide
//! run of the same seed, or Phi(t) theta_j(0) for the reduced linear equation.

use std::collections::BTreeMap;

use nalgebra::DMatrix;

use crate::dynamics::reduced::{LinearLimit, initial_second_moment};
use crate::error::{Error, Result};
use crate::output::read_npy;
use crate::scenario::{InitSource, Scenario};
use crate::sweep::analysis::PointRuns;
use crate::sweep::merge::RunSeries;
use crate::sweep::plan::{Plan, Reference};

/// The exact reduced limit at the logged times, from the initialisation law (docs/limit.md).
pub(crate) struct LinearReference {
    /// Risk and relative movement at each logged time.
    pub(crate) values: BTreeMap<String, Vec<f64>>,
    /// Phi at the last logged time: the limit partner of particle j is Phi theta_j(0).
    pub(crate) propagator: DMatrix<f64>,
}

/// The [`LinearReference`] of the runs of `plan` (whose scenario `run` is one).
pub(crate) fn linear_reference(
    plan: &Plan,
    run: &RunSeries,
    times: &[f64],
) -> Result<LinearReference> {
    let scenario = Scenario::load(&run.dir.join("scenario.toml"), &[])?;
    let InitSource::Law(law) = &scenario.init else {
        return Err(Error::invalid(
            "sweep.reference",
            "\"linear\" with init.file",
            "an initialisation law (the limit starts from its second moment)",
        ));
    };
    let setup = scenario.setup()?;
    let limit = LinearLimit::new(
        &scenario.network,
        &scenario.dynamics,
        &setup.teacher,
        plan.widths[plan.widths.len() - 1],
    )?;
    let sigma0 = initial_second_moment(law, scenario.d)?;
    let solution = limit.solve(&sigma0, times)?;
    let size = sigma0.trace().sqrt();
    let mut out = BTreeMap::new();
    out.insert(
        "risk".to_string(),
        solution.iter().map(|p| p.risk).collect(),
    );
    out.insert(
        "movement_relative".to_string(),
        solution.iter().map(|p| p.movement / size).collect(),
    );
    let propagator = solution.last().map_or_else(
        || DMatrix::identity(1 + scenario.d, 1 + scenario.d),
        |p| p.propagator.clone(),
    );
    Ok(LinearReference {
        values: out,
        propagator,
    })
}

/// Per width, the per-seed RMS distance at the last step between the width-m particles and
/// their partners: the first m particles of the wide run of the same seed, or Phi(T) theta_j(0)
/// for the linear limit. Empty for the other references.
pub(crate) fn coupled_distances(
    plan: &Plan,
    point: &PointRuns<'_>,
    linear: Option<&LinearReference>,
) -> Result<Vec<(usize, Vec<f64>)>> {
    let propagator = match (&plan.reference, linear) {
        (Reference::Linear, Some(linear)) => Some(&linear.propagator),
        (Reference::Wide { .. }, _) => None,
        _ => return Ok(Vec::new()),
    };
    let mut out = Vec::new();
    for &m in &plan.widths {
        let mut sample = Vec::new();
        for &seed in &plan.seeds {
            let Some((run, _)) = point.ladder.get(&(m, seed)) else {
                continue;
            };
            let Ok(particles) = read_npy(&run.dir.join("particles_final.npy")) else {
                continue;
            };
            let partners: DMatrix<f64> = match propagator {
                Some(phi) => {
                    let initial = read_npy(&run.dir.join("particles_init.npy"))?;
                    &initial * phi.transpose()
                }
                None => {
                    let Some((reference, _)) = point.wide.get(&seed) else {
                        continue;
                    };
                    let Ok(wide) = read_npy(&reference.dir.join("particles_final.npy")) else {
                        continue;
                    };
                    wide.rows(0, m.min(wide.nrows())).into_owned()
                }
            };
            if partners.shape() != particles.shape() {
                continue;
            }
            let squared: f64 = (&particles - &partners)
                .row_iter()
                .map(|r| r.norm_squared())
                .sum();
            sample.push((squared / m as f64).sqrt());
        }
        if !sample.is_empty() {
            out.push((m, sample));
        }
    }
    Ok(out)
}
