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

/// Entry f of label j's sums over its chunks in [c0, c1) (chunk c's partials at
/// partials[(c - c0) * stride]), added in chunk order onto s: folding consecutive ranges onto
/// the running sum gives the same bits as one pass over all the chunks.
__device__ __forceinline__ double add_label_chunk_range(const double* __restrict__ partials,
                                                        const std::int32_t* __restrict__ chunk_off,
                                                        int j, int stride, int f, int c0, int c1,
                                                        double s) {
  const int lo = chunk_off[j] > c0 ? chunk_off[j] : c0;
  const int hi = chunk_off[j + 1] < c1 ? chunk_off[j + 1] : c1;
  for (int c = lo; c < hi; ++c) s += partials[static_cast<std::size_t>(c - c0) * stride + f];
  return s;
}

/// Entry f of label j's sums: its chunks' partials (row c at partials[c * stride]) added in
/// chunk order, the fixed order that makes the sums reproducible.
__device__ __forceinline__ double add_label_chunks(const double* __restrict__ partials,
                                                   const std::int32_t* __restrict__ chunk_off,
                                                   int j, int stride, int f) {
  return add_label_chunk_range(partials, chunk_off, j, stride, f, 0, chunk_off[j + 1], 0.0);
}

}  // namespace segcore::cuda
