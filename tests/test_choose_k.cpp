// Cluster-quality metrics (hand-checked toys, a naive silhouette, invariances, errors), the scan
// over k and its suggestion rule, and the SVG charts (well-formed, escaped, complete).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "segcore/choose_k.hpp"
#include "segcore/error.hpp"
#include "segcore/svg.hpp"

namespace segcore {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Gaussian blobs around `centers` (k x d), `per` rows each, cluster i's rows interleaved.
std::vector<double> blobs(const std::vector<std::vector<double>>& centers, std::size_t per,
                          double spread, unsigned seed, std::vector<std::int32_t>* truth) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> noise(0.0, spread);
  std::vector<double> x;
  for (std::size_t i = 0; i < centers.size() * per; ++i) {
    const std::size_t c = i % centers.size();
    for (const double mu : centers[c]) x.push_back(mu + noise(gen));
    if (truth) truth->push_back(static_cast<std::int32_t>(c));
  }
  return x;
}

// Straight from the definition, over all rows.
double naive_silhouette(const std::vector<double>& x, std::size_t d,
                        const std::vector<std::int32_t>& labels, std::size_t k) {
  const std::size_t n = labels.size();
  std::vector<double> size(k, 0);
  for (const auto l : labels) size[l] += 1;
  double total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<double> sum(k, 0);
    for (std::size_t j = 0; j < n; ++j) {
      double s = 0;
      for (std::size_t f = 0; f < d; ++f)
        s += (x[i * d + f] - x[j * d + f]) * (x[i * d + f] - x[j * d + f]);
      sum[labels[j]] += std::sqrt(s);
    }
    const std::size_t own = labels[i];
    if (size[own] == 1) continue;
    const double a = sum[own] / (size[own] - 1);
    double b = std::numeric_limits<double>::infinity();
    for (std::size_t c = 0; c < k; ++c)
      if (c != own && size[c] > 0) b = std::min(b, sum[c] / size[c]);
    total += (b - a) / std::max(a, b);
  }
  return total / static_cast<double>(n);
}

TEST(ChooseKMetrics, TwoWellSeparatedPairsByHand) {
  // 1-D: {0, 1} and {10, 11}. Row 0: a = 1, b = (10 + 11) / 2; row 1: a = 1, b = (9 + 10) / 2;
  // rows 2 and 3 mirror them.
  const std::vector<double> x = {0, 1, 10, 11};
  const std::vector<std::int32_t> labels = {0, 0, 1, 1};
  const ConstMatrixView<double> v{x.data(), 4, 1};
  const double expected = (9.5 / 10.5 + 8.5 / 9.5) / 2;
  EXPECT_NEAR(silhouette_score(v, labels.data(), 2, 0, 0, 1), expected, 1e-15);
  // Means 0.5 and 10.5 around 5.5: B = 2 * 25 + 2 * 25 = 100, W = 4 * 0.25 = 1,
  // CH = (100 / 1) / (1 / 2) = 200.
  EXPECT_NEAR(calinski_harabasz_score(v, labels.data(), 2), 200.0, 1e-12);
  // s_0 = s_1 = 0.5, centroids 10 apart: DB = (0.5 + 0.5) / 10.
  EXPECT_NEAR(davies_bouldin_score(v, labels.data(), 2), 0.1, 1e-15);
}

TEST(ChooseKMetrics, SingletonScoresZero) {
  // {0, 1} and {5}: row 0: a = 1, b = 5 -> 0.8; row 1: a = 1, b = 4 -> 0.75; row 2 alone -> 0.
  const std::vector<double> x = {0, 1, 5};
  const std::vector<std::int32_t> labels = {0, 0, 1};
  EXPECT_NEAR(silhouette_score({x.data(), 3, 1}, labels.data(), 2, 0, 0, 1), (0.8 + 0.75) / 3,
              1e-15);
}

TEST(ChooseKMetrics, CoincidingRowsScoreZeroNotNaN) {
  const std::vector<double> x = {1, 1, 1, 1};
  const std::vector<std::int32_t> labels = {0, 0, 1, 1};
  const ConstMatrixView<double> v{x.data(), 4, 1};
  EXPECT_EQ(silhouette_score(v, labels.data(), 2, 0, 0, 1), 0.0);
  EXPECT_EQ(calinski_harabasz_score(v, labels.data(), 2), 1.0);  // W == 0
  EXPECT_EQ(davies_bouldin_score(v, labels.data(), 2), 0.0);     // all spreads ~0
}

TEST(ChooseKMetrics, SilhouetteMatchesNaiveDefinition) {
  std::vector<std::int32_t> truth;
  const auto x = blobs({{0, 0, 0}, {3, 1, 0}, {1, 4, 2}, {5, 5, 5}}, 150, 1.5, 7, &truth);
  const double got = silhouette_score({x.data(), truth.size(), 3}, truth.data(), 4, 0, 0, 2);
  EXPECT_NEAR(got, naive_silhouette(x, 3, truth, 4), 1e-12);
}

TEST(ChooseKMetrics, InvariantToLabelRenumberingAndUnusedLabels) {
  std::vector<std::int32_t> truth;
  const auto x = blobs({{0, 0}, {4, 0}, {0, 4}, {4, 4}}, 80, 1.0, 3, &truth);
  const ConstMatrixView<double> v{x.data(), truth.size(), 2};
  // Labels 0..3 -> 5, 1, 3, 0 out of k = 6: two clusters are empty.
  const std::int32_t map[4] = {5, 1, 3, 0};
  std::vector<std::int32_t> renamed;
  for (const auto l : truth) renamed.push_back(map[l]);
  EXPECT_EQ(silhouette_score(v, truth.data(), 4, 0, 1, 2),
            silhouette_score(v, renamed.data(), 6, 0, 1, 2));
  EXPECT_EQ(silhouette_score(v, truth.data(), 4, 100, 1, 2),
            silhouette_score(v, renamed.data(), 6, 100, 1, 2));
  EXPECT_NEAR(calinski_harabasz_score(v, truth.data(), 4),
              calinski_harabasz_score(v, renamed.data(), 6), 1e-9);
  EXPECT_NEAR(davies_bouldin_score(v, truth.data(), 4), davies_bouldin_score(v, renamed.data(), 6),
              1e-12);
}

TEST(ChooseKMetrics, SampledSilhouetteIsDeterministic) {
  std::vector<std::int32_t> truth;
  const auto x = blobs({{0, 0}, {3, 0}, {0, 3}}, 400, 1.2, 11, &truth);
  const std::size_t n = truth.size();
  const ConstMatrixView<double> v{x.data(), n, 2};
  const double exact = silhouette_score(v, truth.data(), 3, 0, 5, 2);
  // Whole-sample requests are the exact score, whatever the seed.
  EXPECT_EQ(silhouette_score(v, truth.data(), 3, n, 99, 1), exact);
  EXPECT_EQ(silhouette_score(v, truth.data(), 3, n + 10, 3, 2), exact);
  // A sample: the same for a seed, whatever the threads; different seeds draw other rows.
  const double s1 = silhouette_score(v, truth.data(), 3, 300, 42, 1);
  EXPECT_EQ(silhouette_score(v, truth.data(), 3, 300, 42, 2), s1);
  EXPECT_EQ(silhouette_score(v, truth.data(), 3, 300, 42, 0), s1);
  EXPECT_NE(silhouette_score(v, truth.data(), 3, 300, 43, 2), s1);
  EXPECT_NEAR(s1, exact, 0.05);
}

TEST(ChooseKMetrics, ThreadsDoNotChangeTheExactScore) {
  std::vector<std::int32_t> truth;
  const auto x = blobs({{0, 0, 0, 0}, {2, 2, 0, 1}}, 700, 1.0, 5, &truth);
  const ConstMatrixView<double> v{x.data(), truth.size(), 4};
  EXPECT_EQ(silhouette_score(v, truth.data(), 2, 0, 0, 1),
            silhouette_score(v, truth.data(), 2, 0, 0, 2));
}

TEST(ChooseKMetrics, Errors) {
  const std::vector<double> x = {0, 1, 2, 3};
  const ConstMatrixView<double> v{x.data(), 4, 1};
  const std::vector<std::int32_t> one = {0, 0, 0, 0}, each = {0, 1, 2, 3}, bad = {0, 1, 2, 0};
  EXPECT_THROW(silhouette_score(v, one.data(), 1, 0, 0, 1), InvalidArgument);
  EXPECT_THROW(calinski_harabasz_score(v, one.data(), 1), InvalidArgument);
  EXPECT_THROW(davies_bouldin_score(v, one.data(), 3), InvalidArgument);        // 1 label present
  EXPECT_THROW(silhouette_score(v, each.data(), 4, 0, 0, 1), InvalidArgument);  // L == n
  EXPECT_THROW(calinski_harabasz_score(v, each.data(), 4), InvalidArgument);
  EXPECT_THROW(davies_bouldin_score(v, each.data(), 4), InvalidArgument);
  EXPECT_THROW(calinski_harabasz_score(v, bad.data(), 2), InvalidArgument);  // label 2 >= k
  const std::vector<std::int32_t> negative = {0, -1, 0, 1};
  EXPECT_THROW(davies_bouldin_score(v, negative.data(), 2), InvalidArgument);
  EXPECT_THROW(silhouette_score({x.data(), 0, 1}, one.data(), 1, 0, 0, 1), InvalidArgument);
  try {
    calinski_harabasz_score(v, one.data(), 1);
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("number of labels is 1"), std::string::npos) << e.what();
  }
  // A sample of 2 rows holds at most 2 labels: L == m is not allowed.
  const std::vector<std::int32_t> two = {0, 1, 0, 1};
  EXPECT_THROW(silhouette_score(v, two.data(), 2, 2, 0, 1), InvalidArgument);
}

TEST(ChooseK, SuggestsFourOnFourBlobs) {
  const auto x = blobs({{0, 0}, {10, 0}, {0, 10}, {10, 10}}, 100, 0.8, 21, nullptr);
  ChooseKParams p;
  p.k_min = 2;
  p.k_max = 7;
  p.sample_size = 0;
  p.kmeans.seed = 3;
  p.kmeans.threads = 2;
  std::vector<ChooseKProgress> seen;
  const ChooseKResult r = choose_k({x.data(), 400, 2}, nullptr, p,
                                   [&](const ChooseKProgress& s) { seen.push_back(s); });
  ASSERT_EQ(r.rows.size(), 6u);
  EXPECT_EQ(seen.size(), 18u);
  for (std::size_t i = 0; i < r.rows.size(); ++i) {
    EXPECT_EQ(r.rows[i].k, static_cast<int>(i) + 2);
    EXPECT_GE(r.rows[i].n_iter, 1);
    EXPECT_GE(r.rows[i].seconds, 0.0);
    EXPECT_TRUE(std::isfinite(r.rows[i].silhouette));
  }
  EXPECT_EQ(r.suggested_k, 4);
  EXPECT_NE(r.reason.find("k = 4 has the highest silhouette"), std::string::npos) << r.reason;
  EXPECT_GT(r.rows[2].silhouette, 0.8);
  EXPECT_EQ(inertia_elbow(r.rows), 4);
  // The CH peak and the DB minimum are at 4 too on data this clean.
  EXPECT_GT(r.rows[2].calinski_harabasz, r.rows[1].calinski_harabasz);
  EXPECT_LT(r.rows[2].davies_bouldin, r.rows[3].davies_bouldin);

  // Same clustering as a plain fit; the metrics are those of its labels.
  KMeansParams kp = p.kmeans;
  kp.k = 4;
  const auto fit = kmeans_fit<double>({x.data(), 400, 2}, nullptr, kp);
  EXPECT_EQ(r.rows[2].inertia, fit.inertia);
  EXPECT_EQ(r.rows[2].silhouette,
            silhouette_score({x.data(), 400, 2}, fit.labels.data(), 4, 0, 0, 1));

  p.float32 = true;
  p.sample_size = 150;
  const ChooseKResult r32 = choose_k({x.data(), 400, 2}, nullptr, p);
  EXPECT_EQ(r32.suggested_k, 4);
}

TEST(ChooseK, WeightsChangeTheFitNotTheMetricDefinition) {
  const auto x = blobs({{0, 0}, {6, 0}, {0, 6}}, 60, 1.0, 4, nullptr);
  std::vector<double> w(180, 2.0);
  ChooseKParams p;
  p.k_min = 2;
  p.k_max = 4;
  p.sample_size = 0;
  const ChooseKResult plain = choose_k({x.data(), 180, 2}, nullptr, p);
  const ChooseKResult doubled = choose_k({x.data(), 180, 2}, w.data(), p);
  // Uniform weights of 2: the same clusters, twice the inertia, the same (unweighted) metrics.
  for (std::size_t i = 0; i < plain.rows.size(); ++i) {
    EXPECT_NEAR(doubled.rows[i].inertia, 2 * plain.rows[i].inertia, 1e-9 * plain.rows[i].inertia);
    EXPECT_NEAR(doubled.rows[i].silhouette, plain.rows[i].silhouette, 1e-12);
  }
}

TEST(ChooseK, Errors) {
  const auto x = blobs({{0, 0}, {5, 5}}, 5, 1.0, 1, nullptr);
  const ConstMatrixView<double> v{x.data(), 10, 2};
  ChooseKParams p;
  p.k_min = 1;
  p.k_max = 3;
  EXPECT_THROW(choose_k(v, nullptr, p), InvalidArgument);
  p.k_min = 4;
  EXPECT_THROW(choose_k(v, nullptr, p), InvalidArgument);
  p.k_min = 2;
  p.k_max = 10;  // k_max must be < n
  EXPECT_THROW(choose_k(v, nullptr, p), InvalidArgument);
  p.k_max = 3;
  p.kmeans.init = KMeansInit::kExplicit;
  EXPECT_THROW(choose_k(v, nullptr, p), InvalidArgument);
  p.kmeans.init = KMeansInit::kKMeansPlusPlus;
  const std::vector<double> negative(10, -1.0);
  EXPECT_THROW(choose_k(v, negative.data(), p), InvalidArgument);
}

TEST(ChooseK, DuplicateRowsLeaveUndefinedMetricsAsNaN) {
  // Two distinct points: k = 3 finds only 2 clusters, which still scores; nothing throws.
  std::vector<double> x;
  for (int i = 0; i < 20; ++i) x.push_back(i % 2 ? 5.0 : 0.0);
  ChooseKParams p;
  p.k_min = 2;
  p.k_max = 3;
  const ChooseKResult r = choose_k({x.data(), 20, 1}, nullptr, p);
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.suggested_k, 2);
  EXPECT_DOUBLE_EQ(r.rows[0].silhouette, 1.0);

  // One distinct point: a single cluster, so no metric is defined; the scan still ends.
  const std::vector<double> same(20, 3.0);
  const ChooseKResult flat = choose_k({same.data(), 20, 1}, nullptr, p);
  for (const ChooseKRow& row : flat.rows) {
    EXPECT_TRUE(std::isnan(row.silhouette));
    EXPECT_TRUE(std::isnan(row.calinski_harabasz));
    EXPECT_TRUE(std::isnan(row.davies_bouldin));
  }
  EXPECT_EQ(flat.suggested_k, 2);
  EXPECT_NE(flat.reason.find("no silhouette"), std::string::npos) << flat.reason;
}

ChooseKRow row(int k, double inertia, double silhouette) {
  return {k, inertia, silhouette, 1.0, 1.0, 1, 0.0};
}

TEST(ChooseKSuggest, TiesGoToTheSmallerK) {
  const std::vector<ChooseKRow> rows = {row(2, 100, 0.60), row(3, 40, 0.698), row(4, 30, 0.70),
                                        row(5, 25, 0.50), row(6, 22, 0.45)};
  EXPECT_EQ(inertia_elbow(rows), 3);  // gaps 0, .519, .397, .212, 0
  const auto [k, reason] = suggest_k(rows);
  EXPECT_EQ(k, 3);
  EXPECT_NE(reason.find("within 0.005 of the highest (0.700 at k = 4)"), std::string::npos)
      << reason;
  EXPECT_NE(reason.find("(kneedle) agrees"), std::string::npos) << reason;
}

TEST(ChooseKSuggest, HighestSilhouetteAndADisagreeingElbow) {
  const std::vector<ChooseKRow> rows = {row(2, 100, 0.40), row(3, 40, 0.45), row(4, 30, 0.55),
                                        row(5, 25, 0.50)};
  const auto [k, reason] = suggest_k(rows);
  EXPECT_EQ(k, 4);
  EXPECT_NE(reason.find("k = 4 has the highest silhouette (0.550)"), std::string::npos) << reason;
  EXPECT_NE(reason.find("is at k = 3 instead"), std::string::npos) << reason;
}

TEST(ChooseKSuggest, FallbacksWithoutSilhouette) {
  std::vector<ChooseKRow> rows = {row(2, 100, kNaN), row(3, 40, kNaN), row(4, 30, kNaN)};
  EXPECT_EQ(suggest_k(rows).first, 3);
  rows = {row(2, 100, kNaN), row(3, 40, kNaN)};  // too few k for an elbow
  EXPECT_EQ(inertia_elbow(rows), -1);
  EXPECT_EQ(suggest_k(rows).first, 2);
  rows = {row(5, 10, 0.3)};
  const auto [k, reason] = suggest_k(rows);
  EXPECT_EQ(k, 5);
  EXPECT_NE(reason.find("no clear elbow"), std::string::npos) << reason;
  EXPECT_THROW(suggest_k({}), InvalidArgument);
}

// ---- SVG ----------------------------------------------------------------------------------------

// Well-formed enough for a browser: one root <svg> with a viewBox, every tag closed in order,
// attribute values quoted, and no '&' that does not start an entity.
::testing::AssertionResult well_formed(const std::string& s) {
  if (s.rfind("<svg", 0) != 0) return ::testing::AssertionFailure() << "does not start with <svg";
  const std::size_t root_end = s.find('>');
  if (s.substr(0, root_end).find("viewBox=\"") == std::string::npos)
    return ::testing::AssertionFailure() << "root has no viewBox";
  if (s.find("xmlns=\"http://www.w3.org/2000/svg\"") == std::string::npos)
    return ::testing::AssertionFailure() << "no SVG namespace";
  std::vector<std::string> open;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '&') {
      const std::size_t semi = s.find(';', i);
      const std::string entity = s.substr(i, semi == std::string::npos ? 8 : semi - i + 1);
      if (entity != "&amp;" && entity != "&lt;" && entity != "&gt;" && entity != "&quot;" &&
          entity != "&#39;")
        return ::testing::AssertionFailure() << "stray '&' at " << i << ": " << entity;
    }
    if (s[i] != '<') {
      ++i;
      continue;
    }
    if (open.empty() && i > 0) return ::testing::AssertionFailure() << "content after the root";
    std::size_t j = i + 1;
    bool quoted = false;
    while (j < s.size() && (quoted || s[j] != '>')) {
      if (s[j] == '"') quoted = !quoted;
      if (!quoted && s[j] == '<')
        return ::testing::AssertionFailure() << "'<' inside a tag at " << j;
      ++j;
    }
    if (j >= s.size()) return ::testing::AssertionFailure() << "unterminated tag at " << i;
    std::string tag = s.substr(i + 1, j - i - 1);
    if (tag.empty()) return ::testing::AssertionFailure() << "empty tag at " << i;
    if (tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (open.empty() || open.back() != name)
        return ::testing::AssertionFailure()
               << "</" << name << "> closes <" << (open.empty() ? "" : open.back()) << ">";
      open.pop_back();
    } else if (tag.back() != '/') {
      open.push_back(tag.substr(0, tag.find_first_of(" \t\n")));
    }
    i = j + 1;
  }
  if (!open.empty()) return ::testing::AssertionFailure() << "<" << open.back() << "> not closed";
  if (s.find("<script") != std::string::npos || s.find("href") != std::string::npos ||
      s.find(" id=") != std::string::npos)
    return ::testing::AssertionFailure() << "script, link or id";
  return ::testing::AssertionSuccess();
}

TEST(Svg, Escape) {
  EXPECT_EQ(svg::escape("<&>\"'"), "&lt;&amp;&gt;&quot;&#39;");
  EXPECT_EQ(svg::escape("plain text, caf\xC3\xA9"), "plain text, caf\xC3\xA9");
  EXPECT_EQ(svg::escape(std::string("a\x01"
                                    "b\tc",
                                    5)),
            "ab\tc");
}

TEST(Svg, PaletteCycles) {
  for (std::size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(svg::color(i), svg::color(i + 8));
    EXPECT_EQ(svg::color(i).size(), 7u);
    for (std::size_t j = 0; j < i; ++j) EXPECT_NE(svg::color(i), svg::color(j));
  }
}

TEST(Svg, LineChart) {
  const std::string hostile = "A<B & \"C\" 'D'";
  svg::Series a{"inertia", {2, 3, 4, 5}, {100, 40, kNaN, 25}};
  svg::Series b{hostile, {2, 3, 4, 5}, {0.1, 0.5, 0.4, 0.3}};
  const std::string one = svg::line_chart(hostile, "k", "inertia", {a}, 4);
  EXPECT_TRUE(well_formed(one));
  EXPECT_NE(one.find("stroke-dasharray"), std::string::npos);
  EXPECT_EQ(one.find("A<B"), std::string::npos);
  EXPECT_NE(one.find("A&lt;B &amp; &quot;C&quot; &#39;D&#39;"), std::string::npos);
  const std::string two = svg::line_chart("two", "x", "y", {a, b}, kNaN, 600, 400);
  EXPECT_TRUE(well_formed(two));
  EXPECT_EQ(two.find("stroke-dasharray"), std::string::npos);
  EXPECT_NE(two.find("viewBox=\"0 0 600 400\""), std::string::npos);
  EXPECT_TRUE(well_formed(svg::line_chart("empty", "", "", {}, kNaN)));
  EXPECT_TRUE(well_formed(svg::line_chart("flat", "k", "v", {{"s", {1}, {7}}}, 1)));
  EXPECT_THROW(svg::line_chart("bad", "", "", {{"s", {1, 2}, {1}}}, kNaN), InvalidArgument);
  EXPECT_THROW(svg::line_chart("small", "", "", {}, kNaN, 10, 10), InvalidArgument);
}

TEST(Svg, BarChart) {
  const std::string s =
      svg::bar_chart("Share", {"Champions", "At risk <3>", "Lost"}, {41.25, 12.5, -3}, "%.1f%%");
  EXPECT_TRUE(well_formed(s));
  EXPECT_NE(s.find(">41.2%<"), std::string::npos);  // printf rounding, half to even
  EXPECT_NE(s.find(">-3.0%<"), std::string::npos);
  EXPECT_NE(s.find("At risk &lt;3&gt;"), std::string::npos);
  EXPECT_NE(s.find(svg::color(2)), std::string::npos);
  const std::string mono = svg::bar_chart("n", {"a", "b", "c"}, {1, kNaN, 3}, "%g", false);
  EXPECT_TRUE(well_formed(mono));
  EXPECT_EQ(mono.find(svg::color(2)), std::string::npos);
  EXPECT_NE(mono.find(">n/a<"), std::string::npos);
  EXPECT_TRUE(well_formed(svg::bar_chart("none", {}, {}, "%.0f")));
  for (const char* bad : {"%s", "%d", "%f %f", "no conversion", "%n", "%.1f%"})
    EXPECT_THROW(svg::bar_chart("t", {"a"}, {1}, bad), InvalidArgument) << bad;
  EXPECT_THROW(svg::bar_chart("t", {"a", "b"}, {1}, "%f"), InvalidArgument);
}

TEST(Svg, Scatter) {
  const std::string s = svg::scatter("Segments", {0, 1, 2, 3, kNaN}, {1, 0, 3, 2, 1},
                                     {0, 1, 1, -1, 0}, {"first", "second"}, "recency", "spend");
  EXPECT_TRUE(well_formed(s));
  EXPECT_NE(s.find(">first<"), std::string::npos);
  EXPECT_NE(s.find(">second<"), std::string::npos);
  EXPECT_NE(s.find("#999999"), std::string::npos);
  EXPECT_THROW(svg::scatter("t", {0}, {0, 1}, {0}, {}, "", ""), InvalidArgument);
}

TEST(Svg, Dendrogram) {
  // scipy: leaves 0..3; merge 0 = {0, 1} -> 4, merge 1 = {2, 3} -> 5, merge 2 = {4, 5} -> 6.
  const std::vector<std::array<double, 4>> z = {{0, 1, 0.5, 2}, {2, 3, 1.25, 2}, {4, 5, 3.0, 4}};
  const std::vector<std::string> names = {"Champions", "Loyal", "At risk", "Lost & gone"};
  const std::string s = svg::dendrogram("Segments", z, names);
  EXPECT_TRUE(well_formed(s));
  for (const char* name : {">Champions<", ">Loyal<", ">At risk<", ">Lost &amp; gone<"})
    EXPECT_NE(s.find(name), std::string::npos) << name;
  for (std::size_t i = 0; i < 4; ++i) EXPECT_NE(s.find(svg::color(i)), std::string::npos);
  // Three leaves, chained, numbered by default.
  const std::string three = svg::dendrogram("t", {{0, 1, 1, 2}, {3, 2, 2, 3}}, {});
  EXPECT_TRUE(well_formed(three));
  for (const char* name : {">0<", ">1<", ">2<"}) EXPECT_NE(three.find(name), std::string::npos);
  // Many long labels get turned.
  std::vector<std::array<double, 4>> chain;
  std::vector<std::string> many;
  for (int i = 0; i < 12; ++i) many.push_back("segment number " + std::to_string(i));
  for (int i = 0; i < 11; ++i)
    chain.push_back({double(i == 0 ? 0 : 11 + i), double(i + 1), double(i + 1), double(i + 2)});
  const std::string turned = svg::dendrogram("chain", chain, many);
  EXPECT_TRUE(well_formed(turned));
  EXPECT_NE(turned.find("rotate(-45"), std::string::npos);
  EXPECT_TRUE(well_formed(svg::dendrogram("one leaf", {}, {"only"})));

  EXPECT_THROW(svg::dendrogram("t", z, {"a", "b"}), InvalidArgument);       // label count
  EXPECT_THROW(svg::dendrogram("t", {{0, 5, 1, 2}}, {}), InvalidArgument);  // 5 not made yet
  EXPECT_THROW(svg::dendrogram("t", {{0, 1, 1, 2}, {0, 2, 2, 3}}, {}), InvalidArgument);  // 0 twice
  EXPECT_THROW(svg::dendrogram("t", {{0, 1, -1, 2}}, {}), InvalidArgument);   // negative height
  EXPECT_THROW(svg::dendrogram("t", {{0, 0.5, 1, 2}}, {}), InvalidArgument);  // not an index
}

TEST(Svg, Grid) {
  const svg::Series a{"s", {1, 2, 3}, {3, 1, 2}};
  const std::string chart = svg::line_chart("c", "x", "y", {a}, 2, 400, 300);
  const std::string g = svg::grid({chart, chart, chart, chart}, 2, "Four & more");
  EXPECT_TRUE(well_formed(g));
  EXPECT_NE(g.find("viewBox=\"0 0 800 636\""), std::string::npos);
  EXPECT_NE(g.find("<svg x=\"400\" y=\"336\""), std::string::npos);
  EXPECT_THROW(svg::grid({"<g/>"}, 2), InvalidArgument);
  EXPECT_THROW(svg::grid({chart}, 0), InvalidArgument);
}

}  // namespace
}  // namespace segcore
