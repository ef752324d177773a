// segcore: per-segment Gram sums on the GPU for regress_by_segment (host/cuda/cuda_regress.hpp).
// One block per chunk of a segment's rows (kernels/label_chunks.hpp), one thread per entry of
// the segment's sums (counts, weight, sum w z, the upper triangle of sum w z z^T), each summed
// over the chunk's rows in row order; a second kernel adds each segment's chunks in order. The
// chunks go in waves whose partials fit a budget (kSegmentPartialsBytes), each wave folded onto
// the totals in chunk order (the same bits as one wave): the scratch stays bounded however many
// rows and features there are.
#include <algorithm>
#include <string>

#include "cuda/cuda_raii.hpp"
#include "cuda/cuda_regress.hpp"
#include "cuda/upload.hpp"
#include "kernels/label_chunks.cuh"

namespace segcore::cuda {
namespace {

template <typename T>
struct SegmentData {
  const T* x;  // n x p
  const T* y;
  const T* w;           // nullptr: unit weights
  const double* shift;  // k x m
  int p;
};

// Entry e of a segment's sums (layout of host/lstsq/segment_regression.cpp): 0 rows, 1 rows
// with w > 0, 2 weight, 3 .. 3 + m sum w z_a, then (a, b) of the m x m Gram at 3 + m + a m + b.
template <typename T>
__global__ void segment_chunk_kernel(SegmentData<T> s, LabelChunks chunks, int stride,
                                     int first_chunk, double* __restrict__ partials) {
  const int b = first_chunk + static_cast<int>(blockIdx.x);
  partials += static_cast<std::size_t>(blockIdx.x) * stride;  // chunk b's row of the wave
  int j = 0;
  std::int64_t first = 0, last = 0;
  if (!locate_chunk(chunks, b, j, first, last)) return;
  const int p = s.p, m = p + 1;
  const double* shift = s.shift + static_cast<std::size_t>(j) * m;
  for (int e = threadIdx.x; e < stride; e += blockDim.x) {
    int ca = -1, cb = -1;  // the columns of z this entry multiplies (-1: none)
    if (e >= 3 && e < 3 + m) {
      ca = e - 3;
    } else if (e >= 3 + m) {
      ca = (e - 3 - m) / m;
      cb = (e - 3 - m) % m;
      if (cb < ca) {  // the lower triangle stays 0, as on the CPU
        partials[e] = 0;
        continue;
      }
    }
    double acc = 0;
    for (std::int64_t pos = first; pos < last; ++pos) {
      const std::int64_t i = chunks.order[pos];
      if (e == 0) {
        acc += 1;
        continue;
      }
      const double w = s.w ? static_cast<double>(s.w[i]) : 1.0;
      if (!(w > 0)) continue;
      // Rounded as the CPU rounds them (w z_a, then times z_b, then added): no fused
      // multiply-add, which nvcc would otherwise form.
      if (e == 1) {
        acc += 1;
      } else if (e == 2) {
        acc += w;
      } else {
        const double za =
            __dsub_rn(static_cast<double>(ca < p ? s.x[i * p + ca] : s.y[i]), shift[ca]);
        const double wz = __dmul_rn(w, za);
        if (cb < 0) {
          acc = __dadd_rn(acc, wz);
        } else {
          const double zb =
              __dsub_rn(static_cast<double>(cb < p ? s.x[i * p + cb] : s.y[i]), shift[cb]);
          acc = __dadd_rn(acc, __dmul_rn(wz, zb));
        }
      }
    }
    partials[e] = acc;
  }
}

// total (zeroed before the first wave) += the wave's chunks [c0, c1), in chunk order.
__global__ void segment_fold_kernel(const double* __restrict__ partials,
                                    const std::int32_t* __restrict__ chunk_off, int k, int stride,
                                    int c0, int c1, double* __restrict__ total) {
  const std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (e >= static_cast<std::int64_t>(k) * stride) return;
  const int j = static_cast<int>(e / stride), f = static_cast<int>(e % stride);
  total[e] = add_label_chunk_range(partials, chunk_off, j, stride, f, c0, c1, total[e]);
}

}  // namespace

template <typename T>
std::string segment_sums(ConstMatrixView<T> x, const T* y, const T* weights,
                         const std::int32_t* labels, std::size_t k, const double* shift,
                         double* total, std::size_t partials_bytes) {
  const int device = select_device();
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  const auto n = static_cast<std::int64_t>(x.rows);
  const std::size_t p = x.cols, m = p + 1, stride = 3 + m + m * m;
  if (n >= (std::int64_t{1} << 31) || k > (std::size_t{1} << 30) || p > 4096)
    throw InvalidArgument(
        "the CUDA per-segment regression takes n < 2^31 rows, k <= 2^30 segments and p <= 4096 "
        "features (use --device cpu)");
  std::fill(total, total + k * stride, 0.0);
  if (n == 0 || k == 0) return prop.name;
  const int ki = static_cast<int>(k);
  const std::size_t un = x.rows;
  const std::size_t chunk_bytes = label_chunks_scratch_bytes(n, ki);
  const auto max_chunks = static_cast<std::size_t>(max_label_chunks(n, static_cast<int>(k)));
  const std::size_t row_bytes = stride * sizeof(double);  // one chunk's partials
  const std::size_t base = un * p * sizeof(T) + un * sizeof(T) * (weights ? 2 : 1) +
                           un * sizeof(std::int32_t) + k * m * sizeof(double) + chunk_bytes +
                           k * row_bytes;
  // Chunks per wave: as many as the budget holds (at least one), no more than there are. With
  // the automatic budget, very wide rows (p in the hundreds and up) would leave most SMs idle,
  // so the wave grows to 4 chunks per SM where the device has the memory free.
  const bool automatic = partials_bytes == 0;
  std::size_t wave = std::min(
      max_chunks,
      std::max<std::size_t>(1, (automatic ? kSegmentPartialsBytes : partials_bytes) / row_bytes));
  const std::size_t busy =
      std::min(max_chunks, static_cast<std::size_t>(4 * std::max(prop.multiProcessorCount, 1)));
  if (automatic && wave < busy) {
    std::size_t free_bytes = 0, total_bytes = 0;
    check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    const std::size_t margin = std::size_t{256} << 20;
    if (base + busy * row_bytes + margin <= free_bytes) wave = busy;
  }
  const std::size_t need = base + wave * row_bytes;
  require_device_memory(need, "the per-segment regression's data and sums");
  Stream stream;
  const cudaStream_t st = stream.get();
  DeviceBuffer<T> dx(un * p), dy(un), dw(weights ? un : 0);
  DeviceBuffer<std::int32_t> dl(un);
  DeviceBuffer<double> dshift(k * m), partials(wave * stride), dtotal(k * stride);
  DeviceBuffer<unsigned char> scratch(chunk_bytes);
  StagedUploader up(st);
  up.copy(dx.data(), x.data, un * p * sizeof(T));
  up.copy(dy.data(), y, un * sizeof(T));
  if (weights) up.copy(dw.data(), weights, un * sizeof(T));
  up.copy(dl.data(), labels, un * sizeof(std::int32_t));
  up.copy(dshift.data(), shift, k * m * sizeof(double));
  up.finish();
  const LabelChunks chunks = sort_label_chunks(dl.data(), n, ki, scratch.data(), chunk_bytes, st);
  SegmentData<T> s{dx.data(), dy.data(), weights ? dw.data() : nullptr, dshift.data(),
                   static_cast<int>(p)};
  const int threads = stride >= 256 ? 256 : static_cast<int>((stride + 31) / 32 * 32);
  const std::size_t elems = k * stride;
  check(cudaMemsetAsync(dtotal.data(), 0, elems * sizeof(double), st), "cudaMemsetAsync");
  for (std::size_t c0 = 0; c0 < max_chunks; c0 += wave) {
    const std::size_t c1 = std::min(max_chunks, c0 + wave);
    segment_chunk_kernel<T><<<static_cast<unsigned>(c1 - c0), threads, 0, st>>>(
        s, chunks, static_cast<int>(stride), static_cast<int>(c0), partials.data());
    check_launch("segment_chunk_kernel");
    segment_fold_kernel<<<static_cast<unsigned>((elems + 255) / 256), 256, 0, st>>>(
        partials.data(), chunks.chunk_off, ki, static_cast<int>(stride), static_cast<int>(c0),
        static_cast<int>(c1), dtotal.data());
    check_launch("segment_fold_kernel");
  }
  check(cudaMemcpyAsync(total, dtotal.data(), elems * sizeof(double), cudaMemcpyDeviceToHost, st),
        "cudaMemcpyAsync (download)");
  stream.synchronize();
  return prop.name;
}

template std::string segment_sums<float>(ConstMatrixView<float>, const float*, const float*,
                                         const std::int32_t*, std::size_t, const double*, double*,
                                         std::size_t);
template std::string segment_sums<double>(ConstMatrixView<double>, const double*, const double*,
                                          const std::int32_t*, std::size_t, const double*, double*,
                                          std::size_t);

}  // namespace segcore::cuda
