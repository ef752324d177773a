// segcore: rows grouped by label in a fixed order, for per-label reductions on the GPU that do not
// depend on scheduling (kernels/label_chunks.cu). The rows are sorted by label with a stable
// radix sort, and each label's rows are cut into chunks of kLabelChunkRows: one block sums a
// chunk in row order, and the chunks of a label are then added in order. Plain C++: host code
// includes it; device code locates its chunk with label_chunks.cuh.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace segcore::cuda {

inline constexpr int kLabelChunkRows = 1024;

/// A bound on the number of chunks of n rows with k labels (each label's last chunk may be
/// partial), for sizing grids and per-chunk buffers before the sort.
inline std::int64_t max_label_chunks(std::int64_t n, int k) {
  return (n + kLabelChunkRows - 1) / kLabelChunkRows + k;
}

/// Device arrays describing the chunks (valid while the scratch lives).
struct LabelChunks {
  const std::int32_t* order = nullptr;      ///< n row indices, sorted by label (stable)
  const std::int32_t* starts = nullptr;     ///< k + 1: label j's rows are order[starts[j] ..]
  const std::int32_t* chunk_off = nullptr;  ///< k + 1: label j's chunks are [chunk_off[j] ..)
  std::int64_t max_chunks = 0;              ///< a bound on chunk_off[k], for the grid size
  int k = 0;
};

/// Scratch bytes for n rows (n < 2^31) and labels 0 .. k - 1.
std::size_t label_chunks_scratch_bytes(std::int64_t n, int k);

/// Sorts rows 0 .. n - 1 by `labels` (device, each in [0, k)) into chunks, asynchronously on
/// `stream`, in `scratch` (label_chunks_scratch_bytes(n, k) bytes of device memory).
LabelChunks sort_label_chunks(const std::int32_t* labels, std::int64_t n, int k, void* scratch,
                              std::size_t scratch_bytes, cudaStream_t stream);

}  // namespace segcore::cuda
