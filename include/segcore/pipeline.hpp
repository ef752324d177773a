// segcore: the pieces around K-means: feature scaling, per-segment profiles, the model file.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "segcore/matrix.hpp"

namespace segcore {

enum class Scaling { kStandard, kNone };

/// "standard" | "none" -> Scaling; throws InvalidArgument otherwise.
Scaling parse_scaling(const std::string& name);
const char* scaling_name(Scaling scaling);

/// Per-feature transform into the space K-means runs in: optional log1p, then (x - mean) / scale
/// (z-score with the population standard deviation, as scikit-learn's StandardScaler; a constant
/// column gets scale 1). With Scaling::kNone, mean = 0 and scale = 1.
struct Scaler {
  Scaling scaling = Scaling::kNone;
  std::vector<bool> log1p;    ///< d flags
  std::vector<double> mean;   ///< d, after log1p
  std::vector<double> scale;  ///< d, after log1p

  /// Fits on x (n x d); weights (n, optional) count as repeated rows.
  static Scaler fit(ConstMatrixView<double> x, const double* weights, std::vector<bool> log1p,
                    Scaling scaling);
  /// First (row, column) holding a value <= -1 in a log1p column, if any.
  static std::optional<std::pair<std::size_t, std::size_t>> find_log1p_violation(
      ConstMatrixView<double> x, const std::vector<bool>& log1p);
  /// In place, x (n x d): log1p, then standardise.
  void transform(MatrixView<double> x) const;
  /// In place, the inverse of transform (expm1 for log1p columns).
  void inverse_transform(MatrixView<double> x) const;
  std::size_t dims() const { return log1p.size(); }
};

/// pandas' describe() of one feature within one segment (std with ddof = 1, NaN for one row;
/// quartiles by linear interpolation).
struct FeatureSummary {
  double mean = 0, std = 0, min = 0, q25 = 0, q50 = 0, q75 = 0, max = 0;
};

struct SegmentProfile {
  std::size_t count = 0;                 ///< rows in the segment
  double share = 0.0;                    ///< count / n
  double weight = 0.0;                   ///< sum of weights (= count without weights)
  double weight_share = 0.0;             ///< weight / total weight
  std::vector<FeatureSummary> features;  ///< d
};

/// Profiles of k segments over x (n x d, original units). labels: n values in 0..k-1;
/// weights: n or nullptr. Empty segments get count 0 and NaN statistics.
std::vector<SegmentProfile> segment_profiles(ConstMatrixView<double> x, const std::int32_t* labels,
                                             const double* weights, std::size_t k, int threads);

/// What predict needs to score new rows, and how the model was made.
struct KMeansModel {
  std::vector<std::string> features;  ///< d input column names, in order
  Scaler scaler;
  std::size_t k = 0;
  std::vector<double> centroids_scaled;  ///< k x d in the clustering space
  std::vector<double> centroids;         ///< k x d in original units
  std::string dtype = "float64";         ///< precision of the fit
  std::string init;                      ///< how the fit was seeded
  int n_init = 1;
  int max_iter = 300;
  double tol = 1e-4;
  std::uint64_t seed = 0;
  std::string id_column;  ///< of the training input, if any
  std::string weight_column;
  double inertia = 0.0;
  std::string segcore_version;
};

/// Writes the model as JSON (format "segcore-kmeans-model", version 1).
void write_model_json(const KMeansModel& model, std::ostream& out);
/// Reads a model written by write_model_json; ParseError naming the file on a malformed model.
KMeansModel read_model_json(const std::string& path);

}  // namespace segcore
