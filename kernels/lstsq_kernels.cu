// segcore: batched least squares on the GPU.
//
// The CPU kernel (host/lstsq/lstsq_kernels.inl) moved onto the device, per problem:
//   pass 1: the weighted Gram matrix of z = (a, b) in double (A^T W A and A^T W b), sum w,
//           sum w b and the count of rows with w > 0;
//   the same checks: non-finite sums or diagonal -> "non-finite"; the ridge on the diagonal;
//           the same square-root-free Cholesky G = U D U^T with the cond_1(L) <= 100 guard;
//   pass 2: rss, tss about the weighted mean and r2 from the rows themselves.
// A problem the guard rejects (ill-conditioned, rank-deficient, too few rows) is not solved
// here: its index goes to a list, and the host finishes it with the CPU path's QR code
// (lstsq_detail::solve_listed_on_cpu), so those problems get exactly the CPU's answer.
//
// Two kernels:
// - lstsq_thread_kernel: one thread per problem (m <= kThreadMaxRows). Each warp owns 32
//   consecutive problems and stages their rows through shared memory, R rows per problem at a
//   time: for each of the 32 problems the warp copies the next R rows (R * P contiguous values of
//   A, R of b and of w) with coalesced asynchronous copies (cp.async) into a transposed layout
//   [value][lane] with a row stride of 33, so that the copies and each thread's reads of its own
//   rows are free of bank conflicts. Ragged offsets need nothing special: every problem's segment
//   is copied on its own. When every problem of the warp fits in one stage (m <= R), pass 2 reads
//   the rows again from shared memory (A and b are read from DRAM exactly once); otherwise pass 2
//   stages them again (a second read, mostly from L2).
// - lstsq_warp_kernel: one warp per tall problem (m > kThreadMaxRows). Up to P = 10 the lanes
//   take rows lane, lane + 32, ..., and the partial sums are combined by a butterfly of
//   shuffles, which leaves the bitwise-same total on every lane; for wider problems the lanes
//   share out the entries of the sums instead and walk the rows together, 32 at a time through
//   shared memory (tall_sums_by_entry). Every lane then runs the same solve.
// Both are deterministic: the order of every sum is fixed, so two runs give identical bits.
#include <cuda_pipeline.h>
#include <cuda_runtime.h>
#include <math_constants.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "cuda/cuda_lstsq.hpp"
#include "cuda/cuda_raii.hpp"
#include "cuda/upload.hpp"
#include "lstsq/lstsq_kernels.hpp"
#include "segcore/error.hpp"
#include "segcore/lstsq.hpp"

namespace segcore::cuda {
namespace {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kWarpSize = 32;
// Thread kernel: warps per block, and the shared memory each warp may use for its stage
// (2 x 23 KiB stays below the 48 KiB that needs no opt-in).
constexpr int kWarpsPerBlock = 2;
constexpr std::size_t kSharedPerWarp = 23 * 1024;
// Shared layout of a stage: value v of lane j at [v * kStride + j].
constexpr int kStride = kWarpSize + 1;
// Problems with more rows than this get a warp each.
constexpr std::int64_t kThreadMaxRows = 512;
constexpr int kTallWarpsPerBlock = 4;
// Status of a problem handed back to the host (overwritten there).
constexpr std::int8_t kStatusHost = 100;

static_assert(sizeof(LstsqStatus) == 1, "statuses are copied as bytes");

template <typename T>
struct KernelArgs {
  const T* a;  // rows x P, row-major
  const T* b;
  const T* w;  // nullptr: all weights 1
  const std::int64_t* offsets;
  std::int64_t problems;
  double ridge;
  int skip;
  double rcond;
  double* coef;  // problems x P
  double* rss;
  double* r2;
  int* rank;
  std::int8_t* status;
  unsigned long long* host_count;  // problems handed back to the host ...
  std::int64_t* host_list;         // ... and their indices (in no particular order)
};

// ---- per-problem arithmetic, as in lstsq_kernels.inl ----

// Upper triangle of the Gram matrix of z = (a_0 .. a_{P-1}, b): g[j][l] for j <= l < P is
// (A^T W A)_jl, g[j][P] is (A^T W b)_j.
template <int P>
struct Sums {
  double g[P][P + 1];
  double sw, swb;
  long long m_eff;
};

template <int P>
__device__ __forceinline__ void zero(Sums<P>& s) {
#pragma unroll
  for (int j = 0; j < P; ++j)
#pragma unroll
    for (int l = j; l <= P; ++l) s.g[j][l] = 0;
  s.sw = s.swb = 0;
  s.m_eff = 0;
}

template <int P>
__device__ __forceinline__ void accumulate(Sums<P>& s, const double (&z)[P], double bk, double wk) {
#pragma unroll
  for (int j = 0; j < P; ++j) {
    const double wz = wk * z[j];
#pragma unroll
    for (int l = j; l < P; ++l) s.g[j][l] += wz * z[l];
    s.g[j][P] += wz * bk;
  }
  s.sw += wk;
  s.swb += wk * bk;
  s.m_eff += wk > 0 ? 1LL : 0LL;
}

// Butterfly sum over the warp: every lane ends with the same bits (a + b == b + a).
__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int s = kWarpSize / 2; s > 0; s >>= 1) v += __shfl_xor_sync(kFullMask, v, s);
  return v;
}
__device__ __forceinline__ long long warp_sum(long long v) {
#pragma unroll
  for (int s = kWarpSize / 2; s > 0; s >>= 1) v += __shfl_xor_sync(kFullMask, v, s);
  return v;
}
__device__ __forceinline__ int warp_max(int v) {
#pragma unroll
  for (int s = kWarpSize / 2; s > 0; s >>= 1) v = max(v, __shfl_xor_sync(kFullMask, v, s));
  return v;
}

template <int P>
__device__ __forceinline__ void warp_sum(Sums<P>& s) {
#pragma unroll
  for (int j = 0; j < P; ++j)
#pragma unroll
    for (int l = j; l <= P; ++l) s.g[j][l] = warp_sum(s.g[j][l]);
  s.sw = warp_sum(s.sw);
  s.swb = warp_sum(s.swb);
  s.m_eff = warp_sum(s.m_eff);
}

// The Cholesky step of lstsq_kernels.inl: G = U D U^T (square-root free, U unit lower
// triangular), the guard cond_1(L) = ||L||_1 ||L^-1||_1 <= cond_limit for L = U D^(1/2), then x.
// The factorisation and the guard repeat the CPU's operations one for one (so the guard decides
// alike up to the last bits of G); two changes keep the registers of one thread enough for p up
// to about 12: U is not stored (U(i, k) = t[i][k] * rd[k] recomputes the product the CPU
// stores), and U^-1 is formed one column at a time for its norm only, while x comes from forward
// and back substitution (the CPU multiplies by the stored U^-1: the same x up to rounding).
// Reads the upper triangle g[j][l], l >= j. False (x undefined) when a pivot is not positive,
// the estimate exceeds the limit, or x is not finite.
template <int P>
__device__ __forceinline__ bool solve_cholesky(const double (&g)[P][P + 1], const double (&atb)[P],
                                               double cond_limit, double (&x)[P]) {
  double d[P], rd[P];  // pivots and their reciprocals
  double t[P][P];      // t[i][j] = u[i][j] * d[j], i > j
#define U(i, k) (t[i][k] * rd[k])
#pragma unroll
  for (int j = 0; j < P; ++j) {
    double dj = g[j][j];
#pragma unroll
    for (int k = 0; k < j; ++k) dj -= t[j][k] * U(j, k);
    if (!(dj > 0)) return false;
    d[j] = dj;
    rd[j] = 1.0 / dj;
#pragma unroll
    for (int i = j + 1; i < P; ++i) {
      double s = g[j][i];
#pragma unroll
      for (int k = 0; k < j; ++k) s -= t[i][k] * U(j, k);
      t[i][j] = s;
    }
  }
  // ||L||_1 and ||L^-1||_1 column by column (L^-1 = D^(-1/2) U^-1), U's unit diagonal included
  // in the column sums of L, as on the CPU.
  double rsd[P];
#pragma unroll
  for (int j = 0; j < P; ++j) rsd[j] = sqrt(rd[j]);
  double norm_l = 0, norm_inv = 0;
#pragma unroll
  for (int c = 0; c < P; ++c) {
    double col[P];  // column c of U^-1, rows c .. P-1
    col[c] = 1.0;
    double sl = 1, si = rsd[c];  // |u[c][c]| and |inv[c][c]| * rsd[c]
#pragma unroll
    for (int i = c + 1; i < P; ++i) {
      double s = 0;
#pragma unroll
      for (int k = c; k < i; ++k) s -= U(i, k) * col[k];
      col[i] = s;
    }
#pragma unroll
    for (int i = c + 1; i < P; ++i) {
      sl += fabs(U(i, c));
      si += fabs(col[i]) * rsd[i];
    }
    norm_l = fmax(norm_l, sl * sqrt(d[c]));
    norm_inv = fmax(norm_inv, si);
  }
  if (!(norm_l * norm_inv <= cond_limit)) return false;
  // x = U^-T D^-1 U^-1 atb by substitution.
  double v[P];
#pragma unroll
  for (int i = 0; i < P; ++i) {
    double s = atb[i];
#pragma unroll
    for (int k = 0; k < i; ++k) s -= U(i, k) * v[k];
    v[i] = s;
  }
#pragma unroll
  for (int i = P - 1; i >= 0; --i) {
    double s = v[i] * rd[i];
#pragma unroll
    for (int k = i + 1; k < P; ++k) s -= U(k, i) * x[k];
    x[i] = s;
  }
#undef U
  bool finite = true;
#pragma unroll
  for (int i = 0; i < P; ++i) finite = finite && isfinite(x[i]);
  return finite;
}

enum class Outcome { kSolved, kHost, kNonFinite };

// The checks and the Cholesky attempt of solve_problem in lstsq_kernels.inl.
template <int P, typename T>
__device__ __forceinline__ Outcome solve_normal(const Sums<P>& s, const KernelArgs<T>& args,
                                                double (&x)[P]) {
  bool finite = isfinite(s.sw) && isfinite(s.swb);
#pragma unroll
  for (int j = 0; j < P; ++j) finite = finite && isfinite(s.g[j][j]);
  if (!finite) return Outcome::kNonFinite;
  double g[P][P + 1], atb[P];  // the upper triangle, as the factorisation reads it
#pragma unroll
  for (int j = 0; j < P; ++j) {
#pragma unroll
    for (int l = j; l < P; ++l) g[j][l] = s.g[j][l];
    atb[j] = s.g[j][P];
  }
  int ridge_rows = 0;
  if (args.ridge > 0) {
#pragma unroll
    for (int j = 0; j < P; ++j) {
      if (j == args.skip) continue;
      g[j][j] += args.ridge;
      ++ridge_rows;
    }
  }
  const long long rows = s.m_eff + ridge_rows;
  const double rcond =
      args.rcond >= 0 ? args.rcond : DBL_EPSILON * static_cast<double>(rows > P ? rows : P);
  if (rows < P) return Outcome::kHost;  // too few rows: the minimum-norm solution by QR
  const double limit = rcond > 0 ? fmin(lstsq_detail::kCholeskyCondLimit, 0.1 / rcond)
                                 : lstsq_detail::kCholeskyCondLimit;
  return solve_cholesky<P>(g, atb, limit, x) ? Outcome::kSolved : Outcome::kHost;
}

// Pass 2 for one row: residual and deviation from the weighted mean, as on the CPU.
struct Residuals {
  double rss, tss;
  double bmin, bmax;  // over the rows with w > 0
};

__device__ __forceinline__ Residuals no_residuals() {
  return Residuals{0.0, 0.0, CUDART_INF, -CUDART_INF};
}

template <int P>
__device__ __forceinline__ void residual_row(Residuals& r, const double (&z)[P], double bk,
                                             double wk, const double (&x)[P], double mean) {
  double fit = 0;
#pragma unroll
  for (int j = 0; j < P; ++j) fit += z[j] * x[j];
  const double res = bk - fit;
  const double dev = bk - mean;
  r.rss += wk * res * res;
  r.tss += wk * dev * dev;
  if (wk > 0) {
    r.bmin = fmin(r.bmin, bk);
    r.bmax = fmax(r.bmax, bk);
  }
}

template <int P, typename T>
__device__ __forceinline__ void write_result(const KernelArgs<T>& args, std::int64_t i, Outcome o,
                                             const double (&x)[P], const Residuals& res) {
  const double nan = CUDART_NAN;
  double* coef = args.coef + i * P;
  if (o == Outcome::kSolved) {
#pragma unroll
    for (int j = 0; j < P; ++j) coef[j] = x[j];
    args.rss[i] = res.rss;
    // A constant b makes tss rounding noise rather than exactly 0, hence the explicit check.
    args.r2[i] = (res.bmin < res.bmax && res.tss > 0) ? 1.0 - res.rss / res.tss : nan;
    args.rank[i] = P;
    args.status[i] = static_cast<std::int8_t>(LstsqStatus::kOk);
  } else if (o == Outcome::kNonFinite) {
#pragma unroll
    for (int j = 0; j < P; ++j) coef[j] = nan;
    args.rss[i] = nan;
    args.r2[i] = nan;
    args.rank[i] = 0;
    args.status[i] = static_cast<std::int8_t>(LstsqStatus::kNonFinite);
  } else {
    args.status[i] = kStatusHost;
    const unsigned long long slot = atomicAdd(args.host_count, 1ULL);
    args.host_list[slot] = i;
  }
}

// ---- one thread per problem ----

// A warp's stage: rows [k0, k0 + R) of each of its 32 problems (lane j's problem starts at row
// lo of the batch and has m rows; m = 0 for lanes without a problem), copied asynchronously into
// sa[(r * P + c) * kStride + j], sb[r * kStride + j] and sw[r * kStride + j]. Every lane of the
// warp must call it; the rows are visible to the whole warp on return.
template <int P, typename T>
__device__ __forceinline__ void stage_rows(const KernelArgs<T>& args, T* sa, T* sb, T* sw, int R,
                                           std::int64_t lo, int m, int k0, int lane) {
  for (int j = 0; j < kWarpSize; ++j) {
    const std::int64_t lo_j = __shfl_sync(kFullMask, lo, j);
    const int m_j = __shfl_sync(kFullMask, m, j);
    const int rows = min(max(m_j - k0, 0), R);  // the same on every lane
    if (rows == 0) continue;
    const std::int64_t row0 = lo_j + k0;
    const T* ga = args.a + row0 * P;
    const int na = rows * P;
    for (int e = lane; e < na; e += kWarpSize)
      __pipeline_memcpy_async(sa + e * kStride + j, ga + e, sizeof(T));
    for (int e = lane; e < rows; e += kWarpSize) {
      __pipeline_memcpy_async(sb + e * kStride + j, args.b + row0 + e, sizeof(T));
      if (args.w) __pipeline_memcpy_async(sw + e * kStride + j, args.w + row0 + e, sizeof(T));
    }
  }
  __pipeline_commit();
  __pipeline_wait_prior(0);
  __syncwarp();
}

template <int P, typename T>
__device__ __forceinline__ void load_staged_row(const T* sa, const T* sb, const T* sw,
                                                bool weighted, int r, int lane, double (&z)[P],
                                                double& bk, double& wk) {
#pragma unroll
  for (int c = 0; c < P; ++c) z[c] = static_cast<double>(sa[(r * P + c) * kStride + lane]);
  bk = static_cast<double>(sb[r * kStride + lane]);
  wk = weighted ? static_cast<double>(sw[r * kStride + lane]) : 1.0;
}

// Dynamic shared memory: kWarpsPerBlock stages of R * (P + 1 + weighted) * kStride values of T.
template <int P, typename T>
__global__ void __launch_bounds__(kWarpSize* kWarpsPerBlock)
    lstsq_thread_kernel(const KernelArgs<T> args, const int R) {
  extern __shared__ __align__(16) unsigned char shared_raw[];
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  const bool weighted = args.w != nullptr;
  const int values = P + 1 + (weighted ? 1 : 0);
  T* const sa =
      reinterpret_cast<T*>(shared_raw) + static_cast<std::size_t>(warp) * R * values * kStride;
  T* const sb = sa + static_cast<std::size_t>(R) * P * kStride;
  T* const sw = sb + static_cast<std::size_t>(R) * kStride;

  const std::int64_t i =
      (static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + warp) * kWarpSize + lane;
  std::int64_t lo = 0;
  int m = 0;
  bool mine = false;
  if (i < args.problems) {
    lo = args.offsets[i];
    const std::int64_t rows = args.offsets[i + 1] - lo;
    mine = rows <= kThreadMaxRows;  // taller problems belong to lstsq_warp_kernel
    m = mine ? static_cast<int>(rows) : 0;
  }
  // No lane leaves early: every lane takes part in the warp's stages.
  const int m_max = warp_max(m);

  Sums<P> s;
  zero(s);
  for (int k0 = 0; k0 < m_max; k0 += R) {
    stage_rows<P, T>(args, sa, sb, sw, R, lo, m, k0, lane);
    const int rows = min(max(m - k0, 0), R);
    for (int r = 0; r < rows; ++r) {
      double z[P], bk, wk;
      load_staged_row<P, T>(sa, sb, sw, weighted, r, lane, z, bk, wk);
      accumulate(s, z, bk, wk);
    }
    __syncwarp();  // everyone is done with the stage before the next one overwrites it
  }

  double x[P] = {};
  Outcome o = Outcome::kHost;
  if (mine) o = solve_normal<P, T>(s, args, x);

  // Pass 2 over the rows of the solved problems; with a single stage they are still in place.
  const bool resident = m_max <= R;
  const int m2 = o == Outcome::kSolved && mine ? m : 0;
  const int m2_max = warp_max(m2);
  const double mean = s.sw > 0 ? s.swb / s.sw : 0.0;
  Residuals res = no_residuals();
  for (int k0 = 0; k0 < m2_max; k0 += R) {
    if (!resident) stage_rows<P, T>(args, sa, sb, sw, R, lo, m2, k0, lane);
    const int rows = min(max(m2 - k0, 0), R);
    for (int r = 0; r < rows; ++r) {
      double z[P], bk, wk;
      load_staged_row<P, T>(sa, sb, sw, weighted, r, lane, z, bk, wk);
      residual_row(res, z, bk, wk, x, mean);
    }
    __syncwarp();
  }
  if (mine) write_result<P, T>(args, i, o, x, res);
}

// ---- one warp per tall problem ----

template <int P, typename T>
__device__ __forceinline__ void load_global_row(const KernelArgs<T>& args, std::int64_t row,
                                                double (&z)[P], double& bk, double& wk) {
  const T* ar = args.a + row * P;
#pragma unroll
  for (int c = 0; c < P; ++c) z[c] = static_cast<double>(__ldg(ar + c));
  bk = static_cast<double>(__ldg(args.b + row));
  wk = args.w ? static_cast<double>(__ldg(args.w + row)) : 1.0;
}

// Up to this P a lane of the tall kernel holds a whole Sums<P> and sums its own rows (lane,
// lane + 32, ...); past it the sums alone outgrow the registers (ptxas: 254 registers and
// spills at P = 11, a 6 KB stack at P = 16), and the lanes share the entries instead.
constexpr int kTallLaneRowsMaxP = 10;

// The entries of Sums<P> spread over the lanes: a tile of 32 rows is copied into shared memory
// in double, row r as z_0 .. z_{P-1}, b, w, 1, and entry q (lane q, q + 32, ...) adds
// (w * v[ca]) * v[cb] over the tile's rows in row order: the Gram's upper triangle (ca = j,
// cb = l), A^T W b (ca = j, cb = P), sum w (ca = cb = the 1) and sum w b (ca = the 1, cb = P):
// each entry summed in the CPU's row order (the last bits can differ where nvcc fuses the
// multiply and the add and the CPU build does not).
template <int P>
struct TallTile {
  static constexpr int kCols = P + 3;
  static constexpr int kGram = P * (P + 1) / 2;
  static constexpr int kEntries = kGram + P + 2;
  static_assert(kEntries <= kWarpSize * kCols, "the entries are written back into the tile");
};

template <int P>
__device__ __forceinline__ void tall_entry_columns(int q, int& ca, int& cb) {
  using L = TallTile<P>;
  constexpr int one = P + 2;
  if (q < L::kGram) {  // (j, l), j <= l, row by row
    int j = 0, r = q;
    while (r >= P - j) {
      r -= P - j;
      ++j;
    }
    ca = j;
    cb = j + r;
  } else if (q < L::kGram + P) {
    ca = q - L::kGram;
    cb = P;
  } else if (q == L::kGram + P) {
    ca = cb = one;
  } else {  // sum w b; past kEntries: a product nobody reads
    ca = one;
    cb = q == L::kGram + P + 1 ? P : one;
  }
}

// The tall problem's sums, lanes sharing the entries (P > kTallLaneRowsMaxP). `tile` holds
// kWarpSize * TallTile<P>::kCols doubles of this warp's shared memory. Every lane of the warp
// calls it and gets the same sums.
template <int P, typename T>
__device__ __forceinline__ void tall_sums_by_entry(const KernelArgs<T>& args, std::int64_t lo,
                                                   std::int64_t m, int lane, double* tile,
                                                   Sums<P>& s) {
  using L = TallTile<P>;
  constexpr int kPerLane = (L::kEntries + kWarpSize - 1) / kWarpSize;  // entries a lane sums
  int ca[kPerLane], cb[kPerLane];
  double acc[kPerLane];
#pragma unroll
  for (int t = 0; t < kPerLane; ++t) {
    tall_entry_columns<P>(lane + t * kWarpSize, ca[t], cb[t]);
    acc[t] = 0;
  }
  tile[lane * L::kCols + P + 2] = 1.0;  // the constant column, the same for every tile
  long long count = 0;                  // this lane's rows with w > 0
  for (std::int64_t k0 = 0; k0 < m; k0 += kWarpSize) {
    const int rows = static_cast<int>(m - k0 < kWarpSize ? m - k0 : kWarpSize);
    const T* a = args.a + (lo + k0) * P;  // the tile's rows of A are contiguous
    for (int e = lane; e < rows * P; e += kWarpSize) {
      const int r = e / P;
      tile[r * L::kCols + (e - r * P)] = static_cast<double>(__ldg(a + e));
    }
    if (lane < rows) {
      const double wk = args.w ? static_cast<double>(__ldg(args.w + lo + k0 + lane)) : 1.0;
      tile[lane * L::kCols + P] = static_cast<double>(__ldg(args.b + lo + k0 + lane));
      tile[lane * L::kCols + P + 1] = wk;
      count += wk > 0 ? 1 : 0;
    }
    __syncwarp();
    for (int r = 0; r < rows; ++r) {
      const double* v = tile + r * L::kCols;
      const double wk = v[P + 1];
#pragma unroll
      for (int t = 0; t < kPerLane; ++t) acc[t] += (wk * v[ca[t]]) * v[cb[t]];
    }
    __syncwarp();  // the tile is read before the next one overwrites it
  }
  // Every entry through the tile, then each lane reads the whole set.
#pragma unroll
  for (int t = 0; t < kPerLane; ++t)
    if (lane + t * kWarpSize < L::kEntries) tile[lane + t * kWarpSize] = acc[t];
  __syncwarp();
  int q = 0;
#pragma unroll
  for (int j = 0; j < P; ++j)
#pragma unroll
    for (int l = j; l < P; ++l) s.g[j][l] = tile[q++];
#pragma unroll
  for (int j = 0; j < P; ++j) s.g[j][P] = tile[L::kGram + j];
  s.sw = tile[L::kGram + P];
  s.swb = tile[L::kGram + P + 1];
  s.m_eff = warp_sum(count);
  __syncwarp();  // everyone has read the sums before the tile is reused
}

// Lanes take rows lane, lane + 32, ... with a Sums<P> each, combined by a butterfly of shuffles
// (the bitwise-same total on every lane). P <= kTallLaneRowsMaxP.
template <int P, typename T>
__device__ __forceinline__ void tall_sums_by_row(const KernelArgs<T>& args, std::int64_t lo,
                                                 std::int64_t m, int lane, Sums<P>& s) {
  zero(s);
  for (std::int64_t k = lane; k < m; k += kWarpSize) {
    double z[P], bk, wk;
    load_global_row<P, T>(args, lo + k, z, bk, wk);
    accumulate(s, z, bk, wk);
  }
  warp_sum(s);
}

template <int P, typename T>
__global__ void __launch_bounds__(kWarpSize* kTallWarpsPerBlock)
    lstsq_warp_kernel(const KernelArgs<T> args, const std::int64_t* tall, std::int64_t n_tall) {
  constexpr int kTileDoubles = P > kTallLaneRowsMaxP ? kWarpSize * TallTile<P>::kCols : 1;
  __shared__ double tiles[kTallWarpsPerBlock][kTileDoubles];
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  const std::int64_t t = static_cast<std::int64_t>(blockIdx.x) * kTallWarpsPerBlock + warp;
  if (t >= n_tall) return;  // the whole warp
  const std::int64_t i = tall[t];
  const std::int64_t lo = args.offsets[i], m = args.offsets[i + 1] - lo;

  // Identical sums on every lane, so every lane takes the same branches below.
  Sums<P> s;
  if constexpr (P > kTallLaneRowsMaxP)
    tall_sums_by_entry<P, T>(args, lo, m, lane, tiles[warp], s);
  else
    tall_sums_by_row<P, T>(args, lo, m, lane, s);

  double x[P] = {};
  const Outcome o = solve_normal<P, T>(s, args, x);
  Residuals res = no_residuals();
  if (o == Outcome::kSolved) {
    const double mean = s.sw > 0 ? s.swb / s.sw : 0.0;
    for (std::int64_t k = lane; k < m; k += kWarpSize) {
      double z[P], bk, wk;
      load_global_row<P, T>(args, lo + k, z, bk, wk);
      residual_row(res, z, bk, wk, x, mean);
    }
    res.rss = warp_sum(res.rss);
    res.tss = warp_sum(res.tss);
#pragma unroll
    for (int sh = kWarpSize / 2; sh > 0; sh >>= 1) {
      res.bmin = fmin(res.bmin, __shfl_xor_sync(kFullMask, res.bmin, sh));
      res.bmax = fmax(res.bmax, __shfl_xor_sync(kFullMask, res.bmax, sh));
    }
  }
  if (lane == 0) write_result<P, T>(args, i, o, x, res);
}

// ---- host side ----

// Rows staged per problem and warp: as many as kSharedPerWarp holds, no more than the tallest
// problem of the thread kernel needs.
int rows_per_stage(std::size_t p, std::size_t value_bytes, bool weighted, std::int64_t max_rows) {
  const std::size_t row_bytes = (p + 1 + (weighted ? 1 : 0)) * kStride * value_bytes;
  const auto cap = static_cast<std::int64_t>(kSharedPerWarp / row_bytes);  // >= 4 for p <= 16
  return static_cast<int>(std::max<std::int64_t>(1, std::min(cap, max_rows)));
}

std::size_t stage_bytes(std::size_t p, std::size_t value_bytes, bool weighted, int rows) {
  return static_cast<std::size_t>(kWarpsPerBlock) * static_cast<std::size_t>(rows) *
         (p + 1 + (weighted ? 1 : 0)) * kStride * value_bytes;
}

template <int P, typename T>
void launch_fixed(const KernelArgs<T>& args, int rows, std::size_t shared_bytes,
                  const std::int64_t* tall, std::int64_t n_tall, cudaStream_t stream) {
  const auto per_block = static_cast<std::int64_t>(kWarpSize) * kWarpsPerBlock;
  const std::int64_t blocks = (args.problems + per_block - 1) / per_block;
  if (blocks > 0) {
    if (blocks > std::numeric_limits<int>::max())
      throw CudaError("lstsq: too many problems for one launch (" + std::to_string(args.problems) +
                      ")");
    lstsq_thread_kernel<P, T>
        <<<static_cast<unsigned>(blocks), kWarpSize * kWarpsPerBlock, shared_bytes, stream>>>(args,
                                                                                              rows);
    check_launch("lstsq_thread_kernel");
  }
  if (n_tall > 0) {
    const std::int64_t tall_blocks = (n_tall + kTallWarpsPerBlock - 1) / kTallWarpsPerBlock;
    lstsq_warp_kernel<P, T>
        <<<static_cast<unsigned>(tall_blocks), kWarpSize * kTallWarpsPerBlock, 0, stream>>>(
            args, tall, n_tall);
    check_launch("lstsq_warp_kernel");
  }
}

template <typename T, int... Ps>
void launch(std::size_t p, const KernelArgs<T>& args, int rows, std::size_t shared_bytes,
            const std::int64_t* tall, std::int64_t n_tall, cudaStream_t stream,
            std::integer_sequence<int, Ps...>) {
  const bool found =
      ((p == static_cast<std::size_t>(Ps + 1)
            ? (launch_fixed<Ps + 1, T>(args, rows, shared_bytes, tall, n_tall, stream), true)
            : false) ||
       ...);
  if (!found) throw InvalidArgument("lstsq: unsupported column count " + std::to_string(p));
}

template <typename T>
void download(T* dst, const DeviceBuffer<T>& src, std::size_t n, cudaStream_t stream) {
  if (n == 0) return;
  check(cudaMemcpyAsync(dst, src.data(), n * sizeof(T), cudaMemcpyDeviceToHost, stream),
        "cudaMemcpyAsync (download)");
}

}  // namespace

template <typename T>
struct LstsqSession<T>::Impl {
  LstsqBatch<T> batch;
  LstsqParams params;
  std::string name;
  std::size_t bytes = 0;
  int rows = 1;
  std::size_t shared_bytes = 0;
  bool ran = false;
  Stream stream;
  Event start, stop;
  DeviceBuffer<T> a, b, w;
  DeviceBuffer<std::int64_t> offsets, tall, host_list;
  DeviceBuffer<double> coef, rss, r2;
  DeviceBuffer<int> rank;
  DeviceBuffer<std::int8_t> status;
  DeviceBuffer<unsigned long long> host_count;
  std::int64_t n_tall = 0;
};

template <typename T>
LstsqSession<T>::LstsqSession(const LstsqBatch<T>& batch, const LstsqParams& params,
                              bool validated) {
  if (!validated) lstsq_detail::validate(batch, params);
  const int device = select_device();
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  impl_ = std::make_unique<Impl>();
  Impl& s = *impl_;
  s.batch = batch;
  s.params = params;
  s.name = prop.name;

  const std::size_t n = batch.problems, p = batch.a.cols, rows = batch.a.rows;
  const bool weighted = batch.weights != nullptr;
  // Tall problems get a warp each; the rest fix the rows per stage.
  std::vector<std::int64_t> tall;
  std::int64_t max_rows = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t m = batch.offsets[i + 1] - batch.offsets[i];
    if (m > kThreadMaxRows)
      tall.push_back(static_cast<std::int64_t>(i));
    else
      max_rows = std::max(max_rows, m);
  }
  s.n_tall = static_cast<std::int64_t>(tall.size());
  s.rows = rows_per_stage(p, sizeof(T), weighted, max_rows);
  s.shared_bytes = stage_bytes(p, sizeof(T), weighted, s.rows);

  const std::size_t input_bytes =
      rows * p * sizeof(T) + rows * sizeof(T) * (weighted ? 2 : 1) + (n + 1) * sizeof(std::int64_t);
  s.bytes = input_bytes + tall.size() * sizeof(std::int64_t) +
            n * (p * sizeof(double) + 2 * sizeof(double) + sizeof(int) + sizeof(std::int8_t) +
                 sizeof(std::int64_t)) +
            sizeof(unsigned long long);
  require_device_memory(s.bytes, ("lstsq of " + std::to_string(n) + " problems, " +
                                  std::to_string(rows) + " rows x " + std::to_string(p))
                                     .c_str());

  s.a.resize(rows * p);
  s.b.resize(rows);
  if (weighted) s.w.resize(rows);
  s.offsets.resize(n + 1);
  s.tall.resize(tall.size());
  s.coef.resize(n * p);
  s.rss.resize(n);
  s.r2.resize(n);
  s.rank.resize(n);
  s.status.resize(n);
  s.host_list.resize(n);
  s.host_count.resize(1);

  const cudaStream_t st = s.stream.get();
  {
    StagedUploader up(st, params.threads);
    up.copy(s.a.data(), batch.a.data, rows * p * sizeof(T));
    up.copy(s.b.data(), batch.b, rows * sizeof(T));
    if (weighted) up.copy(s.w.data(), batch.weights, rows * sizeof(T));
    up.copy(s.offsets.data(), batch.offsets, (n + 1) * sizeof(std::int64_t));
    up.copy(s.tall.data(), tall.data(), tall.size() * sizeof(std::int64_t));
    up.finish();
  }
}

template <typename T>
LstsqSession<T>::~LstsqSession() = default;
template <typename T>
LstsqSession<T>::LstsqSession(LstsqSession&&) noexcept = default;
template <typename T>
LstsqSession<T>& LstsqSession<T>::operator=(LstsqSession&&) noexcept = default;

template <typename T>
const std::string& LstsqSession<T>::device_name() const {
  return impl_->name;
}

template <typename T>
std::size_t LstsqSession<T>::device_bytes() const {
  return impl_->bytes;
}

template <typename T>
float LstsqSession<T>::run_kernels() {
  Impl& s = *impl_;
  const cudaStream_t st = s.stream.get();
  KernelArgs<T> args{};
  args.a = s.a.data();
  args.b = s.b.data();
  args.w = s.w.data();  // nullptr when unweighted (an empty buffer)
  args.offsets = s.offsets.data();
  args.problems = static_cast<std::int64_t>(s.batch.problems);
  args.ridge = s.params.ridge;
  args.skip = s.params.ridge_skip_column;
  args.rcond = s.params.rcond;
  args.coef = s.coef.data();
  args.rss = s.rss.data();
  args.r2 = s.r2.data();
  args.rank = s.rank.data();
  args.status = s.status.data();
  args.host_count = s.host_count.data();
  args.host_list = s.host_list.data();
  check(cudaMemsetAsync(s.host_count.data(), 0, sizeof(unsigned long long), st), "cudaMemsetAsync");
  s.start.record(st);
  launch<T>(s.batch.a.cols, args, s.rows, s.shared_bytes, s.tall.data(), s.n_tall, st,
            std::make_integer_sequence<int, static_cast<int>(kLstsqMaxColumns)>{});
  s.stop.record(st);
  s.stop.synchronize();  // also reports errors raised while the kernels ran
  s.ran = true;
  return s.stop.since(s.start);
}

template <typename T>
LstsqResult LstsqSession<T>::finish() {
  Impl& s = *impl_;
  if (!s.ran) run_kernels();
  const cudaStream_t st = s.stream.get();
  const std::size_t n = s.batch.problems, p = s.batch.a.cols;
  LstsqResult r = lstsq_detail::sized_result(n, p, s.params.threads);
  unsigned long long handed_back = 0;
  download(&handed_back, s.host_count, 1, st);
  download(r.coef.data(), s.coef, n * p, st);
  download(r.rss.data(), s.rss, n, st);
  download(r.r2.data(), s.r2, n, st);
  download(r.rank.data(), s.rank, n, st);
  download(reinterpret_cast<std::int8_t*>(r.status.data()), s.status, n, st);
  s.stream.synchronize();
  if (handed_back > n) throw CudaError("lstsq: corrupt hand-back count from the device");
  std::vector<std::int64_t> list(static_cast<std::size_t>(handed_back));
  download(list.data(), s.host_list, list.size(), st);
  s.stream.synchronize();
  // The device appends in no particular order; sorted, the CPU walks the rows forwards. The
  // list indexes host arrays: check it before use.
  std::sort(list.begin(), list.end());
  const bool list_ok =
      (list.empty() || (list.front() >= 0 && list.back() < static_cast<std::int64_t>(n))) &&
      std::adjacent_find(list.begin(), list.end()) == list.end();
  if (!list_ok) throw CudaError("lstsq: corrupt hand-back list from the device");
  r.qr_problems = lstsq_detail::solve_listed_on_cpu(s.batch, s.params, list.data(), list.size(), r);
  for (const LstsqStatus st_i : r.status)
    if (static_cast<std::int8_t>(st_i) == kStatusHost)
      throw CudaError("lstsq: a problem the device handed back is missing from its list");
  r.backend = "cuda (" + s.name + ")";
  return r;
}

template <typename T>
LstsqResult lstsq_batched_cuda(const LstsqBatch<T>& batch, const LstsqParams& params) {
  LstsqSession<T> session(batch, params, /*validated=*/true);
  session.run_kernels();
  return session.finish();
}

template class LstsqSession<float>;
template class LstsqSession<double>;
template LstsqResult lstsq_batched_cuda<float>(const LstsqBatch<float>&, const LstsqParams&);
template LstsqResult lstsq_batched_cuda<double>(const LstsqBatch<double>&, const LstsqParams&);

}  // namespace segcore::cuda
