// segcore's CUDA emulator: runs the project's own .cu sources, compiled by the host compiler, on
// the CPU, so that the CUDA backend's kernels and host code are executed by the tests on machines
// without a GPU (CI). A test tool, never shipped: the real build compiles the same sources with
// nvcc.
//
// This header is force-included (-include) into every emulated translation unit; each .cu file
// first goes through tests/cuda_emu/rewrite.py, which turns `kernel<<<grid, block, shmem,
// stream>>>(args)` into `::segcore_emu::launch(...)(args)` and `extern __shared__ T x[]` into a
// pointer to the launch's dynamic shared memory. Nothing else in the sources changes.
//
// The execution model (tests/cuda_emu/emu_runtime.cpp):
// - A launch runs its blocks one after another on the calling thread. A block's threads are
//   fibers (one stack each) scheduled cooperatively: a thread runs until it reaches a barrier
//   (__syncthreads, a warp-synchronous operation) or returns. Between barriers the threads run in
//   a pseudo-random order that changes with every round, so code that reads shared memory another
//   thread writes without a barrier in between sees stale data.
// - Checked, with a message naming the kernel and the thread, then abort(): a __syncthreads that
//   not every live thread of the block reaches (deadlock), a warp-synchronous operation whose
//   mask names a lane that has exited or waits elsewhere, cp.async copies of a wrong size or
//   alignment, vector loads and stores (float4, float2, double) at addresses their alignment
//   does not divide (UBSan's alignment check, cuda_emu.cmake), launch configurations the
//   hardware rejects (returned as CUDA errors, as the runtime does), dynamic shared memory above
//   48 KiB without the opt-in attribute.
// - Device memory is page-guarded: each cudaMalloc ends at an inaccessible page (reads or writes
//   more than 256 bytes past the end fault) and starts filled with 0xff bytes (NaN doubles, -1
//   integers), as is every block's dynamic shared memory, so reads of memory nobody wrote show.
// - CUB's block primitives are emulated with the same contracts (temp storage in the kernel's
//   shared memory, reductions valid in thread 0 only: other threads get a poison value).
//   Thrust runs on its sequential CPU backend; cuBLAS GEMM is a plain loop.
// What it does not model: timing, concurrency between streams, the memory model (a missing
// __threadfence), static __shared__ variables are not poisoned between blocks, and floating-point
// reductions inside CUB and cuBLAS add in a different order than the hardware.
#pragma once

/// Set in emulated translation units: device code that has an inline-assembly spelling on the GPU
/// (the tensor-core mma) calls the emulator's model of it instead.
#define SEGCORE_CUDA_EMU 1

#include <cuda_runtime.h>
#include <math.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

// ---- keywords ----
#undef __shared__
#define __shared__ static  // one block runs at a time: a static is the block's shared variable
#undef __launch_bounds__
#define __launch_bounds__(...)

namespace segcore_emu {

// ---- the running thread ----
struct ThreadPlace {
  uint3 thread_idx;
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
  int linear;  // threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)
};
const ThreadPlace& place();
void* dynamic_shared();

// ---- synchronisation ----
void syncthreads(const char* file, int line);
void syncwarp(unsigned mask);
/// Warp exchange: every lane of `mask` deposits `bytes` from `in`; after all have, out = the
/// deposit of lane `src` (which must be in the mask).
void warp_exchange(unsigned mask, const void* in, void* out, std::size_t bytes, int src);
/// Warp gather: every lane of `mask` deposits `bytes` (at most 16) from `in`; after all have,
/// out[l * bytes ...] = the deposit of lane l for every lane l of the mask.
void warp_gather(unsigned mask, const void* in, std::size_t bytes, void* out);
[[noreturn]] void fail(const char* what);

inline int lane() { return place().linear & 31; }

template <typename T>
T shfl_from(unsigned mask, T v, int src) {
  static_assert(sizeof(T) <= 16 && std::is_trivially_copyable_v<T>, "shuffle of a large type");
  T out;
  warp_exchange(mask, &v, &out, sizeof(T), src);
  return out;
}

/// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 with D = C in place: the whole warp's
/// fragments gathered, then each lane's four outputs D[r][n] = C[r][n] + sum_kk A[r][kk]
/// B[kk][n] in float, kk from 0 up (the hardware's order is its own; products of TF32 values are
/// exact in float). Fragment layout (PTX ISA), g = lane / 4, t = lane % 4: a0 A[g][t],
/// a1 A[g+8][t], a2 A[g][t+4], a3 A[g+8][t+4]; b0 B[t][g], b1 B[t+4][g]; c0 C[g][2t],
/// c1 C[g][2t+1], c2 C[g+8][2t], c3 C[g+8][2t+1]. The low 13 bits of A and B are dropped.
inline void mma_m16n8k8_tf32(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
  unsigned all_a[32][4], all_b[32][2];
  float all_c[32][4];
  warp_gather(0xffffffffu, a, sizeof a, all_a);
  warp_gather(0xffffffffu, b, sizeof b, all_b);
  warp_gather(0xffffffffu, d, sizeof d, all_c);
  const auto value = [](unsigned bits) {
    bits &= 0xffffe000u;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  };
  const int l = lane(), g = l >> 2, t = l & 3;
  for (int q = 0; q < 4; ++q) {
    const int r = g + 8 * (q >> 1), n = 2 * t + (q & 1);
    float acc = all_c[l][q];
    for (int kk = 0; kk < 8; ++kk) {
      const float av = value(all_a[4 * (r % 8) + kk % 4][(r >= 8 ? 1 : 0) + (kk >= 4 ? 2 : 0)]);
      const float bv = value(all_b[4 * n + kk % 4][kk >= 4 ? 1 : 0]);
      acc += av * bv;
    }
    d[q] = acc;
  }
}

// ---- cp.async (cuda_pipeline.h) ----
void pipeline_copy(void* dst, const void* src, std::size_t bytes);
void pipeline_commit();
void pipeline_wait_prior(std::size_t n);

// ---- launches ----
struct LaunchConfig {
  const char* name;
  const void* func;
  dim3 grid, block;
  std::size_t shared;
  cudaStream_t stream;
};
/// Validates the configuration (false: the error is set for cudaGetLastError) and runs `body` for
/// every thread of every block.
bool run_grid(const LaunchConfig& cfg, const std::function<void()>& body);

template <typename... P>
class Launch {
 public:
  Launch(const char* name, void (*k)(P...), dim3 grid, dim3 block, std::size_t shared,
         cudaStream_t stream)
      : cfg_{name, reinterpret_cast<const void*>(k), grid, block, shared, stream}, k_(k) {}
  template <typename... A>
  void operator()(A&&... a) const {
    const std::tuple<std::decay_t<P>...> args(std::forward<A>(a)...);
    auto* k = k_;
    // Every thread gets its own copy of the parameters, as on the device.
    run_grid(cfg_, [&args, k] { std::apply(k, std::tuple<std::decay_t<P>...>(args)); });
  }

 private:
  LaunchConfig cfg_;
  void (*k_)(P...);
};

template <typename... P>
Launch<P...> launch(const char* name, void (*k)(P...), dim3 grid, dim3 block,
                    std::size_t shared = 0, cudaStream_t stream = nullptr) {
  return Launch<P...>(name, k, grid, block, shared, stream);
}

}  // namespace segcore_emu

// The runtime's kernel-pointer overloads (nvcc's cuda_runtime.h has them for device code only).
template <typename... P>
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attr, void (*k)(P...)) {
  return cudaFuncGetAttributes(attr, reinterpret_cast<const void*>(k));
}
template <typename... P>
cudaError_t cudaFuncSetAttribute(void (*k)(P...), cudaFuncAttribute attr, int value) {
  return cudaFuncSetAttribute(reinterpret_cast<const void*>(k), attr, value);
}
template <typename... P>
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, void (*k)(P...), int threads,
                                                          std::size_t shared) {
  return cudaOccupancyMaxActiveBlocksPerMultiprocessor(blocks, reinterpret_cast<const void*>(k),
                                                       threads, shared);
}

#define threadIdx (::segcore_emu::place().thread_idx)
#define blockIdx (::segcore_emu::place().block_idx)
#define blockDim (::segcore_emu::place().block_dim)
#define gridDim (::segcore_emu::place().grid_dim)
inline constexpr int warpSize = 32;

// ---- device functions and intrinsics (global namespace, as CUDA has them) ----
// A macro, so that the barrier knows its place in the source: every thread must wait at the same
// __syncthreads (the divergent-barrier check).
#define __syncthreads() ::segcore_emu::syncthreads(__FILE__, __LINE__)
inline void __syncwarp(unsigned mask = 0xffffffffu) { ::segcore_emu::syncwarp(mask); }

template <typename T>
T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
  const int l = ::segcore_emu::lane();
  return ::segcore_emu::shfl_from(mask, v, (l & ~(width - 1)) + (src & (width - 1)));
}
template <typename T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  const int l = ::segcore_emu::lane();
  const int src = l ^ lane_mask;
  return ::segcore_emu::shfl_from(mask, v, (src & ~(width - 1)) == (l & ~(width - 1)) ? src : l);
}
template <typename T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  const int l = ::segcore_emu::lane();
  const int src = l + static_cast<int>(delta);
  return ::segcore_emu::shfl_from(mask, v, (src & ~(width - 1)) == (l & ~(width - 1)) ? src : l);
}
unsigned __ballot_sync(unsigned mask, int predicate);

template <typename T>
T atomicAdd(T* address, T v) {  // one host thread runs every block: no race to model
  const T old = *address;
  *address = old + v;
  return old;
}

template <typename T>
T __ldg(const T* p) {
  return *p;
}

inline float __int_as_float(int v) {
  float f;
  std::memcpy(&f, &v, sizeof f);
  return f;
}
inline unsigned __float_as_uint(float v) {
  unsigned u;
  std::memcpy(&u, &v, sizeof u);
  return u;
}
inline float __uint_as_float(unsigned v) {
  float f;
  std::memcpy(&f, &v, sizeof f);
  return f;
}
inline int __ffs(unsigned v) { return v ? __builtin_ctz(v) + 1 : 0; }
inline int __clz(int v) { return v ? __builtin_clz(static_cast<unsigned>(v)) : 32; }
inline double __longlong_as_double(long long v) {
  double f;
  std::memcpy(&f, &v, sizeof f);
  return f;
}
// Correctly rounded operations: the emulated sources are compiled without contraction.
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }

// CUDA's min and max take mixed integer types; std's do not.
template <typename A, typename B>
inline std::common_type_t<A, B> min(A a, B b) {
  using C = std::common_type_t<A, B>;
  return static_cast<C>(b) < static_cast<C>(a) ? static_cast<C>(b) : static_cast<C>(a);
}
template <typename A, typename B>
inline std::common_type_t<A, B> max(A a, B b) {
  using C = std::common_type_t<A, B>;
  return static_cast<C>(a) < static_cast<C>(b) ? static_cast<C>(b) : static_cast<C>(a);
}
using std::fabs;
using std::fma;
using std::fmax;
using std::fmin;
using std::isfinite;
using std::isinf;
using std::isnan;
using std::sqrt;

// Thrust runs on its sequential host system; `thrust::cuda::par.on(stream)` maps to it.
#include <thrust/execution_policy.h>
namespace thrust::cuda {
struct EmulatedPolicy {
  auto on(cudaStream_t) const { return thrust::cpp::par; }
};
inline constexpr EmulatedPolicy par{};
}  // namespace thrust::cuda
