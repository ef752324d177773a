// segcore internal: the CUDA K-means backend (SEGCORE_CUDA=ON builds only). The data is uploaded
// once (pinned, chunked) and stays on the device across iterations and restarts; each pass
// returns only small arrays (k x d sums, a few scalars).
#pragma once

#include <memory>
#include <string>

#include "segcore/backend.hpp"

namespace segcore::cuda {

/// How a Lloyd pass finds labels: the fused kernel (centroids on chip), or cuBLAS GEMM on tiles
/// of rows plus an argmin kernel (large k x d); kAuto chooses from the shape
/// (gemm_path_suits in kernels/kmeans_kernels.hpp). Both give the same labels except where two
/// scores are within rounding of each other. The fused kernel searches with tensor cores where
/// it can (float, d <= 32; the same labels as its exact search, bit for bit); kFusedExact is the
/// fused kernel with the exact (CUDA-core) search everywhere.
enum class LloydPath { kAuto, kFused, kGemm, kFusedExact };

/// The backend on the current CUDA device; throws CudaError when no device answers.
template <typename T>
std::unique_ptr<KMeansBackend<T>> make_cuda_backend(LloydPath path = LloydPath::kAuto);

/// Device time of a CUDA backend's last Lloyd pass, from CUDA events on its stream: `pass_ms`
/// from before the centroids' upload to the end of the kernels (everything the pass queues but
/// the copy of its results back), `kernels_ms` the kernels alone (the Lloyd kernel, the GEMM
/// path's and the reduction of the blocks' sums). What the host does between passes shows as
/// the wall time per pass minus pass_ms.
struct PassTiming {
  double pass_ms = 0;
  double kernels_ms = 0;
};

/// Has `backend` (make_cuda_backend's) record the events of PassTiming around every later
/// Lloyd pass; off by default (three events, a few microseconds a pass). Throws InvalidArgument
/// for a backend that is not CUDA's.
template <typename T>
void enable_pass_timing(KMeansBackend<T>& backend);

/// The PassTiming of `backend`'s last Lloyd pass; throws InvalidArgument for a backend that is
/// not CUDA's, or when no pass has run since enable_pass_timing.
template <typename T>
PassTiming last_pass_timing(const KMeansBackend<T>& backend);

/// Caps the groups of lanes (each with its own set of sums in shared memory) per warp of the
/// fused pass's warp-sums kernel at `max_groups` (a power of two; 32 lifts the cap) for
/// `backend`'s later passes: fewer sets leave more of the SM's memory to L1, which the kernel's
/// second and third reads of each row hit, at the cost of a longer walk over the warp's points.
/// For measuring that trade (bench_kmeans LloydCudaGroups); the default plan takes as many as
/// leave three blocks per SM. The sums are added in another order: equal up to rounding.
/// Throws InvalidArgument for a backend that is not CUDA's or a count that is not a power of
/// two.
template <typename T>
void cap_warp_groups(KMeansBackend<T>& backend, int max_groups);

/// Has the tensor-core kernel of `backend`'s later passes with sums add each point's exact
/// distance for the inertia in its walk over the warp's points (each lane the squared
/// differences of the features it sums, the row's values already in registers) instead of in
/// the thread that settles the point, which reads the row from memory once more. Off by
/// default; for measuring whether that read costs (bench_kmeans LloydCudaGroups, inertia:2). The
/// labels and the sums are the same bits; the inertia is added in another order (equal up to
/// rounding). Passes without sums, and the other kernels, are unchanged. Throws
/// InvalidArgument for a backend that is not CUDA's.
template <typename T>
void inertia_in_walk(KMeansBackend<T>& backend, bool on);

/// Where the fused Lloyd pass keeps its per-centroid sums for d features and k centroids on the
/// current device: "warp/G" (lloyd_warp_sums_kernel: G groups of lanes per warp, each with its
/// own set of sums in shared memory, no sort),
/// "block-shared" (one set per block in shared memory, tiles sorted by label) or "block-global"
/// (the block's set in global memory). The plan depends on the shape and the device only.
template <typename T>
std::string fused_sums_kind(int d, int k, int max_groups = 32);

/// How the fused Lloyd pass (kAuto or kFused) searches at this shape on the current device:
/// "tensor" (TF32 scores, near-ties searched again exactly) or "exact".
template <typename T>
std::string fused_search_kind(int d, int k);

}  // namespace segcore::cuda
