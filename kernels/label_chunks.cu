// segcore: rows grouped by label in a fixed order (kernels/label_chunks.hpp).
#include <cub/block/block_scan.cuh>
#include <cub/device/device_radix_sort.cuh>

#include "cuda/cuda_raii.hpp"
#include "kernels/label_chunks.hpp"

namespace segcore::cuda {
namespace {

__global__ void iota_kernel(std::int32_t* __restrict__ v, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    v[i] = static_cast<std::int32_t>(i);
}

/// starts[j] = first position of label j in the sorted labels (j = 0 .. k; starts[k] = n).
__global__ void label_starts_kernel(const std::int32_t* __restrict__ sorted, std::int64_t n, int k,
                                    std::int32_t* __restrict__ starts) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j > k) return;
  std::int64_t lo = 0, hi = n;
  while (lo < hi) {
    const std::int64_t mid = (lo + hi) / 2;
    if (sorted[mid] < j)
      lo = mid + 1;
    else
      hi = mid;
  }
  starts[j] = static_cast<std::int32_t>(lo);
}

/// chunk_off[j] = sum over labels < j of ceil(rows of label / kLabelChunkRows) (one block, in
/// order).
__global__ void __launch_bounds__(1024)
    chunk_offsets_kernel(const std::int32_t* __restrict__ starts, int k,
                         std::int32_t* __restrict__ chunk_off) {
  using Scan = cub::BlockScan<std::int32_t, 1024>;
  __shared__ typename Scan::TempStorage temp;
  std::int32_t carry = 0;
  for (int base = 0; base < k; base += 1024) {
    const int j = base + static_cast<int>(threadIdx.x);
    const std::int32_t rows = j < k ? starts[j + 1] - starts[j] : 0;
    const std::int32_t chunks = rows / kLabelChunkRows + (rows % kLabelChunkRows != 0 ? 1 : 0);
    std::int32_t before = 0, total = 0;
    Scan(temp).ExclusiveSum(chunks, before, total);
    if (j < k) chunk_off[j] = carry + before;
    carry += total;
    __syncthreads();  // temp is reused
  }
  if (threadIdx.x == 0) chunk_off[k] = carry;
}

std::size_t align256(std::size_t b) { return (b + 255) / 256 * 256; }

/// Key bits of labels 0 .. k - 1.
int label_bits(int k) {
  int bits = 1;
  while ((1 << bits) < k) ++bits;
  return bits;
}

struct Carved {
  std::int32_t *keys, *order_in, *order, *starts, *chunk_off;
  void* sort_temp;
  std::size_t sort_bytes, total;
};

Carved carve(void* base, std::int64_t n, int k) {
  Carved s{};
  auto* p = static_cast<unsigned char*>(base);
  std::size_t off = 0;
  const auto take = [&](std::size_t bytes) {
    unsigned char* q = p ? p + off : nullptr;
    off += align256(bytes);
    return reinterpret_cast<std::int32_t*>(q);
  };
  const auto un = static_cast<std::size_t>(n);
  s.keys = take(un * 4);
  s.order_in = take(un * 4);
  s.order = take(un * 4);
  s.starts = take((static_cast<std::size_t>(k) + 1) * 4);
  s.chunk_off = take((static_cast<std::size_t>(k) + 1) * 4);
  s.sort_bytes = 0;
  check(cub::DeviceRadixSort::SortPairs(
            nullptr, s.sort_bytes, static_cast<const std::int32_t*>(nullptr),
            static_cast<std::int32_t*>(nullptr), static_cast<const std::int32_t*>(nullptr),
            static_cast<std::int32_t*>(nullptr), n, 0, label_bits(k)),
        "cub::DeviceRadixSort::SortPairs (temp size)");
  s.sort_temp = take(s.sort_bytes);
  s.total = off;
  return s;
}

}  // namespace

std::size_t label_chunks_scratch_bytes(std::int64_t n, int k) { return carve(nullptr, n, k).total; }

LabelChunks sort_label_chunks(const std::int32_t* labels, std::int64_t n, int k, void* scratch,
                              std::size_t scratch_bytes, cudaStream_t stream) {
  if (n >= (std::int64_t{1} << 31) || k < 1)
    throw InvalidArgument("sort_label_chunks: n must be below 2^31 and k at least 1");
  const Carved s = carve(scratch, n, k);
  if (s.total > scratch_bytes) throw InvalidArgument("sort_label_chunks: scratch too small");
  iota_kernel<<<1024, 256, 0, stream>>>(s.order_in, n);
  check_launch("iota_kernel");
  std::size_t temp_bytes = s.sort_bytes;
  check(cub::DeviceRadixSort::SortPairs(s.sort_temp, temp_bytes, labels, s.keys, s.order_in,
                                        s.order, n, 0, label_bits(k), stream),
        "cub::DeviceRadixSort::SortPairs");
  label_starts_kernel<<<(k + 1 + 255) / 256, 256, 0, stream>>>(s.keys, n, k, s.starts);
  check_launch("label_starts_kernel");
  chunk_offsets_kernel<<<1, 1024, 0, stream>>>(s.starts, k, s.chunk_off);
  check_launch("chunk_offsets_kernel");
  LabelChunks c;
  c.order = s.order;
  c.starts = s.starts;
  c.chunk_off = s.chunk_off;
  c.max_chunks = max_label_chunks(n, k);
  c.k = k;
  return c;
}

}  // namespace segcore::cuda
