//! The data modes on the GPU backend (cargo feature `cuda`, `src/gpu/data.rs`, `plan.rs`,
//! `data.cu`; docs/math.md section 4).
//!
//! Without a GPU (CI): the plan of products and passes, executed on the host, gives the CPU's
//! `data_risk`; the three kernels of `data.cu`, compiled for the CPU and run inside that plan,
//! give the host's passes; a data-mode scenario on `device = "cuda"` is accepted for every
//! activation and gets the GPU or a clear error. On the GPU machine
//! (`cargo test --release --features cuda --test gpu_data -- --ignored`): cuBLAS and the
//! kernels against the CPU, online and empirical, float64 and float32.
#![cfg(feature = "cuda")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

#[path = "gpu_emulation/compile.rs"]
mod compile;
#[path = "gpu_emulation/held_run.rs"]
mod held_run;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use held_run::{assert_same_run, run_scenario};
use meanfield::device::{Device, Precision};
use meanfield::dynamics::integrator::{At, StageOps};
use meanfield::dynamics::{Dynamics, Flow, Host, Integrator, Stepper, Train};
use meanfield::gpu::data::{CudaData, Slot, THREADS, compile_data, data_compile_options};
use meanfield::gpu::driver_present;
use meanfield::gpu::plan::{DataPlan, HostKernels, Passes, run_on_host, run_with};
use meanfield::math::{Activation, InitLaw, Network, Particles};
use meanfield::scenario::Scenario;
use meanfield::task::{DataScratch, data_risk};
use meanfield::task::{
    DataSet, Directions, EmpiricalRisk, InputLaw, OutputWeights, RiskMode, Teacher, TeacherSpec,
};
use nalgebra::DMatrix;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// The repository root: `MEANFIELD_ROOT` when set (the test binary carried to the GPU machine
/// runs in another checkout), else the crate's own folder.
fn root() -> PathBuf {
    std::env::var_os("MEANFIELD_ROOT").map_or_else(|| MANIFEST_DIR.into(), Into::into)
}

/// n samples in dimension d labelled by a teacher of 3 neurons of `activation`.
fn data_set(activation: Activation, d: usize, n: usize) -> DataSet {
    let spec = TeacherSpec {
        k: 3,
        directions: Directions::Orthonormal,
        norm: 1.0,
        a: OutputWeights::Constant(1.0),
    };
    let teacher = Teacher::generate(&spec, d, d, activation, 0.1, 3).unwrap();
    let law = InputLaw::standard(d, false);
    DataSet::generate(n, law, &teacher, 4, meanfield::random::Purpose::Data, 0).unwrap()
}

/// m particles in dimension d, one of them at w = 0 (every pre-activation exactly 0: relu's
/// slope convention relu'(0) = 0 on both sides).
fn particles(m: usize, d: usize) -> DMatrix<f64> {
    let mut theta = Particles::draw(m, d, &InitLaw::standard(d), 5)
        .unwrap()
        .into_matrix();
    theta.row_mut(1).columns_mut(1, d).fill(0.0);
    theta
}

/// The largest |found - expected| of each column, relative to the column's largest
/// |expected|, over the columns.
fn column_deviation(found: &[f64], expected: &[f64], rows: usize) -> f64 {
    assert_eq!(found.len(), expected.len());
    found
        .chunks(rows)
        .zip(expected.chunks(rows))
        .map(|(f, e)| {
            let scale = e.iter().fold(0.0_f64, |s, x| s.max(x.abs()));
            let diff = f
                .iter()
                .zip(e)
                .fold(0.0_f64, |s, (f, e)| s.max((f - e).abs()));
            if scale == 0.0 { diff } else { diff / scale }
        })
        .fold(0.0, f64::max)
}

/// The plan (blocks of `block` samples) run with `passes` on the host, against the CPU's
/// `data_risk`: (risk's relative deviation, gradient's column deviation).
fn plan_deviation(
    passes: &mut impl Passes,
    network: &Network,
    theta: &DMatrix<f64>,
    data: &DataSet,
    block: usize,
) -> (f64, f64) {
    let (m, d, n) = (theta.nrows(), theta.ncols() - 1, data.n());
    let mut expected = DMatrix::zeros(m, 1 + d);
    let risk = data_risk(
        network,
        theta,
        data,
        &mut DataScratch::default(),
        Some(&mut expected),
    )
    .unwrap();
    let plan = DataPlan::new(m, d, n, block, true);
    let (a, w) = theta.as_slice().split_at(m);
    let (found_risk, found_grad) = run_with(
        &plan,
        passes,
        network.output_scale(m),
        a,
        w,
        data.inputs().as_slice(),
        data.labels(),
    );
    (
        (found_risk - risk).abs() / risk,
        column_deviation(&found_grad.unwrap(), expected.as_slice(), m),
    )
}

#[test]
fn the_plan_executed_on_the_host_gives_the_cpu_data_risk() {
    // Every activation, m = 300 (not a multiple of the kernels' 256 threads), blocks that
    // divide n = 37 (37: one block), do not (8: a partial last block) and single samples. Both
    // sides sum the same n m = 11,100 products of O(1) factors in other orders: the worst case
    // n m eps = 2.5e-12 relative to the sum of |terms|, so 1e-11 leaves room for a factor 4 of
    // cancellation and still fails on any wrong term (O(1/m) = 3e-3 at least).
    let (m, d, n) = (300, 5, 37);
    let theta = particles(m, d);
    for activation in Activation::ALL {
        let network = Network::new(activation, 1.0).unwrap();
        let data = data_set(activation, d, n);
        for block in [n, 8, 1] {
            let (risk, grad) =
                plan_deviation(&mut HostKernels(activation), &network, &theta, &data, block);
            assert!(
                risk <= 1e-11 && grad <= 1e-11,
                "{activation} block {block}: risk {risk:e}, gradient {grad:e}"
            );
        }
        // Without the gradient the plan has only the forward passes, and the same risk.
        let plan = DataPlan::new(m, d, n, 8, false);
        let (a, w) = theta.as_slice().split_at(m);
        let x = data.inputs().as_slice();
        let scale = network.output_scale(m);
        let (value, none) = run_on_host(&plan, activation, scale, a, w, x, data.labels());
        let (with_grad, _) = run_on_host(
            &DataPlan::new(m, d, n, 8, true),
            activation,
            scale,
            a,
            w,
            x,
            data.labels(),
        );
        assert!(none.is_none());
        assert_eq!(value.to_bits(), with_grad.to_bits(), "{activation}");
    }
}

// ---------------------------------------------------------------------------------------
// The kernels on the CPU (tests/gpu_emulation/data_harness.cpp), inside the plan.
// ---------------------------------------------------------------------------------------

/// `data.cu` compiled for the CPU, one process per kernel launch.
struct Emulated {
    exe: PathBuf,
}

impl Emulated {
    /// Runs kernel `kernel` with the header fields and the arrays, returns its output arrays.
    #[allow(clippy::too_many_arguments, reason = "the harness's protocol")]
    fn launch(
        &self,
        kernel: i64,
        m: usize,
        count: usize,
        first: usize,
        accumulate: bool,
        d: usize,
        n: usize,
        scalar: f64,
        arrays: &[&[f64]],
    ) -> Vec<f64> {
        let mut input: Vec<u8> = Vec::new();
        for x in [
            kernel,
            m as i64,
            count as i64,
            first as i64,
            i64::from(accumulate),
            d as i64,
            n as i64,
        ] {
            input.extend(x.to_le_bytes());
        }
        input.extend(scalar.to_le_bytes());
        for x in arrays.iter().flat_map(|a| a.iter()) {
            input.extend(x.to_le_bytes());
        }
        let mut child = Command::new(&self.exe)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&input).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{:?}: {:?}",
            self.exe,
            output.status
        );
        output
            .stdout
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect()
    }
}

impl Passes for Emulated {
    fn forward(
        &mut self,
        scale: f64,
        a: &[f64],
        z: &[f64],
        y: &[f64],
        first: usize,
        count: usize,
        r: &mut [f64],
    ) {
        let (m, n) = (a.len(), y.len());
        let out = self.launch(0, m, count, first, false, 0, n, scale, &[a, z, y, r]);
        r.copy_from_slice(&out);
    }

    fn backward(
        &mut self,
        z: &mut [f64],
        r: &[f64],
        first: usize,
        count: usize,
        accumulate: bool,
        grad_a: &mut [f64],
    ) {
        let (m, n) = (grad_a.len(), r.len());
        let out = self.launch(1, m, count, first, accumulate, 0, n, 0.0, &[z, r, grad_a]);
        let (z_out, grad_out) = out.split_at(z.len());
        z.copy_from_slice(z_out);
        grad_a.copy_from_slice(grad_out);
    }

    fn gradient(&mut self, factor: f64, a: &[f64], grad_a: &[f64], g: &[f64], grad: &mut [f64]) {
        let m = a.len();
        let d = g.len() / m;
        let out = self.launch(2, m, 0, 0, false, d, 0, factor, &[a, grad_a, g]);
        grad.copy_from_slice(&out);
    }
}

/// Compiles the data harness for every activation in `precision`, in parallel; None where no
/// C++ compiler is installed.
fn emulated_kernels(precision: Precision) -> Option<Vec<(Activation, PathBuf)>> {
    std::thread::scope(|scope| {
        let jobs: Vec<_> = Activation::ALL
            .into_iter()
            .map(|activation| {
                scope.spawn(move || {
                    let mut options = data_compile_options(activation, precision, None).options;
                    options.push(format!("-DTHREADS={THREADS}"));
                    let name = format!("data-harness-{activation}-{precision}");
                    compile::compile_harness("data_harness.cpp", &options, &name)
                        .map(|exe| (activation, exe))
                })
            })
            .collect();
        jobs.into_iter().map(|job| job.join().unwrap()).collect()
    })
}

#[test]
fn the_data_kernels_run_on_the_cpu_give_the_host_passes() {
    // The kernels of data.cu as written (the REDUCE = 256 thread tree of data_forward, the
    // per-particle grids of 256 threads) inside the plan, every activation: m = 300 (two
    // blocks of particles, the last partial; threads 0..43 of the reduction sum two terms)
    // and m = 100 (threads above 100 sum nothing), n = 37 in blocks of 8 (accumulation over
    // five blocks, the last partial). Against data_risk: float64 within 1e-11 (as for the host
    // plan: sums of n m terms in other orders); float32 within 1e-4, above the worst case
    // m eps_32 = 1.8e-5 of its sums of m terms and the sqrt(n) growth of the sums over samples.
    let d = 5;
    let n = 37;
    for (precision, tolerance) in [(Precision::F64, 1e-11), (Precision::F32, 1e-4)] {
        let Some(kernels) = emulated_kernels(precision) else {
            return;
        };
        for (activation, exe) in kernels {
            let network = Network::new(activation, 1.0).unwrap();
            let data = data_set(activation, d, n);
            for m in [300, 100] {
                let theta = particles(m, d);
                let mut passes = Emulated { exe: exe.clone() };
                let (risk, grad) = plan_deviation(&mut passes, &network, &theta, &data, 8);
                eprintln!(
                    "{activation} {precision} m = {m}: emulated data.cu within risk {risk:.1e}, \
                     gradient {grad:.1e}"
                );
                assert!(
                    risk <= tolerance && grad <= tolerance,
                    "{activation} {precision} m = {m}: risk {risk:e}, gradient {grad:e} > \
                     {tolerance:e}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Particles held on the device: the step over StageOps with the particle kernels.
// ---------------------------------------------------------------------------------------

/// A device that holds the particles, emulated: the buffers are host vectors, the drift is
/// the host gradient turned into the drift by `particle_drift`, and the update and the noise
/// are `particle_axpy` and `particle_noise`, all three run from data.cu on the CPU.
struct EmulatedHeld<'a> {
    kernels: Emulated,
    network: &'a Network,
    dynamics: &'a Dynamics,
    data: &'a DataSet,
    scratch: DataScratch,
    shape: (usize, usize),
    state: Vec<f64>,
    probe: Vec<f64>,
    stages: Vec<Vec<f64>>,
}

impl EmulatedHeld<'_> {
    fn point(&self, at: At) -> &[f64] {
        match at {
            At::State => &self.state,
            At::Probe => &self.probe,
        }
    }

    fn trains(&self) -> (usize, usize) {
        let train = self.dynamics.train;
        (
            usize::from(train.trains_column(0)),
            usize::from(train.trains_column(1)),
        )
    }
}

impl StageOps for EmulatedHeld<'_> {
    fn drift(&mut self, at: At, stage: usize) -> meanfield::error::Result<f64> {
        let (m, width) = self.shape;
        let theta = DMatrix::from_column_slice(m, width, self.point(at));
        let mut grad = DMatrix::zeros(m, width);
        let risk = data_risk(
            self.network,
            &theta,
            self.data,
            &mut self.scratch,
            Some(&mut grad),
        )?;
        let c = self.dynamics.coefficients(self.network, m);
        let (train_a, train_w) = self.trains();
        self.stages[stage] = self.kernels.launch(
            3,
            m,
            train_a,
            train_w,
            false,
            width - 1,
            0,
            c.time_scale,
            &[&[c.lambda, c.lr_ratio], theta.as_slice(), grad.as_slice()],
        );
        Ok(risk)
    }

    fn probe_from_state(&mut self) -> meanfield::error::Result<()> {
        self.probe.clone_from(&self.state);
        Ok(())
    }

    fn axpy(&mut self, target: At, alpha: f64, stage: usize) -> meanfield::error::Result<()> {
        let (m, width) = self.shape;
        let y = self.kernels.launch(
            4,
            m,
            0,
            0,
            false,
            width - 1,
            0,
            alpha,
            &[&self.stages[stage], self.point(target)],
        );
        match target {
            At::State => self.state = y,
            At::Probe => self.probe = y,
        }
        Ok(())
    }

    fn noise(
        &mut self,
        amplitude: f64,
        _train: Train,
        draws: &[f64],
    ) -> meanfield::error::Result<()> {
        let (m, width) = self.shape;
        let (train_a, train_w) = self.trains();
        self.state = self.kernels.launch(
            5,
            m,
            train_a,
            train_w,
            false,
            width - 1,
            0,
            amplitude,
            &[draws, &self.state],
        );
        Ok(())
    }
}

#[test]
fn steps_on_emulated_held_particles_are_the_host_steps_bit_for_bit() {
    // Two steps of each integrator on particles held by the emulated device (the step of
    // `Stepper::finish_with` over StageOps, with data.cu's particle kernels) against the
    // host's `Stepper::finish`, in float64: the kernels compute the host's expressions in the
    // host's order with no contraction, and the noise is the CPU's draws, so the states must
    // agree bit for bit. Euler carries noise, weight decay and lr_ratio != 1 (every kernel
    // argument matters); Heun and RK4 freeze w or a (the frozen columns get no drift).
    // m = 300, d = 5: 1800 entries, 8 blocks of 256 threads, the last partial.
    let Some(kernels) = emulated_kernels(Precision::F64) else {
        return;
    };
    let exe = kernels
        .into_iter()
        .find(|(a, _)| *a == Activation::Tanh)
        .unwrap()
        .1;
    let (m, d, n) = (300, 5, 23);
    let network = Network::new(Activation::Tanh, 1.0).unwrap();
    let data = data_set(Activation::Tanh, d, n);
    let cases = [
        (Integrator::Euler, 0.01, 0.1, 2.0, Train::Both),
        (Integrator::Heun, 0.0, 0.05, 1.0, Train::AOnly),
        (Integrator::Rk4, 0.0, 0.0, 0.5, Train::WOnly),
    ];
    for (integrator, tau, lambda, lr_ratio, train) in cases {
        let dynamics = Dynamics {
            lambda,
            tau,
            train,
            lr_ratio,
        };
        let (dt, seed) = (0.05, 11);
        let mut risk = RiskMode::Empirical(Box::new(EmpiricalRisk::new(data.clone(), None)));
        let mut host = Stepper::new(integrator);
        let mut held = Stepper::new(integrator);
        let mut theta = particles(m, d);
        let mut device = EmulatedHeld {
            kernels: Emulated { exe: exe.clone() },
            network: &network,
            dynamics: &dynamics,
            data: &data,
            scratch: DataScratch::default(),
            shape: (m, d + 1),
            state: theta.as_slice().to_vec(),
            probe: vec![0.0; m * (d + 1)],
            stages: vec![Vec::new(); 4],
        };
        for step in 0..2 {
            let mut flow = Flow {
                network: &network,
                dynamics: &dynamics,
                risk: &mut risk,
                backend: &mut Host,
            };
            let host_risk = host.first_stage(&mut flow, &theta).unwrap();
            host.finish(&mut flow, &mut theta, dt, seed, step).unwrap();
            let held_risk = device.drift(At::State, 0).unwrap();
            held.finish_with(&mut device, &dynamics, (m, d + 1), dt, (seed, step))
                .unwrap();
            assert_eq!(host_risk.to_bits(), held_risk.to_bits(), "{integrator:?}");
            let differing = theta
                .as_slice()
                .iter()
                .zip(&device.state)
                .filter(|(h, e)| h.to_bits() != e.to_bits())
                .count();
            assert_eq!(
                differing, 0,
                "{integrator:?} step {step}: {differing} entries differ from the host step"
            );
        }
        // The step moved the trained columns and only those.
        let start = particles(m, d);
        for col in 0..=d {
            let moved = theta.column(col) != start.column(col);
            assert_eq!(
                moved,
                train.trains_column(col),
                "{integrator:?} column {col}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Scenarios: accepted on device = "cuda" in the data modes.
// ---------------------------------------------------------------------------------------

/// The quickstart with `overrides` on top.
fn quickstart(overrides: &[&str]) -> Scenario {
    let path = root().join("scenarios/quickstart.toml");
    let overrides: Vec<String> = overrides.iter().map(|s| (*s).to_string()).collect();
    Scenario::load(&path, &overrides).unwrap()
}

#[test]
fn a_data_mode_on_cuda_gets_the_gpu_or_a_clear_error_for_every_activation() {
    for (mode, extra) in [("online", "risk.batch=64"), ("empirical", "risk.n=200")] {
        for activation in ["relu", "tanh", "softplus"] {
            let scenario = quickstart(&[
                "device=cuda",
                &format!("risk.mode={mode}"),
                extra,
                &format!("model.activation={activation}"),
                "dynamics.steps=3",
            ]);
            assert_eq!(scenario.device, Device::Cuda);
            match scenario.setup() {
                Ok(setup) => {
                    assert!(
                        driver_present(),
                        "{mode} {activation}: no driver, yet set up"
                    );
                    assert!(setup.simulation.backend().on_gpu(), "{mode} {activation}");
                }
                Err(e) => {
                    let text = e.to_string();
                    assert!(
                        text.starts_with("device cuda: "),
                        "{mode} {activation}: {text}"
                    );
                }
            }
        }
    }
}

#[test]
fn float32_on_the_cpu_runs_the_data_modes_on_the_host() {
    // Since issue 27 `precision = "f32"` is a CPU option too (tests/f32.rs checks its
    // accuracy): a data-mode scenario on the CPU in float32 builds, on the host backend.
    let path = root().join("scenarios/quickstart.toml");
    let overrides = ["risk.mode=online".to_string(), "precision=f32".to_string()];
    let scenario = Scenario::load(&path, &overrides).unwrap();
    let setup = scenario.setup().unwrap();
    assert!(!setup.simulation.backend().on_gpu());
}

// ---------------------------------------------------------------------------------------
// Needs libnvrtc, or a GPU.
// ---------------------------------------------------------------------------------------

#[test]
#[ignore = "needs libnvrtc (CUDA toolkit or the nvidia-cuda-nvrtc-cu12 wheel) on LD_LIBRARY_PATH"]
fn the_data_kernels_compile_for_every_activation_and_precision() {
    for activation in Activation::ALL {
        for precision in [Precision::F64, Precision::F32] {
            for arch in [None, Some("compute_90")] {
                let ptx = compile_data(activation, precision, arch)
                    .unwrap_or_else(|e| panic!("{activation} {precision} {arch:?}: {e}"));
                let text = ptx.to_src();
                for entry in ["data_forward", "data_backward", "data_gradient"] {
                    assert!(text.contains(entry), "{activation} {precision}: no {entry}");
                }
            }
        }
    }
}

/// The GPU's risk and gradient on `data` (blocks of at most `block` samples) against the
/// CPU's: (risk's relative deviation, gradient's column deviation).
fn gpu_deviation(
    activation: Activation,
    precision: Precision,
    theta: &DMatrix<f64>,
    data: &DataSet,
    block: Option<usize>,
) -> (f64, f64) {
    let (m, d) = (theta.nrows(), theta.ncols() - 1);
    let network = Network::new(activation, 1.0).unwrap();
    let mut expected = DMatrix::zeros(m, 1 + d);
    let risk = data_risk(
        &network,
        theta,
        data,
        &mut DataScratch::default(),
        Some(&mut expected),
    )
    .unwrap();
    let mut gpu = CudaData::new(activation, precision).unwrap();
    if let Some(block) = block {
        gpu.limit_block(block);
    }
    gpu.load(Slot::Train, data).unwrap();
    let mut grad = DMatrix::zeros(m, 1 + d);
    let found = gpu
        .risk(Slot::Train, network.output_scale(m), theta, Some(&mut grad))
        .unwrap();
    let value_only = gpu
        .risk(Slot::Train, network.output_scale(m), theta, None)
        .unwrap();
    assert_eq!(
        found.to_bits(),
        value_only.to_bits(),
        "the risk without the gradient"
    );
    (
        (found - risk).abs() / risk,
        column_deviation(grad.as_slice(), expected.as_slice(), m),
    )
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn the_gpu_data_risk_is_the_cpu_data_risk() {
    // m = 1000 (not a multiple of 256), n = 3000 in one block and in blocks of 512 (a partial
    // last block); float64 within 1e-11 (sums of n m = 3e6 terms: worst case 7e-10, typical
    // sqrt(n m) eps = 4e-13), float32 within 1e-4 (its error printed).
    let (m, d, n) = (1000, 16, 3000);
    let theta = particles(m, d);
    for activation in Activation::ALL {
        let data = data_set(activation, d, n);
        for block in [None, Some(512)] {
            let (risk, grad) = gpu_deviation(activation, Precision::F64, &theta, &data, block);
            eprintln!("{activation} f64 block {block:?}: risk {risk:.1e}, gradient {grad:.1e}");
            assert!(risk <= 1e-11 && grad <= 1e-11, "{activation} f64");
            let (risk, grad) = gpu_deviation(activation, Precision::F32, &theta, &data, block);
            eprintln!("{activation} f32 block {block:?}: risk {risk:.1e}, gradient {grad:.1e}");
            assert!(risk <= 1e-4 && grad <= 1e-4, "{activation} f32");
        }
    }
}

/// The particles of the quickstart in `mode` after `steps` steps on `device`.
fn data_run_after(mode: &[&str], steps: u64, device: &str, precision: &str) -> DMatrix<f64> {
    let device = format!("device={device}");
    let precision = format!("precision={precision}");
    let mut overrides = mode.to_vec();
    overrides.extend([device.as_str(), precision.as_str()]);
    let mut setup = quickstart(&overrides).setup().unwrap();
    let mut theta = setup.particles.into_matrix();
    for step in 0..steps {
        setup.simulation.step(&mut theta, step).unwrap();
    }
    theta
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn online_and_empirical_trajectories_on_the_gpu_are_the_cpu_trajectories() {
    for mode in [
        &["risk.mode=online", "risk.batch=512"][..],
        &["risk.mode=empirical", "risk.n=2000"][..],
        &[
            "risk.mode=empirical",
            "risk.n=2000",
            "model.activation=tanh",
        ][..],
    ] {
        let cpu = data_run_after(mode, 100, "cpu", "f64");
        let gpu = data_run_after(mode, 100, "cuda", "f64");
        let relative = (&gpu - &cpu).amax() / cpu.amax();
        eprintln!(
            "{mode:?}, 100 steps, f64: max |theta_gpu - theta_cpu| / max |theta| = {relative:.2e}"
        );
        assert!(relative <= 1e-10, "{mode:?}: {relative:e}");
        let gpu32 = data_run_after(mode, 100, "cuda", "f32");
        let relative32 = (&gpu32 - &cpu).amax() / cpu.amax();
        eprintln!("{mode:?}, 100 steps, f32: {relative32:.2e}");
        assert!(relative32 <= 1e-3, "{mode:?}: {relative32:e}");
    }
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn runs_with_the_particles_held_on_the_gpu_are_the_cpu_runs() {
    // Simulation::run keeps the particles on the device between steps in the data modes;
    // the final state, and the state and drift downloaded at each observed step, against the
    // CPU run, float64 within 1e-10 relative (products in cuBLAS's order); with noise (the
    // CPU's draws, uploaded), decay, lr_ratio and every integrator.
    let cases: [&[&str]; 4] = [
        &["risk.mode=online", "risk.batch=512"],
        &[
            "risk.mode=empirical",
            "risk.n=2000",
            "dynamics.tau=0.001",
            "dynamics.lambda=0.01",
            "dynamics.lr_ratio=2",
        ],
        &[
            "risk.mode=empirical",
            "risk.n=2000",
            "dynamics.integrator=heun",
            "dynamics.train=a_only",
        ],
        &[
            "risk.mode=online",
            "risk.batch=256",
            "dynamics.integrator=rk4",
            "model.activation=tanh",
        ],
    ];
    let path = root().join("scenarios/quickstart.toml");
    for overrides in cases {
        assert_same_run(
            &format!("{overrides:?}, 100 steps"),
            &run_scenario(&path, overrides, 100, "cpu"),
            &run_scenario(&path, overrides, 100, "cuda"),
        );
    }
}
