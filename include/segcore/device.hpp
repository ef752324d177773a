// segcore: where computation runs.
#pragma once

#include <string>
#include <vector>

namespace segcore {

/// kAuto: the CUDA backend when it is compiled in and a device answers, else the CPU.
enum class Device { kAuto, kCpu, kCuda };

/// "auto" | "cpu" | "cuda" -> Device; throws InvalidArgument otherwise.
Device parse_device(const std::string& name);
const char* device_name(Device device);

/// One CUDA device as reported by the runtime.
struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  std::size_t total_memory = 0;  ///< bytes
  std::size_t free_memory = 0;   ///< bytes
  int cc_major = 0;
  int cc_minor = 0;
  int multiprocessors = 0;
};

/// True when this build contains the CUDA backend (SEGCORE_CUDA=ON).
bool cuda_compiled();
/// Devices the CUDA runtime reports; empty in a CPU-only build or when none answers.
/// `why_none` receives the runtime's reason when the list is empty.
std::vector<CudaDeviceInfo> cuda_devices(std::string* why_none = nullptr);

namespace detail {
/// Throws NotCompiled with the one message for a CUDA request to a build without CUDA.
[[noreturn]] void throw_cuda_not_compiled();
}  // namespace detail

/// Human-readable name of the CPU instruction set the CPU kernels use ("avx2+fma", "baseline").
std::string cpu_kernel_isa();

}  // namespace segcore
