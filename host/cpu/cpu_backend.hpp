// segcore internal: the CPU backend (both cores, SIMD nearest-centroid kernel, Eigen GEMM for
// full distance matrices).
#pragma once

#include <memory>

#include "segcore/backend.hpp"

namespace segcore::cpu {

/// threads: 0 = all hardware threads.
template <typename T>
std::unique_ptr<KMeansBackend<T>> make_cpu_backend(int threads);

}  // namespace segcore::cpu
