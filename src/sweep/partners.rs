//! Partners of the width-m particles in the limit, for the coupled distance of docs/math.md
//! section 6 and the exact linear reference (docs/limit.md): the first m particles of the wide
//! run of the same seed, or Phi(t) theta_j(0) for the reduced linear equation.

use std::collections::BTreeMap;
use std::path::Path;

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
    /// Phi at each requested snapshot step: the limit partner of particle j is Phi theta_j(0).
    pub(crate) propagators: Vec<DMatrix<f64>>,
}

/// The [`LinearReference`] of the runs of `plan` (whose scenario `run` is one).
pub(crate) fn linear_reference(
    plan: &Plan,
    run: &RunSeries,
    times: &[f64],
    snapshot_steps: &[u64],
) -> Result<LinearReference> {
    let scenario = Scenario::load(&run.dir.join("scenario.toml"), &[])?;
    let InitSource::Law(law) = &scenario.init else {
        return Err(Error::invalid(
            "sweep.reference",
            "\"linear\" with init.file",
            "an initialisation law (the limit starts from its second moment)",
        ));
    };
    let teacher = scenario.teacher()?;
    let limit = LinearLimit::new(
        &scenario.network,
        &scenario.dynamics,
        &teacher,
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
    let snapshot_times: Vec<f64> = snapshot_steps
        .iter()
        .map(|k| *k as f64 * scenario.dt)
        .collect();
    let propagators = limit
        .solve(&sigma0, &snapshot_times)?
        .into_iter()
        .map(|p| p.propagator)
        .collect();
    Ok(LinearReference {
        values: out,
        propagators,
    })
}

/// The snapshot steps of a run directory, increasing.
pub(crate) fn snapshot_steps(dir: &Path) -> Vec<u64> {
    let mut steps: Vec<u64> = std::fs::read_dir(dir.join("snapshots"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_prefix("step_")?
                        .strip_suffix(".npy")?
                        .parse()
                        .ok()
                })
                .collect()
        })
        .unwrap_or_default();
    steps.sort_unstable();
    steps
}

/// The first `m` particles of a run at `step`, from its snapshot when the snapshot holds them
/// (indices 0..m first: `record.snapshot_sample = "first"`), else None.
fn first_particles(dir: &Path, step: u64, m: usize) -> Option<DMatrix<f64>> {
    let indices = read_npy(&dir.join("snapshots").join("indices.npy")).ok()?;
    let prefix = indices.len() >= m && (0..m).all(|j| indices[j] as usize == j);
    if !prefix {
        return None;
    }
    let snapshot = read_npy(&dir.join("snapshots").join(format!("step_{step}.npy"))).ok()?;
    (snapshot.nrows() >= m).then(|| snapshot.rows(0, m).into_owned())
}

/// The coupled distance at one snapshot step: per width, the per-seed RMS distances.
pub(crate) struct CoupledAt {
    /// The step.
    pub(crate) step: u64,
    /// (m, per-seed RMS |theta_j^m - partner_j|) for the widths with a value: entry i is seed
    /// i of the plan at every width, NaN where that seed has no run, snapshot or partner, so
    /// that fits pairing seeds across widths pair the same seed.
    pub(crate) by_width: Vec<(usize, Vec<f64>)>,
}

/// At every snapshot step, per width, the per-seed RMS distance between the width-m particles
/// and their partners: the first m particles of the wide run of the same seed, or
/// Phi(t) theta_j(0) for the linear limit (`propagators`: Phi at each of `steps`). Empty for the
/// other references, and at steps where a snapshot does not hold the paired particles.
pub(crate) fn coupled_distances(
    plan: &Plan,
    point: &PointRuns<'_>,
    steps: &[u64],
    propagators: Option<&[DMatrix<f64>]>,
) -> Result<Vec<CoupledAt>> {
    if !matches!(plan.reference, Reference::Wide { .. } | Reference::Linear) {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (k, &step) in steps.iter().enumerate() {
        let mut by_width = Vec::new();
        for &m in &plan.widths {
            let mut sample = Vec::with_capacity(plan.seeds.len());
            for &seed in &plan.seeds {
                let phi = propagators.map(|phis| &phis[k]);
                let distance = coupled_distance(plan, point, (m, seed), step, phi)?;
                sample.push(distance.unwrap_or(f64::NAN));
            }
            if sample.iter().any(|distance| !distance.is_nan()) {
                by_width.push((m, sample));
            }
        }
        if !by_width.is_empty() {
            out.push(CoupledAt { step, by_width });
        }
    }
    Ok(out)
}

/// The RMS distance at `step` between the particles of the width-m run of `seed` and their
/// partners (see [`coupled_distances`]; `phi` the linear limit's propagator at `step`); None
/// where the run, its snapshot or the partners are missing.
fn coupled_distance(
    plan: &Plan,
    point: &PointRuns<'_>,
    (m, seed): (usize, u64),
    step: u64,
    phi: Option<&DMatrix<f64>>,
) -> Result<Option<f64>> {
    let Some((run, _)) = point.ladder.get(&(m, seed)) else {
        return Ok(None);
    };
    let Some(particles) = first_particles(&run.dir, step, m) else {
        return Ok(None);
    };
    let partners: DMatrix<f64> = match (&plan.reference, phi) {
        (Reference::Linear, Some(phi)) => {
            let initial = read_npy(&run.dir.join("particles_init.npy"))?;
            &initial * phi.transpose()
        }
        _ => {
            let Some((reference, _)) = point.wide.get(&seed) else {
                return Ok(None);
            };
            let Some(wide) = first_particles(&reference.dir, step, m) else {
                return Ok(None);
            };
            wide
        }
    };
    if partners.shape() != particles.shape() {
        return Ok(None);
    }
    let squared: f64 = (&particles - &partners)
        .row_iter()
        .map(|r| r.norm_squared())
        .sum();
    Ok(Some((squared / m as f64).sqrt()))
}
