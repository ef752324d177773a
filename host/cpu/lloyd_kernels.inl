// segcore internal: body of the CPU nearest-centroid kernel. Included by one .cpp per
// instruction set with SEGCORE_KERNEL_NS naming the namespace; the AVX2 one is compiled with
// -mavx2 -mfma. Written with GCC/Clang vector extensions so the register blocking is explicit:
// a block of R rows against a panel of 2 vectors of centroids keeps 2R accumulators in registers.
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
};
template <>
struct VecOf<double> {
  typedef double type __attribute__((vector_size(kVectorBytes)));
};

template <typename V, typename T>
inline V load(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}

template <typename T, int R>
inline void assign_block(const PackedCentroids<T>& pc, const T* x, std::int32_t* labels) {
  using V = typename VecOf<T>::type;
  constexpr int L = static_cast<int>(PackedCentroids<T>::kLanes);
  constexpr int P = 2 * L;
  const std::size_t d = pc.d;
  const T inf = std::numeric_limits<T>::infinity();

  V lane;  // 0, 1, ..., L-1 as T: the index of each lane within a vector
  for (int l = 0; l < L; ++l) lane[l] = static_cast<T>(l);

  V best0[R], best1[R], idx0[R], idx1[R];
  for (int r = 0; r < R; ++r) {
    best0[r] = V{} + inf;
    best1[r] = V{} + inf;
    idx0[r] = V{};
    idx1[r] = V{};
  }
  const T* ct = pc.ct.data();
  for (std::size_t p = 0; p < pc.panels; ++p, ct += d * P) {
    V a0[R], a1[R];
    for (int r = 0; r < R; ++r) a0[r] = a1[r] = V{};
    for (std::size_t j = 0; j < d; ++j) {
      const V c0 = load<V>(ct + j * P);
      const V c1 = load<V>(ct + j * P + L);
      for (int r = 0; r < R; ++r) {
        const T xr = x[r * d + j];
        a0[r] += xr * c0;
        a1[r] += xr * c1;
      }
    }
    const V n0 = load<V>(pc.norms.data() + p * P);
    const V n1 = load<V>(pc.norms.data() + p * P + L);
    const V base0 = lane + static_cast<T>(p * P);
    const V base1 = base0 + static_cast<T>(L);
    for (int r = 0; r < R; ++r) {
      // Strictly smaller wins, and panels come in increasing order: each lane keeps its lowest
      // index among equal values.
      const V v0 = n0 - (a0[r] + a0[r]);
      const V v1 = n1 - (a1[r] + a1[r]);
      const auto m0 = v0 < best0[r];
      const auto m1 = v1 < best1[r];
      best0[r] = m0 ? v0 : best0[r];
      idx0[r] = m0 ? base0 : idx0[r];
      best1[r] = m1 ? v1 : best1[r];
      idx1[r] = m1 ? base1 : idx1[r];
    }
  }
  for (int r = 0; r < R; ++r) {
    T bv = inf;
    T bi = 0;
    bool found = false;
    for (int l = 0; l < L; ++l) {
      const T cand[2] = {best0[r][l], best1[r][l]};
      const T ci[2] = {idx0[r][l], idx1[r][l]};
      for (int h = 0; h < 2; ++h) {
        if (!found || cand[h] < bv || (cand[h] == bv && ci[h] < bi)) {
          bv = cand[h];
          bi = ci[h];
          found = true;
        }
      }
    }
    labels[r] = static_cast<std::int32_t>(bi);
  }
}

}  // namespace

template <typename T>
void assign_nearest(const PackedCentroids<T>& pc, const T* x, std::size_t rows,
                    std::int32_t* labels) {
  constexpr int R = 4;
  std::size_t i = 0;
  for (; i + R <= rows; i += R) assign_block<T, R>(pc, x + i * pc.d, labels + i);
  for (; i < rows; ++i) assign_block<T, 1>(pc, x + i * pc.d, labels + i);
}

template void assign_nearest<float>(const PackedCentroids<float>&, const float*, std::size_t,
                                    std::int32_t*);
template void assign_nearest<double>(const PackedCentroids<double>&, const double*, std::size_t,
                                     std::int32_t*);

}  // namespace segcore::cpu::SEGCORE_KERNEL_NS
