//! Gallery entry `overparameterised`: over-parameterisation helps. A relu teacher of k
//! orthonormal neurons (a* = 1) is learned from the exact population risk (docs/math.md
//! section 3) by students of width m = k, k + 1, k + 2, 2k and 4k, from many seeds each, in
//! the mean-field scaling, in two settings: Safran and Shamir's (2018), output weights fixed at
//! a = 1 (`train = "w_only"`), and with the output weights trained from a ~ N(0, 1).
//!
//! A seed succeeds when its risk at the final time T is below [`THRESHOLD`]. At the end of every
//! seed the entry measures the velocity m dR/dtheta and the smallest eigenvalue of its Jacobian
//! (central differences of the exact gradient, `landscape`), which separate a spurious local
//! minimum (risk above the threshold, lambda_min >= -tolerance) from a saddle the flow is still
//! escaping (lambda_min < -tolerance); and the local decay of the risk over the last three
//! quarters of the run (exponential rate and power), which shows why the exact width ends far
//! lower than the wider students when it succeeds: its minimum is strict (lambda_min > 0, an
//! exponential rate 2 lambda_min), theirs are flat.
//!
//! The figure has two panels: the success fraction against m with its 95% Wilson score
//! interval, and the final risk of every seed per width with the median (`figure`).

mod figure;
mod landscape;

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, json};

use crate::error::{Error, Result};
use crate::gallery::{Check, Context, Entry, Outcome};
use crate::output::{Table, read_npy};
use crate::sweep::SweepOverrides;
use crate::task::PopulationRisk;
use landscape::{Landscape, Stationarity, decay, fisher_one_sided};

/// A seed succeeds when its final risk is below this.
const THRESHOLD: f64 = 1e-4;

/// Level of the one-sided tests of the checks.
const LEVEL: f64 = 0.05;

/// The decay fits use the logged times t >= T / 4.
const DECAY_FROM: f64 = 0.25;

/// The sizes of one invocation (`[overparameterised.quick]` or `[overparameterised.full]` of
/// the sizes file); the widths are the scenario's `sweep.widths`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sizes {
    /// Seeds per width.
    seeds: usize,
    /// The final time T.
    t_end: f64,
}

/// The two settings of the entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setting {
    /// Safran and Shamir's: a = 1 fixed, only the first layer trained.
    Fixed,
    /// Both layers trained from the scenario's a ~ N(0, 1).
    Trained,
}

impl Setting {
    /// Folder and key of the setting.
    fn name(self) -> &'static str {
        match self {
            Setting::Fixed => "fixed_a",
            Setting::Trained => "trained_a",
        }
    }

    /// Legend label.
    fn label(self) -> &'static str {
        match self {
            Setting::Fixed => "a = 1 fixed (Safran-Shamir)",
            Setting::Trained => "a trained, a(0) ~ N(0, 1)",
        }
    }

    /// The `--set` overrides of the setting.
    fn overrides(self) -> Vec<String> {
        match self {
            Setting::Fixed => vec![
                "dynamics.train=\"w_only\"".into(),
                "init.a.mean=1.0".into(),
                "init.a.std=0.0".into(),
            ],
            Setting::Trained => Vec::new(),
        }
    }
}

/// The end of one seed.
#[derive(Clone, Copy, Debug)]
struct Seed {
    /// The risk at T.
    risk: f64,
    /// The landscape at the final particles.
    landscape: Stationarity,
    /// Exponential rate and power of the decay over t >= T / 4 (None: too few points above
    /// the rounding floor).
    decay: Option<(f64, f64)>,
}

/// What a seed ended at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// Risk below the threshold.
    Success,
    /// Above it, at a point whose Jacobian has no eigenvalue below -tolerance: a spurious local
    /// minimum (or a degenerate saddle the differences cannot tell from one).
    Minimum,
    /// Above it, with a clearly negative eigenvalue: a saddle being escaped.
    Saddle,
}

impl Seed {
    fn end(&self) -> End {
        if self.risk < THRESHOLD {
            End::Success
        } else if self.landscape.lambda_min >= -self.landscape.tolerance {
            End::Minimum
        } else {
            End::Saddle
        }
    }
}

/// The outcome at one width.
#[derive(Debug)]
struct Width {
    m: usize,
    /// The seeds, in seed order.
    seeds: Vec<Seed>,
}

impl Width {
    fn count(&self, end: End) -> usize {
        self.seeds.iter().filter(|s| s.end() == end).count()
    }

    fn successes(&self) -> usize {
        self.count(End::Success)
    }

    fn fraction(&self) -> f64 {
        self.successes() as f64 / self.seeds.len() as f64
    }

    fn risks(&self) -> Vec<f64> {
        self.seeds.iter().map(|s| s.risk).collect()
    }

    /// Median over the successful seeds of `value` (NaN for none).
    fn median_success(&self, value: impl Fn(&Seed) -> Option<f64>) -> f64 {
        let values: Vec<f64> = self
            .seeds
            .iter()
            .filter(|s| s.end() == End::Success)
            .filter_map(value)
            .collect();
        median(&values)
    }
}

/// The median of `values` (NaN for none; non-finite values sort last).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]),
    }
}

/// The 95% Wilson score interval of a binomial proportion of `successes` out of `trials`.
fn wilson(successes: usize, trials: usize) -> (f64, f64) {
    const Z: f64 = 1.959_963_984_540_054;
    if trials == 0 {
        return (0.0, 1.0);
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let denominator = 1.0 + Z * Z / n;
    let centre = (p + Z * Z / (2.0 * n)) / denominator;
    let half = Z * (p * (1.0 - p) / n + Z * Z / (4.0 * n * n)).sqrt() / denominator;
    // At 0 or all successes an end is exactly 0 or 1; rounding would leave it a few ulps off.
    let lo = if successes == 0 {
        0.0
    } else {
        (centre - half).max(0.0)
    };
    let hi = if successes >= trials {
        1.0
    } else {
        (centre + half).min(1.0)
    };
    (lo, hi)
}

/// The widths the entry is about: k, k + 1, k + 2, 2k and 4k.
fn ladder(k: usize) -> Vec<usize> {
    vec![k, k + 1, k + 2, 2 * k, 4 * k]
}

/// Runs the sweep of `file` with the overrides of a setting (`setting`) into `dir` and measures
/// the end of every seed.
fn measure(
    ctx: &Context<'_>,
    file: &str,
    dir: &Path,
    sizes: &Sizes,
    setting: &[String],
) -> Result<Vec<Width>> {
    let mut overrides = vec![format!("dynamics.t_end={:?}", sizes.t_end)];
    overrides.extend_from_slice(setting);
    let sweep = SweepOverrides {
        seeds: Some(sizes.seeds),
        ..SweepOverrides::default()
    };
    let plan = ctx.sweep(file, &overrides, &sweep, dir)?;
    let scenario = ctx.scenario(file, &overrides)?;
    let mut landscape = Landscape {
        network: scenario.network,
        risk: PopulationRisk::new(scenario.network.activation, scenario.teacher()?)?,
        train: scenario.dynamics.train,
    };
    let mut widths: Vec<Width> = plan
        .widths
        .iter()
        .map(|&m| Width {
            m,
            seeds: Vec::new(),
        })
        .collect();
    for run in plan.runs.iter().filter(|r| !r.reference) {
        let run_dir = dir.join("runs").join(&run.id);
        let series = Table::read_csv(&run_dir.join("series.csv"))?;
        let column = |name: &str| {
            series.column(name).ok_or_else(|| {
                Error::format(run_dir.join("series.csv"), format!("no column {name}"))
            })
        };
        let (time, risk) = (column("time")?, column("risk")?);
        let particles = read_npy(&run_dir.join("particles_final.npy"))?;
        let seed = Seed {
            risk: risk.last().copied().unwrap_or(f64::NAN),
            landscape: landscape.stationarity(&particles)?,
            decay: decay(&time, &risk, DECAY_FROM * sizes.t_end),
        };
        if let Some(width) = widths.iter_mut().find(|w| w.m == run.m) {
            width.seeds.push(seed);
        }
    }
    Ok(widths)
}

/// What the checks are decided on: both settings' widths.
struct Measured {
    k: usize,
    fixed: Vec<Width>,
    trained: Vec<Width>,
}

/// Successes at m = k and at 4k of `widths`, and the one-sided Fisher p-value.
fn contrast(widths: &[Width]) -> (usize, usize, usize, f64) {
    let (narrow, wide) = (&widths[0], &widths[widths.len() - 1]);
    let trials = narrow.seeds.len();
    let (n, w) = (narrow.successes(), wide.successes());
    (n, w, trials, fisher_one_sided(w, n, trials))
}

/// The checks, a pure function of the measured numbers.
fn checks(measured: &Measured) -> Vec<Check> {
    let mut checks = Vec::new();
    for (setting, widths) in [
        (Setting::Fixed, &measured.fixed),
        (Setting::Trained, &measured.trained),
    ] {
        let (n, w, trials, p) = contrast(widths);
        checks.push(Check::new(
            format!(
                "{}: m = 4k succeeds more often than m = k (one-sided Fisher exact test, p < {LEVEL})",
                setting.label()
            ),
            p < LEVEL,
            format!("{w}/{trials} at m = 4k against {n}/{trials} at m = k: p = {p:.2e}"),
        ));
    }
    let minima: usize = [&measured.fixed, &measured.trained]
        .iter()
        .map(|widths| widths[0].count(End::Minimum))
        .sum();
    checks.push(Check::new(
        "at m = k some seeds end at a spurious local minimum (risk above the threshold, \
         no Hessian eigenvalue below -tolerance)",
        minima > 0,
        format!("{minima} such seeds at m = k over both settings"),
    ));
    // The exact width's successes reach a strict minimum; the 2k and 4k ones a flat one.
    let fixed = &measured.fixed;
    let strict = fixed[0].median_success(|s| Some(s.landscape.lambda_min));
    let flat = fixed[3..]
        .iter()
        .map(|w| w.median_success(|s| Some(s.landscape.lambda_min)))
        .fold(f64::NEG_INFINITY, f64::max);
    let tolerance = fixed
        .iter()
        .flat_map(|w| w.seeds.iter().map(|s| s.landscape.tolerance))
        .fold(0.0, f64::max);
    checks.push(Check::new(
        "a = 1 fixed: the exact width's successes end at a strict minimum, the 2k and 4k ones \
         at a flat one (median lambda_min at m = k above 10 times the largest finite-difference \
         tolerance; at 2k and 4k below a tenth of the m = k median)",
        strict > 10.0 * tolerance && flat < 0.1 * strict,
        format!(
            "median lambda_min of the successes: {strict:.2e} at m = k = {}, at most {flat:.2e} \
             at 2k and 4k; tolerance {tolerance:.1e}",
            measured.k
        ),
    ));
    checks
}

/// Runs the entry: over-parameterisation helps.
pub(super) fn run(ctx: &Context<'_>, entry: &Entry) -> Result<Outcome> {
    let sizes: Sizes = ctx.sizes(entry.name)?;
    let dir = ctx
        .work_dir(entry.name)
        .join(if ctx.quick() { "quick" } else { "full" });
    let k = ctx
        .scenario(entry.scenario, &[])?
        .resolved
        .target
        .k
        .unwrap_or(1);
    let [fixed, trained] = [Setting::Fixed, Setting::Trained].map(|setting| {
        let dir = dir.join(setting.name());
        measure(ctx, entry.scenario, &dir, &sizes, &setting.overrides())
    });
    let (fixed, trained) = (fixed?, trained?);
    for widths in [&fixed, &trained] {
        let ms: Vec<usize> = widths.iter().map(|w| w.m).collect();
        if ms != ladder(k) || widths.iter().any(|w| w.seeds.len() != sizes.seeds) {
            return Err(Error::format(
                dir.clone(),
                format!(
                    "expected {} seeds at each width of {:?}, found widths {ms:?}",
                    sizes.seeds,
                    ladder(k)
                ),
            ));
        }
    }
    let measured = Measured { k, fixed, trained };
    let figures = figure::draw(
        ctx.out(),
        &[
            (Setting::Fixed.label(), &measured.fixed[..]),
            (Setting::Trained.label(), &measured.trained[..]),
        ],
        k,
        sizes.t_end,
    )?;
    let mut numbers = Map::new();
    numbers.insert("k".into(), json!(k));
    numbers.insert("seeds".into(), json!(sizes.seeds));
    numbers.insert("t_end".into(), json!(sizes.t_end));
    numbers.insert("threshold".into(), json!(THRESHOLD));
    numbers.insert("widths".into(), json!(ladder(k)));
    numbers.insert(
        Setting::Fixed.name().into(),
        setting_numbers(&measured.fixed),
    );
    numbers.insert(
        Setting::Trained.name().into(),
        setting_numbers(&measured.trained),
    );
    Ok(Outcome {
        figures,
        numbers,
        checks: checks(&measured),
    })
}

/// The numbers of one setting, one entry per width.
fn setting_numbers(widths: &[Width]) -> serde_json::Value {
    let per = |f: &dyn Fn(&Width) -> serde_json::Value| widths.iter().map(f).collect::<Vec<_>>();
    json!({
        "successes": per(&|w| json!(w.successes())),
        "spurious_minima": per(&|w| json!(w.count(End::Minimum))),
        "saddles": per(&|w| json!(w.count(End::Saddle))),
        "success_interval_95": per(&|w| {
            let (lo, hi) = wilson(w.successes(), w.seeds.len());
            json!([lo, hi])
        }),
        "median_final_risk": per(&|w| json!(median(&w.risks()))),
        "median_success_risk": per(&|w| json!(w.median_success(|s| Some(s.risk)))),
        "median_success_lambda_min": per(&|w| json!(w.median_success(|s| Some(s.landscape.lambda_min)))),
        "median_success_rate": per(&|w| json!(w.median_success(|s| s.decay.map(|d| d.0)))),
        "median_success_power": per(&|w| json!(w.median_success(|s| s.decay.map(|d| d.1)))),
        "stalled_velocity": per(&|w| json!(
            w.seeds.iter().filter(|s| s.end() != End::Success).map(|s| s.landscape.velocity).collect::<Vec<_>>()
        )),
        "stalled_lambda_min": per(&|w| json!(
            w.seeds.iter().filter(|s| s.end() != End::Success).map(|s| s.landscape.lambda_min).collect::<Vec<_>>()
        )),
        "largest_tolerance": per(&|w| json!(
            w.seeds.iter().map(|s| s.landscape.tolerance).fold(0.0, f64::max)
        )),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

    use super::*;

    #[test]
    fn the_shipped_sizes_read_and_quick_is_smaller() {
        let quick: Sizes =
            crate::gallery::context::shipped_sizes("overparameterised", true).unwrap();
        let full: Sizes =
            crate::gallery::context::shipped_sizes("overparameterised", false).unwrap();
        assert!(quick.seeds <= full.seeds && quick.t_end <= full.t_end);
    }

    #[test]
    fn wilson_interval_contains_the_proportion_and_stays_in_zero_one() {
        let (lo, hi) = wilson(0, 12);
        assert_eq!(lo, 0.0);
        assert!(hi > 0.2 && hi < 0.3, "{hi}");
        let (lo, hi) = wilson(12, 12);
        assert!(lo > 0.7 && lo < 0.8 && hi == 1.0, "{lo}");
        let (lo, hi) = wilson(6, 12);
        assert!((0.5 - lo - (hi - 0.5)).abs() < 1e-12 && lo < 0.5);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    fn seed(risk: f64, lambda_min: f64) -> Seed {
        Seed {
            risk,
            landscape: Stationarity {
                velocity: 0.0,
                lambda_min,
                tolerance: 1e-6,
            },
            decay: None,
        }
    }

    /// Widths k .. 4k with the given (successes, spurious minima) of 12 seeds each, successes at
    /// lambda_min `strict` at k and 1e-7 elsewhere.
    fn widths(counts: [(usize, usize); 5], strict: f64) -> Vec<Width> {
        ladder(8)
            .into_iter()
            .zip(counts)
            .enumerate()
            .map(|(i, (m, (good, minima)))| Width {
                m,
                seeds: (0..12)
                    .map(|s| {
                        let lambda = if i == 0 { strict } else { 1e-7 };
                        if s < good {
                            seed(1e-8, lambda)
                        } else if s < good + minima {
                            seed(1e-3, 1e-4)
                        } else {
                            seed(1e-3, -1e-2)
                        }
                    })
                    .collect(),
            })
            .collect()
    }

    #[test]
    fn the_checks_pass_on_a_clear_result_and_fail_without_overparameterisation() {
        let clear = Measured {
            k: 8,
            fixed: widths([(4, 6), (8, 2), (10, 1), (12, 0), (12, 0)], 1e-2),
            trained: widths([(2, 10), (5, 5), (8, 2), (12, 0), (12, 0)], 1e-2),
        };
        assert!(
            checks(&clear).iter().all(|c| c.passed),
            "{:#?}",
            checks(&clear)
        );
        // No gain from width (the 4k students do as m = k), no spurious minimum (every stall
        // a saddle), and a flat exact-width minimum: every check fails.
        let flat = Measured {
            k: 8,
            fixed: widths([(4, 0), (4, 0), (4, 0), (4, 0), (4, 0)], 1e-7),
            trained: widths([(2, 0), (2, 0), (2, 0), (2, 0), (2, 0)], 1e-7),
        };
        assert!(
            checks(&flat).iter().all(|c| !c.passed),
            "{:#?}",
            checks(&flat)
        );
    }

    #[test]
    fn the_frozen_first_layer_fails_the_width_checks() {
        // Random features at every width (`train = "a_only"`), run through the same sweep and
        // landscape code at a tiny size: no width learns the teacher.
        let dir = tempfile::tempdir().unwrap();
        let options = crate::gallery::context::scratch_options(dir.path());
        let ctx = Context::new(&options);
        let sizes = Sizes {
            seeds: 4,
            t_end: 200.0,
        };
        let frozen = ["dynamics.train=\"a_only\"".to_string()];
        let widths = measure(&ctx, "overparameterised.toml", dir.path(), &sizes, &frozen).unwrap();
        assert_eq!(widths.iter().map(|w| w.m).collect::<Vec<_>>(), ladder(8));
        let measured = Measured {
            k: 8,
            fixed: widths,
            trained: Vec::new(),
        };
        let measured = Measured {
            trained: measure(
                &ctx,
                "overparameterised.toml",
                &dir.path().join("b"),
                &sizes,
                &frozen,
            )
            .unwrap(),
            ..measured
        };
        let checks = checks(&measured);
        assert!(
            !checks[0].passed && !checks[1].passed && !checks[3].passed,
            "{checks:#?}"
        );
    }
}
