// segcore: K-means with scikit-learn's semantics (Lloyd's algorithm), on a chosen backend.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "segcore/device.hpp"
#include "segcore/matrix.hpp"

namespace segcore {

enum class KMeansInit {
  kKMeansPlusPlus,  ///< greedy k-means++: 2 + floor(ln k) weighted candidates per step
  kRandom,          ///< k distinct rows drawn with probability proportional to their weight
  kKMeansParallel,  ///< k-means|| (Bahmani et al. 2012), then weighted k-means++ on the candidates
  kExplicit,        ///< the centroids passed to kmeans_fit
};

/// "k-means++" | "random" | "k-means||" -> KMeansInit; throws InvalidArgument otherwise.
KMeansInit parse_kmeans_init(const std::string& name);
const char* kmeans_init_name(KMeansInit init);

/// Progress of a fit, reported through KMeansParams::on_progress.
struct KMeansProgress {
  int init_run = 0;   ///< 0-based restart
  int n_init = 1;     ///< restarts in all
  int iteration = 0;  ///< 1-based Lloyd iteration within the restart
  /// Of the assignment made in this iteration (centroids before update); NaN unless
  /// KMeansParams::progress_inertia.
  double inertia = 0.0;
  double center_shift = 0.0;  ///< sum of squared centroid moves in this iteration
};

/// Parameters of a fit. Defaults follow scikit-learn's KMeans.
struct KMeansParams {
  int k = 8;
  KMeansInit init = KMeansInit::kKMeansPlusPlus;
  /// Restarts; the run with the lowest inertia is kept. 0 = scikit-learn's "auto": 1 for
  /// k-means++, k-means|| and explicit init, 10 for random.
  int n_init = 0;
  int max_iter = 300;
  /// Convergence when the sum of squared centroid moves <= tol * mean per-feature variance.
  double tol = 1e-4;
  std::uint64_t seed = 0;
  /// CPU threads; 0 = all hardware threads. Results do not depend on it.
  int threads = 0;
  Device device = Device::kAuto;
  /// k-means||: candidates drawn per round (as a multiple of k) and rounds.
  double oversampling = 2.0;
  int parallel_rounds = 5;
  /// Called once per Lloyd iteration when set.
  std::function<void(const KMeansProgress&)> on_progress;
  /// Whether on_progress is given each iteration's inertia: one exact distance per point and
  /// iteration more (on the GPU at d = 16, k = 32 about a tenth of a pass's instructions, counted
  /// in its SASS, and a third read of each row); without it, NaN. The fit's result is the same
  /// either way (its inertia comes from the final assignment).
  bool progress_inertia = true;
};

/// Result of a fit. Centroids are in the space the data was given in (the driver centres the
/// data internally, as scikit-learn does, and adds the mean back).
template <typename T>
struct KMeansResult {
  std::size_t k = 0;
  std::size_t d = 0;
  std::vector<T> centroids;          ///< k x d, row-major
  std::vector<std::int32_t> labels;  ///< n, in 0..k-1
  double inertia = 0.0;              ///< sum_i w_i ||x_i - c_{label_i}||^2
  int n_iter = 0;                    ///< Lloyd iterations of the kept run
  bool converged = false;            ///< the kept run stopped before max_iter
  int best_run = 0;                  ///< which restart was kept
  std::size_t distinct_clusters = 0;
  std::vector<std::string> warnings;  ///< e.g. fewer distinct points than k
  std::string backend;         ///< the backend that ran the fit ("cpu (avx2+fma, 2 threads)")
  double init_seconds = 0.0;   ///< seeding, all restarts
  double lloyd_seconds = 0.0;  ///< Lloyd iterations, all restarts
};

/// Fits K-means to x (n x d, row-major). weights: n non-negative sample weights, or nullptr for
/// all ones. init_centroids (k x d, same space as x) is required for KMeansInit::kExplicit and
/// ignored otherwise. Throws InvalidArgument for k < 1, k > n, bad shapes, negative or all-zero
/// weights, non-finite values.
template <typename T>
KMeansResult<T> kmeans_fit(ConstMatrixView<T> x, const T* weights, const KMeansParams& params,
                           ConstMatrixView<T> init_centroids = {});

/// As above for the rows in x (n = x.size() / d rows of d, row-major), taken by value so that the
/// caller can move them in: the CPU backend then centres them in place instead of keeping a
/// second copy (peak memory one data set less). Same result as the view overload, bit for bit.
template <typename T>
KMeansResult<T> kmeans_fit(std::vector<T> x, std::size_t d, const T* weights,
                           const KMeansParams& params, ConstMatrixView<T> init_centroids = {});

/// Index of the nearest centroid for each row of x (n x d); ties go to the lowest index.
/// centroids: k x d. labels: n. distances (optional, n): Euclidean distance to that centroid.
template <typename T>
void kmeans_predict(ConstMatrixView<T> x, ConstMatrixView<T> centroids, std::int32_t* labels,
                    double* distances = nullptr, Device device = Device::kAuto, int threads = 0);

/// Euclidean distances from each row of x (n x d) to every centroid (k x d). out: n x k.
template <typename T>
void kmeans_transform(ConstMatrixView<T> x, ConstMatrixView<T> centroids, MatrixView<double> out,
                      Device device = Device::kAuto, int threads = 0);

}  // namespace segcore
