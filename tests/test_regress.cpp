// Per-segment linear regression: against long-double references, the QR fallback on an
// ill-conditioned segment, the special statuses, determinism, and `segcore regress` end to end.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cuda/cuda_regress.hpp"
#include "segcore/device.hpp"
#include "segcore/error.hpp"
#include "segcore/io.hpp"
#include "segcore/segment_regression.hpp"

namespace segcore {
namespace {

using LD = long double;

bool have_gpu() { return cuda_compiled() && !cuda_devices().empty(); }
constexpr double kEps = 2.220446049250313e-16;

/// Rows of x (n x p) with a segment's label.
std::vector<std::size_t> rows_of(const std::vector<std::int32_t>& labels, std::int32_t j) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] == j) out.push_back(i);
  return out;
}

/// Inverse of a q x q symmetric positive definite matrix by Gauss-Jordan in long double.
std::vector<LD> invert(std::vector<LD> a, std::size_t q) {
  std::vector<LD> inv(q * q, 0);
  for (std::size_t i = 0; i < q; ++i) inv[i * q + i] = 1;
  for (std::size_t c = 0; c < q; ++c) {
    std::size_t piv = c;
    for (std::size_t r = c + 1; r < q; ++r)
      if (std::fabs(a[r * q + c]) > std::fabs(a[piv * q + c])) piv = r;
    for (std::size_t k = 0; k < q; ++k) {
      std::swap(a[c * q + k], a[piv * q + k]);
      std::swap(inv[c * q + k], inv[piv * q + k]);
    }
    const LD d = a[c * q + c];
    for (std::size_t k = 0; k < q; ++k) {
      a[c * q + k] /= d;
      inv[c * q + k] /= d;
    }
    for (std::size_t r = 0; r < q; ++r) {
      if (r == c) continue;
      const LD f = a[r * q + c];
      for (std::size_t k = 0; k < q; ++k) {
        a[r * q + k] -= f * a[c * q + k];
        inv[r * q + k] -= f * inv[c * q + k];
      }
    }
  }
  return inv;
}

struct Ref {
  std::vector<LD> coef, se;
  LD rss = 0, r2 = 0, weight = 0;
};

/// Weighted (ridge) least squares of one segment by long-double normal equations; standard
/// errors sigma^2 A^-1 X^T W X A^-1 with sigma^2 = rss / (sum w - q).
Ref reference_fit(const std::vector<double>& x, std::size_t p, const std::vector<double>& y,
                  const std::vector<double>& w, const std::vector<std::size_t>& rows,
                  bool intercept, double ridge = 0) {
  const std::size_t q = p + (intercept ? 1 : 0);
  std::vector<LD> a(q * q, 0), b(q, 0), z(q);
  Ref ref;
  LD sy = 0;
  for (std::size_t i : rows) {
    const LD wi = w.empty() ? 1 : w[i];
    for (std::size_t f = 0; f < p; ++f) z[f] = x[i * p + f];
    if (intercept) z[p] = 1;
    for (std::size_t r = 0; r < q; ++r) {
      b[r] += wi * z[r] * y[i];
      for (std::size_t c = 0; c < q; ++c) a[r * q + c] += wi * z[r] * z[c];
    }
    ref.weight += wi;
    sy += wi * y[i];
  }
  const std::vector<LD> gram = a;
  for (std::size_t f = 0; f < p; ++f) a[f * q + f] += ridge;
  const std::vector<LD> inv = invert(a, q);
  ref.coef.assign(q, 0);
  for (std::size_t r = 0; r < q; ++r)
    for (std::size_t c = 0; c < q; ++c) ref.coef[r] += inv[r * q + c] * b[c];
  const LD ybar = sy / ref.weight;
  LD tss = 0;
  for (std::size_t i : rows) {
    const LD wi = w.empty() ? 1 : w[i];
    LD e = y[i];
    for (std::size_t f = 0; f < p; ++f) e -= x[i * p + f] * ref.coef[f];
    if (intercept) e -= ref.coef[p];
    ref.rss += wi * e * e;
    const LD t = intercept ? y[i] - ybar : LD(y[i]);
    tss += wi * t * t;
  }
  ref.r2 = 1 - ref.rss / tss;
  const LD sigma2 = ref.rss / (ref.weight - q);
  ref.se.assign(q, 0);
  for (std::size_t c = 0; c < q; ++c) {
    LD v = 0;  // (A^-1 G A^-1)_cc
    for (std::size_t r = 0; r < q; ++r)
      for (std::size_t s = 0; s < q; ++s) v += inv[c * q + r] * gram[r * q + s] * inv[s * q + c];
    ref.se[c] = std::sqrt(sigma2 * v);
  }
  return ref;
}

void expect_rel(double got, LD want, double tol, const std::string& what) {
  const double err = std::fabs(static_cast<double>(got - want)) /
                     std::max<double>(std::fabs(static_cast<double>(want)), 1e-300);
  EXPECT_LE(err, tol) << what << ": got " << got << ", want " << static_cast<double>(want);
}

void expect_matches(const SegmentFit& fit, const Ref& ref, double tol, const std::string& what) {
  ASSERT_EQ(fit.coef.size(), ref.coef.size()) << what;
  for (std::size_t c = 0; c < ref.coef.size(); ++c) {
    expect_rel(fit.coef[c], ref.coef[c], tol, what + " coef " + std::to_string(c));
    expect_rel(fit.std_error[c], ref.se[c], 100 * tol, what + " se " + std::to_string(c));
  }
  expect_rel(fit.rss, ref.rss, 100 * tol, what + " rss");
  EXPECT_NEAR(fit.r2, static_cast<double>(ref.r2), 100 * tol) << what << " r2";
  expect_rel(fit.weight, ref.weight, 1e-14, what + " weight");
}

/// A synthetic problem: n rows, p features, k segments with their own coefficients.
struct Problem {
  std::size_t n = 0, p = 0, k = 0;
  std::vector<double> x, y, w;
  std::vector<std::int32_t> labels;
};

Problem make_problem(std::size_t n, std::size_t p, std::size_t k, bool weighted, std::uint64_t seed,
                     double offset = 0) {
  Problem pr;
  pr.n = n;
  pr.p = p;
  pr.k = k;
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<double> beta(k * (p + 1));
  for (auto& b : beta) b = 3 * u(gen);
  pr.x.resize(n * p);
  pr.y.resize(n);
  pr.labels.resize(n);
  if (weighted) pr.w.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t j = gen() % k;
    pr.labels[i] = static_cast<std::int32_t>(j);
    double yi = beta[j * (p + 1) + p];
    for (std::size_t f = 0; f < p; ++f) {
      const double v = offset + u(gen) * (1.0 + static_cast<double>(f));
      pr.x[i * p + f] = v;
      yi += beta[j * (p + 1) + f] * (v - offset);
    }
    pr.y[i] = yi + 0.1 * u(gen);
    if (weighted) pr.w[i] = 0.25 + 2 * (u(gen) + 1);
  }
  return pr;
}

SegmentRegression run(const Problem& pr, RegressParams params = {}) {
  return regress_by_segment<double>({pr.x.data(), pr.n, pr.p}, pr.y.data(),
                                    pr.w.empty() ? nullptr : pr.w.data(), pr.labels.data(), pr.k,
                                    params);
}

TEST(RegressBySegment, WellConditionedMatchesLongDouble) {
  for (bool weighted : {false, true})
    for (bool intercept : {true, false}) {
      const Problem pr = make_problem(4000, 3, 4, weighted, 1);
      RegressParams params;
      params.intercept = intercept;
      const SegmentRegression r = run(pr, params);
      ASSERT_EQ(r.segments.size(), 4u);
      for (std::int32_t j = 0; j < 4; ++j) {
        const auto rows = rows_of(pr.labels, j);
        const SegmentFit& s = r.segments[j];
        const std::string what = "segment " + std::to_string(j) + (weighted ? " weighted" : "") +
                                 (intercept ? "" : " no intercept");
        EXPECT_EQ(s.status, RegressStatus::kOk) << what;
        EXPECT_EQ(s.solver, RegressSolver::kCholesky) << what;
        EXPECT_EQ(s.rows, rows.size());
        EXPECT_EQ(s.rank, 3u + (intercept ? 1 : 0));
        expect_matches(s, reference_fit(pr.x, 3, pr.y, pr.w, rows, intercept), 1e-10, what);
      }
    }
}

TEST(RegressBySegment, LargeOffsetKeepsDigits) {
  // Features around 1e6 with unit spread: the Gram of raw values would cancel ~12 digits.
  const Problem pr = make_problem(3000, 2, 2, true, 2, 1e6);
  const SegmentRegression r = run(pr);
  for (std::int32_t j = 0; j < 2; ++j) {
    const SegmentFit& s = r.segments[j];
    EXPECT_EQ(s.status, RegressStatus::kOk);
    // The reference runs on x - 1e6 (exact in double): on the raw values even long double
    // would lose 12 of its 19 digits. The intercept moves back by -1e6 * (b1 + b2).
    std::vector<double> shifted = pr.x;
    for (double& v : shifted) v -= 1e6;
    const Ref ref = reference_fit(shifted, 2, pr.y, pr.w, rows_of(pr.labels, j), true);
    for (std::size_t c = 0; c < 2; ++c) expect_rel(s.coef[c], ref.coef[c], 1e-9, "offset coef");
    expect_rel(s.coef[2], ref.coef[2] - 1e6L * (ref.coef[0] + ref.coef[1]), 1e-9,
               "offset intercept");
    for (std::size_t c = 0; c < 2; ++c) expect_rel(s.std_error[c], ref.se[c], 1e-7, "offset se");
  }
}

TEST(RegressBySegment, StandardErrorsByHand) {
  // y = a + b x on x = 0, 1, 2, 3 with y = 1, 3, 2, 5: b = 1.1, a = 1.1, rss = 2.7,
  // sigma^2 = 1.35, se_b^2 = sigma^2 / Sxx = 1.35 / 5, se_a^2 = sigma^2 (1/4 + 1.5^2 / 5).
  const std::vector<double> x = {0, 1, 2, 3}, y = {1, 3, 2, 5};
  const std::vector<std::int32_t> labels(4, 0);
  const SegmentRegression r =
      regress_by_segment<double>({x.data(), 4, 1}, y.data(), nullptr, labels.data(), 1, {});
  const SegmentFit& s = r.segments[0];
  EXPECT_NEAR(s.coef[0], 1.1, 1e-14);
  EXPECT_NEAR(s.coef[1], 1.1, 1e-14);
  EXPECT_NEAR(s.rss, 2.7, 1e-13);
  EXPECT_NEAR(s.std_error[0], std::sqrt(1.35 / 5), 1e-14);
  EXPECT_NEAR(s.std_error[1], std::sqrt(1.35 * (0.25 + 2.25 / 5)), 1e-14);
  // tss = sum (y - 2.75)^2 = 8.75
  EXPECT_NEAR(s.r2, 1 - 2.7 / 8.75, 1e-14);
}

TEST(RegressBySegment, IntegerWeightsEqualRepeatedRows) {
  Problem pr = make_problem(600, 3, 3, false, 3);
  pr.w.resize(pr.n);
  Problem rep = pr;
  rep.x.clear();
  rep.y.clear();
  rep.labels.clear();
  rep.w.clear();
  std::mt19937_64 gen(5);
  for (std::size_t i = 0; i < pr.n; ++i) {
    const int copies = static_cast<int>(gen() % 4);  // 0..3, zero weights included
    pr.w[i] = copies;
    for (int c = 0; c < copies; ++c) {
      rep.x.insert(rep.x.end(), pr.x.begin() + i * 3, pr.x.begin() + (i + 1) * 3);
      rep.y.push_back(pr.y[i]);
      rep.labels.push_back(pr.labels[i]);
    }
  }
  rep.n = rep.y.size();
  const SegmentRegression a = run(pr), b = run(rep);
  for (std::size_t j = 0; j < 3; ++j) {
    const SegmentFit &s = a.segments[j], &t = b.segments[j];
    EXPECT_EQ(s.weight, t.weight);
    EXPECT_EQ(static_cast<double>(t.rows), t.weight);
    for (std::size_t c = 0; c < 4; ++c) {
      EXPECT_NEAR(s.coef[c], t.coef[c], 1e-12 * (1 + std::fabs(t.coef[c])));
      EXPECT_NEAR(s.std_error[c], t.std_error[c], 1e-10 * t.std_error[c]);
    }
    EXPECT_NEAR(s.rss, t.rss, 1e-10 * t.rss);
    EXPECT_NEAR(s.r2, t.r2, 1e-12);
  }
}

TEST(RegressBySegment, RidgeMatchesAugmentedSystem) {
  const Problem pr = make_problem(2000, 3, 2, true, 4);
  for (bool intercept : {true, false}) {
    RegressParams params;
    params.ridge = 50;
    params.intercept = intercept;
    const SegmentRegression r = run(pr, params);
    for (std::int32_t j = 0; j < 2; ++j) {
      // The augmented system [sqrt(W) X, sqrt(W) 1; sqrt(ridge) I, 0] solved as least squares:
      // its normal equations are X^T W X + ridge on the feature diagonal.
      Problem aug = pr;
      aug.x.clear();
      aug.y.clear();
      aug.w.clear();
      std::vector<std::size_t> rows;
      for (std::size_t i : rows_of(pr.labels, j)) {
        const double sw = std::sqrt(pr.w[i]);
        for (std::size_t f = 0; f < 3; ++f) aug.x.push_back(sw * pr.x[i * 3 + f]);
        aug.x.push_back(sw);  // intercept column (ignored without intercept)
        aug.y.push_back(sw * pr.y[i]);
        rows.push_back(rows.size());
      }
      for (std::size_t f = 0; f < 3; ++f) {
        for (std::size_t g = 0; g < 4; ++g) aug.x.push_back(g == f ? std::sqrt(50.0) : 0.0);
        aug.y.push_back(0);
        rows.push_back(rows.size());
      }
      // Columns: 3 features + explicit intercept column, no implicit intercept.
      std::vector<double> xa;
      for (std::size_t i = 0; i < rows.size(); ++i)
        for (std::size_t f = 0; f < (intercept ? 4u : 3u); ++f) xa.push_back(aug.x[i * 4 + f]);
      const Ref ref = reference_fit(xa, intercept ? 4 : 3, aug.y, {}, rows, false);
      const SegmentFit& s = r.segments[j];
      EXPECT_EQ(s.status, RegressStatus::kOk);
      for (std::size_t c = 0; c < ref.coef.size(); ++c)
        expect_rel(s.coef[c], ref.coef[c], 1e-10, "ridge coef");
      // Standard errors: the sandwich sigma^2 A^-1 X^T W X A^-1.
      const Ref direct = reference_fit(pr.x, 3, pr.y, pr.w, rows_of(pr.labels, j), intercept, 50);
      for (std::size_t c = 0; c < direct.coef.size(); ++c) {
        expect_rel(s.coef[c], direct.coef[c], 1e-10, "ridge coef (normal equations)");
        expect_rel(s.std_error[c], direct.se[c], 1e-8, "ridge se");
      }
      expect_rel(s.rss, direct.rss, 1e-8, "ridge rss");
    }
  }
}

/// Householder QR in long double of an m x q matrix (row-major): R (q x q) and Q^T b.
void householder_ld(std::vector<LD> a, std::size_t m, std::size_t q, std::vector<LD> b,
                    std::vector<LD>& r, std::vector<LD>& qtb, std::vector<std::vector<LD>>* vs) {
  for (std::size_t c = 0; c < q; ++c) {
    LD norm = 0;
    for (std::size_t i = c; i < m; ++i) norm += a[i * q + c] * a[i * q + c];
    norm = std::sqrt(norm);
    const LD alpha = a[c * q + c] > 0 ? -norm : norm;
    std::vector<LD> v(m, 0);
    for (std::size_t i = c; i < m; ++i) v[i] = a[i * q + c];
    v[c] -= alpha;
    LD vv = 0;
    for (std::size_t i = c; i < m; ++i) vv += v[i] * v[i];
    if (vv > 0) {
      for (std::size_t k = c; k < q; ++k) {
        LD d = 0;
        for (std::size_t i = c; i < m; ++i) d += v[i] * a[i * q + k];
        for (std::size_t i = c; i < m; ++i) a[i * q + k] -= 2 * d / vv * v[i];
      }
      LD d = 0;
      for (std::size_t i = c; i < m; ++i) d += v[i] * b[i];
      for (std::size_t i = c; i < m; ++i) b[i] -= 2 * d / vv * v[i];
    }
    if (vs) vs->push_back(v);
  }
  r.assign(q * q, 0);
  for (std::size_t i = 0; i < q; ++i)
    for (std::size_t k = i; k < q; ++k) r[i * q + k] = a[i * q + k];
  qtb = b;
}

/// R^-1 of an upper triangular q x q R (row-major), by back substitution.
std::vector<LD> upper_inverse(const std::vector<LD>& r, std::size_t q) {
  std::vector<LD> inv(q * q, 0);
  for (std::size_t c = 0; c < q; ++c)  // back substitution for column c of R^-1
    for (std::size_t i = q; i-- > 0;) {
      LD s = i == c ? 1 : 0;
      for (std::size_t k = i + 1; k < q; ++k) s -= r[i * q + k] * inv[k * q + c];
      inv[i * q + c] = s / r[i * q + i];
    }
  return inv;
}

/// Frobenius condition number ||R|| ||R^-1|| (an upper bound on the 2-norm one).
LD condition(const std::vector<LD>& r, std::size_t q) {
  const std::vector<LD> inv = upper_inverse(r, q);
  LD nr = 0, ni = 0;
  for (std::size_t e = 0; e < q * q; ++e) {
    nr += r[e] * r[e];
    ni += inv[e] * inv[e];
  }
  return std::sqrt(nr * ni);
}

/// An ill-conditioned segment with a known solution: x2 = x1 + delta u, and y = X beta + r with
/// r orthogonal to [x1 x2 1] (made so by a long-double Householder QR), tiny.
struct IllConditioned {
  std::vector<double> x, y;
  std::vector<double> beta;  // b1, b2, intercept
  double cond = 0;
  // The exact residual sum of squares and the standard errors sigma^2 diag((R^T R)^-1) from the
  // long-double R (the normal equations in long double lose cond^2 * 1e-19: useless at 1e8).
  double rss = 0;
  std::vector<double> se;
};

IllConditioned make_ill_conditioned(std::size_t n, double delta, std::uint64_t seed) {
  IllConditioned ic;
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  ic.beta = {1.5, -0.75, 2.0};
  std::vector<LD> a(n * 3);
  ic.x.resize(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    ic.x[i * 2] = u(gen);
    ic.x[i * 2 + 1] = ic.x[i * 2] + delta * u(gen);
    a[i * 3] = ic.x[i * 2];
    a[i * 3 + 1] = ic.x[i * 2 + 1];
    a[i * 3 + 2] = 1;
  }
  std::vector<LD> noise(n);
  for (auto& e : noise) e = 1e-9L * u(gen);
  std::vector<LD> r, qtb;
  std::vector<std::vector<LD>> vs;
  householder_ld(a, n, 3, noise, r, qtb, &vs);
  ic.cond = static_cast<double>(condition(r, 3));
  LD rss = 0;
  for (std::size_t i = 3; i < n; ++i) rss += qtb[i] * qtb[i];
  ic.rss = static_cast<double>(rss);
  const std::vector<LD> r_inv = upper_inverse(r, 3);
  for (std::size_t c = 0; c < 3; ++c) {
    LD v = 0;  // ((R^T R)^-1)_cc = sum_k (R^-1)_ck^2
    for (std::size_t k = 0; k < 3; ++k) v += r_inv[c * 3 + k] * r_inv[c * 3 + k];
    ic.se.push_back(static_cast<double>(std::sqrt(rss / static_cast<LD>(n - 3) * v)));
  }
  // Residual = Q [0; (Q^T noise)_{3..}]: zero the range part and apply the reflectors back.
  std::vector<LD> res = qtb;
  for (std::size_t c = 0; c < 3; ++c) res[c] = 0;
  for (std::size_t c = 3; c-- > 0;) {
    const auto& v = vs[c];
    LD vv = 0, d = 0;
    for (std::size_t i = c; i < n; ++i) {
      vv += v[i] * v[i];
      d += v[i] * res[i];
    }
    if (vv > 0)
      for (std::size_t i = c; i < n; ++i) res[i] -= 2 * d / vv * v[i];
  }
  ic.y.resize(n);
  for (std::size_t i = 0; i < n; ++i)
    ic.y[i] =
        static_cast<double>(ic.beta[0] * static_cast<LD>(ic.x[i * 2]) +
                            ic.beta[1] * static_cast<LD>(ic.x[i * 2 + 1]) + ic.beta[2] + res[i]);
  return ic;
}

TEST(RegressBySegment, IllConditionedSegmentFallsBackToQr) {
  for (double delta : {1e-5, 1e-7, 1e-8}) {
    const IllConditioned ic = make_ill_conditioned(500, delta, 6);
    // Segment 1 is a well-conditioned neighbour that must stay on the one-pass path.
    Problem good = make_problem(300, 2, 1, false, 7);
    std::vector<double> x = ic.x, y = ic.y;
    std::vector<std::int32_t> labels(500, 0);
    x.insert(x.end(), good.x.begin(), good.x.end());
    y.insert(y.end(), good.y.begin(), good.y.end());
    labels.resize(800, 1);
    const SegmentRegression r =
        regress_by_segment<double>({x.data(), 800, 2}, y.data(), nullptr, labels.data(), 2, {});
    const SegmentFit& s = r.segments[0];
    EXPECT_EQ(s.status, RegressStatus::kOk) << delta;
    EXPECT_EQ(s.solver, RegressSolver::kQr) << delta;
    EXPECT_EQ(s.rank, 3u);
    double err = 0, norm = 0;
    for (std::size_t c = 0; c < 3; ++c) {
      err += (s.coef[c] - ic.beta[c]) * (s.coef[c] - ic.beta[c]);
      norm += ic.beta[c] * ic.beta[c];
    }
    EXPECT_LE(std::sqrt(err / norm), 1000 * ic.cond * kEps)
        << "delta " << delta << " cond " << ic.cond;
    // rss and standard errors against the long-double QR of the same rows (the rounding of y
    // to double moves the rss by about 1e-7 of itself). The intercept's variance is
    // xbar^T Cov xbar with xbar nearly along the null direction: it cancels, and keeps 4 to 5
    // digits (measured 2.6e-5 at delta 1e-5); the slopes' keep 7 or more.
    expect_rel(s.rss, ic.rss, 1e-6, "ill rss");
    for (std::size_t c = 0; c < 2; ++c) expect_rel(s.std_error[c], ic.se[c], 1e-6, "ill se");
    expect_rel(s.std_error[2], ic.se[2], 2e-4, "ill intercept se");
    EXPECT_EQ(r.segments[1].solver, RegressSolver::kCholesky);
    expect_matches(r.segments[1], reference_fit(x, 2, y, {}, rows_of(labels, 1), true), 1e-10,
                   "neighbour");
  }
}

TEST(RegressBySegment, DuplicateFeatureIsRankDeficientWithMinimumNorm) {
  Problem pr = make_problem(1000, 3, 2, true, 8);
  for (std::size_t i = 0; i < pr.n; ++i)
    if (pr.labels[i] == 1) pr.x[i * 3 + 1] = pr.x[i * 3];  // x1 duplicates x0 in segment 1
  const SegmentRegression r = run(pr);
  EXPECT_EQ(r.segments[0].status, RegressStatus::kOk);
  const SegmentFit& s = r.segments[1];
  EXPECT_EQ(s.status, RegressStatus::kRankDeficient);
  EXPECT_EQ(s.solver, RegressSolver::kQr);
  EXPECT_EQ(s.rank, 3u);
  // The fit without the duplicate; the minimum-norm split gives each copy half.
  std::vector<double> reduced;
  for (std::size_t i = 0; i < pr.n; ++i) {
    reduced.push_back(pr.x[i * 3]);
    reduced.push_back(pr.x[i * 3 + 2]);
  }
  const Ref ref = reference_fit(reduced, 2, pr.y, pr.w, rows_of(pr.labels, 1), true);
  expect_rel(s.coef[0], ref.coef[0] / 2, 1e-10, "half");
  expect_rel(s.coef[1], ref.coef[0] / 2, 1e-10, "half");
  expect_rel(s.coef[2], ref.coef[1], 1e-10, "x2");
  expect_rel(s.coef[3], ref.coef[2], 1e-10, "intercept");
  expect_rel(s.rss, ref.rss, 1e-9, "rss");
  EXPECT_NEAR(s.r2, static_cast<double>(ref.r2), 1e-10);
  for (double se : s.std_error) EXPECT_TRUE(std::isnan(se));
}

TEST(RegressBySegment, ConstantFeatureGoesToTheIntercept) {
  Problem pr = make_problem(500, 2, 1, false, 9);
  for (std::size_t i = 0; i < pr.n; ++i) pr.x[i * 2 + 1] = 7.0;
  const SegmentFit s = run(pr).segments[0];
  EXPECT_EQ(s.status, RegressStatus::kRankDeficient);
  EXPECT_EQ(s.rank, 2u);
  EXPECT_EQ(s.coef[1], 0.0);  // minimum norm of the features, intercept free
  std::vector<double> reduced;
  for (std::size_t i = 0; i < pr.n; ++i) reduced.push_back(pr.x[i * 2]);
  const Ref ref = reference_fit(reduced, 1, pr.y, {}, rows_of(pr.labels, 0), true);
  expect_rel(s.coef[0], ref.coef[0], 1e-10, "slope");
  expect_rel(s.coef[2], ref.coef[1], 1e-10, "intercept");
}

TEST(RegressBySegment, EmptyAndOneRowSegments) {
  // Segment 0: normal; 1: one row; 2: no rows; 3: rows with zero weight only.
  Problem pr = make_problem(200, 2, 1, true, 10);
  pr.k = 4;
  pr.labels[17] = 1;
  pr.labels[30] = 3;
  pr.labels[31] = 3;
  pr.w[30] = pr.w[31] = 0;
  const SegmentRegression r = run(pr);
  EXPECT_EQ(r.segments[0].status, RegressStatus::kOk);
  const SegmentFit& one = r.segments[1];
  EXPECT_EQ(one.status, RegressStatus::kTooFewRows);
  EXPECT_EQ(one.rows, 1u);
  EXPECT_EQ(one.weight, pr.w[17]);
  EXPECT_EQ(one.rank, 1u);
  // The solution interpolates its row.
  const double fitted = one.coef[0] * pr.x[34] + one.coef[1] * pr.x[35] + one.coef[2];
  EXPECT_NEAR(fitted, pr.y[17], 1e-12 * (1 + std::fabs(pr.y[17])));
  EXPECT_NEAR(one.rss, 0, 1e-20);
  EXPECT_TRUE(std::isnan(one.r2));
  for (double se : one.std_error) EXPECT_TRUE(std::isnan(se));
  for (std::size_t j : {2u, 3u}) {
    const SegmentFit& e = r.segments[j];
    EXPECT_EQ(e.status, RegressStatus::kEmpty);
    EXPECT_EQ(e.rank, 0u);
    EXPECT_EQ(e.weight, 0.0);
    for (double c : e.coef) EXPECT_TRUE(std::isnan(c));
    EXPECT_TRUE(std::isnan(e.r2));
    EXPECT_TRUE(std::isnan(e.rss));
  }
  EXPECT_EQ(r.segments[2].rows, 0u);
  EXPECT_EQ(r.segments[3].rows, 2u);
  EXPECT_STREQ(regress_status_name(RegressStatus::kTooFewRows), "too-few-rows");
}

TEST(RegressBySegment, NoDegreesOfFreedomGivesNanStandardErrors) {
  // Exactly q rows: a unique, exact fit; sigma^2 has no degrees of freedom.
  const std::vector<double> x = {0, 1, 3}, y = {1, 2, 7};
  const std::vector<std::int32_t> labels = {0, 0, 0};
  const SegmentRegression r =
      regress_by_segment<double>({x.data(), 3, 1}, y.data(), nullptr, labels.data(), 1, {});
  EXPECT_EQ(r.segments[0].status, RegressStatus::kOk);
  (void)r;
  const std::vector<double> x2 = {0, 1}, y2 = {1, 2};
  const SegmentRegression r2 =
      regress_by_segment<double>({x2.data(), 2, 1}, y2.data(), nullptr, labels.data(), 1, {});
  EXPECT_EQ(r2.segments[0].status, RegressStatus::kOk);
  EXPECT_NEAR(r2.segments[0].coef[0], 1, 1e-14);
  EXPECT_NEAR(r2.segments[0].coef[1], 1, 1e-14);
  for (double se : r2.segments[0].std_error) EXPECT_TRUE(std::isnan(se));
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(RegressBySegment, BitwiseIdenticalForAnyThreadCount) {
  Problem pr = make_problem(150000, 4, 5, true, 11);  // ~37 chunks
  for (std::size_t i = 0; i < pr.n; ++i)
    if (pr.labels[i] == 3) pr.x[i * 4 + 2] = pr.x[i * 4];  // one segment on the QR path
  RegressParams one, two, three;
  one.threads = 1;
  two.threads = 2;
  three.threads = 3;
  const SegmentRegression a = run(pr, one), b = run(pr, two), c = run(pr, three);
  EXPECT_EQ(a.segments[3].solver, RegressSolver::kQr);
  for (std::size_t j = 0; j < 5; ++j)
    for (const SegmentRegression* o : {&b, &c}) {
      const SegmentFit &s = a.segments[j], &t = o->segments[j];
      for (std::size_t e = 0; e < 5; ++e) {
        EXPECT_TRUE(same_bits(s.coef[e], t.coef[e])) << j << " " << e;
        EXPECT_TRUE(same_bits(s.std_error[e], t.std_error[e])) << j << " " << e;
      }
      EXPECT_TRUE(same_bits(s.rss, t.rss));
      EXPECT_TRUE(same_bits(s.r2, t.r2));
      EXPECT_TRUE(same_bits(s.weight, t.weight));
    }
}

void float32_equals_double_copy(const RegressParams& params) {
  const Problem pr = make_problem(3000, 3, 3, true, 12);
  const std::vector<float> xf(pr.x.begin(), pr.x.end()), yf(pr.y.begin(), pr.y.end()),
      wf(pr.w.begin(), pr.w.end());
  Problem rounded = pr;
  rounded.x.assign(xf.begin(), xf.end());
  rounded.y.assign(yf.begin(), yf.end());
  rounded.w.assign(wf.begin(), wf.end());
  const SegmentRegression f = regress_by_segment<float>({xf.data(), pr.n, 3}, yf.data(), wf.data(),
                                                        pr.labels.data(), 3, params);
  const SegmentRegression d = run(rounded, params);
  for (std::size_t j = 0; j < 3; ++j) {
    EXPECT_EQ(f.segments[j].coef, d.segments[j].coef);  // accumulated in double all the same
    EXPECT_EQ(f.segments[j].std_error, d.segments[j].std_error);
    const Ref ref = reference_fit(rounded.x, 3, rounded.y, rounded.w, rows_of(pr.labels, j), true);
    expect_matches(f.segments[j], ref, 1e-10, "float32");
  }
}

// On the CPU, and on the GPU where one answers: the sums are accumulated in double either way.
TEST(RegressBySegment, Float32InputEqualsItsDoubleCopy) {
  for (const Device device : {Device::kCpu, Device::kCuda}) {
    if (device == Device::kCuda && !have_gpu()) continue;
    RegressParams params;
    params.device = device;
    float32_equals_double_copy(params);
  }
}

// No features, intercept only: each segment's weighted mean of y (x may be a null pointer).
TEST(RegressBySegment, InterceptOnlyIsTheWeightedMean) {
  const Problem pr = make_problem(3000, 0, 3, true, 23);
  const SegmentRegression r = run(pr);
  for (std::size_t j = 0; j < 3; ++j) {
    LD sw = 0, swy = 0;
    for (std::size_t i = 0; i < pr.n; ++i)
      if (pr.labels[i] == static_cast<std::int32_t>(j)) {
        sw += pr.w[i];
        swy += static_cast<LD>(pr.w[i]) * pr.y[i];
      }
    ASSERT_EQ(r.segments[j].coef.size(), 1u);
    expect_rel(r.segments[j].coef[0], swy / sw, 1e-13, "mean");
  }
}

TEST(RegressBySegment, RejectsBadArguments) {
  const std::vector<double> x = {0, 1, 2}, y = {1, 2, 3}, neg = {1, -1, 1};
  const std::vector<std::int32_t> ok = {0, 0, 1}, bad = {0, 2, 1};
  auto call = [&](const double* w, const std::int32_t* labels, RegressParams p = {},
                  std::size_t cols = 1) {
    return regress_by_segment<double>({x.data(), 3, cols}, y.data(), w, labels, 2, p);
  };
  EXPECT_THROW(call(nullptr, bad.data()), InvalidArgument);
  EXPECT_THROW(call(neg.data(), ok.data()), InvalidArgument);
  RegressParams ridge;
  ridge.ridge = -1;
  EXPECT_THROW(call(nullptr, ok.data(), ridge), InvalidArgument);
  RegressParams none;
  none.intercept = false;
  EXPECT_THROW(call(nullptr, ok.data(), none, 0), InvalidArgument);
  const std::vector<double> ynan = {1, std::nan(""), 3};
  EXPECT_THROW(regress_by_segment<double>({x.data(), 3, 1}, ynan.data(), nullptr, ok.data(), 2, {}),
               InvalidArgument);
  try {
    call(nullptr, bad.data());
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("row 1"), std::string::npos) << e.what();
  }
}

// ---- the sums on the GPU (each test skips itself where it cannot run) ----

TEST(RegressBySegmentCuda, DeviceChoiceWithoutAGpu) {
  if (have_gpu()) GTEST_SKIP() << "a CUDA device answers";
  const Problem pr = make_problem(100, 2, 2, false, 3);
  RegressParams params;
  params.device = Device::kCuda;
  if (cuda_compiled())
    EXPECT_THROW(run(pr, params), CudaError);
  else
    EXPECT_THROW(run(pr, params), NotCompiled);
  params.device = Device::kAuto;
  EXPECT_EQ(run(pr, params).backend, "cpu");
}

// The GPU's sums (sorted by segment, other order) against the CPU's: the same statuses and
// solvers, results within rounding; several 1024-row chunks per segment, n not a multiple of
// the chunk, an empty segment, one segment on the QR path, weights with zeros.
void expect_gpu_matches_cpu(const Problem& pr, RegressParams params, const std::string& what) {
  params.device = Device::kCpu;
  const SegmentRegression cpu = run(pr, params);
  params.device = Device::kCuda;
  const SegmentRegression gpu = run(pr, params), again = run(pr, params);
  EXPECT_EQ(gpu.backend.rfind("cuda (", 0), 0u) << gpu.backend;
  for (std::size_t j = 0; j < pr.k; ++j) {
    const SegmentFit &c = cpu.segments[j], &g = gpu.segments[j], &a = again.segments[j];
    const std::string at = what + ", segment " + std::to_string(j);
    ASSERT_EQ(g.status, c.status) << at;
    EXPECT_EQ(g.solver, c.solver) << at;
    EXPECT_EQ(g.rank, c.rank) << at;
    EXPECT_EQ(g.rows, c.rows) << at;
    expect_rel(g.weight, c.weight, 1e-13, at + " weight");
    for (std::size_t e = 0; e < c.coef.size(); ++e) {
      if (std::isnan(c.coef[e])) {
        EXPECT_TRUE(std::isnan(g.coef[e])) << at;
        continue;
      }
      EXPECT_NEAR(g.coef[e], c.coef[e], 1e-9 * (1 + std::fabs(c.coef[e]))) << at << " coef " << e;
      if (!std::isnan(c.std_error[e])) expect_rel(g.std_error[e], c.std_error[e], 1e-8, at + " se");
      EXPECT_TRUE(same_bits(a.coef[e], g.coef[e])) << at << ": two GPU runs differ";
    }
    if (!std::isnan(c.rss)) expect_rel(g.rss, c.rss, 1e-9, at + " rss");
    if (!std::isnan(c.r2)) EXPECT_NEAR(g.r2, c.r2, 1e-10) << at;
  }
}

TEST(RegressBySegmentCuda, MatchesCpu) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device (or a build without CUDA)";
  Problem pr = make_problem(150001, 4, 6, true, 21);
  for (std::size_t i = 0; i < pr.n; ++i) {
    if (pr.labels[i] == 5) pr.labels[i] = 0;               // segment 5 is empty
    if (pr.labels[i] == 3) pr.x[i * 4 + 2] = pr.x[i * 4];  // segment 3: rank-deficient (QR)
    if (i % 97 == 0) pr.w[i] = 0;
  }
  const SegmentRegression cpu = run(pr);
  EXPECT_EQ(cpu.segments[3].solver, RegressSolver::kQr);
  EXPECT_EQ(cpu.segments[5].status, RegressStatus::kEmpty);
  expect_gpu_matches_cpu(pr, {}, "weighted");
  RegressParams no_intercept;
  no_intercept.intercept = false;
  no_intercept.ridge = 0.5;
  expect_gpu_matches_cpu(pr, no_intercept, "no intercept, ridge");
  const Problem unweighted = make_problem(5000, 3, 4, false, 22, 1e4);  // a large offset
  expect_gpu_matches_cpu(unweighted, {}, "unweighted, offset");
  const Problem intercept_only = make_problem(3000, 0, 3, true, 23);
  expect_gpu_matches_cpu(intercept_only, {}, "p = 0");
}

#if defined(SEGCORE_WITH_CUDA)
// The GPU sums in waves of chunks (one chunk at a time, 7 at a time: a segment's chunks split
// across waves) carry the same bits as all chunks at once, and are what the CPU sums within
// rounding: the budget bounds the scratch, not the answer.
TEST(RegressBySegmentCuda, WavesOfChunksGiveTheSameBits) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device (or a build without CUDA)";
  const Problem pr = make_problem(20000, 3, 4, true, 24);
  const std::size_t m = pr.p + 1, stride = 3 + m + m * m;
  std::vector<float> x(pr.x.begin(), pr.x.end()), y(pr.y.begin(), pr.y.end()),
      w(pr.w.begin(), pr.w.end());
  for (std::size_t i = 0; i < pr.n; i += 97) w[i] = 0;
  const std::vector<double> shift(pr.k * m, 0.25);
  const ConstMatrixView<float> xv{x.data(), pr.n, pr.p};
  auto sums = [&](std::size_t budget) {
    std::vector<double> total(pr.k * stride, -1.0);
    cuda::segment_sums<float>(xv, y.data(), w.data(), pr.labels.data(), pr.k, shift.data(),
                              total.data(), budget);
    return total;
  };
  const std::vector<double> all = sums(0);  // the automatic budget: one wave here
  for (const std::size_t chunks : {1u, 7u}) {
    const std::vector<double> waves = sums(chunks * stride * sizeof(double));
    for (std::size_t e = 0; e < all.size(); ++e)
      ASSERT_TRUE(same_bits(waves[e], all[e])) << chunks << " chunks a wave, entry " << e;
  }
  // Against the sums in long double on the host (rows, weight, sum w z, the upper triangle).
  for (std::size_t j = 0; j < pr.k; ++j) {
    std::vector<long double> ref(stride, 0.0L);
    for (std::size_t i = 0; i < pr.n; ++i) {
      if (static_cast<std::size_t>(pr.labels[i]) != j) continue;
      ref[0] += 1;
      if (!(w[i] > 0)) continue;
      ref[1] += 1;
      ref[2] += w[i];
      for (std::size_t a = 0; a < m; ++a) {
        const long double za = (a < pr.p ? x[i * pr.p + a] : y[i]) - shift[j * m + a];
        ref[3 + a] += w[i] * za;
        for (std::size_t b = a; b < m; ++b)
          ref[3 + m + a * m + b] +=
              w[i] * za * ((b < pr.p ? x[i * pr.p + b] : y[i]) - shift[j * m + b]);
      }
    }
    for (std::size_t e = 0; e < stride; ++e)
      EXPECT_NEAR(all[j * stride + e], static_cast<double>(ref[e]),
                  1e-9 * (1 + std::fabs(static_cast<double>(ref[e]))))
          << "segment " << j << " entry " << e;
  }
}
#endif

// ---------------------------------------------------------------------------------------------
// `segcore regress` end to end.

namespace fs = std::filesystem;

std::string cli_path() {
  if (const char* env = std::getenv("SEGCORE_CLI")) return env;
  const fs::path self = fs::read_symlink("/proc/self/exe");
  return (self.parent_path().parent_path() / "segcore").string();
}

struct CliResult {
  int status = 0;
  std::string err;
};

class RegressCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    cli_ = cli_path();
    if (!fs::exists(cli_)) GTEST_SKIP() << "segcore binary not built at " << cli_;
    dir_ = fs::temp_directory_path() /
           ("segcore_regress_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "run");
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path(name)) << text;
  }
  CliResult cli(const std::string& args) const {
    const std::string cmd = "'" + cli_ + "' regress " + args + " > '" + path("stdout") + "' 2> '" +
                            path("stderr") + "'";
    CliResult r;
    r.status = std::system(cmd.c_str());
    std::ifstream in(path("stderr"));
    std::stringstream ss;
    ss << in.rdbuf();
    r.err = ss.str();
    return r;
  }
  /// The data set: 60 rows, ids c0..c59, features x1 x2, target y, weight w, 3 segments.
  Problem write_data() const {
    Problem pr = make_problem(60, 2, 3, true, 13);
    std::string data = "id,x1,x2,y,w\n";
    std::string labels = "id,segment\n";
    for (std::size_t i = 0; i < pr.n; ++i) {
      data += "c" + std::to_string(i) + "," + io::format_double(pr.x[i * 2]) + "," +
              io::format_double(pr.x[i * 2 + 1]) + "," + io::format_double(pr.y[i]) + "," +
              io::format_double(pr.w[i]) + "\n";
      labels += "c" + std::to_string(i) + "," + std::to_string(pr.labels[i]) + "\n";
    }
    write("data.csv", data);
    write("run/labels.csv", labels);
    return pr;
  }
  std::vector<std::vector<std::string>> read_out(const std::string& name) const {
    std::vector<std::vector<std::string>> rows;
    std::ifstream in(path(name));
    std::string line;
    while (std::getline(in, line)) {
      std::vector<std::string> cells;
      std::string cell;
      std::stringstream ss(line);
      while (std::getline(ss, cell, ',')) cells.push_back(cell);
      if (!line.empty() && line.back() == ',') cells.push_back("");
      rows.push_back(cells);
    }
    return rows;
  }

  std::string cli_;
  fs::path dir_;
};

void expect_row_matches(const std::vector<std::string>& row, std::size_t j, const SegmentFit& s) {
  ASSERT_EQ(row.size(), 13u);
  EXPECT_EQ(row[0], std::to_string(j));
  EXPECT_EQ(row[1], std::to_string(s.rows));
  EXPECT_EQ(std::stod(row[2]), s.weight);
  for (std::size_t c = 0; c < 3; ++c) {
    EXPECT_EQ(std::stod(row[3 + c]), s.coef[c]) << c;
    EXPECT_EQ(std::stod(row[6 + c]), s.std_error[c]) << c;
  }
  EXPECT_EQ(std::stod(row[9]), s.r2);
  EXPECT_EQ(std::stod(row[10]), s.rss);
  EXPECT_EQ(row[11], std::to_string(s.rank));
  EXPECT_EQ(row[12], regress_status_name(s.status));
}

TEST_F(RegressCommand, JoinsByRowOrderAndById) {
  const Problem pr = write_data();
  const SegmentRegression want = run(pr);
  // --device cpu: compared bit for bit with the library's CPU run (GPU sums differ in order).
  const std::string common = "'" + path("data.csv") + "' --labels '" + path("run/labels.csv") +
                             "' --target y --features x1,x2 --weight-column w --device cpu";
  CliResult r = cli(common + " --out '" + path("by_row.csv") + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  auto rows = read_out("by_row.csv");
  ASSERT_EQ(rows.size(), 4u);
  const std::vector<std::string> header = {"segment",   "n",     "weight", "x1",           "x2",
                                           "intercept", "se_x1", "se_x2",  "se_intercept", "r2",
                                           "rss",       "rank",  "status"};
  EXPECT_EQ(rows[0], header);
  for (std::size_t j = 0; j < 3; ++j) {
    expect_row_matches(rows[j + 1], j, want.segments[j]);
  }

  // Labels shuffled and a row the input does not have: the join by id must not care.
  std::string labels = "id,segment\nnot_in_data,1\n";
  for (std::size_t i = pr.n; i-- > 0;)
    labels += "c" + std::to_string(i) + "," + std::to_string(pr.labels[i]) + "\n";
  write("run/labels.csv", labels);
  r = cli(common + " --id-column id --threads 2 --out '" + path("by_id.csv") + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  std::ifstream a(path("by_row.csv")), b(path("by_id.csv"));
  std::stringstream sa, sb;
  sa << a.rdbuf();
  sb << b.rdbuf();
  EXPECT_EQ(sa.str(), sb.str());
}

TEST_F(RegressCommand, EmptySegmentFromModelJsonAndNoIntercept) {
  Problem pr = write_data();
  write("run/model.json", "{\"k\": 4}");
  const CliResult r =
      cli("'" + path("data.csv") + "' --labels '" + path("run/labels.csv") +
          "' --target y --features x1,x2 --no-intercept --ridge 0.5 --device cpu --out '" +
          path("out.csv") + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto rows = read_out("out.csv");
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0].size(), 11u);
  EXPECT_EQ(rows[0][3], "x1");
  EXPECT_EQ(rows[0][5], "se_x1");
  EXPECT_EQ(rows[4][10], "empty");
  EXPECT_EQ(rows[4][1], "0");
  EXPECT_EQ(rows[4][3], "");  // NaN is an empty cell
  pr.w.clear();
  RegressParams params;
  params.intercept = false;
  params.ridge = 0.5;
  const SegmentRegression want = run(pr, params);
  EXPECT_EQ(std::stod(rows[1][3]), want.segments[0].coef[0]);
}

TEST_F(RegressCommand, ErrorsNameTheProblemAndWriteNothing) {
  write_data();
  const std::string labels = " --labels '" + path("run/labels.csv") + "'";
  const std::string out = " --out '" + path("out.csv") + "'";
  const std::string data = "'" + path("data.csv") + "'";
  auto expect_error = [&](const std::string& args, const std::string& message) {
    const CliResult r = cli(args + out);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_NE(r.err.find(message), std::string::npos) << args << "\nstderr: " << r.err;
    EXPECT_FALSE(fs::exists(path("out.csv"))) << args;
  };
  expect_error(data + labels + " --target y --features x1,nope", "nope");
  expect_error(data + labels + " --target nope --features x1", "nope");
  expect_error(data + labels + " --target y --features x1,y", "also listed");
  expect_error(data + labels + " --target y --features x1 --ridge -1", "--ridge");
  expect_error(data + labels + " --target y --features x1 --device gpu", "gpu");
  if (!have_gpu())  // --device cuda fails before reading where no CUDA device answers
    expect_error(data + labels + " --target y --features x1 --device cuda", "--device cpu");

  // A non-numeric cell and a negative weight: file, row and column.
  std::string text = "x1,y,w\n1,2,1\n2,abc,1\n3,4,1\n";
  write("bad.csv", text);
  write("three.csv", "id,segment\n0,0\n1,0\n2,1\n");
  const std::string three = " --labels '" + path("three.csv") + "'";
  expect_error("'" + path("bad.csv") + "'" + three + " --target y --features x1", "bad.csv");
  {
    const CliResult r =
        cli("'" + path("bad.csv") + "'" + three + " --target y --features x1" + out);
    EXPECT_NE(r.err.find("y"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("2"), std::string::npos) << r.err;
  }
  write("negw.csv", "x1,y,w\n1,2,1\n2,3,-1\n3,4,1\n");
  expect_error("'" + path("negw.csv") + "'" + three + " --target y --features x1 --weight-column w",
               "negw.csv");

  // Labels: out of range, not an integer, row counts that differ, ids that are missing.
  write("neg_label.csv", "id,segment\n0,0\n1,-1\n2,1\n");
  expect_error(data + " --labels '" + path("neg_label.csv") + "' --target y --features x1",
               "out of range");
  write("good.csv", "x1,y\n1,2\n2,3\n3,5\n");
  write("run3/model.json", "");
  fs::create_directories(dir_ / "run3");
  write("run3/model.json", "{\"k\": 2}");
  write("run3/labels.csv", "id,segment\n0,0\n1,2\n2,1\n");
  expect_error("'" + path("good.csv") + "' --labels '" + path("run3/labels.csv") +
                   "' --target y --features x1",
               "segment 2 is out of range [0, 2)");
  write("text_label.csv", "id,segment\n0,0\n1,one\n2,1\n");
  expect_error("'" + path("good.csv") + "' --labels '" + path("text_label.csv") +
                   "' --target y --features x1",
               "not an integer");
  write("two.csv", "id,segment\n0,0\n1,0\n");
  expect_error(
      "'" + path("good.csv") + "' --labels '" + path("two.csv") + "' --target y --features x1",
      "has 2 rows but");
  write("ids.csv", "id,segment\nc0,0\nc1,1\n");
  expect_error(data + " --labels '" + path("ids.csv") + "' --target y --features x1 --id-column id",
               "id 'c2' has no row in");
  write("dup.csv", "id,segment\nc0,0\nc0,1\n");
  expect_error(data + " --labels '" + path("dup.csv") + "' --target y --features x1 --id-column id",
               "duplicate id 'c0'");
  write("nosegment.csv", "id,cluster\n0,0\n1,0\n2,1\n");
  expect_error("'" + path("good.csv") + "' --labels '" + path("nosegment.csv") +
                   "' --target y --features x1",
               "no 'segment' column");
  expect_error(
      "'" + path("good.csv") + "' --labels '" + path("missing.csv") + "' --target y --features x1",
      "missing.csv");
}

}  // namespace
}  // namespace segcore
