//! The data-mode evaluation of the GPU backend (docs/math.md section 4) as a plan: the sequence of
//! matrix products and elementwise passes, with every shape, leading dimension and offset
//! written out, that `gpu::data` hands to cuBLAS and to the kernels of `data.cu`.
//!
//! Per block of `count` samples starting at `first` (X is d x n column-major, one sample per
//! column, as in `task::data`; W is theta's m x d columns 1..d):
//!
//! 1. `Z = W X_b` (m x count), a product;
//! 2. `r_i = y_i - m^(-alpha) sum_j a_j sigma(z_ji)`, a reduction per sample (`data_forward`);
//! 3. `grad_a_j += sum_i r_i sigma(z_ji)` and `z_ji <- r_i sigma'(z_ji)` (`data_backward`);
//! 4. `G += S X_b^T` (m x d), a product;
//!
//! and at the end `dR/da_j = -m^(-alpha)/n grad_a_j`, `dR/dw_j = -m^(-alpha)/n a_j G_j`
//! (`data_gradient`), and `R = 1/2 mean r_i^2` from the residuals, summed in order on the host.
//!
//! [`run_on_host`] executes a plan on the CPU with cuBLAS's column-major semantics and the
//! kernels' formulas ([`run_with`]: with other elementwise passes, such as `data.cu` compiled
//! for the CPU), so that the plan itself (the part of the GPU path that a GPU-less machine
//! could otherwise not check) is tested against `task::data_risk`.

use crate::math::Activation;

/// Bytes of the pre-activation block Z on the device, at most.
pub const Z_BYTES: usize = 512 << 20;

/// Samples per block: as many as fit Z (m x block values of `bytes` each) in [`Z_BYTES`],
/// at least 1 and at most n.
pub fn sample_block(m: usize, n: usize, bytes: usize) -> usize {
    (Z_BYTES / (m.max(1) * bytes)).clamp(1, n.max(1))
}

/// A device buffer named by a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buffer {
    /// W, m x d (theta's columns 1..d).
    W,
    /// X, d x n (the data set's inputs).
    X,
    /// Z, m x block: pre-activations, then r_i sigma'(z_ji).
    Z,
    /// G, m x d: sum_i r_i sigma'(z_ji) x_i.
    G,
}

/// `C = op(A) op(B) (+ C)` in cuBLAS's column-major convention, op(A) = A (m x k, leading
/// dimension lda), op(B) = B (k x n, ldb) or B^T (B is n x k, ldb), C m x n (ldc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GemmOp {
    /// Whether op(B) = B^T.
    pub transpose_b: bool,
    /// Rows of C.
    pub m: usize,
    /// Columns of C.
    pub n: usize,
    /// The inner dimension.
    pub k: usize,
    /// A and the offset of its first element.
    pub a: (Buffer, usize),
    /// Leading dimension of A.
    pub lda: usize,
    /// B and the offset of its first element.
    pub b: (Buffer, usize),
    /// Leading dimension of B.
    pub ldb: usize,
    /// beta = 1 (accumulate into C) or 0 (replace C).
    pub accumulate: bool,
    /// C (from its first element).
    pub c: Buffer,
    /// Leading dimension of C.
    pub ldc: usize,
}

/// One step of a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// A product.
    Gemm(GemmOp),
    /// `data_forward`: the residuals r of samples first..first + count from Z.
    Forward {
        /// First sample of the block.
        first: usize,
        /// Samples in the block.
        count: usize,
    },
    /// `data_backward`: grad_a (+)= sum_i r_i sigma(z_ji), Z <- r sigma'(Z).
    Backward {
        /// First sample of the block.
        first: usize,
        /// Samples in the block.
        count: usize,
        /// Whether grad_a accumulates (every block after the first).
        accumulate: bool,
    },
    /// `data_gradient`: the m x (1 + d) gradient from grad_a and G.
    Gradient,
}

/// The plan of one evaluation: m particles in dimension d against n samples, `block` samples
/// at a time; with the gradient when `want_grad`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataPlan {
    /// Particles.
    pub m: usize,
    /// Input dimension.
    pub d: usize,
    /// Samples.
    pub n: usize,
    /// Samples per block (the columns of Z).
    pub block: usize,
    /// The steps, in order.
    pub ops: Vec<Op>,
}

impl DataPlan {
    /// The plan for (m, d, n) with blocks of `block` samples (clamped to 1..=n).
    pub fn new(m: usize, d: usize, n: usize, block: usize, want_grad: bool) -> Self {
        let block = block.clamp(1, n.max(1));
        let mut ops = Vec::new();
        for (index, first) in (0..n).step_by(block).enumerate() {
            let count = block.min(n - first);
            ops.push(Op::Gemm(GemmOp {
                transpose_b: false,
                m,
                n: count,
                k: d,
                a: (Buffer::W, 0),
                lda: m,
                b: (Buffer::X, first * d),
                ldb: d,
                accumulate: false,
                c: Buffer::Z,
                ldc: m,
            }));
            ops.push(Op::Forward { first, count });
            if want_grad {
                ops.push(Op::Backward {
                    first,
                    count,
                    accumulate: index > 0,
                });
                ops.push(Op::Gemm(GemmOp {
                    transpose_b: true,
                    m,
                    n: d,
                    k: count,
                    a: (Buffer::Z, 0),
                    lda: m,
                    b: (Buffer::X, first * d),
                    ldb: d,
                    accumulate: index > 0,
                    c: Buffer::G,
                    ldc: m,
                }));
            }
        }
        if want_grad {
            ops.push(Op::Gradient);
        }
        Self {
            m,
            d,
            n,
            block,
            ops,
        }
    }

    /// Values in each buffer, as the executors allocate them.
    pub fn buffer_len(&self, buffer: Buffer) -> usize {
        match buffer {
            Buffer::W | Buffer::G => self.m * self.d,
            Buffer::X => self.d * self.n,
            Buffer::Z => self.m * self.block,
        }
    }
}

/// `C = op(A) op(B) (+ C)` on the host, with cuBLAS's indexing: A[row + p lda],
/// B[p + col ldb] (or B[col + p ldb] transposed), C[row + col ldc].
pub fn gemm_host(op: &GemmOp, a: &[f64], b: &[f64], c: &mut [f64]) {
    let (a_off, b_off) = (op.a.1, op.b.1);
    for col in 0..op.n {
        for row in 0..op.m {
            let mut sum = 0.0;
            for p in 0..op.k {
                let bv = if op.transpose_b {
                    b[b_off + col + p * op.ldb]
                } else {
                    b[b_off + p + col * op.ldb]
                };
                sum += a[a_off + row + p * op.lda] * bv;
            }
            let out = &mut c[row + col * op.ldc];
            *out = if op.accumulate { *out + sum } else { sum };
        }
    }
}

/// The three elementwise passes of a plan, as an executor runs them: the host's formulas
/// ([`HostKernels`]), or the CUDA source itself compiled for the CPU (the emulation test).
pub trait Passes {
    /// `data_forward`: r[first + i] = y[first + i] - scale sum_j a_j sigma(z_ji) for
    /// i < count (z is m x count, column-major).
    #[allow(clippy::too_many_arguments, reason = "the kernel's arguments")]
    fn forward(
        &mut self,
        scale: f64,
        a: &[f64],
        z: &[f64],
        y: &[f64],
        first: usize,
        count: usize,
        r: &mut [f64],
    );

    /// `data_backward`: grad_a_j (+)= sum_i r_i sigma(z_ji), z_ji <- r_i sigma'(z_ji).
    fn backward(
        &mut self,
        z: &mut [f64],
        r: &[f64],
        first: usize,
        count: usize,
        accumulate: bool,
        grad_a: &mut [f64],
    );

    /// `data_gradient`: grad = factor (grad_a | a_j G_j), m x (1 + d) column-major.
    fn gradient(&mut self, factor: f64, a: &[f64], grad_a: &[f64], g: &[f64], grad: &mut [f64]);
}

/// The passes on the host, by the formulas of docs/math.md section 4 (`Activation::value` and
/// `derivative`, the CPU's own definitions of sigma).
#[derive(Clone, Copy, Debug)]
pub struct HostKernels(pub Activation);

impl Passes for HostKernels {
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
        let m = a.len();
        for i in 0..count {
            let sum: f64 = (0..m).map(|j| a[j] * self.0.value(z[i * m + j])).sum();
            r[first + i] = y[first + i] - scale * sum;
        }
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
        let m = grad_a.len();
        for (j, g) in grad_a.iter_mut().enumerate() {
            let mut sum = if accumulate { *g } else { 0.0 };
            for i in 0..count {
                let zz = &mut z[i * m + j];
                let ri = r[first + i];
                sum += ri * self.0.value(*zz);
                *zz = ri * self.0.derivative(*zz);
            }
            *g = sum;
        }
    }

    fn gradient(&mut self, factor: f64, a: &[f64], grad_a: &[f64], g: &[f64], grad: &mut [f64]) {
        let m = a.len();
        let d = g.len() / m.max(1);
        for j in 0..m {
            grad[j] = factor * grad_a[j];
            for c in 0..d {
                grad[(1 + c) * m + j] = factor * a[j] * g[c * m + j];
            }
        }
    }
}

/// Executes `plan` on the host with the passes of [`HostKernels`]: the risk 1/2 mean r_i^2
/// and, when the plan has a gradient step, dR/dtheta (m x (1 + d) column-major).
/// `scale` = m^(-alpha); `a` (m), `w` (m x d column-major), `x` (d x n column-major), `y` (n).
#[allow(
    clippy::too_many_arguments,
    reason = "the plan's inputs, as the device holds them"
)]
pub fn run_on_host(
    plan: &DataPlan,
    activation: Activation,
    scale: f64,
    a: &[f64],
    w: &[f64],
    x: &[f64],
    y: &[f64],
) -> (f64, Option<Vec<f64>>) {
    run_with(plan, &mut HostKernels(activation), scale, a, w, x, y)
}

/// [`run_on_host`] with other `passes`: the products on the host ([`gemm_host`]), the
/// elementwise passes by `passes`, in the plan's order and on its buffers.
#[allow(
    clippy::too_many_arguments,
    reason = "the plan's inputs, as the device holds them"
)]
pub fn run_with(
    plan: &DataPlan,
    passes: &mut impl Passes,
    scale: f64,
    a: &[f64],
    w: &[f64],
    x: &[f64],
    y: &[f64],
) -> (f64, Option<Vec<f64>>) {
    let (m, d, n) = (plan.m, plan.d, plan.n);
    let mut z = vec![0.0; plan.buffer_len(Buffer::Z)];
    let mut g = vec![0.0; plan.buffer_len(Buffer::G)];
    let mut r = vec![0.0; n];
    let mut grad_a = vec![0.0; m];
    let mut grad = None;
    for op in &plan.ops {
        match *op {
            Op::Gemm(gemm) => {
                let pick = |buffer: Buffer, z: &[f64], g: &[f64]| -> Vec<f64> {
                    match buffer {
                        Buffer::W => w.to_vec(),
                        Buffer::X => x.to_vec(),
                        Buffer::Z => z.to_vec(),
                        Buffer::G => g.to_vec(),
                    }
                };
                let lhs = pick(gemm.a.0, &z, &g);
                let rhs = pick(gemm.b.0, &z, &g);
                let out = match gemm.c {
                    Buffer::Z => &mut z,
                    Buffer::G => &mut g,
                    Buffer::W | Buffer::X => unreachable!("plans write only Z and G"),
                };
                gemm_host(&gemm, &lhs, &rhs, out);
            }
            Op::Forward { first, count } => {
                passes.forward(scale, a, &z[..m * count], y, first, count, &mut r);
            }
            Op::Backward {
                first,
                count,
                accumulate,
            } => passes.backward(
                &mut z[..m * count],
                &r,
                first,
                count,
                accumulate,
                &mut grad_a,
            ),
            Op::Gradient => {
                let mut out = vec![0.0; m * (1 + d)];
                passes.gradient(-scale / n as f64, a, &grad_a, &g, &mut out);
                grad = Some(out);
            }
        }
    }
    let sum_sq: f64 = r.iter().map(|v| v * v).sum();
    (0.5 * sum_sq / n as f64, grad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_the_samples_once_and_fit_the_budget() {
        let plan = DataPlan::new(5, 3, 10, 4, true);
        let blocks: Vec<(usize, usize)> = plan
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::Forward { first, count } => Some((*first, *count)),
                _ => None,
            })
            .collect();
        assert_eq!(blocks, vec![(0, 4), (4, 4), (8, 2)]);
        assert_eq!(plan.ops.last(), Some(&Op::Gradient));
        assert_eq!(sample_block(1 << 20, 1 << 20, 8), 64);
        assert_eq!(sample_block(10, 7, 8), 7);
        assert_eq!(sample_block(usize::MAX / 4, 7, 8), 1);
    }
}
