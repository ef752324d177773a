// segcore: the pieces of the `segment` workflow around K-means: naming segments, matching them
// to last month's, the 2-D projection and the segment dendrogram for the report.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "segcore/matrix.hpp"

namespace segcore {

/// A segment's name and the z-score phrase it came from.
struct SegmentName {
  std::string label;        ///< e.g. "champions" (RFM input) or the phrase itself
  std::string description;  ///< e.g. "high spend, frequent, recent"
};

/// Names k segments from their centroids expressed as z-scores (k x d: how many standard
/// deviations each centroid sits from the overall mean, per feature). Each segment gets the
/// up to three features with |z| >= 0.5, strongest first, in words ("high spend", "recent",
/// ...; "high <feature>" for features without a retail word); "typical" when none stands out.
/// When the features include recency_days, frequency and monetary, the usual RFM labels
/// (champions, loyal, new, at risk, hibernating, lost) are used where their rule fits (see
/// segment.cpp); labels are made unique by a numeric suffix.
std::vector<SegmentName> name_segments(ConstMatrixView<double> z,
                                       const std::vector<std::string>& features);

/// Optimal assignment (Hungarian algorithm, O(n^3)) on a rows x cols cost matrix (row-major):
/// returns for each row the column it is matched to, or -1 when rows > cols and it is left over.
/// Minimises the total cost; ties are broken deterministically.
std::vector<int> optimal_assignment(const std::vector<double>& cost, std::size_t rows,
                                    std::size_t cols);

/// Ward linkage of k centroids (k x d) weighted by their sizes, in scipy's linkage format:
/// k - 1 rows {a, b, distance, leaves}, leaves 0..k-1, merge i creating cluster k + i; distance
/// = sqrt(2 w_a w_b / (w_a + w_b)) ||c_a - c_b|| (scipy's Ward distance for clusters of
/// weights w). Sizes must be positive.
std::vector<std::array<double, 4>> ward_linkage(ConstMatrixView<double> centroids,
                                                const std::vector<double>& sizes);

/// Principal components of x (n x d): the top `components` unit eigenvectors of the covariance
/// (d x components, column j = component j, sign fixed so the largest |entry| is positive), the
/// column means and the fraction of variance each explains.
struct Pca {
  std::size_t d = 0, components = 0;
  std::vector<double> mean;       ///< d
  std::vector<double> axes;       ///< d x components, row-major
  std::vector<double> explained;  ///< components, fractions of the total variance
  /// Projects row x (d values) onto the components (out: components values).
  void project(const double* x, double* out) const;
};
Pca fit_pca(ConstMatrixView<double> x, std::size_t components);

/// Old-to-new counts: table[o * (k_new + 1) + j] customers with old segment o and new segment j;
/// column k_new counts customers of the old run missing from the new one; a last row (o =
/// k_old) counts new customers absent from the old run. Customers are matched by id.
struct Migration {
  std::size_t k_old = 0, k_new = 0;
  std::vector<std::uint64_t> table;  ///< (k_old + 1) x (k_new + 1)
  std::uint64_t at(std::size_t old_segment, std::size_t new_segment) const {
    return table[old_segment * (k_new + 1) + new_segment];
  }
};
Migration migration_table(const std::vector<std::string>& old_ids,
                          const std::vector<std::int32_t>& old_labels, std::size_t k_old,
                          const std::vector<std::string>& new_ids,
                          const std::vector<std::int32_t>& new_labels, std::size_t k_new);

/// Sample skewness (Fisher-Pearson, as pandas' skew() without the bias correction) of column f
/// of x (n x d).
double column_skewness(ConstMatrixView<double> x, std::size_t f);

}  // namespace segcore
