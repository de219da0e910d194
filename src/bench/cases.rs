//! `meanfield bench`: one step (drift evaluation + Euler update) of the four standard cases of
//! `benches/peers/README.md`, timed like the NumPy / JAX / PyTorch peers of `peer_step.py`:
//! relu (another activation, for student and teacher alike, with `bench --activation`:
//! [`BenchCase::with_activation`]), alpha = 1, dt = 0.01, a teacher of k = 4 orthonormal neurons
//! with a*_i = 1, particles a ~ N(0, 1), w ~ N(0, I/d), seed 0; every timed step starts from the
//! same state (on a GPU, which holds the particles between steps as the peers' tensors stay
//! there, a step is the difference of two runs from that state: [`HELD_STEPS`]).
//!
//! Before timing, the optimised gradient of the case is compared with the plain reference of
//! [`super::reference`] on [`check_rows`] rows ([`self_check`]); a deviation beyond
//! [`CHECK_TOLERANCE`] stops the benchmark with [`Error::SelfCheck`].

use std::time::{Duration, Instant};

use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

use super::reference::{
    CHECK_TOLERANCE, check_rows, compare_rows, data_gradient_rows, population_gradient_rows,
};
use super::scaling::peak_resident_bytes;

use crate::device::{Device, Precision};
use crate::dynamics::{Control, Dynamics, Integrator, Observation, Observer, Schedule, Simulation};
use crate::error::{Error, Result};
use crate::math::expansion::{Expansion, TOLERANCE as EXPANSION_TOLERANCE};
use crate::math::{Activation, InitLaw, Network, Particles};
use crate::random::Purpose;
use crate::task::{
    DataSet, Directions, EmpiricalRisk, InputLaw, OutputWeights, PopulationRisk, RiskMode, Teacher,
    TeacherSpec,
};

/// One of the standard cases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BenchCase {
    /// `data1`, `data2`, `pop1` or `pop2`.
    pub name: &'static str,
    /// Samples n (data modes), or None (population).
    pub n: Option<usize>,
    /// Input dimension.
    pub d: usize,
    /// Width.
    pub m: usize,
    /// The activation of the student and the teacher (relu in the standard cases;
    /// `bench --activation`).
    pub activation: Activation,
}

/// The four standard cases.
pub const CASES: [BenchCase; 4] = [
    BenchCase {
        name: "data1",
        n: Some(4096),
        d: 32,
        m: 4096,
        activation: Activation::Relu,
    },
    BenchCase {
        name: "data2",
        n: Some(1024),
        d: 100,
        m: 16384,
        activation: Activation::Relu,
    },
    BenchCase {
        name: "pop1",
        n: None,
        d: 32,
        m: 4096,
        activation: Activation::Relu,
    },
    BenchCase {
        name: "pop2",
        n: None,
        d: 32,
        m: 16384,
        activation: Activation::Relu,
    },
];

/// Teacher neurons in every case.
pub const TEACHER_K: usize = 4;

impl BenchCase {
    /// Looks a case up by name.
    pub fn named(name: &str) -> Result<Self> {
        CASES
            .into_iter()
            .find(|c| c.name == name)
            .ok_or_else(|| Error::invalid("--case", name, "one of data1, data2, pop1, pop2, all"))
    }

    /// A case of other sizes, named `custom`: data mode with `n` samples, population mode
    /// without; relu (another activation with [`BenchCase::with_activation`]).
    pub fn custom(n: Option<usize>, d: usize, m: usize) -> Self {
        Self {
            name: "custom",
            n,
            d,
            m,
            activation: Activation::Relu,
        }
    }

    /// The same case with another activation (`bench --activation`).
    ///
    /// ```
    /// # use meanfield::bench::BenchCase;
    /// # use meanfield::math::Activation;
    /// let case = BenchCase::named("pop1")?.with_activation(Activation::Tanh);
    /// assert_eq!((case.name, case.m, case.activation), ("pop1", 4096, Activation::Tanh));
    /// # Ok::<(), meanfield::Error>(())
    /// ```
    pub fn with_activation(self, activation: Activation) -> Self {
        Self { activation, ..self }
    }

    /// Parses `m=M[,n=N][,d=D]` (any order; d defaults to 32; with n, data mode) into a
    /// [`BenchCase::custom`].
    ///
    /// ```
    /// # use meanfield::bench::BenchCase;
    /// let case = BenchCase::parse_size("m=4096,n=1024")?;
    /// assert_eq!((case.m, case.n, case.d), (4096, Some(1024), 32));
    /// assert_eq!(case.size_spec(), "m=4096,n=1024,d=32");
    /// assert!(BenchCase::parse_size("n=10").is_err());
    /// # Ok::<(), meanfield::Error>(())
    /// ```
    pub fn parse_size(text: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(
                "--size",
                text,
                "m=M[,n=N][,d=D] with positive integers (n: data mode; d defaults to 32)",
            )
        };
        let (mut m, mut n, mut d) = (None, None, 32);
        for part in text.split(',') {
            let (key, value) = part.split_once('=').ok_or_else(bad)?;
            let value: usize = value.trim().parse().map_err(|_| bad())?;
            if value == 0 {
                return Err(bad());
            }
            match key.trim() {
                "m" => m = Some(value),
                "n" => n = Some(value),
                "d" => d = value,
                _ => return Err(bad()),
            }
        }
        Ok(Self::custom(n, d, m.ok_or_else(bad)?))
    }

    /// The sizes as [`BenchCase::parse_size`] reads them: `m=M[,n=N],d=D`.
    pub fn size_spec(&self) -> String {
        match self.n {
            Some(n) => format!("m={},n={n},d={}", self.m, self.d),
            None => format!("m={},d={}", self.m, self.d),
        }
    }

    /// The case with m and n divided by 4 (`--quick`: a smoke run, not a comparison), for
    /// every activation (tanh, sigmoid and softplus run the Mehler expansion of
    /// `math::expansion` in population mode, no longer a quadrature per pair).
    ///
    /// ```
    /// # use meanfield::bench::BenchCase;
    /// # use meanfield::math::Activation;
    /// let pop1 = BenchCase::named("pop1")?;
    /// assert_eq!(pop1.quick().m, 1024);
    /// assert_eq!(pop1.with_activation(Activation::Tanh).quick().m, 1024);
    /// let data1 = BenchCase::named("data1")?.with_activation(Activation::Tanh);
    /// assert_eq!((data1.quick().m, data1.quick().n), (1024, Some(1024)));
    /// # Ok::<(), meanfield::Error>(())
    /// ```
    pub fn quick(self) -> Self {
        Self {
            n: self.n.map(|n| n / 4),
            m: self.m / 4,
            ..self
        }
    }

    /// Nominal flops of one step: 4 n m d (data) or 4 m^2 d (population).
    pub fn nominal_flops(&self) -> f64 {
        let (m, d) = (self.m as f64, self.d as f64);
        match self.n {
            Some(n) => 4.0 * n as f64 * m * d,
            None => 4.0 * m * m * d,
        }
    }
}

/// Where a case runs: the CPU (default) or the GPU backend (`bench --device cuda`: the fused
/// population kernel, or cuBLAS and the kernels of `gpu::data` for the data cases), in
/// float64 or float32.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backend {
    /// The device of the risk and gradient.
    pub device: Device,
    /// The precision of the GPU kernels.
    pub precision: Precision,
}

/// The self-check's tolerance for the float32 GPU kernel: its sums of m terms carry a
/// relative rounding error of about sqrt(m) eps_32 (3e-5 at m = 2^18) and at worst m eps_32;
/// 1e-3 admits the first at every width the benchmark runs and still catches a wrong term.
pub const CHECK_TOLERANCE_F32: f64 = 1e-3;

impl Backend {
    /// The self-check tolerance: [`CHECK_TOLERANCE`] in float64, [`CHECK_TOLERANCE_F32`].
    pub fn check_tolerance(&self) -> f64 {
        match self.precision {
            Precision::F64 => CHECK_TOLERANCE,
            Precision::F32 => CHECK_TOLERANCE_F32,
        }
    }

    /// `cpu`, `cpu-f32`, `cuda` or `cuda-f32`, as in the JSON line.
    pub fn label(&self) -> String {
        match (self.device, self.precision) {
            (Device::Cpu, Precision::F64) => "cpu".into(),
            (Device::Cpu, Precision::F32) => "cpu-f32".into(),
            (Device::Cuda, Precision::F64) => "cuda".into(),
            (Device::Cuda, Precision::F32) => "cuda-f32".into(),
        }
    }
}

/// How many steps are timed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Repetitions {
    /// Timed steps, at most (at least 1 is always timed).
    pub max: usize,
    /// No further step is started once the timed steps add up to this much (None: no limit).
    pub budget: Option<Duration>,
}

impl Repetitions {
    /// Exactly `count` timed steps (at least 1).
    pub fn fixed(count: usize) -> Self {
        Self {
            max: count.max(1),
            budget: None,
        }
    }

    /// Up to `max` timed steps, fewer once they add up to `budget`.
    pub fn adaptive(max: usize, budget: Duration) -> Self {
        Self {
            max: max.max(1),
            budget: Some(budget),
        }
    }
}

/// One JSON line of `bench --json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchRecord {
    /// Case name (for `--size`, the sizes `m=..,n=..,d=..`).
    pub case: String,
    /// `data` or `population`.
    pub mode: String,
    /// Samples (null in population mode).
    pub n: Option<usize>,
    /// Input dimension.
    pub d: usize,
    /// Width.
    pub m: usize,
    /// Teacher neurons.
    pub k: usize,
    /// The activation of the student and the teacher (`relu` in the standard cases; absent
    /// from records written before `bench --activation`, read as relu).
    #[serde(default = "standard_activation")]
    pub activation: Activation,
    /// Median seconds per step.
    pub s_per_step_median: f64,
    /// Minimum seconds per step.
    pub s_per_step_min: f64,
    /// Maximum seconds per step.
    pub s_per_step_max: f64,
    /// Timed steps.
    pub reps: usize,
    /// Nominal flops / median time, in GFLOP/s.
    pub gflops: f64,
    /// Rayon threads.
    pub threads: usize,
    /// Whether sizes were divided by 4.
    pub quick: bool,
    /// Largest |g - g_ref| / (max |g_ref| of the column over the checked rows) of the self-check
    /// (at most [`CHECK_TOLERANCE`], or the benchmark fails).
    pub check_max_rel_error: f64,
    /// Peak resident memory of the process (VmHWM) after the case, in bytes; only with
    /// `--size`, where one process times one case, and only on Linux.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
    /// The float64 GEMM rate of this machine on the same threads, in GFLOP/s, measured just
    /// before the case ([`super::bound::gemm_gflops`]); only for the named cases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_gflops: Option<f64>,
    /// `gflops / bound_gflops`: the fraction of the matrix-product bound the step reaches
    /// (4 n m d or 4 m^2 d flops at the GEMM rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_fraction: Option<f64>,
    /// `cpu-f32`, `cuda` or `cuda-f32`: the backend, where not the CPU in float64 (absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// The activation of the standard cases, and of records that name none.
fn standard_activation() -> Activation {
    Activation::Relu
}

/// Parses `--activation NAME` (one of [`Activation::ALL`]).
///
/// # Errors
/// [`Error::Invalid`] naming the allowed activations.
///
/// ```
/// # use meanfield::bench::parse_activation;
/// # use meanfield::math::Activation;
/// assert_eq!(parse_activation("tanh")?, Activation::Tanh);
/// let message = parse_activation("gelu").unwrap_err().to_string();
/// assert!(message.contains("relu, erf, tanh, sigmoid, softplus, linear, quadratic"));
/// # Ok::<(), meanfield::Error>(())
/// ```
pub fn parse_activation(name: &str) -> Result<Activation> {
    Activation::parse(name).ok_or_else(|| {
        let names: Vec<&str> = Activation::ALL.iter().map(|a| a.name()).collect();
        Error::invalid("--activation", name, format!("one of {}", names.join(", ")))
    })
}

/// A benchmark problem: the simulation, the teacher and the initial particles.
struct Problem {
    simulation: Simulation,
    teacher: Teacher,
    theta: DMatrix<f64>,
}

/// The problem of `sized` (sizes as they will be timed) on `backend`.
fn problem(sized: &BenchCase, backend: Backend) -> Result<Problem> {
    let (m, d, activation) = (sized.m, sized.d, sized.activation);
    let network = Network::new(activation, 1.0)?;
    let particles = Particles::draw(m, d, &InitLaw::standard(d), 0)?;
    let spec = TeacherSpec {
        k: TEACHER_K,
        directions: Directions::Orthonormal,
        norm: 1.0,
        a: OutputWeights::Constant(1.0),
    };
    let teacher = Teacher::generate(&spec, d, d, activation, 0.0, 0)?;
    let risk = match sized.n {
        Some(n) => {
            let law = InputLaw::standard(d, false);
            let data = DataSet::generate(n, law, &teacher, 0, Purpose::Data, 0)?;
            RiskMode::Empirical(Box::new(EmpiricalRisk::new(data, None)))
        }
        None => RiskMode::Population(Box::new(PopulationRisk::new(activation, teacher.clone())?)),
    };
    let device =
        crate::backend::for_device(backend.device, backend.precision, &risk, activation, d)?;
    let simulation = Simulation::new(
        network,
        Dynamics::default(),
        risk,
        Integrator::Euler,
        0.01,
        0,
    )?
    .with_backend(device);
    Ok(Problem {
        simulation,
        teacher,
        theta: particles.into_matrix(),
    })
}

/// The self-check of a benchmark: dR/dtheta from `simulation` ([`Simulation::evaluate`],
/// the path every step takes) against the plain reference on [`check_rows`] rows, with
/// [`compare_rows`] and [`CHECK_TOLERANCE`]. Returns the largest relative deviation.
///
/// The reference rows are computed first (their working copies of W freed) and the optimised
/// gradient afterwards, before the timing loop clones the particles, so that the check holds
/// no more memory than a step does.
///
/// # Errors
/// [`Error::SelfCheck`] naming `case`, the row, the column and both values when the tolerance
/// is exceeded; [`Error::Invalid`] for the online mode (its batch changes with the step) or
/// mismatched dimensions.
pub fn self_check(
    case: &str,
    simulation: &mut Simulation,
    teacher: &Teacher,
    theta: &DMatrix<f64>,
) -> Result<f64> {
    self_check_within(case, simulation, teacher, theta, CHECK_TOLERANCE)
}

/// [`self_check`] with another tolerance (the float32 GPU kernel: [`CHECK_TOLERANCE_F32`]).
///
/// # Errors
/// As [`self_check`].
pub fn self_check_within(
    case: &str,
    simulation: &mut Simulation,
    teacher: &Teacher,
    theta: &DMatrix<f64>,
    tolerance: f64,
) -> Result<f64> {
    let rows = check_rows(theta.nrows());
    let network = simulation.network;
    // The population pass of tanh, sigmoid and softplus uses the Mehler expansion, certified
    // to its normalised tolerance (`math::expansion`), against the reference's quadrature.
    let tolerance = match &simulation.risk {
        RiskMode::Population(_) if Expansion::new(network.activation).is_some() => {
            tolerance.max(EXPANSION_TOLERANCE)
        }
        _ => tolerance,
    };
    let reference = match &simulation.risk {
        RiskMode::Population(_) => population_gradient_rows(&network, teacher, theta, &rows)?,
        RiskMode::Empirical(empirical) => {
            data_gradient_rows(&network, empirical.train(), theta, &rows)?
        }
        RiskMode::Online(_) => {
            return Err(Error::invalid(
                "self-check risk mode",
                "online",
                "population or empirical",
            ));
        }
    };
    let mut gradient = DMatrix::zeros(theta.nrows(), theta.ncols());
    simulation.evaluate(theta, Some(&mut gradient))?;
    compare_rows(case, &gradient, &reference, &rows, tolerance)
}

/// A warm-up step is skipped when the self-check's gradient evaluation, which fills the same
/// buffers of the risk, took at least this long: the first step's remaining allocations are
/// then negligible against it (population mode at m >= 30,000 or so).
const WARM_UP_SKIP: Duration = Duration::from_secs(2);

/// Steps of the longer of the two runs whose difference times one step on a device that
/// holds the particles (`held_step_seconds`).
pub const HELD_STEPS: u64 = 8;

/// An observer that keeps nothing (the timed runs of a device backend).
struct Quiet;

impl Observer for Quiet {
    fn observe(&mut self, _observation: &Observation<'_>) -> Result<()> {
        Ok(())
    }
}

/// One step on a device that holds the particles between steps, as a peer that keeps its
/// tensors on the GPU takes it: `Simulation::run` of 1 and of 1 + [`HELD_STEPS`] steps from
/// `initial`, observed only at their ends; the difference over [`HELD_STEPS`] cancels the
/// upload, the downloads and the final evaluation that both runs pay.
fn held_step_seconds(
    simulation: &mut Simulation,
    initial: &DMatrix<f64>,
    theta: &mut DMatrix<f64>,
) -> Result<f64> {
    let mut timed_run = |steps: u64| -> Result<f64> {
        theta.copy_from(initial);
        let start = Instant::now();
        simulation.run(
            theta,
            0,
            steps,
            Schedule::Every(0),
            &mut Quiet,
            &mut |_, _| Control::Continue,
        )?;
        Ok(start.elapsed().as_secs_f64())
    };
    let short = timed_run(1)?;
    let long = timed_run(1 + HELD_STEPS)?;
    Ok(((long - short) / HELD_STEPS as f64).max(0.0))
}

/// Checks, then times `repetitions` steps of `sized` (see the module documentation).
fn measure(
    label: &str,
    sized: BenchCase,
    repetitions: Repetitions,
    quick: bool,
    backend: Backend,
) -> Result<BenchRecord> {
    let Problem {
        mut simulation,
        teacher,
        theta: initial,
    } = problem(&sized, backend)?;
    let check_start = Instant::now();
    let check_max_rel_error = self_check_within(
        label,
        &mut simulation,
        &teacher,
        &initial,
        backend.check_tolerance(),
    )?;
    let check_seconds = check_start.elapsed();
    let mut theta = initial.clone();
    if check_seconds < WARM_UP_SKIP {
        simulation.step(&mut theta, 0)?;
    }
    let mut times = Vec::with_capacity(repetitions.max);
    let mut total = Duration::ZERO;
    let held = backend.device != Device::Cpu;
    while times.len() < repetitions.max && repetitions.budget.is_none_or(|b| total < b) {
        let start = Instant::now();
        let seconds = if held {
            held_step_seconds(&mut simulation, &initial, &mut theta)?
        } else {
            theta.copy_from(&initial);
            simulation.step(&mut theta, 0)?;
            start.elapsed().as_secs_f64()
        };
        total += start.elapsed();
        times.push(seconds);
    }
    times.sort_by(f64::total_cmp);
    let median = if times.len() % 2 == 1 {
        times[times.len() / 2]
    } else {
        0.5 * (times[times.len() / 2 - 1] + times[times.len() / 2])
    };
    Ok(BenchRecord {
        case: label.into(),
        mode: if sized.n.is_some() {
            "data"
        } else {
            "population"
        }
        .into(),
        n: sized.n,
        d: sized.d,
        m: sized.m,
        k: TEACHER_K,
        activation: sized.activation,
        s_per_step_median: median,
        s_per_step_min: times[0],
        s_per_step_max: times[times.len() - 1],
        reps: times.len(),
        gflops: sized.nominal_flops() / median / 1e9,
        threads: rayon::current_num_threads(),
        quick,
        check_max_rel_error,
        peak_rss_bytes: None,
        bound_gflops: None,
        bound_fraction: None,
        device: (backend != Backend::default()).then(|| backend.label()),
    })
}

/// Measures the GEMM bound ([`super::bound::gemm_gflops`] on the current rayon threads),
/// self-checks `case`, then times `reps` steps (after one warm-up step, skipped when the
/// self-check took 2 s or more: it already ran the risk's first evaluation).
///
/// # Errors
/// [`Error::SelfCheck`] if the optimised gradient differs from the reference (nothing is
/// timed then); errors of the setup or of a step.
pub fn bench_case(case: BenchCase, reps: usize, quick: bool) -> Result<BenchRecord> {
    bench_case_on(case, reps, quick, Backend::default())
}

/// [`bench_case`] on `backend`. On the GPU the CPU's GEMM bound is not measured (it is not
/// the GPU's bound), and the self-check tolerance is [`Backend::check_tolerance`].
///
/// # Errors
/// As [`bench_case`]; [`Error::Device`] when the GPU is not available.
pub fn bench_case_on(
    case: BenchCase,
    reps: usize,
    quick: bool,
    backend: Backend,
) -> Result<BenchRecord> {
    let sized = if quick { case.quick() } else { case };
    let bound = (backend == Backend::default())
        .then(|| super::bound::gemm_gflops(rayon::current_num_threads()));
    let mut record = measure(case.name, sized, Repetitions::fixed(reps), quick, backend)?;
    record.bound_gflops = bound;
    record.bound_fraction = bound.map(|b| record.gflops / b);
    Ok(record)
}

/// Self-checks and times one case of any sizes (`bench --size`, one process per point of
/// `bench --scaling`), and records the process's peak resident memory afterwards. The record's
/// `case` is [`BenchCase::size_spec`].
///
/// # Errors
/// As [`bench_case`].
pub fn bench_size(case: BenchCase, repetitions: Repetitions) -> Result<BenchRecord> {
    bench_size_on(case, repetitions, Backend::default())
}

/// [`bench_size`] on `backend` (`bench --size m=262144 --device cuda`).
///
/// # Errors
/// As [`bench_case_on`].
pub fn bench_size_on(
    case: BenchCase,
    repetitions: Repetitions,
    backend: Backend,
) -> Result<BenchRecord> {
    let mut record = measure(&case.size_spec(), case, repetitions, false, backend)?;
    record.peak_rss_bytes = peak_resident_bytes();
    Ok(record)
}
