#include "segcore/backend.hpp"

#include "cpu/cpu_backend.hpp"
#include "cpu/lloyd_kernels.hpp"
#include "segcore/error.hpp"

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

template <typename T>
std::unique_ptr<KMeansBackend<T>> make_kmeans_backend(Device device, int threads) {
  if (device == Device::kCuda) {
    if (!cuda_compiled())
      throw NotCompiled(
          "segcore was built without CUDA (SEGCORE_CUDA=OFF): use --device cpu or auto");
    throw NotCompiled(
        "the CUDA K-means backend is not part of this version of segcore yet: use --device cpu "
        "or auto");
  }
  // kAuto: the CUDA backend does not exist yet, so auto means the CPU.
  return cpu::make_cpu_backend<T>(threads);
}

template std::unique_ptr<KMeansBackend<float>> make_kmeans_backend<float>(Device, int);
template std::unique_ptr<KMeansBackend<double>> make_kmeans_backend<double>(Device, int);

}  // namespace segcore
