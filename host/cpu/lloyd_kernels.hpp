// segcore internal: the CPU nearest-centroid kernel, compiled once per instruction set and chosen
// at run time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "segcore/matrix.hpp"

namespace segcore::cpu {

/// Vector width the kernels are written for (bytes): 8 floats or 4 doubles.
constexpr std::size_t kVectorBytes = 32;

/// Centroids repacked for the kernel: panels of `panel` centroids (one vector of L =
/// kVectorBytes / sizeof(T) lanes when k <= L, else two vectors), each panel stored as d rows
/// of `panel` values (centroid-minor), so one row of a panel is one or two vector loads.
/// Padding centroids have norm +inf and are never chosen.
template <typename T>
struct PackedCentroids {
  static constexpr std::size_t kLanes = kVectorBytes / sizeof(T);
  std::size_t k = 0;
  std::size_t d = 0;
  std::size_t panel = 0;  ///< kLanes or 2 * kLanes
  std::size_t panels = 0;
  std::vector<T> ct;     ///< panels x d x panel
  std::vector<T> norms;  ///< panels x panel: ||c||^2, +inf for padding
};

/// Largest k the kernels take: indices travel as T values, exact up to 2^24 in float.
constexpr std::size_t kMaxKernelClusters = std::size_t{1} << 24;

template <typename T>
void pack_centroids(ConstMatrixView<T> centroids, PackedCentroids<T>& out);

/// labels[i] = argmin_j (||c_j||^2 - 2 x_i . c_j) over the packed centroids, ties to the lowest
/// j, for the `rows` rows of x (rows x d, row-major).
template <typename T>
using AssignKernel = void (*)(const PackedCentroids<T>& centroids, const T* x, std::size_t rows,
                              std::int32_t* labels);

/// Per-tile partial results of a Lloyd pass.
struct TileTotals {
  double inertia = 0.0;
  std::int64_t changed = 0;
};

/// One tile of a Lloyd pass: assigns the `rows` rows of x (rows x d) to the nearest of the
/// packed centroids, counts and stores changed labels (labels: rows, in/out), with `inertia`
/// adds w_i ||x_i - c||^2 (exact, in double) to totals.inertia, and when `sums` is given adds
/// w_i x_i to sums (k x d) and w_i to weight_sums (k). centroids: k x d row-major (the unpacked
/// ones); weights: rows values or nullptr for ones; scratch: rows labels of workspace.
template <typename T>
using LloydTileKernel = void (*)(const PackedCentroids<T>& packed, const T* centroids, const T* x,
                                 const T* weights, std::size_t rows, std::int32_t* labels,
                                 std::int32_t* scratch, double* sums, double* weight_sums,
                                 bool inertia, TileTotals& totals);

/// The fastest kernels this processor supports.
template <typename T>
AssignKernel<T> assign_kernel();
template <typename T>
LloydTileKernel<T> lloyd_tile_kernel();

/// "avx2+fma" or "baseline": what assign_kernel() picks on this processor.
const char* assign_kernel_isa();

#define SEGCORE_DECLARE_KERNELS(ns)                                                                \
  namespace ns {                                                                                   \
  template <typename T>                                                                            \
  void assign_nearest(const PackedCentroids<T>& centroids, const T* x, std::size_t rows,           \
                      std::int32_t* labels);                                                       \
  template <typename T>                                                                            \
  void lloyd_tile(const PackedCentroids<T>& packed, const T* centroids, const T* x,                \
                  const T* weights, std::size_t rows, std::int32_t* labels, std::int32_t* scratch, \
                  double* sums, double* weight_sums, bool inertia, TileTotals& totals);            \
  }
SEGCORE_DECLARE_KERNELS(base)
SEGCORE_DECLARE_KERNELS(avx2)
#undef SEGCORE_DECLARE_KERNELS

}  // namespace segcore::cpu
