//! Building what a validated [`Scenario`] describes: reading its files (initial particles,
//! teacher, data), checking their shapes against the scenario, and assembling the risk mode and
//! the simulation.

use std::path::Path;
use std::sync::Arc;

use nalgebra::DMatrix;

use crate::dynamics::Simulation;
use crate::error::{Error, Result};
use crate::math::Particles;
use crate::output::read_npy;
use crate::random::Purpose;
use crate::scenario::resolve::{InitSource, RiskSpec, Scenario, TargetSource};
use crate::task::{
    DataSet, EmpiricalRisk, InputLaw, OnlineRisk, PopulationRisk, RiskMode, Teacher,
};

/// What a scenario builds: the initial particles, the teacher and the simulation.
#[derive(Debug)]
pub struct Setup {
    /// Initial particles.
    pub particles: Particles,
    /// The teacher.
    pub teacher: Teacher,
    /// The simulation, ready to run.
    pub simulation: Simulation,
}

/// The reason a file could not be used, without repeating its path.
pub(crate) fn reason(error: &Error) -> String {
    match error {
        Error::Io { source, .. } => source.to_string(),
        Error::Format { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

impl Scenario {
    /// Reads the float64 .npy file named by scenario key `key`; an error names the key.
    fn read_file(&self, key: &str, path: &Path) -> Result<DMatrix<f64>> {
        read_npy(path).map_err(|e| {
            self.fail(
                key,
                path.display(),
                format!("a readable float64 .npy file ({})", reason(&e)),
            )
        })
    }

    /// The teacher: generated from `target` (stream `teacher_seed`) or read from `target.file`
    /// (an error names the key).
    pub fn teacher(&self) -> Result<Teacher> {
        let d_in = self.input_dim();
        let activation = self.network.activation;
        let teacher = match &self.target {
            TargetSource::Generated(spec) => Teacher::generate(
                spec,
                self.d,
                d_in,
                activation,
                self.noise_std,
                self.teacher_seed,
            )?,
            TargetSource::File(path) => {
                let matrix = self.read_file("target.file", path)?;
                if matrix.nrows() == 0 || matrix.ncols() != 1 + d_in {
                    return Err(self.fail(
                    "target.file",
                    format!("{} of shape ({}, {})", path.display(), matrix.nrows(), matrix.ncols()),
                    format!("shape (k, 1 + d{}) = (k, {}) with k >= 1: the teacher must have the student's input dimension", if self.bias { " + 1" } else { "" }, 1 + d_in),
                ));
                }
                Teacher::new(matrix, activation, self.noise_std).map_err(|e| {
                    self.fail(
                        "target.file",
                        path.display(),
                        format!("finite teacher neurons ({})", reason(&e)),
                    )
                })?
            }
        };
        Ok(teacher)
    }

    /// Loads the files the scenario names and builds particles, teacher and simulation.
    pub fn setup(&self) -> Result<Setup> {
        let d_in = self.input_dim();
        let law = InputLaw::standard(self.d, self.bias);
        let particles = match &self.init {
            InitSource::Law(l) => Particles::draw(self.m, d_in, l, self.seed)?,
            InitSource::File(path) => {
                let matrix = self.read_file("init.file", path)?;
                if matrix.shape() != (self.m, 1 + d_in) {
                    return Err(self.fail(
                        "init.file",
                        format!(
                            "{} of shape ({}, {})",
                            path.display(),
                            matrix.nrows(),
                            matrix.ncols()
                        ),
                        format!(
                            "shape (m, 1 + d{}) = ({}, {})",
                            if self.bias { " + 1" } else { "" },
                            self.m,
                            1 + d_in
                        ),
                    ));
                }
                Particles::new(matrix).map_err(|e| {
                    self.fail(
                        "init.file",
                        path.display(),
                        format!("finite particles ({})", reason(&e)),
                    )
                })?
            }
        };
        let activation = self.network.activation;
        let teacher = self.teacher()?;
        let shared: Arc<Teacher> = Arc::new(teacher.clone());
        let test_set = |test_n: usize| -> Result<Option<DataSet>> {
            if test_n == 0 {
                return Ok(None);
            }
            DataSet::generate(
                test_n,
                law.clone(),
                shared.as_ref(),
                self.seed,
                Purpose::Test,
                0,
            )
            .map(Some)
        };
        // The exact population risk of the same network (the `population_risk` column) where
        // the data are drawn from x ~ N(0, I) without bias and labelled by the teacher, unless
        // `risk.population_risk = false`.
        let population = || -> Result<Option<PopulationRisk>> {
            if self.bias || !self.population_risk {
                return Ok(None);
            }
            PopulationRisk::new(activation, teacher.clone()).map(Some)
        };
        let risk = match &self.risk {
            RiskSpec::Population => {
                RiskMode::Population(Box::new(PopulationRisk::new(activation, teacher.clone())?))
            }
            RiskSpec::Online { batch, test_n } => {
                let online = OnlineRisk::new(
                    *batch,
                    law.clone(),
                    shared.clone(),
                    self.seed,
                    test_set(*test_n)?,
                )?;
                RiskMode::Online(Box::new(match population()? {
                    Some(p) => online.with_population(p),
                    None => online,
                }))
            }
            RiskSpec::EmpiricalGenerated { n, test_n } => {
                let train = DataSet::generate(
                    *n,
                    law.clone(),
                    shared.as_ref(),
                    self.seed,
                    Purpose::Data,
                    0,
                )?;
                let empirical = EmpiricalRisk::new(train, test_set(*test_n)?);
                RiskMode::Empirical(Box::new(match population()? {
                    Some(p) => empirical.with_population(p),
                    None => empirical,
                }))
            }
            RiskSpec::EmpiricalFiles { x, y } => {
                let train = self.load_data(x, y)?;
                RiskMode::Empirical(Box::new(EmpiricalRisk::new(train, None)))
            }
        };
        let backend =
            crate::backend::for_device(self.device, self.precision, &risk, activation, self.d)?;
        let simulation = Simulation::new(
            self.network,
            self.dynamics,
            risk,
            self.integrator,
            self.dt,
            self.seed,
        )?
        .with_backend(backend)
        .with_schedules(self.schedules.clone())?;
        Ok(Setup {
            particles,
            teacher,
            simulation,
        })
    }

    fn load_data(&self, x_path: &Path, y_path: &Path) -> Result<DataSet> {
        let x = self.read_file("risk.x_file", x_path)?;
        let y = self.read_file("risk.y_file", y_path)?;
        if x.ncols() != self.d || x.nrows() == 0 {
            return Err(self.fail(
                "risk.x_file",
                format!(
                    "{} of shape ({}, {})",
                    x_path.display(),
                    x.nrows(),
                    x.ncols()
                ),
                format!("shape (n, d) = (n, {}) with n >= 1", self.d),
            ));
        }
        if y.ncols() != 1 || y.nrows() != x.nrows() {
            return Err(self.fail(
                "risk.y_file",
                format!(
                    "{} of shape ({}, {})",
                    y_path.display(),
                    y.nrows(),
                    y.ncols()
                ),
                format!("shape (n,) = ({},) like risk.x_file", x.nrows()),
            ));
        }
        let d_in = self.input_dim();
        let mut inputs = DMatrix::zeros(d_in, x.nrows());
        for i in 0..x.nrows() {
            for c in 0..self.d {
                inputs[(c, i)] = x[(i, c)];
            }
            if self.bias {
                inputs[(self.d, i)] = 1.0;
            }
        }
        DataSet::new(inputs, y.column(0).iter().copied().collect()).map_err(|e| {
            self.fail(
                "risk.x_file",
                x_path.display(),
                format!("finite data ({})", reason(&e)),
            )
        })
    }
}
