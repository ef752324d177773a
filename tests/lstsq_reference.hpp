// Long-double references, test matrices and command-line helpers shared by the batched
// least-squares tests (test_lstsq.cpp for the CPU, test_lstsq_cuda.cpp for the GPU).
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "parallel.hpp"

namespace segcore::lstsq_test {

using LD = long double;
inline constexpr double kEps = 2.220446049250313e-16;

inline double normal(detail::Rng& rng) {
  const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

// min ||A x - b|| (A: m x p row-major, full column rank, m >= p) by Householder QR in long
// double: accurate to ~cond * 1e-19, far below the tolerances checked against it.
inline std::vector<LD> ref_qr_solve(std::vector<LD> a, std::vector<LD> b, std::size_t m,
                                    std::size_t p) {
  for (std::size_t k = 0; k < p; ++k) {
    LD norm = 0;
    for (std::size_t i = k; i < m; ++i) norm += a[i * p + k] * a[i * p + k];
    norm = std::sqrt(norm);
    if (norm == 0) continue;
    const LD alpha = a[k * p + k] > 0 ? -norm : norm;
    std::vector<LD> v(m - k);
    for (std::size_t i = k; i < m; ++i) v[i - k] = a[i * p + k];
    v[0] -= alpha;
    LD vv = 0;
    for (const LD e : v) vv += e * e;
    if (vv == 0) continue;
    for (std::size_t j = k; j < p; ++j) {
      LD s = 0;
      for (std::size_t i = k; i < m; ++i) s += v[i - k] * a[i * p + j];
      s = 2 * s / vv;
      for (std::size_t i = k; i < m; ++i) a[i * p + j] -= s * v[i - k];
    }
    LD s = 0;
    for (std::size_t i = k; i < m; ++i) s += v[i - k] * b[i];
    s = 2 * s / vv;
    for (std::size_t i = k; i < m; ++i) b[i] -= s * v[i - k];
  }
  std::vector<LD> x(p);
  for (std::size_t k = p; k-- > 0;) {
    LD s = b[k];
    for (std::size_t j = k + 1; j < p; ++j) s -= a[k * p + j] * x[j];
    x[k] = s / a[k * p + k];
  }
  return x;
}

// Minimum-norm solution of an underdetermined full-row-rank system (m < p): x = A^T (A A^T)^-1 b
// by Gaussian elimination in long double (well-conditioned random problems only).
inline std::vector<LD> ref_min_norm_wide(const std::vector<LD>& a, const std::vector<LD>& b,
                                         std::size_t m, std::size_t p) {
  std::vector<LD> g(m * m), y(b);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < m; ++j) {
      LD s = 0;
      for (std::size_t k = 0; k < p; ++k) s += a[i * p + k] * a[j * p + k];
      g[i * m + j] = s;
    }
  for (std::size_t k = 0; k < m; ++k) {
    std::size_t piv = k;
    for (std::size_t i = k + 1; i < m; ++i)
      if (std::fabs(g[i * m + k]) > std::fabs(g[piv * m + k])) piv = i;
    for (std::size_t j = 0; j < m; ++j) std::swap(g[k * m + j], g[piv * m + j]);
    std::swap(y[k], y[piv]);
    for (std::size_t i = k + 1; i < m; ++i) {
      const LD f = g[i * m + k] / g[k * m + k];
      for (std::size_t j = k; j < m; ++j) g[i * m + j] -= f * g[k * m + j];
      y[i] -= f * y[k];
    }
  }
  for (std::size_t k = m; k-- > 0;) {
    for (std::size_t j = k + 1; j < m; ++j) y[k] -= g[k * m + j] * y[j];
    y[k] /= g[k * m + k];
  }
  std::vector<LD> x(p, 0);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t k = 0; k < p; ++k) x[k] += a[i * p + k] * y[i];
  return x;
}

// Reference for one weighted ridge problem: the augmented system [sqrt(W) A; sqrt(l) I'].
inline std::vector<LD> ref_solve(const double* a, const double* b, const double* w, std::size_t m,
                                 std::size_t p, double ridge = 0, int skip = -1) {
  std::vector<LD> am, bm;
  for (std::size_t i = 0; i < m; ++i) {
    const LD s = w ? std::sqrt(static_cast<LD>(w[i])) : 1;
    for (std::size_t j = 0; j < p; ++j) am.push_back(s * a[i * p + j]);
    bm.push_back(s * b[i]);
  }
  std::size_t rows = m;
  if (ridge > 0) {
    for (std::size_t j = 0; j < p; ++j) {
      if (static_cast<int>(j) == skip) continue;
      for (std::size_t l = 0; l < p; ++l)
        am.push_back(l == j ? std::sqrt(static_cast<LD>(ridge)) : 0);
      bm.push_back(0);
      ++rows;
    }
  }
  if (rows < p) return ref_min_norm_wide(am, bm, rows, p);
  return ref_qr_solve(am, bm, rows, p);
}

inline double rel_error(const double* x, const std::vector<LD>& ref) {
  LD num = 0, den = 0;
  for (std::size_t j = 0; j < ref.size(); ++j) {
    num += (x[j] - ref[j]) * (x[j] - ref[j]);
    den += ref[j] * ref[j];
  }
  return static_cast<double>(std::sqrt(num / den));
}

// A random m x p matrix with orthonormal columns (modified Gram-Schmidt, twice, in long double).
inline std::vector<LD> orthonormal(std::size_t m, std::size_t p, detail::Rng& rng) {
  std::vector<LD> q(m * p);
  for (auto& v : q) v = normal(rng);
  for (std::size_t j = 0; j < p; ++j)
    for (int pass = 0; pass < 2; ++pass) {
      for (std::size_t k = 0; k < j; ++k) {
        LD d = 0;
        for (std::size_t i = 0; i < m; ++i) d += q[i * p + j] * q[i * p + k];
        for (std::size_t i = 0; i < m; ++i) q[i * p + j] -= d * q[i * p + k];
      }
      LD n = 0;
      for (std::size_t i = 0; i < m; ++i) n += q[i * p + j] * q[i * p + j];
      n = std::sqrt(n);
      for (std::size_t i = 0; i < m; ++i) q[i * p + j] /= n;
    }
  return q;
}

// A = U diag(s) V^T with singular values log-spaced from 1 to 1/cond, rounded to double.
inline std::vector<double> conditioned_matrix(std::size_t m, std::size_t p, double cond,
                                              detail::Rng& rng) {
  const std::vector<LD> u = orthonormal(m, p, rng), v = orthonormal(p, p, rng);
  std::vector<double> a(m * p);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < p; ++j) {
      LD s = 0;
      for (std::size_t k = 0; k < p; ++k) {
        const LD sk = p == 1 ? 1 : std::pow(static_cast<LD>(cond), -static_cast<LD>(k) / (p - 1));
        s += u[i * p + k] * sk * v[j * p + k];
      }
      a[i * p + j] = static_cast<double>(s);
    }
  return a;
}

/// The segcore binary, built next to the tests' folder; empty when it is not there.
inline std::string cli_path() {
  char buf[4096];
  const ssize_t len = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (len <= 0) return {};
  const std::filesystem::path exe(std::string(buf, static_cast<std::size_t>(len)));
  const std::filesystem::path cli = exe.parent_path().parent_path() / "segcore";
  return std::filesystem::exists(cli) ? cli.string() : std::string();
}

/// A whole file as a string.
inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace segcore::lstsq_test
