//! The CPU backend of `precision = "f32"` ([`HostF32`]): the risk and dR/dtheta of every mode
//! (docs/math.md sections 3-4) with float32 products and elementwise passes, returned as
//! float64. The particles stay float64 in the engine and are rounded to float32 at each
//! evaluation, as on the GPU. Population mode: the pair sums of relu and erf in float32
//! (`task::population32`), the teacher terms, the risk and the gradient assembly in float64;
//! linear and quadratic keep their exact low-rank float64 path (O(m d^2)), as on the GPU. The
//! data modes: `task::data_risk32`, with a float32 copy of the training set (reloaded when the
//! online batch changes) and of the test set.

use nalgebra::DMatrix;

use crate::dynamics::Backend;
use crate::error::{Error, Result};
use crate::math::{Activation, Network};
use crate::task::{DataRisk32, DataSet, Inputs32, PairSums32, RiskMode};

/// The float32 evaluation of a risk mode on the CPU.
#[derive(Debug)]
pub struct HostF32 {
    on: On,
    /// The particles rounded to float32 (held as float64).
    rounded: DMatrix<f64>,
}

/// What runs in float32, by risk mode.
#[derive(Debug)]
enum On {
    /// Population mode: the float32 pair sums (None: linear and quadratic, exact in float64).
    Population(Option<Box<PairSums32>>),
    /// A data mode.
    Data(Box<DataF32>),
}

/// The data modes' float32 engine and its copies of the data sets.
#[derive(Debug, Default)]
struct DataF32 {
    engine: DataRisk32,
    train: Inputs32,
    /// [`RiskMode::batch_step`] of the training set held, None before the first load.
    train_key: Option<Option<u64>>,
    test: Inputs32,
    test_loaded: bool,
}

impl HostF32 {
    /// The float32 backend of `risk`, whose network has `activation`.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `precision` for population mode with an activation whose pair
    /// kernel is computed by quadrature (tanh, sigmoid, softplus): it has no float32 form.
    pub fn new(risk: &RiskMode, activation: Activation) -> Result<Self> {
        let on = match risk {
            RiskMode::Population(p) => match p.kernel().activation() {
                Activation::Linear | Activation::Quadratic => On::Population(None),
                Activation::Relu | Activation::Erf => On::Population(Some(Box::default())),
                other => {
                    return Err(Error::invalid(
                        "precision",
                        "\"f32\"",
                        format!(
                            "\"f64\" with model.activation = \"{other}\" in population mode (float32 \
                             has the closed-form kernels relu, erf, linear and quadratic; risk.mode = \
                             \"online\" or \"empirical\" run every activation in float32)"
                        ),
                    ));
                }
            },
            RiskMode::Online(_) | RiskMode::Empirical(_) => {
                let _ = activation;
                On::Data(Box::default())
            }
        };
        Ok(Self {
            on,
            rounded: DMatrix::zeros(0, 0),
        })
    }

    /// `theta` rounded to float32, as float64: every term of the risk (the float32 products,
    /// and the float64 teacher terms and gradient assembly) is then taken at the same point.
    /// Otherwise the rounding would enter the pair terms alone, and near a minimum, where the
    /// teacher and pair gradients cancel but neither vanishes, shift the risk by O(eps_32)
    /// instead of O(eps_32 |grad R|).
    fn round(&mut self, theta: &DMatrix<f64>) -> &DMatrix<f64> {
        if self.rounded.shape() != theta.shape() {
            self.rounded = DMatrix::zeros(theta.nrows(), theta.ncols());
        }
        for (r, t) in self.rounded.iter_mut().zip(theta.iter()) {
            *r = f64::from(*t as f32);
        }
        &self.rounded
    }
}

/// The error of a data set missing from `risk` (a mode other than the one opened for).
fn no_data(risk: &RiskMode) -> Error {
    Error::invalid(
        "risk mode of the float32 backend",
        if risk.is_population() {
            "population"
        } else {
            "data"
        },
        "the mode the backend was opened for",
    )
}

impl DataF32 {
    fn risk(
        &mut self,
        risk: &RiskMode,
        network: &Network,
        theta: &DMatrix<f64>,
        grad: Option<&mut DMatrix<f64>>,
    ) -> Result<f64> {
        let data: &DataSet = risk.training_set().ok_or_else(|| no_data(risk))?;
        let key = risk.batch_step();
        if self.train_key != Some(key) {
            self.train.load(data);
            self.train_key = Some(key);
        }
        self.engine.risk(
            network,
            theta,
            &self.train,
            data.labels(),
            risk.loss(),
            grad,
        )
    }

    fn test_risk(
        &mut self,
        risk: &RiskMode,
        network: &Network,
        theta: &DMatrix<f64>,
    ) -> Result<Option<f64>> {
        let Some(test) = risk.test_set() else {
            return Ok(None);
        };
        if !self.test_loaded {
            self.test.load(test);
            self.test_loaded = true;
        }
        self.engine
            .risk(network, theta, &self.test, test.labels(), risk.loss(), None)
            .map(Some)
    }
}

impl Backend for HostF32 {
    fn evaluate(
        &mut self,
        risk: &mut RiskMode,
        network: &Network,
        theta: &DMatrix<f64>,
        grad: Option<&mut DMatrix<f64>>,
    ) -> Result<f64> {
        self.round(theta);
        let theta = &self.rounded;
        match (&mut self.on, risk) {
            (On::Population(Some(sums)), RiskMode::Population(p)) => {
                p.evaluate_with(network, theta, grad, Some(sums.as_mut()))
            }
            (On::Population(None), RiskMode::Population(p)) => p.evaluate(network, theta, grad),
            (On::Data(data), risk) if !risk.is_population() => {
                data.risk(risk, network, theta, grad)
            }
            (_, risk) => Err(no_data(risk)),
        }
    }

    fn test_risk(
        &mut self,
        risk: &mut RiskMode,
        network: &Network,
        theta: &DMatrix<f64>,
    ) -> Result<Option<f64>> {
        self.round(theta);
        match &mut self.on {
            On::Data(data) => data.test_risk(risk, network, &self.rounded),
            On::Population(_) => Ok(None),
        }
    }
}
