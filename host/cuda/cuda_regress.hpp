// segcore: the GPU half of regress_by_segment (kernels/segment_kernels.cu). Plain C++ with no
// CUDA header; nothing here exists in a CPU-only build.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "segcore/matrix.hpp"

namespace segcore::cuda {

/// The per-segment sums regress_by_segment solves from, accumulated on the GPU. For segment j,
/// at total[j * stride ..], stride = 3 + m + m * m, m = p + 1: rows, rows with positive weight,
/// weight, sum w z (m values), sum w z z^T (m x m, upper triangle; the lower stays 0), with
/// z = (x_i, y_i) - shift[j * m ..]. The rows are sorted by label (stable) and each segment's
/// rows summed in chunks of 1024 in row order, the chunks added in order: no atomics, the same
/// bits on every run. The chunks' partial sums are held for as many chunks at a time as
/// `partials_bytes` allows (at least one), and each such wave is folded onto the totals in chunk
/// order: any budget gives the same bits. 0 (the default): kSegmentPartialsBytes, raised to 4
/// chunks per SM for very wide rows where the device has the memory free. Uploads x, y, the
/// weights and the labels (all validated by the caller); writes k * stride doubles to `total`
/// (host) and returns the device's name. Throws CudaError when no device answers or the data
/// does not fit, InvalidArgument past n < 2^31 rows, k <= 2^30 segments or p <= 4096 features.
inline constexpr std::size_t kSegmentPartialsBytes = std::size_t{256} << 20;
template <typename T>
std::string segment_sums(ConstMatrixView<T> x, const T* y, const T* weights,
                         const std::int32_t* labels, std::size_t k, const double* shift,
                         double* total, std::size_t partials_bytes = 0);

}  // namespace segcore::cuda
