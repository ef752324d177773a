// segcore: the GEMM path of the CUDA K-means backend, for large k x d (embedding-like data).
//
// The fused kernel keeps the centroids on chip; past about 16K centroid values they no longer
// fit and every score re-reads them. Here the scores come from cuBLAS instead, one tile of rows
// at a time (never an n x k matrix): S = C X^T (k x rows), then one warp per row takes
// argmin_j ||c_j||^2 - 2 S_ji with the fused kernel's expression and tie rule (the dot products
// are cuBLAS's, summed in its order, so a near-tie may go the other way than on the fused path or
// the CPU). The tile's S is about 32 MiB so that it is still in L2 when the argmin reads it (at
// least 256 rows, so more for k above 32768 in float or 16384 in double). The labels then go
// through the fused kernel in given-label mode (exact inertia and changed counts, the same code as
// the other path) and, for the update, through label_sums: a stable radix sort by label and
// fixed-size chunks of each label's rows summed in order, so the result does not depend on
// scheduling and no float atomics are used.
#include "cuda/cuda_raii.hpp"
#include "kernels/kmeans_kernels.hpp"
#include "kernels/label_chunks.cuh"

namespace segcore::cuda {
namespace {

constexpr int kArgminWarps = 8;  // rows per block of the argmin kernel (one warp each)
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

/// One block per chunk of a label's sorted rows: the d weighted sums and the weight sum, each
/// column summed by one thread in sorted (= row index) order. Blocks past the last chunk exit.
template <typename T>
__global__ void chunk_sums_kernel(DataView<T> data, LabelChunks chunks,
                                  double* __restrict__ partials) {
  const int b = static_cast<int>(blockIdx.x);
  int j = 0;
  std::int64_t first = 0, last = 0;
  if (!locate_chunk(chunks, b, j, first, last)) return;
  const int d = data.d, width = d + 1;
  for (int f = threadIdx.x; f < width; f += blockDim.x) {
    double s = 0;
    for (std::int64_t pos = first; pos < last; ++pos) {
      const std::int64_t i = chunks.order[pos];
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
  const double s = add_label_chunks(partials, chunk_off, j, width, f);
  if (f < d)
    out[2 + static_cast<std::size_t>(j) * d + f] = s;
  else
    out[2 + static_cast<std::size_t>(k) * d + j] = s;
}

std::size_t align256(std::size_t b) { return (b + 255) / 256 * 256; }

/// label_sums' scratch: the label chunks, then the chunks' partial sums.
std::size_t partials_bytes(std::int64_t n, int k, int d) {
  return align256(static_cast<std::size_t>(max_label_chunks(n, k)) * (d + 1) * sizeof(double));
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
  return align256(label_chunks_scratch_bytes(n, k)) + partials_bytes(n, k, d);
}

template <typename T>
void label_sums(const DataView<T>& data, const std::int32_t* labels, int k, void* scratch,
                std::size_t scratch_bytes, double* out, cudaStream_t stream) {
  const std::int64_t n = data.n;
  if (label_sums_scratch_bytes(n, k, data.d) > scratch_bytes)
    throw InvalidArgument("label_sums: scratch too small");
  const std::size_t chunk_bytes = align256(label_chunks_scratch_bytes(n, k));
  const LabelChunks chunks = sort_label_chunks(labels, n, k, scratch, chunk_bytes, stream);
  auto* partials = reinterpret_cast<double*>(static_cast<unsigned char*>(scratch) + chunk_bytes);
  const int width = data.d + 1;
  const int threads = width >= 256 ? 256 : (width + 31) / 32 * 32;
  chunk_sums_kernel<T>
      <<<static_cast<unsigned>(chunks.max_chunks), threads, 0, stream>>>(data, chunks, partials);
  check_launch("chunk_sums_kernel");
  const std::int64_t elems = static_cast<std::int64_t>(k) * width;
  chunk_finish_kernel<<<static_cast<unsigned>((elems + 255) / 256), 256, 0, stream>>>(
      partials, chunks.chunk_off, k, data.d, out);
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
