// segcore internal: body of the CPU nearest-centroid kernel. Included by one .cpp per
// instruction set with SEGCORE_KERNEL_NS naming the namespace; the AVX2 one is compiled with
// -mavx2 -mfma. Written with GCC/Clang vector extensions so the register blocking is explicit:
// a block of R rows against a panel of NV vectors of centroids keeps R * NV accumulators in
// registers (8 with R * NV = 8, enough to cover the FMA latency on two pipes).
#include <cstring>
#include <limits>

#include "cpu/lloyd_kernels.hpp"

namespace segcore::cpu::SEGCORE_KERNEL_NS {
namespace {

template <typename T>
struct VecOf;
template <>
struct VecOf<float> {
  typedef float type __attribute__((vector_size(kVectorBytes)));
  typedef int mask __attribute__((vector_size(kVectorBytes)));
};
template <>
struct VecOf<double> {
  typedef double type __attribute__((vector_size(kVectorBytes)));
  typedef long long mask __attribute__((vector_size(kVectorBytes)));
};

template <typename V, typename T>
inline V load(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}

template <typename V>
inline V vmin(V a, V b) {
  return a < b ? a : b;
}

// A permutation of v's lanes by literal indices (GCC and clang spell it differently).
#if defined(__clang__)
#define SEGCORE_PERMUTE(M, v, ...) __builtin_shufflevector(v, v, __VA_ARGS__)
#else
#define SEGCORE_PERMUTE(M, v, ...) __builtin_shuffle(v, M{__VA_ARGS__})
#endif

/// Every lane of the result holds the minimum over the lanes of v (a butterfly of shuffles with
/// literal masks, so each step is one permute and one min).
inline VecOf<float>::type horizontal_min(VecOf<float>::type v) {
  using M = VecOf<float>::mask;
  v = vmin(v, SEGCORE_PERMUTE(M, v, 4, 5, 6, 7, 0, 1, 2, 3));
  v = vmin(v, SEGCORE_PERMUTE(M, v, 2, 3, 0, 1, 6, 7, 4, 5));
  return vmin(v, SEGCORE_PERMUTE(M, v, 1, 0, 3, 2, 5, 4, 7, 6));
}

inline VecOf<double>::type horizontal_min(VecOf<double>::type v) {
  using M = VecOf<double>::mask;
  v = vmin(v, SEGCORE_PERMUTE(M, v, 2, 3, 0, 1));
  return vmin(v, SEGCORE_PERMUTE(M, v, 1, 0, 3, 2));
}
#undef SEGCORE_PERMUTE

template <typename T, int R, int NV>
inline void assign_block(const PackedCentroids<T>& pc, const T* x, std::int32_t* labels) {
  using V = typename VecOf<T>::type;
  constexpr int L = static_cast<int>(PackedCentroids<T>::kLanes);
  constexpr int P = NV * L;
  const std::size_t d = pc.d;
  const T inf = std::numeric_limits<T>::infinity();

  V lane;  // 0, 1, ..., L-1 as T: the index of each lane within a vector
  for (int l = 0; l < L; ++l) lane[l] = static_cast<T>(l);

  V best[R][NV], idx[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) {
      best[r][v] = V{} + inf;
      idx[r][v] = V{};
    }
  const T* ct = pc.ct.data();
  for (std::size_t p = 0; p < pc.panels; ++p, ct += d * P) {
    V acc[R][NV];
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < NV; ++v) acc[r][v] = V{};
    for (std::size_t j = 0; j < d; ++j) {
      V c[NV];
      for (int v = 0; v < NV; ++v) c[v] = load<V>(ct + j * P + v * L);
      for (int r = 0; r < R; ++r) {
        const T xr = x[r * d + j];
        for (int v = 0; v < NV; ++v) acc[r][v] += xr * c[v];
      }
    }
    for (int v = 0; v < NV; ++v) {
      const V norm = load<V>(pc.norms.data() + p * P + v * L);
      const V base = lane + static_cast<T>(p * P + v * L);
      for (int r = 0; r < R; ++r) {
        // Strictly smaller wins and panels come in increasing order: each lane keeps its lowest
        // index among equal values.
        const V val = norm - (acc[r][v] + acc[r][v]);
        const auto m = val < best[r][v];
        best[r][v] = m ? val : best[r][v];
        idx[r][v] = m ? base : idx[r][v];
      }
    }
  }
  // Across lanes: the smallest value, and among lanes holding it the smallest index.
  const V none = V{} + inf;
  for (int r = 0; r < R; ++r) {
    V b = best[r][0];
    for (int v = 1; v < NV; ++v) b = vmin(b, best[r][v]);
    const V m = horizontal_min(b);
    V cand = best[r][0] == m ? idx[r][0] : none;
    for (int v = 1; v < NV; ++v) cand = vmin(cand, best[r][v] == m ? idx[r][v] : none);
    labels[r] = static_cast<std::int32_t>(horizontal_min(cand)[0]);
  }
}

template <typename T, int R, int NV>
void assign_rows(const PackedCentroids<T>& pc, const T* x, std::size_t rows, std::int32_t* labels) {
  std::size_t i = 0;
  for (; i + R <= rows; i += R) assign_block<T, R, NV>(pc, x + i * pc.d, labels + i);
  for (; i < rows; ++i) assign_block<T, 1, NV>(pc, x + i * pc.d, labels + i);
}

/// ||x - c||^2 in double with four interleaved partial sums (a fixed order), and, when s is
/// given, s += w * x. Without kDistance, only the sums (c is not read; 0 is returned).
template <bool kDistance, typename T>
inline double distance_and_accumulate(const T* x, const T* c, std::size_t d, double w, double* s) {
  typedef double D4 __attribute__((vector_size(32)));
  D4 acc = {0.0, 0.0, 0.0, 0.0};
  std::size_t f = 0;
  for (; f + 4 <= d; f += 4) {
    const D4 xv = {static_cast<double>(x[f]), static_cast<double>(x[f + 1]),
                   static_cast<double>(x[f + 2]), static_cast<double>(x[f + 3])};
    if constexpr (kDistance) {
      const D4 cv = {static_cast<double>(c[f]), static_cast<double>(c[f + 1]),
                     static_cast<double>(c[f + 2]), static_cast<double>(c[f + 3])};
      const D4 diff = xv - cv;
      acc += diff * diff;
    }
    if (s) {
      D4 sv = load<D4>(s + f);
      sv += w * xv;
      std::memcpy(s + f, &sv, sizeof sv);
    }
  }
  double tail = acc[0];
  for (; f < d; ++f) {
    const double xf = static_cast<double>(x[f]);
    if constexpr (kDistance) {
      const double diff = xf - static_cast<double>(c[f]);
      tail += diff * diff;
    }
    if (s) s[f] += w * xf;
  }
  return (tail + acc[1]) + (acc[2] + acc[3]);
}

}  // namespace

template <typename T>
void lloyd_tile(const PackedCentroids<T>& pc, const T* centroids, const T* x, const T* weights,
                std::size_t rows, std::int32_t* labels, std::int32_t* scratch, double* sums,
                double* weight_sums, bool inertia, TileTotals& totals) {
  const std::size_t d = pc.d;
  assign_nearest(pc, x, rows, scratch);
  for (std::size_t r = 0; r < rows; ++r) {
    const std::int32_t lab = scratch[r];
    const double w = weights ? static_cast<double>(weights[r]) : 1.0;
    const std::size_t at = static_cast<std::size_t>(lab) * d;
    if (inertia)
      totals.inertia += w * distance_and_accumulate<true>(x + r * d, centroids + at, d, w,
                                                          sums ? sums + at : nullptr);
    else if (sums)
      distance_and_accumulate<false>(x + r * d, centroids + at, d, w, sums + at);
    if (sums) weight_sums[lab] += w;
    totals.changed += labels[r] != lab;
    labels[r] = lab;
  }
}

template void lloyd_tile<float>(const PackedCentroids<float>&, const float*, const float*,
                                const float*, std::size_t, std::int32_t*, std::int32_t*, double*,
                                double*, bool, TileTotals&);
template void lloyd_tile<double>(const PackedCentroids<double>&, const double*, const double*,
                                 const double*, std::size_t, std::int32_t*, std::int32_t*, double*,
                                 double*, bool, TileTotals&);

template <typename T>
void assign_nearest(const PackedCentroids<T>& pc, const T* x, std::size_t rows,
                    std::int32_t* labels) {
  if (pc.panel == PackedCentroids<T>::kLanes) {
    assign_rows<T, 4, 1>(pc, x, rows, labels);
  } else {
    assign_rows<T, 4, 2>(pc, x, rows, labels);
  }
}

template void assign_nearest<float>(const PackedCentroids<float>&, const float*, std::size_t,
                                    std::int32_t*);
template void assign_nearest<double>(const PackedCentroids<double>&, const double*, std::size_t,
                                     std::int32_t*);

}  // namespace segcore::cpu::SEGCORE_KERNEL_NS
