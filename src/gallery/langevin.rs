//! Gallery entry `langevin`: mean-field Langevin dynamics (docs/math.md sections 2 and 5). With
//! temperature tau > 0 and weight decay lambda > 0 the particles follow
//! d theta_j = [ -grad_{theta_j} R - lambda theta_j ] dt + sqrt(2 tau) dB_j (alpha = 1), which
//! decreases the free energy F = E + tau int rho log rho, E = R + (lambda/2) mean_j |theta_j|^2,
//! towards a stationary measure. Two runs of `scenarios/gallery/langevin.toml`:
//!
//! - a teacher (two relu neurons): F, as recorded in measures.csv (E exact, the entropy a
//!   Kozachenko-Leonenko estimate on the snapshot particles), must not increase by more than
//!   its noise, and must settle;
//! - a zero target (teacher output weights 0): the stationary measure is then the Gibbs measure
//!   of the confinement alone, every coordinate N(0, tau / lambda). Indeed, with f* = 0,
//!   R = 1/2 E[f^2] >= 0 vanishes at that Gaussian (a centred and independent of w gives f = 0),
//!   which also minimises (lambda/2) int |theta|^2 + tau int rho log rho, hence F. The
//!   Ornstein-Uhlenbeck process d theta = -lambda theta dt + sqrt(2 tau) dB has variance
//!   tau / lambda with docs/math.md's conventions (drift -lambda theta, noise sqrt(2 tau) dB, time
//!   unit with the factor m^(2 alpha - 1) = 1 for the confinement); its Euler-Maruyama chain
//!   with step dt has tau / (lambda (1 - lambda dt / 2)), which the entry reports beside it.
//!
//! Noise of the free energy, which sets the tolerance of the check. F at a snapshot carries two
//! independent errors. (1) The entropy estimate on the n snapshot points: its standard deviation
//! is measured on the run by splitting every snapshot into two halves (`split_half_entropy_sd`:
//! an overestimate at small n; at n = 500 the fluctuation of F seen at stationarity is half of
//! the sigma_F below). For a Gaussian law in D = 1 + d dimensions it would be
//! about sqrt((D/2 + pi^2/6) / n) (Var log rho = D/2, and pi^2/6 the variance of the log of the
//! exponential nearest-neighbour volume); the measured value is 1.3 times that at n = 2000, as
//! pairs of mutual nearest neighbours share their distance. (2) E of the m-particle system, a
//! Langevin dynamics at temperature tau for the potential m E on R^(m D), fluctuates with
//! Var E = tau^2 D / (2 m) (equipartition). So sigma_F^2 = tau^2 sd(H)^2 + tau^2 D / (2 m); the
//! difference of two snapshots has at most sqrt(2) sigma_F, and the check allows a rise of
//! 4 sqrt(2) sigma_F over the lowest earlier value (with about 40 snapshots, a false alarm
//! has probability about 1e-3).

use std::path::Path;

use nalgebra::DMatrix;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::diagnostics::measure::{entropy_kozachenko_leonenko, histogram};
use crate::error::{Error, Result};
use crate::gallery::context::{RunOutput, read_snapshots};
use crate::gallery::numbers::rounded;
use crate::gallery::{Check, Context, Entry, Outcome};
use crate::plot::{Curve, LineFigure, Scale, render_lines};
use crate::scenario::Scenario;

mod stein;

/// The sizes of one gallery invocation (`[langevin.quick]` or `[langevin.full]` of the sizes
/// file).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sizes {
    /// Width of the teacher run.
    teacher_m: usize,
    /// Width of the zero-target run: m (1 + d) pooled coordinates estimate the variance.
    zero_m: usize,
    /// Final time (the same for both runs).
    t_end: f64,
    /// Width of the replicas of the Stein identities (they hold at every m; the noise of their
    /// time average falls like 1 / sqrt(m t), the cost grows like m^2 t).
    stein_m: usize,
    /// Independent replicas (seeds) of the Stein identities: their spread gives the standard
    /// error.
    stein_seeds: u64,
    /// Final time of the replicas; the identities are averaged over its second half.
    stein_t_end: f64,
}

/// How many noise standard deviations the checks allow.
const Z: f64 = 4.0;

/// Runs the entry: mean-field Langevin dynamics.
pub(super) fn run(ctx: &Context<'_>, entry: &Entry) -> Result<Outcome> {
    let sizes: Sizes = ctx.sizes(entry.name)?;
    let work = ctx.work_dir(entry.name);
    let common = |m: usize| {
        vec![
            format!("model.m={m}"),
            format!("dynamics.t_end={:?}", sizes.t_end),
        ]
    };
    let teacher_scenario = ctx.scenario(entry.scenario, &common(sizes.teacher_m))?;
    let teacher = ctx.run(&teacher_scenario, &work.join("teacher"))?;
    let mut zero_overrides = common(sizes.zero_m);
    zero_overrides.push("target.a=0.0".into());
    let zero_scenario = ctx.scenario(entry.scenario, &zero_overrides)?;
    let zero = ctx.run(&zero_scenario, &work.join("zero_target"))?;

    let mut second_overrides = common(sizes.teacher_m);
    second_overrides.extend(SECOND_LAW.iter().map(|s| (*s).to_string()));
    let second_scenario = ctx.scenario(entry.scenario, &second_overrides)?;
    let second = ctx.run(&second_scenario, &work.join("teacher_second_law"))?;

    let mut numbers = Map::new();
    let mut checks = Vec::new();
    let free = free_energy(&teacher_scenario, &teacher)?;
    free.report(&mut numbers, &mut checks);
    let second_free = free_energy(&second_scenario, &second)?;
    let bias = entropy_bias(&zero_scenario, &zero, sizes.teacher_m)?;
    report_two_laws(&free, &second_free, bias, &mut numbers, &mut checks);
    let gibbs = GibbsFit::of(&zero_scenario, &zero);
    gibbs.report(&mut numbers, &mut checks);
    let replicas = stein_replicas(ctx, entry, &sizes)?;
    report_stein(&replicas, &mut numbers);
    checks.extend(stein::checks(&replicas.replicas.measured));

    let mut figures = draw(ctx.out(), &teacher, &free, &second_free, &gibbs)?;
    figures.extend(draw_stein(ctx.out(), &replicas)?);
    Ok(Outcome {
        figures,
        numbers,
        checks,
    })
}

/// The free energy of the teacher run and its noise.
struct FreeEnergy {
    tau: f64,
    lambda: f64,
    m: usize,
    /// Snapshot times and the free energy there.
    time: Vec<f64>,
    value: Vec<f64>,
    /// The standard deviation of the entropy estimate, measured by split halves, and as
    /// predicted for a Gaussian law (module documentation).
    entropy_sd: f64,
    entropy_sd_gaussian: f64,
    /// The standard deviation of E predicted by equipartition, tau sqrt(D / (2 m)).
    energy_sd: f64,
    /// The standard deviation sigma_F of one value of F.
    sigma: f64,
    /// The largest rise of F above the lowest earlier value, and its time.
    largest_rise: f64,
    rise_time: f64,
    /// F at the first snapshot at or after t_end / 2, and at the end.
    half: f64,
    last: f64,
    /// Mean and standard deviation of F over the snapshots of the last half.
    late_mean: f64,
    late_sd: f64,
}

fn free_energy(scenario: &Scenario, output: &RunOutput) -> Result<FreeEnergy> {
    let time = output.measures_column("time")?;
    let value = output.measures_column("free_energy")?;
    let path = output.dir.join("measures.csv");
    if value.len() < 4 || value.iter().any(|v| !v.is_finite()) {
        return Err(Error::format(
            path,
            "the langevin entry needs at least 4 finite free-energy values",
        ));
    }
    let tau = scenario.dynamics.tau;
    let m = scenario.m;
    let n = m.min(scenario.record.snapshot_particles) as f64;
    let dimension = (scenario.d + 1) as f64;
    let entropy_sd_gaussian = ((0.5 * dimension + std::f64::consts::PI.powi(2) / 6.0) / n).sqrt();
    let entropy_sd = split_half_entropy_sd(output)?;
    let energy_sd = tau * (dimension / (2.0 * m as f64)).sqrt();
    let sigma = (tau * tau * entropy_sd * entropy_sd + energy_sd * energy_sd).sqrt();
    let (mut lowest, mut largest_rise, mut rise_time) = (value[0], f64::NEG_INFINITY, 0.0);
    for (&t, &f) in time.iter().zip(&value).skip(1) {
        if f - lowest > largest_rise {
            largest_rise = f - lowest;
            rise_time = t;
        }
        lowest = lowest.min(f);
    }
    let t_end = time.last().copied().unwrap_or(0.0);
    let half_index = time.iter().position(|&t| t >= 0.5 * t_end).unwrap_or(0);
    let late = &value[half_index..];
    let late_mean = late.iter().sum::<f64>() / late.len() as f64;
    let late_sd = (late.iter().map(|v| (v - late_mean).powi(2)).sum::<f64>()
        / (late.len().max(2) - 1) as f64)
        .sqrt();
    Ok(FreeEnergy {
        tau,
        lambda: scenario.dynamics.lambda,
        m,
        entropy_sd,
        entropy_sd_gaussian,
        energy_sd,
        half: value[half_index],
        last: value[value.len() - 1],
        time,
        value,
        sigma,
        largest_rise,
        rise_time,
        late_mean,
        late_sd,
    })
}

impl FreeEnergy {
    fn tolerance(&self) -> f64 {
        Z * std::f64::consts::SQRT_2 * self.sigma
    }

    fn report(&self, numbers: &mut Map<String, Value>, checks: &mut Vec<Check>) {
        let tolerance = self.tolerance();
        let first = self.value[0];
        numbers.insert("teacher_m".into(), json!(self.m));
        numbers.insert("tau".into(), json!(self.tau));
        numbers.insert("lambda".into(), json!(self.lambda));
        numbers.insert("free_energy_initial".into(), json!(rounded(first, 4)));
        numbers.insert("free_energy_final".into(), json!(rounded(self.last, 4)));
        numbers.insert(
            "free_energy_largest_rise".into(),
            json!(rounded(self.largest_rise, 4)),
        );
        numbers.insert(
            "free_energy_noise_sigma".into(),
            json!(rounded(self.sigma, 4)),
        );
        numbers.insert(
            "entropy_sd_split_halves".into(),
            json!(rounded(self.entropy_sd, 4)),
        );
        numbers.insert(
            "entropy_sd_gaussian_prediction".into(),
            json!(rounded(self.entropy_sd_gaussian, 4)),
        );
        numbers.insert(
            "energy_sd_equipartition".into(),
            json!(rounded(self.energy_sd, 4)),
        );
        numbers.insert("free_energy_tolerance".into(), json!(rounded(tolerance, 4)));
        numbers.insert(
            "free_energy_change_last_half".into(),
            json!(rounded(self.last - self.half, 4)),
        );
        numbers.insert(
            "free_energy_sd_last_half".into(),
            json!(rounded(self.late_sd, 4)),
        );
        checks.push(Check::new(
            format!(
                "the free energy is non-increasing up to noise: no snapshot exceeds the lowest \
                 earlier value by more than {Z} sqrt(2) sigma_F"
            ),
            self.largest_rise <= tolerance,
            format!(
                "F from {first:.5} to {:.5}; largest rise {:.2e} (t = {:.3}) against \
                 tolerance {tolerance:.2e} (sigma_F = {:.2e})",
                self.last, self.largest_rise, self.rise_time, self.sigma
            ),
        ));
        checks.push(Check::new(
            "the free energy settles: over the last half of the run it changes by less than \
             the noise tolerance",
            (self.last - self.half).abs() <= tolerance,
            format!(
                "F(t_end / 2) = {:.5}, F(t_end) = {:.5}, change {:.2e}; total decrease {:.2e}; \
                 tolerance {tolerance:.2e}",
                self.half,
                self.last,
                self.last - self.half,
                first - self.last
            ),
        ));
    }
}

/// The standard deviation of the entropy estimate of the run's snapshots, measured by splitting
/// each snapshot into its even and odd rows: the two half-sample estimates are independent with
/// equal bias and each has twice the variance of the full estimate (the variance goes as 1/n),
/// so Var(H_n) = E[(H_even - H_odd)^2] / 4, averaged over the snapshots.
fn split_half_entropy_sd(output: &RunOutput) -> Result<f64> {
    let steps = output.measures_column("step")?;
    let snapshots = read_snapshots(&output.dir)?;
    let mut sum = 0.0;
    for &step in &steps {
        let step = step as u64;
        let particles = snapshots
            .iter()
            .find(|(snapshot, _)| *snapshot == step)
            .map(|(_, particles)| particles)
            .ok_or_else(|| {
                Error::format(
                    output.dir.join("snapshots"),
                    format!("no snapshot step_{step}.npy"),
                )
            })?;
        let half = |parity: usize| {
            let rows: Vec<usize> = (parity..particles.nrows()).step_by(2).collect();
            let matrix = DMatrix::from_fn(rows.len(), particles.ncols(), |r, c| {
                particles[(rows[r], c)]
            });
            entropy_kozachenko_leonenko(&matrix).map(|e| e.entropy)
        };
        let difference = half(0)? - half(1)?;
        sum += difference * difference / 4.0;
    }
    Ok((sum / steps.len().max(1) as f64).sqrt())
}

/// The stationary law of the zero-target run against N(0, tau / lambda).
struct GibbsFit {
    tau: f64,
    lambda: f64,
    dt: f64,
    m: usize,
    /// The time of the last particles.
    time: f64,
    /// Pooled coordinates (a and w) of the last and the initial particles.
    last: Vec<f64>,
    initial: Vec<f64>,
    /// Mean square of the pooled last coordinates, of a alone and of w alone.
    variance: f64,
    variance_a: f64,
    variance_w: f64,
}

impl GibbsFit {
    fn of(scenario: &Scenario, output: &RunOutput) -> Self {
        let pooled = |theta: &DMatrix<f64>| theta.iter().copied().collect::<Vec<f64>>();
        let mean_square =
            |values: &[f64]| values.iter().map(|v| v * v).sum::<f64>() / values.len().max(1) as f64;
        let last = pooled(&output.last);
        let a: Vec<f64> = output.last.column(0).iter().copied().collect();
        let d = output.last.ncols() - 1;
        let w: Vec<f64> = output.last.columns(1, d).iter().copied().collect();
        Self {
            tau: scenario.dynamics.tau,
            lambda: scenario.dynamics.lambda,
            dt: scenario.dt,
            m: scenario.m,
            time: output.summary.time,
            variance: mean_square(&last),
            variance_a: mean_square(&a),
            variance_w: mean_square(&w),
            initial: pooled(&output.initial),
            last,
        }
    }

    /// tau / lambda.
    fn expected(&self) -> f64 {
        self.tau / self.lambda
    }

    /// The stationary variance of the Euler-Maruyama chain: tau / (lambda (1 - lambda dt / 2)).
    fn expected_discrete(&self) -> f64 {
        self.expected() / (1.0 - 0.5 * self.lambda * self.dt)
    }

    fn report(&self, numbers: &mut Map<String, Value>, checks: &mut Vec<Check>) {
        let expected = self.expected();
        let count = self.last.len() as f64;
        // The mean square of N independent N(0, s^2) values has relative standard deviation
        // sqrt(2 / N).
        let relative_error = (2.0 / count).sqrt();
        let deviation = self.variance / expected - 1.0;
        numbers.insert("zero_target_m".into(), json!(self.m));
        numbers.insert(
            "gibbs_variance_expected".into(),
            json!(rounded(expected, 4)),
        );
        numbers.insert(
            "gibbs_variance_expected_euler_maruyama".into(),
            json!(rounded(self.expected_discrete(), 4)),
        );
        numbers.insert(
            "stationary_variance".into(),
            json!(rounded(self.variance, 4)),
        );
        numbers.insert(
            "stationary_variance_a".into(),
            json!(rounded(self.variance_a, 4)),
        );
        numbers.insert(
            "stationary_variance_w".into(),
            json!(rounded(self.variance_w, 4)),
        );
        numbers.insert(
            "stationary_variance_relative_error".into(),
            json!(rounded(deviation, 4)),
        );
        numbers.insert(
            "stationary_variance_sampling_error".into(),
            json!(rounded(relative_error, 4)),
        );
        checks.push(Check::new(
            "with a zero target the stationary variance of every coordinate is within 10% of \
             tau / lambda (the Gibbs measure of the confinement)",
            deviation.abs() <= 0.10,
            format!(
                "mean square of the {count} coordinates of the final particles {:.5} (a {:.5}, \
                 w {:.5}) against tau / lambda = {expected:.5} (Euler-Maruyama: {:.5}): \
                 {:+.2}%, sampling error {:.2}%",
                self.variance,
                self.variance_a,
                self.variance_w,
                self.expected_discrete(),
                100.0 * deviation,
                100.0 * relative_error
            ),
        ));
    }
}

/// The figures: the free energy (with the energy and the risk) of the teacher run against
/// time, and the zero-target marginal against the Gaussian density.
fn draw(
    out: &Path,
    teacher: &RunOutput,
    free: &FreeEnergy,
    second: &FreeEnergy,
    gibbs: &GibbsFit,
) -> Result<Vec<String>> {
    draw_free_energy(out, teacher, free, second)?;
    draw_gibbs(out, gibbs)?;
    Ok(["langevin_free_energy", "langevin_gibbs"]
        .iter()
        .flat_map(|stem| [format!("{stem}.png"), format!("{stem}.svg")])
        .collect())
}

/// `langevin_free_energy`: F of both initial laws, E and R of the first, against time.
fn draw_free_energy(
    out: &Path,
    teacher: &RunOutput,
    free: &FreeEnergy,
    second: &FreeEnergy,
) -> Result<()> {
    let time = teacher.series_column("time")?;
    let series = |name: &str| teacher.series_column(name);
    render_lines(
        &LineFigure {
            title: format!(
                "Teacher: tau = {}, lambda = {}, m = {}",
                free.tau, free.lambda, free.m
            ),
            x_label: "time t".into(),
            y_label: "free energy, energy, risk".into(),
            x_scale: Scale::Log,
            y_scale: Scale::Linear,
            curves: vec![
                Curve {
                    label: "free energy F = E - tau H".into(),
                    x: free.time.clone(),
                    y: free.value.clone(),
                },
                Curve {
                    label: "F, second initial law".into(),
                    x: second.time.clone(),
                    y: second.value.clone(),
                },
                Curve {
                    label: "E = R + (lambda/2) mean |theta|^2".into(),
                    x: time.clone(),
                    y: series("objective")?,
                },
                Curve {
                    label: "risk R".into(),
                    x: time,
                    y: series("risk")?,
                },
            ],
        },
        &out.join("langevin_free_energy"),
    )
}

/// `langevin_gibbs`: the pooled coordinates of the zero-target run at the end and at t = 0,
/// against the Gibbs density N(0, tau / lambda).
fn draw_gibbs(out: &Path, gibbs: &GibbsFit) -> Result<()> {
    // Ten standard deviations of the Gibbs law each side: the initial a ~ N(0, 1) fits, and the
    // legend finds a corner above the tails.
    let reach = 10.0 * gibbs.expected().sqrt();
    let bins = 80;
    let step_curve = |values: &[f64]| -> (Vec<f64>, Vec<f64>) {
        let h = histogram(values, -reach, reach, bins);
        let width = h.width();
        let mut x = Vec::with_capacity(2 * bins + 2);
        let mut y = Vec::with_capacity(2 * bins + 2);
        x.push(-reach);
        y.push(0.0);
        for (b, &density) in h.density.iter().enumerate() {
            let left = -reach + b as f64 * width;
            x.extend([left, left + width]);
            y.extend([density, density]);
        }
        x.push(reach);
        y.push(0.0);
        (x, y)
    };
    let (last_x, last_y) = step_curve(&gibbs.last);
    let (initial_x, initial_y) = step_curve(&gibbs.initial);
    let grid: Vec<f64> = (0..=400)
        .map(|i| -reach + 2.0 * reach * f64::from(i) / 400.0)
        .collect();
    let variance = gibbs.expected();
    let density = grid
        .iter()
        .map(|x| (-x * x / (2.0 * variance)).exp() / (std::f64::consts::TAU * variance).sqrt())
        .collect();
    render_lines(
        &LineFigure {
            title: format!("Zero target, m = {}: law of a coordinate", gibbs.m),
            x_label: "coordinate of theta (a and w pooled)".into(),
            y_label: "density".into(),
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
            curves: vec![
                Curve {
                    label: format!("t = {}", short(gibbs.time)),
                    x: last_x,
                    y: last_y,
                },
                Curve {
                    label: format!("Gibbs N(0, {})", short(variance)),
                    x: grid,
                    y: density,
                },
                Curve {
                    label: "t = 0".into(),
                    x: initial_x,
                    y: initial_y,
                },
            ],
        },
        &out.join("langevin_gibbs"),
    )
}

/// The second initial law of the teacher run: a ~ N(0.5, 0.2^2) (all output weights of one
/// sign) and w uniform on the sphere of radius 1.5, against a ~ N(0, 1) and w ~ N(0, I/d).
const SECOND_LAW: [&str; 4] = [
    "init.a.mean=0.5",
    "init.a.std=0.2",
    "init.w.law=\"uniform_sphere\"",
    "init.w.radius=1.5",
];

/// The bias of the Kozachenko-Leonenko entropy estimate at `n` points (the teacher run's
/// snapshot size) in dimension 1 + d, measured on the zero-target run's final particles
/// (their first n rows), whose stationary law is the Gaussian N(0, s^2 I) of the confinement
/// with s^2 = tau / (lambda (1 - lambda dt / 2)) (up to corrections of order 1 / (lambda m)):
/// the estimate minus the exact entropy (D / 2) ln(2 pi e s^2).
fn entropy_bias(scenario: &Scenario, output: &RunOutput, n: usize) -> Result<f64> {
    let rows = n.min(output.last.nrows());
    let points = output.last.rows(0, rows).into_owned();
    let estimate = entropy_kozachenko_leonenko(&points)?.entropy;
    let (tau, lambda) = (scenario.dynamics.tau, scenario.dynamics.lambda);
    let variance = tau / (lambda * (1.0 - 0.5 * lambda * scenario.dt));
    let dimension = points.ncols() as f64;
    let exact = 0.5 * dimension * (std::f64::consts::TAU * std::f64::consts::E * variance).ln();
    Ok(estimate - exact)
}

/// The free energy reached from two initial laws: the means of F over the last half agree
/// within the noise of one value of F (each mean is no noisier than one value; the entropy
/// estimator's bias is the same in both, same n, dimension and law, and cancels).
fn report_two_laws(
    first: &FreeEnergy,
    second: &FreeEnergy,
    entropy_bias: f64,
    numbers: &mut Map<String, Value>,
    checks: &mut Vec<Check>,
) {
    let difference = second.late_mean - first.late_mean;
    let sigma = first.sigma.max(second.sigma);
    let tolerance = Z * std::f64::consts::SQRT_2 * sigma;
    let initial_gap = second.value[0] - first.value[0];
    for (key, value) in [
        ("free_energy_late_mean", first.late_mean),
        ("free_energy_late_mean_second_law", second.late_mean),
        ("free_energy_initial_second_law", second.value[0]),
        ("free_energy_late_difference", difference),
        ("free_energy_late_tolerance", tolerance),
        ("entropy_estimator_bias_gaussian", entropy_bias),
        ("free_energy_entropy_bias_term", -first.tau * entropy_bias),
    ] {
        numbers.insert(key.into(), json!(rounded(value, 4)));
    }
    checks.push(Check::new(
        format!(
            "two initial laws reach the same free energy: the means of F over the last half \
             differ by less than {Z} sqrt(2) sigma_F"
        ),
        difference.abs() <= tolerance,
        format!(
            "F from {:.5} and {:.5} (initial gap {initial_gap:.2e}) to {:.5} and {:.5}: \
             difference {difference:.2e}, tolerance {tolerance:.2e}",
            first.value[0], second.value[0], first.late_mean, second.late_mean
        ),
    ));
}

/// Time between two evaluations of the Stein identities.
const STEIN_INTERVAL: f64 = 0.5;

/// The Stein identities' replicas at the entry's sizes, with their width and final time.
struct SteinRun {
    replicas: stein::Replicas,
    m: usize,
    t_end: f64,
}

fn stein_replicas(ctx: &Context<'_>, entry: &Entry, sizes: &Sizes) -> Result<SteinRun> {
    let overrides = vec![
        format!("model.m={}", sizes.stein_m),
        format!("dynamics.t_end={:?}", sizes.stein_t_end),
    ];
    let load = |extra: &[String]| ctx.scenario(entry.scenario, extra);
    let replicas = stein::run_replicas(
        &load,
        &overrides,
        &overrides,
        sizes.stein_seeds,
        STEIN_INTERVAL,
        (0.5, 1.0),
    )?;
    Ok(SteinRun {
        replicas,
        m: sizes.stein_m,
        t_end: sizes.stein_t_end,
    })
}

fn report_stein(run: &SteinRun, numbers: &mut Map<String, Value>) {
    let measured = &run.replicas.measured;
    let (virial, virial_error) = measured.virial();
    let (force, force_error) = measured.force();
    let (discretisation, drift) = measured.corrections();
    numbers.insert("stein_m".into(), json!(run.m));
    numbers.insert("stein_replicas".into(), json!(measured.replicas.len()));
    numbers.insert("stein_t_end".into(), json!(run.t_end));
    for (key, value) in [
        ("stein_virial", virial),
        ("stein_virial_standard_error", virial_error),
        ("stein_virial_euler_maruyama_term", discretisation),
        ("stein_a_square_drift", drift),
        ("stein_force", force),
        ("stein_force_standard_error", force_error),
    ] {
        numbers.insert(key.into(), json!(rounded(value, 4)));
    }
}

/// `langevin_stein`: the virial and force sums against time, mean over the replicas, with the
/// temperature they must settle at.
fn draw_stein(out: &Path, run: &SteinRun) -> Result<Vec<String>> {
    let samples = &run.replicas.samples;
    let count = samples.len().max(1) as f64;
    let rows = samples.iter().map(Vec::len).min().unwrap_or(0);
    let time: Vec<f64> = (0..rows).map(|r| samples[0][r].time).collect();
    let mean = |pick: &dyn Fn(&stein::Sample) -> f64| -> Vec<f64> {
        (0..rows)
            .map(|r| samples.iter().map(|s| pick(&s[r])).sum::<f64>() / count)
            .collect()
    };
    let tau = run.replicas.measured.tau;
    render_lines(
        &LineFigure {
            title: format!(
                "Stein identities, m = {}, mean of {} replicas",
                run.m,
                samples.len()
            ),
            x_label: "time t".into(),
            y_label: "sum over the particles".into(),
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
            curves: vec![
                Curve {
                    label: "virial E_x[f (f - f*)] + lambda mean a^2".into(),
                    x: time.clone(),
                    y: mean(&|s| s.sums.virial - s.discretisation),
                },
                Curve {
                    label: format!("tau = {tau}"),
                    x: vec![0.0, run.t_end],
                    y: vec![tau, tau],
                },
                Curve {
                    label: "force mean_j (E_x[(f - f*) sigma_j] + lambda a_j)".into(),
                    x: time,
                    y: mean(&|s| s.sums.force),
                },
            ],
        },
        &out.join("langevin_stein"),
    )?;
    Ok(vec![
        "langevin_stein.png".into(),
        "langevin_stein.svg".into(),
    ])
}

/// A number with at most 4 decimals and no trailing zeros (0.1 for 0.09999999999999999).
fn short(value: f64) -> String {
    let text = format!("{value:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn the_shipped_sizes_read_and_quick_is_smaller() {
        let quick: Sizes = crate::gallery::context::shipped_sizes("langevin", true).unwrap();
        let full: Sizes = crate::gallery::context::shipped_sizes("langevin", false).unwrap();
        assert!(quick.teacher_m <= full.teacher_m && quick.zero_m <= full.zero_m);
        assert!(quick.t_end <= full.t_end);
        assert!(quick.stein_m <= full.stein_m && quick.stein_seeds <= full.stein_seeds);
        assert!(quick.stein_t_end <= full.stein_t_end);
    }
}
