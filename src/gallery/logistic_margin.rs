//! Gallery entry `logistic_margin`: the implicit bias of the logistic loss for a wide two-layer
//! relu network (Chizat and Bach 2020; docs/problems.md, the logistic loss and its energy
//! identity on a fixed data set). `scenarios/gallery/logistic_margin.toml` trains a relu
//! network without weight decay by gradient flow on the mean logistic loss of a fixed training
//! set: Rademacher inputs in d = 8 labelled by the parity x_1 x_2, which a bias-free relu network
//! separates with margin (x_1 x_2 = (|x_1 + x_2| - |x_1 - x_2|) / 2 gives y f = 1 on every
//! point). Because f is 2-homogeneous in theta_j = (a_j, w_j), the normalised margin
//! gamma(t) = min_i y_i f(x_i) / mean_j |theta_j|^2 is scale-free; the entry computes it at each
//! snapshot from the particles and the training set (regenerated from the scenario:
//! `Scenario::setup`, `RiskMode::training_set`).
//!
//! Checks: the training classification error reaches 0, and gamma increases over the last
//! decade of time (gamma(T) > gamma(T / 10)), as the theory predicts (gamma tends to the
//! F1-max-margin); and the margin min_i y_i f(x_i) itself exceeds 1 and keeps growing (the
//! logistic loss has no minimiser: |theta| grows like log t). Negative control: the same run
//! with the square loss, whose flow stops once it interpolates (f(x_i) -> y_i): its margin
//! saturates below 1 and the last check must fail there (the entry fails if it passes). Its
//! normalised margin also creeps up while it converges (reported, not checked).

use std::path::Path;

use nalgebra::DMatrix;
use serde::Deserialize;
use serde_json::{Map, json};

use super::context::read_snapshots;
use super::numbers::{rounded, rounded_all};
use crate::error::{Error, Result};
use crate::gallery::{Check, Context, Entry, Outcome};
use crate::math::{Network, Particles};
use crate::plot::{Curve, LineFigure, Scale, render_lines};
use crate::task::DataSet;

/// Sizes of the entry (`[logistic_margin.quick]`, `[logistic_margin.full]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sizes {
    /// model.m.
    m: usize,
    /// dynamics.t_end.
    t_end: f64,
}

/// The margins of one run at its snapshots.
struct Margins {
    /// Snapshot times.
    times: Vec<f64>,
    /// min_i y_i f(x_i).
    margin: Vec<f64>,
    /// mean_j |theta_j|^2.
    norm: Vec<f64>,
    /// The training classification error at the last logged step.
    final_error: f64,
    /// The first logged time with training classification error 0 (NaN: never).
    separated_at: f64,
}

impl Margins {
    /// gamma at each snapshot.
    fn normalised(&self) -> Vec<f64> {
        self.margin
            .iter()
            .zip(&self.norm)
            .map(|(g, n)| g / n)
            .collect()
    }

    /// gamma at the snapshot nearest (in log time) to a tenth of the last time, and at the last.
    fn last_decade(&self) -> (f64, f64) {
        self.decade_of(&self.normalised())
    }

    /// `values` (one per snapshot) at the snapshot nearest to a tenth of the last time, and at
    /// the last.
    fn decade_of(&self, values: &[f64]) -> (f64, f64) {
        let last = self.times.last().copied().unwrap_or(f64::NAN);
        let target = (last / 10.0).ln();
        let earlier = self
            .times
            .iter()
            .zip(values)
            .filter(|(t, _)| **t > 0.0)
            .min_by(|a, b| {
                (a.0.ln() - target)
                    .abs()
                    .total_cmp(&(b.0.ln() - target).abs())
            })
            .map_or(f64::NAN, |(_, v)| *v);
        (earlier, values.last().copied().unwrap_or(f64::NAN))
    }

    /// Whether the margin min_i y_i f(x_i) at the end exceeds 1 (the square loss's fixed point
    /// f(x_i) = y_i) and grows over the last decade; with the margins at both ends.
    fn unbounded_margin(&self) -> (bool, f64, f64) {
        let (early, last) = self.decade_of(&self.margin);
        (last > 1.0 && last > early, early, last)
    }
}

/// Runs the entry.
pub(super) fn run(ctx: &Context<'_>, entry: &Entry) -> Result<Outcome> {
    let sizes: Sizes = ctx.sizes(entry.name)?;
    let logistic = margins(ctx, entry, &sizes, "logistic")?;
    let square = margins(ctx, entry, &sizes, "square")?;
    draw(
        &logistic,
        &square,
        sizes.m,
        &ctx.out().join("logistic_margin"),
    )?;

    let (l_early, l_last) = logistic.last_decade();
    let (s_early, s_last) = square.last_decade();
    let mut numbers = Map::new();
    numbers.insert("m".into(), json!(sizes.m));
    numbers.insert("t_end".into(), json!(sizes.t_end));
    numbers.insert("times".into(), json!(rounded_all(&logistic.times, 4)));
    for (name, run) in [("logistic", &logistic), ("square", &square)] {
        numbers.insert(
            format!("{name}_normalised_margin"),
            json!(rounded_all(&run.normalised(), 4)),
        );
        numbers.insert(format!("{name}_margin"), json!(rounded_all(&run.margin, 4)));
        numbers.insert(
            format!("{name}_mean_norm2"),
            json!(rounded_all(&run.norm, 4)),
        );
        numbers.insert(format!("{name}_final_train_error"), json!(run.final_error));
        numbers.insert(
            format!("{name}_separated_at"),
            json!(rounded(run.separated_at, 4)),
        );
    }
    let l_gain = l_last / l_early - 1.0;
    let s_gain = s_last / s_early - 1.0;
    numbers.insert(
        "logistic_last_decade_gain".into(),
        json!(rounded(l_gain, 4)),
    );
    numbers.insert("square_last_decade_gain".into(), json!(rounded(s_gain, 4)));
    let t = sizes.t_end;
    let checks = vec![
        Check::new(
            "the training classification error of the logistic run reaches 0",
            logistic.final_error == 0.0,
            format!(
                "error {} at t = {t} (first 0 at t = {})",
                logistic.final_error, logistic.separated_at
            ),
        ),
        Check::new(
            "the normalised margin min_i y_i f(x_i) / mean_j |theta_j|^2 of the logistic run \
             increases over the last decade of time",
            l_last > l_early && l_early > 0.0,
            format!(
                "gamma(t / 10) = {l_early:.4e}, gamma(t) = {l_last:.4e} (relative gain \
                 {l_gain:.3e})"
            ),
        ),
        margin_check("the logistic run", &logistic, false),
        margin_check("negative control: the square-loss run", &square, true),
    ];
    Ok(Outcome {
        figures: ["logistic_margin.png", "logistic_margin.svg"]
            .map(String::from)
            .to_vec(),
        numbers,
        checks,
    })
}

/// The check that the margin min_i y_i f(x_i) of `run` exceeds 1 and grows over the last decade
/// (for the control, `negated`: that it does not).
fn margin_check(what: &str, run: &Margins, negated: bool) -> Check {
    let (holds, early, last) = run.unbounded_margin();
    let fact = if negated {
        format!(
            "{what}: its margin min_i y_i f(x_i) saturates (does not both exceed 1, the \
             interpolation f(x_i) = y_i, and grow over the last decade)"
        )
    } else {
        format!(
            "{what}: its margin min_i y_i f(x_i) exceeds 1 (the square loss's fixed point \
             f(x_i) = y_i) and grows over the last decade"
        )
    };
    Check::new(
        fact,
        holds != negated,
        format!("margin {early:.4} at t / 10, {last:.4} at t"),
    )
}

/// Runs the scenario with `loss` and measures its margins at the snapshots.
fn margins(ctx: &Context<'_>, entry: &Entry, sizes: &Sizes, loss: &str) -> Result<Margins> {
    let overrides = [
        format!("model.m={}", sizes.m),
        format!("dynamics.t_end={}", sizes.t_end),
        format!("risk.loss=\"{loss}\""),
    ];
    let scenario = ctx.scenario(entry.scenario, &overrides)?;
    let dir = ctx.work_dir(entry.name).join(loss);
    let run = ctx.run(&scenario, &dir)?;
    let setup = scenario.setup()?;
    let train =
        setup.simulation.risk.training_set().ok_or_else(|| {
            Error::invalid("risk.mode", "population", "empirical (a training set)")
        })?;
    let snapshots = read_snapshots(&dir)?;
    let mut result = Margins {
        times: Vec::new(),
        margin: Vec::new(),
        norm: Vec::new(),
        final_error: f64::NAN,
        separated_at: f64::NAN,
    };
    for (step, theta) in snapshots {
        if theta.nrows() != sizes.m {
            return Err(Error::format(
                &dir,
                format!(
                    "snapshot {step} holds {} of {} particles",
                    theta.nrows(),
                    sizes.m
                ),
            ));
        }
        result.times.push(step as f64 * scenario.dt);
        result
            .margin
            .push(min_margin(&setup.simulation.network, theta.clone(), train)?);
        result.norm.push(mean_norm2(&theta));
    }
    let error = run.series_column("classification_error")?;
    let times = run.series_column("time")?;
    result.final_error = error.last().copied().unwrap_or(f64::NAN);
    result.separated_at = times
        .iter()
        .zip(&error)
        .find(|(_, e)| **e == 0.0)
        .map_or(f64::NAN, |(t, _)| *t);
    Ok(result)
}

/// min_i y_i f(x_i) over the training set.
fn min_margin(network: &Network, theta: DMatrix<f64>, train: &DataSet) -> Result<f64> {
    let particles = Particles::new(theta)?;
    let inputs = train.inputs();
    Ok(train
        .labels()
        .iter()
        .enumerate()
        .map(|(i, y)| {
            let x: Vec<f64> = inputs.column(i).iter().copied().collect();
            y * network.output(&particles, &x)
        })
        .fold(f64::INFINITY, f64::min))
}

/// mean_j |theta_j|^2.
fn mean_norm2(theta: &DMatrix<f64>) -> f64 {
    theta.norm_squared() / theta.nrows().max(1) as f64
}

/// The normalised margin of both losses against time (log axes).
fn draw(logistic: &Margins, square: &Margins, m: usize, stem: &Path) -> Result<()> {
    let curve = |label: &str, run: &Margins| Curve {
        label: label.into(),
        x: run.times.clone(),
        y: run.normalised(),
    };
    let figure = LineFigure {
        title: format!(
            "Normalised margin min y f / mean |theta|^2 (relu, m = {m}, parity x1 x2 on {{-1,1}}^8)"
        ),
        x_label: "time t".into(),
        y_label: "normalised margin".into(),
        x_scale: Scale::Log,
        y_scale: Scale::Linear,
        curves: vec![
            curve("logistic loss", logistic),
            curve("square loss (control)", square),
        ],
    };
    render_lines(&figure, stem)
}
