//! The exact reduced limit equation of the linear activation in population mode
//! (docs/math.md sections 2, 3 and 5; derivation in `docs/limit.md`).
//!
//! With sigma(z) = z, f(x) = beta . x with beta = m^(-alpha) sum_j a_j w_j, and a linear
//! teacher f*(x) = b . x with b = (1/k) sum_i a*_i w*_i, the population risk is
//! R = 1/2 (|beta - b|^2 + s^2). The particle drift of docs/math.md section 2 is then linear in
//! theta_j, v_j = A theta_j, with
//!
//! ```text
//! g = m^(alpha - 1) b - Sigma_aw                       (a d-vector)
//! A = [[ -r lambda, r g^T      ],                      r = lr_ratio if a is trained, else 0
//!      [  q g,      -q lambda I ]]                     q = 1 if w is trained, else 0
//! ```
//!
//! where Sigma = mean_j theta_j theta_j^T is the (1 + d) x (1 + d) second-moment matrix and
//! Sigma_aw its a-w block (row 0, columns 1..). Hence the dynamics closes on Sigma:
//!
//! ```text
//! dSigma/dt = A Sigma + Sigma A^T + 2 tau P,   P = diag(trained coordinates)
//! dPhi/dt   = A Phi,                           Phi(0) = I
//! ```
//!
//! For tau = 0 a width-m particle run satisfies this ODE exactly, started from its empirical
//! second moment, and every particle moves as theta_j(t) = Phi(t) theta_j(0). For tau > 0 the
//! equation is the m -> infinity limit (the noise term is the law of large numbers over the
//! particles' independent Brownian motions).
//!
//! [`LinearLimit::solve`] integrates (Sigma, Phi) with classical RK4 and step doubling, to a
//! global relative error below [`TOLERANCE`] at the requested times.

use nalgebra::{DMatrix, DVector};

use crate::dynamics::Dynamics;
use crate::error::{Error, Result};
use crate::math::{Activation, InitLaw, Network, ScalarLaw, VectorLaw};
use crate::task::{Target, Teacher};

/// Stated accuracy of [`LinearLimit::solve`]: at every requested time the Frobenius norm of
/// the change between the RK4 solutions with steps h and h/2 is at most `TOLERANCE` times the
/// largest Frobenius norm over the requested times (separately for Sigma and for Phi). The
/// returned h/2 solution then has a global error of about that change / 15 (Richardson), so
/// below `TOLERANCE` in the same relative sense.
pub const TOLERANCE: f64 = 1e-10;

/// Largest total number of RK4 steps the step doubling may reach before giving up.
const MAX_STEPS: usize = 1 << 25;

/// The reduced limit equation of a linear-activation network in population mode: the ODE of
/// the second-moment matrix Sigma = mean_j theta_j theta_j^T (see the module documentation).
///
/// ```
/// # use meanfield::dynamics::Dynamics;
/// # use meanfield::dynamics::reduced::{LinearLimit, initial_second_moment};
/// # use meanfield::math::{Activation, InitLaw, Network};
/// # use meanfield::task::Teacher;
/// # use nalgebra::DMatrix;
/// # fn main() -> meanfield::Result<()> {
/// let d = 3;
/// let network = Network::new(Activation::Linear, 1.0)?;
/// // One teacher neuron a* = 1, w* = e_1, so b = e_1; no label noise.
/// let rows = [1.0, 1.0, 0.0, 0.0];
/// let teacher = Teacher::new(DMatrix::from_row_slice(1, 4, &rows), Activation::Linear, 0.0)?;
/// let limit = LinearLimit::new(&network, &Dynamics::default(), &teacher, 1000)?;
/// // The limit from the initial law a ~ N(0, 1), w ~ N(0, I/d): Sigma_aw(0) = 0, so beta(0) = 0.
/// let sigma0 = initial_second_moment(&InitLaw::standard(d), d)?;
/// let points = limit.solve(&sigma0, &[0.0, 1.0, 10.0])?;
/// assert!((points[0].risk - 0.5).abs() < 1e-15); // R(0) = |b|^2 / 2
/// assert!(points[2].risk < points[1].risk && points[1].risk < points[0].risk);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LinearLimit {
    /// Input dimension d.
    d: usize,
    /// The teacher vector b = (1/k) sum_i a*_i w*_i.
    teacher_vector: DVector<f64>,
    /// m^(alpha - 1) b: the target that Sigma_aw is pulled towards.
    scaled_target: DVector<f64>,
    /// m^(1 - alpha): beta = m^(1 - alpha) Sigma_aw.
    output_factor: f64,
    /// Label noise variance s^2.
    noise_variance: f64,
    /// Weight decay lambda.
    lambda: f64,
    /// Temperature tau.
    tau: f64,
    /// r: lr_ratio when a is trained, 0 when frozen.
    a_rate: f64,
    /// q: 1 when w is trained, 0 when frozen.
    w_rate: f64,
}

/// The solution of the reduced equation at one requested time.
#[derive(Clone, Debug, PartialEq)]
pub struct LimitPoint {
    /// The time t.
    pub time: f64,
    /// Sigma(t) = E[theta theta^T], (1 + d) x (1 + d), coordinates (a, w_1..w_d).
    pub second_moment: DMatrix<f64>,
    /// Phi(t), the solution of dPhi/dt = A(t) Phi, Phi(0) = I: for tau = 0 every particle moves
    /// as theta_j(t) = Phi(t) theta_j(0); for tau > 0, E[theta(t) | theta(0)] = Phi(t) theta(0).
    pub propagator: DMatrix<f64>,
    /// The population risk R(t) = 1/2 (|beta(t) - b|^2 + s^2).
    pub risk: f64,
    /// Root-mean-square movement sqrt(E|theta(t) - theta(0)|^2) =
    /// sqrt(tr((Phi - I) Sigma(0) (Phi - I)^T) + tr(Sigma(t) - Phi Sigma(0) Phi^T)); the second
    /// trace (the noise's share) is 0 for tau = 0 and is then left out.
    pub movement: f64,
}

impl LinearLimit {
    /// The reduced equation for `network` (which must have the linear activation), the flow
    /// parameters `dynamics`, a linear `teacher` (its `noise_std` gives s) and the width `m`.
    /// `m` enters only through m^(alpha - 1) and m^(1 - alpha), which are 1 for alpha = 1:
    /// then any m >= 1 gives the same equation.
    ///
    /// Errors when the activation of the network or of the teacher is not linear, when the
    /// dynamics parameters are invalid, or when m = 0.
    pub fn new(
        network: &Network,
        dynamics: &Dynamics,
        teacher: &Teacher,
        m: usize,
    ) -> Result<Self> {
        if network.activation != Activation::Linear {
            return Err(Error::invalid(
                "model.activation",
                network.activation,
                "linear: the exact reduced limit equation is implemented for the linear \
                 activation only",
            ));
        }
        if teacher.activation() != Activation::Linear {
            return Err(Error::invalid(
                "teacher activation",
                teacher.activation(),
                "linear: the exact reduced limit equation needs a linear teacher",
            ));
        }
        dynamics.validate()?;
        if m == 0 {
            return Err(Error::invalid("model.m", 0, "at least 1"));
        }
        let theta = teacher.matrix();
        let (k, d) = (theta.nrows(), theta.ncols() - 1);
        let mut teacher_vector = DVector::zeros(d);
        for i in 0..k {
            for c in 0..d {
                teacher_vector[c] += theta[(i, 0)] * theta[(i, 1 + c)];
            }
        }
        teacher_vector /= k as f64;
        let width = m as f64;
        let scaled_target = &teacher_vector * width.powf(network.alpha - 1.0);
        let trains_a = dynamics.train.trains_column(0);
        let trains_w = dynamics.train.trains_column(1);
        Ok(Self {
            d,
            teacher_vector,
            scaled_target,
            output_factor: width.powf(1.0 - network.alpha),
            noise_variance: teacher.noise_std().powi(2),
            lambda: dynamics.lambda,
            tau: dynamics.tau,
            a_rate: if trains_a { dynamics.lr_ratio } else { 0.0 },
            w_rate: if trains_w { 1.0 } else { 0.0 },
        })
    }

    /// Input dimension d (Sigma is (1 + d) x (1 + d)).
    pub fn d(&self) -> usize {
        self.d
    }

    /// The teacher vector b = (1/k) sum_i a*_i w*_i, so that f*(x) = b . x.
    pub fn teacher_vector(&self) -> &DVector<f64> {
        &self.teacher_vector
    }

    /// beta = m^(1 - alpha) Sigma_aw, so that f(x) = beta . x.
    pub fn output_vector(&self, sigma: &DMatrix<f64>) -> Result<DVector<f64>> {
        self.check_shape(sigma)?;
        Ok(DVector::from_fn(self.d, |c, _| {
            self.output_factor * sigma[(0, 1 + c)]
        }))
    }

    /// The population risk R = 1/2 (|beta - b|^2 + s^2) at the second moment `sigma`.
    pub fn risk(&self, sigma: &DMatrix<f64>) -> Result<f64> {
        let beta = self.output_vector(sigma)?;
        Ok(0.5 * ((beta - &self.teacher_vector).norm_squared() + self.noise_variance))
    }

    /// The drift matrix A(Sigma): the particle drift is v_j = A theta_j.
    pub fn drift_matrix(&self, sigma: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        self.check_shape(sigma)?;
        let d = self.d;
        let mut a = DMatrix::zeros(1 + d, 1 + d);
        a[(0, 0)] = -self.a_rate * self.lambda;
        for c in 0..d {
            let g = self.scaled_target[c] - sigma[(0, 1 + c)];
            a[(0, 1 + c)] = self.a_rate * g;
            a[(1 + c, 0)] = self.w_rate * g;
            a[(1 + c, 1 + c)] = -self.w_rate * self.lambda;
        }
        Ok(a)
    }

    /// Solves the reduced equation from `sigma0` (a symmetric positive semidefinite
    /// (1 + d) x (1 + d) matrix) and returns the solution at each of `times` (finite, >= 0,
    /// nondecreasing), accurate to [`TOLERANCE`].
    ///
    /// The internal RK4 grid has an integer number of equal steps between consecutive requested
    /// times; the number is doubled until two successive solutions agree to [`TOLERANCE`].
    /// Errors with [`Error::Diverged`] when the finest solution is not finite, and with
    /// [`Error::Invalid`] when agreement needs more than 2^25 steps.
    pub fn solve(&self, sigma0: &DMatrix<f64>, times: &[f64]) -> Result<Vec<LimitPoint>> {
        let sigma0 = self.check_initial(sigma0)?;
        let mut previous = 0.0;
        for (index, t) in times.iter().enumerate() {
            if !(t.is_finite() && *t >= previous) {
                return Err(Error::invalid(
                    format!("reduced limit time {index} (counting from 0)"),
                    t,
                    format!("a finite time >= {previous} (times are >= 0 and nondecreasing)"),
                ));
            }
            previous = *t;
        }
        let t_max = times.last().copied().unwrap_or(0.0);
        let size = 1 + self.d;
        let mut initial = DMatrix::zeros(size, 2 * size);
        initial.columns_mut(0, size).copy_from(&sigma0);
        initial.columns_mut(size, size).fill_with_identity();
        // First step from the rates at t = 0: |A| <= max(r, q) (lambda + |g|), and A moves
        // with Sigma at a rate of order |Sigma|; step doubling corrects a poor guess.
        let g0 = (&self.scaled_target - sigma0.row(0).columns(1, self.d).transpose()).norm();
        let rate = self.a_rate.max(self.w_rate) * (self.lambda + g0 + sigma0.norm()) + self.tau;
        let mut step = if rate > 0.0 { 0.25 / rate } else { t_max };
        if t_max > 0.0 {
            step = step.min(t_max / 4.0);
        }
        // Steps per interval between consecutive requested times (none for an empty interval).
        let mut start = 0.0;
        let first_counts: Vec<f64> = times
            .iter()
            .map(|t| {
                let span = t - start;
                start = *t;
                if span > 0.0 {
                    (span / step).ceil().max(1.0)
                } else {
                    0.0
                }
            })
            .collect();
        let guess: f64 = first_counts.iter().sum();
        if guess > MAX_STEPS as f64 {
            return Err(too_many_steps(guess));
        }
        // Exact conversion: each count is an integer at most MAX_STEPS.
        let mut counts: Vec<usize> = first_counts.iter().map(|n| *n as usize).collect();
        let mut coarse = self.integrate(&initial, times, &counts);
        loop {
            let total = 2 * counts.iter().sum::<usize>();
            if total > MAX_STEPS {
                return Err(match coarse {
                    Err(error) => error,
                    Ok(_) => too_many_steps(total as f64),
                });
            }
            counts.iter_mut().for_each(|n| *n *= 2);
            let fine = self.integrate(&initial, times, &counts);
            if let (Ok(coarse_states), Ok(fine_states)) = (&coarse, &fine)
                && agree(coarse_states, fine_states, size)
            {
                return fine_states
                    .iter()
                    .zip(times)
                    .map(|(state, time)| self.point(&sigma0, state, *time))
                    .collect();
            }
            coarse = fine;
        }
    }

    /// Errors unless `sigma` is (1 + d) x (1 + d).
    fn check_shape(&self, sigma: &DMatrix<f64>) -> Result<()> {
        let size = 1 + self.d;
        if sigma.shape() != (size, size) {
            return Err(Error::invalid(
                "second-moment matrix shape",
                format!("({}, {})", sigma.nrows(), sigma.ncols()),
                format!("(1 + d, 1 + d) = ({size}, {size})"),
            ));
        }
        Ok(())
    }

    /// Checks that `sigma0` is a finite, symmetric, positive semidefinite second moment (to
    /// rounding) and returns its symmetric part.
    fn check_initial(&self, sigma0: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        self.check_shape(sigma0)?;
        if sigma0.iter().any(|v| !v.is_finite()) {
            return Err(Error::invalid(
                "initial second moment",
                "a non-finite entry",
                "finite entries",
            ));
        }
        let scale = sigma0.norm();
        let rounding = 1e3 * f64::EPSILON * scale;
        let asymmetry = (sigma0 - sigma0.transpose()).norm();
        if asymmetry > rounding {
            return Err(Error::invalid(
                "initial second moment",
                format!("|Sigma - Sigma^T| = {asymmetry:e}"),
                "a symmetric matrix",
            ));
        }
        let symmetric = (sigma0 + sigma0.transpose()) * 0.5;
        let lowest = symmetric.symmetric_eigenvalues().min();
        if lowest < -rounding {
            return Err(Error::invalid(
                "initial second moment",
                format!("smallest eigenvalue {lowest:e}"),
                "a positive semidefinite matrix (a second moment mean theta theta^T)",
            ));
        }
        Ok(symmetric)
    }

    /// d/dt of the state [Sigma | Phi] ((1 + d) x 2(1 + d)) into `out`:
    /// [A Sigma + Sigma A^T + 2 tau P | A Phi], with A applied in O(d^2) from its structure.
    fn derivative(&self, state: &DMatrix<f64>, out: &mut DMatrix<f64>, g: &mut DVector<f64>) {
        let d = self.d;
        let size = 1 + d;
        for c in 0..d {
            g[c] = self.scaled_target[c] - state[(0, 1 + c)];
        }
        for col in 0..2 * size {
            let column = state.column(col);
            let a = column[0];
            let mut row0 = -self.lambda * a;
            for c in 0..d {
                row0 += g[c] * column[1 + c];
            }
            out[(0, col)] = self.a_rate * row0;
            for c in 0..d {
                out[(1 + c, col)] = self.w_rate * (g[c] * a - self.lambda * column[1 + c]);
            }
        }
        // Sigma block: A Sigma + (A Sigma)^T, exactly symmetric in floating point.
        for i in 0..size {
            for j in 0..i {
                let sum = out[(i, j)] + out[(j, i)];
                out[(i, j)] = sum;
                out[(j, i)] = sum;
            }
            let trained = if i == 0 { self.a_rate } else { self.w_rate };
            let noise = if trained > 0.0 { 2.0 * self.tau } else { 0.0 };
            out[(i, i)] = 2.0 * out[(i, i)] + noise;
        }
    }

    /// Classical RK4 from `initial` at t = 0 with `counts[i]` equal steps from times[i - 1]
    /// (or 0) to times[i]; returns the state at each time, or Diverged at the first requested
    /// time whose state is not finite.
    fn integrate(
        &self,
        initial: &DMatrix<f64>,
        times: &[f64],
        counts: &[usize],
    ) -> Result<Vec<DMatrix<f64>>> {
        let (rows, cols) = initial.shape();
        let mut state = initial.clone();
        let mut stage = DMatrix::zeros(rows, cols);
        let mut k1 = DMatrix::zeros(rows, cols);
        let mut k2 = DMatrix::zeros(rows, cols);
        let mut k3 = DMatrix::zeros(rows, cols);
        let mut k4 = DMatrix::zeros(rows, cols);
        let mut g = DVector::zeros(self.d);
        let mut states = Vec::with_capacity(times.len());
        let mut start = 0.0;
        let mut steps_done: u64 = 0;
        for (time, count) in times.iter().zip(counts) {
            if *count > 0 {
                let h = (time - start) / *count as f64;
                for _ in 0..*count {
                    self.derivative(&state, &mut k1, &mut g);
                    offset(&mut stage, &state, 0.5 * h, &k1);
                    self.derivative(&stage, &mut k2, &mut g);
                    offset(&mut stage, &state, 0.5 * h, &k2);
                    self.derivative(&stage, &mut k3, &mut g);
                    offset(&mut stage, &state, h, &k3);
                    self.derivative(&stage, &mut k4, &mut g);
                    for (((y, a), (b, c)), e) in state
                        .iter_mut()
                        .zip(k1.iter())
                        .zip(k2.iter().zip(k3.iter()))
                        .zip(k4.iter())
                    {
                        *y += h / 6.0 * (a + 2.0 * b + 2.0 * c + e);
                    }
                }
                steps_done += *count as u64;
            }
            if state.iter().any(|v| !v.is_finite()) {
                return Err(Error::Diverged {
                    step: steps_done,
                    time: *time,
                    what: "the reduced limit equation's Sigma or Phi is not finite".into(),
                });
            }
            states.push(state.clone());
            start = *time;
        }
        Ok(states)
    }

    /// Risk and movement at one time from the state [Sigma | Phi].
    fn point(&self, sigma0: &DMatrix<f64>, state: &DMatrix<f64>, time: f64) -> Result<LimitPoint> {
        let size = 1 + self.d;
        let sigma = state.columns(0, size).into_owned();
        let phi = state.columns(size, size).into_owned();
        let shift = &phi - DMatrix::identity(size, size);
        let mut squared = (&shift * sigma0 * shift.transpose()).trace();
        if self.tau > 0.0 {
            squared += (&sigma - &phi * sigma0 * phi.transpose()).trace();
        }
        Ok(LimitPoint {
            time,
            risk: self.risk(&sigma)?,
            movement: squared.max(0.0).sqrt(),
            second_moment: sigma,
            propagator: phi,
        })
    }
}

/// The error of a step doubling that would need more than [`MAX_STEPS`] RK4 steps.
fn too_many_steps(steps: f64) -> Error {
    Error::invalid(
        "reduced limit RK4 step count",
        steps,
        format!(
            "at most {MAX_STEPS} steps for agreement to {TOLERANCE} (the equation is too fast \
             or the requested times too long)"
        ),
    )
}

/// out = base + factor * increment, entrywise.
fn offset(out: &mut DMatrix<f64>, base: &DMatrix<f64>, factor: f64, increment: &DMatrix<f64>) {
    for ((o, b), i) in out.iter_mut().zip(base.iter()).zip(increment.iter()) {
        *o = b + factor * i;
    }
}

/// Whether two lists of states [Sigma | Phi] agree to [`TOLERANCE`] (see its documentation).
fn agree(coarse: &[DMatrix<f64>], fine: &[DMatrix<f64>], size: usize) -> bool {
    (0..2).all(|block| {
        let scale = fine
            .iter()
            .map(|s| s.columns(block * size, size).norm())
            .fold(0.0, f64::max);
        coarse.iter().zip(fine).all(|(c, f)| {
            (c.columns(block * size, size) - f.columns(block * size, size)).norm()
                <= TOLERANCE * scale
        })
    })
}

/// The second moment `E[theta theta^T]` of the initialisation law `law` in dimension d, in
/// closed form: a ~ N(mu, s_a^2) independent of w gives `E[a^2] = mu^2 + s_a^2`,
/// `E[a w] = mu E[w] = 0`, and `E[w w^T] = s_w^2 I` for w ~ N(0, s_w^2 I), `rho^2 / d I` for w
/// uniform on the sphere of radius rho.
///
/// Every law of [`InitLaw`] has a closed form; the error cases are d = 0 and non-finite
/// parameters.
pub fn initial_second_moment(law: &InitLaw, d: usize) -> Result<DMatrix<f64>> {
    if d == 0 {
        return Err(Error::invalid("model.d", 0, "at least 1"));
    }
    let ScalarLaw::Normal { mean, std } = law.a;
    if !(mean.is_finite() && std.is_finite()) {
        return Err(Error::invalid(
            "init.a",
            format!("mean {mean}, std {std}"),
            "finite parameters",
        ));
    }
    let w_second = match law.w {
        VectorLaw::Normal { std } => std * std,
        VectorLaw::UniformSphere { radius } => radius * radius / d as f64,
    };
    if !w_second.is_finite() {
        return Err(Error::invalid("init.w", w_second, "finite parameters"));
    }
    let mut sigma = DMatrix::from_diagonal_element(1 + d, 1 + d, w_second);
    sigma[(0, 0)] = mean * mean + std * std;
    Ok(sigma)
}

/// The empirical second moment Sigma_m = (1/m) Theta^T Theta of an m x (1 + d) particle matrix
/// (columns a, w_1..w_d).
pub fn empirical_second_moment(theta: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    if theta.nrows() == 0 || theta.ncols() < 2 {
        return Err(Error::invalid(
            "particle matrix shape",
            format!("({}, {})", theta.nrows(), theta.ncols()),
            "(m, 1 + d) with m >= 1 and d >= 1",
        ));
    }
    crate::math::model::check_finite(theta, "particle")?;
    let m = theta.nrows() as f64;
    let mut sigma = theta.tr_mul(theta) / m;
    // tr_mul computes both triangles separately; make the result exactly symmetric.
    let size = sigma.nrows();
    for i in 0..size {
        for j in 0..i {
            sigma[(i, j)] = sigma[(j, i)];
        }
    }
    Ok(sigma)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::dynamics::Train;

    fn teacher(rows: &[f64], d: usize, noise_std: f64) -> Teacher {
        let k = rows.len() / (1 + d);
        Teacher::new(
            DMatrix::from_row_slice(k, 1 + d, rows),
            Activation::Linear,
            noise_std,
        )
        .unwrap()
    }

    /// b = (1/k) sum_i a*_i w*_i, beta = Sigma_aw for alpha = 1, R = 1/2(|beta - b|^2 + s^2).
    #[test]
    fn teacher_vector_and_risk_follow_their_definitions() {
        let t = teacher(&[1.0, 1.0, 2.0, -0.5, 0.5, 1.0], 2, 0.3);
        let network = Network::new(Activation::Linear, 1.0).unwrap();
        let limit = LinearLimit::new(&network, &Dynamics::default(), &t, 10).unwrap();
        let b = limit.teacher_vector();
        assert!((b[0] - 0.375).abs() < 1e-15 && (b[1] - 0.75).abs() < 1e-15);
        let sigma = DMatrix::from_row_slice(3, 3, &[1.0, 0.1, 0.2, 0.1, 1.0, 0.0, 0.2, 0.0, 1.0]);
        let expected = 0.5 * ((0.1 - 0.375f64).powi(2) + (0.2 - 0.75f64).powi(2) + 0.09);
        assert!((limit.risk(&sigma).unwrap() - expected).abs() < 1e-15);
    }

    /// The structured O(d^2) right-hand side equals the dense A Sigma + Sigma A^T + 2 tau P and
    /// A Phi with A from [`LinearLimit::drift_matrix`], to rounding (entries of size 1, sums of
    /// 1 + d terms: 100 eps).
    #[test]
    fn structured_derivative_is_the_dense_formula() {
        let d = 3;
        let t = teacher(&[1.0, 0.6, -0.2, 0.9, -0.5, 0.3, 0.8, -0.4], d, 0.0);
        let network = Network::new(Activation::Linear, 0.75).unwrap();
        let sigma = DMatrix::from_fn(4, 4, |i, j| {
            1.0 / (1.0 + (i + j) as f64) + if i == j { 1.0 } else { 0.0 }
        });
        let phi = DMatrix::from_fn(4, 4, |i, j| 0.1 * (i as f64 - 2.0 * j as f64).sin());
        for train in [Train::Both, Train::AOnly, Train::WOnly] {
            let dynamics = Dynamics {
                lambda: 0.3,
                tau: 0.2,
                train,
                lr_ratio: 1.7,
            };
            let limit = LinearLimit::new(&network, &dynamics, &t, 9).unwrap();
            let mut state = DMatrix::zeros(4, 8);
            state.columns_mut(0, 4).copy_from(&sigma);
            state.columns_mut(4, 4).copy_from(&phi);
            let mut out = DMatrix::zeros(4, 8);
            limit.derivative(&state, &mut out, &mut DVector::zeros(d));
            let a = limit.drift_matrix(&sigma).unwrap();
            let projector = DMatrix::from_fn(4, 4, |i, j| {
                if i == j && train.trains_column(i) {
                    1.0
                } else {
                    0.0
                }
            });
            let dense_sigma = &a * &sigma + &sigma * a.transpose() + projector * (2.0 * 0.2);
            let dense_phi = &a * &phi;
            let error =
                (out.columns(0, 4) - dense_sigma).amax() + (out.columns(4, 4) - dense_phi).amax();
            assert!(error < 100.0 * f64::EPSILON, "{train:?}: {error:e}");
        }
    }

    #[test]
    fn a_solution_needing_too_many_steps_is_an_error() {
        let t = teacher(&[1.0, 1.0, 2.0], 2, 0.0);
        let network = Network::new(Activation::Linear, 1.0).unwrap();
        let limit = LinearLimit::new(&network, &Dynamics::default(), &t, 10).unwrap();
        let err = limit
            .solve(&(DMatrix::identity(3, 3) * 1e10), &[1e3])
            .unwrap_err();
        assert!(err.to_string().contains("RK4 step count"), "{err}");
    }

    #[test]
    fn a_wrongly_shaped_second_moment_is_rejected() {
        let t = teacher(&[1.0, 1.0, 2.0], 2, 0.0);
        let network = Network::new(Activation::Linear, 1.0).unwrap();
        let limit = LinearLimit::new(&network, &Dynamics::default(), &t, 10).unwrap();
        let err = limit.solve(&DMatrix::identity(2, 2), &[1.0]).unwrap_err();
        assert!(err.to_string().contains("(1 + d, 1 + d) = (3, 3)"), "{err}");
        let err = limit
            .solve(&DMatrix::identity(3, 3), &[1.0, 0.5])
            .unwrap_err();
        assert!(err.to_string().contains("nondecreasing"), "{err}");
    }
}
