// segcore internal: the K-means driver's building blocks, written once against KMeansBackend.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "parallel.hpp"
#include "segcore/backend.hpp"
#include "segcore/kmeans.hpp"

namespace segcore::detail {

/// What the driver keeps of the rows a backend holds: their shape and weights. The few rows it
/// needs (chosen seeds, relocated points) come from the backend's copy_rows, already centred.
template <typename T>
struct HeldRows {
  std::size_t n = 0;
  std::size_t d = 0;
  const T* weights = nullptr;  ///< n, or nullptr for all ones
  double weight(std::int64_t i) const { return weights ? static_cast<double>(weights[i]) : 1.0; }
};

/// Seeds k centres (k x d, row-major) with the given method (not kExplicit).
template <typename T>
std::vector<T> seed_centroids(KMeansBackend<T>& backend, const HeldRows<T>& rows, KMeansInit init,
                              std::size_t k, Rng& rng, const KMeansParams& params, double tol_abs);

/// Greedy k-means++ (scikit-learn's variant: 2 + floor(ln k) candidates per step, the one that
/// lowers the potential most is kept).
template <typename T>
std::vector<T> kmeans_plusplus(KMeansBackend<T>& backend, const HeldRows<T>& rows, std::size_t k,
                               Rng& rng);

struct LloydOutcome {
  double inertia = 0.0;
  int n_iter = 0;
  bool converged = false;
};

/// Lloyd iterations from `centers` (k x d, updated in place) with scikit-learn's rules: stop
/// when no label changes, or when the summed squared centre shift is <= tol_abs; empty clusters
/// are relocated to the points farthest from their centres; a final assignment makes labels
/// match the returned centres. on_iteration(iteration, inertia, shift) may be empty; the
/// iterations' passes compute the inertia it is given only with `iteration_inertia` (else it is
/// NaN): the outcome's inertia comes from the final assignment either way.
template <typename T>
LloydOutcome run_lloyd(KMeansBackend<T>& backend, const HeldRows<T>& rows, std::vector<T>& centers,
                       int max_iter, double tol_abs,
                       const std::function<void(int, double, double)>& on_iteration,
                       bool iteration_inertia);

}  // namespace segcore::detail
