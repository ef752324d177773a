// segcore: the CUDA half of batched least squares (kernels/lstsq_kernels.cu). Plain C++ with no
// CUDA header, so that host code of a SEGCORE_CUDA=ON build (batched_lstsq.cpp, bench_lstsq)
// can include it; nothing here exists in a CPU-only build.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "segcore/lstsq.hpp"

namespace segcore::cuda {

/// lstsq_batched on the GPU: the fused kernels solve every problem whose Cholesky factor passes
/// the same cond_1 guard as on the CPU; the rest (ill-conditioned, rank-deficient, too few rows)
/// are finished on the CPU by the CPU path's QR code. `batch` must have passed
/// lstsq_detail::validate. Throws CudaError when no device answers or the batch does not fit in
/// GPU memory.
template <typename T>
LstsqResult lstsq_batched_cuda(const LstsqBatch<T>& batch, const LstsqParams& params);

/// A batch resident on the GPU. The constructor validates the batch (unless `validated`), selects
/// the device, checks that everything fits, and uploads A, b, the weights and the offsets once;
/// run_kernels() solves on the device, finish() downloads and completes the result on the host.
/// Used by lstsq_batched_cuda and by bench_lstsq to time the kernels alone. The arrays `batch`
/// points at must outlive the session (finish() reads the rejected problems' rows from them).
template <typename T>
class LstsqSession {
 public:
  LstsqSession(const LstsqBatch<T>& batch, const LstsqParams& params, bool validated = false);
  ~LstsqSession();
  LstsqSession(LstsqSession&&) noexcept;
  LstsqSession& operator=(LstsqSession&&) noexcept;
  LstsqSession(const LstsqSession&) = delete;
  LstsqSession& operator=(const LstsqSession&) = delete;

  /// Launches the kernels on the resident batch and waits for them; returns the milliseconds
  /// between CUDA events recorded around the launches.
  float run_kernels();
  /// The result of the last run_kernels(): downloaded, with the problems the device handed back
  /// solved on the CPU (params.threads) and qr_problems counted.
  LstsqResult finish();

  /// The device's name, as in LstsqResult::backend ("cuda (NAME)").
  const std::string& device_name() const;
  /// GPU memory the session holds, in bytes.
  std::size_t device_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

extern template class LstsqSession<float>;
extern template class LstsqSession<double>;
extern template LstsqResult lstsq_batched_cuda<float>(const LstsqBatch<float>&, const LstsqParams&);
extern template LstsqResult lstsq_batched_cuda<double>(const LstsqBatch<double>&,
                                                       const LstsqParams&);

}  // namespace segcore::cuda
