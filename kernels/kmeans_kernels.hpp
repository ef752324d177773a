// segcore: the CUDA K-means kernels, as host-callable launchers (plain C++ declarations, so the
// backend's host code needs no device code of its own). Every launcher is asynchronous on
// `stream` and checks its launch; all reductions are two-level with a fixed order (per-block
// partials, then one ordered pass), so results are bitwise reproducible on a given device.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace segcore::cuda {

/// Centroids packed for the kernels: k rows of `stride` values (d padded with zeros to a multiple
/// of 4), and their squared norms in T computed sequentially, exactly as the CPU packs them.
template <typename T>
struct PackedCentroidsView {
  const T* data = nullptr;   ///< k x stride, device memory
  const T* norms = nullptr;  ///< k, device memory
  const T* exact = nullptr;  ///< k x d unpadded, device memory (for exact distances)
  int k = 0;
  int stride = 0;
};

/// The register width for d, and the row stride of packed centroids: 4, 8, 16, 32, 64 or 128
/// (the smallest that holds d), or d rounded up to a multiple of 4 above 128.
int padded_width(int d);

/// The data held on the device.
template <typename T>
struct DataView {
  const T* x = nullptr;  ///< n x d, row-major
  const T* w = nullptr;  ///< n weights, or nullptr
  std::int64_t n = 0;
  int d = 0;
};

/// Work split of the fused Lloyd kernel: `blocks` persistent blocks, each with a fixed set of
/// tiles, and the per-block partial buffers the caller allocates.
struct LloydPlan {
  int blocks = 0;
  bool given_labels = false;      ///< labels come from the caller (the GEMM path), not computed
  bool accumulate = false;        ///< the pass sums the points per label (lloyd_pass checks it)
  bool shared_centroids = false;  ///< centroids staged in shared memory (else read from global)
  bool shared_partials = false;   ///< per-block sums held in shared memory (else in `partials`)
  bool warp_sums = false;  ///< lloyd_warp_sums_kernel (sets of sums per group of lanes, no sort)
  int groups = 1;          ///< with warp_sums: groups of lanes (and sets of sums) per warp
  /// With warp_sums (float, d <= 32): labels by TF32 tensor-core scores, with every point whose
  /// best two are within the error bound searched again exactly (the exact search's labels).
  bool tensor_search = false;
  /// With tensor_search and accumulate: each point's exact distance for the inertia is summed in
  /// the walk over the warp's points (each lane its features) rather than by the thread that
  /// settles the point, which reads the row once more (for measuring; plan_lloyd's walk_inertia).
  bool walk_inertia = false;
  std::size_t shared_bytes = 0;
  std::size_t partial_doubles = 0;  ///< blocks * k * (d + 1): the caller's `partials` size
};

/// Chooses the launch of lloyd_pass for this device and shape (depends only on the device and
/// the shape: the same plan, hence the same reduction order, every time).
/// With `given_labels` the plan is for lloyd_pass with labels supplied by the caller.
/// `tensor_search`: use the tensor-core search where it applies (else the exact search only).
/// `max_groups` (a power of two): at most this many groups of lanes per warp in the warp-sums
/// kernel (fewer sets of sums: less shared memory, more L1, a longer walk; for measuring that
/// trade, cap_warp_groups in host/cuda/cuda_backend.hpp). `walk_inertia`: LloydPlan's, where the
/// plan takes the tensor search with sums (inertia_in_walk in host/cuda/cuda_backend.hpp).
template <typename T>
LloydPlan plan_lloyd(int d, int k, bool accumulate, int device, bool given_labels = false,
                     bool tensor_search = true, int max_groups = 32, bool walk_inertia = false);

/// One read of the data: labels (stored, counts changes), with `with_inertia` the exact inertia
/// (else 0, and no distance computed: given labels and no sums, the rows are not read), and
/// when `accumulate` the per-centroid weighted sums and weights. Writes to `out` (device):
/// [0] inertia, [1] changed (as double), then when accumulating k * d sums and k weight sums.
/// `partials` (plan.partial_doubles) and `block_totals` (2 * plan.blocks) are scratch.
/// `given` (n labels, device; only with a plan made with given_labels): the new labels, as
/// gemm_labels computes them, instead of the kernel's own nearest-centroid search.
template <typename T>
void lloyd_pass(const DataView<T>& data, const PackedCentroidsView<T>& c, std::int32_t* labels,
                const LloydPlan& plan, bool accumulate, bool with_inertia, double* partials,
                double* block_totals, double* out, cudaStream_t stream,
                const std::int32_t* given = nullptr);

// ---- the GEMM path for large k x d (kernels/kmeans_gemm.cu) ----

/// Whether the GEMM path serves this shape better than the fused kernel: the inner dimension is
/// long enough for a GEMM and the centroids (k x d) are too many to keep on chip.
bool gemm_path_suits(std::int64_t n, int d, int k);
/// The largest k the GEMM path takes (its label sums use one block per label chunk).
constexpr int kGemmMaxK = 65536;

/// Rows per GEMM tile: the tile's k x rows score matrix takes about 32 MiB, so that it stays in
/// L2 between the GEMM that writes it and the argmin that reads it. A multiple of 256.
std::int64_t gemm_tile_rows(std::int64_t n, int k, std::size_t value_bytes);

/// Labels by GEMM: for each tile of rows, scores (k x rows, column-major, tile_rows * k values
/// of scratch) = C X^T by cuBLAS (cublas bound to `stream` by the caller), then per row
/// argmin_j norms_j - 2 score_j (strictly smaller wins: ties to the lowest index) into next.
template <typename T>
void gemm_labels(cublasHandle_t cublas, const DataView<T>& data, const PackedCentroidsView<T>& c,
                 T* scores, std::int64_t tile_rows, std::int32_t* next, cudaStream_t stream);

/// Scratch bytes label_sums needs (n < 2^31, k <= kGemmMaxK).
std::size_t label_sums_scratch_bytes(std::int64_t n, int k, int d);

/// The per-label weighted sums and weights of the rows, in a fixed order: the rows are sorted
/// by label (stable radix sort), each label's run is cut into chunks of 1024 rows summed by one
/// block each, and the chunks are added in order. Writes out[2 + j * d + f] (sums) and
/// out[2 + k * d + j] (weights), as lloyd_pass does.
template <typename T>
void label_sums(const DataView<T>& data, const std::int32_t* labels, int k, void* scratch,
                std::size_t scratch_bytes, double* out, cudaStream_t stream);

/// Nearest centroid of each row (ties to the lowest index): labels (may be nullptr) and the
/// exact squared distance in double (may be nullptr).
template <typename T>
void nearest(const DataView<T>& data, const PackedCentroidsView<T>& c, std::int32_t* labels,
             double* dist_sq, cudaStream_t stream);

/// closest_i = min(closest_i, exact distance to the nearest of c) (+inf first when reset). The
/// potential is summed by chunk_potentials (the chunks the k-means++ draws use).
template <typename T>
void update_closest(const DataView<T>& data, const PackedCentroidsView<T>& c, double* closest,
                    bool reset, cudaStream_t stream);

/// out[j] = sum_i w_i min(closest_i, ||x_i - c_j||^2) for the m candidates (m x d, unpadded).
/// block_totals: reduce_blocks() * m doubles of scratch.
template <typename T>
void candidate_potentials(const DataView<T>& data, const T* candidates, int m,
                          const double* closest, double* block_totals, double* out,
                          cudaStream_t stream);

/// flags_i = 1 when counter_uniform(seed, i) < scale * w_i * closest_i (k-means|| draw).
template <typename T>
void oversample_flags(const DataView<T>& data, const double* closest, double scale,
                      std::uint64_t seed, std::int32_t* flags, cudaStream_t stream);

/// out[0] = sum_i w_i ||x_i - c_{label_i}||^2 (exact, double). block_totals: reduce_blocks().
template <typename T>
void inertia(const DataView<T>& data, const T* centroids, const std::int32_t* labels,
             double* block_totals, double* out, cudaStream_t stream);

/// dist_i = ||x_i - c_{label_i}||^2 (exact, double).
template <typename T>
void label_distances(const DataView<T>& data, const T* centroids, const std::int32_t* labels,
                     double* dist, cudaStream_t stream);

/// out (rows x k, row-major) = exact squared distances of rows [first, first + rows) to every
/// centroid (k x d, unpadded).
template <typename T>
void distances_block(const DataView<T>& data, const T* centroids, int k, std::int64_t first,
                     std::int64_t rows, double* out, cudaStream_t stream);

/// Column sums of the data (centred on `center` when not null; squares when `squares`) per chunk
/// of rows (chunk c: [c chunk_rows, (c + 1) chunk_rows), the last to n, as make_chunking gives
/// them) into partials (chunks x d), then added in chunk order into out (d): the CPU backend's
/// order and rounding, so the results are bitwise its own.
template <typename T>
void column_sums(const DataView<T>& data, const double* center, bool squares,
                 std::int64_t chunk_rows, int chunks, double* partials, double* out,
                 cudaStream_t stream);

/// sums[c] = sum of w_i closest_i over chunk c (chunks as for column_sums), in a fixed order.
template <typename T>
void chunk_potentials(const DataView<T>& data, const double* closest, std::int64_t chunk_rows,
                      int chunks, double* sums, cudaStream_t stream);

/// A k-means++ draw inside one chunk: the first row of [lo, hi) at which start + the running sum
/// of w_i closest_i reaches target.
struct TargetQuery {
  std::int64_t lo = 0, hi = 0;
  double start = 0, target = 0;
};

/// out[j] = the row answering queries[j] (device arrays), or -1 when the chunk's running sum
/// never reaches the target; one block per query, the same answer on every run.
template <typename T>
void find_targets(const DataView<T>& data, const double* closest, const TargetQuery* queries, int m,
                  std::int64_t* out, cudaStream_t stream);

/// x_ij -= shift_j in T.
template <typename T>
void subtract(T* x, std::int64_t n, int d, const T* shift, cudaStream_t stream);

/// out (m x d) = the rows index[0..m) of x (n x d; device arrays, indices in range).
template <typename T>
void gather_rows(const T* x, int d, const std::int64_t* index, std::int64_t m, T* out,
                 cudaStream_t stream);

/// The number of per-block partials of the simple reductions (a constant: fixed order).
int reduce_blocks();

}  // namespace segcore::cuda
