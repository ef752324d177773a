// K-means driver and CPU backend: hand-checked toys, an independent naive float64 Lloyd,
// invariances (threads, weights, precision) and every invalid argument.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "segcore/backend.hpp"
#include "segcore/error.hpp"
#include "segcore/kmeans.hpp"

namespace segcore {
namespace {

// Gaussian blobs: `centers` clusters of `per` points in d dimensions.
std::vector<double> blobs(std::size_t centers, std::size_t per, std::size_t d, double spread,
                          unsigned seed, std::vector<int>* truth = nullptr) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> noise(0.0, spread);
  std::uniform_real_distribution<double> where(-10.0, 10.0);
  std::vector<double> mu(centers * d);
  for (auto& m : mu) m = where(gen);
  std::vector<double> x;
  for (std::size_t i = 0; i < centers * per; ++i) {
    const std::size_t c = i % centers;
    for (std::size_t f = 0; f < d; ++f) x.push_back(mu[c * d + f] + noise(gen));
    if (truth) truth->push_back(static_cast<int>(c));
  }
  return x;
}

// Rows `idx` of x, as an explicit init.
std::vector<double> rows_of(const std::vector<double>& x, std::size_t d,
                            const std::vector<std::size_t>& idx) {
  std::vector<double> out;
  for (std::size_t i : idx) out.insert(out.end(), x.begin() + i * d, x.begin() + (i + 1) * d);
  return out;
}

// An independent, deliberately plain float64 Lloyd with scikit-learn's rules (centring,
// tolerance on the mean variance, strict convergence, relocation of empty clusters to the
// farthest points, final reassignment).
struct Naive {
  std::vector<double> centers;
  std::vector<int> labels;
  double inertia = 0;
  int n_iter = 0;
};

Naive naive_lloyd(const std::vector<double>& x0, const std::vector<double>& w, std::size_t d,
                  const std::vector<double>& init0, int max_iter, double tol) {
  const std::size_t n = x0.size() / d, k = init0.size() / d;
  auto W = [&](std::size_t i) { return w.empty() ? 1.0 : w[i]; };
  std::vector<double> mean(d, 0.0), var(d, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t f = 0; f < d; ++f) mean[f] += x0[i * d + f];
  for (auto& m : mean) m /= static_cast<double>(n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t f = 0; f < d; ++f) var[f] += std::pow(x0[i * d + f] - mean[f], 2);
  double tol_abs = 0;
  for (auto v : var) tol_abs += v / static_cast<double>(n);
  tol_abs = tol_abs / static_cast<double>(d) * tol;
  std::vector<double> x = x0, c = init0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t f = 0; f < d; ++f) x[i * d + f] -= mean[f];
  for (std::size_t j = 0; j < k; ++j)
    for (std::size_t f = 0; f < d; ++f) c[j * d + f] -= mean[f];
  auto dist = [&](std::size_t i, const std::vector<double>& cc, std::size_t j) {
    double s = 0;
    for (std::size_t f = 0; f < d; ++f) s += std::pow(x[i * d + f] - cc[j * d + f], 2);
    return s;
  };
  auto assign = [&](const std::vector<double>& cc, std::vector<int>& lab) {
    for (std::size_t i = 0; i < n; ++i) {
      int best = 0;
      for (std::size_t j = 1; j < k; ++j)
        if (dist(i, cc, j) < dist(i, cc, best)) best = static_cast<int>(j);
      lab[i] = best;
    }
  };
  Naive out;
  std::vector<int> lab(n, -1), old(n, -1);
  bool strict = false;
  int it = 0;
  for (; it < max_iter; ++it) {
    assign(c, lab);
    std::vector<double> sums(k * d, 0.0), ws(k, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      ws[lab[i]] += W(i);
      for (std::size_t f = 0; f < d; ++f) sums[lab[i] * d + f] += W(i) * x[i * d + f];
    }
    std::vector<std::size_t> empty;
    for (std::size_t j = 0; j < k; ++j)
      if (ws[j] == 0) empty.push_back(j);
    if (!empty.empty()) {
      std::vector<std::size_t> order(n);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return dist(a, c, lab[a]) > dist(b, c, lab[b]);
      });
      for (std::size_t e = 0; e < empty.size(); ++e) {
        const std::size_t p = order[e], from = lab[p], to = empty[e];
        for (std::size_t f = 0; f < d; ++f) {
          sums[from * d + f] -= x[p * d + f] * W(p);
          sums[to * d + f] = x[p * d + f] * W(p);
        }
        ws[to] = W(p);
        ws[from] -= W(p);
      }
    }
    double shift = 0;
    std::vector<double> next(k * d);
    for (std::size_t j = 0; j < k; ++j)
      for (std::size_t f = 0; f < d; ++f) {
        next[j * d + f] = ws[j] > 0 ? sums[j * d + f] * (1.0 / ws[j]) : sums[j * d + f];
        shift += std::pow(next[j * d + f] - c[j * d + f], 2);
      }
    c = next;
    if (lab == old) {
      strict = true;
      break;
    }
    if (shift <= tol_abs) break;
    old = lab;
  }
  out.n_iter = it < max_iter ? it + 1 : max_iter;
  if (!strict) assign(c, lab);
  for (std::size_t i = 0; i < n; ++i) out.inertia += W(i) * dist(i, c, lab[i]);
  for (std::size_t j = 0; j < k; ++j)
    for (std::size_t f = 0; f < d; ++f) c[j * d + f] += mean[f];
  out.centers = c;
  out.labels = lab;
  return out;
}

KMeansParams explicit_params(int k, int threads = 0) {
  KMeansParams p;
  p.k = k;
  p.init = KMeansInit::kExplicit;
  p.threads = threads;
  p.device = Device::kCpu;
  return p;
}

// Same clustering up to renumbering (both directions).
bool same_partition(const std::vector<std::int32_t>& a, const std::vector<int>& b) {
  std::map<int, int> ab, ba;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto [it1, new1] = ab.emplace(a[i], b[i]);
    auto [it2, new2] = ba.emplace(b[i], a[i]);
    if (it1->second != b[i] || it2->second != a[i]) return false;
  }
  return true;
}

TEST(KMeans, FourWeightedPointsHaveTheHandComputedInertia) {
  // Two pairs, 2 apart vertically; the right pair weighs 2 each. Centres end at (0,1) and
  // (10,1); every point is 1 from its centre: inertia = 1 + 1 + 2 + 2 = 6.
  const std::vector<double> x = {0, 0, 0, 2, 10, 0, 10, 2};
  const std::vector<double> w = {1, 1, 2, 2};
  const std::vector<double> init = {0, 0, 10, 0};
  const auto r =
      kmeans_fit<double>({x.data(), 4, 2}, w.data(), explicit_params(2), {init.data(), 2, 2});
  EXPECT_DOUBLE_EQ(r.inertia, 6.0);
  EXPECT_EQ(r.labels, (std::vector<std::int32_t>{0, 0, 1, 1}));
  EXPECT_DOUBLE_EQ(r.centroids[0], 0.0);
  EXPECT_DOUBLE_EQ(r.centroids[1], 1.0);
  EXPECT_DOUBLE_EQ(r.centroids[2], 10.0);
  EXPECT_DOUBLE_EQ(r.centroids[3], 1.0);
  EXPECT_TRUE(r.converged);
  EXPECT_EQ(r.n_iter, 2);  // the second pass changes no label
}

TEST(KMeans, OneClusterIsTheWeightedMean) {
  const std::vector<double> x = {1, 2, 3, 4, 5, 6};
  const std::vector<double> w = {1, 2, 3};
  KMeansParams p;
  p.k = 1;
  const auto r = kmeans_fit<double>({x.data(), 3, 2}, w.data(), p);
  EXPECT_NEAR(r.centroids[0], (1 * 1 + 2 * 3 + 3 * 5) / 6.0, 1e-12);
  EXPECT_NEAR(r.centroids[1], (1 * 2 + 2 * 4 + 3 * 6) / 6.0, 1e-12);
}

TEST(KMeans, AsManyClustersAsPointsGivesZeroInertia) {
  const auto x = blobs(3, 4, 3, 1.0, 7);
  KMeansParams p;
  p.k = 12;
  const auto r = kmeans_fit<double>({x.data(), 12, 3}, nullptr, p);
  EXPECT_NEAR(r.inertia, 0.0, 1e-9);
  EXPECT_EQ(r.distinct_clusters, 12u);
}

struct NaiveCase {
  std::size_t clusters, per, d, k;
  double spread;
  bool weighted;
};

class MatchesNaiveLloyd : public ::testing::TestWithParam<NaiveCase> {};

TEST_P(MatchesNaiveLloyd, LabelsCentresInertiaAndIterations) {
  const NaiveCase c = GetParam();
  const auto x = blobs(c.clusters, c.per, c.d, c.spread, 11);
  const std::size_t n = x.size() / c.d;
  std::vector<double> w;
  if (c.weighted) {
    std::mt19937_64 gen(3);
    std::uniform_real_distribution<double> u(0.1, 3.0);
    for (std::size_t i = 0; i < n; ++i) w.push_back(u(gen));
  }
  std::vector<std::size_t> idx;
  for (std::size_t j = 0; j < c.k; ++j) idx.push_back((j * 7919) % n);
  const auto init = rows_of(x, c.d, idx);
  const Naive ref = naive_lloyd(x, w, c.d, init, 300, 1e-4);
  const auto r =
      kmeans_fit<double>({x.data(), n, c.d}, w.empty() ? nullptr : w.data(),
                         explicit_params(static_cast<int>(c.k)), {init.data(), c.k, c.d});
  EXPECT_EQ(std::vector<int>(r.labels.begin(), r.labels.end()), ref.labels);
  EXPECT_EQ(r.n_iter, ref.n_iter);
  EXPECT_NEAR(r.inertia, ref.inertia, 1e-10 * ref.inertia);
  for (std::size_t e = 0; e < ref.centers.size(); ++e)
    EXPECT_NEAR(r.centroids[e], ref.centers[e], 1e-9 * (1 + std::abs(ref.centers[e])));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, MatchesNaiveLloyd,
    ::testing::Values(NaiveCase{4, 250, 2, 4, 2.0, false}, NaiveCase{6, 300, 5, 8, 3.0, false},
                      NaiveCase{5, 200, 3, 5, 4.0, true}, NaiveCase{3, 700, 7, 10, 6.0, true},
                      NaiveCase{8, 40, 33, 20, 5.0, false}, NaiveCase{2, 5000, 1, 3, 1.0, false}));

TEST(KMeans, EmptyClusterIsRelocatedToTheFarthestPoint) {
  auto x = blobs(3, 100, 2, 0.5, 5);
  const std::size_t n = x.size() / 2;
  // The third initial centre is far from everything: it is empty after the first assignment.
  std::vector<double> init = rows_of(x, 2, {0, 1});
  init.push_back(1e3);
  init.push_back(1e3);
  const Naive ref = naive_lloyd(x, {}, 2, init, 300, 1e-4);
  const auto r =
      kmeans_fit<double>({x.data(), n, 2}, nullptr, explicit_params(3), {init.data(), 3, 2});
  EXPECT_EQ(std::vector<int>(r.labels.begin(), r.labels.end()), ref.labels);
  EXPECT_NEAR(r.inertia, ref.inertia, 1e-10 * ref.inertia);
  EXPECT_EQ(r.distinct_clusters, 3u);
  for (double v : r.centroids) EXPECT_LT(std::abs(v), 100.0);
}

TEST(KMeans, Float32AgreesWithFloat64) {
  const auto x = blobs(6, 500, 8, 1.5, 21);
  const std::size_t n = x.size() / 8;
  const std::vector<float> xf(x.begin(), x.end());
  const auto init = rows_of(x, 8, {0, 1, 2, 3, 4, 5});
  const std::vector<float> initf(init.begin(), init.end());
  const auto r64 =
      kmeans_fit<double>({x.data(), n, 8}, nullptr, explicit_params(6), {init.data(), 6, 8});
  const auto r32 =
      kmeans_fit<float>({xf.data(), n, 8}, nullptr, explicit_params(6), {initf.data(), 6, 8});
  EXPECT_EQ(r32.labels, r64.labels);
  EXPECT_NEAR(r32.inertia, r64.inertia, 1e-5 * r64.inertia);
  for (std::size_t e = 0; e < r64.centroids.size(); ++e)
    EXPECT_NEAR(r32.centroids[e], r64.centroids[e], 1e-4 * (1 + std::abs(r64.centroids[e])));
}

TEST(KMeans, IntegerWeightsEqualRepeatedRows) {
  const auto x = blobs(4, 50, 3, 2.5, 9);
  const std::size_t n = x.size() / 3;
  std::vector<double> w(n), repeated;
  for (std::size_t i = 0; i < n; ++i) {
    w[i] = static_cast<double>(1 + i % 3);
    for (int r = 0; r < static_cast<int>(w[i]); ++r)
      repeated.insert(repeated.end(), x.begin() + i * 3, x.begin() + (i + 1) * 3);
  }
  const auto init = rows_of(x, 3, {0, 1, 2, 3});
  const auto rw =
      kmeans_fit<double>({x.data(), n, 3}, w.data(), explicit_params(4), {init.data(), 4, 3});
  const auto rr = kmeans_fit<double>({repeated.data(), repeated.size() / 3, 3}, nullptr,
                                     explicit_params(4), {init.data(), 4, 3});
  EXPECT_NEAR(rw.inertia, rr.inertia, 1e-9 * rr.inertia);
  for (std::size_t e = 0; e < rw.centroids.size(); ++e)
    EXPECT_NEAR(rw.centroids[e], rr.centroids[e], 1e-9);
  std::size_t at = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (int r = 0; r < static_cast<int>(w[i]); ++r) EXPECT_EQ(rw.labels[i], rr.labels[at++]);
}

TEST(KMeans, PredictOfTheCentroidsIsTheirOwnIndex) {
  const auto x = blobs(7, 100, 4, 1.0, 13);
  KMeansParams p;
  p.k = 7;
  p.seed = 4;
  const auto r = kmeans_fit<double>({x.data(), x.size() / 4, 4}, nullptr, p);
  std::vector<std::int32_t> labels(7);
  std::vector<double> dist(7);
  kmeans_predict<double>({r.centroids.data(), 7, 4}, {r.centroids.data(), 7, 4}, labels.data(),
                         dist.data());
  for (int j = 0; j < 7; ++j) {
    EXPECT_EQ(labels[j], j);
    EXPECT_EQ(dist[j], 0.0);
  }
}

TEST(KMeans, PredictTiesGoToTheLowestIndex) {
  const std::vector<double> c = {-1, 0, 1, 0, 1, 0};  // centroids 1 and 2 coincide
  const std::vector<double> x = {0, 0, 1, 0, 0.9, 0};
  std::vector<std::int32_t> labels(3);
  kmeans_predict<double>({x.data(), 3, 2}, {c.data(), 3, 2}, labels.data());
  EXPECT_EQ(labels, (std::vector<std::int32_t>{0, 1, 1}));
}

TEST(KMeans, TransformGivesEuclideanDistancesToEveryCentre) {
  const std::vector<double> c = {0, 0, 3, 4};
  const std::vector<double> x = {0, 0, 3, 4, 6, 8};
  std::vector<double> out(6);
  kmeans_transform<double>({x.data(), 3, 2}, {c.data(), 2, 2}, {out.data(), 3, 2});
  const std::vector<double> want = {0, 5, 5, 0, 10, 5};
  for (int e = 0; e < 6; ++e) EXPECT_NEAR(out[e], want[e], 1e-12);
}

template <typename T>
void expect_thread_invariant(KMeansInit init) {
  const auto xd = blobs(10, 3000, 6, 2.0, 17);  // 30000 rows: several chunks
  const std::vector<T> x(xd.begin(), xd.end());
  const std::size_t n = x.size() / 6;
  std::vector<T> w(n);
  for (std::size_t i = 0; i < n; ++i) w[i] = static_cast<T>(0.5 + (i % 5));
  KMeansParams p;
  p.k = 10;
  p.init = init;
  p.seed = 99;
  p.n_init = 2;
  p.threads = 1;
  const auto a = kmeans_fit<T>({x.data(), n, 6}, w.data(), p);
  p.threads = 2;
  const auto b = kmeans_fit<T>({x.data(), n, 6}, w.data(), p);
  p.threads = 3;
  const auto c = kmeans_fit<T>({x.data(), n, 6}, w.data(), p);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.labels, c.labels);
  EXPECT_EQ(a.centroids, b.centroids);  // bitwise
  EXPECT_EQ(a.centroids, c.centroids);
  EXPECT_EQ(a.inertia, b.inertia);
  EXPECT_EQ(a.inertia, c.inertia);
  EXPECT_EQ(a.n_iter, b.n_iter);
}

TEST(KMeans, OutputIsBitwiseIdenticalForAnyThreadCount) {
  expect_thread_invariant<double>(KMeansInit::kKMeansPlusPlus);
  expect_thread_invariant<float>(KMeansInit::kKMeansPlusPlus);
  expect_thread_invariant<double>(KMeansInit::kKMeansParallel);
  expect_thread_invariant<float>(KMeansInit::kRandom);
}

// The overload that takes the rows (the CPU backend centres them in place instead of copying)
// must give what the view overload gives, bit for bit, with every init, weights and a
// relocation of an empty cluster; whichever backend runs (auto: CUDA on a GPU machine, which
// copies and reads the caller's rows for seeding).
template <typename T>
void expect_taking_the_rows_changes_nothing(KMeansInit init, Device device) {
  const auto x64 = blobs(6, 150, 5, 2.5, 41);
  const std::size_t d = 5, n = x64.size() / d;
  const std::vector<T> x(x64.begin(), x64.end());
  std::vector<T> w(n);
  for (std::size_t i = 0; i < n; ++i) w[i] = static_cast<T>(1 + i % 3);
  KMeansParams p;
  p.k = 6;
  p.init = init;
  p.n_init = 3;
  p.seed = 9;
  p.device = device;
  std::vector<T> c0;
  if (init == KMeansInit::kExplicit) {  // two identical seeds: one cluster empties at once
    const auto rows = rows_of(x64, d, {0, 1, 2, 3, 4, 4});
    c0.assign(rows.begin(), rows.end());
  }
  const ConstMatrixView<T> init_view{c0.data(), c0.size() / d, d};
  const auto a = kmeans_fit<T>({x.data(), n, d}, w.data(), p, init_view);
  std::vector<T> taken = x;
  const auto b = kmeans_fit<T>(std::move(taken), d, w.data(), p, init_view);
  EXPECT_EQ(a.labels, b.labels) << kmeans_init_name(init);
  EXPECT_EQ(a.centroids, b.centroids) << kmeans_init_name(init);
  EXPECT_EQ(a.inertia, b.inertia) << kmeans_init_name(init);
  EXPECT_EQ(a.n_iter, b.n_iter) << kmeans_init_name(init);
  EXPECT_EQ(a.best_run, b.best_run) << kmeans_init_name(init);
  EXPECT_EQ(a.backend, b.backend);
}

TEST(KMeans, TakingTheRowsGivesTheViewResultBitForBit) {
  for (Device device : {Device::kCpu, Device::kAuto})
    for (KMeansInit init : {KMeansInit::kKMeansPlusPlus, KMeansInit::kRandom,
                            KMeansInit::kKMeansParallel, KMeansInit::kExplicit}) {
      expect_taking_the_rows_changes_nothing<double>(init, device);
      expect_taking_the_rows_changes_nothing<float>(init, device);
    }
}

/// The message kmeans_fit throws for x, or "" when it fits.
template <typename T>
std::string fit_error(const std::vector<T>& x, std::size_t d, Device device, bool take) {
  KMeansParams p;
  p.k = 2;
  p.device = device;
  try {
    if (take)
      (void)kmeans_fit<T>(std::vector<T>(x), d, nullptr, p);
    else
      (void)kmeans_fit<T>({x.data(), x.size() / d, d}, nullptr, p);
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "";
}

// A NaN or an infinity is named by row and column (the first one in row-major order), on either
// overload and whatever `auto` picks; finite values too large for the column sums are refused.
TEST(KMeans, NonFiniteDataIsNamedByRowAndColumn) {
  for (Device device : {Device::kCpu, Device::kAuto})
    for (bool take : {false, true}) {
      std::vector<double> x = blobs(2, 40, 3, 1.0, 3);
      EXPECT_EQ(fit_error(x, 3, device, take), "");
      x[57 * 3 + 2] = std::numeric_limits<double>::quiet_NaN();
      x[61 * 3 + 0] = std::numeric_limits<double>::infinity();
      EXPECT_EQ(fit_error(x, 3, device, take), "non-finite value at row 57, column 2");
      x[57 * 3 + 2] = 0.0;
      EXPECT_EQ(fit_error(x, 3, device, take), "non-finite value at row 61, column 0");
      std::vector<float> xf(x.begin(), x.end());
      xf[61 * 3] = -std::numeric_limits<float>::infinity();
      EXPECT_EQ(fit_error(xf, 3, device, take), "non-finite value at row 61, column 0");
      x[61 * 3] = 1e300;
      x[62 * 3] = 1e300;  // finite, but the column's sum of squares overflows
      EXPECT_NE(fit_error(x, 3, device, take).find("too large"), std::string::npos);
    }
}

TEST(KMeans, TakingTheRowsFreesThemOnTheCpuAndChecksTheirShape) {
  std::vector<double> x = blobs(2, 50, 3, 1.0, 5);
  KMeansParams p;
  p.k = 2;
  p.device = Device::kCpu;
  // The CPU backend adopts the storage: nothing of the caller's copy is left behind.
  const double* storage = x.data();
  auto backend = make_kmeans_backend<double>(Device::kCpu, 1);
  backend->adopt_data(x, 3, nullptr);
  EXPECT_TRUE(x.empty());
  EXPECT_EQ(backend->rows(), 100u);
  EXPECT_EQ(backend->host_rows(), storage);
  // copy_rows reads the held rows (after subtract), in any order, and checks every index.
  const std::vector<double> shift = {1.0, -2.0, 0.5};
  backend->subtract(shift.data());
  const std::int64_t index[3] = {99, 0, 99};
  std::vector<double> got(9);
  backend->copy_rows(index, 3, got.data());
  for (std::size_t t = 0; t < 3; ++t)
    for (std::size_t f = 0; f < 3; ++f)
      EXPECT_EQ(got[t * 3 + f], storage[index[t] * 3 + f]) << t << " " << f;
  EXPECT_EQ(got[0], blobs(2, 50, 3, 1.0, 5)[99 * 3] - 1.0);
  const std::int64_t outside[2] = {3, 100};
  EXPECT_THROW(backend->copy_rows(outside, 2, got.data()), InvalidArgument);
  const std::int64_t negative = -1;
  EXPECT_THROW(backend->copy_rows(&negative, 1, got.data()), InvalidArgument);
  std::vector<double> ragged(10, 1.0);
  EXPECT_THROW((void)kmeans_fit<double>(ragged, 3, nullptr, p), InvalidArgument);
  EXPECT_THROW((void)kmeans_fit<double>(ragged, 0, nullptr, p), InvalidArgument);
  EXPECT_THROW(backend->adopt_data(ragged, 3, nullptr), InvalidArgument);
}

// Random init lands two seeds in one blob often (a good draw of 5 seeds among 5 equal blobs has
// probability 5!/5^5 = 4%), so it is checked on 3 blobs with restarts.
class RecoversBlobs : public ::testing::TestWithParam<KMeansInit> {};

TEST_P(RecoversBlobs, WellSeparatedClustersAreFoundWhateverTheNumbering) {
  std::vector<int> truth;
  const bool random = GetParam() == KMeansInit::kRandom;
  const auto x = blobs(random ? 3 : 5, 400, 3, 0.3, 23, &truth);
  KMeansParams p;
  p.k = random ? 3 : 5;
  p.init = GetParam();
  p.seed = 1;
  p.n_init = random ? 10 : 2;
  const auto r = kmeans_fit<double>({x.data(), x.size() / 3, 3}, nullptr, p);
  EXPECT_TRUE(same_partition(r.labels, truth)) << kmeans_init_name(GetParam());
  EXPECT_TRUE(r.converged);
}

INSTANTIATE_TEST_SUITE_P(Inits, RecoversBlobs,
                         ::testing::Values(KMeansInit::kKMeansPlusPlus, KMeansInit::kRandom,
                                           KMeansInit::kKMeansParallel));

TEST(KMeans, SameSeedSameResultAndMoreRestartsNeverWorse) {
  const auto x = blobs(8, 200, 4, 3.0, 31);
  KMeansParams p;
  p.k = 8;
  p.init = KMeansInit::kRandom;
  p.n_init = 1;
  p.seed = 5;
  const auto a = kmeans_fit<double>({x.data(), x.size() / 4, 4}, nullptr, p);
  const auto b = kmeans_fit<double>({x.data(), x.size() / 4, 4}, nullptr, p);
  EXPECT_EQ(a.centroids, b.centroids);
  p.n_init = 6;
  const auto c = kmeans_fit<double>({x.data(), x.size() / 4, 4}, nullptr, p);
  EXPECT_LE(c.inertia, a.inertia);
  p.seed = 6;
  p.n_init = 1;
  const auto d = kmeans_fit<double>({x.data(), x.size() / 4, 4}, nullptr, p);
  EXPECT_NE(a.centroids, d.centroids);
}

TEST(KMeans, KMeansParallelOnTinyDataStillGivesKCentres) {
  const std::vector<double> x = {0, 0, 1, 1, 2, 2, 9, 9, 10, 10};
  KMeansParams p;
  p.k = 4;
  p.init = KMeansInit::kKMeansParallel;
  const auto r = kmeans_fit<double>({x.data(), 5, 2}, nullptr, p);
  EXPECT_EQ(r.centroids.size(), 8u);
  EXPECT_EQ(r.distinct_clusters, 4u);
}

TEST(KMeans, FewerDistinctPointsThanKIsAWarning) {
  const std::vector<double> x = {1, 1, 1, 1, 2, 2, 2, 2};
  KMeansParams p;
  p.k = 3;
  const auto r = kmeans_fit<double>({x.data(), 4, 2}, nullptr, p);
  EXPECT_EQ(r.distinct_clusters, 2u);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("distinct clusters (2)"), std::string::npos);
}

TEST(KMeans, MaxIterStopsUnconverged) {
  const auto x = blobs(6, 300, 2, 5.0, 3);
  const auto init = rows_of(x, 2, {0, 1, 2, 3, 4, 5});
  auto p = explicit_params(6);
  p.max_iter = 1;
  p.tol = 0;
  const auto r = kmeans_fit<double>({x.data(), x.size() / 2, 2}, nullptr, p, {init.data(), 6, 2});
  EXPECT_EQ(r.n_iter, 1);
  EXPECT_FALSE(r.converged);
}

TEST(KMeans, ProgressIsReportedOncePerIteration) {
  const auto x = blobs(3, 100, 2, 1.0, 2);
  KMeansParams p;
  p.k = 3;
  int calls = 0;
  p.on_progress = [&](const KMeansProgress& pr) {
    ++calls;
    EXPECT_EQ(pr.iteration, calls);
  };
  const auto r = kmeans_fit<double>({x.data(), x.size() / 2, 2}, nullptr, p);
  EXPECT_EQ(calls, r.n_iter);
}

TEST(KMeans, ProgressWithoutTheInertiaGivesTheSameFit) {
  // The iterations' passes compute the inertia only for a progress report that wants it; the
  // fit (labels, centres, inertia, iterations) is the same bit for bit either way.
  const auto x = blobs(4, 250, 3, 1.5, 7);
  const std::vector<double> w = [&] {
    std::vector<double> v(x.size() / 3);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.5 + static_cast<double>(i % 5);
    return v;
  }();
  for (const bool weighted : {false, true}) {
    KMeansResult<double> r[2];
    std::vector<double> seen[2];
    for (const bool with : {false, true}) {
      KMeansParams p;
      p.k = 4;
      p.n_init = 2;
      p.seed = 3;
      p.progress_inertia = with;
      p.on_progress = [&](const KMeansProgress& pr) { seen[with].push_back(pr.inertia); };
      r[with] = kmeans_fit<double>({x.data(), x.size() / 3, 3}, weighted ? w.data() : nullptr, p);
    }
    EXPECT_EQ(r[0].labels, r[1].labels);
    EXPECT_EQ(r[0].centroids, r[1].centroids);
    EXPECT_EQ(r[0].inertia, r[1].inertia);
    EXPECT_EQ(r[0].n_iter, r[1].n_iter);
    ASSERT_EQ(seen[0].size(), seen[1].size());
    ASSERT_FALSE(seen[1].empty());
    for (std::size_t i = 0; i < seen[0].size(); ++i) {
      EXPECT_TRUE(std::isnan(seen[0][i])) << i;
      EXPECT_TRUE(std::isfinite(seen[1][i]) && seen[1][i] > 0) << i;
    }
    // Lloyd never raises the inertia: the last iteration's is at least the final one.
    EXPECT_GE(seen[1].back(), r[1].inertia * (1 - 1e-12));
  }
}

TEST(CpuBackend, APassWithoutTheInertiaGivesTheSameLabelsAndSums) {
  for (const std::size_t d : {1u, 3u, 4u, 9u}) {
    const std::size_t n = 1000, k = 5;
    std::mt19937_64 gen(d);
    std::normal_distribution<double> normal;
    std::vector<double> x(n * d), w(n);
    for (auto& v : x) v = normal(gen);
    for (auto& v : w) v = 0.25 + std::abs(normal(gen));
    const std::vector<double> c(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(k * d));
    for (const bool weighted : {false, true}) {
      auto a = make_kmeans_backend<double>(Device::kCpu, 2);
      auto b = make_kmeans_backend<double>(Device::kCpu, 2);
      a->set_data({x.data(), n, d}, weighted ? w.data() : nullptr);
      b->set_data({x.data(), n, d}, weighted ? w.data() : nullptr);
      std::vector<double> sa(k * d), wa(k), sb(k * d), wb(k);
      const LloydPassResult ra = a->lloyd_pass({c.data(), k, d}, sa.data(), wa.data());
      const LloydPassResult rb = b->lloyd_pass({c.data(), k, d}, sb.data(), wb.data(), false);
      EXPECT_TRUE(std::isfinite(ra.inertia) && ra.inertia > 0);
      EXPECT_TRUE(std::isnan(rb.inertia));
      EXPECT_EQ(ra.changed, rb.changed);
      EXPECT_EQ(sa, sb) << "d = " << d;
      EXPECT_EQ(wa, wb);
      std::vector<std::int32_t> la(n), lb(n);
      a->labels(la.data());
      b->labels(lb.data());
      EXPECT_EQ(la, lb);
      // Without sums too, and the stored labels' inertia is the pass's.
      const LloydPassResult rc = b->lloyd_pass({c.data(), k, d}, nullptr, nullptr, false);
      EXPECT_TRUE(std::isnan(rc.inertia));
      EXPECT_EQ(rc.changed, 0);
      EXPECT_NEAR(b->inertia({c.data(), k, d}), ra.inertia, 1e-12 * ra.inertia);
    }
  }
}

TEST(KMeansErrors, InvalidArgumentsThrowWithAClearMessage) {
  const std::vector<double> x = {0, 0, 1, 1, 2, 2};
  const ConstMatrixView<double> v{x.data(), 3, 2};
  auto expect_throw = [&](KMeansParams p, const double* w, ConstMatrixView<double> init,
                          const std::string& needle) {
    try {
      kmeans_fit<double>(v, w, p, init);
      ADD_FAILURE() << "no exception for " << needle;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  KMeansParams p;
  p.k = 0;
  expect_throw(p, nullptr, {}, "at least 1");
  p.k = 4;
  expect_throw(p, nullptr, {}, "larger than the number of rows");
  p.k = 2;
  const std::vector<double> neg = {1, -1, 1}, zero = {0, 0, 0};
  expect_throw(p, neg.data(), {}, "row 1");
  expect_throw(p, zero.data(), {}, "all sample weights are zero");
  auto e = explicit_params(2);
  const std::vector<double> bad_init = {0, 0, 1};
  expect_throw(e, nullptr, {bad_init.data(), 1, 3}, "must be 2 x 2");
  const std::vector<double> nan = {0, 0, std::nan(""), 1, 2, 2};
  EXPECT_THROW(kmeans_fit<double>({nan.data(), 3, 2}, nullptr, p), InvalidArgument);
  p.max_iter = 0;
  expect_throw(p, nullptr, {}, "max_iter");
}

TEST(KMeansErrors, CudaDeviceWithoutADeviceIsAClearError) {
  if (cuda_compiled() && !cuda_devices().empty()) GTEST_SKIP() << "a CUDA device answers";
  const std::vector<double> x = {0, 0, 1, 1};
  KMeansParams p;
  p.k = 1;
  p.device = Device::kCuda;
  try {
    kmeans_fit<double>({x.data(), 2, 2}, nullptr, p);
    ADD_FAILURE() << "no exception";
  } catch (const Error& e) {  // NotCompiled in a CPU-only build, CudaError without a device
    EXPECT_NE(std::string(e.what()).find("--device cpu"), std::string::npos) << e.what();
  }
}

TEST(CpuBackend, SampleByPotentialIsSearchsortedOnTheRunningSum) {
  std::vector<double> x(20000);
  std::mt19937_64 gen(8);
  std::uniform_real_distribution<double> u(0, 1);
  for (auto& v : x) v = u(gen);
  std::vector<double> w(10000);
  for (auto& v : w) v = u(gen);
  auto be = make_kmeans_backend<double>(Device::kCpu, 2);
  be->set_data({x.data(), 10000, 2}, w.data());
  const std::vector<double> c = {0.5, 0.5};
  be->update_closest({c.data(), 1, 2}, true);
  // Reference: the running sum of w_i * closest_i, computed here.
  std::vector<double> cum(10000);
  double s = 0;
  for (std::size_t i = 0; i < 10000; ++i) {
    const double dd = std::pow(x[2 * i] - 0.5, 2) + std::pow(x[2 * i + 1] - 0.5, 2);
    s += w[i] * dd;
    cum[i] = s;
  }
  const std::vector<double> targets = {0.0, s * 0.25, s * 0.5, s * 0.999, s * 2};
  std::vector<std::int64_t> got(targets.size());
  be->sample_by_potential(targets.data(), targets.size(), got.data());
  for (std::size_t t = 0; t < targets.size(); ++t) {
    const auto want = std::min<std::int64_t>(
        std::lower_bound(cum.begin(), cum.end(), targets[t]) - cum.begin(), 9999);
    EXPECT_NEAR(static_cast<double>(got[t]), static_cast<double>(want), 1.0) << t;
  }
}

TEST(CpuBackend, FarthestPointsComeFarthestFirstWithTiesByIndex) {
  const std::vector<double> x = {0, 3, -3, 1, 5, 3};  // 1-D
  auto be = make_kmeans_backend<double>(Device::kCpu, 1);
  be->set_data({x.data(), 6, 1}, nullptr);
  const std::vector<double> c = {0};
  be->lloyd_pass({c.data(), 1, 1}, nullptr, nullptr);
  const auto far = be->farthest({c.data(), 1, 1}, 4);
  ASSERT_EQ(far.size(), 4u);
  EXPECT_EQ(far[0].index, 4);
  EXPECT_EQ(far[1].index, 1);
  EXPECT_EQ(far[2].index, 2);
  EXPECT_EQ(far[3].index, 5);
}

}  // namespace
}  // namespace segcore
