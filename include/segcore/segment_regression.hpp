// segcore: one linear regression per segment (y on x within the rows of each segment): the sums
// on the CPU or the GPU, the solves on the CPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "segcore/device.hpp"
#include "segcore/matrix.hpp"

namespace segcore {

/// Parameters of regress_by_segment.
struct RegressParams {
  /// Fit an intercept (not penalised by the ridge term).
  bool intercept = true;
  /// Ridge penalty lambda >= 0 added to the diagonal of X^T W X for the feature coefficients
  /// (in the units of the data: features are not standardised).
  double ridge = 0;
  /// CPU threads (0 = all). The result does not depend on it.
  int threads = 0;
  /// Where the one pass over the rows (the per-segment sums) runs. kCpu; kCuda: on the GPU (the
  /// rows sorted by segment, fixed-size chunks summed in row order and added in order; throws
  /// NotCompiled in a build without CUDA, CudaError when no device answers); kAuto: CUDA when
  /// compiled in and a device answers. The solves, and the second pass of ill-conditioned
  /// segments, run on the CPU either way.
  Device device = Device::kCpu;
};

/// What happened to one segment's fit.
enum class RegressStatus {
  kOk,             ///< full rank, unique solution
  kRankDeficient,  ///< the (penalised) system is singular: minimum-norm solution, NaN std errors
  kTooFewRows,     ///< fewer rows with positive weight than coefficients: minimum-norm (or ridge)
                   ///< solution that interpolates them, NaN std errors and R^2
  kEmpty,          ///< no row with positive weight: every number is NaN
};

/// "ok", "rank-deficient", "too-few-rows" or "empty".
const char* regress_status_name(RegressStatus status);

/// Which factorisation produced a segment's coefficients.
enum class RegressSolver {
  kNone,      ///< empty segment
  kCholesky,  ///< LDL^T of the equilibrated normal equations (the one-pass path)
  kQr,        ///< Householder QR + SVD of R on the segment's rows (second pass, ill-conditioned)
};

/// The fit of one segment. Coefficients are ordered as the features, then the intercept (when
/// fitted): q = p + intercept values.
///
/// Weights are frequency weights: a row of weight w counts as w identical rows, so the degrees
/// of freedom are weight - q (not rows - q), and weights equal to repeated rows give identical
/// results. Residual variance sigma^2 = rss / (weight - q), NaN when weight - q <= 0.
/// std_error = sqrt(diag(Cov)), Cov = sigma^2 A^-1 (X^T W X) A^-1 with A = X^T W X + ridge
/// (the exact covariance of the ridge estimator; sigma^2 (X^T W X)^-1 when ridge = 0).
struct SegmentFit {
  RegressStatus status = RegressStatus::kEmpty;
  RegressSolver solver = RegressSolver::kNone;
  std::uint64_t rows = 0;         ///< rows labelled with this segment (zero weights included)
  double weight = 0;              ///< sum of their weights (= rows when unweighted)
  std::size_t rank = 0;           ///< numerical rank of the system solved (q when ok)
  std::vector<double> coef;       ///< q
  std::vector<double> std_error;  ///< q; NaN when not identifiable or no degrees of freedom
  double r2 = 0;                  ///< 1 - rss / tss (tss centred with intercept, else sum w y^2)
  double rss = 0;                 ///< sum of w (y - x b)^2
};

/// All segments' fits.
struct SegmentRegression {
  std::size_t k = 0;         ///< segments
  std::size_t features = 0;  ///< p
  bool intercept = true;
  std::vector<SegmentFit> segments;  ///< k
  std::string backend;               ///< where the sums ran: "cpu" or "cuda (NAME)"
};

/// Regresses y on x separately within each segment.
///   x: n x p, row-major (p >= 0; p >= 1 without intercept); y: n; weights: n values >= 0, or
///   nullptr for unit weights; labels: n segment numbers in [0, k).
/// Every segment is solved from its weighted Gram matrix of [X 1 y], accumulated in one pass in
/// double (per fixed chunk of rows, reduced in chunk order: bitwise the same for any thread
/// count), shifted by the segment's first row so that large offsets do not cancel. The normal
/// equations are solved by LDL^T after scaling the columns to unit norm when the smallest pivot
/// is > 1e-10 times the largest (condition number of the scaled X below about 1e5, so the
/// coefficients keep about 6 or more correct digits); otherwise the segment's rows are read
/// again and solved by Householder QR of sqrt(w)[X - mean, 1] (columns equilibrated, ridge rows
/// appended) followed by an SVD of R (error ~ cond * eps). The numerical rank counts singular
/// values of the equilibrated design above 1e-11 times the largest; a rank-deficient system gets
/// the solution of minimum Euclidean norm of the feature coefficients (in the data's units; the
/// intercept is free). Throws InvalidArgument for a label outside [0, k), a negative or
/// non-finite weight, a non-finite x or y, ridge < 0, or p = 0 without intercept.
template <typename T>
SegmentRegression regress_by_segment(ConstMatrixView<T> x, const T* y, const T* weights,
                                     const std::int32_t* labels, std::size_t k,
                                     const RegressParams& params);

}  // namespace segcore
