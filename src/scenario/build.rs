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
    DataSet, EmpiricalRisk, HermiteTarget, InputLaw, InputShape, LabelTarget, Loss, OnlineRisk,
    ParityTarget, PopulationRisk, RiskMode, TargetFunction, Teacher,
};

/// What a scenario builds: the initial particles, the target and the simulation.
#[derive(Debug)]
pub struct Setup {
    /// Initial particles.
    pub particles: Particles,
    /// The target (a teacher, or another kind).
    pub target: TargetFunction,
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

    /// The target function of any kind (docs/problems.md): the teacher, or a Hermite, parity
    /// or label target.
    pub fn target_function(&self) -> Result<TargetFunction> {
        let input_dim = self.input_dim();
        let noise_std = self.noise_std;
        Ok(match &self.target {
            TargetSource::File(_) | TargetSource::Generated(_) => {
                TargetFunction::Teacher(self.teacher()?)
            }
            TargetSource::Hermite(terms) => TargetFunction::Hermite(HermiteTarget {
                input_dim,
                terms: terms.clone(),
                noise_std,
            }),
            TargetSource::Parity(terms) => TargetFunction::Parity(ParityTarget {
                input_dim,
                terms: terms.clone(),
                noise_std,
            }),
            TargetSource::Label => {
                let labels = match &self.input {
                    InputShape::Mixture(components) => components.iter().map(|c| c.label).collect(),
                    _ => Vec::new(),
                };
                TargetFunction::Label(LabelTarget {
                    input_dim,
                    labels,
                    noise_std,
                })
            }
        })
    }

    /// The teacher: generated from `target` (stream `teacher_seed`) or read from `target.file`
    /// (an error names the key), with `target.activation` (default the student's). A target of
    /// another kind is an error naming `target.kind`.
    pub fn teacher(&self) -> Result<Teacher> {
        let d_in = self.input_dim();
        let activation = self.teacher_activation.unwrap_or(self.network.activation);
        let teacher = match &self.target {
            TargetSource::Hermite(_) | TargetSource::Parity(_) | TargetSource::Label => {
                return Err(self.fail(
                    "target.kind",
                    format!("\"{}\"", self.target.kind()),
                    "\"teacher\" (this needs a teacher network)",
                ));
            }
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
        let particles = self.initial_particles()?;
        let target = self.target_function()?;
        let risk = self.risk_mode(&target)?;
        let backend = crate::backend::for_device(
            self.device,
            self.precision,
            &risk,
            self.network.activation,
            self.d,
        )?;
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
            target,
            simulation,
        })
    }

    /// The initial particles: drawn from the init laws, or read from `init.file` (an error
    /// names the key).
    fn initial_particles(&self) -> Result<Particles> {
        let d_in = self.input_dim();
        match &self.init {
            InitSource::Law(l) if self.symmetric_init => {
                Particles::draw_symmetric(self.m, d_in, l, self.seed)
            }
            InitSource::Law(l) => Particles::draw(self.m, d_in, l, self.seed),
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
                })
            }
        }
    }

    /// The risk mode of the scenario for `target`: the exact population risk, or a data mode
    /// with its loss, test set, classification columns and (where it exists and is asked for)
    /// the exact population risk of the same network (the `population_risk` column).
    fn risk_mode(&self, target: &TargetFunction) -> Result<RiskMode> {
        let law = InputLaw {
            d: self.d,
            bias: self.bias,
            shape: self.input.clone(),
        };
        let shared: Arc<TargetFunction> = Arc::new(target.clone());
        let draw = |n: usize, purpose: Purpose| {
            DataSet::generate(n, law.clone(), shared.as_ref(), self.seed, purpose, 0)
        };
        let test_set = |test_n: usize| -> Result<Option<DataSet>> {
            (test_n > 0)
                .then(|| draw(test_n, Purpose::Test))
                .transpose()
        };
        let population = || -> Result<Option<PopulationRisk>> {
            if self.bias || !self.population_risk {
                return Ok(None);
            }
            self.population_risk_of(target).map(Some)
        };
        // The classification errors are logged for the logistic loss and the sign-valued
        // targets (docs/problems.md).
        let classification = self.loss == Loss::Logistic || self.has_sign_labels();
        let empirical = |train: DataSet, test: Option<DataSet>| -> Result<EmpiricalRisk> {
            Ok(EmpiricalRisk::new(train, test)
                .with_loss(self.loss)
                .map_err(|e| self.label_error(&e))?
                .with_classification(classification))
        };
        Ok(match &self.risk {
            RiskSpec::Population => {
                RiskMode::Population(Box::new(self.population_risk_of(target)?))
            }
            RiskSpec::Online { batch, test_n } => {
                let online = OnlineRisk::new(
                    *batch,
                    law.clone(),
                    shared.clone(),
                    self.seed,
                    test_set(*test_n)?,
                )?
                .with_loss(self.loss)
                .map_err(|e| self.label_error(&e))?
                .with_classification(classification);
                RiskMode::Online(Box::new(match population()? {
                    Some(p) => online.with_population(p),
                    None => online,
                }))
            }
            RiskSpec::EmpiricalGenerated { n, test_n } => {
                let empirical = empirical(draw(*n, Purpose::Data)?, test_set(*test_n)?)?;
                RiskMode::Empirical(Box::new(match population()? {
                    Some(p) => empirical.with_population(p),
                    None => empirical,
                }))
            }
            RiskSpec::EmpiricalFiles { x, y } => {
                RiskMode::Empirical(Box::new(empirical(self.load_data(x, y)?, None)?))
            }
        })
    }

    /// Whether every generated label is -1 or +1: a label target with labels +-1, or one
    /// parity of coefficient +-1 on Rademacher inputs, without label noise.
    pub fn has_sign_labels(&self) -> bool {
        crate::scenario::resolve::sign_labels(&self.target, &self.input, self.noise_std)
    }

    /// A label that the loss does not accept (checked when the scenario resolved; this is the
    /// last guard), named on `risk.loss`.
    fn label_error(&self, error: &Error) -> Error {
        self.fail(
            "risk.loss",
            format!("\"{}\"", self.loss.name()),
            format!("labels -1 or +1 ({})", reason(error)),
        )
    }

    /// The exact population risk of `target` under the input law.
    fn population_risk_of(&self, target: &TargetFunction) -> Result<PopulationRisk> {
        let activation = self.network.activation;
        match target {
            TargetFunction::Teacher(teacher)
                if self.input.is_standard() && teacher.activation() == activation =>
            {
                PopulationRisk::new(activation, teacher.clone())
            }
            _ => PopulationRisk::for_problem(activation, &self.input, target, self.noise_std)
                .map_err(|e| match e {
                    // The refusal names its key: place it in the scenario file.
                    Error::Invalid {
                        what,
                        found,
                        allowed,
                    } => self.fail(&what, found, allowed),
                    other => other,
                }),
        }
    }

    #[expect(clippy::float_cmp, reason = "a sign label is exactly -1 or +1")]
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
        if self.loss == Loss::Logistic
            && let Some(i) = y.column(0).iter().position(|&v| v != 1.0 && v != -1.0)
        {
            return Err(self.fail(
                "risk.y_file",
                format!("{} with label {} at row {i}", y_path.display(), y[(i, 0)]),
                "labels -1 or +1 with risk.loss = \"logistic\"",
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
