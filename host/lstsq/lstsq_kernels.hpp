// segcore: the per-problem batched least-squares kernel, compiled for baseline x86-64 and for
// AVX2+FMA (like the Lloyd kernels) and chosen at run time; the rare QR path lives in
// batched_lstsq.cpp, where Eigen is.
#pragma once

#include <cstddef>

#include "segcore/lstsq.hpp"

namespace segcore::lstsq_detail {

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

/// The fastest kernel this processor supports, and its name ("avx2+fma" or "baseline").
template <typename T>
RangeKernel<T> range_kernel();
const char* range_kernel_isa();

#define SEGCORE_DECLARE_LSTSQ_KERNELS(ns)                                                   \
  namespace ns {                                                                            \
  template <typename T>                                                                     \
  std::size_t solve_range(const LstsqBatch<T>& batch, const Config& cfg, std::size_t begin, \
                          std::size_t end, LstsqResult& r);                                 \
  }
SEGCORE_DECLARE_LSTSQ_KERNELS(base)
SEGCORE_DECLARE_LSTSQ_KERNELS(avx2)
#undef SEGCORE_DECLARE_LSTSQ_KERNELS

}  // namespace segcore::lstsq_detail
