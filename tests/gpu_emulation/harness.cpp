// Runs src/gpu/population.cu on the CPU, for tests/gpu.rs: each CUDA block is TILE host threads
// that share the kernel's __shared__ arrays (static locals: one block runs at a time) and meet
// at __syncthreads() on a barrier, so the kernel's indexing, tiling, padding and self-pair rule
// are exercised exactly as written, without a GPU. Compiled with the NVRTC defines (REAL, DIM,
// ACT_*, TILE, LTILE) and -ffp-contract=off.
//
// stdin:  int64 m, int64 d, then float64 a[m], w[m d] (column-major), q[m]
// stdout: float64 value[m], cross[m], direction[m d] (column-major)
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
static std::barrier<>* block_barrier = nullptr;
inline void __syncthreads() { block_barrier->arrive_and_wait(); }
inline double __dmul_rn(double x, double y) { return x * y; }
inline float __fmul_rn(float x, float y) { return x * y; }
inline int min(int x, int y) { return x < y ? x : y; }

#include "population.cu"

static bool read_all(void* data, size_t bytes) { return fread(data, 1, bytes, stdin) == bytes; }

int main() {
    int64_t header[2];
    if (!read_all(header, sizeof header)) return 2;
    const int m = (int)header[0];
    const int d = (int)header[1];
    if (d != DIM) {
        fprintf(stderr, "harness compiled for DIM = %d, input has d = %d\n", DIM, d);
        return 2;
    }
    std::vector<double> input((size_t)m * (d + 2));
    if (!read_all(input.data(), input.size() * sizeof(double))) return 2;
    std::vector<REAL> a(m), w((size_t)m * d), q(m);
    for (int j = 0; j < m; ++j) a[j] = (REAL)input[j];
    for (size_t i = 0; i < (size_t)m * d; ++i) w[i] = (REAL)input[m + i];
    for (int j = 0; j < m; ++j) q[j] = (REAL)input[(size_t)m * (d + 1) + j];
    std::vector<REAL> value(m), cross(m), direction((size_t)m * d);
    const int blocks = (m + TILE - 1) / TILE;
    for (int b = 0; b < blocks; ++b) {
        std::barrier<> barrier(TILE);
        block_barrier = &barrier;
        std::vector<std::thread> threads;
        for (int t = 0; t < TILE; ++t) {
            threads.emplace_back([&, t, b] {
                threadIdx = Index{(unsigned)t, 0, 0};
                blockIdx = Index{(unsigned)b, 0, 0};
                population_interaction(m, a.data(), w.data(), q.data(), value.data(), cross.data(),
                                       direction.data());
            });
        }
        for (auto& thread : threads) thread.join();
    }
    std::vector<double> output;
    for (REAL v : value) output.push_back((double)v);
    for (REAL v : cross) output.push_back((double)v);
    for (REAL v : direction) output.push_back((double)v);
    return fwrite(output.data(), sizeof(double), output.size(), stdout) == output.size() ? 0 : 3;
}
