#include <algorithm>
#include <cmath>
#include <limits>

#include "parallel.hpp"
#include "segcore/error.hpp"
#include "segcore/pipeline.hpp"

namespace segcore {
namespace {

/// numpy.percentile(method="linear") on sorted-by-selection values: the order statistics around
/// q * (m - 1) are found with nth_element.
double quantile(std::vector<double>& v, double q) {
  const double pos = q * static_cast<double>(v.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(std::floor(pos));
  const double frac = pos - static_cast<double>(lo);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(lo), v.end());
  const double a = v[lo];
  if (frac == 0.0 || lo + 1 >= v.size()) return a;
  const double b = *std::min_element(v.begin() + static_cast<std::ptrdiff_t>(lo) + 1, v.end());
  return frac < 0.5 ? a + (b - a) * frac : b - (b - a) * (1.0 - frac);
}

}  // namespace

std::vector<SegmentProfile> segment_profiles(ConstMatrixView<double> x, const std::int32_t* labels,
                                             const double* weights, std::size_t k, int threads) {
  const std::size_t n = x.rows, d = x.cols;
  std::vector<SegmentProfile> out(k);
  // Rows grouped by segment (a counting sort), so each segment's column is gathered once.
  std::vector<std::size_t> start(k + 1, 0);
  for (std::size_t i = 0; i < n; ++i) {
    if (labels[i] < 0 || static_cast<std::size_t>(labels[i]) >= k)
      throw InvalidArgument("segment_profiles: label out of range at row " + std::to_string(i));
    ++start[labels[i] + 1];
  }
  for (std::size_t j = 0; j < k; ++j) start[j + 1] += start[j];
  std::vector<std::size_t> order(n), fill(start.begin(), start.end() - 1);
  for (std::size_t i = 0; i < n; ++i) order[fill[labels[i]]++] = i;

  double total_weight = 0.0;
  for (std::size_t i = 0; i < n; ++i) total_weight += weights ? weights[i] : 1.0;
  for (std::size_t j = 0; j < k; ++j) {
    SegmentProfile& p = out[j];
    p.count = start[j + 1] - start[j];
    p.share = n ? static_cast<double>(p.count) / static_cast<double>(n) : 0.0;
    for (std::size_t t = start[j]; t < start[j + 1]; ++t)
      p.weight += weights ? weights[order[t]] : 1.0;
    p.weight_share = total_weight > 0 ? p.weight / total_weight : 0.0;
    p.features.resize(d);
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  detail::parallel_for(k * d, threads, [&](std::size_t task) {
    const std::size_t j = task / d, f = task % d;
    FeatureSummary& s = out[j].features[f];
    const std::size_t m = out[j].count;
    if (m == 0) {
      s = {nan, nan, nan, nan, nan, nan, nan};
      return;
    }
    std::vector<double> v(m);
    for (std::size_t t = 0; t < m; ++t) v[t] = x(order[start[j] + t], f);
    double sum = 0.0;
    for (double e : v) sum += e;
    s.mean = sum / static_cast<double>(m);
    double ss = 0.0;
    for (double e : v) ss += (e - s.mean) * (e - s.mean);
    s.std = m > 1 ? std::sqrt(ss / static_cast<double>(m - 1)) : nan;
    s.min = *std::min_element(v.begin(), v.end());
    s.max = *std::max_element(v.begin(), v.end());
    s.q25 = quantile(v, 0.25);
    s.q50 = quantile(v, 0.50);
    s.q75 = quantile(v, 0.75);
  });
  return out;
}

}  // namespace segcore
