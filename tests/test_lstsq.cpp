// Tests for segcore::lstsq_batched against long-double references, and the `segcore lstsq`
// command end to end.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "cpu/isa.hpp"
#include "lstsq/lstsq_kernels.hpp"
#include "lstsq_reference.hpp"
#include "parallel.hpp"
#include "segcore/error.hpp"
#include "segcore/lstsq.hpp"

namespace segcore {
namespace {

using namespace lstsq_test;  // NOLINT: LD, kEps, normal, ref_solve, rel_error, ...

// One problem as a batch of one.
struct Single {
  std::vector<double> a, b, w;
  std::size_t m = 0, p = 0;
  LstsqResult solve(const LstsqParams& params = {}) const {
    const std::int64_t off[2] = {0, static_cast<std::int64_t>(m)};
    LstsqBatch<double> batch{{a.data(), m, p}, b.data(), w.empty() ? nullptr : w.data(), off, 1};
    return lstsq_batched(batch, params);
  }
};

TEST(Lstsq, RandomWellConditionedMatchesReference) {
  detail::Rng rng(1);
  for (std::size_t p = 1; p <= 16; ++p) {
    Single s;
    s.m = 3 * p + 5;
    s.p = p;
    for (std::size_t i = 0; i < s.m * p; ++i) s.a.push_back(normal(rng));
    for (std::size_t i = 0; i < s.m; ++i) s.b.push_back(normal(rng));
    const LstsqResult r = s.solve();
    const auto ref = ref_solve(s.a.data(), s.b.data(), nullptr, s.m, p);
    EXPECT_LT(rel_error(r.coef.data(), ref), 1e-12) << "p=" << p;
    EXPECT_EQ(r.status[0], LstsqStatus::kOk);
    EXPECT_EQ(r.rank[0], static_cast<int>(p));
    // rss and r2 from the reference coefficients.
    LD rss = 0, mean = 0, tss = 0;
    for (std::size_t i = 0; i < s.m; ++i) mean += s.b[i];
    mean /= s.m;
    for (std::size_t i = 0; i < s.m; ++i) {
      LD fit = 0;
      for (std::size_t j = 0; j < p; ++j) fit += s.a[i * p + j] * ref[j];
      rss += (s.b[i] - fit) * (s.b[i] - fit);
      tss += (s.b[i] - mean) * (s.b[i] - mean);
    }
    EXPECT_NEAR(r.rss[0], static_cast<double>(rss), 1e-12 * static_cast<double>(tss));
    EXPECT_NEAR(r.r2[0], static_cast<double>(1 - rss / tss), 1e-12);
  }
}

TEST(Lstsq, IllConditionedWithinQrAccuracy) {
  detail::Rng rng(2);
  std::size_t qr_used = 0;
  for (const std::size_t p : {2u, 5u, 8u, 16u}) {
    for (const double cond : {1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8}) {
      for (int rep = 0; rep < 3; ++rep) {
        Single s;
        s.p = p;
        s.m = p + 10 + 7 * rep;
        s.a = conditioned_matrix(s.m, p, cond, rng);
        std::vector<LD> x_true(p);
        for (auto& v : x_true) v = normal(rng);
        for (std::size_t i = 0; i < s.m; ++i) {
          LD bi = 0;
          for (std::size_t j = 0; j < p; ++j) bi += s.a[i * p + j] * x_true[j];
          s.b.push_back(static_cast<double>(bi));
        }
        const LstsqResult r = s.solve();
        const auto ref = ref_solve(s.a.data(), s.b.data(), nullptr, s.m, p);
        const double err = rel_error(r.coef.data(), ref);
        EXPECT_LE(err, 1000 * cond * kEps) << "p=" << p << " cond=" << cond << " rep=" << rep;
        EXPECT_EQ(r.status[0], LstsqStatus::kOk) << "p=" << p << " cond=" << cond;
        qr_used += r.qr_problems;
      }
    }
  }
  EXPECT_GT(qr_used, 0u);
}

TEST(Lstsq, DuplicateColumnGivesMinimumNorm) {
  detail::Rng rng(3);
  Single s;
  s.m = 20;
  s.p = 3;
  for (std::size_t i = 0; i < s.m; ++i) {
    const double x1 = std::round(normal(rng) * 8), x2 = std::round(normal(rng) * 8);
    s.a.insert(s.a.end(), {x1, x2, x1});
    s.b.push_back(3 * x1 - 2 * x2);
  }
  const LstsqResult r = s.solve();
  EXPECT_EQ(r.status[0], LstsqStatus::kRankDeficient);
  EXPECT_EQ(r.rank[0], 2);
  EXPECT_NEAR(r.coef[0], 1.5, 1e-12);
  EXPECT_NEAR(r.coef[1], -2.0, 1e-12);
  EXPECT_NEAR(r.coef[2], 1.5, 1e-12);
  EXPECT_NEAR(r.rss[0], 0.0, 1e-18 * 1e6);
}

TEST(Lstsq, ConstantColumnWithInterceptGivesMinimumNorm) {
  Single s;
  s.m = 12;
  s.p = 3;
  for (std::size_t i = 0; i < s.m; ++i) {
    const double x1 = static_cast<double>(i) * 0.5 - 2;
    s.a.insert(s.a.end(), {x1, 3.0, 1.0});
    s.b.push_back(2 + 0.5 * x1);
  }
  const LstsqResult r = s.solve();
  EXPECT_EQ(r.status[0], LstsqStatus::kRankDeficient);
  EXPECT_EQ(r.rank[0], 2);
  // 3 c1 + c2 = 2 with minimum c1^2 + c2^2: (c1, c2) = 2 (3, 1) / 10.
  EXPECT_NEAR(r.coef[0], 0.5, 1e-12);
  EXPECT_NEAR(r.coef[1], 0.6, 1e-12);
  EXPECT_NEAR(r.coef[2], 0.2, 1e-12);
  EXPECT_NEAR(r.r2[0], 1.0, 1e-12);
}

TEST(Lstsq, SingleRowAndEmptyProblemsAreTooFewRows) {
  // Problem 0: one row (1, 2, 2), b = 9: minimum norm x = a b / ||a||^2 = (1, 2, 2).
  // Problem 1: no rows at all.  Problem 2: a zero row.
  const std::vector<double> a = {1, 2, 2, 0, 0, 0};
  const std::vector<double> b = {9, 4};
  const std::int64_t off[4] = {0, 1, 1, 2};
  const LstsqResult r =
      lstsq_batched(LstsqBatch<double>{{a.data(), 2, 3}, b.data(), nullptr, off, 3});
  EXPECT_EQ(r.status[0], LstsqStatus::kTooFewRows);
  EXPECT_EQ(r.rank[0], 1);
  EXPECT_NEAR(r.coef[0], 1, 1e-14);
  EXPECT_NEAR(r.coef[1], 2, 1e-14);
  EXPECT_NEAR(r.coef[2], 2, 1e-14);
  EXPECT_NEAR(r.rss[0], 0, 1e-24);
  EXPECT_TRUE(std::isnan(r.r2[0]));
  for (std::size_t i = 1; i < 3; ++i) {
    EXPECT_EQ(r.status[i], LstsqStatus::kTooFewRows);
    EXPECT_EQ(r.rank[i], 0);
    for (std::size_t j = 0; j < 3; ++j) EXPECT_EQ(r.coef[i * 3 + j], 0.0);
  }
  EXPECT_EQ(r.rss[2], 16.0);
}

// The Cholesky guard is cond_1(L) <= 100 with L = U D^(1/2) including U's unit diagonal. For
// A = [1 a; 0 1], L = [1 0; a 1] and cond_1(L) = (1 + a)^2: 90.25 for a = 8.5 (Cholesky),
// 110.25 for a = 9.5 (QR). Leaving the diagonal out would give a (1 + a) = 99.75 for a = 9.5.
TEST(Lstsq, CholeskyGuardCountsTheUnitDiagonal) {
  for (const double a : {8.5, 9.5}) {
    const std::vector<double> rows = {1, a, 0, 1};
    const std::vector<double> b = {1, 2};
    const std::int64_t off[2] = {0, 2};
    const LstsqResult r =
        lstsq_batched(LstsqBatch<double>{{rows.data(), 2, 2}, b.data(), nullptr, off, 1});
    EXPECT_EQ(r.qr_problems, a > 9 ? 1u : 0u) << "a = " << a;
    EXPECT_EQ(r.status[0], LstsqStatus::kOk);
    EXPECT_NEAR(r.coef[0], 1 - 2 * a, 1e-12) << "a = " << a;
    EXPECT_NEAR(r.coef[1], 2, 1e-12) << "a = " << a;
  }
}

TEST(Lstsq, RaggedBatchMatchesReference) {
  detail::Rng rng(4);
  const std::size_t p = 4;
  std::vector<double> a, b, w;
  std::vector<std::int64_t> off{0};
  for (std::size_t m = 1; m <= 100; ++m) {
    for (std::size_t i = 0; i < m; ++i) {
      for (std::size_t j = 0; j < p; ++j) a.push_back(normal(rng));
      b.push_back(normal(rng));
      w.push_back(0.5 + rng.uniform());
    }
    off.push_back(static_cast<std::int64_t>(b.size()));
  }
  const LstsqResult r = lstsq_batched(
      LstsqBatch<double>{{a.data(), b.size(), p}, b.data(), w.data(), off.data(), 100});
  for (std::size_t i = 0; i < 100; ++i) {
    const std::size_t lo = off[i], m = off[i + 1] - off[i];
    const auto ref = ref_solve(a.data() + lo * p, b.data() + lo, w.data() + lo, m, p);
    EXPECT_LT(rel_error(r.coef.data() + i * p, ref), 1e-10) << "m=" << m;
    EXPECT_EQ(r.status[i], m < p ? LstsqStatus::kTooFewRows : LstsqStatus::kOk) << "m=" << m;
    EXPECT_EQ(r.rank[i], static_cast<int>(std::min(m, p)));
  }
}

TEST(Lstsq, IntegerWeightsEqualRepeatedRows) {
  detail::Rng rng(5);
  const std::size_t p = 3, m = 30;
  Single weighted, repeated;
  weighted.p = repeated.p = p;
  weighted.m = m;
  for (std::size_t i = 0; i < m; ++i) {
    const int wi = static_cast<int>(rng.next() % 4);  // 0..3, zeros drop the row
    std::vector<double> row(p);
    for (auto& v : row) v = normal(rng);
    const double bi = normal(rng);
    weighted.a.insert(weighted.a.end(), row.begin(), row.end());
    weighted.b.push_back(bi);
    weighted.w.push_back(wi);
    for (int k = 0; k < wi; ++k) {
      repeated.a.insert(repeated.a.end(), row.begin(), row.end());
      repeated.b.push_back(bi);
      ++repeated.m;
    }
  }
  const LstsqResult rw = weighted.solve(), rr = repeated.solve();
  for (std::size_t j = 0; j < p; ++j) EXPECT_NEAR(rw.coef[j], rr.coef[j], 1e-12);
  EXPECT_NEAR(rw.rss[0], rr.rss[0], 1e-11);
  EXPECT_NEAR(rw.r2[0], rr.r2[0], 1e-12);
}

TEST(Lstsq, RidgeMatchesAugmentedSystem) {
  detail::Rng rng(6);
  for (const int skip : {-1, 4}) {
    for (const std::size_t m : {3u, 40u}) {
      Single s;
      s.m = m;
      s.p = 5;
      for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < 4; ++j) s.a.push_back(normal(rng) * 10);
        s.a.push_back(1);
        s.b.push_back(normal(rng) + 5);
        s.w.push_back(1 + (i % 3));
      }
      LstsqParams params;
      params.ridge = 2.5;
      params.ridge_skip_column = skip;
      const LstsqResult r = s.solve(params);
      const auto ref = ref_solve(s.a.data(), s.b.data(), s.w.data(), m, 5, 2.5, skip);
      EXPECT_LT(rel_error(r.coef.data(), ref), 1e-12) << "skip=" << skip << " m=" << m;
      EXPECT_EQ(r.status[0], LstsqStatus::kOk);
      EXPECT_EQ(r.rank[0], 5);
    }
  }
}

TEST(Lstsq, Float32InputSolvedInDouble) {
  detail::Rng rng(7);
  const std::size_t p = 5, m = 24;
  for (const double cond : {1.0, 1e4}) {
    const std::vector<double> ad = conditioned_matrix(m, p, cond, rng);
    std::vector<float> af(ad.begin(), ad.end()), bf(m);
    for (auto& v : bf) v = static_cast<float>(normal(rng));
    const std::int64_t off[2] = {0, static_cast<std::int64_t>(m)};
    const LstsqResult r =
        lstsq_batched(LstsqBatch<float>{{af.data(), m, p}, bf.data(), nullptr, off, 1});
    const std::vector<double> a2(af.begin(), af.end()), b2(bf.begin(), bf.end());
    const auto ref = ref_solve(a2.data(), b2.data(), nullptr, m, p);
    // The float values are exact doubles, so the double-precision bound applies.
    EXPECT_LE(rel_error(r.coef.data(), ref), 1000 * cond * cond * kEps + 1e-13) << cond;
    EXPECT_EQ(r.status[0], LstsqStatus::kOk);
  }
}

TEST(Lstsq, SameResultForOneAndTwoThreads) {
  detail::Rng rng(8);
  const std::size_t p = 6, n = 3000;
  std::vector<double> a, b;
  std::vector<std::int64_t> off{0};
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t m = 1 + rng.next() % 30;
    for (std::size_t k = 0; k < m; ++k) {
      for (std::size_t j = 0; j < p; ++j)
        a.push_back(j == 0 ? 1.0 : normal(rng) * (1 + (i % 5) * 1e3));
      b.push_back(normal(rng));
    }
    off.push_back(static_cast<std::int64_t>(b.size()));
  }
  const LstsqBatch<double> batch{{a.data(), b.size(), p}, b.data(), nullptr, off.data(), n};
  LstsqParams p1, p2;
  p1.threads = 1;
  p2.threads = 2;
  const LstsqResult r1 = lstsq_batched(batch, p1), r2 = lstsq_batched(batch, p2);
  EXPECT_EQ(0, std::memcmp(r1.coef.data(), r2.coef.data(), r1.coef.size() * sizeof(double)));
  EXPECT_EQ(0, std::memcmp(r1.rss.data(), r2.rss.data(), n * sizeof(double)));
  EXPECT_EQ(r1.rank, r2.rank);
  EXPECT_EQ(r1.status, r2.status);
  EXPECT_EQ(r1.qr_problems, r2.qr_problems);
}

// The kernel is compiled for baseline x86-64 and for AVX2+FMA: both must agree (FMA contraction
// moves the last bits only), for every p and for problems on both the Cholesky and the QR path.
TEST(Lstsq, BaselineAndAvx2KernelsAgree) {
  if (!cpu::has_avx2_fma()) GTEST_SKIP() << "no AVX2+FMA on this processor";
  detail::Rng rng(11);
  for (std::size_t p = 1; p <= kLstsqMaxColumns; ++p) {
    std::vector<float> a, b, w;
    std::vector<std::int64_t> off{0};
    for (std::size_t i = 0; i < 200; ++i) {
      const std::size_t m = 1 + rng.next() % (3 * p + 4);
      for (std::size_t k = 0; k < m; ++k) {
        for (std::size_t j = 0; j < p; ++j) {
          // Every third problem is rank deficient: its last column repeats the one before
          // (or is zero when p = 1).
          const bool repeat = i % 3 == 0 && j + 1 == p;
          a.push_back(repeat ? (p > 1 ? a.back() : 0.0f) : static_cast<float>(normal(rng)));
        }
        b.push_back(static_cast<float>(normal(rng)));
        w.push_back(static_cast<float>(0.5 + rng.uniform()));
      }
      off.push_back(static_cast<std::int64_t>(b.size()));
    }
    const LstsqBatch<float> batch{{a.data(), b.size(), p}, b.data(), w.data(), off.data(), 200};
    LstsqResult r1, r2;
    for (LstsqResult* r : {&r1, &r2}) {
      r->problems = 200;
      r->p = p;
      r->coef.resize(200 * p);
      r->rss.resize(200);
      r->r2.resize(200);
      r->rank.resize(200);
      r->status.resize(200);
    }
    const lstsq_detail::Config cfg;
    const std::size_t qr1 = lstsq_detail::base::solve_range(batch, cfg, 0, 200, r1);
    const std::size_t qr2 = lstsq_detail::avx2::solve_range(batch, cfg, 0, 200, r2);
    EXPECT_EQ(qr1, qr2) << "p=" << p;
    EXPECT_GT(qr1, 0u) << "p=" << p;
    EXPECT_EQ(r1.status, r2.status) << "p=" << p;
    EXPECT_EQ(r1.rank, r2.rank) << "p=" << p;
    for (std::size_t i = 0; i < 200; ++i) {
      if (r1.status[i] != LstsqStatus::kOk) continue;
      double num = 0, den = 0;
      for (std::size_t j = 0; j < p; ++j) {
        const double d = r1.coef[i * p + j] - r2.coef[i * p + j];
        num += d * d;
        den += r1.coef[i * p + j] * r1.coef[i * p + j];
      }
      EXPECT_LE(std::sqrt(num / den), 1e-10) << "p=" << p << " problem " << i;
    }
  }
}

TEST(Lstsq, NonFiniteInputIsFlagged) {
  const double nan = std::numeric_limits<double>::quiet_NaN(),
               inf = std::numeric_limits<double>::infinity();
  // Four problems of 3 rows x 2 columns: clean, NaN in A, inf in b, NaN weight.
  std::vector<double> a(24), b(12), w(12, 1.0);
  for (std::size_t i = 0; i < 12; ++i) {
    a[2 * i] = 1;
    a[2 * i + 1] = static_cast<double>(i % 3);
    b[i] = 2 + static_cast<double>(i % 3);
  }
  a[2 * 4 + 1] = nan;
  b[7] = inf;
  w[10] = nan;
  const std::int64_t off[5] = {0, 3, 6, 9, 12};
  const LstsqResult r =
      lstsq_batched(LstsqBatch<double>{{a.data(), 12, 2}, b.data(), w.data(), off, 4});
  EXPECT_EQ(r.status[0], LstsqStatus::kOk);
  EXPECT_NEAR(r.coef[0], 2, 1e-14);
  EXPECT_NEAR(r.coef[1], 1, 1e-14);
  for (std::size_t i = 1; i < 4; ++i) {
    EXPECT_EQ(r.status[i], LstsqStatus::kNonFinite);
    EXPECT_TRUE(std::isnan(r.coef[2 * i]) && std::isnan(r.coef[2 * i + 1]));
    EXPECT_TRUE(std::isnan(r.rss[i]));
  }
}

TEST(Lstsq, ConstantTargetHasNanR2) {
  Single s;
  s.m = 5;
  s.p = 2;
  for (std::size_t i = 0; i < s.m; ++i) {
    s.a.insert(s.a.end(), {1.0, static_cast<double>(i)});
    s.b.push_back(0.1);
    s.w.push_back(1.0 + i);
  }
  const LstsqResult r = s.solve();
  EXPECT_TRUE(std::isnan(r.r2[0]));
  EXPECT_NEAR(r.coef[0], 0.1, 1e-15);
}

// The result arrays are faulted in by all threads before the serial zero fill: the values and
// sizes must be what a plain resize gives, existing elements kept, small sizes included.
TEST(Lstsq, PrefaultedResizeIsAPlainResize) {
  for (std::size_t n : {std::size_t{0}, std::size_t{5}, std::size_t{3} << 20}) {
    std::vector<double> v = {1.5, -2.0};
    detail::resize_prefaulted(v, n + 2, 2);
    ASSERT_EQ(v.size(), n + 2);
    EXPECT_EQ(v[0], 1.5);
    EXPECT_EQ(v[1], -2.0);
    std::size_t nonzero = 0;
    for (std::size_t i = 2; i < v.size(); ++i) nonzero += v[i] != 0.0;
    EXPECT_EQ(nonzero, 0u) << n;
  }
  const LstsqResult r = lstsq_detail::sized_result(3000000, 5, 0);  // 120 MB of coefficients
  EXPECT_EQ(r.coef.size(), 15000000u);
  EXPECT_EQ(r.status.size(), 3000000u);
  EXPECT_EQ(r.rank.size(), 3000000u);
}

TEST(Lstsq, InvalidArgumentsThrow) {
  const std::vector<double> a(34, 1.0), b(2, 1.0), w = {1.0, -1.0};
  const std::int64_t off[2] = {0, 2}, bad_off[2] = {0, 3};
  EXPECT_THROW(lstsq_batched(LstsqBatch<double>{{a.data(), 2, 17}, b.data(), nullptr, off, 1}),
               InvalidArgument);
  EXPECT_THROW(lstsq_batched(LstsqBatch<double>{{a.data(), 2, 2}, b.data(), nullptr, bad_off, 1}),
               InvalidArgument);
  try {
    lstsq_batched(LstsqBatch<double>{{a.data(), 2, 2}, b.data(), w.data(), off, 1});
    ADD_FAILURE() << "negative weight accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("negative"), std::string::npos) << e.what();
  }
  LstsqParams params;
  params.ridge = -1;
  EXPECT_THROW(
      lstsq_batched(LstsqBatch<double>{{a.data(), 2, 2}, b.data(), nullptr, off, 1}, params),
      InvalidArgument);
  params.ridge = 0;
  params.ridge_skip_column = 2;
  EXPECT_THROW(
      lstsq_batched(LstsqBatch<double>{{a.data(), 2, 2}, b.data(), nullptr, off, 1}, params),
      InvalidArgument);
}

// ---- the command, end to end ----

struct CliRun {
  int status;
  std::string err;
};

CliRun run_cli(const std::string& args) {
  const std::string cli = cli_path();
  const std::string err_file =
      testing::TempDir() + "lstsq_cli_err_" + std::to_string(getpid()) + ".txt";
  const int rc = std::system((cli + " lstsq " + args + " 2> " + err_file + " > /dev/null").c_str());
  std::ifstream in(err_file);
  std::stringstream ss;
  ss << in.rdbuf();
  return {rc, ss.str()};
}

class LstsqCommand : public testing::Test {
 protected:
  void SetUp() override {
    if (cli_path().empty()) GTEST_SKIP() << "segcore binary not built next to the tests";
    dir_ = testing::TempDir() + "lstsq_cli_" + std::to_string(getpid()) + "/";
    std::filesystem::create_directories(dir_);
    // Groups interleaved: "b" appears first. a: y = 1 + 2 x1 - x2 exactly; b: y = 3 - x1 + 0.5 x2;
    // c: one row (too few rows for 3 coefficients).
    std::ofstream(dir_ + "in.csv") << "customer,y,x1,x2,w\n"
                                      "b,3,0,0,1\n"
                                      "a,1,0,0,1\n"
                                      "a,3,1,0,2\n"
                                      "b,2,1,0,1\n"
                                      "a,0,0,1,1\n"
                                      "b,3.5,0,1,3\n"
                                      "c,7,1,1,1\n"
                                      "a,2,1,1,1\n"
                                      "b,2.5,1,1,1\n";
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::string dir_;
};

TEST_F(LstsqCommand, WritesOneRowPerGroupInFirstAppearanceOrder) {
  const CliRun r = run_cli(
      dir_ + "in.csv --group customer --target y --features x1,x2 --weight-column w --out " + dir_ +
      "out.csv");
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream out(slurp(dir_ + "out.csv"));
  std::string line;
  std::getline(out, line);
  EXPECT_EQ(line, "customer,x1,x2,intercept,rss,r2,rank,status");
  std::vector<std::vector<std::string>> rows;
  while (std::getline(out, line)) {
    std::vector<std::string> f;
    std::stringstream ls(line);
    std::string cell;
    while (std::getline(ls, cell, ',')) f.push_back(cell);
    rows.push_back(f);
  }
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0][0], "b");
  EXPECT_EQ(rows[1][0], "a");
  EXPECT_EQ(rows[2][0], "c");
  EXPECT_NEAR(std::stod(rows[0][1]), -1, 1e-12);
  EXPECT_NEAR(std::stod(rows[0][2]), 0.5, 1e-12);
  EXPECT_NEAR(std::stod(rows[0][3]), 3, 1e-12);
  EXPECT_EQ(rows[0][7], "ok");
  EXPECT_NEAR(std::stod(rows[1][1]), 2, 1e-12);
  EXPECT_NEAR(std::stod(rows[1][2]), -1, 1e-12);
  EXPECT_NEAR(std::stod(rows[1][3]), 1, 1e-12);
  EXPECT_EQ(rows[1][6], "3");
  EXPECT_EQ(rows[2][6], "1");
  EXPECT_EQ(rows[2][7], "too-few-rows");
}

TEST_F(LstsqCommand, NoInterceptDropsTheColumn) {
  const CliRun r =
      run_cli(dir_ + "in.csv --group customer --target y --features x1 --no-intercept --out " +
              dir_ + "o.csv");
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream out(slurp(dir_ + "o.csv"));
  std::string line;
  std::getline(out, line);
  EXPECT_EQ(line, "customer,x1,rss,r2,rank,status");
}

TEST_F(LstsqCommand, BadInputFailsWithoutOutput) {
  std::ofstream(dir_ + "bad.csv") << "customer,y,x1\nA,1,2\nA,zz,3\n";
  std::ofstream(dir_ + "negw.csv") << "customer,y,x1,w\nA,1,2,1\nA,2,3,-1\n";
  std::string many = "customer,y";
  std::string names;
  for (int j = 0; j < 16; ++j) {
    many += ",f" + std::to_string(j);
    names += (j ? ",f" : "f") + std::to_string(j);
  }
  std::ofstream(dir_ + "wide.csv") << many << "\n";
  struct Case {
    std::string args, expect;
  };
  const std::string out = " --out " + dir_ + "never.csv";
  const std::vector<Case> cases = {
      {dir_ + "in.csv --group customer --target y --features x1,nope" + out, "nope"},
      {dir_ + "in.csv --group cust --target y --features x1" + out, "cust"},
      {dir_ + "bad.csv --group customer --target y --features x1" + out, "row 2"},
      {dir_ + "negw.csv --group customer --target y --features x1 --weight-column w" + out,
       "negative"},
      {dir_ + "wide.csv --group customer --target y --features " + names + out, "16"},
      {dir_ + "in.csv --group customer --target y --features x1 --ridge -1" + out, "ridge"},
      {dir_ + "missing.csv --group customer --target y --features x1" + out, "missing.csv"},
  };
  // --device cuda fails only where no CUDA device answers (test_lstsq_cuda runs it on one).
  std::vector<Case> all = cases;
  if (!cuda_compiled() || cuda_devices().empty())
    all.push_back(
        {dir_ + "in.csv --group customer --target y --features x1 --device cuda" + out, "CUDA"});
  for (const Case& c : all) {
    const CliRun r = run_cli(c.args);
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir_ + "never.csv")) << c.args;
  }
}

}  // namespace
}  // namespace segcore
