// The nearest-centroid kernel for the baseline instruction set, the packing of centroids, and
// the run-time choice between kernels.
#define SEGCORE_KERNEL_NS base
#include <algorithm>

#include "cpu/isa.hpp"
#include "cpu/lloyd_kernels.inl"

namespace segcore::cpu {

template <typename T>
void pack_centroids(ConstMatrixView<T> c, PackedCentroids<T>& out) {
  constexpr std::size_t L = PackedCentroids<T>::kLanes;
  const std::size_t P = c.rows <= L ? L : 2 * L;
  out.k = c.rows;
  out.d = c.cols;
  out.panel = P;
  out.panels = (c.rows + P - 1) / P;
  out.ct.assign(out.panels * c.cols * P, T(0));
  out.norms.assign(out.panels * P, std::numeric_limits<T>::infinity());
  for (std::size_t j = 0; j < c.rows; ++j) {
    const std::size_t p = j / P, lane = j % P;
    T norm = 0;
    for (std::size_t f = 0; f < c.cols; ++f) {
      const T v = c(j, f);
      out.ct[(p * c.cols + f) * P + lane] = v;
      norm += v * v;
    }
    out.norms[p * P + lane] = norm;
  }
}

template void pack_centroids<float>(ConstMatrixView<float>, PackedCentroids<float>&);
template void pack_centroids<double>(ConstMatrixView<double>, PackedCentroids<double>&);

bool has_avx2_fma() {
#if defined(SEGCORE_HAVE_AVX2_KERNELS) && (defined(__GNUC__) || defined(__clang__))
  static const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return supported;
#else
  return false;
#endif
}

template <typename T>
AssignKernel<T> assign_kernel() {
#if defined(SEGCORE_HAVE_AVX2_KERNELS)
  if (has_avx2_fma()) return &avx2::assign_nearest<T>;
#endif
  return &base::assign_nearest<T>;
}

template <typename T>
LloydTileKernel<T> lloyd_tile_kernel() {
#if defined(SEGCORE_HAVE_AVX2_KERNELS)
  if (has_avx2_fma()) return &avx2::lloyd_tile<T>;
#endif
  return &base::lloyd_tile<T>;
}

template AssignKernel<float> assign_kernel<float>();
template AssignKernel<double> assign_kernel<double>();
template LloydTileKernel<float> lloyd_tile_kernel<float>();
template LloydTileKernel<double> lloyd_tile_kernel<double>();

const char* assign_kernel_isa() { return has_avx2_fma() ? "avx2+fma" : "baseline"; }

}  // namespace segcore::cpu
