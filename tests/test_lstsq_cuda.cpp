// Tests for the CUDA path of segcore::lstsq_batched: the same batch on the GPU and on the CPU
// (and against long-double references), the choice of device, and `segcore lstsq --device cuda`.
// Every GPU test skips itself where no CUDA device answers; in a CPU-only build the device
// choice is still checked (NotCompiled).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "lstsq_reference.hpp"
#include "parallel.hpp"
#include "segcore/device.hpp"
#include "segcore/error.hpp"
#include "segcore/lstsq.hpp"
#include "segcore/trends.hpp"

#if defined(SEGCORE_WITH_CUDA)
#include "cuda/cuda_lstsq.hpp"
#endif

namespace segcore {
namespace {

using namespace lstsq_test;  // NOLINT: LD, kEps, normal, ref_solve, rel_error, ...

#define SKIP_WITHOUT_GPU()                                             \
  if (!segcore::cuda_compiled() || segcore::cuda_devices().empty())    \
  GTEST_SKIP() << (segcore::cuda_compiled() ? "no CUDA device answers" \
                                            : "built without CUDA (SEGCORE_CUDA=OFF)")

// A batch under construction: rows are given in double and stored as T.
template <typename T>
struct Batch {
  std::size_t p = 0;
  bool weighted = false;
  std::vector<T> a, b, w;
  std::vector<std::int64_t> off{0};

  explicit Batch(std::size_t cols, bool with_weights = false) : p(cols), weighted(with_weights) {}
  void row(const std::vector<double>& x, double y, double weight = 1.0) {
    for (std::size_t j = 0; j < p; ++j) a.push_back(static_cast<T>(x[j]));
    b.push_back(static_cast<T>(y));
    w.push_back(static_cast<T>(weight));
  }
  void end_problem() { off.push_back(static_cast<std::int64_t>(b.size())); }
  std::size_t problems() const { return off.size() - 1; }
  LstsqBatch<T> view() const {
    return {
        {a.data(), b.size(), p}, b.data(), weighted ? w.data() : nullptr, off.data(), problems()};
  }
  // sum_k w_k b_k^2 of problem i: the scale of its rss.
  double bb(std::size_t i) const {
    double s = 0;
    for (auto k = off[i]; k < off[i + 1]; ++k) {
      const double wk = weighted ? static_cast<double>(w[k]) : 1.0;
      s += wk * static_cast<double>(b[k]) * static_cast<double>(b[k]);
    }
    return s;
  }
};

template <typename T>
LstsqResult solve_on(const Batch<T>& batch, Device device, LstsqParams params = {}) {
  params.device = device;
  return lstsq_batched(batch.view(), params);
}

double coef_rel_diff(const LstsqResult& x, const LstsqResult& y, std::size_t i) {
  double num = 0, den = 0;
  for (std::size_t j = 0; j < x.p; ++j) {
    const double d = x.coef[i * x.p + j] - y.coef[i * y.p + j];
    num += d * d;
    den += y.coef[i * y.p + j] * y.coef[i * y.p + j];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

bool same_bits(double x, double y) { return std::memcmp(&x, &y, sizeof x) == 0; }

// GPU result `g` against the CPU result `c` of the same batch: the same status and rank for every
// problem; coefficients within `tol` (relative, norm-wise) where the status is ok; bitwise the
// CPU's answer where it is not (those problems are finished by the CPU's own QR code); rss and
// r2 consistent with the coefficients.
template <typename T>
void expect_matches_cpu(const LstsqResult& g, const LstsqResult& c, const Batch<T>& batch,
                        double tol, const std::string& what) {
  ASSERT_EQ(g.problems, c.problems) << what;
  ASSERT_EQ(g.p, c.p) << what;
  const double nan_tol = 1e-10;
  for (std::size_t i = 0; i < c.problems; ++i) {
    const std::string at = what + ", problem " + std::to_string(i) + " (" +
                           std::to_string(batch.off[i + 1] - batch.off[i]) + " rows)";
    ASSERT_EQ(g.status[i], c.status[i]) << at;
    EXPECT_EQ(g.rank[i], c.rank[i]) << at;
    if (c.status[i] == LstsqStatus::kNonFinite) {
      for (std::size_t j = 0; j < c.p; ++j) EXPECT_TRUE(std::isnan(g.coef[i * c.p + j])) << at;
      EXPECT_TRUE(std::isnan(g.rss[i]) && std::isnan(g.r2[i])) << at;
    } else if (c.status[i] != LstsqStatus::kOk) {
      for (std::size_t j = 0; j < c.p; ++j)
        EXPECT_TRUE(same_bits(g.coef[i * c.p + j], c.coef[i * c.p + j]))
            << at << " coef " << j << ": " << g.coef[i * c.p + j] << " vs " << c.coef[i * c.p + j];
      EXPECT_TRUE(same_bits(g.rss[i], c.rss[i])) << at;
      EXPECT_TRUE(same_bits(g.r2[i], c.r2[i]) || (std::isnan(g.r2[i]) && std::isnan(c.r2[i])))
          << at;
    } else {
      EXPECT_LE(coef_rel_diff(g, c, i), tol) << at;
      const double scale = batch.bb(i) + std::numeric_limits<double>::min();
      EXPECT_NEAR(g.rss[i], c.rss[i], nan_tol * scale) << at;
      if (std::isnan(c.r2[i]))
        EXPECT_TRUE(std::isnan(g.r2[i])) << at;
      else
        EXPECT_NEAR(g.r2[i], c.r2[i], 1e-9) << at;
    }
  }
}

// ---- the device choice, with or without CUDA ----

TEST(LstsqCuda, CpuOnlyBuildThrowsNotCompiled) {
  if (cuda_compiled()) GTEST_SKIP() << "this build has CUDA";
  Batch<double> batch(2);
  batch.row({1, 0}, 1);
  batch.row({1, 1}, 2);
  batch.end_problem();
  try {
    solve_on(batch, Device::kCuda);
    ADD_FAILURE() << "kCuda accepted in a CPU-only build";
  } catch (const NotCompiled& e) {
    EXPECT_NE(std::string(e.what()).find("SEGCORE_CUDA=OFF"), std::string::npos) << e.what();
  }
  const LstsqResult r = solve_on(batch, Device::kAuto);
  EXPECT_EQ(r.backend.rfind("cpu (", 0), 0u) << r.backend;
  EXPECT_NEAR(r.coef[1], 1.0, 1e-14);
}

TEST(LstsqCuda, NoDeviceThrowsCudaErrorAndAutoUsesTheCpu) {
  if (!cuda_compiled()) GTEST_SKIP() << "built without CUDA";
  if (!cuda_devices().empty()) GTEST_SKIP() << "a CUDA device answers";
  Batch<double> batch(1);
  batch.row({2}, 4);
  batch.end_problem();
  try {
    solve_on(batch, Device::kCuda);
    ADD_FAILURE() << "kCuda accepted without a device";
  } catch (const CudaError& e) {
    EXPECT_NE(std::string(e.what()).find("no CUDA device"), std::string::npos) << e.what();
  }
  const LstsqResult r = solve_on(batch, Device::kAuto);
  EXPECT_EQ(r.backend.rfind("cpu (", 0), 0u) << r.backend;
  EXPECT_EQ(r.coef[0], 2.0);
}

TEST(LstsqCuda, CpuIsTheLibraryDefault) {
  EXPECT_EQ(LstsqParams{}.device, Device::kCpu);
  Batch<float> batch(1);
  batch.row({1}, 3);
  batch.end_problem();
  const LstsqResult r = lstsq_batched(batch.view());
  EXPECT_EQ(r.backend.rfind("cpu (", 0), 0u) << r.backend;
}

// ---- the GPU against the CPU ----

TEST(LstsqCuda, AutoRunsOnTheDevice) {
  SKIP_WITHOUT_GPU();
  Batch<double> batch(2);
  for (int k = 0; k < 5; ++k) batch.row({1.0, static_cast<double>(k)}, 3.0 - 0.5 * k);
  batch.end_problem();
  const LstsqResult r = solve_on(batch, Device::kAuto);
  EXPECT_EQ(r.backend.rfind("cuda (", 0), 0u) << r.backend;
  EXPECT_EQ(r.status[0], LstsqStatus::kOk);
  EXPECT_NEAR(r.coef[0], 3.0, 1e-14);
  EXPECT_NEAR(r.coef[1], -0.5, 1e-14);
  EXPECT_EQ(r.qr_problems, 0u);
}

// Uniform m = 3p + 5 (every problem of a warp in one stage), p = 1..16, float and double, with
// and without weights.
template <typename T>
void well_conditioned(bool weighted) {
  detail::Rng rng(weighted ? 21 : 20);
  for (std::size_t p = 1; p <= kLstsqMaxColumns; ++p) {
    Batch<T> batch(p, weighted);
    const std::size_t m = 3 * p + 5;
    for (std::size_t i = 0; i < 300; ++i) {
      for (std::size_t k = 0; k < m; ++k) {
        std::vector<double> x(p);
        for (auto& v : x) v = normal(rng);
        batch.row(x, normal(rng), 0.25 + rng.uniform());
      }
      batch.end_problem();
    }
    const LstsqResult g = solve_on(batch, Device::kCuda), c = solve_on(batch, Device::kCpu);
    EXPECT_EQ(g.backend.rfind("cuda (", 0), 0u) << g.backend;
    expect_matches_cpu(g, c, batch, 1e-12,
                       std::string(sizeof(T) == 4 ? "float" : "double") +
                           (weighted ? " weighted" : "") + " p=" + std::to_string(p));
    for (std::size_t i = 0; i < batch.problems(); ++i)
      EXPECT_EQ(g.status[i], LstsqStatus::kOk) << "p=" << p << " problem " << i;
  }
}

TEST(LstsqCuda, WellConditionedMatchesCpuDouble) {
  SKIP_WITHOUT_GPU();
  well_conditioned<double>(false);
  well_conditioned<double>(true);
}

TEST(LstsqCuda, WellConditionedMatchesCpuFloat) {
  SKIP_WITHOUT_GPU();
  well_conditioned<float>(false);
  well_conditioned<float>(true);
}

TEST(LstsqCuda, IllConditionedWithinQrAccuracy) {
  SKIP_WITHOUT_GPU();
  detail::Rng rng(22);
  for (const std::size_t p : {2u, 5u, 8u, 16u}) {
    Batch<double> batch(p);
    std::vector<double> conds;
    for (const double cond : {1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8}) {
      for (int rep = 0; rep < 3; ++rep) {
        const std::size_t m = p + 10 + 7 * rep;
        const std::vector<double> a = conditioned_matrix(m, p, cond, rng);
        std::vector<LD> x_true(p);
        for (auto& v : x_true) v = normal(rng);
        for (std::size_t i = 0; i < m; ++i) {
          LD bi = 0;
          for (std::size_t j = 0; j < p; ++j) bi += a[i * p + j] * x_true[j];
          batch.row(std::vector<double>(a.begin() + i * p, a.begin() + (i + 1) * p),
                    static_cast<double>(bi));
        }
        batch.end_problem();
        conds.push_back(cond);
      }
    }
    const LstsqResult g = solve_on(batch, Device::kCuda), c = solve_on(batch, Device::kCpu);
    EXPECT_GT(g.qr_problems, 0u) << "p=" << p;
    for (std::size_t i = 0; i < batch.problems(); ++i) {
      const auto lo = static_cast<std::size_t>(batch.off[i]);
      const auto m = static_cast<std::size_t>(batch.off[i + 1]) - lo;
      const auto ref = ref_solve(batch.a.data() + lo * p, batch.b.data() + lo, nullptr, m, p);
      EXPECT_LE(rel_error(g.coef.data() + i * p, ref), 1000 * conds[i] * kEps)
          << "p=" << p << " cond=" << conds[i];
      EXPECT_LE(coef_rel_diff(g, c, i), 2000 * conds[i] * kEps)
          << "p=" << p << " cond=" << conds[i];
      EXPECT_EQ(g.status[i], LstsqStatus::kOk) << "p=" << p << " cond=" << conds[i];
      EXPECT_EQ(g.rank[i], static_cast<int>(p));
    }
  }
}

// Rank-deficient, too-few-rows and empty problems go back to the CPU's QR code: the same
// statuses and ranks, and the CPU's answer to the bit.
TEST(LstsqCuda, RankDeficientFlaggedAsOnCpu) {
  SKIP_WITHOUT_GPU();
  detail::Rng rng(23);
  for (const std::size_t p : {1u, 3u, 7u, 16u}) {
    for (const bool weighted : {false, true}) {
      Batch<double> batch(p, weighted);
      for (int kind = 0; kind < 7; ++kind) {
        for (int rep = 0; rep < 5; ++rep) {
          std::size_t m = 2 * p + 6;
          if (kind == 3) m = p > 1 ? p - 1 : 0;  // too few rows
          if (kind == 4) m = 0;                  // empty
          if (kind == 5) m = 1;                  // one row
          for (std::size_t k = 0; k < m; ++k) {
            std::vector<double> x(p);
            for (auto& v : x) v = std::round(normal(rng) * 8);
            if (kind == 0 && p > 1) x[p - 1] = x[0];          // duplicate column
            if (kind == 1) x[p - 1] = 0;                      // zero column
            if (kind == 2 && p > 1) x[p - 1] = 3 * x[p - 2];  // dependent column
            if (kind == 6) x.assign(p, 1.0);                  // all columns equal
            batch.row(x, normal(rng), weighted ? 1.0 + (k % 3) : 1.0);
          }
          batch.end_problem();
        }
      }
      // Well-conditioned problems in between, solved on the device (tall enough that no guard
      // decision is a close call, so that qr_problems must agree).
      for (int rep = 0; rep < 40; ++rep) {
        for (std::size_t k = 0; k < 6 * p + 10; ++k) {
          std::vector<double> x(p);
          for (auto& v : x) v = normal(rng);
          batch.row(x, normal(rng), weighted ? 0.5 + rng.uniform() : 1.0);
        }
        batch.end_problem();
      }
      const std::string what = "p=" + std::to_string(p) + (weighted ? " weighted" : "");
      const LstsqResult g = solve_on(batch, Device::kCuda), c = solve_on(batch, Device::kCpu);
      expect_matches_cpu(g, c, batch, 1e-12, what);
      EXPECT_EQ(g.qr_problems, c.qr_problems) << what;
      std::size_t not_ok = 0;
      for (const LstsqStatus s : g.status) not_ok += s != LstsqStatus::kOk ? 1 : 0;
      EXPECT_GT(not_ok, 0u) << what;
    }
  }
}

// Ragged m_i = 0 .. 100 in shuffled order, weights with zeros, float and double: many stages per
// warp for large p (p = 16 in double with weights stages 4 rows at a time).
template <typename T>
void ragged(std::size_t p, bool weighted, std::uint64_t seed) {
  detail::Rng rng(seed);
  std::vector<std::size_t> ms;
  for (std::size_t rep = 0; rep < 3; ++rep)
    for (std::size_t m = 0; m <= 100; ++m) ms.push_back(m);
  for (std::size_t i = ms.size(); i > 1; --i) std::swap(ms[i - 1], ms[rng.next() % i]);
  Batch<T> batch(p, weighted);
  for (const std::size_t m : ms) {
    for (std::size_t k = 0; k < m; ++k) {
      std::vector<double> x(p);
      for (auto& v : x) v = normal(rng);
      const double wk = rng.next() % 7 == 0 ? 0.0 : 0.5 + rng.uniform();
      batch.row(x, normal(rng) + 2.0, wk);
    }
    batch.end_problem();
  }
  const LstsqResult g = solve_on(batch, Device::kCuda), c = solve_on(batch, Device::kCpu);
  // Near m = p random problems reach cond ~100, where the normal equations lose ~1e4 eps.
  expect_matches_cpu(g, c, batch, 1e-10,
                     std::string(sizeof(T) == 4 ? "float" : "double") + " p=" + std::to_string(p) +
                         (weighted ? " weighted" : ""));
}

// The guard decides as on the CPU (see Lstsq.CholeskyGuardCountsTheUnitDiagonal): cond_1(L) is
// 90.25 for the first problem (solved on the device) and 110.25 for the second (handed back).
TEST(LstsqCuda, CholeskyGuardDecidesAsOnCpu) {
  SKIP_WITHOUT_GPU();
  Batch<double> batch(2);
  for (const double a : {8.5, 9.5}) {
    batch.row({1, a}, 1);
    batch.row({0, 1}, 2);
    batch.end_problem();
  }
  const LstsqResult c = solve_on(batch, Device::kCpu);
  const LstsqResult g = solve_on(batch, Device::kCuda);
  EXPECT_EQ(c.qr_problems, 1u);
  EXPECT_EQ(g.qr_problems, 1u);
  expect_matches_cpu(g, c, batch, 1e-13, "guard");
}

TEST(LstsqCuda, RaggedBatchesMatchCpu) {
  SKIP_WITHOUT_GPU();
  std::uint64_t seed = 30;
  for (const std::size_t p : {1u, 4u, 9u, 16u}) {
    for (const bool weighted : {false, true}) {
      ragged<double>(p, weighted, ++seed);
      ragged<float>(p, weighted, ++seed);
    }
  }
}

TEST(LstsqCuda, RidgeMatchesCpu) {
  SKIP_WITHOUT_GPU();
  detail::Rng rng(24);
  for (const int skip : {-1, 4}) {
    Batch<double> batch(5, true);
    for (const std::size_t m : {0u, 1u, 3u, 4u, 5u, 40u}) {
      for (int rep = 0; rep < 4; ++rep) {
        for (std::size_t i = 0; i < m; ++i) {
          std::vector<double> x(5);
          for (std::size_t j = 0; j < 4; ++j) x[j] = normal(rng) * 10;
          x[4] = 1;
          batch.row(x, normal(rng) + 5, 1.0 + static_cast<double>(i % 3));
        }
        batch.end_problem();
      }
    }
    LstsqParams params;
    params.ridge = 2.5;
    params.ridge_skip_column = skip;
    const LstsqResult g = solve_on(batch, Device::kCuda, params);
    const LstsqResult c = solve_on(batch, Device::kCpu, params);
    expect_matches_cpu(g, c, batch, 1e-12, "skip=" + std::to_string(skip));
    for (std::size_t i = 0; i < batch.problems(); ++i) {
      const auto lo = static_cast<std::size_t>(batch.off[i]);
      const auto m = static_cast<std::size_t>(batch.off[i + 1]) - lo;
      if (m == 0) continue;  // x = 0: no relative error to speak of
      const auto ref = ref_solve(batch.a.data() + lo * 5, batch.b.data() + lo, batch.w.data() + lo,
                                 m, 5, 2.5, skip);
      EXPECT_LT(rel_error(g.coef.data() + i * 5, ref), 1e-11) << "skip=" << skip << " m=" << m;
    }
  }
}

// Problems taller than the thread kernel takes get a warp each (and mix with short ones).
TEST(LstsqCuda, TallProblemsMatchCpu) {
  SKIP_WITHOUT_GPU();
  detail::Rng rng(25);
  for (const std::size_t p : {1u, 3u, 11u, 16u}) {
    for (const bool weighted : {false, true}) {
      Batch<float> batch(p, weighted);
      for (const std::size_t m : {513u, 20u, 2000u, 0u, 5000u, 511u, 512u, 64000u, 7u}) {
        for (std::size_t k = 0; k < m; ++k) {
          std::vector<double> x(p);
          for (auto& v : x) v = normal(rng);
          batch.row(x, normal(rng) + 1, 0.5 + rng.uniform());
        }
        batch.end_problem();
      }
      // A rank-deficient tall problem goes back to the CPU as well, and so does a tall one whose
      // weights are all 0 (too few rows).
      for (std::size_t k = 0; k < 3000; ++k) {
        std::vector<double> x(p, 1.0);
        batch.row(x, normal(rng), 1.0);
      }
      batch.end_problem();
      if (weighted) {
        for (std::size_t k = 0; k < 700; ++k) {
          std::vector<double> x(p);
          for (auto& v : x) v = normal(rng);
          batch.row(x, normal(rng), 0.0);
        }
        batch.end_problem();
      }
      const LstsqResult g = solve_on(batch, Device::kCuda), c = solve_on(batch, Device::kCpu);
      expect_matches_cpu(g, c, batch, 1e-11,
                         "p=" + std::to_string(p) + (weighted ? " weighted" : ""));
      if (weighted)
        EXPECT_EQ(g.status.back(), LstsqStatus::kTooFewRows);
      else
        EXPECT_EQ(g.status.back(), p > 1 ? LstsqStatus::kRankDeficient : LstsqStatus::kOk);
      // rcond given (not the default eps * max(m, p)): the guard limit min(100, 0.1 / rcond).
      LstsqParams rc;
      rc.rcond = 1e-3;
      const LstsqResult g2 = solve_on(batch, Device::kCuda, rc),
                        c2 = solve_on(batch, Device::kCpu, rc);
      expect_matches_cpu(g2, c2, batch, 1e-11, "rcond 1e-3, p=" + std::to_string(p));
    }
  }
}

TEST(LstsqCuda, NonFiniteFlaggedAsOnCpu) {
  SKIP_WITHOUT_GPU();
  const double nan = std::numeric_limits<double>::quiet_NaN(),
               inf = std::numeric_limits<double>::infinity();
  for (const std::size_t rows : {3u, 700u}) {  // thread kernel and warp kernel
    Batch<double> batch(2, true);
    // Six problems: clean, NaN in A, inf in b, NaN weight, inf weight, inf in A with weight 0.
    for (int q = 0; q < 6; ++q) {
      for (std::size_t k = 0; k < rows; ++k) {
        std::vector<double> x = {1.0, static_cast<double>(k % 3)};
        double y = 2.0 + static_cast<double>(k % 3), wk = 1.0;
        if (k == 1) {
          if (q == 1) x[1] = nan;
          if (q == 2) y = inf;
          if (q == 3) wk = nan;
          if (q == 4) wk = inf;
          if (q == 5) {
            x[0] = inf;
            wk = 0;
          }
        }
        batch.row(x, y, wk);
      }
      batch.end_problem();
    }
    const LstsqResult g = solve_on(batch, Device::kCuda), c = solve_on(batch, Device::kCpu);
    expect_matches_cpu(g, c, batch, 1e-13, "rows=" + std::to_string(rows));
    EXPECT_EQ(g.status[0], LstsqStatus::kOk);
    EXPECT_NEAR(g.coef[0], 2, 1e-13);
    EXPECT_NEAR(g.coef[1], 1, 1e-13);
    for (std::size_t i = 1; i < 6; ++i) EXPECT_EQ(g.status[i], LstsqStatus::kNonFinite) << i;
  }
}

TEST(LstsqCuda, TwoRunsAreBitwiseIdentical) {
  SKIP_WITHOUT_GPU();
  detail::Rng rng(26);
  const std::size_t p = 6, n = 20011;  // not a multiple of the 64 problems of a block
  Batch<float> batch(p, true);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t m = i % 997 == 0 ? 600 + i % 50 : 1 + rng.next() % 40;
    for (std::size_t k = 0; k < m; ++k) {
      std::vector<double> x(p);
      for (std::size_t j = 0; j < p; ++j)
        x[j] = j == 0 ? 1.0 : normal(rng) * (1 + static_cast<double>(i % 5) * 1e3);
      if (i % 11 == 0) x[p - 1] = x[1];  // rank-deficient now and then
      batch.row(x, normal(rng), 0.5 + rng.uniform());
    }
    batch.end_problem();
  }
  const LstsqResult r1 = solve_on(batch, Device::kCuda), r2 = solve_on(batch, Device::kCuda);
  EXPECT_EQ(0, std::memcmp(r1.coef.data(), r2.coef.data(), r1.coef.size() * sizeof(double)));
  EXPECT_EQ(0, std::memcmp(r1.rss.data(), r2.rss.data(), n * sizeof(double)));
  EXPECT_EQ(0, std::memcmp(r1.r2.data(), r2.r2.data(), n * sizeof(double)));
  EXPECT_EQ(r1.rank, r2.rank);
  EXPECT_EQ(r1.status, r2.status);
  EXPECT_EQ(r1.qr_problems, r2.qr_problems);
  EXPECT_GT(r1.qr_problems, 0u);
#if defined(SEGCORE_WITH_CUDA)
  // The resident session the benchmark uses: the kernels twice, then the same result.
  cuda::LstsqSession<float> session(batch.view(), LstsqParams{});
  EXPECT_GE(session.run_kernels(), 0.0f);
  EXPECT_GE(session.run_kernels(), 0.0f);
  const LstsqResult r3 = session.finish();
  EXPECT_EQ(0, std::memcmp(r1.coef.data(), r3.coef.data(), r1.coef.size() * sizeof(double)));
  EXPECT_EQ(r1.status, r3.status);
  EXPECT_EQ(r1.qr_problems, r3.qr_problems);
#endif
  const LstsqResult c = solve_on(batch, Device::kCpu);
  expect_matches_cpu(r1, c, batch, 1e-9, "n=20011");
}

// ---- trends: the per-customer fits on the device ----

TEST(LstsqCuda, TrendsOnTheDeviceMatchCpu) {
  SKIP_WITHOUT_GPU();
  // 700 customers over a year: some buy every week, some stop, some appear once; amounts with
  // a trend and noise, returns now and then.
  const std::string path = testing::TempDir() + "trends_cuda_" + std::to_string(getpid()) + ".csv";
  {
    detail::Rng rng(31);
    std::ofstream csv(path);
    csv << "customer,day,amount\n";
    for (int c = 0; c < 700; ++c) {
      const int first = static_cast<int>(rng.next() % 300), last = c % 7 == 0 ? first : 364;
      const double slope = normal(rng);
      for (int day = first; day <= last; day += 1 + static_cast<int>(rng.next() % 20)) {
        const int month = 1 + day / 31 > 12 ? 12 : 1 + day / 31, dom = 1 + day % 28;
        csv << "c" << c << ",2024-" << (month < 10 ? "0" : "") << month << '-'
            << (dom < 10 ? "0" : "") << dom << ',' << 50 + slope * day / 30 + 5 * normal(rng)
            << '\n';
      }
    }
  }
  for (const TrendPeriod period : {TrendPeriod::kMonth, TrendPeriod::kWeek})
    for (const int degree : {1, 2}) {
      TrendOptions o;
      o.customer_column = "customer";
      o.date_column = "day";
      o.amount_column = "amount";
      o.period = period;
      o.degree = degree;
      o.device = Device::kCpu;
      const TrendTable c = customer_trends(path, o);
      o.device = Device::kCuda;
      const TrendTable g = customer_trends(path, o);
      const std::string at = std::string(period == TrendPeriod::kWeek ? "week" : "month") +
                             " degree " + std::to_string(degree);
      EXPECT_EQ(c.backend.rfind("cpu", 0), 0u) << c.backend;
      EXPECT_EQ(g.backend.rfind("cuda (", 0), 0u) << g.backend;
      ASSERT_EQ(g.customer_ids, c.customer_ids) << at;
      EXPECT_EQ(g.periods, c.periods) << at;
      EXPECT_EQ(g.status, c.status) << at;
      for (std::size_t i = 0; i < c.customer_ids.size(); ++i) {
        const double scale = 1 + std::fabs(c.level[i]) + std::fabs(c.slope[i]);
        EXPECT_NEAR(g.level[i], c.level[i], 1e-9 * scale) << at << " customer " << i;
        EXPECT_NEAR(g.slope[i], c.slope[i], 1e-9 * scale) << at << " customer " << i;
        EXPECT_NEAR(g.curvature[i], c.curvature[i], 1e-9 * scale) << at << " customer " << i;
        if (std::isnan(c.r2[i])) {
          EXPECT_TRUE(std::isnan(g.r2[i])) << at << " customer " << i;
        } else {
          EXPECT_NEAR(g.r2[i], c.r2[i], 1e-9) << at << " customer " << i;
        }
      }
    }
  std::filesystem::remove(path);
}

// ---- the command ----

std::vector<std::vector<std::string>> read_rows(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(slurp(path));
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ls(line);
    std::string cell;
    while (std::getline(ls, cell, ',')) f.push_back(cell);
    rows.push_back(f);
  }
  return rows;
}

TEST(LstsqCuda, CommandRunsOnTheDevice) {
  SKIP_WITHOUT_GPU();
  const std::string cli = cli_path();
  if (cli.empty()) GTEST_SKIP() << "segcore binary not built next to the tests";
  const std::string dir = testing::TempDir() + "lstsq_cuda_cli_" + std::to_string(getpid()) + "/";
  std::filesystem::create_directories(dir);
  {
    detail::Rng rng(27);
    std::ofstream csv(dir + "in.csv");
    csv << "customer,y,x1,x2,w\n";
    for (int g = 0; g < 300; ++g)
      for (int k = 0; k < 2 + g % 9; ++k)
        csv << "c" << g << ',' << normal(rng) << ',' << normal(rng) << ',' << normal(rng) << ','
            << 0.5 + rng.uniform() << '\n';
  }
  const std::string args =
      " lstsq " + dir + "in.csv --group customer --target y --features x1,x2 --weight-column w";
  const int rc_gpu = std::system(
      (cli + args + " --device cuda --out " + dir + "gpu.csv > " + dir + "gpu.txt 2>&1").c_str());
  ASSERT_EQ(rc_gpu, 0) << slurp(dir + "gpu.txt");
  EXPECT_NE(slurp(dir + "gpu.txt").find("on cuda ("), std::string::npos) << slurp(dir + "gpu.txt");
  const int rc_cpu = std::system(
      (cli + args + " --device cpu --out " + dir + "cpu.csv > " + dir + "cpu.txt 2>&1").c_str());
  ASSERT_EQ(rc_cpu, 0) << slurp(dir + "cpu.txt");
  EXPECT_NE(slurp(dir + "cpu.txt").find("on cpu ("), std::string::npos) << slurp(dir + "cpu.txt");
  const auto g = read_rows(dir + "gpu.csv"), c = read_rows(dir + "cpu.csv");
  ASSERT_EQ(g.size(), c.size());
  ASSERT_EQ(g.size(), 301u);
  for (std::size_t i = 0; i < g.size(); ++i) {
    ASSERT_EQ(g[i].size(), c[i].size()) << i;
    for (std::size_t j = 0; j < g[i].size(); ++j) {
      if (i == 0 || j == 0 || j >= 6) {  // header, group, rank, status
        EXPECT_EQ(g[i][j], c[i][j]) << "row " << i << " column " << j;
        continue;
      }
      const double x = std::stod(g[i][j]), y = std::stod(c[i][j]);
      if (std::isnan(y)) {
        EXPECT_TRUE(std::isnan(x)) << "row " << i << " column " << j;
      } else {
        EXPECT_NEAR(x, y, 1e-9 * (1 + std::fabs(y))) << "row " << i << " column " << j;
      }
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace segcore
