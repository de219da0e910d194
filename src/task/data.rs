//! Data sets for the data modes of docs/math.md section 4: Gaussian inputs x ~ N(0, I_d) (with a
//! constant bias coordinate appended when asked) and labels y = f*(x) + s * xi.
//!
//! Inputs are stored one sample per column (a d x n column-major matrix), so that sample i
//! is a contiguous slice and X^T blocks are contiguous views for the matrix products.

use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::random::{Purpose, stream};
use crate::task::{InputShape, Target};

/// The input law: d coordinates from `shape` (default N(0, I_d)), followed by a coordinate
/// fixed to 1 when `bias` is set.
#[derive(Clone, Debug, PartialEq)]
pub struct InputLaw {
    /// Number of feature coordinates d.
    pub d: usize,
    /// Whether a constant coordinate 1 is appended (docs/math.md section 1).
    pub bias: bool,
    /// The law of the d coordinates (docs/problems.md).
    pub shape: InputShape,
}

impl InputLaw {
    /// x ~ N(0, I_d), with a bias coordinate when `bias` is set.
    pub fn standard(d: usize, bias: bool) -> Self {
        Self {
            d,
            bias,
            shape: InputShape::StandardGaussian,
        }
    }

    /// Dimension of a network input: d, plus 1 with a bias.
    pub fn input_dim(&self) -> usize {
        self.d + usize::from(self.bias)
    }
}

/// n samples: inputs (d_in x n, column i is sample i) and labels (n).
#[derive(Clone, Debug, PartialEq)]
pub struct DataSet {
    inputs: DMatrix<f64>,
    labels: Vec<f64>,
}

impl DataSet {
    /// A data set from inputs (d_in x n, one column per sample) and labels (n); checks shapes
    /// and finiteness.
    pub fn new(inputs: DMatrix<f64>, labels: Vec<f64>) -> Result<Self> {
        if inputs.ncols() == 0 {
            return Err(Error::invalid("n", 0, "at least 1 sample"));
        }
        if labels.len() != inputs.ncols() {
            return Err(Error::invalid(
                "number of labels",
                labels.len(),
                format!("one per input sample ({})", inputs.ncols()),
            ));
        }
        if let Some(i) = inputs.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid(
                format!("input of sample {}", i / inputs.nrows()),
                inputs[i],
                "finite numbers",
            ));
        }
        if let Some(i) = labels.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid(
                format!("label {i}"),
                labels[i],
                "a finite number",
            ));
        }
        Ok(Self { inputs, labels })
    }

    /// n fresh samples from `law` and `target`: sample i draws its d inputs, then its label
    /// noise, from the stream (seed, purpose, step, i).
    pub fn generate(
        n: usize,
        law: InputLaw,
        target: &dyn Target,
        seed: u64,
        purpose: Purpose,
        step: u64,
    ) -> Result<Self> {
        if n == 0 {
            return Err(Error::invalid("n", 0, "at least 1 sample"));
        }
        check_dims(&law, target)?;
        let mut data = Self {
            inputs: DMatrix::zeros(law.input_dim(), n),
            labels: vec![0.0; n],
        };
        data.redraw(&law, target, seed, purpose, step);
        Ok(data)
    }

    /// Redraws every sample in place (online batches: no allocation per step).
    pub fn redraw(
        &mut self,
        law: &InputLaw,
        target: &dyn Target,
        seed: u64,
        purpose: Purpose,
        step: u64,
    ) {
        let d_in = law.input_dim();
        let noise = target.noise_std();
        self.inputs
            .as_mut_slice()
            .par_chunks_mut(d_in)
            .zip(self.labels.par_iter_mut())
            .enumerate()
            .for_each(|(i, (x, y))| {
                let mut rng = stream(seed, purpose, step, i as u64);
                let (component, xi) = law.shape.sample(&mut rng, &mut x[..law.d]);
                if law.bias {
                    x[law.d] = 1.0;
                }
                *y = target.label(x, component) + noise * xi;
            });
    }

    /// Number of samples n.
    pub fn n(&self) -> usize {
        self.labels.len()
    }

    /// Input dimension d_in.
    pub fn input_dim(&self) -> usize {
        self.inputs.nrows()
    }

    /// Inputs, d_in x n (column i is sample i).
    pub fn inputs(&self) -> &DMatrix<f64> {
        &self.inputs
    }

    /// Labels y_i.
    pub fn labels(&self) -> &[f64] {
        &self.labels
    }
}

/// The target must take inputs of the law's dimension.
pub fn check_dims(law: &InputLaw, target: &dyn Target) -> Result<()> {
    if target.input_dim() != law.input_dim() {
        return Err(Error::invalid(
            "target input dimension",
            target.input_dim(),
            format!(
                "the student's input dimension {} (d = {}{})",
                law.input_dim(),
                law.d,
                if law.bias {
                    " plus a bias coordinate"
                } else {
                    ""
                }
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::math::Activation;
    use crate::task::Teacher;

    #[test]
    fn generated_labels_are_the_target_on_the_inputs_and_bias_is_one() {
        let theta = DMatrix::from_row_slice(1, 4, &[2.0, 1.0, -1.0, 0.5]);
        let teacher = Teacher::new(theta, Activation::Relu, 0.0).unwrap();
        let law = InputLaw::standard(2, true);
        let data = DataSet::generate(100, law, &teacher, 3, Purpose::Data, 0).unwrap();
        for i in 0..100 {
            let x = data.inputs().column(i);
            assert!((x[2] - 1.0).abs() < f64::EPSILON);
            let expected = 2.0 * (x[0] - x[1] + 0.5).max(0.0);
            assert!((data.labels()[i] - expected).abs() < 1e-14);
        }
    }

    #[test]
    fn a_target_of_another_dimension_is_rejected() {
        let theta = DMatrix::from_row_slice(1, 3, &[1.0, 1.0, 1.0]);
        let teacher = Teacher::new(theta, Activation::Relu, 0.0).unwrap();
        let law = InputLaw::standard(3, false);
        let err = DataSet::generate(10, law, &teacher, 1, Purpose::Data, 0).unwrap_err();
        assert!(err.to_string().contains("input dimension 3"), "{err}");
    }
}
