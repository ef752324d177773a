// Seeding: k-means++, random and k-means||, driven through the backend's passes.
#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>

#include "cpu/cpu_backend.hpp"
#include "kmeans/driver.hpp"
#include "segcore/error.hpp"

namespace segcore::detail {
namespace {

/// One index drawn with probability proportional to its weight.
template <typename T>
std::int64_t weighted_choice(const HeldRows<T>& rows, Rng& rng) {
  if (!rows.weights) {
    return static_cast<std::int64_t>(rng.uniform() * static_cast<double>(rows.n)) %
           static_cast<std::int64_t>(rows.n);
  }
  double total = 0.0;
  for (std::size_t i = 0; i < rows.n; ++i) total += rows.weight(i);
  const double target = rng.uniform() * total;
  double s = 0.0;
  std::int64_t last_positive = 0;
  for (std::size_t i = 0; i < rows.n; ++i) {
    const double w = rows.weight(i);
    if (w <= 0.0) continue;
    last_positive = static_cast<std::int64_t>(i);
    s += w;
    if (s > target) return last_positive;
  }
  return last_positive;
}

/// k distinct indices drawn without replacement with probability proportional to weight
/// (Efraimidis-Spirakis: the k largest keys log(u) / w).
template <typename T>
std::vector<std::int64_t> weighted_sample_without_replacement(const HeldRows<T>& rows,
                                                              std::size_t k, Rng& rng) {
  using Entry = std::pair<double, std::int64_t>;  // (key, index); min-heap on key
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
  for (std::size_t i = 0; i < rows.n; ++i) {
    const double w = rows.weight(i);
    const double u = rng.uniform();
    if (w <= 0.0) continue;
    const double key = std::log(u > 0.0 ? u : std::numeric_limits<double>::min()) / w;
    if (heap.size() < k) {
      heap.push({key, static_cast<std::int64_t>(i)});
    } else if (key > heap.top().first) {
      heap.pop();
      heap.push({key, static_cast<std::int64_t>(i)});
    }
  }
  if (heap.size() < k)
    throw InvalidArgument("random init needs k = " + std::to_string(k) +
                          " rows with positive weight, found " + std::to_string(heap.size()));
  std::vector<std::int64_t> out(k);
  for (std::size_t j = k; j-- > 0;) {
    out[j] = heap.top().second;
    heap.pop();
  }
  return out;
}

/// k-means|| (Bahmani et al. 2012): rounds of independent D^2-weighted draws of about
/// oversampling * k points each, then the candidates, weighted by the weight of the points
/// nearest to them, are reduced to k centres by weighted k-means++ and Lloyd.
template <typename T>
std::vector<T> kmeans_parallel(KMeansBackend<T>& backend, const HeldRows<T>& rows, std::size_t k,
                               Rng& rng, const KMeansParams& params, double tol_abs) {
  const std::size_t d = rows.d;
  std::vector<T> cand(d);
  const std::int64_t first = weighted_choice(rows, rng);
  backend.copy_rows(&first, 1, cand.data());
  double psi = backend.update_closest({cand.data(), 1, d}, true);
  const double ell = params.oversampling * static_cast<double>(k);
  for (int round = 0; round < params.parallel_rounds && psi > 0.0; ++round) {
    const std::vector<std::int64_t> picked = backend.oversample(ell / psi, rng.next());
    if (picked.empty()) continue;
    const std::size_t before = cand.size() / d;
    cand.resize((before + picked.size()) * d);
    backend.copy_rows(picked.data(), picked.size(), &cand[before * d]);
    psi = backend.update_closest({&cand[before * d], picked.size(), d}, false);
  }
  // Too few candidates (tiny data or few distinct points): D^2 draws for the rest.
  while (cand.size() / d < k) {
    const double target = rng.uniform() * psi;
    std::int64_t i = 0;
    backend.sample_by_potential(&target, 1, &i);
    const std::size_t at = cand.size();
    cand.resize(at + d);
    backend.copy_rows(&i, 1, &cand[at]);
    psi = backend.update_closest({&cand[at], 1, d}, false);
  }
  const std::size_t m = cand.size() / d;
  if (m == k) return cand;

  std::vector<double> sums(m * d), wsum(m);
  // (Only the weights are used: no inertia.)
  backend.lloyd_pass({cand.data(), m, d}, sums.data(), wsum.data(), false);
  std::vector<T> cand_w(m);
  for (std::size_t j = 0; j < m; ++j) cand_w[j] = static_cast<T>(wsum[j]);

  auto reducer = cpu::make_cpu_backend<T>(params.threads);
  reducer->set_data({cand.data(), m, d}, cand_w.data());
  HeldRows<T> cand_rows;
  cand_rows.n = m;
  cand_rows.d = d;
  cand_rows.weights = cand_w.data();
  std::vector<T> centers = kmeans_plusplus<T>(*reducer, cand_rows, k, rng);
  constexpr int kReduceIterations = 30;
  run_lloyd<T>(*reducer, cand_rows, centers, kReduceIterations, tol_abs, {}, false);
  return centers;
}

}  // namespace

template <typename T>
std::vector<T> kmeans_plusplus(KMeansBackend<T>& backend, const HeldRows<T>& rows, std::size_t k,
                               Rng& rng) {
  const std::size_t d = rows.d;
  std::vector<T> centers(k * d);
  const std::int64_t first = weighted_choice(rows, rng);
  backend.copy_rows(&first, 1, centers.data());
  double pot = backend.update_closest({centers.data(), 1, d}, true);
  const std::size_t trials = 2 + static_cast<std::size_t>(std::log(static_cast<double>(k)));
  std::vector<double> targets(trials), pots(trials);
  std::vector<std::int64_t> picked(trials);
  std::vector<T> cand(trials * d);
  for (std::size_t c = 1; c < k; ++c) {
    for (double& t : targets) t = rng.uniform() * pot;
    backend.sample_by_potential(targets.data(), trials, picked.data());
    backend.copy_rows(picked.data(), trials, cand.data());
    backend.candidate_potentials({cand.data(), trials, d}, pots.data());
    const std::size_t best =
        static_cast<std::size_t>(std::min_element(pots.begin(), pots.end()) - pots.begin());
    std::copy(&cand[best * d], &cand[best * d] + d, &centers[c * d]);
    pot = backend.update_closest({&centers[c * d], 1, d}, false);
  }
  return centers;
}

template <typename T>
std::vector<T> seed_centroids(KMeansBackend<T>& backend, const HeldRows<T>& rows, KMeansInit init,
                              std::size_t k, Rng& rng, const KMeansParams& params, double tol_abs) {
  switch (init) {
    case KMeansInit::kKMeansPlusPlus:
      return kmeans_plusplus(backend, rows, k, rng);
    case KMeansInit::kKMeansParallel:
      return kmeans_parallel(backend, rows, k, rng, params, tol_abs);
    case KMeansInit::kRandom: {
      std::vector<T> centers(k * rows.d);
      const auto picked = weighted_sample_without_replacement(rows, k, rng);
      backend.copy_rows(picked.data(), k, centers.data());
      return centers;
    }
    case KMeansInit::kExplicit:
      break;
  }
  throw InvalidArgument("explicit init needs the centroids to be given");
}

#define SEGCORE_INSTANTIATE(T)                                                                   \
  template std::vector<T> seed_centroids<T>(KMeansBackend<T>&, const HeldRows<T>&, KMeansInit,   \
                                            std::size_t, Rng&, const KMeansParams&, double);     \
  template std::vector<T> kmeans_plusplus<T>(KMeansBackend<T>&, const HeldRows<T>&, std::size_t, \
                                             Rng&);
SEGCORE_INSTANTIATE(float)
SEGCORE_INSTANTIATE(double)
#undef SEGCORE_INSTANTIATE

}  // namespace segcore::detail
