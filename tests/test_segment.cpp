// The segment workflow's pieces: naming, optimal matching, Ward linkage, PCA, migration.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "segcore/error.hpp"
#include "segcore/segment.hpp"

namespace segcore {
namespace {

double total_cost(const std::vector<double>& cost, std::size_t cols, const std::vector<int>& a) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i] >= 0) s += cost[i * cols + static_cast<std::size_t>(a[i])];
  return s;
}

// Brute force over all injective assignments of the smaller side.
double brute_force(const std::vector<double>& cost, std::size_t rows, std::size_t cols) {
  double best = std::numeric_limits<double>::infinity();
  if (rows <= cols) {
    std::vector<int> perm(cols);
    std::iota(perm.begin(), perm.end(), 0);
    do {
      double s = 0;
      for (std::size_t i = 0; i < rows; ++i)
        s += cost[i * cols + static_cast<std::size_t>(perm[i])];
      best = std::min(best, s);
    } while (std::next_permutation(perm.begin(), perm.end()));
  } else {
    std::vector<int> perm(rows);
    std::iota(perm.begin(), perm.end(), 0);
    do {
      double s = 0;
      for (std::size_t j = 0; j < cols; ++j)
        s += cost[static_cast<std::size_t>(perm[j]) * cols + j];
      best = std::min(best, s);
    } while (std::next_permutation(perm.begin(), perm.end()));
  }
  return best;
}

TEST(OptimalAssignment, MatchesBruteForce) {
  std::mt19937_64 gen(4);
  std::uniform_real_distribution<double> u(0, 10);
  for (auto [rows, cols] : std::vector<std::pair<std::size_t, std::size_t>>{
           {1, 1}, {3, 3}, {5, 5}, {6, 6}, {4, 6}, {6, 4}, {2, 7}}) {
    for (int rep = 0; rep < 5; ++rep) {
      std::vector<double> cost(rows * cols);
      for (auto& c : cost) c = std::round(u(gen));  // integers: many ties
      const auto a = optimal_assignment(cost, rows, cols);
      ASSERT_EQ(a.size(), rows);
      std::vector<int> used;
      for (int j : a)
        if (j >= 0) used.push_back(j);
      std::sort(used.begin(), used.end());
      EXPECT_EQ(std::adjacent_find(used.begin(), used.end()), used.end()) << "column used twice";
      EXPECT_EQ(used.size(), std::min(rows, cols));
      EXPECT_DOUBLE_EQ(total_cost(cost, cols, a), brute_force(cost, rows, cols));
    }
  }
}

TEST(OptimalAssignment, IdentityWhenTheDiagonalIsCheapest) {
  const std::vector<double> cost = {0, 5, 5, 5, 0, 5, 5, 5, 0};
  EXPECT_EQ(optimal_assignment(cost, 3, 3), (std::vector<int>{0, 1, 2}));
}

TEST(WardLinkage, MatchesScipyOnAHandExample) {
  // scipy.cluster.hierarchy.linkage([[0], [1], [10]], "ward") =
  //   [[0, 1, 1, 2], [2, 3, 10.96965511, 3]]
  const std::vector<double> c = {0, 1, 10};
  const auto l = ward_linkage({c.data(), 3, 1}, {1, 1, 1});
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0][0], 0);
  EXPECT_EQ(l[0][1], 1);
  EXPECT_NEAR(l[0][2], 1.0, 1e-12);
  EXPECT_EQ(l[0][3], 2);
  EXPECT_EQ(l[1][0], 2);
  EXPECT_EQ(l[1][1], 3);
  EXPECT_NEAR(l[1][2], 9.5 * std::sqrt(4.0 / 3.0), 1e-12);
  EXPECT_EQ(l[1][3], 3);
}

TEST(WardLinkage, WeightsPullHeavyClustersApart) {
  // Equal spacing; the two light clusters merge first.
  const std::vector<double> c = {0, 1, 2};
  const auto l = ward_linkage({c.data(), 3, 1}, {100, 1, 1});
  EXPECT_EQ(l[0][0], 1);
  EXPECT_EQ(l[0][1], 2);
  EXPECT_THROW(ward_linkage({c.data(), 3, 1}, {1, 0, 1}), InvalidArgument);
}

TEST(Pca, FindsTheDirectionOfALine) {
  std::vector<double> x;
  std::mt19937_64 gen(1);
  std::normal_distribution<double> noise(0, 0.01);
  for (int i = 0; i < 500; ++i) {
    const double t = i / 50.0;
    x.push_back(t + noise(gen));
    x.push_back(2 * t + noise(gen));
    x.push_back(noise(gen));
  }
  const Pca p = fit_pca({x.data(), 500, 3}, 2);
  EXPECT_NEAR(p.axes[0 * 2 + 0], 1 / std::sqrt(5.0), 1e-3);
  EXPECT_NEAR(p.axes[1 * 2 + 0], 2 / std::sqrt(5.0), 1e-3);
  EXPECT_GT(p.explained[0], 0.999);
  double out[2];
  p.project(p.mean.data(), out);
  EXPECT_NEAR(out[0], 0, 1e-12);
  // Orthonormal axes.
  double dot = 0, n1 = 0;
  for (int f = 0; f < 3; ++f) {
    dot += p.axes[f * 2] * p.axes[f * 2 + 1];
    n1 += p.axes[f * 2 + 1] * p.axes[f * 2 + 1];
  }
  EXPECT_NEAR(dot, 0, 1e-9);
  EXPECT_NEAR(n1, 1, 1e-9);
}

TEST(Migration, CountsMovesNewcomersAndLeavers) {
  const std::vector<std::string> old_ids = {"a", "b", "c", "d"};
  const std::vector<std::int32_t> old_lab = {0, 0, 1, 1};
  const std::vector<std::string> new_ids = {"b", "a", "c", "e"};
  const std::vector<std::int32_t> new_lab = {1, 0, 1, 0};
  const Migration m = migration_table(old_ids, old_lab, 2, new_ids, new_lab, 2);
  EXPECT_EQ(m.at(0, 0), 1u);  // a stays in 0
  EXPECT_EQ(m.at(0, 1), 1u);  // b moves 0 -> 1
  EXPECT_EQ(m.at(1, 1), 1u);  // c stays in 1
  EXPECT_EQ(m.at(1, 2), 1u);  // d is gone
  EXPECT_EQ(m.at(2, 0), 1u);  // e is new
  EXPECT_EQ(std::accumulate(m.table.begin(), m.table.end(), std::uint64_t{0}), 5u);
}

TEST(NameSegments, RfmLabelsWhereTheyFitAndPhrasesOtherwise) {
  const std::vector<std::string> f = {"recency_days", "frequency", "monetary", "tenure_days"};
  const std::vector<double> z = {
      -0.8, 1.5,  1.4,  0.6,   // recent, frequent, big spenders: champions
      1.6,  -0.7, -0.6, 0.2,   // long gone, rare, small: lost
      0.6,  0.4,  0.5,  0.3,   // drifting away but valuable: at risk
      -0.6, -0.4, -0.3, -1.2,  // recent first purchase: new
      0.1,  0.1,  0.0,  0.1,   // nothing stands out
  };
  const auto names = name_segments({z.data(), 5, 4}, f);
  EXPECT_EQ(names[0].label, "champions");
  EXPECT_EQ(names[0].description, "frequent, high spend, recent");
  EXPECT_EQ(names[1].label, "lost");
  EXPECT_EQ(names[2].label, "at risk");
  EXPECT_EQ(names[3].label, "new");
  EXPECT_EQ(names[4].label, "typical");
}

TEST(NameSegments, GenericFeaturesAndUniqueLabels) {
  const std::vector<std::string> f = {"age", "basket"};
  const std::vector<double> z = {1.0, -2.0, 1.1, -2.1, 0.0, 0.0};
  const auto names = name_segments({z.data(), 3, 2}, f);
  EXPECT_EQ(names[0].label, "low basket, older");
  EXPECT_EQ(names[1].label, "low basket, older 2");
  EXPECT_EQ(names[2].label, "typical");
}

TEST(Skewness, SymmetricIsZeroHeavyTailIsPositive) {
  std::vector<double> sym = {1, 2, 3, 4, 5};
  EXPECT_NEAR(column_skewness({sym.data(), 5, 1}, 0), 0.0, 1e-12);
  std::vector<double> tail = {1, 1, 1, 1, 2, 2, 3, 50};
  EXPECT_GT(column_skewness({tail.data(), 8, 1}, 0), 1.5);
}

}  // namespace
}  // namespace segcore
