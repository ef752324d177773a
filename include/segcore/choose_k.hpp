// segcore: cluster-quality metrics (scikit-learn's definitions) and a scan over k that fits
// K-means for every k in a range, scores each clustering and suggests one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "segcore/kmeans.hpp"
#include "segcore/matrix.hpp"

namespace segcore {

/// scikit-learn's silhouette_score (Euclidean) over a seeded random sample of `sample_size` rows
/// (all rows when sample_size == 0 or >= n): the mean over sampled rows of (b - a) / max(a, b),
/// distances among the sampled rows only; a row alone in its cluster scores 0.
///
/// x: n x d, row-major. labels: n values in 0..k-1. The sample is drawn without replacement from
/// `seed` alone (the same rows for any `threads`; 0 = all hardware threads). Exact pairwise
/// distances, O(m^2 d) for m sampled rows; per-row sums run in a fixed order, so the result does
/// not depend on `threads`. Throws InvalidArgument for bad shapes or labels, or when the sampled
/// rows hold fewer than 2 or more than m - 1 distinct labels (scikit-learn's ValueError).
double silhouette_score(ConstMatrixView<double> x, const std::int32_t* labels, std::size_t k,
                        std::size_t sample_size, std::uint64_t seed, int threads);

/// scikit-learn's calinski_harabasz_score: [B / (L - 1)] / [W / (n - L)] with B the between-
/// cluster dispersion (cluster sizes times squared distances of cluster means to the overall
/// mean) and W the within-cluster sum of squares, over the L labels present (1.0 when W == 0).
/// x: n x d, row-major; labels: n values in 0..k-1. Throws InvalidArgument unless 2 <= L <= n - 1.
double calinski_harabasz_score(ConstMatrixView<double> x, const std::int32_t* labels,
                               std::size_t k);

/// scikit-learn's davies_bouldin_score: the mean over the L present clusters of
/// max_{j != i} (s_i + s_j) / ||c_i - c_j||, s_i the mean Euclidean distance of cluster i's rows
/// to its mean c_i (0 when every s_i or every centroid distance is ~0, as scikit-learn).
/// x: n x d, row-major; labels: n values in 0..k-1. Throws InvalidArgument unless 2 <= L <= n - 1.
double davies_bouldin_score(ConstMatrixView<double> x, const std::int32_t* labels, std::size_t k);

struct ChooseKParams {
  int k_min = 2;
  int k_max = 12;
  /// Rows sampled for the silhouette (0 = all rows, exact; O(sample^2 d) per k).
  std::size_t sample_size = 10000;
  KMeansParams kmeans;  // k is set per run
  bool float32 = false;
};

struct ChooseKRow {
  int k;
  double inertia;            ///< K-means' (weighted) inertia
  double silhouette;         ///< NaN when undefined (fewer than 2 distinct labels in the sample)
  double calinski_harabasz;  ///< NaN when undefined
  double davies_bouldin;     ///< NaN when undefined
  int n_iter;                ///< Lloyd iterations of the kept run
  double seconds;            ///< wall time of the K-means fit (init + Lloyd) for this k
};

struct ChooseKResult {
  std::vector<ChooseKRow> rows;  ///< one per k, ascending
  int suggested_k;
  std::string reason;  ///< one sentence: why suggested_k, and whether the inertia elbow agrees
};

/// Where a scan stands, reported through choose_k's on_progress.
struct ChooseKProgress {
  int k = 0;
  int index = 0;  ///< 0-based position of k in [k_min, k_max]
  int count = 0;  ///< k_max - k_min + 1
  enum class Stage { kFitting, kScoring, kDone } stage = Stage::kFitting;
};

/// Fits K-means for every k in [k_min, k_max] on x (n x d, already scaled), weights optional,
/// and scores each clustering. Metrics are unweighted, as scikit-learn's.
///
/// Every fit uses params.kmeans (seed, n_init, init, threads, tol, max_iter, device) with its k
/// replaced, on float32 or float64 copies of x, so it returns the clustering `kmeans_fit` gives for
/// the same parameters. Calinski-Harabasz and Davies-Bouldin use all rows; the silhouette uses
/// one seeded sample of params.sample_size rows, the same rows for every k.
///
/// Suggestion: the k with the highest silhouette, except that any smaller k within 0.005 of it
/// wins (the simpler model when the evidence is a tie). The reason names that silhouette and
/// whether the inertia elbow (kneedle: the k furthest above the chord from the first to the last
/// normalised inertia) agrees. Without any defined silhouette the elbow is suggested, and without
/// an elbow (fewer than 3 values of k) k_min.
///
/// Throws InvalidArgument for k_min < 2, k_max < k_min, k_max >= n, and whatever kmeans_fit
/// throws (bad weights, non-finite values).
ChooseKResult choose_k(ConstMatrixView<double> x, const double* weights,
                       const ChooseKParams& params);

/// choose_k with a callback before each fit, before its scoring and after it.
ChooseKResult choose_k(ConstMatrixView<double> x, const double* weights,
                       const ChooseKParams& params,
                       const std::function<void(const ChooseKProgress&)>& on_progress);

/// The rule choose_k applies to its rows (ascending k, at least one): suggested k and reason.
/// Exposed so the rule can be tested on given curves.
std::pair<int, std::string> suggest_k(const std::vector<ChooseKRow>& rows);

/// The inertia elbow by kneedle over rows (ascending k): the k maximising the normalised
/// decrease of inertia minus the normalised increase of k; -1 with fewer than 3 rows or a flat
/// inertia.
int inertia_elbow(const std::vector<ChooseKRow>& rows);

}  // namespace segcore
