// The fused population interaction of meanfield (MATH.md section 3), compiled at run time by
// NVRTC with
//   -DREAL=double|float   the floating-point type
//   -DDIM=d               the input dimension (the per-thread vectors live in registers)
//   -DACT_RELU | -DACT_ERF  the closed-form pair kernel
//   -DTILE=t              threads per block
//   -DLTILE=r             rows of w_l per shared-memory tile (r (d + 1) sizeof(REAL) <= 32 KiB)
//
// One thread per particle j. The block streams the particles l through shared memory, LTILE at
// a time; for each pair the thread forms u.v from registers, the kernel terms (value, coef_v and
// the cross term of coef_u), and accumulates
//   value[j]     = sum_l a_l K(w_j, w_l)
//   cross[j]     = sum_l a_l cross(j, l)        (coef_u sum = cross * cross_scale(|w_j|^2))
//   direction[j] = sum_l a_l coef_v(w_j, w_l) w_l
// in registers, so that nothing of size m x m is ever written. The self pair uses
// w_j . w_j := |w_j|^2 exactly, as on the CPU. Inputs and outputs are column-major m x d.

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
population_interaction(const int m, const REAL* __restrict__ a, const REAL* __restrict__ w,
                       const REAL* __restrict__ q, REAL* __restrict__ value_out,
                       REAL* __restrict__ cross_out, REAL* __restrict__ direction_out) {
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
    for (int start = 0; start < m; start += LTILE) {
        // The block loads LTILE rows, column by column (consecutive threads, consecutive l).
        for (int index = t; index < LTILE * DIM; index += TILE) {
            const int r = index % LTILE;
            const int c = index / LTILE;
            const int l = start + r;
            tile_w[r * (DIM + 1) + c] = l < m ? w[(size_t)c * m + l] : (REAL)0;
        }
        for (int r = t; r < LTILE; r += TILE) {
            const int l = start + r;
            tile_a[r] = l < m ? a[l] : (REAL)0;
            tile_q[r] = l < m ? q[l] : (REAL)0;
        }
        __syncthreads();
        const int count = min(LTILE, m - start);
        for (int ll = 0; ll < count; ++ll) {
            const REAL* v = &tile_w[ll * (DIM + 1)];
            REAL uv = (REAL)0;
#pragma unroll
            for (int c = 0; c < DIM; ++c) uv = fma(wj[c], v[c], uv);
            if (start + ll == j) uv = uu;
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
