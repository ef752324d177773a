// segcore internal: host-to-device uploads of large arrays (SEGCORE_CUDA=ON builds only).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>

namespace segcore::cuda {

/// Copies host arrays to the device through two pinned staging buffers of 64 MiB: while the DMA
/// engine copies one chunk, CPU threads copy the next one into the other buffer, each thread a
/// slice, so a large upload runs at the PCIe rate rather than at one core's memcpy rate (about
/// 10 GB/s). Copies below 32 MiB go straight from pageable memory. copy() may return before its
/// DMA has finished: call finish() (the destructor also waits) before reading the data on
/// another stream or freeing the source.
class StagedUploader {
 public:
  /// threads: CPU threads for the staging copies (0 = all).
  explicit StagedUploader(cudaStream_t stream, int threads = 0);
  ~StagedUploader();
  StagedUploader(const StagedUploader&) = delete;
  StagedUploader& operator=(const StagedUploader&) = delete;

  void copy(void* dst, const void* src, std::size_t bytes);
  /// Waits for every copy; reports a failed one as CudaError.
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// One upload, complete on return.
void upload(void* dst, const void* src, std::size_t bytes, cudaStream_t stream);

}  // namespace segcore::cuda
