// segcore: move-only RAII owners for CUDA resources (device and pinned buffers, streams, events,
// the cuBLAS handle) and the checks that turn every CUDA / cuBLAS status into a segcore error.
// Host-side only: included from .cpp and .cu files of the CUDA build (SEGCORE_CUDA=ON).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdio>
#include <string>
#include <utility>

#include "segcore/error.hpp"

namespace segcore::cuda {

/// Throws CudaError naming `what` when `status` is not cudaSuccess (and clears the error).
inline void check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  cudaGetLastError();
  throw CudaError(std::string(what) + ": " + cudaGetErrorName(status) + " (" +
                  cudaGetErrorString(status) + ")");
}

/// Throws CublasError naming `what` when `status` is not CUBLAS_STATUS_SUCCESS.
inline void check(cublasStatus_t status, const char* what) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  throw CublasError(std::string(what) + ": cuBLAS status " + std::to_string(status) + " (" +
                    cublasGetStatusString(status) + ")");
}

/// Checks the launch of the kernel just issued (configuration errors show up here; errors
/// during its execution show up at the next synchronising call).
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

/// "1.50 GiB" style sizes for messages.
inline std::string format_bytes(std::size_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f %s", v, units[u]);
  return buf;
}

/// Throws CudaError with the bytes needed and free when `bytes` more cannot fit on the current
/// device (with a small reserve for the runtime), before any allocation is attempted.
inline void require_device_memory(std::size_t bytes, const char* what) {
  std::size_t free_bytes = 0, total_bytes = 0;
  check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  const std::size_t reserve = std::size_t{64} << 20;
  if (bytes + reserve > free_bytes)
    throw CudaError(std::string("not enough GPU memory for ") + what + ": needs " +
                    format_bytes(bytes) + " (" + std::to_string(bytes) + " bytes), " +
                    format_bytes(free_bytes) + " free of " + format_bytes(total_bytes) +
                    " (streaming larger-than-memory data is not supported yet)");
}

/// A device allocation of n values of T (cudaMalloc; uninitialised).
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t n) { resize(n); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : ptr_(std::exchange(o.ptr_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      release();
      ptr_ = std::exchange(o.ptr_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }

  /// Reallocates when n differs from the current size (contents are lost).
  void resize(std::size_t n) {
    if (n == size_) return;
    release();
    if (n == 0) return;
    void* p = nullptr;
    const cudaError_t status = cudaMalloc(&p, n * sizeof(T));
    if (status != cudaSuccess) {
      cudaGetLastError();
      std::size_t free_bytes = 0, total_bytes = 0;
      cudaMemGetInfo(&free_bytes, &total_bytes);
      throw CudaError("cudaMalloc of " + format_bytes(n * sizeof(T)) + " failed (" +
                      cudaGetErrorString(status) + "): " + format_bytes(free_bytes) + " free of " +
                      format_bytes(total_bytes));
    }
    ptr_ = static_cast<T*>(p);
    size_ = n;
  }
  T* data() { return ptr_; }
  const T* data() const { return ptr_; }
  std::size_t size() const { return size_; }
  std::size_t bytes() const { return size_ * sizeof(T); }

 private:
  void release() noexcept {
    if (ptr_) cudaFree(ptr_);
    ptr_ = nullptr;
    size_ = 0;
  }
  T* ptr_ = nullptr;
  std::size_t size_ = 0;
};

/// Page-locked host memory of n values of T (cudaMallocHost), for fast asynchronous copies.
template <typename T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(std::size_t n) {
    if (n == 0) return;
    void* p = nullptr;
    check(cudaMallocHost(&p, n * sizeof(T)), "cudaMallocHost");
    ptr_ = static_cast<T*>(p);
    size_ = n;
  }
  ~PinnedBuffer() {
    if (ptr_) cudaFreeHost(ptr_);
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  PinnedBuffer(PinnedBuffer&& o) noexcept
      : ptr_(std::exchange(o.ptr_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept {
    if (this != &o) {
      if (ptr_) cudaFreeHost(ptr_);
      ptr_ = std::exchange(o.ptr_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  T* data() { return ptr_; }
  std::size_t size() const { return size_; }

 private:
  T* ptr_ = nullptr;
  std::size_t size_ = 0;
};

/// A non-blocking CUDA stream.
class Stream {
 public:
  Stream() { check(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking), "cudaStreamCreate"); }
  ~Stream() {
    if (s_) cudaStreamDestroy(s_);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  Stream(Stream&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Stream& operator=(Stream&& o) noexcept {
    if (this != &o) {
      if (s_) cudaStreamDestroy(s_);
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  cudaStream_t get() const { return s_; }
  void synchronize() const { check(cudaStreamSynchronize(s_), "cudaStreamSynchronize"); }

 private:
  cudaStream_t s_ = nullptr;
};

/// A CUDA event (with timing).
class Event {
 public:
  Event() { check(cudaEventCreate(&e_), "cudaEventCreate"); }
  ~Event() {
    if (e_) cudaEventDestroy(e_);
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  Event(Event&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  Event& operator=(Event&& o) noexcept {
    if (this != &o) {
      if (e_) cudaEventDestroy(e_);
      e_ = std::exchange(o.e_, nullptr);
    }
    return *this;
  }
  cudaEvent_t get() const { return e_; }
  void record(cudaStream_t s) { check(cudaEventRecord(e_, s), "cudaEventRecord"); }
  void synchronize() const { check(cudaEventSynchronize(e_), "cudaEventSynchronize"); }
  /// Milliseconds from `start` to this event (both recorded and complete).
  float since(const Event& start) const {
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start.e_, e_), "cudaEventElapsedTime");
    return ms;
  }

 private:
  cudaEvent_t e_ = nullptr;
};

/// A cuBLAS handle bound to a stream.
class CublasHandle {
 public:
  CublasHandle() { check(cublasCreate(&h_), "cublasCreate"); }
  ~CublasHandle() {
    if (h_) cublasDestroy(h_);
  }
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  CublasHandle(CublasHandle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  CublasHandle& operator=(CublasHandle&& o) noexcept {
    if (this != &o) {
      if (h_) cublasDestroy(h_);
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }
  cublasHandle_t get() const { return h_; }
  void set_stream(cudaStream_t s) { check(cublasSetStream(h_, s), "cublasSetStream"); }

 private:
  cublasHandle_t h_ = nullptr;
};

/// Selects the first device that answers; throws CudaError (with the runtime's reason) when none.
inline int select_device() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0) {
    cudaGetLastError();
    throw CudaError(std::string("--device cuda: no CUDA device answers (") +
                    (status != cudaSuccess ? cudaGetErrorString(status) : "no device found") +
                    "); use --device cpu or auto");
  }
  int device = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  check(cudaSetDevice(device), "cudaSetDevice");
  return device;
}

}  // namespace segcore::cuda
