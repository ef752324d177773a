// segcore: the per-problem batched least-squares kernel, compiled for baseline x86-64 and for
// AVX2+FMA (like the Lloyd kernels) and chosen at run time; the rare QR path lives in
// batched_lstsq.cpp, where Eigen is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "segcore/lstsq.hpp"

namespace segcore::lstsq_detail {

/// cond_1 of the Cholesky factor is within a factor p of cond_2(W^(1/2) A); 100 keeps the normal
/// equations' cond^2 * eps error a factor >= 10 below the 1000 * cond * eps accuracy target.
/// The CPU kernel and the CUDA kernel use the same limit.
inline constexpr double kCholeskyCondLimit = 100.0;

/// Options every problem of a batch shares.
struct Config {
  double ridge = 0;
  int skip = -1;
  double rcond = -1;
};

/// Minimum-norm solution of min ||W^(1/2) (A x - b)||^2 + ridge ||x||^2 (column `skip`
/// unpenalised) by a complete orthogonal decomposition of the weighted system stacked on
/// sqrt(ridge) I. Returns the rank; writes p values to x.
template <typename T>
int solve_cod(const T* a, const T* b, const T* w, std::size_t rows, std::size_t p,
              const Config& cfg, double rcond, double* x);

/// Solves problems [begin, end) of `batch` (p = batch.a.cols) into `r`; returns how many took
/// the QR path.
template <typename T>
using RangeKernel = std::size_t (*)(const LstsqBatch<T>& batch, const Config& cfg,
                                    std::size_t begin, std::size_t end, LstsqResult& r);

/// Solves problems list[begin .. end) of `batch` into `r` by the QR path, without trying the
/// Cholesky factorisation first (the problems the CUDA kernel's guard rejected); returns how many
/// took the QR path (all but the non-finite ones).
template <typename T>
using ListKernel = std::size_t (*)(const LstsqBatch<T>& batch, const Config& cfg,
                                   const std::int64_t* list, std::size_t begin, std::size_t end,
                                   LstsqResult& r);

/// The fastest kernel this processor supports, and its name ("avx2+fma" or "baseline").
template <typename T>
RangeKernel<T> range_kernel();
template <typename T>
ListKernel<T> list_kernel();
const char* range_kernel_isa();

/// The checks lstsq_batched makes before solving (InvalidArgument on failure).
template <typename T>
void validate(const LstsqBatch<T>& batch, const LstsqParams& params);

/// A result for n problems of p coefficients, every array sized and zeroed, its pages faulted in
/// by `threads` threads (0 = all) rather than by one serial fill.
LstsqResult sized_result(std::size_t n, std::size_t p, int threads);

/// "cpu (avx2+fma)" or "cpu (baseline)": LstsqResult::backend of the CPU path.
std::string cpu_backend_name();

/// The host half of the CUDA path: solves the `count` problems in `list` (distinct indices, any
/// order) of a validated batch on the CPU by the QR path, in parallel over params.threads, into
/// `r` (already sized for the batch); returns how many took the QR path. The CPU kernel's code,
/// so these problems get exactly the CPU path's QR answer.
template <typename T>
std::size_t solve_listed_on_cpu(const LstsqBatch<T>& batch, const LstsqParams& params,
                                const std::int64_t* list, std::size_t count, LstsqResult& r);

#define SEGCORE_DECLARE_LSTSQ_KERNELS(ns)                                                   \
  namespace ns {                                                                            \
  template <typename T>                                                                     \
  std::size_t solve_range(const LstsqBatch<T>& batch, const Config& cfg, std::size_t begin, \
                          std::size_t end, LstsqResult& r);                                 \
  template <typename T>                                                                     \
  std::size_t solve_list_qr(const LstsqBatch<T>& batch, const Config& cfg,                  \
                            const std::int64_t* list, std::size_t begin, std::size_t end,   \
                            LstsqResult& r);                                                \
  }
SEGCORE_DECLARE_LSTSQ_KERNELS(base)
SEGCORE_DECLARE_LSTSQ_KERNELS(avx2)
#undef SEGCORE_DECLARE_LSTSQ_KERNELS

}  // namespace segcore::lstsq_detail
