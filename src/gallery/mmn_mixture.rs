//! Gallery entry `mmn_mixture`: the isotropic Gaussian classification problem of Mei, Montanari
//! and Nguyen (2018) against its exact mean-field limit (docs/problems.md, "Centred mixtures" and
//! "Mixture labels"; docs/limit.md section 13). Two centred Gaussians of scales 1 + Delta and
//! 1 - Delta with labels +1 and -1 and equal weights, a relu student, the exact population risk
//! and the square loss: `scenarios/gallery/mmn_mixture.toml` runs at a ladder of widths and
//! seeds, and the m -> infinity limit is solved by the reduced solver (k = 0: every rotation is
//! a symmetry of the problem, so the limit law lives on (a, |w|)).
//!
//! Check: the risk of a width m carries a bias b(t) / m (docs/math.md section 5) that stands out
//! of the seed noise c / sqrt(m n) of n seeds once m < (b / c)^2 n, so the raw seed mean of the
//! widest affordable width is not within a few standard errors of the limit (the entry reports
//! how far it is). The check uses the Richardson extrapolation of the two widest widths,
//! (m2 R_m2 - m1 R_m1) / (m2 - m1), free of the 1/m bias: it must lie within three standard
//! errors (plus the limit's own discretisation error, estimated by halving its resolution) of
//! the limit risk at every logged time. Negative control: the same extrapolation against the
//! limit of Delta' = 0.8 Delta must leave that band at some logged time (the entry fails
//! otherwise).

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, json};

use super::numbers::{rounded, rounded_all};
use crate::dynamics::Control;
use crate::error::{Error, Result};
use crate::gallery::{Check, Context, Entry, Outcome};
use crate::limit::{Ending, LimitProblem, Resolution, solve};
use crate::output::Table;
use crate::plot::sweep::{BandCurve, WidthCurves, render_width_curves};
use crate::plot::{Curve, HeatMap, Scale, render_heatmap};
use crate::scenario::Scenario;
use crate::task::problem::{Component, Covariance, InputShape};

/// Standard errors of the band the widest width must stay in.
const BAND_SE: f64 = 3.0;

/// Delta of the negative control's limit, relative to the scenario's.
const CONTROL_DELTA_RATIO: f64 = 0.8;

/// Sizes of the entry (`[mmn_mixture.quick]`, `[mmn_mixture.full]` in sizes.toml).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sizes {
    /// Widths m, increasing.
    widths: Vec<usize>,
    /// Seeds per width (1..=seeds).
    seeds: u64,
    /// Nodes per direction of the limit solver (default: its own default for k = 0).
    nodes: Option<usize>,
}

/// The risk of every seed of one width at the logged steps.
struct WidthRisks {
    /// The width.
    m: usize,
    /// Logged times (those of the first seed).
    times: Vec<f64>,
    /// `risk[s][i]`: seed s at time i.
    risk: Vec<Vec<f64>>,
}

impl WidthRisks {
    /// Seed mean and standard error at each logged time.
    fn mean_se(&self) -> (Vec<f64>, Vec<f64>) {
        let n = self.risk.len() as f64;
        (0..self.times.len())
            .map(|i| {
                let values: Vec<f64> = self.risk.iter().map(|r| r[i]).collect();
                let mean = values.iter().sum::<f64>() / n;
                let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
                (mean, (var / n).sqrt())
            })
            .unzip()
    }
}

/// Runs the entry.
pub(super) fn run(ctx: &Context<'_>, entry: &Entry) -> Result<Outcome> {
    let sizes: Sizes = ctx.sizes(entry.name)?;
    let dir = ctx.work_dir(entry.name);
    if sizes.seeds < 2 || sizes.widths.len() < 2 {
        return Err(Error::invalid(
            "mmn_mixture sizes",
            format!("{} seeds, {} widths", sizes.seeds, sizes.widths.len()),
            "at least 2 seeds and 2 widths",
        ));
    }
    let widths = sizes
        .widths
        .iter()
        .map(|&m| width_risks(ctx, entry, m, sizes.seeds, &dir))
        .collect::<Result<Vec<_>>>()?;
    let scenario = ctx.scenario(entry.scenario, &[])?;
    let resolution = sizes
        .nodes
        .map_or(Resolution::default_for(0), Resolution::with_nodes);
    let limit = limit_risk(&scenario, &scenario.input, resolution)?;
    let coarse = limit_risk(&scenario, &scenario.input, resolution.halved())?;
    let delta = mixture_delta(&scenario.input)?;
    let control_input = with_delta(&scenario.input, CONTROL_DELTA_RATIO * delta)?;
    let control = limit_risk(&scenario, &control_input, resolution)?;
    let [.., narrow, widest] = widths.as_slice() else {
        return Err(Error::invalid("mmn_mixture widths", "one", "at least two"));
    };
    let limit_error: Vec<f64> = limit
        .iter()
        .zip(&coarse)
        .map(|(a, b)| (a - b).abs())
        .collect();
    let extrapolated = Estimate::extrapolated(narrow, widest);
    let true_band = band(&extrapolated, &limit, &limit_error);
    let control_band = band(&extrapolated, &control, &limit_error);

    let out = ctx.out();
    draw_risk(&widths, &limit, &control, delta, &out.join("mmn_mixture"))?;
    let last_run = dir.join(format!("m{}_s1", widest.m));
    draw_radial(&last_run, widest.m, delta, &out.join("mmn_mixture_radial"))?;

    let mut numbers = Map::new();
    numbers.insert("delta".into(), json!(delta));
    numbers.insert("widths".into(), json!(sizes.widths));
    numbers.insert("seeds".into(), json!(sizes.seeds));
    numbers.insert("times".into(), json!(rounded_all(&widest.times, 4)));
    numbers.insert("limit_risk".into(), json!(rounded_all(&limit, 5)));
    numbers.insert(
        "limit_error_estimate".into(),
        json!(rounded(max(&limit_error), 3)),
    );
    numbers.insert(
        format!(
            "control_limit_risk_delta{}",
            rounded(CONTROL_DELTA_RATIO * delta, 3)
        ),
        json!(rounded_all(&control, 5)),
    );
    for w in &widths {
        let estimate = Estimate::of_width(w);
        numbers.insert(
            format!("risk_mean_m{}", w.m),
            json!(rounded_all(&estimate.mean, 5)),
        );
        let z = band(&estimate, &limit, &limit_error);
        numbers.insert(format!("max_z_m{}", w.m), json!(rounded(z.max_z, 3)));
        let initial = estimate.mean.first().zip(limit.first()).map(|(r, l)| r - l);
        let scaled = initial.map_or(f64::NAN, |b| w.m as f64 * b);
        numbers.insert(
            format!("m_times_bias_t0_m{}", w.m),
            json!(rounded(scaled, 3)),
        );
    }
    numbers.insert(
        "extrapolated_risk".into(),
        json!(rounded_all(&extrapolated.mean, 5)),
    );
    numbers.insert(
        "extrapolated_max_z".into(),
        json!(rounded(true_band.max_z, 3)),
    );
    numbers.insert(
        "control_max_z".into(),
        json!(rounded(control_band.max_z, 3)),
    );
    let pair = (narrow.m, widest.m);
    let checks = checks_of(pair, sizes.seeds, delta, &true_band, &control_band);
    Ok(Outcome {
        figures: [
            "mmn_mixture.png",
            "mmn_mixture.svg",
            "mmn_mixture_radial.png",
            "mmn_mixture_radial.svg",
        ]
        .map(String::from)
        .to_vec(),
        numbers,
        checks,
    })
}

/// The largest of `values` (NaN counts as largest).
fn max(values: &[f64]) -> f64 {
    values.iter().fold(
        f64::NEG_INFINITY,
        |a, &b| if b.is_nan() || b > a { b } else { a },
    )
}

/// The runs of width `m`, seeds 1..=seeds, into `dir/m<m>_s<seed>`.
fn width_risks(
    ctx: &Context<'_>,
    entry: &Entry,
    m: usize,
    seeds: u64,
    dir: &Path,
) -> Result<WidthRisks> {
    let mut times = Vec::new();
    let mut risk = Vec::new();
    for seed in 1..=seeds {
        let scenario = ctx.scenario(
            entry.scenario,
            &[format!("model.m={m}"), format!("seed={seed}")],
        )?;
        let run = ctx.run(&scenario, &dir.join(format!("m{m}_s{seed}")))?;
        if times.is_empty() {
            times = run.series_column("time")?;
        }
        risk.push(run.series_column("risk")?);
    }
    Ok(WidthRisks { m, times, risk })
}

/// A risk estimate at the logged times: a seed mean and its standard error.
struct Estimate {
    /// Logged times.
    times: Vec<f64>,
    /// The estimate at each.
    mean: Vec<f64>,
    /// Its standard error.
    se: Vec<f64>,
}

impl Estimate {
    /// The seed mean of one width.
    fn of_width(width: &WidthRisks) -> Self {
        let (mean, se) = width.mean_se();
        Self {
            times: width.times.clone(),
            mean,
            se,
        }
    }

    /// The Richardson extrapolation to m = infinity of two widths m1 < m2, whose bias is
    /// b(t) / m + O(m^-2): (m2 R_m2 - m1 R_m1) / (m2 - m1), its error propagated from the two
    /// independent seed means.
    fn extrapolated(narrow: &WidthRisks, wide: &WidthRisks) -> Self {
        let (m1, m2) = (narrow.m as f64, wide.m as f64);
        let (n, w) = (Self::of_width(narrow), Self::of_width(wide));
        let mean = n
            .mean
            .iter()
            .zip(&w.mean)
            .map(|(r1, r2)| (m2 * r2 - m1 * r1) / (m2 - m1))
            .collect();
        let se =
            n.se.iter()
                .zip(&w.se)
                .map(|(s1, s2)| (m2 * s2).hypot(m1 * s1) / (m2 - m1))
                .collect();
        Self {
            times: w.times,
            mean,
            se,
        }
    }
}

/// How far an estimate is from a limit curve, in standard errors.
struct Band {
    /// max over logged times of |estimate - limit| / (SE + limit error / BAND_SE).
    max_z: f64,
    /// The time of that maximum.
    at_time: f64,
    /// Whether every logged time is within BAND_SE standard errors (plus the limit's error).
    inside: bool,
}

/// The widest deviation of `estimate` from `limit` (the limit error `error` widens the band).
fn band(estimate: &Estimate, limit: &[f64], error: &[f64]) -> Band {
    let mut result = Band {
        max_z: 0.0,
        at_time: f64::NAN,
        inside: estimate.mean.len() == limit.len(),
    };
    for (i, ((m, s), l)) in estimate
        .mean
        .iter()
        .zip(&estimate.se)
        .zip(limit)
        .enumerate()
    {
        let e = error.get(i).copied().unwrap_or(f64::NAN);
        let deviation = (m - l).abs();
        // An exact match is 0 standard errors, even where the spread is 0.
        let z = if deviation == 0.0 {
            0.0
        } else {
            deviation / (s + e / BAND_SE)
        };
        if z.is_nan() || z > BAND_SE {
            result.inside = false;
        }
        if z.is_nan() || z > result.max_z {
            result.max_z = z;
            result.at_time = estimate.times[i];
        }
    }
    result
}

/// The limit risk of `scenario` with inputs `input`, at its logged steps.
fn limit_risk(scenario: &Scenario, input: &InputShape, resolution: Resolution) -> Result<Vec<f64>> {
    let setup = scenario.setup()?;
    let problem = LimitProblem::from_parts(scenario, input, &setup.target)?;
    let solution = solve(&problem, resolution, &mut |_, _| Control::Continue)?;
    if !matches!(solution.ending, Ending::Finished) {
        return Err(Error::format(
            &scenario.file,
            format!("the limit did not finish: {:?}", solution.ending),
        ));
    }
    table_column(&solution.series, "risk", &scenario.file)
}

/// Column `name` of a table (read from `path`, for the error).
fn table_column(table: &Table, name: &str, path: &Path) -> Result<Vec<f64>> {
    super::context::column(table, name, path)
}

/// Delta of a two-component mixture of scales 1 + Delta and 1 - Delta.
fn mixture_delta(input: &InputShape) -> Result<f64> {
    let scales = scales(input)?;
    match scales.as_slice() {
        [hi, lo] if (hi + lo - 2.0).abs() < 1e-12 => Ok((hi - lo) / 2.0),
        _ => Err(Error::invalid(
            "input.components",
            format!("scales {scales:?}"),
            "two components of scales 1 + Delta and 1 - Delta",
        )),
    }
}

/// The scales of the components of a mixture of scaled identities.
fn scales(input: &InputShape) -> Result<Vec<f64>> {
    let InputShape::Mixture(components) = input else {
        return Err(Error::invalid("input.law", "not a mixture", "mixture"));
    };
    components
        .iter()
        .map(|c| match c.covariance {
            Covariance::Scaled(s) => Ok(s),
            Covariance::Identity => Ok(1.0),
            Covariance::Full { .. } => Err(Error::invalid(
                "input.components",
                "a full covariance",
                "scales",
            )),
        })
        .collect()
}

/// The mixture `input` with scales 1 +- `delta` instead (weights and labels kept).
fn with_delta(input: &InputShape, delta: f64) -> Result<InputShape> {
    let old = mixture_delta(input)?;
    let InputShape::Mixture(components) = input else {
        return Err(Error::invalid("input.law", "not a mixture", "mixture"));
    };
    let scaled = scales(input)?
        .iter()
        .zip(components.iter())
        .map(|(s, c)| Component {
            covariance: Covariance::Scaled(1.0 + (s - 1.0) * delta / old),
            ..c.clone()
        })
        .collect();
    Ok(InputShape::Mixture(std::sync::Arc::new(scaled)))
}

/// The risk of each width (seed mean +- 2 SE) against the limit and the control's limit.
fn draw_risk(
    widths: &[WidthRisks],
    limit: &[f64],
    control: &[f64],
    delta: f64,
    stem: &Path,
) -> Result<()> {
    let curves = widths
        .iter()
        .map(|w| {
            let (mean, se) = w.mean_se();
            BandCurve {
                label: format!("m = {}", w.m),
                x: w.times.clone(),
                mean,
                half_width: se.iter().map(|s| 2.0 * s).collect(),
                m: w.m as f64,
            }
        })
        .collect();
    let times = widths.first().map(|w| w.times.clone()).unwrap_or_default();
    let control_delta = CONTROL_DELTA_RATIO * delta;
    let mut figure = WidthCurves {
        title: format!(
            "Two Gaussians of scales 1 +- {delta}, labels +-1: risk against the exact limit \
             and, as a control, the limit of Delta = {control_delta}"
        ),
        x_label: "time t".into(),
        y_label: "risk R (seed mean +- 2 SE)".into(),
        x_scale: Scale::Linear,
        y_scale: Scale::Linear,
        curves,
        reference: Some(Curve {
            label: "exact limit (reduced solver, k = 0)".into(),
            x: times.clone(),
            y: limit.to_vec(),
        }),
    };
    // The control's limit as one more, unbanded curve.
    figure.curves.push(BandCurve {
        label: format!("limit of Delta = {control_delta} (control)"),
        x: times,
        mean: control.to_vec(),
        half_width: vec![f64::NAN; control.len()],
        m: f64::INFINITY,
    });
    render_width_curves(&figure, stem)
}

/// The radial law of |w| over time in the run folder `run` (its marginals_w_norm.csv).
fn draw_radial(run: &Path, m: usize, delta: f64, stem: &Path) -> Result<()> {
    let path = run.join("marginals_w_norm.csv");
    let table = Table::read_csv(&path)?;
    let centres: Vec<f64> = table
        .columns
        .iter()
        .skip(2)
        .map(|c| c.parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::format(&path, format!("a bin centre is not a number: {e}")))?;
    let edges = edges_of(&centres);
    let times: Vec<f64> = table.rows.iter().map(|r| r[1]).collect();
    let density = table.rows.iter().map(|r| r[2..].to_vec()).collect();
    let map = HeatMap {
        title: format!("Radial law of |w| over time (m = {m}, seed 1, Delta = {delta})"),
        value_label: "|w|".into(),
        times,
        edges,
        density,
    };
    render_heatmap(&map, stem)
}

/// Bin edges around increasing bin centres (mid-points, the outer ones mirrored).
fn edges_of(centres: &[f64]) -> Vec<f64> {
    let n = centres.len();
    if n < 2 {
        return centres.iter().flat_map(|c| [c - 0.5, c + 0.5]).collect();
    }
    let mut edges = Vec::with_capacity(n + 1);
    edges.push(centres[0] - (centres[1] - centres[0]) / 2.0);
    for pair in centres.windows(2) {
        edges.push((pair[0] + pair[1]) / 2.0);
    }
    edges.push(centres[n - 1] + (centres[n - 1] - centres[n - 2]) / 2.0);
    edges
}

/// The check and its negative control.
fn checks_of(
    (m1, m2): (usize, usize),
    seeds: u64,
    delta: f64,
    truth: &Band,
    control: &Band,
) -> Vec<Check> {
    let control_delta = CONTROL_DELTA_RATIO * delta;
    vec![
        Check::new(
            format!(
                "the extrapolation (m2 R_m2 - m1 R_m1) / (m2 - m1) of the seed means of m1 = {m1} \
                 and m2 = {m2} is within {BAND_SE} standard errors (plus the limit's \
                 discretisation error) of the exact limit at every logged time"
            ),
            truth.inside,
            format!(
                "largest deviation {:.2} SE at t = {} ({seeds} seeds)",
                truth.max_z, truth.at_time
            ),
        ),
        Check::new(
            format!(
                "negative control: the same curve leaves that band around the limit of Delta = \
                 {control_delta} instead of {delta}"
            ),
            !control.inside,
            format!(
                "largest deviation {:.2} SE at t = {}",
                control.max_z, control.at_time
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn edges_surround_the_centres() {
        let edges = edges_of(&[0.5, 1.5, 2.5]);
        let expected = [0.0, 1.0, 2.0, 3.0];
        assert_eq!(edges.len(), expected.len());
        assert!(
            edges
                .iter()
                .zip(expected)
                .all(|(e, x)| (e - x).abs() < 1e-12)
        );
    }

    #[test]
    fn the_band_counts_standard_errors() {
        let width = WidthRisks {
            m: 4,
            times: vec![0.0, 1.0],
            risk: vec![vec![1.0, 2.0], vec![3.0, 2.0]],
        };
        // Mean (2, 2), SE (1, 0): 3 SE at t = 0 is within, any deviation at t = 1 is not.
        let estimate = Estimate::of_width(&width);
        let inside = band(&estimate, &[2.0 + BAND_SE, 2.0], &[0.0, 0.0]);
        assert!(inside.inside);
        let outside = band(&estimate, &[2.0, 2.1], &[0.0, 0.0]);
        assert!(!outside.inside && (outside.at_time - 1.0).abs() < 1e-12);
    }

    #[test]
    fn the_extrapolation_removes_a_one_over_m_bias() {
        // R_m = 1 + 2 / m exactly (two seeds each, no spread): the extrapolation is 1.
        let width = |m: usize| WidthRisks {
            m,
            times: vec![0.0],
            risk: vec![vec![1.0 + 2.0 / m as f64]; 2],
        };
        let estimate = Estimate::extrapolated(&width(16), &width(64));
        assert!((estimate.mean[0] - 1.0).abs() < 1e-14);
        assert!(estimate.se[0] == 0.0);
    }
}
