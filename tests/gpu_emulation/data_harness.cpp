// Runs one kernel of src/gpu/data.cu on the CPU, for tests/gpu_data.rs: a CUDA block is a set
// of host threads (data_forward: REDUCE threads sharing its __shared__ array, meeting at
// __syncthreads() on a barrier; data_backward and data_gradient, which never synchronise: the
// block's threads one after the other), so that the kernels' indexing, reduction tree and
// activations are exercised exactly as written, without a GPU. Compiled with the NVRTC defines
// (REAL, ACT_*, REDUCE) and -ffp-contract=off.
//
// stdin:  int64 kernel (0 forward, 1 backward, 2 gradient), m, count, first, accumulate, d, n;
//         float64 scalar (scale for forward, factor for gradient); then float64 arrays:
//           forward:  a[m], z[m count], y[n], r[n]          -> stdout r[n]
//           backward: z[m count], r[n], grad_a[m]           -> stdout z[m count], grad_a[m]
//           gradient: a[m], grad_a[m], g[m d]               -> stdout grad[m (1 + d)]
//         and for the particle kernels (len = m (1 + d); count = train_a, first = train_w):
//           3 drift (scalar time_scale): coefficients[2] = (lambda, lr_ratio), theta[len],
//             v[len]                                        -> stdout v[len]
//           4 axpy (scalar alpha): x[len], y[len]           -> stdout y[len]
//           5 noise (scalar amplitude): draws[len], theta[len] -> stdout theta[len]
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <thread>
#include <vector>

using std::erf;
using std::exp;
using std::fabs;
using std::fma;
using std::log1p;
using std::tanh;

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(x)
#define __restrict__
#define __shared__ static

struct Index {
    unsigned x, y, z;
};
thread_local Index threadIdx;
thread_local Index blockIdx;
thread_local Index blockDim;
static std::barrier<>* block_barrier = nullptr;
inline void __syncthreads() { block_barrier->arrive_and_wait(); }

#include "data.cu"
#include "particles.cu"

// Threads per block of the per-particle kernels (-DTHREADS: src/gpu/data.rs THREADS).
#ifndef THREADS
#error "define THREADS"
#endif

static bool read_all(void* data, size_t bytes) { return fread(data, 1, bytes, stdin) == bytes; }

static std::vector<REAL> read_reals(size_t len, bool* ok) {
    std::vector<double> raw(len);
    *ok = *ok && read_all(raw.data(), len * sizeof(double));
    return std::vector<REAL>(raw.begin(), raw.end());
}

static bool write_reals(const std::vector<REAL>& values) {
    std::vector<double> out(values.begin(), values.end());
    return fwrite(out.data(), sizeof(double), out.size(), stdout) == out.size();
}

// Each thread of each block of a kernel without __syncthreads, one after the other.
template <class F>
static void sequential_grid(int blocks, F kernel) {
    for (int b = 0; b < blocks; ++b) {
        for (int t = 0; t < THREADS; ++t) {
            blockIdx = Index{(unsigned)b, 0, 0};
            threadIdx = Index{(unsigned)t, 0, 0};
            blockDim = Index{(unsigned)THREADS, 1, 1};
            kernel();
        }
    }
}

int main() {
    int64_t header[7];
    double scalar;
    if (!read_all(header, sizeof header) || !read_all(&scalar, sizeof scalar)) return 2;
    const int kernel = (int)header[0], m = (int)header[1], count = (int)header[2];
    const int first = (int)header[3], accumulate = (int)header[4], d = (int)header[5];
    const int n = (int)header[6];
    const size_t mz = (size_t)m * count;
    const int particle_blocks = (m + THREADS - 1) / THREADS;
    bool ok = true;
    if (kernel == 0) {
        auto a = read_reals(m, &ok), z = read_reals(mz, &ok), y = read_reals(n, &ok),
             r = read_reals(n, &ok);
        if (!ok) return 2;
        for (int b = 0; b < count; ++b) {
            std::barrier<> barrier(REDUCE);
            block_barrier = &barrier;
            std::vector<std::thread> threads;
            for (int t = 0; t < REDUCE; ++t) {
                threads.emplace_back([&, t, b] {
                    threadIdx = Index{(unsigned)t, 0, 0};
                    blockIdx = Index{(unsigned)b, 0, 0};
                    blockDim = Index{(unsigned)REDUCE, 1, 1};
                    data_forward(m, first, (REAL)scalar, a.data(), z.data(), y.data(), r.data());
                });
            }
            for (auto& thread : threads) thread.join();
        }
        return write_reals(r) ? 0 : 3;
    }
    if (kernel == 1) {
        auto z = read_reals(mz, &ok), r = read_reals(n, &ok), grad_a = read_reals(m, &ok);
        if (!ok) return 2;
        sequential_grid(particle_blocks, [&] {
            data_backward(m, count, first, accumulate, z.data(), r.data(), grad_a.data());
        });
        return write_reals(z) && write_reals(grad_a) ? 0 : 3;
    }
    if (kernel == 2) {
        auto a = read_reals(m, &ok), grad_a = read_reals(m, &ok),
             g = read_reals((size_t)m * d, &ok);
        if (!ok) return 2;
        std::vector<REAL> grad((size_t)m * (1 + d));
        sequential_grid(particle_blocks, [&] {
            data_gradient(m, d, (REAL)scalar, a.data(), grad_a.data(), g.data(), grad.data());
        });
        return write_reals(grad) ? 0 : 3;
    }
    const size_t len = (size_t)m * (1 + d);
    const int entry_blocks = (int)((len + THREADS - 1) / THREADS);
    const int train_a = count, train_w = first;
    if (kernel == 3) {
        auto coefficients = read_reals(2, &ok), theta = read_reals(len, &ok),
             v = read_reals(len, &ok);
        if (!ok) return 2;
        sequential_grid(entry_blocks, [&] {
            particle_drift(m, d, (REAL)scalar, coefficients[0], coefficients[1], train_a,
                           train_w, theta.data(), v.data());
        });
        return write_reals(v) ? 0 : 3;
    }
    if (kernel == 4) {
        auto x = read_reals(len, &ok), y = read_reals(len, &ok);
        if (!ok) return 2;
        sequential_grid(entry_blocks,
                        [&] { particle_axpy((long long)len, (REAL)scalar, x.data(), y.data()); });
        return write_reals(y) ? 0 : 3;
    }
    if (kernel == 5) {
        auto draws = read_reals(len, &ok), theta = read_reals(len, &ok);
        if (!ok) return 2;
        sequential_grid(entry_blocks, [&] {
            particle_noise(m, d, (REAL)scalar, train_a, train_w, draws.data(), theta.data());
        });
        return write_reals(theta) ? 0 : 3;
    }
    return 2;
}
