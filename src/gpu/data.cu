// The elementwise passes of the data modes of meanfield (MATH.md section 4) around the two
// cuBLAS products of a sample block (Z = W X_b and G += S X_b^T), compiled at run time by
// NVRTC with
//   -DREAL=double|float   the floating-point type
//   -DACT_RELU | -DACT_ERF | -DACT_TANH | -DACT_SIGMOID | -DACT_SOFTPLUS | -DACT_LINEAR |
//   -DACT_QUADRATIC       the activation sigma (as in src/math/activation.rs)
//   -DREDUCE=t            threads per block of data_forward (a power of two)
//
// Layouts are column-major, as on the CPU: W is m x d (theta's columns 1..d), the block's
// pre-activations Z are m x count (column i is sample first + i, contiguous in j), the
// gradient is m x (1 + d) (theta's layout). Every sum has a fixed order (no atomics), so a
// launch gives the same bits every time on a given GPU.

#ifndef REAL
#define REAL double
#endif
#ifndef REDUCE
#define REDUCE 256
#endif

#define SQRT_TWO_OVER_PI ((REAL)0.79788456080286535587989211986876374)
#define FRAC_1_SQRT_2 ((REAL)0.70710678118654752440084436210484904)

// sigma(z), and sigma'(z) into *slope.
__device__ __forceinline__ REAL activate(REAL z, REAL* slope) {
#if defined(ACT_RELU)
    // relu'(0) := 0, as on the CPU.
    *slope = z > (REAL)0 ? (REAL)1 : (REAL)0;
    return z > (REAL)0 ? z : (REAL)0;
#elif defined(ACT_ERF)
    // sigma(z) = erf(z / sqrt 2), sigma'(z) = sqrt(2/pi) exp(-z^2/2).
    *slope = SQRT_TWO_OVER_PI * exp((REAL)-0.5 * z * z);
    return erf(z * FRAC_1_SQRT_2);
#elif defined(ACT_TANH)
    const REAL t = tanh(z);
    *slope = (REAL)1 - t * t;
    return t;
#elif defined(ACT_SIGMOID)
    // Written to avoid overflow of exp for large |z|.
    REAL s;
    if (z >= (REAL)0) {
        s = (REAL)1 / ((REAL)1 + exp(-z));
    } else {
        const REAL e = exp(z);
        s = e / ((REAL)1 + e);
    }
    *slope = s * ((REAL)1 - s);
    return s;
#elif defined(ACT_SOFTPLUS)
    // log(1 + e^z) = max(z, 0) + log1p(e^(-|z|)); its slope is the logistic function.
    REAL s;
    if (z >= (REAL)0) {
        s = (REAL)1 / ((REAL)1 + exp(-z));
    } else {
        const REAL e = exp(z);
        s = e / ((REAL)1 + e);
    }
    *slope = s;
    return (z > (REAL)0 ? z : (REAL)0) + log1p(exp(-fabs(z)));
#elif defined(ACT_LINEAR)
    *slope = (REAL)1;
    return z;
#elif defined(ACT_QUADRATIC)
    *slope = (REAL)2 * z;
    return z * z;
#else
#error "define one ACT_* activation"
#endif
}

// One block per sample i of the block: r[first + i] = y[first + i] - scale sum_j a_j sigma(z_ji).
// Thread t sums j = t, t + REDUCE, ...; the block then adds the partial sums pairwise in a
// fixed tree.
extern "C" __global__ void __launch_bounds__(REDUCE)
data_forward(const int m, const int first, const REAL scale, const REAL* __restrict__ a,
             const REAL* __restrict__ z, const REAL* __restrict__ y, REAL* __restrict__ r) {
    __shared__ REAL partial[REDUCE];
    const int t = threadIdx.x;
    const int i = blockIdx.x;
    const REAL* column = z + (size_t)i * m;
    REAL sum = (REAL)0;
    for (int j = t; j < m; j += REDUCE) {
        REAL slope;
        sum = fma(a[j], activate(column[j], &slope), sum);
    }
    partial[t] = sum;
    __syncthreads();
    for (int half = REDUCE / 2; half > 0; half /= 2) {
        if (t < half) partial[t] += partial[t + half];
        __syncthreads();
    }
    if (t == 0) r[first + i] = y[first + i] - scale * partial[0];
}

// One thread per particle j, over the block's count samples:
//   grad_a[j] (+)= sum_i r_i sigma(z_ji)    (replaced when accumulate == 0)
//   z_ji      <- r_i sigma'(z_ji)           (the left factor of G += S X_b^T)
extern "C" __global__ void data_backward(const int m, const int count, const int first,
                                         const int accumulate, REAL* __restrict__ z,
                                         const REAL* __restrict__ r, REAL* __restrict__ grad_a) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= m) return;
    REAL sum = accumulate ? grad_a[j] : (REAL)0;
    for (int i = 0; i < count; ++i) {
        const size_t index = (size_t)i * m + j;
        const REAL ri = r[first + i];
        REAL slope;
        const REAL value = activate(z[index], &slope);
        sum = fma(ri, value, sum);
        z[index] = ri * slope;
    }
    grad_a[j] = sum;
}

// One thread per particle j: the gradient dR/dtheta_j (MATH.md section 4) with factor =
// -m^(-alpha) / n:
//   grad[j]               = factor grad_a[j]
//   grad[(1 + c) m + j]   = factor a_j g[c m + j]     (c = 0..d-1)
extern "C" __global__ void data_gradient(const int m, const int d, const REAL factor,
                                         const REAL* __restrict__ a,
                                         const REAL* __restrict__ grad_a,
                                         const REAL* __restrict__ g, REAL* __restrict__ grad) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= m) return;
    grad[j] = factor * grad_a[j];
    const REAL scaled = factor * a[j];
    for (int c = 0; c < d; ++c) grad[(size_t)(1 + c) * m + j] = scaled * g[(size_t)c * m + j];
}

// ---- Particles held on the device between steps (a data-mode run on device = "cuda") ----
// theta is one m x (1 + d) column-major buffer (column 0 = a, columns 1..d = w), as on the
// CPU; these kernels are the CPU's `Dynamics::gradient_to_drift`, `axpy` and `apply_noise`
// (src/dynamics), one thread per entry k of the buffer, column c = k / m.

// The drift of MATH.md section 2 from the gradient (in place in v, which holds dR/dtheta):
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
