// The K-means driver: validation, centring, restarts, the Lloyd loop and empty-cluster
// relocation, with scikit-learn's semantics. It talks to a KMeansBackend, never to a device.
#include "segcore/kmeans.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>

#include "kmeans/driver.hpp"
#include "segcore/error.hpp"

namespace segcore {

KMeansInit parse_kmeans_init(const std::string& name) {
  if (name == "k-means++") return KMeansInit::kKMeansPlusPlus;
  if (name == "random") return KMeansInit::kRandom;
  if (name == "k-means||") return KMeansInit::kKMeansParallel;
  throw InvalidArgument("unknown init '" + name + "' (expected k-means++, k-means|| or random)");
}

const char* kmeans_init_name(KMeansInit init) {
  switch (init) {
    case KMeansInit::kKMeansPlusPlus:
      return "k-means++";
    case KMeansInit::kRandom:
      return "random";
    case KMeansInit::kKMeansParallel:
      return "k-means||";
    case KMeansInit::kExplicit:
      return "explicit";
  }
  return "?";
}

namespace detail {
namespace {

/// scikit-learn's _relocate_empty_clusters_dense: each empty cluster takes one of the points
/// farthest from their centres; the point's weight moves from its old cluster's sums to the
/// empty one's. Labels are left as assigned (the next pass reassigns).
template <typename T>
void relocate_empty_clusters(KMeansBackend<T>& backend, const HeldRows<T>& rows,
                             const std::vector<T>& centers, std::vector<double>& sums,
                             std::vector<double>& wsum) {
  const std::size_t k = wsum.size(), d = rows.d;
  std::vector<std::size_t> empty;
  for (std::size_t j = 0; j < k; ++j)
    if (wsum[j] == 0.0) empty.push_back(j);
  if (empty.empty()) return;
  const std::vector<FarPoint> far = backend.farthest({centers.data(), k, d}, empty.size());
  const std::size_t moves = std::min(empty.size(), far.size());
  std::vector<std::int64_t> index(moves);
  for (std::size_t e = 0; e < moves; ++e) index[e] = far[e].index;
  std::vector<T> points(moves * d);
  backend.copy_rows(index.data(), moves, points.data());
  for (std::size_t e = 0; e < moves; ++e) {
    const std::size_t to = empty[e];
    const std::size_t from = static_cast<std::size_t>(far[e].label);
    const double w = rows.weight(far[e].index);
    const T* x = points.data() + e * d;
    for (std::size_t f = 0; f < d; ++f) {
      sums[from * d + f] -= static_cast<double>(x[f]) * w;
      sums[to * d + f] = static_cast<double>(x[f]) * w;
    }
    wsum[to] = w;
    wsum[from] -= w;
  }
}

/// scikit-learn's _is_same_clustering: equal up to a renumbering of the clusters.
bool same_clustering(const std::vector<std::int32_t>& a, const std::vector<std::int32_t>& b,
                     std::size_t k) {
  std::vector<std::int32_t> map(k, -1);
  for (std::size_t i = 0; i < a.size(); ++i) {
    std::int32_t& m = map[a[i]];
    if (m == -1) {
      m = b[i];
    } else if (m != b[i]) {
      return false;
    }
  }
  return true;
}

template <typename T>
void validate(ConstMatrixView<T> x, const T* weights, const KMeansParams& p,
              ConstMatrixView<T> init) {
  if (x.rows == 0 || x.cols == 0) throw InvalidArgument("the data has no rows or no columns");
  if (p.k < 1) throw InvalidArgument("k must be at least 1 (got " + std::to_string(p.k) + ")");
  if (static_cast<std::size_t>(p.k) > x.rows)
    throw InvalidArgument("k = " + std::to_string(p.k) + " is larger than the number of rows (" +
                          std::to_string(x.rows) + ")");
  if (p.max_iter < 1) throw InvalidArgument("max_iter must be at least 1");
  if (!(p.tol >= 0.0) || !std::isfinite(p.tol)) throw InvalidArgument("tol must be >= 0");
  if (p.n_init < 0) throw InvalidArgument("n_init must be >= 1 (0 = auto)");
  if (p.init == KMeansInit::kKMeansParallel && (p.oversampling <= 0.0 || p.parallel_rounds < 1))
    throw InvalidArgument("k-means|| needs oversampling > 0 and at least one round");
  if (weights) {
    bool any_positive = false;
    for (std::size_t i = 0; i < x.rows; ++i) {
      if (!(weights[i] >= 0) || !std::isfinite(weights[i]))
        throw InvalidArgument("sample weight at row " + std::to_string(i) +
                              " is negative or not finite");
      any_positive = any_positive || weights[i] > 0;
    }
    if (!any_positive) throw InvalidArgument("all sample weights are zero");
  }
  if (p.init == KMeansInit::kExplicit) {
    if (init.rows != static_cast<std::size_t>(p.k) || init.cols != x.cols)
      throw InvalidArgument("initial centroids must be " + std::to_string(p.k) + " x " +
                            std::to_string(x.cols) + " (got " + std::to_string(init.rows) + " x " +
                            std::to_string(init.cols) + ")");
    for (std::size_t e = 0; e < init.size(); ++e)
      if (!std::isfinite(init.data[e])) throw InvalidArgument("initial centroids are not finite");
  }
}

/// After column_moments gave a non-finite mean or variance: names the first NaN or infinite
/// value, or says that finite values overflowed the sums.
template <typename T>
[[noreturn]] void reject_nonfinite(KMeansBackend<T>& backend, std::size_t d) {
  const std::int64_t at = backend.first_nonfinite();
  if (at < 0)
    throw InvalidArgument(
        "the data's values are too large: a column's sum or sum of squares overflows double");
  const auto i = static_cast<std::size_t>(at);
  throw InvalidArgument("non-finite value at row " + std::to_string(i / d) + ", column " +
                        std::to_string(i % d));
}

bool all_finite(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [](double e) { return std::isfinite(e); });
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

template <typename T>
LloydOutcome run_lloyd(KMeansBackend<T>& backend, const HeldRows<T>& rows, std::vector<T>& centers,
                       int max_iter, double tol_abs,
                       const std::function<void(int, double, double)>& on_iteration,
                       bool iteration_inertia) {
  const std::size_t d = rows.d, k = centers.size() / d;
  std::vector<double> sums(k * d), wsum(k);
  std::vector<T> next(k * d);
  backend.reset_labels();
  LloydOutcome out;
  bool strict = false;
  int it = 0;
  for (; it < max_iter; ++it) {
    // The inertia only for a progress report that shows it (as scikit-learn computes it only
    // when verbose): the returned one comes from the final assignment below.
    const LloydPassResult pass =
        backend.lloyd_pass({centers.data(), k, d}, sums.data(), wsum.data(), iteration_inertia);
    relocate_empty_clusters(backend, rows, centers, sums, wsum);
    double shift = 0.0;
    for (std::size_t j = 0; j < k; ++j) {
      // As scikit-learn: a cluster left with zero weight keeps its (zero) sums.
      const double alpha = wsum[j] > 0.0 ? 1.0 / wsum[j] : 1.0;
      for (std::size_t f = 0; f < d; ++f) {
        next[j * d + f] = static_cast<T>(sums[j * d + f] * alpha);
        const double move = static_cast<double>(next[j * d + f]) - centers[j * d + f];
        shift += move * move;
      }
    }
    centers.swap(next);
    if (on_iteration) on_iteration(it + 1, pass.inertia, shift);
    if (pass.changed == 0) {
      strict = true;
      break;
    }
    if (shift <= tol_abs) break;
  }
  out.converged = it < max_iter;
  out.n_iter = out.converged ? it + 1 : max_iter;
  if (strict) {
    out.inertia = backend.inertia({centers.data(), k, d});
  } else {
    // Reassign so that the labels match the returned centres.
    out.inertia = backend.lloyd_pass({centers.data(), k, d}, nullptr, nullptr).inertia;
  }
  return out;
}

template LloydOutcome run_lloyd<float>(KMeansBackend<float>&, const HeldRows<float>&,
                                       std::vector<float>&, int, double,
                                       const std::function<void(int, double, double)>&, bool);
template LloydOutcome run_lloyd<double>(KMeansBackend<double>&, const HeldRows<double>&,
                                        std::vector<double>&, int, double,
                                        const std::function<void(int, double, double)>&, bool);

}  // namespace detail

namespace detail {
namespace {

/// The whole fit. `load` hands the rows x to the backend (copied or adopted); after it, x is not
/// read again (an adopted x is gone: the backend reads its own rows).
template <typename T, typename Load>
KMeansResult<T> fit(ConstMatrixView<T> x, const T* weights, const KMeansParams& params,
                    ConstMatrixView<T> init_centroids, Load load) {
  validate(x, weights, params, init_centroids);
  const std::size_t n = x.rows, d = x.cols, k = static_cast<std::size_t>(params.k);
  KMeansResult<T> result;
  result.k = k;
  result.d = d;

  auto backend = make_kmeans_backend<T>(params.device, params.threads);
  result.backend = backend->describe();
  auto t0 = std::chrono::steady_clock::now();
  load(*backend);

  // As scikit-learn: centre on the (unweighted) column means, tolerance relative to the mean
  // per-feature variance.
  std::vector<double> mean(d), variance(d);
  backend->column_moments(mean.data(), variance.data());
  // The moments sum every value, so all finite means no value is NaN or infinite: the data is
  // checked without a pass of its own (a serial scan took 1.8 s of a 2 s budget at 100M x 16).
  if (!all_finite(mean) || !all_finite(variance)) reject_nonfinite(*backend, d);
  double mean_variance = 0.0;
  for (double v : variance) mean_variance += v;
  const double tol_abs = params.tol * mean_variance / static_cast<double>(d);
  std::vector<T> shift(d);
  for (std::size_t f = 0; f < d; ++f) shift[f] = static_cast<T>(mean[f]);
  backend->subtract(shift.data());

  HeldRows<T> rows;
  rows.n = n;
  rows.d = d;
  rows.weights = weights;

  int n_init = params.n_init;
  if (params.init == KMeansInit::kExplicit) {
    if (n_init > 1)
      result.warnings.push_back(
          "explicit initial centroids given: n_init = " + std::to_string(n_init) + " reduced to 1");
    n_init = 1;
  } else if (n_init == 0) {
    n_init = params.init == KMeansInit::kRandom ? 10 : 1;
  }
  result.init_seconds = detail::seconds_since(t0);  // upload and centring count as seeding

  std::vector<std::int32_t> labels(n);
  std::vector<T> best_centers;
  double best_inertia = 0.0;
  for (int run = 0; run < n_init; ++run) {
    t0 = std::chrono::steady_clock::now();
    detail::Rng rng(detail::mix64(params.seed) ^
                    detail::mix64(static_cast<std::uint64_t>(run) + 1));
    std::vector<T> centers;
    if (params.init == KMeansInit::kExplicit) {
      centers.resize(k * d);
      for (std::size_t j = 0; j < k; ++j)
        for (std::size_t f = 0; f < d; ++f) centers[j * d + f] = init_centroids(j, f) - shift[f];
    } else {
      centers = detail::seed_centroids(*backend, rows, params.init, k, rng, params, tol_abs);
    }
    result.init_seconds += detail::seconds_since(t0);

    t0 = std::chrono::steady_clock::now();
    std::function<void(int, double, double)> report;
    if (params.on_progress) {
      report = [&](int iteration, double inertia, double center_shift) {
        KMeansProgress p;
        p.init_run = run;
        p.n_init = n_init;
        p.iteration = iteration;
        p.inertia = inertia;
        p.center_shift = center_shift;
        params.on_progress(p);
      };
    }
    const detail::LloydOutcome outcome =
        detail::run_lloyd(*backend, rows, centers, params.max_iter, tol_abs, report,
                          params.on_progress && params.progress_inertia);
    backend->labels(labels.data());
    result.lloyd_seconds += detail::seconds_since(t0);

    if (run == 0 ||
        (outcome.inertia < best_inertia && !detail::same_clustering(labels, result.labels, k))) {
      best_inertia = outcome.inertia;
      best_centers = centers;
      result.labels = labels;
      result.inertia = outcome.inertia;
      result.n_iter = outcome.n_iter;
      result.converged = outcome.converged;
      result.best_run = run;
    }
  }

  result.centroids.resize(k * d);
  for (std::size_t j = 0; j < k; ++j)
    for (std::size_t f = 0; f < d; ++f)
      result.centroids[j * d + f] =
          static_cast<T>(static_cast<double>(best_centers[j * d + f]) + mean[f]);
  std::vector<char> seen(k, 0);
  for (std::int32_t l : result.labels) seen[l] = 1;
  result.distinct_clusters = static_cast<std::size_t>(std::count(seen.begin(), seen.end(), 1));
  if (result.distinct_clusters < k)
    result.warnings.push_back("number of distinct clusters (" +
                              std::to_string(result.distinct_clusters) +
                              ") found smaller than k (" + std::to_string(k) +
                              "): possibly due to duplicate points in the data");
  return result;
}

}  // namespace
}  // namespace detail

template <typename T>
KMeansResult<T> kmeans_fit(ConstMatrixView<T> x, const T* weights, const KMeansParams& params,
                           ConstMatrixView<T> init_centroids) {
  return detail::fit(x, weights, params, init_centroids,
                     [&](KMeansBackend<T>& backend) { backend.set_data(x, weights); });
}

template <typename T>
KMeansResult<T> kmeans_fit(std::vector<T> x, std::size_t d, const T* weights,
                           const KMeansParams& params, ConstMatrixView<T> init_centroids) {
  if (d == 0 || x.size() % d != 0)
    throw InvalidArgument("the data's size (" + std::to_string(x.size()) +
                          ") is not a whole number of rows of d = " + std::to_string(d));
  return detail::fit(ConstMatrixView<T>{x.data(), x.size() / d, d}, weights, params, init_centroids,
                     [&](KMeansBackend<T>& backend) { backend.adopt_data(x, d, weights); });
}

template <typename T>
void kmeans_predict(ConstMatrixView<T> x, ConstMatrixView<T> centroids, std::int32_t* labels,
                    double* distances, Device device, int threads) {
  if (centroids.rows == 0 || centroids.cols != x.cols)
    throw InvalidArgument("predict: centroids must be k x d with d = the data's columns");
  if (x.rows == 0) return;
  auto backend = make_kmeans_backend<T>(device, threads);
  backend->set_data(x, nullptr);
  backend->nearest(centroids, labels, distances);
  if (distances)
    for (std::size_t i = 0; i < x.rows; ++i) distances[i] = std::sqrt(distances[i]);
}

template <typename T>
void kmeans_transform(ConstMatrixView<T> x, ConstMatrixView<T> centroids, MatrixView<double> out,
                      Device device, int threads) {
  if (centroids.rows == 0 || centroids.cols != x.cols)
    throw InvalidArgument("transform: centroids must be k x d with d = the data's columns");
  if (out.rows != x.rows || out.cols != centroids.rows)
    throw InvalidArgument("transform: output must be n x k");
  if (x.rows == 0) return;
  auto backend = make_kmeans_backend<T>(device, threads);
  backend->set_data(x, nullptr);
  backend->distances_sq(centroids, out);
  for (std::size_t e = 0; e < out.size(); ++e) out.data[e] = std::sqrt(out.data[e]);
}

#define SEGCORE_INSTANTIATE(T)                                                                    \
  template KMeansResult<T> kmeans_fit<T>(ConstMatrixView<T>, const T*, const KMeansParams&,       \
                                         ConstMatrixView<T>);                                     \
  template KMeansResult<T> kmeans_fit<T>(std::vector<T>, std::size_t, const T*,                   \
                                         const KMeansParams&, ConstMatrixView<T>);                \
  template void kmeans_predict<T>(ConstMatrixView<T>, ConstMatrixView<T>, std::int32_t*, double*, \
                                  Device, int);                                                   \
  template void kmeans_transform<T>(ConstMatrixView<T>, ConstMatrixView<T>, MatrixView<double>,   \
                                    Device, int);
SEGCORE_INSTANTIATE(float)
SEGCORE_INSTANTIATE(double)
#undef SEGCORE_INSTANTIATE

}  // namespace segcore
