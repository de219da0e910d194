// The fused population interaction of meanfield (docs/math.md section 3), compiled at run time by
// NVRTC with
//   -DREAL=double|float   the floating-point type
//   -DDIM=d               the input dimension (the per-thread vectors live in registers)
//   -DACT_RELU | -DACT_ERF  the closed-form pair kernel
//   -DTILE=t              threads per block
//   -DLTILE=r             rows of w_l per shared-memory tile (r (d + 1) sizeof(REAL) <= 32 KiB)
//
// population_interaction: one thread per particle j of the rows (m of them). The block streams
// the n particles l of the columns (the network itself, or the teacher) through shared memory,
// LTILE at a time; for each pair the thread forms u.v from registers, the kernel terms (value,
// coef_v and the cross term of coef_u), and accumulates
//   value[j]     = sum_l a_l K(w_j, w_l)
//   cross[j]     = sum_l a_l cross(j, l)        (coef_u sum = cross * cross_scale(|w_j|^2))
//   direction[j] = sum_l a_l coef_v(w_j, w_l) w_l
// in registers, so that nothing of size m x n is ever written. When the columns are the rows
// (same = 1), the self pair uses w_j . w_j := |w_j|^2 exactly, as on the CPU. Inputs and
// outputs are column-major (m x d rows, n x d columns).
//
// population_norms and population_gradient complete the gradient of docs/math.md section 3 on the
// device, for particles held there (theta m x (1 + d) column-major: a, then w).

#ifndef REAL
#define REAL double
#endif
#ifndef TILE
#define TILE 128
#endif
#ifndef LTILE
#define LTILE TILE
#endif

// Products that are never contracted into an FMA: uu vv - uv^2 must be exactly 0 for a self
// pair (uv = uu = vv), as on the CPU; a contracted form leaves the rounding error of uu^2,
// whose square root would enter the kernel at sqrt(eps).
__device__ __forceinline__ double mul_rn(double x, double y) { return __dmul_rn(x, y); }
__device__ __forceinline__ float mul_rn(float x, float y) { return __fmul_rn(x, y); }

// |u|^2 |v|^2 sin^2 phi, clamped at 0 against rounding.
__device__ __forceinline__ REAL cross_squared(REAL uu, REAL vv, REAL uv) {
    REAL c = mul_rn(uu, vv) - mul_rn(uv, uv);
    return c > (REAL)0 ? c : (REAL)0;
}

#define INV_TWO_PI ((REAL)0.15915494309189533576888376337251436)
#define TWO_OVER_PI ((REAL)0.63661977236758134307553505349005745)

// (value, coef_v, cross) of the pair (u, v) from uu = |u|^2, vv = |v|^2, uv = u.v.
__device__ __forceinline__ void pair_terms(REAL uu, REAL vv, REAL uv, REAL* value, REAL* coef_v,
                                           REAL* cross) {
#if defined(ACT_RELU)
    // K = |u||v| (sin phi + (pi - phi) cos phi) / (2 pi); phi := 0 when u = 0 or v = 0.
    REAL c = sqrt(cross_squared(uu, vv, uv));
    REAL phi = atan2(c, uv);
    if (!(uu > (REAL)0 && vv > (REAL)0)) phi = (REAL)0;
    REAL cv = (REAL)0.5 - phi * INV_TWO_PI;
    c = c * INV_TWO_PI;
    *value = c + cv * uv;
    *coef_v = cv;
    *cross = c;
#elif defined(ACT_ERF)
    // K = (2/pi) asin(uv / sqrt((1+uu)(1+vv))) = (2/pi) atan2(uv, sqrt(det)).
    REAL det = (REAL)1 + uu + vv + cross_squared(uu, vv, uv);
    REAL root = sqrt(det);
    REAL cv = TWO_OVER_PI / root;
    *value = TWO_OVER_PI * atan2(uv, root);
    *coef_v = cv;
    *cross = -cv * uv;
#else
#error "define ACT_RELU or ACT_ERF"
#endif
}

extern "C" __global__ void __launch_bounds__(TILE)
population_interaction(const int m, const int n, const int same, const REAL* __restrict__ w,
                       const REAL* __restrict__ q, const REAL* __restrict__ a_l,
                       const REAL* __restrict__ w_l, const REAL* __restrict__ q_l,
                       REAL* __restrict__ value_out, REAL* __restrict__ cross_out,
                       REAL* __restrict__ direction_out) {
    // Tile of w_l, row-major with a padded stride against bank conflicts.
    __shared__ REAL tile_w[LTILE * (DIM + 1)];
    __shared__ REAL tile_a[LTILE];
    __shared__ REAL tile_q[LTILE];
    const int t = threadIdx.x;
    const int j = blockIdx.x * TILE + t;
    const bool active = j < m;
    REAL wj[DIM];
    REAL dir[DIM];
#pragma unroll
    for (int c = 0; c < DIM; ++c) {
        wj[c] = active ? w[(size_t)c * m + j] : (REAL)0;
        dir[c] = (REAL)0;
    }
    const REAL uu = active ? q[j] : (REAL)0;
    REAL value = (REAL)0;
    REAL cross = (REAL)0;
    for (int start = 0; start < n; start += LTILE) {
        // The block loads LTILE rows, column by column (consecutive threads, consecutive l).
        for (int index = t; index < LTILE * DIM; index += TILE) {
            const int r = index % LTILE;
            const int c = index / LTILE;
            const int l = start + r;
            tile_w[r * (DIM + 1) + c] = l < n ? w_l[(size_t)c * n + l] : (REAL)0;
        }
        for (int r = t; r < LTILE; r += TILE) {
            const int l = start + r;
            tile_a[r] = l < n ? a_l[l] : (REAL)0;
            tile_q[r] = l < n ? q_l[l] : (REAL)0;
        }
        __syncthreads();
        const int count = min(LTILE, n - start);
        for (int ll = 0; ll < count; ++ll) {
            const REAL* v = &tile_w[ll * (DIM + 1)];
            REAL uv = (REAL)0;
#pragma unroll
            for (int c = 0; c < DIM; ++c) uv = fma(wj[c], v[c], uv);
            if (same && start + ll == j) uv = uu;
            REAL k, coef_v, x;
            pair_terms(uu, tile_q[ll], uv, &k, &coef_v, &x);
            const REAL al = tile_a[ll];
            value = fma(al, k, value);
            cross = fma(al, x, cross);
            const REAL g = al * coef_v;
#pragma unroll
            for (int c = 0; c < DIM; ++c) dir[c] = fma(g, v[c], dir[c]);
        }
        __syncthreads();
    }
    if (active) {
        value_out[j] = value;
        cross_out[j] = cross;
#pragma unroll
        for (int c = 0; c < DIM; ++c) direction_out[(size_t)c * m + j] = dir[c];
    }
}

// The factor that turns a row's sum of cross terms into its sum of coef_u (PairKernel's
// cross_scale): relu 1 / |u|^2 (0 at u = 0), erf 1 / (1 + |u|^2).
__device__ __forceinline__ REAL cross_scale(REAL uu) {
#if defined(ACT_RELU)
    return uu > (REAL)0 ? (REAL)1 / uu : (REAL)0;
#else
    return (REAL)1 / ((REAL)1 + uu);
#endif
}

// q[j] = |w_j|^2 of the particles theta (m x (1 + d)), summed over coordinates in order.
extern "C" __global__ void population_norms(const int m, const REAL* __restrict__ theta,
                                            REAL* __restrict__ q) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= m) return;
    REAL sum = (REAL)0;
#pragma unroll
    for (int c = 0; c < DIM; ++c) {
        const REAL x = theta[(size_t)(1 + c) * m + j];
        sum = sum + mul_rn(x, x);
    }
    q[j] = sum;
}

// dR/dtheta_j (docs/math.md section 3) from the network sums (value, cross, direction: the
// interaction with the particles themselves) and the teacher sums (t_*: with the teacher's
// a*_i / k, w*_i), scale = m^(-alpha), into grad (m x (1 + d)):
//   grad[j]             = scale (scale value_j - t_value_j)
//   grad[(1 + c) m + j] = scale a_j (scale (direction_jc + coef_u_j w_jc)
//                                    - (t_direction_jc + t_coef_u_j w_jc))
// with coef_u = cross cross_scale(|w_j|^2); and the terms of the risk's two sums,
// energy[j] = a_j value_j and energy[m + j] = a_j t_value_j.
extern "C" __global__ void population_gradient(
    const int m, const REAL scale, const REAL* __restrict__ theta, const REAL* __restrict__ q,
    const REAL* __restrict__ value, const REAL* __restrict__ cross,
    const REAL* __restrict__ direction, const REAL* __restrict__ t_value,
    const REAL* __restrict__ t_cross, const REAL* __restrict__ t_direction,
    REAL* __restrict__ grad, REAL* __restrict__ energy) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= m) return;
    const size_t m_s = (size_t)m;
    const REAL a = theta[j];
    const REAL s = cross_scale(q[j]);
    const REAL coef_u = cross[j] * s;
    const REAL t_coef_u = t_cross[j] * s;
    grad[j] = scale * (scale * value[j] - t_value[j]);
#pragma unroll
    for (int c = 0; c < DIM; ++c) {
        const size_t k = (size_t)c * m_s + j;
        const REAL x = theta[(size_t)(1 + c) * m_s + j];
        const REAL interaction = direction[k] + coef_u * x;
        const REAL teacher = t_direction[k] + t_coef_u * x;
        grad[(size_t)(1 + c) * m_s + j] = scale * a * (scale * interaction - teacher);
    }
    energy[j] = a * value[j];
    energy[m_s + j] = a * t_value[j];
}
