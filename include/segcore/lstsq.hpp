// segcore: many small independent (weighted, optionally ridge-penalised) least-squares problems.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "segcore/device.hpp"
#include "segcore/matrix.hpp"

namespace segcore {

/// The largest number of columns (coefficients) a batched problem may have.
inline constexpr std::size_t kLstsqMaxColumns = 16;

/// What happened to one problem of a batch.
enum class LstsqStatus : std::int8_t {
  kOk = 0,             ///< full column rank: the unique (ridge) least-squares solution
  kRankDeficient = 1,  ///< rank < p: the minimum-norm least-squares solution
  kTooFewRows = 2,     ///< fewer rows with positive weight than p and no ridge: minimum-norm
  kNonFinite = 3,      ///< NaN/inf in A_i, b_i or the weights: coefficients, rss and r2 are NaN
};

/// "ok", "rank-deficient", "too-few-rows", "non-finite".
const char* lstsq_status_name(LstsqStatus status);

/// A batch of independent problems stacked row-wise. Problem i owns rows
/// [offsets[i], offsets[i + 1]) of `a` and `b` (and `weights`).
template <typename T>
struct LstsqBatch {
  ConstMatrixView<T> a;        ///< total_rows x p, row-major, 1 <= p <= kLstsqMaxColumns
  const T* b = nullptr;        ///< total_rows targets
  const T* weights = nullptr;  ///< total_rows non-negative row weights, or nullptr (all 1)
  const std::int64_t* offsets = nullptr;  ///< problems + 1 non-decreasing row offsets,
                                          ///< offsets[0] == 0, offsets[problems] == total_rows
  std::size_t problems = 0;
};

/// Options shared by every problem of a batch.
struct LstsqParams {
  /// Ridge penalty lambda >= 0 on ||x||^2 (0: plain least squares).
  double ridge = 0;
  /// A column the ridge does not penalise (the intercept column of ones), or -1 for none.
  int ridge_skip_column = -1;
  /// Relative rank threshold on the pivoted-QR diagonal: a column counts towards the rank when
  /// |R_kk| > rcond * |R_00|. Negative: machine epsilon * max(m_i, p).
  double rcond = -1;
  /// CPU threads (0 = all). Results do not depend on it.
  int threads = 0;
  /// Where to solve. kCpu: the CPU kernels. kCuda: the CUDA kernels (throws NotCompiled in a
  /// build without CUDA, CudaError when no device answers); problems the GPU's Cholesky guard
  /// rejects are finished on the CPU by the same QR path. kAuto: CUDA when it is compiled in and
  /// a device answers, else the CPU.
  Device device = Device::kCpu;
};

/// Per-problem results, all in double whatever the input type.
struct LstsqResult {
  std::size_t problems = 0;
  std::size_t p = 0;
  std::vector<double> coef;  ///< problems x p, row-major
  std::vector<double> rss;   ///< problems: sum_k w_k (b_k - a_k x)^2 (the penalty excluded)
  std::vector<double> r2;    ///< problems: 1 - rss / weighted total SS about the weighted mean
                             ///< of b; NaN when that is 0 (constant b, or no weighted rows)
  std::vector<int> rank;     ///< problems: effective rank of the (augmented, weighted) system
  std::vector<LstsqStatus> status;  ///< problems
  std::size_t qr_problems = 0;      ///< how many problems took the QR path (the rest: Cholesky)
  std::string backend;              ///< what ran: "cpu (avx2+fma)", "cuda (NVIDIA H100 ...)"
};

/// Solves, for each problem i of `batch`, min_x ||W_i^(1/2) (A_i x - b_i)||^2 + lambda ||x||^2
/// (the column `ridge_skip_column` excluded from the penalty), accumulating and solving in
/// double. T is float or double. Well-conditioned problems (estimated cond(A) <= 100, i.e.
/// cond(A^T W A) <= 1e4) use the normal equations with a Cholesky factorisation; all others use a
/// complete orthogonal decomposition (column-pivoted Householder QR) of the weighted, augmented
/// system, which gives the minimum-norm solution when the rank is below p.
/// Throws InvalidArgument for inconsistent shapes or offsets, p outside [1, 16], a negative or
/// non-finite ridge, a bad ridge_skip_column, or a negative weight; NotCompiled / CudaError /
/// CublasError for params.device = kCuda as described there.
template <typename T>
LstsqResult lstsq_batched(const LstsqBatch<T>& batch, const LstsqParams& params = {});

extern template LstsqResult lstsq_batched<float>(const LstsqBatch<float>&, const LstsqParams&);
extern template LstsqResult lstsq_batched<double>(const LstsqBatch<double>&, const LstsqParams&);

}  // namespace segcore
