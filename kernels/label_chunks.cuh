// segcore: device side of kernels/label_chunks.hpp.
#pragma once

#include <cstdint>

#include "kernels/label_chunks.hpp"

namespace segcore::cuda {

/// Block b's chunk: its label and the range [first, last) of sorted positions (order[pos] is the
/// row). False for the blocks past the last chunk (the grid is sized by max_chunks).
__device__ __forceinline__ bool locate_chunk(const LabelChunks& c, int b, int& label,
                                             std::int64_t& first, std::int64_t& last) {
  if (b >= c.chunk_off[c.k]) return false;
  int lo = 0, hi = c.k;  // the label j with chunk_off[j] <= b < chunk_off[j + 1]
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (c.chunk_off[mid] <= b)
      lo = mid;
    else
      hi = mid;
  }
  label = lo;
  first = c.starts[lo] + static_cast<std::int64_t>(b - c.chunk_off[lo]) * kLabelChunkRows;
  const std::int64_t end = c.starts[lo + 1];
  last = first + kLabelChunkRows < end ? first + kLabelChunkRows : end;
  return true;
}

/// Entry f of label j's sums: its chunks' partials (row c at partials[c * stride]) added in
/// chunk order, the fixed order that makes the sums reproducible.
__device__ __forceinline__ double add_label_chunks(const double* __restrict__ partials,
                                                   const std::int32_t* __restrict__ chunk_off,
                                                   int j, int stride, int f) {
  double s = 0;
  for (int c = chunk_off[j]; c < chunk_off[j + 1]; ++c)
    s += partials[static_cast<std::size_t>(c) * stride + f];
  return s;
}

}  // namespace segcore::cuda
