//! `meanfield bench`: one step (drift evaluation + Euler update) of the four standard cases of
//! `shared/bench/README.md`, timed like the NumPy / JAX / PyTorch peers of `peer_step.py`:
//! relu, alpha = 1, dt = 0.01, a teacher of k = 4 orthonormal neurons with a*_i = 1,
//! particles a ~ N(0, 1), w ~ N(0, I/d), seed 0; every timed step starts from the same state.

use std::time::Instant;

use serde::Serialize;

use crate::dynamics::{Dynamics, Integrator, Simulation};
use crate::error::{Error, Result};
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
}

/// The four standard cases.
pub const CASES: [BenchCase; 4] = [
    BenchCase {
        name: "data1",
        n: Some(4096),
        d: 32,
        m: 4096,
    },
    BenchCase {
        name: "data2",
        n: Some(1024),
        d: 100,
        m: 16384,
    },
    BenchCase {
        name: "pop1",
        n: None,
        d: 32,
        m: 4096,
    },
    BenchCase {
        name: "pop2",
        n: None,
        d: 32,
        m: 16384,
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

    /// The case with m and n divided by 4 (`--quick`: a smoke run, not a comparison).
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

/// One JSON line of `bench --json`.
#[derive(Clone, Debug, Serialize)]
pub struct BenchRecord {
    /// Case name.
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
    /// Median seconds per step.
    pub s_per_step_median: f64,
    /// Minimum seconds per step.
    pub s_per_step_min: f64,
    /// Timed steps.
    pub reps: usize,
    /// Nominal flops / median time, in GFLOP/s.
    pub gflops: f64,
    /// Rayon threads.
    pub threads: usize,
    /// Whether sizes were divided by 4.
    pub quick: bool,
}

/// Times `reps` steps (after one warm-up step) of `case`.
pub fn bench_case(case: BenchCase, reps: usize, quick: bool) -> Result<BenchRecord> {
    let sized = if quick { case.quick() } else { case };
    let (m, d) = (sized.m, sized.d);
    let activation = Activation::Relu;
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
            let law = InputLaw { d, bias: false };
            let data = DataSet::generate(n, law, &teacher, 0, Purpose::Data, 0)?;
            RiskMode::Empirical(Box::new(EmpiricalRisk::new(data, None)))
        }
        None => RiskMode::Population(Box::new(PopulationRisk::new(activation, teacher)?)),
    };
    let mut simulation = Simulation::new(
        network,
        Dynamics::default(),
        risk,
        Integrator::Euler,
        0.01,
        0,
    )?;
    let initial = particles.into_matrix();
    let mut theta = initial.clone();
    simulation.step(&mut theta, 0)?;
    let mut times = Vec::with_capacity(reps.max(1));
    for _ in 0..reps.max(1) {
        theta.copy_from(&initial);
        let start = Instant::now();
        simulation.step(&mut theta, 0)?;
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = if times.len() % 2 == 1 {
        times[times.len() / 2]
    } else {
        0.5 * (times[times.len() / 2 - 1] + times[times.len() / 2])
    };
    Ok(BenchRecord {
        case: case.name.into(),
        mode: if sized.n.is_some() {
            "data"
        } else {
            "population"
        }
        .into(),
        n: sized.n,
        d,
        m,
        k: TEACHER_K,
        s_per_step_median: median,
        s_per_step_min: times[0],
        reps: times.len(),
        gflops: sized.nominal_flops() / median / 1e9,
        threads: rayon::current_num_threads(),
        quick,
    })
}
