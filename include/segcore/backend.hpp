// segcore: the narrow runtime interface between the K-means driver (what to compute) and a
// backend (where): the Eigen/CPU backend or the CUDA backend. The interface is at the level of
// passes over the data, so a GPU backend keeps the data resident and only small arrays (k x d
// sums, a few scalars) cross back to the host per pass.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "segcore/device.hpp"
#include "segcore/matrix.hpp"

namespace segcore {

namespace detail {
/// Throws InvalidArgument naming the first of index[0..m) outside [0, n).
void check_row_indices(const std::int64_t* index, std::size_t m, std::size_t n);
}  // namespace detail

/// What one Lloyd pass reports.
struct LloydPassResult {
  /// sum_i w_i ||x_i - c_{label_i}||^2 against the centroids given; NaN from a pass asked for
  /// no inertia.
  double inertia = 0.0;
  std::int64_t changed = 0;  ///< labels that differ from the stored ones (all, after reset)
};

/// A point chosen for empty-cluster relocation.
struct FarPoint {
  std::int64_t index = 0;
  std::int32_t label = 0;  ///< its stored label
};

/// Holds one data set (n x d, T = float or double) and runs passes over it. Every reduction is
/// done in double in a fixed order: the same input gives bitwise-identical output whatever the
/// number of threads or blocks.
template <typename T>
class KMeansBackend {
 public:
  virtual ~KMeansBackend() = default;

  /// e.g. "cpu (avx2+fma, 2 threads)".
  virtual std::string describe() const = 0;

  /// Takes a copy of x (n x d, row-major; a GPU backend uploads it once) and of the weights
  /// (n, or nullptr for all ones). Stored labels start at -1.
  virtual void set_data(ConstMatrixView<T> x, const T* weights) = 0;
  /// As set_data for x = n x d rows (n = x.size() / d), taking x over: a backend that keeps the
  /// rows in host memory takes x's storage instead of copying it (the CPU backend); one that
  /// keeps them elsewhere copies them there and then frees x's storage (a GPU backend). Either
  /// way x is left empty, so the caller's host copy does not outlive the upload.
  virtual void adopt_data(std::vector<T>& x, std::size_t d, const T* weights) {
    set_data({x.data(), d == 0 ? 0 : x.size() / d, d}, weights);
    std::vector<T>().swap(x);
  }
  /// The held rows in host memory (n x d, row-major, after any `subtract`), or nullptr when the
  /// backend keeps them elsewhere.
  virtual const T* host_rows() const { return nullptr; }
  /// Copies the held rows index[0..m) (after any `subtract`) to out (m x d, row-major), wherever
  /// the backend keeps them: the driver's only way to the rows it seeds from or relocates to.
  /// Throws InvalidArgument for an index outside [0, n).
  void copy_rows(const std::int64_t* index, std::size_t m, T* out) {
    detail::check_row_indices(index, m, rows());
    if (m > 0) copy_checked_rows(index, m, out);
  }
  virtual std::size_t rows() const = 0;
  virtual std::size_t cols() const = 0;

  /// Unweighted column means and population variances (d each) of the held data.
  virtual void column_moments(double* mean, double* variance) = 0;
  /// The position (row * d + column) of the first held value that is NaN or infinite, or -1.
  virtual std::int64_t first_nonfinite() = 0;
  /// Subtracts `shift` (d values, already rounded to T) from every held row: x_ij = x_ij - shift_j
  /// computed in T.
  virtual void subtract(const T* shift) = 0;

  /// Sets every stored label to -1.
  virtual void reset_labels() = 0;
  /// One read of the data: labels_i = argmin_j ||x_i - c_j||^2 (ties to the lowest j), stored;
  /// counts labels that changed; with `with_inertia`, the inertia exactly (not through the norm
  /// expansion; without it, NaN, and no distance to the chosen centroid is computed: Lloyd's
  /// iterations need none, as in scikit-learn, which computes it per iteration only when
  /// verbose). When `sums` and `weight_sums` are given, also sums (k x d) = sum of w_i x_i and
  /// weight_sums (k) = sum of w_i over each centroid's points. centroids: k x d. (Every backend
  /// repeats the default.)
  virtual LloydPassResult lloyd_pass(ConstMatrixView<T> centroids, double* sums,
                                     double* weight_sums, bool with_inertia = true) = 0;
  /// sum_i w_i ||x_i - c_{label_i}||^2 with the stored labels.
  virtual double inertia(ConstMatrixView<T> centroids) = 0;
  /// Copies the stored labels (n) to the host.
  virtual void labels(std::int32_t* out) = 0;
  /// The m points farthest from their stored label's centroid, farthest first (ties: lower index
  /// first).
  virtual std::vector<FarPoint> farthest(ConstMatrixView<T> centroids, std::size_t m) = 0;

  /// Seeding state: closest_i, the squared distance of point i to the nearest chosen centre.
  /// Sets closest_i = min(closest_i, min_j ||x_i - c_j||^2) (closest_i = +inf first when
  /// `reset`) for the centres c (m x d); returns the potential sum_i w_i closest_i.
  virtual double update_closest(ConstMatrixView<T> centers, bool reset) = 0;
  /// pots_j = sum_i w_i min(closest_i, ||x_i - c_j||^2) for each candidate c_j (m x d);
  /// closest is unchanged.
  virtual void candidate_potentials(ConstMatrixView<T> candidates, double* pots) = 0;
  /// For each target t: the first i with cumsum_i(w_i closest_i) >= t (clipped to n - 1), as
  /// numpy.searchsorted(side="left") on the running sum.
  virtual void sample_by_potential(const double* targets, std::size_t m, std::int64_t* out) = 0;
  /// k-means|| draw: the indices i (ascending) with u_i < scale * w_i * closest_i, u_i uniform
  /// in [0, 1) from a counter-based generator keyed by (seed, i).
  virtual std::vector<std::int64_t> oversample(double scale, std::uint64_t seed) = 0;

  /// Nearest centroid of each held row, not stored. labels: n; dist_sq (optional): n exact
  /// squared distances.
  virtual void nearest(ConstMatrixView<T> centroids, std::int32_t* labels, double* dist_sq) = 0;
  /// Squared Euclidean distances to every centroid: out n x k, clipped at 0.
  virtual void distances_sq(ConstMatrixView<T> centroids, MatrixView<double> out) = 0;

 protected:
  /// copy_rows once its indices are known to be in range and m > 0.
  virtual void copy_checked_rows(const std::int64_t* index, std::size_t m, T* out) = 0;
};

/// What kAuto means here: kCuda when CUDA is compiled in and a device answers, else kCpu (with
/// `notice` set to a one-line reason when CUDA is compiled in but no device answers). Other
/// requests are returned as they are.
Device resolve_device(Device requested, std::string* notice = nullptr);

/// Picks the backend: kAuto = CUDA when compiled in and a device answers, else the CPU.
/// threads: CPU threads (0 = all). Throws NotCompiled for kCuda in a build without CUDA, and
/// CudaError when no device answers.
template <typename T>
std::unique_ptr<KMeansBackend<T>> make_kmeans_backend(Device device, int threads);

}  // namespace segcore
