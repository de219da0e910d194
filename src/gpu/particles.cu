// The particle kernels of meanfield's GPU backend: the drift of docs/math.md section 2 from a
// gradient, the Runge-Kutta combinations and the Langevin noise, on particles held on the
// device between steps. Appended to data.cu and population.cu when NVRTC compiles them
// (-DREAL=double|float), so each module has its own copy.
//
// theta is one m x (1 + d) column-major buffer (column 0 = a, columns 1..d = w), as on the
// CPU; these kernels are the CPU's `Dynamics::gradient_to_drift`, `axpy` and `apply_noise`
// (src/dynamics), one thread per entry k of the buffer, column c = k / m.

// The drift of docs/math.md section 2 from the gradient (in place in v, which holds dR/dtheta):
//   v_k = factor_c (-time_scale v_k - lambda theta_k)   on trained columns (factor_0 =
//   lr_ratio, factor_c = 1 for c >= 1), v_k = 0 on frozen ones (train_a, train_w: 0 or 1).
extern "C" __global__ void particle_drift(const int m, const int d, const REAL time_scale,
                                          const REAL lambda, const REAL lr_ratio,
                                          const int train_a, const int train_w,
                                          const REAL* __restrict__ theta, REAL* __restrict__ v) {
    const size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    const size_t m_s = (size_t)m;
    if (k >= m_s * (size_t)(1 + d)) return;
    const bool is_a = k < m_s;
    if (!(is_a ? train_a : train_w)) {
        v[k] = (REAL)0;
        return;
    }
    const REAL factor = is_a ? lr_ratio : (REAL)1;
    v[k] = factor * (-time_scale * v[k] - lambda * theta[k]);
}

// y_k += alpha x_k over len entries (the Runge-Kutta stages and the update).
extern "C" __global__ void particle_axpy(const long long len, const REAL alpha,
                                         const REAL* __restrict__ x, REAL* __restrict__ y) {
    const size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= (size_t)len) return;
    y[k] += alpha * x[k];
}

// Langevin noise on the trained columns: theta[c m + j] += amplitude draws[j (1 + d) + c],
// with the normals drawn on the CPU from the particle-keyed streams (src/dynamics/noise.rs),
// row-major, so that a run on the GPU gets the CPU's noise.
extern "C" __global__ void particle_noise(const int m, const int d, const REAL amplitude,
                                          const int train_a, const int train_w,
                                          const REAL* __restrict__ draws,
                                          REAL* __restrict__ theta) {
    const size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    const size_t m_s = (size_t)m;
    const size_t width = (size_t)(1 + d);
    if (k >= m_s * width) return;
    const size_t c = k / m_s;
    if (!(c == 0 ? train_a : train_w)) return;
    const size_t j = k - c * m_s;
    theta[k] += amplitude * draws[j * width + c];
}
