// segcore: the GEMM path of the CUDA K-means backend, for large k x d (embedding-like data).
//
// The fused kernel keeps the centroids on chip; past about 16K centroid values they no longer
// fit and every score re-reads them. Here the scores come from cuBLAS instead, one tile of rows
// at a time (never an n x k matrix): S = C X^T (k x rows), then one warp per row takes
// argmin_j ||c_j||^2 - 2 S_ji with the fused kernel's expression and tie rule. The tile's S is
// about 32 MiB so that it is still in L2 when the argmin reads it. The labels then go through
// the fused kernel in given-label mode (exact inertia and changed counts, the same code as the
// other path) and, for the update, through label_sums: a stable radix sort by label and
// fixed-size chunks of each label's rows summed in order, so the result does not depend on
// scheduling and no float atomics are used.
#include <cub/block/block_scan.cuh>
#include <cub/device/device_radix_sort.cuh>

#include "cuda/cuda_raii.hpp"
#include "kernels/kmeans_kernels.hpp"

namespace segcore::cuda {
namespace {

constexpr int kArgminWarps = 8;   // rows per block of the argmin kernel (one warp each)
constexpr int kChunkRows = 1024;  // rows per block of the label sums
constexpr unsigned kFull = 0xffffffffu;
constexpr std::size_t kScoreBytes = std::size_t{32} << 20;

cublasStatus_t gemm_tn(cublasHandle_t h, int m, int n, int kk, const float* a, int lda,
                       const float* b, int ldb, float* c, int ldc) {
  const float one = 1.0f, zero = 0.0f;
  return cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, kk, &one, a, lda, b, ldb, &zero, c, ldc);
}
cublasStatus_t gemm_tn(cublasHandle_t h, int m, int n, int kk, const double* a, int lda,
                       const double* b, int ldb, double* c, int ldc) {
  const double one = 1.0, zero = 0.0;
  return cublasDgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, kk, &one, a, lda, b, ldb, &zero, c, ldc);
}

/// One warp per row r of the tile: the lowest j with the smallest norms_j - 2 scores[r * k + j].
/// Each lane scans j = lane, lane + 32, ... (strictly smaller wins, so its lowest j on ties);
/// the butterfly keeps the smaller score and, on equal scores, the lower j.
template <typename T>
__global__ void __launch_bounds__(kArgminWarps * 32)
    argmin_kernel(const T* __restrict__ scores, const T* __restrict__ norms, int k,
                  std::int64_t rows, std::int32_t* __restrict__ next) {
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const std::int64_t r =
      static_cast<std::int64_t>(blockIdx.x) * kArgminWarps + static_cast<int>(threadIdx.x >> 5);
  if (r >= rows) return;  // the whole warp
  const T* s = scores + r * k;
  T best = __int_as_float(0x7f800000);  // +inf (exact in double too)
  int best_j = k;
  for (int j = lane; j < k; j += 32) {
    const T dot = s[j];
    const T val = norms[j] - (dot + dot);
    if (val < best) {
      best = val;
      best_j = j;
    }
  }
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    const T other = __shfl_xor_sync(kFull, best, off);
    const int other_j = __shfl_xor_sync(kFull, best_j, off);
    if (other < best || (other == best && other_j < best_j)) {
      best = other;
      best_j = other_j;
    }
  }
  // All scores NaN (or +inf): label 0, as the fused kernel's search leaves it.
  if (lane == 0) next[r] = best_j < k ? best_j : 0;
}

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

/// chunk_off[j] = sum over labels < j of ceil(rows of label / kChunkRows) (one block, in order).
__global__ void chunk_offsets_kernel(const std::int32_t* __restrict__ starts, int k,
                                     std::int32_t* __restrict__ chunk_off) {
  using Scan = cub::BlockScan<std::int32_t, 1024>;
  __shared__ typename Scan::TempStorage temp;
  std::int32_t carry = 0;
  for (int base = 0; base < k; base += 1024) {
    const int j = base + static_cast<int>(threadIdx.x);
    const std::int32_t rows = j < k ? starts[j + 1] - starts[j] : 0;
    const std::int32_t chunks = rows / kChunkRows + (rows % kChunkRows != 0 ? 1 : 0);
    std::int32_t before = 0, total = 0;
    Scan(temp).ExclusiveSum(chunks, before, total);
    if (j < k) chunk_off[j] = carry + before;
    carry += total;
    __syncthreads();  // temp is reused
  }
  if (threadIdx.x == 0) chunk_off[k] = carry;
}

/// One block per chunk of a label's sorted rows: the d weighted sums and the weight sum, each
/// column summed by one thread in sorted (= row index) order. Blocks past the last chunk exit.
template <typename T>
__global__ void chunk_sums_kernel(DataView<T> data, const std::int32_t* __restrict__ order,
                                  const std::int32_t* __restrict__ starts,
                                  const std::int32_t* __restrict__ chunk_off, int k,
                                  double* __restrict__ partials) {
  const int b = static_cast<int>(blockIdx.x);
  if (b >= chunk_off[k]) return;
  int lo = 0, hi = k;  // the label j with chunk_off[j] <= b < chunk_off[j + 1]
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (chunk_off[mid] <= b)
      lo = mid;
    else
      hi = mid;
  }
  const int j = lo;
  const std::int64_t first = starts[j] + static_cast<std::int64_t>(b - chunk_off[j]) * kChunkRows;
  const std::int64_t last = min(first + kChunkRows, static_cast<std::int64_t>(starts[j + 1]));
  const int d = data.d, width = d + 1;
  for (int f = threadIdx.x; f < width; f += blockDim.x) {
    double s = 0;
    for (std::int64_t pos = first; pos < last; ++pos) {
      const std::int64_t i = order[pos];
      const double w = data.w ? static_cast<double>(data.w[i]) : 1.0;
      s += f < d ? w * static_cast<double>(data.x[i * d + f]) : w;
    }
    partials[static_cast<std::size_t>(b) * width + f] = s;
  }
}

/// out[2 + j d + f] and out[2 + k d + j]: label j's chunks added in chunk order.
__global__ void chunk_finish_kernel(const double* __restrict__ partials,
                                    const std::int32_t* __restrict__ chunk_off, int k, int d,
                                    double* __restrict__ out) {
  const int width = d + 1;
  const std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (e >= static_cast<std::int64_t>(k) * width) return;
  const int j = static_cast<int>(e / width), f = static_cast<int>(e % width);
  double s = 0;
  for (int c = chunk_off[j]; c < chunk_off[j + 1]; ++c)
    s += partials[static_cast<std::size_t>(c) * width + f];
  if (f < d)
    out[2 + static_cast<std::size_t>(j) * d + f] = s;
  else
    out[2 + static_cast<std::size_t>(k) * d + j] = s;
}

std::size_t align256(std::size_t b) { return (b + 255) / 256 * 256; }

std::int64_t max_chunks(std::int64_t n, int k) { return (n + kChunkRows - 1) / kChunkRows + k; }

/// Key bits of labels 0 .. k - 1.
int label_bits(int k) {
  int bits = 1;
  while ((1 << bits) < k) ++bits;
  return bits;
}

std::size_t sort_temp_bytes(std::int64_t n, int k) {
  std::size_t bytes = 0;
  check(cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const std::int32_t*>(nullptr),
                                        static_cast<std::int32_t*>(nullptr),
                                        static_cast<const std::int32_t*>(nullptr),
                                        static_cast<std::int32_t*>(nullptr), n, 0, label_bits(k)),
        "cub::DeviceRadixSort::SortPairs (temp size)");
  return bytes;
}

/// The scratch of label_sums, carved in this order.
struct SumsScratch {
  std::int32_t *keys, *order_in, *order, *starts, *chunk_off;
  double* partials;
  void* sort_temp;
  std::size_t sort_bytes;
  std::size_t total;
};

SumsScratch carve(void* base, std::int64_t n, int k, int d) {
  SumsScratch s{};
  auto* p = static_cast<unsigned char*>(base);
  std::size_t off = 0;
  const auto take = [&](std::size_t bytes) {
    unsigned char* q = p ? p + off : nullptr;
    off += align256(bytes);
    return q;
  };
  const auto un = static_cast<std::size_t>(n);
  s.keys = reinterpret_cast<std::int32_t*>(take(un * 4));
  s.order_in = reinterpret_cast<std::int32_t*>(take(un * 4));
  s.order = reinterpret_cast<std::int32_t*>(take(un * 4));
  s.starts = reinterpret_cast<std::int32_t*>(take((static_cast<std::size_t>(k) + 1) * 4));
  s.chunk_off = reinterpret_cast<std::int32_t*>(take((static_cast<std::size_t>(k) + 1) * 4));
  s.partials = reinterpret_cast<double*>(
      take(static_cast<std::size_t>(max_chunks(n, k)) * (d + 1) * sizeof(double)));
  s.sort_bytes = sort_temp_bytes(n, k);
  s.sort_temp = take(s.sort_bytes);
  s.total = off;
  return s;
}

}  // namespace

bool gemm_path_suits(std::int64_t n, int d, int k) {
  return d >= 32 && static_cast<std::int64_t>(k) * d > 16384 && k <= kGemmMaxK &&
         n < (std::int64_t{1} << 31);
}

std::int64_t gemm_tile_rows(std::int64_t n, int k, std::size_t value_bytes) {
  std::int64_t rows = static_cast<std::int64_t>(kScoreBytes / value_bytes) / k;
  rows = rows / 256 * 256;
  if (rows < 256) rows = 256;
  const std::int64_t all = (n + 255) / 256 * 256;
  return rows < all ? rows : all;
}

template <typename T>
void gemm_labels(cublasHandle_t cublas, const DataView<T>& data, const PackedCentroidsView<T>& c,
                 T* scores, std::int64_t tile_rows, std::int32_t* next, cudaStream_t stream) {
  for (std::int64_t r0 = 0; r0 < data.n; r0 += tile_rows) {
    const std::int64_t rows = data.n - r0 < tile_rows ? data.n - r0 : tile_rows;
    // Column-major: C is d x k (ld stride), the tile of X is d x rows (ld d), S is k x rows.
    check(gemm_tn(cublas, c.k, static_cast<int>(rows), data.d, c.data, c.stride,
                  data.x + r0 * data.d, data.d, scores, c.k),
          "cublas gemm (K-means scores)");
    const auto blocks = static_cast<unsigned>((rows + kArgminWarps - 1) / kArgminWarps);
    argmin_kernel<T>
        <<<blocks, kArgminWarps * 32, 0, stream>>>(scores, c.norms, c.k, rows, next + r0);
    check_launch("argmin_kernel");
  }
}

std::size_t label_sums_scratch_bytes(std::int64_t n, int k, int d) {
  return carve(nullptr, n, k, d).total;
}

template <typename T>
void label_sums(const DataView<T>& data, const std::int32_t* labels, int k, void* scratch,
                std::size_t scratch_bytes, double* out, cudaStream_t stream) {
  const std::int64_t n = data.n;
  const SumsScratch s = carve(scratch, n, k, data.d);
  if (s.total > scratch_bytes) throw InvalidArgument("label_sums: scratch too small");
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
  const int width = data.d + 1;
  const int threads = width >= 256 ? 256 : (width + 31) / 32 * 32;
  chunk_sums_kernel<T><<<static_cast<unsigned>(max_chunks(n, k)), threads, 0, stream>>>(
      data, s.order, s.starts, s.chunk_off, k, s.partials);
  check_launch("chunk_sums_kernel");
  const std::int64_t elems = static_cast<std::int64_t>(k) * width;
  chunk_finish_kernel<<<static_cast<unsigned>((elems + 255) / 256), 256, 0, stream>>>(
      s.partials, s.chunk_off, k, data.d, out);
  check_launch("chunk_finish_kernel");
}

#define SEGCORE_INSTANTIATE(T)                                                                    \
  template void gemm_labels<T>(cublasHandle_t, const DataView<T>&, const PackedCentroidsView<T>&, \
                               T*, std::int64_t, std::int32_t*, cudaStream_t);                    \
  template void label_sums<T>(const DataView<T>&, const std::int32_t*, int, void*, std::size_t,   \
                              double*, cudaStream_t);

SEGCORE_INSTANTIATE(float)
SEGCORE_INSTANTIATE(double)
#undef SEGCORE_INSTANTIATE

}  // namespace segcore::cuda
