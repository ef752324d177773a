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

/// Centroids repacked for the kernel: panels of P = 2 * (kVectorBytes / sizeof(T)) centroids,
/// each panel stored as d rows of P values (centroid-minor), so one row of a panel is two vector
/// loads. Padding centroids have norm +inf and are never chosen.
template <typename T>
struct PackedCentroids {
  static constexpr std::size_t kLanes = kVectorBytes / sizeof(T);
  static constexpr std::size_t kPanel = 2 * kLanes;
  std::size_t k = 0;
  std::size_t d = 0;
  std::size_t panels = 0;
  std::vector<T> ct;     ///< panels x d x kPanel
  std::vector<T> norms;  ///< panels x kPanel: ||c||^2, +inf for padding
};

template <typename T>
void pack_centroids(ConstMatrixView<T> centroids, PackedCentroids<T>& out);

/// labels[i] = argmin_j (||c_j||^2 - 2 x_i . c_j) over the packed centroids, ties to the lowest
/// j, for the `rows` rows of x (rows x d, row-major).
template <typename T>
using AssignKernel = void (*)(const PackedCentroids<T>& centroids, const T* x, std::size_t rows,
                              std::int32_t* labels);

/// The fastest kernel this processor supports.
template <typename T>
AssignKernel<T> assign_kernel();

/// "avx2+fma" or "baseline": what assign_kernel() picks on this processor.
const char* assign_kernel_isa();

namespace base {
template <typename T>
void assign_nearest(const PackedCentroids<T>& centroids, const T* x, std::size_t rows,
                    std::int32_t* labels);
}
namespace avx2 {
template <typename T>
void assign_nearest(const PackedCentroids<T>& centroids, const T* x, std::size_t rows,
                    std::int32_t* labels);
}

}  // namespace segcore::cpu
