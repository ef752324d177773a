// segcore internal: the CUDA K-means backend (SEGCORE_CUDA=ON builds only). The data is uploaded
// once (pinned, chunked) and stays on the device across iterations and restarts; each pass
// returns only small arrays (k x d sums, a few scalars).
#pragma once

#include <memory>

#include "segcore/backend.hpp"

namespace segcore::cuda {

/// The backend on the current CUDA device; throws CudaError when no device answers.
template <typename T>
std::unique_ptr<KMeansBackend<T>> make_cuda_backend();

}  // namespace segcore::cuda
