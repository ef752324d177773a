// Per-segment linear regression: one pass of weighted Gram sums per segment, LDL^T on the
// equilibrated normal equations, and a QR second pass for the rare ill-conditioned segment.
#include "segcore/segment_regression.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "parallel.hpp"
#include "segcore/backend.hpp"
#include "segcore/error.hpp"

#if defined(SEGCORE_WITH_CUDA)
#include "cuda/cuda_regress.hpp"
#endif

namespace segcore {

const char* regress_status_name(RegressStatus status) {
  switch (status) {
    case RegressStatus::kOk:
      return "ok";
    case RegressStatus::kRankDeficient:
      return "rank-deficient";
    case RegressStatus::kTooFewRows:
      return "too-few-rows";
    case RegressStatus::kEmpty:
      return "empty";
  }
  return "unknown";
}

namespace {

using Mat = Eigen::MatrixXd;
using Vec = Eigen::VectorXd;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// LDL^T of the unit-diagonal normal matrix is trusted while its smallest pivot exceeds this
// fraction of the largest: the pivot ratio approximates 1 / cond(X_scaled)^2, so the normal
// equations then lose at most about 10 of the 16 digits.
constexpr double kPivotRatio = 1e-10;
// Singular values of the equilibrated weighted design at or below this fraction of the largest
// count as zero: far above the rounding noise of an exactly dependent column (~eps sqrt(n)) and
// far below the 1e-8 of a genuinely ill-conditioned but identifiable design.
constexpr double kRankTolerance = 1e-11;

// Per-segment partial sums, laid out flat so that a chunk's scratch is one array:
// [rows, positive-weight rows, weight, sum w z (m), sum w z z^T (m x m, upper triangle)],
// z = (x, y) minus the segment's shift row.
struct Layout {
  std::size_t p = 0, m = 0, stride = 0;
  explicit Layout(std::size_t features) : p(features), m(features + 1), stride(3 + m + m * m) {}
};

// What is shared by both solvers once the coefficients of a segment are known.
struct Fit {
  Vec coef;  // q
  Mat cov;   // q x q, divided by sigma^2 (sigma^2 is applied later); empty when not available
  double rss = 0, tss = 0;
};

void finish(SegmentFit& out, const Fit& fit, std::size_t q, bool se_available, bool r2_available) {
  out.coef.assign(fit.coef.data(), fit.coef.data() + q);
  out.rss = fit.rss;
  out.r2 = r2_available && fit.tss > 0 ? 1.0 - fit.rss / fit.tss : kNaN;
  const double dof = out.weight - static_cast<double>(q);
  const double sigma2 = dof > 0 ? fit.rss / dof : kNaN;
  out.std_error.assign(q, kNaN);
  if (se_available && dof > 0 && fit.cov.rows() == static_cast<Eigen::Index>(q))
    for (std::size_t c = 0; c < q; ++c)
      out.std_error[c] = std::sqrt(std::max(0.0, sigma2 * fit.cov(c, c)));
}

// The one-pass path. Returns false (and leaves `out` alone) when the equilibrated pivots say
// the normal equations are not to be trusted.
bool solve_normal(const double* acc, const double* shift, const Layout& lay, bool intercept,
                  double ridge, SegmentFit& out) {
  const std::size_t p = lay.p, m = lay.m;
  const double w = acc[2];
  const double* s = acc + 3;
  const double* g = acc + 3 + m;
  // Centred (intercept) or raw (no intercept: the shift is zero) moments of (x, y).
  Mat c(m, m);
  for (std::size_t a = 0; a < m; ++a)
    for (std::size_t b = a; b < m; ++b) {
      double v = g[a * m + b];
      if (intercept) v -= s[a] * (s[b] / w);
      c(a, b) = c(b, a) = v;
    }
  Mat a = c.topLeftCorner(p, p);
  a.diagonal().array() += ridge;
  const Vec b = c.topRightCorner(p, 1);
  Vec beta = Vec::Zero(p);
  Mat a_inv = Mat::Zero(p, p);
  if (p > 0) {
    const Vec d = a.diagonal();
    if (!(d.minCoeff() > 0)) return false;
    const Vec scale = d.cwiseSqrt().cwiseInverse();
    const Mat a_hat = scale.asDiagonal() * a * scale.asDiagonal();
    Eigen::LDLT<Mat> ldlt(a_hat);
    if (ldlt.info() != Eigen::Success) return false;
    const Vec pivots = ldlt.vectorD();
    if (!(pivots.minCoeff() > kPivotRatio * pivots.maxCoeff())) return false;
    beta = scale.cwiseProduct(ldlt.solve(scale.cwiseProduct(b)));
    a_inv = scale.asDiagonal() * ldlt.solve(Mat::Identity(p, p)) * scale.asDiagonal();
  }
  const std::size_t q = p + (intercept ? 1 : 0);
  Fit fit;
  fit.coef.resize(q);
  fit.coef.head(p) = beta;
  // rss = |y - X b|^2 expanded with X^T W X = A - ridge I.
  const Vec cb = a * beta - ridge * beta;
  fit.rss = std::max(0.0, c(p, p) - 2 * beta.dot(b) + beta.dot(cb));
  fit.tss = c(p, p);
  // Covariance of the ridge estimator A^-1 (X^T W X) A^-1 = A^-1 - ridge A^-2.
  Mat cov_beta = a_inv - ridge * (a_inv * a_inv);
  fit.cov = Mat::Zero(q, q);
  fit.cov.topLeftCorner(p, p) = cov_beta;
  if (intercept) {
    Vec xbar(p);
    for (std::size_t f = 0; f < p; ++f) xbar[f] = shift[f] + s[f] / w;
    const double ybar = shift[p] + s[p] / w;
    fit.coef[p] = ybar - xbar.dot(beta);
    // The intercept is ybar - xbar^T b, and ybar is uncorrelated with the centred fit.
    const Vec cx = cov_beta * xbar;
    fit.cov(p, p) = 1.0 / w + xbar.dot(cx);
    fit.cov.block(0, p, p, 1) = -cx;
    fit.cov.block(p, 0, 1, p) = -cx.transpose();
  }
  out.solver = RegressSolver::kCholesky;
  out.rank = q;
  out.status = RegressStatus::kOk;
  finish(out, fit, q, true, true);
  return true;
}

// The second pass for one segment: Householder QR of sqrt(w) [X - mean, 1 | y - mean] (columns
// scaled to unit norm, ridge rows appended), then an SVD of the small R for the rank and the
// minimum-norm solution.
template <typename T>
void solve_qr(ConstMatrixView<T> x, const T* y, const T* weights,
              const std::vector<std::size_t>& rows, const double* acc, const double* shift,
              const Layout& lay, bool intercept, double ridge, SegmentFit& out) {
  const std::size_t p = lay.p;
  const std::size_t q = p + (intercept ? 1 : 0);
  const double w_total = acc[2];
  Vec center_x = Vec::Zero(p);
  double center_y = 0;
  if (intercept) {
    const double* s = acc + 3;
    for (std::size_t f = 0; f < p; ++f) center_x[f] = shift[f] + s[f] / w_total;
    center_y = shift[p] + s[p] / w_total;
  }
  const std::size_t data_rows = rows.size();
  const std::size_t ridge_rows = ridge > 0 ? p : 0;
  // At least q + 1 rows so that the QR's R (and Q^T y) are q + 1 square; zero rows change nothing.
  const std::size_t total_rows = std::max(data_rows + ridge_rows, q + 1);
  Mat bt = Mat::Zero(static_cast<Eigen::Index>(total_rows), static_cast<Eigen::Index>(q + 1));
  for (std::size_t r = 0; r < data_rows; ++r) {
    const std::size_t i = rows[r];
    const double sw = std::sqrt(weights ? static_cast<double>(weights[i]) : 1.0);
    const T* xi = x.row(i);
    for (std::size_t f = 0; f < p; ++f) bt(r, f) = sw * (static_cast<double>(xi[f]) - center_x[f]);
    if (intercept) bt(r, p) = sw;
    bt(r, q) = sw * (static_cast<double>(y[i]) - center_y);
  }
  Vec norm = bt.topLeftCorner(data_rows, q).colwise().norm().transpose();
  for (std::size_t c = 0; c < q; ++c)
    if (!(norm[c] > 0)) norm[c] = 1;  // an all-zero column: left as is, found null by the SVD
  for (std::size_t c = 0; c < q; ++c) bt.col(c).head(data_rows) /= norm[c];
  for (std::size_t f = 0; f < ridge_rows; ++f) bt(data_rows + f, f) = std::sqrt(ridge) / norm[f];
  Eigen::HouseholderQR<Mat> qr(bt);
  const Mat r_full = qr.matrixQR().topLeftCorner(q + 1, q + 1).triangularView<Eigen::Upper>();
  const Mat r = r_full.topLeftCorner(q, q);
  const Vec qty = r_full.col(q).head(q);
  Eigen::JacobiSVD<Mat> svd(r, Eigen::ComputeFullU | Eigen::ComputeFullV);
  const Vec sv = svd.singularValues();
  std::size_t rank = 0;
  if (q > 0 && sv[0] > 0)
    while (rank < q && sv[rank] > kRankTolerance * sv[0]) ++rank;
  const Mat& u = svd.matrixU();
  const Mat& v = svd.matrixV();
  Vec gamma = Vec::Zero(q);
  for (std::size_t c = 0; c < rank; ++c) gamma += v.col(c) * (u.col(c).dot(qty) / sv[c]);
  Vec theta = gamma.cwiseQuotient(norm);  // (b, intercept of the centred problem), data units
  if (rank < q) {
    // The minimum-norm solution in the data's units (not the equilibrated ones): remove the
    // feature part's component along the null space, letting the intercept follow.
    const Mat null_space = norm.cwiseInverse().asDiagonal() * v.rightCols(q - rank);
    const Mat null_features = null_space.topRows(p);
    const Vec z = null_features.completeOrthogonalDecomposition().solve(theta.head(p));
    theta -= null_space * z;
  }
  Fit fit;
  // Residuals from the rows themselves (the QR overwrote its copy), about the same centring.
  for (std::size_t i : rows) {
    const double sw = std::sqrt(weights ? static_cast<double>(weights[i]) : 1.0);
    const T* xi = x.row(i);
    double t = static_cast<double>(y[i]) - center_y;
    double e = t - (intercept ? theta[p] : 0.0);
    for (std::size_t f = 0; f < p; ++f) e -= (static_cast<double>(xi[f]) - center_x[f]) * theta[f];
    fit.rss += sw * sw * e * e;
    fit.tss += sw * sw * t * t;
  }
  fit.coef = theta;
  if (intercept) fit.coef[p] = center_y + theta[p] - center_x.dot(theta.head(p));
  if (rank == q) {
    // (B^T B)^-1 in data units, then the ridge sandwich, then the move from the centred
    // intercept to the intercept of the data.
    const Vec inv_sv2 = sv.array().square().inverse();
    const Mat m_inv = norm.cwiseInverse().asDiagonal() * v * inv_sv2.asDiagonal() * v.transpose() *
                      norm.cwiseInverse().asDiagonal();
    Vec penalty = Vec::Zero(q);
    penalty.head(p).setConstant(ridge);
    Mat cov = m_inv - m_inv * penalty.asDiagonal() * m_inv;
    if (intercept) {
      Vec lin = Vec::Zero(q);  // intercept = center_y + theta_p - center_x^T theta_features
      lin.head(p) = -center_x;
      lin[p] = 1;
      const Vec cl = cov * lin;
      const double var_intercept = lin.dot(cl);
      for (std::size_t c = 0; c < q; ++c) {
        cov(c, p) = cov(p, c) = cl[c];
      }
      cov(p, p) = var_intercept;
    }
    fit.cov = cov;
  }
  const bool too_few = data_rows < q;
  out.solver = RegressSolver::kQr;
  out.rank = rank;
  out.status = too_few ? RegressStatus::kTooFewRows
                       : (rank < q ? RegressStatus::kRankDeficient : RegressStatus::kOk);
  finish(out, fit, q, out.status == RegressStatus::kOk, !too_few);
}

// The one pass on the CPU: per fixed chunk of rows, per segment sums; chunks added in order.
template <typename T>
void accumulate_on_cpu(ConstMatrixView<T> x, const T* y, const T* weights,
                       const std::int32_t* labels, std::size_t k, const std::vector<double>& shift,
                       const Layout& lay, int threads, std::vector<double>& total) {
  const std::size_t n = x.rows, p = lay.p, m = lay.m, stride = lay.stride;
  const detail::Chunking chunking = detail::make_chunking(n, k * stride * sizeof(double));
  std::vector<double> partial(chunking.chunks * k * stride, 0.0);
  detail::parallel_for(chunking.chunks, threads, [&](std::size_t chunk) {
    double* out = partial.data() + chunk * k * stride;
    std::vector<double> z(m);
    for (std::size_t i = chunking.begin(chunk); i < chunking.end(chunk); ++i) {
      const std::size_t j = static_cast<std::size_t>(labels[i]);
      double* acc = out + j * stride;
      acc[0] += 1;
      const double w = weights ? static_cast<double>(weights[i]) : 1.0;
      if (!(w > 0)) continue;
      acc[1] += 1;
      acc[2] += w;
      const double* s0 = shift.data() + j * m;
      const T* xi = x.row(i);
      for (std::size_t f = 0; f < p; ++f) z[f] = static_cast<double>(xi[f]) - s0[f];
      z[p] = static_cast<double>(y[i]) - s0[p];
      double* sum = acc + 3;
      double* gram = acc + 3 + m;
      for (std::size_t a = 0; a < m; ++a) {
        const double wz = w * z[a];
        sum[a] += wz;
        double* row = gram + a * m;
        for (std::size_t b = a; b < m; ++b) row[b] += wz * z[b];
      }
    }
  });
  for (std::size_t c = 0; c < chunking.chunks; ++c) {
    const double* part = partial.data() + c * k * stride;
    for (std::size_t e = 0; e < k * stride; ++e) total[e] += part[e];
  }
}

}  // namespace

template <typename T>
SegmentRegression regress_by_segment(ConstMatrixView<T> x, const T* y, const T* weights,
                                     const std::int32_t* labels, std::size_t k,
                                     const RegressParams& params) {
  const std::size_t n = x.rows, p = x.cols;
  if (!(params.ridge >= 0) || !std::isfinite(params.ridge))
    throw InvalidArgument("ridge must be a finite number >= 0 (got " +
                          std::to_string(params.ridge) + ")");
  if (p == 0 && !params.intercept)
    throw InvalidArgument("regression without intercept needs at least one feature");
  if (n > 0 && ((p > 0 && x.data == nullptr) || y == nullptr || labels == nullptr))
    throw InvalidArgument("regress_by_segment: x, y and labels must not be null");
  const bool intercept = params.intercept;
  const double ridge = params.ridge;
  const int threads = detail::resolve_threads(params.threads);
  const Layout lay(p);
  const std::size_t m = lay.m, stride = lay.stride;

  // Validation, and each segment's first row as its shift: sums of (x - x_first) keep the
  // Gram's cancellation at the scale of the segment's spread, not of its offset.
  std::vector<std::size_t> first(k, n);
  std::size_t unseen = k;
  for (std::size_t i = 0; i < n; ++i) {
    const std::int32_t j = labels[i];
    if (j < 0 || static_cast<std::size_t>(j) >= k)
      throw InvalidArgument("label " + std::to_string(j) + " of row " + std::to_string(i) +
                            " is outside [0, " + std::to_string(k) + ")");
    if (weights) {
      const double w = static_cast<double>(weights[i]);
      if (!(w >= 0) || !std::isfinite(w))
        throw InvalidArgument("weight of row " + std::to_string(i) +
                              " must be finite and >= 0 (got " + std::to_string(w) + ")");
    }
    if (unseen > 0 && first[j] == n) {
      first[j] = i;
      --unseen;
    }
  }
  std::vector<double> shift(k * m, 0.0);
  if (intercept)
    for (std::size_t j = 0; j < k; ++j)
      if (first[j] < n) {
        for (std::size_t f = 0; f < p; ++f) shift[j * m + f] = static_cast<double>(x(first[j], f));
        shift[j * m + p] = static_cast<double>(y[first[j]]);
      }

  std::vector<double> total(k * stride, 0.0);
  SegmentRegression result;
  Device device = params.device;
  if (device == Device::kAuto) device = resolve_device(Device::kAuto, nullptr);
  if (device == Device::kCuda) {
#if defined(SEGCORE_WITH_CUDA)
    result.backend = "cuda (" +
                     cuda::segment_sums<T>(x, y, weights, labels, k, shift.data(), total.data()) +
                     ")";
#else
    detail::throw_cuda_not_compiled();
#endif
  } else {
    result.backend = "cpu";
    accumulate_on_cpu(x, y, weights, labels, k, shift, lay, threads, total);
  }

  result.k = k;
  result.features = p;
  result.intercept = intercept;
  result.segments.resize(k);

  const std::size_t q = p + (intercept ? 1 : 0);
  std::vector<char> needs_qr(k, 0);
  for (std::size_t j = 0; j < k; ++j) {
    const double* acc = total.data() + j * stride;
    for (std::size_t e = 0; e < stride; ++e)
      if (!std::isfinite(acc[e]))
        throw InvalidArgument("segment " + std::to_string(j) +
                              ": x or y holds a non-finite value (or the sums overflow)");
  }
  detail::parallel_for(k, threads, [&](std::size_t j) {
    const double* acc = total.data() + j * stride;
    SegmentFit& out = result.segments[j];
    out.rows = static_cast<std::uint64_t>(acc[0]);
    out.weight = acc[2];
    if (acc[1] == 0) {
      out.status = RegressStatus::kEmpty;
      out.coef.assign(q, kNaN);
      out.std_error.assign(q, kNaN);
      out.r2 = out.rss = kNaN;
      return;
    }
    if (acc[1] < static_cast<double>(q) ||
        !solve_normal(acc, shift.data() + j * m, lay, intercept, ridge, out))
      needs_qr[j] = 1;
  });

  // The second pass, over the rows of the few segments the normal equations could not serve.
  std::vector<std::size_t> qr_segments;
  for (std::size_t j = 0; j < k; ++j)
    if (needs_qr[j]) qr_segments.push_back(j);
  if (!qr_segments.empty()) {
    std::vector<std::vector<std::size_t>> rows(k);
    for (std::size_t j : qr_segments)
      rows[j].reserve(static_cast<std::size_t>(total[j * stride + 1]));
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t j = static_cast<std::size_t>(labels[i]);
      if (needs_qr[j] && (!weights || weights[i] > 0)) rows[j].push_back(i);
    }
    detail::parallel_for(qr_segments.size(), threads, [&](std::size_t t) {
      const std::size_t j = qr_segments[t];
      solve_qr(x, y, weights, rows[j], total.data() + j * stride, shift.data() + j * m, lay,
               intercept, ridge, result.segments[j]);
    });
  }
  return result;
}

template SegmentRegression regress_by_segment<float>(ConstMatrixView<float>, const float*,
                                                     const float*, const std::int32_t*, std::size_t,
                                                     const RegressParams&);
template SegmentRegression regress_by_segment<double>(ConstMatrixView<double>, const double*,
                                                      const double*, const std::int32_t*,
                                                      std::size_t, const RegressParams&);

}  // namespace segcore
