// The per-problem kernel of batched least squares, included once per instruction set with
// SEGCORE_KERNEL_NS naming the namespace (base, avx2).
//
// Per problem, one pass over its rows accumulates the weighted Gram matrix A^T W A, A^T W b and
// the weighted sums of b. When that matrix (plus the ridge) has a Cholesky factor L whose
// estimated condition number cond_1(L) = ||L||_1 ||L^-1||_1 is at most kCholeskyCondLimit, the
// normal equations are solved with it: cond(L) = cond(W^(1/2) A) and the normal equations lose
// about cond(A)^2 * eps, which for cond(A) <= 100 stays well inside the QR-class error bound
// (about cond(A) * eps times a modest constant). Every other problem (ill-conditioned, rank
// deficient, fewer rows than columns) goes to solve_cod, the complete orthogonal decomposition.
// A second pass over the rows (in L1 by then) computes the residual sum of squares directly,
// not from the Gram matrix, which would cancel catastrophically for small residuals.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

#include "lstsq/lstsq_kernels.hpp"
#include "segcore/error.hpp"

#ifndef SEGCORE_KERNEL_NS
#error "define SEGCORE_KERNEL_NS before including lstsq_kernels.inl"
#endif

namespace segcore::lstsq_detail::SEGCORE_KERNEL_NS {
namespace {

// Normal equations by a hand-written square-root-free Cholesky factorisation G = U D U^T with U
// unit lower triangular (fixed P: fully unrolled, and far cheaper to compile than 16
// instantiations of Eigen's LLT). The only serial chain is one division per column; the square
// roots for the condition estimate of L = U D^(1/2) are independent of each other. Returns
// false, leaving x alone, when a pivot is not positive or cond_1(L) = ||L||_1 ||L^-1||_1 >
// `cond_limit`.
template <int P>
bool solve_cholesky(const double (&g)[P][P], const double (&atb)[P], double cond_limit,
                    double (&x)[P]) {
  double u[P][P] = {};  // unit lower triangular, u[i][j] for i > j
  double d[P], rd[P];   // pivots and their reciprocals
  double t[P][P] = {};  // t[i][j] = u[i][j] * d[j]
  for (int j = 0; j < P; ++j) {
    double dj = g[j][j];
    for (int k = 0; k < j; ++k) dj -= t[j][k] * u[j][k];
    if (!(dj > 0)) return false;
    d[j] = dj;
    rd[j] = 1.0 / dj;
    for (int i = j + 1; i < P; ++i) {
      double s = g[j][i];
      for (int k = 0; k < j; ++k) s -= t[i][k] * u[j][k];
      t[i][j] = s;
      u[i][j] = s * rd[j];
    }
  }
  // U^-1 (unit lower triangular) column by column: no divisions.
  double inv[P][P] = {};
  for (int c = 0; c < P; ++c) {
    inv[c][c] = 1.0;
    for (int i = c + 1; i < P; ++i) {
      double s = 0;
      for (int k = c; k < i; ++k) s -= u[i][k] * inv[k][c];
      inv[i][c] = s;
    }
  }
  // L = U D^(1/2), L^-1 = D^(-1/2) U^-1.
  double sd[P], rsd[P];
  for (int j = 0; j < P; ++j) {
    sd[j] = std::sqrt(d[j]);
    rsd[j] = std::sqrt(rd[j]);
  }
  double norm_l = 0, norm_inv = 0;
  for (int c = 0; c < P; ++c) {
    double sl = 1, si = 0;  // sl: U's unit diagonal (not stored: u[c][c] is 0)
    for (int i = c; i < P; ++i) {
      sl += std::fabs(u[i][c]);
      si += std::fabs(inv[i][c]) * rsd[i];
    }
    norm_l = std::max(norm_l, sl * sd[c]);
    norm_inv = std::max(norm_inv, si);
  }
  if (!(norm_l * norm_inv <= cond_limit)) return false;
  // x = U^-T D^-1 U^-1 atb, with U^-1 at hand.
  double y[P];
  for (int i = 0; i < P; ++i) {
    double s = 0;
    for (int k = 0; k <= i; ++k) s += inv[i][k] * atb[k];
    y[i] = s * rd[i];
  }
  for (int i = 0; i < P; ++i) {
    double s = 0;
    for (int k = i; k < P; ++k) s += inv[k][i] * y[k];
    x[i] = s;
  }
  for (int i = 0; i < P; ++i)
    if (!std::isfinite(x[i])) return false;
  return true;
}

typedef double D4 __attribute__((vector_size(32)));
typedef float F4 __attribute__((vector_size(16)));

// Values [base, base + 4) of the row z = (a_0 .. a_{P-1}, b, 0, 0, ...) in double: one
// converting load when the four are all in a.
template <int P, typename T>
inline D4 load_block(const T* a, double b, int base) {
  if (base + 4 <= P) {
    if constexpr (std::is_same_v<T, float>) {
      F4 v;
      std::memcpy(&v, a + base, sizeof(v));
      return __builtin_convertvector(v, D4);
    } else {
      D4 v;
      std::memcpy(&v, a + base, sizeof(v));
      return v;
    }
  }
  D4 v = {0, 0, 0, 0};
  for (int i = 0; i < 4; ++i) {
    const int e = base + i;
    v[i] = e < P ? static_cast<double>(a[e]) : (e == P ? b : 0.0);
  }
  return v;
}

struct ProblemOut {
  double* coef;
  double rss;
  double r2;
  int rank;
  LstsqStatus status;
  bool used_qr;
};

// try_cholesky = false goes straight to the QR path (the problems whose Cholesky factor the CUDA
// kernel's guard already rejected).
template <int P, typename T>
void solve_problem(const T* a, const T* b, const T* w, std::size_t rows, const Config& cfg,
                   bool try_cholesky, ProblemOut& out) {
  // Pass 1: the weighted Gram matrix of z = (a_k, b_k) (upper triangle, by blocks of four
  // doubles: A^T W A and, in column P, A^T W b), and the sums for the weighted mean of b. No
  // per-row finiteness test: a NaN or inf in a row makes the diagonal (a), sum w b (b) or sum w
  // (w) non-finite (w >= 0 is validated, and 0 * inf is NaN), so three checks after the loop
  // catch every one, along with sums that overflow.
  constexpr int kBlocks = P / 4 + 1;  // z has P + 1 values
  D4 acc[P][kBlocks] = {};
  double sw = 0, swb = 0;
  std::size_t m_eff = 0;
  for (std::size_t k = 0; k < rows; ++k) {
    const T* ak = a + k * P;
    const double wk = w ? static_cast<double>(w[k]) : 1.0;
    const double bk = static_cast<double>(b[k]);
    D4 z[kBlocks];
    for (int c = 0; c < kBlocks; ++c) z[c] = load_block<P>(ak, bk, 4 * c);
    for (int j = 0; j < P; ++j) {
      const double wz = wk * static_cast<double>(ak[j]);
      for (int c = j / 4; c < kBlocks; ++c) acc[j][c] += wz * z[c];
    }
    sw += wk;
    swb += wk * bk;
    m_eff += wk > 0 ? 1 : 0;
  }
  double g[P][P];
  double atb[P];
  for (int j = 0; j < P; ++j) {
    for (int l = j; l < P; ++l) g[j][l] = acc[j][l / 4][l % 4];
    atb[j] = acc[j][P / 4][P % 4];
  }
  bool finite = std::isfinite(sw) && std::isfinite(swb);
  for (int j = 0; j < P; ++j) finite = finite && std::isfinite(g[j][j]);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (!finite) {
    for (int j = 0; j < P; ++j) out.coef[j] = nan;
    out.rss = out.r2 = nan;
    out.rank = 0;
    out.status = LstsqStatus::kNonFinite;
    out.used_qr = false;
    return;
  }
  for (int j = 0; j < P; ++j)
    for (int l = 0; l < j; ++l) g[j][l] = g[l][j];

  int ridge_rows = 0;
  if (cfg.ridge > 0) {
    for (int j = 0; j < P; ++j) {
      if (j == cfg.skip) continue;
      g[j][j] += cfg.ridge;
      ++ridge_rows;
    }
  }
  const double eps = std::numeric_limits<double>::epsilon();
  const double rcond =
      cfg.rcond >= 0 ? cfg.rcond
                     : eps * static_cast<double>(std::max<std::size_t>(m_eff + ridge_rows, P));

  double x[P] = {};
  int rank = P;
  bool used_qr = true;
  const bool enough_rows = m_eff + ridge_rows >= static_cast<std::size_t>(P);
  if (enough_rows && try_cholesky) {
    const double limit = rcond > 0 ? std::min(kCholeskyCondLimit, 0.1 / rcond) : kCholeskyCondLimit;
    used_qr = !solve_cholesky<P>(g, atb, limit, x);
  }
  if (used_qr) rank = solve_cod<T>(a, b, w, rows, P, cfg, rcond, x);

  // Pass 2: residuals and the total sum of squares about the weighted mean.
  const double mean = sw > 0 ? swb / sw : 0.0;
  double rss = 0, tss = 0;
  double bmin = std::numeric_limits<double>::infinity(), bmax = -bmin;
  for (std::size_t k = 0; k < rows; ++k) {
    const T* ak = a + k * P;
    double fit = 0;
    for (int j = 0; j < P; ++j) fit += static_cast<double>(ak[j]) * x[j];
    const double wk = w ? static_cast<double>(w[k]) : 1.0;
    const double bk = static_cast<double>(b[k]);
    const double res = bk - fit;
    const double dev = bk - mean;
    rss += wk * res * res;
    tss += wk * dev * dev;
    if (wk > 0) {
      bmin = std::min(bmin, bk);
      bmax = std::max(bmax, bk);
    }
  }
  for (int j = 0; j < P; ++j) out.coef[j] = x[j];
  out.rss = rss;
  // A constant b makes tss rounding noise rather than exactly 0, hence the explicit check.
  out.r2 = (bmin < bmax && tss > 0) ? 1.0 - rss / tss : nan;
  out.rank = rank;
  out.used_qr = used_qr;
  if (cfg.ridge == 0 && m_eff < static_cast<std::size_t>(P))
    out.status = LstsqStatus::kTooFewRows;
  else if (rank < P)
    out.status = LstsqStatus::kRankDeficient;
  else
    out.status = LstsqStatus::kOk;
}

// Problems [begin, end) of the batch, or with `list`, problems list[begin .. end) by the QR path.
template <int P, typename T>
std::size_t solve_fixed(const LstsqBatch<T>& batch, const Config& cfg, std::size_t begin,
                        std::size_t end, const std::int64_t* list, LstsqResult& r) {
  std::size_t qr = 0;
  for (std::size_t k = begin; k < end; ++k) {
    const std::size_t i = list ? static_cast<std::size_t>(list[k]) : k;
    const auto lo = static_cast<std::size_t>(batch.offsets[i]);
    const auto hi = static_cast<std::size_t>(batch.offsets[i + 1]);
    ProblemOut out{r.coef.data() + i * P, 0, 0, 0, LstsqStatus::kOk, false};
    solve_problem<P, T>(batch.a.data + lo * P, batch.b + lo,
                        batch.weights ? batch.weights + lo : nullptr, hi - lo, cfg, list == nullptr,
                        out);
    r.rss[i] = out.rss;
    r.r2[i] = out.r2;
    r.rank[i] = out.rank;
    r.status[i] = out.status;
    qr += out.used_qr ? 1 : 0;
  }
  return qr;
}

template <typename T, int... Ps>
std::size_t dispatch(const LstsqBatch<T>& batch, const Config& cfg, std::size_t begin,
                     std::size_t end, const std::int64_t* list, LstsqResult& r,
                     std::integer_sequence<int, Ps...>) {
  const std::size_t p = batch.a.cols;
  std::size_t qr = 0;
  const bool found = ((p == static_cast<std::size_t>(Ps + 1)
                           ? (qr = solve_fixed<Ps + 1, T>(batch, cfg, begin, end, list, r), true)
                           : false) ||
                      ...);
  if (!found) throw InvalidArgument("lstsq: unsupported column count " + std::to_string(p));
  return qr;
}

}  // namespace

template <typename T>
std::size_t solve_range(const LstsqBatch<T>& batch, const Config& cfg, std::size_t begin,
                        std::size_t end, LstsqResult& r) {
  return dispatch<T>(batch, cfg, begin, end, nullptr, r,
                     std::make_integer_sequence<int, static_cast<int>(kLstsqMaxColumns)>{});
}

template <typename T>
std::size_t solve_list_qr(const LstsqBatch<T>& batch, const Config& cfg, const std::int64_t* list,
                          std::size_t begin, std::size_t end, LstsqResult& r) {
  return dispatch<T>(batch, cfg, begin, end, list, r,
                     std::make_integer_sequence<int, static_cast<int>(kLstsqMaxColumns)>{});
}

template std::size_t solve_range<float>(const LstsqBatch<float>&, const Config&, std::size_t,
                                        std::size_t, LstsqResult&);
template std::size_t solve_range<double>(const LstsqBatch<double>&, const Config&, std::size_t,
                                         std::size_t, LstsqResult&);
template std::size_t solve_list_qr<float>(const LstsqBatch<float>&, const Config&,
                                          const std::int64_t*, std::size_t, std::size_t,
                                          LstsqResult&);
template std::size_t solve_list_qr<double>(const LstsqBatch<double>&, const Config&,
                                           const std::int64_t*, std::size_t, std::size_t,
                                           LstsqResult&);

}  // namespace segcore::lstsq_detail::SEGCORE_KERNEL_NS
