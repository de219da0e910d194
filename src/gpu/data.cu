// The elementwise passes of the data modes of meanfield (docs/math.md section 4) around the two
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

// One thread per particle j: the gradient dR/dtheta_j (docs/math.md section 4) with factor =
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
