#include "segcore/backend.hpp"

#include <cstdio>
#include <string>

#include "cpu/cpu_backend.hpp"
#include "cpu/lloyd_kernels.hpp"
#include "segcore/error.hpp"
#if defined(SEGCORE_WITH_CUDA)
#include "cuda/cuda_backend.hpp"
#endif

namespace segcore {

Device parse_device(const std::string& name) {
  if (name == "auto") return Device::kAuto;
  if (name == "cpu") return Device::kCpu;
  if (name == "cuda") return Device::kCuda;
  throw InvalidArgument("unknown device '" + name + "' (expected auto, cpu or cuda)");
}

const char* device_name(Device device) {
  switch (device) {
    case Device::kAuto:
      return "auto";
    case Device::kCpu:
      return "cpu";
    case Device::kCuda:
      return "cuda";
  }
  return "?";
}

std::string cpu_kernel_isa() { return cpu::assign_kernel_isa(); }

namespace detail {
void throw_cuda_not_compiled() {
  throw NotCompiled("segcore was built without CUDA (SEGCORE_CUDA=OFF): use --device cpu or auto");
}

void check_row_indices(const std::int64_t* index, std::size_t m, std::size_t n) {
  for (std::size_t t = 0; t < m; ++t)
    if (index[t] < 0 || static_cast<std::uint64_t>(index[t]) >= n)
      throw InvalidArgument("row index " + std::to_string(index[t]) + " is outside the " +
                            std::to_string(n) + " rows held");
}
}  // namespace detail

Device resolve_device(Device requested, std::string* notice) {
  if (requested != Device::kAuto) return requested;
  if (!cuda_compiled()) return Device::kCpu;
  std::string why;
  if (!cuda_devices(&why).empty()) return Device::kCuda;
  if (notice) *notice = "no CUDA device answers (" + why + "): running on the CPU";
  return Device::kCpu;
}

template <typename T>
std::unique_ptr<KMeansBackend<T>> make_kmeans_backend(Device device, int threads) {
  if (device == Device::kAuto) device = resolve_device(device, nullptr);
  if (device == Device::kCuda) {
#if defined(SEGCORE_WITH_CUDA)
    return cuda::make_cuda_backend<T>();
#else
    detail::throw_cuda_not_compiled();
#endif
  }
  return cpu::make_cpu_backend<T>(threads);
}

template std::unique_ptr<KMeansBackend<float>> make_kmeans_backend<float>(Device, int);
template std::unique_ptr<KMeansBackend<double>> make_kmeans_backend<double>(Device, int);

}  // namespace segcore
