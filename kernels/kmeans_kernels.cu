// segcore: CUDA kernels of the K-means backend.
//
// The fused Lloyd kernel reads each point once: the point goes to registers (d padded to DP),
// its scores ||c_j||^2 - 2 x.c_j against every centroid (in shared memory when they fit) give
// the label (strictly smaller wins: ties to the lowest index, the CPU's rule and summation
// order), then the exact distance in double gives the inertia. For the update, where the
// centroids and at least one set of k x (d + 1) sums per warp leave two blocks per SM (d <= 64
// and k (d + 1) up to about 1700: the retail shapes), each group of lanes of a warp owns a set
// and walks its share of the warp's 32 points in index order, one lane per feature
// (lloyd_warp_sums_kernel); elsewhere the tile of 256 points is sorted by label with a stable block
// radix sort, and each (label run, feature) pair is summed by one thread in sorted order into the
// block's own partial sums (shared memory when they fit, else the block's slice of global memory;
// lloyd_kernel). Blocks are persistent with a fixed set of tiles each, and a second kernel adds the
// blocks' partials in block order: no atomics, the same bits on every run. For float rows of up
// to 32 values the warp-sums kernel finds the labels with tensor cores instead (tensor_labels:
// TF32 scores, and the exact search for every point they do not separate by more than their
// error bound), with the exact search's labels.
#include <algorithm>
#include <cub/block/block_radix_sort.cuh>
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <type_traits>

#include "cuda/cuda_raii.hpp"
#include "kernels/kmeans_kernels.hpp"
#include "parallel.hpp"

namespace segcore::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kReduceBlocks = 1024;
constexpr int kMaxCandidates = 16;

template <typename T>
__device__ __forceinline__ T infinity();
template <>
__device__ __forceinline__ float infinity<float>() {
  return __int_as_float(0x7f800000);
}
template <>
__device__ __forceinline__ double infinity<double>() {
  return __longlong_as_double(0x7ff0000000000000LL);
}

/// Loads row i (d values) into registers, zero-padded to DP.
template <typename T, int DP>
__device__ __forceinline__ void load_row(const T* __restrict__ x, std::int64_t i, int d,
                                         T (&xr)[DP]) {
  const T* row = x + i * d;
#pragma unroll
  for (int f = 0; f < DP; ++f) xr[f] = f < d ? row[f] : T(0);
}

/// Calls consider(j, cn[j]) for j = 0, 1, ..., k - 1 in order; for float, four norms per 16-byte
/// load (packed norms follow k rows of a multiple of 4 floats, or start a device buffer, so
/// cn + 4i is 16-byte aligned).
template <typename T, typename Consider>
__device__ __forceinline__ void for_each_norm(const T* __restrict__ cn, int k,
                                              Consider&& consider) {
  int j = 0;
  if constexpr (std::is_same_v<T, float>) {
    for (; j + 4 <= k; j += 4) {
      const float4 n = *reinterpret_cast<const float4*>(cn + j);
      consider(j, n.x);
      consider(j + 1, n.y);
      consider(j + 2, n.z);
      consider(j + 3, n.w);
    }
  }
  for (; j < k; ++j) consider(j, cn[j]);
}

/// x.c over DP floats (a multiple of 4), fma from f = 0 up, c 16-byte aligned.
template <int DP>
__device__ __forceinline__ float dot_aligned(const float (&xr)[DP], const float* __restrict__ c) {
  const float4* c4 = reinterpret_cast<const float4*>(c);
  float acc = 0;
#pragma unroll
  for (int q = 0; q < DP / 4; ++q) {
    const float4 v = c4[q];
    acc = fmaf(xr[4 * q], v.x, acc);
    acc = fmaf(xr[4 * q + 1], v.y, acc);
    acc = fmaf(xr[4 * q + 2], v.z, acc);
    acc = fmaf(xr[4 * q + 3], v.w, acc);
  }
  return acc;
}

/// Label of the row: argmin_j ||c_j||^2 - 2 x.c_j, the dot accumulated in T from f = 0 up (the
/// CPU's order; padded zeros add exactly nothing). DP == 0: d is large, x read from memory.
template <typename T, int DP>
__device__ __forceinline__ int nearest_label(const T (&xr)[DP > 0 ? DP : 1],
                                             const T* __restrict__ xrow, int d,
                                             const T* __restrict__ cs, const T* __restrict__ cn,
                                             int k, int stride) {
  int best_j = 0;
  T best = infinity<T>();
  // With the point in registers the row stride is DP (padded_width(d) == DP up to 128): known
  // to the compiler, so the unrolled loop addresses centroids by immediate offsets.
  const auto dot = [&](int j) {
    const T* c = DP > 0 ? cs + j * DP : cs + static_cast<std::size_t>(j) * stride;
    T acc = 0;
    if constexpr (DP > 0 && std::is_same_v<T, float>) {
      // 16-byte loads (rows are padded to a multiple of 4 and 16-byte aligned): a quarter of
      // the shared-memory instructions, the same FMAs in the same order.
      acc = dot_aligned<DP>(xr, c);
    } else if constexpr (DP > 0) {
#pragma unroll
      for (int f = 0; f < DP; ++f) acc = fma(xr[f], c[f], acc);
    } else {
      for (int f = 0; f < d; ++f) acc = fma(xrow[f], c[f], acc);
    }
    return acc;
  };
  // cn - 2 acc in one rounding: the CPU's cn - (acc + acc) bit for bit, since doubling is exact
  // (short of overflow near the largest float), and one instruction fewer. Strictly smaller
  // wins, in index order: ties go to the lowest index.
  const auto consider = [&](int j, T norm) {
    const T val = fma(T(-2), dot(j), norm);
    if (val < best) {
      best = val;
      best_j = j;
    }
  };
  for_each_norm(cn, k, consider);
  return best_j;
}

/// Whether lloyd_warp_sums_kernel searches two points per thread: float rows of up to 16
/// values (two of them in registers leave room for three blocks per SM).
template <typename T, int DP>
constexpr bool kPairedSearch = std::is_same_v<T, float>&& DP > 0 && DP <= 16;

/// nearest_label for two rows at once (float, DP <= 16, centroid rows DP apart): the same FMAs
/// in the same order for each row, each centroid value loaded once for both.
template <int DP>
__device__ __forceinline__ void nearest_label_pair(const float (&xa)[DP], const float (&xb)[DP],
                                                   const float* __restrict__ cs,
                                                   const float* __restrict__ cn, int k, int& la,
                                                   int& lb) {
  float best_a = infinity<float>(), best_b = infinity<float>();
  la = 0;
  lb = 0;
  const auto consider = [&](int j, float norm) {
    const float4* c4 = reinterpret_cast<const float4*>(cs + j * DP);
    float acc_a = 0, acc_b = 0;
#pragma unroll
    for (int q = 0; q < DP / 4; ++q) {
      const float4 v = c4[q];
      acc_a = fma(xa[4 * q], v.x, acc_a);
      acc_b = fma(xb[4 * q], v.x, acc_b);
      acc_a = fma(xa[4 * q + 1], v.y, acc_a);
      acc_b = fma(xb[4 * q + 1], v.y, acc_b);
      acc_a = fma(xa[4 * q + 2], v.z, acc_a);
      acc_b = fma(xb[4 * q + 2], v.z, acc_b);
      acc_a = fma(xa[4 * q + 3], v.w, acc_a);
      acc_b = fma(xb[4 * q + 3], v.w, acc_b);
    }
    const float va = fma(-2.0f, acc_a, norm), vb = fma(-2.0f, acc_b, norm);
    if (va < best_a) {
      best_a = va;
      la = j;
    }
    if (vb < best_b) {
      best_b = vb;
      lb = j;
    }
  };
  for_each_norm(cn, k, consider);
}

// ---- the tensor-core search (float, d <= 32) ----
// The scores of a warp's 32 points against 8 centroids at a time come from TF32 mma (16 x 8 x 8:
// 16 points, 8 centroids, 8 features a step), as D_j = x'.c'_j - ||c'_j||^2 / 2 with x' = x - m,
// c' = c - m and m the mean of the centroids: D_j = (||x'||^2 - ||x - c_j||^2) / 2, the same
// order as the exact scores, and centring keeps the values (and the error) small when the data
// sit far from the origin. TF32 keeps 10 of float's 23 mantissa bits, so these are
// approximations: each lane keeps, for each of its points, the largest D, its centroid and the
// second largest (as keys that carry the centroid in their low bits: tensor_key), and a point
// whose two differ by more than twice a bound on the error (tensor_bound_line, with the keys'
// perturbation) has its label: the exact search's argmin is within that bound of the best
// approximate score. Every other point (near-ties, exact ties, huge values) is searched again
// exactly by the whole warp, in the CPU's order: the labels are the exact search's own.

/// K-steps of 8 features, and the row stride (floats) of the centroids the search stages: 8 per
/// step, plus 8 when the steps are even, so that the 8-byte loads of a B fragment (4 rows of a
/// half-warp, 8 words each) hit 32 different banks.
template <int DP>
constexpr int kTensorSteps = (DP + 7) / 8;
template <int DP>
constexpr int kTensorStride = 8 * kTensorSteps<DP> + (kTensorSteps<DP> % 2 == 0 ? 8 : 0);

/// Whether lloyd_warp_sums_kernel<T, DP> may search with tensor cores.
template <typename T, int DP>
constexpr bool kTensorCapable = std::is_same_v<T, float>&& DP > 0 && DP <= 32;

/// v as a TF32 operand of mma, rounded to nearest (ties away from zero) in effect: adding half
/// a TF32 unit (bit 12) to the bits carries into the 10 kept mantissa bits exactly when
/// cvt.rna.tf32.f32 would round up, and the tensor cores read only the top 19 bits of an
/// operand (nvcc itself lowers cvt.rna.tf32.f32 on sm_90 to this add, after a test that only
/// keeps the bits of infinities and NaNs, which carry into nothing the tensor cores read). One
/// integer add instead of two instructions; were all 32 bits read, the operand would be off by
/// at most half a TF32 unit all the same, as after rounding: within the bound.
__device__ __forceinline__ unsigned to_tf32(float v) { return __float_as_uint(v) + 0x1000u; }

/// d = A B + c (mma.sync m16n8k8, TF32 in, float accumulate; fragments as the PTX ISA lays them
/// out: tests/cuda_emu's model of it spells the layout out). c may be d.
__device__ __forceinline__ void mma_tf32(float (&d)[4], const unsigned (&a)[4],
                                         const unsigned (&b)[2], const float (&c)[4]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%10,%11,%12,%13};"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]),
        "f"(c[2]), "f"(c[3]));
#elif defined(__CUDA_ARCH__)
  __trap();  // plan_lloyd takes this path only for code compiled for 8.0 and up
#elif defined(SEGCORE_CUDA_EMU)
  float acc[4] = {c[0], c[1], c[2], c[3]};
  ::segcore_emu::mma_m16n8k8_tf32(acc, a, b);
  for (int q = 0; q < 4; ++q) d[q] = acc[q];
#endif
}

/// A point's best two keys (largest first: tensor_key, so the best one carries its centroid)
/// and the partial sum of its squared features (for the bound).
struct TensorBest {
  float best, second, xx;
};

/// Score v of centroid j as a key: its low `bits` bits replaced by j (j < 2^bits), the centroid
/// carried in the value itself. A key is within 2^(bits - 23) |v| of v (2^bits units in the last
/// place; tensor_labels adds that to the bound), keys of distinct centroids are never equal, and
/// float max and min order them as their values apart from that perturbation: the best-two
/// bookkeeping is three FMNMX a score, with no compare and select of the index. (A NaN score
/// could turn into an infinity; the bound's guard sends every point whose values could make one
/// to the exact search.)
__device__ __forceinline__ float tensor_key(float v, unsigned keep, unsigned j) {
  return __uint_as_float((__float_as_uint(v) & keep) | j);
}

__device__ __forceinline__ void consider_tensor(TensorBest& s, float key) {
  const float lower = fminf(s.best, key);
  s.best = fmaxf(s.best, key);
  s.second = fmaxf(s.second, lower);
}

/// Two lanes' views of one point (disjoint centroids and features, so their keys differ).
__device__ __forceinline__ TensorBest merge_tensor(const TensorBest& a, const TensorBest& b) {
  TensorBest m;
  m.best = fmaxf(a.best, b.best);
  m.second = fmaxf(fmaxf(a.second, b.second), fminf(a.best, b.best));
  m.xx = a.xx + b.xx;
  return m;
}

/// p ? a : b field by field (selects in registers; a ternary on the structs would take their
/// addresses and put the slots in local memory).
__device__ __forceinline__ TensorBest select_tensor(bool p, const TensorBest& a,
                                                    const TensorBest& b) {
  return {p ? a.best : b.best, p ? a.second : b.second, p ? a.xx : b.xx};
}

__device__ __forceinline__ TensorBest shfl_xor_tensor(const TensorBest& s, int mask) {
  return {__shfl_xor_sync(0xffffffffu, s.best, mask), __shfl_xor_sync(0xffffffffu, s.second, mask),
          __shfl_xor_sync(0xffffffffu, s.xx, mask)};
}

/// A bound on the error of D~_j, the tensor cores' value, as a stand-in for -s_j / 2 (up to a
/// term common to all j), s_j the exact search's float score fma(-2, dot, ||c_j||^2), for every
/// centroid j. xc = ||x'||, cc = max_j ||c'_j|| (centred), xu and cu the same uncentred.
/// - TF32 (round to nearest, 2^-11 relative) of x' and c': at most (2^-10 + 2^-22) sum_f
///   |x'_f c'_jf| <= (2^-10 + 2^-22) xc cc.
/// - The float sums (the tensor cores' accumulation of d <= 32 products and -||c'||^2 / 2,
///   allowing two bits fewer than IEEE float; the norms of c', and x - m, c - m themselves):
///   under 2^-14 xc cc + 2^-15 cc^2.
/// - The exact search's own float rounding, against which its ties are broken: at most
///   (d + 2) 2^-24 (xu cu + cu^2 / 2) in these units.
/// Subnormals, should the tensor cores flush them: an operand flushed to zero loses under
/// 2^-126 times the other operand, at most 2^-126 sqrt(d) (xc + cc) over d <= 32 features
/// (covered by 2^-120 (xc + cc)), and a flushed product under 2^-126 (covered by a floor):
///
///   E(xc) = 0x1.1p-10 xc cc + 2^-15 cc^2 + (d + 2) 2^-24 (xu cu + cu^2 / 2) + 2^-120 (xc + cc)
///           + 1e-30,   xu = xc + ||m||.
///
/// The keys (tensor_key) move a score by at most 2^(bits - 23) |D~|, and |D~| <= xc cc + cc^2 / 2
/// + E(xc): with twice that, for the rounding of this sum, the bound on a score is
/// B(xc) = E(xc) + 2^(bits - 22) (xc cc + cc^2 / 2 + E(xc)), and a point's best two keys must be
/// more than 2 B(xc) apart. 2 B is linear in xc: 2 B(xc) = U xc + V. U and V are worked out once
/// per block (tensor_bound_line), each point's threshold is one fma, and both are widened by
/// 2^-18 for the float rounding of their own evaluation and of that fma (under 16 roundings of
/// sums and products of non-negative terms, 2^-20 relative). With cu not below 1e18 (values the
/// float sums might overflow on), V is +inf: every point goes to the exact search, as does every
/// point with xc not below 1e18 - ||m|| (about ||x|| >= 1e18).
struct alignas(16) TensorBoundLine {
  float slope, offset, xc_limit;  ///< U, V and the limit on xc (one 16-byte load a tile)
};

__device__ __forceinline__ TensorBoundLine tensor_bound_line(float cc, float cu, float mnorm, int d,
                                                             int bits) {
  const float c24 = static_cast<float>(d + 2) * 0x1p-24f;
  // E(xc) = xc p + q.
  const float p = 0x1.1p-10f * cc + c24 * cu + 0x1p-120f;
  const float q =
      0x1p-15f * cc * cc + c24 * (mnorm * cu + 0.5f * cu * cu) + 0x1p-120f * cc + 1e-30f;
  const float key = __uint_as_float(static_cast<unsigned>(127 + bits - 22) << 23);
  const float widen = 2.0f * (1.0f + 0x1p-18f);
  const float slope = widen * ((1.0f + key) * p + key * cc);
  const float offset = widen * ((1.0f + key) * q + 0.5f * key * cc * cc);
  return {slope, cu < 1e18f ? offset : infinity<float>(), 1e18f - mnorm};
}

/// The key bits for k centroids (tensor_key): log2 of 8 ceil(k / 8), the centroids a search sees.
__device__ __forceinline__ int tensor_key_bits(int k) { return 32 - __clz(8 * ((k + 7) / 8) - 1); }

/// The centroids as tensor_labels reads them (stage_tensor_centroids): `operands` = 8 ceil(k / 8)
/// rows of kTensorStride<DP> words, each centroid centred and rounded as the mma's B operand
/// (to_tf32(c_jf - m_f), c zero past d and past k: staged once per block rather than per tile and
/// warp), their squared norms (+inf past k), the accumulators' initial values (below), the mean m
/// (zero past d), the bound's constants, and `rows`, the centroids themselves in device memory
/// (k rows of DP floats, zero past d) for the exact search: it runs for a few points in a hundred,
/// from L1, and the shared memory the uncentred rows would take is the sums'.
///
/// `init` holds -||c_j - m||^2 / 2 (-kTensorPad past k) as the accumulator fragment of lane t in
/// centroid tile nt wants it: at 4 (4 nt + t) the values of j0 = 8 nt + 2 t, j0 + 1, j0, j0 + 1,
/// so that one 16-byte load is the mma's C operand, with no negation and no register moves.
struct TensorCentroids {
  const unsigned* operands;
  const float* rows;  ///< c.data: k rows of DP floats, zero past d (not c.exact, unpadded)
  const float* norms;
  const float* init;
  const float* mean;
  const TensorBoundLine* bound;  ///< from cc = max ||c_j - m||, cu = max ||c_j||, ||m|| and d
};

/// The label of each of a warp's 32 points (rows first .. first + 31; those past n get a label
/// never stored): on return the lane holds point `point` = 16 (t / 2) + 8 (t % 2) + g of them (g
/// = lane / 4, t = lane % 4) and its label. Every lane of the warp calls it.
template <int DP>
__device__ __forceinline__ int tensor_labels(const float* __restrict__ x, std::int64_t n, int d,
                                             std::int64_t first, const TensorCentroids& tc, int k,
                                             int lane, int& point) {
  constexpr int KS = kTensorSteps<DP>, SC = kTensorStride<DP>;
  const float* __restrict__ cn = tc.norms;
  const int g = lane >> 2, t = lane & 3;
  // The mean at this lane's features 8 s + 2 t, 8 s + 2 t + 1.
  float m[KS][2];
#pragma unroll
  for (int s = 0; s < KS; ++s) {
    const float2 v = *reinterpret_cast<const float2*>(tc.mean + 8 * s + 2 * t);
    m[s][0] = v.x;
    m[s][1] = v.y;
  }
  // A fragments: points 16 mt + g + 8 h of the warp (slot 2 mt + h) in rows, features in columns;
  // column t of step s is feature 8 s + 2 t and column t + 4 feature 8 s + 2 t + 1 (any pairing
  // of features with columns gives the same dot products, and this one makes them adjacent).
  unsigned a[2][KS][4];
  TensorBest slot[4];
#pragma unroll
  for (int u = 0; u < 4; ++u) slot[u] = {-infinity<float>(), -infinity<float>(), 0.0f};
  // Point slot u's centred values at features f, f + 1 of step s: its A-fragment entries and its
  // share of ||x'||^2.
  const auto fragment = [&](int u, int s, float v0, float v1) {
    const int mt = u >> 1, h = u & 1;
    a[mt][s][h] = to_tf32(v0);
    a[mt][s][h + 2] = to_tf32(v1);
    slot[u].xx = fmaf(v0, v0, fmaf(v1, v1, slot[u].xx));
  };
  if (DP % 8 == 0 && d == DP && first + 32 <= n) {
    // Every row of the warp is there and every column of a step is a feature: the rows at
    // compile-time offsets from one pointer, no bounds to check (the usual case at d = 8, 16, 32).
    const float* const r0 = x + (first + g) * DP + 2 * t;
#pragma unroll
    for (int u = 0; u < 4; ++u)
#pragma unroll
      for (int s = 0; s < KS; ++s) {
        const float2 v =
            *reinterpret_cast<const float2*>(r0 + (16 * (u >> 1) + 8 * (u & 1)) * DP + 8 * s);
        fragment(u, s, v.x - m[s][0], v.y - m[s][1]);
      }
  } else {
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      const std::int64_t row = first + 16 * (u >> 1) + 8 * (u & 1) + g;
      const float* r = x + (row < n ? row : 0) * d;
#pragma unroll
      for (int s = 0; s < KS; ++s) {
        const int f = 8 * s + 2 * t;
        float v0 = 0, v1 = 0;
        if (row < n) {
          if ((d & 1) == 0) {
            if (f < d) {
              const float2 v = *reinterpret_cast<const float2*>(r + f);
              v0 = v.x;
              v1 = v.y;
            }
          } else {
            if (f < d) v0 = r[f];
            if (f + 1 < d) v1 = r[f + 1];
          }
        }
        // Centred (zero past d: the mean is zero there too); rows past n are never stored.
        fragment(u, s, f < d ? v0 - m[s][0] : 0.0f, f + 1 < d ? v1 - m[s][1] : 0.0f);
      }
    }
  }
  const int tiles = (k + 7) / 8;
  // Keys (tensor_key): the low `bits` bits of a score give way to its centroid j < 8 tiles.
  const unsigned key_keep = ~0u << tensor_key_bits(k);
  // Per tile nt: the B fragment's row (centroid 8 nt + g, features as the A columns, staged
  // centred and rounded), this lane's accumulator columns j0 = 8 nt + 2 t and j0 + 1, and their
  // initial values -||c'||^2 / 2, each stepped from the last tile's (no address arithmetic per
  // tile).
  const unsigned* crow = tc.operands + g * SC + 2 * t;
  const float* cinit = tc.init + 4 * t;
  auto j0u = static_cast<unsigned>(2 * t);
  for (int nt = 0; nt < tiles; ++nt, crow += 8 * SC, cinit += 16, j0u += 8) {
    unsigned b[KS][2];
#pragma unroll
    for (int s = 0; s < KS; ++s) {
      const uint2 v = *reinterpret_cast<const uint2*>(crow + 8 * s);
      b[s][0] = v.x;
      b[s][1] = v.y;
    }
    const unsigned j1u = j0u + 1;
    const float4 c4 = *reinterpret_cast<const float4*>(cinit);
    const float init[4] = {c4.x, c4.y, c4.z, c4.w};
#pragma unroll
    for (int mt = 0; mt < 2; ++mt) {
      float acc[4];
      mma_tf32(acc, a[mt][0], b[0], init);
#pragma unroll
      for (int s = 1; s < KS; ++s) mma_tf32(acc, a[mt][s], b[s], acc);
      consider_tensor(slot[2 * mt], tensor_key(acc[0], key_keep, j0u));
      consider_tensor(slot[2 * mt], tensor_key(acc[1], key_keep, j1u));
      consider_tensor(slot[2 * mt + 1], tensor_key(acc[2], key_keep, j0u));
      consider_tensor(slot[2 * mt + 1], tensor_key(acc[3], key_keep, j1u));
    }
  }
  // The four lanes of a quad saw disjoint centroids (and features) of the same 4 points: halve
  // the points per lane twice. Lane ^ 1 keeps slot h = t % 2 of each mt, lane ^ 2 then mt = t / 2.
  const bool t0 = (t & 1) != 0, t1 = (t & 2) != 0;
  TensorBest half[2];
#pragma unroll
  for (int mt = 0; mt < 2; ++mt) {
    const TensorBest keep = select_tensor(t0, slot[2 * mt + 1], slot[2 * mt]);
    const TensorBest give = select_tensor(t0, slot[2 * mt], slot[2 * mt + 1]);
    half[mt] = merge_tensor(keep, shfl_xor_tensor(give, 1));
  }
  const TensorBest mine = merge_tensor(select_tensor(t1, half[1], half[0]),
                                       shfl_xor_tensor(select_tensor(t1, half[0], half[1]), 2));
  point = 16 * (t1 ? 1 : 0) + 8 * (t0 ? 1 : 0) + g;
  const std::int64_t row = first + point;
  const float xc = sqrtf(mine.xx);
  const TensorBoundLine line = *tc.bound;
  int label = static_cast<int>(__float_as_uint(mine.best) & ~key_keep);
  // Not separated by twice the bound (tensor_bound_line), or values so large that the float sums
  // might overflow, or a padding centroid's key on top: the exact search.
  const bool exact = row < n && !(mine.best - mine.second > fmaf(xc, line.slope, line.offset) &&
                                  xc < line.xc_limit && label < k);
  unsigned todo = __ballot_sync(0xffffffffu, exact);
  while (todo) {
    const int src = __ffs(todo) - 1;
    todo &= todo - 1;
    // The point in registers, zero-padded to DP (16-byte loads when rows are 16-byte aligned).
    const float* row = x + (first + __shfl_sync(0xffffffffu, point, src)) * d;
    float xr[DP];
    if ((d & 3) == 0) {
#pragma unroll
      for (int q = 0; q < DP / 4; ++q) {
        const float4 v =
            4 * q < d ? *reinterpret_cast<const float4*>(row + 4 * q) : make_float4(0, 0, 0, 0);
        xr[4 * q] = v.x;
        xr[4 * q + 1] = v.y;
        xr[4 * q + 2] = v.z;
        xr[4 * q + 3] = v.w;
      }
    } else {
#pragma unroll
      for (int f = 0; f < DP; ++f) xr[f] = f < d ? row[f] : 0.0f;
    }
    // Centroids lane, lane + 32, ...: the CPU's score (fma from f = 0 up over the padded row,
    // whose zeros add nothing; fma(-2, dot, norm)), strictly smaller wins; then the warp's
    // (score, index) minimum: ties to the lowest index.
    float best = infinity<float>();
    int best_j = k;
    for (int j = lane; j < k; j += 32) {
      const float v = fmaf(-2.0f, dot_aligned<DP>(xr, tc.rows + j * DP), cn[j]);
      if (v < best) {
        best = v;
        best_j = j;
      }
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
      const float ov = __shfl_xor_sync(0xffffffffu, best, off);
      const int oj = __shfl_xor_sync(0xffffffffu, best_j, off);
      if (ov < best || (ov == best && oj < best_j)) {
        best = ov;
        best_j = oj;
      }
    }
    if (lane == src) label = best_j == k ? 0 : best_j;  // no finite score: label 0, as the CPU
  }
  return label;
}

/// ||x - c||^2 in double with four interleaved partial sums, in the CPU's order (nvcc may fuse
/// a multiply and an add, so the last bits can differ from the CPU's).
template <typename T>
__device__ __forceinline__ double exact_distance(const T* __restrict__ x, const T* __restrict__ c,
                                                 int d) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int f = 0;
  for (; f + 4 <= d; f += 4) {
    const double a = static_cast<double>(x[f]) - static_cast<double>(c[f]);
    const double b = static_cast<double>(x[f + 1]) - static_cast<double>(c[f + 1]);
    const double e = static_cast<double>(x[f + 2]) - static_cast<double>(c[f + 2]);
    const double g = static_cast<double>(x[f + 3]) - static_cast<double>(c[f + 3]);
    s0 += a * a;
    s1 += b * b;
    s2 += e * e;
    s3 += g * g;
  }
  for (; f < d; ++f) {
    const double a = static_cast<double>(x[f]) - static_cast<double>(c[f]);
    s0 += a * a;
  }
  return (s0 + s1) + (s2 + s3);
}

/// exact_distance for float rows of a multiple of 4 values, x and c 16-byte aligned: the same
/// sums in the same order, with 16-byte loads.
__device__ __forceinline__ double exact_distance_aligned(const float* __restrict__ x,
                                                         const float* __restrict__ c, int d) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int f = 0; f < d; f += 4) {
    const float4 xv = *reinterpret_cast<const float4*>(x + f);
    const float4 cv = *reinterpret_cast<const float4*>(c + f);
    const double a = static_cast<double>(xv.x) - static_cast<double>(cv.x);
    const double b = static_cast<double>(xv.y) - static_cast<double>(cv.y);
    const double e = static_cast<double>(xv.z) - static_cast<double>(cv.z);
    const double g = static_cast<double>(xv.w) - static_cast<double>(cv.w);
    s0 += a * a;
    s1 += b * b;
    s2 += e * e;
    s3 += g * g;
  }
  return (s0 + s1) + (s2 + s3);
}

/// Same, with x in registers (padded to DP) and c padded likewise.
template <typename T, int DP>
__device__ __forceinline__ double exact_distance_reg(const T (&xr)[DP > 0 ? DP : 1],
                                                     const T* __restrict__ xrow,
                                                     const T* __restrict__ c, int d) {
  if constexpr (DP > 0) {
    double s[4] = {0, 0, 0, 0};
#pragma unroll
    for (int f = 0; f < DP; ++f) {
      if (f < (d & ~3)) {
        const double a = static_cast<double>(xr[f]) - static_cast<double>(c[f]);
        s[f & 3] += a * a;
      } else if (f < d) {
        const double a = static_cast<double>(xr[f]) - static_cast<double>(c[f]);
        s[0] += a * a;
      }
    }
    return (s[0] + s[1]) + (s[2] + s[3]);
  } else {
    return exact_distance(xrow, c, d);
  }
}

/// Copies the packed centroids (k x stride and k norms) to shared memory when `use_shared`;
/// returns where the kernel reads them from.
template <typename T>
__device__ __forceinline__ void stage_centroids(const PackedCentroidsView<T>& c, bool use_shared,
                                                T* smem, const T*& cs, const T*& cn) {
  if (!use_shared) {
    cs = c.data;
    cn = c.norms;
    return;
  }
  const int total = c.k * c.stride;
  for (int e = threadIdx.x; e < total; e += blockDim.x) smem[e] = c.data[e];
  for (int e = threadIdx.x; e < c.k; e += blockDim.x) smem[total + e] = c.norms[e];
  __syncthreads();
  cs = smem;
  cn = smem + total;
}

/// The half norm of the padding centroids past k: their scores, -2^126 plus products far
/// smaller (tensor_labels sends points with values near 1e18 to the exact search), never come
/// first or second next to a real centroid's, and stay finite (no reliance on how the tensor
/// cores add infinities).
constexpr float kTensorPad = 0x1p126f;

/// Shared memory of stage_tensor_centroids: 8 ceil(k / 8) rows of kTensorStride<DP> words, as
/// many norms, twice as many initial values, the mean and the bound's line (4 words).
template <int DP>
__host__ __device__ constexpr std::size_t tensor_centroid_bytes(int k) {
  const std::size_t rows = (static_cast<std::size_t>(k) + 7) / 8 * 8;
  return (rows * (kTensorStride<DP> + 3) + kTensorStride<DP> + 4) * sizeof(float);
}

/// Stages the centroids for tensor_labels (TensorCentroids) at smem; the block's threads call it.
/// The mean, the centred norms and the bound's maxima are sums in a fixed order: every block
/// gets the same values.
template <int DP>
__device__ __forceinline__ TensorCentroids
stage_tensor_centroids(const PackedCentroidsView<float>& c, int d, float* smem) {
  constexpr int SC = kTensorStride<DP>;
  const int k = c.k, rows = (k + 7) / 8 * 8, total = rows * SC;
  float* const cs = smem;
  float* const cn = cs + total;
  float* const init = cn + rows;  // 16-byte aligned: rows is a multiple of 8
  float* const mean = init + 2 * rows;
  // 16-byte aligned: rows and SC are multiples of 8.
  auto* const line = reinterpret_cast<TensorBoundLine*>(mean + SC);
  for (int e = threadIdx.x; e < total; e += blockDim.x) {
    const int j = e / SC, f = e % SC;
    cs[e] = j < k && f < c.stride ? c.data[static_cast<std::size_t>(j) * c.stride + f] : 0.0f;
  }
  for (int j = threadIdx.x; j < rows; j += blockDim.x)
    cn[j] = j < k ? c.norms[j] : infinity<float>();
  __syncthreads();
  for (int f = threadIdx.x; f < SC; f += blockDim.x) {
    float s = 0;
    for (int j = 0; j < k; ++j) s += cs[j * SC + f];
    mean[f] = s / static_cast<float>(k);  // zero past d: those columns are zero
  }
  __syncthreads();
  for (int j = threadIdx.x; j < rows; j += blockDim.x) {
    float s = 0;
#pragma unroll
    for (int f = 0; f < SC; ++f) {
      const float v = cs[j * SC + f] - mean[f];
      s = fmaf(v, v, s);
    }
    const float minus_half = j < k ? -0.5f * s : -kTensorPad;
    init[4 * (j / 2) + j % 2] = minus_half;
    init[4 * (j / 2) + 2 + j % 2] = minus_half;
  }
  __syncthreads();
  // The rows become the B operands, in place: c - m rounded to TF32 (the padding columns of the
  // stride, never read as operands, too).
  unsigned* const operands = reinterpret_cast<unsigned*>(cs);
  for (int e = threadIdx.x; e < total; e += blockDim.x) operands[e] = to_tf32(cs[e] - mean[e % SC]);
  // The maxima, by each warp over all k (the same order in every warp and block).
  const int lane = static_cast<int>(threadIdx.x) & 31;
  float hmax = 0, nmax = 0, mm = 0;
  for (int j = lane; j < k; j += 32) {
    hmax = fmaxf(hmax, -init[4 * (j / 2) + j % 2]);
    nmax = fmaxf(nmax, cn[j]);
  }
  for (int f = lane; f < SC; f += 32) mm = fmaf(mean[f], mean[f], mm);
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    hmax = fmaxf(hmax, __shfl_xor_sync(0xffffffffu, hmax, off));
    nmax = fmaxf(nmax, __shfl_xor_sync(0xffffffffu, nmax, off));
    mm += __shfl_xor_sync(0xffffffffu, mm, off);
  }
  if (threadIdx.x == 0)
    *line = tensor_bound_line(sqrtf(2 * hmax), sqrtf(nmax), sqrtf(mm), d, tensor_key_bits(k));
  __syncthreads();  // the operands and the line are in place
  return {operands, c.data, cn, init, mean, line};
}

template <typename T>
__device__ __forceinline__ double weight_of(const DataView<T>& data, std::int64_t i) {
  return data.w ? static_cast<double>(data.w[i]) : 1.0;
}

// ---- the fused Lloyd pass -------------------------------------------------------------------

template <typename T, int DP>
__global__ void __launch_bounds__(kThreads)
    lloyd_kernel(DataView<T> data, PackedCentroidsView<T> c, std::int32_t* __restrict__ labels,
                 bool accumulate, bool with_inertia, bool shared_centroids, bool shared_partials,
                 double* __restrict__ partials, double* __restrict__ block_totals,
                 const std::int32_t* __restrict__ given) {
  using Sort = cub::BlockRadixSort<int, kThreads, 1, int>;
  using Scan = cub::BlockScan<int, kThreads>;
  using Reduce = cub::BlockReduce<double, kThreads>;
  __shared__ union {
    typename Sort::TempStorage sort;
    typename Scan::TempStorage scan;
    typename Reduce::TempStorage reduce;
  } temp;
  __shared__ int s_perm[kThreads];
  __shared__ int s_run_start[kThreads + 1];
  __shared__ int s_run_label[kThreads];
  __shared__ double s_w[kThreads];
  __shared__ int s_runs;
  extern __shared__ __align__(16) unsigned char smem_raw[];

  const int d = data.d, k = c.k;
  const int width = d + 1;  // per label: d sums, then the weight
  const std::size_t centroid_bytes =
      shared_centroids ? (static_cast<std::size_t>(k) * c.stride + k) * sizeof(T) : 0;
  const T* cs;
  const T* cn;
  stage_centroids(c, shared_centroids, reinterpret_cast<T*>(smem_raw), cs, cn);
  double* acc = nullptr;
  if (accumulate) {
    acc = shared_partials
              ? reinterpret_cast<double*>(smem_raw + ((centroid_bytes + 15) & ~std::size_t{15}))
              : partials + static_cast<std::size_t>(blockIdx.x) * k * width;
    for (int e = threadIdx.x; e < k * width; e += kThreads) acc[e] = 0;
    __syncthreads();
  }

  double inertia = 0, changed = 0;
  const std::int64_t tiles = (data.n + kThreads - 1) / kThreads;
  int key_bits = 1;
  while ((1 << key_bits) <= k) ++key_bits;  // labels 0..k (k: no point)
  for (std::int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const std::int64_t base = tile * kThreads;
    const std::int64_t i = base + threadIdx.x;
    int label = k;
    double w = 0;
    if (i < data.n) {
      T xr[DP > 0 ? DP : 1];
      const T* xrow = data.x + i * d;
      if constexpr (DP > 0) load_row<T, DP>(data.x, i, d, xr);
      label = given ? given[i] : nearest_label<T, DP>(xr, xrow, d, cs, cn, k, c.stride);
      w = weight_of(data, i);
      if (with_inertia)  // (given labels and no inertia: the row is not read at all)
        inertia += w * exact_distance_reg<T, DP>(
                           xr, xrow, cs + static_cast<std::size_t>(label) * c.stride, d);
      changed += labels[i] != label ? 1.0 : 0.0;
      labels[i] = label;
    }
    if (!accumulate) continue;

    // Stable sort of the tile's points by label (points past n carry label k and come last).
    int key[1] = {label};
    int value[1] = {static_cast<int>(threadIdx.x)};
    s_w[threadIdx.x] = w;
    Sort(temp.sort).Sort(key, value, 0, key_bits);
    __syncthreads();
    s_perm[threadIdx.x] = value[0];
    // Runs of equal labels: a run starts where the sorted label changes.
    const int sorted_label = key[0];
    s_run_label[threadIdx.x] = sorted_label;  // temporarily: the sorted labels
    __syncthreads();
    const int starts = threadIdx.x == 0 || s_run_label[threadIdx.x - 1] != sorted_label ? 1 : 0;
    int run = 0, runs = 0;
    Scan(temp.scan).ExclusiveSum(starts, run, runs);
    __syncthreads();  // everyone has read s_run_label before it is overwritten
    if (starts) {
      s_run_start[run] = threadIdx.x;
      s_run_label[run] = sorted_label;
    }
    if (threadIdx.x == 0) {
      s_run_start[runs] = kThreads;
      s_runs = runs;
    }
    __syncthreads();

    // One thread per (run, column): sums in sorted (= point index) order, into the block's own
    // partial sums, which no other thread touches in this tile.
    const int pairs = s_runs * width;
    for (int p = threadIdx.x; p < pairs; p += kThreads) {
      const int r = p / width, f = p % width;
      const int lab = s_run_label[r];
      if (lab >= k) continue;
      double s = 0;
      for (int pos = s_run_start[r]; pos < s_run_start[r + 1]; ++pos) {
        const int pt = s_perm[pos];
        const double wp = s_w[pt];
        s += f < d ? wp * static_cast<double>(data.x[(base + pt) * d + f]) : wp;
      }
      acc[lab * width + f] += s;
    }
    __syncthreads();  // the shared arrays are reused by the next tile
  }

  const double block_inertia = Reduce(temp.reduce).Sum(inertia);
  __syncthreads();
  const double block_changed = Reduce(temp.reduce).Sum(changed);
  if (threadIdx.x == 0) {
    block_totals[2 * blockIdx.x] = block_inertia;
    block_totals[2 * blockIdx.x + 1] = block_changed;
  }
  if (accumulate && shared_partials) {
    double* out = partials + static_cast<std::size_t>(blockIdx.x) * k * width;
    for (int e = threadIdx.x; e < k * width; e += kThreads) out[e] = acc[e];
  }
}

/// Warps per block of the fused kernels.
constexpr int kWarps = kThreads / 32;

/// The lanes that walk one point in lloyd_warp_sums_kernel: the smallest power of two >= d, at
/// most 32 (past 32 features, each lane takes features f, f + 32, ...).
__host__ __device__ constexpr int point_lanes(int d) {
  int lanes = 1;
  while (lanes < d && lanes < 32) lanes *= 2;
  return lanes;
}

/// The fused Lloyd pass where the centroids and the sums fit in shared memory (the shapes retail
/// data has: d <= 64, k up to a few hundred). As lloyd_kernel, but every shared array is
/// addressed from the kernel's own shared window (shared-memory loads in the centroid search,
/// not generic ones), and no per-tile sort. Each warp is cut into `groups` groups of L =
/// point_lanes(d) lanes (groups <= 32 / L), and each group owns a set of k x (d + 1) sums: after
/// a tile's labels, group g walks the warp's points g, g + groups, ... in index order, its lane
/// s adding features s, s + L, ... of each into the row of that point's label, and with weights
/// its last lane also the weight (column d; without weights each lane counts its own point in
/// the block's integer counts per label). An address of a set is only ever touched by one lane, so
/// the lanes need no barrier between points and the block none per tile. At the end the block
/// adds its sets in (warp, group) order into its slice of `partials`; lloyd_finalize adds the
/// blocks in block order: a fixed order, the same bits on every run. For float rows of up to 16
/// values (kPairedSearch) a block takes two adjacent tiles at a time, each thread searching a
/// point of each (nearest_label_pair), then walks the first tile and the second. With
/// kTensor, the labels come from tensor_labels instead, one tile at a time.
// Three blocks of 256 threads per SM need at most 85 registers a thread (ptxas: 80 for rows of
// up to 16 values, float with the paired search or double): the bound makes ptxas keep them
// there rather than silently lose a block (without it the double kernels took 100-102). The
// tensor search at DP = 32 would take 136, one block per SM: it is held to two (128).
template <typename T, int DP, bool kTensor>
__global__ void __launch_bounds__(kThreads, DP <= 16 ? 3 : (kTensor ? 2 : 1))
    lloyd_warp_sums_kernel(DataView<T> data, PackedCentroidsView<T> c,
                           std::int32_t* __restrict__ labels, bool accumulate, bool with_inertia,
                           int groups, bool walk_inertia, double* __restrict__ partials,
                           double* __restrict__ block_totals) {
  static_assert(DP > 0, "the point is held in registers");
  static_assert(!kTensor || kTensorCapable<T, DP>, "the tensor-core search is for float, d <= 32");
  using Reduce = cub::BlockReduce<double, kThreads>;
  __shared__ typename Reduce::TempStorage reduce;
  __shared__ __align__(16) int s_label[kThreads];
  __shared__ double s_weight[kThreads];
  extern __shared__ __align__(16) unsigned char smem_raw[];

  const int d = data.d, k = c.k, width = d + 1;
  const bool weighted = data.w != nullptr;
  const T* cs;
  const T* cn;
  int cstride = c.stride;
  std::size_t centroid_bytes = (static_cast<std::size_t>(k) * c.stride + k) * sizeof(T);
  TensorCentroids tc{};
  if constexpr (kTensor) {
    tc = stage_tensor_centroids<DP>(c, d, reinterpret_cast<float*>(smem_raw));
    // The rows in shared memory are the search's operands: the exact distances (the settle's,
    // the walk's) read the centroids from device memory.
    cs = tc.rows;
    cn = tc.norms;
    centroid_bytes = tensor_centroid_bytes<DP>(k);
  } else {
    stage_centroids(c, true, reinterpret_cast<T*>(smem_raw), cs, cn);
  }
  double* const sums =
      reinterpret_cast<double*>(smem_raw + ((centroid_bytes + 15) & ~std::size_t{15}));
  const int lane = static_cast<int>(threadIdx.x) & 31, warp = static_cast<int>(threadIdx.x) >> 5;
  const int lanes = point_lanes(d);
  const int group = lane / lanes, sub = lane % lanes;
  const bool walks = group < groups;  // lanes past the last group only take part in the labels
  // The walk at compile-time strides: d == DP and every lane in a group. (Only the tensor kernel:
  // in the exact one, the search's registers leave too few for the unrolled loop's, and ptxas
  // spilled the block's running sums.) A whole walk where the pass has no weights and no distance
  // either (the iterations' usual case; walk_tile's kWhole).
  const bool full = kTensor && d == DP && groups == 32 / point_lanes(DP);
  // The end of the rows a whole walk may take (0: none), in shared memory: one load and one
  // comparison per tile (nvcc would otherwise work the flags out of the parameters every tile).
  __shared__ std::int64_t s_whole_end;
  if (threadIdx.x == 0) s_whole_end = full && accumulate && !with_inertia && !weighted ? data.n : 0;
  const int per_set = k * width;
  const int sets = kWarps * groups;
  double* const mine =
      sums + static_cast<std::size_t>(warp * groups + (walks ? group : 0)) * per_set;
  // Unweighted, the block's points per label are counted in integers (shared atomics: the order
  // of integer additions does not change the count) rather than added per point to column d.
  int* const counts = reinterpret_cast<int*>(sums + static_cast<std::size_t>(sets) * per_set);
  if (accumulate) {
    for (int e = threadIdx.x; e < sets * per_set; e += kThreads) sums[e] = 0;
    for (int j = threadIdx.x; j < k; j += kThreads) counts[j] = 0;
  }
  __syncthreads();

  double inertia = 0, changed = 0;
  // After its label: a point's exact distance (distance(centroid row); nullptr when the walk
  // adds it instead), the change count and the stored label; returns its weight (0 past n).
  const auto record = [&](std::int64_t i, int label, auto&& distance) {
    if (i >= data.n) return 0.0;
    const double w = weight_of(data, i);
    if constexpr (!std::is_null_pointer_v<std::decay_t<decltype(distance)>>)
      inertia += w * distance(cs + static_cast<std::size_t>(label) * cstride);
    changed += labels[i] != label ? 1.0 : 0.0;
    labels[i] = label;
    return w;
  };
  // The same, the point in registers (without the inertia: no distance).
  const auto settle = [&](std::int64_t i, const T(&xr)[DP], int label) {
    if (!with_inertia) return record(i, label, nullptr);
    return record(i, label, [&](const T* centroid) {
      return exact_distance_reg<T, DP>(xr, nullptr, centroid, d);
    });
  };
  // The sums of the tile starting at `base`, each lane holding the label and weight of the
  // warp's point `slot`. With `distances` (std::true_type), the walk also adds each point's
  // w (x_f - c_f)^2 over the features its lanes hold to their `inertia`: the exact distance
  // without a read of the row of its own (the walk has x_f in double already), in another order
  // of additions than the settle's.
  //
  // kWhole (std::true_type; the tensor kernel only): the usual case at the retail shapes, known
  // before the call to hold for this tile: 32 points, no weights, no distances, d == DP and every
  // lane in a group. Then the groups, the lanes, the row width and the count are compile-time
  // constants and the walk takes compile-time strides (unrolled whole up to DP = 16), with
  // nothing worked out at run time but the addresses.
  const auto walk_tile = [&](std::int64_t base, int slot, int label, double w, auto distances,
                             auto whole_c) {
    constexpr bool kDistances = decltype(distances)::value;
    constexpr bool kWhole = decltype(whole_c)::value;
    static_assert(!kWhole || (kTensor && !kDistances), "a whole walk is the tensor kernel's");
    constexpr int kWholeLanes = point_lanes(DP), kWholeGroups = 32 / kWholeLanes;
    // The warp's points first .. first + count - 1 (count is the same on every lane; the rows
    // were just read, so they come from L1). Their labels and weights go through the warp's
    // slice of shared memory (a broadcast read per point and group).
    const std::int64_t first = base + 32 * warp;
    const int count =
        kWhole
            ? 32
            : (first >= data.n ? 0 : static_cast<int>(data.n - first < 32 ? data.n - first : 32));
    // The labels as byte offsets of their rows in a set of sums (with distances, the labels
    // themselves: the walk needs the centroid's row too).
    const int row_bytes = (kWhole ? DP + 1 : width) * static_cast<int>(sizeof(double));
    // A whole walk stores them by group, point q of G groups of L lanes at (q % G) L + q / G, so
    // that each group's are adjacent.
    const int at = kWhole ? slot % kWholeGroups * kWholeLanes + slot / kWholeGroups : slot;
    s_label[32 * warp + at] = kDistances ? label : label * row_bytes;
    if (!kWhole && weighted)
      s_weight[32 * warp + slot] = w;
    else if (kWhole || w != 0.0)  // a point (weight 1), not past n
      atomicAdd(&counts[label], 1);
    __syncwarp();
    if (kWhole || walks) {
      // This lane's group and feature, and its group's set of sums.
      const int grp = kWhole ? lane / kWholeLanes : group, sb = kWhole ? lane % kWholeLanes : sub;
      double* const set =
          kWhole ? sums + static_cast<std::size_t>(warp * kWholeGroups + grp) * k * (DP + 1) : mine;
      const int* const point_offset = s_label + 32 * warp;  // (labels, with distances)
      const double* const point_weight = s_weight + 32 * warp;
      unsigned char* const column = reinterpret_cast<unsigned char*>(set + sb);
      const bool last_lane = sb == lanes - 1;
      const T* const row0 = data.x + (kWhole ? (first + grp) * DP + sb
                                             : (group < count ? (first + group) * d + sub : 0));
      // Weighted or not as a compile-time choice: a loop of its own each (without weights there
      // is no multiply and no column d to add to). kFull (tensor kernel): d == DP and every lane
      // in a group (the plan's choice at the retail shapes), so the groups, the lanes and the row
      // step are compile-time constants: immediate offsets from one pointer per loop trip, not an
      // address computed per step.
      const auto walk = [&](auto weighted_c, auto full_c) {
        constexpr bool kWeighted = decltype(weighted_c)::value;
        constexpr bool kFull = decltype(full_c)::value;
        constexpr int kLanes = point_lanes(DP), kGroups = 32 / kLanes;
        const int g_step = kFull ? kGroups : groups, n_lanes = kFull ? kLanes : lanes,
                  dims = kFull ? DP : d;
        const std::int64_t step = static_cast<std::int64_t>(g_step) * dims;
        // Whether this lane holds feature sub + n_lanes part of a point: in a full walk, every
        // lane of every part that lies within DP (sub < kLanes there), known at compile time.
        const auto holds = [&](int part) {
          return (kFull && kLanes * (part + 1) <= DP) || sb + n_lanes * part < dims;
        };
        // Point q of the warp, its row at `row` (this lane's first feature), `entry` its entry
        // in point_offset (its label's byte offset, or with distances its label).
        const auto visit = [&](int q, const T* row, int entry) {
          if constexpr (kDistances) {
            const int lab = entry;
            double* const out = reinterpret_cast<double*>(column + lab * row_bytes);
            const T* const cq = cs + sb + lab * cstride;
            double wq = 1;
            if constexpr (kWeighted) wq = point_weight[q];
#pragma unroll
            for (int part = 0; part < (DP + 31) / 32; ++part)
              if (holds(part)) {
                const double xv = static_cast<double>(row[n_lanes * part]);
                const double diff = xv - static_cast<double>(cq[n_lanes * part]);
                if constexpr (kWeighted) {
                  out[n_lanes * part] = fma(wq, xv, out[n_lanes * part]);
                  inertia = fma(wq * diff, diff, inertia);
                } else {
                  out[n_lanes * part] += xv;
                  inertia = fma(diff, diff, inertia);
                }
              }
            if (kWeighted && last_lane) out[dims - sb] += wq;
          } else {
            double* const out = reinterpret_cast<double*>(column + entry);
            if constexpr (kWeighted) {
              const double wq = point_weight[q];
#pragma unroll
              for (int part = 0; part < (DP + 31) / 32; ++part)
                if (holds(part))
                  out[n_lanes * part] =
                      fma(wq, static_cast<double>(row[n_lanes * part]), out[n_lanes * part]);
              if (last_lane) out[dims - sb] += wq;
            } else {
#pragma unroll
              for (int part = 0; part < (DP + 31) / 32; ++part)
                if (holds(part)) out[n_lanes * part] += static_cast<double>(row[n_lanes * part]);
            }
          }
        };
        if constexpr (kFull && kLanes <= 16) {
          // A whole warp of points: every step at compile-time offsets, no trip count (at most 16
          // steps: 32 at DP = 32 made ptxas spill).
          if constexpr (kWhole) {
            // The group's kLanes offsets are adjacent (walk_tile stored them so): 16-byte loads.
            const int4* const entries = reinterpret_cast<const int4*>(point_offset + grp * kLanes);
#pragma unroll
            for (int st = 0; st < kLanes; st += 4) {
              const int4 o = entries[st / 4];
              visit(grp + st * kGroups, row0 + st * step, o.x);
              visit(grp + (st + 1) * kGroups, row0 + (st + 1) * step, o.y);
              visit(grp + (st + 2) * kGroups, row0 + (st + 2) * step, o.z);
              visit(grp + (st + 3) * kGroups, row0 + (st + 3) * step, o.w);
            }
            return;
          }
          if (count == 32) {
#pragma unroll
            for (int st = 0; st < kLanes; ++st) {
              const int q = grp + st * kGroups;
              visit(q, row0 + st * step, point_offset[q]);
            }
            return;
          }
        }
        const T* row = row0;
#pragma unroll 4
        for (int q = grp; q < count; q += g_step, row += step) visit(q, row, point_offset[q]);
      };
      const auto walk_by_stride = [&](auto weighted_c) {
        if (full)
          walk(weighted_c, std::bool_constant<kTensor>{});
        else
          walk(weighted_c, std::false_type{});
      };
      if constexpr (kWhole)
        walk(std::false_type{}, std::true_type{});
      else if (weighted)
        walk_by_stride(std::true_type{});
      else
        walk_by_stride(std::false_type{});
    }
    __syncwarp();  // every lane has read the labels before the next tile writes them
  };

  const std::int64_t tiles = (data.n + kThreads - 1) / kThreads;
  if constexpr (kTensor) {
    for (std::int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
      const std::int64_t base = tile * kThreads;
      int point = 0;
      const int label = tensor_labels<DP>(data.x, data.n, d, base + 32 * warp, tc, k, lane, point);
      const std::int64_t i = base + 32 * warp + point;
      if (base + 32 * warp + 32 <= s_whole_end) {
        // The iterations' usual case: no distance, a whole walk.
        record(i, label, nullptr);
        walk_tile(base, point, label, 1.0, std::false_type{}, std::true_type{});
        continue;
      }
      if (!with_inertia || (accumulate && walk_inertia)) {
        // No distance here: none at all, or the walk's.
        const double w = record(i, label, nullptr);
        if (!accumulate) continue;
        if (with_inertia)
          walk_tile(base, point, label, w, std::true_type{}, std::false_type{});
        else
          walk_tile(base, point, label, w, std::false_type{}, std::false_type{});
        continue;
      }
      const double w = record(i, label, [&](const T* centroid) {
        // The rows were just read (L1); 16-byte loads where the row is 16-byte aligned (the
        // centroid rows always are), with d a compile-time constant where it is DP (the
        // loop unrolled, no trip count to work out: the same sums in the same order).
        if (DP % 4 == 0 && d == DP) return exact_distance_aligned(data.x + i * DP, centroid, DP);
        const T* row = data.x + i * d;
        return (d & 3) == 0 ? exact_distance_aligned(row, centroid, d)
                            : exact_distance(row, centroid, d);
      });
      if (!accumulate) continue;
      walk_tile(base, point, label, w, std::false_type{}, std::false_type{});
    }
  } else if constexpr (kPairedSearch<T, DP>) {
    // Two adjacent tiles at a time, a point of each per thread: every centroid value loaded from
    // shared memory serves two points. Tiles 2p and 2p + 1 go to block p mod gridDim.x.
    for (std::int64_t pair = blockIdx.x; 2 * pair < tiles; pair += gridDim.x) {
      const std::int64_t base = 2 * pair * kThreads;
      const std::int64_t ia = base + threadIdx.x, ib = ia + kThreads;
      T xa[DP], xb[DP];
      int la = k, lb = k;
      if (ib < data.n) {
        load_row<T, DP>(data.x, ia, d, xa);
        load_row<T, DP>(data.x, ib, d, xb);
        nearest_label_pair<DP>(xa, xb, cs, cn, k, la, lb);
      } else if (ia < data.n) {
        load_row<T, DP>(data.x, ia, d, xa);
        la = nearest_label<T, DP>(xa, nullptr, d, cs, cn, k, c.stride);
      }
      const double wa = settle(ia, xa, la), wb = settle(ib, xb, lb);
      if (!accumulate) continue;
      walk_tile(base, lane, la, wa, std::false_type{}, std::false_type{});
      walk_tile(base + kThreads, lane, lb, wb, std::false_type{}, std::false_type{});
    }
  } else {
    for (std::int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
      const std::int64_t base = tile * kThreads;
      const std::int64_t i = base + threadIdx.x;
      T xr[DP];
      int label = k;
      if (i < data.n) {
        load_row<T, DP>(data.x, i, d, xr);
        label = nearest_label<T, DP>(xr, nullptr, d, cs, cn, k, c.stride);
      }
      const double w = settle(i, xr, label);
      if (!accumulate) continue;
      walk_tile(base, lane, label, w, std::false_type{}, std::false_type{});
    }
  }

  const double block_inertia = Reduce(reduce).Sum(inertia);
  __syncthreads();
  const double block_changed = Reduce(reduce).Sum(changed);
  if (threadIdx.x == 0) {
    block_totals[2 * blockIdx.x] = block_inertia;
    block_totals[2 * blockIdx.x + 1] = block_changed;
  }
  if (!accumulate) return;
  __syncthreads();  // every set has its last point
  double* const out = partials + static_cast<std::size_t>(blockIdx.x) * per_set;
  for (int e = threadIdx.x; e < per_set; e += kThreads) {
    double s = 0;
    for (int v = 0; v < sets; ++v) s += sums[static_cast<std::size_t>(v) * per_set + e];
    if (!weighted && e % width == d) s += counts[e / width];  // column d of the sets is zero
    out[e] = s;
  }
}

/// Adds the blocks' partials in block order. out: [inertia, changed, k x d sums, k weights].
__global__ void lloyd_finalize(const double* __restrict__ partials, int blocks, int k, int d,
                               bool accumulate, const double* __restrict__ block_totals,
                               double* __restrict__ out) {
  const int e = blockIdx.x * blockDim.x + threadIdx.x;
  const int width = d + 1;
  if (e == 0) {
    double inertia = 0, changed = 0;
    for (int b = 0; b < blocks; ++b) {
      inertia += block_totals[2 * b];
      changed += block_totals[2 * b + 1];
    }
    out[0] = inertia;
    out[1] = changed;
  }
  if (!accumulate || e >= k * width) return;
  double s = 0;
  for (int b = 0; b < blocks; ++b) s += partials[static_cast<std::size_t>(b) * k * width + e];
  const int lab = e / width, f = e % width;
  if (f < d)
    out[2 + lab * d + f] = s;
  else
    out[2 + k * d + lab] = s;
}

// ---- the simple passes ------------------------------------------------------------------------

/// Sum of the per-block partials (blocks x stride, column `col`) in a fixed order into out.
__global__ void finish_sums(const double* __restrict__ block_totals, int blocks, int stride,
                            double* __restrict__ out) {
  using Reduce = cub::BlockReduce<double, kThreads>;
  __shared__ typename Reduce::TempStorage temp;
  const int col = blockIdx.x;
  double s = 0;
  const int per = (blocks + kThreads - 1) / kThreads;
  for (int b = threadIdx.x * per; b < min(blocks, (threadIdx.x + 1) * per); ++b)
    s += block_totals[static_cast<std::size_t>(b) * stride + col];
  const double total = Reduce(temp).Sum(s);
  if (threadIdx.x == 0) out[col] = total;
}

template <typename T, int DP>
__global__ void __launch_bounds__(kThreads)
    nearest_kernel(DataView<T> data, PackedCentroidsView<T> c, bool shared_centroids,
                   std::int32_t* __restrict__ labels, double* __restrict__ dist_sq,
                   double* __restrict__ closest, bool update_closest, bool reset) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  const T* cs;
  const T* cn;
  stage_centroids(c, shared_centroids, reinterpret_cast<T*>(smem_raw), cs, cn);
  const int d = data.d;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(kThreads) + threadIdx.x; i < data.n;
       i += static_cast<std::int64_t>(gridDim.x) * kThreads) {
    T xr[DP > 0 ? DP : 1];
    const T* xrow = data.x + i * d;
    if constexpr (DP > 0) load_row<T, DP>(data.x, i, d, xr);
    const int label = nearest_label<T, DP>(xr, xrow, d, cs, cn, c.k, c.stride);
    const double dist =
        exact_distance_reg<T, DP>(xr, xrow, cs + static_cast<std::size_t>(label) * c.stride, d);
    if (labels) labels[i] = label;
    if (dist_sq) dist_sq[i] = dist;
    if (update_closest) {
      const double prev = reset ? infinity<double>() : closest[i];
      const double now = dist < prev ? dist : prev;
      closest[i] = now;
    }
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    candidates_kernel(DataView<T> data, const T* __restrict__ cand, int m,
                      const double* __restrict__ closest, double* __restrict__ block_totals) {
  using Reduce = cub::BlockReduce<double, kThreads>;
  __shared__ typename Reduce::TempStorage temp;
  double acc[kMaxCandidates];
#pragma unroll
  for (int j = 0; j < kMaxCandidates; ++j) acc[j] = 0;
  const int d = data.d;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(kThreads) + threadIdx.x; i < data.n;
       i += static_cast<std::int64_t>(gridDim.x) * kThreads) {
    const double w = weight_of(data, i), cl = closest[i];
    const T* xrow = data.x + i * d;
#pragma unroll
    for (int j = 0; j < kMaxCandidates; ++j) {
      if (j < m) {
        const double dist = exact_distance(xrow, cand + static_cast<std::size_t>(j) * d, d);
        acc[j] += w * (dist < cl ? dist : cl);
      }
    }
  }
  // Unrolled with a test (m is the same in every thread) so that acc stays in registers.
#pragma unroll
  for (int j = 0; j < kMaxCandidates; ++j) {
    if (j < m) {
      const double total = Reduce(temp).Sum(acc[j]);
      if (threadIdx.x == 0) block_totals[static_cast<std::size_t>(blockIdx.x) * m + j] = total;
      __syncthreads();
    }
  }
}

template <typename T>
__global__ void oversample_kernel(DataView<T> data, const double* __restrict__ closest,
                                  double scale, std::uint64_t seed,
                                  std::int32_t* __restrict__ flags) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       i < data.n; i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    flags[i] = detail::counter_uniform(seed, static_cast<std::uint64_t>(i)) <
                       scale * weight_of(data, i) * closest[i]
                   ? 1
                   : 0;
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    inertia_kernel(DataView<T> data, const T* __restrict__ centroids,
                   const std::int32_t* __restrict__ labels, double* __restrict__ block_totals) {
  using Reduce = cub::BlockReduce<double, kThreads>;
  __shared__ typename Reduce::TempStorage temp;
  const int d = data.d;
  double s = 0;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(kThreads) + threadIdx.x; i < data.n;
       i += static_cast<std::int64_t>(gridDim.x) * kThreads)
    s += weight_of(data, i) *
         exact_distance(data.x + i * d, centroids + static_cast<std::size_t>(labels[i]) * d, d);
  const double total = Reduce(temp).Sum(s);
  if (threadIdx.x == 0) block_totals[blockIdx.x] = total;
}

template <typename T>
__global__ void label_distances_kernel(DataView<T> data, const T* __restrict__ centroids,
                                       const std::int32_t* __restrict__ labels,
                                       double* __restrict__ dist) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       i < data.n; i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    dist[i] = exact_distance(data.x + i * data.d,
                             centroids + static_cast<std::size_t>(labels[i]) * data.d, data.d);
}

template <typename T>
__global__ void distances_kernel(DataView<T> data, const T* __restrict__ centroids, int k,
                                 std::int64_t first, std::int64_t rows, double* __restrict__ out) {
  const std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (e >= rows * k) return;
  const std::int64_t r = e / k;
  const int j = static_cast<int>(e % k);
  out[e] = exact_distance(data.x + (first + r) * data.d,
                          centroids + static_cast<std::size_t>(j) * data.d, data.d);
}

/// Chunk c of make_chunking(n, ...): rows [c * chunk_rows, c + 1 == chunks ? n : ...).
__device__ __forceinline__ void chunk_range(std::int64_t n, std::int64_t chunk_rows, int chunks,
                                            int c, std::int64_t& lo, std::int64_t& hi) {
  lo = static_cast<std::int64_t>(c) * chunk_rows;
  hi = c + 1 == chunks ? n : lo + chunk_rows;
}

/// One thread per (chunk, column), summing the chunk's rows in order exactly as the CPU backend's
/// column_moments does (the same chunks, no fused multiply-add), so the means and variances and
/// hence the centred data are bitwise the CPU's.
template <typename T>
__global__ void column_sums_kernel(DataView<T> data, const double* __restrict__ center,
                                   bool squares, std::int64_t chunk_rows, int chunks,
                                   double* __restrict__ partials) {
  const int d = data.d;
  const std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (e >= static_cast<std::int64_t>(chunks) * d) return;
  const int c = static_cast<int>(e / d), f = static_cast<int>(e % d);
  std::int64_t lo = 0, hi = 0;
  chunk_range(data.n, chunk_rows, chunks, c, lo, hi);
  const double m = center ? center[f] : 0.0;
  double s = 0;
  for (std::int64_t i = lo; i < hi; ++i) {
    double v = static_cast<double>(data.x[i * d + f]);
    if (center) v = __dsub_rn(v, m);
    s = squares ? __dadd_rn(s, __dmul_rn(v, v)) : __dadd_rn(s, v);
  }
  partials[static_cast<std::size_t>(c) * d + f] = s;
}

/// The smaller of two row indices (cub's own operators moved between CCCL versions).
struct MinIndex {
  __device__ std::int64_t operator()(std::int64_t a, std::int64_t b) const { return b < a ? b : a; }
};

/// sums[c] = sum of w_i closest_i over chunk c (one block per chunk, a fixed tree order).
template <typename T>
__global__ void __launch_bounds__(kThreads)
    chunk_potentials_kernel(DataView<T> data, const double* __restrict__ closest,
                            std::int64_t chunk_rows, int chunks, double* __restrict__ sums) {
  using Reduce = cub::BlockReduce<double, kThreads>;
  __shared__ typename Reduce::TempStorage temp;
  std::int64_t lo = 0, hi = 0;
  chunk_range(data.n, chunk_rows, chunks, static_cast<int>(blockIdx.x), lo, hi);
  double s = 0;
  for (std::int64_t i = lo + threadIdx.x; i < hi; i += kThreads)
    s = __dadd_rn(s, __dmul_rn(weight_of(data, i), closest[i]));
  const double total = Reduce(temp).Sum(s);
  if (threadIdx.x == 0) sums[blockIdx.x] = total;
}

/// One block per target: the first row i of [lo, hi) at which start + (the running sum of
/// w closest from lo) reaches the target, -1 when none does. The running sum is a block scan
/// per tile of kThreads x kScanItems rows (each thread kScanItems consecutive rows) plus a
/// carry: a fixed order, the same answer on every run.
constexpr int kScanItems = 8;
template <typename T>
__global__ void __launch_bounds__(kThreads)
    find_targets_kernel(DataView<T> data, const double* __restrict__ closest,
                        const TargetQuery* __restrict__ queries, std::int64_t* __restrict__ out) {
  using Scan = cub::BlockScan<double, kThreads>;
  using Reduce = cub::BlockReduce<std::int64_t, kThreads>;
  __shared__ union {
    typename Scan::TempStorage scan;
    typename Reduce::TempStorage reduce;
  } temp;
  __shared__ double s_carry;
  __shared__ std::int64_t s_found;
  const TargetQuery q = queries[blockIdx.x];
  constexpr std::int64_t kNone = 0x7fffffffffffffffLL;
  constexpr std::int64_t kTile = static_cast<std::int64_t>(kThreads) * kScanItems;
  if (threadIdx.x == 0) {
    s_carry = q.start;
    s_found = -1;
  }
  __syncthreads();
  for (std::int64_t base = q.lo; base < q.hi; base += kTile) {
    const std::int64_t first_row = base + static_cast<std::int64_t>(threadIdx.x) * kScanItems;
    double v[kScanItems], incl[kScanItems];
#pragma unroll
    for (int j = 0; j < kScanItems; ++j) {
      const std::int64_t i = first_row + j;
      v[j] = i < q.hi ? __dmul_rn(weight_of(data, i), closest[i]) : 0.0;
    }
    double total = 0;
    Scan(temp.scan).InclusiveSum(v, incl, total);
    const double carry = s_carry;
    // The running sum only grows along a thread's rows: its first hit is its smallest.
    std::int64_t hit = kNone;
#pragma unroll
    for (int j = kScanItems - 1; j >= 0; --j) {
      const std::int64_t i = first_row + j;
      if (i < q.hi && __dadd_rn(carry, incl[j]) >= q.target) hit = i;
    }
    __syncthreads();  // the scan's storage is reused by the reduction; everyone has read s_carry
    const std::int64_t found = Reduce(temp.reduce).Reduce(hit, MinIndex{});
    if (threadIdx.x == 0) {
      if (found != kNone) s_found = found;
      s_carry = __dadd_rn(carry, total);
    }
    __syncthreads();
    if (s_found >= 0) break;
  }
  if (threadIdx.x == 0) out[blockIdx.x] = s_found;
}

__global__ void column_finish(const double* __restrict__ partials, int blocks, int d,
                              double* __restrict__ out) {
  const int f = blockIdx.x * blockDim.x + threadIdx.x;
  if (f >= d) return;
  double s = 0;
  for (int b = 0; b < blocks; ++b) s += partials[static_cast<std::size_t>(b) * d + f];
  out[f] = s;
}

template <typename T>
__global__ void subtract_kernel(T* __restrict__ x, std::int64_t total, int d,
                                const T* __restrict__ shift) {
  for (std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    x[e] = x[e] - shift[e % d];
}

template <typename T>
__global__ void gather_rows_kernel(const T* __restrict__ x, int d,
                                   const std::int64_t* __restrict__ index, std::int64_t total,
                                   T* __restrict__ out) {
  for (std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    out[e] = x[index[e / d] * d + e % d];
}

/// Blocks for a grid-stride loop over `items` (capped; the kernels loop over the rest).
unsigned grid_for(std::int64_t items, int threads = kThreads) {
  const std::int64_t blocks = (items + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65536 ? 65536 : blocks));
}

/// Dynamic shared memory `kernel` may use on `device`: the opt-in maximum per block minus the
/// kernel's own static shared memory (its __shared__ arrays and CUB's temp storage).
template <typename Kernel>
std::size_t dynamic_shared_limit(Kernel kernel, int device) {
  int optin = 0;
  check(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
        "cudaDeviceGetAttribute(MaxSharedMemoryPerBlockOptin)");
  cudaFuncAttributes attr{};
  check(cudaFuncGetAttributes(&attr, kernel), "cudaFuncGetAttributes");
  const auto used = static_cast<std::size_t>(attr.sharedSizeBytes);
  return static_cast<std::size_t>(optin) > used ? static_cast<std::size_t>(optin) - used : 0;
}

template <typename T>
std::size_t centroid_shared_bytes(int k, int stride) {
  return (static_cast<std::size_t>(k) * stride + k) * sizeof(T);
}

template <int DP>
using Width = std::integral_constant<int, DP>;

/// Calls fn(Width<DP>{}) with the register width for d (0: above 128, x read from memory).
template <typename Fn>
void with_dp(int d, Fn&& fn) {
  if (d <= 4)
    fn(Width<4>{});
  else if (d <= 8)
    fn(Width<8>{});
  else if (d <= 16)
    fn(Width<16>{});
  else if (d <= 32)
    fn(Width<32>{});
  else if (d <= 64)
    fn(Width<64>{});
  else if (d <= 128)
    fn(Width<128>{});
  else
    fn(Width<0>{});
}

/// Lets `kernel` take `bytes` of dynamic shared memory: raises its limit (needed past 48 KiB
/// minus its static shared memory, so set for any non-zero request) to the most it may have on
/// `device`, the same value on every call, so that two host threads launching the same kernel
/// with different sizes never lower each other's limit between the setting and the launch (the
/// blocks per SM follow the bytes launched, not the limit).
template <typename Kernel>
void allow_shared(Kernel kernel, std::size_t bytes, int device) {
  if (bytes == 0) return;
  const std::size_t limit = dynamic_shared_limit(kernel, device);
  if (bytes > limit)
    throw CudaError("a kernel asks for " + std::to_string(bytes) +
                    " bytes of shared memory; the device allows " + std::to_string(limit));
  check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(limit)),
        "cudaFuncSetAttribute(MaxDynamicSharedMemorySize)");
}

int current_device() {
  int device = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  return device;
}

}  // namespace

int reduce_blocks() { return kReduceBlocks; }

int padded_width(int d) {
  if (d <= 4) return 4;
  if (d <= 8) return 8;
  if (d <= 16) return 16;
  if (d <= 32) return 32;
  if (d <= 64) return 64;
  if (d <= 128) return 128;
  return (d + 3) / 4 * 4;
}

/// The fused kernel for d, or with given labels the one that keeps nothing in registers (the
/// rows are read once, for the exact distance only).
template <typename Fn>
void with_lloyd_dp(int d, bool given_labels, Fn&& fn) {
  if (given_labels)
    fn(Width<0>{});
  else
    with_dp(d, fn);
}

template <typename T>
LloydPlan plan_lloyd(int d, int k, bool accumulate, int device, bool given_labels,
                     bool tensor_search, int max_groups, bool walk_inertia) {
  if (max_groups < 1 || (max_groups & (max_groups - 1)) != 0)
    throw InvalidArgument("plan_lloyd: max_groups must be a power of two >= 1");
  LloydPlan plan;
  plan.given_labels = given_labels;
  plan.accumulate = accumulate;
  const int stride = padded_width(d);
  const std::size_t pbytes = static_cast<std::size_t>(k) * (d + 1) * sizeof(double);
  int sms = 0, per_sm = 0, major = 0;
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device),
        "cudaDeviceGetAttribute(MultiProcessorCount)");
  check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device),
        "cudaDeviceGetAttribute(ComputeCapabilityMajor)");
  with_lloyd_dp(d, given_labels, [&](auto width) {
    constexpr int DP = decltype(width)::value;
    if constexpr (DP > 0 && DP <= 64) {
      // The warp-sums kernel, with as many groups of point_lanes(d) lanes per warp (each with
      // its own set of sums) as leave three blocks per SM by the occupancy the device reports
      // (its shared memory and registers), or one set per warp if that leaves two; else
      // lloyd_kernel, whose one set per block takes an eighth of the memory. On an H100 or H200
      // three blocks have about 74 KB of dynamic shared memory each (d = 16, k = 32: two
      // groups, 71.9 KB with the exact search's centroids, 73.2 KB with the tensor search's).
      const auto fits = [&](auto warp_kernel, std::size_t cbytes) {
        const std::size_t limit = dynamic_shared_limit(warp_kernel, device);
        const std::size_t count_bytes = (static_cast<std::size_t>(k) * sizeof(int) + 15) / 16 * 16;
        const auto bytes_for = [&](int groups) {
          return (cbytes + 15) / 16 * 16 +
                 (accumulate ? std::size_t{kWarps} * static_cast<std::size_t>(groups) * pbytes +
                                   count_bytes
                             : 0);
        };
        const auto blocks_per_sm = [&](int groups) {
          const std::size_t bytes = bytes_for(groups);
          if (bytes > limit) return 0;
          allow_shared(warp_kernel, bytes, device);
          int blocks = 0;
          check(
              cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, warp_kernel, kThreads, bytes),
              "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
          return blocks;
        };
        int groups = accumulate ? std::min(max_groups, 32 / point_lanes(d)) : 1;
        int per = blocks_per_sm(groups);
        while (groups > 1 && per < 3) per = blocks_per_sm(groups /= 2);
        if (per < (groups > 1 ? 3 : 2)) return false;
        per_sm = per;
        plan.warp_sums = true;
        plan.groups = groups;
        plan.shared_centroids = true;
        plan.shared_partials = accumulate;
        plan.shared_bytes = bytes_for(groups);
        return true;
      };
      if constexpr (kTensorCapable<T, DP>) {
        // mma.sync with TF32 needs compute capability 8.0, in the code the device runs (a
        // build for an older target, JIT-compiled here, has no tensor search in it).
        auto tensor_kernel = lloyd_warp_sums_kernel<T, DP, true>;
        cudaFuncAttributes attr{};
        check(cudaFuncGetAttributes(&attr, tensor_kernel), "cudaFuncGetAttributes");
        if (tensor_search && major >= 8 && attr.binaryVersion >= 80 && attr.ptxVersion >= 80 &&
            fits(tensor_kernel, tensor_centroid_bytes<DP>(k))) {
          plan.tensor_search = true;
          plan.walk_inertia = walk_inertia && accumulate;
          return;
        }
      }
      if (fits(lloyd_warp_sums_kernel<T, DP, false>, centroid_shared_bytes<T>(k, stride))) return;
    }
    const std::size_t cbytes = centroid_shared_bytes<T>(k, stride);
    auto kernel = lloyd_kernel<T, DP>;
    const std::size_t limit = dynamic_shared_limit(kernel, device);
    // Given labels, the centroids are read only for each row's own (exact) distance.
    plan.shared_centroids = !given_labels && cbytes <= limit / 2;
    std::size_t bytes = plan.shared_centroids ? (cbytes + 15) / 16 * 16 : 0;
    plan.shared_partials = accumulate && bytes + pbytes <= limit;
    if (plan.shared_partials) bytes += pbytes;
    plan.shared_bytes = bytes;
    allow_shared(kernel, bytes, device);
    check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, bytes),
          "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
  });
  plan.blocks = sms * (per_sm > 0 ? per_sm : 1);
  plan.partial_doubles =
      accumulate ? static_cast<std::size_t>(plan.blocks) * k * (d + 1) : std::size_t{0};
  return plan;
}

template <typename T>
void lloyd_pass(const DataView<T>& data, const PackedCentroidsView<T>& c, std::int32_t* labels,
                const LloydPlan& plan, bool accumulate, bool with_inertia, double* partials,
                double* block_totals, double* out, cudaStream_t stream, const std::int32_t* given) {
  if ((given != nullptr) != plan.given_labels || accumulate != plan.accumulate)
    throw InvalidArgument("lloyd_pass: the arguments and the plan disagree");
  if (c.stride != padded_width(data.d))
    throw InvalidArgument("lloyd_pass: centroids not packed with padded_width(d)");
  const std::int64_t tiles = (data.n + kThreads - 1) / kThreads;
  // Fewer blocks than the plan when there is less work (tiles, or pairs of tiles for the
  // paired search); the plan's count otherwise (fixed).
  const auto blocks_for = [&](std::int64_t units) {
    return static_cast<int>(units < plan.blocks ? units : plan.blocks);
  };
  int blocks = blocks_for(tiles);
  const bool shared_centroids = plan.shared_centroids;
  const int device = current_device();
  with_lloyd_dp(data.d, plan.given_labels, [&](auto width) {
    constexpr int DP = decltype(width)::value;
    if constexpr (DP > 0 && DP <= 64) {
      if (plan.warp_sums) {
        const auto launch = [&](auto kernel) {
          allow_shared(kernel, plan.shared_bytes, device);
          kernel<<<blocks, kThreads, plan.shared_bytes, stream>>>(
              data, c, labels, accumulate, with_inertia, plan.groups, plan.walk_inertia, partials,
              block_totals);
          check_launch("lloyd_warp_sums_kernel");
        };
        if constexpr (kTensorCapable<T, DP>) {
          if (plan.tensor_search) return launch(lloyd_warp_sums_kernel<T, DP, true>);
        }
        if (plan.tensor_search) throw InvalidArgument("lloyd_pass: a tensor plan for this shape");
        if constexpr (kPairedSearch<T, DP>) blocks = blocks_for((tiles + 1) / 2);
        return launch(lloyd_warp_sums_kernel<T, DP, false>);
      }
    }
    if (plan.warp_sums) throw InvalidArgument("lloyd_pass: a warp-sums plan for d > 64");
    auto kernel = lloyd_kernel<T, DP>;
    allow_shared(kernel, plan.shared_bytes, device);
    kernel<<<blocks, kThreads, plan.shared_bytes, stream>>>(
        data, c, labels, accumulate, with_inertia, shared_centroids, plan.shared_partials, partials,
        block_totals, given);
    check_launch("lloyd_kernel");
  });
  const int width = data.d + 1;
  const int elems = accumulate ? c.k * width : 1;
  lloyd_finalize<<<(elems + kThreads - 1) / kThreads, kThreads, 0, stream>>>(
      partials, blocks, c.k, data.d, accumulate, block_totals, out);
  check_launch("lloyd_finalize");
}

namespace {
template <typename T>
void launch_nearest(const DataView<T>& data, const PackedCentroidsView<T>& c, std::int32_t* labels,
                    double* dist_sq, double* closest, bool update, bool reset,
                    cudaStream_t stream) {
  if (c.stride != padded_width(data.d))
    throw InvalidArgument("nearest: centroids not packed with padded_width(d)");
  const int device = current_device();
  const std::size_t cbytes = centroid_shared_bytes<T>(c.k, c.stride);
  with_dp(data.d, [&](auto width) {
    auto kernel = nearest_kernel<T, decltype(width)::value>;
    const bool shared = cbytes <= dynamic_shared_limit(kernel, device) && cbytes <= 96 * 1024;
    const std::size_t bytes = shared ? cbytes : 0;
    allow_shared(kernel, bytes, device);
    kernel<<<kReduceBlocks, kThreads, bytes, stream>>>(data, c, shared, labels, dist_sq, closest,
                                                       update, reset);
    check_launch("nearest_kernel");
  });
}
}  // namespace

template <typename T>
void nearest(const DataView<T>& data, const PackedCentroidsView<T>& c, std::int32_t* labels,
             double* dist_sq, cudaStream_t stream) {
  launch_nearest(data, c, labels, dist_sq, nullptr, false, false, stream);
}

template <typename T>
void update_closest(const DataView<T>& data, const PackedCentroidsView<T>& c, double* closest,
                    bool reset, cudaStream_t stream) {
  launch_nearest(data, c, nullptr, nullptr, closest, true, reset, stream);
}

template <typename T>
void candidate_potentials(const DataView<T>& data, const T* candidates, int m,
                          const double* closest, double* block_totals, double* out,
                          cudaStream_t stream) {
  for (int j0 = 0; j0 < m; j0 += kMaxCandidates) {
    const int mm = m - j0 < kMaxCandidates ? m - j0 : kMaxCandidates;
    candidates_kernel<T><<<kReduceBlocks, kThreads, 0, stream>>>(
        data, candidates + static_cast<std::size_t>(j0) * data.d, mm, closest, block_totals);
    check_launch("candidates_kernel");
    finish_sums<<<mm, kThreads, 0, stream>>>(block_totals, kReduceBlocks, mm, out + j0);
    check_launch("finish_sums");
  }
}

template <typename T>
void oversample_flags(const DataView<T>& data, const double* closest, double scale,
                      std::uint64_t seed, std::int32_t* flags, cudaStream_t stream) {
  oversample_kernel<T>
      <<<grid_for(data.n), kThreads, 0, stream>>>(data, closest, scale, seed, flags);
  check_launch("oversample_kernel");
}

template <typename T>
void inertia(const DataView<T>& data, const T* centroids, const std::int32_t* labels,
             double* block_totals, double* out, cudaStream_t stream) {
  inertia_kernel<T><<<kReduceBlocks, kThreads, 0, stream>>>(data, centroids, labels, block_totals);
  check_launch("inertia_kernel");
  finish_sums<<<1, kThreads, 0, stream>>>(block_totals, kReduceBlocks, 1, out);
  check_launch("finish_sums");
}

template <typename T>
void label_distances(const DataView<T>& data, const T* centroids, const std::int32_t* labels,
                     double* dist, cudaStream_t stream) {
  label_distances_kernel<T>
      <<<grid_for(data.n), kThreads, 0, stream>>>(data, centroids, labels, dist);
  check_launch("label_distances_kernel");
}

template <typename T>
void distances_block(const DataView<T>& data, const T* centroids, int k, std::int64_t first,
                     std::int64_t rows, double* out, cudaStream_t stream) {
  const std::int64_t items = rows * k;
  distances_kernel<T>
      <<<static_cast<unsigned>((items + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
          data, centroids, k, first, rows, out);
  check_launch("distances_kernel");
}

template <typename T>
void column_sums(const DataView<T>& data, const double* center, bool squares,
                 std::int64_t chunk_rows, int chunks, double* partials, double* out,
                 cudaStream_t stream) {
  const std::int64_t items = static_cast<std::int64_t>(chunks) * data.d;
  column_sums_kernel<T><<<static_cast<unsigned>((items + 127) / 128), 128, 0, stream>>>(
      data, center, squares, chunk_rows, chunks, partials);
  check_launch("column_sums_kernel");
  column_finish<<<(data.d + 127) / 128, 128, 0, stream>>>(partials, chunks, data.d, out);
  check_launch("column_finish");
}

template <typename T>
void chunk_potentials(const DataView<T>& data, const double* closest, std::int64_t chunk_rows,
                      int chunks, double* sums, cudaStream_t stream) {
  chunk_potentials_kernel<T><<<static_cast<unsigned>(chunks), kThreads, 0, stream>>>(
      data, closest, chunk_rows, chunks, sums);
  check_launch("chunk_potentials_kernel");
}

template <typename T>
void find_targets(const DataView<T>& data, const double* closest, const TargetQuery* queries, int m,
                  std::int64_t* out, cudaStream_t stream) {
  if (m == 0) return;
  find_targets_kernel<T>
      <<<static_cast<unsigned>(m), kThreads, 0, stream>>>(data, closest, queries, out);
  check_launch("find_targets_kernel");
}

template <typename T>
void subtract(T* x, std::int64_t n, int d, const T* shift, cudaStream_t stream) {
  subtract_kernel<T><<<grid_for(n * d), kThreads, 0, stream>>>(x, n * d, d, shift);
  check_launch("subtract_kernel");
}

template <typename T>
void gather_rows(const T* x, int d, const std::int64_t* index, std::int64_t m, T* out,
                 cudaStream_t stream) {
  if (m == 0) return;
  gather_rows_kernel<T><<<grid_for(m * d), kThreads, 0, stream>>>(x, d, index, m * d, out);
  check_launch("gather_rows_kernel");
}

#define SEGCORE_INSTANTIATE(T)                                                                     \
  template LloydPlan plan_lloyd<T>(int, int, bool, int, bool, bool, int, bool);                    \
  template void lloyd_pass<T>(const DataView<T>&, const PackedCentroidsView<T>&, std::int32_t*,    \
                              const LloydPlan&, bool, bool, double*, double*, double*,             \
                              cudaStream_t, const std::int32_t*);                                  \
  template void nearest<T>(const DataView<T>&, const PackedCentroidsView<T>&, std::int32_t*,       \
                           double*, cudaStream_t);                                                 \
  template void update_closest<T>(const DataView<T>&, const PackedCentroidsView<T>&, double*,      \
                                  bool, cudaStream_t);                                             \
  template void candidate_potentials<T>(const DataView<T>&, const T*, int, const double*, double*, \
                                        double*, cudaStream_t);                                    \
  template void oversample_flags<T>(const DataView<T>&, const double*, double, std::uint64_t,      \
                                    std::int32_t*, cudaStream_t);                                  \
  template void inertia<T>(const DataView<T>&, const T*, const std::int32_t*, double*, double*,    \
                           cudaStream_t);                                                          \
  template void label_distances<T>(const DataView<T>&, const T*, const std::int32_t*, double*,     \
                                   cudaStream_t);                                                  \
  template void distances_block<T>(const DataView<T>&, const T*, int, std::int64_t, std::int64_t,  \
                                   double*, cudaStream_t);                                         \
  template void column_sums<T>(const DataView<T>&, const double*, bool, std::int64_t, int,         \
                               double*, double*, cudaStream_t);                                    \
  template void chunk_potentials<T>(const DataView<T>&, const double*, std::int64_t, int, double*, \
                                    cudaStream_t);                                                 \
  template void find_targets<T>(const DataView<T>&, const double*, const TargetQuery*, int,        \
                                std::int64_t*, cudaStream_t);                                      \
  template void subtract<T>(T*, std::int64_t, int, const T*, cudaStream_t);                        \
  template void gather_rows<T>(const T*, int, const std::int64_t*, std::int64_t, T*, cudaStream_t);

SEGCORE_INSTANTIATE(float)
SEGCORE_INSTANTIATE(double)
#undef SEGCORE_INSTANTIATE

}  // namespace segcore::cuda
