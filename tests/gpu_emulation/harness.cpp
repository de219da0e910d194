// Runs src/gpu/population.cu on the CPU, for tests/gpu.rs: each CUDA block is TILE host threads
// that share the kernel's __shared__ arrays (static locals: one block runs at a time) and meet
// at __syncthreads() on a barrier, so the kernel's indexing, tiling, padding and self-pair rule
// are exercised exactly as written, without a GPU. Compiled with the NVRTC defines (REAL, DIM,
// ACT_*, TILE, LTILE) and -ffp-contract=off.
//
// stdin:  int64 kernel, m, d, n, same; float64 scale; then float64 arrays (column-major):
//   0 population_interaction: w[m d], q[m], a_l[n], w_l[n d], q_l[n]
//                                          -> stdout value[m], cross[m], direction[m d]
//   1 population_norms: theta[m (1 + d)]    -> stdout q[m]
//   2 population_gradient: theta[m (1 + d)], q[m], value[m], cross[m], direction[m d],
//     t_value[m], t_cross[m], t_direction[m d]
//                                          -> stdout grad[m (1 + d)], energy[2 m]
// The per-particle kernels (1, 2) run as blocks of THREADS threads, one after the other.
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <thread>
#include <vector>

using std::atan2;
using std::fma;
using std::sqrt;

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(x)
#define __shared__ static

struct Index {
    unsigned x, y, z;
};
thread_local Index threadIdx;
thread_local Index blockIdx;
thread_local Index blockDim;
static std::barrier<>* block_barrier = nullptr;
inline void __syncthreads() { block_barrier->arrive_and_wait(); }
inline double __dmul_rn(double x, double y) { return x * y; }
inline float __fmul_rn(float x, float y) { return x * y; }
inline int min(int x, int y) { return x < y ? x : y; }

#include "population.cu"

static bool read_all(void* data, size_t bytes) { return fread(data, 1, bytes, stdin) == bytes; }

static std::vector<REAL> read_reals(size_t len, bool* ok) {
    std::vector<double> raw(len);
    *ok = *ok && read_all(raw.data(), len * sizeof(double));
    return std::vector<REAL>(raw.begin(), raw.end());
}

static void append(std::vector<double>* out, const std::vector<REAL>& values) {
    for (REAL v : values) out->push_back((double)v);
}

#ifndef THREADS
#define THREADS 256
#endif

int main() {
    int64_t header[5];
    double scale;
    if (!read_all(header, sizeof header) || !read_all(&scale, sizeof scale)) return 2;
    const int kernel = (int)header[0], m = (int)header[1], d = (int)header[2];
    const int n = (int)header[3], same = (int)header[4];
    if (d != DIM) {
        fprintf(stderr, "harness compiled for DIM = %d, input has d = %d\n", DIM, d);
        return 2;
    }
    const size_t md = (size_t)m * d, width = (size_t)m * (1 + d);
    bool ok = true;
    std::vector<double> output;
    if (kernel == 0) {
        auto w = read_reals(md, &ok), q = read_reals(m, &ok), a_l = read_reals(n, &ok),
             w_l = read_reals((size_t)n * d, &ok), q_l = read_reals(n, &ok);
        if (!ok) return 2;
        std::vector<REAL> value(m), cross(m), direction(md);
        const int blocks = (m + TILE - 1) / TILE;
        for (int b = 0; b < blocks; ++b) {
            std::barrier<> barrier(TILE);
            block_barrier = &barrier;
            std::vector<std::thread> threads;
            for (int t = 0; t < TILE; ++t) {
                threads.emplace_back([&, t, b] {
                    threadIdx = Index{(unsigned)t, 0, 0};
                    blockIdx = Index{(unsigned)b, 0, 0};
                    blockDim = Index{(unsigned)TILE, 1, 1};
                    population_interaction(m, n, same, w.data(), q.data(), a_l.data(),
                                           w_l.data(), q_l.data(), value.data(), cross.data(),
                                           direction.data());
                });
            }
            for (auto& thread : threads) thread.join();
        }
        append(&output, value);
        append(&output, cross);
        append(&output, direction);
    } else {
        const int blocks = (m + THREADS - 1) / THREADS;
        auto grid = [&](auto launch) {
            for (int b = 0; b < blocks; ++b) {
                for (int t = 0; t < THREADS; ++t) {
                    threadIdx = Index{(unsigned)t, 0, 0};
                    blockIdx = Index{(unsigned)b, 0, 0};
                    blockDim = Index{(unsigned)THREADS, 1, 1};
                    launch();
                }
            }
        };
        if (kernel == 1) {
            auto theta = read_reals(width, &ok);
            if (!ok) return 2;
            std::vector<REAL> q(m);
            grid([&] { population_norms(m, theta.data(), q.data()); });
            append(&output, q);
        } else if (kernel == 2) {
            auto theta = read_reals(width, &ok), q = read_reals(m, &ok),
                 value = read_reals(m, &ok), cross = read_reals(m, &ok),
                 direction = read_reals(md, &ok), t_value = read_reals(m, &ok),
                 t_cross = read_reals(m, &ok), t_direction = read_reals(md, &ok);
            if (!ok) return 2;
            std::vector<REAL> grad(width), energy(2 * (size_t)m);
            grid([&] {
                population_gradient(m, (REAL)scale, theta.data(), q.data(), value.data(),
                                    cross.data(), direction.data(), t_value.data(),
                                    t_cross.data(), t_direction.data(), grad.data(),
                                    energy.data());
            });
            append(&output, grad);
            append(&output, energy);
        } else {
            return 2;
        }
    }
    return fwrite(output.data(), sizeof(double), output.size(), stdout) == output.size() ? 0 : 3;
}
